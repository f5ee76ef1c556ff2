//! `/api/orders`: placing orders (as a guest, a signed-in customer, or
//! staff at the front desk), listing and reading them, public tracking by
//! order number, moving them along their lifecycle, cancelling, editing
//! their items while PENDING, their status history, reordering, and live
//! updates as Server-Sent Events.
//!
//! order-svc owns every rule of an order (pricing, the transition table,
//! the cancellation window, idempotency). The gateway decides who is
//! asking ([`Party`]) and which orders they may touch:
//!
//! - an admin: every order;
//! - staff: the orders of their own restaurant;
//! - a customer (token subject = customer id): their own orders;
//! - a guest: the one order whose access token they present
//!   (`X-Order-Token`, or `?token=` for clients that cannot set headers).
//!
//! An order the caller may not see answers 404, exactly like one that does
//! not exist, so ids cannot be probed. Every call that takes an actor gets
//! the caller's kind and id, which order-svc keeps in the history.

use axum::Json;
use axum::extract::{FromRequestParts, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::order::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::live::{self, Update};
use super::restaurants::Address;
use super::{AppState, amount, from_timestamp, to_timestamp};
use crate::auth::{Caller, Claims, MaybeCaller, OrderCaller, OrderToken, Role};
use crate::extract::{JsonBody, OptionalJsonBody, OrderLineId, QueryParams, ResourceId};
use crate::middleware;
use crate::money::{Decimal, DecimalText};
use crate::problem::{Problem, ProblemDetails, Subject};
use crate::validate::{Violations, is_e164};

/// Most lines an order may hold.
pub const MAX_LINES: usize = 50;
/// Largest quantity of one line.
pub const MAX_QUANTITY: u32 = 99;
/// Longest special instructions of a line.
pub const INSTRUCTIONS_MAX: usize = 500;
/// Longest order notes.
pub const NOTES_MAX: usize = 1000;
/// Longest reason of a status change or cancellation.
pub const REASON_MAX: usize = 500;
/// Longest table number.
pub const TABLE_MAX: usize = 20;
/// Longest guest name.
pub const GUEST_NAME_MAX: usize = 100;
/// Longest coupon code.
pub const COUPON_MAX: usize = 32;
/// Largest page of a listing.
pub const PAGE_MAX: u32 = 100;
/// The request header that makes a create or reorder safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header set on an answer replayed for an idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

// ----------------------------------------------------------------- names --

wire_enum!(
    /// Where an order is in its lifecycle: `pending → confirmed → preparing
    /// → ready → completed`, with `ready → out_for_delivery → completed`
    /// for deliveries, or `cancelled`.
    OrderStatus: pb::OrderStatus {
        /// Waiting for its payment (card, mobile money) or confirmation.
        Pending = "pending" => Pending,
        /// Paid or cash: the kitchen has it.
        Confirmed = "confirmed" => Confirmed,
        /// Being cooked.
        Preparing = "preparing" => Preparing,
        /// Ready to serve, collect or hand to a driver.
        Ready = "ready" => Ready,
        /// On its way (delivery orders).
        OutForDelivery = "out_for_delivery" => OutForDelivery,
        /// Served, collected or delivered.
        Completed = "completed" => Completed,
        /// Cancelled; see the history for who and why.
        Cancelled = "cancelled" => Cancelled,
    }
);

wire_enum!(
    /// How the order reaches the customer.
    OrderType: pb::OrderType {
        /// Served at a table (`table_number` required).
        DineIn = "dine_in" => DineIn,
        /// Collected at the counter.
        Takeout = "takeout" => Takeout,
        /// Delivered (`delivery_address` required).
        Delivery = "delivery" => Delivery,
    }
);

wire_enum!(
    /// Where the order was placed.
    OrderSource: pb::OrderSource {
        /// The web site.
        Web = "web" => Web,
        /// The mobile app.
        App = "app" => App,
        /// The restaurant's front desk.
        Frontdesk = "frontdesk" => Frontdesk,
        /// A phone call.
        Phone = "phone" => Phone,
        /// A chat channel.
        Chat = "chat" => Chat,
    }
);

wire_enum!(
    /// How the order is paid. Cash orders are confirmed at once; card and
    /// mobile money orders wait in `pending` for their payment.
    PaymentMethod: pb::PaymentMethod {
        /// A card, through the payment provider.
        Card = "card" => Card,
        /// Cash on collection or delivery.
        Cash = "cash" => Cash,
        /// Mobile money, through the payment provider.
        MobileMoney = "mobile_money" => MobileMoney,
    }
);

wire_enum!(
    /// Who made a change.
    ActorKind: common::ActorKind {
        /// A registered customer.
        Customer = "customer" => Customer,
        /// Restaurant staff.
        Staff = "staff" => Staff,
        /// A driver.
        Driver = "driver" => Driver,
        /// An admin.
        Admin = "admin" => Admin,
        /// A service reacting to an event (payment, kitchen, delivery) or a
        /// timer (the payment timeout).
        System = "system" => System,
        /// A guest with the order's access token.
        Guest = "guest" => Guest,
    }
);

// ----------------------------------------------------------------- views --

/// Who to notify about an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com"}))]
pub struct ContactView {
    /// Name.
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
    /// The option's id.
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
    /// The menu item.
    pub menu_item_id: i64,
    /// Its name when priced.
    pub name: String,
    /// How many.
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
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 2,
               "unit_price": 12.99, "line_total": 25.98, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD",
    "subtotal": 25.98, "discount": 0.00, "delivery_fee": 0.00, "tax": 0.00, "total": 25.98,
    "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:00:00Z", "confirmed_at": null
}))]
pub struct OrderView {
    /// The order's id.
    pub id: i64,
    /// Six characters for people to read out and to track with.
    pub order_number: String,
    /// The restaurant.
    pub restaurant_id: i64,
    /// Its name when the order was placed.
    pub restaurant_name: String,
    /// The customer profile: positive for registered customers, negative
    /// for guest profiles.
    pub customer_id: i64,
    /// True for guest checkout (the order has access tokens).
    pub guest: bool,
    /// Who to notify.
    pub contact: Option<ContactView>,
    /// Where it is in its lifecycle.
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
    /// The lines.
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
    /// When it was placed.
    pub created_at: Option<DateTime<Utc>>,
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// When it was confirmed, once it was.
    pub confirmed_at: Option<DateTime<Utc>>,
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
            .map(|line| {
                Ok(OrderLineView {
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
            })
            .collect::<Result<_, Problem>>()?;
        Ok(Self {
            id: o.id,
            order_number: o.order_number,
            restaurant_id: o.restaurant_id,
            restaurant_name: o.restaurant_name,
            customer_id: o.customer_id,
            guest: o.guest,
            contact: o.contact.map(|c| ContactView {
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
            items,
            coupon_code: Some(o.coupon_code).filter(|c| !c.is_empty()),
            subtotal: money(totals.subtotal.as_ref())?,
            discount: money(totals.discount.as_ref())?,
            delivery_fee: money(totals.delivery_fee.as_ref())?,
            tax: money(totals.tax.as_ref())?,
            total: money(totals.total.as_ref())?,
            tax_rate: Decimal::percent_from_bps(i64::from(o.tax_rate_bps)),
            notes: o.notes,
            prep_minutes: o.prep_minutes,
            created_at: from_timestamp(o.created_at.as_ref()),
            updated_at: from_timestamp(o.updated_at.as_ref()),
            confirmed_at: from_timestamp(o.confirmed_at.as_ref()),
            currency,
        })
    }
}

/// A new order: the order, and for guest checkout the access token that
/// alone reads, tracks, watches and cancels it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 43, "order_number": "P3RZ8D", "restaurant_id": 1, "restaurant_name": "Pizza Palace",
    "customer_id": -5, "guest": true,
    "contact": {"name": "Ana Diaz", "phone": "+12125550100", "email": ""},
    "status": "confirmed", "order_type": "takeout", "source": "web", "payment_method": "cash",
    "table_number": null, "delivery_address": null,
    "items": [{"id": 12, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD",
    "subtotal": 12.99, "discount": 0.00, "delivery_fee": 0.00, "tax": 0.00, "total": 12.99,
    "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:00:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z",
    "access_token": "ot_3q9Zk2W8m0bV1yR7cXe4TnLp"
}))]
pub struct CreatedOrderView {
    /// The order.
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
    /// Their kind.
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
    /// The status after.
    pub to: Option<OrderStatus>,
    /// Who made the change.
    pub actor: Option<ActorView>,
    /// Why, when given.
    pub reason: String,
    /// When.
    pub at: Option<DateTime<Utc>>,
}

impl StatusChangeView {
    fn from_proto(c: pb::StatusChange) -> Self {
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
    "table_number": null, "delivery_address": null,
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD", "subtotal": 12.99, "discount": 0.00,
    "delivery_fee": 0.00, "tax": 0.00, "total": 12.99, "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:04:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z"
}], "next_cursor": "NDI"}))]
pub struct OrderPage {
    /// The orders on this page.
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
    "table_number": null, "delivery_address": null,
    "items": [{"id": 11, "menu_item_id": 1, "name": "Margherita", "quantity": 1,
               "unit_price": 12.99, "line_total": 12.99, "modifiers": [], "special_instructions": ""}],
    "coupon_code": null, "currency": "USD", "subtotal": 12.99, "discount": 0.00,
    "delivery_fee": 0.00, "tax": 0.00, "total": 12.99, "tax_rate": 0, "notes": "", "prep_minutes": 20,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:04:00Z",
    "confirmed_at": "2026-11-23T18:00:00Z",
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

// ------------------------------------------------------------------ who --

/// Who is asking, as the order routes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// Every order.
    Admin {
        /// The token's subject.
        sub: String,
    },
    /// The orders of one restaurant.
    Staff {
        /// The token's subject.
        sub: String,
        /// Their restaurant.
        restaurant_id: i64,
    },
    /// Their own orders.
    Customer {
        /// Their customer id (the token's subject).
        id: i64,
    },
    /// No account: the one order their access token opens (none yet when
    /// placing an order).
    Guest {
        /// The order access token presented.
        token: Option<String>,
    },
}

