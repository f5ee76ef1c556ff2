//! Domain values to contract messages and back, for the two edges that
//! speak protobuf: the gRPC API and the event payloads. Written once, so an
//! order reads the same on the wire whichever way it leaves.

use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as pb;

use crate::domain::customer::Customer;
use crate::domain::order::{
    Actor, ActorKind, Contact, LineOption, Order, OrderSource, OrderStatus, OrderType,
    PaymentMethod, StatusChange,
};
use crate::domain::pricing::Quote;
use crate::domain::totals::Totals;
use crate::domain::{Coordinates, PostalAddress};

pub fn money(amount_minor: i64, currency: &str) -> Option<common::Money> {
    Some(common::Money {
        amount_minor,
        currency: currency.to_owned(),
    })
}

pub fn time_to_pb(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(foodmesh_shared::timestamp::to_pb(at))
}

/// A time from the wire.
///
/// # Errors
/// Out of range or with negative nanoseconds.
pub fn time_from_pb(at: prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    foodmesh_shared::timestamp::from_pb(&at).ok_or_else(|| "must be a valid timestamp".to_owned())
}

pub fn address_to_pb(a: &PostalAddress) -> common::Address {
    common::Address {
        street: a.street.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip_code: a.zip_code.clone(),
        country: a.country.clone(),
    }
}

/// An address from the wire, unchecked.
pub fn address_from_pb(a: &common::Address) -> PostalAddress {
    PostalAddress {
        street: a.street.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip_code: a.zip_code.clone(),
        country: a.country.clone(),
    }
}

fn location_to_pb(at: Coordinates) -> common::GeoPoint {
    common::GeoPoint {
        latitude: at.latitude,
        longitude: at.longitude,
    }
}

pub fn status_to_pb(status: OrderStatus) -> pb::OrderStatus {
    match status {
        OrderStatus::Pending => pb::OrderStatus::Pending,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::Preparing => pb::OrderStatus::Preparing,
        OrderStatus::Ready => pb::OrderStatus::Ready,
        OrderStatus::OutForDelivery => pb::OrderStatus::OutForDelivery,
        OrderStatus::Completed => pb::OrderStatus::Completed,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
    }
}

/// A status from the wire; `None` for unspecified or unknown values.
pub fn status_from_pb(raw: i32) -> Option<OrderStatus> {
    match pb::OrderStatus::try_from(raw).ok()? {
        pb::OrderStatus::Unspecified => None,
        pb::OrderStatus::Pending => Some(OrderStatus::Pending),
        pb::OrderStatus::Confirmed => Some(OrderStatus::Confirmed),
        pb::OrderStatus::Preparing => Some(OrderStatus::Preparing),
        pb::OrderStatus::Ready => Some(OrderStatus::Ready),
        pb::OrderStatus::OutForDelivery => Some(OrderStatus::OutForDelivery),
        pb::OrderStatus::Completed => Some(OrderStatus::Completed),
        pb::OrderStatus::Cancelled => Some(OrderStatus::Cancelled),
    }
}

pub fn order_type_to_pb(t: OrderType) -> pb::OrderType {
    match t {
        OrderType::DineIn => pb::OrderType::DineIn,
        OrderType::Takeout => pb::OrderType::Takeout,
        OrderType::Delivery => pb::OrderType::Delivery,
    }
}

/// An order type from the wire: `Ok(None)` for unspecified.
///
/// # Errors
/// A value the contract does not define.
pub fn order_type_from_pb(raw: i32) -> Result<Option<OrderType>, String> {
    match pb::OrderType::try_from(raw) {
        Ok(pb::OrderType::Unspecified) => Ok(None),
        Ok(pb::OrderType::DineIn) => Ok(Some(OrderType::DineIn)),
        Ok(pb::OrderType::Takeout) => Ok(Some(OrderType::Takeout)),
        Ok(pb::OrderType::Delivery) => Ok(Some(OrderType::Delivery)),
        Err(_) => Err("must be DINE_IN, TAKEOUT or DELIVERY".to_owned()),
    }
}

pub fn source_to_pb(s: OrderSource) -> pb::OrderSource {
    match s {
        OrderSource::Web => pb::OrderSource::Web,
        OrderSource::App => pb::OrderSource::App,
        OrderSource::Frontdesk => pb::OrderSource::Frontdesk,
        OrderSource::Phone => pb::OrderSource::Phone,
        OrderSource::Chat => pb::OrderSource::Chat,
    }
}

