//! The kitchen display's reads: the queue per restaurant in time order,
//! filters and pages, and the stats panel.

use foodmesh_proto::common::v1::PageRequest;
use foodmesh_proto::kitchen::v1 as pb;
use pb::TicketStatus::{Accepted, Cancelled, PickedUp, Preparing, Queued, Ready, Rejected};

use crate::helpers::{TestApp, spawn_app, ticket_request, update};

async fn list(app: &TestApp, restaurant_id: i64, statuses: &[pb::TicketStatus]) -> Vec<i64> {
    app.client()
        .list_tickets(pb::ListTicketsRequest {
            restaurant_id,
            statuses: statuses.iter().map(|s| (*s).into()).collect(),
            page: None,
        })
        .await
        .expect("listed")
        .into_inner()
        .tickets
        .into_iter()
        .map(|t| t.order_id)
        .collect()
}

#[tokio::test]
async fn the_queue_holds_one_restaurants_open_tickets_oldest_first() {
    let app = spawn_app().await;
    for (order_id, restaurant_id) in [(1, 3), (2, 4), (3, 3), (4, 3), (5, 3), (6, 3)] {
        app.create(ticket_request(order_id, restaurant_id)).await;
    }
    let app_ref = &app;
    let id_of = |order_id| async move { app_ref.get_by_order(order_id).await.expect("exists").id };
    app.move_to(id_of(3).await, Preparing).await;
    let picked = id_of(4).await;
    for status in [Preparing, Ready, PickedUp] {
        app.move_to(picked, status).await;
    }
    app.client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "sold out".to_owned(),
            ..update(id_of(5).await, Rejected)
        })
        .await
        .expect("rejected");

    assert_eq!(list(&app, 3, &[]).await, [1, 3, 6], "open, by time");
    assert_eq!(list(&app, 4, &[]).await, [2]);
    assert_eq!(list(&app, 3, &[PickedUp, Rejected]).await, [4, 5]);
    assert_eq!(list(&app, 3, &[Preparing]).await, [3]);
    assert_eq!(list(&app, 7, &[]).await, Vec::<i64>::new());
}

#[tokio::test]
async fn a_long_listing_comes_in_pages_in_time_order() {
    let app = spawn_app().await;
    for order_id in 1..=7 {
        app.create(ticket_request(order_id, 3)).await;
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = app
            .client()
            .list_tickets(pb::ListTicketsRequest {
                restaurant_id: 3,
                statuses: Vec::new(),
                page: Some(PageRequest {
                    page_size: 3,
                    page_token: token.clone(),
                }),
            })
            .await
            .expect("listed")
            .into_inner();
        pages += 1;
        seen.extend(page.tickets.iter().map(|t| t.order_id));
        token = page.page.expect("page info").next_page_token;
        if token.is_empty() {
            break;
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=7).collect::<Vec<i64>>());
}

/// Moves a ticket to READY, then backdates its times so that it started
/// `prep` seconds before it was ready, `wait` seconds after it was queued,
/// and was ready `ago` seconds ago.
async fn prepared(app: &TestApp, order_id: i64, prep: i64, wait: i64, ago: i64) {
    let ticket = app.create(ticket_request(order_id, 3)).await;
    app.move_to(ticket.id, Preparing).await;
    app.move_to(ticket.id, Ready).await;
    sqlx::query(
        "UPDATE tickets SET ready_at = now() - make_interval(secs => $2),
             started_at = now() - make_interval(secs => $2 + $3),
             created_at = now() - make_interval(secs => $2 + $3 + $4)
         WHERE id = $1",
    )
    .bind(ticket.id)
    .bind(ago as f64)
    .bind(prep as f64)
    .bind(wait as f64)
    .execute(&app.pool)
    .await
    .expect("backdated");
}

#[tokio::test]
async fn stats_count_the_open_queue_and_average_recent_preparation_times() {
    let app = spawn_app().await;
    prepared(&app, 1, 300, 60, 600).await;
    prepared(&app, 2, 600, 120, 1200).await;
    prepared(&app, 3, 900, 0, 3 * 24 * 3600).await; // outside the last day
    for order_id in 10..=12 {
        app.create(ticket_request(order_id, 3)).await;
    }
    let accepted = app.create(ticket_request(13, 3)).await;
    app.move_to(accepted.id, Accepted).await;
    let cooking = app.create(ticket_request(14, 3)).await;
    app.move_to(cooking.id, Preparing).await;
    let late = app.get_by_order(10).await.expect("exists");
    sqlx::query("UPDATE tickets SET ready_by = now() - interval '1 minute' WHERE id = $1")
        .bind(late.id)
        .execute(&app.pool)
        .await
        .expect("made late");
    let gone = app.get_by_order(2).await.expect("exists");
    app.move_to(gone.id, PickedUp).await;
    app.create(ticket_request(15, 4)).await; // another restaurant

    let day = app
        .client()
        .get_stats(pb::GetStatsRequest {
            restaurant_id: 3,
            window_minutes: 0,
        })
        .await
        .expect("stats")
        .into_inner();
    let week = app
        .client()
        .get_stats(pb::GetStatsRequest {
            restaurant_id: 3,
            window_minutes: 7 * 24 * 60,
        })
        .await
        .expect("stats")
        .into_inner();

    assert_eq!(
        (
            day.queued,
            day.accepted,
            day.in_progress,
            day.ready,
            day.overdue
        ),
        (3, 1, 1, 2, 1),
        "orders 10-12 queued (10 late), 13 accepted, 14 cooking, 1 and 3 at the pass"
    );
    assert_eq!((day.window_minutes, day.prepared), (1440, 2));
    assert!((day.avg_preparation_seconds - 450.0).abs() < 1.0, "{day:?}");
    assert!((day.p90_preparation_seconds - 570.0).abs() < 1.0, "{day:?}");
    assert!((day.avg_wait_seconds - 90.0).abs() < 1.0, "{day:?}");
    assert_eq!(week.prepared, 3);
    assert!(
        (week.avg_preparation_seconds - 600.0).abs() < 1.0,
        "{week:?}"
    );
}

#[tokio::test]
async fn a_kitchen_without_tickets_has_empty_stats() {
    let app = spawn_app().await;

    let stats = app
        .client()
        .get_stats(pb::GetStatsRequest {
            restaurant_id: 3,
            window_minutes: 60,
        })
        .await
        .expect("stats")
        .into_inner();

    assert_eq!(
        stats,
        pb::KitchenStats {
            window_minutes: 60,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn cancelled_and_queued_tickets_are_told_apart_in_listings() {
    let app = spawn_app().await;
    let order = crate::helpers::order_with(30, 3, foodmesh_proto::order::v1::OrderType::Takeout);
    app.publish_order_event("order.confirmed", &order, 0, "")
        .await;
    app.wait_for_ticket(30).await;
    app.create(ticket_request(31, 3)).await;
    app.publish_order_event("order.cancelled", &order, 0, "")
        .await;
    app.wait_for_status(30, Cancelled).await;

    assert_eq!(list(&app, 3, &[]).await, [31]);
    assert_eq!(list(&app, 3, &[Cancelled]).await, [30]);
    assert_eq!(list(&app, 3, &[Queued, Cancelled]).await, [30, 31]);
}
