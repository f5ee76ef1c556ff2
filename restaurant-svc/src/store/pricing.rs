//! The inputs `PriceOrder` prices from.

use super::Store;
use super::menu::{menu_items, option_groups};
use super::restaurants::restaurant;
use crate::domain::DomainError;
use crate::domain::pricing::PricingInputs;

impl Store {
    /// Everything pricing any order of the restaurant reads — the
    /// restaurant, and every item and option group with every option,
    /// unavailable ones included — from one snapshot, so it is
    /// self-consistent and can be kept for the next orders.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn pricing_inputs(&self, restaurant_id: i64) -> Result<PricingInputs, DomainError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let restaurant = restaurant(&mut tx, restaurant_id).await?;
        let items = menu_items(&mut tx, restaurant_id, None, true).await?;
        let option_groups = option_groups(&mut tx, restaurant_id, None, true).await?;
        tx.commit().await?;
        Ok(PricingInputs {
            restaurant,
            items,
            option_groups,
        })
    }
}
