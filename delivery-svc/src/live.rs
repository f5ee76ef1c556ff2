//! Drivers' live positions, in Redis. A driver reports where they are
//! every few seconds: short-lived data, written far more often than it is
//! read, that only the nearest-driver search needs fresh. Redis keeps it
//! in sorted sets indexed by geohash (`GEOADD`), where `GEOSEARCH` finds
//! the nearest members of a radius in logarithmic time; Postgres keeps
//! what must last (the driver, whether they take deliveries, the
//! deliveries they hold, and a position written at most every
//! [`crate::service::PERSIST_EVERY`]).
//!
//! Two sets, under `<prefix>:drivers:`:
//! - `positions` — every driver's last reported position;
//! - `free` — the drivers who take deliveries and have room for one, at
//!   their last position: the search index of assignment.
//!
//! `free` is an index, not the truth: a driver is claimed in Postgres
//! (`store::claim_driver`), so a stale member costs one failed claim and a
//! missing one a later assignment. It is rebuilt from Postgres at start
//! and every [`crate::tasks`] sweep.

use chrono::{DateTime, Utc};
use foodmesh_shared::values::Coordinates;
use redis::aio::ConnectionManager;

/// The live index of drivers' positions.
#[derive(Clone)]
pub struct Positions {
    redis: ConnectionManager,
    positions: String,
    free: String,
    seen: String,
}

impl std::fmt::Debug for Positions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Positions")
            .field("free", &self.free)
            .finish_non_exhaustive()
    }
}

/// A coordinate read back from a geohash, to five decimal places (about a
/// metre): Redis keeps 52 bits, so the digits past those are the hash's,
/// not the driver's.
fn metre(degrees: f64) -> f64 {
    (degrees * 1e5).round() / 1e5
}

/// A driver found by a search, and how far they are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nearby {
    pub driver_id: i64,
    pub km: f64,
}

impl Positions {
    /// The sets under `<prefix>:drivers:` on `redis`.
    pub fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            positions: format!("{prefix}:drivers:positions"),
            free: format!("{prefix}:drivers:free"),
            seen: format!("{prefix}:drivers:seen"),
        }
    }

    /// Driver `id` is at `point` since `at`; their place in the free set
    /// moves with them if they are in it.
    ///
    /// # Errors
    /// Redis did not take it.
    pub async fn report(
        &self,
        id: i64,
        point: Coordinates,
        at: DateTime<Utc>,
    ) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        redis::pipe()
            .cmd("GEOADD")
            .arg(&self.positions)
            .arg(point.longitude)
            .arg(point.latitude)
            .arg(id)
            .ignore()
            .cmd("GEOADD")
            .arg(&self.free)
            .arg("XX")
            .arg(point.longitude)
            .arg(point.latitude)
            .arg(id)
            .ignore()
            .cmd("HSET")
            .arg(&self.seen)
            .arg(id)
            .arg(at.timestamp_millis())
            .ignore()
            .query_async::<()>(&mut redis)
            .await
    }

    /// Driver `id`'s last reported position and when, if Redis has it.
    ///
    /// # Errors
    /// Redis did not answer.
    pub async fn position(
        &self,
        id: i64,
    ) -> redis::RedisResult<Option<(Coordinates, DateTime<Utc>)>> {
        let mut redis = self.redis.clone();
        let (points, seen): (Vec<Option<(f64, f64)>>, Option<i64>) = redis::pipe()
            .cmd("GEOPOS")
            .arg(&self.positions)
            .arg(id)
            .cmd("HGET")
            .arg(&self.seen)
            .arg(id)
            .query_async(&mut redis)
            .await?;
        let point = points.into_iter().next().flatten();
        Ok(point.zip(seen).and_then(|((longitude, latitude), millis)| {
            let at = DateTime::from_timestamp_millis(millis)?;
            Some((
                Coordinates {
                    latitude: metre(latitude),
                    longitude: metre(longitude),
                },
                at,
            ))
        }))
    }

    /// The last reported positions of drivers `ids`, in their order.
    ///
    /// # Errors
    /// Redis did not answer.
    pub async fn positions_of(&self, ids: &[i64]) -> redis::RedisResult<Vec<Option<Coordinates>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut redis = self.redis.clone();
        let points: Vec<Option<(f64, f64)>> = redis::cmd("GEOPOS")
            .arg(&self.positions)
            .arg(ids)
            .query_async(&mut redis)
            .await?;
        Ok(points
            .into_iter()
            .map(|p| {
                p.map(|(longitude, latitude)| Coordinates {
                    latitude: metre(latitude),
                    longitude: metre(longitude),
                })
            })
            .collect())
    }

    /// Driver `id`, at `point`, can take a delivery.
    ///
    /// # Errors
    /// Redis did not take it.
    pub async fn free(&self, id: i64, point: Coordinates) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        redis::cmd("GEOADD")
            .arg(&self.free)
            .arg(point.longitude)
            .arg(point.latitude)
            .arg(id)
            .query_async::<()>(&mut redis)
            .await
    }

    /// Driver `id` cannot take a delivery now.
    ///
    /// # Errors
    /// Redis did not take it.
    pub async fn busy(&self, id: i64) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        redis::cmd("ZREM")
            .arg(&self.free)
            .arg(id)
            .query_async::<()>(&mut redis)
            .await
    }

    /// The free drivers within `radius_km` of `point`, nearest first, at
    /// most `count`.
    ///
    /// # Errors
    /// Redis did not answer.
    pub async fn nearest_free(
        &self,
        point: Coordinates,
        radius_km: f64,
        count: usize,
    ) -> redis::RedisResult<Vec<Nearby>> {
        let mut redis = self.redis.clone();
        let found: Vec<(String, f64)> = redis::cmd("GEOSEARCH")
            .arg(&self.free)
            .arg("FROMLONLAT")
            .arg(point.longitude)
            .arg(point.latitude)
            .arg("BYRADIUS")
            .arg(radius_km)
            .arg("km")
            .arg("ASC")
            .arg("COUNT")
            .arg(count)
            .arg("WITHDIST")
            .query_async(&mut redis)
            .await?;
        Ok(found
            .into_iter()
            .filter_map(|(member, km)| {
                Some(Nearby {
                    driver_id: member.parse().ok()?,
                    km,
                })
            })
            .collect())
    }

    /// Makes the free set exactly `drivers` (id and position): the sweep's
    /// repair of whatever a crash or a lost write left behind.
    ///
    /// # Errors
    /// Redis did not take it.
    pub async fn rebuild_free(&self, drivers: &[(i64, Coordinates)]) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let staging = format!("{}:rebuild", self.free);
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("DEL").arg(&staging).ignore();
        for (id, point) in drivers {
            pipe.cmd("GEOADD")
                .arg(&staging)
                .arg(point.longitude)
                .arg(point.latitude)
                .arg(id)
                .ignore();
        }
        if drivers.is_empty() {
            pipe.cmd("DEL").arg(&self.free).ignore();
        } else {
            pipe.cmd("RENAME").arg(&staging).arg(&self.free).ignore();
        }
        pipe.query_async::<()>(&mut redis).await
    }
}
