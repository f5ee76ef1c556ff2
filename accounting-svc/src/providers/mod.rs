//! Payment providers: what decides whether money can be taken. One
//! [`Decision`] type for all of them, and one [`Callback`] for what a
//! provider reports later, so adding a real provider (Stripe, Paystack,
//! MTN MoMo) is one more module here and one line in [`callback_reader`].
//! [`sandbox`] is the card provider, [`mobile_money`] the mobile-money
//! one; their calls back are signed as [`foodmesh_shared::webhook`] says.

pub mod mobile_money;
pub mod sandbox;

/// What a provider's call back reports about one of its payments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The provider's id of this call, handled once.
    pub event_id: String,
    /// The provider's id of the payment.
    pub reference: String,
    pub outcome: Decision,
}

/// Reads a provider's call back.
pub type CallbackReader = fn(&[u8]) -> Result<Callback, String>;

/// How `provider`'s calls back are read, if it makes any.
pub fn callback_reader(provider: &str) -> Option<CallbackReader> {
    match provider {
        mobile_money::NAME => Some(mobile_money::parse),
        _ => None,
    }
}

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
