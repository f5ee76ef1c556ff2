//! Paying an order through the service: the sandbox card decides from
//! Stripe's test tokens, a decline leaves the order payable again, the
//! amount must be the order's, and an order has one live payment.

use accounting_svc::domain::DomainError;
use accounting_svc::domain::invoice::OrderFacts;
use accounting_svc::domain::payment::{Method, PaymentStatus};
use accounting_svc::service::Accounting;
use accounting_svc::service::pay::PaymentRequest;
use chrono::Utc;
use sqlx::PgPool;

use crate::helpers::migrated;

fn order(order_id: i64) -> OrderFacts {
    crate::helpers::order_facts(order_id, 7, 2_599)
}

fn card(source: Option<&str>) -> PaymentRequest {
    PaymentRequest {
        method: Method::Card,
        stated_minor: None,
        source: source.map(str::to_owned),
    }
}

async fn events(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM outbox ORDER BY created_at, id")
        .fetch_all(pool)
        .await
        .expect("the outbox")
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_payable_with_another() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let declined = accounting
        .pay(
            &order(1),
            &card(Some("tok_chargeDeclinedInsufficientFunds")),
            None,
            Utc::now(),
        )
        .await
        .expect("a payment, declined");
    assert_eq!(declined.payment.status, PaymentStatus::Declined);
    let reason: Option<String> =
        sqlx::query_scalar("SELECT decline_reason FROM payments WHERE id = $1")
            .bind(declined.payment.id)
            .fetch_one(&pool)
            .await
            .expect("the payment");
    assert_eq!(reason.as_deref(), Some("insufficient_funds"));

    let paid = accounting
        .pay(
            &order(1),
            &card(Some("4242 4242 4242 4242")),
            None,
            Utc::now(),
        )
        .await
        .expect("authorized");
    assert_eq!(
        (
            paid.payment.status,
            paid.payment.amount_minor,
            paid.payment.captured_minor
        ),
        (PaymentStatus::Authorized, 2_599, 0)
    );
    assert_eq!(
        events(&pool).await,
        ["payment.declined", "payment.authorized"]
    );

    // Paid now: another attempt is refused and writes nothing.
    let again = accounting
        .pay(&order(1), &card(None), None, Utc::now())
        .await;
    assert!(
        matches!(again, Err(DomainError::AlreadyPaid(1))),
        "{again:?}"
    );
    assert_eq!(events(&pool).await.len(), 2);

    // The order's payments: the live one first, then the declined attempt.
    let listed: Vec<_> = accounting
        .payments_of_order(1)
        .await
        .expect("the order's payments")
        .iter()
        .map(|r| (r.payment.id, r.payment.status))
        .collect();
    assert_eq!(
        listed,
        [
            (paid.payment.id, PaymentStatus::Authorized),
            (declined.payment.id, PaymentStatus::Declined)
        ]
    );
    let none = accounting.payments_of_order(2).await.expect("no payments");
    assert!(none.is_empty());
}

#[tokio::test]
async fn the_amount_is_the_order_s_and_the_source_must_be_the_sandbox_s() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let mut wrong = card(Some("tok_visa"));
    wrong.stated_minor = Some(2_000);
    let refused = accounting.pay(&order(2), &wrong, None, Utc::now()).await;
    assert!(
        matches!(
            refused,
            Err(DomainError::AmountMismatch {
                total_minor: 2_599,
                ..
            })
        ),
        "{refused:?}"
    );
    let unknown = accounting
        .pay(
            &order(2),
            &card(Some("4111 1111 1111 1111")),
            None,
            Utc::now(),
        )
        .await;
    assert!(
        matches!(unknown, Err(DomainError::Invalid(_))),
        "{unknown:?}"
    );
    let mut right = card(Some("tok_visa"));
    right.stated_minor = Some(2_599);
    accounting
        .pay(&order(2), &right, None, Utc::now())
        .await
        .expect("the stated amount is the total");
}

#[tokio::test]
async fn cash_is_held_at_once_and_confirmations_wait() {
    let (_db, pool) = migrated(4).await;
    let accounting = Accounting::new(pool.clone(), "test:accounting".to_owned());
    let method = |method| PaymentRequest {
        method,
        stated_minor: None,
        source: None,
    };
    let cash = accounting
        .pay(&order(3), &method(Method::Cash), None, Utc::now())
        .await
        .expect("paid");
    assert_eq!(cash.payment.status, PaymentStatus::Authorized);
    let phone = accounting
        .pay(&order(4), &method(Method::MobileMoney), None, Utc::now())
        .await
        .expect("asked");
    assert_eq!(phone.payment.status, PaymentStatus::Created);
    let secure = accounting
        .pay(
            &order(5),
            &card(Some("tok_threeDSecure2Required")),
            None,
            Utc::now(),
        )
        .await
        .expect("asked");
    assert_eq!(secure.payment.status, PaymentStatus::Created);
    assert_eq!(
        events(&pool).await,
        ["payment.authorized"],
        "waiting is not news"
    );
}
