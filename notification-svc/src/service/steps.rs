//! The order's steps: every order event keeps what its messages need
//! (delivery events name only the order), and a step the customer hears
//! of is written as one intent per channel they want it on, in the
//! consumer's unit of work. The intent's key — event, recipient, channel —
//! is unique, so a redelivered event writes nothing more.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Notifications;
use crate::domain::DomainError;
use crate::domain::channel::Category;
use crate::domain::message::Intent;
use crate::domain::step::{OrderFacts, Step, StepDetails};
use crate::store;

impl Notifications {
    /// An order event: keeps `facts` (as of `updated_at`) and, for a step
    /// the customer hears of, writes its messages.
    ///
    /// # Errors
    /// The database failed.
    pub async fn order_changed(
        &self,
        work: &mut Work<'_>,
        event_id: &str,
        facts: &OrderFacts,
        updated_at: DateTime<Utc>,
        step: Option<(Step, StepDetails)>,
    ) -> Result<(), DomainError> {
        store::remember_order(work.conn(), facts, updated_at).await?;
        if let Some((step, details)) = step {
            self.write_step(work, event_id, facts, step, &details)
                .await?;
        }
        Ok(())
    }

    /// A delivery event of order `order_id` that is `step`. Returns false,
    /// writing nothing, when no event of the order has been seen yet.
    ///
    /// # Errors
    /// The database failed.
    pub async fn delivery_changed(
        &self,
        work: &mut Work<'_>,
        event_id: &str,
        order_id: i64,
        step: Step,
        details: &StepDetails,
    ) -> Result<bool, DomainError> {
        let Some(facts) = store::order_facts(work.conn(), order_id).await? else {
            return Ok(false);
        };
        self.write_step(work, event_id, &facts, step, details)
            .await?;
        Ok(true)
    }

    async fn write_step(
        &self,
        work: &mut Work<'_>,
        event_id: &str,
        facts: &OrderFacts,
        step: Step,
        details: &StepDetails,
    ) -> Result<(), DomainError> {
        let customer = facts.recipient.customer_id;
        let templates = store::active_templates(work.conn(), step.kind()).await?;
        let choices = store::choices(work.conn(), &[customer]).await?;
        let routes = facts.recipient.routes(Category::OrderUpdates, |c| {
            choices.get(&(customer, c)).copied()
        });
        let values = facts.values(details);
        let intents: Vec<Intent> = routes
            .into_iter()
            .filter_map(|(channel, recipient)| {
                let template = templates.get(&channel)?;
                let (subject, message) = template.render(&values);
                Some(Intent {
                    dedupe_key: format!("{event_id}:{customer}:{channel}"),
                    customer_id: customer,
                    order_id: Some(facts.order_id),
                    bulk_job_id: None,
                    kind: step.kind().to_owned(),
                    channel,
                    recipient,
                    subject,
                    message,
                    provider: self.providers.of(channel).name().to_owned(),
                })
            })
            .collect();
        store::insert_intents(work.conn(), &intents, self.now()).await?;
        let bells = self.bells.clone();
        let channels: Vec<_> = intents.iter().map(|i| i.channel).collect();
        work.on_commit(move || Self::ring(&bells, channels));
        Ok(())
    }
}
