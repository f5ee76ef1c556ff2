//! `/api/deliveries`: every delivery order's trip from the restaurant to
//! the door. Deliveries open by themselves when a delivery order is
//! confirmed, and go at once to the nearest free driver. Staff see their
//! restaurant's deliveries and admins all; a driver sees and moves their
//! own (another's answers 404). Anyone holding a delivery's public
//! tracking id follows it, without an account.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::drivers::GeoPoint;
use super::live::{self, EventDoc, Update};
use super::orders::{OrderParty, Party, open_order};
use super::restaurants::Address;
use super::{AppState, Created, created, from_timestamp};
use crate::auth::{Caller, Claims, Role};
use crate::extract::{JsonBody, QueryParams, ResourceId};
use crate::problem::{Problem, ProblemDetails};

wire_enum!(
    /// Where a delivery is: `pending → assigned → picked_up → delivered`,
    /// or `failed` on the way / `cancelled` with its order.
    DeliveryStatus: pb::DeliveryStatus {
        /// Waiting for a driver.
        Pending = "pending" => Pending,
        /// A driver is on the way to the restaurant.
        Assigned = "assigned" => Assigned,
        /// The food is with the driver.
        PickedUp = "picked_up" => PickedUp,
        Delivered = "delivered" => Delivered,
        /// The driver could not deliver; `reason` says why.
        Failed = "failed" => Failed,
        /// Its order was cancelled.
        Cancelled = "cancelled" => Cancelled,
    }
);

/// A delivery as staff, admins and its driver see it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 5, "order_id": 42, "restaurant_id": 1, "tracking_id": "k7m2qxp4tn8vwr3yhc9d",
    "status": "assigned", "driver_id": 7,
    "pickup_address": {"street": "1 Union Sq", "city": "New York", "state": "NY", "zip_code": "10003", "country": "US"},
    "pickup_location": {"latitude": 40.7359, "longitude": -73.9911},
    "dropoff_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY", "zip_code": "10002", "country": "US"},
    "ready_by": "2026-11-23T18:20:00Z", "eta": "2026-11-23T18:32:00Z", "reason": null,
    "created_at": "2026-11-23T18:05:00Z", "updated_at": "2026-11-23T18:05:01Z", "delivered_at": null
}))]
pub struct DeliveryView {
    pub id: i64,
    pub order_id: i64,
    pub restaurant_id: i64,
    /// Public: `GET /api/deliveries/track/{tracking_id}` follows it.
    pub tracking_id: String,
    pub status: DeliveryStatus,
    pub driver_id: Option<i64>,
    pub pickup_address: Option<Address>,
    pub pickup_location: Option<GeoPoint>,
    pub dropoff_address: Option<Address>,
    /// When the kitchen expects the food ready.
    pub ready_by: Option<DateTime<Utc>>,
    /// When the food is expected at the door.
    pub eta: Option<DateTime<Utc>>,
    /// Why it failed or was cancelled.
    pub reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

fn address(a: Option<common::Address>) -> Option<Address> {
    a.filter(|a| !a.street.is_empty()).map(Address::from_proto)
}

impl DeliveryView {
    /// The JSON view of a delivery from delivery-svc.
    ///
    /// # Errors
    /// delivery-svc sent an unknown status.
    pub fn from_proto(d: pb::Delivery) -> Result<Self, Problem> {
        let status = DeliveryStatus::from_proto(d.status).ok_or_else(|| {
            Problem::internal(&format_args!(
                "delivery-svc sent an unknown status: {}",
                d.status
            ))
        })?;
        Ok(Self {
            id: d.id,
            order_id: d.order_id,
            restaurant_id: d.restaurant_id,
            tracking_id: d.tracking_id,
            status,
            driver_id: Some(d.driver_id).filter(|id| *id > 0),
            pickup_address: address(d.pickup_address),
            pickup_location: d.pickup_location.as_ref().map(GeoPoint::from_proto),
            dropoff_address: address(d.dropoff_address),
            ready_by: from_timestamp(d.ready_by.as_ref()),
            eta: from_timestamp(d.eta.as_ref()),
            reason: Some(d.reason).filter(|r| !r.is_empty()),
            created_at: from_timestamp(d.created_at.as_ref()),
            updated_at: from_timestamp(d.updated_at.as_ref()),
            delivered_at: from_timestamp(d.delivered_at.as_ref()),
        })
    }
}

/// What anyone holding the tracking id sees: no address, no order, no
/// driver's phone.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "tracking_id": "k7m2qxp4tn8vwr3yhc9d", "status": "picked_up",
    "eta": "2026-11-23T18:32:00Z", "driver_first_name": "Ana",
    "driver_location": {"latitude": 40.7301, "longitude": -73.9950},
    "driver_seen_at": "2026-11-23T18:24:10Z", "delivered_at": null
}))]
pub struct TrackingView {
    pub tracking_id: String,
    pub status: DeliveryStatus,
    /// When the food is expected at the door, from the driver's live
    /// position.
    pub eta: Option<DateTime<Utc>>,
    /// Once a driver has it.
    pub driver_first_name: Option<String>,
    /// The driver's last position, only while the food is with them.
    pub driver_location: Option<GeoPoint>,
    pub driver_seen_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One page of deliveries.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Opening a delivery order's delivery by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"order_id": 42}))]
pub struct NewDelivery {
    pub order_id: i64,
}

/// Handing a delivery to a driver.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"driver_id": 7}))]
pub struct AssignInput {
    /// The driver; without one, the nearest free driver.
    #[serde(default)]
    pub driver_id: Option<i64>,
}

/// A driver's move.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "failed", "reason": "nobody at the door"}))]
pub struct StatusInput {
    /// `picked_up`, `delivered` or `failed`.
    pub status: String,
    /// Required for `failed`, at most 500 characters.
    #[serde(default)]
    pub reason: String,
}

/// Who may see deliveries: staff their restaurant's, admins all.
fn staff_scope(claims: &Claims) -> Result<Option<i64>, Problem> {
    match claims.role {
        Role::Admin => Ok(None),
        Role::Staff => claims
            .restaurant_id
            .map(Some)
            .ok_or_else(|| Problem::forbidden("This staff token names no restaurant.")),
        _ => Err(Problem::forbidden(
            "Only staff and admins use this route; a driver lists their own at /api/drivers/{id}/deliveries.",
        )),
    }
}

fn delivery_not_found(id: i64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "delivery_not_found",
        format!("There is no delivery {id} that you may see."),
    )
}

