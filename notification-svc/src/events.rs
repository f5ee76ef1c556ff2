//! What notification-svc consumes: order-svc's and delivery-svc's events,
//! each handed to [`crate::service::steps`] in the consumer's unit of
//! work, so each writes its messages once however often it is delivered.
//!
//! | event | the customer hears |
//! |---|---|
//! | `order.created` | received, with the link to the order |
//! | `order.confirmed` | confirmed, with when it should be ready |
//! | `order.ready` (takeout and dine-in) | ready to collect |
//! | `delivery.picked_up` | out for delivery, with the tracking link and arrival |
//! | `delivery.delivered` | delivered |
//! | `order.cancelled` | cancelled, with the reason and what becomes of the payment |
//!
//! Every other order event only keeps what the messages need to know of
//! the order. A delivery event of an order not heard of yet (the two
//! streams are read apart) is retried until it is; an undecodable
//! payload is dead-lettered.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use foodmesh_proto::events::v1::{DeliveryEvent, OrderEvent};
use foodmesh_shared::events::Event;
use foodmesh_shared::events::consumer::{Handler, HandlerError, Router};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;

use crate::convert;
use crate::domain::DomainError;
use crate::domain::step::Step;
use crate::service::Notifications;

/// The handlers of the events notification-svc reacts to.
pub fn router(notifications: &Notifications) -> Router {
    let order = |step| {
        Arc::new(OnOrder {
            notifications: notifications.clone(),
            step,
        }) as Arc<dyn Handler>
    };
    let delivery = |step| {
        Arc::new(OnDelivery {
            notifications: notifications.clone(),
            step,
        }) as Arc<dyn Handler>
    };
    Router::new()
        .route("order.created", order(Some(Step::Received)))
        .route("order.confirmed", order(Some(Step::Confirmed)))
        .route("order.ready", order(Some(Step::Ready)))
        .route("order.cancelled", order(Some(Step::Cancelled)))
        .route("order.updated", order(None))
        .route("order.preparing", order(None))
        .route("order.out_for_delivery", order(None))
        .route("order.completed", order(None))
        .route("delivery.picked_up", delivery(Step::OutForDelivery))
        .route("delivery.delivered", delivery(Step::Delivered))
}

fn occurred_at(event: &Event, fallback: DateTime<Utc>) -> DateTime<Utc> {
    event
        .envelope
        .occurred_at
        .as_ref()
        .and_then(convert::time_of)
        .unwrap_or(fallback)
}

struct OnOrder {
    notifications: Notifications,
    step: Option<Step>,
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
            let (facts, updated_at) = convert::order_facts(&payload)
                .ok_or_else(|| HandlerError::Reject("an order event without its order".into()))?;
            let step = self
                .step
                .filter(|s| *s != Step::Ready || !convert::is_delivery(&payload))
                .map(|s| {
                    let at = occurred_at(event, self.notifications.now());
                    let public_url = &self.notifications.settings().public_url;
                    (s, convert::order_details(&payload, at, public_url))
                });
            self.notifications
                .order_changed(work, &event.envelope.id, &facts, updated_at, step)
                .await
                .map_err(retry)
        })
    }
}

struct OnDelivery {
    notifications: Notifications,
    step: Step,
}

impl Handler for OnDelivery {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let payload: DeliveryEvent = event
                .payload()
                .map_err(|e| HandlerError::Reject(format!("undecodable DeliveryEvent: {e}")))?;
            let delivery = payload.delivery.as_ref().ok_or_else(|| {
                HandlerError::Reject("a delivery event without its delivery".into())
            })?;
            let at = occurred_at(event, self.notifications.now());
            let details =
                convert::delivery_details(delivery, at, &self.notifications.settings().public_url);
            let known = self
                .notifications
                .delivery_changed(
                    work,
                    &event.envelope.id,
                    delivery.order_id,
                    self.step,
                    &details,
                )
                .await
                .map_err(retry)?;
            if known {
                Ok(())
            } else {
                Err(HandlerError::Retry(anyhow::anyhow!(
                    "order {} is not known yet",
                    delivery.order_id
                )))
            }
        })
    }
}

fn retry(error: DomainError) -> HandlerError {
    match error {
        DomainError::Unexpected(cause) => HandlerError::Retry(cause),
        refusal => HandlerError::Reject(refusal.to_string()),
    }
}
