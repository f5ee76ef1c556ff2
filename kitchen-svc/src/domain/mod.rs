//! The rules of the kitchen's tickets. This layer knows neither SQL nor
//! gRPC: input arrives as plain values, is parsed into types that can only
//! hold valid data, and every refusal is a [`DomainError`].
//!
//! Write models ([`ticket::NewTicket`], [`ticket::StatusChange`]) are built
//! from parsed values; read models ([`ticket::Ticket`]) are plain structs
//! filled from what was stored, which was valid when written.

pub mod queue;
pub mod ticket;

use std::fmt;

use chrono::{DateTime, Utc};

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

impl DomainError {
    /// One bad field, for rules checked outside a parser.
    pub fn invalid(field: impl fmt::Display, description: impl Into<String>) -> Self {
        let mut violations = Violations::default();
        violations.add(field, description);
        Self::Invalid(violations)
    }
}

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

/// One field that broke a rule, named by its path in the request
/// (`items[2].quantity`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path, relative to the request's input fields.
    pub field: String,
    /// What is wrong, readable by whoever typed it.
    pub description: String,
}

/// The violations found while parsing one request, collected so the reply
/// names every bad field at once rather than one per attempt.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records that `field` breaks a rule.
    pub fn add(&mut self, field: impl fmt::Display, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_string(),
            description: description.into(),
        });
    }

    /// Keeps a parsed value, or records why `field` did not parse.
    pub fn check<T>(&mut self, field: impl fmt::Display, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|why| self.add(field, why)).ok()
    }

    /// Keeps a parsed composite value, or records its violations (which
    /// carry their full paths).
    pub fn merge<T>(&mut self, parsed: Result<T, Violations>) -> Option<T> {
        parsed.map_err(|inner| self.0.extend(inner.0)).ok()
    }

    /// True when nothing was wrong.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The violations, for the gRPC layer's field list.
    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// The value `build` assembles from the parsed parts when nothing was
    /// wrong. `build` returns `None` only when a part failed to parse, which
    /// recorded a violation.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] with every violation recorded.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, DomainError> {
        if !self.is_empty() {
            return Err(DomainError::Invalid(self));
        }
        build().ok_or(DomainError::Invalid(self))
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

/// A name: trimmed, 1 to `MAX` characters, on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<const MAX: usize>(String);

impl<const MAX: usize> Name<MAX> {
    /// # Errors
    /// Empty after trimming, longer than `MAX`, or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if text.chars().any(char::is_control) {
            return Err("must be a single line of text".to_owned());
        }
        check_length(text, MAX)?;
        Ok(Self(text.to_owned()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text (instructions, notes, reasons): trimmed, at most `MAX`
/// characters, possibly empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// # Errors
    /// Longer than `MAX` characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        check_length(text, MAX)?;
        Ok(Self(text.to_owned()))
    }

    /// The text cut to `MAX` characters: for text another service already
    /// accepted, which the kitchen must not refuse over its length.
    pub fn truncated(raw: &str) -> Self {
        Self(raw.trim().chars().take(MAX).collect())
    }

    /// The text as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when there is no text.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn check_length(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
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
            first.0.extend(second.0);
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
    pub const MAX_SIZE: u32 = 500;

    /// # Errors
    /// [`DomainError::Invalid`] naming `page.page_size` above the maximum
    /// or a `page.page_token` this service did not issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let size = match page_size {
            0 => Some(Self::DEFAULT_SIZE),
            n if n <= Self::MAX_SIZE => Some(n),
            _ => {
                v.add(
                    "page.page_size",
                    format!("must be at most {}", Self::MAX_SIZE),
                );
                None
            }
        };
        let after = match page_token {
            "" => Some(None),
            token => v.check("page.page_token", decode_token(token)).map(Some),
        };
        v.finish(|| {
            Some(Self {
                size: size?,
                after: after?,
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
        format!("{TOKEN_PREFIX}{}.{id}", created_at.timestamp_micros())
    }
}

/// Marks tokens of this service's own making, so a token from another
/// listing is refused rather than misread.
const TOKEN_PREFIX: &str = "k1.";

fn decode_token(token: &str) -> Result<(DateTime<Utc>, i64), String> {
    token
        .strip_prefix(TOKEN_PREFIX)
        .and_then(|rest| rest.split_once('.'))
        .filter(|(micros, id)| {
            [micros, id]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
        .and_then(|(micros, id)| Some((micros.parse::<i64>().ok()?, id.parse::<i64>().ok()?)))
        .and_then(|(micros, id)| Some((DateTime::from_timestamp_micros(micros)?, id)))
        .filter(|(_, id)| *id > 0)
        .ok_or_else(|| "is not a page token issued by this listing".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::<5>::parse("  Pizza ").map(|n| n.0),
            Ok("Pizza".to_owned())
        );
        assert!(Name::<5>::parse("   ").is_err());
        assert!(Name::<5>::parse("Pizzas").is_err());
        assert!(Name::<20>::parse("two\nlines").is_err());
    }

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
