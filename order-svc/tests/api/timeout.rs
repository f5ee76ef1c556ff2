//! The payment timeout: an order still PENDING after it is cancelled by the
//! service itself, and its coupon goes back. The service's clock is moved
//! past the timeout rather than waited for.

use std::time::Duration;

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::order::v1 as pb;
use foodmesh_proto::restaurant::v1 as rpb;
use order_svc::OrderConfig;
use pb::OrderStatus as S;

use crate::helpers::{paid_by, spawn_app_with_manual_clock, takeout};

#[tokio::test]
async fn an_unpaid_order_is_cancelled_after_the_timeout_and_its_coupon_released() {
    let app = spawn_app_with_manual_clock().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        restaurant_id: menu.restaurant_id,
        code: "WELCOME".to_owned(),
        kind: rpb::DiscountKind::Fixed.into(),
        value: 200,
        ..Default::default()
    })
    .await;
    let unpaid = app
        .an_order(pb::CreateOrderRequest {
            coupon_code: "WELCOME".to_owned(),
            ..paid_by(pb::PaymentMethod::Card, takeout(&menu, 1))
        })
        .await;
    let cash = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 2)))
        .await;
    assert_eq!(app.redemptions(menu.restaurant_id, "WELCOME").await, 1);

    app.clock
        .advance(OrderConfig::default().order_timeout + Duration::from_secs(1));
    app.wait_for_status(unpaid.id, S::Cancelled).await;

    let last = app.history(unpaid.id).await.pop().expect("history");
    assert_eq!(last.reason, "payment timeout");
    let who = last.actor.expect("actor");
    assert_eq!(
        (who.kind(), who.id.as_str()),
        (ActorKind::System, "order-svc")
    );
    app.wait_for_redemptions(menu.restaurant_id, "WELCOME", 0)
        .await;
    assert_eq!(app.get(cash.id).await.status(), S::Confirmed);
    assert!(app.outbox().await.contains(&"order.cancelled".to_owned()));
}

#[tokio::test]
async fn the_open_orders_gauge_counts_each_status_under_way_and_none_that_ended() {
    let app = spawn_app_with_manual_clock().await;
    let menu = app.a_menu().await;
    app.an_order(paid_by(pb::PaymentMethod::Card, takeout(&menu, 1)))
        .await;
    app.an_order(paid_by(pb::PaymentMethod::Card, takeout(&menu, 2)))
        .await;
    let cash = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 3)))
        .await;
    let done = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 4)))
        .await;
    app.advance(done.id, &[S::Preparing, S::Ready, S::Completed])
        .await;
    assert_eq!(app.get(cash.id).await.status(), S::Confirmed);

    // Counted at start, then every 15 s of the service's clock. Each test
    // runs in a process of its own: these are this test's figures.
    let gauge = |status: &str| format!(r#"orders_open{{status="{status}"}} "#);
    let expected = [
        (gauge("PENDING"), "2"),
        (gauge("CONFIRMED"), "1"),
        (gauge("PREPARING"), "0"),
        (gauge("READY"), "0"),
        (gauge("OUT_FOR_DELIVERY"), "0"),
    ];
    let counted = || {
        let metrics = foodmesh_shared::telemetry::prometheus().render();
        expected.iter().all(|(series, value)| {
            metrics
                .lines()
                .any(|l| l.strip_prefix(series.as_str()) == Some(value))
        })
    };
    for _ in 0..100 {
        if counted() {
            break;
        }
        app.clock.advance(Duration::from_secs(15));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = foodmesh_shared::telemetry::prometheus().render();
    assert!(counted(), "{metrics}");
    assert!(
        !metrics.contains(r#"orders_open{status="COMPLETED"}"#),
        "{metrics}"
    );
}
