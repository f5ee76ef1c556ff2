//! Coupon holds and releases: a redemption is held before its order is
//! written and given back through a retried queue.

use std::time::Duration;

use chrono::{DateTime, Utc};

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::domain::DomainError;

/// A redemption due to be given back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRelease {
    /// The coupon's restaurant.
    pub restaurant_id: i64,
    /// The order number the redemption was made for.
    pub order_ref: String,
    /// Attempts so far, this one included.
    pub attempts: i32,
}

/// Takes a hold for a redemption about to be made: if the order is not
/// written within `hold_for` of `now`, the redemption is released. False when a row
/// for this order number exists already (the number is in use).
///
/// # Errors
/// Only unexpected database failures.
pub async fn hold_coupon(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    hold_for: Duration,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let held: Option<i32> = sqlx::query_scalar(
        "INSERT INTO coupon_releases (restaurant_id, order_ref, next_attempt_at)
         VALUES ($1, $2, $4 + make_interval(secs => $3))
         ON CONFLICT (restaurant_id, order_ref) DO NOTHING RETURNING 1",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(hold_for.as_secs_f64())
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(held.is_some())
}

/// Drops the hold in the order's own transaction; false when the releaser
/// took it already (the order must then not be written).
///
/// # Errors
/// Only unexpected database failures.
pub async fn drop_hold(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
) -> Result<bool, DomainError> {
    let dropped: Option<i32> = sqlx::query_scalar(
        "DELETE FROM coupon_releases
         WHERE restaurant_id = $1 AND order_ref = $2 AND attempts = 0 AND released_at IS NULL
         RETURNING 1",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .fetch_optional(conn)
    .await?;
    Ok(dropped.is_some())
}

/// Makes a hold due at `now`, after its order failed to be written. A hold its
/// order's transaction dropped is not brought back.
///
/// # Errors
/// Only unexpected database failures.
pub async fn expire_hold(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET next_attempt_at = $3
         WHERE restaurant_id = $1 AND order_ref = $2 AND released_at IS NULL",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues the release of a cancelled order's redemption, due at `now`, in
/// the cancellation's transaction.
///
/// # Errors
/// Only unexpected database failures.
pub async fn queue_release(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "INSERT INTO coupon_releases (restaurant_id, order_ref, next_attempt_at)
         VALUES ($1, $2, $3)
         ON CONFLICT (restaurant_id, order_ref) DO UPDATE
             SET next_attempt_at = LEAST(coupon_releases.next_attempt_at, $3)
             WHERE coupon_releases.released_at IS NULL",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Leases up to `limit` releases due at `now` for `lease`: another
/// instance skips them meanwhile, and if this one dies they fall due
/// again.
///
/// # Errors
/// Only unexpected database failures.
pub async fn lease_due_releases(
    conn: &mut PgConnection,
    limit: i64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<DueRelease>, DomainError> {
    Ok(sqlx::query(
        "UPDATE coupon_releases SET attempts = attempts + 1,
             next_attempt_at = $3 + make_interval(secs => $2)
         WHERE (restaurant_id, order_ref) IN (
             SELECT restaurant_id, order_ref FROM coupon_releases
             WHERE released_at IS NULL AND next_attempt_at <= $3
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING restaurant_id, order_ref, attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .bind(now)
    .try_map(|row: PgRow| {
        Ok(DueRelease {
            restaurant_id: row.try_get("restaurant_id")?,
            order_ref: row.try_get("order_ref")?,
            attempts: row.try_get("attempts")?,
        })
    })
    .fetch_all(conn)
    .await?)
}

/// Records that restaurant-svc took the redemption back.
///
/// # Errors
/// Only unexpected database failures.
pub async fn mark_released(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET released_at = $3, last_error = ''
         WHERE restaurant_id = $1 AND order_ref = $2",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed release and to try again `retry_in` after `now`.
///
/// # Errors
/// Only unexpected database failures.
pub async fn release_failed(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    error: &str,
    retry_in: Duration,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET last_error = $3,
             next_attempt_at = $5 + make_interval(secs => $4)
         WHERE restaurant_id = $1 AND order_ref = $2",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}