/// A customer token's subject as a customer id.
///
/// # Errors
/// 403: customer ids are positive integers, and this subject is not one.
pub fn customer_id_of(claims: &Claims) -> Result<i64, Problem> {
    claims
        .sub
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Problem::forbidden(
                "This customer token's subject is not a customer id (a positive integer).",
            )
        })
}

impl Party {
    /// The party behind a bearer token's claims; without claims, a guest
    /// with `order_token`. A bearer token, when sent, decides: the order
    /// token is then not used.
    ///
    /// # Errors
    /// 403 for drivers (they follow orders through their deliveries), staff
    /// tokens without a restaurant, and customer tokens whose subject is
    /// not a customer id.
    pub fn of(claims: Option<&Claims>, order_token: Option<String>) -> Result<Self, Problem> {
        let Some(claims) = claims else {
            return Ok(Party::Guest { token: order_token });
        };
        match claims.role {
            Role::Admin => Ok(Party::Admin {
                sub: claims.sub.clone(),
            }),
            Role::Staff => claims
                .restaurant_id
                .map(|restaurant_id| Party::Staff {
                    sub: claims.sub.clone(),
                    restaurant_id,
                })
                .ok_or_else(|| Problem::forbidden("This staff token names no restaurant.")),
            Role::Customer => customer_id_of(claims).map(|id| Party::Customer { id }),
            Role::Driver => Err(Problem::forbidden(
                "Drivers follow orders through their deliveries, not the order routes.",
            )),
        }
    }

    /// The actor order-svc records for this caller.
    pub fn actor(&self) -> common::Actor {
        let (kind, id) = match self {
            Party::Admin { sub } => (common::ActorKind::Admin, sub.clone()),
            Party::Staff { sub, .. } => (common::ActorKind::Staff, sub.clone()),
            Party::Customer { id } => (common::ActorKind::Customer, id.to_string()),
            Party::Guest { .. } => (common::ActorKind::Guest, String::new()),
        };
        common::Actor {
            kind: kind.into(),
            id,
        }
    }

    /// The order access token to pass along (empty unless a guest).
    pub fn access_token(&self) -> String {
        match self {
            Party::Guest { token } => token.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Whether this caller may see `order` (a guest's token is checked by
    /// order-svc when the order is read with it).
    pub fn may_see(&self, order: &pb::Order) -> bool {
        match self {
            Party::Admin { .. } => true,
            Party::Staff { restaurant_id, .. } => order.restaurant_id == *restaurant_id,
            Party::Customer { id } => order.customer_id == *id,
            Party::Guest { token } => token.is_some(),
        }
    }
}

/// The caller of a route about one order: a bearer token, or a guest's
/// order access token.
#[derive(Debug, Clone)]
pub struct OrderParty(pub Party);

impl FromRequestParts<AppState> for OrderParty {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = OrderCaller::from_request_parts(parts, state).await?;
        Party::of(caller.claims.as_ref(), caller.order_token).map(OrderParty)
    }
}

/// The caller placing an order: anyone, with or without a bearer token
/// (without one, a guest).
#[derive(Debug, Clone)]
pub struct Orderer(pub Party);

impl FromRequestParts<AppState> for Orderer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let MaybeCaller(claims) = MaybeCaller::from_request_parts(parts, state).await?;
        Party::of(claims.as_ref(), None).map(Orderer)
    }
}

