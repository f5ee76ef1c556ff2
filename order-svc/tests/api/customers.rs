//! Customer profiles: made on a registered customer's first order, kept up
//! by checkout and by UpdateCustomer.

use foodmesh_proto::order::v1 as pb;
use tonic::Code;

use crate::helpers::{
    TestApp, fields, guest_order, oak_ave, paid_by, reason, seed_order, spawn_app,
};

async fn get(app: &TestApp, id: i64) -> Result<pb::Customer, tonic::Status> {
    app.client()
        .get_customer(pb::GetCustomerRequest { id })
        .await
        .map(tonic::Response::into_inner)
}

async fn update(
    app: &TestApp,
    request: pb::UpdateCustomerRequest,
) -> Result<pb::Customer, tonic::Status> {
    app.client()
        .update_customer(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn a_registered_customer_gets_a_profile_on_first_order_and_can_update_it() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let before = get(&app, 1).await.expect_err("no profile yet");

    app.an_order(paid_by(pb::PaymentMethod::Card, seed_order(&menu)))
        .await;
    app.an_order(seed_order(&menu)).await;
    let profile = get(&app, 1).await.expect("made by the first order");
    let updated = update(
        &app,
        pb::UpdateCustomerRequest {
            id: 1,
            name: Some("Ana Lima".to_owned()),
            phone: Some("+14155550100".to_owned()),
            preferred_payment_method: pb::PaymentMethod::MobileMoney.into(),
            ..Default::default()
        },
    )
    .await
    .expect("updated");
    let next_order = app.an_order(seed_order(&menu)).await;

    assert_eq!(before.code(), Code::NotFound);
    assert!(profile.registered);
    assert_eq!(profile.order_count, 2);
    assert!(profile.last_order_at.is_some());
    assert_eq!(profile.saved_addresses, [oak_ave()], "saved once");
    assert_eq!(profile.preferred_payment_method(), pb::PaymentMethod::Card);
    assert_eq!(updated.name, "Ana Lima");
    assert_eq!(
        updated.preferred_payment_method(),
        pb::PaymentMethod::MobileMoney
    );
    assert_eq!(
        next_order.contact.expect("contact").phone,
        "+14155550100",
        "orders carry the profile's contact"
    );
}

#[tokio::test]
async fn saved_addresses_are_replaced_only_when_asked() {
    let app = spawn_app().await;

    let refused = update(
        &app,
        pb::UpdateCustomerRequest {
            id: 3,
            saved_addresses: vec![oak_ave()],
            ..Default::default()
        },
    )
    .await
    .expect_err("needs the flag");
    let replaced = update(
        &app,
        pb::UpdateCustomerRequest {
            id: 3,
            saved_addresses: vec![oak_ave()],
            replace_saved_addresses: true,
            ..Default::default()
        },
    )
    .await
    .expect("replaced");

    assert_eq!(fields(&refused), ["replace_saved_addresses"]);
    assert_eq!(replaced.saved_addresses, [oak_ave()]);
}

#[tokio::test]
async fn a_phone_another_customer_has_is_refused() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let guest = app
        .an_order(guest_order(&menu, "Ana", "+14155550100"))
        .await;
    update(
        &app,
        pb::UpdateCustomerRequest {
            id: 1,
            phone: Some("+14155550100".to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect("a registered customer may share a guest profile's phone");
    app.an_order(guest_order(&menu, "Bo", "+14155550199")).await;

    let refused = update(
        &app,
        pb::UpdateCustomerRequest {
            id: guest.customer_id,
            phone: Some("+14155550199".to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect_err("Bo's guest profile has it");

    assert_eq!(refused.code(), Code::AlreadyExists);
    assert_eq!(reason(&refused), "PHONE_TAKEN");
    assert_eq!(fields(&refused), ["phone"]);
}

#[tokio::test]
async fn an_unknown_guest_profile_is_not_found() {
    let app = spawn_app().await;

    let read = get(&app, -42).await.expect_err("no such profile");
    let written = update(
        &app,
        pb::UpdateCustomerRequest {
            id: -42,
            name: Some("Nobody".to_owned()),
            ..Default::default()
        },
    )
    .await
    .expect_err("guest profiles are made by checkout");

    assert_eq!(read.code(), Code::NotFound);
    assert_eq!(written.code(), Code::NotFound);
    assert_eq!(reason(&written), "CUSTOMER_NOT_FOUND");
}

#[tokio::test]
async fn a_customers_concurrent_orders_are_all_counted_and_save_a_new_address_once() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.an_order(seed_order(&menu)).await;
    let mut elm_st = oak_ave();
    elm_st.street = "12 Elm St".to_owned();

    let placed = futures::future::join_all((0..8).map(|_| {
        let mut request = paid_by(pb::PaymentMethod::Cash, seed_order(&menu));
        request.delivery_address = Some(elm_st.clone());
        app.an_order(request)
    }))
    .await;
    let profile = get(&app, 1).await.expect("profile");

    assert_eq!(placed.len(), 8);
    assert_eq!(profile.order_count, 9);
    assert_eq!(
        profile.last_order_at,
        placed
            .iter()
            .max_by_key(|o| o.id)
            .and_then(|o| o.created_at),
        "the newest order's time"
    );
    assert_eq!(
        profile.saved_addresses,
        [elm_st, oak_ave()],
        "newest first, once"
    );
    assert_eq!(profile.preferred_payment_method(), pb::PaymentMethod::Cash);
}
