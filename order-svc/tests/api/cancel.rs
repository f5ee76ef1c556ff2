//! Who may cancel, and when: the customer while PENDING and shortly after
//! confirmation, the restaurant until it is ready (with a reason once it is
//! cooking), nobody afterwards.

use std::time::Duration;

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::order::v1 as pb;
use order_svc::OrderConfig;
use pb::OrderStatus as S;
use tonic::Code;

use crate::helpers::{
    actor, customer, fields, paid_by, reason, spawn_app, spawn_app_with_manual_clock, staff,
    takeout,
};

#[tokio::test]
async fn a_customer_cancels_their_pending_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 5)).await;

    let cancelled = app
        .cancel(order.id, customer(5), "changed my mind", "")
        .await
        .expect("cancelled");

    assert_eq!(cancelled.status(), S::Cancelled);
    let last = app.history(order.id).await.pop().expect("history");
    assert_eq!(last.reason, "changed my mind");
    let who = last.actor.expect("actor");
    assert_eq!((who.kind(), who.id.as_str()), (ActorKind::Customer, "5"));
    assert_eq!(app.outbox().await, ["order.created", "order.cancelled"]);
}

#[tokio::test]
async fn a_customer_cannot_cancel_someone_elses_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 5)).await;

    let refused = app
        .cancel(order.id, customer(6), "", "")
        .await
        .expect_err("not theirs");

    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(reason(&refused), "ACCESS_DENIED");
    assert_eq!(app.get(order.id).await.status(), S::Pending);
}

#[tokio::test]
async fn a_customer_cancels_a_confirmed_order_only_within_the_window() {
    let app = spawn_app_with_manual_clock().await;
    let menu = app.a_menu().await;
    let early = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 5)))
        .await;
    let late = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 5)))
        .await;
    let window = OrderConfig::default().cancel_window;

    app.clock.advance(window);
    let in_time = app.cancel(early.id, customer(5), "", "").await;
    app.clock.advance(Duration::from_secs(1));
    let too_late = app
        .cancel(late.id, customer(5), "", "")
        .await
        .expect_err("the window has closed");
    let by_restaurant = app.cancel(late.id, staff(), "no more pizza", "").await;

    assert_eq!(in_time.expect("within the window").status(), S::Cancelled);
    assert_eq!(too_late.code(), Code::FailedPrecondition);
    assert_eq!(reason(&too_late), "CANCEL_WINDOW_CLOSED");
    assert_eq!(by_restaurant.expect("staff may").status(), S::Cancelled);
}

#[tokio::test]
async fn an_order_says_until_when_its_customer_may_cancel_it() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let pending = app.an_order(takeout(&menu, 5)).await;
    let confirmed = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 5)))
        .await;
    let window = i64::try_from(OrderConfig::default().cancel_window.as_secs()).expect("minutes");

    let confirmed_at = confirmed
        .confirmed_at
        .expect("a cash order is confirmed at once");
    let until = confirmed
        .customer_cancel_until
        .expect("a deadline once confirmed");
    assert_eq!(
        (until.seconds, until.nanos),
        (confirmed_at.seconds + window, confirmed_at.nanos)
    );
    assert_eq!(
        app.get(confirmed.id).await.customer_cancel_until,
        Some(until)
    );
    // A pending order may go until it is confirmed, a cancelled one not at all.
    assert_eq!(pending.customer_cancel_until, None);
    let cancelled = app
        .cancel(confirmed.id, customer(5), "", "")
        .await
        .expect("within the window");
    assert_eq!(cancelled.customer_cancel_until, None);
}

#[tokio::test]
async fn the_restaurant_cancels_an_order_being_prepared_only_with_a_reason() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 5)))
        .await;
    app.advance(order.id, &[S::Preparing]).await;

    let by_customer = app
        .cancel(order.id, customer(5), "hungry no more", "")
        .await
        .expect_err("too late for the customer");
    let without_reason = app
        .cancel(order.id, staff(), "  ", "")
        .await
        .expect_err("a reason is needed");
    let cancelled = app
        .cancel(order.id, staff(), "oven broke", "")
        .await
        .expect("with a reason");

    assert_eq!(reason(&by_customer), "INVALID_TRANSITION");
    assert_eq!(without_reason.code(), Code::InvalidArgument);
    assert_eq!(fields(&without_reason), ["reason"]);
    assert_eq!(cancelled.status(), S::Cancelled);
    let last = app.history(order.id).await.pop().expect("history");
    assert_eq!(last.reason, "oven broke");
}

#[tokio::test]
async fn nobody_cancels_a_ready_order_and_drivers_never_cancel() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let pending = app.an_order(takeout(&menu, 5)).await;
    let ready = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 5)))
        .await;
    app.advance(ready.id, &[S::Preparing, S::Ready]).await;

    let driver = app
        .cancel(pending.id, actor(ActorKind::Driver, "d-1"), "", "")
        .await
        .expect_err("drivers do not cancel");
    let admin = app
        .cancel(ready.id, actor(ActorKind::Admin, "root"), "test", "")
        .await
        .expect_err("too late for anyone");

    assert_eq!(reason(&driver), "INVALID_TRANSITION");
    assert_eq!(reason(&admin), "INVALID_TRANSITION");
}
