//! Idempotency keys: claimed before a create's work, bound to the order
//! it made, forgotten after their retention.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::DomainError;

/// What an idempotency key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The first request's fingerprint.
    pub fingerprint: Vec<u8>,
    /// The order it made; `None` while that request is still at work.
    pub order_id: Option<i64>,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the key; the token proves it when binding.
    Claimed(i64),
    /// Another request used (or is using) the key.
    Taken(KeyUse),
}

/// The earlier use of a key, if any.
///
/// # Errors
/// Only unexpected database failures.
pub async fn key_use(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
) -> Result<Option<KeyUse>, DomainError> {
    let row: Option<(Vec<u8>, Option<i64>)> = sqlx::query_as(
        "SELECT fingerprint, order_id FROM idempotency_keys WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(fingerprint, order_id)| KeyUse {
        fingerprint,
        order_id,
    }))
}

/// Claims a key for a request about to create an order, for `lease`
/// (committed at once, so a twin request sees the claim and waits for its
/// outcome). A claim whose lease ran out without an order (its request
/// died) is taken over.
///
/// Its commit does not wait for the disk: the order it leads to commits
/// later and durably, which flushes the claim's record with its own, and
/// a claim lost with a crash before that had no order to protect — the
/// client got no answer and retries.
///
/// # Errors
/// Only unexpected database failures.
pub async fn claim_key(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
    token: i64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<Claim, DomainError> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, claim, claimed_until,
             created_at)
         SELECT $1, $2, $3, $4, $6 + make_interval(secs => $5), $6
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
         ON CONFLICT (scope, key) DO UPDATE SET
             fingerprint = EXCLUDED.fingerprint, claim = EXCLUDED.claim,
             claimed_until = EXCLUDED.claimed_until, created_at = EXCLUDED.created_at
         WHERE idempotency_keys.order_id IS NULL AND idempotency_keys.claimed_until < $6
         RETURNING 1",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(token)
    .bind(lease.as_secs_f64())
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    if claimed.is_some() {
        return Ok(Claim::Claimed(token));
    }
    match key_use(conn, scope, key).await? {
        Some(used) => Ok(Claim::Taken(used)),
        // Given up by its holder between the two statements: a pending
        // use, so the caller looks again.
        None => Ok(Claim::Taken(KeyUse {
            fingerprint: fingerprint.to_vec(),
            order_id: None,
        })),
    }
}

/// Gives up a claim whose request failed, so a retry may try again.
///
/// # Errors
/// Only unexpected database failures.
pub async fn release_key(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    token: i64,
) -> Result<(), DomainError> {
    sqlx::query(
        "DELETE FROM idempotency_keys
         WHERE scope = $1 AND key = $2 AND claim = $3 AND order_id IS NULL",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .execute(conn)
    .await?;
    Ok(())
}

/// Extends a claim its request still holds to `lease` from `now`; nothing
/// when the key was bound or taken over meanwhile.
///
/// # Errors
/// Only unexpected database failures.
pub async fn renew_key(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    token: i64,
    lease: Duration,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE idempotency_keys SET claimed_until = $5 + make_interval(secs => $4)
         WHERE scope = $1 AND key = $2 AND claim = $3 AND order_id IS NULL",
    )
    .bind(scope)
    .bind(key)
    .bind(token)
    .bind(lease.as_secs_f64())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets keys made before `cutoff`: a retry after that makes a new order.
///
/// # Errors
/// Only unexpected database failures.
pub async fn prune_keys(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
) -> Result<u64, DomainError> {
    Ok(
        sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(cutoff)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}
