//! Giving money back. A payment is locked while its refund is decided and
//! written, so refunds of one payment happen one after another and their
//! sum can never pass what was captured, however many arrive at once.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::{Accounting, Idempotency};
use crate::domain::DomainError;
use crate::domain::payment::{Change, Payment};
use crate::store::{self, keys};

/// A refund made, and the payment as it now stands.
#[derive(Debug, Clone)]
pub struct Refunded {
    pub refund_id: i64,
    pub amount_minor: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub payment: Payment,
}

impl Accounting {
    /// Refunds `amount_minor` of payment `payment_id`, for `reason`, at
    /// `at`, and publishes `payment.refunded`. With `idempotency`, a retry
    /// answers with the first refund.
    ///
    /// # Errors
    /// [`DomainError::PaymentNotFound`]; the payment's refusal
    /// ([`DomainError::RefundTooLarge`] with what is left, an invalid
    /// transition); [`DomainError::IdempotencyKeyReused`]; or the database
    /// failed.
    pub async fn refund(
        &self,
        payment_id: i64,
        amount_minor: i64,
        reason: &str,
        idempotency: Option<&Idempotency>,
        at: DateTime<Utc>,
    ) -> Result<Refunded, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        if let Some(idempotency) = idempotency {
            match Self::earlier(&mut work, idempotency).await? {
                Some(keys::Made::Refund(refund_id)) => {
                    work.rollback().await?;
                    return self.refund_made(refund_id).await;
                }
                Some(keys::Made::Payment(_)) => return Err(DomainError::IdempotencyKeyReused),
                None => {}
            }
        }
        let payment = Self::locked(&mut work, payment_id).await?;
        let refunded = self
            .refund_locked(&mut work, payment, amount_minor, reason, at)
            .await?;
        if let Some(idempotency) = idempotency {
            keys::bind(
                work.conn(),
                &idempotency.scope,
                &idempotency.key,
                &idempotency.fingerprint,
                keys::Made::Refund(refunded.refund_id),
                at,
            )
            .await?;
        }
        work.commit().await?.announce(&mut conn).await;
        Ok(refunded)
    }

    /// Refunds `amount_minor` of `payment`, locked in `work`.
    pub(super) async fn refund_locked(
        &self,
        work: &mut Work<'_>,
        payment: Payment,
        amount_minor: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Refunded, DomainError> {
        let payment_id = payment.id;
        let made = self
            .apply(work, payment, &Change::Refund { amount_minor }, at)
            .await?;
        let ledger_id = made.ledger_id.ok_or_else(|| {
            DomainError::Unexpected(anyhow::anyhow!(
                "a refund of payment {payment_id} moved no money"
            ))
        })?;
        let refund_id =
            store::insert_refund(work.conn(), payment_id, amount_minor, reason, ledger_id, at)
                .await?;
        Ok(Refunded {
            refund_id,
            amount_minor,
            reason: reason.to_owned(),
            created_at: at,
            payment: made.payment,
        })
    }

    /// The refund `refund_id` made, as its payment now stands.
    async fn refund_made(&self, refund_id: i64) -> Result<Refunded, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let (payment_id, amount_minor, reason, created_at) =
            store::refund_record(&mut conn, refund_id)
                .await?
                .ok_or_else(|| {
                    DomainError::Unexpected(anyhow::anyhow!("refund {refund_id} vanished"))
                })?;
        let record = store::payment_record(&mut conn, payment_id)
            .await?
            .ok_or(DomainError::PaymentNotFound(payment_id))?;
        Ok(Refunded {
            refund_id,
            amount_minor,
            reason,
            created_at,
            payment: record.payment,
        })
    }
}
