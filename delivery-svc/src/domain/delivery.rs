//! Deliveries: one per delivery order, from the restaurant's door to the
//! customer's. [`DeliveryStatus::check`] is the one transition table:
//!
//! | to | from | who |
//! |---|---|---|
//! | assigned | pending | the platform (nearest free driver), staff or admin by hand |
//! | picked_up | assigned | the driver (or admin) |
//! | delivered | picked_up | the driver (or admin) |
//! | failed | assigned, picked_up | the driver (or admin), with a reason |
//! | cancelled | pending, assigned | the platform, when its order is cancelled |

use std::fmt;

use chrono::{DateTime, Utc};
use foodmesh_shared::values::{Coordinates, PostalAddress};

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for a driver.
    Pending,
    /// A driver is on the way to the restaurant.
    Assigned,
    /// The food is with the driver.
    PickedUp,
    Delivered,
    /// The driver could not deliver (a reason says why).
    Failed,
    /// Its order was cancelled.
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Assigned,
        Self::PickedUp,
        Self::Delivered,
        Self::Failed,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Assigned => "assigned",
            Self::PickedUp => "picked_up",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether a driver holds the delivery.
    pub fn holds_driver(self) -> bool {
        matches!(self, Self::Assigned | Self::PickedUp)
    }

    /// Whether nothing more can happen to the delivery.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed | Self::Cancelled)
    }

    /// Whether the table allows `self → to`.
    ///
    /// # Errors
    /// [`DomainError::InvalidTransition`].
    pub fn check(self, to: Self) -> Result<(), DomainError> {
        use DeliveryStatus as S;
        let allowed = matches!(
            (self, to),
            (S::Pending, S::Assigned)
                | (S::Assigned, S::PickedUp)
                | (S::PickedUp, S::Delivered)
                | (S::Assigned | S::PickedUp, S::Failed)
                | (S::Pending | S::Assigned, S::Cancelled)
        );
        if allowed {
            Ok(())
        } else {
            Err(DomainError::InvalidTransition { from: self, to })
        }
    }
}

impl fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: i64,
    pub order_id: i64,
    pub restaurant_id: i64,
    /// Public: reveals nothing but the delivery it follows.
    pub tracking_id: String,
    pub status: DeliveryStatus,
    pub pickup_address: PostalAddress,
    pub pickup_location: Option<Coordinates>,
    pub dropoff_address: PostalAddress,
    pub dropoff_location: Option<Coordinates>,
    /// When the kitchen expects the food ready.
    pub ready_by: DateTime<Utc>,
    /// When the kitchen had it ready, once it had.
    pub food_ready_at: Option<DateTime<Utc>>,
    pub driver_id: Option<i64>,
    /// When the food is expected at the door.
    pub eta: Option<DateTime<Utc>>,
    /// Why it failed or was cancelled.
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One move of a delivery, as its history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// `None` for the opening.
    pub from: Option<DeliveryStatus>,
    pub to: DeliveryStatus,
    pub actor: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A delivery to open for a delivery order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub order_id: i64,
    pub restaurant_id: i64,
    pub pickup_address: PostalAddress,
    pub pickup_location: Option<Coordinates>,
    pub dropoff_address: PostalAddress,
    pub dropoff_location: Option<Coordinates>,
    pub ready_by: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_allows_the_road_to_the_door_and_nothing_else() {
        use DeliveryStatus as S;
        let allowed = [
            (S::Pending, S::Assigned),
            (S::Assigned, S::PickedUp),
            (S::PickedUp, S::Delivered),
            (S::Assigned, S::Failed),
            (S::PickedUp, S::Failed),
            (S::Pending, S::Cancelled),
            (S::Assigned, S::Cancelled),
        ];
        for from in S::ALL {
            for to in S::ALL {
                assert_eq!(
                    from.check(to).is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()), Some(status));
        }
    }
}
