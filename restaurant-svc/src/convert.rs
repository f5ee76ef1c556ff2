//! Domain values to the contract's messages and back, for the gRPC API:
//! written once, so a restaurant, a menu or a coupon reads the same on the
//! wire whichever call returns it. These only carry values across:
//! checking what a request asks for, field by field, is the gRPC layer's.

use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::restaurant::v1 as pb;

use crate::domain::coupon::{Coupon, DiscountKind, Redemption};
use crate::domain::menu::{Category, Menu, MenuItem, OptionGroup, OptionInput};
use crate::domain::pricing::PricedLines;
use crate::domain::restaurant::{Coordinates, PostalAddress, Restaurant};
use crate::watch::MenuChange;

// ----- proto → domain ------------------------------------------------------

pub(crate) fn postal_from_pb(address: &common::Address) -> PostalAddress {
    PostalAddress {
        street: address.street.clone(),
        city: address.city.clone(),
        state: address.state.clone(),
        zip_code: address.zip_code.clone(),
        country: address.country.clone(),
    }
}

pub(crate) fn coordinates_from_pb(at: common::GeoPoint) -> Coordinates {
    Coordinates {
        latitude: at.latitude,
        longitude: at.longitude,
    }
}

pub(crate) fn option_inputs(options: &[pb::OptionInput]) -> Vec<OptionInput> {
    options
        .iter()
        .map(|o| OptionInput {
            id: o.id,
            name: o.name.clone(),
            price_delta_minor: o.price_delta_minor,
            available: o.available,
        })
        .collect()
}

pub(crate) fn time_from_pb(at: prost_types::Timestamp) -> Result<DateTime<Utc>, String> {
    foodmesh_shared::timestamp::from_pb(&at).ok_or_else(|| "must be a valid timestamp".to_owned())
}

// ----- domain → proto ------------------------------------------------------

fn money(amount_minor: i64, currency: &str) -> Option<common::Money> {
    Some(common::Money {
        amount_minor,
        currency: currency.to_owned(),
    })
}

fn time_to_pb(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(foodmesh_shared::timestamp::to_pb(at))
}

fn address_to_pb(address: PostalAddress) -> Option<common::Address> {
    Some(common::Address {
        street: address.street,
        city: address.city,
        state: address.state,
        zip_code: address.zip_code,
        country: address.country,
    })
}

fn location_to_pb(location: Option<Coordinates>) -> Option<common::GeoPoint> {
    location.map(|at| common::GeoPoint {
        latitude: at.latitude,
        longitude: at.longitude,
    })
}

pub(crate) fn restaurant_to_pb(r: Restaurant) -> pb::Restaurant {
    pb::Restaurant {
        id: r.id,
        delivery_fee: money(r.delivery_fee_minor, &r.currency),
        name: r.name,
        description: r.description,
        phone: r.phone,
        email: r.email,
        cuisine_type: r.cuisine_type,
        address: address_to_pb(r.address),
        location: location_to_pb(r.location),
        currency: r.currency,
        opening_hours: r
            .opening_hours
            .into_iter()
            .map(|h| pb::OpeningHours {
                day_of_week: h.day_of_week,
                opens: h.opens.format("%H:%M").to_string(),
                closes: h.closes.format("%H:%M").to_string(),
            })
            .collect(),
        timezone: r.timezone,
        avg_prep_minutes: r.avg_prep_minutes,
        tax_rate_ppm: r.tax_rate_ppm,
        active: r.active,
        created_at: time_to_pb(r.created_at),
        updated_at: time_to_pb(r.updated_at),
    }
}

pub(crate) fn menu_to_pb(menu: Menu) -> pb::Menu {
    pb::Menu {
        restaurant_id: menu.restaurant_id,
        currency: menu.currency,
        categories: menu.categories.into_iter().map(category_to_pb).collect(),
        items: menu.items.into_iter().map(item_to_pb).collect(),
        option_groups: menu.option_groups.into_iter().map(group_to_pb).collect(),
    }
}

