//! The work no request asks for: cancelling orders unpaid past the payment
//! timeout, giving coupon redemptions back until restaurant-svc has them,
//! and forgetting old idempotency keys. Each works from the database alone,
//! so any number of instances may run it side by side.

use std::time::Duration;

use foodmesh_shared::work::Work;

use super::create::KEY_RETENTION;
use super::status::Guard;
use super::{Orders, SERVICE};
use crate::domain::DomainError;
use crate::domain::order::{Actor, OrderStatus};
use crate::store;

/// How long a leased release is skipped by other instances.
const RELEASE_LEASE: Duration = Duration::from_secs(30);

/// Coupon releases attempted per round.
pub const RELEASE_BATCH: i64 = 20;

/// Orders cancelled per sweep of the payment timeout.
const SWEEP_BATCH: i64 = 100;

impl Orders {
    /// How many orders are in each status that is not final, every such
    /// status named (0 when none is).
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn open_counts(&self) -> Result<Vec<(OrderStatus, i64)>, DomainError> {
        let stored = {
            let mut conn = self.store.conn().await?;
            store::open_counts(&mut conn).await?
        };
        Ok(OrderStatus::ALL
            .into_iter()
            .filter(|s| !s.is_final())
            .map(|status| {
                let count = stored
                    .iter()
                    .find(|(raw, _)| raw == status.as_str())
                    .map_or(0, |(_, n)| *n);
                (status, count)
            })
            .collect())
    }

    /// Cancels PENDING orders unpaid for longer than the payment timeout
    /// (actor SYSTEM, reason "payment timeout"), releasing their coupons.
    /// Returns how many it cancelled.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn cancel_unpaid(&self) -> Result<usize, DomainError> {
        let cutoff = self.clock.ago(self.config.order_timeout);
        let expired = {
            let mut conn = self.store.conn().await?;
            store::expired_pending(&mut conn, cutoff, SWEEP_BATCH).await?
        };
        let system = Actor::system(SERVICE);
        // Only if still PENDING: a payment may have won the race.
        let guard = Guard {
            expect_from: Some(OrderStatus::Pending),
            ..Guard::default()
        };
        let mut cancelled = 0;
        for id in expired {
            let mut conn = self.store.conn().await?;
            let mut work = Work::begin(&mut conn).await?;
            let order = match self.locked(&mut work, id).await {
                Ok(order) => order,
                Err(DomainError::OrderNotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            let reason = "payment timeout";
            match self
                .transition(
                    &mut work,
                    order,
                    OrderStatus::Cancelled,
                    &system,
                    reason,
                    guard,
                )
                .await
            {
                Ok(_) => {
                    work.commit().await?.announce(&mut conn).await;
                    cancelled += 1;
                }
                Err(DomainError::InvalidTransition { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if cancelled > 0 {
            tracing::info!(cancelled, "unpaid orders cancelled");
            self.releases.notify_one();
        }
        Ok(cancelled)
    }

    /// Gives due coupon redemptions back to restaurant-svc; a failure is
    /// recorded and retried later with a growing pause. Returns how many
    /// were attempted (a full batch means more may be due).
    ///
    /// # Errors
    /// Only unexpected failures of the database.
    pub async fn release_due_coupons(&self) -> Result<usize, DomainError> {
        let due = {
            let mut conn = self.store.conn().await?;
            store::lease_due_releases(&mut conn, RELEASE_BATCH, RELEASE_LEASE, self.clock.now())
                .await?
        };
        let attempted = due.len();
        for release in due {
            let outcome = self
                .restaurant
                .release(release.restaurant_id, &release.order_ref)
                .await;
            let mut conn = self.store.conn().await?;
            let now = self.clock.now();
            match outcome {
                Ok(released) => {
                    store::mark_released(&mut conn, release.restaurant_id, &release.order_ref, now)
                        .await?;
                    tracing::info!(
                        order_ref = %release.order_ref,
                        released,
                        "coupon redemption given back"
                    );
                }
                Err(why) => {
                    let pause = retry_pause(release.attempts);
                    tracing::warn!(
                        order_ref = %release.order_ref,
                        attempts = release.attempts,
                        error = %why,
                        "coupon release failed; will retry"
                    );
                    store::release_failed(
                        &mut conn,
                        release.restaurant_id,
                        &release.order_ref,
                        &why,
                        pause,
                        now,
                    )
                    .await?;
                }
            }
        }
        Ok(attempted)
    }

    /// Forgets idempotency keys past their retention.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn prune_keys(&self) -> Result<u64, DomainError> {
        let cutoff = self.clock.ago(KEY_RETENTION);
        let mut conn = self.store.conn().await?;
        store::prune_keys(&mut conn, cutoff).await
    }
}

/// The pause before the next release attempt: doubling from 1 s, at most
/// about four minutes.
fn retry_pause(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 9) - 1).unwrap_or(0);
    Duration::from_secs(2_u64.pow(exponent)).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_retries_back_off_to_a_few_minutes() {
        assert_eq!(retry_pause(1), Duration::from_secs(1));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        assert_eq!(retry_pause(50), Duration::from_secs(256));
    }
}