/// The driver id of a driver's token.
fn driver_id(claims: &Claims) -> Result<i64, Problem> {
    claims
        .sub
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Problem::forbidden("This driver token's subject is not a driver id."))
}

/// Reads delivery `id` for `claims`: its driver, staff of its restaurant,
/// or an admin; anyone else gets 404.
async fn open_delivery(
    state: &AppState,
    claims: &Claims,
    id: i64,
) -> Result<pb::Delivery, Problem> {
    let as_driver_id = match claims.role {
        Role::Driver => driver_id(claims)?,
        _ => 0,
    };
    let scope = match claims.role {
        Role::Driver => None,
        _ => staff_scope(claims)?,
    };
    let delivery = state
        .upstreams
        .delivery
        .get_delivery(pb::GetDeliveryRequest { id, as_driver_id })
        .await
        .map_err(|e| match Problem::from(e) {
            p if p.status == 404 => delivery_not_found(id),
            p => p,
        })?;
    if scope.is_some_and(|r| r != delivery.restaurant_id) {
        return Err(delivery_not_found(id));
    }
    Ok(delivery)
}

/// The listing request `query` asks for (`order_id`, `status`,
/// `driver_id`, `limit`, `cursor`).
///
/// # Errors
/// 400 naming the parameter at fault.
pub fn list_request(query: &QueryParams) -> Result<pb::ListDeliveriesRequest, Problem> {
    let status = match query.text("status") {
        None => 0,
        Some(name) => DeliveryStatus::parse(&name)
            .ok_or_else(|| {
                Problem::invalid_parameter(
                    "status",
                    format!(
                        "`{name}` is not a delivery status: use {}",
                        DeliveryStatus::names()
                    ),
                )
            })?
            .to_proto(),
    };
    let limit = query.positive("limit")?.unwrap_or(0);
    if limit > 100 {
        return Err(Problem::invalid_parameter("limit", "must be at most 100"));
    }
    Ok(pb::ListDeliveriesRequest {
        page: Some(common::PageRequest {
            page_size: limit,
            page_token: query.text("cursor").unwrap_or_default(),
        }),
        order_id: query.id("order_id")?,
        status,
        driver_id: query.id("driver_id")?,
        restaurant_id: None,
    })
}

