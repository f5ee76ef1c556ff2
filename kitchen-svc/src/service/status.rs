//! Status changes: the one path every move of a ticket takes, whether
//! kitchen staff ask for it or the order's own events cause it. The move
//! itself is decided by [`Ticket::apply`].

use foodmesh_shared::work::Work;

use super::Kitchen;
use crate::domain::ticket::{StatusChange, Ticket};
use crate::domain::{DomainError, TicketRef};
use crate::store;

impl Kitchen {
    /// Applies a staff member's `change` to ticket `id`; with `scope`, only
    /// if it is that restaurant's.
    ///
    /// # Errors
    /// [`DomainError::TicketNotFound`], or the refusals of
    /// [`Ticket::apply`].
    pub async fn change_status(
        &self,
        id: i64,
        scope: Option<i64>,
        change: &StatusChange,
    ) -> Result<Ticket, DomainError> {
        let key = TicketRef::Id(id);
        let mut conn = self.store.conn().await?;
        let mut work = Work::begin(&mut conn).await?;
        let current = store::find_ticket(work.conn(), key, true)
            .await?
            .filter(|t| scope.is_none_or(|r| r == t.restaurant_id))
            .ok_or(DomainError::TicketNotFound(key))?;
        let next = self.transition(&mut work, &current, change).await?;
        work.commit().await?.announce(&mut conn).await;
        Ok(next)
    }

    /// Cancels the open ticket of a cancelled order as part of the
    /// consumer's `work`. A ticket already picked up, cancelled or rejected
    /// is left alone; an order without a ticket yet is remembered, so that
    /// its late `order.confirmed` queues nothing. `None` when no ticket
    /// changed.
    ///
    /// # Errors
    /// Only unexpected failures (worth retrying).
    pub async fn cancel_order(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        reason: &str,
    ) -> Result<Option<Ticket>, DomainError> {
        store::lock_order(work.conn(), order_id).await?;
        let change = StatusChange::order_cancelled(reason);
        match self.change_order_ticket(work, order_id, &change).await {
            Ok(None) => {
                store::remember_cancelled_order(work.conn(), order_id).await?;
                Ok(None)
            }
            Err(DomainError::InvalidTransition { from, .. }) => {
                tracing::info!(order_id, status = %from, "cancellation leaves a closed ticket alone");
                Ok(None)
            }
            changed => changed,
        }
    }

    /// Marks the READY ticket of an order that left with a driver or was
    /// completed PICKED_UP, as part of the consumer's `work`, so food that
    /// left does not linger on the display. `None` when there is no ticket
    /// or it is not at the pass: nothing to clear.
    ///
    /// # Errors
    /// Only unexpected failures (worth retrying).
    pub async fn hand_over(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
    ) -> Result<Option<Ticket>, DomainError> {
        store::lock_order(work.conn(), order_id).await?;
        let change = StatusChange::order_handed_over();
        match self.change_order_ticket(work, order_id, &change).await {
            Err(DomainError::InvalidTransition { .. }) => Ok(None),
            changed => changed,
        }
    }

    /// Applies an order-driven `change` to the order's ticket; `None` when
    /// the order has no ticket.
    async fn change_order_ticket(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        change: &StatusChange,
    ) -> Result<Option<Ticket>, DomainError> {
        let key = TicketRef::Order(order_id);
        let Some(current) = store::find_ticket(work.conn(), key, true).await? else {
            return Ok(None);
        };
        self.transition(work, &current, change).await.map(Some)
    }

    /// Moves `current`, which `work` holds locked, as `change` asks, and
    /// writes and announces the result.
    async fn transition(
        &self,
        work: &mut Work<'_>,
        current: &Ticket,
        change: &StatusChange,
    ) -> Result<Ticket, DomainError> {
        let next = current.apply(change, self.clock.now())?;
        store::write_status(work.conn(), current, &next).await?;
        self.record(work, &next).await?;
        Ok(next)
    }
}
