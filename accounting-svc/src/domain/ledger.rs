//! The ledger: every movement of money as a balanced transaction of
//! postings (double entry), appended and never changed, so any balance is
//! a sum over it.
//!
//! Accounts, and the sign of a posting (debit positive, credit negative):
//! - `provider:<method>` — what the payment provider (or the cash drawer)
//!   has taken from customers for the platform: debited when money is
//!   captured, credited when it is given back.
//! - `restaurant:<id>` — what the platform owes the restaurant: credited
//!   when its customers' money is captured, debited when it is refunded.
//!
//! So a payment's net takings are the sum of its `provider:` postings, and
//! what a restaurant is owed is minus the sum of its account's.

use std::fmt;

use super::payment::{Applied, Method, Payment};

/// Where a posting goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Account {
    Provider(Method),
    Restaurant(i64),
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Provider(method) => write!(f, "provider:{method}"),
            Self::Restaurant(id) => write!(f, "restaurant:{id}"),
        }
    }
}

/// One line of a transaction: a debit (positive) or credit (negative) of
/// minor units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub amount_minor: i64,
}

/// What kind of movement a transaction records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Capture,
    Refund,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Capture => "capture",
            Self::Refund => "refund",
        }
    }
}

/// Postings that sum to zero, for one payment, in its currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub kind: Kind,
    pub payment_id: i64,
    pub order_id: i64,
    pub currency: String,
    pub postings: Vec<Posting>,
}

impl Transaction {
    /// The transaction a change of `payment` records, if it moved money:
    /// none for a hold, a refusal or a release.
    pub fn of(payment: &Payment, applied: &Applied) -> Option<Self> {
        let moved = applied.moved_minor;
        if moved == 0 {
            return None;
        }
        let kind = if moved > 0 {
            Kind::Capture
        } else {
            Kind::Refund
        };
        Some(Self {
            kind,
            payment_id: payment.id,
            order_id: payment.order_id,
            currency: payment.currency.clone(),
            postings: vec![
                Posting {
                    account: Account::Provider(payment.method),
                    amount_minor: moved,
                },
                Posting {
                    account: Account::Restaurant(payment.restaurant_id),
                    amount_minor: -moved,
                },
            ],
        })
    }

    /// Whether its postings sum to zero (always, when made by [`Self::of`];
    /// the database checks it again).
    pub fn is_balanced(&self) -> bool {
        self.postings.iter().map(|p| p.amount_minor).sum::<i64>() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::super::payment::{Change, PaymentStatus};
    use super::*;

    fn captured() -> Payment {
        Payment {
            id: 3,
            order_id: 42,
            restaurant_id: 7,
            method: Method::MobileMoney,
            status: PaymentStatus::Captured,
            currency: "KES".to_owned(),
            amount_minor: 120_000,
            captured_minor: 120_000,
            refunded_minor: 0,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_capture_owes_the_restaurant_what_the_provider_took() {
        let mut payment = captured();
        payment.status = PaymentStatus::Authorized;
        payment.captured_minor = 0;
        let applied = payment.apply(&Change::Capture).expect("allowed");
        let tx = Transaction::of(&payment, &applied).expect("money moved");
        assert_eq!(tx.kind, Kind::Capture);
        assert!(tx.is_balanced());
        assert_eq!(
            tx.postings,
            [
                Posting {
                    account: Account::Provider(Method::MobileMoney),
                    amount_minor: 120_000
                },
                Posting {
                    account: Account::Restaurant(7),
                    amount_minor: -120_000
                },
            ]
        );
        assert_eq!(tx.postings[0].account.to_string(), "provider:mobile_money");
        assert_eq!(tx.postings[1].account.to_string(), "restaurant:7");
    }

    #[test]
    fn a_refund_reverses_part_of_it_and_a_hold_records_nothing() {
        let payment = captured();
        let applied = payment
            .apply(&Change::Refund {
                amount_minor: 20_000,
            })
            .expect("allowed");
        let tx = Transaction::of(&payment, &applied).expect("money moved");
        assert_eq!(tx.kind, Kind::Refund);
        assert!(tx.is_balanced());
        assert_eq!(tx.postings[0].amount_minor, -20_000);
        assert_eq!(tx.postings[1].amount_minor, 20_000);

        let mut created = captured();
        created.status = PaymentStatus::Created;
        let hold = created.apply(&Change::Authorize).expect("allowed");
        assert_eq!(Transaction::of(&created, &hold), None);
    }
}
