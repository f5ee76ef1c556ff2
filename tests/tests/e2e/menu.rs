//! `/api/restaurants/{id}/menu`, `/categories` and `/option-groups`, and
//! the gateway's menu cache: changes through the gateway show in its next
//! read, changes past it within a notice's delivery, and a cached menu is
//! the very JSON a read through sends.

use foodmesh_proto::restaurant::v1 as pb;
use pb::restaurant_service_client::RestaurantServiceClient;
use reqwest::Method;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::helpers::{EVENTUAL, Mesh, eventually};

#[tokio::test]
async fn a_menu_item_priced_12_99_reads_back_as_exactly_12_99() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;

    let created = mesh
        .post(
            &format!("/api/restaurants/{id}/menu"),
            Some(&Mesh::staff(id)),
            &json!({"name": "Margherita", "description": "Tomato, mozzarella", "price": 12.99}),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains(r#""price":12.99"#),
        "{}",
        created.text
    );
    let item_id = created.json()["id"].as_i64().expect("id");
    assert_eq!(
        created.header("location"),
        format!("/api/restaurants/{id}/menu/{item_id}")
    );
    let menu = mesh.get(&format!("/api/restaurants/{id}/menu"), None).await;
    assert_eq!(menu.status, 200, "{}", menu.text);
    assert!(menu.text.contains(r#""price":12.99"#), "{}", menu.text);
    assert!(menu.text.contains(r#""currency":"USD""#), "{}", menu.text);
    let item = mesh
        .get(&format!("/api/restaurants/{id}/menu/{item_id}"), None)
        .await;
    assert!(item.text.contains(r#""price":12.99"#), "{}", item.text);
}

#[tokio::test]
async fn prices_sent_as_strings_keep_their_cents() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;

    let item_id = mesh
        .item(id, &json!({"name": "Calzone", "price": "12.50"}))
        .await;
    let patched = mesh
        .patch(
            &format!("/api/restaurants/{id}/menu/{item_id}"),
            Some(&Mesh::admin()),
            &json!({"price": "0.10"}),
        )
        .await;

    assert_eq!(patched.status, 200, "{}", patched.text);
    assert!(patched.text.contains(r#""price":0.10"#), "{}", patched.text);
    for (body, field) in [
        (json!({"price": -1}), "price"),
        (json!({"price": "0.105"}), "price"),
        (json!({"name": ""}), "name"),
        (json!({"available": "yes"}), "available"),
        (json!({"category_id": 0}), "category_id"),
    ] {
        mesh.patch(
            &format!("/api/restaurants/{id}/menu/{item_id}"),
            Some(&Mesh::admin()),
            &body,
        )
        .await
        .problem(422, Some(field));
    }
    let menu = mesh.get(&format!("/api/restaurants/{id}/menu"), None).await;
    assert!(menu.text.contains(r#""price":0.10"#), "{}", menu.text);
    assert!(menu.text.contains(r#""name":"Calzone""#), "{}", menu.text);
}

#[tokio::test]
async fn bad_prices_and_names_are_422_naming_the_field_and_write_nothing() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let path = format!("/api/restaurants/{id}/menu");
    let admin = Mesh::admin();
    let cases = [
        (json!({"name": "Margherita", "price": -1.00}), "price"),
        (json!({"name": "Margherita", "price": "-0.01"}), "price"),
        (json!({"name": "Margherita", "price": 12.999}), "price"),
        (json!({"name": "Margherita", "price": "twelve"}), "price"),
        (json!({"name": "Margherita", "price": true}), "price"),
        (json!({"name": "Margherita"}), "price"),
        (json!({"price": 12.99}), "name"),
        (json!({"name": "", "price": 12.99}), "name"),
        (json!({"name": "x".repeat(201), "price": 12.99}), "name"),
        (
            json!({"name": "Margherita", "price": 1, "category_id": "two"}),
            "category_id",
        ),
        (
            json!({"name": "Margherita", "price": 1, "option_group_ids": [1, -2]}),
            "option_group_ids[1]",
        ),
        (
            json!({"name": "Margherita", "price": 1, "image_url": "x".repeat(3000)}),
            "image_url",
        ),
    ];

    for (body, field) in cases {
        mesh.post(&path, Some(&admin), &body)
            .await
            .problem(422, Some(field));
    }
    // Exponent notation is refused: amounts are read as the decimals they say.
    mesh.raw(
        Method::POST,
        &path,
        Some(&admin),
        Some("application/json"),
        r#"{"name": "Margherita", "price": 1e3}"#,
    )
    .await
    .problem(422, Some("price"));
    mesh.raw(
        Method::POST,
        &path,
        Some(&admin),
        Some("application/json"),
        "{\"name\": ",
    )
    .await
    .problem(400, None);
    mesh.raw(
        Method::POST,
        &path,
        Some(&admin),
        Some("application/xml"),
        "<item/>",
    )
    .await
    .problem(415, None);
    assert!(mesh.all_items(id).await.is_empty());
}

#[tokio::test]
async fn menu_reads_are_public_and_writes_need_the_restaurants_staff() {
    let mesh = Mesh::start().await;
    let mine = mesh.restaurant("Mine").await;
    let other = mesh.restaurant("Other").await;
    let path = format!("/api/restaurants/{mine}/menu");
    let body = json!({"name": "Soup", "price": 4.5});

    mesh.post(&path, None, &body).await.problem(401, None);
    mesh.post(&path, Some(&Mesh::customer()), &body)
        .await
        .problem(403, None);
    mesh.post(&path, Some(&Mesh::staff(other)), &body)
        .await
        .problem(403, None);
    mesh.post(
        &path,
        Some(&Mesh::token(gateway::auth::Role::Driver, None)),
        &body,
    )
    .await
    .problem(403, None);
    assert!(mesh.all_items(mine).await.is_empty());

    let created = mesh.post(&path, Some(&Mesh::staff(mine)), &body).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let item_id = created.json()["id"].as_i64().expect("id");
    let item_path = format!("{path}/{item_id}");
    mesh.patch(&item_path, Some(&Mesh::staff(other)), &json!({"price": 0}))
        .await
        .problem(403, None);
    mesh.delete(&item_path, Some(&Mesh::customer()))
        .await
        .problem(403, None);
    mesh.delete(&item_path, None).await.problem(401, None);

    let public = mesh.get(&path, None).await;
    assert_eq!(public.status, 200, "{}", public.text);
    assert!(public.text.contains(r#""price":4.50"#), "{}", public.text);
    assert_eq!(mesh.get("/api/restaurants", None).await.status, 200);
    assert_eq!(
        mesh.get(&format!("/api/restaurants/{mine}/categories"), None)
            .await
            .status,
        200
    );
    assert_eq!(
        mesh.get(&format!("/api/restaurants/{mine}/option-groups"), None)
            .await
            .status,
        200
    );

    let deleted = mesh.delete(&item_path, Some(&Mesh::staff(mine))).await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    mesh.get(&item_path, None).await.problem(404, None);
}

#[tokio::test]
async fn unavailable_items_are_shown_only_to_managers_who_ask() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let item_id = mesh.item(id, &json!({"name": "Special", "price": 9})).await;
    let path = format!("/api/restaurants/{id}/menu");

    let sold_out = mesh
        .patch(
            &format!("{path}/{item_id}"),
            Some(&Mesh::staff(id)),
            &json!({"available": false}),
        )
        .await;
    assert_eq!(sold_out.status, 200, "{}", sold_out.text);
    assert_eq!(sold_out.json()["available"], false);

    let public = mesh.get(&path, None).await.json();
    assert_eq!(
        public["items"].as_array().map(Vec::len),
        Some(0),
        "{public}"
    );
    let asked = format!("{path}?include_unavailable=true");
    mesh.get(&asked, None).await.problem(401, None);
    mesh.get(&asked, Some(&Mesh::customer()))
        .await
        .problem(403, None);
    let staff_view = mesh.get(&asked, Some(&Mesh::staff(id))).await.json();
    assert_eq!(staff_view["items"][0]["id"], item_id);
    mesh.get(&format!("{path}?include_unavailable=maybe"), None)
        .await
        .problem(400, Some("include_unavailable"));
}

#[tokio::test]
async fn categories_are_created_listed_changed_and_deleted() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let path = format!("/api/restaurants/{id}/categories");

    let pizzas = mesh
        .post(&path, Some(&staff), &json!({"name": "Pizzas"}))
        .await;
    assert_eq!(pizzas.status, 201, "{}", pizzas.text);
    let pizzas_id = pizzas.json()["id"].as_i64().expect("id");
    assert_eq!(pizzas.header("location"), format!("{path}/{pizzas_id}"));
    let drinks = mesh
        .post(
            &path,
            Some(&staff),
            &json!({"name": "Drinks", "description": "Cold"}),
        )
        .await;
    let drinks_id = drinks.json()["id"].as_i64().expect("id");
    let item_id = mesh
        .item(
            id,
            &json!({"name": "Cola", "price": 2, "category_id": drinks_id}),
        )
        .await;

    let renamed = mesh
        .patch(
            &format!("{path}/{pizzas_id}"),
            Some(&staff),
            &json!({"name": "Pies"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.text);
    assert_eq!(renamed.json()["name"], "Pies");
    let listed = mesh.get(&path, None).await.json();
    let names: Vec<&str> = listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["Pies", "Drinks"]);

    let uncategorized = mesh
        .patch(
            &format!("/api/restaurants/{id}/menu/{item_id}"),
            Some(&staff),
            &json!({"category_id": null}),
        )
        .await;
    assert_eq!(uncategorized.status, 200, "{}", uncategorized.text);
    assert!(uncategorized.json()["category_id"].is_null());

    let deleted = mesh
        .delete(&format!("{path}/{pizzas_id}"), Some(&staff))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let listed = mesh.get(&path, None).await.json();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

    mesh.post(&path, Some(&staff), &json!({"name": " "}))
        .await
        .problem(422, Some("name"));
    mesh.post(&path, Some(&staff), &json!({"description": "no name"}))
        .await
        .problem(422, Some("name"));
    mesh.patch(
        &format!("{path}/{drinks_id}"),
        Some(&staff),
        &json!({"position": "first"}),
    )
    .await
    .problem(422, Some("position"));
    mesh.patch(
        &format!("{path}/999999"),
        Some(&staff),
        &json!({"name": "Ghost"}),
    )
    .await
    .problem(404, None);
    mesh.post(&path, None, &json!({"name": "Anon"}))
        .await
        .problem(401, None);
    assert_eq!(
        mesh.get(&path, None).await.json()["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn option_groups_keep_exact_price_changes() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let path = format!("/api/restaurants/{id}/option-groups");

    let created = mesh
        .post(
            &path,
            Some(&staff),
            &json!({
                "name": "Toppings", "min_select": 0, "max_select": 2,
                "options": [{"name": "Extra cheese", "price_delta": 1.50}, {"name": "No onions"}]
            }),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.text.contains(r#""price_delta":1.50"#),
        "{}",
        created.text
    );
    assert!(
        created.text.contains(r#""price_delta":0.00"#),
        "{}",
        created.text
    );
    let group: Value = created.json();
    let group_id = group["id"].as_i64().expect("id");
    let cheese_id = group["options"][0]["id"].as_i64().expect("option id");

    let item_id = mesh
        .item(
            id,
            &json!({"name": "Margherita", "price": 12.99, "option_group_ids": [group_id]}),
        )
        .await;
    let menu = mesh
        .get(&format!("/api/restaurants/{id}/menu"), None)
        .await
        .json();
    assert_eq!(menu["items"][0]["id"], item_id);
    assert_eq!(menu["items"][0]["option_group_ids"], json!([group_id]));
    assert_eq!(menu["option_groups"][0]["id"], group_id);

    let changed = mesh
        .patch(
            &format!("{path}/{group_id}"),
            Some(&staff),
            &json!({"options": [{"id": cheese_id, "name": "Extra cheese", "price_delta": "1.75"}]}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert!(
        changed.text.contains(r#""price_delta":1.75"#),
        "{}",
        changed.text
    );
    assert_eq!(changed.json()["options"][0]["id"], cheese_id);
    let listed = mesh.get(&path, None).await;
    assert!(
        listed.text.contains(r#""price_delta":1.75"#),
        "{}",
        listed.text
    );

    mesh.patch(
        &format!("{path}/{group_id}"),
        Some(&staff),
        &json!({"options": [{"id": cheese_id, "name": "Extra cheese", "price_delta": "1.755"}]}),
    )
    .await
    .problem(422, Some("options[0].price_delta"));
    let unchanged = mesh.get(&path, None).await;
    assert!(
        unchanged.text.contains(r#""price_delta":1.75"#),
        "{}",
        unchanged.text
    );

    let deleted = mesh
        .delete(&format!("{path}/{group_id}"), Some(&staff))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);
    let listed = mesh.get(&path, None).await.json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
}

#[tokio::test]
async fn bad_option_groups_are_422_naming_the_field_and_write_nothing() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let path = format!("/api/restaurants/{id}/option-groups");
    let cases = [
        (json!({"options": []}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "Size", "min_select": -1}), "min_select"),
        (
            json!({"name": "Size", "min_select": 3, "max_select": 1}),
            "min_select",
        ),
        (
            json!({"name": "Size", "options": [{"price_delta": 1}]}),
            "options[0].name",
        ),
        (
            json!({"name": "Size", "options": [{"name": "L", "price_delta": 0.5}, {"name": "XL", "price_delta": 1.005}]}),
            "options[1].price_delta",
        ),
        (
            json!({"name": "Size", "options": [{"id": 4, "name": "L"}]}),
            "options[0].id",
        ),
        (json!({"name": "Size", "options": "L"}), "options"),
    ];

    for (body, field) in cases {
        mesh.post(&path, Some(&staff), &body)
            .await
            .problem(422, Some(field));
    }
    let listed = mesh.get(&path, None).await.json();
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "{listed}"
    );
    mesh.patch(
        &format!("{path}/424242"),
        Some(&staff),
        &json!({"name": "Ghost"}),
    )
    .await
    .problem(404, None);
}

#[tokio::test]
async fn unknown_items_and_categories_are_refused_and_nothing_is_written() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let other = mesh.restaurant("Other").await;
    let admin = Mesh::admin();
    let foreign_category = mesh
        .post(
            &format!("/api/restaurants/{other}/categories"),
            Some(&admin),
            &json!({"name": "Theirs"}),
        )
        .await
        .json()["id"]
        .as_i64()
        .expect("id");

    let reply = mesh
        .patch(
            &format!("/api/restaurants/{id}/menu/777"),
            Some(&admin),
            &json!({"price": 1}),
        )
        .await;
    assert_eq!(reply.problem(404, None)["code"], "menu_item_not_found");
    mesh.delete(&format!("/api/restaurants/{id}/menu/777"), Some(&admin))
        .await
        .problem(404, None);
    let reply = mesh
        .post(
            &format!("/api/restaurants/{id}/menu"),
            Some(&admin),
            &json!({"name": "Stray", "price": 1, "category_id": foreign_category}),
        )
        .await;
    assert!(matches!(reply.status, 404 | 422), "{}", reply.text);
    reply.problem(reply.status, None);
    assert!(mesh.all_items(id).await.is_empty());
}

// ------------------------------------------------------- the menu cache --

/// Reads the public menu until a read is answered from the gateway's cache
/// (its change stream is subscribed): what a test changes next was cached.
async fn until_cached(mesh: &Mesh, id: i64) {
    let path = format!("/api/restaurants/{id}/menu");
    eventually("a menu read from the gateway's cache", EVENTUAL, || async {
        let before = mesh.menu_cache_hits().await;
        assert_eq!(mesh.get(&path, None).await.status, 200);
        assert_eq!(mesh.get(&path, None).await.status, 200);
        (mesh.menu_cache_hits().await > before).then_some(())
    })
    .await;
}

/// A client of restaurant-svc itself, past the gateway.
async fn restaurant_svc(mesh: &Mesh) -> RestaurantServiceClient<Channel> {
    let channel = Channel::from_shared(mesh.restaurant_url())
        .expect("address is a URI")
        .connect()
        .await
        .expect("restaurant-svc accepts connections");
    RestaurantServiceClient::new(channel)
}

#[tokio::test]
async fn menu_changes_through_the_gateway_show_in_its_next_read() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let item_id = mesh
        .item(id, &json!({"name": "Margherita", "price": "12.99"}))
        .await;
    let path = format!("/api/restaurants/{id}/menu");
    let staff = Mesh::staff(id);
    until_cached(&mesh, id).await;

    let patched = mesh
        .patch(
            &format!("{path}/{item_id}"),
            Some(&staff),
            &json!({"price": "13.49"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    let menu = mesh.get(&path, None).await;
    assert!(menu.text.contains(r#""price":13.49"#), "{}", menu.text);

    let sold_out = mesh
        .patch(
            &format!("{path}/{item_id}"),
            Some(&staff),
            &json!({"available": false}),
        )
        .await;
    assert_eq!(sold_out.status, 200, "{}", sold_out.text);
    let menu = mesh.get(&path, None).await.json();
    assert_eq!(menu["items"].as_array().map(Vec::len), Some(0), "{menu}");

    let calzone = mesh.item(id, &json!({"name": "Calzone", "price": 9})).await;
    let menu = mesh.get(&path, None).await.json();
    assert_eq!(menu["items"][0]["id"], calzone, "{menu}");

    // The currency is cached too (item writes read it): a change of it
    // through the gateway is read back at once, so amounts are read in it.
    let yen = mesh
        .patch(
            &format!("/api/restaurants/{id}"),
            Some(&Mesh::admin()),
            &json!({"currency": "JPY"}),
        )
        .await;
    assert_eq!(yen.status, 200, "{}", yen.text);
    mesh.post(
        &path,
        Some(&staff),
        &json!({"name": "Ramen", "price": "12.99"}),
    )
    .await
    .problem(422, Some("price"));
    let menu = mesh.get(&path, None).await;
    assert!(menu.text.contains(r#""currency":"JPY""#), "{}", menu.text);
}

#[tokio::test]
async fn a_change_made_past_the_gateway_reaches_its_cached_menu() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let item_id = mesh
        .item(id, &json!({"name": "Margherita", "price": "12.99"}))
        .await;
    let path = format!("/api/restaurants/{id}/menu");
    until_cached(&mesh, id).await;
    let mut direct = restaurant_svc(&mesh).await;

    direct
        .update_menu_item(pb::UpdateMenuItemRequest {
            restaurant_id: id,
            item_id,
            price_minor: Some(1499),
            ..Default::default()
        })
        .await
        .expect("price is changed in restaurant-svc");

    eventually("the new price through the gateway", EVENTUAL, || async {
        let menu = mesh.get(&path, None).await;
        menu.text.contains(r#""price":14.99"#).then_some(())
    })
    .await;

    until_cached(&mesh, id).await;
    direct
        .delete_restaurant(pb::DeleteRestaurantRequest { id })
        .await
        .expect("restaurant is deleted in restaurant-svc");
    eventually("the deleted restaurant's menu gone", EVENTUAL, || async {
        (mesh.get(&path, None).await.status == 404).then_some(())
    })
    .await;
    mesh.get(&path, None).await.problem(404, None);
}

#[tokio::test]
async fn a_restaurant_deleted_through_the_gateway_has_no_menu_at_once() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    mesh.item(id, &json!({"name": "Margherita", "price": "12.99"}))
        .await;
    let path = format!("/api/restaurants/{id}/menu");
    until_cached(&mesh, id).await;

    let deleted = mesh
        .delete(&format!("/api/restaurants/{id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.text);

    mesh.get(&path, None).await.problem(404, None);
    mesh.get("/api/restaurants/999999/menu", None)
        .await
        .problem(404, None);
}

#[tokio::test]
async fn a_cached_menu_is_byte_for_byte_the_menu_read_through() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(id);
    let category = mesh
        .post(
            &format!("/api/restaurants/{id}/categories"),
            Some(&staff),
            &json!({"name": "Pizzas"}),
        )
        .await
        .json()["id"]
        .clone();
    let group = mesh
        .post(
            &format!("/api/restaurants/{id}/option-groups"),
            Some(&staff),
            &json!({"name": "Toppings", "max_select": 2,
                    "options": [{"name": "Cheese", "price_delta": "1.50"}]}),
        )
        .await
        .json()["id"]
        .clone();
    mesh.item(
        id,
        &json!({"name": "Margherita", "price": "12.99", "category_id": category,
                "option_group_ids": [group]}),
    )
    .await;
    let path = format!("/api/restaurants/{id}/menu");
    until_cached(&mesh, id).await;

    let cached = mesh.get(&path, None).await;
    // Staff asking for unavailable entries always read through; with none
    // unavailable, that read renders the same menu.
    let read_through = mesh
        .get(&format!("{path}?include_unavailable=true"), Some(&staff))
        .await;

    assert_eq!(cached.status, 200, "{}", cached.text);
    assert_eq!(cached.text, read_through.text);
    assert_eq!(cached.header("content-type"), "application/json");
    assert_eq!(read_through.header("content-type"), "application/json");
    assert!(
        cached.text.contains(r#""price_delta":1.50"#),
        "{}",
        cached.text
    );
}
