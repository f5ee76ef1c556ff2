//! A delivery's moves on the road: picked up, delivered, failed — by its
//! driver (or an admin). A delivery that ends frees its driver, who is
//! then offered the next waiting one.

use foodmesh_shared::work::Work;

use super::Deliveries;
use crate::domain::DomainError;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::eta::{self, Route};
use crate::store;

/// Who asks for a move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mover {
    /// As the history records it: `driver:7`, `admin:root`.
    pub actor: String,
    /// When the mover is a driver: a delivery of another is not found.
    pub as_driver: Option<i64>,
}

impl Deliveries {
    /// Moves delivery `id` to `to` (with `reason`, required for a
    /// failure) as `mover` asks.
    ///
    /// # Errors
    /// [`DomainError::DeliveryNotFound`] (also for another driver's);
    /// [`DomainError::InvalidTransition`]; [`DomainError::FoodNotReady`]
    /// for a pickup before the kitchen's `order.ready`; [`DomainError::Invalid`] for a
    /// failure without a reason or a move the driver does not make; or
    /// the database failed.
    pub async fn move_delivery(
        &self,
        id: i64,
        to: DeliveryStatus,
        reason: &str,
        mover: &Mover,
    ) -> Result<Delivery, DomainError> {
        if !matches!(
            to,
            DeliveryStatus::PickedUp | DeliveryStatus::Delivered | DeliveryStatus::Failed
        ) {
            return Err(DomainError::invalid(
                "status",
                "must be picked_up, delivered or failed",
            ));
        }
        let reason = reason.trim();
        if to == DeliveryStatus::Failed && reason.is_empty() {
            return Err(DomainError::invalid(
                "reason",
                "is required for a failed delivery",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(DomainError::invalid(
                "reason",
                "must be at most 500 characters",
            ));
        }
        let live = match mover.as_driver {
            Some(driver) => self.positions.position(driver).await.ok().flatten(),
            None => None,
        };
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let mut delivery = store::lock_delivery(work.conn(), id)
            .await?
            .ok_or(DomainError::DeliveryNotFound(id))?;
        if mover
            .as_driver
            .is_some_and(|driver| delivery.driver_id != Some(driver))
        {
            return Err(DomainError::DeliveryNotFound(id));
        }
        delivery.status.check(to)?;
        if to == DeliveryStatus::PickedUp && delivery.food_ready_at.is_none() {
            return Err(DomainError::FoodNotReady(id));
        }
        let at = self.now();
        if to == DeliveryStatus::PickedUp {
            let route = Route {
                driver: live.map(|(p, _)| p).or(delivery.pickup_location),
                pickup: delivery.pickup_location,
                dropoff: delivery.dropoff_location,
                picked_up: true,
            };
            delivery.eta = Some(eta::arrival(at, at, route, self.settings.pace));
        }
        let released = match (to.is_final(), delivery.driver_id) {
            (true, Some(driver)) => store::release_driver(work.conn(), driver, at).await?,
            _ => None,
        };
        let moved = self
            .record(&mut work, delivery, to, &mover.actor, reason, at)
            .await?;
        work.commit().await?.announce(&mut conn).await;
        if let Some(driver) = released {
            self.driver_changed(&driver).await;
        }
        Ok(moved)
    }
}
