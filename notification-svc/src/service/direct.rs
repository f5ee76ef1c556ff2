//! One message by hand (an admin's): a template or a text, to a customer
//! at an address, honouring their choice for the category like any
//! other. It is written as an intent and sent like any other; a key lets
//! the admin's client send it again safely.

use std::collections::HashMap;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::channel::{Category, Channel};
use crate::domain::message::{Intent, Notification};
use crate::domain::preference::Recipient;
use crate::domain::template::Template;
use crate::store;

/// What the message says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A stored template of this kind on the channel, with values.
    Template {
        kind: String,
        values: HashMap<String, String>,
    },
    /// Checked like a template (its placeholders filled from `values`).
    Text(Template, HashMap<String, String>),
}

/// A message by hand, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectMessage {
    pub recipient: Recipient,
    pub channel: Channel,
    pub category: Category,
    pub content: Content,
    /// The caller's key: the same key sends once.
    pub key: Option<String>,
    /// Who sends it (the admin's subject).
    pub sender: String,
}

impl Notifications {
    /// Writes `message` as an intent and returns it queued (or, for a key
    /// already used, the message it sent).
    ///
    /// # Errors
    /// `Invalid` when the recipient has no address on the channel or has
    /// opted out of the category there, or a placeholder the template uses
    /// has no value; [`DomainError::NoTemplate`]; or the database failed.
    pub async fn send_direct(&self, message: DirectMessage) -> Result<Notification, DomainError> {
        let customer = message.recipient.customer_id;
        let channel = message.channel;
        // The sender's length keeps one sender's keys apart from another's.
        let key = match &message.key {
            Some(key) => format!("direct:{}:{}:{key}", message.sender.len(), message.sender),
            None => format!("direct:{}", uuid::Uuid::new_v4()),
        };
        let mut conn = self.pool.acquire().await?;
        // A key already used answers with what it sent, whatever has
        // changed since (a choice, a template).
        if let Some(sent) = store::by_key(&mut conn, &key).await? {
            return Ok(sent);
        }
        let Some(address) = message.recipient.address(channel) else {
            return Err(DomainError::invalid(
                "recipient",
                format!("has no address for {channel}"),
            ));
        };
        let stored = store::choices(&mut conn, &[customer]).await?;
        let choice = message
            .recipient
            .choice(channel, stored.get(&(customer, channel)).copied());
        if !choice.wants(message.category) {
            return Err(DomainError::invalid(
                "recipient",
                format!(
                    "has opted out of {} on {channel}",
                    message.category.as_str()
                ),
            ));
        }
        let (kind, template, values) = match message.content {
            Content::Template { kind, values } => {
                let template = store::active_templates(&mut conn, &kind)
                    .await?
                    .remove(&channel)
                    .ok_or_else(|| DomainError::NoTemplate {
                        kind: kind.clone(),
                        channel: channel.to_string(),
                    })?;
                (kind, template, values)
            }
            Content::Text(template, values) => ("direct".to_owned(), template, values),
        };
        let mut values: HashMap<&str, String> = values
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        values
            .entry("name")
            .or_insert_with(|| crate::domain::step::first_name(&message.recipient.name));
        template
            .check_values(&values)
            .map_err(DomainError::Invalid)?;
        let (subject, text) = template
            .render_within_limits(&values)
            .map_err(DomainError::Invalid)?;
        let intent = Intent {
            dedupe_key: key.clone(),
            customer_id: customer,
            order_id: None,
            bulk_job_id: None,
            kind,
            channel,
            recipient: address,
            subject,
            message: text,
            provider: self.providers.of(channel).name().to_owned(),
        };
        store::insert_intents(&mut conn, std::slice::from_ref(&intent), self.now()).await?;
        self.bell(channel).notify_one();
        store::by_key(&mut conn, &key)
            .await?
            .ok_or_else(|| DomainError::Unexpected(anyhow::anyhow!("message {key} not written")))
    }
}
