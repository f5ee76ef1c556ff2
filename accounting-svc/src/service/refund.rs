//! Giving money back. A payment is locked while its refund is decided and
//! written, so refunds of one payment happen one after another and their
//! sum can never pass what was captured, however many arrive at once.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::ledger::Transaction;
use crate::domain::payment::{Change, Payment};
use crate::store;

/// A refund made: its id and the payment as it now stands.
#[derive(Debug, Clone)]
pub struct Refunded {
    pub refund_id: i64,
    pub payment: Payment,
}

impl Accounting {
    /// Refunds `amount_minor` of payment `payment_id`, for `reason`, at
    /// `at`, and publishes `payment.refunded`.
    ///
    /// # Errors
    /// [`DomainError::PaymentNotFound`]; the payment's refusal
    /// ([`DomainError::RefundTooLarge`] with what is left, an invalid
    /// transition); or the database failed.
    pub async fn refund(
        &self,
        payment_id: i64,
        amount_minor: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<Refunded, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let payment = Self::locked(&mut work, payment_id).await?;
        let applied = payment.apply(&Change::Refund { amount_minor })?;
        let transaction = Transaction::of(&payment, &applied).ok_or_else(|| {
            DomainError::Unexpected(anyhow::anyhow!(
                "a refund of payment {payment_id} moved no money"
            ))
        })?;
        store::save_payment(work.conn(), payment_id, &applied, at).await?;
        let ledger_id = store::record(work.conn(), &transaction, payment.restaurant_id, at).await?;
        let refund_id =
            store::insert_refund(work.conn(), payment_id, amount_minor, reason, ledger_id, at)
                .await?;
        let payment = payment.after(&applied, at);
        self.announce(&mut work, &payment, &applied).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(Refunded { refund_id, payment })
    }
}
