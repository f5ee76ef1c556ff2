//! Every SQL statement of order-svc. Statements take a connection, so the
//! caller decides what shares a transaction: a change, its history entry,
//! its outbox event and its change notification always do. Takes domain
//! values, returns domain values.

use std::time::Duration;

use chrono::{DateTime, Utc};
use foodmesh_shared::db::unsigned;
use foodmesh_shared::work::Work;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{FromRow, PgConnection, Postgres, Row, Transaction};

use crate::domain::customer::{Customer, CustomerPatch, MAX_SAVED_ADDRESSES};
use crate::domain::number::TokenHash;
use crate::domain::order::{
    Actor, ActorKind, AppliedCoupon, Contact, DraftLine, LineOption, Order, OrderFilter, OrderLine,
    OrderSource, OrderStatus, OrderType, PaymentMethod, Pickup, StatusChange,
};
use crate::domain::pricing::{PricedLine, PricedOrder};
use crate::domain::totals::{CouponTerms, DiscountKind, Totals};
use crate::domain::{Coordinates, DomainError, Page, PostalAddress};

/// The Postgres channel every order change is announced on, with the
/// order's id as payload; `NOTIFY` is delivered at commit to every
/// instance's listener, which is what lets a watcher on one instance see a
/// change made on another.
pub const CHANGES_CHANNEL: &str = "order_changes";

impl From<sqlx::Error> for DomainError {
    fn from(error: sqlx::Error) -> Self {
        DomainError::Unexpected(anyhow::Error::new(error).context("database"))
    }
}

/// The pool, and the transactions the service runs on it; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Wraps a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for listeners and the event bus.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        Ok(self.pool.begin().await?)
    }

    /// A read-only transaction that sees one snapshot of the database
    /// throughout, for reads that must agree with each other.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?)
    }

    /// A connection for reads that need no transaction.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, DomainError> {
        Ok(self.pool.acquire().await?)
    }
}

// Written once here: what an `Order` is read from, whether selected or
// returned by the insert that made it.
macro_rules! order_columns {
    () => {
        "id, order_number, restaurant_id, restaurant_name, customer_id, guest,
         contact_name, contact_phone, contact_email, order_type, source, status,
         table_number, delivery_street, delivery_city, delivery_state, delivery_zip_code,
         delivery_country, currency, subtotal_minor, discount_minor, delivery_fee_minor,
         tax_minor, total_minor, tax_rate_bps, coupon_code, coupon_kind, coupon_value,
         coupon_min_order_minor, payment_method, notes, pickup_street, pickup_city,
         pickup_state, pickup_zip_code, pickup_country, pickup_latitude, pickup_longitude,
         prep_minutes, version, created_at, updated_at, confirmed_at"
    };
}

// Narrowed by their callers.
macro_rules! select_orders {
    () => {
        concat!("SELECT ", order_columns!(), " FROM orders")
    };
}

macro_rules! select_lines {
    () => {
        "SELECT id, order_id, menu_item_id, name, quantity, unit_price_minor, line_total_minor,
                option_ids, option_names, option_deltas_minor, special_instructions
         FROM order_lines"
    };
}

macro_rules! select_history {
    () => {
        "SELECT id, from_status, to_status, actor_kind, actor_id, reason, at
         FROM order_status_history"
    };
}

// ----- orders: reads ---------------------------------------------------------

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
    let mut rows: Vec<Order> = sqlx::query_as(concat!(
        select_orders!(),
        " WHERE ($1::BIGINT IS NULL OR id < $1)
            AND (cardinality($2::TEXT[]) = 0 OR status = ANY($2))
            AND ($3::BIGINT IS NULL OR restaurant_id = $3)
            AND ($4::BIGINT IS NULL OR customer_id = $4)
            AND ($5::TIMESTAMPTZ IS NULL OR created_at >= $5)
            AND ($6::TIMESTAMPTZ IS NULL OR created_at < $6)
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

/// PENDING orders placed before `older_than` ago, oldest first.
///
/// # Errors
/// Only unexpected database failures.
pub async fn expired_pending(
    conn: &mut PgConnection,
    older_than: Duration,
    limit: i64,
) -> Result<Vec<i64>, DomainError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM orders
         WHERE status = 'PENDING' AND created_at < now() - make_interval(secs => $1)
         ORDER BY created_at LIMIT $2",
    )
    .bind(older_than.as_secs_f64())
    .bind(limit)
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

// ----- orders: writes --------------------------------------------------------

/// Everything an order row is made of, each part already decided.
#[derive(Debug)]
pub struct OrderRow<'a> {
    /// Its number.
    pub order_number: &'a str,
    /// The restaurant.
    pub restaurant_id: i64,
    /// The profile.
    pub customer_id: i64,
    /// Guest checkout.
    pub guest: bool,
    /// Who to notify.
    pub contact: &'a Contact,
    /// How it reaches them.
    pub order_type: OrderType,
    /// Dine-in only.
    pub table_number: Option<&'a str>,
    /// Delivery only.
    pub delivery_address: Option<&'a PostalAddress>,
    /// Where it was placed.
    pub source: OrderSource,
    /// PENDING, or CONFIRMED for an order confirmed as it is made (cash),
    /// which is then at its second version and stamped confirmed.
    pub status: OrderStatus,
    /// The menu's figures.
    pub priced: &'a PricedOrder,
    /// The order's figures.
    pub totals: Totals,
    /// The coupon held.
    pub coupon: Option<&'a AppliedCoupon>,
    /// How they pay.
    pub payment_method: Option<PaymentMethod>,
    /// Free text.
    pub notes: &'a str,
}

