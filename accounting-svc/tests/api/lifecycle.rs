//! A payment moved along its lifecycle through the service: what each step
//! writes to the payment, the ledger and the outbox, and what it refuses.

use accounting_svc::domain::DomainError;
use accounting_svc::domain::payment::{Change, Method, PaymentStatus};
use accounting_svc::service::Accounting;
use chrono::Utc;
use sqlx::PgPool;

use crate::helpers::{insert, migrated, new_payment};

async fn created_payment(pool: &PgPool, order_id: i64) -> i64 {
    let new = new_payment(order_id, 7, Method::Card, PaymentStatus::Created, 1_800, 0);
    insert(pool, &new).await.id
}

async fn events(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM outbox ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .expect("the outbox")
}

async fn postings(pool: &PgPool) -> Vec<(String, i64)> {
    sqlx::query_as("SELECT account, amount_minor FROM ledger_postings ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("the ledger")
}

#[tokio::test]
async fn authorize_then_capture_moves_the_money_once_and_says_so() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let id = created_payment(&pool, 1).await;

    let held = accounting
        .change(id, &Change::Authorize, Utc::now())
        .await
        .expect("authorized");
    assert_eq!(held.status, PaymentStatus::Authorized);
    assert!(postings(&pool).await.is_empty(), "a hold moves no money");

    let taken = accounting
        .change(id, &Change::Capture, Utc::now())
        .await
        .expect("captured");
    assert_eq!(
        (taken.status, taken.captured_minor),
        (PaymentStatus::Captured, 1_800)
    );
    assert_eq!(
        postings(&pool).await,
        [
            ("provider:card".to_owned(), 1_800),
            ("restaurant:7".to_owned(), -1_800)
        ]
    );
    // A second capture (a redelivered completion) is refused and writes
    // nothing more.
    let again = accounting.change(id, &Change::Capture, Utc::now()).await;
    assert!(
        matches!(again, Err(DomainError::InvalidTransition { .. })),
        "{again:?}"
    );
    assert_eq!(postings(&pool).await.len(), 2);
    assert_eq!(
        events(&pool).await,
        ["payment.authorized", "payment.captured"]
    );
}

#[tokio::test]
async fn a_decline_keeps_its_reason_and_a_void_releases_a_hold() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let declined = created_payment(&pool, 2).await;
    accounting
        .change(
            declined,
            &Change::Decline {
                reason: "insufficient_funds".to_owned(),
            },
            Utc::now(),
        )
        .await
        .expect("declined");
    let reason: Option<String> =
        sqlx::query_scalar("SELECT decline_reason FROM payments WHERE id = $1")
            .bind(declined)
            .fetch_one(&pool)
            .await
            .expect("the payment");
    assert_eq!(reason.as_deref(), Some("insufficient_funds"));

    // The order may be paid again after a decline; that hold is voided.
    let second = created_payment(&pool, 2).await;
    accounting
        .change(second, &Change::Authorize, Utc::now())
        .await
        .expect("authorized");
    let voided = accounting
        .change(second, &Change::Void, Utc::now())
        .await
        .expect("voided");
    assert_eq!(voided.status, PaymentStatus::Voided);
    assert!(postings(&pool).await.is_empty());
    assert_eq!(
        events(&pool).await,
        ["payment.declined", "payment.authorized", "payment.voided"]
    );
    let missing = accounting.change(9_999, &Change::Void, Utc::now()).await;
    assert!(
        matches!(missing, Err(DomainError::PaymentNotFound(9_999))),
        "{missing:?}"
    );
}
