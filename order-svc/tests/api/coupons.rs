//! Coupons: redeemed through restaurant-svc under the order number, refused
//! with the restaurant's reason, released whenever the order is cancelled.

use foodmesh_proto::order::v1 as pb;
use foodmesh_proto::restaurant::v1 as rpb;
use tonic::Code;

use crate::helpers::{Menu, customer, fields, line, reason, seed_order, spawn_app, takeout};

fn ten_percent(menu: &Menu, code: &str) -> rpb::CreateCouponRequest {
    rpb::CreateCouponRequest {
        restaurant_id: menu.restaurant_id,
        code: code.to_owned(),
        kind: rpb::DiscountKind::Percent.into(),
        value: 1000,
        ..Default::default()
    }
}

fn with_coupon(code: &str, request: pb::CreateOrderRequest) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        coupon_code: code.to_owned(),
        ..request
    }
}

#[tokio::test]
async fn a_coupon_is_redeemed_with_the_order_and_released_when_it_is_cancelled() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(ten_percent(&menu, "SAVE10")).await;

    let order = app.an_order(with_coupon("save10", seed_order(&menu))).await;
    let held = app.redemptions(menu.restaurant_id, "SAVE10").await;
    app.cancel(order.id, customer(1), "", "")
        .await
        .expect("cancelled");

    assert_eq!(order.coupon_code, "SAVE10");
    let t = order.totals.as_ref().expect("totals");
    // 10% of 25.98 = 2.598 → 2.59 (down); tax 8.88% of 23.39 = 2.077 → 2.08.
    assert_eq!(t.discount.as_ref().map(|m| m.amount_minor), Some(259));
    assert_eq!(t.tax.as_ref().map(|m| m.amount_minor), Some(208));
    assert_eq!(
        t.total.as_ref().map(|m| m.amount_minor),
        Some(2598 - 259 + 299 + 208)
    );
    assert_eq!(held, 1);
    app.wait_for_redemptions(menu.restaurant_id, "SAVE10", 0)
        .await;
}

#[tokio::test]
async fn a_coupon_used_up_by_a_cancelled_order_can_be_used_again() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        max_redemptions: 1,
        ..ten_percent(&menu, "ONCE")
    })
    .await;
    let first = app.an_order(with_coupon("ONCE", takeout(&menu, 1))).await;

    let exhausted = app
        .create(with_coupon("ONCE", takeout(&menu, 2)))
        .await
        .expect_err("the coupon is used up");
    app.cancel(first.id, customer(1), "", "")
        .await
        .expect("cancelled");
    app.wait_for_redemptions(menu.restaurant_id, "ONCE", 0)
        .await;
    let second = app.create(with_coupon("ONCE", takeout(&menu, 2))).await;

    assert_eq!(exhausted.code(), Code::FailedPrecondition);
    assert_eq!(reason(&exhausted), "COUPON_EXHAUSTED");
    assert_eq!(fields(&exhausted), ["coupon_code"]);
    assert!(second.is_ok(), "{second:?}");
}

#[tokio::test]
async fn an_unknown_coupon_is_refused_naming_coupon_code_and_nothing_is_written() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;

    let refused = app
        .create(with_coupon("NOPE", takeout(&menu, 1)))
        .await
        .expect_err("no such coupon");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "COUPON_NOT_FOUND");
    assert_eq!(fields(&refused), ["coupon_code"]);
    assert_eq!(app.count("orders").await, 0);
}

#[tokio::test]
async fn a_coupon_below_its_minimum_order_is_refused_and_its_hold_is_released() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        min_order_minor: 5000,
        ..ten_percent(&menu, "BIG")
    })
    .await;

    let refused = app
        .create(with_coupon(
            "BIG",
            pb::CreateOrderRequest {
                items: vec![line(menu.lemonade, 1)],
                ..takeout(&menu, 1)
            },
        ))
        .await
        .expect_err("under the minimum");

    assert_eq!(reason(&refused), "COUPON_MIN_ORDER_NOT_MET");
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.redemptions(menu.restaurant_id, "BIG").await, 0);
}

