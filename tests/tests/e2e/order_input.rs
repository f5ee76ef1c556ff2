//! Bad input on every order, customer and kitchen route: a 4xx
//! problem+json naming the field (body field, path or query parameter,
//! header), never a 5xx, and nothing written.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Mesh, with};

/// Every order, as an admin lists them.
async fn order_count(mesh: &Mesh) -> usize {
    let reply = mesh
        .get("/api/orders?limit=100", Some(&Mesh::admin()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"].as_array().map_or(0, Vec::len)
}

async fn history_text(mesh: &Mesh, id: i64) -> String {
    let reply = mesh
        .get(&format!("/api/orders/{id}/history"), Some(&Mesh::admin()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.text
}

#[tokio::test]
async fn bad_order_bodies_are_4xx_naming_the_field_and_write_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let customer = Mesh::customer_id(1);
    let line = |patch: Value| with(&json!({"menu_item_id": item, "quantity": 1}), &patch);
    let base = json!({"restaurant_id": restaurant, "items": [line(json!({}))]});
    let address = json!({"street": "456 Oak Ave", "city": "New York", "state": "NY",
                         "zip_code": "10002", "country": "US"});
    let many: Vec<Value> = (0..51).map(|_| line(json!({}))).collect();
    let cases: Vec<(Value, &str)> = vec![
        (
            with(&base, &json!({"items": [line(json!({"quantity": 0}))]})),
            "items[0].quantity",
        ),
        (
            with(&base, &json!({"items": [line(json!({"quantity": 100}))]})),
            "items[0].quantity",
        ),
        (
            with(&base, &json!({"items": [line(json!({"quantity": -1}))]})),
            "items[0].quantity",
        ),
        (
            with(&base, &json!({"items": [line(json!({"quantity": "two"}))]})),
            "items[0].quantity",
        ),
        (
            with(&base, &json!({"items": [line(json!({"quantity": null}))]})),
            "items[0].quantity",
        ),
        (with(&base, &json!({"items": many})), "items"),
        (with(&base, &json!({"items": []})), "items"),
        (with(&base, &json!({"items": null})), "items"),
        (
            with(&base, &json!({"items": [line(json!({"unit_price": -1}))]})),
            "items[0].unit_price",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"unit_price": "-0.01"}))]}),
            ),
            "items[0].unit_price",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"unit_price": 12.999}))]}),
            ),
            "items[0].unit_price",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"unit_price": "12,99"}))]}),
            ),
            "items[0].unit_price",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"unit_price": true}))]}),
            ),
            "items[0].unit_price",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"modifiers": [4, -1]}))]}),
            ),
            "items[0].modifiers[1]",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"modifiers": "cheese"}))]}),
            ),
            "items[0].modifiers",
        ),
        (
            with(&base, &json!({"items": [line(json!({"menu_item_id": 0}))]})),
            "items[0].menu_item_id",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"menu_item_id": 999_999}))]}),
            ),
            "items[0].menu_item_id",
        ),
        (
            with(
                &base,
                &json!({"items": [line(json!({"special_instructions": "x".repeat(501)}))]}),
            ),
            "items[0].special_instructions",
        ),
        (
            with(&base, &json!({"restaurant_id": null})),
            "restaurant_id",
        ),
        (
            with(&base, &json!({"restaurant_id": "one"})),
            "restaurant_id",
        ),
        (with(&base, &json!({"restaurant_id": 0})), "restaurant_id"),
        (
            with(&base, &json!({"payment_method": "bitcoin"})),
            "payment_method",
        ),
        (with(&base, &json!({"payment_method": 2})), "payment_method"),
        (with(&base, &json!({"order_type": "drone"})), "order_type"),
        (with(&base, &json!({"source": "fax"})), "source"),
        (with(&base, &json!({"notes": "x".repeat(1001)})), "notes"),
        (
            with(&base, &json!({"table_number": "x".repeat(21)})),
            "table_number",
        ),
        (
            with(&base, &json!({"order_type": "dine_in"})),
            "table_number",
        ),
        (with(&base, &json!({"table_number": "7"})), "table_number"),
        (
            with(
                &base,
                &json!({"order_type": "dine_in", "table_number": 7.5}),
            ),
            "table_number",
        ),
        (
            with(&base, &json!({"order_type": "dine_in", "table_number": -7})),
            "table_number",
        ),
        (
            with(&base, &json!({"order_type": "delivery"})),
            "delivery_address",
        ),
        (
            with(
                &base,
                &json!({"delivery_address": with(&address, &json!({"street": ""}))}),
            ),
            "delivery_address.street",
        ),
        (
            with(
                &base,
                &json!({"delivery_address": with(&address, &json!({"city": null}))}),
            ),
            "delivery_address.city",
        ),
        (
            with(
                &base,
                &json!({"delivery_address": with(&address, &json!({"country": "USA"}))}),
            ),
            "delivery_address.country",
        ),
        (
            with(&base, &json!({"coupon_code": "no such code!"})),
            "coupon_code",
        ),
    ];
    for (body, field) in cases {
        let reply = mesh.post("/api/orders", Some(&customer), &body).await;
        assert!(
            reply.status == 422 || reply.status == 409,
            "{field}: {} {}",
            reply.status,
            reply.text
        );
        reply.problem(reply.status, Some(field));
    }

    // Staff and admins name the customer they order for, unless it is a
    // walk-in order: a delivery needs someone to deliver to.
    let delivered = with(&base, &json!({"delivery_address": address}));
    for body in [delivered, with(&base, &json!({"customer_id": 0}))] {
        mesh.post("/api/orders", Some(&Mesh::admin()), &body)
            .await
            .problem(422, Some("customer_id"));
    }

    // Guest checkout: the guest's details are checked too.
    let guest = |patch: Value| {
        with(
            &base,
            &json!({"guest": with(&json!({"name": "Ana", "phone": "+12125550100"}), &patch)}),
        )
    };
    for (body, field) in [
        (guest(json!({"phone": "555-0100"})), "guest.phone"),
        (guest(json!({"phone": "+0123456789"})), "guest.phone"),
        (guest(json!({"phone": null})), "guest.phone"),
        (guest(json!({"name": " "})), "guest.name"),
        (guest(json!({"email": "not-an-address"})), "guest.email"),
        (base.clone(), "guest"),
        (
            with(&guest(json!({})), &json!({"customer_id": 5})),
            "customer_id",
        ),
    ] {
        mesh.post("/api/orders", None, &body)
            .await
            .problem(422, Some(field));
    }
    // An unknown restaurant.
    let unknown = with(
        &base,
        &json!({"restaurant_id": 999_999, "items": [line(json!({"unit_price": 1}))]}),
    );
    mesh.post("/api/orders", Some(&customer), &unknown)
        .await
        .problem(404, Some("restaurant_id"));
    mesh.post(
        "/api/orders",
        Some(&customer),
        &with(&base, &json!({"restaurant_id": 999_999})),
    )
    .await
    .problem(404, Some("restaurant_id"));

    // Not JSON, not declared as JSON, too large, a bad key header.
    for (content_type, body, status) in [
        (
            Some("application/json"),
            "{\"restaurant_id\": 1,".to_owned(),
            400,
        ),
        (Some("application/json"), "not json".to_owned(), 400),
        (Some("text/plain"), base.to_string(), 415),
        (None, base.to_string(), 415),
        (
            Some("application/json"),
            format!("{{\"notes\": \"{}\"}}", "x".repeat(70_000)),
            413,
        ),
    ] {
        mesh.raw(
            Method::POST,
            "/api/orders",
            Some(&customer),
            content_type,
            body,
        )
        .await
        .problem(status, None);
    }
    mesh.send(
        Method::POST,
        "/api/orders",
        Some(&customer),
        &[("idempotency-key", &"k".repeat(256))],
        Some(&base),
    )
    .await
    .problem(400, Some("Idempotency-Key"));

    assert_eq!(order_count(&mesh).await, 0);
}