/// One page of the deliveries `request` asks for.
///
/// # Errors
/// The service's failure.
pub async fn delivery_page(
    state: &AppState,
    request: pb::ListDeliveriesRequest,
) -> Result<DeliveryPage, Problem> {
    let answer = state.upstreams.delivery.list_deliveries(request).await?;
    Ok(DeliveryPage {
        items: answer
            .deliveries
            .into_iter()
            .map(DeliveryView::from_proto)
            .collect::<Result<_, _>>()?,
        next_cursor: answer
            .page
            .map(|p| p.next_page_token)
            .filter(|t| !t.is_empty()),
    })
}

/// Open a delivery by hand
///
/// Opens the delivery of a confirmed delivery order (`order_id`) and answers 201 with it.
/// Deliveries open by themselves when a delivery order is confirmed, so this answers the one
/// the order has when it has one; an order that is not a confirmed delivery order is 422, and
/// one the caller may not see 404.
///
/// Who may call: staff of the order's restaurant; admins.
///
/// Events: `delivery.created` when it opens one (the nearest free driver is then assigned:
/// `delivery.assigned`); none when the order already had one.
#[utoipa::path(
    post,
    path = "/api/deliveries",
    tag = "deliveries",
    request_body = NewDelivery,
    responses(
        (status = 201, description = "The order's delivery.", body = DeliveryView,
            headers(("Location" = String, description = "Path of the delivery"))),
        (status = 404, description = "No order `order_id` that you may see.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "Not a confirmed delivery order.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_delivery(
    State(state): State<AppState>,
    Caller(claims): Caller,
    JsonBody(body): JsonBody<NewDelivery>,
) -> Result<Created<DeliveryView>, Problem> {
    staff_scope(&claims)?;
    let party = Party::of(Some(&claims), None)?;
    let order = open_order(&state, &party, body.order_id).await?;
    let delivery = state
        .upstreams
        .delivery
        .create_delivery(pb::CreateDeliveryRequest { order: Some(order) })
        .await?;
    let view = DeliveryView::from_proto(delivery)?;
    Ok(created(&format!("/api/deliveries/{}", view.id), view))
}

/// List deliveries
///
/// Answers deliveries newest first, a page at a time (`limit` 1 to 100, default 20), narrowed
/// by `order_id`, `status` and `driver_id`.
///
/// Who may call: staff (their restaurant's deliveries); admins (all). A driver lists their own
/// at `GET /api/drivers/{id}/deliveries`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/deliveries",
    tag = "deliveries",
    params(
        ("order_id" = Option<i64>, Query, description = "One order's"),
        ("status" = Option<String>, Query, description = "pending, assigned, picked_up, delivered, failed or cancelled"),
        ("driver_id" = Option<i64>, Query, description = "One driver's"),
        ("limit" = Option<u32>, Query, description = "Page size, 1 to 100 (default 20)"),
        ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "One page of deliveries.", body = DeliveryPage)),
    security(("bearer" = []))
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<DeliveryPage>, Problem> {
    let scope = staff_scope(&claims)?;
    let mut request = list_request(&query)?;
    request.restaurant_id = scope;
    Ok(Json(delivery_page(&state, request).await?))
}

/// Read a delivery
///
/// Answers one delivery: its order, status, driver, pickup and drop-off, ready time, arrival
/// estimate and public `tracking_id`. One the caller may not see is 404 `delivery_not_found`.
///
/// Who may call: its driver; staff of its restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/deliveries/{id}",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Delivery id", minimum = 1)),
    responses(
        (status = 200, description = "The delivery.", body = DeliveryView),
        (status = 404, description = "No delivery `id` that you may see (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_delivery(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
) -> Result<Json<DeliveryView>, Problem> {
    let delivery = open_delivery(&state, &claims, id).await?;
    Ok(Json(DeliveryView::from_proto(delivery)?))
}

/// One move of a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"from": "assigned", "to": "picked_up", "actor": "driver:7", "reason": null, "at": "2026-11-23T18:21:00Z"}))]
pub struct MoveView {
    /// Null for the opening.
    pub from: Option<DeliveryStatus>,
    pub to: DeliveryStatus,
    /// `system`, `driver:<id>`, `staff:<name>`, `admin:<name>`.
    pub actor: String,
    pub reason: Option<String>,
    pub at: Option<DateTime<Utc>>,
}

/// A delivery's moves, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryHistory {
    pub items: Vec<MoveView>,
}

/// Read a delivery's history
///
/// Answers every move of the delivery, oldest first: from, to, who, why and when.
///
/// Who may call: its driver; staff of its restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/deliveries/{id}/history",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Delivery id", minimum = 1)),
    responses(
        (status = 200, description = "The moves.", body = DeliveryHistory),
        (status = 404, description = "No delivery `id` that you may see (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_delivery_history(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
) -> Result<Json<DeliveryHistory>, Problem> {
    let delivery = open_delivery(&state, &claims, id).await?;
    let answer = state
        .upstreams
        .delivery
        .get_delivery_history(pb::GetDeliveryRequest {
            id: delivery.id,
            as_driver_id: 0,
        })
        .await?;
    let unknown = || Problem::internal(&"delivery-svc sent an unknown status");
    let items = answer
        .moves
        .into_iter()
        .map(|m| {
            Ok(MoveView {
                from: match m.from {
                    0 => None,
                    raw => Some(DeliveryStatus::from_proto(raw).ok_or_else(unknown)?),
                },
                to: DeliveryStatus::from_proto(m.to).ok_or_else(unknown)?,
                actor: m.actor,
                reason: Some(m.reason).filter(|r| !r.is_empty()),
                at: from_timestamp(m.at.as_ref()),
            })
        })
        .collect::<Result<_, Problem>>()?;
    Ok(Json(DeliveryHistory { items }))
}

/// Assign a delivery to a driver
///
/// Hands a waiting delivery by hand to the driver named in `driver_id`, or without one to the
/// nearest free driver. A driver who cannot take it (unavailable, or holding as many deliveries
/// as a driver may) is 409 `driver_busy`, as is finding no free driver; a delivery that is not
/// waiting is 409 `invalid_transition`.
///
/// Who may call: staff of its restaurant; admins.
///
/// Events: `delivery.assigned`.
#[utoipa::path(
    post,
    path = "/api/deliveries/{id}/assign",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Delivery id", minimum = 1)),
    request_body(content = Option<AssignInput>, description = "Optional."),
    responses(
        (status = 200, description = "The delivery, assigned.", body = DeliveryView),
        (status = 409, description = "`driver_busy`, or `invalid_transition` when it is not waiting.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn assign_delivery(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
    body: crate::extract::OptionalJsonBody<AssignInput>,
) -> Result<Json<DeliveryView>, Problem> {
    staff_scope(&claims)?;
    open_delivery(&state, &claims, id).await?;
    let input = body.0;
    let party = Party::of(Some(&claims), None)?;
    let delivery = state
        .upstreams
        .delivery
        .assign_driver(pb::AssignDriverRequest {
            delivery_id: id,
            driver_id: input.driver_id.unwrap_or(0),
            actor: Some(party.actor()),
        })
        .await?;
    Ok(Json(DeliveryView::from_proto(delivery)?))
}

/// Move a delivery
///
/// Moves the delivery on: `picked_up` (409 `food_not_ready` until the kitchen has the food
/// ready), then `delivered`, or `failed` with a `reason`, which cancels the order and releases
/// its payment. The order follows: `out_for_delivery`, then `completed`. A move out of order is
/// 409 `invalid_transition`, and another driver's delivery 404.
///
/// Who may call: the delivery's driver; admins.
///
/// Events: `delivery.picked_up` (order-svc then publishes `order.out_for_delivery`),
/// `delivery.delivered` (then `order.completed`, and the payment is captured) or
/// `delivery.failed` (then `order.cancelled`, and the payment is voided or refunded).
#[utoipa::path(
    put,
    path = "/api/deliveries/{id}/status",
    tag = "deliveries",
    params(("id" = i64, Path, description = "Delivery id", minimum = 1)),
    request_body = StatusInput,
    responses(
        (status = 200, description = "The delivery after the move.", body = DeliveryView),
        (status = 404, description = "No delivery `id` of yours (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Out of order (`invalid_transition`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_delivery_status(
    State(state): State<AppState>,
    Caller(claims): Caller,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<StatusInput>,
) -> Result<Json<DeliveryView>, Problem> {
    let status = match DeliveryStatus::parse(body.status.trim()) {
        Some(
            s @ (DeliveryStatus::PickedUp | DeliveryStatus::Delivered | DeliveryStatus::Failed),
        ) => s,
        _ => {
            return Err(Problem::field(
                "status",
                "must be picked_up, delivered or failed",
            ));
        }
    };
    let (as_driver_id, actor) = match claims.role {
        Role::Driver => {
            let driver = driver_id(&claims)?;
            (
                driver,
                common::Actor {
                    kind: common::ActorKind::Driver.into(),
                    id: driver.to_string(),
                },
            )
        }
        Role::Admin => (
            0,
            common::Actor {
                kind: common::ActorKind::Admin.into(),
                id: claims.sub.clone(),
            },
        ),
        _ => {
            return Err(Problem::forbidden(
                "Only the delivery's driver and admins move it.",
            ));
        }
    };
    let delivery = state
        .upstreams
        .delivery
        .update_delivery_status(pb::UpdateDeliveryStatusRequest {
            id,
            status: status.to_proto(),
            reason: body.reason,
            actor: Some(actor),
            as_driver_id,
        })
        .await
        .map_err(|e| match Problem::from(e) {
            p if p.status == 404 => delivery_not_found(id),
            p => p,
        })?;
    Ok(Json(DeliveryView::from_proto(delivery)?))
}

/// Track a delivery
///
/// Follows a delivery by its public tracking id, without an account: status, arrival, the
/// driver's first name, and where they are while the food is with them. An unknown tracking id
/// is 404.
///
/// Who may call: anyone (public, no token) who has the tracking id.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/deliveries/track/{tracking_id}",
    tag = "deliveries",
    params(("tracking_id" = String, Path, description = "The delivery's public tracking id")),
    responses(
        (status = 200, description = "What the public sees.", body = TrackingView),
        (status = 404, description = "No delivery has this tracking id (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
)]
pub async fn track_delivery(
    State(state): State<AppState>,
    Path(tracking_id): Path<String>,
) -> Result<Json<TrackingView>, Problem> {
    if !plausible_tracking_id(&tracking_id) {
        return Err(tracking_not_found());
    }
    let d = state
        .upstreams
        .delivery
        .track_delivery(pb::TrackDeliveryRequest { tracking_id })
        .await
        .map_err(|e| match Problem::from(e) {
            p if p.status == 404 || p.status == 422 => tracking_not_found(),
            p => p,
        })?;
    Ok(Json(TrackingView::from_proto(d)?))
}

/// Follow an order's delivery
///
/// Answers the public tracking view of the order's delivery (its `tracking_id`, status, arrival
/// and, while the food is with them, the driver's first name and position), so a customer or
/// guest can follow it without a staff token. 404 `delivery_not_found` until the delivery is
/// opened (when the order is confirmed); an order the caller may not see is 404 like a missing
/// one.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`); staff
/// of the order's restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/delivery",
    tag = "deliveries",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("token" = Option<String>, Query, description = "The order's access token, for clients that cannot send `X-Order-Token`"),
    ),
    responses(
        (status = 200, description = "The order's delivery, as tracking shows it.", body = TrackingView),
        (status = 404, description = "No order `id` that you may see (`order_not_found`), or no \
            delivery for it yet (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn order_delivery(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<TrackingView>, Problem> {
    let order = open_order(&state, &party, id).await?;
    if order.order_type() != foodmesh_proto::order::v1::OrderType::Delivery {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "delivery_not_found",
            format!("Order {id} is not delivered: it has no delivery."),
        ));
    }
    let answer = state
        .upstreams
        .delivery
        .list_deliveries(pb::ListDeliveriesRequest {
            page: Some(common::PageRequest {
                page_size: 1,
                page_token: String::new(),
            }),
            order_id: Some(id),
            status: 0,
            driver_id: None,
            restaurant_id: None,
        })
        .await?;
    let delivery = answer.deliveries.into_iter().next().ok_or_else(|| {
        Problem::new(
            StatusCode::NOT_FOUND,
            "delivery_not_found",
            format!("Order {id} has no delivery yet: it opens when the order is confirmed."),
        )
    })?;
    // Tracking is what fills in the driver's name and position.
    let tracked = state
        .upstreams
        .delivery
        .track_delivery(pb::TrackDeliveryRequest {
            tracking_id: delivery.tracking_id,
        })
        .await?;
    Ok(Json(TrackingView::from_proto(tracked)?))
}

impl TrackingView {
    fn from_proto(d: pb::Delivery) -> Result<Self, Problem> {
        let status = DeliveryStatus::from_proto(d.status)
            .ok_or_else(|| Problem::internal(&"delivery-svc sent an unknown status"))?;
        Ok(Self {
            tracking_id: d.tracking_id,
            status,
            eta: from_timestamp(d.eta.as_ref()),
            driver_first_name: Some(d.driver_first_name).filter(|n| !n.is_empty()),
            driver_location: d.driver_location.as_ref().map(GeoPoint::from_proto),
            driver_seen_at: from_timestamp(d.driver_seen_at.as_ref()),
            delivered_at: from_timestamp(d.delivered_at.as_ref()),
        })
    }
}

const TRACKING_SNAPSHOT: EventDoc = EventDoc {
    name: "snapshot",
    schema: "TrackingSnapshotEvent",
    data: "TrackingView",
    description: "The first event: the delivery as it is now.",
};
const TRACKING_CHANGED: EventDoc = EventDoc {
    name: "changed",
    schema: "TrackingChangedEvent",
    data: "TrackingView",
    description: "A move of the delivery, or (while a driver has it) a new position or \
        arrival estimate.",
};

/// Every event of a tracking stream, as the OpenAPI document lists them.
const TRACKING_EVENTS: &[EventDoc] =
    &[TRACKING_SNAPSHOT, TRACKING_CHANGED, live::PROBLEM_EVENT_DOC];

live::event_stream_schema!(
    /// One event of `GET /api/deliveries/track/{tracking_id}/events`.
    TrackingEvent,
    TRACKING_EVENTS,
    [TrackingView]
);

/// Watch a delivery live
///
/// Streams a delivery, by its public tracking id, as Server-Sent Events: first `snapshot` (as
/// `GET /api/deliveries/track/{tracking_id}` shows it), then `changed` at every move and, while
/// a driver has it, as they ride (every few seconds). The stream ends after the delivery ends.
///
/// Who may call: anyone (public, no token) who has the tracking id.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/deliveries/track/{tracking_id}/events",
    tag = "deliveries",
    params(("tracking_id" = String, Path, description = "The delivery's public tracking id")),
    responses(
        (status = 200, description = "The delivery's events, as they happen, until it ends. \
            Each is an `event:` name, an `id:` and JSON `data:`; a `: keep-alive` comment comes \
            every 15 s. A failure after the stream opened comes as a last `problem` event.",
            content_type = "text/event-stream", body = TrackingEvent),
        (status = 404, description = "No delivery has this tracking id (`delivery_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
)]
pub async fn watch_tracking(
    State(state): State<AppState>,
    Path(tracking_id): Path<String>,
) -> Result<Response, Problem> {
    if !plausible_tracking_id(&tracking_id) {
        return Err(tracking_not_found());
    }
    let updates = state
        .upstreams
        .delivery
        .watch_delivery(pb::TrackDeliveryRequest { tracking_id })
        .await
        .map_err(|e| match Problem::from(e) {
            p if p.status == 404 || p.status == 422 => tracking_not_found(),
            p => p,
        })?;
    let mut first = true;
    Ok(live::respond(
        updates,
        state.draining.clone(),
        "delivery-svc",
        "WatchDelivery",
        move |delivery| {
            let name = if first {
                TRACKING_SNAPSHOT.name
            } else {
                TRACKING_CHANGED.name
            };
            first = false;
            Update::json(name, &TrackingView::from_proto(delivery)?).map(Some)
        },
    ))
}

/// Whether `id` could be a tracking id (1 to 64 letters and digits):
/// anything else is no delivery's, and never reaches the service.
fn plausible_tracking_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn tracking_not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "delivery_not_found",
        "No delivery has this tracking id.",
    )
}
