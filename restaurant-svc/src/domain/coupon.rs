//! Coupons and their redemptions: which orders may take a discount, and how
//! much. The store runs [`Coupon::redeem`] inside the transaction that holds
//! the coupon's row lock, so the counts it is given cannot change before the
//! redemption is written.

use std::fmt;

use chrono::{DateTime, Utc};
use foodmesh_shared::values::limits;

pub use foodmesh_shared::values::CouponCode;

use super::{Amount, DomainError, Name, Text};

/// A coupon as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupon {
    pub id: i64,
    pub restaurant_id: i64,
    /// Upper case.
    pub code: String,
    /// Free text.
    pub description: String,
    pub discount: Discount,
    /// Usable from this time.
    pub valid_from: DateTime<Utc>,
    /// Usable until this time, if it ends.
    pub valid_until: Option<DateTime<Utc>>,
    /// The smallest subtotal it applies to, in minor units.
    pub min_order_minor: i64,
    /// The restaurant's currency, of the minimum order and a fixed discount.
    pub currency: String,
    /// Redemptions held at once; 0 means unlimited.
    pub max_redemptions: u32,
    /// Redemptions one customer holds at once; 0 means unlimited.
    pub max_per_customer: u32,
    /// Only the first N distinct customers may use it; 0 means anyone.
    pub first_n_customers: u32,
    /// Redemptions held now (released ones excluded).
    pub redemptions: u32,
    /// Whether it may be used at all.
    pub active: bool,
}

/// Whether a coupon takes a share or an amount off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    /// Basis points of the subtotal.
    Percent,
    /// Minor units of the restaurant's currency.
    Fixed,
}

/// How much a coupon takes off: 1..=10000 basis points, or a positive
/// amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Discount {
    kind: DiscountKind,
    value: i64,
}

impl Discount {
    /// # Errors
    /// A percentage outside 0.01%..=100%, or an amount that is not positive.
    pub fn parse(kind: DiscountKind, value: i64) -> Result<Self, String> {
        let fits = match kind {
            DiscountKind::Percent => (1..=10_000).contains(&value),
            DiscountKind::Fixed => value > 0 && Amount::parse(value).is_ok(),
        };
        if !fits {
            return Err(match kind {
                DiscountKind::Percent => "must be 1 to 10000 basis points".to_owned(),
                DiscountKind::Fixed => "must be a positive amount in minor units".to_owned(),
            });
        }
        Ok(Self { kind, value })
    }

    pub fn kind(self) -> DiscountKind {
        self.kind
    }

    /// Basis points or minor units, by kind.
    pub fn value(self) -> i64 {
        self.value
    }

    /// The discount on `subtotal`: a percentage rounded down to the minor
    /// unit, or the fixed amount; never more than the subtotal.
    pub fn apply(self, subtotal: Amount) -> i64 {
        let subtotal = subtotal.minor();
        let off = match self.kind {
            // Both factors are bounded (10^13 × 10^4), so this cannot overflow.
            DiscountKind::Percent => subtotal.saturating_mul(self.value) / 10_000,
            DiscountKind::Fixed => self.value,
        };
        off.min(subtotal)
    }
}

/// When a coupon may be used: from `from`, until `until` if it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidityWindow {
    from: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
}

impl ValidityWindow {
    /// # Errors
    /// An end at or before the start (the `valid_until` field's fault).
    pub fn parse(from: DateTime<Utc>, until: Option<DateTime<Utc>>) -> Result<Self, String> {
        if until.is_some_and(|until| until <= from) {
            return Err("must be after valid_from".to_owned());
        }
        Ok(Self { from, until })
    }

    pub fn starts(self) -> DateTime<Utc> {
        self.from
    }

    pub fn ends(self) -> Option<DateTime<Utc>> {
        self.until
    }
}

/// A new coupon, each part valid.
#[derive(Debug, Clone)]
pub struct NewCoupon {
    pub code: CouponCode,
    /// Free text.
    pub description: Text<{ limits::COUPON_DESCRIPTION }>,
    pub discount: Discount,
    pub window: ValidityWindow,
    /// The smallest subtotal it applies to.
    pub min_order: Amount,
    /// 0 means unlimited.
    pub max_redemptions: u32,
    /// 0 means unlimited.
    pub max_per_customer: u32,
    /// 0 means anyone.
    pub first_n_customers: u32,
}

