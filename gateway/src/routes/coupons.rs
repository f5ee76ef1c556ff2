//! `/api/restaurants/{id}/coupons`: a restaurant's discount codes. Only
//! its managers (admins, its staff) see or change them; customers use a
//! code when they order.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::values::{CouponCode, limits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AppState, Created, amount, created, from_timestamp, to_timestamp};
use crate::auth::Manager;
use crate::extract::{JsonBody, NestedId, RestaurantId};
use crate::money::{Decimal, DecimalText};
use crate::problem::Problem;
use crate::validate::{Violations, nullable};

/// How a coupon discounts an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiscountType {
    /// `value` is a percentage of the subtotal (`10`, `12.5`).
    Percent,
    /// `value` is an amount in the restaurant's currency (`5.00`).
    Fixed,
}

impl DiscountType {
    fn into_proto(self) -> pb::DiscountKind {
        match self {
            DiscountType::Percent => pb::DiscountKind::Percent,
            DiscountType::Fixed => pb::DiscountKind::Fixed,
        }
    }
}

/// A coupon as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 4, "restaurant_id": 1, "code": "WELCOME10", "description": "10% off your first order",
    "discount_type": "percent", "value": 10, "currency": "USD",
    "valid_from": "2026-11-23T00:00:00Z", "valid_until": null, "min_order": 15.00,
    "max_redemptions": 100, "max_per_customer": 1, "first_n_customers": 0,
    "redemptions": 12, "active": true
}))]
pub struct CouponView {
    pub id: i64,
    pub restaurant_id: i64,
    /// The code customers type, upper case; matched case-insensitively.
    pub code: String,
    /// Shown to customers.
    pub description: String,
    pub discount_type: DiscountType,
    /// A percentage (`10`, `12.5`) or an amount in `currency` (`5.00`).
    pub value: Decimal,
    /// ISO 4217 code of the amounts.
    pub currency: String,
    /// From when it can be used.
    pub valid_from: Option<DateTime<Utc>>,
    /// Until when; null for no end.
    pub valid_until: Option<DateTime<Utc>>,
    /// Smallest subtotal it applies to.
    pub min_order: Decimal,
    /// Total uses allowed; 0 means unlimited.
    pub max_redemptions: u32,
    /// Uses per customer; 0 means unlimited.
    pub max_per_customer: u32,
    /// Only the first N distinct customers may use it; 0 means no such rule.
    pub first_n_customers: u32,
    /// Uses currently held (released ones excluded).
    pub redemptions: u32,
    /// Switched on and off by its managers; an active coupon still applies
    /// only within its validity and its limits.
    pub active: bool,
}

impl CouponView {
    fn from_proto(c: pb::Coupon, currency: &str) -> Result<Self, Problem> {
        let (min_order, currency) = amount(c.min_order.as_ref(), currency)?;
        let discount_type = if c.kind == pb::DiscountKind::Fixed as i32 {
            DiscountType::Fixed
        } else {
            DiscountType::Percent
        };
        let value = match discount_type {
            DiscountType::Percent => Decimal::percent_from_bps(c.value),
            DiscountType::Fixed => {
                amount(
                    Some(&foodmesh_proto::common::v1::Money {
                        amount_minor: c.value,
                        currency: currency.clone(),
                    }),
                    &currency,
                )?
                .0
            }
        };
        Ok(Self {
            id: c.id,
            restaurant_id: c.restaurant_id,
            code: c.code,
            description: c.description,
            discount_type,
            value,
            currency,
            valid_from: from_timestamp(c.valid_from.as_ref()),
            valid_until: from_timestamp(c.valid_until.as_ref()),
            min_order,
            max_redemptions: c.max_redemptions,
            max_per_customer: c.max_per_customer,
            first_n_customers: c.first_n_customers,
            redemptions: c.redemptions,
            active: c.active,
        })
    }
}

/// A restaurant's coupons.
#[derive(Debug, Serialize, ToSchema)]
pub struct CouponList {
    pub items: Vec<CouponView>,
}

/// The body of `POST /api/restaurants/{id}/coupons`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "code": "WELCOME10", "description": "10% off your first order",
    "discount_type": "percent", "value": 10, "min_order": "15.00",
    "max_redemptions": 100, "max_per_customer": 1,
    "valid_until": "2026-12-31T23:59:59Z"
}))]
pub struct NewCoupon {
    /// The code customers type: letters, digits, `_` and `-`, matched
    /// case-insensitively.
    #[schema(min_length = 3, max_length = 32)]
    pub code: String,
    /// Shown to customers.
    #[serde(default)]
    pub description: String,
    pub discount_type: DiscountType,
    /// A percentage above 0 and at most 100 (`10`, `12.5`), or an amount
    /// above 0 in the restaurant's currency.
    pub value: DecimalText,
    /// RFC 3339; default now.
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    /// RFC 3339; default no end.
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// Smallest subtotal it applies to; default 0.
    #[serde(default)]
    pub min_order: Option<DecimalText>,
    /// Total uses allowed; default 0, unlimited.
    #[serde(default)]
    pub max_redemptions: Option<u32>,
    /// Uses per customer; default 0, unlimited.
    #[serde(default)]
    pub max_per_customer: Option<u32>,
    /// Only the first N distinct customers; default 0, no such rule.
    #[serde(default)]
    pub first_n_customers: Option<u32>,
}

