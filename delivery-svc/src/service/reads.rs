//! Deliveries and drivers as they stand, and what tracking shows.

use super::Deliveries;
use crate::domain::delivery::{Delivery, DeliveryStatus};
use crate::domain::driver::Driver;
use crate::domain::eta::{self, Route};
use crate::domain::{DomainError, Page};
use crate::store::{self, DeliveryFilter};

/// What the public sees of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracked {
    /// Its arrival re-estimated from the driver's live position.
    pub delivery: Delivery,
    /// The driver's first name, once one holds it.
    pub driver_first_name: Option<String>,
    /// The driver's last position and when, while the food is with them.
    pub driver_position: Option<(
        foodmesh_shared::values::Coordinates,
        chrono::DateTime<chrono::Utc>,
    )>,
}

impl Deliveries {
    /// Delivery `id` (as driver `as_driver` sees it, when given: another's
    /// is not found).
    ///
    /// # Errors
    /// [`DomainError::DeliveryNotFound`], or the database failed.
    pub async fn delivery(&self, id: i64, as_driver: Option<i64>) -> Result<Delivery, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::delivery(&mut conn, id)
            .await?
            .filter(|d| as_driver.is_none_or(|driver| d.driver_id == Some(driver)))
            .ok_or(DomainError::DeliveryNotFound(id))
    }

    /// Every move of delivery `id` (as driver `as_driver` sees it, when
    /// given), oldest first.
    ///
    /// # Errors
    /// [`DomainError::DeliveryNotFound`], or the database failed.
    pub async fn history(
        &self,
        id: i64,
        as_driver: Option<i64>,
    ) -> Result<Vec<crate::domain::delivery::Move>, DomainError> {
        self.delivery(id, as_driver).await?;
        let mut conn = self.pool.acquire().await?;
        Ok(store::history(&mut conn, id).await?)
    }

    /// A page of the deliveries `filter` asks for, newest first, and the
    /// next page's token.
    ///
    /// # Errors
    /// The database failed.
    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
        page: Page,
    ) -> Result<(Vec<Delivery>, Option<String>), DomainError> {
        let mut conn = self.pool.acquire().await?;
        let found =
            store::deliveries(&mut conn, filter, page.cursor(), i64::from(page.size())).await?;
        let next = page.next(found.len(), found.last().map(|d| d.id));
        Ok((found, next))
    }

    /// Driver `id`, at their live position when Redis has one.
    ///
    /// # Errors
    /// [`DomainError::DriverNotFound`], or the database failed.
    pub async fn driver(&self, id: i64) -> Result<Driver, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut driver = store::driver(&mut conn, id)
            .await?
            .ok_or(DomainError::DriverNotFound(id))?;
        if let Ok(Some((point, at))) = self.positions.position(id).await
            && let Ok(location) = foodmesh_shared::values::Location::parse(point)
        {
            driver.location = Some((location, at));
        }
        Ok(driver)
    }

    /// A page of drivers by id (the available ones only, when asked).
    ///
    /// # Errors
    /// The database failed.
    pub async fn drivers(
        &self,
        available_only: bool,
        page: Page,
    ) -> Result<(Vec<Driver>, Option<String>), DomainError> {
        let mut conn = self.pool.acquire().await?;
        let found = store::drivers(
            &mut conn,
            available_only,
            page.cursor().unwrap_or(0),
            i64::from(page.size()),
        )
        .await?;
        let next = page.next(found.len(), found.last().map(|d| d.id));
        Ok((found, next))
    }

    /// What anyone holding `tracking_id` sees.
    ///
    /// # Errors
    /// [`DomainError::DeliveryNotFound`] for a tracking id of no delivery;
    /// or the database failed.
    pub async fn track(&self, tracking_id: &str) -> Result<Tracked, DomainError> {
        let (mut delivery, driver) = {
            let mut conn = self.pool.acquire().await?;
            let delivery = store::delivery_by_tracking(&mut conn, tracking_id)
                .await?
                .ok_or(DomainError::DeliveryNotFound(0))?;
            let driver = match delivery.driver_id {
                Some(id) if delivery.status.holds_driver() => store::driver(&mut conn, id).await?,
                _ => None,
            };
            (delivery, driver)
        };
        let live = match &driver {
            Some(driver) => self.positions.position(driver.id).await.ok().flatten(),
            None => None,
        };
        if delivery.status.holds_driver() {
            let route = Route {
                driver: live.map(|(p, _)| p),
                pickup: delivery.pickup_location,
                dropoff: delivery.dropoff_location,
                picked_up: delivery.status == DeliveryStatus::PickedUp,
            };
            let ready = if route.picked_up {
                self.now()
            } else {
                delivery.ready_by
            };
            delivery.eta = Some(eta::arrival(self.now(), ready, route, self.settings.pace));
        }
        // Who brings it, and where they are, only while they have it.
        let out_for_delivery = delivery.status == DeliveryStatus::PickedUp;
        Ok(Tracked {
            driver_first_name: driver
                .as_ref()
                .filter(|_| out_for_delivery)
                .map(|d| d.first_name().to_owned()),
            driver_position: live.filter(|_| out_for_delivery),
            delivery,
        })
    }
}
