//! `/api/kitchen`: a restaurant's ticket queue, as the kitchen display
//! works it. Every confirmed order becomes one ticket on its own (through
//! events); staff move tickets `queued → accepted → preparing → ready →
//! picked_up` (or reject them), and order-svc follows.
//!
//! Only kitchen staff and admins use these routes. The restaurant is the
//! staff token's; an admin names it with `?restaurant_id=`. A ticket of
//! another restaurant is 404, as if it did not exist.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1 as order_pb;
use foodmesh_shared::values::{STATS_WINDOW_MINUTES, limits, pages};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::live::{self, EventDoc, Update};
use super::{AppState, Created, created, from_timestamp};
use crate::auth::{Caller, Role};
use crate::extract::{JsonBody, QueryParams, ResourceId};
use crate::problem::{Problem, ProblemDetails, Subject};
use crate::validate::Violations;

wire_enum!(
    /// Where a ticket is: `queued → accepted → preparing → ready →
    /// picked_up`, or `rejected` by the kitchen / `cancelled` with its
    /// order.
    TicketStatus: pb::TicketStatus {
        /// Waiting for the kitchen.
        Queued = "queued" => Queued,
        /// Seen and accepted.
        Accepted = "accepted" => Accepted,
        /// Being cooked.
        Preparing = "preparing" => Preparing,
        /// Ready to serve, collect or hand over.
        Ready = "ready" => Ready,
        /// Gone from the pass.
        PickedUp = "picked_up" => PickedUp,
        /// Its order was cancelled.
        Cancelled = "cancelled" => Cancelled,
        /// The kitchen refused it (with a reason); the order is cancelled.
        Rejected = "rejected" => Rejected,
    }
);

wire_enum!(
    /// How the food leaves the kitchen.
    Fulfilment: pb::Fulfilment {
        /// To a table (dine-in).
        Table = "table" => Table,
        /// Over the counter (takeout).
        Pickup = "pickup" => Pickup,
        /// To a driver (delivery).
        Delivery = "delivery" => Delivery,
    }
);

/// One item on a ticket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Margherita", "quantity": 2, "modifiers": ["extra cheese"], "special_instructions": "well done"}))]
pub struct TicketItem {
    /// What to make.
    #[schema(max_length = 200)]
    pub name: String,
    /// How many, 1 to 999.
    #[schema(minimum = 1, maximum = 999)]
    pub quantity: u32,
    /// The chosen options, by name.
    #[serde(default)]
    pub modifiers: Vec<String>,
    /// For the cook.
    #[serde(default)]
    pub special_instructions: String,
}

/// A kitchen ticket as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 7, "order_id": 42, "order_number": "K7M2QX", "restaurant_id": 1,
    "status": "preparing", "fulfilment": "pickup", "table_number": null,
    "items": [{"name": "Margherita", "quantity": 2, "modifiers": [], "special_instructions": ""}],
    "reason": null, "notes": "", "ready_by": "2026-11-23T18:20:00Z",
    "created_at": "2026-11-23T18:00:00Z", "accepted_at": "2026-11-23T18:01:00Z",
    "started_at": "2026-11-23T18:02:00Z", "ready_at": null, "picked_up_at": null,
    "preparation_seconds": null, "updated_at": "2026-11-23T18:02:00Z", "version": 3
}))]
pub struct TicketView {
    /// The ticket's id: `{id}` of `/api/kitchen/orders/{id}`.
    pub id: i64,
    pub order_id: i64,
    /// The order's number, to call out.
    pub order_number: String,
    pub restaurant_id: i64,
    pub status: TicketStatus,
    /// Table, pickup or delivery.
    pub fulfilment: Option<Fulfilment>,
    /// The table, for table service.
    pub table_number: Option<String>,
    /// What to make.
    pub items: Vec<TicketItem>,
    /// Why it was rejected or cancelled.
    pub reason: Option<String>,
    /// The order's notes.
    pub notes: String,
    /// When the kitchen expects it ready.
    pub ready_by: Option<DateTime<Utc>>,
    /// When it was queued (the queue's order).
    pub created_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    /// When preparation started.
    pub started_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    /// When it left the pass.
    pub picked_up_at: Option<DateTime<Utc>>,
    /// Seconds from preparing to ready, once ready.
    pub preparation_seconds: Option<u32>,
    /// When anything about it last changed.
    pub updated_at: Option<DateTime<Utc>>,
    /// Grows by one with every change: a display keeps the highest.
    pub version: i64,
}

