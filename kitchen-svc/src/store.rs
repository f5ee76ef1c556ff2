//! Every SQL statement of kitchen-svc, and nothing else. Statements take a
//! connection, so the use cases decide what shares a transaction. Takes
//! domain values, returns domain values.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, QueryBuilder};

use crate::domain::new_ticket::NewTicket;
use crate::domain::queue::{KitchenStats, PrepTimes, QueueFilter, StatsWindow};
use crate::domain::ticket::{Fulfilment, Ticket, TicketItem, TicketStatus};
use crate::domain::{DomainError, Page, TicketRef};

foodmesh_shared::database_failures!(DomainError);

/// The pool the service's statements run on; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Wraps a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A connection, for a unit of work or for reads.
    ///
    /// # Errors
    /// The pool cannot give one.
    pub async fn conn(&self) -> Result<PoolConnection<Postgres>, DomainError> {
        Ok(self.pool.acquire().await?)
    }
}

/// What inserting a ticket found.
#[derive(Debug, Clone)]
pub enum Received {
    /// A new ticket was queued.
    Queued(Ticket),
    /// The order already had this ticket; nothing was written.
    Existing(Ticket),
}

impl Received {
    /// The ticket, new or not.
    pub fn into_ticket(self) -> Ticket {
        match self {
            Self::Queued(t) | Self::Existing(t) => t,
        }
    }
}

// A ticket's columns as `TicketRow` reads them: what SELECTs read and
// inserts return.
macro_rules! ticket_columns {
    () => {
        "id, order_id, order_number, restaurant_id, status, fulfilment, table_number,
         notes, reason, ready_by, created_at, accepted_at, started_at, ready_at,
         picked_up_at, updated_at, version"
    };
}

// The one SELECT of tickets, narrowed by its callers.
macro_rules! select_tickets {
    () => {
        concat!("SELECT ", ticket_columns!(), " FROM tickets")
    };
}

/// One ticket with its items; `lock` takes its row lock until the
/// transaction ends, so of two racing changes the second sees the
/// first's result and is judged against it.
///
/// # Errors
/// Only unexpected database failures.
pub async fn find_ticket(
    conn: &mut PgConnection,
    key: TicketRef,
    lock: bool,
) -> Result<Option<Ticket>, DomainError> {
    let (column, value) = match key {
        TicketRef::Id(id) => ("id", id),
        TicketRef::Order(order_id) => ("order_id", order_id),
    };
    let sql = format!(
        "{} WHERE {column} = $1{}",
        select_tickets!(),
        if lock { " FOR UPDATE" } else { "" }
    );
    let row: Option<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .fetch_optional(&mut *conn)
        .await?;
    let tickets = with_items(conn, row.into_iter().collect()).await?;
    Ok(tickets.into_iter().next())
}

/// One page of a restaurant's tickets in the filter's statuses, oldest
/// first, and the token of the next page if there is one.
///
/// # Errors
/// Only unexpected database failures.
pub async fn tickets(
    conn: &mut PgConnection,
    filter: &QueueFilter,
    page: Page,
) -> Result<(Vec<Ticket>, Option<String>), DomainError> {
    let statuses: Vec<&str> = filter.statuses().iter().map(|s| s.as_str()).collect();
    let (after_time, after_id) = page.after().unzip();
    let rows: Vec<TicketRow> = sqlx::query_as(concat!(
        select_tickets!(),
        " WHERE restaurant_id = $1 AND status = ANY($2)
            AND ($3::timestamptz IS NULL OR (created_at, id) > ($3, $4))
          ORDER BY created_at, id LIMIT $5"
    ))
    .bind(filter.restaurant_id())
    .bind(&statuses)
    .bind(after_time)
    .bind(after_id.unwrap_or(0))
    // One more than the page, to learn whether another page follows.
    .bind(i64::from(page.size()) + 1)
    .fetch_all(&mut *conn)
    .await?;
    let mut tickets = with_items(conn, rows).await?;
    let size = page.size() as usize;
    let next = if tickets.len() > size {
        tickets.truncate(size);
        tickets
            .last()
            .map(|t| Page::token_after(t.created_at, t.id))
    } else {
        None
    };
    Ok((tickets, next))
}

