//! Item edits while PENDING: every line priced again, totals and the
//! coupon's discount following, and no edit once the order is confirmed.

use foodmesh_proto::order::v1 as pb;
use foodmesh_proto::restaurant::v1 as rpb;
use tonic::Code;

use crate::helpers::{TestApp, amount, fields, line, paid_by, reason, spawn_app, takeout, totals};

async fn add(
    app: &TestApp,
    order_id: i64,
    item: pb::OrderLineInput,
) -> Result<pb::Order, tonic::Status> {
    app.client()
        .add_item(pb::AddItemRequest {
            order_id,
            item: Some(item),
            access_token: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

async fn update(app: &TestApp, request: pb::UpdateItemRequest) -> Result<pb::Order, tonic::Status> {
    app.client()
        .update_item(request)
        .await
        .map(tonic::Response::into_inner)
}

async fn remove(app: &TestApp, order_id: i64, line_id: i64) -> Result<pb::Order, tonic::Status> {
    app.client()
        .remove_item(pb::RemoveItemRequest {
            order_id,
            line_id,
            access_token: String::new(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn items_added_changed_and_removed_while_pending_recompute_the_totals() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 1)).await;
    let pizza_line = order.items[0].id;

    let added = add(&app, order.id, line(menu.lemonade, 2))
        .await
        .expect("added");
    let lemonade_line = added.items[1].id;
    let changed = update(
        &app,
        pb::UpdateItemRequest {
            order_id: order.id,
            line_id: pizza_line,
            quantity: Some(3),
            option_ids: vec![menu.cheese],
            replace_options: true,
            stated_unit_price_minor: Some(1449),
            ..Default::default()
        },
    )
    .await
    .expect("changed");
    let removed = remove(&app, order.id, lemonade_line)
        .await
        .expect("removed");

    // 12.99 + 2 × 3.50 = 19.99; tax 8.88% = 1.775 → 1.78.
    assert_eq!(totals(&added), (1999, 0, 0, 178, 2177));
    assert_eq!(changed.items[0].id, pizza_line, "lines keep their ids");
    assert_eq!(amount(&changed.items[0].unit_price), 1449);
    assert_eq!(totals(&changed).0, 3 * 1449 + 700);
    assert_eq!(removed.items.len(), 1);
    // 3 × 14.49 = 43.47; tax 3.860 → 3.86.
    assert_eq!(totals(&removed), (4347, 0, 0, 386, 4733));
    assert_eq!(
        app.outbox().await,
        [
            "order.created",
            "order.updated",
            "order.updated",
            "order.updated"
        ]
    );
}

#[tokio::test]
async fn a_coupon_discount_follows_the_subtotal_when_items_change() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        restaurant_id: menu.restaurant_id,
        code: "TEN".to_owned(),
        kind: rpb::DiscountKind::Percent.into(),
        value: 1000,
        min_order_minor: 1000,
        ..Default::default()
    })
    .await;
    let order = app
        .an_order(pb::CreateOrderRequest {
            coupon_code: "TEN".to_owned(),
            ..takeout(&menu, 1)
        })
        .await;
    assert_eq!(totals(&order).1, 129);

    let more = add(&app, order.id, line(menu.pizza, 1))
        .await
        .expect("added");
    let pizza_lines: Vec<i64> = more.items.iter().map(|l| l.id).collect();
    let small = update(
        &app,
        pb::UpdateItemRequest {
            order_id: order.id,
            line_id: pizza_lines[0],
            ..Default::default()
        },
    )
    .await
    .expect("unchanged line priced again");
    let under_minimum = {
        let with_lemonade = add(&app, order.id, line(menu.lemonade, 1))
            .await
            .expect("added");
        remove(&app, order.id, pizza_lines[0])
            .await
            .expect("removed");
        remove(&app, order.id, pizza_lines[1])
            .await
            .expect("removed");
        assert_eq!(with_lemonade.items.len(), 3);
        app.get(order.id).await
    };

    assert_eq!(totals(&more).1, 259, "10% of 25.98, rounded down");
    assert_eq!(totals(&small).1, 259);
    assert_eq!(totals(&under_minimum).0, 350);
    assert_eq!(totals(&under_minimum).1, 0, "under the minimum order");
    assert_eq!(under_minimum.coupon_code, "TEN");
}

#[tokio::test]
async fn items_cannot_change_once_the_order_is_confirmed() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app
        .an_order(paid_by(pb::PaymentMethod::Cash, takeout(&menu, 1)))
        .await;

    let refused = add(&app, order.id, line(menu.lemonade, 1))
        .await
        .expect_err("confirmed orders are not edited");
    let removal = remove(&app, order.id, order.items[0].id)
        .await
        .expect_err("nor shortened");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "ORDER_NOT_EDITABLE");
    assert_eq!(reason(&removal), "ORDER_NOT_EDITABLE");
    assert_eq!(app.get(order.id).await.items.len(), 1);
}

#[tokio::test]
async fn an_edit_with_a_wrong_price_or_line_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    let order = app.an_order(takeout(&menu, 1)).await;

    let wrong_price = add(
        &app,
        order.id,
        pb::OrderLineInput {
            stated_unit_price_minor: Some(300),
            ..line(menu.lemonade, 1)
        },
    )
    .await
    .expect_err("the menu says 3.50");
    let bad_option = update(
        &app,
        pb::UpdateItemRequest {
            order_id: order.id,
            line_id: order.items[0].id,
            option_ids: vec![999_999],
            replace_options: true,
            ..Default::default()
        },
    )
    .await
    .expect_err("no such option");
    let unknown_line = remove(&app, order.id, 999_999)
        .await
        .expect_err("no such line");
    let last_line = remove(&app, order.id, order.items[0].id)
        .await
        .expect_err("an order keeps a line");

    assert_eq!(reason(&wrong_price), "PRICE_MISMATCH");
    assert_eq!(fields(&wrong_price), ["item.stated_unit_price_minor"]);
    assert_eq!(fields(&bad_option), ["option_ids[0]"]);
    assert_eq!(unknown_line.code(), Code::NotFound);
    assert_eq!(fields(&unknown_line), ["line_id"]);
    assert_eq!(reason(&last_line), "ORDER_NEEDS_A_LINE");
    let unchanged = app.get(order.id).await;
    assert_eq!(unchanged.items, order.items);
    assert_eq!(app.outbox().await, ["order.created"]);
}
