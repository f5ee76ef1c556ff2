//! PriceOrder: the menu's current prices, and every modifier rule.

use foodmesh_proto::restaurant::v1 as pb;
use tonic::Code;

use crate::helpers::{TestApp, amount, fields, price_line, reason, spawn_app, with_option_off};

/// A pizza (12.99) with Size (exactly one: small −1.00, large +2.00) and
/// Toppings (up to two: cheese +1.50, olives +0.50, no onions 0).
struct Pizzeria {
    restaurant_id: i64,
    pizza: i64,
    small: i64,
    large: i64,
    cheese: i64,
    olives: i64,
    no_onions: i64,
}

async fn pizzeria(app: &TestApp) -> Pizzeria {
    let r = app.a_restaurant().await;
    let size = app
        .a_group(r.id, "Size", (1, 1), &[("Small", -100), ("Large", 200)])
        .await;
    let toppings = app
        .a_group(
            r.id,
            "Toppings",
            (0, 2),
            &[("Cheese", 150), ("Olives", 50), ("No onions", 0)],
        )
        .await;
    let pizza = app
        .an_item(r.id, "Margherita", 1299, &[size.id, toppings.id])
        .await;
    Pizzeria {
        restaurant_id: r.id,
        pizza: pizza.id,
        small: size.options[0].id,
        large: size.options[1].id,
        cheese: toppings.options[0].id,
        olives: toppings.options[1].id,
        no_onions: toppings.options[2].id,
    }
}

async fn price(
    app: &TestApp,
    restaurant_id: i64,
    lines: Vec<pb::PriceLineRequest>,
) -> Result<pb::PricedOrder, tonic::Status> {
    app.client()
        .price_order(pb::PriceOrderRequest {
            restaurant_id,
            lines,
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn an_order_is_priced_from_the_current_menu() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;
    let lemonade = app.an_item(p.restaurant_id, "Lemonade", 350, &[]).await;

    let priced = price(
        &app,
        p.restaurant_id,
        vec![
            price_line(p.pizza, 2, &[p.large, p.cheese, p.no_onions]),
            price_line(lemonade.id, 3, &[]),
        ],
    )
    .await
    .expect("order is priced");

    let pizza = &priced.lines[0];
    assert_eq!(amount(&pizza.base_price), 1299);
    assert_eq!(pizza.options.len(), 3);
    assert_eq!(amount(&pizza.unit_price), 1299 + 200 + 150);
    assert_eq!(amount(&pizza.line_total), 2 * 1649);
    assert_eq!(amount(&priced.lines[1].line_total), 1050);
    assert_eq!(amount(&priced.subtotal), 3298 + 1050);
    assert_eq!(amount(&priced.delivery_fee), 299);
    assert_eq!(priced.tax_rate_ppm, 88_800);
    assert_eq!(priced.currency, "USD");
    assert_eq!(priced.restaurant_name, "Pizza Palace");
    assert_eq!(priced.address.map(|a| a.city), Some("New York".to_owned()));
}

#[tokio::test]
async fn each_groups_minimum_and_maximum_is_enforced() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;

    let no_size = price(
        &app,
        p.restaurant_id,
        vec![price_line(p.pizza, 1, &[p.cheese])],
    )
    .await;
    let two_sizes = price(
        &app,
        p.restaurant_id,
        vec![price_line(p.pizza, 1, &[p.small, p.large])],
    )
    .await;
    let three_toppings = price(
        &app,
        p.restaurant_id,
        vec![price_line(
            p.pizza,
            1,
            &[p.small, p.cheese, p.olives, p.no_onions],
        )],
    )
    .await;

    for refused in [no_size, two_sizes, three_toppings] {
        let status = refused.expect_err("broken selection is refused");
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(reason(&status), "OPTION_SELECTION_INVALID");
        assert_eq!(fields(&status), ["lines[0].option_ids"]);
    }
}

#[tokio::test]
async fn options_must_be_offered_with_the_item_and_available() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;
    let salad = app.an_item(p.restaurant_id, "Salad", 800, &[]).await;

    let not_offered = price(
        &app,
        p.restaurant_id,
        vec![price_line(salad.id, 1, &[p.cheese])],
    )
    .await
    .expect_err("an option the item does not offer is refused");
    let groups = app
        .client()
        .get_menu(pb::GetMenuRequest {
            restaurant_id: p.restaurant_id,
            include_unavailable: true,
        })
        .await
        .expect("menu")
        .into_inner()
        .option_groups;
    let size = &groups[0];
    app.client()
        .update_option_group(with_option_off(p.restaurant_id, size, p.large))
        .await
        .expect("large is taken off");
    let unavailable = price(
        &app,
        p.restaurant_id,
        vec![price_line(p.pizza, 1, &[p.large])],
    )
    .await
    .expect_err("an unavailable option is refused");

    assert_eq!(not_offered.code(), Code::InvalidArgument);
    assert_eq!(reason(&not_offered), "OPTION_NOT_OFFERED");
    assert_eq!(fields(&not_offered), ["lines[0].option_ids[0]"]);
    assert_eq!(unavailable.code(), Code::FailedPrecondition);
    assert_eq!(reason(&unavailable), "OPTION_UNAVAILABLE");
    assert_eq!(fields(&unavailable), ["lines[0].option_ids[0]"]);
}

