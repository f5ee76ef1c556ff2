//! What delivery-svc does, one module per use: each reads and locks what
//! it changes (a delivery before its driver), lets [`crate::domain`]
//! decide, and writes the outcome with its event in one unit of work.
//!
//! - [`drivers`] — adding drivers, their availability and live position;
//! - [`open`] — a delivery for each confirmed delivery order, and its
//!   cancellation with the order;
//! - [`assign`] — the nearest free driver, or one named by hand;
//! - [`moves`] — the driver's moves: picked up, delivered, failed;
//! - [`reads`] — deliveries and drivers as they stand, and tracking.

pub mod assign;
pub mod drivers;
pub mod moves;
pub mod open;
pub mod reads;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use foodmesh_shared::clock::Clock;
use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;
use sqlx::PgPool;
use tokio::sync::Notify;

use crate::domain::DomainError;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::driver::Driver;
use crate::domain::eta::Pace;
use crate::live::Positions;
use crate::store;
use crate::{convert, observe};

/// The Postgres channel every move of a delivery notifies once it has
/// committed; the payload is the delivery's id ([`crate::watch`] listens).
pub const CHANNEL: &str = "delivery_changes";

/// How often a driver's live position is also written to Postgres.
pub const PERSIST_EVERY: Duration = Duration::from_secs(30);

/// How deliveries are handed out and estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Deliveries a driver may hold at once.
    pub max_active: i32,
    /// How far from the restaurant a driver is looked for.
    pub search_radius_km: f64,
    pub pace: Pace,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_active: 1,
            search_radius_km: 25.0,
            pace: Pace {
                speed_kmh: 20.0,
                unknown_leg: Duration::from_secs(15 * 60),
            },
        }
    }
}

/// The service: its database, the live positions, the stream its events
/// go to (`<prefix>:delivery`), its settings, and the bell that wakes the
/// assigner ([`crate::tasks::assigner`]).
#[derive(Debug, Clone)]
pub struct Deliveries {
    pool: PgPool,
    positions: Positions,
    stream: String,
    settings: Settings,
    clock: Clock,
    wake: Arc<Notify>,
    /// Drivers known to exist, and when their position was last written
    /// to Postgres: a location report costs no database read.
    known: Arc<Mutex<HashMap<i64, Option<std::time::Instant>>>>,
}

impl Deliveries {
    pub fn new(
        pool: PgPool,
        positions: Positions,
        stream: String,
        settings: Settings,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            positions,
            stream,
            settings,
            clock,
            wake: Arc::default(),
            known: Arc::default(),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// What the assigner waits on.
    pub fn bell(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Wakes the assigner: a delivery waits, or a driver came free.
    fn ring(&self) {
        self.wake.notify_one();
    }

    /// Moves `delivery` (locked in `work`) to `to` at `at` as `actor`
    /// says, with `reason`: writes it, its history line and its event. The
    /// caller has checked the move and set its driver and arrival.
    async fn record(
        &self,
        work: &mut Work<'_>,
        mut delivery: Delivery,
        to: DeliveryStatus,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Delivery, DomainError> {
        let from = delivery.status;
        delivery.status = to;
        if !reason.is_empty() {
            delivery.reason = reason.to_owned();
        }
        match to {
            DeliveryStatus::PickedUp => delivery.picked_up_at = Some(at),
            DeliveryStatus::Delivered => delivery.delivered_at = Some(at),
            _ => {}
        }
        delivery.updated_at = at;
        store::save_delivery(work.conn(), &delivery, at).await?;
        store::record_move(work.conn(), delivery.id, Some(from), to, actor, reason, at).await?;
        self.announce(work, &delivery).await?;
        work.notify(CHANNEL, delivery.id.to_string());
        let counted = delivery.clone();
        work.on_commit(move || observe::moved(&counted, at));
        Ok(delivery)
    }

    /// Announces `delivery` as it now is: `delivery.<status>`.
    async fn announce(&self, work: &mut Work<'_>, delivery: &Delivery) -> Result<(), DomainError> {
        let event_type = format!("delivery.{}", delivery.status.as_str());
        self.announce_as(work, delivery, &event_type).await
    }

    /// Announces `delivery` as `event_type`.
    async fn announce_as(
        &self,
        work: &mut Work<'_>,
        delivery: &Delivery,
        event_type: &str,
    ) -> Result<(), DomainError> {
        outbox::enqueue(
            work,
            &self.stream,
            event_type,
            &delivery.id.to_string(),
            &convert::delivery_event(delivery),
        )
        .await
        .map_err(|e| DomainError::Unexpected(foodmesh_shared::db::failure(e)))?;
        Ok(())
    }

    /// After a driver's load or availability changed (committed): the
    /// free set follows, and the assigner is woken if they came free.
    async fn driver_changed(&self, driver: &Driver) {
        let free = driver.available && driver.active < self.settings.max_active;
        let result = match (free, driver.location) {
            (true, _) => {
                let live = self.positions.position(driver.id).await.ok().flatten();
                let point = live
                    .map(|(p, _)| p)
                    .or(driver.location.map(|(l, _)| l.coordinates()));
                match point {
                    Some(point) => self.positions.free(driver.id, point).await,
                    None => Ok(()),
                }
            }
            (false, _) => self.positions.busy(driver.id).await,
        };
        if let Err(e) = result {
            // The sweep rebuilds the free set from Postgres.
            tracing::warn!(driver_id = driver.id, error = %e, "free set not updated");
        }
        if free {
            self.ring();
        }
    }
}
