//! What a client sends to the order routes — the bodies, and the
//! `Idempotency-Key` header — with the checks of their shape that need no
//! service, and their turning into order-svc's requests. The rules of an
//! order itself (prices, the lifecycle) are order-svc's.

use axum::http::HeaderMap;
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::validate::Phone;
use foodmesh_shared::values::{self, CouponCode, IdempotencyKey, limits};
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::Party;
use super::names::{OrderSource, OrderStatus, OrderType, PaymentMethod};
use crate::money::DecimalText;
use crate::problem::Problem;
use crate::routes::drivers::GeoPoint;
use crate::routes::restaurants::Address;
use crate::validate::Violations;

/// The request header that makes a create or reorder safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// The `Idempotency-Key` header: empty when absent.
///
/// # Errors
/// 400 naming the header when it is not 1 to 255 printable ASCII
/// characters.
pub fn idempotency_key(headers: &HeaderMap) -> Result<String, Problem> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(String::new());
    };
    // Bytes that are not ASCII become U+FFFD, which the key refuses.
    let raw = String::from_utf8_lossy(value.as_bytes());
    IdempotencyKey::parse(raw.trim())
        .map(|key| key.as_str().to_owned())
        .map_err(|why| Problem::invalid_parameter("Idempotency-Key", why))
}

/// A guest's contact, for checkout without an account.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com"}))]
pub struct GuestInput {
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

pub(super) fn check_quantity(field_name: &str, quantity: u32, v: &mut Violations) {
    v.parsed(field_name, values::parse_quantity(quantity));
}

/// A coupon code, when one is given.
pub(super) fn check_coupon_code(code: Option<&str>, v: &mut Violations) {
    if let Some(code) = code {
        v.parsed("coupon_code", CouponCode::parse(code));
    }
}

pub(super) fn check_modifiers(field_name: &str, ids: &[i64], v: &mut Violations) {
    for (j, id) in ids.iter().enumerate() {
        if *id <= 0 {
            v.add(format!("{field_name}[{j}]"), "must be an option id");
        }
    }
}

pub(super) fn check_stated_price(
    field_name: &str,
    price: Option<&DecimalText>,
    v: &mut Violations,
) {
    if price.is_some_and(|p| p.as_str().trim_start().starts_with('-')) {
        v.add(field_name, "must not be negative");
    }
}

/// The stated price in minor units of `currency`, refusing sub-units.
pub(super) fn stated_price(
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
    pub(super) fn check(&self, prefix: &str, v: &mut Violations) {
        v.id(&field(prefix, "menu_item_id"), self.menu_item_id);
        check_quantity(&field(prefix, "quantity"), self.quantity, v);
        check_modifiers(&field(prefix, "modifiers"), &self.modifiers, v);
        v.at_most(
            &field(prefix, "special_instructions"),
            &self.special_instructions,
            limits::INSTRUCTIONS,
        );
        check_stated_price(&field(prefix, "unit_price"), self.unit_price.as_ref(), v);
    }

    pub(super) fn into_proto(
        self,
        prefix: &str,
        currency: &str,
        v: &mut Violations,
    ) -> pb::OrderLineInput {
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
    /// out with one). Staff and admins name the customer they order for,
    /// or, for a dine-in or takeout order, nobody: with neither
    /// `customer_id` nor `guest` it is a walk-in order, with no customer
    /// and no contact.
    pub customer_id: Option<i64>,
    /// Guest checkout, without an account: name, phone and email.
    pub guest: Option<GuestInput>,
    pub restaurant_id: i64,
    /// `dine_in`, `takeout` or `delivery`; default `delivery` when a
    /// `delivery_address` is given, else `takeout`.
    pub order_type: Option<OrderType>,
    /// Where it is placed; default `frontdesk` for staff, else `web`.
    pub source: Option<OrderSource>,
    /// Dine-in only, and required there. `5` is read as `"5"`.
    #[serde(default, deserialize_with = "crate::validate::name_or_number")]
    pub table_number: Option<String>,
    /// Delivery only, and required there.
    pub delivery_address: Option<Address>,
    /// Delivery only, optional: the drop-off point. With it, the delivery's
    /// arrival time counts the ride to the door; without it, a configured
    /// allowance stands in.
    pub delivery_location: Option<GeoPoint>,
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

pub(super) enum Customer {
    Registered(i64),
    Guest(GuestInput),
    /// Staff (or an admin) take a dine-in or takeout order for nobody named.
    WalkIn,
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
            (Party::Staff { .. } | Party::Admin { .. }, None, None) if !self.is_delivery() => {
                Some(Customer::WalkIn)
            }
            (_, None, None) => {
                v.add(
                    "customer_id",
                    "is required for a delivery: the customer's id, or `guest` details",
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
            v.required("guest.name", &guest.name, limits::PERSON_NAME);
            v.parsed("guest.phone", Phone::parse(&guest.phone));
        }
        Ok(customer)
    }

    /// Whether the order is to be delivered: said so, or implied by an
    /// address.
    fn is_delivery(&self) -> bool {
        match self.order_type {
            Some(kind) => kind == OrderType::Delivery,
            None => self.delivery_address.is_some(),
        }
    }

    /// Checks everything that needs no currency; returns who it is for.
    pub(super) fn check(&self, party: &Party) -> Result<Customer, Problem> {
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
        v.parsed("items", values::check_line_count(self.items.len()));
        for (i, line) in self.items.iter().enumerate() {
            line.check(&format!("items[{i}]"), &mut v);
        }
        v.at_most_if_some(
            "table_number",
            self.table_number.as_deref(),
            limits::TABLE_NUMBER,
        );
        if let Some(address) = &self.delivery_address {
            address.check("delivery_address", &mut v);
        }
        if let Some(at) = self.delivery_location {
            at.check("delivery_location", &mut v);
        }
        check_coupon_code(self.coupon_code.as_deref(), &mut v);
        v.at_most_if_some("notes", self.notes.as_deref(), limits::NOTES);
        v.finish()?;
        customer.ok_or_else(|| Problem::internal(&"an order without a customer passed its checks"))
    }

    pub(super) fn into_proto(
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
                Customer::WalkIn => pb::create_order_request::Customer::WalkIn(true),
            }),
            order_type: self.order_type.map_or(0, OrderType::to_proto),
            source: source.map_or(0, OrderSource::to_proto),
            table_number: self.table_number.unwrap_or_default(),
            delivery_address: self.delivery_address.map(Address::into_proto),
            delivery_location: self.delivery_location.map(GeoPoint::to_proto),
            items,
            coupon_code: self.coupon_code.unwrap_or_default(),
            payment_method: self.payment_method.map_or(0, PaymentMethod::to_proto),
            idempotency_key,
            notes: self.notes.unwrap_or_default(),
            actor: Some(party.actor()),
        })
    }
}