/// Every open ticket of a restaurant, oldest first: what a display shows
/// when it starts watching.
///
/// # Errors
/// Only unexpected database failures.
pub async fn open_tickets(
    conn: &mut PgConnection,
    restaurant_id: i64,
) -> Result<Vec<Ticket>, DomainError> {
    let open: Vec<&str> = TicketStatus::OPEN.iter().map(|s| s.as_str()).collect();
    let rows: Vec<TicketRow> = sqlx::query_as(concat!(
        select_tickets!(),
        " WHERE restaurant_id = $1 AND status = ANY($2) ORDER BY created_at, id"
    ))
    .bind(restaurant_id)
    .bind(&open)
    .fetch_all(&mut *conn)
    .await?;
    with_items(conn, rows).await
}

/// The open queue's counts at `at`, and preparation times of the tickets
/// that became READY within `window` before it.
///
/// # Errors
/// Only unexpected database failures.
pub async fn stats(
    conn: &mut PgConnection,
    restaurant_id: i64,
    window: StatsWindow,
    at: DateTime<Utc>,
) -> Result<KitchenStats, DomainError> {
    let counts: QueueCounts = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'queued') AS queued,
                count(*) FILTER (WHERE status = 'accepted') AS accepted,
                count(*) FILTER (WHERE status = 'preparing') AS preparing,
                count(*) FILTER (WHERE status = 'ready') AS ready,
                count(*) FILTER (WHERE status <> 'ready' AND ready_by < $2) AS overdue
         FROM tickets
         WHERE restaurant_id = $1
           AND status IN ('queued', 'accepted', 'preparing', 'ready')",
    )
    .bind(restaurant_id)
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    // Durations are clamped at zero: instances with skewed clocks may
    // stamp a ticket READY a moment before it started.
    let times: PrepRow = sqlx::query_as(
        "WITH done AS (
             SELECT GREATEST(EXTRACT(EPOCH FROM ready_at - started_at), 0)::float8 AS prep,
                    GREATEST(EXTRACT(EPOCH FROM started_at - created_at), 0)::float8 AS wait
             FROM tickets
             WHERE restaurant_id = $1 AND ready_at >= $2 AND started_at IS NOT NULL
         )
         SELECT count(*) AS prepared,
                COALESCE(avg(prep), 0)::float8 AS avg_seconds,
                COALESCE(percentile_cont(0.9) WITHIN GROUP (ORDER BY prep), 0)::float8
                    AS p90_seconds,
                COALESCE(avg(wait), 0)::float8 AS avg_wait_seconds
         FROM done",
    )
    .bind(restaurant_id)
    .bind(window.since(at))
    .fetch_one(&mut *conn)
    .await?;
    Ok(KitchenStats {
        queued: count(counts.queued),
        accepted: count(counts.accepted),
        preparing: count(counts.preparing),
        ready: count(counts.ready),
        overdue: count(counts.overdue),
        preparation: PrepTimes {
            count: count(times.prepared),
            avg_seconds: times.avg_seconds,
            p90_seconds: times.p90_seconds,
            avg_wait_seconds: times.avg_wait_seconds,
        },
        window_minutes: window.minutes(),
    })
}

