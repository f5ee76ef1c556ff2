//! WatchOrder: the order as it is, then every change made on any instance,
//! until the order is final.

use std::time::Duration;

use foodmesh_proto::order::v1 as pb;
use pb::OrderStatus as S;
use tonic::Code;
use tonic::Streaming;

use crate::helpers::{Client, guest_order, line, paid_by, spawn_app, staff, takeout};

async fn watch(
    client: &mut Client,
    order_id: i64,
    access_token: &str,
) -> Streaming<pb::OrderUpdate> {
    client
        .watch_order(pb::WatchOrderRequest {
            order_id,
            access_token: access_token.to_owned(),
        })
        .await
        .expect("watching")
        .into_inner()
}

async fn next(updates: &mut Streaming<pb::OrderUpdate>) -> Option<pb::OrderUpdate> {
    tokio::time::timeout(Duration::from_secs(10), updates.message())
        .await
        .expect("an update within 10 s")
        .expect("the stream is healthy")
}

#[tokio::test]
async fn a_watcher_sees_the_order_then_every_change_until_it_completes() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 1)).await;
    let mut updates = watch(&mut app.client(), order.id, "").await;

    let first = next(&mut updates).await.expect("snapshot");
    app.client()
        .add_item(pb::AddItemRequest {
            order_id: order.id,
            item: Some(line(menu.lemonade, 1)),
            access_token: String::new(),
        })
        .await
        .expect("item added");
    let items = next(&mut updates).await.expect("items changed");
    let path = [S::Confirmed, S::Preparing, S::Ready, S::Completed];
    let mut moves = Vec::new();
    for status in path {
        app.set_status(order.id, status, staff(), "")
            .await
            .expect("moved");
        let update = next(&mut updates).await.expect("status changed");
        assert_eq!(update.kind(), pb::OrderUpdateKind::StatusChanged);
        let change = update.change.expect("a change");
        moves.push((change.from(), change.to()));
        assert_eq!(update.order.expect("order").status(), status);
    }
    let end = next(&mut updates).await;

    assert_eq!(first.kind(), pb::OrderUpdateKind::Snapshot);
    assert!(first.change.is_none());
    assert_eq!(first.order.expect("order").status(), S::Pending);
    assert_eq!(items.kind(), pb::OrderUpdateKind::ItemsChanged);
    assert_eq!(items.order.expect("order").items.len(), 2);
    assert_eq!(
        moves,
        [
            (S::Pending, S::Confirmed),
            (S::Confirmed, S::Preparing),
            (S::Preparing, S::Ready),
            (S::Ready, S::Completed)
        ]
    );
    assert!(end.is_none(), "the stream ends with the order");
}

#[tokio::test]
async fn a_watcher_on_one_instance_sees_changes_made_on_another() {
    let mut app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;
    let mut replica = app.spawn_replica().await;
    let mut updates = watch(&mut replica, order.id, "").await;
    next(&mut updates).await.expect("snapshot");

    app.set_status(order.id, S::Preparing, staff(), "")
        .await
        .expect("moved on the first instance");
    let update = next(&mut updates).await.expect("seen on the replica");

    assert_eq!(update.kind(), pb::OrderUpdateKind::StatusChanged);
    assert_eq!(update.change.expect("change").to(), S::Preparing);
}

#[tokio::test]
async fn a_guest_watches_with_their_token_and_a_cancelled_order_ends_the_stream() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let created = app
        .create(guest_order(&menu, "Ana", "+14155550100"))
        .await
        .expect("created");
    let order = created.order.expect("order");

    let denied = app
        .client()
        .watch_order(pb::WatchOrderRequest {
            order_id: order.id,
            access_token: "fmo_wrong".to_owned(),
        })
        .await
        .expect_err("a wrong token");
    let mut updates = watch(&mut app.client(), order.id, &created.access_token).await;
    next(&mut updates).await.expect("snapshot");
    app.cancel(order.id, staff(), "closing", "")
        .await
        .expect("cancelled");
    let cancelled = next(&mut updates).await.expect("cancellation");
    let end = next(&mut updates).await;

    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(cancelled.change.expect("change").to(), S::Cancelled);
    assert!(end.is_none());
}

#[tokio::test]
async fn watching_a_final_order_sends_it_once_and_ends() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 1)).await;
    app.cancel(order.id, staff(), "", "")
        .await
        .expect("cancelled");

    let mut updates = watch(&mut app.client(), order.id, "").await;
    let only = next(&mut updates).await.expect("snapshot");
    let end = next(&mut updates).await;

    assert_eq!(only.order.expect("order").status(), S::Cancelled);
    assert!(end.is_none());
}