pub(crate) fn menu_change_to_pb(change: MenuChange) -> pb::MenuChange {
    use pb::menu_change::{Event, Gap, Subscribed};
    let event = match change {
        MenuChange::Subscribed => Event::Subscribed(Subscribed {}),
        MenuChange::Changed(id) => Event::RestaurantId(id),
        MenuChange::Gap => Event::Gap(Gap {}),
    };
    pb::MenuChange { event: Some(event) }
}

pub(crate) fn category_to_pb(c: Category) -> pb::Category {
    pb::Category {
        id: c.id,
        restaurant_id: c.restaurant_id,
        name: c.name,
        description: c.description,
        position: c.position,
    }
}

pub(crate) fn item_to_pb(item: MenuItem) -> pb::MenuItem {
    pb::MenuItem {
        id: item.id,
        restaurant_id: item.restaurant_id,
        price: money(item.price_minor, &item.currency),
        name: item.name,
        description: item.description,
        category_id: item.category_id.unwrap_or(0),
        available: item.available,
        image_url: item.image_url,
        option_group_ids: item.option_group_ids,
        position: item.position,
        updated_at: time_to_pb(item.updated_at),
    }
}

pub(crate) fn group_to_pb(group: OptionGroup) -> pb::OptionGroup {
    let currency = group.currency;
    pb::OptionGroup {
        id: group.id,
        restaurant_id: group.restaurant_id,
        name: group.name,
        min_select: group.min_select,
        max_select: group.max_select,
        options: group
            .options
            .into_iter()
            .map(|o| pb::Option {
                id: o.id,
                name: o.name,
                price_delta: money(o.price_delta_minor, &currency),
                available: o.available,
            })
            .collect(),
    }
}

pub(crate) fn priced_to_pb(restaurant: &Restaurant, priced: PricedLines) -> pb::PricedOrder {
    let currency = restaurant.currency.clone();
    pb::PricedOrder {
        restaurant_id: restaurant.id,
        restaurant_name: restaurant.name.clone(),
        lines: priced
            .lines
            .into_iter()
            .map(|line| pb::PricedLine {
                menu_item_id: line.menu_item_id,
                name: line.name,
                quantity: line.quantity,
                base_price: money(line.base_price_minor, &currency),
                options: line
                    .options
                    .into_iter()
                    .map(|o| pb::PricedOption {
                        option_id: o.option_id,
                        option_group_id: o.option_group_id,
                        name: o.name,
                        price_delta: money(o.price_delta_minor, &currency),
                    })
                    .collect(),
                unit_price: money(line.unit_price_minor, &currency),
                line_total: money(line.line_total_minor, &currency),
            })
            .collect(),
        subtotal: money(priced.subtotal_minor, &currency),
        delivery_fee: money(restaurant.delivery_fee_minor, &currency),
        tax_rate_ppm: restaurant.tax_rate_ppm,
        avg_prep_minutes: restaurant.avg_prep_minutes,
        address: address_to_pb(restaurant.address.clone()),
        location: location_to_pb(restaurant.location),
        currency,
    }
}

pub(crate) fn coupon_to_pb(c: Coupon) -> pb::Coupon {
    let kind = match c.discount.kind() {
        DiscountKind::Percent => pb::DiscountKind::Percent,
        DiscountKind::Fixed => pb::DiscountKind::Fixed,
    };
    pb::Coupon {
        id: c.id,
        restaurant_id: c.restaurant_id,
        code: c.code,
        kind: kind.into(),
        value: c.discount.value(),
        valid_from: time_to_pb(c.valid_from),
        valid_until: c.valid_until.and_then(time_to_pb),
        min_order: money(c.min_order_minor, &c.currency),
        max_redemptions: c.max_redemptions,
        max_per_customer: c.max_per_customer,
        first_n_customers: c.first_n_customers,
        redemptions: c.redemptions,
        active: c.active,
        description: c.description,
    }
}

pub(crate) fn redemption_to_pb(r: Redemption) -> pb::Redemption {
    pb::Redemption {
        id: r.id,
        coupon_id: r.coupon_id,
        code: r.code,
        order_ref: r.order_ref,
        customer_ref: r.customer_ref,
        discount: money(r.discount_minor, &r.currency),
        released: r.released,
        redeemed_at: time_to_pb(r.redeemed_at),
    }
}
