//! Deliveries opened by confirmed delivery orders, handed to the nearest
//! free driver — one driver never twice, however many at once — and
//! followed to the door.

use std::collections::HashSet;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_proto::order::v1 as order;

use crate::app::{RESTAURANT, delivery_order, reason, spawn_app};

fn driver_actor(id: i64) -> Option<common::Actor> {
    Some(common::Actor {
        kind: common::ActorKind::Driver.into(),
        id: id.to_string(),
    })
}

#[tokio::test]
async fn a_confirmed_delivery_order_goes_to_the_nearest_free_driver_once() {
    let app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    // About 1.1 km, 3.3 km and 0.55 km from the restaurant; the nearest
    // is not free.
    let near = app
        .driver_at("Near Driver", "+12125550110", (lat + 0.01, lon))
        .await;
    app.driver_at("Far Driver", "+12125550111", (lat + 0.03, lon))
        .await;
    let nearest_busy = app
        .driver_at("Busy Driver", "+12125550112", (lat + 0.005, lon))
        .await;
    app.client()
        .update_driver(pb::UpdateDriverRequest {
            driver_id: nearest_busy.id,
            available: Some(false),
        })
        .await
        .expect("unavailable");
    // A takeout order makes no delivery.
    let mut takeout = delivery_order(700);
    takeout.order_type = order::OrderType::Takeout.into();
    app.publish("order.confirmed", &takeout).await;

    let order = delivery_order(701);
    let envelope = app.publish("order.confirmed", &order).await;
    app.deliver(&envelope).await;
    let delivery = app
        .delivery_of(701, |d| d.status() == pb::DeliveryStatus::Assigned)
        .await;
    assert_eq!(delivery.driver_id, near.id);
    assert!(delivery.eta.is_some());
    assert_eq!(delivery.tracking_id.len(), 20);
    assert_eq!(
        app.events().await,
        ["delivery.created", "delivery.assigned"]
    );
    let takeouts = app
        .client()
        .list_deliveries(pb::ListDeliveriesRequest {
            order_id: Some(700),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(takeouts.deliveries.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_deliveries_and_ten_drivers_make_ten_pairs_and_the_rest_wait_their_turn() {
    let app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    let mut drivers = Vec::new();
    for n in 0..10 {
        let at = (lat + 0.002 * f64::from(n + 1), lon);
        drivers.push(
            app.driver_at(&format!("Driver {n}"), &format!("+1212555020{n}"), at)
                .await,
        );
    }
    let publishing = (0..30).map(|n| {
        let app = &app;
        async move {
            app.publish("order.confirmed", &delivery_order(800 + n))
                .await
        }
    });
    futures::future::join_all(publishing).await;

    let mut assigned = Vec::new();
    for n in 0..30 {
        let d = app.delivery_of(800 + n, |_| true).await;
        assigned.push(d);
    }
    // Wait until the assigner has had its pass over all thirty.
    let mut held: Vec<pb::Delivery> = Vec::new();
    for _ in 0..250 {
        held = all(&app)
            .await
            .into_iter()
            .filter(|d| d.status() == pb::DeliveryStatus::Assigned)
            .collect();
        if held.len() == 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(held.len(), 10, "{held:?}");
    let distinct: HashSet<i64> = held.iter().map(|d| d.driver_id).collect();
    assert_eq!(distinct.len(), 10, "no driver twice");
    let waiting = all(&app)
        .await
        .into_iter()
        .filter(|d| d.status() == pb::DeliveryStatus::Pending)
        .count();
    assert_eq!(waiting, 20);

    // One driver delivers: the oldest waiting delivery is theirs next,
    // without waiting for a sweep.
    let first = &held[0];
    app.publish("order.ready", &delivery_order(first.order_id))
        .await;
    wait_food_ready(&app, first.id).await;
    let mut client = app.client();
    for status in [pb::DeliveryStatus::PickedUp, pb::DeliveryStatus::Delivered] {
        client
            .update_delivery_status(pb::UpdateDeliveryStatusRequest {
                id: first.id,
                status: status.into(),
                actor: driver_actor(first.driver_id),
                as_driver_id: first.driver_id,
                ..Default::default()
            })
            .await
            .expect("moved");
    }
    let started = std::time::Instant::now();
    loop {
        let now_held = all(&app)
            .await
            .into_iter()
            .filter(|d| {
                d.driver_id == first.driver_id && d.status() == pb::DeliveryStatus::Assigned
            })
            .count();
        if now_held == 1 {
            break;
        }
        assert!(
            started.elapsed().as_secs() < 10,
            "the freed driver got nothing"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn all(app: &crate::app::TestApp) -> Vec<pb::Delivery> {
    app.client()
        .list_deliveries(pb::ListDeliveriesRequest {
            page: Some(common::PageRequest {
                page_size: 100,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner()
        .deliveries
}

#[tokio::test]
async fn the_driver_moves_their_own_delivery_in_order_and_tracking_follows() {
    let app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    let driver = app
        .driver_at("Cleo Park", "+12125550120", (lat + 0.01, lon))
        .await;
    let other = app
        .driver_at("Dan Roe", "+12125550121", (lat + 0.5, lon))
        .await;
    app.publish("order.confirmed", &delivery_order(901)).await;
    let delivery = app
        .delivery_of(901, |d| d.status() == pb::DeliveryStatus::Assigned)
        .await;
    assert_eq!(delivery.driver_id, driver.id);
    let mut client = app.client();
    let move_as = |who: i64, status: pb::DeliveryStatus| pb::UpdateDeliveryStatusRequest {
        id: delivery.id,
        status: status.into(),
        actor: driver_actor(who),
        as_driver_id: who,
        ..Default::default()
    };

    let theirs = client
        .update_delivery_status(move_as(other.id, pb::DeliveryStatus::PickedUp))
        .await
        .expect_err("another driver's");
    assert_eq!(reason(&theirs), "DELIVERY_NOT_FOUND");
    let early = client
        .update_delivery_status(move_as(driver.id, pb::DeliveryStatus::Delivered))
        .await
        .expect_err("not picked up yet");
    assert_eq!(reason(&early), "INVALID_TRANSITION");

    let tracked = client
        .track_delivery(pb::TrackDeliveryRequest {
            tracking_id: delivery.tracking_id.clone(),
        })
        .await
        .expect("tracked")
        .into_inner();
    assert_eq!(tracked.driver_first_name, "", "nobody's name before pickup");
    assert!(
        tracked.driver_location.is_none(),
        "not out for delivery yet"
    );
    let too_soon = client
        .update_delivery_status(move_as(driver.id, pb::DeliveryStatus::PickedUp))
        .await
        .expect_err("the food is not ready");
    assert_eq!(reason(&too_soon), "FOOD_NOT_READY");
    app.publish("order.ready", &delivery_order(901)).await;
    wait_food_ready(&app, delivery.id).await;

    client
        .update_delivery_status(move_as(driver.id, pb::DeliveryStatus::PickedUp))
        .await
        .expect("picked up");
    let tracked = client
        .track_delivery(pb::TrackDeliveryRequest {
            tracking_id: delivery.tracking_id.clone(),
        })
        .await
        .expect("tracked")
        .into_inner();
    assert_eq!(tracked.status(), pb::DeliveryStatus::PickedUp);
    assert_eq!(tracked.driver_first_name, "Cleo");
    assert!(tracked.driver_location.is_some());
    assert!(tracked.eta.is_some());

    let delivered = client
        .update_delivery_status(move_as(driver.id, pb::DeliveryStatus::Delivered))
        .await
        .expect("delivered")
        .into_inner();
    assert_eq!(delivered.status(), pb::DeliveryStatus::Delivered);
    assert!(delivered.delivered_at.is_some());
    assert_eq!(
        app.events().await,
        [
            "delivery.created",
            "delivery.assigned",
            "delivery.picked_up",
            "delivery.delivered"
        ]
    );
    // Each test runs in a process of its own: these are this test's counts.
    let metrics = foodmesh_shared::telemetry::prometheus().render();
    for series in [
        r#"deliveries_total{status="pending"} 1"#,
        r#"deliveries_total{status="delivered"} 1"#,
        "delivery_assignment_wait_seconds_count 1",
        r#"delivery_duration_seconds_count{leg="to_door"} 1"#,
        r#"delivery_duration_seconds_count{leg="total"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
    let unknown = client
        .track_delivery(pb::TrackDeliveryRequest {
            tracking_id: "nothinghere2345".to_owned(),
        })
        .await
        .expect_err("no such delivery");
    assert_eq!(reason(&unknown), "DELIVERY_NOT_FOUND");
}

#[tokio::test]
async fn a_cancelled_order_cancels_its_delivery_and_frees_its_driver_for_the_next() {
    let app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    let driver = app
        .driver_at("Eve Lin", "+12125550130", (lat + 0.01, lon))
        .await;
    let first = delivery_order(951);
    app.publish("order.confirmed", &first).await;
    app.delivery_of(951, |d| d.status() == pb::DeliveryStatus::Assigned)
        .await;
    app.publish("order.confirmed", &delivery_order(952)).await;
    app.delivery_of(952, |d| d.status() == pb::DeliveryStatus::Pending)
        .await;

    let mut cancelled = first.clone();
    cancelled.status = order::OrderStatus::Cancelled.into();
    let envelope = app.publish("order.cancelled", &cancelled).await;
    app.deliver(&envelope).await;
    let gone = app
        .delivery_of(951, |d| d.status() == pb::DeliveryStatus::Cancelled)
        .await;
    assert_eq!(gone.driver_id, driver.id);
    let next = app
        .delivery_of(952, |d| d.status() == pb::DeliveryStatus::Assigned)
        .await;
    assert_eq!(next.driver_id, driver.id);
    let cancels = app
        .events()
        .await
        .into_iter()
        .filter(|e| e == "delivery.cancelled")
        .count();
    assert_eq!(cancels, 1, "the copy of the event changed nothing");
}

/// Waits (at most 10 s) until the kitchen's `order.ready` reached delivery
/// `id`.
async fn wait_food_ready(app: &crate::app::TestApp, id: i64) {
    for _ in 0..500 {
        let ready: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT food_ready_at FROM deliveries WHERE id = $1")
                .bind(id)
                .fetch_one(&app.pool)
                .await
                .expect("the delivery");
        if ready.is_some() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("delivery {id}'s food never became ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_crash_while_assigning_loses_no_delivery_and_doubles_no_driver() {
    let mut app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    for n in 0..10 {
        let at = (lat + 0.002 * f64::from(n + 1), lon);
        app.driver_at(&format!("Driver {n}"), &format!("+1212555030{n}"), at)
            .await;
    }
    let publishing = (0..30).map(|n| {
        let app = &app;
        async move {
            app.publish("order.confirmed", &delivery_order(1_000 + n))
                .await
        }
    });
    futures::future::join_all(publishing).await;
    // Killed while the consumer opens deliveries and the assigner hands
    // them out.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    app.crash_and_restart().await;

    // Entries the dead consumer had read but not acknowledged are taken
    // over after the consumer's 15 s: allow for that.
    let mut held = Vec::new();
    for _ in 0..2000 {
        let found = all(&app).await;
        held = found
            .iter()
            .filter(|d| d.status() == pb::DeliveryStatus::Assigned)
            .cloned()
            .collect();
        if found.len() == 30 && held.len() == 10 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let found = all(&app).await;
    assert_eq!(found.len(), 30, "every confirmed order has its delivery");
    assert_eq!(held.len(), 10, "{held:?}");
    let distinct: HashSet<i64> = held.iter().map(|d| d.driver_id).collect();
    assert_eq!(distinct.len(), 10, "no driver twice");
    // Each driver's load is exactly the deliveries they hold.
    let loads: Vec<(i64, i32, i64)> = sqlx::query_as(
        "SELECT d.id, d.active,
                (SELECT count(*) FROM deliveries v
                 WHERE v.driver_id = d.id AND v.status IN ('assigned', 'picked_up'))
         FROM drivers d ORDER BY d.id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("the drivers");
    for (driver, active, holds) in loads {
        assert_eq!((active, holds), (1, 1), "driver {driver}");
    }
}

#[tokio::test]
async fn an_order_s_later_events_that_come_first_are_not_lost() {
    let app = spawn_app().await;
    let (lat, lon) = RESTAURANT;
    let driver = app
        .driver_at("Gil Moe", "+12125550170", (lat + 0.01, lon))
        .await;
    // The kitchen's ready comes before the confirmation that opens the
    // delivery: the food may still be picked up once it is assigned.
    let early = delivery_order(1_101);
    app.publish("order.ready", &early).await;
    app.publish("order.confirmed", &early).await;
    let delivery = app
        .delivery_of(1_101, |d| d.status() == pb::DeliveryStatus::Assigned)
        .await;
    app.client()
        .update_delivery_status(pb::UpdateDeliveryStatusRequest {
            id: delivery.id,
            status: pb::DeliveryStatus::PickedUp.into(),
            actor: driver_actor(driver.id),
            as_driver_id: driver.id,
            ..Default::default()
        })
        .await
        .expect("the food was ready");

    // A cancellation before the confirmation: no delivery opens.
    let cancelled = delivery_order(1_102);
    app.publish("order.cancelled", &cancelled).await;
    app.publish("order.confirmed", &cancelled).await;
    // A barrier: an order published after them gets its delivery.
    app.publish("order.confirmed", &delivery_order(1_103)).await;
    app.delivery_of(1_103, |_| true).await;
    let none = app
        .client()
        .list_deliveries(pb::ListDeliveriesRequest {
            order_id: Some(1_102),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(none.deliveries.is_empty(), "{none:?}");
}
