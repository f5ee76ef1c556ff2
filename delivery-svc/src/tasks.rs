//! The assigner: one per process, it hands waiting deliveries to free
//! drivers whenever it is woken (a delivery opened, a driver came free)
//! and at least every [`SWEEP`], and rebuilds the live index of free
//! drivers from Postgres every [`REBUILD`], repairing what a crash or a
//! lost write left behind. Replicas may assign at once: the claims in
//! Postgres keep them apart.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::Deliveries;

/// The longest a waiting delivery waits for the assigner to look again.
pub const SWEEP: Duration = Duration::from_secs(2);

/// How often the free drivers' index is rebuilt.
pub const REBUILD: Duration = Duration::from_secs(30);

/// Runs until `stop`, finishing the pass in hand.
pub async fn assigner(deliveries: Deliveries, stop: CancellationToken) {
    let bell = deliveries.bell();
    let mut rebuilt = None::<tokio::time::Instant>;
    loop {
        if rebuilt.is_none_or(|at| at.elapsed() >= REBUILD) {
            if let Err(e) = deliveries.rebuild_free_index().await {
                tracing::warn!(error = %e, "free drivers' index not rebuilt");
            }
            rebuilt = Some(tokio::time::Instant::now());
        }
        if let Err(e) = deliveries.assign_waiting().await {
            tracing::warn!(error = %e, "waiting deliveries not assigned");
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = bell.notified() => {}
            () = tokio::time::sleep(SWEEP) => {}
        }
    }
}