impl TicketView {
    /// The JSON view of a ticket from kitchen-svc.
    ///
    /// # Errors
    /// kitchen-svc sent an unknown status.
    pub fn from_proto(t: pb::Ticket) -> Result<Self, Problem> {
        let status = TicketStatus::from_proto(t.status).ok_or_else(|| {
            Problem::internal(&format_args!(
                "kitchen-svc sent an unknown status: {}",
                t.status
            ))
        })?;
        let ready = t.ready_at.is_some();
        Ok(Self {
            id: t.id,
            order_id: t.order_id,
            order_number: t.order_number,
            restaurant_id: t.restaurant_id,
            status,
            fulfilment: Fulfilment::from_proto(t.fulfilment),
            table_number: Some(t.table_number).filter(|n| !n.is_empty()),
            items: t
                .items
                .into_iter()
                .map(|i| TicketItem {
                    name: i.name,
                    quantity: i.quantity,
                    modifiers: i.modifiers,
                    special_instructions: i.special_instructions,
                })
                .collect(),
            reason: Some(t.reason).filter(|r| !r.is_empty()),
            notes: t.notes,
            ready_by: from_timestamp(t.ready_by.as_ref()),
            created_at: from_timestamp(t.created_at.as_ref()),
            accepted_at: from_timestamp(t.accepted_at.as_ref()),
            started_at: from_timestamp(t.started_at.as_ref()),
            ready_at: from_timestamp(t.ready_at.as_ref()),
            picked_up_at: from_timestamp(t.picked_up_at.as_ref()),
            preparation_seconds: ready.then_some(t.preparation_seconds),
            updated_at: from_timestamp(t.updated_at.as_ref()),
            version: t.version,
        })
    }
}

/// One page of tickets, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{
    "id": 7, "order_id": 42, "order_number": "K7M2QX", "restaurant_id": 1,
    "status": "queued", "fulfilment": "table", "table_number": "12",
    "items": [{"name": "Margherita", "quantity": 2, "modifiers": ["extra cheese"], "special_instructions": ""}],
    "reason": null, "notes": "", "ready_by": "2026-11-23T18:20:00Z",
    "created_at": "2026-11-23T18:00:00Z", "accepted_at": null, "started_at": null, "ready_at": null,
    "picked_up_at": null, "preparation_seconds": null, "updated_at": "2026-11-23T18:00:00Z", "version": 1
}], "next_cursor": null}))]
pub struct TicketPage {
    pub items: Vec<TicketView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The `data` of the kitchen stream's `synced` event: the snapshot is
/// complete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"restaurant_id": 1, "server_time": "2026-11-23T18:00:00.250Z"}))]
pub struct SyncedView {
    /// The restaurant whose queue is streamed.
    pub restaurant_id: i64,
    /// The time now, by the platform's clock: a display measures tickets'
    /// ages against it rather than against its own clock, which may be
    /// wrong.
    pub server_time: DateTime<Utc>,
}

/// What the kitchen display's stats panel shows.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "restaurant_id": 1, "window_minutes": 1440, "queued": 3, "accepted": 1, "in_progress": 2,
    "ready": 1, "overdue": 0, "prepared": 57, "avg_preparation_seconds": 612.5,
    "p90_preparation_seconds": 900.0, "avg_wait_seconds": 95.0
}))]
pub struct KitchenStatsView {
    pub restaurant_id: i64,
    /// The window the times are taken over, ending now.
    pub window_minutes: u32,
    /// Open tickets now: queued.
    pub queued: u32,
    pub accepted: u32,
    /// Preparing.
    pub in_progress: u32,
    /// Ready, waiting to be picked up.
    pub ready: u32,
    /// Open, not ready, past their `ready_by`.
    pub overdue: u32,
    /// Tickets that became ready in the window (the sample).
    pub prepared: u32,
    /// Mean seconds from preparing to ready.
    pub avg_preparation_seconds: f64,
    /// 90th percentile of the same.
    pub p90_preparation_seconds: f64,
    /// Mean seconds from queued to preparing.
    pub avg_wait_seconds: f64,
}

