//! Moving a payment along its lifecycle: authorizing, declining,
//! capturing, voiding. The payment is locked, the domain decides, and the
//! new figures, the money moved (in the ledger) and the event are written
//! in one unit of work.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::ledger::Transaction;
use crate::domain::payment::{Change, Payment};
use crate::store;

impl Accounting {
    /// Applies `change` to payment `payment_id` at `at` and announces it;
    /// the payment as it now stands. Refunds, which keep a record of
    /// their own, go through [`Accounting::refund`].
    ///
    /// # Errors
    /// [`DomainError::PaymentNotFound`], the lifecycle's refusal, or the
    /// database failed.
    pub async fn change(
        &self,
        payment_id: i64,
        change: &Change,
        at: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let payment = Self::locked(&mut work, payment_id).await?;
        let applied = payment.apply(change)?;
        store::save_payment(work.conn(), payment_id, &applied, at).await?;
        if let Change::Decline { reason } = change {
            store::save_decline_reason(work.conn(), payment_id, reason).await?;
        }
        if let Some(transaction) = Transaction::of(&payment, &applied) {
            store::record(work.conn(), &transaction, payment.restaurant_id, at).await?;
        }
        let payment = payment.after(&applied, at);
        self.announce(&mut work, &payment, &applied).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(payment)
    }
}
