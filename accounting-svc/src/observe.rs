//! accounting-svc's business metrics, for the operators' dashboard:
//!
//! - `payments_total{method,status}` — payments entering each status
//!   (`created`, `authorized`, `declined`, `captured`, `voided`,
//!   `partially_refunded`, `refunded`);
//! - `payment_declines_total{method,reason}` — declines by the provider's
//!   reason (`other` for one outside [`DECLINE_REASONS`]);
//! - `payment_captured_amount{restaurant_id,method,currency}`,
//!   `payment_refund_amount{restaurant_id,method,currency}` — each capture
//!   and refund, in major units: their `_sum` is the money taken and given
//!   back (revenue by restaurant and method), and captured `_sum / _count`
//!   the average order value, since an order's payment is captured once,
//!   when it completes;
//! - `payment_webhooks_total{provider,outcome}` — providers' calls back:
//!   `accepted`, `signature_invalid`, `replayed`, `refused`.
//!
//! A change is counted once its unit of work commits, so an event applied
//! again after its transaction rolled back is counted once.

use crate::domain::payment::{Method, PaymentStatus};

/// Gives the metrics their help text on `/metrics`.
pub fn describe() {
    metrics::describe_counter!("payments_total", "Payments entering each status.");
    metrics::describe_counter!(
        "payment_declines_total",
        "Payments the provider declined, by its reason."
    );
    metrics::describe_histogram!(
        "payment_captured_amount",
        "Each capture, in major units of its currency, by restaurant and method."
    );
    metrics::describe_histogram!(
        "payment_refund_amount",
        "Each refund, in major units of its currency, by restaurant and method."
    );
    metrics::describe_counter!(
        "payment_webhooks_total",
        "Providers' calls back, by outcome (signature_invalid counts failed verifications)."
    );
}

/// What one committed change of a payment counts.
#[derive(Debug, Clone)]
pub struct PaymentCounted {
    pub restaurant_id: i64,
    pub method: Method,
    pub status: PaymentStatus,
    pub decline_reason: Option<String>,
    /// Money taken (positive) or given back (negative), in minor units.
    pub moved_minor: i64,
    pub currency: String,
}

/// Counts a committed change of a payment.
pub fn payment_changed(counted: &PaymentCounted) {
    let method = counted.method.as_str();
    metrics::counter!("payments_total", "method" => method, "status" => counted.status.as_str())
        .increment(1);
    if let Some(reason) = &counted.decline_reason {
        metrics::counter!(
            "payment_declines_total",
            "method" => method,
            "reason" => reason_label(reason)
        )
        .increment(1);
    }
    if counted.moved_minor != 0 {
        let digits = foodmesh_shared::money::exponent(&counted.currency).unwrap_or(2);
        let major = counted.moved_minor.unsigned_abs() as f64
            / 10f64.powi(i32::try_from(digits).unwrap_or(2));
        let name = if counted.moved_minor > 0 {
            "payment_captured_amount"
        } else {
            "payment_refund_amount"
        };
        metrics::histogram!(
            name,
            "restaurant_id" => counted.restaurant_id.to_string(),
            "method" => method,
            "currency" => counted.currency.clone()
        )
        .record(major);
    }
}

/// The reasons a decline is counted under; a provider's own words beyond
/// them count as `other`, so no caller can grow the label's values.
const DECLINE_REASONS: [&str; 7] = [
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "customer_rejected",
    "timeout",
    "declined",
];

fn reason_label(reason: &str) -> &'static str {
    DECLINE_REASONS
        .into_iter()
        .find(|known| *known == reason)
        .unwrap_or("other")
}

/// Counts a provider's call back by `outcome`.
pub fn webhook(provider: &str, outcome: &'static str) {
    metrics::counter!(
        "payment_webhooks_total",
        "provider" => provider.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}
