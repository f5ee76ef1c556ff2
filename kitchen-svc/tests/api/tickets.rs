//! Receiving an order by hand: what a ticket holds, idempotency per order
//! (also under concurrency), lookups, and the metrics it feeds.

use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1 as order;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::{order_with, reason, seconds, spawn_app, ticket_request};

#[tokio::test]
async fn a_created_ticket_is_queued_with_its_items_table_and_ready_by_estimate() {
    let app = spawn_app().await;

    let ticket = app.create(ticket_request(41, 3)).await;

    assert!(ticket.id > 0);
    assert_eq!(ticket.status(), pb::TicketStatus::Queued);
    assert_eq!(
        (
            ticket.order_id,
            ticket.order_number.as_str(),
            ticket.restaurant_id
        ),
        (41, "N00041", 3)
    );
    assert_eq!(ticket.fulfilment(), pb::Fulfilment::Table);
    assert_eq!(ticket.table_number, "12");
    assert_eq!(ticket.notes, "allergy: walnuts");
    assert_eq!(ticket.items, ticket_request(41, 3).items);
    assert_eq!(
        seconds(&ticket.ready_by) - seconds(&ticket.created_at),
        20 * 60
    );
    assert_eq!(ticket.version, 1);
    assert_eq!(ticket.started_at, None);
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);
}

#[tokio::test]
async fn a_ticket_made_from_an_order_is_the_one_its_confirmation_would_make() {
    let app = spawn_app().await;
    let long = order::Order {
        prep_minutes: 9_999,
        notes: "n".repeat(2_500),
        ..order_with(61, 3, order::OrderType::DineIn)
    };

    let ticket = app
        .create(pb::CreateTicketRequest {
            order: Some(long),
            ..Default::default()
        })
        .await;

    assert_eq!(
        (
            ticket.order_id,
            ticket.order_number.as_str(),
            ticket.restaurant_id
        ),
        (61, "Q00061", 3)
    );
    assert_eq!(ticket.fulfilment(), pb::Fulfilment::Table);
    assert_eq!(ticket.table_number, "7");
    assert_eq!(ticket.items[0].modifiers, ["extra peanuts", "no coriander"]);
    assert_eq!(ticket.notes.chars().count(), 2_000, "cut, not refused");
    assert_eq!(
        seconds(&ticket.ready_by) - seconds(&ticket.created_at),
        600 * 60,
        "capped, not refused"
    );
}

#[tokio::test]
async fn the_fields_set_with_an_order_override_what_it_says() {
    let app = spawn_app().await;

    let ticket = app
        .create(pb::CreateTicketRequest {
            fulfilment: pb::Fulfilment::Pickup.into(),
            table_number: Some(String::new()),
            prep_minutes: Some(0),
            notes: Some("at the counter".to_owned()),
            order: Some(order_with(62, 3, order::OrderType::DineIn)),
            ..Default::default()
        })
        .await;

    assert_eq!(ticket.fulfilment(), pb::Fulfilment::Pickup);
    assert_eq!(ticket.table_number, "");
    assert_eq!(ticket.notes, "at the counter");
    assert_eq!(ticket.order_number, "Q00062");
    assert_eq!(
        seconds(&ticket.ready_by) - seconds(&ticket.created_at),
        15 * 60
    );
}

#[tokio::test]
async fn without_a_preparation_time_a_ticket_is_expected_in_15_minutes() {
    let app = spawn_app().await;

    let ticket = app
        .create(pb::CreateTicketRequest {
            prep_minutes: None,
            ..ticket_request(42, 3)
        })
        .await;

    assert_eq!(
        seconds(&ticket.ready_by) - seconds(&ticket.created_at),
        15 * 60
    );
}

#[tokio::test]
async fn a_second_create_for_the_same_order_returns_the_existing_ticket() {
    let app = spawn_app().await;
    let first = app.create(ticket_request(43, 3)).await;
    let started = app.move_to(first.id, pb::TicketStatus::Preparing).await;

    let again = app
        .create(pb::CreateTicketRequest {
            table_number: Some("99".to_owned()),
            ..ticket_request(43, 3)
        })
        .await;

    assert_eq!(again, started, "the existing ticket, unchanged");
    assert_eq!(app.count("tickets").await, 1);
    assert_eq!(
        app.events_of(first.id).await,
        ["ticket.queued", "ticket.preparing"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_for_one_order_make_one_ticket() {
    let app = spawn_app().await;

    let mut calls = JoinSet::new();
    for _ in 0..10 {
        let mut client = app.client();
        calls.spawn(async move { client.create_ticket(ticket_request(44, 3)).await });
    }
    let mut ids = Vec::new();
    while let Some(call) = calls.join_next().await {
        let ticket = call.expect("the call completes").expect("created");
        ids.push(ticket.into_inner().id);
    }
    ids.sort_unstable();
    ids.dedup();

    assert_eq!(ids.len(), 1, "every call returns the same ticket");
    assert_eq!(app.count("tickets").await, 1);
    assert_eq!(app.count("ticket_items").await, 2);
    assert_eq!(app.events_of(ids[0]).await, ["ticket.queued"]);
}

#[tokio::test]
async fn a_ticket_is_found_by_id_or_order_and_only_within_its_restaurant() {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(45, 3)).await;
    let mut client = app.client();

    let by_id = client
        .get_ticket(pb::GetTicketRequest {
            id: ticket.id,
            ..Default::default()
        })
        .await
        .expect("found by id")
        .into_inner();
    let by_order = client
        .get_ticket(pb::GetTicketRequest {
            order_id: 45,
            restaurant_id: 3,
            ..Default::default()
        })
        .await
        .expect("found by order within its restaurant")
        .into_inner();
    let elsewhere = client
        .get_ticket(pb::GetTicketRequest {
            id: ticket.id,
            restaurant_id: 4,
            ..Default::default()
        })
        .await
        .expect_err("another restaurant's staff cannot see it");
    let missing = client
        .get_ticket(pb::GetTicketRequest {
            order_id: 46,
            ..Default::default()
        })
        .await
        .expect_err("no ticket for that order");

    assert_eq!(by_id, ticket);
    assert_eq!(by_order, ticket);
    for status in [elsewhere, missing] {
        assert_eq!(status.code(), Code::NotFound);
        assert_eq!(reason(&status), "TICKET_NOT_FOUND");
    }
}

#[tokio::test]
async fn ticket_counts_and_preparation_times_are_exported_for_prometheus() {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(47, 4242)).await;
    app.move_to(ticket.id, pb::TicketStatus::Preparing).await;
    app.move_to(ticket.id, pb::TicketStatus::Ready).await;

    let mut http = tokio::net::TcpStream::connect(app.first.addr)
        .await
        .expect("metrics port answers");
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: kitchen\r\nConnection: close\r\n\r\n")
        .await
        .expect("request sent");
    let mut body = String::new();
    http.read_to_string(&mut body).await.expect("metrics read");

    assert!(
        body.contains("kitchen_preparation_seconds_count{restaurant_id=\"4242\"} 1"),
        "{body}"
    );
    for status in ["queued", "preparing", "ready"] {
        assert!(
            body.contains(&format!("kitchen_tickets_total{{status=\"{status}\"}}")),
            "{status} in {body}"
        );
    }
}