/// A claimed idempotency key, bound to the order it makes in the order's
/// own statement.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    /// The caller's scope.
    pub scope: &'a str,
    /// The client's key.
    pub key: &'a str,
    /// The claim that proves this request holds the key.
    pub claim: i64,
}

/// Everything a new order is written with: its row, its lines (each draft
/// with its priced line), its first history entries, a guest's access
/// token and the key that asked for it.
#[derive(Debug)]
pub struct NewOrderRows<'a> {
    /// The order row.
    pub row: &'a OrderRow<'a>,
    /// Its lines, in order.
    pub lines: Vec<(&'a DraftLine, &'a PricedLine)>,
    /// Its first history entries, in order.
    pub history: &'a [HistoryEntry<'a>],
    /// A guest's access token.
    pub access_token: Option<&'a TokenHash>,
    /// The idempotency key it was made under.
    pub key: Option<KeyClaim<'a>>,
}

/// What writing a new order came to.
#[derive(Debug)]
pub enum NewOrderWrite {
    /// Written: the order as stored, with its lines, and its history.
    Written(Box<Order>, Vec<StatusChange>),
    /// The number is taken (the caller draws another); nothing written.
    NumberTaken,
    /// The key's claim ran out and another request took it: that request
    /// makes the order. The order was written and the caller must roll
    /// its transaction back.
    KeyLost,
}

