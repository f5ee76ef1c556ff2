//! CreateOrder: prices from the menu, totals, order numbers, the customer
//! profile, and what a cash order publishes.

use std::collections::HashSet;

use foodmesh_proto::common::v1::ActorKind;
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as pb;
use prost::Message;
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::{
    amount, customer, fields, guest_order, line, oak_ave, paid_by, reason, seed_order, spawn_app,
    spawn_app_with_restaurant_down, staff, takeout, totals,
};

#[tokio::test]
async fn the_seed_order_is_priced_from_the_menu_as_a_pending_delivery_order() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let created = app
        .create(seed_order(&menu))
        .await
        .expect("order is created");

    let order = created.order.expect("an order");
    assert_eq!(order.order_type(), pb::OrderType::Delivery);
    assert_eq!(order.status(), pb::OrderStatus::Pending);
    assert_eq!(order.payment_method(), pb::PaymentMethod::Unspecified);
    assert_eq!(order.customer_id, 1);
    assert_eq!(order.currency, "USD");
    // 2 × 12.99 = 25.98; delivery 2.99; tax 8.88% of 25.98 = 2.307 → 2.31.
    assert_eq!(totals(&order), (2598, 0, 299, 231, 3128));
    let pizza = &order.items[0];
    assert_eq!((pizza.name.as_str(), pizza.quantity), ("Margherita", 2));
    assert_eq!(amount(&pizza.unit_price), 1299);
    assert_eq!(amount(&pizza.line_total), 2598);
    assert_eq!(order.delivery_address, Some(oak_ave()));
    assert_eq!(order.restaurant_name, "Pizza Palace");
    assert_eq!(order.prep_minutes, 20);
    assert!(
        created.access_token.is_empty(),
        "registered orders have no token"
    );
    assert!(!created.replayed);
    assert_eq!(app.outbox().await, ["order.created"]);
    let history = app.history(order.id).await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].from(), pb::OrderStatus::Unspecified);
    assert_eq!(history[0].to(), pb::OrderStatus::Pending);
}

#[tokio::test]
async fn an_order_without_an_address_is_takeout_without_a_delivery_fee() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = pb::CreateOrderRequest {
        delivery_address: None,
        ..seed_order(&menu)
    };

    let order = app.an_order(request).await;

    assert_eq!(order.order_type(), pb::OrderType::Takeout);
    assert_eq!(totals(&order), (2598, 0, 0, 231, 2829));
}

#[tokio::test]
async fn modifiers_are_priced_and_kept_on_the_line() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = pb::CreateOrderRequest {
        items: vec![
            pb::OrderLineInput {
                option_ids: vec![menu.cheese],
                special_instructions: "well done".to_owned(),
                stated_unit_price_minor: Some(1449),
                ..line(menu.pizza, 1)
            },
            line(menu.lemonade, 2),
        ],
        ..takeout(&menu, 7)
    };

    let order = app.an_order(request).await;

    let pizza = &order.items[0];
    assert_eq!(amount(&pizza.unit_price), 1299 + 150);
    assert_eq!(pizza.options.len(), 1);
    assert_eq!(pizza.options[0].name, "Extra cheese");
    assert_eq!(pizza.special_instructions, "well done");
    assert_eq!(totals(&order).0, 1449 + 700);
}

#[tokio::test]
async fn a_stated_price_that_differs_from_the_menu_is_refused_and_nothing_is_written() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let mut request = seed_order(&menu);
    request.items.insert(0, line(menu.lemonade, 1));
    request.items[1].stated_unit_price_minor = Some(1199);

    let refused = app.create(request).await.expect_err("must be refused");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "PRICE_MISMATCH");
    assert_eq!(fields(&refused), ["items[1].stated_unit_price_minor"]);
    for table in [
        "orders",
        "order_lines",
        "customers",
        "outbox",
        "order_status_history",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn an_item_the_menu_does_not_have_is_refused_naming_its_line() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = pb::CreateOrderRequest {
        items: vec![line(menu.pizza, 1), line(999_999, 1)],
        ..takeout(&menu, 1)
    };

    let refused = app.create(request).await.expect_err("must be refused");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(reason(&refused), "MENU_ITEM_NOT_FOUND");
    assert_eq!(fields(&refused), ["items[1].menu_item_id"]);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn an_unknown_restaurant_is_not_found() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let request = pb::CreateOrderRequest {
        restaurant_id: menu.restaurant_id + 100,
        ..takeout(&menu, 1)
    };

    let refused = app.create(request).await.expect_err("must be refused");

    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(reason(&refused), "RESTAURANT_NOT_FOUND");
}

