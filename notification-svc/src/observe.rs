//! notification-svc's business metrics, for the operators' dashboard:
//!
//! - `notification_sends_total{channel,provider,outcome}` — attempts, by
//!   what the provider made of them (`sent`, `delivered`, `transient`,
//!   `permanent`);
//! - `notification_retries_total{channel,provider}` — attempts that left
//!   their message queued for another;
//! - `notification_failures_total{channel,provider}` — messages given up
//!   on (refused, out of attempts, or interrupted where a resend is not
//!   safe);
//! - `notification_send_seconds{channel,provider}` — how long a provider
//!   took over one attempt;
//! - `notifications_skipped_total{channel,reason}` — recipients of a bulk
//!   send not written (`opted_out`, `no_address`, `duplicate`).

use std::time::Duration;

use crate::domain::channel::Channel;
use crate::domain::message::{Next, Outcome, Status};

/// Gives the metrics their help text on `/metrics`.
pub fn describe() {
    metrics::describe_counter!(
        "notification_sends_total",
        "Attempts to send a notification, by what the provider made of them."
    );
    metrics::describe_counter!(
        "notification_retries_total",
        "Attempts that left their notification queued for another."
    );
    metrics::describe_counter!(
        "notification_failures_total",
        "Notifications given up on: refused, out of attempts, or interrupted where a resend is not safe."
    );
    metrics::describe_histogram!(
        "notification_send_seconds",
        metrics::Unit::Seconds,
        "Seconds a provider took over one attempt."
    );
    metrics::describe_counter!(
        "notifications_skipped_total",
        "Recipients of a bulk send not written: opted out, without an address on the channel, or named twice."
    );
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Sent { .. } => "sent",
        Outcome::Delivered { .. } => "delivered",
        Outcome::Transient { .. } => "transient",
        Outcome::Permanent { .. } => "permanent",
    }
}

/// Counts one attempt through `provider` that ended in `outcome` and
/// `next`, after `took`.
pub fn attempted(
    channel: Channel,
    provider: &'static str,
    outcome: &Outcome,
    next: Next,
    took: Duration,
) {
    let channel = channel.as_str();
    metrics::counter!("notification_sends_total",
        "channel" => channel, "provider" => provider, "outcome" => outcome_label(outcome))
    .increment(1);
    metrics::histogram!("notification_send_seconds", "channel" => channel, "provider" => provider)
        .record(took.as_secs_f64());
    match next {
        Next::Retry(_) => {
            metrics::counter!("notification_retries_total",
                "channel" => channel, "provider" => provider)
            .increment(1);
        }
        Next::Settled(Status::Failed) => failed(channel, provider, 1),
        Next::Settled(_) => {}
    }
}

/// Counts `channel`'s retries and failures through `provider` from zero,
/// so the dashboards show none rather than no data.
pub fn sender_started(channel: Channel, provider: &'static str) {
    let channel = channel.as_str();
    metrics::counter!("notification_retries_total", "channel" => channel, "provider" => provider)
        .increment(0);
    metrics::counter!("notification_failures_total",
        "channel" => channel.to_owned(), "provider" => provider)
    .increment(0);
}

/// Counts `n` messages of `channel` given up on.
pub fn failed(channel: &str, provider: &'static str, n: u64) {
    metrics::counter!("notification_failures_total",
        "channel" => channel.to_owned(), "provider" => provider)
    .increment(n);
}

/// Counts `n` recipients of a bulk send on `channel` skipped for `reason`.
pub fn skipped(channel: Channel, reason: &'static str, n: u64) {
    metrics::counter!("notifications_skipped_total",
        "channel" => channel.as_str(), "reason" => reason)
    .increment(n);
}
