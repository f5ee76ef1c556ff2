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

use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::events::{Event, outbox};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::domain::DomainError;
use crate::domain::new_ticket::NewTicket;
use crate::domain::ticket::{StatusChange, Ticket};
use crate::store::{self, Received};
use crate::{convert, observe};

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
    outbox::enqueue(
        work,
        stream,
        ticket.status.event_type(),
        &ticket.id.to_string(),
        &convert::ticket_event(ticket),
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
        let new = NewTicket::parse(&convert::ticket_input(order, prep_minutes)).map_err(|e| {
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

fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        other => HandlerError::Retry(anyhow::Error::new(other)),
    }
}
