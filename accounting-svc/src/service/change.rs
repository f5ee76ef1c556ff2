//! Moving a payment along its lifecycle: as a provider or the platform
//! decides ([`Accounting::change`]), or as a client asks
//! ([`Accounting::process`]: confirming a card's 3-D Secure check,
//! capturing, voiding).

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::payment::{Change, Method, Payment};

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
        self.change_if(payment_id, change, at, |_| Ok(())).await
    }

    /// [`Accounting::change`] as a client asks it. Only a card's 3-D
    /// Secure confirmation is authorized by request (the sandbox plays the
    /// bank); mobile money is authorized by its provider's signed call
    /// alone, and cash when it is paid.
    ///
    /// # Errors
    /// As [`Accounting::change`], and [`DomainError::Invalid`] naming
    /// `action` for an authorization that is not a card's.
    pub async fn process(
        &self,
        payment_id: i64,
        change: &Change,
        at: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        self.change_if(payment_id, change, at, |payment| {
            if *change == Change::Authorize && payment.method != Method::Card {
                return Err(DomainError::invalid(
                    "action",
                    format!(
                        "a {} payment is authorized by its provider, not by request",
                        payment.method
                    ),
                ));
            }
            Ok(())
        })
        .await
    }

    async fn change_if(
        &self,
        payment_id: i64,
        change: &Change,
        at: DateTime<Utc>,
        allowed: impl FnOnce(&Payment) -> Result<(), DomainError>,
    ) -> Result<Payment, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let payment = Self::locked(&mut work, payment_id).await?;
        allowed(&payment)?;
        let made = self.apply(&mut work, payment, change, at).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(made.payment)
    }
}
