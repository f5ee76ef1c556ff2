//! The rules of payments and the books. This layer knows neither SQL nor
//! gRPC: [`payment`] says what may happen to a payment and what money each
//! change moves; [`ledger`] turns that money into balanced postings.

pub mod ledger;
pub mod payment;

pub use foodmesh_shared::validate::Violations;

use payment::PaymentStatus;

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// The lifecycle does not allow this change from this status.
    #[error("a {from} payment cannot {change}")]
    InvalidTransition {
        from: PaymentStatus,
        change: &'static str,
    },
    /// The amount a client stated is not the order's total.
    #[error("the order's total is {total_minor} (minor units of {currency}), not {stated_minor}")]
    AmountMismatch {
        stated_minor: i64,
        total_minor: i64,
        currency: String,
    },
    /// The order already has a payment that is not declined or voided.
    #[error("order {0} is already paid or being paid")]
    AlreadyPaid(i64),
    /// No payment has this id.
    #[error("payment {0} not found")]
    PaymentNotFound(i64),
    /// A refund past what is left to refund.
    #[error(
        "{asked_minor} is more than the {refundable_minor} {currency} (minor units) left to refund"
    )]
    RefundTooLarge {
        asked_minor: i64,
        refundable_minor: i64,
        currency: String,
    },
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);
