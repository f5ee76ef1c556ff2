//! Prices as the restaurant's menu gives them. This service never computes
//! a price of its own: it holds the client to the menu's figures and adds
//! them up.

use super::order::{AppliedCoupon, DraftLine, LineOption, Order, OrderLine, OrderType};
use super::totals::Totals;
use super::{Coordinates, DomainError, PostalAddress};

/// One line priced by the menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub menu_item_id: i64,
    /// Its name now.
    pub name: String,
    pub quantity: u32,
    /// Base price plus every option's delta.
    pub unit_price_minor: i64,
    /// Unit price × quantity.
    pub line_total_minor: i64,
    /// The options, in the order given.
    pub options: Vec<LineOption>,
}

/// What an order would cost now, written nowhere: the menu's lines and the
/// figures, with the coupon that applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub priced: PricedOrder,
    pub totals: Totals,
    /// Upper-case.
    pub coupon_code: Option<String>,
}

/// A whole order priced by the menu, with the restaurant's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedOrder {
    pub restaurant_name: String,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// In the order given.
    pub lines: Vec<PricedLine>,
    /// Sum of line totals.
    pub subtotal_minor: i64,
    /// Charged once per delivery order.
    pub delivery_fee_minor: i64,
    /// Sales tax in millionths (88,750 is 8.875 %).
    pub tax_rate_ppm: u32,
    /// Usual preparation minutes.
    pub prep_minutes: u32,
    /// Where deliveries are picked up.
    pub address: PostalAddress,
    /// Where it is on the map, when known.
    pub location: Option<Coordinates>,
}

impl DraftLine {
    /// The line as stored once `line` has priced it: the menu's name and
    /// figures, the draft's id (0 for a new line, until it is written) and
    /// instructions.
    pub fn priced(&self, line: &PricedLine) -> OrderLine {
        OrderLine {
            id: self.line_id.unwrap_or(0),
            menu_item_id: line.menu_item_id,
            name: line.name.clone(),
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            line_total_minor: line.line_total_minor,
            options: line.options.clone(),
            special_instructions: self.special_instructions.clone(),
        }
    }
}

/// An order's figures from the menu's prices: the coupon's discount by its
/// terms on the menu's subtotal, the delivery fee for delivery orders, and
/// the restaurant's tax.
///
/// # Errors
/// [`DomainError::TotalTooLarge`] when a figure leaves the platform's range.
pub fn figures(
    priced: &PricedOrder,
    order_type: OrderType,
    coupon: Option<&AppliedCoupon>,
) -> Result<Totals, DomainError> {
    let discount = coupon.map_or(0, |c| c.terms.discount(priced.subtotal_minor));
    let delivery_fee = match order_type {
        OrderType::Delivery => priced.delivery_fee_minor,
        _ => 0,
    };
    Totals::compute(
        priced.subtotal_minor,
        discount,
        delivery_fee,
        priced.tax_rate_ppm,
    )
}

/// The figures of a stored order whose lines the menu priced again: its
/// coupon's discount follows the new subtotal (a percentage follows it, a
/// fixed amount is capped by it, and under the minimum order it is zero).
///
/// # Errors
/// [`DomainError::CurrencyChanged`] when the restaurant's currency is no
/// longer the order's, or as [`figures`].
pub fn repriced(order: &Order, priced: &PricedOrder) -> Result<Totals, DomainError> {
    if priced.currency != order.currency {
        return Err(DomainError::CurrencyChanged);
    }
    figures(priced, order.order_type, order.coupon.as_ref())
}

/// Holds every line that states a unit price to the menu's.
///
/// # Errors
/// [`DomainError::PriceMismatch`] for the first line whose stated price
/// differs, named by `field(i)` (e.g. `items[2].stated_unit_price_minor`);
/// [`DomainError::Unexpected`] when the menu priced a different number of
/// lines than asked.
pub fn check_stated_prices(
    lines: &[DraftLine],
    priced: &PricedOrder,
    field: impl Fn(usize) -> String,
) -> Result<(), DomainError> {
    if lines.len() != priced.lines.len() {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "asked to price {} lines, got {}",
            lines.len(),
            priced.lines.len()
        )));
    }
    for (i, (line, priced)) in lines.iter().zip(&priced.lines).enumerate() {
        if let Some(stated) = line.stated_unit_price_minor
            && stated != priced.unit_price_minor
        {
            return Err(DomainError::PriceMismatch {
                field: field(i),
                stated_minor: stated,
                menu_minor: priced.unit_price_minor,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(stated: Option<i64>) -> DraftLine {
        DraftLine {
            line_id: None,
            menu_item_id: 1,
            quantity: 2,
            option_ids: Vec::new(),
            special_instructions: String::new(),
            stated_unit_price_minor: stated,
        }
    }

    fn priced(unit: i64) -> PricedOrder {
        PricedOrder {
            restaurant_name: "Pizza Palace".to_owned(),
            currency: "USD".to_owned(),
            lines: vec![PricedLine {
                menu_item_id: 1,
                name: "Margherita".to_owned(),
                quantity: 2,
                unit_price_minor: unit,
                line_total_minor: unit * 2,
                options: Vec::new(),
            }],
            subtotal_minor: unit * 2,
            delivery_fee_minor: 0,
            tax_rate_ppm: 0,
            prep_minutes: 20,
            address: PostalAddress::default(),
            location: None,
        }
    }

    #[test]
    fn a_stated_price_must_match_the_menu() {
        let at = |i: usize| format!("items[{i}].stated_unit_price_minor");
        assert!(check_stated_prices(&[draft(Some(1299))], &priced(1299), at).is_ok());
        assert!(check_stated_prices(&[draft(None)], &priced(1299), at).is_ok());
        let refused = check_stated_prices(&[draft(Some(1199))], &priced(1299), at);
        assert!(matches!(
            refused,
            Err(DomainError::PriceMismatch { ref field, stated_minor: 1199, menu_minor: 1299 })
                if field == "items[0].stated_unit_price_minor"
        ));
    }
}
