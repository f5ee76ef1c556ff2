//! Categories, items and option groups, and what GetMenu shows of them.

use foodmesh_proto::restaurant::v1 as pb;
use tonic::Code;

use crate::helpers::{amount, fields, price_line, reason, spawn_app};

async fn menu(
    client: &mut crate::helpers::Client,
    restaurant_id: i64,
    include_unavailable: bool,
) -> pb::Menu {
    client
        .get_menu(pb::GetMenuRequest {
            restaurant_id,
            include_unavailable,
        })
        .await
        .expect("menu is read")
        .into_inner()
}

fn names(menu: &pb::Menu) -> Vec<&str> {
    menu.items.iter().map(|i| i.name.as_str()).collect()
}

#[tokio::test]
async fn the_menu_lists_categories_in_order_and_items_by_category() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let drinks = app.a_category(r.id, "Drinks", Some(5)).await;
    let pizzas = app.a_category(r.id, "Pizzas", Some(1)).await;
    let mut client = app.client();
    for (name, category) in [
        ("Lemonade", drinks.id),
        ("Pepperoni", pizzas.id),
        ("Margherita", pizzas.id),
    ] {
        client
            .create_menu_item(pb::CreateMenuItemRequest {
                restaurant_id: r.id,
                name: name.to_owned(),
                price_minor: 500,
                category_id: Some(category),
                ..Default::default()
            })
            .await
            .expect("item is created");
    }
    app.an_item(r.id, "Mystery box", 100, &[]).await;

    let menu = menu(&mut client, r.id, false).await;

    let categories: Vec<_> = menu.categories.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(categories, ["Pizzas", "Drinks"]);
    assert_eq!(
        names(&menu),
        ["Pepperoni", "Margherita", "Lemonade", "Mystery box"]
    );
    assert_eq!(menu.currency, "USD");
}

#[tokio::test]
async fn unavailable_items_are_hidden_unless_asked_for() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    client
        .create_menu_item(pb::CreateMenuItemRequest {
            restaurant_id: r.id,
            name: "Seasonal".to_owned(),
            price_minor: 1599,
            available: Some(false),
            ..Default::default()
        })
        .await
        .expect("item is created");

    let customers = menu(&mut client, r.id, false).await;
    let staff = menu(&mut client, r.id, true).await;

    assert_eq!(names(&customers), ["Margherita"]);
    assert_eq!(names(&staff), ["Margherita", "Seasonal"]);
}

#[tokio::test]
async fn a_price_or_availability_change_is_visible_at_once_to_menu_and_pricing() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let item = app.an_item(r.id, "Margherita", 1299, &[]).await;
    let mut client = app.client();
    let price_one = || pb::PriceOrderRequest {
        restaurant_id: r.id,
        lines: vec![price_line(item.id, 1, &[])],
    };

    client
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id: r.id,
            item_id: item.id,
            price_minor: Some(1499),
            ..Default::default()
        })
        .await
        .expect("price change is accepted");
    let shown = menu(&mut client, r.id, false).await;
    let priced = client
        .price_order(price_one())
        .await
        .expect("priced")
        .into_inner();

    assert_eq!(amount(&shown.items[0].price), 1499);
    assert_eq!(amount(&priced.subtotal), 1499);

    client
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id: r.id,
            item_id: item.id,
            available: Some(false),
            ..Default::default()
        })
        .await
        .expect("availability change is accepted");
    let shown = menu(&mut client, r.id, false).await;
    let refused = client
        .price_order(price_one())
        .await
        .expect_err("unavailable");

    assert!(shown.items.is_empty());
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "ITEM_UNAVAILABLE");
    assert_eq!(fields(&refused), ["lines[0].menu_item_id"]);
}

#[tokio::test]
async fn deleting_a_category_leaves_its_items_uncategorised() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let pizzas = app.a_category(r.id, "Pizzas", None).await;
    let mut client = app.client();
    let item = client
        .create_menu_item(pb::CreateMenuItemRequest {
            restaurant_id: r.id,
            name: "Margherita".to_owned(),
            price_minor: 1299,
            category_id: Some(pizzas.id),
            ..Default::default()
        })
        .await
        .expect("item is created")
        .into_inner();

    client
        .delete_category(pb::DeleteCategoryRequest {
            restaurant_id: r.id,
            category_id: pizzas.id,
        })
        .await
        .expect("category is deleted");
    let menu = menu(&mut client, r.id, false).await;

    assert_eq!(item.category_id, pizzas.id);
    assert!(menu.categories.is_empty());
    assert_eq!(menu.items.len(), 1);
    assert_eq!(menu.items[0].category_id, 0);
}

