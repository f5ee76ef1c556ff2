//! `/api/restaurants` and `/api/restaurants/{id}`: the restaurants
//! themselves. The JSON keeps the original API's field names (`cuisine_type`,
//! `address.zip_code`, `location.latitude`) so its curl examples still work;
//! money is decimal (`delivery_fee: 2.50`) and the tax rate a percentage
//! with up to four decimals (`tax_rate: 8.875`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::money;
use foodmesh_shared::validate::Phone;
use foodmesh_shared::values::{self, Email, limits};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Created, amount, created, from_timestamp};
use crate::auth::{Admin, Manager, MaybeCaller, Role};
use crate::extract::{JsonBody, QueryParams, RestaurantId};
use crate::money::{Decimal, DecimalText};
use crate::problem::Problem;
use crate::validate::{Violations, is_clock_time};

/// The currency of a restaurant created without one.
pub const DEFAULT_CURRENCY: &str = "USD";

/// A postal address, as the original API spelled it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "street": "123 Main St", "city": "New York", "state": "NY",
    "zip_code": "10001", "country": "US"
}))]
pub struct Address {
    /// Street and number.
    pub street: String,
    pub city: String,
    /// State or region; may be empty where there is none.
    pub state: String,
    /// Postal code; may be empty where there is none.
    pub zip_code: String,
    /// ISO 3166-1 alpha-2 country code.
    pub country: String,
}

impl Address {
    /// Records what is wrong with the address under `prefix`
    /// (`address.street`, `delivery_address.city`).
    pub fn check(&self, prefix: &str, v: &mut Violations) {
        let parts = values::PostalAddress {
            street: self.street.clone(),
            city: self.city.clone(),
            state: self.state.clone(),
            zip_code: self.zip_code.clone(),
            country: self.country.clone(),
        };
        v.nested(prefix, values::Address::parse(&parts));
    }

    pub fn into_proto(self) -> common::Address {
        common::Address {
            street: self.street,
            city: self.city,
            state: self.state,
            zip_code: self.zip_code,
            country: self.country,
        }
    }

    pub fn from_proto(a: common::Address) -> Self {
        Self {
            street: a.street,
            city: a.city,
            state: a.state,
            zip_code: a.zip_code,
            country: a.country,
        }
    }
}

/// A restaurant's phone: E.164, or empty when it gives none.
fn check_phone(phone: &str, v: &mut Violations) {
    if !phone.trim().is_empty() {
        v.parsed("phone", Phone::parse(phone));
    }
}

/// A point in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"latitude": 40.7128, "longitude": -74.0060}))]
pub struct Location {
    /// -90 to 90.
    pub latitude: f64,
    /// -180 to 180.
    pub longitude: f64,
}

impl Location {
    fn check(&self, v: &mut Violations) {
        let at = values::Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        };
        v.nested("location", values::Location::parse(at));
    }

    fn into_proto(self) -> common::GeoPoint {
        common::GeoPoint {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }
}

/// One opening span in the restaurant's time zone. A span that closes at or
/// before it opens runs past midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"day_of_week": 1, "opens": "11:00", "closes": "22:00"}))]
pub struct OpeningHours {
    /// ISO weekday: 1 = Monday … 7 = Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub day_of_week: u32,
    /// `HH:MM`, 24-hour clock.
    pub opens: String,
    /// `HH:MM`, 24-hour clock.
    pub closes: String,
}

fn check_hours(hours: &[OpeningHours], v: &mut Violations) {
    for (i, span) in hours.iter().enumerate() {
        if !(1..=7).contains(&span.day_of_week) {
            v.add(
                format!("opening_hours[{i}].day_of_week"),
                "must be 1 (Monday) to 7 (Sunday)",
            );
        }
        if !is_clock_time(&span.opens) {
            v.add(format!("opening_hours[{i}].opens"), "must be HH:MM");
        }
        if !is_clock_time(&span.closes) {
            v.add(format!("opening_hours[{i}].closes"), "must be HH:MM");
        }
    }
}

