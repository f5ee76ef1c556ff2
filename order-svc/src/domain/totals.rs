//! An order's figures: subtotal, coupon discount, delivery fee, tax and
//! total, in integer minor units with checked arithmetic, so no amount is
//! ever rounded by accident or wraps around.

use foodmesh_shared::money::MAX_MINOR;

use super::DomainError;

/// The figures of an order, in minor units of its currency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Sum of line totals.
    pub subtotal_minor: i64,
    /// The coupon's discount, at most the subtotal.
    pub discount_minor: i64,
    /// Delivery orders only.
    pub delivery_fee_minor: i64,
    /// (subtotal − discount) × tax rate, rounded half up.
    pub tax_minor: i64,
    /// subtotal − discount + delivery fee + tax.
    pub total_minor: i64,
}

impl Totals {
    /// Computes the figures. The discount is capped at the subtotal; the
    /// delivery fee is not taxed.
    ///
    /// # Errors
    /// [`DomainError::TotalTooLarge`] when an amount is negative or a
    /// figure leaves the range the platform stores.
    pub fn compute(
        subtotal_minor: i64,
        discount_minor: i64,
        delivery_fee_minor: i64,
        tax_rate_ppm: u32,
    ) -> Result<Self, DomainError> {
        let in_range = |amount: i64| (0..=MAX_MINOR).contains(&amount);
        if !in_range(subtotal_minor) || !in_range(discount_minor) || !in_range(delivery_fee_minor) {
            return Err(DomainError::TotalTooLarge);
        }
        let discount_minor = discount_minor.min(subtotal_minor);
        let taxable = subtotal_minor
            .checked_sub(discount_minor)
            .ok_or(DomainError::TotalTooLarge)?;
        let tax_minor = tax(taxable, tax_rate_ppm).ok_or(DomainError::TotalTooLarge)?;
        let total_minor = taxable
            .checked_add(delivery_fee_minor)
            .and_then(|t| t.checked_add(tax_minor))
            .filter(|t| in_range(*t))
            .ok_or(DomainError::TotalTooLarge)?;
        Ok(Self {
            subtotal_minor,
            discount_minor,
            delivery_fee_minor,
            tax_minor,
            total_minor,
        })
    }
}

/// `base × ppm / 1,000,000`, rounded half up (to the nearest minor unit, a half
/// going up); `None` when it does not fit.
pub fn tax(base_minor: i64, tax_rate_ppm: u32) -> Option<i64> {
    if base_minor < 0 {
        return None;
    }
    let scaled = i128::from(base_minor).checked_mul(i128::from(tax_rate_ppm))?;
    let rounded = scaled.checked_add(500_000)? / 1_000_000;
    i64::try_from(rounded).ok()
}

/// Whether a coupon takes a share or an amount off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscountKind {
    /// Basis points of the subtotal.
    Percent,
    /// Minor units of the restaurant's currency.
    Fixed,
}

impl DiscountKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DiscountKind::Percent => "percent",
            DiscountKind::Fixed => "fixed",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "percent" => Some(DiscountKind::Percent),
            "fixed" => Some(DiscountKind::Fixed),
            _ => None,
        }
    }
}

/// A coupon's terms as the restaurant stated them when it was redeemed,
/// kept with the order so the discount can follow the subtotal when items
/// change while the order is PENDING.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CouponTerms {
    pub kind: DiscountKind,
    /// Basis points or minor units, by kind.
    pub value: i64,
    /// Below this subtotal the coupon takes nothing off.
    pub min_order_minor: i64,
}

impl CouponTerms {
    /// The discount on `subtotal_minor`: the restaurant's own rule (a
    /// percentage rounded down, or the fixed amount, never more than the
    /// subtotal), and nothing while the subtotal is under the minimum order.
    pub fn discount(self, subtotal_minor: i64) -> i64 {
        if subtotal_minor <= 0 || subtotal_minor < self.min_order_minor {
            return 0;
        }
        let off = match self.kind {
            DiscountKind::Percent => {
                let scaled = i128::from(subtotal_minor) * i128::from(self.value.max(0)) / 10_000;
                i64::try_from(scaled).unwrap_or(i64::MAX)
            }
            DiscountKind::Fixed => self.value.max(0),
        };
        off.min(subtotal_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_order_totals_add_up() {
        // Two at 12.99, delivery 2.99, tax 8.88% of 25.98 = 2.307... → 2.31.
        let t = Totals::compute(2598, 0, 299, 88_800).expect("fits");
        assert_eq!(t.tax_minor, 231);
        assert_eq!(t.total_minor, 2598 + 299 + 231);
    }

    #[test]
    fn tax_is_on_the_discounted_subtotal_and_rounds_half_up() {
        // 10% of 1005 = 100.5 → 101; 10% of 1004 = 100.4 → 100.
        assert_eq!(tax(1005, 100_000), Some(101));
        assert_eq!(tax(1004, 100_000), Some(100));
        assert_eq!(tax(0, 100_000), Some(0));
        let t = Totals::compute(2000, 500, 0, 100_000).expect("fits");
        assert_eq!((t.tax_minor, t.total_minor), (150, 1650));
    }

    #[test]
    fn a_discount_never_exceeds_the_subtotal() {
        let t = Totals::compute(300, 500, 100, 0).expect("fits");
        assert_eq!((t.discount_minor, t.total_minor), (300, 100));
    }

    #[test]
    fn figures_beyond_the_platform_maximum_are_refused() {
        assert!(matches!(
            Totals::compute(MAX_MINOR, 0, 1, 0),
            Err(DomainError::TotalTooLarge)
        ));
        assert!(matches!(
            Totals::compute(-1, 0, 0, 0),
            Err(DomainError::TotalTooLarge)
        ));
        assert!(Totals::compute(MAX_MINOR, 0, 0, 1_000_000).is_err());
        assert_eq!(tax(i64::MAX, 1_000_000), Some(i64::MAX));
    }

    #[test]
    fn coupon_discounts_follow_the_subtotal() {
        let ten_percent = CouponTerms {
            kind: DiscountKind::Percent,
            value: 1000,
            min_order_minor: 1500,
        };
        assert_eq!(ten_percent.discount(2599), 259);
        assert_eq!(ten_percent.discount(1499), 0);
        let five_off = CouponTerms {
            kind: DiscountKind::Fixed,
            value: 500,
            min_order_minor: 0,
        };
        assert_eq!(five_off.discount(2000), 500);
        assert_eq!(five_off.discount(300), 300);
    }
}
