//! Paying an order. The order's invoice is brought up to date with the
//! order the request names (or issued, when the payment comes before the
//! `order.created` event), the amount is the invoice's total (a stated
//! amount that differs is refused), the method's provider decides, and the
//! payment is written as the provider left it, with its event and its
//! idempotency key, in one unit of work.
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

use super::{Accounting, Idempotency};
use crate::domain::DomainError;
use crate::domain::invoice::{InvoiceStatus, OrderFacts};
use crate::domain::payment::{Applied, Method, PaymentRecord, PaymentStatus};
use crate::observe;
use crate::providers::{Decision, sandbox};
use crate::store::{self, NewPayment, invoices, keys};

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
    /// the client. With `idempotency`, a retry answers with the first
    /// payment as it now stands.
    ///
    /// # Errors
    /// [`DomainError::OrderNotPayable`] for an order no longer waiting to
    /// be paid; [`DomainError::AmountMismatch`]; [`DomainError::Invalid`]
    /// for a card source the provider does not know;
    /// [`DomainError::AlreadyPaid`] when the order has a live payment;
    /// [`DomainError::IdempotencyKeyReused`]; or the database failed.
    pub async fn pay(
        &self,
        order: &OrderFacts,
        request: &PaymentRequest,
        idempotency: Option<&Idempotency>,
        at: DateTime<Utc>,
    ) -> Result<PaymentRecord, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        if let Some(idempotency) = idempotency {
            match Self::earlier(&mut work, idempotency).await? {
                Some(keys::Made::Payment(id)) => {
                    work.rollback().await?;
                    return self.payment(id).await;
                }
                Some(keys::Made::Refund(_)) => return Err(DomainError::IdempotencyKeyReused),
                None => {}
            }
        }
        let invoice = invoices::bring_up_to_date(work.conn(), order, at).await?;
        if !order.pending || invoice.status != InvoiceStatus::Open {
            return Err(DomainError::OrderNotPayable(order.order_id));
        }
        if let Some(stated) = request.stated_minor.filter(|s| *s != invoice.total_minor) {
            return Err(DomainError::AmountMismatch {
                stated_minor: stated,
                total_minor: invoice.total_minor,
                currency: invoice.currency,
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
        let record = self
            .record_payment(
                &mut work,
                &invoice_payment(order, &invoice, request.method, decision),
                at,
            )
            .await?;
        if let Some(idempotency) = idempotency {
            keys::bind(
                work.conn(),
                &idempotency.scope,
                &idempotency.key,
                &idempotency.fingerprint,
                keys::Made::Payment(record.payment.id),
                at,
            )
            .await?;
        }
        work.commit().await?.announce(&mut conn).await;
        Ok(record)
    }

    /// Writes `new` in `work`, announcing its authorization or decline.
    pub(super) async fn record_payment(
        &self,
        work: &mut Work<'_>,
        new: &NewPayment,
        at: DateTime<Utc>,
    ) -> Result<PaymentRecord, DomainError> {
        let payment = store::insert_payment(work.conn(), new, at).await?;
        let event_type = match new.status {
            PaymentStatus::Authorized => Some("payment.authorized"),
            PaymentStatus::Declined => Some("payment.declined"),
            _ => None,
        };
        if let Some(event_type) = event_type {
            let applied = Applied {
                status: new.status,
                captured_minor: 0,
                refunded_minor: 0,
                moved_minor: 0,
                event_type,
            };
            self.announce(work, &payment, &applied).await?;
        }
        let counted = observe::PaymentCounted {
            restaurant_id: payment.restaurant_id,
            method: new.method,
            status: new.status,
            decline_reason: new.decline_reason.clone(),
            moved_minor: 0,
            currency: new.currency.clone(),
        };
        work.on_commit(move || observe::payment_changed(&counted));
        Ok(PaymentRecord {
            payment,
            provider: new.provider.clone(),
            provider_reference: new.provider_reference.clone(),
            decline_reason: new.decline_reason.clone(),
        })
    }
}

/// The payment of `invoice`'s total by `method`, as the provider's
/// `decision` leaves it.
pub(super) fn invoice_payment(
    order: &OrderFacts,
    invoice: &crate::domain::invoice::Invoice,
    method: Method,
    decision: Decision,
) -> NewPayment {
    let (status, decline_reason) = match decision {
        Decision::Approved => (PaymentStatus::Authorized, None),
        Decision::Declined(reason) => (PaymentStatus::Declined, Some(reason)),
        Decision::NeedsConfirmation => (PaymentStatus::Created, None),
    };
    // Mobile money is matched to the provider's call back by this
    // reference; the sandbox card needs none.
    let provider_reference =
        (method == Method::MobileMoney).then(|| format!("mm_{}", uuid::Uuid::new_v4().simple()));
    NewPayment {
        order_id: order.order_id,
        restaurant_id: order.restaurant_id,
        method,
        status,
        currency: invoice.currency.clone(),
        amount_minor: invoice.total_minor,
        captured_minor: 0,
        provider: provider_of(method).to_owned(),
        provider_reference,
        decline_reason,
    }
}

/// Who decides for a method: the sandboxes, until real providers are
/// configured.
pub fn provider_of(method: Method) -> &'static str {
    match method {
        Method::Card => "sandbox_card",
        Method::Cash => "cash",
        Method::MobileMoney => "sandbox_mobile_money",
    }
}
