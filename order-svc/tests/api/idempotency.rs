//! Idempotent creates: a retry returns the first order, racing retries make
//! one order, a key is the caller's own, and a request cut off or killed
//! mid-flight leaves its key to be finished or freed, never stuck.

use std::time::Duration;

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::order::v1 as pb;
use foodmesh_proto::restaurant::v1 as rpb;
use order_svc::domain::number;
use order_svc::service::KEY_LEASE;
use order_svc::store;
use prost::Message;
use tokio::task::JoinSet;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{
    actor, fields, guest_order, line, reason, seed_order, spawn_app, spawn_app_behind_valve,
    spawn_app_with_manual_clock, takeout,
};

fn with_key(key: &str, request: pb::CreateOrderRequest) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        idempotency_key: key.to_owned(),
        ..request
    }
}

#[tokio::test]
async fn a_retry_with_the_same_key_returns_the_first_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = with_key("retry-1", seed_order(&menu));

    let first = app.create(request.clone()).await.expect("first");
    let retry = app.create(request).await.expect("retry");

    let (a, b) = (first.order.expect("order"), retry.order.expect("order"));
    assert!(!first.replayed);
    assert!(retry.replayed);
    assert_eq!((a.id, &a.order_number), (b.id, &b.order_number));
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.outbox().await, ["order.created"]);
}

#[tokio::test]
async fn concurrent_requests_with_the_same_key_make_one_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = with_key("race-1", seed_order(&menu));

    let mut calls = JoinSet::new();
    for _ in 0..8 {
        let mut client = app.client();
        let request = request.clone();
        calls.spawn(async move { client.create_order(request).await });
    }
    let mut ids = Vec::new();
    let mut fresh = 0;
    while let Some(done) = calls.join_next().await {
        let created = done.expect("task runs").expect("created").into_inner();
        fresh += usize::from(!created.replayed);
        ids.push(created.order.expect("order").id);
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(fresh, 1);
    assert_eq!(app.count("orders").await, 1);
    assert_eq!(app.count("order_status_history").await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_is_refused() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.create(with_key("k-1", seed_order(&menu)))
        .await
        .expect("first");
    let mut different = seed_order(&menu);
    different.items.push(line(menu.lemonade, 1));

    let refused = app
        .create(with_key("k-1", different))
        .await
        .expect_err("must be refused");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(fields(&refused), ["idempotency_key"]);
    assert_eq!(app.count("orders").await, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let first = app
        .create(with_key("same", takeout(&menu, 1)))
        .await
        .expect("customer 1");
    let second = app
        .create(with_key("same", takeout(&menu, 2)))
        .await
        .expect("customer 2");
    let as_other = app
        .create(pb::CreateOrderRequest {
            actor: Some(actor(ActorKind::Customer, "2")),
            ..with_key("same", takeout(&menu, 1))
        })
        .await
        .expect_err("a customer orders only as themselves");
    let staff_made = app
        .create(pb::CreateOrderRequest {
            actor: Some(actor(ActorKind::Staff, "cashier")),
            ..with_key("same", takeout(&menu, 1))
        })
        .await
        .expect("staff");

    assert_eq!(as_other.code(), Code::PermissionDenied);
    assert!(!second.replayed && !staff_made.replayed);
    let ids = [&first, &second, &staff_made].map(|c| c.order.as_ref().expect("order").id);
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
}

#[tokio::test]
async fn a_replayed_guest_order_comes_with_a_token_that_opens_it() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = with_key("guest-1", guest_order(&menu, "Ana", "+14155550100"));

    let first = app.create(request.clone()).await.expect("first");
    let retry = app.create(request).await.expect("retry");

    assert!(retry.replayed);
    assert!(!retry.access_token.is_empty());
    let order = retry.order.expect("order");
    for token in [&first.access_token, &retry.access_token] {
        let tracked = app
            .client()
            .track_order(pb::TrackOrderRequest {
                order_number: order.order_number.clone(),
                access_token: token.clone(),
            })
            .await
            .expect("the token opens the order")
            .into_inner();
        assert_eq!(tracked.id, order.id);
    }
}

#[tokio::test]
async fn racing_retries_of_an_order_with_a_one_per_customer_coupon_all_get_the_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        restaurant_id: menu.restaurant_id,
        code: "ONEEACH".to_owned(),
        kind: rpb::DiscountKind::Fixed.into(),
        value: 100,
        max_per_customer: 1,
        ..Default::default()
    })
    .await;
    let request = pb::CreateOrderRequest {
        coupon_code: "ONEEACH".to_owned(),
        ..with_key("coupon-race", takeout(&menu, 1))
    };

    let mut calls = JoinSet::new();
    for _ in 0..6 {
        let mut client = app.client();
        let request = request.clone();
        calls.spawn(async move { client.create_order(request).await });
    }
    let mut ids = Vec::new();
    while let Some(done) = calls.join_next().await {
        let created = done
            .expect("task runs")
            .expect("every retry gets the order");
        ids.push(created.into_inner().order.expect("order").id);
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(app.count("orders").await, 1);
    app.wait_for_redemptions(menu.restaurant_id, "ONEEACH", 1)
        .await;
}

