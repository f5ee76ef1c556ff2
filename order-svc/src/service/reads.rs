//! Reads: orders as a caller may see them, listings, history, public
//! tracking, and customer profiles (with their one write).

use super::{Caller, Orders, authorize};
use crate::domain::customer::{Customer, CustomerPatch};
use crate::domain::number::{OrderNumber, TokenHash};
use crate::domain::order::{Order, OrderFilter, StatusChange};
use crate::domain::{DomainError, Page};
use crate::store;

impl Orders {
    /// One order, if the caller may see it.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`], [`DomainError::AccessDenied`].
    pub async fn get(&self, id: i64, caller: Caller<'_>) -> Result<Order, DomainError> {
        let mut conn = self.store.conn().await?;
        let order = store::existing_order(&mut conn, id).await?;
        authorize(&mut conn, &order, caller).await?;
        Ok(order)
    }

    /// One page of orders, newest first.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn list(
        &self,
        filter: &OrderFilter,
        page: Page,
    ) -> Result<(Vec<Order>, Option<String>), DomainError> {
        let mut conn = self.store.conn().await?;
        store::orders(&mut conn, filter, page).await
    }

    /// An order's status history, if the caller may see the order.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`], [`DomainError::AccessDenied`].
    pub async fn history(
        &self,
        id: i64,
        caller: Caller<'_>,
    ) -> Result<Vec<StatusChange>, DomainError> {
        let mut conn = self.store.conn().await?;
        let order = store::existing_order(&mut conn, id).await?;
        authorize(&mut conn, &order, caller).await?;
        store::history(&mut conn, id).await
    }

    /// Public tracking: the order with this number, if the token opens it.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`] for an unknown number and a wrong
    /// token alike, so tokens cannot be probed number by number.
    pub async fn track(
        &self,
        number: &OrderNumber,
        token: &TokenHash,
    ) -> Result<Order, DomainError> {
        let mut conn = self.store.conn().await?;
        store::tracked_order(&mut conn, number.as_str(), token)
            .await?
            .ok_or_else(|| DomainError::OrderNotFound(number.as_str().to_owned()))
    }

    /// A customer profile.
    ///
    /// # Errors
    /// [`DomainError::CustomerNotFound`].
    pub async fn customer(&self, id: i64) -> Result<Customer, DomainError> {
        let mut conn = self.store.conn().await?;
        store::customer(&mut conn, id)
            .await?
            .ok_or(DomainError::CustomerNotFound(id))
    }

    /// Changes a profile; a registered customer's is made on first use.
    ///
    /// # Errors
    /// [`DomainError::CustomerNotFound`], [`DomainError::PhoneTaken`].
    pub async fn update_customer(
        &self,
        id: i64,
        patch: &CustomerPatch,
    ) -> Result<Customer, DomainError> {
        if id == 0 {
            return Err(DomainError::invalid("id", "is required"));
        }
        let mut tx = self.store.begin().await?;
        let updated = store::update_customer(&mut tx, id, patch).await?;
        tx.commit().await?;
        Ok(updated)
    }
}