/// Writes a new order — row, lines, history, access token, the key's
/// binding — in one statement, and returns it as written: creating an
/// order is the hot path, and each statement is a round trip.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_new_order(
    conn: &mut PgConnection,
    new: &NewOrderRows<'_>,
) -> Result<NewOrderWrite, DomainError> {
    let row = new.row;
    let delivery = row.delivery_address;
    let pickup = &row.priced.address;
    let location = row.priced.location;
    let t = row.totals;
    let mut q = sqlx::QueryBuilder::<Postgres>::new(
        "WITH o AS (
             INSERT INTO orders (order_number, restaurant_id, restaurant_name, customer_id,
                 guest, contact_name, contact_phone, contact_email, order_type, source,
                 status, table_number, delivery_street, delivery_city, delivery_state,
                 delivery_zip_code, delivery_country, currency, subtotal_minor,
                 discount_minor, delivery_fee_minor, tax_minor, total_minor, tax_rate_bps,
                 coupon_code, coupon_kind, coupon_value, coupon_min_order_minor,
                 payment_method, notes, pickup_street, pickup_city, pickup_state,
                 pickup_zip_code, pickup_country, pickup_latitude, pickup_longitude,
                 prep_minutes, version, confirmed_at)
             VALUES (",
    );
    let mut v = q.separated(", ");
    v.push_bind(row.order_number)
        .push_bind(row.restaurant_id)
        .push_bind(&row.priced.restaurant_name)
        .push_bind(row.customer_id)
        .push_bind(row.guest)
        .push_bind(&row.contact.name)
        .push_bind(&row.contact.phone)
        .push_bind(&row.contact.email)
        .push_bind(row.order_type.as_str())
        .push_bind(row.source.as_str())
        .push_bind(row.status.as_str())
        .push_bind(row.table_number)
        .push_bind(delivery.map(|a| &a.street))
        .push_bind(delivery.map(|a| &a.city))
        .push_bind(delivery.map(|a| &a.state))
        .push_bind(delivery.map(|a| &a.zip_code))
        .push_bind(delivery.map(|a| &a.country))
        .push_bind(&row.priced.currency)
        .push_bind(t.subtotal_minor)
        .push_bind(t.discount_minor)
        .push_bind(t.delivery_fee_minor)
        .push_bind(t.tax_minor)
        .push_bind(t.total_minor)
        .push_bind(i64::from(row.priced.tax_rate_bps))
        .push_bind(row.coupon.map(|c| &c.code))
        .push_bind(row.coupon.map(|c| c.terms.kind.as_str()))
        .push_bind(row.coupon.map(|c| c.terms.value))
        .push_bind(row.coupon.map(|c| c.terms.min_order_minor))
        .push_bind(row.payment_method.map(PaymentMethod::as_str))
        .push_bind(row.notes)
        .push_bind(&pickup.street)
        .push_bind(&pickup.city)
        .push_bind(&pickup.state)
        .push_bind(&pickup.zip_code)
        .push_bind(&pickup.country)
        .push_bind(location.map(|l| l.latitude))
        .push_bind(location.map(|l| l.longitude))
        .push_bind(i64::from(row.priced.prep_minutes));
    // An order confirmed as it is made is at its second version and
    // stamped confirmed.
    let confirmed = row.status == OrderStatus::Confirmed;
    v.push(if confirmed { "2, now()" } else { "1, NULL" });
    q.push(concat!(
        ")
             ON CONFLICT (order_number) DO NOTHING
             RETURNING ",
        order_columns!(),
        ")"
    ));

    // The lines, in order: ids follow the order of the rows.
    if new.lines.is_empty() {
        q.push(", l AS (SELECT NULL::bigint AS id WHERE false)");
    } else {
        q.push(", l AS (");
        push_line_insert(&mut q, LinesOf::Inserted, new.lines.iter().copied());
        q.push(" RETURNING id)");
    }

    let h = new.history;
    q.push(
        ", h AS (
             INSERT INTO order_status_history (order_id, from_status, to_status, actor_kind,
                 actor_id, reason)
             SELECT o.id, e.from_status, e.to_status, e.actor_kind, e.actor_id, e.reason
             FROM o, unnest(",
    );
    q.push_bind(
        h.iter()
            .map(|e| e.from.map(OrderStatus::as_str))
            .collect::<Vec<_>>(),
    )
    .push("::text[], ")
    .push_bind(h.iter().map(|e| e.to.as_str()).collect::<Vec<_>>())
    .push("::text[], ")
    .push_bind(h.iter().map(|e| e.actor.kind.as_str()).collect::<Vec<_>>())
    .push("::text[], ")
    .push_bind(h.iter().map(|e| e.actor.id.as_str()).collect::<Vec<_>>())
    .push("::text[], ")
    .push_bind(h.iter().map(|e| e.reason).collect::<Vec<_>>())
    .push(
        "::text[]) WITH ORDINALITY AS e (from_status, to_status, actor_kind, actor_id,
                 reason, n)
             ORDER BY e.n
             RETURNING id, at)
         , t AS (
             INSERT INTO order_access_tokens (token_hash, order_id)
             SELECT token.hash, o.id FROM o, (SELECT ",
    )
    .push_bind(new.access_token.map(TokenHash::as_bytes))
    .push(
        "::bytea AS hash) AS token
             WHERE token.hash IS NOT NULL)
         , k AS (
             UPDATE idempotency_keys SET order_id = o.id FROM o
             WHERE idempotency_keys.scope = ",
    )
    .push_bind(new.key.map(|k| k.scope))
    .push(" AND idempotency_keys.key = ")
    .push_bind(new.key.map(|k| k.key))
    .push(" AND idempotency_keys.claim = ")
    .push_bind(new.key.map(|k| k.claim))
    .push(
        " AND idempotency_keys.order_id IS NULL
             RETURNING 1)
         SELECT o.*,
             ARRAY(SELECT id FROM l ORDER BY id) AS line_ids,
             ARRAY(SELECT id FROM h ORDER BY id) AS change_ids,
             ARRAY(SELECT at FROM h ORDER BY id) AS change_times,
             EXISTS (SELECT 1 FROM k) AS key_bound
         FROM o",
    );

    let Some(stored) = q.build().fetch_optional(conn).await? else {
        return Ok(NewOrderWrite::NumberTaken);
    };
    let key_bound: bool = stored.try_get("key_bound")?;
    if new.key.is_some() && !key_bound {
        return Ok(NewOrderWrite::KeyLost);
    }
    let mut order = Order::from_row(&stored)?;
    let line_ids: Vec<i64> = stored.try_get("line_ids")?;
    let change_ids: Vec<i64> = stored.try_get("change_ids")?;
    let change_times: Vec<DateTime<Utc>> = stored.try_get("change_times")?;
    if line_ids.len() != new.lines.len() || change_ids.len() != h.len() {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "a new order kept {} of {} lines and {} of {} history entries",
            line_ids.len(),
            new.lines.len(),
            change_ids.len(),
            h.len()
        )));
    }
    order.lines = new
        .lines
        .iter()
        .zip(line_ids)
        .map(|((draft, line), id)| OrderLine {
            id,
            menu_item_id: line.menu_item_id,
            name: line.name.clone(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            line_total_minor: line.line_total_minor,
            options: line.options.clone(),
            special_instructions: draft.special_instructions.clone(),
        })
        .collect();
    let changes = h
        .iter()
        .zip(change_ids.into_iter().zip(change_times))
        .map(|(e, (id, at))| StatusChange {
            id,
            from: e.from,
            to: e.to,
            actor: e.actor.clone(),
            reason: e.reason.to_owned(),
            at,
        })
        .collect();
    Ok(NewOrderWrite::Written(Box::new(order), changes))
}

/// Writes an order's lines: updates the ones that continue a stored line,
/// inserts the new ones and deletes the stored ones left out. `drafts` and
/// `priced` pair up by position.
///
/// # Errors
/// Only unexpected database failures.
pub async fn write_lines(
    conn: &mut PgConnection,
    order_id: i64,
    drafts: &[DraftLine],
    priced: &PricedOrder,
) -> Result<(), DomainError> {
    let kept: Vec<i64> = drafts.iter().filter_map(|d| d.line_id).collect();
    sqlx::query("DELETE FROM order_lines WHERE order_id = $1 AND NOT (id = ANY($2))")
        .bind(order_id)
        .bind(&kept)
        .execute(&mut *conn)
        .await?;
    let mut new = Vec::new();
    for (draft, line) in drafts.iter().zip(&priced.lines) {
        let Some(line_id) = draft.line_id else {
            new.push((draft, line));
            continue;
        };
        let options = OptionColumns::of(line);
        sqlx::query(
            "UPDATE order_lines SET menu_item_id = $3, name = $4, quantity = $5,
                 unit_price_minor = $6, line_total_minor = $7, option_ids = $8,
                 option_names = $9, option_deltas_minor = $10, special_instructions = $11
             WHERE id = $1 AND order_id = $2",
        )
        .bind(line_id)
        .bind(order_id)
        .bind(line.menu_item_id)
        .bind(&line.name)
        .bind(i64::from(line.quantity))
        .bind(line.unit_price_minor)
        .bind(line.line_total_minor)
        .bind(options.ids)
        .bind(options.names)
        .bind(options.deltas)
        .bind(&draft.special_instructions)
        .execute(&mut *conn)
        .await?;
    }
    insert_lines(conn, order_id, new).await
}

