//! Domain values to contract messages and back: the gRPC API, the
//! `delivery.*` event payload, and the orders order-svc's events carry.

use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_proto::events::v1::{DeliveryEvent, OrderEvent};
use foodmesh_proto::order::v1 as order_pb;
use foodmesh_shared::values::{Coordinates, PostalAddress};

use crate::domain::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::domain::driver::Driver;

pub(crate) use foodmesh_shared::timestamp::{from_pb as time_of, to_pb as timestamp};

fn address(a: &PostalAddress) -> common::Address {
    common::Address {
        street: a.street.clone(),
        city: a.city.clone(),
        state: a.state.clone(),
        zip_code: a.zip_code.clone(),
        country: a.country.clone(),
    }
}

fn postal(a: Option<&common::Address>) -> PostalAddress {
    let a = a.cloned().unwrap_or_default();
    PostalAddress {
        street: a.street,
        city: a.city,
        state: a.state,
        zip_code: a.zip_code,
        country: a.country,
    }
}

pub(crate) fn geo(c: Coordinates) -> common::GeoPoint {
    common::GeoPoint {
        latitude: c.latitude,
        longitude: c.longitude,
    }
}

pub(crate) fn coordinates(p: &common::GeoPoint) -> Coordinates {
    Coordinates {
        latitude: p.latitude,
        longitude: p.longitude,
    }
}

pub(crate) fn status_to_pb(status: DeliveryStatus) -> pb::DeliveryStatus {
    use DeliveryStatus as S;
    match status {
        S::Pending => pb::DeliveryStatus::Pending,
        S::Assigned => pb::DeliveryStatus::Assigned,
        S::PickedUp => pb::DeliveryStatus::PickedUp,
        S::Delivered => pb::DeliveryStatus::Delivered,
        S::Failed => pb::DeliveryStatus::Failed,
        S::Cancelled => pb::DeliveryStatus::Cancelled,
    }
}

pub(crate) fn status_from_pb(raw: i32) -> Option<DeliveryStatus> {
    use DeliveryStatus as S;
    match pb::DeliveryStatus::try_from(raw).ok()? {
        pb::DeliveryStatus::Pending => Some(S::Pending),
        pb::DeliveryStatus::Assigned => Some(S::Assigned),
        pb::DeliveryStatus::PickedUp => Some(S::PickedUp),
        pb::DeliveryStatus::Delivered => Some(S::Delivered),
        pb::DeliveryStatus::Failed => Some(S::Failed),
        pb::DeliveryStatus::Cancelled => Some(S::Cancelled),
        pb::DeliveryStatus::Unspecified => None,
    }
}

pub(crate) fn delivery(d: &Delivery) -> pb::Delivery {
    pb::Delivery {
        id: d.id,
        order_id: d.order_id,
        tracking_id: d.tracking_id.clone(),
        status: status_to_pb(d.status) as i32,
        pickup_address: Some(address(&d.pickup_address)),
        pickup_location: d.pickup_location.map(geo),
        dropoff_address: Some(address(&d.dropoff_address)),
        driver_id: d.driver_id.unwrap_or_default(),
        eta: d.eta.map(timestamp),
        reason: d.reason.clone(),
        created_at: Some(timestamp(d.created_at)),
        delivered_at: d.delivered_at.map(timestamp),
        restaurant_id: d.restaurant_id,
        updated_at: Some(timestamp(d.updated_at)),
        ready_by: Some(timestamp(d.ready_by)),
        driver_first_name: String::new(),
        driver_location: None,
        driver_seen_at: None,
    }
}

pub(crate) fn driver(d: &Driver) -> pb::Driver {
    pb::Driver {
        id: d.id,
        name: d.name.clone(),
        phone: d.phone.clone(),
        vehicle: d.vehicle.clone(),
        available: d.available,
        location: d.location.map(|(l, _)| geo(l.coordinates())),
        location_at: d.location.map(|(_, at)| timestamp(at)),
        active_deliveries: u32::try_from(d.active).unwrap_or(0),
    }
}

pub(crate) fn delivery_event(d: &Delivery) -> DeliveryEvent {
    DeliveryEvent {
        delivery: Some(delivery(d)),
    }
}

/// The delivery a confirmed delivery order needs, or `None` for an order
/// that is not delivered. The food is expected ready `prep_minutes` after
/// the order's confirmation (or `now`, when the order does not say).
pub(crate) fn new_delivery(event: &OrderEvent, now: DateTime<Utc>) -> Option<NewDelivery> {
    let order = event.order.as_ref()?;
    let mut new = delivery_of_order(order, now)?;
    if let Some(address) = &event.restaurant_address {
        new.pickup_address = postal(Some(address));
    }
    if let Some(location) = &event.restaurant_location {
        new.pickup_location = Some(coordinates(location));
    }
    if event.prep_minutes > order.prep_minutes {
        new.ready_by =
            confirmed_at(order, now) + chrono::Duration::minutes(i64::from(event.prep_minutes));
    }
    Some(new)
}

fn confirmed_at(order: &order_pb::Order, now: DateTime<Utc>) -> DateTime<Utc> {
    order.confirmed_at.as_ref().and_then(time_of).unwrap_or(now)
}

/// The delivery `order` needs, from the order alone, or `None` for an
/// order that is not delivered.
pub(crate) fn delivery_of_order(
    order: &order_pb::Order,
    now: DateTime<Utc>,
) -> Option<NewDelivery> {
    if order.order_type != order_pb::OrderType::Delivery as i32 {
        return None;
    }
    Some(NewDelivery {
        order_id: order.id,
        restaurant_id: order.restaurant_id,
        pickup_address: postal(order.restaurant_address.as_ref()),
        pickup_location: order.restaurant_location.as_ref().map(coordinates),
        dropoff_address: postal(order.delivery_address.as_ref()),
        dropoff_location: order.delivery_location.as_ref().map(coordinates),
        ready_by: confirmed_at(order, now)
            + chrono::Duration::minutes(i64::from(order.prep_minutes)),
    })
}