/// The parts of a coupon an update changes.
#[derive(Debug, Clone, Default)]
pub struct CouponPatch {
    /// Switches it on or off.
    pub active: Option<bool>,
    pub description: Option<Text<{ limits::COUPON_DESCRIPTION }>>,
    /// A new end (`Some(Some)`), no end any more (`Some(None)`), or
    /// unchanged.
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// New overall limit; 0 means unlimited.
    pub max_redemptions: Option<u32>,
}

impl CouponPatch {
    /// The validity window after this update, given the stored coupon.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `valid_until` when it would end
    /// before it starts.
    pub fn window(&self, stored: &Coupon) -> Result<ValidityWindow, DomainError> {
        ValidityWindow::parse(
            stored.valid_from,
            self.valid_until.unwrap_or(stored.valid_until),
        )
        .map_err(|why| DomainError::invalid("valid_until", why))
    }
}

/// A request to take one redemption of a coupon for an order.
#[derive(Debug, Clone)]
pub struct RedeemRequest {
    pub code: CouponCode,
    /// The order; one redemption per order.
    pub order_ref: Name<100>,
    /// Who redeems: a customer id or a guest's phone number.
    pub customer_ref: Name<100>,
    /// The subtotal the discount applies to.
    pub subtotal: Amount,
}

/// How a coupon is used now, counted under its row lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Redemptions not released.
    pub held: i64,
    /// Redemptions not released by this customer.
    pub held_by_customer: i64,
    /// Distinct customers who ever redeemed, released or not.
    pub customers: i64,
    /// Whether this customer is among them.
    pub customer_seen: bool,
}

impl Usage {
    /// The usage as seen before anyone is named: only the coupon-wide count
    /// is judged, and the rules about one customer pass, left to the
    /// redemption that knows who redeems.
    pub fn anyone(held: i64) -> Self {
        Self {
            held,
            held_by_customer: 0,
            customers: 0,
            customer_seen: true,
        }
    }
}

/// Why a coupon may not be used now; each has a stable reason for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Switched off.
    Inactive,
    /// Its window has not started.
    NotYetValid,
    /// Its window has ended.
    Expired,
    /// The subtotal is below its minimum order.
    MinOrderNotMet,
    /// Every redemption is held.
    Exhausted,
    /// This customer holds as many as allowed.
    CustomerLimit,
    /// Its first N customers have all come; this one is not among them.
    FirstCustomersTaken,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Inactive => "the coupon is not active",
            Self::NotYetValid => "the coupon is not valid yet",
            Self::Expired => "the coupon has expired",
            Self::MinOrderNotMet => "the order is below the coupon's minimum",
            Self::Exhausted => "the coupon has been used up",
            Self::CustomerLimit => "the customer has used the coupon as often as allowed",
            Self::FirstCustomersTaken => "the coupon was only for its first customers",
        })
    }
}

impl Coupon {
    /// The discount one more redemption gives, if every rule allows it.
    ///
    /// # Errors
    /// [`DomainError::CouponRefused`] with the first rule that refuses.
    pub fn redeem(
        &self,
        now: DateTime<Utc>,
        subtotal: Amount,
        usage: Usage,
    ) -> Result<i64, DomainError> {
        let limit = |max: u32| i64::from(max);
        let refusal = if !self.active {
            Some(Refusal::Inactive)
        } else if now < self.valid_from {
            Some(Refusal::NotYetValid)
        } else if self.valid_until.is_some_and(|until| now >= until) {
            Some(Refusal::Expired)
        } else if subtotal.minor() < self.min_order_minor {
            Some(Refusal::MinOrderNotMet)
        } else if self.max_redemptions > 0 && usage.held >= limit(self.max_redemptions) {
            Some(Refusal::Exhausted)
        } else if self.max_per_customer > 0
            && usage.held_by_customer >= limit(self.max_per_customer)
        {
            Some(Refusal::CustomerLimit)
        } else if self.first_n_customers > 0
            && !usage.customer_seen
            && usage.customers >= limit(self.first_n_customers)
        {
            Some(Refusal::FirstCustomersTaken)
        } else {
            None
        };
        match refusal {
            Some(refusal) => Err(DomainError::CouponRefused {
                code: self.code.clone(),
                refusal,
            }),
            None => Ok(self.discount.apply(subtotal)),
        }
    }
}

