//! The order state machine: the one table of which status may follow which,
//! and who may make each move. Every path that changes a status — the API,
//! events from other services, the payment timeout — goes through
//! [`check`], so the rules cannot drift apart.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::DomainError;
use super::order::{ActorKind, OrderStatus, OrderType};

/// What the table needs to know about the order besides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Situation {
    /// Delivery orders go through OUT_FOR_DELIVERY; others do not.
    pub order_type: OrderType,
    pub status: OrderStatus,
    /// When it was confirmed, for the customer's cancellation window.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// How long after confirmation the customer may still cancel.
    pub cancel_window: Duration,
}

/// Whether `actor` may move an order in `situation` to `to`, with
/// `reason`.
///
/// | from | to | who |
/// |---|---|---|
/// | PENDING | CONFIRMED | staff, admin, system |
/// | CONFIRMED | PREPARING | staff, admin, system |
/// | PREPARING | READY | staff, admin, system |
/// | READY | COMPLETED | staff, admin, system — not for delivery orders |
/// | READY | OUT_FOR_DELIVERY | staff, admin, system, driver — delivery orders only |
/// | OUT_FOR_DELIVERY | COMPLETED | staff, admin, system, driver |
/// | PENDING | CANCELLED | anyone but a driver |
/// | CONFIRMED | CANCELLED | staff, admin, system; the customer or guest within the window |
/// | PREPARING | CANCELLED | staff, admin, system, with a reason |
/// | READY, OUT_FOR_DELIVERY | CANCELLED | system — a delivery order whose delivery failed |
///
/// # Errors
/// [`DomainError::InvalidTransition`] for any move not in the table,
/// [`DomainError::CancelWindowClosed`] for a customer too late, and
/// [`DomainError::Invalid`] naming `reason` when a cancellation during
/// preparation gives none.
pub fn check(
    situation: &Situation,
    to: OrderStatus,
    actor: ActorKind,
    reason: &str,
) -> Result<(), DomainError> {
    use ActorKind as A;
    use OrderStatus as S;
    let from = situation.status;
    let restaurant_side = matches!(actor, A::Staff | A::Admin | A::System);
    let delivery = situation.order_type == OrderType::Delivery;
    let allowed = match (from, to) {
        (S::Pending, S::Confirmed) | (S::Confirmed, S::Preparing) | (S::Preparing, S::Ready) => {
            restaurant_side
        }
        (S::Ready, S::Completed) => !delivery && restaurant_side,
        (S::Ready, S::OutForDelivery) => delivery && (restaurant_side || actor == A::Driver),
        (S::OutForDelivery, S::Completed) => restaurant_side || actor == A::Driver,
        (S::Pending, S::Cancelled) => actor != A::Driver,
        (S::Confirmed, S::Cancelled) if actor.is_customer_side() => {
            let confirmed = situation.confirmed_at.unwrap_or(situation.now);
            let elapsed = (situation.now - confirmed).to_std().unwrap_or_default();
            if elapsed > situation.cancel_window {
                return Err(DomainError::CancelWindowClosed {
                    window_seconds: situation.cancel_window.as_secs(),
                });
            }
            true
        }
        (S::Confirmed, S::Cancelled) => restaurant_side,
        // A delivery that failed on the road (reported by delivery-svc)
        // ends its order: nothing else can bring the food to the door.
        (S::Ready | S::OutForDelivery, S::Cancelled) => delivery && actor == A::System,
        (S::Preparing, S::Cancelled) => {
            if restaurant_side && reason.trim().is_empty() {
                return Err(DomainError::invalid(
                    "reason",
                    "is required to cancel an order that is being prepared",
                ));
            }
            restaurant_side
        }
        _ => false,
    };
    if !allowed {
        return Err(DomainError::InvalidTransition { from, to, actor });
    }
    Ok(())
}