impl NewCoupon {
    fn into_proto(
        self,
        restaurant_id: i64,
        currency: &str,
    ) -> Result<pb::CreateCouponRequest, Problem> {
        let mut v = Violations::new();
        v.parsed("code", CouponCode::parse(&self.code));
        v.at_most("description", &self.description, limits::COUPON_DESCRIPTION);
        let value = match self.discount_type {
            DiscountType::Percent => i64::from(v.percent("value", &self.value)),
            DiscountType::Fixed => v.amount("value", &self.value, currency),
        };
        if value == 0 && !v.has("value") {
            v.add("value", "must be more than 0");
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && until <= from
        {
            v.add("valid_until", "must be after valid_from");
        }
        let min_order_minor = self
            .min_order
            .as_ref()
            .map_or(0, |m| v.amount("min_order", m, currency));
        v.finish()?;
        Ok(pb::CreateCouponRequest {
            restaurant_id,
            code: self.code,
            description: self.description,
            kind: self.discount_type.into_proto() as i32,
            value,
            valid_from: self.valid_from.map(to_timestamp),
            valid_until: self.valid_until.map(to_timestamp),
            min_order_minor,
            max_redemptions: self.max_redemptions.unwrap_or(0),
            max_per_customer: self.max_per_customer.unwrap_or(0),
            first_n_customers: self.first_n_customers.unwrap_or(0),
        })
    }
}

/// The body of `PATCH /api/restaurants/{id}/coupons/{coupon_id}`: only the
/// fields sent change.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"active": false}))]
pub struct CouponPatch {
    /// Turn it on or off.
    pub active: Option<bool>,
    pub description: Option<String>,
    /// A new end, or null for none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// New total limit; 0 means unlimited.
    pub max_redemptions: Option<u32>,
}

/// Add a coupon
///
/// Adds a discount code to the restaurant and answers 201 with it; `Location` names it. A
/// `percent` coupon's `value` is a percentage above 0 and at most 100, a `fixed` one's an
/// amount in the restaurant's currency; limits of 0 mean no limit. Codes are matched
/// case-insensitively, and one the restaurant already has is 409 `coupon_code_taken`; customers
/// redeem a coupon with `coupon_code` when they order.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/restaurants/{id}/coupons",
    tag = "coupons",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    request_body = NewCoupon,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = CouponView,
            headers(("Location" = String, description = "Path of the new coupon"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_coupon(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
    JsonBody(body): JsonBody<NewCoupon>,
) -> Result<Created<CouponView>, Problem> {
    let id = manager.path.0;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(id).await?;
    let request = body.into_proto(id, &currency)?;
    let coupon = restaurants.create_coupon(request).await?;
    let view = CouponView::from_proto(coupon, &currency)?;
    Ok(created(
        &format!("/api/restaurants/{id}/coupons/{}", view.id),
        view,
    ))
}

/// List a restaurant's coupons
///
/// Answers the restaurant's coupons with their terms and `redemptions`, the uses each holds
/// now.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/coupons",
    tag = "coupons",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    responses((status = 200, description = "The coupons.", body = CouponList)),
    security(("bearer" = []))
)]
pub async fn list_coupons(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
) -> Result<Json<CouponList>, Problem> {
    let id = manager.path.0;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(id).await?;
    let answer = restaurants
        .list_coupons(pb::ListCouponsRequest { restaurant_id: id })
        .await?;
    let items = answer
        .coupons
        .into_iter()
        .map(|c| CouponView::from_proto(c, &currency))
        .collect::<Result<_, _>>()?;
    Ok(Json(CouponList { items }))
}

/// Read a coupon
///
/// Answers one coupon of the restaurant; an id that is not one of its coupons is 404
/// `coupon_not_found`.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/coupons/{coupon_id}",
    tag = "coupons",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("coupon_id" = i64, Path, description = "Coupon id", minimum = 1),
    ),
    responses((status = 200, description = "The coupon.", body = CouponView)),
    security(("bearer" = []))
)]
pub async fn get_coupon(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
) -> Result<Json<CouponView>, Problem> {
    let ids = manager.path;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(ids.restaurant_id).await?;
    let answer = restaurants
        .list_coupons(pb::ListCouponsRequest {
            restaurant_id: ids.restaurant_id,
        })
        .await?;
    let coupon = answer
        .coupons
        .into_iter()
        .find(|c| c.id == ids.id)
        .ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::NOT_FOUND,
                "coupon_not_found",
                format!("Restaurant {} has no coupon {}.", ids.restaurant_id, ids.id),
            )
        })?;
    Ok(Json(CouponView::from_proto(coupon, &currency)?))
}