/// Inserts `new`'s ticket queued at `at`, with its items, and returns it as
/// written; or finds the order's existing ticket, untouched. A concurrent
/// insert for the same order waits on the unique order id and then finds
/// the winner's ticket.
///
/// With `heed_cancellation`, nothing is written for an order whose
/// cancellation is remembered ([`remember_cancelled_order`]), and the
/// answer is `None`. The caller must then hold [`lock_order`]: the
/// cancellation is looked for in the insert's own statement, which starts
/// after the lock is granted and so sees a cancellation committed while it
/// waited; a look in the lock's own statement would read from before the
/// wait and could miss it.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_ticket(
    conn: &mut PgConnection,
    new: &NewTicket,
    at: DateTime<Utc>,
    heed_cancellation: bool,
) -> Result<Option<Received>, DomainError> {
    let row: Option<TicketRow> = sqlx::query_as(concat!(
        "INSERT INTO tickets (order_id, order_number, restaurant_id, status, fulfilment,
             table_number, notes, ready_by, created_at, updated_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $9
         WHERE NOT ($10::bool AND EXISTS (SELECT 1 FROM cancelled_orders WHERE order_id = $1))
         ON CONFLICT (order_id) DO NOTHING
         RETURNING ",
        ticket_columns!()
    ))
    .bind(new.order_id)
    .bind(new.order_number.as_str())
    .bind(new.restaurant_id)
    .bind(TicketStatus::Queued.as_str())
    .bind(new.fulfilment.kind().as_str())
    .bind(new.fulfilment.table_number())
    .bind(new.notes.as_str())
    .bind(new.prep.ready_by(at))
    .bind(at)
    .bind(heed_cancellation)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        // The order has a ticket (committed: a conflicting insert waits for
        // the other to end), or it was cancelled and has none.
        let existing = find_ticket(conn, TicketRef::Order(new.order_id), false).await?;
        return Ok(existing.map(Received::Existing));
    };
    let id = row.id;
    let mut items = QueryBuilder::new(
        "INSERT INTO ticket_items (ticket_id, position, name, quantity, modifiers,
             special_instructions) ",
    );
    items.push_values(new.items.iter().enumerate(), |mut row, (position, item)| {
        let modifiers: Vec<&str> = item.modifiers.iter().map(|m| m.as_str()).collect();
        row.push_bind(id)
            .push_bind(i32::try_from(position).unwrap_or(i32::MAX))
            .push_bind(item.name.as_str())
            .push_bind(i32::try_from(item.quantity.get()).unwrap_or(i32::MAX))
            .push_bind(modifiers)
            .push_bind(item.special_instructions.as_str());
    });
    items.build().execute(&mut *conn).await?;
    // The ticket as written: the row as it was returned, the items as they
    // were given.
    let mut ticket = row.into_ticket()?;
    ticket.items = new.items.iter().map(TicketItem::from).collect();
    Ok(Some(Received::Queued(ticket)))
}