/// Reads order `id` for `party`, or answers 404 when it does not exist or
/// the caller may not see it. Every route about one order starts here.
///
/// # Errors
/// The 404, or the service's failure.
pub async fn open_order(state: &AppState, party: &Party, id: i64) -> Result<pb::Order, Problem> {
    let order = state
        .upstreams
        .orders
        .get_order(pb::GetOrderRequest {
            id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    if party.may_see(&order) {
        Ok(order)
    } else {
        Err(Problem::order_not_found(id))
    }
}

/// The `Idempotency-Key` header: empty when absent.
///
/// # Errors
/// 400 naming the header when it is not 1 to 255 printable ASCII
/// characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(String::new());
    };
    value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| {
            Problem::invalid_parameter(
                "Idempotency-Key",
                "must be 1 to 255 printable ASCII characters",
            )
        })
}

/// 201 with `Location` and the order (and a guest's access token); a
/// replay for an idempotency key answers the same, marked
/// `Idempotent-Replayed: true`.
fn created_order(answer: pb::CreateOrderResponse) -> Result<Response, Problem> {
    let order = answer
        .order
        .ok_or_else(|| Problem::internal(&"order-svc created an order but sent none"))?;
    let view = CreatedOrderView {
        order: OrderView::from_proto(order)?,
        access_token: Some(answer.access_token).filter(|t| !t.is_empty()),
    };
    let location = format!("/api/orders/{}", view.order.id);
    let mut response = super::created(&location, view).into_response();
    if answer.replayed {
        response.headers_mut().insert(
            HeaderName::from_static(IDEMPOTENT_REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

// --------------------------------------------------------------- bodies --

/// A guest's contact, for checkout without an account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com"}))]
pub struct GuestInput {
    /// Their name.
    #[schema(max_length = 100)]
    pub name: String,
    /// E.164 (`+12125550100`): their profile's key.
    pub phone: String,
    /// Optional.
    #[serde(default)]
    pub email: String,
}

/// One line to order.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({
    "menu_item_id": 1, "quantity": 2, "unit_price": 12.99,
    "modifiers": [5], "special_instructions": "well done"
}))]
pub struct LineInput {
    /// The menu item.
    pub menu_item_id: i64,
    /// 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: u32,
    /// What you expect one unit (item plus modifiers) to cost, in the
    /// restaurant's currency. Optional; when given and the menu says
    /// otherwise, the order is refused (409 `price_mismatch`) rather than
    /// charged differently.
    #[serde(default)]
    pub unit_price: Option<DecimalText>,
    /// Option ids from the item's option groups.
    #[serde(default)]
    pub modifiers: Vec<i64>,
    /// For the kitchen; at most 500 characters.
    #[serde(default)]
    pub special_instructions: String,
}

fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn check_quantity(field_name: &str, quantity: u32, v: &mut Violations) {
    if !(1..=MAX_QUANTITY).contains(&quantity) {
        v.add(field_name, format!("must be between 1 and {MAX_QUANTITY}"));
    }
}

fn check_modifiers(field_name: &str, ids: &[i64], v: &mut Violations) {
    for (j, id) in ids.iter().enumerate() {
        if *id <= 0 {
            v.add(format!("{field_name}[{j}]"), "must be an option id");
        }
    }
}

fn check_stated_price(field_name: &str, price: Option<&DecimalText>, v: &mut Violations) {
    if price.is_some_and(|p| p.as_str().trim_start().starts_with('-')) {
        v.add(field_name, "must not be negative");
    }
}

/// The stated price in minor units of `currency`, refusing sub-units.
fn stated_price(
    field_name: &str,
    price: Option<&DecimalText>,
    currency: &str,
    v: &mut Violations,
) -> Option<i64> {
    price.map(|p| v.amount(field_name, p, currency))
}

impl LineInput {
    /// Checks the line's shape, naming fields under `prefix` (`items[2]`,
    /// or nothing for a line added on its own).
    fn check(&self, prefix: &str, v: &mut Violations) {
        v.id(&field(prefix, "menu_item_id"), self.menu_item_id);
        check_quantity(&field(prefix, "quantity"), self.quantity, v);
        check_modifiers(&field(prefix, "modifiers"), &self.modifiers, v);
        v.at_most(
            &field(prefix, "special_instructions"),
            &self.special_instructions,
            INSTRUCTIONS_MAX,
        );
        check_stated_price(&field(prefix, "unit_price"), self.unit_price.as_ref(), v);
    }

    fn into_proto(self, prefix: &str, currency: &str, v: &mut Violations) -> pb::OrderLineInput {
        pb::OrderLineInput {
            stated_unit_price_minor: stated_price(
                &field(prefix, "unit_price"),
                self.unit_price.as_ref(),
                currency,
                v,
            ),
            menu_item_id: self.menu_item_id,
            quantity: self.quantity,
            option_ids: self.modifiers,
            special_instructions: self.special_instructions,
        }
    }
}

/// The body of `POST /api/orders`. The original API's body works as it is
/// (`customer_id`, `restaurant_id`, `items[{menu_item_id, quantity,
/// unit_price}]`, `delivery_address`); the rest is optional.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "customer_id": 1,
    "restaurant_id": 1,
    "items": [{"menu_item_id": 1, "quantity": 2, "unit_price": 12.99}],
    "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY",
                         "zip_code": "10002", "country": "US"}
}))]
pub struct NewOrder {
    /// A registered customer: the subject of a customer token (may be left
    /// out with one). Staff and admins name the customer they order for.
    pub customer_id: Option<i64>,
    /// Guest checkout, without an account: name, phone and email.
    pub guest: Option<GuestInput>,
    /// The restaurant.
    pub restaurant_id: i64,
    /// `dine_in`, `takeout` or `delivery`; default `delivery` when a
    /// `delivery_address` is given, else `takeout`.
    pub order_type: Option<OrderType>,
    /// Where it is placed; default `frontdesk` for staff, else `web`.
    pub source: Option<OrderSource>,
    /// Dine-in only, and required there.
    pub table_number: Option<String>,
    /// Delivery only, and required there.
    pub delivery_address: Option<Address>,
    /// 1 to 50 lines.
    pub items: Vec<LineInput>,
    /// A coupon of the restaurant.
    pub coupon_code: Option<String>,
    /// `card`, `cash` or `mobile_money`; cash orders are confirmed at once,
    /// others wait for their payment (unpaid ones are cancelled after
    /// `ORDER_TIMEOUT_MINUTES`).
    pub payment_method: Option<PaymentMethod>,
    /// At most 1000 characters, for the restaurant.
    pub notes: Option<String>,
}

