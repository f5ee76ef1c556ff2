//! Idempotency keys of payments and refunds. A request with a key takes
//! the key's lock first ([`lock`]), so twins go one after another: the
//! second finds the key bound by the first ([`key_use`]) and answers with
//! what it made. The key is bound ([`bind`]) in the unit of work that
//! makes the payment or the refund, so it exists exactly when they do.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// What a key was first used for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    /// The first request's fingerprint.
    pub fingerprint: Vec<u8>,
    pub payment_id: Option<i64>,
    pub refund_id: Option<i64>,
}

/// What a key binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Payment(i64),
    Refund(i64),
}

/// Waits for, then holds until the caller's transaction ends, the lock of
/// `key` in `scope`.
///
/// # Errors
/// The database failed.
pub async fn lock(conn: &mut PgConnection, scope: &str, key: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '\n' || $2, 0))")
        .bind(scope)
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The earlier use of `key` in `scope`, if any (read under [`lock`]).
///
/// # Errors
/// The database failed.
pub async fn key_use(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
) -> sqlx::Result<Option<KeyUse>> {
    let row: Option<(Vec<u8>, Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT fingerprint, payment_id, refund_id FROM idempotency_keys
         WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(fingerprint, payment_id, refund_id)| KeyUse {
        fingerprint,
        payment_id,
        refund_id,
    }))
}

/// Binds `key` in `scope` to what the caller's transaction `made` (under
/// [`lock`], after [`key_use`] found it free).
///
/// # Errors
/// The database failed.
pub async fn bind(
    conn: &mut PgConnection,
    scope: &str,
    key: &str,
    fingerprint: &[u8],
    made: Made,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let (payment_id, refund_id) = match made {
        Made::Payment(id) => (Some(id), None),
        Made::Refund(id) => (None, Some(id)),
    };
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, payment_id, refund_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(payment_id)
    .bind(refund_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}
