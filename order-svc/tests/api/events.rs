//! Orders moved by other services' events, written to their streams as
//! they would write them: payment, kitchen and delivery.

use foodmesh_proto::accounting::v1::Payment;
use foodmesh_proto::common::v1::{ActorKind, Money};
use foodmesh_proto::delivery::v1::Delivery;
use foodmesh_proto::events::v1::{DeliveryEvent, PaymentEvent, TicketEvent};
use foodmesh_proto::kitchen::v1::Ticket;
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::ServiceName;
use foodmesh_shared::testing;
use pb::OrderStatus as S;

use crate::helpers::{TestApp, paid_by, seed_order, spawn_app, takeout};

fn payment(order_id: i64) -> PaymentEvent {
    PaymentEvent {
        payment: Some(Payment {
            order_id,
            ..Default::default()
        }),
        amount: None,
    }
}

fn ticket(order_id: i64, reason: &str) -> TicketEvent {
    TicketEvent {
        ticket: Some(Ticket {
            order_id,
            reason: reason.to_owned(),
            ..Default::default()
        }),
    }
}

fn delivery(order_id: i64) -> DeliveryEvent {
    DeliveryEvent {
        delivery: Some(Delivery {
            order_id,
            ..Default::default()
        }),
    }
}

async fn confirmations(app: &TestApp) -> usize {
    app.outbox()
        .await
        .iter()
        .filter(|t| *t == "order.confirmed")
        .count()
}

#[tokio::test]
async fn a_card_order_waits_for_its_payment_and_is_confirmed_once_even_if_the_event_comes_twice() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Card, seed_order(&menu)))
        .await;
    assert_eq!(order.status(), S::Pending);

    let event = app
        .publish(
            ServiceName::Accounting,
            "payment.authorized",
            order.id,
            &payment(order.id),
        )
        .await;
    app.deliver(ServiceName::Accounting, &event).await;
    let confirmed = app.wait_for_status(order.id, S::Confirmed).await;
    // A second authorization (another event id) finds the order confirmed.
    app.publish(
        ServiceName::Accounting,
        "payment.authorized",
        order.id,
        &payment(order.id),
    )
    .await;
    app.wait_until_consumed(ServiceName::Accounting).await;

    assert!(confirmed.confirmed_at.is_some());
    let history = app.history(order.id).await;
    let confirmations_in_history: Vec<_> =
        history.iter().filter(|c| c.to() == S::Confirmed).collect();
    assert_eq!(confirmations_in_history.len(), 1);
    let who = confirmations_in_history[0].actor.as_ref().expect("actor");
    assert_eq!(
        (who.kind(), who.id.as_str()),
        (ActorKind::System, "accounting-svc")
    );
    assert_eq!(confirmations(&app).await, 1);
    assert_eq!(app.get(order.id).await.status(), S::Confirmed);
}

#[tokio::test]
async fn an_authorization_for_less_than_the_total_does_not_confirm() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Card, takeout(&menu, 1)))
        .await;
    let mut short = payment(order.id);
    short.payment.as_mut().expect("payment").amount = Some(Money {
        amount_minor: 100,
        currency: "USD".to_owned(),
    });

    app.publish(
        ServiceName::Accounting,
        "payment.authorized",
        order.id,
        &short,
    )
    .await;
    app.publish(
        ServiceName::Accounting,
        "payment.authorized",
        order.id,
        &payment(order.id),
    )
    .await;

    app.wait_for_status(order.id, S::Confirmed).await;
    assert_eq!(confirmations(&app).await, 1);
}

#[tokio::test]
async fn kitchen_and_delivery_events_move_an_order_through_its_life() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::MobileMoney, seed_order(&menu)))
        .await;
    let id = order.id;

    app.publish(
        ServiceName::Accounting,
        "payment.authorized",
        id,
        &payment(id),
    )
    .await;
    app.wait_for_status(id, S::Confirmed).await;
    app.publish(
        ServiceName::Kitchen,
        "ticket.preparing",
        id,
        &ticket(id, ""),
    )
    .await;
    app.wait_for_status(id, S::Preparing).await;
    app.publish(ServiceName::Kitchen, "ticket.ready", id, &ticket(id, ""))
        .await;
    app.wait_for_status(id, S::Ready).await;
    // The kitchen's "picked up" is the driver's for a delivery order: only
    // delivery-svc's events move it on.
    app.publish(
        ServiceName::Kitchen,
        "ticket.picked_up",
        id,
        &ticket(id, ""),
    )
    .await;
    app.publish(
        ServiceName::Delivery,
        "delivery.picked_up",
        id,
        &delivery(id),
    )
    .await;
    app.wait_for_status(id, S::OutForDelivery).await;
    app.publish(
        ServiceName::Delivery,
        "delivery.delivered",
        id,
        &delivery(id),
    )
    .await;
    app.wait_for_status(id, S::Completed).await;

    let history = app.history(id).await;
    let sources: Vec<_> = history
        .iter()
        .skip(1)
        .map(|c| c.actor.as_ref().expect("actor").id.clone())
        .collect();
    assert_eq!(
        sources,
        [
            "accounting-svc",
            "kitchen-svc",
            "kitchen-svc",
            "delivery-svc",
            "delivery-svc"
        ]
    );
}

#[tokio::test]
async fn a_takeout_order_is_completed_when_its_ticket_is_picked_up() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;
    app.advance(order.id, &[S::Preparing, S::Ready]).await;

    app.publish(
        ServiceName::Kitchen,
        "ticket.picked_up",
        order.id,
        &ticket(order.id, ""),
    )
    .await;

    app.wait_for_status(order.id, S::Completed).await;
}

#[tokio::test]
async fn a_rejected_ticket_cancels_the_order_with_its_reason() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;

    app.publish(
        ServiceName::Kitchen,
        "ticket.rejected",
        order.id,
        &ticket(order.id, "out of mozzarella"),
    )
    .await;

    app.wait_for_status(order.id, S::Cancelled).await;
    let last = app.history(order.id).await.pop().expect("history");
    assert_eq!(last.reason, "out of mozzarella");
    assert_eq!(last.actor.expect("actor").kind(), ActorKind::System);
}

#[tokio::test]
async fn an_event_that_does_not_fit_the_order_is_ignored_and_the_stream_flows_on() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Card, takeout(&menu, 1)))
        .await;

    app.publish(
        ServiceName::Kitchen,
        "ticket.ready",
        order.id,
        &ticket(order.id, ""),
    )
    .await;
    app.publish(
        ServiceName::Delivery,
        "delivery.delivered",
        999_999,
        &delivery(999_999),
    )
    .await;
    app.publish(
        ServiceName::Accounting,
        "payment.authorized",
        order.id,
        &payment(order.id),
    )
    .await;

    app.wait_for_status(order.id, S::Confirmed).await;
    assert_eq!(app.history(order.id).await.len(), 2);
}

#[tokio::test]
async fn a_finished_test_leaves_none_of_its_event_streams_behind() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.an_order(paid_by(pb::PaymentMethod::Cash, seed_order(&menu)))
        .await;
    let prefix = app.streams.prefix().to_owned();
    let own_stream = format!("{prefix}:order");
    let mut published = false;
    for _ in 0..500 {
        let keys = testing::keys_under_prefix(&prefix).expect("redis answers");
        if keys.contains(&own_stream) {
            published = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(published, "the order's events reach {own_stream}");

    drop(app);

    assert_eq!(
        testing::keys_under_prefix(&prefix).expect("redis answers"),
        Vec::<String>::new()
    );
}
