//! The rules of notifications. This layer knows neither SQL, Redis nor
//! gRPC: [`channel`] names the ways a message travels and what it is
//! about, [`step`] the steps of an order a customer hears of,
//! [`template`] checks and fills templates, [`preference`] decides
//! who hears of what on which channel, [`message`] holds a message's
//! lifecycle and its retry schedule, [`bulk`] a send to many.

pub mod bulk;
pub mod channel;
pub mod message;
pub mod preference;
pub mod step;
pub mod template;

pub use foodmesh_shared::validate::Violations;

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("template {0} not found")]
    TemplateNotFound(i64),
    /// No template for this kind on this channel, or it is switched off.
    #[error("no active template {kind} for {channel}")]
    NoTemplate { kind: String, channel: String },
    /// Another template already has this kind and channel.
    #[error("a template for {kind} on {channel} exists")]
    TemplateTaken { kind: String, channel: String },
    #[error("bulk send {0} not found")]
    BulkNotFound(i64),
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);

/// A page of a listing, newest first: its size and the id where the
/// previous page ended. The page token is opaque to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    cursor: Option<i64>,
}

impl Page {
    /// The `n1.` prefix marks tokens of this service's own making.
    const PAGING: foodmesh_shared::paging::Paging = foodmesh_shared::paging::Paging {
        default_size: 20,
        max_size: 100,
        token_prefix: "n1.",
    };

    /// # Errors
    /// `page_size` above the maximum, or a `page_token` this service did
    /// not issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, Violations> {
        let start =
            Self::PAGING.parse(page_size, page_token, foodmesh_shared::paging::decode_id)?;
        Ok(Self {
            size: start.size,
            cursor: start.cursor,
        })
    }

    pub fn size(self) -> u32 {
        self.size
    }

    /// The last id of the previous page; `None` on the first page.
    pub fn cursor(self) -> Option<i64> {
        self.cursor
    }

    /// The token of the page after `last_id`, when `found` filled this one.
    pub fn next(self, found: usize, last_id: Option<i64>) -> Option<String> {
        (found == self.size as usize)
            .then_some(last_id)
            .flatten()
            .map(|id| Self::PAGING.token(foodmesh_shared::paging::encode_id(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_token_is_this_listing_s_own_and_another_s_is_refused() {
        let first = Page::parse(2, "").expect("the first page");
        let token = first.next(2, Some(42)).expect("a full page has a next");
        let next = Page::parse(2, &token).expect("its own token");
        assert_eq!(next.cursor(), Some(42));
        // delivery-svc's listing writes `v1.` tokens.
        assert!(Page::parse(2, "v1.2a").is_err());
        assert_eq!(first.next(1, Some(42)), None, "a short page is the last");
    }
}