/// Inserts lines of an order in one statement, each a draft with its
/// priced line.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_lines<'a>(
    conn: &mut PgConnection,
    order_id: i64,
    lines: impl IntoIterator<Item = (&'a DraftLine, &'a PricedLine)>,
) -> Result<(), DomainError> {
    let mut lines = lines.into_iter().peekable();
    if lines.peek().is_none() {
        return Ok(());
    }
    let mut insert = sqlx::QueryBuilder::<Postgres>::new("");
    push_line_insert(&mut insert, LinesOf::Stored(order_id), lines);
    insert.build().execute(conn).await?;
    Ok(())
}

/// Whose lines [`push_line_insert`] inserts.
enum LinesOf {
    /// The order the same statement inserts, named `o`.
    Inserted,
    /// A stored order.
    Stored(i64),
}

/// Pushes the one `INSERT` of new lines — for a new order and for lines
/// added to a stored one — inserting them in the order given, so their ids
/// follow it. `lines` must not be empty.
fn push_line_insert<'a>(
    q: &mut sqlx::QueryBuilder<Postgres>,
    of: LinesOf,
    lines: impl IntoIterator<Item = (&'a DraftLine, &'a PricedLine)>,
) {
    q.push(
        "INSERT INTO order_lines (order_id, menu_item_id, name, quantity, unit_price_minor,
             line_total_minor, option_ids, option_names, option_deltas_minor,
             special_instructions)
         SELECT ",
    );
    match of {
        LinesOf::Inserted => q.push("o.id"),
        LinesOf::Stored(order_id) => q.push_bind(order_id),
    };
    q.push(
        ", v.menu_item_id, v.name, v.quantity, v.unit_price_minor, v.line_total_minor,
             v.option_ids, v.option_names, v.option_deltas_minor, v.special_instructions
         FROM ",
    );
    if matches!(of, LinesOf::Inserted) {
        q.push("o, ");
    }
    q.push("(");
    q.push_values(
        lines.into_iter().enumerate(),
        |mut b, (n, (draft, line))| {
            let options = OptionColumns::of(line);
            b.push_bind(i64::try_from(n).unwrap_or(i64::MAX))
                .push_bind(line.menu_item_id)
                .push_bind(&line.name)
                .push_bind(i64::from(line.quantity))
                .push_bind(line.unit_price_minor)
                .push_bind(line.line_total_minor)
                .push_bind(options.ids)
                .push_bind(options.names)
                .push_bind(options.deltas)
                .push_bind(&draft.special_instructions);
        },
    );
    q.push(
        ") AS v (n, menu_item_id, name, quantity, unit_price_minor, line_total_minor,
                 option_ids, option_names, option_deltas_minor, special_instructions)
         ORDER BY v.n",
    );
}

/// A line's chosen options as the three parallel array columns keep them.
struct OptionColumns {
    ids: Vec<i64>,
    names: Vec<String>,
    deltas: Vec<i64>,
}

impl OptionColumns {
    fn of(line: &PricedLine) -> Self {
        Self {
            ids: line.options.iter().map(|o| o.option_id).collect(),
            names: line.options.iter().map(|o| o.name.clone()).collect(),
            deltas: line.options.iter().map(|o| o.price_delta_minor).collect(),
        }
    }
}

/// One entry of an order's history, as [`insert_history_entries`] writes it.
#[derive(Debug, Clone, Copy)]
pub struct HistoryEntry<'a> {
    /// `None` for the creation.
    pub from: Option<OrderStatus>,
    /// The new status.
    pub to: OrderStatus,
    /// Who.
    pub actor: &'a Actor,
    /// Why.
    pub reason: &'a str,
}

/// Appends several entries to an order's history in one statement, in
/// order, and returns them as stored.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_history_entries(
    conn: &mut PgConnection,
    order_id: i64,
    entries: &[HistoryEntry<'_>],
) -> Result<Vec<StatusChange>, DomainError> {
    let from: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.from.map(OrderStatus::as_str))
        .collect();
    let to: Vec<&str> = entries.iter().map(|e| e.to.as_str()).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.actor.kind.as_str()).collect();
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.id.as_str()).collect();
    let reasons: Vec<&str> = entries.iter().map(|e| e.reason).collect();
    let mut changes: Vec<StatusChange> = sqlx::query_as(
        "INSERT INTO order_status_history (order_id, from_status, to_status, actor_kind,
             actor_id, reason)
         SELECT $1, h.from_status, h.to_status, h.actor_kind, h.actor_id, h.reason
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
              WITH ORDINALITY AS h (from_status, to_status, actor_kind, actor_id, reason, n)
         ORDER BY h.n
         RETURNING id, from_status, to_status, actor_kind, actor_id, reason, at",
    )
    .bind(order_id)
    .bind(&from)
    .bind(&to)
    .bind(&kinds)
    .bind(&actors)
    .bind(&reasons)
    .fetch_all(conn)
    .await?;
    changes.sort_by_key(|c| c.id);
    Ok(changes)
}