/// The body of `POST /api/kitchen/orders`: receives an order into the
/// kitchen by hand (confirmed orders arrive on their own). Without
/// `items`, kitchen-svc makes the ticket from the order as order-svc has
/// it, as it does for a confirmed order, and each other field given
/// replaces what the order says (`"table_number": ""` drops its table).
/// With `items`, the body states the whole ticket (then `order_number` and
/// `fulfilment` are required). A second create for the same order returns
/// its ticket unchanged.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"order_id": 42}))]
pub struct NewTicket {
    pub order_id: i64,
    /// The number to call out.
    pub order_number: Option<String>,
    /// `table`, `pickup` or `delivery`.
    pub fulfilment: Option<Fulfilment>,
    /// For table service. `12` is read as `"12"`.
    #[serde(default, deserialize_with = "crate::validate::name_or_number")]
    pub table_number: Option<String>,
    /// What to make, 1 to 100 items.
    pub items: Option<Vec<TicketItem>>,
    /// Expected minutes, at most 600; 0 means 15.
    #[schema(maximum = 600)]
    pub prep_minutes: Option<u32>,
    /// For the kitchen.
    pub notes: Option<String>,
}

/// The body of `PUT /api/kitchen/orders/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"status": "preparing", "expected_status": "accepted"}))]
pub struct TicketStatusInput {
    /// The status to move to.
    pub status: TicketStatus,
    /// Required (1 to 500 characters) to reject; refused otherwise.
    #[serde(default)]
    pub reason: String,
    /// Move only if the ticket is in this status now; otherwise 409
    /// `ticket_status_changed` (someone else moved it first).
    pub expected_status: Option<TicketStatus>,
}

/// The query of kitchen routes.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KitchenQuery {
    /// Admins: the restaurant whose kitchen to use (staff use their own).
    pub restaurant_id: Option<i64>,
}

/// The query of `GET /api/kitchen/orders`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketListQuery {
    /// Admins: the restaurant whose kitchen to use (staff use their own).
    pub restaurant_id: Option<i64>,
    /// Only these statuses (repeat or separate with commas); default the
    /// open ones: queued, accepted, preparing, ready.
    pub status: Option<Vec<TicketStatus>>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// The kitchen a caller works in: staff their token's restaurant, admins
/// the one `?restaurant_id=` names, which must exist. Checked before any
/// body is read.
#[derive(Debug, Clone, Copy)]
pub struct KitchenOf(pub i64);

impl FromRequestParts<AppState> for KitchenOf {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Caller(claims) = Caller::from_request_parts(parts, state).await?;
        let query = QueryParams::from_request_parts(parts, state).await?;
        let asked = query.id("restaurant_id")?;
        match (claims.role, claims.restaurant_id, asked) {
            (Role::Staff, Some(own), Some(asked)) if asked != own => Err(Problem::forbidden(
                "Staff work only in their own restaurant's kitchen.",
            )),
            (Role::Staff, Some(own), _) => Ok(KitchenOf(own)),
            // A kitchen is a restaurant's: one that does not exist has
            // none, rather than an empty one (from the menu cache, mostly).
            (Role::Admin, _, Some(asked)) => {
                state.upstreams.restaurants.currency_of(asked).await?;
                Ok(KitchenOf(asked))
            }
            (Role::Admin, _, None) => Err(Problem::invalid_parameter(
                "restaurant_id",
                "is required for an admin: the restaurant whose kitchen to use",
            )),
            _ => Err(Problem::forbidden(
                "Only restaurant staff (and admins) use the kitchen.",
            )),
        }
    }
}

