//! Paying an order: the amount is the order's total (a stated amount that
//! differs is refused), the method's provider decides, and the payment is
//! written as the provider left it, with its event, in one unit of work.
//!
//! - card: the sandbox decides from the source (see
//!   [`crate::providers::sandbox`]): authorized, declined with its reason
//!   (the order stays payable with another card), or created, waiting for
//!   the customer's confirmation;
//! - cash: authorized at once (taken when the order completes);
//! - mobile money: created, waiting for the customer's approval on the
//!   phone, which the provider's signed webhook reports.

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use crate::domain::DomainError;
use crate::domain::payment::{Applied, Method, Payment, PaymentStatus};
use crate::providers::{Decision, sandbox};
use crate::store::{self, NewPayment};

/// What is to be paid: an order's total, in its restaurant's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderToPay {
    pub order_id: i64,
    pub restaurant_id: i64,
    pub currency: String,
    pub total_minor: i64,
}

/// How a client asks to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub method: Method,
    /// The amount the client states, if it states one.
    pub stated_minor: Option<i64>,
    /// The card token or number handed to the provider, never stored.
    pub source: Option<String>,
}

impl Accounting {
    /// Pays `order` as `request` asks, at `at`. A declined payment is a
    /// payment too (status declined, with its reason): the caller tells
    /// the client.
    ///
    /// # Errors
    /// [`DomainError::AmountMismatch`]; [`DomainError::Invalid`] for a
    /// card source the provider does not know;
    /// [`DomainError::AlreadyPaid`] when the order has a live payment; or
    /// the database failed.
    pub async fn pay(
        &self,
        order: &OrderToPay,
        request: &PaymentRequest,
        at: DateTime<Utc>,
    ) -> Result<Payment, DomainError> {
        if let Some(stated) = request.stated_minor.filter(|s| *s != order.total_minor) {
            return Err(DomainError::AmountMismatch {
                stated_minor: stated,
                total_minor: order.total_minor,
                currency: order.currency.clone(),
            });
        }
        let decision = match request.method {
            Method::Card => sandbox::decide(request.source.as_deref()).ok_or_else(|| {
                DomainError::invalid(
                    "source",
                    "is not a sandbox test token or test card number (see the README)",
                )
            })?,
            Method::Cash => Decision::Approved,
            Method::MobileMoney => Decision::NeedsConfirmation,
        };
        let (status, decline_reason, event_type) = match decision {
            Decision::Approved => (PaymentStatus::Authorized, None, Some("payment.authorized")),
            Decision::Declined(reason) => (
                PaymentStatus::Declined,
                Some(reason),
                Some("payment.declined"),
            ),
            Decision::NeedsConfirmation => (PaymentStatus::Created, None, None),
        };
        let new = NewPayment {
            order_id: order.order_id,
            restaurant_id: order.restaurant_id,
            method: request.method,
            status,
            currency: order.currency.clone(),
            amount_minor: order.total_minor,
            captured_minor: 0,
            provider: provider_of(request.method).to_owned(),
            provider_reference: None,
            decline_reason,
        };
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        let payment = store::insert_payment(work.conn(), &new, at).await?;
        if let Some(event_type) = event_type {
            let applied = Applied {
                status,
                captured_minor: 0,
                refunded_minor: 0,
                moved_minor: 0,
                event_type,
            };
            self.announce(&mut work, &payment, &applied).await?;
        }
        work.commit().await?.announce(&mut conn).await;
        Ok(payment)
    }
}

/// Who decides for a method: the sandboxes, until real providers are
/// configured.
fn provider_of(method: Method) -> &'static str {
    match method {
        Method::Card => "sandbox_card",
        Method::Cash => "cash",
        Method::MobileMoney => "sandbox_mobile_money",
    }
}
