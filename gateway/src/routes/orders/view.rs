//! The JSON the order routes answer with, each view made from order-svc's
//! message. Amounts are exact decimals in the order's currency.

use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::order::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use super::names::{ActorKind, OrderSource, OrderStatus, OrderType, PaymentMethod};
use crate::money::Decimal;
use crate::problem::Problem;
use crate::routes::drivers::GeoPoint;
use crate::routes::restaurants::Address;
use crate::routes::{amount, from_timestamp};

/// Who to notify about an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com"}))]
pub struct ContactView {
    pub name: String,
    /// E.164 phone; may be empty for a registered customer.
    pub phone: String,
    /// Email; may be empty.
    pub email: String,
}

/// One chosen option of a line.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"option_id": 5, "name": "Extra cheese", "price_delta": 1.50}))]
pub struct ModifierView {
    pub option_id: i64,
    /// Its name when the line was priced.
    pub name: String,
    /// Its price change, in the order's currency (may be negative).
    pub price_delta: Decimal,
}

/// One line of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 2,
    "unit_price": 12.99, "line_total": 25.98, "modifiers": [], "special_instructions": ""
}))]
pub struct OrderLineView {
    /// The line's id: `{item_id}` of `/api/orders/{id}/items/{item_id}`.
    pub id: i64,
    pub menu_item_id: i64,
    /// Its name when priced.
    pub name: String,
    pub quantity: u32,
    /// The item's price plus its modifiers'.
    pub unit_price: Decimal,
    /// `unit_price` × `quantity`.
    pub line_total: Decimal,
    /// The options chosen.
    pub modifiers: Vec<ModifierView>,
    /// For the kitchen.
    pub special_instructions: String,
}

impl OrderLineView {
    /// The JSON view of a line from order-svc, its amounts in `currency`.
    ///
    /// # Errors
    /// order-svc sent an unknown currency.
    fn from_proto(line: pb::OrderLine, currency: &str) -> Result<Self, Problem> {
        let money = |m: Option<&common::Money>| amount(m, currency).map(|(d, _)| d);
        Ok(Self {
            id: line.id,
            menu_item_id: line.menu_item_id,
            name: line.name,
            quantity: line.quantity,
            unit_price: money(line.unit_price.as_ref())?,
            line_total: money(line.line_total.as_ref())?,
            modifiers: line
                .options
                .into_iter()
                .map(|opt| {
                    Ok(ModifierView {
                        option_id: opt.option_id,
                        name: opt.name,
                        price_delta: money(opt.price_delta.as_ref())?,
                    })
                })
                .collect::<Result<_, Problem>>()?,
            special_instructions: line.special_instructions,
        })
    }
}

/// An order as the API shows it. Every amount is in `currency`, with
/// exactly its places.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 42, "order_number": "K7M2QX", "restaurant_id": 1, "restaurant_name": "Pizza Palace",
    "customer_id": 1, "guest": false,
    "contact": {"name": "Ana Diaz", "phone": "+12125550100", "email": ""},
    "status": "pending", "order_type": "delivery", "source": "web", "payment_method": null,
    "table_number": null,
    "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY", "zip_code": "10002", "country": "US"},
    "delivery_location": {"latitude": 40.7155, "longitude": -73.9865},
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 2,
               "unit_price": 12.99, "line_total": 25.98, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD",
    "subtotal": 25.98, "discount": 0.00, "delivery_fee": 0.00, "tax": 0.00, "total": 25.98,
    "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:00:00Z", "confirmed_at": null,
    "customer_cancel_until": null
}))]
pub struct OrderView {
    pub id: i64,
    /// Six characters for people to read out and to track with.
    pub order_number: String,
    pub restaurant_id: i64,
    /// Its name when the order was placed.
    pub restaurant_name: String,
    /// The registered customer it is for; null for guest checkout and for
    /// a walk-in order.
    pub customer_id: Option<i64>,
    /// True for guest checkout (the order has access tokens).
    pub guest: bool,
    /// Who is told of the order; null for a walk-in order.
    pub contact: Option<ContactView>,
    pub status: OrderStatus,
    /// Dine-in, takeout or delivery.
    pub order_type: OrderType,
    /// Where it was placed.
    pub source: OrderSource,
    /// How it is paid; null while none is chosen.
    pub payment_method: Option<PaymentMethod>,
    /// The table, for dine-in.
    pub table_number: Option<String>,
    /// Where it goes, for delivery.
    pub delivery_address: Option<Address>,
    /// The drop-off point, for a delivery that gave one.
    pub delivery_location: Option<GeoPoint>,
    pub items: Vec<OrderLineView>,
    /// The coupon redeemed, if any.
    pub coupon_code: Option<String>,
    /// ISO 4217 code of every amount of the order.
    pub currency: String,
    /// Sum of the line totals.
    pub subtotal: Decimal,
    /// The coupon's discount.
    pub discount: Decimal,
    /// Delivery orders only.
    pub delivery_fee: Decimal,
    /// Sales tax on the discounted subtotal.
    pub tax: Decimal,
    /// `subtotal − discount + delivery_fee + tax`.
    pub total: Decimal,
    /// The tax percentage applied.
    pub tax_rate: Decimal,
    /// The customer's notes.
    pub notes: String,
    /// Minutes the kitchen is expected to need.
    pub prep_minutes: u32,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// When it was confirmed, once it was.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Until when the customer (or guest) may still cancel a confirmed
    /// order; null for any other status: a pending order may be cancelled
    /// until it is confirmed, a later one only by the restaurant.
    pub customer_cancel_until: Option<DateTime<Utc>>,
}

