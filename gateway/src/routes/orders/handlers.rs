//! The handlers of `/api/orders`, each with its OpenAPI operation: who is
//! asking, the body's checks, the call to order-svc, the view.

use axum::Json;
use axum::extract::{RawPathParams, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::values::limits;

use super::access::{OrderParty, Orderer, Party, open_order};
use super::body::{
    CancelInput, LineInput, LinePatch, NewOrder, QuoteInput, ReorderInput, StatusChangeInput,
    check_coupon_code, check_modifiers, check_quantity, check_stated_price, idempotency_key,
    stated_price,
};
use super::names::{OrderSource, OrderStatus, PaymentMethod};
use super::query::{OrderFilter, OrderListQuery, list_page};
use super::view::{
    CreatedOrderView, HistoryView, OrderPage, OrderUpdateView, OrderView, QuoteView,
    StatusChangeView,
};
use crate::auth::{Caller, OrderToken};
use crate::extract::{JsonBody, OptionalJsonBody, OrderLineId, QueryParams, ResourceId};
use crate::middleware;
use crate::problem::{Problem, ProblemDetails, Subject};
use crate::routes::AppState;
use crate::routes::live::{self, EventDoc, Update};
use crate::validate::Violations;

/// The response header set on an answer replayed for an idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// 201 with `Location` and the order (and a guest's access token); a
/// replay for an idempotency key answers the same, marked
/// `Idempotent-Replayed: true`.
fn created_order(answer: pb::CreateOrderResponse) -> Result<Response, Problem> {
    let order = answer
        .order
        .ok_or_else(|| Problem::internal(&"order-svc created an order but sent none"))?;
    let view = CreatedOrderView {
        order: OrderView::from_proto(order)?,
        access_token: Some(answer.access_token).filter(|t| !t.is_empty()),
    };
    let location = format!("/api/orders/{}", view.order.id);
    let mut response = crate::routes::created(&location, view).into_response();
    if answer.replayed {
        response.headers_mut().insert(
            HeaderName::from_static(IDEMPOTENT_REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// Place an order
///
/// Places an order at `restaurant_id`, priced from the menu: a stated `unit_price` that differs
/// is 409 `price_mismatch`. Without a token it is guest checkout (`guest` required), and the
/// answer carries the order's `access_token`. A cash order is confirmed at once; any other
/// waits `pending` for its payment. With an `Idempotency-Key`, a retry answers the first order
/// again (201, `Idempotent-Replayed: true`) and never places a second one.
///
/// Who may call: a guest, without a token (`guest` required; a `customer_id` without its token
/// is 401); customers (for themselves only: another `customer_id` is 403); staff (at their own
/// restaurant, for anyone, or a walk-in dine-in or takeout order for nobody); admins (for
/// anyone, anywhere).
///
/// Events: `order.created` (and `order.confirmed` for cash, after which the kitchen queues its
/// ticket and a delivery order's delivery opens); a replay causes none.
#[utoipa::path(
    post,
    path = "/api/orders",
    tag = "orders",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key from the same caller \
                answers the first order again (1–255 printable ASCII characters, kept 24 hours; \
                the same key with another body is 409 `idempotency_key_reused`)."),
    ),
    request_body = NewOrder,
    responses(
        (status = 201, description = "Placed (or replayed); `Location` names it.",
            body = CreatedOrderView,
            headers(
                ("Location" = String, description = "Path of the order"),
                ("Idempotent-Replayed" = String, description = "`true` when an earlier request with the key placed it"),
            )),
        (status = 404, description = "`restaurant_id` names no restaurant (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security((), ("bearer" = []))
)]
pub async fn create_order(
    State(state): State<AppState>,
    Orderer(party): Orderer,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewOrder>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let customer = body.check(&party)?;
    let currency = if body.items.iter().any(|line| line.unit_price.is_some()) {
        state
            .upstreams
            .restaurants
            .currency_of(body.restaurant_id)
            .await
            .map_err(|e| e.about(Subject::restaurant_in_body()))?
    } else {
        String::new()
    };
    let request = body.into_proto(&party, customer, &currency, key)?;
    let answer = state
        .upstreams
        .orders
        .create_order(request)
        .await
        .map_err(|e| e.about(Subject::default().priced_in(&currency)))?;
    created_order(answer)
}

/// Price a cart
///
/// Answers what an order of these lines would cost now: each line priced from the menu, the
/// coupon's discount, the delivery fee (delivery orders only), the tax and the total, as
/// placing the order would price them. Nothing is written and no coupon is redeemed. The body
/// of `POST /api/orders` may be sent as it is; a line placing would refuse is refused the same
/// way, naming it, and so is a coupon that is unknown, switched off, outside its dates, used up,
/// or whose minimum order the subtotal does not reach (`coupon_min_order_not_met`). Only the
/// limits about one customer (uses per customer, first customers only) wait for the order to
/// be placed, as the quote does not know who will place it.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/orders/quote",
    tag = "orders",
    request_body = QuoteInput,
    responses(
        (status = 200, description = "The priced lines and the order's figures.", body = QuoteView),
        (status = 404, description = "`restaurant_id` names no restaurant (`restaurant_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn quote_order(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<QuoteInput>,
) -> Result<Json<QuoteView>, Problem> {
    body.check()?;
    let restaurant_id = body.restaurant_id;
    let currency = if body.items.iter().any(|line| line.unit_price.is_some()) {
        state
            .upstreams
            .restaurants
            .currency_of(restaurant_id)
            .await
            .map_err(|e| e.about(Subject::restaurant_in_body()))?
    } else {
        String::new()
    };
    let request = body.into_proto(&currency)?;
    let quote = state
        .upstreams
        .orders
        .quote_order(request)
        .await
        .map_err(|e| e.about(Subject::default().priced_in(&currency)))?;
    Ok(Json(QuoteView::from_proto(restaurant_id, quote)?))
}

/// List orders
///
/// Answers orders newest first, a page at a time, narrowed by `status` and `order_type` (repeat
/// them, or separate with commas), `restaurant_id`, `customer_id`, `order_number`, `from` and
/// `to`. Staff naming another restaurant, or a customer another customer, is 403.
///
/// Who may call: admins (every order, with any filter); staff (their restaurant's orders);
/// customers (their own). Drivers are refused (403).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders",
    tag = "orders",
    params(OrderListQuery),
    responses((status = 200, description = "One page of orders.", body = OrderPage)),
    security(("bearer" = []))
)]
pub async fn list_orders(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<OrderPage>, Problem> {
    let party = Party::of(Some(&claims), None)?;
    let filter = OrderFilter::parse(&query)?.scoped(&party)?;
    Ok(Json(list_page(&state, filter).await?))
}

/// Read an order
///
/// Answers one order with its items, figures and status. An order the caller may not see is
/// 404, exactly like a missing one.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/{id}",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    responses((status = 200, description = "The order.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn get_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<OrderView>, Problem> {
    let order = open_order(&state, &party, id).await?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Change an order's status
///
/// Moves the order along its lifecycle: `pending` → `confirmed` → `preparing` → `ready` →
/// (`out_for_delivery` →) `completed`, or `cancelled` (with a `reason` when the restaurant
/// cancels an order being prepared). Staff of its restaurant and admins make the restaurant's
/// moves; customers and guests only cancel, while it is `pending` or within the cancellation
/// window after confirmation (a guest's other moves are 403). Any other move is 409
/// `invalid_transition`; of two callers racing the same move, one gets 200 and the other 409.
///
/// Who may call: staff of the order's restaurant; admins; its customer, and a guest with the
/// order's `X-Order-Token` (to cancel only).
///
/// Events: `order.<status>` of the new status (`order.confirmed`, `order.preparing`,
/// `order.ready`, `order.out_for_delivery`, `order.completed` or `order.cancelled`); the
/// kitchen, the delivery and the payment follow.
#[utoipa::path(
    put,
    path = "/api/orders/{id}/status",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    request_body = StatusChangeInput,
    responses((status = 200, description = "The order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn update_order_status(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<StatusChangeInput>,
) -> Result<Json<OrderView>, Problem> {
    let mut v = Violations::new();
    v.at_most("reason", &body.reason, limits::REASON);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let orders = &state.upstreams.orders;
    let order = if body.status == OrderStatus::Cancelled {
        orders
            .cancel_order(pb::CancelOrderRequest {
                id,
                reason: body.reason,
                actor: Some(party.actor()),
                access_token: party.access_token(),
            })
            .await
    } else if matches!(party, Party::Guest { .. }) {
        return Err(Problem::forbidden(
            "An order's access token can cancel the order, not move it otherwise.",
        ));
    } else {
        orders
            .update_order_status(pb::UpdateOrderStatusRequest {
                id,
                status: body.status.to_proto(),
                reason: body.reason,
                actor: Some(party.actor()),
            })
            .await
    }
    .map_err(|e| e.about(Subject::order(id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Cancel an order
///
/// Cancels the order, as `PUT /api/orders/{id}/status` with `cancelled` does, and answers the
/// cancelled order. The customer or guest may cancel while it is `pending` or within the
/// cancellation window after confirmation; staff and admins until it is ready (with a `reason`
/// once it is being prepared). The reason may come as the `reason` query parameter or in a JSON
/// body.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: `order.cancelled`; then the kitchen cancels its ticket, an open delivery is
/// cancelled, the payment is voided (or refunded, if captured) and any coupon use is released.
#[utoipa::path(
    delete,
    path = "/api/orders/{id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("reason" = Option<String>, Query, description = "Why (also accepted in the body)"),
    ),
    request_body(content = Option<CancelInput>, description = "Optional."),
    responses((status = 200, description = "The cancelled order.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    query: QueryParams,
    OptionalJsonBody(body): OptionalJsonBody<CancelInput>,
) -> Result<Json<OrderView>, Problem> {
    let reason = body
        .reason
        .or_else(|| query.text("reason"))
        .unwrap_or_default();
    let mut v = Violations::new();
    v.at_most("reason", &reason, limits::REASON);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let order = state
        .upstreams
        .orders
        .cancel_order(pb::CancelOrderRequest {
            id,
            reason,
            actor: Some(party.actor()),
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Add an item to an order
///
/// Adds a line to a `pending` order; every line is priced again from the menu and the totals
/// follow (a stated `unit_price` that differs is 409 `price_mismatch`). Answers 201 with the
/// whole order, `Location` naming the new line. An order that has left `pending` is 409
/// `order_not_editable`.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: `order.updated` (accounting brings the order's invoice up to date).
#[utoipa::path(
    post,
    path = "/api/orders/{id}/items",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    request_body = LineInput,
    responses(
        (status = 201, description = "Added; `Location` names the new line, the body is the whole order.",
            body = OrderView,
            headers(("Location" = String, description = "Path of the new line"))),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn add_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    JsonBody(line): JsonBody<LineInput>,
) -> Result<Response, Problem> {
    let mut v = Violations::new();
    line.check("", &mut v);
    v.finish()?;
    let before = open_order(&state, &party, id).await?;
    let mut v = Violations::new();
    let item = line.into_proto("", &before.currency, &mut v);
    v.finish()?;
    let order = state
        .upstreams
        .orders
        .add_item(pb::AddItemRequest {
            order_id: id,
            item: Some(item),
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id).priced_in(&before.currency)))?;
    let new_line = order
        .items
        .iter()
        .map(|l| l.id)
        .find(|line_id| before.items.iter().all(|old| old.id != *line_id))
        .or_else(|| order.items.last().map(|l| l.id));
    let view = OrderView::from_proto(order)?;
    let location = match new_line {
        Some(line_id) => format!("/api/orders/{id}/items/{line_id}"),
        None => format!("/api/orders/{id}"),
    };
    Ok((
        StatusCode::CREATED,
        [middleware::location(&location)],
        Json(view),
    )
        .into_response())
}

/// Change an item of an order
///
/// Changes a line of a `pending` order: `quantity`, `special_instructions`, or `modifiers`
/// (replaced whole). Every line is priced again and the totals follow; a stated `unit_price`
/// that differs is 409 `price_mismatch`, and an order that has left `pending` is 409
/// `order_not_editable`.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: `order.updated` (accounting brings the order's invoice up to date).
#[utoipa::path(
    patch,
    path = "/api/orders/{id}/items/{item_id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("item_id" = i64, Path, description = "Line id (an `items[].id` of the order)", minimum = 1),
    ),
    request_body = LinePatch,
    responses((status = 200, description = "The whole order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn update_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    path: OrderLineId,
    JsonBody(patch): JsonBody<LinePatch>,
) -> Result<Json<OrderView>, Problem> {
    let mut v = Violations::new();
    if let Some(quantity) = patch.quantity {
        check_quantity("quantity", quantity, &mut v);
    }
    if let Some(modifiers) = &patch.modifiers {
        check_modifiers("modifiers", modifiers, &mut v);
    }
    v.at_most_if_some(
        "special_instructions",
        patch.special_instructions.as_deref(),
        limits::INSTRUCTIONS,
    );
    check_stated_price("unit_price", patch.unit_price.as_ref(), &mut v);
    v.finish()?;
    let before = open_order(&state, &party, path.order_id).await?;
    let mut v = Violations::new();
    let stated = stated_price(
        "unit_price",
        patch.unit_price.as_ref(),
        &before.currency,
        &mut v,
    );
    v.finish()?;
    let replace_options = patch.modifiers.is_some();
    let order = state
        .upstreams
        .orders
        .update_item(pb::UpdateItemRequest {
            order_id: path.order_id,
            line_id: path.item_id,
            quantity: patch.quantity,
            special_instructions: patch.special_instructions,
            option_ids: patch.modifiers.unwrap_or_default(),
            replace_options,
            stated_unit_price_minor: stated,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(path.order_id).priced_in(&before.currency)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Remove an item from an order
///
/// Removes a line of a `pending` order, and the totals follow. The last line cannot go (409
/// `order_needs_a_line`): cancel the order instead.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: `order.updated` (accounting brings the order's invoice up to date).
#[utoipa::path(
    delete,
    path = "/api/orders/{id}/items/{item_id}",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("item_id" = i64, Path, description = "Line id (an `items[].id` of the order)", minimum = 1),
    ),
    responses((status = 200, description = "The whole order after the change.", body = OrderView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn remove_item(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    path: OrderLineId,
) -> Result<Json<OrderView>, Problem> {
    open_order(&state, &party, path.order_id).await?;
    let order = state
        .upstreams
        .orders
        .remove_item(pb::RemoveItemRequest {
            order_id: path.order_id,
            line_id: path.item_id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(path.order_id)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

/// Read an order's status history
///
/// Answers every status change of the order, oldest first: from, to, who, why and when.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/history",
    tag = "orders",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    responses((status = 200, description = "The history.", body = HistoryView)),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn get_history(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<HistoryView>, Problem> {
    open_order(&state, &party, id).await?;
    let answer = state
        .upstreams
        .orders
        .get_history(pb::GetHistoryRequest {
            order_id: id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    let items = answer
        .changes
        .into_iter()
        .map(StatusChangeView::from_proto)
        .collect();
    Ok(Json(HistoryView { items }))
}

/// Track an order by its number
///
/// Answers the order with this six-character order number (any case) to the holder of its
/// access token, sent as `X-Order-Token` or `?token=`. An unknown number and a wrong token are
/// the same 404.
///
/// Who may call: whoever holds the order's access token (a guest); a bearer token does not
/// stand in for it.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/track/{order_number}",
    tag = "orders",
    params(
        ("order_number" = String, Path, description = "The order number, any case", example = "K7M2QX"),
        ("token" = Option<String>, Query, description = "The access token, for clients that cannot send `X-Order-Token`"),
    ),
    responses((status = 200, description = "The order.", body = OrderView)),
    security(("order_token" = []))
)]
pub async fn track_order(
    State(state): State<AppState>,
    OrderToken(token): OrderToken,
    params: RawPathParams,
) -> Result<Json<OrderView>, Problem> {
    let number = params
        .iter()
        .find(|(name, _)| *name == "order_number")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(Problem::invalid_parameter(
            "order_number",
            "must be an order number such as K7M2QX",
        ));
    }
    let order = state
        .upstreams
        .orders
        .track_order(pb::TrackOrderRequest {
            order_number: number.clone(),
            access_token: token,
        })
        .await
        .map_err(|e| e.about(Subject::tracked_order(&number)))?;
    Ok(Json(OrderView::from_proto(order)?))
}

const ORDER_SNAPSHOT: EventDoc = EventDoc {
    name: "snapshot",
    schema: "OrderSnapshotEvent",
    data: "OrderUpdateView",
    description: "The first event: the order as it is now.",
};
const ORDER_STATUS_CHANGED: EventDoc = EventDoc {
    name: "status_changed",
    schema: "OrderStatusChangedEvent",
    data: "OrderUpdateView",
    description: "The order moved: the order after the move, with `change`, its history entry.",
};
const ORDER_ITEMS_CHANGED: EventDoc = EventDoc {
    name: "items_changed",
    schema: "OrderItemsChangedEvent",
    data: "OrderUpdateView",
    description: "Items were added, changed or removed: the re-priced order.",
};
/// Every event of an order's stream, as the OpenAPI document lists them.
const ORDER_EVENTS: &[EventDoc] = &[
    ORDER_SNAPSHOT,
    ORDER_STATUS_CHANGED,
    ORDER_ITEMS_CHANGED,
    live::PROBLEM_EVENT_DOC,
];

live::event_stream_schema!(
    /// One event of `GET /api/orders/{id}/events`: the OpenAPI document's
    /// `OrderEvent`.
    OrderEvent,
    ORDER_EVENTS,
    [OrderUpdateView]
);

/// Watch an order live
///
/// Streams the order's updates as Server-Sent Events: first `snapshot` (the order now), then
/// `status_changed` (with `change`, the history entry) and `items_changed`, each with the order
/// as `GET /api/orders/{id}` shows it as `data`. The stream ends after the order is completed
/// or cancelled. Browsers' `EventSource` cannot send headers, so guests pass `?token=`; try it:
/// `curl -N -H "X-Order-Token: $T" $GATEWAY/api/orders/42/events`.
///
/// Who may call: its customer; a guest with the order's `X-Order-Token` (or `?token=`), sent
/// without a bearer token; staff of the order's restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/events",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "Order id", minimum = 1),
        ("token" = Option<String>, Query, description = "The order's access token, for `EventSource` clients"),
    ),
    responses(
        (status = 200, description = "The order's events, as they happen, until it is completed \
            or cancelled. Each is an `event:` name, an `id:` and JSON `data:`; a `: keep-alive` \
            comment comes every 15 s. A failure after the stream opened comes as a last \
            `problem` event.\n\n\
            ```\nevent: snapshot\nid: 1\ndata: {\"id\":42,\"status\":\"confirmed\",...}\n\n\
            event: status_changed\nid: 2\ndata: {\"id\":42,\"status\":\"preparing\",...,\
            \"change\":{\"from\":\"confirmed\",\"to\":\"preparing\",...}}\n```",
            content_type = "text/event-stream", body = OrderEvent),
        (status = 400, description = "`id` is not a positive integer (`invalid_parameter`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "Neither a bearer token nor an order access token, or a \
            bearer token that is not valid (`unauthorized`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "A driver's token, a staff token naming no restaurant, or \
            a customer token whose subject is not a customer id (`forbidden`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not one the caller may see: another's, \
            or one the order access token does not open (`order_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn watch_order(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Response, Problem> {
    open_order(&state, &party, id).await?;
    let updates = state
        .upstreams
        .orders
        .watch_order(pb::WatchOrderRequest {
            order_id: id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    Ok(live::respond(
        updates,
        state.draining.clone(),
        "order-svc",
        "WatchOrder",
        |update| {
            let name = match pb::OrderUpdateKind::try_from(update.kind) {
                Ok(pb::OrderUpdateKind::Snapshot) => ORDER_SNAPSHOT.name,
                Ok(pb::OrderUpdateKind::StatusChanged) => ORDER_STATUS_CHANGED.name,
                Ok(pb::OrderUpdateKind::ItemsChanged) => ORDER_ITEMS_CHANGED.name,
                Ok(pb::OrderUpdateKind::Unspecified) | Err(_) => return Ok(None),
            };
            let Some(order) = update.order else {
                return Ok(None);
            };
            let view = OrderUpdateView {
                order: OrderView::from_proto(order)?,
                change: update.change.map(StatusChangeView::from_proto),
            };
            Update::json(name, &view).map(Some)
        },
    ))
}

/// Order again
///
/// Places a new order with what an earlier order had (its lines, customer and fulfilment),
/// priced from today's menu; `payment_method` and `source` default to the earlier order's, and
/// a coupon applies only when `coupon_code` names one. It answers as `POST /api/orders` does (a
/// guest's answer carries the new order's `access_token`), and an `Idempotency-Key` works as
/// there.
///
/// Who may call: whoever may read the earlier order: its customer; a guest with the order's
/// `X-Order-Token` (or `?token=`), sent without a bearer token; staff of the order's
/// restaurant; admins.
///
/// Events: as placing an order: `order.created` (and `order.confirmed` for cash, which the
/// kitchen and the delivery follow); a replay causes none.
#[utoipa::path(
    post,
    path = "/api/orders/{id}/reorder",
    tag = "orders",
    params(
        ("id" = i64, Path, description = "The earlier order's id", minimum = 1),
        ("Idempotency-Key" = Option<String>, Header, description = "As on `POST /api/orders`."),
    ),
    request_body(content = Option<ReorderInput>, description = "Optional."),
    responses(
        (status = 201, description = "Placed (or replayed); `Location` names it.",
            body = CreatedOrderView,
            headers(("Location" = String, description = "Path of the new order"))),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn reorder(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    headers: HeaderMap,
    OptionalJsonBody(body): OptionalJsonBody<ReorderInput>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let mut v = Violations::new();
    check_coupon_code(body.coupon_code.as_deref(), &mut v);
    v.finish()?;
    open_order(&state, &party, id).await?;
    let answer = state
        .upstreams
        .orders
        .reorder(pb::ReorderRequest {
            order_id: id,
            access_token: party.access_token(),
            idempotency_key: key,
            actor: Some(party.actor()),
            payment_method: body.payment_method.map_or(0, PaymentMethod::to_proto),
            source: body.source.map_or(0, OrderSource::to_proto),
            coupon_code: body.coupon_code.unwrap_or_default(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    created_order(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_describes_every_event_of_an_order_stream() {
        live::tests::assert_documented::<OrderEvent>(ORDER_EVENTS);
    }
}
