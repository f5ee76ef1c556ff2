//! Invoices and their lines.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::next_invoice_number;
use crate::domain::invoice::{Invoice, InvoiceFilter, InvoiceLine, InvoiceStatus, OrderFacts};
use crate::domain::{DomainError, Page};

fn invoice_of(row: &sqlx::postgres::PgRow) -> sqlx::Result<Invoice> {
    let status: String = row.try_get("status")?;
    Ok(Invoice {
        id: row.try_get("id")?,
        restaurant_id: row.try_get("restaurant_id")?,
        number: row.try_get("number")?,
        order_id: row.try_get("order_id")?,
        customer_id: row.try_get("customer_id")?,
        currency: row.try_get("currency")?,
        lines: Vec::new(),
        subtotal_minor: row.try_get("subtotal_minor")?,
        discount_minor: row.try_get("discount_minor")?,
        delivery_fee_minor: row.try_get("delivery_fee_minor")?,
        tax_minor: row.try_get("tax_minor")?,
        total_minor: row.try_get("total_minor")?,
        status: InvoiceStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown invoice status `{status}`").into())
        })?,
        issued_at: row.try_get("issued_at")?,
    })
}

/// Brings the invoice of `facts`' order up to date with them, issuing it
/// (numbered next in its restaurant) when the order has none; the invoice
/// as it now stands, locked until the caller's transaction ends.
///
/// An open invoice takes the figures of a newer view of its order; an
/// older view, or any view of an invoice already paid, refunded or void,
/// changes nothing.
///
/// # Errors
/// The database failed.
pub async fn bring_up_to_date(
    conn: &mut PgConnection,
    facts: &OrderFacts,
    at: DateTime<Utc>,
) -> Result<Invoice, DomainError> {
    if let Some(current) = lock_of_order(conn, facts.order_id).await? {
        let row: Option<(DateTime<Utc>,)> =
            sqlx::query_as("SELECT order_updated_at FROM invoices WHERE id = $1")
                .bind(current.id)
                .fetch_optional(&mut *conn)
                .await?;
        let newer = row.is_some_and(|(seen,)| facts.updated_at > seen);
        if !newer || current.status != InvoiceStatus::Open {
            return Ok(current);
        }
        sqlx::query(
            "UPDATE invoices SET subtotal_minor = $2, discount_minor = $3,
                 delivery_fee_minor = $4, tax_minor = $5, total_minor = $6,
                 order_updated_at = $7, updated_at = $8
             WHERE id = $1",
        )
        .bind(current.id)
        .bind(facts.subtotal_minor)
        .bind(facts.discount_minor)
        .bind(facts.delivery_fee_minor)
        .bind(facts.tax_minor)
        .bind(facts.total_minor)
        .bind(facts.updated_at)
        .bind(at)
        .execute(&mut *conn)
        .await?;
        sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
            .bind(current.id)
            .execute(&mut *conn)
            .await?;
        insert_lines(conn, current.id, &facts.lines).await?;
        return lock_of_order(conn, facts.order_id)
            .await?
            .ok_or_else(|| unexpected(facts.order_id));
    }
    // Numbering locks the restaurant's counter, so a twin issuing the same
    // order (the event and a payment at once) waits here, then finds the
    // invoice and gives its number back while still holding the lock: no
    // number is skipped.
    let number = next_invoice_number(conn, facts.restaurant_id).await?;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO invoices (restaurant_id, number, order_id, customer_id, currency,
             subtotal_minor, discount_minor, delivery_fee_minor, tax_minor, total_minor,
             status, issued_at, updated_at, order_updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', $11, $11, $12)
         ON CONFLICT (order_id) DO NOTHING
         RETURNING id",
    )
    .bind(facts.restaurant_id)
    .bind(number)
    .bind(facts.order_id)
    .bind(facts.customer_id)
    .bind(&facts.currency)
    .bind(facts.subtotal_minor)
    .bind(facts.discount_minor)
    .bind(facts.delivery_fee_minor)
    .bind(facts.tax_minor)
    .bind(facts.total_minor)
    .bind(at)
    .bind(facts.updated_at)
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => insert_lines(conn, id, &facts.lines).await?,
        None => {
            sqlx::query(
                "UPDATE invoice_numbers SET last_number = last_number - 1
                 WHERE restaurant_id = $1",
            )
            .bind(facts.restaurant_id)
            .execute(&mut *conn)
            .await?;
        }
    }
    lock_of_order(conn, facts.order_id)
        .await?
        .ok_or_else(|| unexpected(facts.order_id))
}

fn unexpected(order_id: i64) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!(
        "the invoice of order {order_id} vanished in its own transaction"
    ))
}