/// One order's use of a coupon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    pub id: i64,
    pub coupon_id: i64,
    pub code: String,
    /// The order it is for.
    pub order_ref: String,
    /// Who redeemed.
    pub customer_ref: String,
    /// The discount taken, in minor units.
    pub discount_minor: i64,
    /// The restaurant's currency.
    pub currency: String,
    /// Whether the order gave it back.
    pub released: bool,
    pub redeemed_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn amount(minor: i64) -> Amount {
        Amount::parse(minor).expect("amount")
    }

    fn coupon() -> Coupon {
        Coupon {
            id: 1,
            restaurant_id: 1,
            code: "SAVE10".to_owned(),
            description: String::new(),
            discount: Discount::parse(DiscountKind::Percent, 1000).expect("discount"),
            valid_from: DateTime::UNIX_EPOCH,
            valid_until: None,
            min_order_minor: 0,
            currency: "USD".to_owned(),
            max_redemptions: 0,
            max_per_customer: 0,
            first_n_customers: 0,
            redemptions: 0,
            active: true,
        }
    }

    fn refusal(coupon: &Coupon, now: DateTime<Utc>, subtotal: i64, usage: Usage) -> Refusal {
        match coupon.redeem(now, amount(subtotal), usage) {
            Err(DomainError::CouponRefused { refusal, .. }) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn discounts_are_bounded_by_kind() {
        assert!(Discount::parse(DiscountKind::Percent, 10_000).is_ok());
        assert!(Discount::parse(DiscountKind::Percent, 0).is_err());
        assert!(Discount::parse(DiscountKind::Percent, 10_001).is_err());
        assert!(Discount::parse(DiscountKind::Fixed, 1).is_ok());
        assert!(Discount::parse(DiscountKind::Fixed, 0).is_err());
    }

    #[test]
    fn a_percent_discount_rounds_down_and_a_fixed_one_stops_at_the_subtotal() {
        let percent = Discount::parse(DiscountKind::Percent, 1250).expect("12.5%");
        assert_eq!(percent.apply(amount(999)), 124);
        let whole = Discount::parse(DiscountKind::Percent, 10_000).expect("100%");
        assert_eq!(whole.apply(amount(999)), 999);
        let fixed = Discount::parse(DiscountKind::Fixed, 500).expect("5.00");
        assert_eq!(fixed.apply(amount(2000)), 500);
        assert_eq!(fixed.apply(amount(300)), 300);
    }

    #[test]
    fn a_window_must_end_after_it_starts() {
        let now = Utc::now();
        assert!(ValidityWindow::parse(now, None).is_ok());
        assert!(ValidityWindow::parse(now, Some(now + Duration::hours(1))).is_ok());
        assert!(ValidityWindow::parse(now, Some(now)).is_err());
    }

    #[test]
    fn a_coupon_is_refused_outside_its_window_or_when_inactive() {
        let now = Utc::now();
        let mut c = coupon();
        c.valid_from = now + Duration::hours(1);
        assert_eq!(
            refusal(&c, now, 100, Usage::default()),
            Refusal::NotYetValid
        );
        c.valid_from = now - Duration::hours(2);
        c.valid_until = Some(now - Duration::hours(1));
        assert_eq!(refusal(&c, now, 100, Usage::default()), Refusal::Expired);
        c.valid_until = None;
        c.active = false;
        assert_eq!(refusal(&c, now, 100, Usage::default()), Refusal::Inactive);
    }

    #[test]
    fn a_coupon_is_refused_below_its_minimum_order() {
        let mut c = coupon();
        c.min_order_minor = 1500;
        assert_eq!(
            refusal(&c, Utc::now(), 1499, Usage::default()),
            Refusal::MinOrderNotMet
        );
        assert_eq!(
            c.redeem(Utc::now(), amount(1500), Usage::default()).ok(),
            Some(150)
        );
    }

    #[test]
    fn limits_count_only_held_redemptions() {
        let mut c = coupon();
        c.max_redemptions = 2;
        c.max_per_customer = 1;
        let held = |held, by_customer| Usage {
            held,
            held_by_customer: by_customer,
            ..Usage::default()
        };
        assert_eq!(refusal(&c, Utc::now(), 100, held(2, 0)), Refusal::Exhausted);
        assert_eq!(
            refusal(&c, Utc::now(), 100, held(1, 1)),
            Refusal::CustomerLimit
        );
        assert!(c.redeem(Utc::now(), amount(100), held(1, 0)).is_ok());
    }

    #[test]
    fn only_the_first_n_customers_may_redeem_and_they_may_return() {
        let mut c = coupon();
        c.first_n_customers = 2;
        let full = |seen| Usage {
            customers: 2,
            customer_seen: seen,
            ..Usage::default()
        };
        assert_eq!(
            refusal(&c, Utc::now(), 100, full(false)),
            Refusal::FirstCustomersTaken
        );
        assert!(c.redeem(Utc::now(), amount(100), full(true)).is_ok());
    }
}
