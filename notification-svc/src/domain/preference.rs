//! Who hears of what on which channel. What a customer set for a channel
//! wins; a flag they never set follows the default: order updates by email
//! (by SMS when no email is known), marketing nowhere until they opt in.

use super::channel::{Category, Channel};

/// What a customer chose for one channel: each flag they set, `None` for
/// one they never did (the default holds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stored {
    pub order_updates: Option<bool>,
    pub marketing: Option<bool>,
}

/// The choice in force on one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub order_updates: bool,
    pub marketing: bool,
}

impl Choice {
    pub fn wants(self, category: Category) -> bool {
        match category {
            Category::OrderUpdates => self.order_updates,
            Category::Marketing => self.marketing,
        }
    }
}

/// Whom a message is for, as the order (or the bulk send) names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The customer profile: positive for registered customers, negative
    /// for guests' profiles.
    pub customer_id: i64,
    pub name: String,
    /// Empty when unknown.
    pub email: String,
    /// E.164, or empty when unknown.
    pub phone: String,
}

impl Recipient {
    /// Where a message on `channel` goes, when this recipient has an
    /// address there. Push reaches registered customers' apps only.
    pub fn address(&self, channel: Channel) -> Option<String> {
        let known = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        match channel {
            Channel::Email => known(&self.email),
            Channel::Sms => known(&self.phone),
            Channel::Push => {
                (self.customer_id > 0).then(|| format!("customer:{}", self.customer_id))
            }
        }
    }

    /// The choice in force on `channel`: each flag as stored, or else its
    /// default.
    pub fn choice(&self, channel: Channel, stored: Option<Stored>) -> Choice {
        let stored = stored.unwrap_or_default();
        let has_email = self.address(Channel::Email).is_some();
        let default_updates = match channel {
            Channel::Email => has_email,
            Channel::Sms => !has_email,
            Channel::Push => false,
        };
        Choice {
            order_updates: stored.order_updates.unwrap_or(default_updates),
            marketing: stored.marketing.unwrap_or(false),
        }
    }

    /// The channels a message of `category` goes on, with their addresses,
    /// given the stored choices: every channel the recipient wants it on
    /// and has an address for.
    pub fn routes(
        &self,
        category: Category,
        stored: impl Fn(Channel) -> Option<Stored>,
    ) -> Vec<(Channel, String)> {
        Channel::ALL
            .into_iter()
            .filter(|&c| self.choice(c, stored(c)).wants(category))
            .filter_map(|c| self.address(c).map(|a| (c, a)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ana(email: &str, phone: &str) -> Recipient {
        Recipient {
            customer_id: 7,
            name: "Ana".to_owned(),
            email: email.to_owned(),
            phone: phone.to_owned(),
        }
    }

    #[test]
    fn by_default_order_updates_go_by_email_or_else_sms_and_marketing_nowhere() {
        let both = ana("ana@example.com", "+12125550100");
        let routes = both.routes(Category::OrderUpdates, |_| None);
        assert_eq!(routes, [(Channel::Email, "ana@example.com".to_owned())]);
        let phone_only = ana("", "+12125550100");
        let routes = phone_only.routes(Category::OrderUpdates, |_| None);
        assert_eq!(routes, [(Channel::Sms, "+12125550100".to_owned())]);
        assert!(both.routes(Category::Marketing, |_| None).is_empty());
    }

    #[test]
    fn a_stored_choice_wins_and_a_channel_without_an_address_is_never_used() {
        let both = ana("ana@example.com", "+12125550100");
        let off = Stored {
            order_updates: Some(false),
            marketing: Some(false),
        };
        let on = Stored {
            order_updates: Some(true),
            marketing: Some(true),
        };
        let routes = both.routes(Category::OrderUpdates, |c| match c {
            Channel::Email => Some(off),
            Channel::Sms | Channel::Push => Some(on),
        });
        assert_eq!(
            routes,
            [
                (Channel::Sms, "+12125550100".to_owned()),
                (Channel::Push, "customer:7".to_owned())
            ]
        );
        let guest = Recipient {
            customer_id: -3,
            ..ana("", "")
        };
        assert!(
            guest
                .routes(Category::OrderUpdates, |_| Some(on))
                .is_empty()
        );
    }

    #[test]
    fn a_flag_never_set_follows_the_default_as_it_moves() {
        let marketing_only = Stored {
            order_updates: None,
            marketing: Some(true),
        };
        let unknown = ana("", "+12125550100");
        assert_eq!(
            unknown.choice(Channel::Email, Some(marketing_only)),
            Choice {
                order_updates: false,
                marketing: true
            }
        );
        let with_email = ana("ana@example.com", "+12125550100");
        assert_eq!(
            with_email.choice(Channel::Email, Some(marketing_only)),
            Choice {
                order_updates: true,
                marketing: true
            }
        );
    }
}
