//! Guest access tokens: alone they read, track, watch and cancel their
//! order, and nothing else.

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::order::v1 as pb;
use pb::OrderStatus as S;
use tonic::Code;

use crate::helpers::{actor, guest_order, reason, spawn_app, takeout};

#[tokio::test]
async fn a_guest_tracks_their_order_with_its_number_and_token() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let created = app
        .create(guest_order(&menu, "Ana", "+14155550100"))
        .await
        .expect("created");
    let other = app
        .create(guest_order(&menu, "Bo", "+14155550199"))
        .await
        .expect("created");
    let order = created.order.expect("order");
    let token = created.access_token;

    let tracked = app
        .client()
        .track_order(pb::TrackOrderRequest {
            order_number: order.order_number.to_lowercase(),
            access_token: token.clone(),
        })
        .await
        .expect("tracked")
        .into_inner();
    let wrong_token = app
        .client()
        .track_order(pb::TrackOrderRequest {
            order_number: order.order_number.clone(),
            access_token: other.access_token.clone(),
        })
        .await
        .expect_err("another order's token");
    let read = app
        .client()
        .get_order(pb::GetOrderRequest {
            id: order.id,
            access_token: token.clone(),
        })
        .await
        .expect("read with the token");
    let denied = app
        .client()
        .get_order(pb::GetOrderRequest {
            id: order.id,
            access_token: other.access_token.clone(),
        })
        .await
        .expect_err("read with another token");

    assert!(token.len() >= 32, "{token}");
    assert_eq!(tracked.id, order.id);
    assert_eq!(tracked.contact.expect("contact").phone, "+14155550100");
    assert_eq!(wrong_token.code(), Code::NotFound);
    assert_eq!(read.into_inner().id, order.id);
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert_eq!(reason(&denied), "ACCESS_DENIED");
    let stored: Vec<Vec<u8>> = sqlx::query_scalar("SELECT token_hash FROM order_access_tokens")
        .fetch_all(&app.pool)
        .await
        .expect("readable");
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 32 && *h != token.as_bytes())
    );
}

#[tokio::test]
async fn a_guest_cancels_with_the_token_alone() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let created = app
        .create(guest_order(&menu, "Ana", "+14155550100"))
        .await
        .expect("created");
    let order = created.order.expect("order");
    let guest = actor(ActorKind::Guest, "");

    let without = app
        .cancel(order.id, guest.clone(), "", "")
        .await
        .expect_err("a guest needs the token");
    let wrong = app
        .cancel(order.id, guest.clone(), "", "fmo_not-the-token")
        .await
        .expect_err("a wrong token");
    let cancelled = app
        .cancel(order.id, guest, "plans changed", &created.access_token)
        .await
        .expect("cancelled with the token");

    assert_eq!(without.code(), Code::PermissionDenied);
    assert_eq!(wrong.code(), Code::PermissionDenied);
    assert_eq!(cancelled.status(), S::Cancelled);
}

#[tokio::test]
async fn a_registered_order_has_no_token_and_cannot_be_tracked_without_one() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let created = app.create(takeout(&menu, 1)).await.expect("created");
    let order = created.order.expect("order");

    let refused = app
        .client()
        .track_order(pb::TrackOrderRequest {
            order_number: order.order_number.clone(),
            access_token: "fmo_guess".to_owned(),
        })
        .await
        .expect_err("no token opens it");

    assert!(created.access_token.is_empty());
    assert_eq!(refused.code(), Code::NotFound);
}