#[tokio::test]
async fn order_numbers_are_six_unambiguous_characters_and_unique() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let mut calls = JoinSet::new();
    for customer_id in 1..=30 {
        let mut client = app.client();
        let request = takeout(&menu, customer_id);
        calls.spawn(async move { client.create_order(request).await });
    }
    let mut numbers = HashSet::new();
    while let Some(done) = calls.join_next().await {
        let order = done
            .expect("task runs")
            .expect("order is created")
            .into_inner()
            .order
            .expect("an order");
        let number = order.order_number;
        assert_eq!(number.len(), 6, "{number}");
        assert!(
            number
                .bytes()
                .all(|b| b"23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(&b)),
            "{number}"
        );
        numbers.insert(number);
    }

    assert_eq!(numbers.len(), 30);
}

#[tokio::test]
async fn a_cash_order_is_confirmed_at_once_with_both_events_in_the_outbox() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, seed_order(&menu)))
        .await;

    assert_eq!(order.status(), pb::OrderStatus::Confirmed);
    assert!(order.confirmed_at.is_some());
    assert_eq!(app.outbox().await, ["order.created", "order.confirmed"]);
    let history = app.history(order.id).await;
    let moves: Vec<_> = history.iter().map(|c| (c.from(), c.to())).collect();
    assert_eq!(
        moves,
        [
            (pb::OrderStatus::Unspecified, pb::OrderStatus::Pending),
            (pb::OrderStatus::Pending, pb::OrderStatus::Confirmed),
        ]
    );
    let system = history[1].actor.as_ref().expect("an actor");
    assert_eq!(system.kind(), ActorKind::System);

    let envelopes = app.envelopes().await;
    assert_eq!(envelopes[1].aggregate_id, order.id.to_string());
    let event = OrderEvent::decode(envelopes[1].payload.as_slice()).expect("an OrderEvent");
    let snapshot = event.order.expect("the order");
    assert_eq!(snapshot.status(), pb::OrderStatus::Confirmed);
    assert_eq!(
        event.change.expect("the change").to(),
        pb::OrderStatus::Confirmed
    );
    assert_eq!(
        event.restaurant_address.expect("pickup address").street,
        "123 Main St"
    );
    assert!(event.restaurant_location.is_some());
    assert_eq!(event.prep_minutes, 20);
    let created = OrderEvent::decode(envelopes[0].payload.as_slice()).expect("an OrderEvent");
    assert!(created.change.is_none());
    let placed = created.order.expect("the order as placed");
    assert_eq!(placed.status(), pb::OrderStatus::Pending);
    assert!(placed.confirmed_at.is_none());
    assert_eq!(placed.items, snapshot.items);
    assert_eq!(placed.totals, snapshot.totals);
}

