//! What a fuzzer or an attacker sends, on every kind of route: NUL
//! characters in text, integers past what a column holds, fields the
//! request does not have, and paging parameters out of range. Each is a
//! 4xx naming the field or parameter, never a 5xx, and writes nothing.

use serde_json::{Value, json};

use crate::helpers::{Mesh, with};

async fn count(mesh: &Mesh, path: &str) -> usize {
    let reply = mesh.get(path, Some(&Mesh::admin())).await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text);
    reply.json()["items"].as_array().map_or(0, Vec::len)
}

#[tokio::test]
async fn a_nul_in_any_text_is_a_4xx_naming_the_field_and_writes_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let admin = Mesh::admin();
    let staff = Mesh::staff(restaurant);
    let address = json!({"street": "1 Main St", "city": "Springfield", "state": "IL",
                         "zip_code": "62701", "country": "US"});
    let guest = json!({
        "restaurant_id": restaurant, "order_type": "takeout", "payment_method": "cash",
        "guest": {"name": "Ann", "phone": "+15555550100"},
        "items": [{"menu_item_id": item, "quantity": 1}],
    });
    let guest_order = |patch: Value| with(&guest, &patch);
    let nul = "a\u{0}b";
    let with_nul_street = {
        let mut a = address.clone();
        a["street"] = json!(nul);
        a
    };
    let cases: Vec<(String, Option<&str>, Value, &str)> = vec![
        (
            "/api/orders".into(),
            None,
            guest_order(json!({"notes": nul})),
            "notes",
        ),
        (
            "/api/orders".into(),
            None,
            guest_order(json!({"items": [{"menu_item_id": item, "quantity": 1,
                                           "special_instructions": nul}]})),
            "items[0].special_instructions",
        ),
        (
            "/api/orders".into(),
            None,
            guest_order(json!({"guest": {"name": nul, "phone": "+15555550100"}})),
            "guest.name",
        ),
        (
            "/api/restaurants".into(),
            Some(&admin),
            json!({"name": "Nul Diner", "description": nul, "phone": "+15555550111",
                   "email": "n@example.com", "cuisine_type": "Diner", "address": address}),
            "description",
        ),
        (
            "/api/restaurants".into(),
            Some(&admin),
            json!({"name": "Nul Diner", "phone": "+15555550111", "email": "n@example.com",
                   "cuisine_type": nul, "address": address}),
            "cuisine_type",
        ),
        (
            "/api/restaurants".into(),
            Some(&admin),
            json!({"name": "Nul Diner", "phone": "+15555550111", "email": "n@example.com",
                   "cuisine_type": "Diner", "address": with_nul_street}),
            "address.street",
        ),
        (
            format!("/api/restaurants/{restaurant}/menu"),
            Some(&staff),
            json!({"name": "Calzone", "price": "9.50", "description": nul}),
            "description",
        ),
        (
            format!("/api/restaurants/{restaurant}/categories"),
            Some(&staff),
            json!({"name": "Pizza", "description": nul}),
            "description",
        ),
        (
            format!("/api/restaurants/{restaurant}/coupons"),
            Some(&staff),
            json!({"code": "NULL10", "discount_type": "percent", "value": 10,
                   "description": nul}),
            "description",
        ),
    ];
    for (path, token, body, field) in &cases {
        mesh.post(path, token.as_deref(), body)
            .await
            .problem(422, Some(field));
    }

    assert_eq!(count(&mesh, "/api/orders?limit=100").await, 0);
    assert_eq!(count(&mesh, "/api/restaurants?limit=100").await, 1);
    let menu = format!("/api/restaurants/{restaurant}/menu");
    assert_eq!(mesh.all_items(restaurant).await.len(), 1, "{menu}");
    assert_eq!(
        count(&mesh, &format!("/api/restaurants/{restaurant}/categories")).await,
        0
    );
    assert_eq!(
        count(&mesh, &format!("/api/restaurants/{restaurant}/coupons")).await,
        0
    );

    // A status change's reason, on an order that exists.
    let order = mesh.cash_order(restaurant, item, 7).await;
    let id = order["id"].as_i64().expect("an order id");
    mesh.send(
        reqwest::Method::DELETE,
        &format!("/api/orders/{id}"),
        Some(&admin),
        &[],
        Some(&json!({"reason": nul})),
    )
    .await
    .problem(422, Some("reason"));
    let again = mesh.get(&format!("/api/orders/{id}"), Some(&admin)).await;
    assert_eq!(again.json()["status"], order["status"], "{}", again.text);

    // Query parameters, read without a token.
    for query in ["city=%00", "cuisine_type=a%00b", "cursor=%00"] {
        mesh.get(&format!("/api/restaurants?{query}"), None)
            .await
            .problem(400, None);
    }
    mesh.get("/api/restaurants?city=%00", None)
        .await
        .problem(400, Some("city"));
}