fn hours_into_proto(hours: Vec<OpeningHours>) -> Vec<pb::OpeningHours> {
    hours
        .into_iter()
        .map(|h| pb::OpeningHours {
            day_of_week: h.day_of_week,
            opens: h.opens,
            closes: h.closes,
        })
        .collect()
}

/// A currency code in upper case, if the platform knows it.
fn check_currency(code: &str, v: &mut Violations) -> String {
    let upper = code.trim().to_ascii_uppercase();
    if let Err(e) = money::exponent(&upper) {
        v.add("currency", e.to_string());
    }
    upper
}

/// The body of `POST /api/restaurants`. Only `name` and `address` are
/// required; the rest has defaults.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Pizza Palace",
    "description": "Best pizza in town",
    "phone": "+1234567890",
    "email": "info@pizzapalace.com",
    "cuisine_type": "Italian",
    "address": {"street": "123 Main St", "city": "New York", "state": "NY", "zip_code": "10001", "country": "US"},
    "location": {"latitude": 40.7128, "longitude": -74.0060},
    "currency": "USD",
    "delivery_fee": 2.50,
    "tax_rate": 8.875,
    "opening_hours": [{"day_of_week": 1, "opens": "11:00", "closes": "22:00"}],
    "timezone": "America/New_York"
}))]
pub struct NewRestaurant {
    /// Shown to customers.
    #[schema(max_length = 200)]
    pub name: String,
    /// Free text.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub description: String,
    /// E.164 (`+1234567890`).
    #[serde(default)]
    pub phone: String,
    /// Contact address.
    #[serde(default)]
    pub email: String,
    /// e.g. `Italian`.
    #[serde(default)]
    pub cuisine_type: String,
    /// Where orders are picked up.
    pub address: Address,
    /// For delivery distances.
    #[serde(default)]
    pub location: Option<Location>,
    /// ISO 4217 code every price of the restaurant is in; default `USD`.
    #[serde(default)]
    pub currency: Option<String>,
    /// Weekly opening spans.
    #[serde(default)]
    pub opening_hours: Vec<OpeningHours>,
    /// IANA time zone the hours are read in; default `UTC`.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Decimal amount added to delivery orders; default 0.
    #[serde(default)]
    pub delivery_fee: Option<DecimalText>,
    /// Typical minutes from confirmation to ready.
    #[serde(default)]
    pub avg_prep_minutes: Option<u32>,
    /// Sales tax as a percentage, up to four decimals (`8.875`); default 0.
    #[serde(default)]
    pub tax_rate: Option<DecimalText>,
    /// Whether it takes orders; default true.
    #[serde(default)]
    pub active: Option<bool>,
}

impl NewRestaurant {
    fn into_proto(self) -> Result<pb::CreateRestaurantRequest, Problem> {
        let mut v = Violations::new();
        v.required("name", &self.name, limits::RESTAURANT_NAME);
        v.at_most("description", &self.description, limits::DESCRIPTION);
        check_phone(&self.phone, &mut v);
        v.parsed("email", Email::parse(&self.email));
        v.at_most("cuisine_type", &self.cuisine_type, limits::CUISINE);
        self.address.check("address", &mut v);
        if let Some(location) = &self.location {
            location.check(&mut v);
        }
        let currency = check_currency(self.currency.as_deref().unwrap_or(DEFAULT_CURRENCY), &mut v);
        check_hours(&self.opening_hours, &mut v);
        v.at_most_if_some("timezone", self.timezone.as_deref(), limits::TIMEZONE);
        let delivery_fee_minor = self
            .delivery_fee
            .as_ref()
            .map_or(0, |fee| v.amount("delivery_fee", fee, &currency));
        let tax_rate_ppm = self
            .tax_rate
            .as_ref()
            .map_or(0, |rate| v.tax_rate("tax_rate", rate));
        v.finish()?;
        Ok(pb::CreateRestaurantRequest {
            restaurant: Some(pb::RestaurantInput {
                name: self.name,
                description: self.description,
                phone: self.phone,
                email: self.email,
                cuisine_type: self.cuisine_type,
                address: Some(self.address.into_proto()),
                location: self.location.map(Location::into_proto),
                currency,
                opening_hours: hours_into_proto(self.opening_hours),
                timezone: self.timezone.unwrap_or_default(),
                delivery_fee_minor,
                avg_prep_minutes: self.avg_prep_minutes.unwrap_or(0),
                tax_rate_ppm,
                active: self.active,
            }),
        })
    }
}

