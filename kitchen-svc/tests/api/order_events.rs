//! The order's events through the real Redis: a confirmed order becomes
//! exactly one ticket, a cancelled one cancels its open ticket, an order
//! that left clears it, and the kitchen's own events reach its stream.
//! Several events read at once and applied in one transaction do the
//! same.

use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1::OrderType;
use tokio::task::JoinSet;

use crate::helpers::{order_with, seconds, spawn_app, ticket_request, update};

#[tokio::test]
async fn a_confirmed_order_becomes_a_ticket_with_its_items_options_instructions_and_table() {
    let app = spawn_app().await;
    let order = order_with(501, 3, OrderType::DineIn);

    app.publish_order_event("order.confirmed", &order, 25, "")
        .await;
    let ticket = app.wait_for_ticket(501).await;

    assert_eq!(ticket.status(), pb::TicketStatus::Queued);
    assert_eq!(
        (ticket.order_number.as_str(), ticket.restaurant_id),
        ("Q00501", 3)
    );
    assert_eq!(ticket.fulfilment(), pb::Fulfilment::Table);
    assert_eq!(ticket.table_number, "7");
    assert_eq!(ticket.notes, "ring the bell");
    assert_eq!(
        ticket.items,
        [pb::TicketItem {
            name: "Pad thai".to_owned(),
            quantity: 3,
            modifiers: vec!["extra peanuts".to_owned(), "no coriander".to_owned()],
            special_instructions: "very spicy".to_owned(),
        }]
    );
    assert_eq!(
        seconds(&ticket.ready_by) - seconds(&ticket.created_at),
        25 * 60
    );
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);
}

#[tokio::test]
async fn takeout_and_delivery_orders_become_pickup_and_delivery_tickets() {
    let app = spawn_app().await;

    app.publish_order_event(
        "order.confirmed",
        &order_with(502, 3, OrderType::Takeout),
        0,
        "",
    )
    .await;
    app.publish_order_event(
        "order.confirmed",
        &order_with(503, 3, OrderType::Delivery),
        0,
        "",
    )
    .await;
    let takeout = app.wait_for_ticket(502).await;
    let delivery = app.wait_for_ticket(503).await;

    assert_eq!(takeout.fulfilment(), pb::Fulfilment::Pickup);
    assert_eq!(delivery.fulfilment(), pb::Fulfilment::Delivery);
    assert_eq!(takeout.table_number, "");
    assert_eq!(
        seconds(&takeout.ready_by) - seconds(&takeout.created_at),
        15 * 60,
        "no estimate means 15 minutes"
    );
}

#[tokio::test]
async fn a_confirmation_delivered_twice_or_published_twice_makes_one_ticket() {
    let app = spawn_app().await;
    let order = order_with(504, 3, OrderType::Takeout);

    let envelope = app
        .publish_order_event("order.confirmed", &order, 0, "")
        .await;
    app.deliver(&envelope).await;
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    app.barrier().await;

    let ticket = app.wait_for_ticket(504).await;
    let tickets: i64 = sqlx::query_scalar("SELECT count(*) FROM tickets WHERE order_id = 504")
        .fetch_one(&app.pool)
        .await
        .expect("counted");
    assert_eq!(tickets, 1);
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_confirmation_racing_hand_made_tickets_for_the_same_order_makes_one_ticket() {
    let app = spawn_app().await;
    let order = order_with(505, 3, OrderType::Takeout);

    let mut calls = JoinSet::new();
    for _ in 0..5 {
        let mut client = app.client();
        calls.spawn(async move {
            client
                .create_ticket(pb::CreateTicketRequest {
                    fulfilment: pb::Fulfilment::Pickup.into(),
                    table_number: None,
                    ..ticket_request(505, 3)
                })
                .await
        });
    }
    let envelope = app
        .publish_order_event("order.confirmed", &order, 0, "")
        .await;
    app.deliver(&envelope).await;
    let mut ids = Vec::new();
    while let Some(call) = calls.join_next().await {
        ids.push(call.expect("completes").expect("created").into_inner().id);
    }
    app.barrier().await;

    let ticket = app.wait_for_ticket(505).await;
    ids.push(ticket.id);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids, [ticket.id], "one ticket, whoever came first");
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);
}

#[tokio::test]
async fn a_cancelled_order_cancels_its_open_ticket_with_the_reason() {
    let app = spawn_app().await;
    let order = order_with(506, 3, OrderType::Takeout);
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    let ticket = app.wait_for_ticket(506).await;
    app.move_to(ticket.id, pb::TicketStatus::Preparing).await;

    app.publish_order_event("order.cancelled", &order, 0, "customer changed their mind")
        .await;
    let cancelled = app.wait_for_status(506, pb::TicketStatus::Cancelled).await;

    assert_eq!(cancelled.reason, "customer changed their mind");
    assert_eq!(
        app.events_of(ticket.id).await,
        ["ticket.queued", "ticket.preparing", "ticket.cancelled"]
    );
}

