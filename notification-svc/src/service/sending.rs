//! Sending: a channel's sender claims the messages due on it, hands each
//! to the channel's provider (a few at once), and records every answer:
//! sent or delivered, queued again after a backoff, or failed. A message
//! whose sender vanished mid-attempt is found by its lapsed lease and
//! sent again only where the provider drops a second copy.

use std::time::Instant;

use futures::StreamExt;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::channel::Channel;
use crate::domain::message::{Next, Status};
use crate::observe;
use crate::providers::Outgoing;
use crate::store::{self, Settled};

/// Attempts in flight at once per channel.
const CONCURRENCY: usize = 16;

impl Notifications {
    /// Sends up to `limit` messages due on `channel`; how many it claimed.
    ///
    /// # Errors
    /// The database failed (claimed messages then wait out their lease).
    pub async fn send_due(&self, channel: Channel, limit: u32) -> Result<usize, DomainError> {
        let claimed = {
            let mut conn = self.pool.acquire().await?;
            store::claim_due(&mut conn, channel, limit, self.now(), self.settings.lease).await?
        };
        if claimed.is_empty() {
            return Ok(0);
        }
        let provider = self.providers.of(channel).clone();
        let backoff = self.settings.backoff;
        let count = claimed.len();
        let attempts = claimed.into_iter().map(|n| {
            let provider = provider.clone();
            async move {
                let outgoing = Outgoing {
                    key: n.dedupe_key.clone(),
                    channel,
                    recipient: n.recipient.clone(),
                    subject: n.subject.clone(),
                    body: n.message.clone(),
                };
                let started = Instant::now();
                let outcome = provider.send(&outgoing).await;
                let next = backoff.next(n.attempts, &outcome, rand::random::<f64>());
                observe::attempted(channel, provider.name(), &outcome, next, started.elapsed());
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
                    status,
                    response: outcome.response().to_owned(),
                    next_attempt_at,
                }
            }
        });
        let answers: Vec<Settled> = futures::stream::iter(attempts)
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut conn = self.pool.acquire().await?;
        store::settle(&mut conn, &answers, self.now()).await?;
        Ok(count)
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
