//! What delivery-svc consumes: order-svc's events, each handed to a use
//! case of [`crate::service`] in the consumer's unit of work, so each
//! happens once however often it is delivered. (What it publishes —
//! `delivery.created` and `delivery.<status>` for every move — is written
//! by the use cases, with the payload `convert::delivery_event` builds.)
//!
//! | event | effect |
//! |---|---|
//! | `order.confirmed` (delivery orders) | a delivery opens, waiting for a driver; the nearest free one is assigned at once, so they ride to the restaurant while the food is cooked |
//! | `order.ready` | the food may be picked up (a pickup before it is refused) |
//! | `order.cancelled` | its delivery is cancelled and its driver freed |
//!
//! A refusal of the domain dead-letters the event with its reason; only
//! database failures are retried.

use std::sync::Arc;

use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::convert;
use crate::domain::DomainError;
use crate::service::Deliveries;

/// The handlers of the order events delivery-svc reacts to.
pub fn router(deliveries: &Deliveries) -> Router {
    let on = |reaction| {
        Arc::new(OnOrder {
            deliveries: deliveries.clone(),
            reaction,
        }) as Arc<dyn Handler>
    };
    Router::new()
        .route("order.confirmed", on(Reaction::Open))
        .route("order.ready", on(Reaction::FoodReady))
        .route("order.cancelled", on(Reaction::Cancel))
}

#[derive(Debug, Clone, Copy)]
enum Reaction {
    Open,
    FoodReady,
    Cancel,
}

struct OnOrder {
    deliveries: Deliveries,
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
                Reaction::Open => match convert::new_delivery(&payload, self.deliveries.now()) {
                    Some(new) => self.deliveries.open(work, &new).await,
                    None => Ok(()),
                },
                Reaction::FoodReady => self.deliveries.food_ready(work, order.id).await,
                Reaction::Cancel => {
                    let reason = payload
                        .change
                        .as_ref()
                        .map_or("order cancelled", |c| c.reason.as_str());
                    self.deliveries
                        .cancel_for_order(work, order.id, reason)
                        .await
                }
            }
            .map_err(retry)
        })
    }
}

fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        refusal => HandlerError::Reject(refusal.to_string()),
    }
}
