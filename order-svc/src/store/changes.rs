//! Writes to a stored order: its lines, status, history and access
//! tokens, and the lock every change takes first.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;
use sqlx::{PgConnection, Postgres};

use crate::domain::DomainError;
use crate::domain::number::TokenHash;
use crate::domain::order::{DraftLine, LineOption, OrderLine, OrderStatus, StatusChange};
use crate::domain::pricing::PricedOrder;
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
            new.push(draft.priced(line));
            continue;
        };
        let options = OptionColumns::of(&line.options);
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
    if !new.is_empty() {
        let mut insert = sqlx::QueryBuilder::<Postgres>::new("");
        push_line_insert(&mut insert, LinesOf::Stored(order_id), &new);
        insert.build().execute(conn).await?;
    }
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
pub(super) fn push_line_insert(
    q: &mut sqlx::QueryBuilder<Postgres>,
    of: LinesOf,
    lines: &[OrderLine],
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
    q.push_values(lines.iter().enumerate(), |mut b, (n, line)| {
        let options = OptionColumns::of(&line.options);
        b.push_bind(i64::try_from(n).unwrap_or(i64::MAX))
            .push_bind(line.menu_item_id)
            .push_bind(&line.name)
            .push_bind(i64::from(line.quantity))
            .push_bind(line.unit_price_minor)
            .push_bind(line.line_total_minor)
            .push_bind(options.ids)
            .push_bind(options.names)
            .push_bind(options.deltas)
            .push_bind(&line.special_instructions);
    });
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
    fn of(options: &[LineOption]) -> Self {
        Self {
            ids: options.iter().map(|o| o.option_id).collect(),
            names: options.iter().map(|o| o.name.clone()).collect(),
            deltas: options.iter().map(|o| o.price_delta_minor).collect(),
        }
    }
}

/// Appends `entries` to an order's history in one statement, in order,
/// and returns them as stored (their ids made by the insert).
///
/// # Errors
/// Only unexpected database failures.
pub async fn insert_history(
    conn: &mut PgConnection,
    order_id: i64,
    entries: &[StatusChange],
) -> Result<Vec<StatusChange>, DomainError> {
    let from: Vec<Option<&str>> = entries
        .iter()
        .map(|e| e.from.map(OrderStatus::as_str))
        .collect();
    let to: Vec<&str> = entries.iter().map(|e| e.to.as_str()).collect();
    let kinds: Vec<&str> = entries.iter().map(|e| e.actor.kind.as_str()).collect();
    let actors: Vec<&str> = entries.iter().map(|e| e.actor.id.as_str()).collect();
    let reasons: Vec<&str> = entries.iter().map(|e| e.reason.as_str()).collect();
    let times: Vec<DateTime<Utc>> = entries.iter().map(|e| e.at).collect();
    let mut changes: Vec<StatusChange> = sqlx::query_as(
        "INSERT INTO order_status_history (order_id, from_status, to_status, actor_kind,
             actor_id, reason, at)
         SELECT $1, h.from_status, h.to_status, h.actor_kind, h.actor_id, h.reason, h.at
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::timestamptz[])
              WITH ORDINALITY AS h (from_status, to_status, actor_kind, actor_id, reason, at, n)
         ORDER BY h.n
         RETURNING id, from_status, to_status, actor_kind, actor_id, reason, at",
    )
    .bind(order_id)
    .bind(&from)
    .bind(&to)
    .bind(&kinds)
    .bind(&actors)
    .bind(&reasons)
    .bind(&times)
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
    at: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let updated = sqlx::query(
        "UPDATE orders SET subtotal_minor = $3, discount_minor = $4, delivery_fee_minor = $5,
             tax_minor = $6, total_minor = $7, tax_rate_ppm = $8, restaurant_name = $9,
             prep_minutes = $10, version = version + 1, updated_at = $11
         WHERE id = $1 AND version = $2 AND status = 'PENDING'",
    )
    .bind(order_id)
    .bind(version)
    .bind(totals.subtotal_minor)
    .bind(totals.discount_minor)
    .bind(totals.delivery_fee_minor)
    .bind(totals.tax_minor)
    .bind(totals.total_minor)
    .bind(i64::from(priced.tax_rate_ppm))
    .bind(&priced.restaurant_name)
    .bind(i64::from(priced.prep_minutes))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Locks an order's row until the transaction ends, so changes to one
/// order are applied one at a time; false when there is no such order.
///
/// # Errors
/// Only unexpected database failures.
pub async fn lock_order(conn: &mut PgConnection, id: i64) -> Result<bool, DomainError> {
    let locked: Option<i32> = sqlx::query_scalar("SELECT 1 FROM orders WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(locked.is_some())
}

/// Moves an order to `to` at `at`, bumping its version (and stamping
/// `confirmed_at` on confirmation).
///
/// # Errors
/// Only unexpected database failures.
pub async fn set_status(
    conn: &mut PgConnection,
    id: i64,
    to: OrderStatus,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "UPDATE orders SET status = $2, version = version + 1, updated_at = $3,
             confirmed_at = CASE WHEN $2 = 'CONFIRMED' THEN $3 ELSE confirmed_at END
         WHERE id = $1",
    )
    .bind(id)
    .bind(to.as_str())
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
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
