//! Bad input on every RPC: InvalidArgument naming each field at fault, and
//! nothing written.

use foodmesh_proto::common::v1::{Actor, Address};
use foodmesh_proto::order::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, fields, line, spawn_app, staff, takeout};

fn assert_invalid(result: Result<impl std::fmt::Debug, tonic::Status>, expected: &[&str]) {
    let refused = result.expect_err("must be refused");
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(fields(&refused), expected);
}

async fn nothing_written(app: &TestApp) {
    for table in ["orders", "customers", "outbox", "idempotency_keys"] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

#[tokio::test]
async fn bad_input_on_create_names_every_field_and_writes_nothing() {
    let app = spawn_app().await;
    let mut client = app.client();

    let everything_wrong = client
        .create_order(pb::CreateOrderRequest {
            restaurant_id: 0,
            customer: Some(pb::create_order_request::Customer::Guest(pb::Guest {
                name: " ".to_owned(),
                phone: "555-0100".to_owned(),
                email: "not-an-email".to_owned(),
            })),
            order_type: pb::OrderType::DineIn.into(),
            source: 99,
            items: vec![
                pb::OrderLineInput {
                    option_ids: vec![4, 4],
                    special_instructions: "x".repeat(501),
                    stated_unit_price_minor: Some(-1),
                    ..line(0, 0)
                },
                line(1, 100),
            ],
            coupon_code: "x".to_owned(),
            payment_method: 9,
            notes: "n".repeat(1001),
            idempotency_key: "has space".to_owned(),
            actor: Some(Actor {
                kind: 0,
                id: String::new(),
            }),
            ..Default::default()
        })
        .await;
    assert_invalid(
        everything_wrong,
        &[
            "restaurant_id",
            "guest.name",
            "guest.phone",
            "guest.email",
            "table_number",
            "source",
            "items[0].menu_item_id",
            "items[0].quantity",
            "items[0].option_ids[1]",
            "items[0].special_instructions",
            "items[0].stated_unit_price_minor",
            "items[1].quantity",
            "coupon_code",
            "payment_method",
            "notes",
            "idempotency_key",
            "actor.kind",
        ],
    );

    let menu = app.a_menu().await;
    let cases: Vec<(pb::CreateOrderRequest, &[&str])> = vec![
        (
            pb::CreateOrderRequest {
                customer: None,
                ..takeout(&menu, 1)
            },
            &["customer"],
        ),
        (
            pb::CreateOrderRequest {
                customer: Some(pb::create_order_request::Customer::CustomerId(-3)),
                ..takeout(&menu, 1)
            },
            &["customer_id"],
        ),
        (
            pb::CreateOrderRequest {
                items: Vec::new(),
                ..takeout(&menu, 1)
            },
            &["items"],
        ),
        (
            pb::CreateOrderRequest {
                items: vec![line(menu.pizza, 1); 51],
                ..takeout(&menu, 1)
            },
            &["items"],
        ),
        (
            pb::CreateOrderRequest {
                order_type: pb::OrderType::Delivery.into(),
                ..takeout(&menu, 1)
            },
            &["delivery_address"],
        ),
        (
            pb::CreateOrderRequest {
                delivery_address: Some(Address {
                    street: String::new(),
                    city: "New York".to_owned(),
                    state: String::new(),
                    zip_code: String::new(),
                    country: "United States".to_owned(),
                }),
                order_type: pb::OrderType::Unspecified.into(),
                ..takeout(&menu, 1)
            },
            &["delivery_address.street", "delivery_address.country"],
        ),
        (
            pb::CreateOrderRequest {
                table_number: "7".to_owned(),
                ..takeout(&menu, 1)
            },
            &["table_number"],
        ),
    ];
    for (request, expected) in cases {
        assert_invalid(client.create_order(request).await, expected);
    }
    nothing_written(&app).await;
}

#[tokio::test]
async fn bad_input_on_every_other_rpc_names_the_field() {
    let app = spawn_app().await;
    let mut c = app.client();
    let no_actor: Option<Actor> = None;

    assert_invalid(
        c.get_order(pb::GetOrderRequest {
            id: 0,
            access_token: String::new(),
        })
        .await,
        &["id"],
    );
    assert_invalid(
        c.update_order_status(pb::UpdateOrderStatusRequest {
            id: 0,
            status: 0,
            reason: "r".repeat(501),
            actor: no_actor.clone(),
        })
        .await,
        &["id", "status", "reason", "actor"],
    );
    assert_invalid(
        c.update_order_status(pb::UpdateOrderStatusRequest {
            id: 1,
            status: pb::OrderStatus::Confirmed.into(),
            reason: String::new(),
            actor: Some(Actor {
                kind: 42,
                id: String::new(),
            }),
        })
        .await,
        &["actor.kind"],
    );
    assert_invalid(
        c.cancel_order(pb::CancelOrderRequest {
            id: -1,
            reason: String::new(),
            actor: no_actor.clone(),
            access_token: String::new(),
        })
        .await,
        &["id", "actor"],
    );
    assert_invalid(
        c.add_item(pb::AddItemRequest {
            order_id: 0,
            item: None,
            access_token: String::new(),
        })
        .await,
        &["order_id", "item"],
    );
    assert_invalid(
        c.add_item(pb::AddItemRequest {
            order_id: 1,
            item: Some(line(1, 0)),
            access_token: String::new(),
        })
        .await,
        &["item.quantity"],
    );
    assert_invalid(
        c.update_item(pb::UpdateItemRequest {
            order_id: 0,
            line_id: 0,
            quantity: Some(100),
            special_instructions: Some("s".repeat(501)),
            option_ids: vec![1],
            replace_options: false,
            stated_unit_price_minor: Some(-5),
            access_token: String::new(),
        })
        .await,
        &[
            "order_id",
            "line_id",
            "quantity",
            "special_instructions",
            "replace_options",
            "stated_unit_price_minor",
        ],
    );
    assert_invalid(
        c.remove_item(pb::RemoveItemRequest {
            order_id: 0,
            line_id: -2,
            access_token: String::new(),
        })
        .await,
        &["order_id", "line_id"],
    );
    assert_invalid(
        c.get_history(pb::GetHistoryRequest {
            order_id: 0,
            access_token: String::new(),
        })
        .await,
        &["order_id"],
    );
    assert_invalid(
        c.track_order(pb::TrackOrderRequest {
            order_number: "0OIL1".to_owned(),
            access_token: String::new(),
        })
        .await,
        &["order_number", "access_token"],
    );
    assert_invalid(
        c.watch_order(pb::WatchOrderRequest {
            order_id: 0,
            access_token: String::new(),
        })
        .await
        .map(|_| ()),
        &["order_id"],
    );
    assert_invalid(
        c.get_customer(pb::GetCustomerRequest { id: 0 }).await,
        &["id"],
    );
    assert_invalid(
        c.update_customer(pb::UpdateCustomerRequest {
            id: 0,
            name: Some(String::new()),
            email: Some("nope".to_owned()),
            phone: Some("12345".to_owned()),
            preferred_payment_method: 17,
            ..Default::default()
        })
        .await,
        &["id", "preferred_payment_method", "name", "phone", "email"],
    );
    assert_invalid(
        c.reorder(pb::ReorderRequest {
            order_id: 0,
            idempotency_key: "\n".to_owned(),
            coupon_code: "!".to_owned(),
            payment_method: 8,
            actor: Some(staff()),
            ..Default::default()
        })
        .await,
        &[
            "order_id",
            "idempotency_key",
            "payment_method",
            "coupon_code",
        ],
    );
    assert_invalid(
        c.list_orders(pb::ListOrdersRequest {
            statuses: vec![0],
            ..Default::default()
        })
        .await,
        &["statuses[0]"],
    );
    assert_invalid(
        c.list_orders(pb::ListOrdersRequest {
            order_types: vec![pb::OrderType::Takeout.into(), 0],
            order_number: "K7M".to_owned(),
            ..Default::default()
        })
        .await,
        &["order_types[1]", "order_number"],
    );
    nothing_written(&app).await;
}