enum Customer {
    Registered(i64),
    Guest(GuestInput),
}

impl NewOrder {
    /// Who the order is for, by the caller's rights.
    fn customer(&self, party: &Party, v: &mut Violations) -> Result<Option<Customer>, Problem> {
        if self.customer_id.is_some() && self.guest.is_some() {
            v.add("customer_id", "give customer_id or guest, not both");
            return Ok(None);
        }
        let customer = match (party, self.customer_id, &self.guest) {
            (Party::Customer { id }, Some(given), None) if given != *id => {
                return Err(Problem::forbidden(
                    "A customer orders only for themselves; leave customer_id out or give your own.",
                ));
            }
            (Party::Customer { id }, _, None) => Some(Customer::Registered(*id)),
            (Party::Customer { .. }, None, Some(_)) => {
                v.add(
                    "guest",
                    "is for ordering without an account; a signed-in customer orders as themselves",
                );
                None
            }
            (Party::Guest { .. }, Some(_), None) => {
                return Err(Problem::unauthorized(
                    "Ordering as a registered customer needs that customer's bearer token; \
                     guests send `guest` details instead.",
                    false,
                ));
            }
            (Party::Guest { .. }, None, None) => {
                v.add(
                    "guest",
                    "is required without a token: the name and phone of the guest ordering",
                );
                None
            }
            (_, None, None) => {
                v.add(
                    "customer_id",
                    "is required: the customer's id, or `guest` details",
                );
                None
            }
            (_, Some(id), None) => {
                v.id("customer_id", id);
                Some(Customer::Registered(id))
            }
            (_, None, Some(guest)) => Some(Customer::Guest(guest.clone())),
            (_, Some(_), Some(_)) => None,
        };
        if let Some(Customer::Guest(guest)) = &customer {
            v.required("guest.name", &guest.name, GUEST_NAME_MAX);
            if !is_e164(guest.phone.trim()) {
                v.add(
                    "guest.phone",
                    "must be an E.164 number such as +12125550100",
                );
            }
        }
        Ok(customer)
    }

    /// Checks everything that needs no currency; returns who it is for.
    fn check(&self, party: &Party) -> Result<Customer, Problem> {
        if let Party::Staff { restaurant_id, .. } = party
            && *restaurant_id != self.restaurant_id
        {
            return Err(Problem::forbidden(
                "Staff place orders only at their own restaurant.",
            ));
        }
        let mut v = Violations::new();
        let customer = self.customer(party, &mut v)?;
        v.id("restaurant_id", self.restaurant_id);
        match self.items.len() {
            0 => v.add("items", "must hold at least one line"),
            n if n > MAX_LINES => v.add("items", format!("must hold at most {MAX_LINES} lines")),
            _ => {}
        }
        for (i, line) in self.items.iter().enumerate() {
            line.check(&format!("items[{i}]"), &mut v);
        }
        v.at_most_if_some("table_number", self.table_number.as_deref(), TABLE_MAX);
        if let Some(address) = &self.delivery_address {
            address.check("delivery_address", &mut v);
        }
        v.at_most_if_some("coupon_code", self.coupon_code.as_deref(), COUPON_MAX);
        v.at_most_if_some("notes", self.notes.as_deref(), NOTES_MAX);
        v.finish()?;
        customer.ok_or_else(|| Problem::internal(&"an order without a customer passed its checks"))
    }

    fn into_proto(
        self,
        party: &Party,
        customer: Customer,
        currency: &str,
        idempotency_key: String,
    ) -> Result<pb::CreateOrderRequest, Problem> {
        let mut v = Violations::new();
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, line)| line.into_proto(&format!("items[{i}]"), currency, &mut v))
            .collect();
        v.finish()?;
        let source = self.source.or(match party {
            Party::Staff { .. } => Some(OrderSource::Frontdesk),
            _ => None,
        });
        Ok(pb::CreateOrderRequest {
            restaurant_id: self.restaurant_id,
            customer: Some(match customer {
                Customer::Registered(id) => pb::create_order_request::Customer::CustomerId(id),
                Customer::Guest(g) => pb::create_order_request::Customer::Guest(pb::Guest {
                    name: g.name,
                    phone: g.phone.trim().to_owned(),
                    email: g.email,
                }),
            }),
            order_type: self.order_type.map_or(0, OrderType::to_proto),
            source: source.map_or(0, OrderSource::to_proto),
            table_number: self.table_number.unwrap_or_default(),
            delivery_address: self.delivery_address.map(Address::into_proto),
            items,
            coupon_code: self.coupon_code.unwrap_or_default(),
            payment_method: self.payment_method.map_or(0, PaymentMethod::to_proto),
            idempotency_key,
            notes: self.notes.unwrap_or_default(),
            actor: Some(party.actor()),
        })
    }
}

/// The body of `PUT /api/orders/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "preparing"}))]
pub struct StatusChangeInput {
    /// The status to move to.
    pub status: OrderStatus,
    /// Why; required when a restaurant cancels an order it is preparing.
    #[serde(default)]
    pub reason: String,
}

/// The optional body of `DELETE /api/orders/{id}` (the reason may also be
/// the `reason` query parameter).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"reason": "ordered twice by mistake"}))]
pub struct CancelInput {
    /// Why; required when a restaurant cancels an order it is preparing.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The body of `PATCH /api/orders/{id}/items/{item_id}`: only the fields
/// sent change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"quantity": 3, "unit_price": 12.99}))]
pub struct LinePatch {
    /// New quantity, 1 to 99.
    #[schema(minimum = 1, maximum = 99)]
    pub quantity: Option<u32>,
    /// New instructions.
    pub special_instructions: Option<String>,
    /// Replaces the line's modifiers.
    pub modifiers: Option<Vec<i64>>,
    /// What you expect one unit to cost after the change (checked, never
    /// trusted).
    pub unit_price: Option<DecimalText>,
}

/// The optional body of `POST /api/orders/{id}/reorder`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"payment_method": "cash"}))]
pub struct ReorderInput {
    /// Default: the earlier order's.
    pub payment_method: Option<PaymentMethod>,
    /// Default: the earlier order's.
    pub source: Option<OrderSource>,
    /// Coupons are not carried over; this one is redeemed if given.
    pub coupon_code: Option<String>,
}

// --------------------------------------------------------------- queries --

/// The query of `GET /api/orders` (and `GET /api/customers/{id}/orders`).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only these statuses: repeat the parameter or separate with commas
    /// (`status=confirmed,preparing`).
    pub status: Option<Vec<OrderStatus>>,
    /// Only this restaurant's orders (staff: their own, always).
    pub restaurant_id: Option<i64>,
    /// Only this customer's orders (customers: their own, always).
    pub customer_id: Option<i64>,
    /// Created at or after: `2026-11-23` (start of the day, UTC) or an RFC
    /// 3339 time.
    pub from: Option<String>,
    /// Created before: an RFC 3339 time, or a date (that whole day
    /// included).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The filters of an order listing, parsed.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    statuses: Vec<OrderStatus>,
    restaurant_id: Option<i64>,
    customer_id: Option<i64>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cursor: String,
    limit: u32,
}