#[tokio::test]
async fn bad_input_on_the_routes_of_one_order_names_the_field_and_changes_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let customer = Mesh::customer_id(2);
    let staff = Mesh::staff(restaurant);
    let placed = mesh
        .post(
            "/api/orders",
            Some(&customer),
            &json!({"restaurant_id": restaurant, "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let before = placed.json();
    let id = before["id"].as_i64().expect("id");
    let number = before["order_number"].as_str().expect("number").to_owned();
    let line = before["items"][0]["id"].as_i64().expect("line");
    let history_before = history_text(&mesh, id).await;

    // Path parameters.
    for path in [
        "/api/orders/abc".to_owned(),
        "/api/orders/0".to_owned(),
        "/api/orders/-4/history".to_owned(),
        "/api/orders/1.5/events".to_owned(),
        format!("/api/orders/{id}/items/abc"),
        "/api/orders/track/K7%21M2".to_owned(),
        format!("/api/orders/track/{}", "A".repeat(40)),
    ] {
        let method = if path.contains("/items/") {
            Method::DELETE
        } else {
            Method::GET
        };
        let reply = mesh
            .send(method, &path, Some(&staff), &[("x-order-token", "t")], None)
            .await;
        let problem = reply.problem(400, None);
        assert_eq!(problem["code"], "invalid_parameter", "{path}");
        let field = problem["errors"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            ["id", "item_id", "order_number"].contains(&field.as_str()),
            "{path}: {problem}"
        );
    }

    // Bodies of status changes, cancels and item edits.
    let status = format!("/api/orders/{id}/status");
    for (body, field) in [
        (json!({"status": "done"}), "status"),
        (json!({}), "status"),
        (json!({"status": 3}), "status"),
        (
            json!({"status": "cancelled", "reason": "x".repeat(501)}),
            "reason",
        ),
    ] {
        mesh.put(&status, Some(&staff), &body)
            .await
            .problem(422, Some(field));
    }
    mesh.raw(
        Method::PUT,
        &status,
        Some(&staff),
        Some("application/json"),
        "{",
    )
    .await
    .problem(400, None);
    mesh.raw(
        Method::PUT,
        &status,
        Some(&staff),
        Some("text/plain"),
        "cancelled",
    )
    .await
    .problem(415, None);
    mesh.json(
        Method::DELETE,
        &format!("/api/orders/{id}"),
        Some(&customer),
        &json!({"reason": "x".repeat(501)}),
    )
    .await
    .problem(422, Some("reason"));
    mesh.raw(
        Method::DELETE,
        &format!("/api/orders/{id}"),
        Some(&customer),
        Some("text/plain"),
        "because",
    )
    .await
    .problem(415, None);
    let items = format!("/api/orders/{id}/items");
    for (body, field) in [
        (json!({"menu_item_id": item, "quantity": 0}), "quantity"),
        (json!({"menu_item_id": item, "quantity": 100}), "quantity"),
        (json!({"menu_item_id": item}), "quantity"),
        (json!({"quantity": 1}), "menu_item_id"),
        (
            json!({"menu_item_id": item, "quantity": 1, "unit_price": -1}),
            "unit_price",
        ),
        (
            json!({"menu_item_id": item, "quantity": 1, "unit_price": "0.001"}),
            "unit_price",
        ),
        (
            json!({"menu_item_id": item, "quantity": 1, "modifiers": [0]}),
            "modifiers[0]",
        ),
        (
            json!({"menu_item_id": 999_999, "quantity": 1}),
            "menu_item_id",
        ),
    ] {
        let reply = mesh.post(&items, Some(&customer), &body).await;
        reply.problem(422, Some(field));
    }
    let one = format!("/api/orders/{id}/items/{line}");
    for (body, field) in [
        (json!({"quantity": 100}), "quantity"),
        (json!({"quantity": "many"}), "quantity"),
        (json!({"unit_price": "x"}), "unit_price"),
        (json!({"unit_price": 1}), "unit_price"),
        (json!({"modifiers": [-2]}), "modifiers[0]"),
        (
            json!({"special_instructions": "x".repeat(501)}),
            "special_instructions",
        ),
    ] {
        let reply = mesh.patch(&one, Some(&customer), &body).await;
        assert!(reply.status == 422 || reply.status == 409, "{}", reply.text);
        reply.problem(reply.status, Some(field));
    }
    mesh.patch(
        &format!("/api/orders/{id}/items/999999"),
        Some(&customer),
        &json!({"quantity": 2}),
    )
    .await
    .problem(404, Some("item_id"));
    mesh.post(
        &format!("/api/orders/{id}/reorder"),
        Some(&customer),
        &json!({"payment_method": "gold"}),
    )
    .await
    .problem(422, Some("payment_method"));
    mesh.send(
        Method::POST,
        &format!("/api/orders/{id}/reorder"),
        Some(&customer),
        &[("idempotency-key", "bad key with spaces")],
        None,
    )
    .await
    .problem(400, Some("Idempotency-Key"));
    mesh.get(&format!("/api/orders/track/{number}"), None)
        .await
        .problem(401, None);

    // Query parameters of the listings.
    for (query, field) in [
        ("status=done", "status"),
        ("status=pending,nope", "status"),
        ("limit=101", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-11-23&to=2026-11-22", "to"),
        ("restaurant_id=-1", "restaurant_id"),
        ("customer_id=0", "customer_id"),
    ] {
        mesh.get(&format!("/api/orders?{query}"), Some(&Mesh::admin()))
            .await
            .problem(400, Some(field));
        mesh.get(&format!("/api/customers/2/orders?{query}"), Some(&customer))
            .await
            .problem(400, Some(field));
    }

    // Nothing changed.
    let after = mesh
        .get(&format!("/api/orders/{id}"), Some(&customer))
        .await;
    assert_eq!(after.json()["items"], before["items"]);
    assert_eq!(after.json()["status"], "pending");
    assert_eq!(history_text(&mesh, id).await, history_before);
    assert_eq!(order_count(&mesh).await, 1);
}

#[tokio::test]
async fn bad_input_on_customer_and_kitchen_routes_names_the_field_and_writes_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, _item) = mesh.restaurant_with_item("12.99").await;
    let me = Mesh::customer_id(3);
    let staff = Mesh::staff(restaurant);

    for path in [
        "/api/customers/0",
        "/api/customers/abc",
        "/api/customers/1e3/orders",
    ] {
        mesh.get(path, Some(&Mesh::admin()))
            .await
            .problem(400, Some("id"));
    }
    let address = json!({"street": "1 A St", "city": "New York", "state": "NY",
                         "zip_code": "10001", "country": "US"});
    let eleven: Vec<Value> = (0..11).map(|_| address.clone()).collect();
    for (body, field) in [
        (json!({"phone": "555"}), "phone"),
        (json!({"name": ""}), "name"),
        (json!({"name": 5}), "name"),
        (json!({"email": "nobody"}), "email"),
        (
            json!({"preferred_payment_method": "gold"}),
            "preferred_payment_method",
        ),
        (json!({"saved_addresses": eleven}), "saved_addresses"),
        (
            json!({"saved_addresses": [with(&address, &json!({"city": null}))]}),
            "saved_addresses[0].city",
        ),
        (
            json!({"saved_addresses": [with(&address, &json!({"street": " "}))]}),
            "saved_addresses[0].street",
        ),
    ] {
        mesh.put("/api/customers/3", Some(&me), &body)
            .await
            .problem(422, Some(field));
    }
    mesh.raw(
        Method::PUT,
        "/api/customers/3",
        Some(&me),
        Some("text/plain"),
        "{}",
    )
    .await
    .problem(415, None);
    mesh.get("/api/customers/3", Some(&me))
        .await
        .problem(404, None);

    let ticket = |patch: Value| {
        with(
            &json!({"order_id": 1, "order_number": "K7M2QX", "fulfilment": "pickup",
                    "items": [{"name": "Margherita", "quantity": 1}]}),
            &patch,
        )
    };
    for (body, field) in [
        (json!({}), "order_id"),
        (json!({"order_id": 0}), "order_id"),
        (json!({"order_id": "one"}), "order_id"),
        (ticket(json!({"order_number": null})), "order_number"),
        (ticket(json!({"fulfilment": null})), "fulfilment"),
        (ticket(json!({"fulfilment": "drone"})), "fulfilment"),
        (ticket(json!({"items": []})), "items"),
        (
            ticket(json!({"items": [{"name": "Margherita", "quantity": 0}]})),
            "items[0].quantity",
        ),
        (
            ticket(json!({"items": [{"name": "", "quantity": 1}]})),
            "items[0].name",
        ),
        (ticket(json!({"prep_minutes": 601})), "prep_minutes"),
        (ticket(json!({"table_number": "12"})), "table_number"),
    ] {
        mesh.post("/api/kitchen/orders", Some(&staff), &body)
            .await
            .problem(422, Some(field));
    }
    for (body, field) in [
        (json!({"status": "cooking"}), "status"),
        (json!({"status": "rejected"}), "reason"),
        (
            json!({"status": "accepted", "expected_status": "soon"}),
            "expected_status",
        ),
    ] {
        mesh.put("/api/kitchen/orders/1/status", Some(&staff), &body)
            .await
            .problem(422, Some(field));
    }
    mesh.put(
        "/api/kitchen/orders/abc/status",
        Some(&staff),
        &json!({"status": "ready"}),
    )
    .await
    .problem(400, Some("id"));
    for (path, field) in [
        ("/api/kitchen/orders?status=cooking", "status"),
        ("/api/kitchen/orders?limit=501", "limit"),
        ("/api/kitchen/orders?restaurant_id=abc", "restaurant_id"),
        ("/api/kitchen/stats?window_minutes=99999", "window_minutes"),
        ("/api/kitchen/stats?window_minutes=soon", "window_minutes"),
        ("/api/kitchen/orders/0", "id"),
    ] {
        mesh.get(path, Some(&staff)).await.problem(400, Some(field));
    }
    for path in [
        "/api/kitchen/stream",
        "/api/kitchen/stats",
        "/api/kitchen/orders",
    ] {
        mesh.get(path, Some(&Mesh::admin()))
            .await
            .problem(400, Some("restaurant_id"));
        mesh.get(path, Some(&me)).await.problem(403, None);
        mesh.get(path, None).await.problem(401, None);
    }
    let tickets = mesh
        .get("/api/kitchen/orders?status=queued,rejected", Some(&staff))
        .await;
    assert_eq!(tickets.json()["items"], json!([]));
}

#[tokio::test]
async fn an_admin_naming_a_restaurant_that_does_not_exist_finds_no_kitchen() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, _item) = mesh.restaurant_with_item("12.99").await;
    let admin = Mesh::admin();
    let missing = restaurant + 1000;
    for path in [
        format!("/api/kitchen/orders?restaurant_id={missing}"),
        format!("/api/kitchen/stats?restaurant_id={missing}"),
        format!("/api/kitchen/stream?restaurant_id={missing}"),
    ] {
        let problem = mesh.get(&path, Some(&admin)).await.problem(404, None);
        assert_eq!(problem["code"], "restaurant_not_found", "{path}: {problem}");
    }
    let body = json!({"order_id": 1});
    let problem = mesh
        .post(
            &format!("/api/kitchen/orders?restaurant_id={missing}"),
            Some(&admin),
            &body,
        )
        .await
        .problem(404, None);
    assert_eq!(problem["code"], "restaurant_not_found", "{problem}");
    // The one that exists has a kitchen, empty.
    let listed = mesh
        .get(
            &format!("/api/kitchen/orders?restaurant_id={restaurant}"),
            Some(&admin),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
}
