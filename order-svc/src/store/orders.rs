//! Reads of orders: one by id or number, listings, history, and the
//! sweeps that find orders by age.

use chrono::{DateTime, Utc};

use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, Row};

use crate::domain::number::{OrderNumber, TokenHash};
use crate::domain::order::{Order, OrderFilter, OrderLine, StatusChange};
use crate::domain::{DomainError, Page};

/// The newest entry of an order's history (0 when it has none).
///
/// # Errors
/// Only unexpected database failures.
pub async fn last_history_id(conn: &mut PgConnection, order_id: i64) -> Result<i64, DomainError> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(max(id), 0) FROM order_status_history WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_one(conn)
    .await?)
}

/// One order with its lines.
///
/// # Errors
/// Only unexpected database failures.
pub async fn order(conn: &mut PgConnection, id: i64) -> Result<Option<Order>, DomainError> {
    let found: Option<Order> = sqlx::query_as(concat!(select_orders!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(mut found) = found else {
        return Ok(None);
    };
    load_lines(conn, std::slice::from_mut(&mut found)).await?;
    Ok(Some(found))
}

/// One order, which must exist.
///
/// # Errors
/// [`DomainError::OrderNotFound`].
pub async fn existing_order(conn: &mut PgConnection, id: i64) -> Result<Order, DomainError> {
    order(conn, id)
        .await?
        .ok_or_else(|| DomainError::OrderNotFound(id.to_string()))
}

/// The order with this number that `token` opens, if both match.
///
/// # Errors
/// Only unexpected database failures.
pub async fn tracked_order(
    conn: &mut PgConnection,
    order_number: &str,
    token: &TokenHash,
) -> Result<Option<Order>, DomainError> {
    let id: Option<i64> = sqlx::query_scalar(
        "SELECT o.id FROM orders o JOIN order_access_tokens t ON t.order_id = o.id
         WHERE o.order_number = $1 AND t.token_hash = $2",
    )
    .bind(order_number)
    .bind(token.as_bytes())
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => order(conn, id).await,
        None => Ok(None),
    }
}

/// Whether `token` opens order `order_id`.
///
/// # Errors
/// Only unexpected database failures.
pub async fn token_opens(
    conn: &mut PgConnection,
    order_id: i64,
    token: &TokenHash,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM order_access_tokens WHERE order_id = $1 AND token_hash = $2)",
    )
    .bind(order_id)
    .bind(token.as_bytes())
    .fetch_one(conn)
    .await?)
}

/// One page of orders, newest first, and the token of the next page if
/// there is one.
///
/// # Errors
/// Only unexpected database failures.
pub async fn orders(
    conn: &mut PgConnection,
    filter: &OrderFilter,
    page: Page,
) -> Result<(Vec<Order>, Option<String>), DomainError> {
    let statuses: Vec<String> = filter
        .statuses
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    let order_types: Vec<&str> = filter.order_types.iter().map(|t| t.as_str()).collect();
    let mut rows: Vec<Order> = sqlx::query_as(concat!(
        select_orders!(),
        " WHERE ($1::BIGINT IS NULL OR id < $1)
            AND (cardinality($2::TEXT[]) = 0 OR status = ANY($2))
            AND ($3::BIGINT IS NULL OR restaurant_id = $3)
            AND ($4::BIGINT IS NULL OR customer_id = $4)
            AND ($5::TIMESTAMPTZ IS NULL OR created_at >= $5)
            AND ($6::TIMESTAMPTZ IS NULL OR created_at < $6)
            AND (cardinality($8::TEXT[]) = 0 OR order_type = ANY($8))
            AND ($9::TEXT IS NULL OR order_number = $9)
          ORDER BY id DESC LIMIT $7"
    ))
    .bind(page.before_id())
    .bind(&statuses)
    .bind(filter.restaurant_id)
    .bind(filter.customer_id)
    .bind(filter.created.from)
    .bind(filter.created.to)
    // One more than the page, to learn whether another page follows.
    .bind(i64::from(page.size()) + 1)
    .bind(&order_types)
    .bind(filter.order_number.as_ref().map(OrderNumber::as_str))
    .fetch_all(&mut *conn)
    .await?;
    let size = page.size() as usize;
    let next = if rows.len() > size {
        rows.truncate(size);
        rows.last().map(|o| Page::token_after(o.id))
    } else {
        None
    };
    load_lines(conn, &mut rows).await?;
    Ok((rows, next))
}

async fn load_lines(conn: &mut PgConnection, orders: &mut [Order]) -> Result<(), DomainError> {
    if orders.is_empty() {
        return Ok(());
    }
    let query = match orders {
        // One order (every read, every change) by plain equality: the plan
        // Postgres caches for it uses the index whatever the table's size
        // was when it was made, where `= ANY` on a young, small table gets
        // a sequential scan that it then keeps as the table grows.
        [one] => {
            sqlx::query(concat!(select_lines!(), " WHERE order_id = $1 ORDER BY id")).bind(one.id)
        }
        _ => sqlx::query(concat!(
            select_lines!(),
            " WHERE order_id = ANY($1) ORDER BY order_id, id"
        ))
        .bind(orders.iter().map(|o| o.id).collect::<Vec<i64>>()),
    };
    let lines: Vec<(i64, OrderLine)> = query
        .try_map(|row: PgRow| Ok((row.try_get("order_id")?, OrderLine::from_row(&row)?)))
        .fetch_all(conn)
        .await?;
    for (order_id, line) in lines {
        if let Some(order) = orders.iter_mut().find(|o| o.id == order_id) {
            order.lines.push(line);
        }
    }
    Ok(())
}

/// An order's status history, oldest first.
///
/// # Errors
/// Only unexpected database failures.
pub async fn history(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Vec<StatusChange>, DomainError> {
    history_after(conn, order_id, 0).await
}

/// The history entries of an order after entry `after_id`, oldest first.
///
/// # Errors
/// Only unexpected database failures.
pub async fn history_after(
    conn: &mut PgConnection,
    order_id: i64,
    after_id: i64,
) -> Result<Vec<StatusChange>, DomainError> {
    Ok(sqlx::query_as(concat!(
        select_history!(),
        " WHERE order_id = $1 AND id > $2 ORDER BY id"
    ))
    .bind(order_id)
    .bind(after_id)
    .fetch_all(conn)
    .await?)
}

/// PENDING orders placed before `cutoff`, oldest first.
///
/// # Errors
/// Only unexpected database failures.
pub async fn expired_pending(
    conn: &mut PgConnection,
    cutoff: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<i64>, DomainError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM orders
         WHERE status = 'PENDING' AND created_at < $1
         ORDER BY created_at LIMIT $2",
    )
    .bind(cutoff)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// How many orders are in each status that is not final; a status with
/// none is left out.
///
/// # Errors
/// Only unexpected database failures.
pub async fn open_counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, DomainError> {
    Ok(sqlx::query_as(
        "SELECT status, count(*) FROM orders
         WHERE status IN ('PENDING', 'CONFIRMED', 'PREPARING', 'READY', 'OUT_FOR_DELIVERY')
         GROUP BY status",
    )
    .fetch_all(conn)
    .await?)
}

/// Whether an order already has this number.
///
/// # Errors
/// Only unexpected database failures.
pub async fn number_taken(
    conn: &mut PgConnection,
    order_number: &str,
) -> Result<bool, DomainError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM orders WHERE order_number = $1)")
            .bind(order_number)
            .fetch_one(conn)
            .await?,
    )
}
