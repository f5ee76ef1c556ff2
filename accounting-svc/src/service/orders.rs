//! What the order's events do to its money, each in the consumer's unit of
//! work (so each happens once, however often the event is delivered):
//!
//! | event | effect |
//! |---|---|
//! | `order.created` | the invoice is issued; a cash order's payment is authorized |
//! | `order.updated` | the open invoice takes the new items and totals; a payment still waiting for its customer is voided when the amount changed |
//! | `order.completed` | the authorized payment is captured; the invoice is paid |
//! | `order.cancelled` | a payment not yet captured is voided, a captured one refunded in full; an open invoice is void |

use chrono::{DateTime, Utc};
use foodmesh_shared::work::Work;

use super::Accounting;
use super::pay::invoice_payment;
use crate::domain::DomainError;
use crate::domain::invoice::{InvoiceStatus, OrderFacts};
use crate::domain::payment::{Change, Method, PaymentStatus};
use crate::providers::Decision;
use crate::store::{self, invoices};

/// Why a cancelled order's money was given back, as its refund records it.
pub const CANCELLED: &str = "order cancelled";

impl Accounting {
    /// Bills `order` (placed or changed) in `work`; a cash order's payment
    /// is held with its first invoice.
    ///
    /// While a payment holds or took money, the invoice keeps the figures
    /// it was paid for (an order changed in the moment between its
    /// authorization and its confirmation is logged). A payment still
    /// waiting for its customer (mobile money, 3-D Secure) asks for an
    /// amount the order may no longer have: it is voided then, and the
    /// order is paid again.
    ///
    /// # Errors
    /// The database failed.
    pub async fn order_changed(
        &self,
        work: &mut Work<'_>,
        order: &OrderFacts,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let existing = invoices::lock_of_order(work.conn(), order.order_id).await?;
        let live = store::lock_live_payment_of_order(work.conn(), order.order_id).await?;
        if let (Some(_), Some(payment)) = (&existing, &live)
            && payment.status != PaymentStatus::Created
        {
            if payment.amount_minor != order.total_minor {
                tracing::warn!(
                    order_id = order.order_id,
                    payment_id = payment.id,
                    paid_minor = payment.amount_minor,
                    order_total_minor = order.total_minor,
                    "order changed after its payment was authorized; the invoice keeps what was paid"
                );
            }
            return Ok(());
        }
        let invoice = invoices::bring_up_to_date(work.conn(), order, at).await?;
        match live {
            Some(payment) if payment.amount_minor != invoice.total_minor => {
                self.apply(work, payment, &Change::Void, at).await?;
            }
            Some(_) => {}
            None if order.method == Some(Method::Cash) && invoice.status == InvoiceStatus::Open => {
                let new = invoice_payment(order, &invoice, Method::Cash, Decision::Approved);
                self.record_payment(work, &new, at).await?;
            }
            None => {}
        }
        Ok(())
    }

    /// Takes the money of completed order `order_id` in `work`.
    ///
    /// # Errors
    /// The database failed.
    pub async fn order_completed(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        invoices::lock_of_order(work.conn(), order_id).await?;
        match store::lock_live_payment_of_order(work.conn(), order_id).await? {
            Some(payment) if payment.status == PaymentStatus::Authorized => {
                self.apply(work, payment, &Change::Capture, at).await?;
            }
            Some(payment) => tracing::info!(
                order_id,
                payment_id = payment.id,
                status = %payment.status,
                "completed order's payment left as it is"
            ),
            None => tracing::warn!(order_id, "completed order has no payment to capture"),
        }
        Ok(())
    }

    /// Releases or gives back the money of cancelled order `order_id` in
    /// `work`, and voids its open invoice.
    ///
    /// # Errors
    /// The database failed.
    pub async fn order_cancelled(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        // The invoice first, as every use locks them: a payment being made
        // now either committed before (and is found here) or finds the
        // invoice void.
        let invoice = invoices::lock_of_order(work.conn(), order_id).await?;
        if let Some(payment) = store::lock_live_payment_of_order(work.conn(), order_id).await? {
            match payment.status {
                PaymentStatus::Created | PaymentStatus::Authorized => {
                    self.apply(work, payment, &Change::Void, at).await?;
                }
                // A free order (a full discount) was taken for nothing and
                // has nothing to give back.
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded
                    if payment.refundable_minor() > 0 =>
                {
                    let left = payment.refundable_minor();
                    self.refund_locked(work, payment, left, CANCELLED, at)
                        .await?;
                }
                PaymentStatus::Captured | PaymentStatus::PartiallyRefunded => {}
                PaymentStatus::Refunded | PaymentStatus::Declined | PaymentStatus::Voided => {}
            }
        }
        if invoice.is_some_and(|i| i.status == InvoiceStatus::Open) {
            invoices::set_status(work.conn(), order_id, InvoiceStatus::Void, at).await?;
        }
        Ok(())
    }
}
