//! The senders: one per channel in each process, so a provider that is
//! down or slow holds back only its own channel. A sender sends what is
//! due whenever it is woken (a message was written) and at least every
//! [`POLL`] (retries come due by the clock), at most its channel's rate,
//! and looks for messages whose sender vanished every [`RECOVER`].
//! Replicas send at once: each claims other rows.

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::domain::channel::Channel;
use crate::service::Notifications;

/// The longest a due message waits for its sender to look.
pub const POLL: Duration = Duration::from_secs(1);

/// How often lapsed leases are looked for.
pub const RECOVER: Duration = Duration::from_secs(5);

/// Runs `channel`'s sender until `stop`: the attempts under way end and
/// are recorded, the rest of the batch goes back to the queue.
pub async fn sender(notifications: Notifications, channel: Channel, stop: CancellationToken) {
    crate::observe::sender_started(channel, notifications.providers().of(channel).name());
    let rate = notifications.settings().rate.of(channel).max(1);
    let batch = notifications.settings().batch.clamp(1, rate);
    let mut recovered = None::<Instant>;
    loop {
        if recovered.is_none_or(|at| at.elapsed() >= RECOVER) {
            if let Err(e) = notifications.recover(channel).await {
                tracing::warn!(%channel, error = %e, "interrupted messages not recovered");
            }
            recovered = Some(Instant::now());
        }
        let started = Instant::now();
        let sent = match notifications.send_due(channel, batch, &stop).await {
            Ok(sent) => sent,
            Err(e) => {
                tracing::warn!(%channel, error = %e, "due messages not sent");
                0
            }
        };
        if sent > 0 {
            // `sent` messages spend `sent / rate` seconds of the budget.
            let budget = Duration::from_secs_f64(sent as f64 / f64::from(rate));
            let pause = budget.saturating_sub(started.elapsed());
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(pause) => {}
            }
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = notifications.bell(channel).notified() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}
