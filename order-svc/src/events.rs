//! What order-svc publishes and what it consumes.
//!
//! Published (to its own stream, through the outbox, in the changing
//! transaction), each with an `OrderEvent` payload — the order after the
//! change, the status change, the contact, the restaurant's pickup address
//! and location, and the preparation minutes: `order.created`,
//! `order.confirmed`, `order.preparing`, `order.ready`,
//! `order.out_for_delivery`, `order.completed`, `order.cancelled`, and
//! `order.updated` (items changed while PENDING).
//!
//! Consumed (exactly once per event, through the shared consumer):
//!
//! | event | from | effect |
//! |---|---|---|
//! | `payment.authorized` | accounting | PENDING → CONFIRMED |
//! | `ticket.preparing` | kitchen | CONFIRMED → PREPARING |
//! | `ticket.ready` | kitchen | PREPARING → READY |
//! | `ticket.picked_up` | kitchen | READY → COMPLETED (dine-in, takeout) |
//! | `ticket.rejected` | kitchen | → CANCELLED with the ticket's reason |
//! | `delivery.picked_up` | delivery | READY → OUT_FOR_DELIVERY |
//! | `delivery.delivered` | delivery | OUT_FOR_DELIVERY → COMPLETED |
//!
//! An event that does not fit the order's state (a late duplicate, a
//! ticket picked up for a delivery order) is logged and dropped, never
//! retried; only database failures are.

use std::sync::Arc;

use foodmesh_proto::events::v1::{DeliveryEvent, OrderEvent, PaymentEvent, TicketEvent};
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::convert;
use crate::domain::DomainError;
use crate::domain::order::{Order, OrderStatus, OrderType, StatusChange};
use crate::service::Orders;

/// Writes an order event to the outbox as part of `work`.
///
/// # Errors
/// The insert failed; the work must roll back.
pub async fn publish(
    work: &mut Work<'_>,
    stream: &str,
    event_type: &str,
    order: &Order,
    change: Option<&StatusChange>,
) -> Result<(), DomainError> {
    publish_all(work, stream, &[(event_type, order, change)]).await
}

/// Writes several order events to the outbox as part of `work`, in order
/// and in one statement: `(type, order as of the event, change)`.
///
/// # Errors
/// The insert failed; the work must roll back.
pub async fn publish_all(
    work: &mut Work<'_>,
    stream: &str,
    events: &[(&str, &Order, Option<&StatusChange>)],
) -> Result<(), DomainError> {
    let payloads: Vec<(OrderEvent, String)> = events
        .iter()
        .map(|(_, order, change)| (payload(order, *change), order.id.to_string()))
        .collect();
    let outgoing: Vec<outbox::Outgoing<'_, OrderEvent>> = events
        .iter()
        .zip(&payloads)
        .map(
            |((event_type, _, _), (payload, aggregate_id))| outbox::Outgoing {
                stream,
                event_type,
                aggregate_id,
                payload,
            },
        )
        .collect();
    outbox::enqueue_all(work, &outgoing).await?;
    Ok(())
}

/// What every order event carries: the order after the change, the
/// change, and what the kitchen, delivery and notifications need of it.
fn payload(order: &Order, change: Option<&StatusChange>) -> OrderEvent {
    OrderEvent {
        order: Some(convert::order_to_pb(order)),
        change: change.map(convert::change_to_pb),
        contact: Some(convert::contact_to_pb(&order.contact)),
        restaurant_address: Some(convert::address_to_pb(&order.pickup.address)),
        restaurant_location: order
            .pickup
            .location
            .map(|at| foodmesh_proto::common::v1::GeoPoint {
                latitude: at.latitude,
                longitude: at.longitude,
            }),
        prep_minutes: order.pickup.prep_minutes,
    }
}

/// The consumer's routes: every event type order-svc reacts to.
pub fn router(orders: &Orders) -> Router {
    let to = |status: OrderStatus, extract: Extract| -> Arc<dyn Handler> {
        Arc::new(Move {
            orders: orders.clone(),
            to: status,
            extract,
        })
    };
    Router::new()
        .route("payment.authorized", to(OrderStatus::Confirmed, payment))
        .route("ticket.preparing", to(OrderStatus::Preparing, ticket))
        .route("ticket.ready", to(OrderStatus::Ready, ticket))
        .route(
            "ticket.picked_up",
            to(OrderStatus::Completed, picked_up_ticket),
        )
        .route("ticket.rejected", to(OrderStatus::Cancelled, ticket))
        .route(
            "delivery.picked_up",
            to(OrderStatus::OutForDelivery, delivery),
        )
        .route("delivery.delivered", to(OrderStatus::Completed, delivery))
}

