//! Every SQL statement of order-svc. Statements take a connection, so the
//! caller decides what shares a transaction: a change, its history entry
//! and its outbox event always do, and its change notice goes out once they
//! have committed. Takes domain values, returns domain values.
//!
//! - `orders` — reads of orders, their lines and history;
//! - `new_order` — the one statement that writes a new order;
//! - `changes` — writes to a stored order;
//! - `keys` — idempotency keys;
//! - `customers` — customer profiles;
//! - `coupons` — coupon holds and the release queue;
//! - `rows` — rows to domain values.

use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use crate::domain::DomainError;

/// The Postgres channel every order change is announced on, with the
/// order's id as payload, once the change has committed
/// ([`Work::notify`](foodmesh_shared::work::Work::notify)); every instance's
/// listener hears it, which is what lets a watcher on one instance see a
/// change made on another.
pub const CHANGES_CHANNEL: &str = "order_changes";

foodmesh_shared::database_failures!(DomainError);

/// The pool, and the transactions the service runs on it; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

impl Store {
    /// Wraps a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for listeners and the event bus.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn begin(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        Ok(self.pool.begin().await?)
    }

    /// A read-only transaction that sees one snapshot of the database
    /// throughout, for reads that must agree with each other.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn begin_snapshot(&self) -> Result<Transaction<'static, Postgres>, DomainError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?)
    }

    /// A connection for reads that need no transaction.
    ///
    /// # Errors
    /// The pool cannot give a connection.
    pub async fn conn(&self) -> Result<sqlx::pool::PoolConnection<Postgres>, DomainError> {
        Ok(self.pool.acquire().await?)
    }
}

// Written once here: what an `Order` is read from, whether selected or
// returned by the insert that made it.
macro_rules! order_columns {
    () => {
        "id, order_number, restaurant_id, restaurant_name, customer_id, guest,
         contact_name, contact_phone, contact_email, order_type, source, status,
         table_number, delivery_street, delivery_city, delivery_state, delivery_zip_code,
         delivery_country, delivery_latitude, delivery_longitude, currency, subtotal_minor, discount_minor, delivery_fee_minor,
         tax_minor, total_minor, tax_rate_ppm, coupon_code, coupon_kind, coupon_value,
         coupon_min_order_minor, payment_method, notes, pickup_street, pickup_city,
         pickup_state, pickup_zip_code, pickup_country, pickup_latitude, pickup_longitude,
         prep_minutes, version, created_at, updated_at, confirmed_at"
    };
}

// Narrowed by their callers.
macro_rules! select_orders {
    () => {
        concat!("SELECT ", order_columns!(), " FROM orders")
    };
}

macro_rules! select_lines {
    () => {
        "SELECT id, order_id, menu_item_id, name, quantity, unit_price_minor, line_total_minor,
                option_ids, option_names, option_deltas_minor, special_instructions
         FROM order_lines"
    };
}

macro_rules! select_history {
    () => {
        "SELECT id, from_status, to_status, actor_kind, actor_id, reason, at
         FROM order_status_history"
    };
}

mod changes;
mod coupons;
mod customers;
mod keys;
mod new_order;
mod orders;
mod rows;

pub use changes::*;
pub use coupons::*;
pub use customers::*;
pub use keys::*;
pub use new_order::*;
pub use orders::*;