#[tokio::test]
async fn a_quote_prices_a_cart_as_the_order_would_be_and_writes_and_redeems_nothing() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(ten_percent(&menu, "SAVE10")).await;
    let seed = seed_order(&menu);
    let quote = |coupon_code: &str, order_type: pb::OrderType| pb::QuoteOrderRequest {
        restaurant_id: menu.restaurant_id,
        order_type: order_type.into(),
        items: seed.items.clone(),
        coupon_code: coupon_code.to_owned(),
    };
    let figures = |t: Option<&pb::Totals>| {
        let t = t.expect("totals");
        let minor = |m: &Option<foodmesh_proto::common::v1::Money>| {
            m.as_ref().map_or(0, |m| m.amount_minor)
        };
        (
            minor(&t.subtotal),
            minor(&t.discount),
            minor(&t.delivery_fee),
            minor(&t.tax),
            minor(&t.total),
        )
    };

    let quoted = app
        .client()
        .quote_order(quote("save10", pb::OrderType::Delivery))
        .await
        .expect("priced")
        .into_inner();

    assert_eq!(quoted.coupon_code, "SAVE10");
    assert_eq!(quoted.items[0].name, "Margherita");
    assert_eq!(
        figures(quoted.totals.as_ref()),
        (2598, 259, 299, 208, 2598 - 259 + 299 + 208)
    );
    assert_eq!(app.redemptions(menu.restaurant_id, "SAVE10").await, 0);
    assert_eq!(app.count("orders").await, 0);
    assert_eq!(app.count("outbox").await, 0);
    // Placing the same cart costs what the quote said.
    let placed = app.an_order(with_coupon("SAVE10", seed.clone())).await;
    assert_eq!(
        figures(placed.totals.as_ref()),
        figures(quoted.totals.as_ref())
    );
    // A takeout pays no delivery fee; a coupon the restaurant lacks is
    // refused as placing would refuse it.
    let takeout = app
        .client()
        .quote_order(quote("", pb::OrderType::Takeout))
        .await
        .expect("priced")
        .into_inner();
    assert_eq!(figures(takeout.totals.as_ref()).2, 0);
    let refused = app
        .client()
        .quote_order(quote("NOPE", pb::OrderType::Takeout))
        .await
        .expect_err("no such coupon");
    assert_eq!(reason(&refused), "COUPON_NOT_FOUND");
    assert_eq!(fields(&refused), ["coupon_code"]);
}

#[tokio::test]
async fn a_quote_refuses_a_coupon_that_placing_would_refuse() {
    let app = spawn_app().await;
    let menu = app.a_menu().await;
    app.a_coupon(rpb::CreateCouponRequest {
        min_order_minor: 5000,
        ..ten_percent(&menu, "BIG")
    })
    .await;
    app.a_coupon(rpb::CreateCouponRequest {
        max_redemptions: 1,
        ..ten_percent(&menu, "ONCE")
    })
    .await;
    app.an_order(with_coupon("ONCE", takeout(&menu, 1))).await;
    let quote = |coupon_code: &str| pb::QuoteOrderRequest {
        restaurant_id: menu.restaurant_id,
        order_type: pb::OrderType::Takeout.into(),
        items: vec![line(menu.lemonade, 1)],
        coupon_code: coupon_code.to_owned(),
    };

    let below = app
        .client()
        .quote_order(quote("BIG"))
        .await
        .expect_err("under the minimum");
    let used_up = app
        .client()
        .quote_order(quote("ONCE"))
        .await
        .expect_err("used up");

    assert_eq!(below.code(), Code::FailedPrecondition);
    assert_eq!(reason(&below), "COUPON_MIN_ORDER_NOT_MET");
    assert_eq!(fields(&below), ["coupon_code"]);
    assert_eq!(reason(&used_up), "COUPON_EXHAUSTED");
    assert_eq!(fields(&used_up), ["coupon_code"]);
    assert_eq!(app.redemptions(menu.restaurant_id, "ONCE").await, 1);
}
