//! Sending: a channel's sender claims the messages due on it, hands each
//! to the channel's provider (a few at once), and records every answer:
//! sent or delivered, queued again after a backoff, or failed. A message
//! whose sender vanished mid-attempt is found by its lapsed lease and
//! sent again only where the provider drops a second copy.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::channel::Channel;
use crate::domain::message::{Next, Notification, Outcome, Status};
use crate::observe;
use crate::providers::Outgoing;
use crate::store::{self, Settled};

/// Attempts in flight at once per channel; their answers are recorded
/// together.
const CONCURRENCY: usize = 16;

/// The longest one attempt may take: well within the lease, so a group's
/// answers are recorded while its claims hold.
pub const ATTEMPT_DEADLINE: Duration = Duration::from_secs(30);

/// An attempt the provider did not answer within the deadline: it may have
/// arrived, so it is tried again only where a resend is safe.
fn unanswered(resends_safely: bool) -> Outcome {
    let response = format!("no answer within {} s", ATTEMPT_DEADLINE.as_secs());
    if resends_safely {
        Outcome::Transient { response }
    } else {
        Outcome::Permanent {
            response: format!("{response}; not sent again, as it may have arrived"),
        }
    }
}

impl Notifications {
    /// Sends up to `limit` messages due on `channel`, [`CONCURRENCY`] at a
    /// time, recording each group's answers as it ends; how many it
    /// claimed. Once `stop` is cancelled it starts no more attempts, and
    /// puts the messages it has not tried back in the queue.
    ///
    /// # Errors
    /// The database failed (claimed messages then wait out their lease).
    pub async fn send_due(
        &self,
        channel: Channel,
        limit: u32,
        stop: &CancellationToken,
    ) -> Result<usize, DomainError> {
        let claimed = {
            let mut conn = self.pool.acquire().await?;
            store::claim_due(&mut conn, channel, limit, self.now(), self.settings.lease).await?
        };
        let count = claimed.len();
        let mut rest = claimed.into_iter();
        loop {
            let group: Vec<Notification> = rest.by_ref().take(CONCURRENCY).collect();
            if group.is_empty() {
                break;
            }
            if stop.is_cancelled() {
                let untried: Vec<_> = group.iter().chain(rest.as_slice()).collect();
                let mut conn = self.pool.acquire().await?;
                store::release(&mut conn, &untried).await?;
                break;
            }
            let answers = futures::future::join_all(group.iter().map(|n| self.attempt(n))).await;
            let mut conn = self.pool.acquire().await?;
            store::settle(&mut conn, &answers, self.now()).await?;
        }
        Ok(count)
    }

    /// One attempt at `n` through its channel's provider, within
    /// [`ATTEMPT_DEADLINE`], and what it leaves the message as.
    async fn attempt(&self, n: &Notification) -> Settled {
        let provider = self.providers.of(n.channel);
        let outgoing = Outgoing {
            key: n.dedupe_key.clone(),
            channel: n.channel,
            recipient: n.recipient.clone(),
            subject: n.subject.clone(),
            body: n.message.clone(),
        };
        let started = Instant::now();
        let outcome = tokio::time::timeout(ATTEMPT_DEADLINE, provider.send(&outgoing))
            .await
            .unwrap_or_else(|_| unanswered(provider.resends_safely()));
        let next = self
            .settings
            .backoff
            .next(n.attempts, &outcome, rand::random::<f64>());
        observe::attempted(
            n.channel,
            provider.name(),
            &outcome,
            next,
            started.elapsed(),
        );
        let now = self.now();
        let (status, next_attempt_at) = match next {
            Next::Settled(status) => (status, now),
            Next::Retry(after) => (
                Status::Queued,
                now + chrono::Duration::from_std(after).unwrap_or_default(),
            ),
        };
        Settled {
            id: n.id,
            attempt: n.attempts,
            status,
            response: outcome.response().to_owned(),
            next_attempt_at,
        }
    }

    /// Deals with `channel`'s messages whose sender vanished mid-attempt:
    /// queued again if its provider drops a resend, else failed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn recover(&self, channel: Channel) -> Result<u64, DomainError> {
        let provider = self.providers.of(channel);
        let resend = provider.resends_safely();
        let mut conn = self.pool.acquire().await?;
        let found = store::recover_interrupted(&mut conn, channel, resend, self.now()).await?;
        if found > 0 {
            tracing::warn!(%channel, found, resend, "messages interrupted while sending");
            if resend {
                self.bell(channel).notify_one();
            } else {
                observe::failed(channel.as_str(), provider.name(), found);
            }
        }
        Ok(found)
    }
}
