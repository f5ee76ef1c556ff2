//! What order-svc consumes: other services' events that move an order.
//! (What it publishes is written by the use cases in [`crate::service`],
//! with the payload [`crate::convert::order_event`] builds.)
//!
//! Consumed exactly once per event, through the shared consumer:
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
//! | `delivery.failed` | delivery | READY or OUT_FOR_DELIVERY → CANCELLED with the driver's reason (its payment is then voided or refunded) |
//!
//! An event that does not fit the order's state (a late duplicate, a
//! ticket picked up for a delivery order) is logged and dropped, never
//! retried; only database failures are.

use std::sync::Arc;

use foodmesh_proto::events::v1::{DeliveryEvent, PaymentEvent, TicketEvent};
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::domain::DomainError;
use crate::domain::order::{Order, OrderStatus, OrderType};
use crate::service::Orders;

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
        .route(
            "ticket.rejected",
            to(OrderStatus::Cancelled, rejected_ticket),
        )
        .route(
            "delivery.picked_up",
            to(OrderStatus::OutForDelivery, delivery),
        )
        .route("delivery.delivered", to(OrderStatus::Completed, delivery))
        .route(
            "delivery.failed",
            to(OrderStatus::Cancelled, failed_delivery),
        )
}

/// What an event says about its order: the order's id, the source service
/// (for the history's actor), the reason, and a check on the order itself.
struct Target {
    order_id: i64,
    source: &'static str,
    reason: String,
    applies_to: Box<dyn Fn(&Order) -> bool + Send + Sync>,
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
            self.orders
                .apply_event(
                    work,
                    target.order_id,
                    self.to,
                    target.source,
                    &target.reason,
                    &*target.applies_to,
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

fn any_order() -> Box<dyn Fn(&Order) -> bool + Send + Sync> {
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

fn rejected_ticket(event: &Event) -> Result<Target, HandlerError> {
    // The kitchen rejects what it has not made: a rejection that comes
    // once the food is ready (late, or twice) cancels nothing.
    Ok(Target {
        applies_to: Box::new(|o| {
            matches!(
                o.status,
                OrderStatus::Pending | OrderStatus::Confirmed | OrderStatus::Preparing
            )
        }),
        ..ticket(event)?
    })
}

fn failed_delivery(event: &Event) -> Result<Target, HandlerError> {
    let target = delivery(event)?;
    let payload: DeliveryEvent = event.payload().map_err(|e| reject(event, &e))?;
    let why = payload.delivery.map(|d| d.reason).unwrap_or_default();
    Ok(Target {
        reason: format!("delivery failed: {}", why.trim()),
        ..target
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
