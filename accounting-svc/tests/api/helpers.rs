//! What the tests start from.

use accounting_svc::domain::invoice::{InvoiceLine, OrderFacts};
use accounting_svc::domain::payment::{Method, Payment, PaymentStatus};
use accounting_svc::store::{self, NewPayment};
use chrono::Utc;
use foodmesh_shared::db;
use foodmesh_shared::testing::TestDb;
use sqlx::PgPool;

/// A fresh database, migrated, and a pool of `connections` on it; the
/// database goes when the first value drops.
pub async fn migrated(connections: u32) -> (TestDb, PgPool) {
    let db = TestDb::new("accounting").await;
    let pool = db::connect(db.url(), connections, &accounting_svc::MIGRATOR)
        .await
        .expect("migrates");
    (db, pool)
}

/// A USD payment through the sandbox of `amount_minor` for order
/// `order_id` at restaurant `restaurant_id`, as `status` with
/// `captured_minor` taken.
pub fn new_payment(
    order_id: i64,
    restaurant_id: i64,
    method: Method,
    status: PaymentStatus,
    amount_minor: i64,
    captured_minor: i64,
) -> NewPayment {
    NewPayment {
        order_id,
        restaurant_id,
        method,
        status,
        currency: "USD".to_owned(),
        amount_minor,
        captured_minor,
        provider: "sandbox".to_owned(),
        provider_reference: None,
        decline_reason: None,
    }
}

/// Records `payment` now.
pub async fn insert(pool: &PgPool, payment: &NewPayment) -> Payment {
    let mut conn = pool.acquire().await.expect("a connection");
    store::insert_payment(&mut conn, payment, Utc::now())
        .await
        .expect("inserted")
}

/// A pending USD order of `total_minor` at restaurant `restaurant_id`, as
/// order-svc would show it: one line, no discount, fee or tax, no method
/// chosen yet.
pub fn order_facts(order_id: i64, restaurant_id: i64, total_minor: i64) -> OrderFacts {
    OrderFacts {
        order_id,
        restaurant_id,
        customer_id: 11,
        currency: "USD".to_owned(),
        lines: vec![InvoiceLine {
            description: "Margherita".to_owned(),
            quantity: 1,
            unit_price_minor: total_minor,
            total_minor,
        }],
        subtotal_minor: total_minor,
        discount_minor: 0,
        delivery_fee_minor: 0,
        tax_minor: 0,
        total_minor,
        method: None,
        pending: true,
        updated_at: Utc::now(),
    }
}