/// One line of a quote: as the order would have it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "menu_item_id": 1, "name": "Margherita", "quantity": 2,
    "unit_price": 12.99, "line_total": 25.98, "modifiers": []
}))]
pub struct QuotedLineView {
    pub menu_item_id: i64,
    /// Its name on the menu now.
    pub name: String,
    pub quantity: u32,
    /// The item's price plus its modifiers'.
    pub unit_price: Decimal,
    /// `unit_price` × `quantity`.
    pub line_total: Decimal,
    pub modifiers: Vec<ModifierView>,
}

/// What an order would cost now, priced as placing it would price it.
/// Every amount is in `currency`, with exactly its places.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "restaurant_id": 1, "restaurant_name": "Pizza Palace", "currency": "USD",
    "items": [{"menu_item_id": 1, "name": "Margherita", "quantity": 2,
               "unit_price": 12.99, "line_total": 25.98, "modifiers": []}],
    "coupon_code": null,
    "subtotal": 25.98, "discount": 0.00, "delivery_fee": 2.99, "tax": 2.31, "total": 31.28,
    "tax_rate": 8.875
}))]
pub struct QuoteView {
    pub restaurant_id: i64,
    pub restaurant_name: String,
    pub currency: String,
    pub items: Vec<QuotedLineView>,
    /// The coupon applied; null for none.
    pub coupon_code: Option<String>,
    pub subtotal: Decimal,
    pub discount: Decimal,
    /// Delivery orders only.
    pub delivery_fee: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    /// The tax percentage applied.
    pub tax_rate: Decimal,
}

impl From<OrderLineView> for QuotedLineView {
    fn from(line: OrderLineView) -> Self {
        Self {
            menu_item_id: line.menu_item_id,
            name: line.name,
            quantity: line.quantity,
            unit_price: line.unit_price,
            line_total: line.line_total,
            modifiers: line.modifiers,
        }
    }
}

impl QuoteView {
    /// The JSON view of order-svc's quote for restaurant `restaurant_id`.
    ///
    /// # Errors
    /// order-svc sent an unknown currency.
    pub fn from_proto(restaurant_id: i64, q: pb::Quote) -> Result<Self, Problem> {
        let currency = q.currency.clone();
        let money = |m: Option<&common::Money>| amount(m, &currency).map(|(d, _)| d);
        let totals = q.totals.unwrap_or_default();
        let items = q
            .items
            .into_iter()
            .map(|line| OrderLineView::from_proto(line, &currency).map(QuotedLineView::from))
            .collect::<Result<_, Problem>>()?;
        Ok(Self {
            restaurant_id,
            restaurant_name: q.restaurant_name,
            items,
            coupon_code: Some(q.coupon_code).filter(|c| !c.is_empty()),
            subtotal: money(totals.subtotal.as_ref())?,
            discount: money(totals.discount.as_ref())?,
            delivery_fee: money(totals.delivery_fee.as_ref())?,
            tax: money(totals.tax.as_ref())?,
            total: money(totals.total.as_ref())?,
            tax_rate: Decimal::percent_from_millionths(i64::from(q.tax_rate_ppm)),
            currency,
        })
    }
}

/// A contract value the gateway does not know: order-svc broke the
/// contract, so the client gets an opaque 500 and the log says what.
fn unknown(what: &str, raw: i32) -> Problem {
    Problem::internal(&format_args!("order-svc sent an unknown {what}: {raw}"))
}