/// Serializes the handling of one order's events until the caller's
/// transaction ends. Two instances may apply two events of the same order
/// at once (a retried confirmation and the cancellation after it); without
/// this, neither would see the other's uncommitted ticket or cancellation
/// record, and a cancelled order could still be queued.
///
/// # Errors
/// Only unexpected database failures.
pub async fn lock_order(conn: &mut PgConnection, order_id: i64) -> Result<(), DomainError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Remembers that an order was cancelled before it had a ticket.
///
/// # Errors
/// Only unexpected database failures.
pub async fn remember_cancelled_order(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<(), DomainError> {
    sqlx::query("INSERT INTO cancelled_orders (order_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(order_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Writes `next`'s status and times over `current`, which the caller read
/// under the row lock; the version guard makes a lost lock an error rather
/// than a lost update.
///
/// # Errors
/// The row moved under the lock, or another database failure.
pub async fn write_status(
    conn: &mut PgConnection,
    current: &Ticket,
    next: &Ticket,
) -> Result<(), DomainError> {
    let updated = sqlx::query(
        "UPDATE tickets SET status = $3, reason = $4, accepted_at = $5, started_at = $6,
             ready_at = $7, picked_up_at = $8, updated_at = $9, version = $10
         WHERE id = $1 AND version = $2",
    )
    .bind(current.id)
    .bind(current.version)
    .bind(next.status.as_str())
    .bind(&next.reason)
    .bind(next.accepted_at)
    .bind(next.started_at)
    .bind(next.ready_at)
    .bind(next.picked_up_at)
    .bind(next.updated_at)
    .bind(next.version)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(unexpected(format!(
            "ticket {} changed under its row lock",
            current.id
        )));
    }
    Ok(())
}

/// Attaches each ticket's items, keeping the rows' order.
async fn with_items(
    conn: &mut PgConnection,
    rows: Vec<TicketRow>,
) -> Result<Vec<Ticket>, DomainError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<ItemRow> = match rows.as_slice() {
        // One ticket (every change, every event) by plain equality: the
        // plan Postgres caches for it uses the index whatever the table's
        // size was when it was made, where `= ANY` on a young, small table
        // gets a sequential scan that it then keeps as the table grows.
        [one] => {
            sqlx::query_as(
                "SELECT ticket_id, name, quantity, modifiers, special_instructions
                 FROM ticket_items WHERE ticket_id = $1 ORDER BY position",
            )
            .bind(one.id)
            .fetch_all(&mut *conn)
            .await?
        }
        _ => {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            sqlx::query_as(
                "SELECT ticket_id, name, quantity, modifiers, special_instructions
                 FROM ticket_items WHERE ticket_id = ANY($1) ORDER BY ticket_id, position",
            )
            .bind(&ids)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut tickets: Vec<Ticket> = rows
        .into_iter()
        .map(TicketRow::into_ticket)
        .collect::<Result<_, _>>()?;
    let index: HashMap<i64, usize> = tickets.iter().enumerate().map(|(i, t)| (t.id, i)).collect();
    for item in items {
        if let Some(ticket) = index.get(&item.ticket_id).and_then(|&i| tickets.get_mut(i)) {
            ticket.items.push(TicketItem {
                name: item.name,
                quantity: u32::try_from(item.quantity).unwrap_or(0),
                modifiers: item.modifiers,
                special_instructions: item.special_instructions,
            });
        }
    }
    Ok(tickets)
}

fn unexpected(message: String) -> DomainError {
    DomainError::Unexpected(anyhow::anyhow!(message))
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

#[derive(FromRow)]
struct TicketRow {
    id: i64,
    order_id: i64,
    order_number: String,
    restaurant_id: i64,
    status: String,
    fulfilment: String,
    table_number: String,
    notes: String,
    reason: String,
    ready_by: DateTime<Utc>,
    created_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    ready_at: Option<DateTime<Utc>>,
    picked_up_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    version: i64,
}

impl TicketRow {
    fn into_ticket(self) -> Result<Ticket, DomainError> {
        let status = TicketStatus::from_stored(&self.status).ok_or_else(|| {
            unexpected(format!("ticket {} has status `{}`", self.id, self.status))
        })?;
        let fulfilment =
            Fulfilment::from_stored(&self.fulfilment, self.table_number).ok_or_else(|| {
                unexpected(format!(
                    "ticket {} has fulfilment `{}`",
                    self.id, self.fulfilment
                ))
            })?;
        Ok(Ticket {
            id: self.id,
            order_id: self.order_id,
            order_number: self.order_number,
            restaurant_id: self.restaurant_id,
            status,
            fulfilment,
            items: Vec::new(),
            notes: self.notes,
            reason: self.reason,
            ready_by: self.ready_by,
            created_at: self.created_at,
            accepted_at: self.accepted_at,
            started_at: self.started_at,
            ready_at: self.ready_at,
            picked_up_at: self.picked_up_at,
            updated_at: self.updated_at,
            version: self.version,
        })
    }
}

#[derive(FromRow)]
struct ItemRow {
    ticket_id: i64,
    name: String,
    quantity: i32,
    modifiers: Vec<String>,
    special_instructions: String,
}

#[derive(FromRow)]
struct QueueCounts {
    queued: i64,
    accepted: i64,
    preparing: i64,
    ready: i64,
    overdue: i64,
}

#[derive(FromRow)]
struct PrepRow {
    prepared: i64,
    avg_seconds: f64,
    p90_seconds: f64,
    avg_wait_seconds: f64,
}