/// Replaces a PENDING order's figures after its items changed, if it is
/// still at `version` and PENDING; false when it moved on meanwhile.
///
/// # Errors
/// Only unexpected database failures.
pub async fn reprice_order(
    conn: &mut PgConnection,
    order_id: i64,
    version: i64,
    priced: &PricedOrder,
    totals: Totals,
) -> Result<bool, DomainError> {
    let updated = sqlx::query(
        "UPDATE orders SET subtotal_minor = $3, discount_minor = $4, delivery_fee_minor = $5,
             tax_minor = $6, total_minor = $7, tax_rate_bps = $8, restaurant_name = $9,
             prep_minutes = $10, version = version + 1, updated_at = now()
         WHERE id = $1 AND version = $2 AND status = 'PENDING'",
    )
    .bind(order_id)
    .bind(version)
    .bind(totals.subtotal_minor)
    .bind(totals.discount_minor)
    .bind(totals.delivery_fee_minor)
    .bind(totals.tax_minor)
    .bind(totals.total_minor)
    .bind(i64::from(priced.tax_rate_bps))
    .bind(&priced.restaurant_name)
    .bind(i64::from(priced.prep_minutes))
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Locks an order's row until the transaction ends, so changes to one
/// order are applied one at a time; returns the database's clock (the
/// transaction's start) or `None` when there is no such order.
///
/// # Errors
/// Only unexpected database failures.
pub async fn lock_order(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<DateTime<Utc>>, DomainError> {
    Ok(
        sqlx::query_scalar("SELECT now() FROM orders WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Moves an order to `to`, bumping its version (and stamping
/// `confirmed_at` on confirmation).
///
/// # Errors
/// Only unexpected database failures.
pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    to: OrderStatus,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE orders SET status = $2, version = version + 1, updated_at = now(),
             confirmed_at = CASE WHEN $2 = 'CONFIRMED' THEN now() ELSE confirmed_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(to.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one entry to an order's status history.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_history(
    conn: &mut PgConnection,
    order_id: i64,
    entry: HistoryEntry<'_>,
) -> Result<StatusChange, DomainError> {
    insert_history_entries(conn, order_id, &[entry])
        .await?
        .pop()
        .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("a history insert kept no row")))
}

/// Keeps a guest's access token (its hash) for an order.
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_access_token(
    conn: &mut PgConnection,
    order_id: i64,
    token: &TokenHash,
) -> Result<(), DomainError> {
    sqlx::query("INSERT INTO order_access_tokens (token_hash, order_id) VALUES ($1, $2)")
        .bind(token.as_bytes())
        .bind(order_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Announces a change of an order to every instance's watchers once
/// `work` commits.
pub fn notify_change(work: &mut Work<'_>, order_id: i64) {
    work.notify(CHANGES_CHANNEL, order_id.to_string());
}

// ----- idempotency -------------------------------------------------------------

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
) -> Result<Claim, DomainError> {
    let claimed: Option<i32> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (scope, key, fingerprint, claim, claimed_until)
         SELECT $1, $2, $3, $4, now() + make_interval(secs => $5)
         FROM (SELECT set_config('synchronous_commit', 'off', true)) AS relaxed
         ON CONFLICT (scope, key) DO UPDATE SET
             fingerprint = EXCLUDED.fingerprint, claim = EXCLUDED.claim,
             claimed_until = EXCLUDED.claimed_until, created_at = now()
         WHERE idempotency_keys.order_id IS NULL AND idempotency_keys.claimed_until < now()
         RETURNING 1",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(token)
    .bind(lease.as_secs_f64())
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

/// Forgets keys older than `age`: a retry after that makes a new order.
///
/// # Errors
/// Only unexpected database failures.
pub async fn prune_keys(conn: &mut PgConnection, age: Duration) -> Result<u64, DomainError> {
    Ok(sqlx::query(
        "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)",
    )
    .bind(age.as_secs_f64())
    .execute(conn)
    .await?
    .rows_affected())
}

// ----- customers -----------------------------------------------------------------

/// Finds the guest profile with this phone, or makes one; its name (and
/// email, when given) become the latest ones. Returns its (negative) id.
///
/// # Errors
/// Only unexpected database failures.
pub async fn upsert_guest(conn: &mut PgConnection, contact: &Contact) -> Result<i64, DomainError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO customers (id, phone, name, email)
         VALUES (nextval('guest_customer_ids'), $1, $2, $3)
         ON CONFLICT (phone) WHERE id < 0 DO UPDATE SET
             name = EXCLUDED.name,
             email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE customers.email END,
             updated_at = now()
         RETURNING id",
    )
    .bind(&contact.phone)
    .bind(&contact.name)
    .bind(&contact.email)
    .fetch_one(conn)
    .await?)
}

/// Makes a registered customer's (empty) profile on first use.
///
/// # Errors
/// Only unexpected database failures.
pub async fn ensure_registered(conn: &mut PgConnection, id: i64) -> Result<(), DomainError> {
    sqlx::query("INSERT INTO customers (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What placing an order needs of a profile: who to contact and the
/// choices an order may update.
#[derive(Debug, Clone)]
pub struct Orderer {
    /// Name, phone and email as the profile has them.
    pub contact: Contact,
    /// The payment preference, if one is set.
    pub preferred_payment_method: Option<PaymentMethod>,
    /// The first of the saved addresses.
    pub first_address: Option<PostalAddress>,
}

/// A profile as an order placed from it reads it, in one statement.
///
/// # Errors
/// Only unexpected database failures.
pub async fn orderer(conn: &mut PgConnection, id: i64) -> Result<Option<Orderer>, DomainError> {
    sqlx::query(
        "SELECT c.name, c.phone, c.email, c.preferred_payment_method,
                a.street, a.city, a.state, a.zip_code, a.country
         FROM customers c
         LEFT JOIN LATERAL (
             SELECT street, city, state, zip_code, country FROM customer_addresses
             WHERE customer_id = c.id ORDER BY position, id LIMIT 1
         ) a ON true
         WHERE c.id = $1",
    )
    .bind(id)
    .try_map(|row: PgRow| {
        let street: Option<String> = row.try_get("street")?;
        let first_address = match street {
            Some(street) => Some(PostalAddress {
                street,
                city: row.try_get("city")?,
                state: row.try_get("state")?,
                zip_code: row.try_get("zip_code")?,
                country: row.try_get("country")?,
            }),
            None => None,
        };
        let phone: Option<String> = row.try_get("phone")?;
        Ok(Orderer {
            contact: Contact {
                name: row.try_get("name")?,
                phone: phone.unwrap_or_default(),
                email: row.try_get("email")?,
            },
            preferred_payment_method: spelled_opt(
                &row,
                "preferred_payment_method",
                PaymentMethod::from_db,
            )?,
            first_address,
        })
    })
    .fetch_optional(conn)
    .await
    .map_err(DomainError::from)
}

/// Keeps an order's choices on its profile: its payment method as the
/// preference when none is set, its delivery address first among the
/// saved ones. Writes (and locks the profile) only when `known`, read
/// earlier in the transaction, says something changes — a customer
/// ordering again as before touches no shared row, so their orders never
/// queue behind each other. How many orders a profile has placed, and
/// when the last, are read from the orders themselves.
///
/// # Errors
/// Only unexpected database failures.
pub async fn remember_choices(
    conn: &mut PgConnection,
    customer_id: i64,
    known: &Orderer,
    payment_method: Option<PaymentMethod>,
    delivery_address: Option<&PostalAddress>,
) -> Result<(), DomainError> {
    let new_preference = known.preferred_payment_method.is_none() && payment_method.is_some();
    let new_address = delivery_address.filter(|a| known.first_address.as_ref() != Some(*a));
    if !new_preference && new_address.is_none() {
        return Ok(());
    }
    // The profile row's lock orders concurrent orders' address moves.
    sqlx::query(
        "UPDATE customers SET
             preferred_payment_method = COALESCE(preferred_payment_method, $2),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(customer_id)
    .bind(payment_method.map(PaymentMethod::as_str))
    .execute(&mut *conn)
    .await?;
    if let Some(address) = new_address {
        save_address(conn, customer_id, address).await?;
    }
    Ok(())
}

async fn save_address(
    conn: &mut PgConnection,
    customer_id: i64,
    a: &PostalAddress,
) -> Result<(), DomainError> {
    sqlx::query(
        "DELETE FROM customer_addresses WHERE customer_id = $1 AND street = $2 AND city = $3
             AND state = $4 AND zip_code = $5 AND country = $6",
    )
    .bind(customer_id)
    .bind(&a.street)
    .bind(&a.city)
    .bind(&a.state)
    .bind(&a.zip_code)
    .bind(&a.country)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_addresses (customer_id, position, street, city, state, zip_code,
             country)
         SELECT $1, COALESCE(min(position), 0) - 1, $2, $3, $4, $5, $6
         FROM customer_addresses WHERE customer_id = $1",
    )
    .bind(customer_id)
    .bind(&a.street)
    .bind(&a.city)
    .bind(&a.state)
    .bind(&a.zip_code)
    .bind(&a.country)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM customer_addresses WHERE customer_id = $1 AND id NOT IN (
             SELECT id FROM customer_addresses WHERE customer_id = $1
             ORDER BY position, id LIMIT $2)",
    )
    .bind(customer_id)
    .bind(i64::try_from(MAX_SAVED_ADDRESSES).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// A customer profile.
///
/// # Errors
/// Only unexpected database failures.
pub async fn customer(conn: &mut PgConnection, id: i64) -> Result<Option<Customer>, DomainError> {
    let found: Option<Customer> = sqlx::query_as(
        "SELECT c.id, c.name, c.phone, c.email, c.preferred_payment_method,
                (SELECT count(*)::int4 FROM orders o WHERE o.customer_id = c.id) AS order_count,
                (SELECT o.created_at FROM orders o WHERE o.customer_id = c.id
                 ORDER BY o.id DESC LIMIT 1) AS last_order_at,
                c.created_at
         FROM customers c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(mut found) = found else {
        return Ok(None);
    };
    found.saved_addresses = sqlx::query(
        "SELECT street, city, state, zip_code, country FROM customer_addresses
         WHERE customer_id = $1 ORDER BY position, id",
    )
    .bind(id)
    .try_map(|row: PgRow| {
        Ok(PostalAddress {
            street: row.try_get("street")?,
            city: row.try_get("city")?,
            state: row.try_get("state")?,
            zip_code: row.try_get("zip_code")?,
            country: row.try_get("country")?,
        })
    })
    .fetch_all(conn)
    .await?;
    Ok(Some(found))
}

/// Applies the parts of `patch` that are set. A registered customer's
/// profile is made on first use; a guest profile must exist.
///
/// # Errors
/// [`DomainError::CustomerNotFound`], or [`DomainError::PhoneTaken`] when
/// another profile of the same kind has the phone.
pub async fn update_customer(
    conn: &mut PgConnection,
    id: i64,
    patch: &CustomerPatch,
) -> Result<Customer, DomainError> {
    if id > 0 {
        ensure_registered(conn, id).await?;
    }
    let phone = patch.phone.as_ref().map(|p| p.as_str().to_owned());
    let updated = sqlx::query(
        "UPDATE customers SET name = COALESCE($2, name), phone = COALESCE($3, phone),
             email = COALESCE($4, email),
             preferred_payment_method = COALESCE($5, preferred_payment_method),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(patch.name.as_ref().map(|n| n.as_str()))
    .bind(&phone)
    .bind(patch.email.as_ref().map(|e| e.as_str()))
    .bind(patch.preferred_payment_method.map(PaymentMethod::as_str))
    .execute(&mut *conn)
    .await;
    match updated {
        Ok(done) if done.rows_affected() == 0 => return Err(DomainError::CustomerNotFound(id)),
        Ok(_) => {}
        Err(sqlx::Error::Database(e))
            if matches!(
                e.constraint(),
                Some("customers_guest_phone" | "customers_registered_phone")
            ) =>
        {
            return Err(DomainError::PhoneTaken(phone.unwrap_or_default()));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(addresses) = &patch.saved_addresses {
        sqlx::query("DELETE FROM customer_addresses WHERE customer_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for (position, address) in (0_i32..).zip(addresses) {
            let a = address.parts();
            sqlx::query(
                "INSERT INTO customer_addresses (customer_id, position, street, city, state,
                     zip_code, country)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(position)
            .bind(&a.street)
            .bind(&a.city)
            .bind(&a.state)
            .bind(&a.zip_code)
            .bind(&a.country)
            .execute(&mut *conn)
            .await?;
        }
    }
    customer(conn, id)
        .await?
        .ok_or(DomainError::CustomerNotFound(id))
}

// ----- coupon releases -------------------------------------------------------------

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
/// written within `hold_for`, the redemption is released. False when a row
/// for this order number exists already (the number is in use).
///
/// # Errors
/// Only unexpected database failures.
pub async fn hold_coupon(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    hold_for: Duration,
) -> Result<bool, DomainError> {
    let held: Option<i32> = sqlx::query_scalar(
        "INSERT INTO coupon_releases (restaurant_id, order_ref, next_attempt_at)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (restaurant_id, order_ref) DO NOTHING RETURNING 1",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(hold_for.as_secs_f64())
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

/// Makes a hold due now, after its order failed to be written. A hold its
/// order's transaction dropped is not brought back.
///
/// # Errors
/// Only unexpected database failures.
pub async fn expire_hold(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET next_attempt_at = now()
         WHERE restaurant_id = $1 AND order_ref = $2 AND released_at IS NULL",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .execute(conn)
    .await?;
    Ok(())
}

/// Queues the release of a cancelled order's redemption, in the
/// cancellation's transaction.
///
/// # Errors
/// Only unexpected database failures.
pub async fn queue_release(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
) -> Result<(), DomainError> {
    sqlx::query(
        "INSERT INTO coupon_releases (restaurant_id, order_ref) VALUES ($1, $2)
         ON CONFLICT (restaurant_id, order_ref) DO UPDATE
             SET next_attempt_at = LEAST(coupon_releases.next_attempt_at, now())
             WHERE coupon_releases.released_at IS NULL",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .execute(conn)
    .await?;
    Ok(())
}

/// Leases up to `limit` due releases for `lease`: another instance skips
/// them meanwhile, and if this one dies they fall due again.
///
/// # Errors
/// Only unexpected database failures.
pub async fn lease_due_releases(
    conn: &mut PgConnection,
    limit: i64,
    lease: Duration,
) -> Result<Vec<DueRelease>, DomainError> {
    Ok(sqlx::query(
        "UPDATE coupon_releases SET attempts = attempts + 1,
             next_attempt_at = now() + make_interval(secs => $2)
         WHERE (restaurant_id, order_ref) IN (
             SELECT restaurant_id, order_ref FROM coupon_releases
             WHERE released_at IS NULL AND next_attempt_at <= now()
             ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING restaurant_id, order_ref, attempts",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
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
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET released_at = now(), last_error = ''
         WHERE restaurant_id = $1 AND order_ref = $2",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a failed release and when to try again.
///
/// # Errors
/// Only unexpected database failures.
pub async fn release_failed(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
    error: &str,
    retry_in: Duration,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE coupon_releases SET last_error = $3,
             next_attempt_at = now() + make_interval(secs => $4)
         WHERE restaurant_id = $1 AND order_ref = $2",
    )
    .bind(restaurant_id)
    .bind(order_ref)
    .bind(error)
    .bind(retry_in.as_secs_f64())
    .execute(conn)
    .await?;
    Ok(())
}

// ----- rows to domain values ---------------------------------------------------------

/// Reads a text column through `parse`, refusing spellings it does not know.
fn spelled<T>(row: &PgRow, column: &str, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let raw: &str = row.try_get(column)?;
    parse(raw).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown value `{raw}`").into(),
    })
}

/// Like [`spelled`] for a nullable column.
fn spelled_opt<T>(
    row: &PgRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> sqlx::Result<Option<T>> {
    match row.try_get::<Option<&str>, _>(column)? {
        None => Ok(None),
        Some(_) => spelled(row, column, parse).map(Some),
    }
}

impl<'r> FromRow<'r, PgRow> for Order {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let delivery_street: Option<String> = row.try_get("delivery_street")?;
        let delivery_address = match delivery_street {
            Some(street) => Some(PostalAddress {
                street,
                city: row
                    .try_get::<Option<String>, _>("delivery_city")?
                    .unwrap_or_default(),
                state: row
                    .try_get::<Option<String>, _>("delivery_state")?
                    .unwrap_or_default(),
                zip_code: row
                    .try_get::<Option<String>, _>("delivery_zip_code")?
                    .unwrap_or_default(),
                country: row
                    .try_get::<Option<String>, _>("delivery_country")?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        let coupon = match row.try_get::<Option<String>, _>("coupon_code")? {
            Some(code) => Some(AppliedCoupon {
                code,
                terms: CouponTerms {
                    kind: spelled(row, "coupon_kind", DiscountKind::from_db)?,
                    value: row.try_get::<Option<i64>, _>("coupon_value")?.unwrap_or(0),
                    min_order_minor: row
                        .try_get::<Option<i64>, _>("coupon_min_order_minor")?
                        .unwrap_or(0),
                },
            }),
            None => None,
        };
        let latitude: Option<f64> = row.try_get("pickup_latitude")?;
        let longitude: Option<f64> = row.try_get("pickup_longitude")?;
        Ok(Self {
            id: row.try_get("id")?,
            order_number: row.try_get("order_number")?,
            restaurant_id: row.try_get("restaurant_id")?,
            customer_id: row.try_get("customer_id")?,
            guest: row.try_get("guest")?,
            contact: Contact {
                name: row.try_get("contact_name")?,
                phone: row.try_get("contact_phone")?,
                email: row.try_get("contact_email")?,
            },
            order_type: spelled(row, "order_type", OrderType::from_db)?,
            source: spelled(row, "source", OrderSource::from_db)?,
            status: spelled(row, "status", OrderStatus::from_db)?,
            table_number: row.try_get("table_number")?,
            delivery_address,
            lines: Vec::new(),
            currency: row.try_get("currency")?,
            totals: Totals {
                subtotal_minor: row.try_get("subtotal_minor")?,
                discount_minor: row.try_get("discount_minor")?,
                delivery_fee_minor: row.try_get("delivery_fee_minor")?,
                tax_minor: row.try_get("tax_minor")?,
                total_minor: row.try_get("total_minor")?,
            },
            tax_rate_bps: unsigned::<i32>(row, "tax_rate_bps")?,
            coupon,
            payment_method: spelled_opt(row, "payment_method", PaymentMethod::from_db)?,
            notes: row.try_get("notes")?,
            pickup: Pickup {
                restaurant_name: row.try_get("restaurant_name")?,
                address: PostalAddress {
                    street: row.try_get("pickup_street")?,
                    city: row.try_get("pickup_city")?,
                    state: row.try_get("pickup_state")?,
                    zip_code: row.try_get("pickup_zip_code")?,
                    country: row.try_get("pickup_country")?,
                },
                location: latitude
                    .zip(longitude)
                    .map(|(latitude, longitude)| Coordinates {
                        latitude,
                        longitude,
                    }),
                prep_minutes: unsigned::<i32>(row, "prep_minutes")?,
            },
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for OrderLine {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let ids: Vec<i64> = row.try_get("option_ids")?;
        let names: Vec<String> = row.try_get("option_names")?;
        let deltas: Vec<i64> = row.try_get("option_deltas_minor")?;
        let options = ids
            .into_iter()
            .zip(names)
            .zip(deltas)
            .map(|((option_id, name), price_delta_minor)| LineOption {
                option_id,
                name,
                price_delta_minor,
            })
            .collect();
        Ok(Self {
            id: row.try_get("id")?,
            menu_item_id: row.try_get("menu_item_id")?,
            name: row.try_get("name")?,
            quantity: unsigned::<i32>(row, "quantity")?,
            unit_price_minor: row.try_get("unit_price_minor")?,
            line_total_minor: row.try_get("line_total_minor")?,
            options,
            special_instructions: row.try_get("special_instructions")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for StatusChange {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            from: spelled_opt(row, "from_status", OrderStatus::from_db)?,
            to: spelled(row, "to_status", OrderStatus::from_db)?,
            actor: Actor {
                kind: spelled(row, "actor_kind", ActorKind::from_db)?,
                id: row.try_get("actor_id")?,
            },
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Customer {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            saved_addresses: Vec::new(),
            preferred_payment_method: spelled_opt(
                row,
                "preferred_payment_method",
                PaymentMethod::from_db,
            )?,
            order_count: unsigned::<i32>(row, "order_count")?,
            last_order_at: row.try_get("last_order_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
