//! The one statement that writes a new order, on the service's own
//! database: what it does when the number is taken or the key's claim was
//! lost, which no client can bring about on purpose.

use std::time::Duration;

use chrono::Utc;
use order_svc::domain::order::{
    Actor, ActorKind, Contact, CustomerRef, Fulfilment, LineInput, NewOrder, OrderSource,
    PaymentMethod,
};
use order_svc::domain::placing::{self, Placing};
use order_svc::domain::pricing::{PricedLine, PricedOrder};
use order_svc::domain::{PostalAddress, Text};
use order_svc::store::{self, Claim, KeyClaim, NewOrderRows, NewOrderWrite};

use crate::helpers::{TestApp, spawn_app};

const CUSTOMER: i64 = 7;

fn priced() -> PricedOrder {
    PricedOrder {
        restaurant_name: "Pizza Palace".to_owned(),
        currency: "USD".to_owned(),
        lines: vec![PricedLine {
            menu_item_id: 1,
            name: "Margherita".to_owned(),
            quantity: 2,
            unit_price_minor: 1299,
            line_total_minor: 2598,
            options: Vec::new(),
        }],
        subtotal_minor: 2598,
        delivery_fee_minor: 0,
        tax_rate_ppm: 0,
        prep_minutes: 20,
        address: PostalAddress {
            street: "123 Main St".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10001".to_owned(),
            country: "US".to_owned(),
        },
        location: None,
    }
}

/// Writes order `number` for [`CUSTOMER`] in a transaction that commits
/// only when it was written; the key, when given, under `claim`.
async fn write(pool: &sqlx::PgPool, number: &str, claim: Option<i64>) -> NewOrderWrite {
    let new = NewOrder {
        restaurant_id: 1,
        customer: CustomerRef::Registered(CUSTOMER),
        fulfilment: Fulfilment::Takeout,
        source: OrderSource::Web,
        lines: vec![LineInput::parse(1, 2, &[], "", None).expect("a valid line")],
        coupon_code: None,
        payment_method: Some(PaymentMethod::Card),
        notes: Text::default(),
    };
    let actor = Actor {
        kind: ActorKind::Customer,
        id: CUSTOMER.to_string(),
    };
    let placement = placing::place(&Placing {
        order: &new,
        actor: &actor,
        system: &Actor::system("order-svc"),
        priced: &priced(),
        coupon: None,
        now: Utc::now(),
    })
    .expect("placed");
    let order = placement.order(number, CUSTOMER, Contact::default());
    let rows = NewOrderRows {
        order: &order,
        history: &placement.history,
        access_token: None,
        key: claim.map(|claim| KeyClaim {
            scope: "customer:7",
            key: "k-1",
            claim,
        }),
    };
    let mut tx = pool.begin().await.expect("begin");
    let written = store::insert_new_order(&mut tx, &rows)
        .await
        .expect("statement");
    if matches!(written, NewOrderWrite::Written(..)) {
        tx.commit().await.expect("commit");
    }
    written
}

/// The service on a fresh database where [`CUSTOMER`] has a profile.
async fn app_with_customer() -> TestApp {
    let app = spawn_app().await;
    sqlx::query("INSERT INTO customers (id) VALUES ($1)")
        .bind(CUSTOMER)
        .execute(&app.pool)
        .await
        .expect("customer");
    app
}

#[tokio::test]
async fn an_order_whose_key_another_request_took_is_not_written() {
    let app = app_with_customer().await;
    let pool = &app.pool;
    let mut conn = pool.acquire().await.expect("conn");
    let claimed = store::claim_key(
        &mut conn,
        "customer:7",
        "k-1",
        b"f",
        1,
        Duration::from_secs(30),
        Utc::now(),
    )
    .await
    .expect("claim");
    assert_eq!(claimed, Claim::Claimed(1));

    // Under a claim that is not the key's: another request holds it.
    let lost = write(pool, "AAA111", Some(2)).await;
    assert!(matches!(lost, NewOrderWrite::KeyLost), "{lost:?}");
    for table in ["orders", "order_lines", "order_status_history"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }

    // Under its own claim: written, lines and history with it, key bound.
    let NewOrderWrite::Written(order, changes) = write(pool, "AAA111", Some(1)).await else {
        panic!("not written");
    };
    assert_eq!(order.lines.len(), 1);
    assert_eq!(changes.len(), 1);
    let used = store::key_use(&mut conn, "customer:7", "k-1")
        .await
        .expect("key use")
        .expect("key");
    assert_eq!(used.order_id, Some(order.id));
}

#[tokio::test]
async fn an_order_whose_number_is_taken_writes_nothing_more() {
    let app = app_with_customer().await;
    let pool = &app.pool;

    assert!(matches!(
        write(pool, "BBB222", None).await,
        NewOrderWrite::Written(..)
    ));
    let again = write(pool, "BBB222", None).await;

    assert!(matches!(again, NewOrderWrite::NumberTaken), "{again:?}");
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("order_lines").await, 1);
    assert_eq!(app.count("order_status_history").await, 1);
}
