//! Rows to domain values.

use foodmesh_shared::db::unsigned;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, Row};

use crate::domain::coupon::{Coupon, Discount, DiscountKind, Redemption};
use crate::domain::menu::{Category, MenuItem, OptionGroup};
use crate::domain::restaurant::{Coordinates, PostalAddress, Restaurant};

impl<'r> FromRow<'r, PgRow> for Restaurant {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let latitude: Option<f64> = row.try_get("latitude")?;
        let longitude: Option<f64> = row.try_get("longitude")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            cuisine_type: row.try_get("cuisine_type")?,
            address: PostalAddress {
                street: row.try_get("street")?,
                city: row.try_get("city")?,
                state: row.try_get("state")?,
                zip_code: row.try_get("zip_code")?,
                country: row.try_get("country")?,
            },
            location: latitude
                .zip(longitude)
                .map(|(latitude, longitude)| Coordinates {
                    latitude,
                    longitude,
                }),
            currency: row.try_get("currency")?,
            opening_hours: Vec::new(),
            timezone: row.try_get("timezone")?,
            delivery_fee_minor: row.try_get("delivery_fee_minor")?,
            avg_prep_minutes: unsigned::<i32>(row, "avg_prep_minutes")?,
            tax_rate_ppm: unsigned::<i32>(row, "tax_rate_ppm")?,
            active: row.try_get("active")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Category {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            position: row.try_get("position")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for MenuItem {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            price_minor: row.try_get("price_minor")?,
            currency: row.try_get("currency")?,
            category_id: row.try_get("category_id")?,
            available: row.try_get("available")?,
            image_url: row.try_get("image_url")?,
            option_group_ids: row.try_get("option_group_ids")?,
            position: row.try_get("position")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for OptionGroup {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            min_select: unsigned::<i32>(row, "min_select")?,
            max_select: unsigned::<i32>(row, "max_select")?,
            currency: row.try_get("currency")?,
            options: Vec::new(),
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Coupon {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let kind = match row.try_get::<&str, _>("kind")? {
            "percent" => DiscountKind::Percent,
            _ => DiscountKind::Fixed,
        };
        let discount = Discount::parse(kind, row.try_get("value")?).map_err(|why| {
            sqlx::Error::ColumnDecode {
                index: "value".to_owned(),
                source: why.into(),
            }
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            code: row.try_get("code")?,
            description: row.try_get("description")?,
            discount,
            valid_from: row.try_get("valid_from")?,
            valid_until: row.try_get("valid_until")?,
            min_order_minor: row.try_get("min_order_minor")?,
            currency: row.try_get("currency")?,
            max_redemptions: unsigned::<i64>(row, "max_redemptions")?,
            max_per_customer: unsigned::<i64>(row, "max_per_customer")?,
            first_n_customers: unsigned::<i64>(row, "first_n_customers")?,
            redemptions: unsigned::<i64>(row, "redemptions")?,
            active: row.try_get("active")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Redemption {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            coupon_id: row.try_get("coupon_id")?,
            code: row.try_get("code")?,
            order_ref: row.try_get("order_ref")?,
            customer_ref: row.try_get("customer_ref")?,
            discount_minor: row.try_get("discount_minor")?,
            currency: row.try_get("currency")?,
            released: row.try_get("released")?,
            redeemed_at: row.try_get("redeemed_at")?,
        })
    }
}
