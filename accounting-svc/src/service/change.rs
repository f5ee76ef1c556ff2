//! Moving a payment along its lifecycle by request: authorizing (a card
//! whose customer confirmed), capturing, voiding.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::payment::{Change, Payment};

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
        let made = self.apply(&mut work, payment, change, at).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(made.payment)
    }
}
