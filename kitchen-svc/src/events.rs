//! What kitchen-svc consumes: order-svc's events, each handed to a use case
//! of [`crate::service`] in the consumer's unit of work. (What it publishes
//! — `ticket.<status>` for every change of a ticket, with the ticket after
//! it — is written by those use cases, with the payload
//! `convert::ticket_event` builds.)
//!
//! - `order.confirmed` queues the order's ticket — once, whatever the
//!   redeliveries or a hand-made ticket racing it;
//! - `order.cancelled` cancels the order's open ticket (a ticket already
//!   picked up, cancelled or rejected is left alone); an order without a
//!   ticket yet is remembered, so a late `order.confirmed` queues nothing;
//! - `order.out_for_delivery` and `order.completed` mark a READY ticket
//!   PICKED_UP, so food that left does not linger on the display.
//!
//! An order that cannot become a ticket breaks the contract with order-svc
//! and is dead-lettered; only database failures are retried.

use std::sync::Arc;

use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::convert;
use crate::domain::DomainError;
use crate::domain::new_ticket::NewTicket;
use crate::service::Kitchen;

/// The handlers of the order events the kitchen reacts to.
pub fn router(kitchen: &Kitchen) -> Router {
    let on = |reaction| {
        Arc::new(OnOrder {
            kitchen: kitchen.clone(),
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
    kitchen: Kitchen,
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
            match self.reaction {
                Reaction::Queue => {
                    // A broken order is a broken contract with order-svc:
                    // dead-letter it loudly rather than cook something else.
                    let input = convert::ticket_input(order, payload.prep_minutes);
                    let new = NewTicket::parse(&input).map_err(|e| {
                        HandlerError::Reject(format!(
                            "order {} cannot become a ticket: {e}",
                            order.id
                        ))
                    })?;
                    self.kitchen.receive_confirmed(work, &new).await.map(drop)
                }
                Reaction::Cancel => {
                    let reason = payload.change.as_ref().map_or("", |c| c.reason.as_str());
                    self.kitchen
                        .cancel_order(work, order.id, reason)
                        .await
                        .map(drop)
                }
                Reaction::HandOver => self.kitchen.hand_over(work, order.id).await.map(drop),
            }
            .map_err(retry)
        })
    }
}

fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        other => HandlerError::Retry(anyhow::Error::new(other)),
    }
}
