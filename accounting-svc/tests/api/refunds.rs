//! Refunds under concurrency: however many arrive at once for one payment,
//! their sum never passes what was captured, the refused ones say what is
//! left, and the ledger agrees with the payment's figures.

use accounting_svc::domain::DomainError;
use accounting_svc::domain::ledger::Transaction;
use accounting_svc::domain::payment::{Applied, Method, PaymentStatus};
use accounting_svc::service::Accounting;
use accounting_svc::store;
use chrono::Utc;

use crate::helpers::{insert, migrated, new_payment};

#[tokio::test]
async fn fifty_refunds_at_once_never_give_back_more_than_was_captured() {
    let (_db, pool) = migrated(10).await;
    // A captured card payment of 25.00, with its capture in the ledger.
    let new = new_payment(42, 7, Method::Card, PaymentStatus::Captured, 2_500, 2_500);
    let payment = insert(&pool, &new).await;
    let mut conn = pool.acquire().await.expect("a connection");
    let capture = Applied {
        status: PaymentStatus::Captured,
        captured_minor: 2_500,
        refunded_minor: 0,
        moved_minor: 2_500,
        event_type: "payment.captured",
    };
    let transaction = Transaction::of(&payment, &capture).expect("money moved");
    store::record(&mut conn, &transaction, 7, Utc::now())
        .await
        .expect("recorded");
    drop(conn);

    // Fifty refunds of 1.00 each, all at once: 25 fit.
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let tasks: Vec<_> = (0..50)
        .map(|n| {
            let accounting = accounting.clone();
            tokio::spawn(async move {
                accounting
                    .refund(payment.id, 100, &format!("refund {n}"), None, Utc::now())
                    .await
            })
        })
        .collect();
    let mut made = 0;
    for task in tasks {
        match task.await.expect("the task ran") {
            Ok(_) => made += 1,
            Err(DomainError::RefundTooLarge {
                refundable_minor, ..
            }) => assert_eq!(refundable_minor, 0, "refused only once nothing is left"),
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(made, 25);

    let (refunded, status): (i64, String) =
        sqlx::query_as("SELECT refunded_minor, status FROM payments WHERE id = $1")
            .bind(payment.id)
            .fetch_one(&pool)
            .await
            .expect("the payment");
    assert_eq!((refunded, status.as_str()), (2_500, "refunded"));
    let refunds: i64 =
        sqlx::query_scalar("SELECT sum(amount_minor)::BIGINT FROM refunds WHERE payment_id = $1")
            .bind(payment.id)
            .fetch_one(&pool)
            .await
            .expect("the refunds");
    assert_eq!(refunds, 2_500);
    // The ledger says the same: the provider's account for this payment
    // is back at zero, and the restaurant is owed nothing.
    let balances: Vec<(String, i64)> = sqlx::query_as(
        "SELECT p.account, sum(p.amount_minor)::BIGINT
         FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
         WHERE t.payment_id = $1 GROUP BY p.account ORDER BY p.account",
    )
    .bind(payment.id)
    .fetch_all(&pool)
    .await
    .expect("the balances");
    assert_eq!(
        balances,
        [
            ("provider:card".to_owned(), 0),
            ("restaurant:7".to_owned(), 0)
        ]
    );
}