/// The body of `PATCH /api/restaurants/{id}`: only the fields sent change.
/// `address` and `opening_hours` are replaced whole.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"delivery_fee": "3.00", "active": true}))]
pub struct RestaurantPatch {
    #[schema(max_length = 200)]
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub cuisine_type: Option<String>,
    /// Replaces the address.
    pub address: Option<Address>,
    /// Replaces the location.
    pub location: Option<Location>,
    /// New currency (amounts in this body are read in it).
    pub currency: Option<String>,
    /// Replaces every opening span.
    pub opening_hours: Option<Vec<OpeningHours>>,
    pub timezone: Option<String>,
    pub delivery_fee: Option<DecimalText>,
    pub avg_prep_minutes: Option<u32>,
    pub tax_rate: Option<DecimalText>,
    /// Opens or closes the restaurant for orders.
    pub active: Option<bool>,
}

impl RestaurantPatch {
    /// The patch as a request; `currency` is the restaurant's, needed only
    /// when the body has a delivery fee and no currency of its own.
    fn into_proto(
        self,
        id: i64,
        current_currency: Option<&str>,
    ) -> Result<pb::UpdateRestaurantRequest, Problem> {
        let mut v = Violations::new();
        v.required_if_some("name", self.name.as_deref(), limits::RESTAURANT_NAME);
        v.at_most_if_some(
            "description",
            self.description.as_deref(),
            limits::DESCRIPTION,
        );
        if let Some(phone) = &self.phone {
            check_phone(phone, &mut v);
        }
        if let Some(email) = &self.email {
            v.parsed("email", Email::parse(email));
        }
        v.at_most_if_some(
            "cuisine_type",
            self.cuisine_type.as_deref(),
            limits::CUISINE,
        );
        v.at_most_if_some("timezone", self.timezone.as_deref(), limits::TIMEZONE);
        if let Some(address) = &self.address {
            address.check("address", &mut v);
        }
        if let Some(location) = &self.location {
            location.check(&mut v);
        }
        let currency = self.currency.as_deref().map(|c| check_currency(c, &mut v));
        if let Some(hours) = &self.opening_hours {
            check_hours(hours, &mut v);
        }
        let fee_currency = currency
            .clone()
            .or_else(|| current_currency.map(str::to_owned))
            .unwrap_or_else(|| DEFAULT_CURRENCY.to_owned());
        let delivery_fee_minor = self
            .delivery_fee
            .as_ref()
            .map(|fee| v.amount("delivery_fee", fee, &fee_currency));
        let tax_rate_ppm = self
            .tax_rate
            .as_ref()
            .map(|rate| v.tax_rate("tax_rate", rate));
        v.finish()?;
        let replace_opening_hours = self.opening_hours.is_some();
        Ok(pb::UpdateRestaurantRequest {
            id,
            patch: Some(pb::RestaurantPatch {
                name: self.name,
                description: self.description,
                phone: self.phone,
                email: self.email,
                cuisine_type: self.cuisine_type,
                address: self.address.map(Address::into_proto),
                location: self.location.map(Location::into_proto),
                currency,
                opening_hours: hours_into_proto(self.opening_hours.unwrap_or_default()),
                replace_opening_hours,
                timezone: self.timezone,
                delivery_fee_minor,
                avg_prep_minutes: self.avg_prep_minutes,
                tax_rate_ppm,
                active: self.active,
            }),
        })
    }
}