#[tokio::test]
async fn a_refused_request_leaves_its_key_free_for_a_corrected_retry() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let mut wrong = with_key("fix-1", seed_order(&menu));
    wrong.items[0].stated_unit_price_minor = Some(999);

    let refused = app.create(wrong).await.expect_err("wrong price");
    let corrected = app
        .create(with_key("fix-1", seed_order(&menu)))
        .await
        .expect("the corrected request is served");

    assert_eq!(reason(&refused), "PRICE_MISMATCH");
    assert!(!corrected.replayed);
    assert_eq!(app.count("orders").await, 1);
}

/// The fingerprint order-svc keeps of a create: the request without its
/// key and actor.
fn fingerprint_of(request: &pb::CreateOrderRequest) -> Vec<u8> {
    let mut body = request.clone();
    body.idempotency_key.clear();
    body.actor = None;
    number::fingerprint(&body.encode_to_vec())
}

#[tokio::test]
async fn a_key_whose_holder_died_is_answered_at_once_and_free_when_its_lease_runs_out() {
    let app = spawn_app_with_manual_clock().await;
    let menu = app.a_menu().await;
    let request = with_key("died-1", takeout(&menu, 1));
    // The claim a request killed right after claiming leaves behind.
    let mut conn = app.pool.acquire().await.expect("a connection");
    let fingerprint = fingerprint_of(&request);
    let now = app.clock.now();
    store::claim_key(
        &mut conn,
        "CUSTOMER:1",
        "died-1",
        &fingerprint,
        7,
        KEY_LEASE,
        now,
    )
    .await
    .expect("claimed");

    let told = app
        .create(request.clone())
        .await
        .expect_err("the key is held");
    app.clock.advance(KEY_LEASE + Duration::from_secs(1));
    let created = app
        .create(request)
        .await
        .expect("the key is free once its lease ran out");

    assert_eq!(told.code(), Code::Aborted);
    assert_eq!(reason(&told), "IDEMPOTENCY_KEY_IN_PROGRESS");
    let info = told.get_details_error_info().expect("ErrorInfo");
    assert_eq!(info.metadata["retry_after_seconds"], "1");
    assert!(!created.replayed);
    assert_eq!(app.count("orders").await, 1);
}

#[tokio::test]
async fn a_create_whose_caller_went_away_still_ends_and_a_retry_gets_its_order() {
    let app = spawn_app_behind_valve().await;
    let menu = app.a_menu().await;
    let request = with_key("cut-1", takeout(&menu, 1));
    let valve = app.valve.as_ref().expect("spawned behind a valve");

    valve.freeze();
    let cut = tokio::time::timeout(Duration::from_millis(300), app.create(request.clone())).await;
    assert!(
        cut.is_err(),
        "the create waits on the frozen restaurant-svc"
    );
    valve.thaw();
    let retried = app.create(request).await.expect("the retry gets the order");

    assert_eq!(app.count("orders").await, 1);
    let order = retried.order.expect("order");
    assert_eq!(order.customer_id, 1);
}

#[tokio::test]
async fn two_guests_with_the_same_key_each_get_their_own_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let as_guest = |name: &str, phone: &str| pb::CreateOrderRequest {
        actor: Some(actor(ActorKind::Guest, "")),
        ..with_key("1", guest_order(&menu, name, phone))
    };

    let ana = app
        .create(as_guest("Ana", "+14155550100"))
        .await
        .expect("Ana");
    let ben = app
        .create(as_guest("Ben", "+14155550111"))
        .await
        .expect("Ben");
    let ana_again = app
        .create(as_guest("Ana", "+14155550100"))
        .await
        .expect("Ana's retry");

    assert!(!ben.replayed, "another guest's key never meets Ana's");
    let id = |c: &pb::CreateOrderResponse| c.order.as_ref().expect("order").id;
    assert_ne!(id(&ana), id(&ben));
    assert!(ana_again.replayed);
    assert_eq!(id(&ana_again), id(&ana));
    assert_eq!(app.count("orders").await, 2);
}