#[tokio::test]
async fn a_cancellation_leaves_a_picked_up_ticket_alone() {
    let app = spawn_app().await;
    let order = order_with(507, 3, OrderType::Takeout);
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    let ticket = app.wait_for_ticket(507).await;
    for status in [
        pb::TicketStatus::Preparing,
        pb::TicketStatus::Ready,
        pb::TicketStatus::PickedUp,
    ] {
        app.move_to(ticket.id, status).await;
    }

    app.publish_order_event("order.cancelled", &order, 0, "too late")
        .await;
    app.barrier().await;

    let after = app.wait_for_ticket(507).await;
    assert_eq!(after.status(), pb::TicketStatus::PickedUp);
    assert_eq!(after.reason, "");
    assert_eq!(
        app.events_of(ticket.id).await.last().map(String::as_str),
        Some("ticket.picked_up")
    );
    assert!(
        app.outbox()
            .await
            .iter()
            .all(|(event_type, _)| event_type != "ticket.cancelled")
    );
}

#[tokio::test]
async fn a_rejected_ticket_keeps_its_reason_when_the_order_is_cancelled_in_turn() {
    let app = spawn_app().await;
    let order = order_with(512, 3, OrderType::Takeout);
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    let ticket = app.wait_for_ticket(512).await;
    app.client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "fryer broken".to_owned(),
            ..update(ticket.id, pb::TicketStatus::Rejected)
        })
        .await
        .expect("rejected");

    // What order-svc publishes after it reads ticket.rejected.
    app.publish_order_event("order.cancelled", &order, 0, "rejected by the kitchen")
        .await;
    app.barrier().await;

    let after = app.wait_for_ticket(512).await;
    assert_eq!(after.status(), pb::TicketStatus::Rejected);
    assert_eq!(after.reason, "fryer broken");
    assert_eq!(
        app.events_of(ticket.id).await,
        ["ticket.queued", "ticket.rejected"]
    );
}

#[tokio::test]
async fn a_cancellation_that_arrives_first_keeps_a_late_confirmation_out_of_the_kitchen() {
    let app = spawn_app().await;
    let order = order_with(508, 3, OrderType::Takeout);

    app.publish_order_event("order.cancelled", &order, 0, "unpaid")
        .await;
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    app.barrier().await;

    assert!(app.get_by_order(508).await.is_err(), "no ticket was queued");
}

#[tokio::test]
async fn a_cancellation_read_together_with_the_confirmation_after_it_queues_nothing() {
    let app = spawn_app().await;
    let cancelled = order_with(513, 3, OrderType::Takeout);
    let confirmed = order_with(514, 3, OrderType::Takeout);

    let ids = app
        .publish_order_events_together(&[
            ("order.cancelled", &cancelled, "unpaid"),
            ("order.confirmed", &cancelled, ""),
            ("order.confirmed", &confirmed, ""),
        ])
        .await;
    app.barrier().await;

    assert!(app.get_by_order(513).await.is_err(), "no ticket was queued");
    let queued = app.wait_for_ticket(514).await;
    assert_eq!(app.events_of(queued.id).await, ["ticket.queued"]);
    let (events, transactions): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT processed_at) FROM processed_events
         WHERE event_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_one(&app.pool)
    .await
    .expect("processed");
    assert_eq!((events, transactions), (3, 1), "applied in one transaction");
}

#[tokio::test]
async fn the_queued_event_carries_the_ticket_as_stored() {
    let app = spawn_app().await;
    let order = order_with(515, 3, OrderType::DineIn);

    app.publish_order_event("order.confirmed", &order, 25, "")
        .await;
    let stored = app.wait_for_ticket(515).await;

    let outbox = app.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].0, "ticket.queued");
    assert_eq!(outbox[0].1, stored);
}

#[tokio::test]
async fn food_that_left_with_the_order_is_cleared_from_the_pass() {
    let app = spawn_app().await;
    let delivery = order_with(509, 3, OrderType::Delivery);
    let dine_in = order_with(510, 3, OrderType::DineIn);
    for order in [&delivery, &dine_in] {
        app.publish_order_event("order.confirmed", order, 0, "")
            .await;
    }
    let ready = app.wait_for_ticket(509).await;
    let cooking = app.wait_for_ticket(510).await;
    app.move_to(ready.id, pb::TicketStatus::Preparing).await;
    app.move_to(ready.id, pb::TicketStatus::Ready).await;
    app.move_to(cooking.id, pb::TicketStatus::Preparing).await;

    app.publish_order_event("order.out_for_delivery", &delivery, 0, "")
        .await;
    app.publish_order_event("order.completed", &dine_in, 0, "")
        .await;
    app.barrier().await;

    let gone = app.wait_for_status(509, pb::TicketStatus::PickedUp).await;
    assert!(gone.picked_up_at.is_some());
    let still = app.wait_for_ticket(510).await;
    assert_eq!(
        still.status(),
        pb::TicketStatus::Preparing,
        "only food at the pass is cleared"
    );
}

#[tokio::test]
async fn ticket_events_reach_the_kitchen_stream() {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(511, 3)).await;
    app.client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "closing early".to_owned(),
            ..update(ticket.id, pb::TicketStatus::Rejected)
        })
        .await
        .expect("rejected");

    let mut published = Vec::new();
    for _ in 0..250 {
        published = app.published().await;
        if published.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let types: Vec<(&str, &str)> = published
        .iter()
        .map(|e| (e.r#type.as_str(), e.aggregate_id.as_str()))
        .collect();
    let id = ticket.id.to_string();
    assert_eq!(
        types,
        [
            ("ticket.queued", id.as_str()),
            ("ticket.rejected", id.as_str())
        ]
    );
}
