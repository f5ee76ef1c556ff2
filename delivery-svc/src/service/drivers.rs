//! Drivers: added by admins, available when they say so, and followed by
//! their live position.

use std::time::Instant;

use chrono::{DateTime, Utc};
use foodmesh_shared::values::Location;
use foodmesh_shared::work::Work;

use super::{Deliveries, PERSIST_EVERY};
use crate::domain::DomainError;
use crate::domain::driver::{Driver, NewDriver};
use crate::store;

impl Deliveries {
    /// Adds `driver` (not yet available).
    ///
    /// # Errors
    /// [`DomainError::PhoneTaken`], or the database failed.
    pub async fn add_driver(&self, driver: &NewDriver) -> Result<Driver, DomainError> {
        let at = self.now();
        let mut conn = self.pool.acquire().await?;
        let added = store::insert_driver(&mut conn, driver, at).await?;
        if let Some(location) = driver.location
            && let Err(e) = self
                .positions
                .report(added.id, location.coordinates(), at)
                .await
        {
            tracing::warn!(driver_id = added.id, error = %e, "first position not kept live");
        }
        Ok(added)
    }

    /// Says whether driver `id` takes deliveries.
    ///
    /// # Errors
    /// [`DomainError::DriverNotFound`], or the database failed.
    pub async fn set_available(&self, id: i64, available: bool) -> Result<Driver, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let driver = store::set_available(work.conn(), id, available, self.now())
            .await?
            .ok_or(DomainError::DriverNotFound(id))?;
        work.commit().await?.announce(&mut conn).await;
        self.driver_changed(&driver).await;
        Ok(driver)
    }

    /// Driver `id` is at `location` (reported at `at`): kept live in
    /// Redis, and written to Postgres at most every [`PERSIST_EVERY`].
    ///
    /// # Errors
    /// [`DomainError::DriverNotFound`]; Redis or the database failed.
    pub async fn report_location(
        &self,
        id: i64,
        location: Location,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let persisted = self.known_driver(id).await?;
        let point = location.coordinates();
        self.positions
            .report(id, point, at)
            .await
            .map_err(|e| DomainError::Unexpected(anyhow::Error::new(e).context("redis")))?;
        let due = persisted.is_none_or(|last| last.elapsed() >= PERSIST_EVERY);
        if due {
            let mut conn = self.pool.acquire().await?;
            let driver = store::save_location(&mut conn, id, point, at).await?;
            self.remember(id, Some(Instant::now()));
            // A driver who said they were available before they had a
            // position joins the search now, not at the next rebuild.
            if let Some(driver) = driver
                && driver.available
                && driver.active < self.settings.max_active
                && let Err(e) = self.positions.free(id, point).await
            {
                tracing::warn!(driver_id = id, error = %e, "free set not updated");
            }
        }
        Ok(())
    }

    /// When driver `id`'s position was last written to Postgres by this
    /// process (`None`: never), once they are known to exist.
    async fn known_driver(&self, id: i64) -> Result<Option<Instant>, DomainError> {
        let cached = self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&id)
            .copied();
        if let Some(persisted) = cached {
            return Ok(persisted);
        }
        let mut conn = self.pool.acquire().await?;
        store::driver(&mut conn, id)
            .await?
            .ok_or(DomainError::DriverNotFound(id))?;
        self.remember(id, None);
        Ok(None)
    }

    fn remember(&self, id: i64, persisted: Option<Instant>) {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, persisted);
    }
}

impl Deliveries {
    /// Makes the live index of free drivers what Postgres says: every
    /// available driver with room for a delivery, at their live position
    /// (or the last one kept, when Redis has none).
    ///
    /// # Errors
    /// Redis or the database failed.
    pub async fn rebuild_free_index(&self) -> Result<(), DomainError> {
        let free = {
            let mut conn = self.pool.acquire().await?;
            store::free_drivers(&mut conn, self.settings.max_active).await?
        };
        let redis =
            |e: redis::RedisError| DomainError::Unexpected(anyhow::Error::new(e).context("redis"));
        let ids: Vec<i64> = free.iter().map(|d| d.id).collect();
        let live = self.positions.positions_of(&ids).await.map_err(redis)?;
        let members: Vec<(i64, foodmesh_shared::values::Coordinates)> = free
            .iter()
            .zip(live)
            .filter_map(|(driver, live)| {
                let point = live.or(driver.location.map(|(l, _)| l.coordinates()))?;
                Some((driver.id, point))
            })
            .collect();
        self.positions.rebuild_free(&members).await.map_err(redis)?;
        crate::observe::drivers_free(members.len());
        Ok(())
    }
}
