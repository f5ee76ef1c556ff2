//! Writing a new order: its row, lines, history, access token and key
//! binding in one statement.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Postgres, Row};

use crate::domain::DomainError;
use crate::domain::number::TokenHash;
use crate::domain::order::{Order, OrderStatus, PaymentMethod, StatusChange};

use super::changes::{LinesOf, push_line_insert};

/// A claimed idempotency key, bound to the order it makes in the order's
/// own statement.
#[derive(Debug, Clone, Copy)]
pub struct KeyClaim<'a> {
    pub scope: &'a str,
    pub key: &'a str,
    /// The claim that proves this request holds the key.
    pub claim: i64,
}

/// Everything a new order is written with: the order as decided (its ids
/// are made by the write), its first history entries, a guest's access
/// token and the key that asked for it.
#[derive(Debug)]
pub struct NewOrderRows<'a> {
    /// Every part but the ids of the order and its lines.
    pub order: &'a Order,
    /// Its first history entries, in order; their ids are made too.
    pub history: &'a [StatusChange],
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
    let order = new.order;
    let delivery = order.delivery_address.as_ref();
    let pickup = &order.pickup;
    let location = pickup.location;
    let t = order.totals;
    let coupon = order.coupon.as_ref();
    let mut q = sqlx::QueryBuilder::<Postgres>::new(
        "WITH o AS (
             INSERT INTO orders (order_number, restaurant_id, restaurant_name, customer_id,
                 guest, contact_name, contact_phone, contact_email, order_type, source,
                 status, table_number, delivery_street, delivery_city, delivery_state,
                 delivery_zip_code, delivery_country, delivery_latitude,
                 delivery_longitude, currency, subtotal_minor,
                 discount_minor, delivery_fee_minor, tax_minor, total_minor, tax_rate_ppm,
                 coupon_code, coupon_kind, coupon_value, coupon_min_order_minor,
                 payment_method, notes, pickup_street, pickup_city, pickup_state,
                 pickup_zip_code, pickup_country, pickup_latitude, pickup_longitude,
                 prep_minutes, version, created_at, updated_at, confirmed_at)
             VALUES (",
    );
    let mut v = q.separated(", ");
    v.push_bind(&order.order_number)
        .push_bind(order.restaurant_id)
        .push_bind(&pickup.restaurant_name)
        // A walk-in order (0) has no profile.
        .push_bind((order.customer_id != 0).then_some(order.customer_id))
        .push_bind(order.guest)
        .push_bind(&order.contact.name)
        .push_bind(&order.contact.phone)
        .push_bind(&order.contact.email)
        .push_bind(order.order_type.as_str())
        .push_bind(order.source.as_str())
        .push_bind(order.status.as_str())
        .push_bind(order.table_number.as_deref())
        .push_bind(delivery.map(|a| &a.street))
        .push_bind(delivery.map(|a| &a.city))
        .push_bind(delivery.map(|a| &a.state))
        .push_bind(delivery.map(|a| &a.zip_code))
        .push_bind(delivery.map(|a| &a.country))
        .push_bind(order.delivery_location.map(|l| l.latitude))
        .push_bind(order.delivery_location.map(|l| l.longitude))
        .push_bind(&order.currency)
        .push_bind(t.subtotal_minor)
        .push_bind(t.discount_minor)
        .push_bind(t.delivery_fee_minor)
        .push_bind(t.tax_minor)
        .push_bind(t.total_minor)
        .push_bind(i64::from(order.tax_rate_ppm))
        .push_bind(coupon.map(|c| &c.code))
        .push_bind(coupon.map(|c| c.terms.kind.as_str()))
        .push_bind(coupon.map(|c| c.terms.value))
        .push_bind(coupon.map(|c| c.terms.min_order_minor))
        .push_bind(order.payment_method.map(PaymentMethod::as_str))
        .push_bind(&order.notes)
        .push_bind(&pickup.address.street)
        .push_bind(&pickup.address.city)
        .push_bind(&pickup.address.state)
        .push_bind(&pickup.address.zip_code)
        .push_bind(&pickup.address.country)
        .push_bind(location.map(|l| l.latitude))
        .push_bind(location.map(|l| l.longitude))
        .push_bind(i64::from(pickup.prep_minutes))
        .push_bind(order.version)
        .push_bind(order.created_at)
        .push_bind(order.updated_at)
        .push_bind(order.confirmed_at);
    q.push(
        ")
             ON CONFLICT (order_number) DO NOTHING
             RETURNING id)",
    );

    // The lines, in order: ids follow the order of the rows.
    if order.lines.is_empty() {
        q.push(", l AS (SELECT NULL::bigint AS id WHERE false)");
    } else {
        q.push(", l AS (");
        push_line_insert(&mut q, LinesOf::Inserted, &order.lines);
        q.push(" RETURNING id)");
    }

    let h = new.history;
    q.push(
        ", h AS (
             INSERT INTO order_status_history (order_id, from_status, to_status, actor_kind,
                 actor_id, reason, at)
             SELECT o.id, e.from_status, e.to_status, e.actor_kind, e.actor_id, e.reason, e.at
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
    .push_bind(h.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>())
    .push("::text[], ")
    .push_bind(h.iter().map(|e| e.at).collect::<Vec<DateTime<Utc>>>())
    .push(
        "::timestamptz[]) WITH ORDINALITY AS e (from_status, to_status, actor_kind, actor_id,
                 reason, at, n)
             ORDER BY e.n
             RETURNING id)
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
         SELECT o.id,
             ARRAY(SELECT id FROM l ORDER BY id) AS line_ids,
             ARRAY(SELECT id FROM h ORDER BY id) AS change_ids,
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
    let line_ids: Vec<i64> = stored.try_get("line_ids")?;
    let change_ids: Vec<i64> = stored.try_get("change_ids")?;
    if line_ids.len() != order.lines.len() || change_ids.len() != h.len() {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "a new order kept {} of {} lines and {} of {} history entries",
            line_ids.len(),
            order.lines.len(),
            change_ids.len(),
            h.len()
        )));
    }
    let mut written = order.clone();
    written.id = stored.try_get("id")?;
    for (line, id) in written.lines.iter_mut().zip(line_ids) {
        line.id = id;
    }
    let changes = h
        .iter()
        .zip(change_ids)
        .map(|(change, id)| StatusChange {
            id,
            ..change.clone()
        })
        .collect();
    Ok(NewOrderWrite::Written(Box::new(written), changes))
}
