//! The service's own timers: the payment timeout that cancels unpaid
//! orders, the loop that gives coupon redemptions back until
//! restaurant-svc has them, and the count of open orders for the
//! operators. Each works from the database alone, so any number of
//! instances may run them side by side, and a restart loses nothing they
//! had still to do. Each runs until told to stop, and stops between
//! rounds, never in one.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::{Orders, RELEASE_BATCH};

/// How often idempotency keys past their retention are forgotten.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// How often the open orders are counted for `orders_open`.
const COUNT_OPEN_EVERY: Duration = Duration::from_secs(15);

/// How often the releaser looks for due releases without being woken.
const RELEASE_POLL: Duration = Duration::from_secs(1);

/// Cancels unpaid orders as their timeout passes (looking a few times per
/// timeout, at most every five seconds, on the service's clock), and
/// prunes old idempotency keys.
pub async fn payment_timeout(orders: Orders, stop: CancellationToken) {
    let every = (orders.config().order_timeout / 4)
        .clamp(Duration::from_millis(100), Duration::from_secs(5));
    let clock = orders.clock().clone();
    let mut pruned = clock.now();
    while stop.run_until_cancelled(clock.sleep(every)).await.is_some() {
        if let Err(e) = orders.cancel_unpaid().await {
            tracing::warn!(error = %e, "payment timeout sweep failed; retrying");
        }
        if clock.ago(PRUNE_EVERY) >= pruned {
            pruned = clock.now();
            match orders.prune_keys().await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "old idempotency keys forgotten"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "pruning idempotency keys failed"),
            }
        }
    }
}

/// Keeps the gauge `orders_open{status}` (orders in each status that is
/// not final) up to date, counting at start and every
/// [`COUNT_OPEN_EVERY`]. Every instance counts the same database, so the
/// dashboards take the largest figure, not the sum.
pub async fn open_orders_gauge(orders: Orders, stop: CancellationToken) {
    let clock = orders.clock().clone();
    loop {
        match orders.open_counts().await {
            Ok(counts) => {
                for (status, count) in counts {
                    metrics::gauge!("orders_open", "status" => status.as_str()).set(count as f64);
                }
            }
            Err(e) => tracing::warn!(error = %e, "counting open orders failed; retrying"),
        }
        if stop
            .run_until_cancelled(clock.sleep(COUNT_OPEN_EVERY))
            .await
            .is_none()
        {
            return;
        }
    }
}

/// Gives coupon redemptions back as they fall due: at once when a
/// cancellation queues one on this instance, within a second otherwise.
pub async fn coupon_releaser(orders: Orders, stop: CancellationToken) {
    let queued = orders.releases_queued();
    let clock = orders.clock().clone();
    loop {
        let woken = async {
            tokio::select! {
                () = queued.notified() => {}
                () = clock.sleep(RELEASE_POLL) => {}
            }
        };
        if stop.run_until_cancelled(woken).await.is_none() {
            return;
        }
        loop {
            match orders.release_due_coupons().await {
                Ok(n) if n == RELEASE_BATCH as usize && !stop.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "coupon release round failed; retrying");
                    break;
                }
            }
        }
    }
}
