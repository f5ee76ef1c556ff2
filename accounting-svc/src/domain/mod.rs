//! The rules of payments and the books. This layer knows neither SQL nor
//! gRPC: [`payment`] says what may happen to a payment and what money each
//! change moves; [`ledger`] turns that money into balanced postings;
//! [`invoice`] bills each order and follows its payment.

pub mod invoice;
pub mod ledger;
pub mod payment;

pub use foodmesh_shared::validate::Violations;

use foodmesh_shared::paging::{self, Paging};

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
    /// The order no longer waits for a payment (it was cancelled, or is
    /// past the point of paying).
    #[error("order {0} is not waiting for a payment")]
    OrderNotPayable(i64),
    /// No provider by this name calls back, or none is configured.
    #[error("no payment provider `{0}` takes calls back here")]
    UnknownProvider(String),
    /// A provider's call whose signature does not hold.
    #[error("{0}")]
    WebhookSignature(String),
    /// A provider's call already handled.
    #[error("event `{0}` was already handled")]
    WebhookReplayed(String),
    /// An idempotency key used before with another body.
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
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

/// A page of a listing, newest first: its size and where the previous
/// page ended. The page token is opaque to clients; it encodes the last id
/// of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    before_id: Option<i64>,
}

impl Page {
    /// The `a1.` prefix marks tokens of this service's own making.
    const PAGING: Paging = Paging {
        default_size: 20,
        max_size: foodmesh_shared::values::pages::INVOICES,
        token_prefix: "a1.",
    };

    /// # Errors
    /// `page_size` above the maximum, or a `page_token` this service did
    /// not issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, Violations> {
        let start = Self::PAGING.parse(page_size, page_token, paging::decode_id)?;
        Ok(Self {
            size: start.size,
            before_id: start.cursor,
        })
    }

    /// How many rows the page holds at most.
    pub fn size(self) -> u32 {
        self.size
    }

    /// Rows with smaller ids than this come next; `None` on the first page.
    pub fn before_id(self) -> Option<i64> {
        self.before_id
    }

    /// The token that asks for the rows after (older than) `last_id`.
    pub fn token_after(last_id: i64) -> String {
        Self::PAGING.token(paging::encode_id(last_id))
    }
}
