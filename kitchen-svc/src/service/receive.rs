//! Receiving an order into the kitchen: a ticket queued by hand through
//! the API, or for an order's `order.confirmed` event — once per order,
//! whichever comes first and however often each comes.

use foodmesh_shared::work::Work;

use super::Kitchen;
use crate::domain::DomainError;
use crate::domain::new_ticket::NewTicket;
use crate::domain::ticket::Ticket;
use crate::store::{self, Received};

impl Kitchen {
    /// Queues a ticket for `new`'s order, or returns the order's existing
    /// ticket untouched.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn create_ticket(&self, new: &NewTicket) -> Result<Ticket, DomainError> {
        let mut conn = self.store.conn().await?;
        let mut work = Work::begin(&mut conn).await?;
        let received = store::insert_ticket(work.conn(), new, self.clock.now(), false)
            .await?
            .ok_or_else(|| {
                DomainError::Unexpected(anyhow::anyhow!(
                    "the ticket of order {} conflicted but cannot be read",
                    new.order_id
                ))
            })?;
        if let Received::Queued(ticket) = &received {
            self.record(&mut work, ticket).await?;
        }
        work.commit().await?.announce(&mut conn).await;
        Ok(received.into_ticket())
    }

    /// Queues the ticket of a confirmed order as part of the consumer's
    /// `work` — unless the order's cancellation came first
    /// ([`Kitchen::cancel_order`]): then nothing is written and the answer
    /// is `None`.
    ///
    /// # Errors
    /// Only unexpected failures (worth retrying).
    pub async fn receive_confirmed(
        &self,
        work: &mut Work<'_>,
        new: &NewTicket,
    ) -> Result<Option<Received>, DomainError> {
        store::lock_order(work.conn(), new.order_id).await?;
        let received = store::insert_ticket(work.conn(), new, self.clock.now(), true).await?;
        match &received {
            Some(Received::Queued(ticket)) => {
                self.record(work, ticket).await?;
                // Every order makes one: logged at debug, counted in metrics.
                let (order_id, ticket_id) = (ticket.order_id, ticket.id);
                work.on_commit(move || tracing::debug!(order_id, ticket_id, "ticket queued"));
            }
            Some(Received::Existing(ticket)) => {
                tracing::debug!(
                    order_id = new.order_id,
                    ticket_id = ticket.id,
                    "already queued"
                );
            }
            None => {
                tracing::info!(
                    order_id = new.order_id,
                    "order was cancelled before it was queued"
                );
            }
        }
        Ok(received)
    }
}
