//! Bad input on every RPC: INVALID_ARGUMENT naming each bad field by its
//! path, and nothing written.

use foodmesh_proto::common::v1::PageRequest;
use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1 as order;
use tonic::Code;

use crate::helpers::{TestApp, fields, order_with, reason, spawn_app, ticket_request, update};

/// Asserts `result` is a validation refusal naming `expected`, and that
/// no ticket, line or event was written.
async fn refused<T: std::fmt::Debug>(
    app: &TestApp,
    result: Result<tonic::Response<T>, tonic::Status>,
    expected: &[&str],
) {
    let before = (1, 2, 1);
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(reason(&status), "VALIDATION_FAILED");
    assert_eq!(fields(&status), expected);
    let after = (
        app.count("tickets").await,
        app.count("ticket_items").await,
        app.count("outbox").await,
    );
    assert_eq!(after, before, "nothing written");
}

/// An app holding one ticket (two lines, one event).
async fn app_with_a_ticket() -> (TestApp, pb::Ticket) {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(1, 3)).await;
    (app, ticket)
}

#[tokio::test]
async fn a_bad_create_names_every_bad_field() {
    let (app, _) = app_with_a_ticket().await;
    let mut client = app.client();

    let result = client
        .create_ticket(pb::CreateTicketRequest {
            order_id: 0,
            order_number: Some("  ".to_owned()),
            restaurant_id: -5,
            fulfilment: pb::Fulfilment::Pickup.into(),
            table_number: Some("12".to_owned()),
            items: vec![
                pb::TicketItem {
                    name: String::new(),
                    quantity: 0,
                    modifiers: vec!["fine".to_owned(), " ".to_owned()],
                    special_instructions: "x".repeat(1001),
                },
                ticket_request(2, 3).items[1].clone(),
            ],
            prep_minutes: Some(601),
            notes: Some("n".repeat(2001)),
            order: None,
        })
        .await;
    refused(
        &app,
        result,
        &[
            "order_id",
            "order_number",
            "restaurant_id",
            "table_number",
            "items[0].name",
            "items[0].quantity",
            "items[0].modifiers[1]",
            "items[0].special_instructions",
            "prep_minutes",
            "notes",
        ],
    )
    .await;

    let result = client
        .create_ticket(pb::CreateTicketRequest {
            fulfilment: 0,
            table_number: None,
            items: Vec::new(),
            ..ticket_request(2, 3)
        })
        .await;
    refused(&app, result, &["fulfilment", "items"]).await;

    let result = client
        .create_ticket(pb::CreateTicketRequest {
            fulfilment: 42,
            table_number: Some("x".repeat(21)),
            ..ticket_request(2, 3)
        })
        .await;
    refused(&app, result, &["table_number", "fulfilment"]).await;
}

#[tokio::test]
async fn a_bad_lookup_names_its_fields() {
    let (app, ticket) = app_with_a_ticket().await;
    let mut client = app.client();

    let cases = [
        (pb::GetTicketRequest::default(), vec!["id"]),
        (
            pb::GetTicketRequest {
                id: ticket.id,
                order_id: 1,
                restaurant_id: 0,
            },
            vec!["order_id"],
        ),
        (
            pb::GetTicketRequest {
                id: -1,
                order_id: 0,
                restaurant_id: -3,
            },
            vec!["id", "restaurant_id"],
        ),
    ];
    for (request, expected) in cases {
        let result = client.get_ticket(request).await;
        refused(&app, result, &expected).await;
    }
}

#[tokio::test]
async fn a_bad_create_from_an_order_names_its_fields() {
    let (app, _) = app_with_a_ticket().await;
    let mut client = app.client();
    let from = |order_type| pb::CreateTicketRequest {
        order: Some(order_with(2, 3, order_type)),
        ..Default::default()
    };

    let result = client
        .create_ticket(pb::CreateTicketRequest {
            items: ticket_request(2, 3).items,
            ..from(order::OrderType::DineIn)
        })
        .await;
    refused(&app, result, &["items"]).await;

    let result = client
        .create_ticket(pb::CreateTicketRequest {
            prep_minutes: Some(601),
            notes: Some("n".repeat(2001)),
            ..from(order::OrderType::Takeout)
        })
        .await;
    refused(&app, result, &["prep_minutes", "notes"]).await;

    let result = client
        .create_ticket(from(order::OrderType::Unspecified))
        .await;
    refused(&app, result, &["fulfilment"]).await;
}

#[tokio::test]
async fn a_bad_listing_names_its_fields() {
    let (app, _) = app_with_a_ticket().await;

    let result = app
        .client()
        .list_tickets(pb::ListTicketsRequest {
            restaurant_id: 0,
            statuses: vec![pb::TicketStatus::Ready.into(), 0, 99],
            page: Some(PageRequest {
                page_size: 501,
                page_token: "not-a-token".to_owned(),
            }),
        })
        .await;

    refused(
        &app,
        result,
        &[
            "restaurant_id",
            "statuses[1]",
            "statuses[2]",
            "page.page_size",
            "page.page_token",
        ],
    )
    .await;
}

#[tokio::test]
async fn a_bad_status_change_names_its_fields_and_leaves_the_ticket_alone() {
    let (app, ticket) = app_with_a_ticket().await;
    let mut client = app.client();

    let cases = [
        (
            pb::UpdateTicketStatusRequest {
                id: 0,
                status: 0,
                reason: String::new(),
                expected_status: 42,
                restaurant_id: -1,
            },
            vec!["id", "status", "expected_status", "restaurant_id"],
        ),
        (
            pb::UpdateTicketStatusRequest {
                reason: "because".to_owned(),
                ..update(ticket.id, pb::TicketStatus::Preparing)
            },
            vec!["reason"],
        ),
        (
            pb::UpdateTicketStatusRequest {
                reason: "r".repeat(501),
                ..update(ticket.id, pb::TicketStatus::Rejected)
            },
            vec!["reason"],
        ),
        (
            update(ticket.id, pb::TicketStatus::Rejected),
            vec!["reason"],
        ),
    ];
    for (request, expected) in cases {
        let result = client.update_ticket_status(request).await;
        refused(&app, result, &expected).await;
    }
    assert_eq!(app.get_by_order(1).await.expect("exists"), ticket);
}

#[tokio::test]
async fn a_bad_watch_or_stats_request_names_its_fields() {
    let (app, _) = app_with_a_ticket().await;
    let mut client = app.client();

    let watch = client
        .watch_queue(pb::WatchQueueRequest { restaurant_id: 0 })
        .await;
    refused(&app, watch, &["restaurant_id"]).await;

    let stats = client
        .get_stats(pb::GetStatsRequest {
            restaurant_id: -2,
            window_minutes: 10_081,
        })
        .await;
    refused(&app, stats, &["restaurant_id", "window_minutes"]).await;
}