impl OrderFilter {
    /// Reads the query.
    ///
    /// # Errors
    /// 400 naming the first parameter that does not parse.
    pub fn parse(query: &QueryParams) -> Result<Self, Problem> {
        let mut statuses = Vec::new();
        for name in query.values("status") {
            let status = OrderStatus::parse(&name).ok_or_else(|| {
                Problem::invalid_parameter(
                    "status",
                    format!("`{name}` is not a status: use {}", OrderStatus::names()),
                )
            })?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let limit = query.positive("limit")?.unwrap_or(0);
        if limit > PAGE_MAX {
            return Err(Problem::invalid_parameter(
                "limit",
                format!("must be at most {PAGE_MAX}"),
            ));
        }
        let from = query.time("from", false)?;
        let to = query.time("to", true)?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(Problem::invalid_parameter("to", "must be after `from`"));
        }
        Ok(Self {
            statuses,
            restaurant_id: query.id("restaurant_id")?,
            customer_id: query.nonzero_id("customer_id")?,
            from,
            to,
            cursor: query.text("cursor").unwrap_or_default(),
            limit,
        })
    }

    /// Narrows the filter to what `party` may list.
    ///
    /// # Errors
    /// 403 when staff ask for another restaurant or a customer for another
    /// customer; 401 for guests.
    pub fn scoped(mut self, party: &Party) -> Result<Self, Problem> {
        match party {
            Party::Admin { .. } => {}
            Party::Staff { restaurant_id, .. } => {
                if self.restaurant_id.is_some_and(|r| r != *restaurant_id) {
                    return Err(Problem::forbidden(
                        "Staff list only their own restaurant's orders.",
                    ));
                }
                self.restaurant_id = Some(*restaurant_id);
            }
            Party::Customer { id } => {
                if self.customer_id.is_some_and(|c| c != *id) {
                    return Err(Problem::forbidden(
                        "A customer lists only their own orders.",
                    ));
                }
                self.customer_id = Some(*id);
            }
            Party::Guest { .. } => {
                return Err(Problem::unauthorized(
                    "Listing orders needs a bearer token.",
                    false,
                ));
            }
        }
        Ok(self)
    }

    /// Only this customer's orders.
    #[must_use]
    pub fn for_customer(mut self, customer_id: i64) -> Self {
        self.customer_id = Some(customer_id);
        self
    }

    fn into_proto(self) -> pb::ListOrdersRequest {
        pb::ListOrdersRequest {
            page: Some(common::PageRequest {
                page_size: self.limit,
                page_token: self.cursor,
            }),
            statuses: self
                .statuses
                .into_iter()
                .map(OrderStatus::to_proto)
                .collect(),
            restaurant_id: self.restaurant_id.unwrap_or(0),
            customer_id: self.customer_id.unwrap_or(0),
            created_from: self.from.map(to_timestamp),
            created_to: self.to.map(to_timestamp),
        }
    }
}

/// One page of orders matching `filter`.
///
/// # Errors
/// The service's failure.
pub async fn list_page(state: &AppState, filter: OrderFilter) -> Result<OrderPage, Problem> {
    let answer = state
        .upstreams
        .orders
        .list_orders(filter.into_proto())
        .await?;
    let items = answer
        .orders
        .into_iter()
        .map(OrderView::from_proto)
        .collect::<Result<_, _>>()?;
    let next_cursor = answer
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(OrderPage { items, next_cursor })
}

// -------------------------------------------------------------- handlers --

