//! The ledger's rules as the database enforces them, whatever the code
//! does: postings that do not balance are refused at commit, and no row is
//! ever updated, deleted or truncated.

use sqlx::PgPool;

use crate::helpers::migrated;

/// A captured payment of 25.00 USD for order `order` at restaurant 7,
/// posted as given; its ledger transaction's id.
async fn a_capture(
    pool: &PgPool,
    order: i64,
    provider_amount: i64,
    restaurant_amount: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let payment: i64 = sqlx::query_scalar(
        "INSERT INTO payments (order_id, restaurant_id, method, status, currency, amount_minor,
                               captured_minor, provider, created_at, updated_at)
         VALUES ($1, 7, 'card', 'captured', 'USD', 2500, 2500, 'sandbox', now(), now())
         RETURNING id",
    )
    .bind(order)
    .fetch_one(&mut *tx)
    .await?;
    let transaction: i64 = sqlx::query_scalar(
        "INSERT INTO ledger_transactions (kind, payment_id, order_id, restaurant_id, currency, at)
         VALUES ('capture', $1, $2, 7, 'USD', now()) RETURNING id",
    )
    .bind(payment)
    .bind(order)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO ledger_postings (transaction_id, account, amount_minor)
         VALUES ($1, 'provider:card', $2), ($1, 'restaurant:7', $3)",
    )
    .bind(transaction)
    .bind(provider_amount)
    .bind(restaurant_amount)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(transaction)
}

#[tokio::test]
async fn a_balanced_transaction_is_kept_and_an_unbalanced_one_refused_at_commit() {
    let (_db, pool) = migrated(2).await;
    a_capture(&pool, 1, 2500, -2500).await.expect("balanced");
    let refused = a_capture(&pool, 2, 2500, -2400)
        .await
        .expect_err("does not balance");
    assert!(
        refused.to_string().contains("does not balance"),
        "{refused}"
    );
    let transactions: i64 = sqlx::query_scalar("SELECT count(*) FROM ledger_transactions")
        .fetch_one(&pool)
        .await
        .expect("counts");
    assert_eq!(transactions, 1, "the refused one left nothing");
}

#[tokio::test]
async fn no_ledger_row_is_ever_updated_deleted_or_truncated() {
    let (_db, pool) = migrated(2).await;
    let transaction = a_capture(&pool, 1, 2500, -2500).await.expect("balanced");
    for statement in [
        "UPDATE ledger_postings SET amount_minor = amount_minor * 2",
        "DELETE FROM ledger_postings",
        "TRUNCATE ledger_postings",
        "UPDATE ledger_transactions SET kind = 'refund'",
        "DELETE FROM ledger_transactions",
        "TRUNCATE ledger_transactions CASCADE",
    ] {
        let refused = sqlx::query(statement)
            .execute(&pool)
            .await
            .expect_err(statement);
        assert!(
            refused.to_string().contains("append-only"),
            "{statement}: {refused}"
        );
    }
    let sum: i64 = sqlx::query_scalar(
        "SELECT sum(amount_minor)::BIGINT FROM ledger_postings WHERE transaction_id = $1 AND amount_minor > 0",
    )
    .bind(transaction)
    .fetch_one(&pool)
    .await
    .expect("sums");
    assert_eq!(sum, 2500, "unchanged");
}

#[tokio::test]
async fn an_order_has_one_live_payment_and_its_refunds_never_pass_its_capture() {
    let (_db, pool) = migrated(2).await;
    let insert = |status: &'static str| {
        sqlx::query(
            "INSERT INTO payments (order_id, restaurant_id, method, status, currency, amount_minor,
                                   provider, created_at, updated_at)
             VALUES (9, 7, 'card', $1, 'USD', 1000, 'sandbox', now(), now())",
        )
        .bind(status)
        .execute(&pool)
    };
    insert("declined").await.expect("a declined attempt");
    insert("authorized").await.expect("paying again");
    insert("created").await.expect_err("a second live payment");
    let over = sqlx::query(
        "UPDATE payments SET captured_minor = 1000, refunded_minor = 1001 WHERE order_id = 9 AND status = 'authorized'",
    )
    .execute(&pool)
    .await
    .expect_err("refunded past the capture");
    assert!(over.to_string().contains("check"), "{over}");
}
