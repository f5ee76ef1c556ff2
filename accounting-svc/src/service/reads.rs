//! Payments and invoices as they stand.

use super::Accounting;
use crate::domain::invoice::{Invoice, InvoiceFilter};
use crate::domain::payment::PaymentRecord;
use crate::domain::{DomainError, Page};
use crate::store::{self, invoices};

/// The most payments of one order answered: an order has one live payment
/// and, before it, only the attempts its customer made.
pub const PAYMENTS_PER_ORDER: i64 = 50;

impl Accounting {
    /// Payment `id` with what its provider said.
    ///
    /// # Errors
    /// [`DomainError::PaymentNotFound`], or the database failed.
    pub async fn payment(&self, id: i64) -> Result<PaymentRecord, DomainError> {
        let mut conn = self.pool.acquire().await?;
        store::payment_record(&mut conn, id)
            .await?
            .ok_or(DomainError::PaymentNotFound(id))
    }

    /// The payments of order `order_id`, newest first, at most
    /// [`PAYMENTS_PER_ORDER`].
    ///
    /// # Errors
    /// The database failed.
    pub async fn payments_of_order(
        &self,
        order_id: i64,
    ) -> Result<Vec<PaymentRecord>, DomainError> {
        let mut conn = self.pool.acquire().await?;
        Ok(store::payments_of_order(&mut conn, order_id, PAYMENTS_PER_ORDER).await?)
    }

    /// One page of the invoices `filter` asks for, newest first, and the
    /// token of the next page when there may be one.
    ///
    /// # Errors
    /// The database failed.
    pub async fn invoices(
        &self,
        filter: &InvoiceFilter,
        page: Page,
    ) -> Result<(Vec<Invoice>, Option<String>), DomainError> {
        let mut conn = self.pool.acquire().await?;
        let found = invoices::list(&mut conn, filter, page).await?;
        let next = (found.len() == page.size() as usize)
            .then(|| found.last().map(|i| Page::token_after(i.id)))
            .flatten();
        Ok((found, next))
    }
}
