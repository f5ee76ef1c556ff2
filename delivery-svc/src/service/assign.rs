//! Handing a delivery to a driver: the nearest free one (by the live
//! positions in Redis), or one named by hand. The delivery is locked and
//! the driver claimed in Postgres (`store::claim_driver`: one more
//! delivery, if they are available with room for it) in one unit of work,
//! so two deliveries never take one driver past what a driver may hold,
//! however many are assigned at once.

use foodmesh_shared::work::Work;

use super::Deliveries;
use super::open::SYSTEM;
use crate::domain::DomainError;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::eta::{self, Route};
use crate::store;

/// How many of the nearest free drivers an assignment tries.
const CANDIDATES: usize = 16;

/// Waiting deliveries read at once by a pass of the assigner.
const WAITING_PAGE: i64 = 200;

/// The radii searched in turn before the configured one.
const RINGS_KM: [f64; 3] = [1.0, 3.0, 10.0];

impl Deliveries {
    /// Assigns every waiting delivery it can, oldest first; how many it
    /// assigned.
    ///
    /// # Errors
    /// The database failed.
    pub async fn assign_waiting(&self) -> Result<usize, DomainError> {
        let mut assigned = 0;
        let mut after = None;
        // Every waiting delivery, a page at a time: those no driver can
        // reach now must not keep the ones after them from their turn.
        loop {
            let page = {
                let mut conn = self.pool.acquire().await?;
                store::waiting(&mut conn, after, WAITING_PAGE).await?
            };
            for (id, _) in &page {
                if self.assign_nearest(*id).await?.is_some() {
                    assigned += 1;
                }
            }
            match page.last() {
                Some((id, at)) if page.len() == WAITING_PAGE as usize => after = Some((*at, *id)),
                _ => return Ok(assigned),
            }
        }
    }

    /// Assigns delivery `id` to the nearest free driver who will take it;
    /// `None` when it is no longer waiting or no driver is free.
    ///
    /// # Errors
    /// The database failed.
    pub async fn assign_nearest(&self, id: i64) -> Result<Option<Delivery>, DomainError> {
        let delivery = {
            let mut conn = self.pool.acquire().await?;
            store::delivery(&mut conn, id)
                .await?
                .ok_or(DomainError::DeliveryNotFound(id))?
        };
        if delivery.status != DeliveryStatus::Pending {
            return Ok(None);
        }
        let Some(pickup) = delivery.pickup_location else {
            // A restaurant without a location: any free driver.
            let free: Vec<i64> = {
                let mut conn = self.pool.acquire().await?;
                store::free_drivers(&mut conn, self.settings.max_active)
                    .await?
                    .into_iter()
                    .take(CANDIDATES)
                    .map(|d| d.id)
                    .collect()
            };
            return self.first_to_take(id, &free).await;
        };
        // Searched within [`RINGS_KM`] in turn, up to the configured
        // radius, so a busy city sorts the few drivers near the restaurant
        // rather than all of them; a ring whose drivers were all just
        // taken (the free set lags the claims) gives way to the next.
        let limit = self.settings.search_radius_km;
        let rings = RINGS_KM
            .iter()
            .copied()
            .filter(|km| *km < limit)
            .chain(std::iter::once(limit));
        let mut tried = std::collections::HashSet::new();
        for km in rings {
            let count = CANDIDATES + tried.len();
            let found = match self.positions.nearest_free(pickup, km, count).await {
                Ok(found) => found,
                Err(e) => {
                    // The sweep tries again; Postgres still decides.
                    tracing::warn!(delivery_id = id, error = %e, "no live search");
                    return Ok(None);
                }
            };
            let ids: Vec<i64> = found
                .into_iter()
                .map(|n| n.driver_id)
                .filter(|id| tried.insert(*id))
                .collect();
            if let Some(assigned) = self.first_to_take(id, &ids).await? {
                return Ok(Some(assigned));
            }
            if self.delivery_taken(id).await? {
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Assigns delivery `id` to the first of `drivers` who takes it.
    async fn first_to_take(
        &self,
        id: i64,
        drivers: &[i64],
    ) -> Result<Option<Delivery>, DomainError> {
        for driver_id in drivers {
            match self.assign(id, *driver_id, SYSTEM).await {
                Ok(assigned) => return Ok(Some(assigned)),
                Err(DomainError::DriverBusy(_) | DomainError::DriverNotFound(_)) => {}
                Err(DomainError::InvalidTransition { .. }) => return Ok(None),
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }

    /// Whether delivery `id` is no longer waiting.
    async fn delivery_taken(&self, id: i64) -> Result<bool, DomainError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::delivery(&mut conn, id)
            .await?
            .is_none_or(|d| d.status != DeliveryStatus::Pending))
    }

    /// Assigns delivery `id` to driver `driver_id` as `actor` says.
    ///
    /// # Errors
    /// [`DomainError::DeliveryNotFound`], [`DomainError::DriverNotFound`],
    /// [`DomainError::DriverBusy`] (unavailable, or holding as many
    /// deliveries as a driver may), [`DomainError::InvalidTransition`]
    /// when the delivery is not waiting; or the database failed.
    pub async fn assign(
        &self,
        id: i64,
        driver_id: i64,
        actor: &str,
    ) -> Result<Delivery, DomainError> {
        // Read before the unit of work: no call to Redis holds a
        // connection in a transaction.
        let live = self.positions.position(driver_id).await.ok().flatten();
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let mut delivery = store::lock_delivery(work.conn(), id)
            .await?
            .ok_or(DomainError::DeliveryNotFound(id))?;
        delivery.status.check(DeliveryStatus::Assigned)?;
        let at = self.now();
        let Some(driver) =
            store::claim_driver(work.conn(), driver_id, self.settings.max_active, at).await?
        else {
            return Err(match store::driver(work.conn(), driver_id).await? {
                Some(_) => DomainError::DriverBusy(driver_id),
                None => DomainError::DriverNotFound(driver_id),
            });
        };
        let route = Route {
            driver: live
                .map(|(p, _)| p)
                .or(driver.location.map(|(l, _)| l.coordinates())),
            pickup: delivery.pickup_location,
            dropoff: delivery.dropoff_location,
            picked_up: false,
        };
        delivery.driver_id = Some(driver_id);
        delivery.eta = Some(eta::arrival(
            at,
            delivery.ready_by,
            route,
            self.settings.pace,
        ));
        let assigned = self
            .record(&mut work, delivery, DeliveryStatus::Assigned, actor, "", at)
            .await?;
        work.commit().await?.announce(&mut conn).await;
        self.driver_changed(&driver).await;
        Ok(assigned)
    }
}
