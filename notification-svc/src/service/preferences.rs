//! Preferences: a customer's choice per channel, opting in or out of
//! order updates and of marketing.

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::channel::Channel;
use crate::domain::preference::{Choice, Recipient, Stored};
use crate::store;

/// A channel's choice in force, and what of it the customer set (the
/// rest is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelChoice {
    pub channel: Channel,
    pub choice: Choice,
    pub stored: Stored,
}

/// A change to one channel's choice: what is given replaces what holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChoicePatch {
    pub channel: Channel,
    pub order_updates: Option<bool>,
    pub marketing: Option<bool>,
}

impl Notifications {
    /// Customer `customer`'s choices on every channel. Defaults follow the
    /// contact their latest order gave.
    ///
    /// # Errors
    /// The database failed.
    pub async fn preferences(&self, customer: i64) -> Result<Vec<ChannelChoice>, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let stored = store::choices(&mut conn, &[customer]).await?;
        let contact = store::latest_contact(&mut conn, customer)
            .await?
            .unwrap_or(Recipient {
                customer_id: customer,
                name: String::new(),
                email: String::new(),
                phone: String::new(),
            });
        Ok(Channel::ALL
            .into_iter()
            .map(|channel| {
                let mine = stored.get(&(customer, channel)).copied();
                ChannelChoice {
                    channel,
                    choice: contact.choice(channel, mine),
                    stored: mine.unwrap_or_default(),
                }
            })
            .collect())
    }

    /// Applies `patches` to customer `customer`'s choices, all at once;
    /// returns the choices then in force. A flag a patch leaves out keeps
    /// what was set, or goes on following the default.
    ///
    /// # Errors
    /// The database failed.
    pub async fn set_preferences(
        &self,
        customer: i64,
        patches: &[ChoicePatch],
    ) -> Result<Vec<ChannelChoice>, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        for patch in patches {
            let change = Stored {
                order_updates: patch.order_updates,
                marketing: patch.marketing,
            };
            store::set_choice(&mut tx, customer, patch.channel, change, self.now()).await?;
        }
        tx.commit().await?;
        drop(conn);
        self.preferences(customer).await
    }
}