/// Receive an order into the kitchen
///
/// Queues a ticket for `order_id` by hand (confirmed orders arrive on their own) and answers
/// 201 with it; an order that already has a ticket gets that ticket back, unchanged. Without
/// `items` the ticket is made from the order as order-svc has it, each other field given
/// replacing what the order says; with `items` the body states the whole ticket (`order_number`
/// and `fulfilment` then required).
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: `ticket.queued` for a new ticket; none when the order already had one.
#[utoipa::path(
    post,
    path = "/api/kitchen/orders",
    tag = "kitchen",
    params(KitchenQuery),
    request_body = NewTicket,
    responses(
        (status = 201, description = "The order's ticket (new, or the one it already had); \
            `Location` names it.", body = TicketView,
            headers(("Location" = String, description = "Path of the ticket"))),
        (status = 404, description = "`order_id` names no order of this restaurant \
            (`order_not_found`), or an admin's `restaurant_id` no restaurant \
            (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn create_ticket(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
    JsonBody(body): JsonBody<NewTicket>,
) -> Result<Created<TicketView>, Problem> {
    let mut v = Violations::new();
    v.id("order_id", body.order_id);
    v.finish()?;
    let (order, items) = match body.items {
        Some(items) => (None, items),
        // The order is read only to check it is this kitchen's; kitchen-svc
        // makes the ticket from it.
        None => {
            let order = state
                .upstreams
                .orders
                .get_order(order_pb::GetOrderRequest {
                    id: body.order_id,
                    access_token: String::new(),
                })
                .await
                .map_err(|e| e.about(Subject::order_read_by_gateway(body.order_id)))?;
            if order.restaurant_id != restaurant_id {
                return Err(Problem::order_not_found(body.order_id));
            }
            (Some(order), Vec::new())
        }
    };
    let request = pb::CreateTicketRequest {
        order_id: body.order_id,
        order_number: body.order_number,
        restaurant_id,
        fulfilment: body.fulfilment.map_or(0, Fulfilment::to_proto),
        table_number: body.table_number,
        items: items
            .into_iter()
            .map(|i| pb::TicketItem {
                name: i.name,
                quantity: i.quantity,
                modifiers: i.modifiers,
                special_instructions: i.special_instructions,
            })
            .collect(),
        prep_minutes: body.prep_minutes,
        notes: body.notes,
        order,
    };
    let ticket = state.upstreams.kitchen.create_ticket(request).await?;
    let view = TicketView::from_proto(ticket)?;
    Ok(created(&format!("/api/kitchen/orders/{}", view.id), view))
}

/// List the kitchen's tickets
///
/// Answers the kitchen's tickets oldest first, a page at a time (`limit` 1 to 500, default
/// 100): the open ones unless `status` (repeatable) says otherwise. Each ticket names its order
/// in `order_id`.
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/kitchen/orders",
    tag = "kitchen",
    params(TicketListQuery),
    responses(
        (status = 200, description = "One page of tickets.", body = TicketPage),
        (status = 404, description = "An admin's `restaurant_id` names no restaurant \
            (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_tickets(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
    query: QueryParams,
) -> Result<Json<TicketPage>, Problem> {
    let mut statuses = Vec::new();
    for name in query.values("status") {
        let status = TicketStatus::parse(&name).ok_or_else(|| {
            Problem::invalid_parameter(
                "status",
                format!(
                    "`{name}` is not a ticket status: use {}",
                    TicketStatus::names()
                ),
            )
        })?;
        statuses.push(status.to_proto());
    }
    let limit = query.positive("limit")?.unwrap_or(0);
    if limit > pages::TICKETS {
        return Err(Problem::invalid_parameter(
            "limit",
            format!("must be at most {}", pages::TICKETS),
        ));
    }
    let answer = state
        .upstreams
        .kitchen
        .list_tickets(pb::ListTicketsRequest {
            restaurant_id,
            statuses,
            page: Some(common::PageRequest {
                page_size: limit,
                page_token: query.text("cursor").unwrap_or_default(),
            }),
        })
        .await?;
    let items = answer
        .tickets
        .into_iter()
        .map(TicketView::from_proto)
        .collect::<Result<_, _>>()?;
    let next_cursor = answer
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(Json(TicketPage { items, next_cursor }))
}

/// Read a kitchen ticket
///
/// Answers one ticket of the kitchen by its ticket id (not the order's). A ticket of another
/// restaurant is 404, as if it did not exist.
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/kitchen/orders/{id}",
    tag = "kitchen",
    params(("id" = i64, Path, description = "Ticket id", minimum = 1), KitchenQuery),
    responses((status = 200, description = "The ticket.", body = TicketView)),
    security(("bearer" = []))
)]
pub async fn get_ticket(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
    ResourceId(id): ResourceId,
) -> Result<Json<TicketView>, Problem> {
    let ticket = state
        .upstreams
        .kitchen
        .get_ticket(pb::GetTicketRequest {
            id,
            order_id: 0,
            restaurant_id,
        })
        .await
        .map_err(|e| e.about(Subject::ticket(id)))?;
    Ok(Json(TicketView::from_proto(ticket)?))
}

