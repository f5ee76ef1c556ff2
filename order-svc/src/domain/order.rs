//! An order: what was ordered, by whom, how it reaches them, what it costs
//! and where it is in its life ([`Order`], as stored and shown), with the
//! names it is described by (`kinds`) and the parsed requests that create
//! and edit one (`input`).

mod input;
mod kinds;

use chrono::{DateTime, Utc};

pub use self::input::*;
pub use self::kinds::*;
use super::number::OrderNumber;
use super::totals::{CouponTerms, Totals};
use super::{Coordinates, DateRange, PostalAddress};

/// Who to notify about an order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contact {
    pub name: String,
    /// E.164, or empty.
    pub phone: String,
    /// Email, or empty.
    pub email: String,
}

/// One chosen option of a line, priced when the line was last priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineOption {
    pub option_id: i64,
    /// Its name then.
    pub name: String,
    /// Its price change then, in minor units.
    pub price_delta_minor: i64,
}

/// One line of an order as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// Stable across edits.
    pub id: i64,
    pub menu_item_id: i64,
    /// Its name when priced.
    pub name: String,
    /// 1 to 99.
    pub quantity: u32,
    /// Base price plus option deltas, in minor units.
    pub unit_price_minor: i64,
    /// Unit price × quantity.
    pub line_total_minor: i64,
    pub options: Vec<LineOption>,
    /// The customer's words for the kitchen.
    pub special_instructions: String,
}

/// The coupon an order holds, and its terms for re-computing the discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedCoupon {
    /// Upper-case code.
    pub code: String,
    pub terms: CouponTerms,
}

/// Where a delivery is picked up and how long the kitchen needs, as the
/// restaurant said when the order was priced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pickup {
    pub restaurant_name: String,
    /// The restaurant's address.
    pub address: PostalAddress,
    /// Where it is on the map, when known.
    pub location: Option<Coordinates>,
    /// Usual preparation minutes.
    pub prep_minutes: u32,
}

/// An order as stored and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: i64,
    /// Six-character human number.
    pub order_number: String,
    pub restaurant_id: i64,
    /// The customer profile (negative for guest profiles, 0 for a walk-in
    /// order, which has none).
    pub customer_id: i64,
    /// True for guest checkout.
    pub guest: bool,
    pub contact: Contact,
    pub order_type: OrderType,
    /// Where it was placed.
    pub source: OrderSource,
    pub status: OrderStatus,
    /// Dine-in only.
    pub table_number: Option<String>,
    /// Delivery only.
    pub delivery_address: Option<PostalAddress>,
    /// Delivery only, when the customer gave it.
    pub delivery_location: Option<Coordinates>,
    /// At least one.
    pub lines: Vec<OrderLine>,
    /// ISO 4217 code of every amount.
    pub currency: String,
    pub totals: Totals,
    /// Tax in millionths of the discounted subtotal.
    pub tax_rate_ppm: u32,
    /// The coupon held, if any.
    pub coupon: Option<AppliedCoupon>,
    /// How the customer pays, when chosen.
    pub payment_method: Option<PaymentMethod>,
    /// Free text.
    pub notes: String,
    /// The restaurant's side.
    pub pickup: Pickup,
    /// Bumped by every change, so readers can tell a change happened.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it was confirmed, once it was.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Order {
    /// The order as it stood when placed, from the order confirmed in the
    /// same transaction (a cash order): PENDING, one version earlier, not
    /// yet confirmed. The `order.created` event carries this, so readers
    /// see the same two steps as for any order.
    pub fn as_placed(&self) -> Order {
        Order {
            status: OrderStatus::Pending,
            version: self.version - 1,
            updated_at: self.created_at,
            confirmed_at: None,
            ..self.clone()
        }
    }
}

/// One entry of an order's status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    /// Increasing with time within an order.
    pub id: i64,
    /// `None` for the creation.
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    pub actor: Actor,
    /// Why, when given.
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What a listing shows; `None` and empty mean any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Any of these statuses.
    pub statuses: Vec<OrderStatus>,
    /// One restaurant's orders.
    pub restaurant_id: Option<i64>,
    /// One customer's orders (their history).
    pub customer_id: Option<i64>,
    /// Created in this window.
    pub created: DateRange,
    /// Any of these types.
    pub order_types: Vec<OrderType>,
    /// The order with this number.
    pub order_number: Option<OrderNumber>,
}
