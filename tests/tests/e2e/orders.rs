//! `/api/orders` end to end: the original API's order body, totals, the
//! whole lifecycle driven through REST with live updates, idempotent
//! creates, transitions and races, item edits, reorders, and who may see
//! and touch which order.

use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{EVENTUAL, Mesh, Reply, SEED_BODY, with};

/// The "Creating a Restaurant" body of the original API.
fn seed_restaurant() -> Value {
    serde_json::from_str(SEED_BODY).expect("the seed body parses")
}

/// The "Creating an Order" body of the original API, verbatim.
const SEED_ORDER: &str = r#"{
    "customer_id": 1,
    "restaurant_id": 1,
    "items": [
      {
        "menu_item_id": 1,
        "quantity": 2,
        "unit_price": 12.99
      }
    ],
    "delivery_address": {
      "street": "456 Oak Ave",
      "city": "New York",
      "state": "NY",
      "zip_code": "10002",
      "country": "US"
    }
  }"#;

#[tokio::test]
async fn the_seed_order_body_places_an_order_totalling_price_times_quantity() {
    let mesh = Mesh::with_orders().await;
    let restaurant = mesh
        .post("/api/restaurants", Some(&Mesh::admin()), &seed_restaurant())
        .await;
    assert_eq!(restaurant.status, 201, "{}", restaurant.text);
    assert_eq!(restaurant.json()["id"], 1);
    let item = mesh
        .item(1, &json!({"name": "Margherita", "price": 12.99}))
        .await;
    assert_eq!(item, 1);

    let reply = mesh
        .raw(
            Method::POST,
            "/api/orders",
            Some(&Mesh::customer_id(1)),
            Some("application/json"),
            SEED_ORDER,
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    let order = reply.json();
    let id = order["id"].as_i64().expect("id");
    assert_eq!(reply.header("location"), format!("/api/orders/{id}"));
    for exact in [
        r#""unit_price":12.99"#,
        r#""line_total":25.98"#,
        r#""subtotal":25.98"#,
        r#""delivery_fee":0.00"#,
        r#""tax":0.00"#,
        r#""total":25.98"#,
        r#""currency":"USD""#,
    ] {
        assert!(reply.text.contains(exact), "{exact} in {}", reply.text);
    }
    assert_eq!(order["customer_id"], 1);
    assert_eq!(order["order_type"], "delivery");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["delivery_address"]["zip_code"], "10002");
    assert_eq!(order["order_number"].as_str().map(str::len), Some(6));
    assert!(order.get("access_token").is_none(), "{order}");
    let read = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::customer_id(1)))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.text.contains(r#""total":25.98"#), "{}", read.text);
}

/// A restaurant with a delivery fee of 2.50 and New York City's 8.875 %
/// tax, with one item at 12.99; their ids.
async fn taxed_restaurant(mesh: &Mesh) -> (i64, i64) {
    let restaurant = mesh
        .post(
            "/api/restaurants",
            Some(&Mesh::admin()),
            &json!({
                "name": "Taxed Pizza",
                "address": {"street": "1 A St", "city": "New York", "state": "NY",
                            "zip_code": "10001", "country": "US"},
                "delivery_fee": "2.50",
                "tax_rate": 8.875
            }),
        )
        .await
        .json()["id"]
        .as_i64()
        .expect("id");
    let item = mesh
        .item(restaurant, &json!({"name": "Margherita", "price": "12.99"}))
        .await;
    (restaurant, item)
}

#[tokio::test]
async fn delivery_fee_and_tax_follow_the_restaurant_exactly() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = taxed_restaurant(&mesh).await;

    let reply = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(7)),
            &json!({
                "restaurant_id": restaurant,
                "items": [{"menu_item_id": item, "quantity": 2, "unit_price": "12.99"}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY",
                                     "zip_code": "10002", "country": "US"}
            }),
        )
        .await;

    assert_eq!(reply.status, 201, "{}", reply.text);
    // New York City's rate: 25.98 × 8.875 % = 2.305725 → 2.31 (half up);
    // 25.98 + 2.50 + 2.31 = 30.79.
    for exact in [
        r#""subtotal":25.98"#,
        r#""delivery_fee":2.50"#,
        r#""tax":2.31"#,
        r#""total":30.79"#,
        r#""tax_rate":8.875"#,
    ] {
        assert!(reply.text.contains(exact), "{exact} in {}", reply.text);
    }
}

