//! The live queue: a watcher gets the open tickets, a synced marker, then
//! every change of its restaurant — including changes made by another
//! instance on the same database, which only Postgres notifications can
//! carry — and a stopping instance ends its watches instead of waiting for
//! them.

use std::time::Duration;

use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1::OrderType;
use pb::TicketUpdateKind::{Changed, Snapshot, Synced};
use tonic::Code;
use tonic::codec::Streaming;

use crate::helpers::{Client, order_with, spawn_app, ticket_request, update};

async fn watch(client: &mut Client, restaurant_id: i64) -> Streaming<pb::TicketUpdate> {
    client
        .watch_queue(pb::WatchQueueRequest { restaurant_id })
        .await
        .expect("watching")
        .into_inner()
}

async fn next(updates: &mut Streaming<pb::TicketUpdate>) -> pb::TicketUpdate {
    tokio::time::timeout(Duration::from_secs(10), updates.message())
        .await
        .expect("an update within 10 s")
        .expect("the watch goes on")
        .expect("the watch has not ended")
}

/// The kind, order id and status of the next update.
async fn next_summary(
    updates: &mut Streaming<pb::TicketUpdate>,
) -> (pb::TicketUpdateKind, i64, pb::TicketStatus) {
    let update = next(updates).await;
    let ticket = update.ticket.clone().unwrap_or_default();
    (update.kind(), ticket.order_id, ticket.status())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watcher_gets_the_open_queue_then_every_change_from_any_instance() {
    let app = spawn_app().await;
    let first = app.create(ticket_request(1, 3)).await;
    let second = app.create(ticket_request(2, 3)).await;
    let elsewhere = app.create(ticket_request(3, 4)).await;
    let closed = app.create(ticket_request(4, 3)).await;
    app.client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "no gas".to_owned(),
            ..update(closed.id, pb::TicketStatus::Rejected)
        })
        .await
        .expect("rejected");
    let replica = app.replica().await;
    let mut on_replica = replica.client();

    let mut updates = watch(&mut app.client(), 3).await;

    assert_eq!(
        next_summary(&mut updates).await,
        (Snapshot, 1, pb::TicketStatus::Queued)
    );
    assert_eq!(
        next_summary(&mut updates).await,
        (Snapshot, 2, pb::TicketStatus::Queued)
    );
    assert_eq!(next(&mut updates).await.kind(), Synced);

    // Changes made through the replica reach a watcher of the first
    // instance; another restaurant's changes do not.
    on_replica
        .update_ticket_status(update(elsewhere.id, pb::TicketStatus::Accepted))
        .await
        .expect("accepted elsewhere");
    on_replica
        .update_ticket_status(update(first.id, pb::TicketStatus::Accepted))
        .await
        .expect("accepted");
    assert_eq!(
        next_summary(&mut updates).await,
        (Changed, 1, pb::TicketStatus::Accepted)
    );
    on_replica
        .create_ticket(ticket_request(5, 3))
        .await
        .expect("created on the replica");
    assert_eq!(
        next_summary(&mut updates).await,
        (Changed, 5, pb::TicketStatus::Queued)
    );

    // Changes made through the watched instance, and by order events.
    app.move_to(second.id, pb::TicketStatus::Preparing).await;
    assert_eq!(
        next_summary(&mut updates).await,
        (Changed, 2, pb::TicketStatus::Preparing)
    );
    let order = order_with(6, 3, OrderType::Takeout);
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    assert_eq!(
        next_summary(&mut updates).await,
        (Changed, 6, pb::TicketStatus::Queued)
    );
    app.publish_order_event("order.cancelled", &order, 0, "")
        .await;
    let cancelled = next(&mut updates).await;
    assert_eq!(cancelled.kind(), Changed);
    let ticket = cancelled.ticket.expect("a ticket");
    assert_eq!(
        (ticket.order_id, ticket.status()),
        (6, pb::TicketStatus::Cancelled),
        "a ticket leaving the queue is sent once more"
    );
    assert_eq!(ticket.version, 2);
}

#[tokio::test]
async fn an_empty_queue_is_synced_at_once() {
    let app = spawn_app().await;

    let mut updates = watch(&mut app.client(), 3).await;
    let synced = next(&mut updates).await;

    assert_eq!(synced.kind(), Synced);
    assert_eq!(synced.ticket, None);
}

#[tokio::test]
async fn stopping_an_instance_ends_its_watches_instead_of_waiting_for_them() {
    let app = spawn_app().await;
    let replica = app.replica().await;
    let mut updates = watch(&mut replica.client(), 3).await;
    assert_eq!(next(&mut updates).await.kind(), Synced);

    replica.stop().await;
    let ended = tokio::time::timeout(Duration::from_secs(10), updates.message())
        .await
        .expect("the watch ends within 10 s");

    let status = ended.expect_err("ended with a status");
    assert_eq!(status.code(), Code::Unavailable);
    // The first instance still serves its own watchers.
    let mut still = watch(&mut app.client(), 3).await;
    assert_eq!(next(&mut still).await.kind(), Synced);
}

#[tokio::test]
async fn a_watcher_that_goes_away_does_not_hold_up_the_others() {
    let app = spawn_app().await;
    let gone = watch(&mut app.client(), 3).await;
    let mut staying = watch(&mut app.client(), 3).await;
    assert_eq!(next(&mut staying).await.kind(), Synced);
    drop(gone);

    for order_id in 1..=20 {
        app.create(ticket_request(order_id, 3)).await;
    }

    for order_id in 1..=20 {
        assert_eq!(
            next_summary(&mut staying).await,
            (Changed, order_id, pb::TicketStatus::Queued)
        );
    }
}