impl OrderView {
    /// The JSON view of an order from order-svc.
    ///
    /// # Errors
    /// order-svc sent an unknown status, type or currency.
    pub fn from_proto(o: pb::Order) -> Result<Self, Problem> {
        let currency = o.currency.clone();
        let money = |m: Option<&common::Money>| amount(m, &currency).map(|(d, _)| d);
        let totals = o.totals.unwrap_or_default();
        let items = o
            .items
            .into_iter()
            .map(|line| OrderLineView::from_proto(line, &currency))
            .collect::<Result<_, Problem>>()?;
        Ok(Self {
            id: o.id,
            order_number: o.order_number,
            restaurant_id: o.restaurant_id,
            restaurant_name: o.restaurant_name,
            // 0 is a walk-in order's: nobody.
            customer_id: Some(o.customer_id).filter(|id| !o.guest && *id != 0),
            guest: o.guest,
            contact: o
                .contact
                .filter(|c| c != &pb::Guest::default())
                .map(|c| ContactView {
                    name: c.name,
                    phone: c.phone,
                    email: c.email,
                }),
            status: OrderStatus::from_proto(o.status).ok_or_else(|| unknown("status", o.status))?,
            order_type: OrderType::from_proto(o.order_type)
                .ok_or_else(|| unknown("order type", o.order_type))?,
            source: OrderSource::from_proto(o.source).unwrap_or(OrderSource::Web),
            payment_method: PaymentMethod::from_proto(o.payment_method),
            table_number: Some(o.table_number).filter(|t| !t.is_empty()),
            delivery_address: o.delivery_address.map(Address::from_proto),
            delivery_location: o.delivery_location.as_ref().map(GeoPoint::from_proto),
            items,
            coupon_code: Some(o.coupon_code).filter(|c| !c.is_empty()),
            subtotal: money(totals.subtotal.as_ref())?,
            discount: money(totals.discount.as_ref())?,
            delivery_fee: money(totals.delivery_fee.as_ref())?,
            tax: money(totals.tax.as_ref())?,
            total: money(totals.total.as_ref())?,
            tax_rate: Decimal::percent_from_millionths(i64::from(o.tax_rate_ppm)),
            notes: o.notes,
            prep_minutes: o.prep_minutes,
            created_at: from_timestamp(o.created_at.as_ref()),
            updated_at: from_timestamp(o.updated_at.as_ref()),
            confirmed_at: from_timestamp(o.confirmed_at.as_ref()),
            customer_cancel_until: from_timestamp(o.customer_cancel_until.as_ref()),
            currency,
        })
    }
}

/// A new order: the order, and for guest checkout the access token that
/// alone reads, tracks, watches and cancels it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 43, "order_number": "P3RZ8D", "restaurant_id": 1, "restaurant_name": "Pizza Palace",
    "customer_id": null, "guest": true,
    "contact": {"name": "Ana Diaz", "phone": "+12125550100", "email": ""},
    "status": "confirmed", "order_type": "takeout", "source": "web", "payment_method": "cash",
    "table_number": null, "delivery_address": null, "delivery_location": null,
    "items": [{"id": 12, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD",
    "subtotal": 12.99, "discount": 0.00, "delivery_fee": 0.00, "tax": 0.00, "total": 12.99,
    "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:00:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z", "customer_cancel_until": "2026-11-23T18:02:00Z",
    "access_token": "fmo_6dee33083c5a9c4916b833335b5209f38b82304cea16441cefef998a5e6207fd"
}))]
pub struct CreatedOrderView {
    #[serde(flatten)]
    pub order: OrderView,
    /// Guest orders only: keep it; send it as `X-Order-Token` (or
    /// `?token=`) to read, track, watch or cancel this order. A replayed
    /// create hands out a further token for the same order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
}

/// Who made a change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"kind": "staff", "id": "maria"}))]
pub struct ActorView {
    pub kind: Option<ActorKind>,
    /// Their token's subject (a customer id, a staff member), the service's
    /// name for `system`; empty for guests.
    pub id: String,
}

/// One entry of an order's status history.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "from": "confirmed", "to": "preparing", "actor": {"kind": "system", "id": "kitchen-svc"},
    "reason": "", "at": "2026-11-23T18:04:00Z"
}))]
pub struct StatusChangeView {
    /// The status before; null for the order's creation.
    pub from: Option<OrderStatus>,
    pub to: Option<OrderStatus>,
    pub actor: Option<ActorView>,
    /// Why, when given.
    pub reason: String,
    pub at: Option<DateTime<Utc>>,
}

impl StatusChangeView {
    pub(super) fn from_proto(c: pb::StatusChange) -> Self {
        Self {
            from: OrderStatus::from_proto(c.from),
            to: OrderStatus::from_proto(c.to),
            actor: c.actor.map(|a| ActorView {
                kind: ActorKind::from_proto(a.kind),
                id: a.id,
            }),
            reason: c.reason,
            at: from_timestamp(c.at.as_ref()),
        }
    }
}