/// Move a kitchen ticket
///
/// Moves a ticket along: `accepted`, `preparing`, `ready`, `picked_up`, or `rejected` with a
/// `reason` while it is queued or accepted (the order is then cancelled). The order follows the
/// ticket: `preparing`, `ready`, and `completed` on `picked_up` (dine-in and takeout). Any
/// other move is 409 `invalid_transition`; with `expected_status`, a ticket someone else moved
/// first is 409 `ticket_status_changed`.
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: `ticket.<status>` (`ticket.accepted`, `ticket.preparing`, `ticket.ready`,
/// `ticket.picked_up` or `ticket.rejected`); order-svc then publishes `order.preparing`,
/// `order.ready`, `order.completed` or `order.cancelled` to match.
#[utoipa::path(
    put,
    path = "/api/kitchen/orders/{id}/status",
    tag = "kitchen",
    params(("id" = i64, Path, description = "Ticket id", minimum = 1), KitchenQuery),
    request_body = TicketStatusInput,
    responses((status = 200, description = "The ticket after the change.", body = TicketView)),
    security(("bearer" = []))
)]
pub async fn update_ticket_status(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<TicketStatusInput>,
) -> Result<Json<TicketView>, Problem> {
    let mut v = Violations::new();
    v.at_most("reason", &body.reason, limits::REASON);
    v.finish()?;
    let ticket = state
        .upstreams
        .kitchen
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            id,
            status: body.status.to_proto(),
            reason: body.reason,
            expected_status: body.expected_status.map_or(0, TicketStatus::to_proto),
            restaurant_id,
        })
        .await
        .map_err(|e| e.about(Subject::ticket(id)))?;
    Ok(Json(TicketView::from_proto(ticket)?))
}

const KITCHEN_SNAPSHOT: EventDoc = EventDoc {
    name: "snapshot",
    schema: "KitchenSnapshotEvent",
    data: "TicketView",
    description: "One open ticket as it is now. A stream starts with one per open ticket; \
        a run of them after a gap replaces the list.",
};
const KITCHEN_SYNCED: EventDoc = EventDoc {
    name: "synced",
    schema: "KitchenSyncedEvent",
    data: "SyncedView",
    description: "The snapshots before it are the whole open queue.",
};
const KITCHEN_CHANGED: EventDoc = EventDoc {
    name: "changed",
    schema: "KitchenChangedEvent",
    data: "TicketView",
    description: "A ticket was created or moved (one leaving the open queue comes once more, \
        so displays can drop it).",
};
/// Every event of the kitchen stream, as the OpenAPI document lists them.
const KITCHEN_EVENTS: &[EventDoc] = &[
    KITCHEN_SNAPSHOT,
    KITCHEN_SYNCED,
    KITCHEN_CHANGED,
    live::PROBLEM_EVENT_DOC,
];

live::event_stream_schema!(
    /// One event of `GET /api/kitchen/stream`: the OpenAPI document's
    /// `KitchenEvent`.
    KitchenEvent,
    KITCHEN_EVENTS,
    [TicketView, SyncedView]
);