#[tokio::test]
async fn integers_past_what_a_column_holds_are_422_and_later_writes_still_work() {
    let mesh = Mesh::start().await;
    let restaurant = mesh.restaurant("Pizza Palace").await;
    let staff = Mesh::staff(restaurant);
    let base = format!("/api/restaurants/{restaurant}");
    let cases = [
        (
            "option-groups",
            json!({"name": "Toppings", "max_select": 2_147_483_648_u64}),
            "max_select",
        ),
        (
            "option-groups",
            json!({"name": "Toppings", "min_select": 4_294_967_295_u64}),
            "min_select",
        ),
        (
            "categories",
            json!({"name": "Pizza", "position": 2_147_483_647}),
            "position",
        ),
        (
            "categories",
            json!({"name": "Pizza", "position": 2_147_483_648_u64}),
            "position",
        ),
        (
            "menu",
            json!({"name": "Calzone", "price": "9.50", "position": 2_147_483_647}),
            "position",
        ),
        (
            "menu",
            json!({"name": "Calzone", "price": "9.50", "position": -1}),
            "position",
        ),
    ];
    for (route, body, field) in &cases {
        mesh.post(&format!("{base}/{route}"), Some(&staff), body)
            .await
            .problem(422, Some(field));
    }

    // The highest position allowed leaves room for every later one.
    let top = mesh
        .post(
            &format!("{base}/categories"),
            Some(&staff),
            &json!({"name": "Last", "position": 1_000_000}),
        )
        .await;
    assert_eq!(top.status, 201, "{}", top.text);
    let next = mesh
        .post(
            &format!("{base}/categories"),
            Some(&staff),
            &json!({"name": "After"}),
        )
        .await;
    assert_eq!(next.status, 201, "{}", next.text);
    assert_eq!(next.json()["position"], 1_000_001, "{}", next.text);
    mesh.item(
        restaurant,
        &json!({"name": "Calzone", "price": "9.50", "position": 1_000_000}),
    )
    .await;
    mesh.item(restaurant, &json!({"name": "Focaccia", "price": "4.50"}))
        .await;
}

#[tokio::test]
async fn a_field_the_request_does_not_have_is_422_naming_it() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let customer = Mesh::customer_id(3);
    let typo = mesh
        .post(
            "/api/orders",
            Some(&customer),
            &json!({"restaurant_id": restaurant, "order_type": "takeout",
                    "payment_methd": "cash",
                    "items": [{"menu_item_id": item, "quantity": 1, "qty": 2}]}),
        )
        .await;
    let problem = typo.problem(422, Some("payment_methd"));
    assert!(
        problem["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == "items[0].qty")),
        "{problem}"
    );
    assert_eq!(count(&mesh, "/api/orders?limit=100").await, 0);
    mesh.post(
        &format!("/api/restaurants/{restaurant}/menu"),
        Some(&Mesh::staff(restaurant)),
        &json!({"name": "Calzone", "price": "9.50", "pricee": "1.00"}),
    )
    .await
    .problem(422, Some("pricee"));

    // Seed 002's order body, `unit_price` per line included, still works.
    let seed = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(1)),
            &json!({
                "customer_id": 1, "restaurant_id": restaurant,
                "items": [{"menu_item_id": item, "quantity": 2, "unit_price": 12.99}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York",
                    "state": "NY", "zip_code": "10002", "country": "US"}
            }),
        )
        .await;
    assert_eq!(seed.status, 201, "{}", seed.text);
}

#[tokio::test]
async fn paging_parameters_out_of_range_are_400_on_every_listing() {
    let mesh = Mesh::with_orders().await;
    let restaurant = mesh.restaurant("Pizza Palace").await;
    let admin = Mesh::admin();
    let listings = [
        "/api/restaurants".to_owned(),
        "/api/orders".to_owned(),
        format!("/api/kitchen/orders?restaurant_id={restaurant}"),
        "/api/customers/1/orders".to_owned(),
    ];
    for listing in &listings {
        let join = if listing.contains('?') { '&' } else { '?' };
        mesh.get(&format!("{listing}{join}limit=100000"), Some(&admin))
            .await
            .problem(400, Some("limit"));
        mesh.get(&format!("{listing}{join}cursor=not-a-cursor"), Some(&admin))
            .await
            .problem(400, Some("cursor"));
    }
}
