//! `/api/drivers`: the people who deliver. Admins add and list drivers; a
//! driver (token role `driver`, subject = their driver id) says whether
//! they take deliveries, reports where they are, and lists their own
//! deliveries. Another driver's answers 404.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_shared::values;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::deliveries::{DeliveryPage, delivery_page};
use super::{AppState, Created, created, from_timestamp};
use crate::auth::{Caller, Claims, Role};
use crate::extract::{JsonBody, QueryParams, ResourceId};
use crate::problem::{Problem, ProblemDetails};
use crate::validate::Violations;

/// A point on the earth in WGS 84 degrees.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"latitude": 40.7359, "longitude": -73.9911}))]
pub struct GeoPoint {
    /// −90 to 90.
    pub latitude: f64,
    /// −180 to 180.
    pub longitude: f64,
}

impl GeoPoint {
    pub fn to_proto(self) -> common::GeoPoint {
        common::GeoPoint {
            latitude: self.latitude,
            longitude: self.longitude,
        }
    }

    /// Records a coordinate off the globe under `prefix`
    /// (`delivery_location.latitude`).
    pub fn check(self, prefix: &str, v: &mut Violations) {
        let at = values::Coordinates {
            latitude: self.latitude,
            longitude: self.longitude,
        };
        v.nested(prefix, values::Location::parse(at));
    }

    pub fn from_proto(p: &common::GeoPoint) -> Self {
        Self {
            latitude: p.latitude,
            longitude: p.longitude,
        }
    }
}

/// A driver as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "name": "Ana Diaz", "phone": "+12125550100", "vehicle": "scooter",
    "available": true, "location": {"latitude": 40.7359, "longitude": -73.9911},
    "location_at": "2026-11-23T18:00:00Z", "active_deliveries": 1
}))]
pub struct DriverView {
    pub id: i64,
    pub name: String,
    /// E.164.
    pub phone: String,
    pub vehicle: String,
    /// Whether they take deliveries.
    pub available: bool,
    /// Their last known position, and when it was reported.
    pub location: Option<GeoPoint>,
    pub location_at: Option<DateTime<Utc>>,
    /// Deliveries they hold now.
    pub active_deliveries: u32,
}

impl DriverView {
    fn from_proto(d: pb::Driver) -> Self {
        Self {
            id: d.id,
            name: d.name,
            phone: d.phone,
            vehicle: d.vehicle,
            available: d.available,
            location: d.location.as_ref().map(GeoPoint::from_proto),
            location_at: from_timestamp(d.location_at.as_ref()),
            active_deliveries: d.active_deliveries,
        }
    }
}

/// A driver to add.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Ana Diaz", "phone": "+12125550100", "vehicle": "scooter"}))]
pub struct NewDriver {
    #[schema(max_length = 100)]
    pub name: String,
    /// E.164 (`+12125550100`), unique.
    pub phone: String,
    /// What they drive, at most 50 characters.
    pub vehicle: String,
    /// Where they are, if known.
    #[serde(default)]
    pub location: Option<GeoPoint>,
}

/// A change of a driver.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"available": true}))]
pub struct DriverPatch {
    /// Whether they take deliveries.
    pub available: bool,
}

/// One page of drivers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DriverPage {
    pub items: Vec<DriverView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn admin(claims: &Claims) -> Result<(), Problem> {
    if claims.role == Role::Admin {
        Ok(())
    } else {
        Err(Problem::forbidden("Only admins manage drivers."))
    }
}

/// The driver `id` as its driver or an admin sees it: another driver's is
/// a 404, as if it did not exist.
pub fn driver_or_admin(claims: &Claims, id: i64) -> Result<(), Problem> {
    match claims.role {
        Role::Admin => Ok(()),
        Role::Driver if claims.sub.parse::<i64>().ok() == Some(id) => Ok(()),
        Role::Driver => Err(driver_not_found(id)),
        _ => Err(Problem::forbidden(
            "Only the driver themselves and admins use this route.",
        )),
    }
}

pub fn driver_not_found(id: i64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "driver_not_found",
        format!("There is no driver {id} that you may see."),
    )
}

