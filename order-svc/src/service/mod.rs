//! The use cases of order-svc. Each decides in [`crate::domain`] and writes
//! in one unit of work ([`Work`]): a change, its history entry and its
//! events in the outbox commit together or not at all, and its change
//! notice and metrics follow the commit. The gRPC layer, the event
//! consumer and the timers all come through here, so an order changes the
//! same way whoever asks.
//!
//! No call to restaurant-svc (pricing, coupons) is made while a
//! transaction or a pooled connection is held: the network is never
//! waited on with a row locked or a connection taken from others. Item
//! edits therefore compare the order's version when they write, and try
//! again if it moved.
//!
//! - `create` — placing an order, with its idempotency key and coupon;
//! - `status` — every status change, from callers, events and the payment
//!   timeout;
//! - `items` — item edits while PENDING;
//! - `reads` — orders, their history, tracking, customer profiles;
//! - `upkeep` — the payment timeout's sweep, coupon releases, old keys.

mod create;
mod items;
mod reads;
mod status;
mod upkeep;

use std::sync::Arc;

use foodmesh_shared::clock::Clock;
use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;
use sqlx::PgConnection;
use tokio::sync::Notify;

pub use self::create::{Created, Idempotency, KEY_LEASE};
pub use self::upkeep::RELEASE_BATCH;
use crate::OrderConfig;
use crate::convert;
use crate::domain::number::TokenHash;
use crate::domain::order::{Actor, ActorKind, Order, OrderSource, PaymentMethod};
use crate::domain::placing::Announcement;
use crate::domain::{CouponCode, DomainError};
use crate::restaurant::RestaurantClient;
use crate::store::{self, Store};

/// The actor id this service records for what it does on its own.
pub const SERVICE: &str = "order-svc";

/// Who is asking, for the access checks this service makes on top of the
/// gateway's (see `authorize`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The actor, when the request names one.
    pub actor: Option<&'a Actor>,
    /// The access token presented, when one was.
    pub token: Option<&'a TokenHash>,
}

/// Overrides for a reorder.
#[derive(Debug, Clone, Default)]
pub struct ReorderChoices {
    pub source: Option<OrderSource>,
    pub payment_method: Option<PaymentMethod>,
    /// A coupon for the new order.
    pub coupon_code: Option<CouponCode>,
}

/// The order use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Orders {
    store: Store,
    restaurant: RestaurantClient,
    stream: String,
    config: OrderConfig,
    clock: Clock,
    releases: Arc<Notify>,
}

impl Orders {
    /// Use cases over `store`, pricing through `restaurant`, publishing to
    /// `stream`, deciding by `clock`'s time.
    pub fn new(
        store: Store,
        restaurant: RestaurantClient,
        stream: String,
        config: OrderConfig,
        clock: Clock,
    ) -> Self {
        Self {
            store,
            restaurant,
            stream,
            config,
            clock,
            releases: Arc::new(Notify::new()),
        }
    }

    pub fn config(&self) -> &OrderConfig {
        &self.config
    }

    /// The clock the service decides by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Woken whenever a coupon release is queued, so it goes out at once.
    pub fn releases_queued(&self) -> Arc<Notify> {
        self.releases.clone()
    }

    /// Writes `events` to the outbox as part of `work`, in order and in one
    /// statement.
    async fn publish(
        &self,
        work: &mut Work<'_>,
        events: &[Announcement],
    ) -> Result<(), DomainError> {
        let payloads: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    convert::order_event(&e.order, e.change.as_ref()),
                    e.order.id.to_string(),
                )
            })
            .collect();
        let outgoing: Vec<_> = events
            .iter()
            .zip(&payloads)
            .map(|(event, (payload, aggregate_id))| outbox::Outgoing {
                stream: &self.stream,
                event_type: event.event_type,
                aggregate_id,
                payload,
            })
            .collect();
        outbox::enqueue_all(work, &outgoing).await?;
        Ok(())
    }
}

/// The checks this service makes of a caller on top of the gateway's: a
/// presented token must open the order, a GUEST must present one, and a
/// CUSTOMER must be the order's customer.
async fn authorize(
    conn: &mut PgConnection,
    order: &Order,
    caller: Caller<'_>,
) -> Result<(), DomainError> {
    let denied = || DomainError::AccessDenied(format!("order {}", order.id));
    if let Some(token) = caller.token
        && !store::token_opens(conn, order.id, token).await?
    {
        return Err(denied());
    }
    match caller.actor {
        Some(actor) if actor.kind == ActorKind::Guest && caller.token.is_none() => Err(denied()),
        Some(actor)
            if actor.kind == ActorKind::Customer && actor.id != order.customer_id.to_string() =>
        {
            Err(denied())
        }
        _ => Ok(()),
    }
}
