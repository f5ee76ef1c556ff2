//! Every SQL statement of accounting-svc. Each function takes a connection,
//! so the caller decides what shares a transaction (a [`Work`] of
//! [`foodmesh_shared::work`]).
//!
//! [`Work`]: foodmesh_shared::work::Work
//!
//! Payments, refunds and the ledger here; [`invoices`] and the
//! idempotency [`keys`] in their own modules.

pub mod invoices;
pub mod keys;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use crate::domain::DomainError;
use crate::domain::ledger::Transaction;
use crate::domain::payment::{Applied, Method, Payment, PaymentRecord, PaymentStatus};

foodmesh_shared::database_failures!(DomainError);

/// A payment to record, as a provider left it.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub order_id: i64,
    pub restaurant_id: i64,
    pub method: Method,
    pub status: PaymentStatus,
    pub currency: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub decline_reason: Option<String>,
}

fn payment_of(row: &sqlx::postgres::PgRow) -> sqlx::Result<Payment> {
    let method: String = row.try_get("method")?;
    let status: String = row.try_get("status")?;
    // The table's checks admit only the names the domain knows.
    let unknown =
        |what: &str, raw: &str| sqlx::Error::Decode(format!("unknown {what} `{raw}`").into());
    Ok(Payment {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        restaurant_id: row.try_get("restaurant_id")?,
        method: Method::parse(&method).ok_or_else(|| unknown("method", &method))?,
        status: PaymentStatus::from_stored(&status).ok_or_else(|| unknown("status", &status))?,
        currency: row.try_get("currency")?,
        amount_minor: row.try_get("amount_minor")?,
        captured_minor: row.try_get("captured_minor")?,
        refunded_minor: row.try_get("refunded_minor")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Records `payment` at `at`.
///
/// # Errors
/// [`DomainError::AlreadyPaid`] when its order has a payment that is not
/// declined or voided; or the database failed.
pub async fn insert_payment(
    conn: &mut PgConnection,
    payment: &NewPayment,
    at: DateTime<Utc>,
) -> Result<Payment, DomainError> {
    let row = sqlx::query(
        "INSERT INTO payments (order_id, restaurant_id, method, status, currency, amount_minor,
                               captured_minor, provider, provider_reference, decline_reason,
                               created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
         RETURNING id, order_id, restaurant_id, method, status, currency,
                   amount_minor, captured_minor, refunded_minor, created_at, updated_at",
    )
    .bind(payment.order_id)
    .bind(payment.restaurant_id)
    .bind(payment.method.as_str())
    .bind(payment.status.as_str())
    .bind(&payment.currency)
    .bind(payment.amount_minor)
    .bind(payment.captured_minor)
    .bind(&payment.provider)
    .bind(&payment.provider_reference)
    .bind(&payment.decline_reason)
    .bind(at)
    .fetch_one(conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(db) if db.constraint() == Some("payments_one_live_per_order") => {
            DomainError::AlreadyPaid(payment.order_id)
        }
        other => other.into(),
    })?;
    Ok(payment_of(&row)?)
}

/// Payment `id`, locked until the transaction ends, so changes to one
/// payment happen one after another.
///
/// # Errors
/// The database failed.
pub async fn lock_payment(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query(
        "SELECT id, order_id, restaurant_id, method, status, currency,
                amount_minor, captured_minor, refunded_minor, created_at, updated_at
         FROM payments WHERE id = $1 FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(payment_of).transpose()
}

/// The order payment `id` is for.
///
/// # Errors
/// The database failed.
pub async fn order_of_payment(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT order_id FROM payments WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The live payment of order `order_id` (the one neither declined nor
/// voided), locked until the transaction ends.
///
/// # Errors
/// The database failed.
pub async fn lock_live_payment_of_order(
    conn: &mut PgConnection,
    order_id: i64,
) -> sqlx::Result<Option<Payment>> {
    let row = sqlx::query(
        "SELECT id, order_id, restaurant_id, method, status, currency,
                amount_minor, captured_minor, refunded_minor, created_at, updated_at
         FROM payments WHERE order_id = $1 AND status NOT IN ('declined', 'voided')
         FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(payment_of).transpose()
}

/// Payment `id` with what its provider said.
///
/// # Errors
/// The database failed.
pub async fn payment_record(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Option<PaymentRecord>> {
    let row = sqlx::query(
        "SELECT id, order_id, restaurant_id, method, status, currency,
                amount_minor, captured_minor, refunded_minor, created_at, updated_at,
                provider, provider_reference, decline_reason
         FROM payments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(record_of).transpose()
}

/// The newest `limit` payments of order `order_id`, newest first.
///
/// # Errors
/// The database failed.
pub async fn payments_of_order(
    conn: &mut PgConnection,
    order_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<PaymentRecord>> {
    let rows = sqlx::query(
        "SELECT id, order_id, restaurant_id, method, status, currency,
                amount_minor, captured_minor, refunded_minor, created_at, updated_at,
                provider, provider_reference, decline_reason
         FROM payments WHERE order_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(order_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(record_of).collect()
}

fn record_of(row: &sqlx::postgres::PgRow) -> sqlx::Result<PaymentRecord> {
    Ok(PaymentRecord {
        payment: payment_of(row)?,
        provider: row.try_get("provider")?,
        provider_reference: row.try_get("provider_reference")?,
        decline_reason: row.try_get("decline_reason")?,
    })
}

/// The payment `provider` knows as `reference`.
///
/// # Errors
/// The database failed.
pub async fn payment_by_reference(
    conn: &mut PgConnection,
    provider: &str,
    reference: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM payments WHERE provider = $1 AND provider_reference = $2")
        .bind(provider)
        .bind(reference)
        .fetch_optional(conn)
        .await
}

/// The refund `id`: its payment, amount, reason and time.
///
/// # Errors
/// The database failed.
pub async fn refund_record(
    conn: &mut PgConnection,
    id: i64,
) -> sqlx::Result<Option<(i64, i64, String, DateTime<Utc>)>> {
    sqlx::query_as("SELECT payment_id, amount_minor, reason, created_at FROM refunds WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Writes what `applied` made of payment `id`.
///
/// # Errors
/// The database failed or refused the figures.
pub async fn save_payment(
    conn: &mut PgConnection,
    id: i64,
    applied: &Applied,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payments SET status = $2, captured_minor = $3, refunded_minor = $4, updated_at = $5
         WHERE id = $1",
    )
    .bind(id)
    .bind(applied.status.as_str())
    .bind(applied.captured_minor)
    .bind(applied.refunded_minor)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps why the provider declined payment `id`.
///
/// # Errors
/// The database failed.
pub async fn save_decline_reason(
    conn: &mut PgConnection,
    id: i64,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE payments SET decline_reason = $2 WHERE id = $1")
        .bind(id)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// Appends `transaction` to the ledger (the database checks it balances
/// when the caller commits); its id.
///
/// # Errors
/// The database failed.
pub async fn record(
    conn: &mut PgConnection,
    transaction: &Transaction,
    restaurant_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<i64> {
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, payment_id, order_id, restaurant_id, currency, at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(transaction.kind.as_str())
    .bind(transaction.payment_id)
    .bind(transaction.order_id)
    .bind(restaurant_id)
    .bind(&transaction.currency)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    let accounts: Vec<String> = transaction
        .postings
        .iter()
        .map(|p| p.account.to_string())
        .collect();
    let amounts: Vec<i64> = transaction
        .postings
        .iter()
        .map(|p| p.amount_minor)
        .collect();
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account, amount_minor)
         SELECT $1, account, amount FROM UNNEST($2::TEXT[], $3::BIGINT[]) AS p (account, amount)",
    )
    .bind(id)
    .bind(&accounts)
    .bind(&amounts)
    .execute(conn)
    .await?;
    Ok(id)
}

/// Records a refund of `amount_minor` of payment `payment_id`, written to
/// the ledger as `ledger_transaction_id`; its id.
///
/// # Errors
/// The database failed.
pub async fn insert_refund(
    conn: &mut PgConnection,
    payment_id: i64,
    amount_minor: i64,
    reason: &str,
    ledger_transaction_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO refunds (payment_id, amount_minor, reason, ledger_transaction_id, created_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(payment_id)
    .bind(amount_minor)
    .bind(reason)
    .bind(ledger_transaction_id)
    .bind(at)
    .fetch_one(conn)
    .await
}

/// The next invoice number of `restaurant_id`: 1, 2, 3, … with no gap and
/// no repeat. The counter's row stays locked until the caller's
/// transaction ends, so invoices of one restaurant are numbered one after
/// another, and a rolled-back invoice gives its number back.
///
/// # Errors
/// The database failed.
pub async fn next_invoice_number(conn: &mut PgConnection, restaurant_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "INSERT INTO invoice_numbers (restaurant_id, last_number) VALUES ($1, 1)
         ON CONFLICT (restaurant_id) DO UPDATE SET last_number = invoice_numbers.last_number + 1
         RETURNING last_number",
    )
    .bind(restaurant_id)
    .fetch_one(conn)
    .await
}

/// Records that `provider`'s event `event_id` is being handled, in the
/// caller's transaction; false when it already was (a replay).
///
/// # Errors
/// The database failed.
pub async fn first_delivery(
    conn: &mut PgConnection,
    provider: &str,
    event_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<bool> {
    let inserted: Option<bool> = sqlx::query_scalar(
        "INSERT INTO webhook_events (provider, event_id, received_at) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING true",
    )
    .bind(provider)
    .bind(event_id)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}