/// An order's status history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"from": null, "to": "pending", "actor": {"kind": "customer", "id": "1"}, "reason": "", "at": "2026-11-23T18:00:00Z"},
    {"from": "pending", "to": "confirmed", "actor": {"kind": "customer", "id": "1"}, "reason": "", "at": "2026-11-23T18:00:00Z"},
    {"from": "confirmed", "to": "preparing", "actor": {"kind": "system", "id": "kitchen-svc"}, "reason": "", "at": "2026-11-23T18:04:00Z"}
]}))]
pub struct HistoryView {
    /// The changes, starting with the order's creation.
    pub items: Vec<StatusChangeView>,
}

/// One page of orders, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{
    "id": 42, "order_number": "K7M2QX", "restaurant_id": 1, "restaurant_name": "Pizza Palace",
    "customer_id": 1, "guest": false, "contact": {"name": "Ana Diaz", "phone": "+12125550100", "email": ""},
    "status": "preparing", "order_type": "takeout", "source": "app", "payment_method": "cash",
    "table_number": null, "delivery_address": null, "delivery_location": null,
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD", "subtotal": 12.99, "discount": 0.00,
    "delivery_fee": 0.00, "tax": 0.00, "total": 12.99, "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:04:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z", "customer_cancel_until": null
}], "next_cursor": "NDI"}))]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The `data` of an order's live events: the order as `GET
/// /api/orders/{id}` shows it after the update, plus, for
/// `status_changed`, the history entry of the change.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 42, "order_number": "K7M2QX", "restaurant_id": 1, "restaurant_name": "Pizza Palace",
    "customer_id": 1, "guest": false, "contact": {"name": "Ana Diaz", "phone": "+12125550100", "email": ""},
    "status": "preparing", "order_type": "takeout", "source": "app", "payment_method": "cash",
    "table_number": null, "delivery_address": null, "delivery_location": null,
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD", "subtotal": 12.99, "discount": 0.00,
    "delivery_fee": 0.00, "tax": 0.00, "total": 12.99, "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:04:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z", "customer_cancel_until": null,
    "change": {"from": "confirmed", "to": "preparing", "actor": {"kind": "system", "id": "kitchen-svc"},
               "reason": "", "at": "2026-11-23T18:04:00Z"}
}))]
pub struct OrderUpdateView {
    /// The order after the update.
    #[serde(flatten)]
    pub order: OrderView,
    /// `status_changed` only: the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<StatusChangeView>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_view_shows_exact_decimals_and_lower_case_names() {
        let usd = |amount_minor| {
            Some(common::Money {
                amount_minor,
                currency: "USD".to_owned(),
            })
        };
        let order = pb::Order {
            id: 7,
            order_number: "K7M2QX".to_owned(),
            restaurant_id: 1,
            customer_id: -3,
            status: pb::OrderStatus::OutForDelivery as i32,
            order_type: pb::OrderType::Delivery as i32,
            payment_method: pb::PaymentMethod::MobileMoney as i32,
            currency: "USD".to_owned(),
            tax_rate_ppm: 87_500,
            items: vec![pb::OrderLine {
                id: 1,
                quantity: 2,
                unit_price: usd(1250),
                line_total: usd(2500),
                ..Default::default()
            }],
            totals: Some(pb::Totals {
                subtotal: usd(2500),
                discount: usd(0),
                delivery_fee: usd(250),
                tax: usd(219),
                total: usd(2969),
            }),
            ..Default::default()
        };
        let json = serde_json::to_string(&OrderView::from_proto(order).expect("view"))
            .expect("serializes");
        for expected in [
            r#""status":"out_for_delivery""#,
            r#""payment_method":"mobile_money""#,
            r#""unit_price":12.50"#,
            r#""total":29.69"#,
            r#""delivery_fee":2.50"#,
            r#""tax_rate":8.75"#,
            r#""table_number":null"#,
        ] {
            assert!(json.contains(expected), "{expected} in {json}");
        }
    }

    #[test]
    fn a_guest_order_view_carries_its_token_beside_the_order() {
        let order = pb::Order {
            id: 9,
            status: pb::OrderStatus::Pending as i32,
            order_type: pb::OrderType::Takeout as i32,
            currency: "USD".to_owned(),
            ..Default::default()
        };
        let view = CreatedOrderView {
            order: OrderView::from_proto(order).expect("view"),
            access_token: Some("tok".to_owned()),
        };
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["id"], 9);
        assert_eq!(json["access_token"], "tok");
    }
}
