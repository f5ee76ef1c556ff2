//! What kitchen-svc publishes and consumes.
//!
//! Publishes, on its own stream, `ticket.<status>` (`ticket.queued` …
//! `ticket.picked_up`, `ticket.cancelled`, `ticket.rejected`) for every
//! change of a ticket, with the ticket as it is after the change
//! ([`TicketEvent`]), through the outbox in the change's transaction.
//! order-svc follows its orders from these; `ticket.rejected` makes it
//! cancel (and refund) the order.
//!
//! Consumes order-svc's stream (what a handler changes is counted in the
//! metrics once the consumer's transaction has committed):
//! - `order.confirmed` queues the order's ticket — once, whatever the
//!   redeliveries or a hand-made ticket racing it;
//! - `order.cancelled` cancels the order's open ticket (a ticket already
//!   picked up, cancelled or rejected is left alone); an order without a
//!   ticket yet is remembered, so a late `order.confirmed` queues nothing;
//! - `order.out_for_delivery` and `order.completed` mark a READY ticket
//!   PICKED_UP, so food that left does not linger on the display.

use std::sync::Arc;

use foodmesh_proto::events::v1::{OrderEvent, TicketEvent};
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::events::{Event, outbox};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::domain::DomainError;
use crate::domain::new_ticket::{
    ItemInput, MAX_INSTRUCTIONS, MAX_NOTES, NewTicket, PrepMinutes, TicketInput,
};
use crate::domain::ticket::{FulfilmentKind, StatusChange};
use crate::domain::{Text, ticket::Ticket};
use crate::store::{self, Received};
use crate::{grpc, observe};

/// Adds `ticket`'s current status as an event to the outbox, as part of
/// `work`.
///
/// # Errors
/// The insert failed; the work must roll back.
pub async fn publish(
    work: &mut Work<'_>,
    stream: &str,
    ticket: &Ticket,
) -> Result<(), sqlx::Error> {
    let event = TicketEvent {
        ticket: Some(grpc::ticket_to_pb(ticket)),
    };
    outbox::enqueue(
        work,
        stream,
        ticket.status.event_type(),
        &ticket.id.to_string(),
        &event,
    )
    .await?;
    Ok(())
}

/// The handlers of the order events the kitchen reacts to; ticket events
/// go to `stream`.
pub fn router(stream: &str) -> Router {
    let on = |reaction| {
        Arc::new(OnOrder {
            stream: stream.to_owned(),
            reaction,
        }) as Arc<dyn Handler>
    };
    Router::new()
        .route("order.confirmed", on(Reaction::Queue))
        .route("order.cancelled", on(Reaction::Cancel))
        .route("order.out_for_delivery", on(Reaction::HandOver))
        .route("order.completed", on(Reaction::HandOver))
}

#[derive(Debug, Clone, Copy)]
enum Reaction {
    Queue,
    Cancel,
    HandOver,
}

struct OnOrder {
    stream: String,
    reaction: Reaction,
}

impl Handler for OnOrder {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let payload: OrderEvent = event
                .payload()
                .map_err(|e| HandlerError::Reject(format!("undecodable OrderEvent: {e}")))?;
            let order = payload
                .order
                .as_ref()
                .ok_or_else(|| HandlerError::Reject("an order event without its order".into()))?;
            store::lock_order(work.conn(), order.id)
                .await
                .map_err(retry)?;
            match self.reaction {
                Reaction::Queue => self.queue(work, order, payload.prep_minutes).await,
                Reaction::Cancel => {
                    let reason = payload.change.as_ref().map_or("", |c| c.reason.as_str());
                    self.cancel(work, order.id, reason).await
                }
                Reaction::HandOver => self.hand_over(work, order.id).await,
            }
        })
    }
}

impl OnOrder {
    async fn queue(
        &self,
        work: &mut Work<'_>,
        order: &order::Order,
        prep_minutes: u32,
    ) -> Result<(), HandlerError> {
        // A broken order is a broken contract with order-svc: dead-letter
        // it loudly rather than cook something else.
        let new = NewTicket::parse(&ticket_input(order, prep_minutes)).map_err(|e| {
            HandlerError::Reject(format!("order {} cannot become a ticket: {e}", order.id))
        })?;
        match store::receive_confirmed(work, &self.stream, &new, store::now())
            .await
            .map_err(retry)?
        {
            // Every order makes one: logged at debug, counted in metrics.
            Some(Received::Queued(ticket)) => work.on_commit(move || {
                tracing::debug!(
                    order_id = ticket.order_id,
                    ticket_id = ticket.id,
                    "ticket queued"
                );
                observe::ticket_changed(&ticket);
            }),
            Some(Received::Existing(ticket)) => {
                tracing::debug!(order_id = order.id, ticket_id = ticket.id, "already queued");
            }
            None => {
                tracing::info!(
                    order_id = order.id,
                    "order was cancelled before it was queued"
                );
            }
        }
        Ok(())
    }