/// A restaurant as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1, "name": "Pizza Palace", "description": "Best pizza in town",
    "phone": "+1234567890", "email": "info@pizzapalace.com", "cuisine_type": "Italian",
    "address": {"street": "123 Main St", "city": "New York", "state": "NY", "zip_code": "10001", "country": "US"},
    "location": {"latitude": 40.7128, "longitude": -74.0060},
    "currency": "USD", "opening_hours": [{"day_of_week": 1, "opens": "11:00", "closes": "22:00"}],
    "timezone": "America/New_York", "delivery_fee": 2.50, "avg_prep_minutes": 20,
    "tax_rate": 8.875, "active": true,
    "created_at": "2026-11-23T12:00:00Z", "updated_at": "2026-11-23T12:00:00Z"
}))]
pub struct RestaurantView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub phone: String,
    pub email: String,
    pub cuisine_type: String,
    /// Where orders are picked up.
    pub address: Option<Address>,
    /// Where it is on the map.
    pub location: Option<Location>,
    /// ISO 4217 code of every amount of this restaurant.
    pub currency: String,
    /// Weekly opening spans.
    pub opening_hours: Vec<OpeningHours>,
    /// IANA time zone of the opening hours.
    pub timezone: String,
    /// Added to delivery orders, in `currency`.
    pub delivery_fee: Decimal,
    /// Typical minutes from confirmation to ready.
    pub avg_prep_minutes: u32,
    /// Sales tax percentage.
    pub tax_rate: Decimal,
    /// Whether it takes orders.
    pub active: bool,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl RestaurantView {
    /// The JSON view of a service's restaurant.
    ///
    /// # Errors
    /// The service sent an amount in an unknown currency.
    pub fn from_proto(r: pb::Restaurant) -> Result<Self, Problem> {
        let (delivery_fee, _) = amount(r.delivery_fee.as_ref(), &r.currency)?;
        Ok(Self {
            id: r.id,
            name: r.name,
            description: r.description,
            phone: r.phone,
            email: r.email,
            cuisine_type: r.cuisine_type,
            address: r.address.map(Address::from_proto),
            location: r.location.map(|l| Location {
                latitude: l.latitude,
                longitude: l.longitude,
            }),
            opening_hours: r
                .opening_hours
                .into_iter()
                .map(|h| OpeningHours {
                    day_of_week: h.day_of_week,
                    opens: h.opens,
                    closes: h.closes,
                })
                .collect(),
            timezone: r.timezone,
            delivery_fee,
            avg_prep_minutes: r.avg_prep_minutes,
            tax_rate: Decimal::percent_from_millionths(i64::from(r.tax_rate_ppm)),
            active: r.active,
            created_at: from_timestamp(r.created_at.as_ref()),
            updated_at: from_timestamp(r.updated_at.as_ref()),
            currency: r.currency,
        })
    }
}

/// One page of restaurants.
#[derive(Debug, Serialize, ToSchema)]
pub struct RestaurantPage {
    pub items: Vec<RestaurantView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The query of `GET /api/restaurants`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size (default chosen by the service).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only this cuisine (case-insensitive).
    pub cuisine_type: Option<String>,
    /// Only this city (case-insensitive).
    pub city: Option<String>,
    /// Include paused restaurants (`active: false`); admins only. Deleted ones are never listed.
    pub include_inactive: Option<bool>,
}

impl ListQuery {
    fn parse(query: &QueryParams) -> Result<Self, Problem> {
        Ok(Self {
            cursor: query.text("cursor"),
            limit: query.positive("limit")?,
            cuisine_type: query.text("cuisine_type"),
            city: query.text("city"),
            include_inactive: Some(query.flag("include_inactive")?),
        })
    }
}