/// What an event says about its order: the order's id, the source service
/// (for the history's actor), the reason, and a check on the order itself.
struct Target {
    order_id: i64,
    source: &'static str,
    reason: String,
    applies_to: Box<dyn Fn(&Order) -> bool + Send>,
}

type Extract = fn(&Event) -> Result<Target, HandlerError>;

/// Moves the event's order to `to`.
struct Move {
    orders: Orders,
    to: OrderStatus,
    extract: Extract,
}

impl Handler for Move {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let target = (self.extract)(event)?;
            // Locked before it is looked at, so what is checked here is what
            // the move applies to.
            crate::store::lock_order(work.conn(), target.order_id)
                .await
                .map_err(retry)?;
            let fits = crate::store::order(work.conn(), target.order_id)
                .await
                .map_err(retry)?
                .is_some_and(|o| (target.applies_to)(&o));
            if !fits {
                tracing::info!(
                    event_type = %event.envelope.r#type,
                    order_id = target.order_id,
                    "event is not for an order it applies to; ignored"
                );
                return Ok(());
            }
            self.orders
                .apply_event(
                    work,
                    target.order_id,
                    self.to,
                    target.source,
                    &target.reason,
                )
                .await
                .map_err(retry)?;
            Ok(())
        })
    }
}

fn retry(e: DomainError) -> HandlerError {
    HandlerError::Retry(anyhow::Error::new(e))
}

fn reject(event: &Event, e: &prost::DecodeError) -> HandlerError {
    HandlerError::Reject(format!(
        "{}: undecodable payload: {e}",
        event.envelope.r#type
    ))
}

fn any_order() -> Box<dyn Fn(&Order) -> bool + Send> {
    Box::new(|_| true)
}

fn payment(event: &Event) -> Result<Target, HandlerError> {
    let payload: PaymentEvent = event.payload().map_err(|e| reject(event, &e))?;
    let payment = payload
        .payment
        .ok_or_else(|| HandlerError::Reject("payment event without a payment".to_owned()))?;
    let authorized = payment.amount;
    Ok(Target {
        order_id: payment.order_id,
        source: "accounting-svc",
        reason: "payment authorized".to_owned(),
        // An authorization for less than the order's total (items were
        // added after the payment started) does not pay for it.
        applies_to: Box::new(move |order| match &authorized {
            Some(amount) if amount.currency == order.currency => {
                let covers = amount.amount_minor >= order.totals.total_minor;
                if !covers {
                    tracing::warn!(
                        order_id = order.id,
                        authorized = amount.amount_minor,
                        total = order.totals.total_minor,
                        "payment authorized for less than the order's total"
                    );
                }
                covers
            }
            _ => true,
        }),
    })
}

fn ticket(event: &Event) -> Result<Target, HandlerError> {
    let payload: TicketEvent = event.payload().map_err(|e| reject(event, &e))?;
    let ticket = payload
        .ticket
        .ok_or_else(|| HandlerError::Reject("ticket event without a ticket".to_owned()))?;
    let reason = match (event.envelope.r#type.as_str(), ticket.reason.trim()) {
        ("ticket.rejected", "") => "rejected by the kitchen".to_owned(),
        (_, reason) => reason.to_owned(),
    };
    Ok(Target {
        order_id: ticket.order_id,
        source: "kitchen-svc",
        reason,
        applies_to: any_order(),
    })
}

fn picked_up_ticket(event: &Event) -> Result<Target, HandlerError> {
    // A delivery order's ticket is picked up by its driver: delivery-svc's
    // events move that order, not the kitchen's.
    Ok(Target {
        applies_to: Box::new(|o| o.order_type != OrderType::Delivery),
        ..ticket(event)?
    })
}

fn delivery(event: &Event) -> Result<Target, HandlerError> {
    let payload: DeliveryEvent = event.payload().map_err(|e| reject(event, &e))?;
    let delivery = payload
        .delivery
        .ok_or_else(|| HandlerError::Reject("delivery event without a delivery".to_owned()))?;
    Ok(Target {
        order_id: delivery.order_id,
        source: "delivery-svc",
        reason: String::new(),
        applies_to: any_order(),
    })
}
