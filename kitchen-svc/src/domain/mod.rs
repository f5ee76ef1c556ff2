//! The rules of the kitchen's tickets. This layer knows neither SQL nor
//! gRPC: input arrives as plain values, is parsed into types that can only
//! hold valid data, and every refusal is a [`DomainError`].
//!
//! Write models ([`new_ticket::NewTicket`], [`ticket::StatusChange`]) are
//! built from parsed values; read models ([`ticket::Ticket`]) are plain
//! structs filled from what was stored, which was valid when written.

pub mod new_ticket;
pub mod queue;
pub mod ticket;

use std::fmt;

use chrono::{DateTime, Utc};
use foodmesh_shared::paging::Paging;
pub use foodmesh_shared::validate::{Name, Text, Violations};

use ticket::TicketStatus;

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// No ticket matches (or it belongs to another restaurant than the
    /// caller's).
    #[error("{0} not found")]
    TicketNotFound(TicketRef),
    /// The transition table does not allow this change.
    #[error("a {from} ticket cannot become {to}")]
    InvalidTransition {
        /// The ticket's status now.
        from: TicketStatus,
        /// The status asked for.
        to: TicketStatus,
    },
    /// The caller expected another status: someone moved the ticket first.
    #[error("the ticket is {actual}, not {expected} as expected")]
    StatusChanged {
        /// What the caller saw.
        expected: TicketStatus,
        /// What the ticket is now.
        actual: TicketStatus,
    },
    /// This instance is stopping; a long-lived call should be made again
    /// (it reaches another instance).
    #[error("the kitchen service is shutting down; call again")]
    ShuttingDown,
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);

/// How a request names a ticket, for "not found" messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketRef {
    /// By the ticket's own id.
    Id(i64),
    /// By the id of the order it was made for.
    Order(i64),
}

impl fmt::Display for TicketRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "ticket {id}"),
            Self::Order(id) => write!(f, "the ticket of order {id}"),
        }
    }
}

/// Both parsed values, or — when either failed — every violation of both,
/// so one reply names every bad field.
///
/// # Errors
/// The violations of both, or the first other error.
pub fn both<A, B>(
    a: Result<A, DomainError>,
    b: Result<B, DomainError>,
) -> Result<(A, B), DomainError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(DomainError::Invalid(mut first)), Err(DomainError::Invalid(second))) => {
            first.append(second);
            Err(DomainError::Invalid(first))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// A database id given in a request: positive.
///
/// # Errors
/// Zero or negative.
pub fn parse_id(raw: i64) -> Result<i64, String> {
    if raw <= 0 {
        return Err("must be a positive id".to_owned());
    }
    Ok(raw)
}

/// Where a page of a listing starts and how long it is. Listings are
/// ordered by `(created_at, id)`; the page token is opaque to clients and
/// encodes the last row of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    after: Option<(DateTime<Utc>, i64)>,
}

impl Page {
    /// The size of a page when the request asks for none: more than a busy
    /// kitchen's open queue, so a display gets it in one call.
    pub const DEFAULT_SIZE: u32 = 100;
    /// The largest page a request may ask for.
    pub const MAX_SIZE: u32 = foodmesh_shared::values::pages::TICKETS;
    /// The `k1.` prefix marks tokens of this service's own making, so a
    /// token from another listing is refused rather than misread.
    const PAGING: Paging = Paging {
        default_size: Self::DEFAULT_SIZE,
        max_size: Self::MAX_SIZE,
        token_prefix: "k1.",
    };

    /// # Errors
    /// [`DomainError::Invalid`] naming `page.page_size` above the maximum
    /// or a `page.page_token` this service did not issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let start = v.nested(
            "page",
            Self::PAGING.parse(page_size, page_token, decode_cursor),
        );
        v.finish(|| {
            let start = start?;
            Some(Self {
                size: start.size,
                after: start.cursor,
            })
        })
    }

    /// How many rows the page holds at most.
    pub fn size(self) -> u32 {
        self.size
    }

    /// Rows after this `(created_at, id)` come next; `None` for the first
    /// page.
    pub fn after(self) -> Option<(DateTime<Utc>, i64)> {
        self.after
    }

    /// The token that asks for the rows after `(created_at, id)`.
    pub fn token_after(created_at: DateTime<Utc>, id: i64) -> String {
        Self::PAGING.token(format_args!("{}.{id}", created_at.timestamp_micros()))
    }
}

/// Reads a cursor written by [`Page::token_after`]: `<micros>.<id>`.
fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, i64)> {
    cursor
        .split_once('.')
        .filter(|(micros, id)| {
            [micros, id]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
        .and_then(|(micros, id)| Some((micros.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
        .and_then(|(micros, id)| Some((DateTime::from_timestamp_micros(micros)?, id)))
        .filter(|(_, id)| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_may_be_empty_and_truncation_counts_characters() {
        assert!(Text::<3>::parse("").is_ok());
        assert!(Text::<3>::parse("abcd").is_err());
        assert_eq!(Text::<2>::truncated(" éèà ").as_str(), "éè");
    }

    #[test]
    fn ids_must_be_positive() {
        assert_eq!(parse_id(7), Ok(7));
        assert!(parse_id(0).is_err());
        assert!(parse_id(-3).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid time");
        let token = Page::token_after(at, 42);
        let page = Page::parse(0, &token).expect("own token");
        assert_eq!(page.size(), Page::DEFAULT_SIZE);
        assert_eq!(page.after(), Some((at, 42)));
        for bad in [
            "42", "k1.", "k1.12", "k1.12.", "k1.x.4", "k1.1.-4", "r1.1.2",
        ] {
            assert!(Page::parse(10, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_larger_than_the_maximum_names_its_field() {
        let Err(DomainError::Invalid(v)) = Page::parse(501, "nonsense") else {
            panic!("expected a violation");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page.page_size", "page.page_token"]);
    }
}
