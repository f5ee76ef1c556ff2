//! Bulk sends: the send is accepted in one transaction — the job, and an
//! intent for every recipient who wants the category on the channel —
//! and the channel's sender works through them at its provider's pace.
//! The rest are counted as skipped, never written.

use std::collections::HashMap;

use foodmesh_shared::work::Work;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::bulk::{BulkJob, BulkRequest};
use crate::domain::message::Intent;
use crate::domain::step::first_name;
use crate::observe;
use crate::store;

impl Notifications {
    /// Accepts `request` from `created_by`; the job as it starts.
    ///
    /// # Errors
    /// [`DomainError::NoTemplate`] for a kind without an active template
    /// on the channel, or the database failed.
    pub async fn start_bulk(
        &self,
        request: BulkRequest,
        created_by: &str,
    ) -> Result<BulkJob, DomainError> {
        let channel = request.channel;
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let template = store::active_templates(work.conn(), &request.kind)
            .await?
            .remove(&channel)
            .ok_or_else(|| DomainError::NoTemplate {
                kind: request.kind.clone(),
                channel: channel.to_string(),
            })?;
        let customers: Vec<i64> = request.recipients.iter().map(|r| r.customer_id).collect();
        let stored = store::choices(work.conn(), &customers).await?;
        let mut opted_out = 0_u32;
        let mut no_address = 0_u32;
        let mut routed = Vec::with_capacity(request.recipients.len());
        for recipient in &request.recipients {
            let stored = stored.get(&(recipient.customer_id, channel)).copied();
            if !recipient.choice(channel, stored).wants(request.category) {
                opted_out += 1;
            } else if let Some(address) = recipient.address(channel) {
                routed.push((recipient, address));
            } else {
                no_address += 1;
            }
        }
        let total = u32::try_from(request.recipients.len()).unwrap_or(u32::MAX);
        let job = store::insert_bulk_job(
            work.conn(),
            &request.kind,
            channel,
            request.category,
            total,
            opted_out + no_address,
            created_by,
            self.now(),
        )
        .await?;
        let mut values: HashMap<&str, String> = request
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let provider = self.providers.of(channel).name().to_owned();
        let intents: Vec<Intent> = routed
            .into_iter()
            .enumerate()
            .map(|(i, (recipient, address))| {
                values.insert("name", first_name(&recipient.name));
                let (subject, message) = template.render(&values);
                Intent {
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
                }
            })
            .collect();
        store::insert_intents(work.conn(), &intents, self.now()).await?;
        let bells = self.bells.clone();
        work.on_commit(move || {
            observe::skipped(channel, "opted_out", u64::from(opted_out));
            observe::skipped(channel, "no_address", u64::from(no_address));
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
