//! Reads: one ticket, a page of a restaurant's tickets, its open queue
//! and its stats.

use super::Kitchen;
use crate::domain::queue::{KitchenStats, QueueFilter, StatsWindow};
use crate::domain::ticket::Ticket;
use crate::domain::{DomainError, Page, TicketRef};
use crate::store;

impl Kitchen {
    /// One ticket; with `scope`, only if it is that restaurant's.
    ///
    /// # Errors
    /// [`DomainError::TicketNotFound`].
    pub async fn ticket(&self, key: TicketRef, scope: Option<i64>) -> Result<Ticket, DomainError> {
        let mut conn = self.store.conn().await?;
        store::find_ticket(&mut conn, key, false)
            .await?
            .filter(|t| scope.is_none_or(|r| r == t.restaurant_id))
            .ok_or(DomainError::TicketNotFound(key))
    }

    /// A ticket by id if it exists: for watchers, which learn of changes
    /// by id.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn find_ticket(&self, id: i64) -> Result<Option<Ticket>, DomainError> {
        let mut conn = self.store.conn().await?;
        store::find_ticket(&mut conn, TicketRef::Id(id), false).await
    }

    /// One page of a restaurant's tickets in the filter's statuses, oldest
    /// first, and the token of the next page if there is one.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn list(
        &self,
        filter: &QueueFilter,
        page: Page,
    ) -> Result<(Vec<Ticket>, Option<String>), DomainError> {
        let mut conn = self.store.conn().await?;
        store::tickets(&mut conn, filter, page).await
    }

    /// Every open ticket of a restaurant, oldest first.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn open_queue(&self, restaurant_id: i64) -> Result<Vec<Ticket>, DomainError> {
        let mut conn = self.store.conn().await?;
        store::open_tickets(&mut conn, restaurant_id).await
    }

    /// The open queue's counts now, and preparation times of the tickets
    /// that became READY within `window`.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn stats(
        &self,
        restaurant_id: i64,
        window: StatsWindow,
    ) -> Result<KitchenStats, DomainError> {
        let mut conn = self.store.conn().await?;
        store::stats(&mut conn, restaurant_id, window, self.clock.now()).await
    }
}