    async fn cancel(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        reason: &str,
    ) -> Result<(), HandlerError> {
        let reason = if reason.trim().is_empty() {
            "the order was cancelled"
        } else {
            reason
        };
        let change = StatusChange::order_cancelled(reason);
        match store::change_order_ticket(work, &self.stream, order_id, &change, store::now()).await
        {
            Ok(Some(ticket)) => {
                work.on_commit(move || observe::ticket_changed(&ticket));
                Ok(())
            }
            Ok(None) => store::remember_cancelled_order(work.conn(), order_id)
                .await
                .map_err(retry),
            Err(DomainError::InvalidTransition { from, .. }) => {
                tracing::info!(order_id, status = %from, "cancellation leaves a closed ticket alone");
                Ok(())
            }
            Err(e) => Err(retry(e)),
        }
    }

    async fn hand_over(&self, work: &mut Work<'_>, order_id: i64) -> Result<(), HandlerError> {
        let change = StatusChange::order_handed_over();
        match store::change_order_ticket(work, &self.stream, order_id, &change, store::now()).await
        {
            Ok(Some(ticket)) => {
                work.on_commit(move || observe::ticket_changed(&ticket));
                Ok(())
            }
            // No ticket, or one that is not at the pass: nothing to clear.
            Ok(None) | Err(DomainError::InvalidTransition { .. }) => Ok(()),
            Err(e) => Err(retry(e)),
        }
    }
}

/// What the kitchen needs of an order. Free text the order already
/// accepted is cut to the kitchen's limits rather than refused; an
/// estimate beyond the maximum is capped.
fn ticket_input(order: &order::Order, prep_minutes: u32) -> TicketInput {
    let order_type = order::OrderType::try_from(order.order_type).ok();
    let fulfilment = match order_type {
        Some(order::OrderType::DineIn) => Some(FulfilmentKind::Table),
        Some(order::OrderType::Takeout) => Some(FulfilmentKind::Pickup),
        Some(order::OrderType::Delivery) => Some(FulfilmentKind::Delivery),
        Some(order::OrderType::Unspecified) | None => None,
    };
    let table_number = if fulfilment == Some(FulfilmentKind::Table) {
        order.table_number.clone()
    } else {
        String::new()
    };
    TicketInput {
        order_id: order.id,
        order_number: order.order_number.clone(),
        restaurant_id: order.restaurant_id,
        fulfilment,
        table_number,
        items: order
            .items
            .iter()
            .map(|line| ItemInput {
                name: line.name.clone(),
                quantity: line.quantity,
                modifiers: line.options.iter().map(|o| o.name.clone()).collect(),
                special_instructions: Text::<MAX_INSTRUCTIONS>::truncated(
                    &line.special_instructions,
                )
                .as_str()
                .to_owned(),
            })
            .collect(),
        prep_minutes: PrepMinutes::clamped(prep_minutes).get(),
        notes: Text::<MAX_NOTES>::truncated(&order.notes)
            .as_str()
            .to_owned(),
    }
}

fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        other => HandlerError::Retry(anyhow::Error::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(order_type: order::OrderType) -> order::Order {
        order::Order {
            id: 9,
            order_number: "H4K7PZ".to_owned(),
            restaurant_id: 2,
            order_type: order_type.into(),
            table_number: "7".to_owned(),
            notes: "n".repeat(MAX_NOTES + 10),
            items: vec![order::OrderLine {
                name: "Pad thai".to_owned(),
                quantity: 2,
                options: vec![order::OrderLineOption {
                    option_id: 1,
                    name: "extra peanuts".to_owned(),
                    price_delta: None,
                }],
                special_instructions: "mild".to_owned(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_order_becomes_a_ticket_with_its_options_as_modifiers() {
        let input = ticket_input(&order(order::OrderType::DineIn), 0);
        let ticket = NewTicket::parse(&input).expect("valid");
        assert_eq!(ticket.fulfilment.table_number(), "7");
        assert_eq!(ticket.items[0].modifiers[0].as_str(), "extra peanuts");
        assert_eq!(ticket.items[0].special_instructions.as_str(), "mild");
        assert_eq!(ticket.notes.as_str().chars().count(), MAX_NOTES);
        assert_eq!(ticket.prep.get(), PrepMinutes::DEFAULT);
    }

    #[test]
    fn only_dine_in_orders_keep_their_table() {
        let input = ticket_input(&order(order::OrderType::Takeout), 20);
        assert_eq!(input.fulfilment, Some(FulfilmentKind::Pickup));
        assert_eq!(input.table_number, "");
        assert_eq!(input.prep_minutes, 20);
        assert!(NewTicket::parse(&input).is_ok());
    }

    #[test]
    fn an_order_without_a_type_is_refused() {
        let input = ticket_input(&order(order::OrderType::Unspecified), 99_999);
        assert_eq!(input.prep_minutes, PrepMinutes::MAX);
        assert!(NewTicket::parse(&input).is_err());
    }
}