/// Add a restaurant
///
/// Creates a restaurant and answers 201 with it; `Location` names it. Only `name` and `address`
/// are required; the rest has defaults (`currency` `USD`, `timezone` `UTC`, `delivery_fee` and
/// `tax_rate` 0, `active` true). Amounts are decimals in the restaurant's `currency`, and
/// `tax_rate` is a percentage with up to four places (`8.875`).
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/restaurants",
    tag = "restaurants",
    request_body = NewRestaurant,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = RestaurantView,
            headers(("Location" = String, description = "Path of the new restaurant"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_restaurant(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<NewRestaurant>,
) -> Result<Created<RestaurantView>, Problem> {
    let request = body.into_proto()?;
    let restaurant = state
        .upstreams
        .restaurants
        .create_restaurant(request)
        .await?;
    let view = RestaurantView::from_proto(restaurant)?;
    Ok(created(&format!("/api/restaurants/{}", view.id), view))
}

/// List restaurants
///
/// Answers the active restaurants by id, a page at a time (`cursor`, `limit`), narrowed by
/// `cuisine_type` and `city` (both case-insensitive); deleted restaurants are never listed.
/// `include_inactive=true` adds the paused ones (`active` false), for admins only: without a
/// token it is 401, with another role's token 403.
///
/// Who may call: no token needed (public); `include_inactive` is for admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/restaurants",
    tag = "restaurants",
    params(ListQuery),
    responses((status = 200, description = "One page of restaurants.", body = RestaurantPage)),
    security((), ("bearer" = []))
)]
pub async fn list_restaurants(
    State(state): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    query: QueryParams,
) -> Result<Json<RestaurantPage>, Problem> {
    let query = ListQuery::parse(&query)?;
    let include_inactive = query.include_inactive.unwrap_or(false);
    if include_inactive {
        match caller {
            None => {
                return Err(Problem::unauthorized(
                    "Listing inactive restaurants needs an admin token.",
                    false,
                ));
            }
            Some(claims) if claims.role != Role::Admin => {
                return Err(Problem::forbidden(
                    "Only an admin may list inactive restaurants.",
                ));
            }
            Some(_) => {}
        }
    }
    let answer = state
        .upstreams
        .restaurants
        .list_restaurants(pb::ListRestaurantsRequest {
            page: Some(common::PageRequest {
                page_size: query.limit.unwrap_or(0),
                page_token: query.cursor.unwrap_or_default(),
            }),
            cuisine_type: query.cuisine_type.unwrap_or_default(),
            city: query.city.unwrap_or_default(),
            include_inactive,
        })
        .await?;
    let items = answer
        .restaurants
        .into_iter()
        .map(RestaurantView::from_proto)
        .collect::<Result<_, _>>()?;
    let next_cursor = answer
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(Json(RestaurantPage { items, next_cursor }))
}

/// Read a restaurant
///
/// Answers one restaurant: its details, address, location, currency, opening hours, delivery
/// fee, preparation time and tax rate. A deleted restaurant is 404.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}",
    tag = "restaurants",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    responses((status = 200, description = "The restaurant.", body = RestaurantView))
)]
pub async fn get_restaurant(
    State(state): State<AppState>,
    RestaurantId(id): RestaurantId,
) -> Result<Json<RestaurantView>, Problem> {
    let restaurant = state
        .upstreams
        .restaurants
        .get_restaurant(pb::GetRestaurantRequest { id })
        .await?;
    Ok(Json(RestaurantView::from_proto(restaurant)?))
}

/// Update a restaurant
///
/// Changes only the fields sent; `address` and `opening_hours` are replaced whole, and `active`
/// opens or closes the restaurant for orders. A `delivery_fee` is read in the restaurant's
/// currency, or in the body's `currency` when the body changes that too.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    patch,
    path = "/api/restaurants/{id}",
    tag = "restaurants",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    request_body = RestaurantPatch,
    responses((status = 200, description = "The changed restaurant.", body = RestaurantView)),
    security(("bearer" = []))
)]
pub async fn update_restaurant(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
    JsonBody(body): JsonBody<RestaurantPatch>,
) -> Result<Json<RestaurantView>, Problem> {
    let id = manager.path.0;
    let restaurants = &state.upstreams.restaurants;
    // A fee is read in the restaurant's currency unless the body changes it.
    let current = if body.delivery_fee.is_some() && body.currency.is_none() {
        Some(restaurants.currency_of(id).await?)
    } else {
        None
    };
    let request = body.into_proto(id, current.as_deref())?;
    let restaurant = restaurants.update_restaurant(request).await?;
    Ok(Json(RestaurantView::from_proto(restaurant)?))
}

