//! What accounting-svc does, one module per use: each reads and locks what
//! it changes, lets [`crate::domain`] decide, and writes the outcome with
//! its event in one unit of work.

pub mod change;
pub mod pay;
pub mod refund;

use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;
use sqlx::PgPool;

use crate::convert;
use crate::domain::DomainError;
use crate::domain::payment::{Applied, Payment};
use crate::store;

/// The service: its database and the stream its events go to
/// (`<prefix>:accounting`).
#[derive(Debug, Clone)]
pub struct Accounting {
    pool: PgPool,
    stream: String,
}

impl Accounting {
    pub fn new(pool: PgPool, stream: String) -> Self {
        Self { pool, stream }
    }

    /// Payment `id`, locked in `work` until it ends.
    async fn locked(work: &mut Work<'_>, id: i64) -> Result<Payment, DomainError> {
        store::lock_payment(work.conn(), id)
            .await?
            .ok_or(DomainError::PaymentNotFound(id))
    }

    /// Announces what `applied` made of `payment` (already written) in
    /// `work`: its event, with the money it moved.
    async fn announce(
        &self,
        work: &mut Work<'_>,
        payment: &Payment,
        applied: &Applied,
    ) -> Result<(), DomainError> {
        outbox::enqueue(
            work,
            &self.stream,
            applied.event_type,
            &payment.id.to_string(),
            &convert::payment_event(payment, applied.moved_minor),
        )
        .await
        .map_err(|e| DomainError::Unexpected(foodmesh_shared::db::failure(e)))?;
        Ok(())
    }
}
