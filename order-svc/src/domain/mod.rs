//! The rules of orders and customers. This layer knows neither SQL nor
//! gRPC: input arrives as plain values, is parsed into types that can only
//! hold valid data, and every refusal is a [`DomainError`].
//!
//! Write models (`NewOrder`, `LineInput`, `CustomerPatch`, ...) are built
//! from parsed newtypes; read models (`Order`, `Customer`, ...) are plain
//! structs filled from what was stored, which was valid when written.

pub mod customer;
pub mod lifecycle;
pub mod number;
pub mod order;
pub mod placing;
pub mod pricing;
pub mod totals;

use chrono::{DateTime, Utc};
use foodmesh_shared::paging::{self, Paging};
pub use foodmesh_shared::validate::{Name, Phone, Text, Violations};
pub use foodmesh_shared::values::{
    Address, Coordinates, CouponCode, Email, IdempotencyKey, Location, PostalAddress,
};

use self::order::OrderStatus;

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// No live restaurant has this id.
    #[error("restaurant {0} not found")]
    RestaurantNotFound(i64),
    /// restaurant-svc refused part of the order (an item off the menu, a
    /// coupon past its date); its reason and fields are kept.
    #[error("{message}")]
    RestaurantRefused {
        /// True when the input itself is wrong (an unknown item); false
        /// when it is a state that may change (an item sold out).
        bad_input: bool,
        /// restaurant-svc's reason, e.g. `ITEM_UNAVAILABLE`.
        reason: String,
        /// restaurant-svc's message.
        message: String,
        /// The fields at fault, renamed to this service's request paths.
        violations: Violations,
    },
    /// A client-stated unit price differs from the menu's.
    #[error("{field}: the menu price is {menu_minor}, not {stated_minor}")]
    PriceMismatch {
        /// The line's field, e.g. `items[0].stated_unit_price_minor`.
        field: String,
        /// What the client said.
        stated_minor: i64,
        /// What the menu says.
        menu_minor: i64,
    },
    /// The restaurant's currency is no longer the one the order was placed
    /// in, so its lines cannot be priced again.
    #[error("the restaurant's currency changed since the order was placed")]
    CurrencyChanged,
    /// The order's totals do not fit the platform's amounts.
    #[error("the order's total is too large")]
    TotalTooLarge,
    /// The idempotency key was used before for a different request.
    #[error("idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// No order has this id (or number).
    #[error("order {0} not found")]
    OrderNotFound(String),
    /// The order has no line with this id.
    #[error("order line {0} not found")]
    LineNotFound(i64),
    /// No customer profile has this id.
    #[error("customer {0} not found")]
    CustomerNotFound(i64),
    /// Another profile of the same kind already has this phone.
    #[error("phone {0} belongs to another customer")]
    PhoneTaken(String),
    /// The transition table does not allow this change for this actor.
    #[error("an order cannot go from {from} to {to} by {actor}")]
    InvalidTransition {
        /// Where the order is.
        from: OrderStatus,
        /// Where the caller asked it to go.
        to: OrderStatus,
        /// Who asked.
        actor: order::ActorKind,
    },
    /// The customer's cancellation window closed after confirmation.
    #[error("the cancellation window of {window_seconds} s has passed")]
    CancelWindowClosed { window_seconds: u64 },
    /// Items change only while the order is PENDING.
    #[error("the order's items cannot change once it is {0}")]
    NotEditable(OrderStatus),
    /// The order already holds the most lines it may.
    #[error("an order holds at most {0} lines")]
    LineLimit(usize),
    /// The last line cannot be removed; the order would be empty.
    #[error("an order keeps at least one line; cancel it instead")]
    LastLine,
    /// A concurrent request got there first (the order changed under an
    /// edit, a coupon changed under its redemption); retrying helps.
    #[error("a concurrent request got there first; retry")]
    Concurrent,
    /// Another request holds the idempotency key and has not finished;
    /// a retry after `retry_after` finds its order, or the key free.
    #[error("a request with this idempotency key is still in progress; retry")]
    KeyInProgress { retry_after: std::time::Duration },
    /// The caller holds no right to what it asked for (a wrong access
    /// token, someone else's order); says what was denied.
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// A peer service cannot be reached; retrying later may succeed.
    #[error("{0} is unavailable")]
    Unavailable(String),
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);

/// A time window of a listing: created at or after `from`, before `to`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DateRange {
    /// Inclusive start.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive end.
    pub to: Option<DateTime<Utc>>,
}

impl DateRange {
    /// # Errors
    /// An end at or before the start (the `created_to` field's fault).
    pub fn parse(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Result<Self, String> {
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err("must be after created_from".to_owned());
        }
        Ok(Self { from, to })
    }
}

/// Where a page of a newest-first listing starts and how long it is. The
/// page token is opaque to clients; it encodes the last id of the previous
/// page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    before_id: Option<i64>,
}

impl Page {
    /// The size of a page when the request asks for none.
    pub const DEFAULT_SIZE: u32 = 20;
    /// The largest page a request may ask for.
    pub const MAX_SIZE: u32 = foodmesh_shared::values::pages::ORDERS;
    /// The `o1.` prefix marks tokens of this service's own making, so a
    /// token from another listing is refused rather than misread.
    const PAGING: Paging = Paging {
        default_size: Self::DEFAULT_SIZE,
        max_size: Self::MAX_SIZE,
        token_prefix: "o1.",
    };

    /// # Errors
    /// `page_size` above the maximum, or a `page_token` this service did not
    /// issue.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        let token = Page::token_after(1234);
        let page = Page::parse(0, &token).expect("own token");
        assert_eq!(
            (page.size(), page.before_id()),
            (Page::DEFAULT_SIZE, Some(1234))
        );
        for bad in ["1234", "o1.", "o1.xyz", "r1.10", "o1.ffffffffffffffffff"] {
            assert!(Page::parse(10, bad).is_err(), "{bad}");
        }
        let Err(v) = Page::parse(101, "nonsense") else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }

    #[test]
    fn date_ranges_must_end_after_they_start() {
        let now = Utc::now();
        assert!(DateRange::parse(Some(now), Some(now)).is_err());
        assert!(DateRange::parse(Some(now), None).is_ok());
    }
}
