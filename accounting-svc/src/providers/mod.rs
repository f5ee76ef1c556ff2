//! Payment providers: what decides whether money can be taken. One
//! [`Decision`] type for all of them, so adding a real provider (Stripe,
//! Paystack, MTN MoMo) is one more module here. [`sandbox`] is the card
//! provider used unless configured otherwise; [`webhook`] checks the
//! signature on a provider's calls back.

pub mod sandbox;
pub mod webhook;

/// A provider's answer to a request to take money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The money is held.
    Approved,
    /// Refused, with the provider's reason (`card_declined`,
    /// `insufficient_funds`).
    Declined(String),
    /// The customer must confirm first (3-D Secure, approval on the
    /// phone); the answer comes later.
    NeedsConfirmation,
}