/// Delete a restaurant
///
/// Removes the restaurant from listings and ordering and answers 204; its history stays, for
/// the orders that refer to it. A restaurant already deleted is 404.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    delete,
    path = "/api/restaurants/{id}",
    tag = "restaurants",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    responses((status = 204, description = "Removed.")),
    security(("bearer" = []))
)]
pub async fn delete_restaurant(
    State(state): State<AppState>,
    _admin: Admin,
    RestaurantId(id): RestaurantId,
) -> Result<StatusCode, Problem> {
    state
        .upstreams
        .restaurants
        .delete_restaurant(pb::DeleteRestaurantRequest { id })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    const SEED: &str = r#"{
        "name": "Pizza Palace",
        "description": "Best pizza in town",
        "phone": "+1234567890",
        "email": "info@pizzapalace.com",
        "cuisine_type": "Italian",
        "address": {
          "street": "123 Main St",
          "city": "New York",
          "state": "NY",
          "zip_code": "10001",
          "country": "US"
        },
        "location": {
          "latitude": 40.7128,
          "longitude": -74.0060
        }
      }"#;

    #[test]
    fn the_seed_body_becomes_a_usd_restaurant() {
        let body: NewRestaurant = parse_json(SEED.as_bytes()).expect("parses");
        let request = body.into_proto().expect("valid");
        let input = request.restaurant.expect("input");
        assert_eq!(input.name, "Pizza Palace");
        assert_eq!(input.currency, "USD");
        assert_eq!(input.address.map(|a| a.zip_code).as_deref(), Some("10001"));
        assert_eq!(input.active, None);
    }

    #[test]
    fn fees_and_tax_rates_are_read_exactly() {
        let json = SEED.replacen(
            "\"name\"",
            "\"delivery_fee\": 2.5, \"tax_rate\": \"8.87501\", \"currency\": \"usd\", \"name\"",
            1,
        );
        let body: NewRestaurant = parse_json(json.as_bytes()).expect("parses");
        let problem = body.into_proto().expect_err("8.87501 has five places");
        assert_eq!(problem.errors[0].field, "tax_rate");

        let json = SEED.replacen("\"name\"", "\"tax_rate\": 8.875, \"name\"", 1);
        let body: NewRestaurant = parse_json(json.as_bytes()).expect("parses");
        let input = body.into_proto().expect("valid").restaurant.expect("input");
        assert_eq!(input.tax_rate_ppm, 88_750);

        let json = SEED.replacen(
            "\"name\"",
            "\"delivery_fee\": 2.5, \"tax_rate\": 8.75, \"currency\": \"usd\", \"name\"",
            1,
        );
        let body: NewRestaurant = parse_json(json.as_bytes()).expect("parses");
        let input = body.into_proto().expect("valid").restaurant.expect("input");
        assert_eq!(input.delivery_fee_minor, 250);
        assert_eq!(input.tax_rate_ppm, 87_500);
        assert_eq!(input.currency, "USD");
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let json = r#"{
            "name": " ",
            "address": {"street": "", "city": "NY", "state": "", "zip_code": "", "country": "US"},
            "location": {"latitude": 91, "longitude": 0},
            "currency": "XYZ",
            "opening_hours": [{"day_of_week": 8, "opens": "9am", "closes": "22:00"}],
            "delivery_fee": -1
        }"#;
        let body: NewRestaurant = parse_json(json.as_bytes()).expect("parses");
        let problem = body.into_proto().expect_err("invalid");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "address.street",
                "location.latitude",
                "currency",
                "opening_hours[0].day_of_week",
                "opening_hours[0].opens",
                "delivery_fee"
            ]
        );
    }

    #[test]
    fn a_patch_sends_only_what_it_names() {
        let body: RestaurantPatch =
            parse_json(br#"{"delivery_fee": "300", "opening_hours": []}"#).expect("parses");
        let request = body.into_proto(4, Some("JPY")).expect("valid");
        let patch = request.patch.expect("patch");
        assert_eq!(patch.delivery_fee_minor, Some(300));
        assert!(patch.replace_opening_hours);
        assert!(patch.opening_hours.is_empty());
        assert_eq!(patch.name, None);
        assert_eq!(patch.active, None);
    }
}