#[tokio::test]
async fn unknown_items_and_items_of_other_restaurants_are_refused_by_line() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;
    let elsewhere = app.a_restaurant().await;
    let foreign = app.an_item(elsewhere.id, "Sushi", 900, &[]).await;

    for missing in [999_999, foreign.id] {
        let refused = price(
            &app,
            p.restaurant_id,
            vec![
                price_line(p.pizza, 1, &[p.small]),
                price_line(missing, 1, &[]),
            ],
        )
        .await
        .expect_err("the item is not on this menu");

        assert_eq!(refused.code(), Code::InvalidArgument);
        assert_eq!(reason(&refused), "MENU_ITEM_NOT_FOUND");
        assert_eq!(fields(&refused), ["lines[1].menu_item_id"]);
    }
}

#[tokio::test]
async fn malformed_lines_are_refused_with_each_field_named() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;

    let bad_quantities = price(
        &app,
        p.restaurant_id,
        vec![
            price_line(p.pizza, 0, &[p.small]),
            price_line(p.pizza, 100, &[p.small, p.small]),
        ],
    )
    .await
    .expect_err("bad quantities are refused");
    let empty = price(&app, p.restaurant_id, Vec::new())
        .await
        .expect_err("an empty order is refused");
    let too_long = price(
        &app,
        p.restaurant_id,
        vec![price_line(p.pizza, 1, &[p.small]); 51],
    )
    .await
    .expect_err("51 lines are refused");

    assert_eq!(
        fields(&bad_quantities),
        [
            "lines[0].quantity",
            "lines[1].quantity",
            "lines[1].option_ids[1]"
        ]
    );
    assert_eq!(fields(&empty), ["lines"]);
    assert_eq!(fields(&too_long), ["lines"]);
}

#[tokio::test]
async fn an_inactive_restaurant_prices_nothing() {
    let app = spawn_app().await;
    let p = pizzeria(&app).await;
    app.client()
        .update_restaurant(pb::UpdateRestaurantRequest {
            id: p.restaurant_id,
            patch: Some(pb::RestaurantPatch {
                active: Some(false),
                ..Default::default()
            }),
        })
        .await
        .expect("restaurant is closed");

    let refused = price(
        &app,
        p.restaurant_id,
        vec![price_line(p.pizza, 1, &[p.small])],
    )
    .await
    .expect_err("a closed restaurant takes no orders");

    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "RESTAURANT_INACTIVE");
}
