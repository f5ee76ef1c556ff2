//! delivery-svc's business metrics, for the operators' dashboard:
//!
//! - `deliveries_total{status}` — deliveries entering each status
//!   (`pending` counts new ones);
//! - `delivery_assignment_wait_seconds` — from a delivery's opening to
//!   its driver;
//! - `delivery_duration_seconds{leg}` — `to_door`: from pickup to the
//!   door; `total`: from the delivery's opening to the door;
//! - `delivery_drivers_free` — drivers taking deliveries with room for
//!   one, as the last rebuild of the search index counted them.
//!
//! A move is counted once its unit of work commits.

use chrono::{DateTime, Utc};

use crate::domain::delivery::{Delivery, DeliveryStatus};

/// Gives the metrics their help text on `/metrics`.
pub fn describe() {
    metrics::describe_counter!("deliveries_total", "Deliveries entering each status.");
    metrics::describe_histogram!(
        "delivery_assignment_wait_seconds",
        metrics::Unit::Seconds,
        "Seconds from a delivery's opening to its driver."
    );
    metrics::describe_histogram!(
        "delivery_duration_seconds",
        metrics::Unit::Seconds,
        "Seconds to the door: from pickup (leg=to_door) or from the delivery's opening (leg=total)."
    );
    metrics::describe_gauge!(
        "delivery_drivers_free",
        "Drivers taking deliveries with room for one."
    );
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).to_std().unwrap_or_default().as_secs_f64()
}

/// Counts a committed move of `delivery` made at `at`.
pub fn moved(delivery: &Delivery, at: DateTime<Utc>) {
    metrics::counter!("deliveries_total", "status" => delivery.status.as_str()).increment(1);
    match delivery.status {
        DeliveryStatus::Assigned => {
            metrics::histogram!("delivery_assignment_wait_seconds")
                .record(seconds(delivery.created_at, at));
        }
        DeliveryStatus::Delivered => {
            if let Some(picked_up) = delivery.picked_up_at {
                metrics::histogram!("delivery_duration_seconds", "leg" => "to_door")
                    .record(seconds(picked_up, at));
            }
            metrics::histogram!("delivery_duration_seconds", "leg" => "total")
                .record(seconds(delivery.created_at, at));
        }
        _ => {}
    }
}

/// Counts a new delivery.
pub fn opened() {
    metrics::counter!("deliveries_total", "status" => "pending").increment(1);
}

/// The free drivers the search index holds now.
pub fn drivers_free(count: usize) {
    metrics::gauge!("delivery_drivers_free").set(count as f64);
}
