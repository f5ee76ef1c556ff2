//! Every SQL statement of restaurant-svc, and the transactions that make
//! its writes atomic. Takes domain values, returns domain values; the one
//! rule it applies itself is that a deleted restaurant (and all it holds)
//! is not found.
//!
//! One file per concern, each adding its methods to [`Store`]:
//! - `restaurants` — restaurants and their opening hours;
//! - `menu` — the whole menu, categories, items and option groups;
//! - `pricing` — the one read that prices orders;
//! - `coupons` — coupons, redemptions and releases;
//! - `rows` — rows to domain values.

use sqlx::{PgConnection, PgPool};

use crate::domain::DomainError;

/// The channel the schema's triggers notify (migration 0002) with the id
/// of each restaurant whose menu, currency, active or deleted state a
/// committed change touched; Postgres delivers it to every instance's
/// listener, which is what keeps each replica's menu cache correct.
pub const MENU_CHANNEL: &str = "foodmesh_menu";

foodmesh_shared::database_failures!(DomainError);

/// Postgres access for the service; cheap to clone (it is a pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Wraps a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for the menu change feed's listener.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The currency of a live restaurant; also how every write under a
/// restaurant learns that it still exists.
async fn live_restaurant_currency(
    conn: &mut PgConnection,
    restaurant_id: i64,
) -> Result<String, DomainError> {
    sqlx::query_scalar("SELECT currency FROM restaurants WHERE id = $1 AND deleted_at IS NULL")
        .bind(restaurant_id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::RestaurantNotFound(restaurant_id))
}

mod coupons;
mod menu;
mod pricing;
mod restaurants;
mod rows;
