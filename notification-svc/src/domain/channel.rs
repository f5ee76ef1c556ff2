//! The ways a message travels, and what it is about.

use std::fmt;

/// How a message reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Sms,
    Email,
    /// A signed webhook to the push gateway, which reaches the app.
    Push,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Sms, Channel::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Push => "push",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a message is about, which is what a customer opts in or out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// The steps of the customer's own orders.
    OrderUpdates,
    /// Offers and news.
    Marketing,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::OrderUpdates => "order_updates",
            Category::Marketing => "marketing",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        [Category::OrderUpdates, Category::Marketing]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}
