//! Payments: how an order's money is taken and given back. A payment is
//! created for an order's total with a method; the provider authorizes
//! (holds) or declines it — at once, or later, when the customer confirms
//! on the phone or through their bank; an authorized payment is captured
//! when its order completes, or voided when the order is cancelled first;
//! a captured one is refunded, in parts, never past what was captured.
//!
//! [`Payment::apply`] is the one table of what may happen to a payment in
//! which status, and what each change moves in money.

use std::fmt;

use chrono::{DateTime, Utc};

use super::DomainError;

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Card,
    Cash,
    MobileMoney,
}

impl Method {
    pub const ALL: [Self; 3] = [Self::Card, Self::Cash, Self::MobileMoney];

    /// The name stored, labelled in metrics and used by the REST API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "card",
            Self::Cash => "cash",
            Self::MobileMoney => "mobile_money",
        }
    }

    /// The method a client names, in any case. `credit_card` and
    /// `debit_card` (seed 002's spelling) are cards.
    pub fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim().to_ascii_lowercase();
        match raw.as_str() {
            "card" | "credit_card" | "debit_card" => Some(Self::Card),
            "cash" => Some(Self::Cash),
            "mobile_money" => Some(Self::MobileMoney),
            _ => None,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Asked for; the provider has not decided yet (a card awaiting its
    /// 3-D Secure confirmation, mobile money awaiting the customer's
    /// approval on the phone).
    Created,
    /// The money is held for the order.
    Authorized,
    /// The money is taken.
    Captured,
    /// Some of what was taken has been given back.
    PartiallyRefunded,
    /// All of it has been given back.
    Refunded,
    /// The provider refused; the customer may pay again another way.
    Declined,
    /// The hold was released before anything was taken.
    Voided,
}

impl PaymentStatus {
    pub const ALL: [Self; 7] = [
        Self::Created,
        Self::Authorized,
        Self::Captured,
        Self::PartiallyRefunded,
        Self::Refunded,
        Self::Declined,
        Self::Voided,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Authorized => "authorized",
            Self::Captured => "captured",
            Self::PartiallyRefunded => "partially_refunded",
            Self::Refunded => "refunded",
            Self::Declined => "declined",
            Self::Voided => "voided",
        }
    }

    /// The status stored as `raw`, if it is one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Whether nothing more can happen to the payment.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Refunded | Self::Declined | Self::Voided)
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A payment as stored: what it is for and how far it has come. Amounts
/// are minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: i64,
    pub order_id: i64,
    pub restaurant_id: i64,
    pub method: Method,
    pub status: PaymentStatus,
    pub currency: String,
    pub amount_minor: i64,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A payment with what its provider said of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub payment: Payment,
    /// `sandbox_card`, `cash`, `sandbox_mobile_money`, …
    pub provider: String,
    /// The provider's own id for the payment, when it gave one.
    pub provider_reference: Option<String>,
    /// Why the provider declined, when it did.
    pub decline_reason: Option<String>,
}

/// Something that happens to a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The provider holds the money.
    Authorize,
    /// The provider refused, saying why (`card_declined`,
    /// `insufficient_funds`).
    Decline { reason: String },
    /// The held money is taken.
    Capture,
    /// The hold is released (the order was cancelled before capture).
    Void,
    /// Part or all of what was taken is given back.
    Refund { amount_minor: i64 },
}

impl Change {
    fn name(&self) -> &'static str {
        match self {
            Self::Authorize => "authorize",
            Self::Decline { .. } => "decline",
            Self::Capture => "capture",
            Self::Void => "void",
            Self::Refund { .. } => "refund",
        }
    }
}

/// What a change does: the payment's new figures, the money it moves (for
/// the ledger) and the event that announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub status: PaymentStatus,
    pub captured_minor: i64,
    pub refunded_minor: i64,
    /// Money taken (positive) or given back (negative) by this change;
    /// zero for a hold, a refusal or a release.
    pub moved_minor: i64,
    /// `payment.authorized`, `payment.refunded`, …
    pub event_type: &'static str,
}

