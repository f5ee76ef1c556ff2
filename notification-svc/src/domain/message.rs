//! A message's lifecycle. It is written `queued` (the intent) before any
//! provider hears of it; a sender claims it (`sending`, under a lease),
//! and the provider's answer makes it `sent` (accepted for delivery),
//! `delivered` (the provider confirms it reached the recipient's side),
//! `queued` again for a later attempt, or `failed`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::channel::Channel;

/// Where a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Queued,
        Status::Sending,
        Status::Sent,
        Status::Delivered,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Sending => "sending",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A message to write as an intent, before anyone sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    /// Unique per (event, recipient, channel): a second intent for the
    /// same message is not written.
    pub dedupe_key: String,
    pub customer_id: i64,
    pub order_id: Option<i64>,
    pub bulk_job_id: Option<i64>,
    /// The template kind it was written from.
    pub kind: String,
    pub channel: Channel,
    /// The address on the channel.
    pub recipient: String,
    pub subject: String,
    pub message: String,
    /// The provider that will carry it.
    pub provider: String,
}

/// A message in the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: i64,
    pub dedupe_key: String,
    pub customer_id: i64,
    pub order_id: Option<i64>,
    pub bulk_job_id: Option<i64>,
    pub kind: String,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub message: String,
    pub provider: String,
    /// The provider's last answer, as it gave it.
    pub provider_response: String,
    pub status: Status,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it is (or was) next due, while queued.
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// What a provider made of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken for delivery (an SMTP server's 250, Twilio's `queued`).
    Sent { response: String },
    /// Known to have reached the recipient's side.
    Delivered { response: String },
    /// Worth trying again: the provider is down, busy or limiting us.
    Transient { response: String },
    /// Never worth trying again: the provider refuses this message (an
    /// invalid number, a bad credential).
    Permanent { response: String },
}

impl Outcome {
    pub fn response(&self) -> &str {
        match self {
            Outcome::Sent { response }
            | Outcome::Delivered { response }
            | Outcome::Transient { response }
            | Outcome::Permanent { response } => response,
        }
    }
}

/// What becomes of a message after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Next {
    /// Final: `Sent`, `Delivered` or `Failed`.
    Settled(Status),
    /// Queued again, due after this long.
    Retry(Duration),
}

/// When failed attempts are tried again: exponential backoff with full
/// jitter (each delay uniform in `[0, base × 2^(n−1)]`, capped), so
/// messages a provider refused together do not return together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Backoff {
    /// What follows attempt number `attempt` (from 1) ending in `outcome`;
    /// `jitter` is uniform in `[0, 1)`.
    pub fn next(&self, attempt: u32, outcome: &Outcome, jitter: f64) -> Next {
        match outcome {
            Outcome::Sent { .. } => Next::Settled(Status::Sent),
            Outcome::Delivered { .. } => Next::Settled(Status::Delivered),
            Outcome::Permanent { .. } => Next::Settled(Status::Failed),
            Outcome::Transient { .. } if attempt >= self.max_attempts => {
                Next::Settled(Status::Failed)
            }
            Outcome::Transient { .. } => {
                let exponent = attempt.saturating_sub(1).min(30);
                let ceiling = self
                    .base
                    .saturating_mul(1 << exponent)
                    .min(self.cap)
                    .as_secs_f64();
                Next::Retry(Duration::from_secs_f64(ceiling * jitter.clamp(0.0, 1.0)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_secs(1),
        cap: Duration::from_secs(60),
        max_attempts: 4,
    };

    fn down() -> Outcome {
        Outcome::Transient {
            response: "503".to_owned(),
        }
    }

    #[test]
    fn a_transient_failure_waits_longer_each_time_within_its_jittered_ceiling() {
        assert_eq!(
            BACKOFF.next(1, &down(), 0.999_999),
            Next::Retry(Duration::from_secs_f64(0.999_999))
        );
        assert_eq!(
            BACKOFF.next(3, &down(), 0.5),
            Next::Retry(Duration::from_secs(2))
        );
        assert_eq!(BACKOFF.next(2, &down(), 0.0), Next::Retry(Duration::ZERO));
        let capped = Backoff {
            max_attempts: 40,
            ..BACKOFF
        };
        assert_eq!(
            capped.next(30, &down(), 1.0),
            Next::Retry(Duration::from_secs(60))
        );
    }

    #[test]
    fn the_last_attempt_and_a_permanent_refusal_fail_and_success_settles() {
        assert_eq!(BACKOFF.next(4, &down(), 0.5), Next::Settled(Status::Failed));
        let refused = Outcome::Permanent {
            response: "21211".to_owned(),
        };
        assert_eq!(
            BACKOFF.next(1, &refused, 0.5),
            Next::Settled(Status::Failed)
        );
        let sent = Outcome::Sent {
            response: "250".to_owned(),
        };
        assert_eq!(BACKOFF.next(4, &sent, 0.5), Next::Settled(Status::Sent));
    }
}
