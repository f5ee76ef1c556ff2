//! The state machine through UpdateOrderStatus: whole lives, refusals that
//! change nothing, and races with one winner.

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::order::v1 as pb;
use pb::OrderStatus as S;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::{actor, customer, paid_by, reason, seed_order, spawn_app, staff, takeout};

#[tokio::test]
async fn a_delivery_order_moves_through_its_whole_life_by_status_updates() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Card, seed_order(&menu)))
        .await;

    app.advance(order.id, &[S::Confirmed, S::Preparing, S::Ready])
        .await;
    let driver = actor(ActorKind::Driver, "driver-7");
    for status in [S::OutForDelivery, S::Completed] {
        app.set_status(order.id, status, driver.clone(), "")
            .await
            .unwrap_or_else(|e| panic!("{status:?}: {e:?}"));
    }

    assert_eq!(app.get(order.id).await.status(), S::Completed);
    let history = app.history(order.id).await;
    let path: Vec<_> = history.iter().map(pb::StatusChange::to).collect();
    assert_eq!(
        path,
        [
            S::Pending,
            S::Confirmed,
            S::Preparing,
            S::Ready,
            S::OutForDelivery,
            S::Completed
        ]
    );
    let last = history[5].actor.as_ref().expect("actor");
    assert_eq!(
        (last.kind(), last.id.as_str()),
        (ActorKind::Driver, "driver-7")
    );
    assert!(history.windows(2).all(|w| w[0].to == w[1].from));
    assert_eq!(
        app.outbox().await,
        [
            "order.created",
            "order.confirmed",
            "order.preparing",
            "order.ready",
            "order.out_for_delivery",
            "order.completed"
        ]
    );
}

#[tokio::test]
async fn a_takeout_order_completes_from_ready_and_never_goes_out_for_delivery() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;
    app.advance(order.id, &[S::Preparing, S::Ready]).await;

    let refused = app
        .set_status(order.id, S::OutForDelivery, staff(), "")
        .await
        .expect_err("takeout is not delivered");
    let done = app
        .set_status(order.id, S::Completed, staff(), "")
        .await
        .expect("completes");

    assert_eq!(reason(&refused), "INVALID_TRANSITION");
    assert_eq!(done.status(), S::Completed);
}

#[tokio::test]
async fn invalid_transitions_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 1)).await;

    let attempts = [
        (S::Ready, staff()),
        (S::Completed, staff()),
        (S::Pending, staff()),
        (S::Confirmed, customer(1)),
        (S::Confirmed, actor(ActorKind::Driver, "d")),
    ];
    for (status, who) in attempts {
        let refused = app
            .set_status(order.id, status, who, "")
            .await
            .expect_err("must be refused");
        assert_eq!(refused.code(), Code::FailedPrecondition, "{status:?}");
        assert_eq!(reason(&refused), "INVALID_TRANSITION", "{status:?}");
    }
    app.advance(order.id, &[S::Confirmed]).await;
    app.cancel(order.id, staff(), "closing early", "")
        .await
        .expect("staff cancel a confirmed order");
    let after_final = app
        .set_status(order.id, S::Preparing, staff(), "")
        .await
        .expect_err("nothing leaves CANCELLED");

    assert_eq!(reason(&after_final), "INVALID_TRANSITION");
    assert_eq!(app.get(order.id).await.status(), S::Cancelled);
    assert_eq!(app.history(order.id).await.len(), 3);
    assert_eq!(
        app.outbox().await,
        ["order.created", "order.confirmed", "order.cancelled"]
    );
}

#[tokio::test]
async fn of_racing_transitions_exactly_one_wins() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;

    let mut calls = JoinSet::new();
    for i in 0..6 {
        let mut client = app.client();
        // Half start preparing, half cancel: whichever commits first wins,
        // and the rest find the order moved on.
        let (status, reason) = if i % 2 == 0 {
            (S::Preparing, "")
        } else {
            (S::Cancelled, "out of dough")
        };
        let request = pb::UpdateOrderStatusRequest {
            id: order.id,
            status: status.into(),
            reason: reason.to_owned(),
            actor: Some(staff()),
        };
        calls.spawn(async move { client.update_order_status(request).await });
    }
    let mut won = Vec::new();
    while let Some(done) = calls.join_next().await {
        match done.expect("task runs") {
            Ok(order) => won.push(order.into_inner().status()),
            Err(refused) => {
                assert_eq!(refused.code(), Code::FailedPrecondition);
                assert_eq!(reason(&refused), "INVALID_TRANSITION");
            }
        }
    }

    // PREPARING → CANCELLED is allowed with a reason, so one preparing
    // winner may be followed by one cancelling winner; never more.
    let preparing = won.iter().filter(|s| **s == S::Preparing).count();
    let cancelled = won.iter().filter(|s| **s == S::Cancelled).count();
    assert!(
        preparing <= 1 && cancelled <= 1 && !won.is_empty(),
        "{won:?}"
    );
    let history = app.history(order.id).await;
    assert_eq!(history.len(), 2 + won.len());
}

#[tokio::test]
async fn of_identical_racing_transitions_one_succeeds_and_the_others_get_a_conflict() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;

    let mut calls = JoinSet::new();
    for _ in 0..5 {
        let mut client = app.client();
        let request = pb::UpdateOrderStatusRequest {
            id: order.id,
            status: S::Preparing.into(),
            reason: String::new(),
            actor: Some(staff()),
        };
        calls.spawn(async move { client.update_order_status(request).await });
    }
    let mut ok = 0;
    while let Some(done) = calls.join_next().await {
        match done.expect("task runs") {
            Ok(_) => ok += 1,
            Err(refused) => assert_eq!(reason(&refused), "INVALID_TRANSITION"),
        }
    }

    assert_eq!(ok, 1);
    let preparing = app
        .history(order.id)
        .await
        .iter()
        .filter(|c| c.to() == S::Preparing)
        .count();
    assert_eq!(preparing, 1);
}