/// Watch the kitchen queue live
///
/// Streams the queue as Server-Sent Events: first a `snapshot` event per open ticket and one
/// `synced`, then a `changed` event for every ticket created or moved (a ticket leaving the
/// open queue comes once more, so displays can drop it). After a gap the whole queue is sent
/// again as a new run of `snapshot`s: replace the list with it. `data` is the ticket as
/// `GET /api/kitchen/orders/{id}` shows it; try it:
/// `curl -N -H "Authorization: Bearer $STAFF" $GATEWAY/api/kitchen/stream`.
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/kitchen/stream",
    tag = "kitchen",
    params(KitchenQuery),
    responses(
        (status = 200, description = "The queue's events, as they happen, for as long as the \
            client stays. Each is an `event:` name, an `id:` and JSON `data:`; a `: keep-alive` \
            comment comes every 15 s. A failure after the stream opened (the service \
            restarting) comes as a last `problem` event: connect again.\n\n\
            ```\nevent: snapshot\nid: 1\ndata: {\"id\":7,\"order_id\":42,\"status\":\"queued\",...}\n\n\
            event: synced\nid: 2\ndata: {\"restaurant_id\":1,\"server_time\":\"2026-11-23T18:00:00.250Z\"}\n\n\
            event: changed\nid: 3\ndata: {\"id\":7,\"order_id\":42,\"status\":\"accepted\",...}\n```",
            content_type = "text/event-stream", body = KitchenEvent),
        (status = 400, description = "`restaurant_id` is not a positive integer, or an admin \
            left it out (`invalid_parameter`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "No bearer token, or one that is not valid (`unauthorized`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "Neither staff nor an admin, or staff asking for another \
            restaurant's kitchen (`forbidden`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "An admin's `restaurant_id` names no restaurant \
            (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn watch_queue(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
) -> Result<Response, Problem> {
    let updates = state
        .upstreams
        .kitchen
        .watch_queue(pb::WatchQueueRequest { restaurant_id })
        .await?;
    Ok(live::respond(
        updates,
        state.draining.clone(),
        "kitchen-svc",
        "WatchQueue",
        move |update| {
            let name = match pb::TicketUpdateKind::try_from(update.kind) {
                Ok(pb::TicketUpdateKind::Snapshot) => KITCHEN_SNAPSHOT.name,
                Ok(pb::TicketUpdateKind::Changed) => KITCHEN_CHANGED.name,
                Ok(pb::TicketUpdateKind::Synced) => {
                    let synced = SyncedView {
                        restaurant_id,
                        server_time: Utc::now(),
                    };
                    return Update::json(KITCHEN_SYNCED.name, &synced).map(Some);
                }
                Ok(pb::TicketUpdateKind::Unspecified) | Err(_) => return Ok(None),
            };
            match update.ticket {
                Some(ticket) => Update::json(name, &TicketView::from_proto(ticket)?).map(Some),
                None => Ok(None),
            }
        },
    ))
}

/// Read kitchen statistics
///
/// Answers the queue's counts (queued, accepted, in progress, ready, overdue, prepared) and its
/// preparation and wait times over a recent window: `window_minutes`, default 1440, at most
/// 10080.
///
/// Who may call: staff of the restaurant (their own kitchen); admins, naming the restaurant
/// with `?restaurant_id=`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/kitchen/stats",
    tag = "kitchen",
    params(
        KitchenQuery,
        ("window_minutes" = Option<u32>, Query, description = "Minutes, ending now (default 1440)",
            minimum = 1, maximum = 10080),
    ),
    responses(
        (status = 200, description = "The stats.", body = KitchenStatsView),
        (status = 404, description = "An admin's `restaurant_id` names no restaurant \
            (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_stats(
    State(state): State<AppState>,
    KitchenOf(restaurant_id): KitchenOf,
    query: QueryParams,
) -> Result<Json<KitchenStatsView>, Problem> {
    let window = query.positive("window_minutes")?.unwrap_or(0);
    if window > STATS_WINDOW_MINUTES {
        return Err(Problem::invalid_parameter(
            "window_minutes",
            format!("must be at most {STATS_WINDOW_MINUTES}"),
        ));
    }
    let s = state
        .upstreams
        .kitchen
        .get_stats(pb::GetStatsRequest {
            restaurant_id,
            window_minutes: window,
        })
        .await?;
    Ok(Json(KitchenStatsView {
        restaurant_id,
        window_minutes: s.window_minutes,
        queued: s.queued,
        accepted: s.accepted,
        in_progress: s.in_progress,
        ready: s.ready,
        overdue: s.overdue,
        prepared: s.prepared,
        avg_preparation_seconds: s.avg_preparation_seconds,
        p90_preparation_seconds: s.p90_preparation_seconds,
        avg_wait_seconds: s.avg_wait_seconds,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_event_of_the_kitchen_stream() {
        live::tests::assert_documented::<KitchenEvent>(KITCHEN_EVENTS);
    }
    use crate::extract::parse_json;

    #[test]
    fn ticket_statuses_are_lower_snake_case_either_way() {
        let body: TicketStatusInput =
            parse_json(br#"{"status": "PICKED_UP", "expected_status": "ready"}"#).expect("parses");
        assert_eq!(body.status, TicketStatus::PickedUp);
        assert_eq!(body.expected_status, Some(TicketStatus::Ready));
        let problem =
            parse_json::<TicketStatusInput>(br#"{"status": "cooking"}"#).expect_err("refused");
        assert_eq!(problem.errors[0].field, "status");
        let view = TicketView::from_proto(pb::Ticket {
            status: pb::TicketStatus::PickedUp as i32,
            fulfilment: pb::Fulfilment::Pickup as i32,
            ..Default::default()
        })
        .expect("view");
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["status"], "picked_up");
        assert_eq!(json["fulfilment"], "pickup");
        assert_eq!(json["preparation_seconds"], serde_json::Value::Null);
    }
}
