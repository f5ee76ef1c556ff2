//! ListOrders: newest first, filters, cursor paging; a customer's history
//! and reordering from it.

use std::collections::HashSet;

use foodmesh_proto::order::v1 as pb;
use pb::OrderStatus as S;
use tonic::Code;

use crate::helpers::{
    TestApp, customer, fields, guest_order, line, page, paid_by, seed_order, spawn_app, takeout,
};

async fn ids(app: &TestApp, request: pb::ListOrdersRequest) -> Vec<i64> {
    app.list(request)
        .await
        .orders
        .iter()
        .map(|o| o.id)
        .collect()
}

#[tokio::test]
async fn orders_are_found_by_type_and_by_number_in_any_case() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let carried = app.an_order(takeout(&menu, 1)).await;
    let delivered = app.an_order(seed_order(&menu)).await;
    let by_types = |types: &[pb::OrderType]| pb::ListOrdersRequest {
        order_types: types.iter().map(|&t| t.into()).collect(),
        ..Default::default()
    };

    let deliveries = ids(&app, by_types(&[pb::OrderType::Delivery])).await;
    let either = ids(
        &app,
        by_types(&[pb::OrderType::Takeout, pb::OrderType::Delivery]),
    )
    .await;
    let dine_in = ids(&app, by_types(&[pb::OrderType::DineIn])).await;
    let numbered = ids(
        &app,
        pb::ListOrdersRequest {
            order_number: format!(" {} ", carried.order_number.to_lowercase()),
            ..Default::default()
        },
    )
    .await;
    let unknown_number = ids(
        &app,
        pb::ListOrdersRequest {
            order_number: "ZZZZZZ".to_owned(),
            order_types: vec![pb::OrderType::Takeout.into()],
            ..Default::default()
        },
    )
    .await;

    assert_eq!(deliveries, [delivered.id]);
    assert_eq!(either, [delivered.id, carried.id]);
    assert!(dine_in.is_empty());
    assert_eq!(numbered, [carried.id]);
    assert!(unknown_number.is_empty());
}

#[tokio::test]
async fn orders_are_listed_newest_first_with_filters() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let other = app.a_menu().await;
    let a = app.an_order(takeout(&menu, 1)).await;
    let b = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 2)))
        .await;
    let c = app.an_order(takeout(&other, 1)).await;
    let d = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;
    app.advance(d.id, &[S::Preparing]).await;

    let all = ids(&app, pb::ListOrdersRequest::default()).await;
    let at_menu = ids(
        &app,
        pb::ListOrdersRequest {
            restaurant_id: menu.restaurant_id,
            ..Default::default()
        },
    )
    .await;
    let of_customer_1 = ids(
        &app,
        pb::ListOrdersRequest {
            customer_id: 1,
            ..Default::default()
        },
    )
    .await;
    let open = ids(
        &app,
        pb::ListOrdersRequest {
            statuses: vec![S::Confirmed.into(), S::Preparing.into()],
            ..Default::default()
        },
    )
    .await;
    let from_now = ids(
        &app,
        pb::ListOrdersRequest {
            created_from: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            ..Default::default()
        },
    )
    .await;
    let until_c = ids(
        &app,
        pb::ListOrdersRequest {
            created_to: c.created_at,
            ..Default::default()
        },
    )
    .await;

    assert_eq!(all, [d.id, c.id, b.id, a.id]);
    assert_eq!(at_menu, [d.id, b.id, a.id]);
    assert_eq!(of_customer_1, [d.id, c.id, a.id]);
    assert_eq!(open, [d.id, b.id]);
    assert!(from_now.is_empty());
    assert_eq!(until_c, [b.id, a.id]);
}

#[tokio::test]
async fn listing_pages_with_an_opaque_cursor() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    for customer_id in 1..=5 {
        app.an_order(takeout(&menu, customer_id)).await;
    }

    let mut seen = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let reply = app
            .list(pb::ListOrdersRequest {
                page: page(2, &token),
                ..Default::default()
            })
            .await;
        pages += 1;
        assert!(reply.orders.len() <= 2);
        seen.extend(reply.orders.iter().map(|o| o.id));
        token = reply.page.expect("page").next_page_token;
        if token.is_empty() {
            break;
        }
    }

    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 5);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first: {seen:?}"
    );
    let default_page = app.list(pb::ListOrdersRequest::default()).await;
    assert_eq!(default_page.orders.len(), 5);
}

#[tokio::test]
async fn bad_page_sizes_tokens_and_filters_name_their_field() {
    let app = spawn_app().await;

    let refused = app
        .client()
        .list_orders(pb::ListOrdersRequest {
            page: page(101, "not-a-token"),
            statuses: vec![S::Pending.into(), 42],
            restaurant_id: -1,
            created_from: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            created_to: Some(prost_types::Timestamp {
                seconds: 1_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .expect_err("must be refused");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(
        fields(&refused),
        [
            "page_size",
            "page_token",
            "statuses[1]",
            "restaurant_id",
            "created_to"
        ]
    );
}

#[tokio::test]
async fn a_customers_history_lists_their_orders_and_one_can_be_ordered_again() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let mut request = seed_order(&menu);
    request.items.push(pb::OrderLineInput {
        option_ids: vec![menu.cheese],
        special_instructions: "crispy".to_owned(),
        ..line(menu.pizza, 1)
    });
    let first = app.an_order(request).await;
    app.an_order(guest_order(&menu, "Ana", "+14155550100"))
        .await;

    let again = app
        .client()
        .reorder(pb::ReorderRequest {
            order_id: first.id,
            actor: Some(customer(1)),
            payment_method: pb::PaymentMethod::Cash.into(),
            ..Default::default()
        })
        .await
        .expect("reordered")
        .into_inner()
        .order
        .expect("order");
    let someone_else = app
        .client()
        .reorder(pb::ReorderRequest {
            order_id: first.id,
            actor: Some(customer(2)),
            ..Default::default()
        })
        .await
        .expect_err("not their order");
    let history = ids(
        &app,
        pb::ListOrdersRequest {
            customer_id: 1,
            ..Default::default()
        },
    )
    .await;

    assert_ne!(again.id, first.id);
    assert_eq!(again.status(), S::Confirmed, "paid in cash this time");
    assert_eq!(again.order_type(), pb::OrderType::Delivery);
    assert_eq!(again.delivery_address, first.delivery_address);
    let lines = |o: &pb::Order| {
        o.items
            .iter()
            .map(|l| {
                (
                    l.menu_item_id,
                    l.quantity,
                    l.options.iter().map(|o| o.option_id).collect::<Vec<_>>(),
                    l.special_instructions.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(lines(&again), lines(&first));
    assert_eq!(again.totals, first.totals);
    assert_eq!(someone_else.code(), Code::PermissionDenied);
    assert_eq!(history, [again.id, first.id]);
}