async fn insert_lines(
    conn: &mut PgConnection,
    invoice_id: i64,
    lines: &[InvoiceLine],
) -> sqlx::Result<()> {
    let descriptions: Vec<&str> = lines.iter().map(|l| l.description.as_str()).collect();
    let quantities: Vec<i32> = lines
        .iter()
        .map(|l| i32::try_from(l.quantity).unwrap_or(i32::MAX))
        .collect();
    let units: Vec<i64> = lines.iter().map(|l| l.unit_price_minor).collect();
    let totals: Vec<i64> = lines.iter().map(|l| l.total_minor).collect();
    sqlx::query(
        "INSERT INTO invoice_lines (invoice_id, position, description, quantity,
             unit_price_minor, total_minor)
         SELECT $1, ordinality - 1, description, quantity, unit_price, total
         FROM UNNEST($2::TEXT[], $3::INT[], $4::BIGINT[], $5::BIGINT[])
             WITH ORDINALITY AS l (description, quantity, unit_price, total, ordinality)",
    )
    .bind(invoice_id)
    .bind(&descriptions)
    .bind(&quantities)
    .bind(&units)
    .bind(&totals)
    .execute(conn)
    .await?;
    Ok(())
}

/// The invoice of order `order_id` (without its lines), locked until the
/// caller's transaction ends.
///
/// # Errors
/// The database failed.
pub async fn lock_of_order(
    conn: &mut PgConnection,
    order_id: i64,
) -> sqlx::Result<Option<Invoice>> {
    let row = sqlx::query(
        "SELECT id, restaurant_id, number, order_id, customer_id, currency, subtotal_minor,
                discount_minor, delivery_fee_minor, tax_minor, total_minor, status, issued_at
         FROM invoices WHERE order_id = $1 FOR UPDATE",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(invoice_of).transpose()
}

/// Sets the status of order `order_id`'s invoice, if it has one.
///
/// # Errors
/// The database failed.
pub async fn set_status(
    conn: &mut PgConnection,
    order_id: i64,
    status: InvoiceStatus,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE invoices SET status = $2, updated_at = $3 WHERE order_id = $1")
        .bind(order_id)
        .bind(status.as_str())
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

/// One page of the invoices `filter` asks for, newest first, with their
/// lines.
///
/// # Errors
/// The database failed.
pub async fn list(
    conn: &mut PgConnection,
    filter: &InvoiceFilter,
    page: Page,
) -> sqlx::Result<Vec<Invoice>> {
    let rows = sqlx::query(
        "SELECT id, restaurant_id, number, order_id, customer_id, currency, subtotal_minor,
                discount_minor, delivery_fee_minor, tax_minor, total_minor, status, issued_at
         FROM invoices
         WHERE ($1::BIGINT IS NULL OR restaurant_id = $1)
           AND ($2::BIGINT IS NULL OR order_id = $2)
           AND ($3::BIGINT IS NULL OR customer_id = $3)
           AND ($4::TEXT IS NULL OR status = $4)
           AND ($5::TIMESTAMPTZ IS NULL OR issued_at >= $5)
           AND ($6::TIMESTAMPTZ IS NULL OR issued_at < $6)
           AND ($7::BIGINT IS NULL OR id < $7)
         ORDER BY id DESC
         LIMIT $8",
    )
    .bind(filter.restaurant_id)
    .bind(filter.order_id)
    .bind(filter.customer_id)
    .bind(filter.status.map(InvoiceStatus::as_str))
    .bind(filter.from)
    .bind(filter.to)
    .bind(page.before_id())
    .bind(i64::from(page.size()))
    .fetch_all(&mut *conn)
    .await?;
    let mut invoices = rows
        .iter()
        .map(invoice_of)
        .collect::<sqlx::Result<Vec<_>>>()?;
    let ids: Vec<i64> = invoices.iter().map(|i| i.id).collect();
    let lines = sqlx::query(
        "SELECT invoice_id, description, quantity, unit_price_minor, total_minor
         FROM invoice_lines WHERE invoice_id = ANY($1) ORDER BY invoice_id, position",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    for row in &lines {
        let invoice_id: i64 = row.try_get("invoice_id")?;
        let quantity: i32 = row.try_get("quantity")?;
        if let Some(invoice) = invoices.iter_mut().find(|i| i.id == invoice_id) {
            invoice.lines.push(InvoiceLine {
                description: row.try_get("description")?,
                quantity: u32::try_from(quantity).unwrap_or(0),
                unit_price_minor: row.try_get("unit_price_minor")?,
                total_minor: row.try_get("total_minor")?,
            });
        }
    }
    Ok(invoices)
}