/// The body of `POST /api/orders/quote`: an order's body, of which only
/// the fields that decide its price are read.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "restaurant_id": 1, "order_type": "delivery",
    "items": [{"menu_item_id": 1, "quantity": 2, "modifiers": [5]}],
    "coupon_code": "WELCOME10"
}))]
pub struct QuoteInput {
    pub restaurant_id: i64,
    /// `dine_in`, `takeout` or `delivery`; default `delivery` when a
    /// `delivery_address` is given, else `takeout`. Only delivery pays the
    /// delivery fee.
    pub order_type: Option<OrderType>,
    /// Read only to default `order_type`.
    pub delivery_address: Option<serde_json::Value>,
    /// 1 to 50 lines, as an order takes them.
    pub items: Vec<LineInput>,
    pub coupon_code: Option<String>,
    /// The order body's other fields are accepted, so a cart sends what it
    /// will place, and not read: they do not change the price.
    pub customer_id: Option<serde_json::Value>,
    pub guest: Option<serde_json::Value>,
    pub source: Option<serde_json::Value>,
    pub table_number: Option<serde_json::Value>,
    pub delivery_location: Option<serde_json::Value>,
    pub payment_method: Option<serde_json::Value>,
    pub notes: Option<serde_json::Value>,
}

impl QuoteInput {
    /// Checks everything that needs no currency.
    pub(super) fn check(&self) -> Result<(), Problem> {
        let mut v = Violations::new();
        v.id("restaurant_id", self.restaurant_id);
        v.parsed("items", values::check_line_count(self.items.len()));
        for (i, line) in self.items.iter().enumerate() {
            line.check(&format!("items[{i}]"), &mut v);
        }
        check_coupon_code(self.coupon_code.as_deref(), &mut v);
        v.finish()
    }

    /// The request, once [`QuoteInput::check`] passed; `currency` prices
    /// any stated `unit_price`.
    pub(super) fn into_proto(self, currency: &str) -> Result<pb::QuoteOrderRequest, Problem> {
        let order_type = match (self.order_type, &self.delivery_address) {
            (Some(kind), _) => kind,
            (None, Some(_)) => OrderType::Delivery,
            (None, None) => OrderType::Takeout,
        };
        let mut v = Violations::new();
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(i, line)| line.into_proto(&format!("items[{i}]"), currency, &mut v))
            .collect();
        v.finish()?;
        Ok(pb::QuoteOrderRequest {
            restaurant_id: self.restaurant_id,
            order_type: order_type.to_proto(),
            items,
            coupon_code: self.coupon_code.unwrap_or_default(),
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

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use foodmesh_proto::common::v1 as common;

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
}
