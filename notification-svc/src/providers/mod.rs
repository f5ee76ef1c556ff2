//! The providers that carry messages, behind one interface, chosen per
//! channel by configuration:
//!
//! | channel | providers |
//! |---|---|
//! | email | [`log`] (default), [`smtp`] — a real SMTP server |
//! | sms | [`log`] (default), [`twilio`] — Twilio's Messages API, or any service of its shape |
//! | push | [`log`] (default), [`push`] — a signed webhook to the push gateway |
//!
//! Each answers every attempt with an [`Outcome`] and says whether a
//! resend of the same message (same key) can reach the recipient twice:
//! the senders resend an interrupted attempt only through providers that
//! cannot ([`Provider::resends_safely`]).

pub mod http;
pub mod log;
pub mod push;
pub mod smtp;
pub mod twilio;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::domain::channel::Channel;
use crate::domain::message::Outcome;

/// One message as a provider sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Unique per message: the key of its intent. Providers that accept
    /// one are given it, so a resend is recognised.
    pub key: String,
    pub channel: Channel,
    /// The address on the channel.
    pub recipient: String,
    /// The email's subject or the push's title.
    pub subject: String,
    pub body: String,
}

/// A way to send messages on one channel.
pub trait Provider: Send + Sync + 'static {
    /// As recorded in the delivery log (`smtp`, `twilio`).
    fn name(&self) -> &'static str;

    /// True when sending the same key twice reaches the recipient once
    /// (the provider drops the second), so an attempt whose outcome was
    /// lost may be made again.
    fn resends_safely(&self) -> bool;

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Outcome>;
}

/// The provider of each channel.
#[derive(Clone)]
pub struct Providers {
    pub email: Arc<dyn Provider>,
    pub sms: Arc<dyn Provider>,
    pub push: Arc<dyn Provider>,
}

impl Providers {
    /// The log provider on every channel.
    pub fn logging() -> Self {
        Self {
            email: Arc::new(log::Log),
            sms: Arc::new(log::Log),
            push: Arc::new(log::Log),
        }
    }

    pub fn of(&self, channel: Channel) -> &Arc<dyn Provider> {
        match channel {
            Channel::Email => &self.email,
            Channel::Sms => &self.sms,
            Channel::Push => &self.push,
        }
    }
}

impl std::fmt::Debug for Providers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Providers")
            .field("email", &self.email.name())
            .field("sms", &self.sms.name())
            .field("push", &self.push.name())
            .finish()
    }
}