/// Until when the customer (or guest) may still cancel, as [`check`]
/// judges it: the end of the window for a confirmed order, `None` for any
/// other status — a pending order may go at any time, a later one only by
/// the restaurant.
pub fn customer_cancel_until(
    status: OrderStatus,
    confirmed_at: Option<DateTime<Utc>>,
    window: Duration,
) -> Option<DateTime<Utc>> {
    if status != OrderStatus::Confirmed {
        return None;
    }
    confirmed_at?.checked_add_signed(chrono::Duration::from_std(window).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ACTORS: [ActorKind; 6] = [
        ActorKind::Customer,
        ActorKind::Staff,
        ActorKind::Driver,
        ActorKind::Admin,
        ActorKind::System,
        ActorKind::Guest,
    ];

    fn at(status: OrderStatus, order_type: OrderType) -> Situation {
        let now = Utc::now();
        Situation {
            order_type,
            status,
            confirmed_at: Some(now),
            now,
            cancel_window: Duration::from_secs(120),
        }
    }

    fn allowed(s: &Situation, to: OrderStatus, actor: ActorKind) -> bool {
        check(s, to, actor, "a reason").is_ok()
    }

    #[test]
    fn the_happy_paths_are_open_to_the_restaurant_side() {
        use OrderStatus as S;
        let takeout = [
            S::Pending,
            S::Confirmed,
            S::Preparing,
            S::Ready,
            S::Completed,
        ];
        for pair in takeout.windows(2) {
            let s = at(pair[0], OrderType::Takeout);
            for actor in [ActorKind::Staff, ActorKind::Admin, ActorKind::System] {
                assert!(allowed(&s, pair[1], actor), "{pair:?} by {actor}");
            }
            assert!(!allowed(&s, pair[1], ActorKind::Customer), "{pair:?}");
        }
        let delivery = [S::Ready, S::OutForDelivery, S::Completed];
        for pair in delivery.windows(2) {
            let s = at(pair[0], OrderType::Delivery);
            assert!(allowed(&s, pair[1], ActorKind::Driver), "{pair:?}");
            assert!(allowed(&s, pair[1], ActorKind::System), "{pair:?}");
        }
    }

    #[test]
    fn delivery_orders_go_out_for_delivery_and_others_do_not() {
        let ready_delivery = at(OrderStatus::Ready, OrderType::Delivery);
        assert!(!allowed(
            &ready_delivery,
            OrderStatus::Completed,
            ActorKind::Staff
        ));
        let ready_takeout = at(OrderStatus::Ready, OrderType::Takeout);
        assert!(!allowed(
            &ready_takeout,
            OrderStatus::OutForDelivery,
            ActorKind::Staff
        ));
    }

    #[test]
    fn nothing_leaves_a_final_state_or_skips_or_goes_back() {
        use OrderStatus as S;
        for order_type in [OrderType::DineIn, OrderType::Takeout, OrderType::Delivery] {
            for from in S::ALL {
                for to in S::ALL {
                    let s = at(from, order_type);
                    let forward = matches!(
                        (from, to),
                        (S::Pending, S::Confirmed)
                            | (S::Confirmed, S::Preparing)
                            | (S::Preparing, S::Ready)
                            | (S::Ready, S::Completed)
                            | (S::Ready, S::OutForDelivery)
                            | (S::OutForDelivery, S::Completed)
                            | (S::Pending | S::Confirmed | S::Preparing, S::Cancelled)
                    ) || (order_type == OrderType::Delivery
                        && matches!((from, to), (S::Ready | S::OutForDelivery, S::Cancelled)));
                    if !forward {
                        for actor in ALL_ACTORS {
                            assert!(
                                matches!(
                                    check(&s, to, actor, "why"),
                                    Err(DomainError::InvalidTransition { .. })
                                ),
                                "{from} → {to} by {actor} ({order_type:?})"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn only_the_platform_cancels_a_delivery_order_on_the_road_when_its_delivery_fails() {
        use OrderStatus as S;
        for from in [S::Ready, S::OutForDelivery] {
            let s = at(from, OrderType::Delivery);
            for actor in ALL_ACTORS {
                assert_eq!(
                    check(&s, S::Cancelled, actor, "delivery failed").is_ok(),
                    actor == ActorKind::System,
                    "{from} by {actor}"
                );
            }
            let takeout = at(from, OrderType::Takeout);
            assert!(check(&takeout, S::Cancelled, ActorKind::System, "why").is_err());
        }
    }

    #[test]
    fn a_pending_order_may_be_cancelled_by_anyone_but_a_driver() {
        let s = at(OrderStatus::Pending, OrderType::Takeout);
        for actor in ALL_ACTORS {
            assert_eq!(
                allowed(&s, OrderStatus::Cancelled, actor),
                actor != ActorKind::Driver,
                "{actor}"
            );
        }
    }

    #[test]
    fn a_customer_cancels_a_confirmed_order_only_within_the_window() {
        let mut s = at(OrderStatus::Confirmed, OrderType::Takeout);
        assert!(allowed(&s, OrderStatus::Cancelled, ActorKind::Customer));
        assert!(allowed(&s, OrderStatus::Cancelled, ActorKind::Guest));
        s.confirmed_at = Some(s.now - chrono::Duration::seconds(121));
        for actor in [ActorKind::Customer, ActorKind::Guest] {
            assert!(matches!(
                check(&s, OrderStatus::Cancelled, actor, ""),
                Err(DomainError::CancelWindowClosed {
                    window_seconds: 120
                })
            ));
        }
        assert!(allowed(&s, OrderStatus::Cancelled, ActorKind::Staff));
        assert!(!allowed(&s, OrderStatus::Cancelled, ActorKind::Driver));
    }

    #[test]
    fn the_customers_deadline_is_the_last_moment_the_window_lets_them_cancel() {
        let mut s = at(OrderStatus::Confirmed, OrderType::Delivery);
        let until = customer_cancel_until(s.status, s.confirmed_at, s.cancel_window);
        assert_eq!(until, Some(s.now + chrono::Duration::seconds(120)));
        let Some(until) = until else { return };
        s.now = until;
        assert!(allowed(&s, OrderStatus::Cancelled, ActorKind::Guest));
        s.now = until + chrono::Duration::milliseconds(1);
        assert!(!allowed(&s, OrderStatus::Cancelled, ActorKind::Guest));
        for status in [
            OrderStatus::Pending,
            OrderStatus::Preparing,
            OrderStatus::Ready,
            OrderStatus::Cancelled,
        ] {
            assert_eq!(
                customer_cancel_until(status, s.confirmed_at, s.cancel_window),
                None
            );
        }
    }

    #[test]
    fn an_order_being_prepared_is_cancelled_only_by_the_restaurant_with_a_reason() {
        let s = at(OrderStatus::Preparing, OrderType::Delivery);
        assert!(allowed(&s, OrderStatus::Cancelled, ActorKind::Staff));
        assert!(matches!(
            check(&s, OrderStatus::Cancelled, ActorKind::Staff, "  "),
            Err(DomainError::Invalid(_))
        ));
        assert!(matches!(
            check(
                &s,
                OrderStatus::Cancelled,
                ActorKind::Customer,
                "changed my mind"
            ),
            Err(DomainError::InvalidTransition { .. })
        ));
    }
}