#[tokio::test]
async fn an_item_may_not_use_another_restaurants_category_or_option_groups() {
    let app = spawn_app().await;
    let ours = app.a_restaurant().await;
    let theirs = app.a_restaurant().await;
    let their_category = app.a_category(theirs.id, "Pizzas", None).await;
    let their_group = app
        .a_group(theirs.id, "Extras", (0, 0), &[("Cheese", 150)])
        .await;
    let our_group = app
        .a_group(ours.id, "Extras", (0, 0), &[("Cheese", 150)])
        .await;
    let mut client = app.client();

    let refused = client
        .create_menu_item(pb::CreateMenuItemRequest {
            restaurant_id: ours.id,
            name: "Margherita".to_owned(),
            price_minor: 1299,
            category_id: Some(their_category.id),
            option_group_ids: vec![our_group.id, their_group.id],
            ..Default::default()
        })
        .await
        .expect_err("foreign references are refused");

    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["category_id", "option_group_ids[1]"]);
    assert!(menu(&mut client, ours.id, true).await.items.is_empty());
}

#[tokio::test]
async fn every_invalid_item_field_is_named_and_nothing_is_written() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let mut client = app.client();

    let refused = client
        .create_menu_item(pb::CreateMenuItemRequest {
            restaurant_id: r.id,
            name: String::new(),
            price_minor: -1,
            image_url: "ftp://images.example/pizza.png".to_owned(),
            option_group_ids: vec![7, 7],
            ..Default::default()
        })
        .await
        .expect_err("invalid item is refused");

    assert_eq!(reason(&refused), "VALIDATION_FAILED");
    assert_eq!(
        fields(&refused),
        ["name", "price_minor", "image_url", "option_group_ids"]
    );
    assert!(menu(&mut client, r.id, true).await.items.is_empty());
}

#[tokio::test]
async fn replacing_options_keeps_the_ids_of_options_that_stay() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let group = app
        .a_group(r.id, "Toppings", (0, 2), &[("Cheese", 150), ("Olives", 50)])
        .await;
    let (cheese, olives) = (group.options[0].id, group.options[1].id);

    let updated = app
        .client()
        .update_option_group(pb::UpdateOptionGroupRequest {
            restaurant_id: r.id,
            option_group_id: group.id,
            options: vec![
                pb::OptionInput {
                    id: None,
                    name: "Basil".to_owned(),
                    price_delta_minor: 0,
                    available: None,
                },
                pb::OptionInput {
                    id: Some(cheese),
                    name: "Extra cheese".to_owned(),
                    price_delta_minor: 175,
                    available: Some(false),
                },
            ],
            replace_options: true,
            ..Default::default()
        })
        .await
        .expect("options are replaced")
        .into_inner();

    let options: Vec<_> = updated
        .options
        .iter()
        .map(|o| (o.name.as_str(), amount(&o.price_delta), o.available))
        .collect();
    assert_eq!(options, [("Basil", 0, true), ("Extra cheese", 175, false)]);
    assert_eq!(updated.options[1].id, cheese);
    assert!(updated.options.iter().all(|o| o.id != olives));
}

#[tokio::test]
async fn selection_rules_are_checked_against_the_stored_group() {
    let app = spawn_app().await;
    let r = app.a_restaurant().await;
    let group = app
        .a_group(r.id, "Size", (1, 1), &[("Small", -100), ("Large", 200)])
        .await;
    let mut client = app.client();

    let too_many = client
        .update_option_group(pb::UpdateOptionGroupRequest {
            restaurant_id: r.id,
            option_group_id: group.id,
            min_select: Some(2),
            ..Default::default()
        })
        .await
        .expect_err("min above max is refused");
    let invalid_new = client
        .create_option_group(pb::CreateOptionGroupRequest {
            restaurant_id: r.id,
            name: "Sauce".to_owned(),
            min_select: 3,
            max_select: 1,
            options: vec![pb::OptionInput {
                name: String::new(),
                ..Default::default()
            }],
        })
        .await
        .expect_err("an invalid group is refused");

    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert_eq!(fields(&too_many), ["min_select"]);
    assert_eq!(fields(&invalid_new), ["options[0].name", "min_select"]);
    assert_eq!(menu(&mut client, r.id, true).await.option_groups.len(), 1);
}
