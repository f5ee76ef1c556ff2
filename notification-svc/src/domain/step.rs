//! The steps of an order a customer hears of, and what fills their
//! templates.

use std::collections::HashMap;

use super::preference::Recipient;

/// The steps of an order a customer is told of, each a template kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Received,
    Confirmed,
    /// Takeout and dine-in only: a delivery's customer waits for the driver.
    Ready,
    /// With the tracking link.
    OutForDelivery,
    Delivered,
    /// With what happens to the payment.
    Cancelled,
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Received,
        Step::Confirmed,
        Step::Ready,
        Step::OutForDelivery,
        Step::Delivered,
        Step::Cancelled,
    ];

    /// The step whose template kind is `kind`, if any.
    pub fn of_kind(kind: &str) -> Option<Step> {
        Self::ALL.into_iter().find(|s| s.kind() == kind)
    }

    /// The placeholders a message of this step fills: the order's, and for
    /// a cancellation why and what of the payment.
    pub fn fills(self) -> &'static [&'static str] {
        const ORDER: &[&str] = &[
            "name",
            "order_number",
            "amount",
            "restaurant",
            "eta",
            "link",
        ];
        const CANCELLED: &[&str] = &[
            "name",
            "order_number",
            "amount",
            "restaurant",
            "eta",
            "link",
            "reason",
            "refund",
        ];
        match self {
            Step::Cancelled => CANCELLED,
            _ => ORDER,
        }
    }

    /// The template kind of the step.
    pub fn kind(self) -> &'static str {
        match self {
            Step::Received => "order_received",
            Step::Confirmed => "order_confirmed",
            Step::Ready => "order_ready",
            Step::OutForDelivery => "order_out_for_delivery",
            Step::Delivered => "order_delivered",
            Step::Cancelled => "order_cancelled",
        }
    }
}

/// What the messages of an order need to know of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub order_id: i64,
    pub recipient: Recipient,
    pub order_number: String,
    pub restaurant: String,
    /// The total as the customer reads it (`USD 25.98`).
    pub amount: String,
}

/// The rest of what a step's message may say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepDetails {
    /// When the food is expected, in words (`about 25 min`).
    pub eta: String,
    /// Where the customer follows the order or its delivery.
    pub link: String,
    /// Why the order was cancelled.
    pub reason: String,
    /// What happens to a cancelled order's payment.
    pub refund: String,
}

impl OrderFacts {
    /// Every placeholder's value for a message about this order.
    pub fn values(&self, details: &StepDetails) -> HashMap<&'static str, String> {
        HashMap::from([
            ("name", first_name(&self.recipient.name)),
            ("order_number", self.order_number.clone()),
            ("amount", self.amount.clone()),
            ("restaurant", self.restaurant.clone()),
            ("eta", details.eta.clone()),
            ("link", details.link.clone()),
            ("reason", details.reason.clone()),
            ("refund", details.refund.clone()),
        ])
    }
}

/// How a message greets someone: their first name, or "there" when no
/// name is known ("Hi there").
pub fn first_name(name: &str) -> String {
    name.split_whitespace().next().unwrap_or("there").to_owned()
}

/// An arrival `minutes` from now, in words.
pub fn eta_in_words(minutes: i64) -> String {
    match minutes {
        ..=1 => "in a minute or two".to_owned(),
        2..=90 => format!("in about {minutes} min"),
        _ => format!("in about {} h {} min", minutes / 60, minutes % 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_greets_by_first_name_and_says_the_arrival_in_words() {
        assert_eq!(first_name("Ana Diaz"), "Ana");
        assert_eq!(first_name("  "), "there");
        assert_eq!(eta_in_words(0), "in a minute or two");
        assert_eq!(eta_in_words(25), "in about 25 min");
        assert_eq!(eta_in_words(125), "in about 2 h 5 min");
    }
}
