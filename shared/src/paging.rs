//! Cursor paging as every listing does it: a page size with a default and a
//! maximum, and a page token that is opaque to clients and names where the
//! previous page ended.
//!
//! A token starts with its listing's prefix (`r1.`, `o1.`), so a token from
//! another listing is refused rather than misread; what follows the prefix
//! — the cursor — is the listing's own (an id, a time and an id). Refusals
//! name `page_size` and `page_token`, the fields of
//! `foodmesh.common.v1.PageRequest`. Each service keeps its own `Page`
//! type: its sizes, its prefix and what its cursor holds are its choice.

use std::fmt;

use crate::validate::Violations;

/// How one listing pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// The size of a page when the request asks for none.
    pub default_size: u32,
    /// The largest page a request may ask for.
    pub max_size: u32,
    /// Marks tokens of this listing's own making.
    pub token_prefix: &'static str,
}

/// A page a request asked for, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStart<C> {
    /// How many rows the page holds at most.
    pub size: u32,
    /// Where the previous page ended; `None` for the first page.
    pub cursor: Option<C>,
}

impl Paging {
    /// The page a request asks for. An empty token is the first page; any
    /// other must carry this listing's prefix and a cursor `decode` reads.
    ///
    /// # Errors
    /// Violations naming `page_size` above the maximum and `page_token` not
    /// issued by this listing, both when both are wrong.
    pub fn parse<C>(
        &self,
        page_size: u32,
        page_token: &str,
        decode: impl FnOnce(&str) -> Option<C>,
    ) -> Result<PageStart<C>, Violations> {
        let mut v = Violations::default();
        let size = match page_size {
            0 => Some(self.default_size),
            n if n <= self.max_size => Some(n),
            _ => {
                v.add("page_size", format!("must be at most {}", self.max_size));
                None
            }
        };
        let cursor = match page_token {
            "" => Some(None),
            token => {
                let decoded = token.strip_prefix(self.token_prefix).and_then(decode);
                let decoded =
                    decoded.ok_or_else(|| "is not a page token issued by this listing".to_owned());
                v.check("page_token", decoded).map(Some)
            }
        };
        v.finish_with(|| {
            Some(PageStart {
                size: size?,
                cursor: cursor?,
            })
        })
    }

    /// The token that asks for the page after `cursor`, which `decode`
    /// must read back.
    pub fn token(&self, cursor: impl fmt::Display) -> String {
        format!("{}{cursor}", self.token_prefix)
    }
}

/// A positive row id as a cursor: lower-case hex, so tokens stay short.
pub fn encode_id(id: i64) -> String {
    format!("{id:x}")
}

/// Reads a cursor written by [`encode_id`]: 1 to 16 hex digits of a
/// positive id.
pub fn decode_id(hex: &str) -> Option<i64> {
    Some(hex)
        .filter(|hex| !hex.is_empty() && hex.len() <= 16)
        .filter(|hex| hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .and_then(|hex| i64::from_str_radix(hex, 16).ok())
        .filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGING: Paging = Paging {
        default_size: 20,
        max_size: 100,
        token_prefix: "t1.",
    };

    #[test]
    fn id_tokens_round_trip_and_strangers_are_refused() {
        let token = PAGING.token(encode_id(1234));
        assert_eq!(token, "t1.4d2");
        let page = PAGING.parse(0, &token, decode_id).expect("own token");
        assert_eq!(
            page,
            PageStart {
                size: 20,
                cursor: Some(1234)
            }
        );
        for bad in [
            "1234",
            "t1.",
            "t1.xyz",
            "t1.-5",
            "r1.10",
            "t1.ffffffffffffffffff",
        ] {
            assert!(PAGING.parse(10, bad, decode_id).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_empty_token_is_the_first_page() {
        let page = PAGING.parse(100, "", decode_id).expect("first page");
        assert_eq!(
            page,
            PageStart {
                size: 100,
                cursor: None
            }
        );
    }

    #[test]
    fn a_bad_size_and_a_bad_token_are_both_named() {
        let Err(v) = PAGING.parse(101, "nonsense", decode_id) else {
            panic!("expected violations");
        };
        assert_eq!(
            v.to_string(),
            "page_size: must be at most 100; \
             page_token: is not a page token issued by this listing"
        );
    }
}