#[tokio::test]
async fn a_cash_pickup_order_goes_from_pending_to_completed_through_rest_calls_alone() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("9.50").await;
    let staff = Mesh::staff_named(restaurant, "maria");
    let mut kitchen = mesh.events("/api/kitchen/stream", Some(&staff)).await;
    let synced = kitchen.until("synced", EVENTUAL, |_| true).await;
    assert_eq!(synced.json()["restaurant_id"], restaurant);
    let server_time = synced.json()["server_time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .expect("the server's time");
    let skew = chrono::Utc::now().signed_duration_since(server_time);
    assert!(skew.num_seconds().abs() < 60, "{skew}");

    // A customer orders cash, for pickup: confirmed at once.
    let customer = Mesh::customer_id(21);
    let placed = mesh
        .post(
            "/api/orders",
            Some(&customer),
            &json!({
                "restaurant_id": restaurant,
                "order_type": "takeout",
                "payment_method": "cash",
                "items": [{"menu_item_id": item, "quantity": 2, "unit_price": 9.50,
                           "special_instructions": "extra crispy"}]
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.json();
    let id = order["id"].as_i64().expect("id");
    assert!(placed.text.contains(r#""total":19.00"#), "{}", placed.text);
    // The customer may cancel for two minutes (order-svc's default window).
    let at = |field: &str| {
        order[field]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .unwrap_or_else(|| panic!("{field} in {order}"))
    };
    let window = at("customer_cancel_until") - at("confirmed_at");
    assert_eq!(window.num_seconds(), 120, "{order}");

    let mut watch = mesh
        .events(&format!("/api/orders/{id}/events"), Some(&customer))
        .await;
    let snapshot = watch.next(EVENTUAL).await.expect("a snapshot");
    assert_eq!(snapshot.name, "snapshot");
    assert_eq!(snapshot.id.as_deref(), Some("1"));
    let snapshot = snapshot.json();
    assert_eq!(snapshot["id"], id);
    assert_eq!(snapshot["status"], "confirmed");
    assert!(snapshot["total"].is_number(), "{snapshot}");

    // The kitchen display sees the ticket appear.
    let appeared = kitchen
        .until("changed", EVENTUAL, |t| t["order_id"] == id)
        .await
        .json();
    assert_eq!(appeared["status"], "queued");
    assert_eq!(appeared["fulfilment"], "pickup");
    assert_eq!(appeared["items"][0]["special_instructions"], "extra crispy");
    let ticket = appeared["id"].as_i64().expect("ticket id");
    let ticket_path = format!("/api/kitchen/orders/{ticket}/status");

    // Kitchen staff work the ticket; the order follows.
    for status in ["accepted", "preparing"] {
        let moved = mesh
            .put(&ticket_path, Some(&staff), &json!({"status": status}))
            .await;
        assert_eq!(moved.status, 200, "{}", moved.text);
        assert_eq!(moved.json()["status"], status);
    }
    let preparing = watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "preparing")
        .await
        .json();
    assert_eq!(preparing["change"]["from"], "confirmed");
    assert_eq!(preparing["change"]["to"], "preparing");
    assert!(preparing["customer_cancel_until"].is_null(), "{preparing}");
    let ready = mesh
        .put(&ticket_path, Some(&staff), &json!({"status": "ready"}))
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "ready")
        .await;

    // The customer collects it; staff complete the order (the table does
    // not let a customer complete).
    let by_customer = mesh
        .put(
            &format!("/api/orders/{id}/status"),
            Some(&customer),
            &json!({"status": "completed"}),
        )
        .await;
    by_customer.problem(409, None);
    assert_eq!(by_customer.json()["code"], "invalid_transition");
    let completed = mesh
        .put(
            &format!("/api/orders/{id}/status"),
            Some(&staff),
            &json!({"status": "completed"}),
        )
        .await;
    assert_eq!(completed.status, 200, "{}", completed.text);
    assert_eq!(completed.json()["status"], "completed");
    let done = watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "completed")
        .await
        .json();
    assert_eq!(done["change"]["actor"]["kind"], "staff");
    assert_eq!(done["change"]["actor"]["id"], "maria");
    assert!(
        watch.next(EVENTUAL).await.is_none(),
        "the stream ends with the order"
    );

    // The ticket leaves the queue, and the whole history reads back.
    kitchen
        .until("changed", EVENTUAL, |t| {
            t["order_id"] == id && t["status"] == "picked_up"
        })
        .await;
    let history = mesh
        .get(&format!("/api/orders/{id}/history"), Some(&customer))
        .await;
    assert_eq!(history.status, 200, "{}", history.text);
    let changes = history.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let path: Vec<&str> = changes.iter().filter_map(|c| c["to"].as_str()).collect();
    assert_eq!(
        path,
        ["pending", "confirmed", "preparing", "ready", "completed"],
        "{}",
        history.text
    );
    assert_eq!(changes[0]["from"], Value::Null);
    assert_eq!(changes[2]["actor"]["kind"], "system");
    assert!(changes.iter().all(|c| c["at"].is_string()));

    let stats = mesh.get("/api/kitchen/stats", Some(&staff)).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(stats.json()["prepared"], 1);
}

/// A pending takeout order (no payment chosen) of one `item` for
/// customer `customer`; its id.
async fn pending_order(mesh: &Mesh, restaurant: i64, item: i64, customer: i64) -> i64 {
    let reply = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(customer)),
            &json!({"restaurant_id": restaurant, "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()["status"], "pending");
    reply.json()["id"].as_i64().expect("id")
}

/// Every order, as an admin lists them.
async fn all_orders(mesh: &Mesh) -> Vec<Value> {
    let reply = mesh
        .get("/api/orders?limit=100", Some(&Mesh::admin()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn history_of(mesh: &Mesh, id: i64) -> Vec<Value> {
    let reply = mesh
        .get(&format!("/api/orders/{id}/history"), Some(&Mesh::admin()))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn retrying_a_create_with_the_same_idempotency_key_returns_the_same_order() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let customer = Mesh::customer_id(3);
    let body = json!({
        "restaurant_id": restaurant, "payment_method": "cash",
        "items": [{"menu_item_id": item, "quantity": 2}]
    });
    let create = |key: &'static str, body: Value| {
        let customer = customer.clone();
        let mesh = &mesh;
        async move {
            mesh.send(
                Method::POST,
                "/api/orders",
                Some(&customer),
                &[("idempotency-key", key)],
                Some(&body),
            )
            .await
        }
    };

    let first = create("checkout-3-0001", body.clone()).await;
    let retry = create("checkout-3-0001", body.clone()).await;

    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(first.json()["id"], retry.json()["id"]);
    assert_eq!(first.header("location"), retry.header("location"));
    assert_eq!(first.header("idempotent-replayed"), "");
    assert_eq!(retry.header("idempotent-replayed"), "true");
    assert_eq!(all_orders(&mesh).await.len(), 1);
    // The same key for another body is refused, and writes nothing.
    let other = create(
        "checkout-3-0001",
        json!({"restaurant_id": restaurant, "items": [{"menu_item_id": item, "quantity": 5}]}),
    )
    .await;
    let problem = other.problem(409, Some("Idempotency-Key"));
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(all_orders(&mesh).await.len(), 1);
    // Kitchen made one ticket of it.
    let id = first.json()["id"].as_i64().expect("id");
    mesh.ticket_of(restaurant, id).await;
    assert_eq!(mesh.tickets_for(restaurant, id).await.len(), 1);

    // A guest's retry answers the same order with a token that opens it.
    let guest = json!({
        "restaurant_id": restaurant,
        "guest": {"name": "Ana Diaz", "phone": "+12125550100"},
        "items": [{"menu_item_id": item, "quantity": 1}]
    });
    let send_guest = || {
        mesh.send(
            Method::POST,
            "/api/orders",
            None,
            &[("idempotency-key", "guest-ana-1")],
            Some(&guest),
        )
    };
    let first = send_guest().await;
    let retry = send_guest().await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(retry.status, 201, "{}", retry.text);
    assert_eq!(first.json()["id"], retry.json()["id"]);
    let id = first.json()["id"].as_i64().expect("id");
    for reply in [&first, &retry] {
        let token = reply.json()["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned();
        let read = mesh
            .get_as_guest(&format!("/api/orders/{id}"), &token)
            .await;
        assert_eq!(read.status, 200, "{}", read.text);
    }
    assert_eq!(all_orders(&mesh).await.len(), 2);
}

#[tokio::test]
async fn an_invalid_transition_is_a_409_that_changes_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = mesh.cash_order(restaurant, item, 4).await["id"]
        .as_i64()
        .expect("id");
    let path = format!("/api/orders/{id}/status");
    let before = history_of(&mesh, id).await;

    for (token, status) in [
        (Mesh::staff(restaurant), "ready"),
        (Mesh::staff(restaurant), "pending"),
        (Mesh::admin(), "out_for_delivery"),
        (Mesh::customer_id(4), "preparing"),
    ] {
        let reply = mesh
            .put(&path, Some(&token), &json!({"status": status}))
            .await;
        let problem = reply.problem(409, None);
        assert_eq!(problem["code"], "invalid_transition", "{status}: {problem}");
    }

    assert_eq!(history_of(&mesh, id).await, before);
    let order = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(order.json()["status"], "confirmed");
}

#[tokio::test]
async fn two_staff_racing_the_same_transition_make_one_change_and_one_409() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = mesh.cash_order(restaurant, item, 5).await["id"]
        .as_i64()
        .expect("id");
    let ticket = mesh.ticket_of(restaurant, id).await["id"]
        .as_i64()
        .expect("ticket");
    let (ana, ben) = (
        Mesh::staff_named(restaurant, "ana"),
        Mesh::staff_named(restaurant, "ben"),
    );

    // The kitchen display: both tap "accept" at once.
    let ticket_path = format!("/api/kitchen/orders/{ticket}/status");
    let accept = json!({"status": "accepted"});
    let (a, b) = tokio::join!(
        mesh.put(&ticket_path, Some(&ana), &accept),
        mesh.put(&ticket_path, Some(&ben), &accept),
    );
    assert_one_winner(&a, &b);

    // The front desk: both start preparing the order at once.
    let order_path = format!("/api/orders/{id}/status");
    let start = json!({"status": "preparing"});
    let (a, b) = tokio::join!(
        mesh.put(&order_path, Some(&ana), &start),
        mesh.put(&order_path, Some(&ben), &start),
    );
    assert_one_winner(&a, &b);
    let moves = history_of(&mesh, id)
        .await
        .into_iter()
        .filter(|c| c["to"] == "preparing")
        .count();
    assert_eq!(moves, 1);

    // With expected_status, a stale display is told someone moved it.
    let stale = mesh
        .put(
            &ticket_path,
            Some(&ana),
            &json!({"status": "preparing", "expected_status": "queued"}),
        )
        .await;
    assert_eq!(stale.problem(409, None)["code"], "ticket_status_changed");
}

#[track_caller]
fn assert_one_winner(a: &Reply, b: &Reply) {
    let mut statuses = [a.status, b.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
    let loser = if a.status == 409 { a } else { b };
    loser.problem(409, None);
}

#[tokio::test]
async fn a_staff_token_for_no_real_restaurant_sees_no_order() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = pending_order(&mesh, restaurant, item, 10).await;

    for scope in [0, -1] {
        // Signed with the gateway's own secret: only the scope is wrong.
        let claims = gateway::auth::Claims {
            sub: "mallory".to_owned(),
            role: gateway::auth::Role::Staff,
            restaurant_id: Some(scope),
            exp: u64::MAX / 2,
            iat: 0,
            iss: gateway::auth::ISSUER.to_owned(),
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::SECRET.as_bytes()),
        )
        .expect("encodes");
        for path in [
            "/api/orders".to_owned(),
            "/api/customers/10/orders".to_owned(),
            format!("/api/orders/{id}"),
        ] {
            mesh.get(&path, Some(&token)).await.problem(401, None);
        }
    }
}

#[tokio::test]
async fn a_customer_reading_another_customers_order_gets_404() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let other_restaurant = mesh.restaurant("Elsewhere").await;
    let id = pending_order(&mesh, restaurant, item, 10).await;
    let stranger = Mesh::customer_id(11);
    let other_staff = Mesh::staff(other_restaurant);

    for token in [&stranger, &other_staff] {
        for path in [
            format!("/api/orders/{id}"),
            format!("/api/orders/{id}/history"),
            format!("/api/orders/{id}/events"),
        ] {
            let problem = mesh.get(&path, Some(token)).await.problem(404, None);
            assert_eq!(problem["code"], "order_not_found", "{path}");
        }
        mesh.put(
            &format!("/api/orders/{id}/status"),
            Some(token),
            &json!({"status": "cancelled"}),
        )
        .await
        .problem(404, None);
        mesh.delete(&format!("/api/orders/{id}"), Some(token))
            .await
            .problem(404, None);
        mesh.post(
            &format!("/api/orders/{id}/items"),
            Some(token),
            &json!({"menu_item_id": item, "quantity": 1}),
        )
        .await
        .problem(404, None);
        mesh.post(
            &format!("/api/orders/{id}/reorder"),
            Some(token),
            &json!({}),
        )
        .await
        .problem(404, None);
    }
    // An order that does not exist reads the same.
    mesh.get("/api/orders/999999", Some(&stranger))
        .await
        .problem(404, None);
    // Lists: a customer sees their own only, and may not ask for another's.
    let own = mesh.get("/api/orders", Some(&stranger)).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.json()["items"], json!([]));
    mesh.get("/api/orders?customer_id=10", Some(&stranger))
        .await
        .problem(403, None);
    mesh.get(
        &format!("/api/orders?restaurant_id={restaurant}"),
        Some(&other_staff),
    )
    .await
    .problem(403, None);
    let theirs = mesh.get("/api/orders", Some(&other_staff)).await;
    assert_eq!(theirs.json()["items"], json!([]));
    // The owner, its restaurant's staff and admins read it.
    for token in [
        Mesh::customer_id(10),
        Mesh::staff(restaurant),
        Mesh::admin(),
    ] {
        let reply = mesh.get(&format!("/api/orders/{id}"), Some(&token)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    // Drivers and callers without any credential are refused outright.
    mesh.get(
        &format!("/api/orders/{id}"),
        Some(&Mesh::token(gateway::auth::Role::Driver, None)),
    )
    .await
    .problem(403, None);
    mesh.get(&format!("/api/orders/{id}"), None)
        .await
        .problem(401, None);
    mesh.get("/api/orders", None).await.problem(401, None);
    // Nor may they order in another's name, or at another restaurant.
    let body = json!({"customer_id": 10, "restaurant_id": restaurant,
                      "items": [{"menu_item_id": item, "quantity": 1}]});
    mesh.post("/api/orders", Some(&stranger), &body)
        .await
        .problem(403, None);
    mesh.post("/api/orders", Some(&other_staff), &body)
        .await
        .problem(403, None);
    mesh.post("/api/orders", None, &body)
        .await
        .problem(401, None);
    // Nothing changed.
    let order = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(order.json()["status"], "pending");
    assert_eq!(order.json()["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(all_orders(&mesh).await.len(), 1);
}

#[tokio::test]
async fn a_guest_reads_tracks_and_cancels_with_its_token_and_nothing_without_it() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    let placed = mesh
        .post(
            "/api/orders",
            None,
            &json!({
                "restaurant_id": restaurant,
                "guest": {"name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com"},
                "source": "chat",
                "items": [{"menu_item_id": item, "quantity": 3, "unit_price": 8}]
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.json();
    let id = order["id"].as_i64().expect("id");
    let number = order["order_number"].as_str().expect("number").to_owned();
    let token = order["access_token"].as_str().expect("token").to_owned();
    assert_eq!(order["guest"], true);
    assert!(order["customer_id"].is_null(), "{order}");
    assert_eq!(order["source"], "chat");
    assert_eq!(order["contact"]["phone"], "+12125550100");
    assert!(placed.text.contains(r#""total":24.00"#), "{}", placed.text);
    // Another guest's order, to check tokens do not cross.
    let other_token = mesh
        .post(
            "/api/orders",
            None,
            &json!({
                "restaurant_id": restaurant,
                "guest": {"name": "Bo", "phone": "+12125550199"},
                "items": [{"menu_item_id": item, "quantity": 1}]
            }),
        )
        .await
        .json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // With its token: read, history, track (any case), watch.
    let read = mesh
        .get_as_guest(&format!("/api/orders/{id}"), &token)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let history = mesh
        .get_as_guest(&format!("/api/orders/{id}/history"), &token)
        .await;
    assert_eq!(history.status, 200, "{}", history.text);
    for shown in [number.clone(), number.to_lowercase()] {
        let tracked = mesh
            .get_as_guest(&format!("/api/orders/track/{shown}"), &token)
            .await;
        assert_eq!(tracked.status, 200, "{}", tracked.text);
        assert_eq!(tracked.json()["id"], id);
    }
    let tracked = mesh
        .get(&format!("/api/orders/track/{number}?token={token}"), None)
        .await;
    assert_eq!(tracked.status, 200, "{}", tracked.text);
    let mut watch = mesh
        .events(&format!("/api/orders/{id}/events?token={token}"), None)
        .await;
    let snapshot = watch.next(EVENTUAL).await.expect("a snapshot");
    assert_eq!(snapshot.name, "snapshot");
    assert_eq!(snapshot.json()["status"], "pending");

    // Without it, or with another order's: nothing.
    mesh.get(&format!("/api/orders/{id}"), None)
        .await
        .problem(401, None);
    mesh.get(&format!("/api/orders/track/{number}"), None)
        .await
        .problem(401, None);
    mesh.get(&format!("/api/orders/{id}/events"), None)
        .await
        .problem(401, None);
    mesh.delete(&format!("/api/orders/{id}"), None)
        .await
        .problem(401, None);
    for wrong in [other_token.as_str(), "not-a-token"] {
        mesh.get_as_guest(&format!("/api/orders/{id}"), wrong)
            .await
            .problem(404, None);
        mesh.get_as_guest(&format!("/api/orders/track/{number}"), wrong)
            .await
            .problem(404, None);
        mesh.send(
            Method::DELETE,
            &format!("/api/orders/{id}"),
            None,
            &[("x-order-token", wrong)],
            None,
        )
        .await
        .problem(404, None);
    }
    // It edits the pending order's items and orders the same again.
    let added = mesh
        .send(
            Method::POST,
            &format!("/api/orders/{id}/items"),
            None,
            &[("x-order-token", &token)],
            Some(&json!({"menu_item_id": item, "quantity": 1})),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert!(added.text.contains(r#""total":32.00"#), "{}", added.text);
    let again = mesh
        .send(
            Method::POST,
            &format!("/api/orders/{id}/reorder"),
            None,
            &[("x-order-token", &token)],
            None,
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_ne!(again.json()["id"], id);
    assert!(again.json()["access_token"].is_string(), "{}", again.text);
    // The token may cancel, and nothing else.
    mesh.send(
        Method::PUT,
        &format!("/api/orders/{id}/status"),
        None,
        &[("x-order-token", &token)],
        Some(&json!({"status": "confirmed"})),
    )
    .await
    .problem(403, None);
    let cancelled = mesh
        .send(
            Method::DELETE,
            &format!("/api/orders/{id}?reason=changed%20my%20mind"),
            None,
            &[("x-order-token", &token)],
            None,
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.json()["status"], "cancelled");
    let change = watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "cancelled")
        .await
        .json();
    assert_eq!(change["change"]["actor"]["kind"], "guest");
    assert_eq!(change["change"]["reason"], "changed my mind");
    assert!(watch.next(EVENTUAL).await.is_none(), "the stream ends");
}

#[tokio::test]
async fn items_of_a_pending_order_can_be_added_changed_and_removed() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, pizza) = mesh.restaurant_with_item("12.99").await;
    let soda = mesh
        .item(restaurant, &json!({"name": "Soda", "price": "2.50"}))
        .await;
    let customer = Mesh::customer_id(12);
    let id = pending_order(&mesh, restaurant, pizza, 12).await;
    let mut watch = mesh
        .events(&format!("/api/orders/{id}/events"), Some(&customer))
        .await;
    watch.until("snapshot", EVENTUAL, |_| true).await;

    let added = mesh
        .post(
            &format!("/api/orders/{id}/items"),
            Some(&customer),
            &json!({"menu_item_id": soda, "quantity": 2, "unit_price": "2.50"}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert!(added.text.contains(r#""subtotal":17.99"#), "{}", added.text);
    let line = added.json()["items"][1]["id"].as_i64().expect("line");
    assert_eq!(
        added.header("location"),
        format!("/api/orders/{id}/items/{line}")
    );
    let changed = watch
        .until("items_changed", EVENTUAL, |o| {
            o["items"].as_array().map(Vec::len) == Some(2)
        })
        .await;
    assert!(
        changed.data.contains(r#""subtotal":17.99"#),
        "{}",
        changed.data
    );

    let patched = mesh
        .patch(
            &format!("/api/orders/{id}/items/{line}"),
            Some(&customer),
            &json!({"quantity": 4, "special_instructions": "no ice"}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    assert!(
        patched.text.contains(r#""line_total":10.00"#),
        "{}",
        patched.text
    );
    assert!(
        patched.text.contains(r#""total":22.99"#),
        "{}",
        patched.text
    );

    let first = patched.json()["items"][0]["id"].as_i64().expect("line");
    let removed = mesh
        .delete(&format!("/api/orders/{id}/items/{first}"), Some(&customer))
        .await;
    assert_eq!(removed.status, 200, "{}", removed.text);
    assert!(
        removed.text.contains(r#""total":10.00"#),
        "{}",
        removed.text
    );
    let last = mesh
        .delete(&format!("/api/orders/{id}/items/{line}"), Some(&customer))
        .await;
    assert_eq!(last.problem(409, None)["code"], "order_needs_a_line");
    mesh.patch(
        &format!("/api/orders/{id}/items/999999"),
        Some(&customer),
        &json!({"quantity": 2}),
    )
    .await
    .problem(404, Some("item_id"));

    // Once confirmed, the items are settled.
    let confirmed = mesh
        .put(
            &format!("/api/orders/{id}/status"),
            Some(&Mesh::staff(restaurant)),
            &json!({"status": "confirmed"}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    let late = mesh
        .post(
            &format!("/api/orders/{id}/items"),
            Some(&customer),
            &json!({"menu_item_id": pizza, "quantity": 1}),
        )
        .await;
    assert_eq!(late.problem(409, None)["code"], "order_not_editable");
    let order = mesh
        .get(&format!("/api/orders/{id}"), Some(&customer))
        .await;
    assert!(order.text.contains(r#""total":10.00"#), "{}", order.text);
}

#[tokio::test]
async fn a_stated_price_that_differs_from_the_menu_is_a_409_naming_the_line() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;

    let reply = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(1)),
            &json!({
                "restaurant_id": restaurant,
                "items": [
                    {"menu_item_id": item, "quantity": 1, "unit_price": 12.99},
                    {"menu_item_id": item, "quantity": 1, "unit_price": 9.99}
                ]
            }),
        )
        .await;

    let problem = reply.problem(409, Some("items[1].unit_price"));
    assert_eq!(problem["code"], "price_mismatch");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("12.99")),
        "{problem}"
    );
    assert!(all_orders(&mesh).await.is_empty());
}

#[tokio::test]
async fn lists_filter_by_status_type_number_restaurant_customer_and_dates_a_page_at_a_time() {
    let mesh = Mesh::with_orders().await;
    let (first, pizza) = mesh.restaurant_with_item("10.00").await;
    let (second, pasta) = mesh.restaurant_with_item("11.00").await;
    let a = pending_order(&mesh, first, pizza, 30).await;
    let b = mesh.cash_order(first, pizza, 31).await["id"]
        .as_i64()
        .expect("id");
    let c = pending_order(&mesh, second, pasta, 30).await;
    let ids = |reply: &Reply| -> Vec<i64> {
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .map(|items| items.iter().filter_map(|o| o["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    let admin = Mesh::admin();

    assert_eq!(ids(&mesh.get("/api/orders", Some(&admin)).await), [c, b, a]);
    assert_eq!(
        ids(&mesh.get("/api/orders?status=confirmed", Some(&admin)).await),
        [b]
    );
    assert_eq!(
        ids(&mesh
            .get("/api/orders?status=confirmed&status=PENDING", Some(&admin))
            .await),
        [c, b, a]
    );
    assert_eq!(
        ids(&mesh
            .get(&format!("/api/orders?restaurant_id={second}"), Some(&admin))
            .await),
        [c]
    );
    assert_eq!(
        ids(&mesh.get("/api/orders", Some(&Mesh::staff(first))).await),
        [b, a]
    );
    assert_eq!(
        ids(&mesh.get("/api/orders", Some(&Mesh::customer_id(30))).await),
        [c, a]
    );
    assert_eq!(
        ids(&mesh
            .get("/api/customers/30/orders", Some(&Mesh::staff(first)))
            .await),
        [a]
    );
    let today = chrono_today();
    assert_eq!(
        ids(&mesh
            .get(
                &format!("/api/orders?from={today}&to={today}"),
                Some(&admin)
            )
            .await),
        [c, b, a]
    );
    assert!(ids(&mesh.get("/api/orders?to=2000-01-01", Some(&admin)).await).is_empty());
    assert_eq!(
        ids(&mesh
            .get("/api/orders?order_type=takeout,dine_in", Some(&admin))
            .await),
        [c, b, a]
    );
    assert!(
        ids(&mesh
            .get("/api/orders?order_type=delivery", Some(&admin))
            .await)
        .is_empty()
    );
    let number = mesh
        .get(&format!("/api/orders/{b}"), Some(&admin))
        .await
        .json()["order_number"]
        .as_str()
        .expect("a number")
        .to_lowercase();
    assert_eq!(
        ids(&mesh
            .get(&format!("/api/orders?order_number={number}"), Some(&admin))
            .await),
        [b]
    );
    mesh.get("/api/orders?order_type=boat", Some(&admin))
        .await
        .problem(400, Some("order_type"));
    mesh.get("/api/orders?order_number=K7M", Some(&admin))
        .await
        .problem(400, Some("order_number"));

    let page = mesh.get("/api/orders?limit=2", Some(&admin)).await;
    assert_eq!(ids(&page), [c, b]);
    let cursor = page.json()["next_cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned();
    let rest = mesh
        .get(
            &format!("/api/orders?limit=2&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert_eq!(ids(&rest), [a]);
    assert_eq!(rest.json()["next_cursor"], Value::Null);
}

/// Today's date in UTC, as `YYYY-MM-DD`.
fn chrono_today() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0);
    // Civil-from-days (Howard Hinnant's algorithm), to stay free of a date
    // crate in the tests.
    let z = i64::try_from(days).unwrap_or(0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[tokio::test]
async fn customers_read_and_change_their_own_profile_only() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let me = Mesh::customer_id(40);

    let saved = mesh
        .put(
            "/api/customers/40",
            Some(&me),
            &json!({
                "name": "Ana Diaz", "phone": "+12125550140", "email": "ana@example.com",
                "preferred_payment_method": "mobile_money",
                "saved_addresses": [{"street": "456 Oak Ave", "city": "New York", "state": "NY",
                                     "zip_code": "10002", "country": "US"}]
            }),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text);
    assert_eq!(saved.json()["preferred_payment_method"], "mobile_money");
    assert_eq!(saved.json()["registered"], true);
    pending_order(&mesh, restaurant, item, 40).await;

    let read = mesh.get("/api/customers/40", Some(&me)).await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json()["name"], "Ana Diaz");
    assert_eq!(read.json()["order_count"], 1);
    assert_eq!(read.json()["saved_addresses"][0]["zip_code"], "10002");
    let orders = mesh.get("/api/customers/40/orders", Some(&me)).await;
    assert_eq!(orders.json()["items"].as_array().map(Vec::len), Some(1));
    let admin_read = mesh.get("/api/customers/40", Some(&Mesh::admin())).await;
    assert_eq!(admin_read.status, 200, "{}", admin_read.text);

    for token in [Mesh::customer_id(41), Mesh::staff(restaurant)] {
        mesh.get("/api/customers/40", Some(&token))
            .await
            .problem(403, None);
        mesh.put(
            "/api/customers/40",
            Some(&token),
            &json!({"name": "Mallory"}),
        )
        .await
        .problem(403, None);
    }
    mesh.get("/api/customers/40/orders", Some(&Mesh::customer_id(41)))
        .await
        .problem(403, None);
    mesh.get("/api/customers/40", None).await.problem(401, None);
    mesh.get("/api/customers/41", Some(&Mesh::customer_id(41)))
        .await
        .problem(404, None);

    // Guest checkout makes a guest profile (negative id), for admins; the
    // order shows no customer id.
    let guest = mesh
        .post(
            "/api/orders",
            None,
            &json!({
                "restaurant_id": restaurant,
                "guest": {"name": "Bo", "phone": "+12125550150"},
                "items": [{"menu_item_id": item, "quantity": 1}]
            }),
        )
        .await
        .json();
    assert!(guest["customer_id"].is_null(), "{guest}");
    let mut conn = sqlx::PgConnection::connect(mesh.order_db().url())
        .await
        .expect("order-svc's database answers");
    let profile: i64 = sqlx::query_scalar("SELECT customer_id FROM orders WHERE id = $1")
        .bind(guest["id"].as_i64().expect("id"))
        .fetch_one(&mut conn)
        .await
        .expect("the order reads");
    assert!(profile < 0);
    let read = mesh
        .get(&format!("/api/customers/{profile}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.json()["registered"], false);
    assert_eq!(read.json()["phone"], "+12125550150");
}

#[tokio::test]
async fn a_reorder_places_a_new_order_with_the_same_lines_once() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let customer = Mesh::customer_id(50);
    let earlier = pending_order(&mesh, restaurant, item, 50).await;

    let path = format!("/api/orders/{earlier}/reorder");
    let body = json!({"payment_method": "cash"});
    let again = || {
        mesh.send(
            Method::POST,
            &path,
            Some(&customer),
            &[("idempotency-key", "again-1")],
            Some(&body),
        )
    };
    let first = again().await;
    let retry = again().await;

    assert_eq!(first.status, 201, "{}", first.text);
    let order = first.json();
    assert_ne!(order["id"], earlier);
    assert_eq!(retry.json()["id"], order["id"]);
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["customer_id"], 50);
    assert_eq!(order["items"][0]["menu_item_id"], item);
    assert!(first.text.contains(r#""total":12.99"#), "{}", first.text);
    assert_eq!(all_orders(&mesh).await.len(), 2);
    // Without a body, the earlier order's choices are kept.
    let plain = mesh
        .raw(
            Method::POST,
            &format!("/api/orders/{earlier}/reorder"),
            Some(&customer),
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(plain.status, 201, "{}", plain.text);
    assert_eq!(plain.json()["status"], "pending");
}

#[tokio::test]
async fn kitchen_staff_receive_an_order_by_hand_and_reject_it_with_a_reason() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let other = mesh.restaurant("Elsewhere").await;
    let id = pending_order(&mesh, restaurant, item, 60).await;
    let staff = Mesh::staff(restaurant);

    let received = mesh
        .post(
            "/api/kitchen/orders",
            Some(&staff),
            &json!({"order_id": id}),
        )
        .await;
    assert_eq!(received.status, 201, "{}", received.text);
    let ticket = received.json();
    let ticket_id = ticket["id"].as_i64().expect("id");
    assert_eq!(ticket["order_id"], id);
    assert_eq!(ticket["items"][0]["name"], "Margherita");
    assert_eq!(
        received.header("location"),
        format!("/api/kitchen/orders/{ticket_id}")
    );
    let again = mesh
        .post(
            "/api/kitchen/orders",
            Some(&staff),
            &json!({"order_id": id}),
        )
        .await;
    assert_eq!(again.json()["id"], ticket_id);
    assert_eq!(mesh.tickets_for(restaurant, id).await.len(), 1);

    let path = format!("/api/kitchen/orders/{ticket_id}");
    assert_eq!(mesh.get(&path, Some(&staff)).await.status, 200);
    let admin = mesh
        .get(
            &format!("{path}?restaurant_id={restaurant}"),
            Some(&Mesh::admin()),
        )
        .await;
    assert_eq!(admin.status, 200, "{}", admin.text);
    mesh.get(&path, Some(&Mesh::admin()))
        .await
        .problem(400, Some("restaurant_id"));
    mesh.get(&path, Some(&Mesh::staff(other)))
        .await
        .problem(404, None);
    mesh.get(&path, Some(&Mesh::customer_id(60)))
        .await
        .problem(403, None);
    mesh.get(
        &format!("/api/kitchen/orders?restaurant_id={other}"),
        Some(&staff),
    )
    .await
    .problem(403, None);
    mesh.post(
        "/api/kitchen/orders",
        Some(&Mesh::staff(other)),
        &json!({"order_id": id}),
    )
    .await
    .problem(404, None);

    let rejected = mesh
        .put(
            &format!("{path}/status"),
            Some(&staff),
            &json!({"status": "rejected", "reason": "out of dough"}),
        )
        .await;
    assert_eq!(rejected.status, 200, "{}", rejected.text);
    assert_eq!(rejected.json()["reason"], "out of dough");
    let order = mesh.order_reaches(id, "cancelled").await;
    assert_eq!(order["id"], id);
    let history = history_of(&mesh, id).await;
    assert_eq!(
        history.last().map(|c| c["reason"].clone()),
        Some(json!("out of dough"))
    );
}

#[tokio::test]
async fn live_streams_end_when_the_gateway_drains() {
    let mut mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = pending_order(&mesh, restaurant, item, 70).await;
    let mut kitchen = mesh
        .events("/api/kitchen/stream", Some(&Mesh::staff(restaurant)))
        .await;
    kitchen.until("synced", EVENTUAL, |_| true).await;
    let mut watch = mesh
        .events(
            &format!("/api/orders/{id}/events"),
            Some(&Mesh::customer_id(70)),
        )
        .await;
    watch.until("snapshot", EVENTUAL, |_| true).await;

    mesh.stop_gateway();

    assert!(kitchen.next(EVENTUAL).await.is_none());
    assert!(watch.next(EVENTUAL).await.is_none());
}

#[tokio::test]
async fn staff_at_the_front_desk_order_for_guests_and_customers_of_their_restaurant() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let desk = Mesh::staff_named(restaurant, "frank");

    let for_guest = mesh
        .post(
            "/api/orders",
            Some(&desk),
            &json!({
                "restaurant_id": restaurant, "order_type": "dine_in", "table_number": 12,
                "payment_method": "cash",
                "guest": {"name": "Walk In", "phone": "+12125550177"},
                "items": [{"menu_item_id": item, "quantity": 1}]
            }),
        )
        .await;
    assert_eq!(for_guest.status, 201, "{}", for_guest.text);
    let order = for_guest.json();
    assert_eq!(order["source"], "frontdesk");
    assert_eq!(
        order["table_number"], "12",
        "a number is read as its digits"
    );
    assert!(order["access_token"].is_string(), "{order}");
    let ticket = mesh
        .ticket_of(restaurant, order["id"].as_i64().expect("id"))
        .await;
    assert_eq!(ticket["fulfilment"], "table");
    assert_eq!(ticket["table_number"], "12");

    let for_customer = mesh
        .post(
            "/api/orders",
            Some(&desk),
            &json!({"restaurant_id": restaurant, "customer_id": 77, "source": "phone",
                    "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(for_customer.status, 201, "{}", for_customer.text);
    let order = for_customer.json();
    assert_eq!(order["customer_id"], 77);
    assert_eq!(order["source"], "phone");
    assert!(order.get("access_token").is_none(), "{order}");
    let id = order["id"].as_i64().expect("id");
    let history = history_of(&mesh, id).await;
    assert_eq!(history[0]["actor"], json!({"kind": "staff", "id": "frank"}));
    // The customer sees it among their own.
    let theirs = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::customer_id(77)))
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
}

#[tokio::test]
async fn a_walk_in_order_needs_nobody_s_details_but_a_delivery_does() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let desk = Mesh::staff_named(restaurant, "frank");

    // Table 5, nobody named: a walk-in order.
    let placed = mesh
        .post(
            "/api/orders",
            Some(&desk),
            &json!({"restaurant_id": restaurant, "order_type": "dine_in", "table_number": 5,
                    "payment_method": "cash",
                    "items": [{"menu_item_id": item, "quantity": 2}]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let order = placed.json();
    assert_eq!(order["status"], "confirmed");
    assert!(order["customer_id"].is_null(), "{order}");
    assert!(order["contact"].is_null(), "{order}");
    assert_eq!(order["guest"], false);
    assert!(order.get("access_token").is_none(), "{order}");
    let id = order["id"].as_i64().expect("id");
    let ticket = mesh.ticket_of(restaurant, id).await;
    assert_eq!(ticket["table_number"], "5");
    // A table's order is not delivered: it has no delivery to follow.
    let delivery = mesh
        .get(&format!("/api/orders/{id}/delivery"), Some(&desk))
        .await;
    assert_eq!(delivery.problem(404, None)["code"], "delivery_not_found");
    // A takeout at the counter likewise, and it reads back the same.
    let counter = mesh
        .post(
            "/api/orders",
            Some(&desk),
            &json!({"restaurant_id": restaurant, "order_type": "takeout",
                    "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(counter.status, 201, "{}", counter.text);
    let read = mesh
        .get(
            &format!("/api/orders/{}", counter.json()["id"]),
            Some(&desk),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert!(read.json()["customer_id"].is_null(), "{}", read.text);

    // A delivery needs someone to deliver to; a customer cannot order as
    // nobody, and without a token the guest's details are required.
    let before = all_orders(&mesh).await.len();
    mesh.post(
        "/api/orders",
        Some(&desk),
        &json!({"restaurant_id": restaurant, "order_type": "delivery",
                "delivery_address": {"street": "1 A St", "city": "New York", "state": "NY",
                                     "zip_code": "10001", "country": "US"},
                "items": [{"menu_item_id": item, "quantity": 1}]}),
    )
    .await
    .problem(422, Some("customer_id"));
    mesh.post(
        "/api/orders",
        None,
        &json!({"restaurant_id": restaurant, "order_type": "dine_in", "table_number": 5,
                "items": [{"menu_item_id": item, "quantity": 1}]}),
    )
    .await
    .problem(422, Some("guest"));
    assert_eq!(all_orders(&mesh).await.len(), before);
}

#[tokio::test]
async fn a_cart_is_priced_by_the_server_exactly_as_its_order_will_be() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = taxed_restaurant(&mesh).await;
    let cart = json!({
        "restaurant_id": restaurant,
        "items": [{"menu_item_id": item, "quantity": 2}],
        "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY",
                             "zip_code": "10002", "country": "US"},
        "guest": {"name": "Ana", "phone": "+12125550100"}
    });

    // Anyone may price a cart; nothing is written.
    let quote = mesh.post("/api/orders/quote", None, &cart).await;
    assert_eq!(quote.status, 200, "{}", quote.text);
    for exact in [
        r#""subtotal":25.98"#,
        r#""delivery_fee":2.50"#,
        r#""tax":2.31"#,
        r#""total":30.79"#,
        r#""tax_rate":8.875"#,
        r#""line_total":25.98"#,
    ] {
        assert!(quote.text.contains(exact), "{exact} in {}", quote.text);
    }
    assert!(all_orders(&mesh).await.is_empty());
    // The order placed from the same body costs what the cart said.
    let placed = mesh.post("/api/orders", None, &cart).await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.json()["total"], quote.json()["total"]);
    // A takeout cart pays no delivery fee; a bad line is named.
    let takeout = with(
        &cart,
        &json!({"order_type": "takeout", "delivery_address": null}),
    );
    let quote = mesh.post("/api/orders/quote", None, &takeout).await;
    assert!(
        quote.text.contains(r#""delivery_fee":0.00"#),
        "{}",
        quote.text
    );
    mesh.post(
        "/api/orders/quote",
        None,
        &with(
            &cart,
            &json!({"items": [{"menu_item_id": item, "quantity": 0}]}),
        ),
    )
    .await
    .problem(422, Some("items[0].quantity"));
    // The body is checked before anything is looked up.
    mesh.post(
        "/api/orders/quote",
        None,
        &with(
            &cart,
            &json!({"restaurant_id": 0,
                    "items": [{"menu_item_id": item, "quantity": 1, "unit_price": "12.99"}]}),
        ),
    )
    .await
    .problem(422, Some("restaurant_id"));
    assert_eq!(all_orders(&mesh).await.len(), 1);
}
