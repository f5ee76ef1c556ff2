//! Writes to a stored order: its lines, status, history and access
//! tokens, and the lock every change takes first.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;
use sqlx::{PgConnection, Postgres};

use crate::domain::DomainError;
use crate::domain::number::TokenHash;
use crate::domain::order::{Actor, DraftLine, OrderStatus, StatusChange};
use crate::domain::pricing::{PricedLine, PricedOrder};
use crate::domain::totals::Totals;

use super::CHANGES_CHANNEL;

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
pub(super) enum LinesOf {
    /// The order the same statement inserts, named `o`.
    Inserted,
    /// A stored order.
    Stored(i64),
}

/// Pushes the one `INSERT` of new lines — for a new order and for lines
/// added to a stored one — inserting them in the order given, so their ids
/// follow it. `lines` must not be empty.
pub(super) fn push_line_insert<'a>(
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
