//! A delivery for each confirmed delivery order, opened in the consumer's
//! unit of work (once, however often the event comes), and closed with
//! its order when the order is cancelled.

use foodmesh_shared::work::Work;

use super::Deliveries;
use crate::domain::DomainError;
use crate::domain::delivery::{Delivery, DeliveryStatus, NewDelivery};
use crate::store;

/// The actor of the platform's own moves.
pub const SYSTEM: &str = "system";

impl Deliveries {
    /// Opens `new`'s delivery, waiting for a driver, unless its order has
    /// one; wakes the assigner once committed.
    ///
    /// # Errors
    /// The database failed.
    pub async fn open(&self, work: &mut Work<'_>, new: &NewDelivery) -> Result<(), DomainError> {
        let at = self.now();
        // The order's later events may have come first: a cancelled order
        // gets no delivery, and food already ready may be picked up.
        let note = store::order_note(work.conn(), new.order_id).await?;
        if note.cancelled_reason.is_some() {
            return Ok(());
        }
        let tracking_id = tracking_id();
        let Some(delivery) = store::insert_delivery(work.conn(), new, &tracking_id, at).await?
        else {
            return Ok(());
        };
        if let Some(ready) = note.food_ready_at {
            store::mark_food_ready(work.conn(), new.order_id, ready).await?;
        }
        store::record_move(
            work.conn(),
            delivery.id,
            None,
            DeliveryStatus::Pending,
            SYSTEM,
            "",
            at,
        )
        .await?;
        self.announce_as(work, &delivery, "delivery.created")
            .await?;
        let wake = self.bell();
        work.on_commit(move || {
            crate::observe::opened();
            wake.notify_one();
        });
        Ok(())
    }

    /// Opens `new`'s delivery by hand (its food ready when `food_ready`);
    /// the order's delivery as it stands (the one it had, when it had
    /// one).
    ///
    /// # Errors
    /// The database failed.
    pub async fn open_by_hand(
        &self,
        new: &NewDelivery,
        food_ready: bool,
    ) -> Result<Delivery, DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        self.open(&mut work, new).await?;
        if food_ready {
            self.food_ready(&mut work, new.order_id).await?;
        }
        work.commit().await?.announce(&mut conn).await;
        store::delivery_of_order(&mut conn, new.order_id)
            .await?
            .ok_or(DomainError::DeliveryNotFound(0))
    }

    /// Notes that the kitchen has order `order_id`'s food ready: its driver
    /// may pick it up.
    ///
    /// # Errors
    /// The database failed.
    pub async fn food_ready(&self, work: &mut Work<'_>, order_id: i64) -> Result<(), DomainError> {
        let at = self.now();
        if store::mark_food_ready(work.conn(), order_id, at)
            .await?
            .is_none()
        {
            store::note_ready(work.conn(), order_id, at).await?;
        }
        Ok(())
    }

    /// Cancels order `order_id`'s delivery (waiting or assigned) with
    /// `reason`, freeing its driver.
    ///
    /// # Errors
    /// The database failed.
    pub async fn cancel_for_order(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        reason: &str,
    ) -> Result<(), DomainError> {
        let Some(delivery) = store::lock_delivery_of_order(work.conn(), order_id).await? else {
            store::note_cancelled(work.conn(), order_id, reason, self.now()).await?;
            return Ok(());
        };
        if delivery.status.check(DeliveryStatus::Cancelled).is_err() {
            return Ok(());
        }
        let at = self.now();
        let driver = match delivery.driver_id {
            Some(id) => store::release_driver(work.conn(), id, at).await?,
            None => None,
        };
        self.record(
            work,
            delivery,
            DeliveryStatus::Cancelled,
            SYSTEM,
            reason,
            at,
        )
        .await?;
        if let Some(driver) = driver {
            let this = self.clone();
            work.on_commit(move || {
                tokio::spawn(async move { this.driver_changed(&driver).await });
            });
        }
        Ok(())
    }
}

/// A public tracking id: 20 random base-32 characters, guessing which is
/// hopeless, and that says nothing about the order.
fn tracking_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    let more = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .chain(more.iter())
        .take(20)
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn tracking_ids_are_twenty_unambiguous_characters_and_differ() {
        let a = super::tracking_id();
        assert_eq!(a.len(), 20);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert!(!a.contains(['l', 'o', 'i', '0', '1']));
        assert_ne!(a, super::tracking_id());
    }
}
