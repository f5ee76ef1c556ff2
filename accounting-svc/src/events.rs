//! What accounting-svc consumes: order-svc's events, each handed to a use
//! case of [`crate::service::orders`] in the consumer's unit of work, so
//! each happens once however often the event is delivered — also when the
//! service dies between its commit and the stream's acknowledgement. (What
//! it publishes — `payment.<change>` for every change of a payment — is
//! written by the use cases, with the payload `convert::payment_event`
//! builds.)
//!
//! | event | effect |
//! |---|---|
//! | `order.created`, `order.updated` | the invoice is issued or follows the order; a cash order's payment is authorized |
//! | `order.completed` | the payment is captured |
//! | `order.cancelled` | the payment is voided, or refunded when captured (a kitchen rejection cancels the order too) |
//!
//! An order whose figures do not add up breaks the contract with
//! order-svc and is dead-lettered, as is an event the domain refuses;
//! only database failures are retried.

use std::sync::Arc;

use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::convert;
use crate::domain::DomainError;
use crate::service::Accounting;

/// The handlers of the order events accounting-svc reacts to.
pub fn router(accounting: &Accounting) -> Router {
    let on = |reaction| {
        Arc::new(OnOrder {
            accounting: accounting.clone(),
            reaction,
        }) as Arc<dyn Handler>
    };
    Router::new()
        .route("order.created", on(Reaction::Bill))
        .route("order.updated", on(Reaction::Bill))
        .route("order.completed", on(Reaction::Capture))
        .route("order.cancelled", on(Reaction::Release))
}

#[derive(Debug, Clone, Copy)]
enum Reaction {
    Bill,
    Capture,
    Release,
}

struct OnOrder {
    accounting: Accounting,
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
            let at = self.accounting.now();
            match self.reaction {
                Reaction::Bill => {
                    let facts = convert::order_facts(order, "order").map_err(|e| {
                        HandlerError::Reject(format!("order {} cannot be billed: {e}", order.id))
                    })?;
                    self.accounting.order_changed(work, &facts, at).await
                }
                Reaction::Capture => self.accounting.order_completed(work, order.id, at).await,
                Reaction::Release => self.accounting.order_cancelled(work, order.id, at).await,
            }
            .map_err(retry)
        })
    }
}

/// A failure no retry can mend (a refusal of the domain: the event does
/// not fit what accounting-svc holds) is dead-lettered with its reason at
/// once; only unexpected failures (the database) are retried.
fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        refusal => HandlerError::Reject(refusal.to_string()),
    }
}
