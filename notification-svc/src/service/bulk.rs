//! Bulk sends: the send is accepted in one transaction — the job, and an
//! intent for every recipient who wants the category on the channel —
//! and the channel's sender works through them at its provider's pace.
//! The rest — opted out, without an address on the channel, or named
//! twice — are counted as skipped, never written.

use std::collections::{HashMap, HashSet};

use foodmesh_shared::work::Work;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::bulk::{BulkJob, BulkRequest};
use crate::domain::message::Intent;
use crate::domain::step::first_name;
use crate::observe;
use crate::store::{self, NewBulkJob};

/// Recipients not written, by why.
#[derive(Debug, Clone, Copy, Default)]
struct Skipped {
    opted_out: u32,
    no_address: u32,
    /// Named again in the same send: one message each.
    duplicate: u32,
}

impl Notifications {
    /// Accepts `request` from `created_by`; the job as it starts. With a
    /// key `created_by` used before, the job that key started, as it is
    /// now.
    ///
    /// # Errors
    /// [`DomainError::NoTemplate`] for a kind without an active template
    /// on the channel; `Invalid` for a placeholder the template uses that
    /// `values` has no value for; or the database failed.
    pub async fn start_bulk(
        &self,
        request: BulkRequest,
        created_by: &str,
        idempotency_key: Option<&str>,
    ) -> Result<BulkJob, DomainError> {
        let channel = request.channel;
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        if let Some(key) = idempotency_key
            && let Some(started) = store::bulk_job_by_key(work.conn(), created_by, key).await?
        {
            work.rollback().await?;
            return store::bulk_job(&mut conn, started).await;
        }
        let template = store::active_templates(work.conn(), &request.kind)
            .await?
            .remove(&channel)
            .ok_or_else(|| DomainError::NoTemplate {
                kind: request.kind.clone(),
                channel: channel.to_string(),
            })?;
        let mut values: HashMap<&str, String> = request
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        // Each recipient's own name is filled per message.
        values.insert("name", "-".to_owned());
        template
            .check_values(&values)
            .map_err(DomainError::Invalid)?;
        let customers: Vec<i64> = request.recipients.iter().map(|r| r.customer_id).collect();
        let stored = store::choices(work.conn(), &customers).await?;
        let mut skipped = Skipped::default();
        let mut seen = HashSet::with_capacity(request.recipients.len());
        let mut routed = Vec::with_capacity(request.recipients.len());
        for recipient in &request.recipients {
            let stored = stored.get(&(recipient.customer_id, channel)).copied();
            if !seen.insert(recipient.customer_id) {
                skipped.duplicate += 1;
            } else if let Some(address) = recipient.address(channel) {
                if recipient.choice(channel, stored).wants(request.category) {
                    routed.push((recipient, address));
                } else {
                    skipped.opted_out += 1;
                }
            } else {
                skipped.no_address += 1;
            }
        }
        let total = u32::try_from(request.recipients.len()).unwrap_or(u32::MAX);
        let new_job = NewBulkJob {
            kind: &request.kind,
            channel,
            category: request.category,
            recipients: total,
            skipped: skipped.opted_out + skipped.no_address + skipped.duplicate,
            created_by,
            idempotency_key,
        };
        let job = store::insert_bulk_job(work.conn(), &new_job, self.now()).await?;
        let provider = self.providers.of(channel).name().to_owned();
        let intents: Vec<Intent> = routed
            .into_iter()
            .enumerate()
            .map(|(i, (recipient, address))| {
                values.insert("name", first_name(&recipient.name));
                let (subject, message) = template
                    .render_within_limits(&values)
                    .map_err(DomainError::Invalid)?;
                Ok(Intent {
                    dedupe_key: format!("bulk:{job}:{i}"),
                    customer_id: recipient.customer_id,
                    order_id: None,
                    bulk_job_id: Some(job),
                    kind: request.kind.clone(),
                    channel,
                    recipient: address,
                    subject,
                    message,
                    provider: provider.clone(),
                })
            })
            .collect::<Result<_, DomainError>>()?;
        store::insert_intents(work.conn(), &intents, self.now()).await?;
        let bells = self.bells.clone();
        work.on_commit(move || {
            observe::skipped(channel, "opted_out", u64::from(skipped.opted_out));
            observe::skipped(channel, "no_address", u64::from(skipped.no_address));
            observe::skipped(channel, "duplicate", u64::from(skipped.duplicate));
            Self::ring(&bells, [channel]);
        });
        work.commit().await?.announce(&mut conn).await;
        store::bulk_job(&mut conn, job).await
    }

    /// Bulk send `id` and how far it has come.
    ///
    /// # Errors
    /// [`DomainError::BulkNotFound`], or the database failed.
    pub async fn bulk(&self, id: i64) -> Result<BulkJob, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::bulk_job(&mut conn, id).await
    }
}
