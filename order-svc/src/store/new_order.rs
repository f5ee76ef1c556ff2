//! Writing a new order: its row, lines, history, access token and key
//! binding in one statement.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, Postgres, Row};

use crate::domain::number::TokenHash;
use crate::domain::order::{
    AppliedCoupon, Contact, DraftLine, Order, OrderLine, OrderSource, OrderStatus, OrderType,
    PaymentMethod, StatusChange,
};
use crate::domain::pricing::{PricedLine, PricedOrder};
use crate::domain::totals::Totals;
use crate::domain::{DomainError, PostalAddress};

use super::changes::{HistoryEntry, LinesOf, push_line_insert};

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
