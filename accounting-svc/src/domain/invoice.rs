//! Invoices: one per order, what the customer owes and why. An invoice is
//! issued from the first view of its order accounting-svc gets (the
//! `order.created` event, or the order a payment names when it arrives
//! first) and follows the order while its items may change; its status
//! follows the order's payment:
//!
//! | status | when |
//! |---|---|
//! | open | issued, nothing taken yet |
//! | paid | the payment was captured (also after a partial refund) |
//! | refunded | all of it was given back |
//! | void | the order was cancelled before anything was taken |

use std::fmt;

use chrono::{DateTime, Utc};

use super::payment::{Method, PaymentStatus};

/// What accounting-svc knows of an order: enough to bill it and to take
/// its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub order_id: i64,
    pub restaurant_id: i64,
    /// Positive for registered customers, negative for guest profiles.
    pub customer_id: i64,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub delivery_fee_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    /// The method chosen when the order was placed, if one was.
    pub method: Option<Method>,
    /// Whether the order still waits for its payment.
    pub pending: bool,
    /// When the order last changed: an older view never overwrites a
    /// newer one.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub description: String,
    pub quantity: u32,
    pub unit_price_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvoiceStatus {
    Open,
    Paid,
    Refunded,
    Void,
}

impl InvoiceStatus {
    pub const ALL: [Self; 4] = [Self::Open, Self::Paid, Self::Refunded, Self::Void];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paid => "paid",
            Self::Refunded => "refunded",
            Self::Void => "void",
        }
    }

    /// The status named `raw` (as stored, or as a client filters by it).
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The status an invoice takes when its order's payment reaches
    /// `payment`; `None` when that changes nothing on the invoice.
    pub fn for_payment(payment: PaymentStatus) -> Option<Self> {
        match payment {
            PaymentStatus::Captured | PaymentStatus::PartiallyRefunded => Some(Self::Paid),
            PaymentStatus::Refunded => Some(Self::Refunded),
            PaymentStatus::Created
            | PaymentStatus::Authorized
            | PaymentStatus::Declined
            | PaymentStatus::Voided => None,
        }
    }
}

impl fmt::Display for InvoiceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An invoice as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invoice {
    pub id: i64,
    pub restaurant_id: i64,
    /// 1, 2, 3, … within the restaurant.
    pub number: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub currency: String,
    pub lines: Vec<InvoiceLine>,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub delivery_fee_minor: i64,
    pub tax_minor: i64,
    pub total_minor: i64,
    pub status: InvoiceStatus,
    pub issued_at: DateTime<Utc>,
}

impl Invoice {
    /// The number people read: the restaurant, then the invoice's number
    /// within it (`R7-000042`), so numbers of two restaurants never meet.
    pub fn display_number(&self) -> String {
        format!("R{}-{:06}", self.restaurant_id, self.number)
    }
}

/// Which invoices a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceFilter {
    pub restaurant_id: Option<i64>,
    pub order_id: Option<i64>,
    /// Only the invoices of this customer (a customer reading their own).
    pub customer_id: Option<i64>,
    pub status: Option<InvoiceStatus>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_is_paid_once_taken_and_refunded_once_all_is_given_back() {
        assert_eq!(
            InvoiceStatus::for_payment(PaymentStatus::Captured),
            Some(InvoiceStatus::Paid)
        );
        assert_eq!(
            InvoiceStatus::for_payment(PaymentStatus::PartiallyRefunded),
            Some(InvoiceStatus::Paid)
        );
        assert_eq!(
            InvoiceStatus::for_payment(PaymentStatus::Refunded),
            Some(InvoiceStatus::Refunded)
        );
        assert_eq!(InvoiceStatus::for_payment(PaymentStatus::Authorized), None);
        for status in InvoiceStatus::ALL {
            assert_eq!(InvoiceStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn numbers_read_with_their_restaurant() {
        let invoice = Invoice {
            id: 1,
            restaurant_id: 7,
            number: 42,
            order_id: 9,
            customer_id: 3,
            currency: "USD".to_owned(),
            lines: Vec::new(),
            subtotal_minor: 0,
            discount_minor: 0,
            delivery_fee_minor: 0,
            tax_minor: 0,
            total_minor: 0,
            status: InvoiceStatus::Open,
            issued_at: DateTime::UNIX_EPOCH,
        };
        assert_eq!(invoice.display_number(), "R7-000042");
    }
}
