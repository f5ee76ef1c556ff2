//! Bulk sends: one template to many recipients, accepted at once and sent
//! in the background at each provider's pace. Whoever has opted out of
//! the send's category on its channel, or has no address there, is
//! skipped and counted.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Violations;
use super::channel::{Category, Channel};
use super::preference::Recipient;
use super::template::{PLACEHOLDERS, check_kind};

/// The most recipients one send may name.
pub const MAX_RECIPIENTS: usize = 100_000;

/// A bulk send as asked for, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkRequest {
    /// The template kind to send.
    pub kind: String,
    pub channel: Channel,
    pub category: Category,
    pub recipients: Vec<Recipient>,
    /// Values of the template's placeholders shared by every message
    /// (`{link}`); `{name}` is each recipient's own.
    pub values: HashMap<String, String>,
}

impl BulkRequest {
    /// # Errors
    /// A bad kind, no recipients or too many, a recipient without a
    /// customer id, or a value for a placeholder that does not exist.
    pub fn parse(
        kind: &str,
        channel: Channel,
        category: Category,
        recipients: Vec<Recipient>,
        values: HashMap<String, String>,
    ) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if let Err(why) = check_kind(kind) {
            v.add("template_kind", why);
        }
        if recipients.is_empty() {
            v.add("recipients", "must name at least one recipient");
        } else if recipients.len() > MAX_RECIPIENTS {
            v.add(
                "recipients",
                format!("must name at most {MAX_RECIPIENTS} recipients"),
            );
        }
        // One bad recipient is named; naming thousands helps nobody.
        if let Some(i) = recipients.iter().position(|r| r.customer_id == 0) {
            v.add(format!("recipients[{i}].customer_id"), "is required");
        }
        for key in values.keys() {
            if !PLACEHOLDERS.contains(&key.as_str()) || key == "name" {
                v.add(
                    format!("values.{key}"),
                    "is not a placeholder a bulk send fills (name is each recipient's own)",
                );
            }
        }
        v.finish_with(|| {
            Some(Self {
                kind: kind.to_owned(),
                channel,
                category,
                recipients,
                values,
            })
        })
    }
}

/// A bulk send and how far it has come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkJob {
    pub id: i64,
    pub kind: String,
    pub channel: Channel,
    pub category: Category,
    /// Recipients named.
    pub recipients: u32,
    /// Opted out, or without an address on the channel: never queued.
    pub skipped: u32,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub progress: Progress,
}

/// The queued messages of a bulk send, by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Waiting or being sent.
    pub pending: u32,
    pub sent: u32,
    pub delivered: u32,
    pub failed: u32,
    /// When the last of them settled, once none is pending.
    pub finished_at: Option<DateTime<Utc>>,
}

impl Progress {
    pub fn done(&self) -> bool {
        self.pending == 0
    }
}
