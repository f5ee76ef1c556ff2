//! Rows to domain values.

use foodmesh_shared::db::unsigned;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use crate::domain::customer::Customer;
use crate::domain::order::{
    Actor, ActorKind, AppliedCoupon, Contact, LineOption, Order, OrderLine, OrderSource,
    OrderStatus, OrderType, PaymentMethod, Pickup, StatusChange,
};
use crate::domain::totals::{CouponTerms, DiscountKind, Totals};
use crate::domain::{Coordinates, PostalAddress};

/// Reads a text column through `parse`, refusing spellings it does not know.
fn spelled<T>(row: &PgRow, column: &str, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let raw: &str = row.try_get(column)?;
    parse(raw).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown value `{raw}`").into(),
    })
}

/// Like [`spelled`] for a nullable column.
pub(super) fn spelled_opt<T>(
    row: &PgRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> sqlx::Result<Option<T>> {
    match row.try_get::<Option<&str>, _>(column)? {
        None => Ok(None),
        Some(_) => spelled(row, column, parse).map(Some),
    }
}

/// A point kept as two nullable columns, present when both are.
fn point(row: &PgRow, latitude: &str, longitude: &str) -> sqlx::Result<Option<Coordinates>> {
    let latitude: Option<f64> = row.try_get(latitude)?;
    let longitude: Option<f64> = row.try_get(longitude)?;
    Ok(latitude
        .zip(longitude)
        .map(|(latitude, longitude)| Coordinates {
            latitude,
            longitude,
        }))
}

impl<'r> FromRow<'r, PgRow> for Order {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let delivery_street: Option<String> = row.try_get("delivery_street")?;
        let delivery_address = match delivery_street {
            Some(street) => Some(PostalAddress {
                street,
                city: row
                    .try_get::<Option<String>, _>("delivery_city")?
                    .unwrap_or_default(),
                state: row
                    .try_get::<Option<String>, _>("delivery_state")?
                    .unwrap_or_default(),
                zip_code: row
                    .try_get::<Option<String>, _>("delivery_zip_code")?
                    .unwrap_or_default(),
                country: row
                    .try_get::<Option<String>, _>("delivery_country")?
                    .unwrap_or_default(),
            }),
            None => None,
        };
        let coupon = match row.try_get::<Option<String>, _>("coupon_code")? {
            Some(code) => Some(AppliedCoupon {
                code,
                terms: CouponTerms {
                    kind: spelled(row, "coupon_kind", DiscountKind::from_db)?,
                    value: row.try_get::<Option<i64>, _>("coupon_value")?.unwrap_or(0),
                    min_order_minor: row
                        .try_get::<Option<i64>, _>("coupon_min_order_minor")?
                        .unwrap_or(0),
                },
            }),
            None => None,
        };
        let delivery_location = point(row, "delivery_latitude", "delivery_longitude")?;
        let pickup_location = point(row, "pickup_latitude", "pickup_longitude")?;
        Ok(Self {
            id: row.try_get("id")?,
            order_number: row.try_get("order_number")?,
            restaurant_id: row.try_get("restaurant_id")?,
            // NULL for a walk-in order.
            customer_id: row.try_get::<Option<i64>, _>("customer_id")?.unwrap_or(0),
            guest: row.try_get("guest")?,
            contact: Contact {
                name: row.try_get("contact_name")?,
                phone: row.try_get("contact_phone")?,
                email: row.try_get("contact_email")?,
            },
            order_type: spelled(row, "order_type", OrderType::from_db)?,
            source: spelled(row, "source", OrderSource::from_db)?,
            status: spelled(row, "status", OrderStatus::from_db)?,
            table_number: row.try_get("table_number")?,
            delivery_address,
            delivery_location,
            lines: Vec::new(),
            currency: row.try_get("currency")?,
            totals: Totals {
                subtotal_minor: row.try_get("subtotal_minor")?,
                discount_minor: row.try_get("discount_minor")?,
                delivery_fee_minor: row.try_get("delivery_fee_minor")?,
                tax_minor: row.try_get("tax_minor")?,
                total_minor: row.try_get("total_minor")?,
            },
            tax_rate_ppm: unsigned::<i32>(row, "tax_rate_ppm")?,
            coupon,
            payment_method: spelled_opt(row, "payment_method", PaymentMethod::from_db)?,
            notes: row.try_get("notes")?,
            pickup: Pickup {
                restaurant_name: row.try_get("restaurant_name")?,
                address: PostalAddress {
                    street: row.try_get("pickup_street")?,
                    city: row.try_get("pickup_city")?,
                    state: row.try_get("pickup_state")?,
                    zip_code: row.try_get("pickup_zip_code")?,
                    country: row.try_get("pickup_country")?,
                },
                location: pickup_location,
                prep_minutes: unsigned::<i32>(row, "prep_minutes")?,
            },
            version: row.try_get("version")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            confirmed_at: row.try_get("confirmed_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for OrderLine {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let ids: Vec<i64> = row.try_get("option_ids")?;
        let names: Vec<String> = row.try_get("option_names")?;
        let deltas: Vec<i64> = row.try_get("option_deltas_minor")?;
        let options = ids
            .into_iter()
            .zip(names)
            .zip(deltas)
            .map(|((option_id, name), price_delta_minor)| LineOption {
                option_id,
                name,
                price_delta_minor,
            })
            .collect();
        Ok(Self {
            id: row.try_get("id")?,
            menu_item_id: row.try_get("menu_item_id")?,
            name: row.try_get("name")?,
            quantity: unsigned::<i32>(row, "quantity")?,
            unit_price_minor: row.try_get("unit_price_minor")?,
            line_total_minor: row.try_get("line_total_minor")?,
            options,
            special_instructions: row.try_get("special_instructions")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for StatusChange {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            from: spelled_opt(row, "from_status", OrderStatus::from_db)?,
            to: spelled(row, "to_status", OrderStatus::from_db)?,
            actor: Actor {
                kind: spelled(row, "actor_kind", ActorKind::from_db)?,
                id: row.try_get("actor_id")?,
            },
            reason: row.try_get("reason")?,
            at: row.try_get("at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Customer {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            saved_addresses: Vec::new(),
            preferred_payment_method: spelled_opt(
                row,
                "preferred_payment_method",
                PaymentMethod::from_db,
            )?,
            order_count: unsigned::<i32>(row, "order_count")?,
            last_order_at: row.try_get("last_order_at")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