impl Payment {
    /// The payment as `applied` leaves it, changed at `at`.
    #[must_use]
    pub fn after(self, applied: &Applied, at: DateTime<Utc>) -> Self {
        Self {
            status: applied.status,
            captured_minor: applied.captured_minor,
            refunded_minor: applied.refunded_minor,
            updated_at: at,
            ..self
        }
    }

    /// What may still be refunded.
    pub fn refundable_minor(&self) -> i64 {
        self.captured_minor - self.refunded_minor
    }

    /// The outcome of `change`, or why it cannot happen now. The one table
    /// of the payment lifecycle:
    ///
    /// | change | from | to |
    /// |---|---|---|
    /// | authorize | created | authorized |
    /// | decline | created | declined |
    /// | capture | authorized | captured (the whole amount) |
    /// | void | created, authorized | voided |
    /// | refund | captured, partially refunded | partially refunded, or refunded once nothing is left (from refunded: nothing left to refund) |
    ///
    /// # Errors
    /// [`DomainError::InvalidTransition`] for a change the table does not
    /// allow from this status; [`DomainError::RefundTooLarge`] for a refund
    /// past what is left to refund; [`DomainError::Invalid`] for a refund
    /// of nothing or less.
    pub fn apply(&self, change: &Change) -> Result<Applied, DomainError> {
        use PaymentStatus as S;
        let refused = || DomainError::InvalidTransition {
            from: self.status,
            change: change.name(),
        };
        let applied = |status, moved_minor: i64, event_type| Applied {
            status,
            captured_minor: self.captured_minor + moved_minor.max(0),
            refunded_minor: self.refunded_minor - moved_minor.min(0),
            moved_minor,
            event_type,
        };
        match (change, self.status) {
            (Change::Authorize, S::Created) => Ok(applied(S::Authorized, 0, "payment.authorized")),
            (Change::Decline { .. }, S::Created) => Ok(applied(S::Declined, 0, "payment.declined")),
            (Change::Capture, S::Authorized) => {
                Ok(applied(S::Captured, self.amount_minor, "payment.captured"))
            }
            (Change::Void, S::Created | S::Authorized) => {
                Ok(applied(S::Voided, 0, "payment.voided"))
            }
            (Change::Refund { amount_minor }, S::Captured | S::PartiallyRefunded) => {
                if *amount_minor <= 0 {
                    return Err(DomainError::invalid("amount", "must be more than zero"));
                }
                let refundable = self.refundable_minor();
                if *amount_minor > refundable {
                    return Err(DomainError::RefundTooLarge {
                        asked_minor: *amount_minor,
                        refundable_minor: refundable,
                        currency: self.currency.clone(),
                    });
                }
                let status = if *amount_minor == refundable {
                    S::Refunded
                } else {
                    S::PartiallyRefunded
                };
                Ok(applied(status, -amount_minor, "payment.refunded"))
            }
            // Refunded in full: nothing is left, which is what the client
            // needs to hear, rather than that the status forbids it.
            (Change::Refund { amount_minor }, S::Refunded) if *amount_minor > 0 => {
                Err(DomainError::RefundTooLarge {
                    asked_minor: *amount_minor,
                    refundable_minor: 0,
                    currency: self.currency.clone(),
                })
            }
            _ => Err(refused()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(status: PaymentStatus) -> Payment {
        Payment {
            id: 1,
            order_id: 42,
            restaurant_id: 7,
            method: Method::Card,
            status,
            currency: "USD".to_owned(),
            amount_minor: 2_500,
            captured_minor: 0,
            refunded_minor: 0,
            created_at: DateTime::UNIX_EPOCH,
            updated_at: DateTime::UNIX_EPOCH,
        }
    }

    fn after(payment: Payment, change: &Change) -> Payment {
        let applied = payment.apply(change).expect("allowed");
        payment.after(&applied, DateTime::UNIX_EPOCH)
    }

    #[test]
    fn seed_002_s_credit_card_is_a_card_and_unknown_methods_are_none() {
        assert_eq!(Method::parse("credit_card"), Some(Method::Card));
        assert_eq!(Method::parse(" Mobile_Money "), Some(Method::MobileMoney));
        assert_eq!(Method::parse("cheque"), None);
        for method in Method::ALL {
            assert_eq!(Method::parse(method.as_str()), Some(method));
        }
        for status in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::from_stored(status.as_str()), Some(status));
        }
    }

    #[test]
    fn a_card_payment_is_held_taken_and_given_back_in_parts() {
        let held = after(payment(PaymentStatus::Created), &Change::Authorize);
        assert_eq!(held.status, PaymentStatus::Authorized);
        let capture = held.apply(&Change::Capture).expect("allowed");
        assert_eq!(capture.moved_minor, 2_500);
        assert_eq!(capture.event_type, "payment.captured");
        let taken = after(held, &Change::Capture);
        let part = taken
            .apply(&Change::Refund {
                amount_minor: 1_000,
            })
            .expect("allowed");
        assert_eq!(part.status, PaymentStatus::PartiallyRefunded);
        assert_eq!(part.moved_minor, -1_000);
        let partly = after(
            taken,
            &Change::Refund {
                amount_minor: 1_000,
            },
        );
        assert_eq!(partly.refundable_minor(), 1_500);
        let rest = after(
            partly,
            &Change::Refund {
                amount_minor: 1_500,
            },
        );
        assert_eq!(rest.status, PaymentStatus::Refunded);
        assert_eq!(rest.refunded_minor, rest.captured_minor);
        assert!(rest.status.is_final());
    }

    #[test]
    fn a_refund_never_passes_what_was_taken_and_says_what_is_left() {
        let taken = after(
            after(payment(PaymentStatus::Created), &Change::Authorize),
            &Change::Capture,
        );
        let partly = after(
            taken,
            &Change::Refund {
                amount_minor: 2_000,
            },
        );
        match partly.apply(&Change::Refund { amount_minor: 501 }) {
            Err(DomainError::RefundTooLarge {
                refundable_minor, ..
            }) => assert_eq!(refundable_minor, 500),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            partly.apply(&Change::Refund { amount_minor: 0 }),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn only_the_table_s_moves_are_allowed() {
        use PaymentStatus as S;
        let changes = [
            Change::Authorize,
            Change::Decline {
                reason: "card_declined".to_owned(),
            },
            Change::Capture,
            Change::Void,
            Change::Refund { amount_minor: 1 },
        ];
        let allowed = |status: S, change: &Change| -> bool {
            let mut p = payment(status);
            p.captured_minor = if matches!(status, S::Captured | S::PartiallyRefunded) {
                2_500
            } else {
                0
            };
            p.apply(change).is_ok()
        };
        let expected: &[(S, [bool; 5])] = &[
            (S::Created, [true, true, false, true, false]),
            (S::Authorized, [false, false, true, true, false]),
            (S::Captured, [false, false, false, false, true]),
            (S::PartiallyRefunded, [false, false, false, false, true]),
            (S::Refunded, [false; 5]),
            (S::Declined, [false; 5]),
            (S::Voided, [false; 5]),
        ];
        for (status, row) in expected {
            for (change, want) in changes.iter().zip(row) {
                assert_eq!(allowed(*status, change), *want, "{change:?} from {status}");
            }
        }
    }

    #[test]
    fn holds_refusals_and_releases_move_no_money() {
        let created = payment(PaymentStatus::Created);
        for change in [
            Change::Authorize,
            Change::Void,
            Change::Decline {
                reason: "card_declined".to_owned(),
            },
        ] {
            assert_eq!(created.apply(&change).expect("allowed").moved_minor, 0);
        }
    }
}