/// Update a coupon
///
/// Changes only the fields sent: `active` turns it on or off, `valid_until` moves its end (null:
/// no end), `max_redemptions` raises (or sets) its total limit, 0 meaning unlimited, and
/// `description`. An end before its start is 422 naming `valid_until`.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    patch,
    path = "/api/restaurants/{id}/coupons/{coupon_id}",
    tag = "coupons",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("coupon_id" = i64, Path, description = "Coupon id", minimum = 1),
    ),
    request_body = CouponPatch,
    responses((status = 200, description = "The changed coupon.", body = CouponView)),
    security(("bearer" = []))
)]
pub async fn update_coupon(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
    JsonBody(body): JsonBody<CouponPatch>,
) -> Result<Json<CouponView>, Problem> {
    let ids = manager.path;
    let mut v = Violations::new();
    v.at_most_if_some(
        "description",
        body.description.as_deref(),
        limits::COUPON_DESCRIPTION,
    );
    v.finish()?;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(ids.restaurant_id).await?;
    let coupon = restaurants
        .update_coupon(pb::UpdateCouponRequest {
            restaurant_id: ids.restaurant_id,
            coupon_id: ids.id,
            active: body.active,
            description: body.description,
            valid_until: body.valid_until.flatten().map(to_timestamp),
            clear_valid_until: body.valid_until == Some(None),
            max_redemptions: body.max_redemptions,
        })
        .await?;
    Ok(Json(CouponView::from_proto(coupon, &currency)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn a_percent_coupon_is_sent_in_basis_points() {
        let body: NewCoupon = parse_json(
            br#"{"code": "WELCOME", "discount_type": "percent", "value": 12.5, "min_order": "15"}"#,
        )
        .expect("parses");
        let request = body.into_proto(1, "USD").expect("valid");
        assert_eq!(request.value, 1250);
        assert_eq!(request.kind, pb::DiscountKind::Percent as i32);
        assert_eq!(request.min_order_minor, 1500);
    }

    #[test]
    fn a_fixed_coupon_is_sent_in_minor_units() {
        let body: NewCoupon =
            parse_json(br#"{"code": "FIVE", "discount_type": "fixed", "value": "5.00"}"#)
                .expect("parses");
        let request = body.into_proto(1, "USD").expect("valid");
        assert_eq!(request.value, 500);
        assert_eq!(request.kind, pb::DiscountKind::Fixed as i32);
    }

    #[test]
    fn an_unknown_discount_type_names_the_field() {
        let problem =
            parse_json::<NewCoupon>(br#"{"code": "X", "discount_type": "bogo", "value": 1}"#)
                .expect_err("refused");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "discount_type");
    }

    #[test]
    fn zero_over_100_and_backwards_windows_are_refused() {
        let body: NewCoupon = parse_json(
            br#"{"code": "A B", "discount_type": "percent", "value": 0,
                 "valid_from": "2026-12-01T00:00:00Z", "valid_until": "2026-11-01T00:00:00Z"}"#,
        )
        .expect("parses");
        let problem = body.into_proto(1, "USD").expect_err("refused");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["code", "value", "valid_until"]);

        let body: NewCoupon =
            parse_json(br#"{"code": "SAVE10", "discount_type": "percent", "value": 101}"#)
                .expect("parses");
        let problem = body.into_proto(1, "USD").expect_err("refused");
        assert_eq!(problem.errors[0].field, "value");
    }

    #[test]
    fn values_show_as_percentages_or_amounts() {
        let coupon = |kind: pb::DiscountKind, value| pb::Coupon {
            id: 1,
            restaurant_id: 1,
            code: "X".to_owned(),
            kind: kind as i32,
            value,
            ..Default::default()
        };
        let view =
            CouponView::from_proto(coupon(pb::DiscountKind::Percent, 1250), "USD").expect("view");
        assert_eq!(view.value.as_str(), "12.5");
        assert_eq!(view.min_order.as_str(), "0.00");
        let view =
            CouponView::from_proto(coupon(pb::DiscountKind::Fixed, 500), "USD").expect("view");
        assert_eq!(view.value.as_str(), "5.00");
        assert_eq!(view.currency, "USD");
    }
}
