//! A provider calling back: the call is taken only when signed with the
//! provider's secret within the last five minutes, and handled once by its
//! event id; it then authorizes or declines the payment it names, with the
//! event that follows, in one unit of work. Anything refused changes
//! nothing — the event id is recorded only with the change it made.

use chrono::{DateTime, Utc};
use foodmesh_shared::webhook;
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::payment::{Change, Payment};
use crate::observe;
use crate::providers::{self, Decision};
use crate::store;

impl Accounting {
    /// Handles `provider`'s call with raw `body` and the signature header
    /// `signature`, received at `at`; the payment it changed.
    ///
    /// # Errors
    /// [`DomainError::UnknownProvider`] for a provider that makes no calls
    /// or has no secret; [`DomainError::WebhookSignature`];
    /// [`DomainError::WebhookReplayed`] for an event already handled;
    /// [`DomainError::Invalid`] for a body the provider would not send or a
    /// reference to no payment; the lifecycle's refusal; or the database
    /// failed.
    pub async fn provider_called(
        &self,
        provider: &str,
        body: &[u8],
        signature: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        let outcome = self.take_call(provider, body, signature, at).await;
        // Only known providers get a label: the path is the caller's.
        let label = if providers::callback_reader(provider).is_some() {
            provider
        } else {
            "unknown"
        };
        observe::webhook(
            label,
            match &outcome {
                Ok(_) => "accepted",
                Err(DomainError::WebhookSignature(_)) => "signature_invalid",
                Err(DomainError::WebhookReplayed(_)) => "replayed",
                Err(_) => "refused",
            },
        );
        outcome
    }

    async fn take_call(
        &self,
        provider: &str,
        body: &[u8],
        signature: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        let unknown = || DomainError::UnknownProvider(provider.to_owned());
        let read = providers::callback_reader(provider).ok_or_else(unknown)?;
        let secret = self.webhook_secrets.get(provider).ok_or_else(unknown)?;
        let now = u64::try_from(at.timestamp()).unwrap_or(0);
        webhook::verify(secret, signature, body, now)
            .map_err(|e| DomainError::WebhookSignature(e.to_string()))?;
        let callback = read(body).map_err(|e| DomainError::invalid("body", e))?;
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        if !store::first_delivery(work.conn(), provider, &callback.event_id, at).await? {
            return Err(DomainError::WebhookReplayed(callback.event_id));
        }
        let payment_id = store::payment_by_reference(work.conn(), provider, &callback.reference)
            .await?
            .ok_or_else(|| {
                DomainError::invalid("reference", "names no payment of this provider")
            })?;
        let payment = Self::locked(&mut work, payment_id).await?;
        let change = match callback.outcome {
            Decision::Approved => Change::Authorize,
            Decision::Declined(reason) => Change::Decline { reason },
            Decision::NeedsConfirmation => {
                return Err(DomainError::invalid("type", "reports no outcome"));
            }
        };
        let made = self.apply(&mut work, payment, &change, at).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(made.payment)
    }
}
