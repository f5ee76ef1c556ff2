//! The rules of restaurants, menus, pricing and coupons. This layer knows
//! neither SQL nor gRPC: input arrives as plain values, is parsed into types
//! that can only hold valid data, and every refusal is a [`DomainError`].
//!
//! Write models (`RestaurantDetails`, `NewMenuItem`, ...) are built from
//! parsed newtypes; read models (`Restaurant`, `MenuItem`, ...) are plain
//! structs filled from what was stored, which was valid when written.

pub mod coupon;
pub mod menu;
pub mod pricing;
pub mod restaurant;

use foodmesh_shared::money::MAX_MINOR;
use foodmesh_shared::paging::{self, Paging};
pub use foodmesh_shared::validate::{Name, Text, Violations};

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    /// No live restaurant has this id (never created, or deleted).
    #[error("restaurant {0} not found")]
    RestaurantNotFound(i64),
    /// The restaurant exists but takes no orders now.
    #[error("restaurant {0} is not taking orders")]
    RestaurantInactive(i64),
    /// The restaurant has no category with this id.
    #[error("category {0} not found")]
    CategoryNotFound(i64),
    /// The restaurant has no menu item with this id.
    #[error("menu item {0} not found")]
    MenuItemNotFound(i64),
    /// The restaurant has no option group with this id.
    #[error("option group {0} not found")]
    OptionGroupNotFound(i64),
    /// One order line cannot be priced; `field` is the line's path.
    #[error("{field}: {problem}")]
    Line {
        /// Where in the request, e.g. `lines[2].menu_item_id`.
        field: String,
        problem: pricing::LineProblem,
    },
    /// The restaurant has no coupon with this code or id.
    #[error("coupon {0} not found")]
    CouponNotFound(String),
    /// Another coupon of the restaurant already has this code.
    #[error("coupon code {0} is already taken")]
    CouponCodeTaken(String),
    /// The coupon exists but may not be used for this order now.
    #[error("coupon {code} refused: {refusal}")]
    CouponRefused {
        code: String,
        /// Which rule refused it.
        refusal: coupon::Refusal,
    },
    /// The order already holds a redemption of a different coupon.
    #[error("order {0} already redeemed another coupon")]
    OrderAlreadyRedeemed(String),
    /// The order holds no redemption to release.
    #[error("no coupon redemption for order {0}")]
    RedemptionNotFound(String),
    /// The instance is shutting down, so a live stream ends: the client
    /// should call again, which reaches another instance.
    #[error("restaurant-svc is shutting down; call again")]
    ShuttingDown,
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);

/// A whole number from 0 to `MAX` (minutes, basis points).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpTo<const MAX: u32>(u32);

impl<const MAX: u32> UpTo<MAX> {
    /// # Errors
    /// Larger than `MAX`.
    pub fn parse(raw: u32) -> Result<Self, String> {
        if raw > MAX {
            return Err(format!("must be at most {MAX}"));
        }
        Ok(Self(raw))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A non-negative amount of money in minor units, no larger than the
/// platform stores ([`MAX_MINOR`]): prices, fees, minimum orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(i64);

impl Amount {
    /// # Errors
    /// Negative, or above [`MAX_MINOR`].
    pub fn parse(minor: i64) -> Result<Self, String> {
        if !(0..=MAX_MINOR).contains(&minor) {
            return Err(format!("must be between 0 and {MAX_MINOR} minor units"));
        }
        Ok(Self(minor))
    }

    /// The amount in minor units.
    pub fn minor(self) -> i64 {
        self.0
    }
}

/// Where a page of a listing starts and how long it is. The page token is
/// opaque to clients; it encodes the last id of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    after_id: i64,
}

impl Page {
    /// The size of a page when the request asks for none.
    pub const DEFAULT_SIZE: u32 = 20;
    /// The largest page a request may ask for.
    pub const MAX_SIZE: u32 = foodmesh_shared::values::pages::RESTAURANTS;
    /// The `r1.` prefix marks tokens of this service's own making, so a
    /// token from another listing is refused rather than misread.
    const PAGING: Paging = Paging {
        default_size: Self::DEFAULT_SIZE,
        max_size: Self::MAX_SIZE,
        token_prefix: "r1.",
    };

    /// # Errors
    /// `page_size` above the maximum, or a `page_token` this service did not
    /// issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, DomainError> {
        let start = Self::PAGING
            .parse(page_size, page_token, paging::decode_id)
            .map_err(DomainError::Invalid)?;
        Ok(Self {
            size: start.size,
            after_id: start.cursor.unwrap_or(0),
        })
    }

    /// How many rows the page holds at most.
    pub fn size(self) -> u32 {
        self.size
    }

    /// Rows with larger ids than this come next.
    pub fn after_id(self) -> i64 {
        self.after_id
    }

    /// The token that asks for the rows after `last_id`.
    pub fn token_after(last_id: i64) -> String {
        Self::PAGING.token(paging::encode_id(last_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_may_be_empty_but_not_too_long() {
        assert!(Text::<3>::parse("").is_ok());
        assert!(Text::<3>::parse("abcd").is_err());
    }

    #[test]
    fn amounts_are_between_zero_and_the_platform_maximum() {
        assert_eq!(Amount::parse(0).map(Amount::minor), Ok(0));
        assert!(Amount::parse(MAX_MINOR).is_ok());
        assert!(Amount::parse(-1).is_err());
        assert!(Amount::parse(MAX_MINOR + 1).is_err());
    }

    #[test]
    fn page_tokens_round_trip_and_strangers_are_refused() {
        let token = Page::token_after(1234);
        let page = Page::parse(0, &token).expect("own token");
        assert_eq!((page.size(), page.after_id()), (Page::DEFAULT_SIZE, 1234));
        for bad in ["1234", "r1.", "r1.xyz", "r1.-5", "r1.ffffffffffffffffff"] {
            assert!(Page::parse(10, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_page_larger_than_the_maximum_names_page_size() {
        let Err(DomainError::Invalid(v)) = Page::parse(101, "nonsense") else {
            panic!("expected a violation");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }

    #[test]
    fn nested_violations_are_prefixed() {
        let mut inner = Violations::default();
        inner.add("zip_code", "too long");
        let mut outer = Violations::default();
        assert_eq!(outer.nested::<()>("address", Err(inner)), None);
        assert_eq!(outer.to_string(), "address.zip_code: too long");
    }
}
