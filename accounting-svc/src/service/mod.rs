//! What accounting-svc does, one module per use: each reads and locks what
//! it changes, lets [`crate::domain`] decide, and writes the outcome with
//! its event in one unit of work.
//!
//! - [`pay`] — paying an order, with its idempotency key;
//! - [`change`] — authorizing, capturing, voiding by request;
//! - [`refund`] — giving money back;
//! - [`orders`] — what the order's events do: bill it, take cash, capture
//!   on completion, void or refund on cancellation;
//! - [`webhook`] — providers calling back;
//! - [`reads`] — payments and invoices as they stand.

pub mod change;
pub mod orders;
pub mod pay;
pub mod reads;
pub mod refund;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use foodmesh_shared::clock::Clock;
use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;
use sqlx::PgPool;

use crate::domain::DomainError;
use crate::domain::invoice::InvoiceStatus;
use crate::domain::ledger::Transaction;
use crate::domain::payment::{Applied, Change, Payment};
use crate::store::{self, invoices, keys};
use crate::{convert, observe};

/// The service: its database, the stream its events go to
/// (`<prefix>:accounting`) and the secrets its providers sign their calls
/// with.
#[derive(Debug, Clone)]
pub struct Accounting {
    pool: PgPool,
    stream: String,
    webhook_secrets: Arc<HashMap<String, Vec<u8>>>,
    clock: Clock,
}

/// A client's idempotency key: the caller's scope, their key, and the
/// fingerprint of the request's body. The same key and body answer with
/// what the first request made; the same key with another body is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub scope: String,
    pub key: String,
    pub fingerprint: Vec<u8>,
}

/// A change made: the payment as it now stands, and the ledger
/// transaction that recorded the money it moved, if it moved any.
#[derive(Debug, Clone)]
pub struct Made {
    pub payment: Payment,
    pub ledger_id: Option<i64>,
}

impl Accounting {
    pub fn new(pool: PgPool, stream: String) -> Self {
        Self {
            pool,
            stream,
            webhook_secrets: Arc::default(),
            clock: Clock::system(),
        }
    }

    /// The same service, deciding by `clock`'s time where no time is given.
    #[must_use]
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The service's time now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The same service, taking calls back from each provider named in
    /// `secrets` signed with its secret.
    #[must_use]
    pub fn with_webhook_secrets(self, secrets: HashMap<String, Vec<u8>>) -> Self {
        Self {
            webhook_secrets: Arc::new(secrets),
            ..self
        }
    }

    /// Takes `idempotency`'s key in `work`, and what it made when an
    /// earlier request with the same body used it.
    ///
    /// # Errors
    /// [`DomainError::IdempotencyKeyReused`] for another body, or the
    /// database failed.
    async fn earlier(
        work: &mut Work<'_>,
        idempotency: &Idempotency,
    ) -> Result<Option<keys::Made>, DomainError> {
        keys::lock(work.conn(), &idempotency.scope, &idempotency.key).await?;
        let Some(used) = keys::key_use(work.conn(), &idempotency.scope, &idempotency.key).await?
        else {
            return Ok(None);
        };
        if used.fingerprint != idempotency.fingerprint {
            return Err(DomainError::IdempotencyKeyReused);
        }
        match (used.payment_id, used.refund_id) {
            (Some(id), _) => Ok(Some(keys::Made::Payment(id))),
            (None, Some(id)) => Ok(Some(keys::Made::Refund(id))),
            (None, None) => Err(DomainError::Unexpected(anyhow::anyhow!(
                "idempotency key bound to nothing"
            ))),
        }
    }

    /// Payment `id`, locked in `work` until it ends, after its order's
    /// invoice: every use locks an order's invoice before its payment, so
    /// two of them never wait for each other.
    async fn locked(work: &mut Work<'_>, id: i64) -> Result<Payment, DomainError> {
        let order_id = store::order_of_payment(work.conn(), id)
            .await?
            .ok_or(DomainError::PaymentNotFound(id))?;
        invoices::lock_of_order(work.conn(), order_id).await?;
        store::lock_payment(work.conn(), id)
            .await?
            .ok_or(DomainError::PaymentNotFound(id))
    }

    /// Applies `change` to `payment` (locked in `work`) at `at`: writes
    /// the new figures, the money moved, the invoice's new status and the
    /// event, all in `work`.
    ///
    /// # Errors
    /// The lifecycle's refusal, or the database failed.
    async fn apply(
        &self,
        work: &mut Work<'_>,
        payment: Payment,
        change: &Change,
        at: DateTime<Utc>,
    ) -> Result<Made, DomainError> {
        let applied = payment.apply(change)?;
        store::save_payment(work.conn(), payment.id, &applied, at).await?;
        if let Change::Decline { reason } = change {
            store::save_decline_reason(work.conn(), payment.id, reason).await?;
        }
        let ledger_id = match Transaction::of(&payment, &applied) {
            Some(transaction) => {
                Some(store::record(work.conn(), &transaction, payment.restaurant_id, at).await?)
            }
            None => None,
        };
        if let Some(status) = InvoiceStatus::for_payment(applied.status) {
            invoices::set_status(work.conn(), payment.order_id, status, at).await?;
        }
        let payment = payment.after(&applied, at);
        self.announce(work, &payment, &applied).await?;
        let counted = observe::PaymentCounted {
            restaurant_id: payment.restaurant_id,
            method: payment.method,
            status: payment.status,
            decline_reason: match change {
                Change::Decline { reason } => Some(reason.clone()),
                _ => None,
            },
            moved_minor: applied.moved_minor,
            currency: payment.currency.clone(),
        };
        work.on_commit(move || observe::payment_changed(&counted));
        Ok(Made { payment, ledger_id })
    }

    /// Announces what `applied` made of `payment` (already written) in
    /// `work`: its event, with the money it moved.
    async fn announce(
        &self,
        work: &mut Work<'_>,
        payment: &Payment,
        applied: &Applied,
    ) -> Result<(), DomainError> {
        outbox::enqueue(
            work,
            &self.stream,
            applied.event_type,
            &payment.id.to_string(),
            &convert::payment_event(payment, applied.moved_minor),
        )
        .await
        .map_err(|e| DomainError::Unexpected(foodmesh_shared::db::failure(e)))?;
        Ok(())
    }
}