/// Places an order. Without a token it is guest checkout (`guest`
/// required) and the answer carries the order's `access_token`; a
/// customer token orders for its own customer id; staff order for anyone
/// at their own restaurant; admins for anyone anywhere. Prices come from
/// the menu: a stated `unit_price` that differs is refused with 409. With
/// an `Idempotency-Key`, a retry answers the first order again (201,
/// `Idempotent-Replayed: true`) and never places a second one.
#[utoipa::path(
    post,
    path = "/api/orders",
    tag = "orders",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key from the same caller \
                answers the first order again (1–255 printable ASCII characters, kept 24 hours; \
                the same key with another body is 409 `idempotency_key_reused`)."),
    ),
    request_body = NewOrder,
    responses(
        (status = 201, description = "Placed (or replayed); `Location` names it.",
            body = CreatedOrderView,
            headers(
                ("Location" = String, description = "Path of the order"),
                ("Idempotent-Replayed" = String, description = "`true` when an earlier request with the key placed it"),
            )),
        (status = 404, description = "`restaurant_id` names no restaurant (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn create_order(
    State(state): State<AppState>,
    Orderer(party): Orderer,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewOrder>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let customer = body.check(&party)?;
    let currency = if body.items.iter().any(|line| line.unit_price.is_some()) {
        state
            .upstreams
            .restaurants
            .currency_of(body.restaurant_id)
            .await
            .map_err(|e| e.about(Subject::restaurant_in_body()))?
    } else {
        String::new()
    };
    let request = body.into_proto(&party, customer, &currency, key)?;
    let answer = state
        .upstreams
        .orders
        .create_order(request)
        .await
        .map_err(|e| e.about(Subject::default().priced_in(&currency)))?;
    created_order(answer)
}

/// Lists orders, newest first, a page at a time: admins every order (with
/// any filter), staff their restaurant's, customers their own.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    params(OrderListQuery),
    responses((status = 200, description = "One page of orders.", body = OrderPage)),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<OrderPage>, Problem> {
    let party = Party::of(Some(&claims), None)?;
    let filter = OrderFilter::parse(&query)?.scoped(&party)?;
    Ok(Json(list_page(&state, filter).await?))
}

/// One order: for an admin, its restaurant's staff, its customer, or a
/// guest presenting its access token.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    responses((status = 200, description = "The order.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<OrderView>, Problem> {
    let order = open_order(&state, &party, id).await?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Moves an order along its lifecycle. Staff of its restaurant and admins
/// make the restaurant's moves; customers (and guests, with the token)
/// only what the transition table allows them — cancelling while pending,
/// or within the cancellation window after confirmation. Any other move is
/// 409 `invalid_transition`; two callers racing the same move get one 200
/// and one 409.
#[utoipa::path(
    put,
    path = "/api/orders/{id}/status",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    request_body = StatusChangeInput,
    responses((status = 200, description = "The order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn update_order_status(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<StatusChangeInput>,
) -> Result<Json<OrderView>, Problem> {
    let mut v = Violations::new();
    v.at_most("reason", &body.reason, REASON_MAX);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let orders = &state.upstreams.orders;
    let order = if body.status == OrderStatus::Cancelled {
        orders
            .cancel_order(pb::CancelOrderRequest {
                id,
                reason: body.reason,
                actor: Some(party.actor()),
                access_token: party.access_token(),
            })
            .await
    } else if matches!(party, Party::Guest { .. }) {
        return Err(Problem::forbidden(
            "An order's access token can cancel the order, not move it otherwise.",
        ));
    } else {
        orders
            .update_order_status(pb::UpdateOrderStatusRequest {
                id,
                status: body.status.to_proto(),
                reason: body.reason,
                actor: Some(party.actor()),
            })
            .await
    }
    .map_err(|e| e.about(Subject::order(id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Cancels an order (the same as `PUT /status` with `cancelled`): the
/// customer or guest while pending or within the cancellation window,
/// staff and admins until it is ready (with a `reason` once preparing).
/// The reason may come as the `reason` query parameter or a JSON body.
#[utoipa::path(
    delete,
    path = "/api/orders/{id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("reason" = Option<String>, Query, description = "Why (also accepted in the body)"),
    ),
    request_body(content = Option<CancelInput>, description = "Optional."),
    responses((status = 200, description = "The cancelled order.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    query: QueryParams,
    OptionalJsonBody(body): OptionalJsonBody<CancelInput>,
) -> Result<Json<OrderView>, Problem> {
    let reason = body
        .reason
        .or_else(|| query.text("reason"))
        .unwrap_or_default();
    let mut v = Violations::new();
    v.at_most("reason", &reason, REASON_MAX);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let order = state
        .upstreams
        .orders
        .cancel_order(pb::CancelOrderRequest {
            id,
            reason,
            actor: Some(party.actor()),
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Adds a line to a pending order; every line is priced again and the
/// totals follow. 409 `order_not_editable` once the order left `pending`.
#[utoipa::path(
    post,
    path = "/api/orders/{id}/items",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    request_body = LineInput,
    responses(
        (status = 201, description = "Added; `Location` names the new line, the body is the whole order.",
            body = OrderView,
            headers(("Location" = String, description = "Path of the new line"))),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn add_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    JsonBody(line): JsonBody<LineInput>,
) -> Result<Response, Problem> {
    let mut v = Violations::new();
    line.check("", &mut v);
    v.finish()?;
    let before = open_order(&state, &party, id).await?;
    let mut v = Violations::new();
    let item = line.into_proto("", &before.currency, &mut v);
    v.finish()?;
    let order = state
        .upstreams
        .orders
        .add_item(pb::AddItemRequest {
            order_id: id,
            item: Some(item),
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id).priced_in(&before.currency)))?;
    let new_line = order
        .items
        .iter()
        .map(|l| l.id)
        .find(|line_id| before.items.iter().all(|old| old.id != *line_id))
        .or_else(|| order.items.last().map(|l| l.id));
    let view = OrderView::from_proto(order)?;
    let location = match new_line {
        Some(line_id) => format!("/api/orders/{id}/items/{line_id}"),
        None => format!("/api/orders/{id}"),
    };
    Ok((
        StatusCode::CREATED,
        [middleware::location(&location)],
        Json(view),
    )
        .into_response())
}

/// Changes a line of a pending order (quantity, instructions, modifiers);
/// totals follow.
#[utoipa::path(
    patch,
    path = "/api/orders/{id}/items/{item_id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("item_id" = i64, Path, description = "Line id (an `items[].id` of the order)", minimum = 1),
    ),
    request_body = LinePatch,
    responses((status = 200, description = "The whole order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn update_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    path: OrderLineId,
    JsonBody(patch): JsonBody<LinePatch>,
) -> Result<Json<OrderView>, Problem> {
    let mut v = Violations::new();
    if let Some(quantity) = patch.quantity {
        check_quantity("quantity", quantity, &mut v);
    }
    if let Some(modifiers) = &patch.modifiers {
        check_modifiers("modifiers", modifiers, &mut v);
    }
    v.at_most_if_some(
        "special_instructions",
        patch.special_instructions.as_deref(),
        INSTRUCTIONS_MAX,
    );
    check_stated_price("unit_price", patch.unit_price.as_ref(), &mut v);
    v.finish()?;
    let before = open_order(&state, &party, path.order_id).await?;
    let mut v = Violations::new();
    let stated = stated_price(
        "unit_price",
        patch.unit_price.as_ref(),
        &before.currency,
        &mut v,
    );
    v.finish()?;
    let replace_options = patch.modifiers.is_some();
    let order = state
        .upstreams
        .orders
        .update_item(pb::UpdateItemRequest {
            order_id: path.order_id,
            line_id: path.item_id,
            quantity: patch.quantity,
            special_instructions: patch.special_instructions,
            option_ids: patch.modifiers.unwrap_or_default(),
            replace_options,
            stated_unit_price_minor: stated,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(path.order_id).priced_in(&before.currency)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Removes a line of a pending order (the last line cannot go: cancel the
/// order instead); totals follow.
#[utoipa::path(
    delete,
    path = "/api/orders/{id}/items/{item_id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("item_id" = i64, Path, description = "Line id (an `items[].id` of the order)", minimum = 1),
    ),
    responses((status = 200, description = "The whole order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn remove_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    path: OrderLineId,
) -> Result<Json<OrderView>, Problem> {
    open_order(&state, &party, path.order_id).await?;
    let order = state
        .upstreams
        .orders
        .remove_item(pb::RemoveItemRequest {
            order_id: path.order_id,
            line_id: path.item_id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(path.order_id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Every status change of an order, oldest first: from, to, who, why,
/// when.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/history",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    responses((status = 200, description = "The history.", body = HistoryView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn get_history(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<HistoryView>, Problem> {
    open_order(&state, &party, id).await?;
    let answer = state
        .upstreams
        .orders
        .get_history(pb::GetHistoryRequest {
            order_id: id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    let items = answer
        .changes
        .into_iter()
        .map(StatusChangeView::from_proto)
        .collect();
    Ok(Json(HistoryView { items }))
}

/// Public tracking by the six-character order number, with the order's
/// access token (`X-Order-Token` or `?token=`). An unknown number and a
/// wrong token are the same 404.
#[utoipa::path(
    get,
    path = "/api/orders/track/{order_number}",
    tag = "orders",
    params(
        ("order_number" = String, Path, description = "The order number, any case", example = "K7M2QX"),
        ("token" = Option<String>, Query, description = "The access token, for clients that cannot send `X-Order-Token`"),
    ),
    responses((status = 200, description = "The order.", body = OrderView)),
    security(("order_token" = []))
)]
pub async fn track_order(
    State(state): State<AppState>,
    OrderToken(token): OrderToken,
    params: RawPathParams,
) -> Result<Json<OrderView>, Problem> {
    let number = params
        .iter()
        .find(|(name, _)| *name == "order_number")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Problem::invalid_parameter(
            "order_number",
            "must be an order number such as K7M2QX",
        ));
    }
    let order = state
        .upstreams
        .orders
        .track_order(pb::TrackOrderRequest {
            order_number: number.clone(),
            access_token: token,
        })
        .await
        .map_err(|e| e.about(Subject::tracked_order(&number)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Live updates of one order as Server-Sent Events: first `snapshot` (the
/// order now), then `status_changed` (with `change`, the history entry)
/// and `items_changed`, each with the order as `GET /api/orders/{id}`
/// shows it as `data`. The stream ends after the order is completed or
/// cancelled. Browsers' `EventSource` cannot send headers: guests pass
/// `?token=`. Try it: `curl -N -H "X-Order-Token: $T" $GATEWAY/api/orders/42/events`.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/events",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("token" = Option<String>, Query, description = "The order's access token, for `EventSource` clients"),
    ),
    responses(
        (status = 200, description = "An event stream; a failure after it opened comes as a last \
            `problem` event (a problem+json body) before it ends.",
            content_type = "text/event-stream", body = String,
            example = json!("event: snapshot\nid: 1\ndata: {\"id\":42,\"status\":\"confirmed\",...}\n\n\
                event: status_changed\nid: 2\ndata: {\"id\":42,\"status\":\"preparing\",...,\
                \"change\":{\"from\":\"confirmed\",\"to\":\"preparing\",...}}\n\n: keep-alive\n\n")),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn watch_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Response, Problem> {
    open_order(&state, &party, id).await?;
    let updates = state
        .upstreams
        .orders
        .watch_order(pb::WatchOrderRequest {
            order_id: id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    Ok(live::respond(
        updates,
        state.draining.clone(),
        "order-svc",
        "WatchOrder",
        |update| {
            let name = match pb::OrderUpdateKind::try_from(update.kind) {
                Ok(pb::OrderUpdateKind::Snapshot) => "snapshot",
                Ok(pb::OrderUpdateKind::StatusChanged) => "status_changed",
                Ok(pb::OrderUpdateKind::ItemsChanged) => "items_changed",
                Ok(pb::OrderUpdateKind::Unspecified) | Err(_) => return Ok(None),
            };
            let Some(order) = update.order else {
                return Ok(None);
            };
            let view = OrderUpdateView {
                order: OrderView::from_proto(order)?,
                change: update.change.map(StatusChangeView::from_proto),
            };
            Update::json(name, &view).map(Some)
        },
    ))
}

/// Orders again what an earlier order had, priced from today's menu, for
/// the same customer and fulfilment. Same access as reading the order;
/// `Idempotency-Key` as on create.
#[utoipa::path(
    post,
    path = "/api/orders/{id}/reorder",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "The earlier order's id", minimum = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "As on `POST /api/orders`."),
    ),
    request_body(content = Option<ReorderInput>, description = "Optional."),
    responses(
        (status = 201, description = "Placed (or replayed); `Location` names it.",
            body = CreatedOrderView,
            headers(("Location" = String, description = "Path of the new order"))),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn reorder(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<ReorderInput>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let mut v = Violations::new();
    v.at_most_if_some("coupon_code", body.coupon_code.as_deref(), COUPON_MAX);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let answer = state
        .upstreams
        .orders
        .reorder(pb::ReorderRequest {
            order_id: id,
            access_token: party.access_token(),
            idempotency_key: key,
            actor: Some(party.actor()),
            payment_method: body.payment_method.map_or(0, PaymentMethod::to_proto),
            source: body.source.map_or(0, OrderSource::to_proto),
            coupon_code: body.coupon_code.unwrap_or_default(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    created_order(answer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    const SEED: &str = r#"{
        "customer_id": 1,
        "restaurant_id": 1,
        "items": [
          {
            "menu_item_id": 1,
            "quantity": 2,
            "unit_price": 12.99
          }
        ],
        "delivery_address": {
          "street": "456 Oak Ave",
          "city": "New York",
          "state": "NY",
          "zip_code": "10002",
          "country": "US"
        }
      }"#;

    fn customer(id: i64) -> Party {
        Party::Customer { id }
    }

    #[test]
    fn the_seed_body_becomes_a_request_priced_in_cents() {
        let body: NewOrder = parse_json(SEED.as_bytes()).expect("parses");
        let party = customer(1);
        let who = body.check(&party).expect("valid");
        let request = body
            .into_proto(&party, who, "USD", "key-1".to_owned())
            .expect("valid");
        assert_eq!(request.restaurant_id, 1);
        assert_eq!(
            request.customer,
            Some(pb::create_order_request::Customer::CustomerId(1))
        );
        assert_eq!(request.items[0].stated_unit_price_minor, Some(1299));
        assert_eq!(request.items[0].quantity, 2);
        assert_eq!(
            request.order_type, 0,
            "inferred by order-svc from the address"
        );
        assert_eq!(request.idempotency_key, "key-1");
        let actor = request.actor.expect("actor");
        assert_eq!(actor.kind, common::ActorKind::Customer as i32);
        assert_eq!(actor.id, "1");
    }

    #[test]
    fn a_customer_orders_only_for_themselves() {
        let body: NewOrder = parse_json(SEED.as_bytes()).expect("parses");
        let problem = body.check(&customer(2)).err().expect("refused");
        assert_eq!(problem.status, 403);
    }

    #[test]
    fn without_a_token_a_registered_customer_id_is_a_401_and_guests_need_details() {
        let body: NewOrder = parse_json(SEED.as_bytes()).expect("parses");
        let guest = Party::Guest { token: None };
        assert_eq!(body.check(&guest).err().expect("refused").status, 401);
        let body: NewOrder =
            parse_json(br#"{"restaurant_id": 1, "items": [{"menu_item_id": 1, "quantity": 1}]}"#)
                .expect("parses");
        let problem = body.check(&guest).err().expect("refused");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "guest");
    }

    #[test]
    fn staff_order_only_at_their_restaurant_and_default_to_the_front_desk() {
        let body: NewOrder = parse_json(SEED.as_bytes()).expect("parses");
        let elsewhere = Party::Staff {
            sub: "maria".to_owned(),
            restaurant_id: 2,
        };
        assert_eq!(body.check(&elsewhere).err().expect("refused").status, 403);
        let here = Party::Staff {
            sub: "maria".to_owned(),
            restaurant_id: 1,
        };
        let who = body.check(&here).expect("valid");
        let request = body
            .into_proto(&here, who, "USD", String::new())
            .expect("valid");
        assert_eq!(request.source, pb::OrderSource::Frontdesk as i32);
        assert_eq!(
            request.actor.map(|a| a.kind),
            Some(common::ActorKind::Staff as i32)
        );
    }

    #[test]
    fn every_bad_line_field_is_named_with_its_index() {
        let body: NewOrder = parse_json(
            br#"{"restaurant_id": 1, "guest": {"name": "", "phone": "555-1234"},
                 "items": [{"menu_item_id": 1, "quantity": 0},
                           {"menu_item_id": 0, "quantity": 100, "unit_price": "-1", "modifiers": [3, -1]}]}"#,
        )
        .expect("parses");
        let problem = body
            .check(&Party::Guest { token: None })
            .err()
            .expect("refused");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "guest.name",
                "guest.phone",
                "items[0].quantity",
                "items[1].menu_item_id",
                "items[1].quantity",
                "items[1].modifiers[1]",
                "items[1].unit_price"
            ]
        );
    }

    #[test]
    fn fifty_one_lines_are_refused_and_sub_cent_prices_name_their_line() {
        let line = r#"{"menu_item_id": 1, "quantity": 1}"#;
        let lines = vec![line; 51].join(",");
        let body: NewOrder = parse_json(
            format!(r#"{{"customer_id": 1, "restaurant_id": 1, "items": [{lines}]}}"#).as_bytes(),
        )
        .expect("parses");
        let problem = body.check(&customer(1)).err().expect("refused");
        assert_eq!(problem.errors[0].field, "items");

        let body: NewOrder = parse_json(
            br#"{"restaurant_id": 1, "items": [{"menu_item_id": 1, "quantity": 1, "unit_price": 12.999}]}"#,
        )
        .expect("parses");
        let party = customer(1);
        let who = body.check(&party).expect("shape is fine");
        let problem = body
            .into_proto(&party, who, "USD", String::new())
            .expect_err("three places");
        assert_eq!(problem.errors[0].field, "items[0].unit_price");
    }

    #[test]
    fn unknown_names_are_refused_naming_the_field() {
        let problem = parse_json::<NewOrder>(
            br#"{"restaurant_id": 1, "payment_method": "bitcoin", "items": []}"#,
        )
        .expect_err("refused");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "payment_method");
        assert!(
            problem.errors[0].message.contains("mobile_money"),
            "{:?}",
            problem.errors
        );
        let body: NewOrder = parse_json(
            br#"{"restaurant_id": 1, "payment_method": "MOBILE_MONEY", "order_type": "Dine_In", "items": []}"#,
        )
        .expect("any case");
        assert_eq!(body.payment_method, Some(PaymentMethod::MobileMoney));
        assert_eq!(body.order_type, Some(OrderType::DineIn));
    }

    /// Checks that serde, the OpenAPI document and `as_str` spell every
    /// value of a [`wire_enum!`] the same way.
    fn spelled_alike<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for value in all {
            let json = serde_json::to_value(value).expect("serializes");
            assert_eq!(json, as_str(*value));
        }
    }

    #[test]
    fn every_name_is_spelled_one_way() {
        spelled_alike(OrderStatus::ALL, OrderStatus::as_str);
        spelled_alike(OrderType::ALL, OrderType::as_str);
        spelled_alike(OrderSource::ALL, OrderSource::as_str);
        spelled_alike(PaymentMethod::ALL, PaymentMethod::as_str);
        spelled_alike(ActorKind::ALL, ActorKind::as_str);
        spelled_alike(
            crate::routes::kitchen::TicketStatus::ALL,
            crate::routes::kitchen::TicketStatus::as_str,
        );
        spelled_alike(
            crate::routes::kitchen::Fulfilment::ALL,
            crate::routes::kitchen::Fulfilment::as_str,
        );
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(OrderStatus::schema()).expect("schema");
        assert_eq!(
            schema["enum"],
            serde_json::json!([
                "pending",
                "confirmed",
                "preparing",
                "ready",
                "out_for_delivery",
                "completed",
                "cancelled"
            ])
        );
    }

    #[test]
    fn names_round_trip_through_the_contract() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_proto(status.to_proto()), Some(*status));
        }
        assert_eq!(OrderStatus::from_proto(0), None);
        assert_eq!(
            OrderStatus::OutForDelivery.to_proto(),
            pb::OrderStatus::OutForDelivery as i32
        );
        assert_eq!(PaymentMethod::names(), "card, cash or mobile_money");
    }

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
            tax_rate_bps: 875,
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

    #[test]
    fn idempotency_keys_are_printable_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers).expect("absent"), "");
        headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_static("order-2026-11-23-001"),
        );
        assert_eq!(
            idempotency_key(&headers).expect("fine"),
            "order-2026-11-23-001"
        );
        headers.insert(
            IDEMPOTENCY_KEY,
            HeaderValue::from_str(&"k".repeat(256)).expect("header"),
        );
        let problem = idempotency_key(&headers).expect_err("too long");
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "Idempotency-Key");
    }

    #[test]
    fn parties_map_to_actors_and_order_visibility() {
        let order = pb::Order {
            restaurant_id: 3,
            customer_id: 8,
            ..Default::default()
        };
        assert!(
            Party::Admin {
                sub: "root".to_owned()
            }
            .may_see(&order)
        );
        assert!(
            Party::Staff {
                sub: "s".to_owned(),
                restaurant_id: 3
            }
            .may_see(&order)
        );
        assert!(
            !Party::Staff {
                sub: "s".to_owned(),
                restaurant_id: 4
            }
            .may_see(&order)
        );
        assert!(customer(8).may_see(&order));
        assert!(!customer(9).may_see(&order));
        assert!(!Party::Guest { token: None }.may_see(&order));
        let guest = Party::Guest {
            token: Some("t".to_owned()),
        };
        assert_eq!(guest.access_token(), "t");
        assert_eq!(guest.actor().kind, common::ActorKind::Guest as i32);
        assert_eq!(customer(8).actor().id, "8");
    }
}