/// A source from the wire: `Ok(None)` for unspecified.
///
/// # Errors
/// A value the contract does not define.
pub fn source_from_pb(raw: i32) -> Result<Option<OrderSource>, String> {
    match pb::OrderSource::try_from(raw) {
        Ok(pb::OrderSource::Unspecified) => Ok(None),
        Ok(pb::OrderSource::Web) => Ok(Some(OrderSource::Web)),
        Ok(pb::OrderSource::App) => Ok(Some(OrderSource::App)),
        Ok(pb::OrderSource::Frontdesk) => Ok(Some(OrderSource::Frontdesk)),
        Ok(pb::OrderSource::Phone) => Ok(Some(OrderSource::Phone)),
        Ok(pb::OrderSource::Chat) => Ok(Some(OrderSource::Chat)),
        Err(_) => Err("must be WEB, APP, FRONTDESK, PHONE or CHAT".to_owned()),
    }
}

/// A payment method on the wire.
pub fn payment_to_pb(m: Option<PaymentMethod>) -> pb::PaymentMethod {
    match m {
        None => pb::PaymentMethod::Unspecified,
        Some(PaymentMethod::Card) => pb::PaymentMethod::Card,
        Some(PaymentMethod::Cash) => pb::PaymentMethod::Cash,
        Some(PaymentMethod::MobileMoney) => pb::PaymentMethod::MobileMoney,
    }
}

/// A payment method from the wire: `Ok(None)` for unspecified.
///
/// # Errors
/// A value the contract does not define.
pub fn payment_from_pb(raw: i32) -> Result<Option<PaymentMethod>, String> {
    match pb::PaymentMethod::try_from(raw) {
        Ok(pb::PaymentMethod::Unspecified) => Ok(None),
        Ok(pb::PaymentMethod::Card) => Ok(Some(PaymentMethod::Card)),
        Ok(pb::PaymentMethod::Cash) => Ok(Some(PaymentMethod::Cash)),
        Ok(pb::PaymentMethod::MobileMoney) => Ok(Some(PaymentMethod::MobileMoney)),
        Err(_) => Err("must be CARD, CASH or MOBILE_MONEY".to_owned()),
    }
}

/// An actor kind from the wire.
///
/// # Errors
/// Unspecified or unknown.
pub fn actor_kind_from_pb(raw: i32) -> Result<ActorKind, String> {
    match common::ActorKind::try_from(raw) {
        Ok(common::ActorKind::Customer) => Ok(ActorKind::Customer),
        Ok(common::ActorKind::Staff) => Ok(ActorKind::Staff),
        Ok(common::ActorKind::Driver) => Ok(ActorKind::Driver),
        Ok(common::ActorKind::Admin) => Ok(ActorKind::Admin),
        Ok(common::ActorKind::System) => Ok(ActorKind::System),
        Ok(common::ActorKind::Guest) => Ok(ActorKind::Guest),
        Ok(common::ActorKind::Unspecified) | Err(_) => {
            Err("is required: CUSTOMER, STAFF, DRIVER, ADMIN, SYSTEM or GUEST".to_owned())
        }
    }
}

pub fn actor_to_pb(actor: &Actor) -> common::Actor {
    let kind = match actor.kind {
        ActorKind::Customer => common::ActorKind::Customer,
        ActorKind::Staff => common::ActorKind::Staff,
        ActorKind::Driver => common::ActorKind::Driver,
        ActorKind::Admin => common::ActorKind::Admin,
        ActorKind::System => common::ActorKind::System,
        ActorKind::Guest => common::ActorKind::Guest,
    };
    common::Actor {
        kind: kind.into(),
        id: actor.id.clone(),
    }
}

/// A contact on the wire (the `Guest` message).
pub fn contact_to_pb(c: &Contact) -> pb::Guest {
    pb::Guest {
        name: c.name.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
    }
}

pub fn quote_to_pb(q: &Quote) -> pb::Quote {
    let currency = q.priced.currency.as_str();
    let t = q.totals;
    pb::Quote {
        restaurant_name: q.priced.restaurant_name.clone(),
        currency: currency.to_owned(),
        items: q
            .priced
            .lines
            .iter()
            .map(|l| pb::OrderLine {
                id: 0,
                menu_item_id: l.menu_item_id,
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor, currency),
                line_total: money(l.line_total_minor, currency),
                options: options_to_pb(&l.options, currency),
                special_instructions: String::new(),
            })
            .collect(),
        totals: Some(totals_to_pb(&t, currency)),
        tax_rate_ppm: q.priced.tax_rate_ppm,
        coupon_code: q.coupon_code.clone().unwrap_or_default(),
    }
}