/// Add a driver
///
/// Adds a driver and answers 201 with them; `Location` names them. A phone number belongs to
/// one driver only (409 `phone_taken`), and a new driver takes no delivery until they say they
/// are available.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/drivers",
    tag = "deliveries",
    request_body = NewDriver,
    responses(
        (status = 201, description = "Added.", body = DriverView,
            headers(("Location" = String, description = "Path of the driver"))),
        (status = 409, description = "The phone is another driver's (`phone_taken`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_driver(
    State(state): State<AppState>,
    Caller(claims): Caller,
    JsonBody(body): JsonBody<NewDriver>,
) -> Result<Created<DriverView>, Problem> {
    admin(&claims)?;
    let driver = state
        .upstreams
        .delivery
        .create_driver(pb::CreateDriverRequest {
            name: body.name,
            phone: body.phone,
            vehicle: body.vehicle,
            location: body.location.map(GeoPoint::to_proto),
        })
        .await?;
    let view = DriverView::from_proto(driver);
    Ok(created(&format!("/api/drivers/{}", view.id), view))
}

/// List drivers
///
/// Answers drivers by id, a page at a time (`limit` 1 to 100, default 20); `available=true`
/// keeps those taking deliveries.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/drivers",
    tag = "deliveries",
    params(
        ("available" = Option<bool>, Query, description = "Only those taking deliveries"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "One page of drivers.", body = DriverPage)),
    security(("bearer" = []))
)]
pub async fn list_drivers(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<DriverPage>, Problem> {
    admin(&claims)?;
    let limit = query.positive("limit")?.unwrap_or(0);
    if limit > 100 {
        return Err(Problem::invalid_parameter("limit", "must be at most 100"));
    }
    let answer = state
        .upstreams
        .delivery
        .list_drivers(pb::ListDriversRequest {
            available_only: query.flag("available")?,
            page: Some(common::PageRequest {
                page_size: limit,
                page_token: query.text("cursor").unwrap_or_default(),
            }),
        })
        .await?;
    Ok(Json(DriverPage {
        items: answer
            .drivers
            .into_iter()
            .map(DriverView::from_proto)
            .collect(),
        next_cursor: answer
            .page
            .map(|p| p.next_page_token)
            .filter(|t| !t.is_empty()),
    }))
}

/// Read a driver
///
/// Answers one driver. Another driver's id is 404 `driver_not_found`, as if it did not exist.
///
/// Who may call: drivers (their own); admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/drivers/{id}",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Driver id", minimum = 1)),
    responses(
        (status = 200, description = "The driver.", body = DriverView),
        (status = 404, description = "No driver `id` that you may see (`driver_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_driver(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
) -> Result<Json<DriverView>, Problem> {
    driver_or_admin(&claims, id)?;
    let driver = state
        .upstreams
        .delivery
        .get_driver(pb::GetDriverRequest { id })
        .await?;
    Ok(Json(DriverView::from_proto(driver)))
}

/// Set a driver's availability
///
/// Sets `available`: whether the driver takes deliveries. A driver who becomes available is
/// offered the oldest waiting delivery near them at once.
///
/// Who may call: drivers (their own); admins.
///
/// Events: none of its own; a driver who becomes available may at once be assigned a waiting
/// delivery (`delivery.assigned`).
#[utoipa::path(
    patch,
    path = "/api/drivers/{id}",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Driver id", minimum = 1)),
    request_body = DriverPatch,
    responses(
        (status = 200, description = "The driver after the change.", body = DriverView),
        (status = 404, description = "No driver `id` that you may see (`driver_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_driver(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<DriverPatch>,
) -> Result<Json<DriverView>, Problem> {
    driver_or_admin(&claims, id)?;
    let driver = state
        .upstreams
        .delivery
        .update_driver(pb::UpdateDriverRequest {
            driver_id: id,
            available: Some(body.available),
        })
        .await?;
    Ok(Json(DriverView::from_proto(driver)))
}

/// Report a driver's location
///
/// Records where the driver is: kept where the nearest-driver search runs, and shown on their
/// delivery's tracking while the food is with them. Answers 204; a coordinate off the globe (or
/// a latitude nearer the poles than 85.05112878°) is 422, named.
///
/// Who may call: drivers (their own); admins.
///
/// Events: none.
#[utoipa::path(
    put,
    path = "/api/drivers/{id}/location",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Driver id", minimum = 1)),
    request_body = GeoPoint,
    responses(
        (status = 204, description = "Taken."),
        (status = 404, description = "No driver `id` that you may see (`driver_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A coordinate off the globe, named.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_location(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<GeoPoint>,
) -> Result<StatusCode, Problem> {
    driver_or_admin(&claims, id)?;
    // The body is the point itself: its fields are named as the client
    // sent them, not as the service's request nests them.
    let mut v = Violations::new();
    // The live index (a geohash) holds no point nearer the poles.
    const MAX_LATITUDE: f64 = 85.051_128_78;
    v.parsed(
        "latitude",
        Some(body.latitude)
            .filter(|l| l.is_finite() && (-MAX_LATITUDE..=MAX_LATITUDE).contains(l))
            .ok_or_else(|| format!("must be between -{MAX_LATITUDE} and {MAX_LATITUDE}")),
    );
    v.parsed(
        "longitude",
        Some(body.longitude)
            .filter(|l| l.is_finite() && (-180.0..=180.0).contains(l))
            .ok_or_else(|| "must be between -180 and 180".to_owned()),
    );
    v.finish()?;
    state
        .upstreams
        .delivery
        .update_driver_location(pb::UpdateDriverLocationRequest {
            driver_id: id,
            location: Some(body.to_proto()),
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// List a driver's deliveries
///
/// Answers the driver's deliveries, newest first, a page at a time (`limit` 1 to 100, default
/// 20); `status` narrows them.
///
/// Who may call: drivers (their own); admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/drivers/{id}/deliveries",
    tag = "deliveries",
    params(
        ("id" = i64, Path, description = "Driver id", minimum = 1),
        ("status" = Option<String>, Query, description = "pending, assigned, picked_up, delivered, failed or cancelled"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "One page of deliveries.", body = DeliveryPage)),
    security(("bearer" = []))
)]
pub async fn driver_deliveries(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
    query: QueryParams,
) -> Result<Json<DeliveryPage>, Problem> {
    driver_or_admin(&claims, id)?;
    let mut request = super::deliveries::list_request(&query)?;
    request.driver_id = Some(id);
    Ok(Json(delivery_page(&state, request).await?))
}
