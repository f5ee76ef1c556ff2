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