fn options_to_pb(options: &[LineOption], currency: &str) -> Vec<pb::OrderLineOption> {
    options
        .iter()
        .map(|opt| pb::OrderLineOption {
            option_id: opt.option_id,
            name: opt.name.clone(),
            price_delta: money(opt.price_delta_minor, currency),
        })
        .collect()
}

fn totals_to_pb(t: &Totals, currency: &str) -> pb::Totals {
    pb::Totals {
        subtotal: money(t.subtotal_minor, currency),
        discount: money(t.discount_minor, currency),
        delivery_fee: money(t.delivery_fee_minor, currency),
        tax: money(t.tax_minor, currency),
        total: money(t.total_minor, currency),
    }
}

pub fn order_to_pb(o: &Order) -> pb::Order {
    let currency = o.currency.as_str();
    let t = o.totals;
    pb::Order {
        id: o.id,
        order_number: o.order_number.clone(),
        restaurant_id: o.restaurant_id,
        customer_id: o.customer_id,
        order_type: order_type_to_pb(o.order_type).into(),
        source: source_to_pb(o.source).into(),
        status: status_to_pb(o.status).into(),
        table_number: o.table_number.clone().unwrap_or_default(),
        delivery_address: o.delivery_address.as_ref().map(address_to_pb),
        items: o
            .lines
            .iter()
            .map(|l| pb::OrderLine {
                id: l.id,
                menu_item_id: l.menu_item_id,
                name: l.name.clone(),
                quantity: l.quantity,
                unit_price: money(l.unit_price_minor, currency),
                line_total: money(l.line_total_minor, currency),
                options: options_to_pb(&l.options, currency),
                special_instructions: l.special_instructions.clone(),
            })
            .collect(),
        coupon_code: o
            .coupon
            .as_ref()
            .map(|c| c.code.clone())
            .unwrap_or_default(),
        payment_method: payment_to_pb(o.payment_method).into(),
        totals: Some(totals_to_pb(&t, currency)),
        notes: o.notes.clone(),
        created_at: time_to_pb(o.created_at),
        updated_at: time_to_pb(o.updated_at),
        guest: o.guest,
        contact: Some(contact_to_pb(&o.contact)),
        restaurant_name: o.pickup.restaurant_name.clone(),
        currency: o.currency.clone(),
        tax_rate_ppm: o.tax_rate_ppm,
        prep_minutes: o.pickup.prep_minutes,
        restaurant_address: Some(address_to_pb(&o.pickup.address)),
        restaurant_location: o.pickup.location.map(location_to_pb),
        confirmed_at: o.confirmed_at.and_then(time_to_pb),
        delivery_location: o.delivery_location.map(location_to_pb),
        // The API's own view adds it: it depends on this instance's
        // window, and no event consumer needs it.
        customer_cancel_until: None,
    }
}

pub fn change_to_pb(c: &StatusChange) -> pb::StatusChange {
    pb::StatusChange {
        from: c
            .from
            .map_or(pb::OrderStatus::Unspecified, status_to_pb)
            .into(),
        to: status_to_pb(c.to).into(),
        actor: Some(actor_to_pb(&c.actor)),
        reason: c.reason.clone(),
        at: time_to_pb(c.at),
    }
}

pub fn customer_to_pb(c: &Customer) -> pb::Customer {
    pb::Customer {
        id: c.id,
        name: c.name.clone(),
        phone: c.phone.clone().unwrap_or_default(),
        email: c.email.clone(),
        saved_addresses: c.saved_addresses.iter().map(address_to_pb).collect(),
        preferred_payment_method: payment_to_pb(c.preferred_payment_method).into(),
        order_count: c.order_count,
        last_order_at: c.last_order_at.and_then(time_to_pb),
        registered: c.registered(),
        created_at: time_to_pb(c.created_at),
    }
}

/// What every order event carries: the order after the change, the
/// change, and what the kitchen, delivery and notifications need of it.
pub fn order_event(order: &Order, change: Option<&StatusChange>) -> OrderEvent {
    OrderEvent {
        order: Some(order_to_pb(order)),
        change: change.map(change_to_pb),
        contact: Some(contact_to_pb(&order.contact)),
        restaurant_address: Some(address_to_pb(&order.pickup.address)),
        restaurant_location: order.pickup.location.map(location_to_pb),
        prep_minutes: order.pickup.prep_minutes,
    }
}
