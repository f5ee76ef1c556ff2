//! The books add up: after a mixed run of payments (captured, refunded in
//! parts and in full, voided, declined) over two restaurants, every
//! payment's and every restaurant's balance recomputed from the ledger
//! alone equals the figures stored with the payments.

use std::collections::BTreeMap;

use accounting_svc::domain::payment::{Change, Method, PaymentStatus};
use accounting_svc::service::Accounting;
use chrono::Utc;

use crate::helpers::{insert, migrated, new_payment};

#[tokio::test]
async fn every_balance_recomputed_from_the_ledger_matches_the_stored_figures() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let methods = [Method::Card, Method::Cash, Method::MobileMoney];
    for n in 0..30_i64 {
        let method = methods[usize::try_from(n % 3).expect("small")];
        let payment = insert(
            &pool,
            &new_payment(
                100 + n,
                1 + n % 2,
                method,
                PaymentStatus::Created,
                1_000 + 37 * n,
                0,
            ),
        )
        .await;
        let id = payment.id;
        let step = |change: Change| {
            let accounting = accounting.clone();
            async move {
                accounting
                    .change(id, &change, Utc::now())
                    .await
                    .expect("allowed")
            }
        };
        match n % 5 {
            // Declined.
            0 => {
                step(Change::Decline {
                    reason: "card_declined".to_owned(),
                })
                .await;
            }
            // Held, then released.
            1 => {
                step(Change::Authorize).await;
                step(Change::Void).await;
            }
            // Captured.
            2 => {
                step(Change::Authorize).await;
                step(Change::Capture).await;
            }
            // Captured, then refunded in two parts.
            3 => {
                step(Change::Authorize).await;
                step(Change::Capture).await;
                accounting
                    .refund(id, 300, "cold", None, Utc::now())
                    .await
                    .expect("refunded");
                accounting
                    .refund(id, 11 * n, "late", None, Utc::now())
                    .await
                    .expect("refunded");
            }
            // Captured, then refunded in full.
            _ => {
                step(Change::Authorize).await;
                let taken = step(Change::Capture).await;
                accounting
                    .refund(id, taken.captured_minor, "cancelled", None, Utc::now())
                    .await
                    .expect("refunded");
            }
        }
    }

    // Stored: what each payment kept, and so what each restaurant is owed.
    let stored: Vec<(i64, i64, i64, i64)> =
        sqlx::query_as("SELECT id, restaurant_id, captured_minor, refunded_minor FROM payments")
            .fetch_all(&pool)
            .await
            .expect("the payments");
    let mut owed: BTreeMap<i64, i64> = BTreeMap::new();
    for (_, restaurant, captured, refunded) in &stored {
        *owed.entry(*restaurant).or_default() += captured - refunded;
    }

    // Recomputed from the ledger alone.
    let by_payment: BTreeMap<i64, i64> = sqlx::query_as::<_, (i64, i64)>(
        "SELECT t.payment_id, sum(p.amount_minor)::BIGINT
         FROM ledger_postings p JOIN ledger_transactions t ON t.id = p.transaction_id
         WHERE p.account LIKE 'provider:%' GROUP BY t.payment_id",
    )
    .fetch_all(&pool)
    .await
    .expect("the ledger")
    .into_iter()
    .collect();
    for (id, _, captured, refunded) in &stored {
        let kept = by_payment.get(id).copied().unwrap_or(0);
        assert_eq!(kept, captured - refunded, "payment {id}");
    }
    let by_restaurant: BTreeMap<i64, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT account, -sum(amount_minor)::BIGINT FROM ledger_postings
         WHERE account LIKE 'restaurant:%' GROUP BY account",
    )
    .fetch_all(&pool)
    .await
    .expect("the ledger")
    .into_iter()
    .map(|(account, sum)| {
        let id = account
            .strip_prefix("restaurant:")
            .and_then(|id| id.parse().ok())
            .expect("a restaurant account");
        (id, sum)
    })
    .collect();
    assert_eq!(by_restaurant, owed);
    let total: i64 = sqlx::query_scalar("SELECT sum(amount_minor)::BIGINT FROM ledger_postings")
        .fetch_one(&pool)
        .await
        .expect("the ledger");
    assert_eq!(total, 0, "double entry: everything sums to zero");
    assert!(owed.values().all(|v| *v > 0), "{owed:?}");
}
