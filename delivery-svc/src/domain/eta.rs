//! Distances and arrival times. A driver rides at a configured average
//! speed; the food leaves the restaurant when both it and the driver are
//! there.

use std::time::Duration;

use chrono::{DateTime, Utc};
use foodmesh_shared::values::Coordinates;

/// The earth's mean radius, for the haversine distance.
const EARTH_RADIUS_KM: f64 = 6_371.0;

/// The great-circle distance between `a` and `b`, in kilometres.
pub fn distance_km(a: Coordinates, b: Coordinates) -> f64 {
    let (lat1, lat2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.longitude - a.longitude).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// How a delivery's arrival is estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pace {
    /// Average riding speed.
    pub speed_kmh: f64,
    /// The ride to the door when the customer's location is unknown.
    pub unknown_leg: Duration,
}

impl Pace {
    /// How long riding `km` takes.
    pub fn ride(&self, km: f64) -> chrono::Duration {
        let hours = km / self.speed_kmh.max(1.0);
        chrono::Duration::milliseconds((hours * 3_600_000.0).round() as i64)
    }
}

/// Where things are for an estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route {
    /// The driver now, if known (before assignment: none yet).
    pub driver: Option<Coordinates>,
    pub pickup: Option<Coordinates>,
    pub dropoff: Option<Coordinates>,
    /// Whether the driver already has the food.
    pub picked_up: bool,
}

/// When the food is expected at the door, estimated at `now`: the driver
/// rides to the restaurant, waits for the food if it is not ready
/// (`ready_by`), and rides to the customer. Unknown legs count zero
/// (driver to restaurant) or [`Pace::unknown_leg`] (to the door).
pub fn arrival(
    now: DateTime<Utc>,
    ready_by: DateTime<Utc>,
    route: Route,
    pace: Pace,
) -> DateTime<Utc> {
    let to_door = |from: Option<Coordinates>| match (from, route.dropoff) {
        (Some(from), Some(to)) => pace.ride(distance_km(from, to)),
        _ => chrono::Duration::from_std(pace.unknown_leg).unwrap_or_default(),
    };
    if route.picked_up {
        return now + to_door(route.driver.or(route.pickup));
    }
    let to_pickup = match (route.driver, route.pickup) {
        (Some(driver), Some(pickup)) => pace.ride(distance_km(driver, pickup)),
        _ => chrono::Duration::zero(),
    };
    let leaves = (now + to_pickup).max(ready_by);
    leaves + to_door(route.pickup)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    const PACE: Pace = Pace {
        speed_kmh: 20.0,
        unknown_leg: Duration::from_secs(900),
    };

    #[test]
    fn a_degree_of_latitude_is_about_111_km() {
        let d = distance_km(at(40.0, -74.0), at(41.0, -74.0));
        assert!((d - 111.19).abs() < 0.1, "{d}");
        assert!(distance_km(at(40.0, -74.0), at(40.0, -74.0)).abs() < 1e-9);
    }

    #[test]
    fn the_food_leaves_when_both_it_and_the_driver_are_there() {
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let restaurant = at(40.0, -74.0);
        // 1.112 km north of the restaurant (200 s at 20 km/h), and the
        // customer as far again beyond (400 s from the restaurant).
        let driver = at(40.01, -74.0);
        let customer = at(40.02, -74.0);
        let route = Route {
            driver: Some(driver),
            pickup: Some(restaurant),
            dropoff: Some(customer),
            picked_up: false,
        };
        // Food ready in 10 minutes: the driver waits for it.
        let eta = arrival(now, now + chrono::Duration::minutes(10), route, PACE);
        let seconds = (eta - now).num_seconds();
        assert!((990..=1010).contains(&seconds), "{seconds}");
        // Food ready already: the driver's ride decides.
        let eta = arrival(now, now, route, PACE);
        let seconds = (eta - now).num_seconds();
        assert!((590..=610).contains(&seconds), "{seconds}");
        // With the food: from the driver to the door.
        let eta = arrival(
            now,
            now,
            Route {
                picked_up: true,
                ..route
            },
            PACE,
        );
        let seconds = (eta - now).num_seconds();
        assert!((190..=210).contains(&seconds), "{seconds}");
    }
}