#[tokio::test]
async fn a_guest_checkout_creates_then_updates_the_guest_profile() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let first = app
        .create(guest_order(&menu, "Ana", "+14155550100"))
        .await
        .expect("first order");
    let mut again = guest_order(&menu, "Ana Lima", "+14155550100");
    if let Some(pb::create_order_request::Customer::Guest(g)) = &mut again.customer {
        g.email = "ana@example.com".to_owned();
    }
    let second = app.create(again).await.expect("second order");

    let (first, second) = (first.order.expect("order"), second.order.expect("order"));
    assert!(first.guest && second.guest);
    assert!(first.customer_id < 0, "guest profiles have negative ids");
    assert_eq!(first.customer_id, second.customer_id);
    assert_eq!(second.contact.as_ref().expect("contact").name, "Ana Lima");
    let profile = app
        .client()
        .get_customer(pb::GetCustomerRequest {
            id: first.customer_id,
        })
        .await
        .expect("profile exists")
        .into_inner();
    assert_eq!(
        (
            profile.name.as_str(),
            profile.phone.as_str(),
            profile.email.as_str()
        ),
        ("Ana Lima", "+14155550100", "ana@example.com")
    );
    assert_eq!(profile.order_count, 2);
    assert!(!profile.registered);
}

#[tokio::test]
async fn without_restaurant_svc_an_order_is_refused_as_unavailable_and_nothing_is_written() {
    let app = spawn_app_with_restaurant_down().await;

    let refused = app
        .create(pb::CreateOrderRequest {
            restaurant_id: 1,
            customer: Some(pb::create_order_request::Customer::CustomerId(1)),
            items: vec![line(1, 1)],
            ..Default::default()
        })
        .await
        .expect_err("nothing prices it");

    assert_eq!(refused.code(), Code::Unavailable);
    assert_eq!(reason(&refused), "UPSTREAM_UNAVAILABLE");
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn the_order_a_create_answers_is_the_order_as_stored() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let lines = vec![
        pb::OrderLineInput {
            option_ids: vec![menu.cheese],
            special_instructions: "well done".to_owned(),
            ..line(menu.pizza, 2)
        },
        line(menu.lemonade, 3),
        line(menu.pizza, 1),
    ];

    for method in [pb::PaymentMethod::Cash, pb::PaymentMethod::Card] {
        let created = app
            .an_order(paid_by(
                method,
                pb::CreateOrderRequest {
                    items: lines.clone(),
                    ..seed_order(&menu)
                },
            ))
            .await;

        let stored = app.get(created.id).await;
        assert_eq!(created, stored, "{method:?}: answered and stored differ");
        let names: Vec<_> = stored.items.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            ["Margherita", "Lemonade", "Margherita"],
            "{method:?}"
        );
    }
}

#[tokio::test]
async fn staff_take_a_walk_in_order_with_no_customer_and_nobody_else_may() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let walk_in = |order_type: pb::OrderType| pb::CreateOrderRequest {
        restaurant_id: menu.restaurant_id,
        customer: Some(pb::create_order_request::Customer::WalkIn(true)),
        order_type: order_type.into(),
        table_number: if order_type == pb::OrderType::DineIn {
            "5".to_owned()
        } else {
            String::new()
        },
        items: vec![line(menu.pizza, 1)],
        actor: Some(staff()),
        ..Default::default()
    };

    let created = app
        .create(walk_in(pb::OrderType::DineIn))
        .await
        .expect("staff take it");
    let order = created.order.expect("an order");
    assert_eq!(order.customer_id, 0);
    assert!(!order.guest);
    assert!(created.access_token.is_empty());
    assert_eq!(app.get(order.id).await.customer_id, 0);
    assert_eq!(app.count("customers").await, 0, "no profile is made");

    let delivered = pb::CreateOrderRequest {
        delivery_address: Some(oak_ave()),
        ..walk_in(pb::OrderType::Delivery)
    };
    let refused = app
        .create(delivered)
        .await
        .expect_err("nobody to deliver to");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["walk_in"]);

    let by_a_customer = pb::CreateOrderRequest {
        actor: Some(customer(7)),
        ..walk_in(pb::OrderType::Takeout)
    };
    let refused = app.create(by_a_customer).await.expect_err("staff only");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let unnamed = pb::CreateOrderRequest {
        actor: None,
        ..walk_in(pb::OrderType::Takeout)
    };
    let refused = app.create(unnamed).await.expect_err("staff only");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(app.count("orders").await, 1);
}
