//! Deliveries through the gateway: a cash delivery order goes by itself
//! from the kitchen to the nearest free driver and, by the driver's two
//! moves, to the customer's door, followed by the order's stream and the
//! public tracking; and bad input is a clear 4xx that changes nothing.

use serde_json::{Value, json};

use crate::helpers::{
    EVENTUAL, Mesh, RESTAURANT, delivery_of, driver, driver_token, eventually, located_restaurant,
};

/// Where the test orders are delivered: Grand St, about 2.5 km south.
const DOOR: (f64, f64) = (40.7155, -73.9865);

/// A cash delivery order of `item` by customer `customer`; its id.
async fn delivery_order(mesh: &Mesh, restaurant: i64, item: i64, customer: i64) -> i64 {
    let placed = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(customer)),
            &json!({
                "restaurant_id": restaurant, "order_type": "delivery", "payment_method": "cash",
                "items": [{"menu_item_id": item, "quantity": 1}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York",
                                     "state": "NY", "zip_code": "10002", "country": "US"},
                "delivery_location": {"latitude": DOOR.0, "longitude": DOOR.1}
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.json()["delivery_location"]["latitude"], DOOR.0);
    placed.json()["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_cash_delivery_order_reaches_the_door_with_the_nearest_driver_followed_live() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = located_restaurant(&mesh).await;
    let (lat, lon) = RESTAURANT;
    let near = driver(&mesh, "Ana Diaz", "+12125550140", (lat + 0.01, lon), true).await;
    driver(&mesh, "Ben Far", "+12125550141", (lat + 0.04, lon), true).await;
    driver(&mesh, "Cy Off", "+12125550142", (lat + 0.002, lon), false).await;

    let customer = Mesh::customer_id(61);
    let id = delivery_order(&mesh, restaurant, item, 61).await;
    let mut watch = mesh
        .events(&format!("/api/orders/{id}/events"), Some(&customer))
        .await;
    watch
        .until("snapshot", EVENTUAL, |o| o["status"] == "confirmed")
        .await;

    // The nearest available driver gets it at once, while it is cooked.
    let delivery = delivery_of(&mesh, id, |d| d["status"] == "assigned").await;
    assert_eq!(delivery["driver_id"], near);
    let delivery_id = delivery["id"].as_i64().expect("id");
    let tracking = format!(
        "/api/deliveries/track/{}",
        delivery["tracking_id"].as_str().expect("a tracking id")
    );
    let tracked = mesh.get(&tracking, None).await;
    assert_eq!(tracked.status, 200, "{}", tracked.text);
    assert_eq!(tracked.json()["status"], "assigned");
    // The customer finds it from their order; another customer does not.
    let theirs = mesh
        .get(&format!("/api/orders/{id}/delivery"), Some(&customer))
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(theirs.json()["tracking_id"], delivery["tracking_id"]);
    assert!(theirs.json().get("dropoff_address").is_none());
    mesh.get(
        &format!("/api/orders/{id}/delivery"),
        Some(&Mesh::customer_id(62)),
    )
    .await
    .problem(404, None);
    assert_eq!(
        tracked.json()["driver_first_name"],
        Value::Null,
        "no name before pickup"
    );
    assert_eq!(tracked.json()["driver_location"], Value::Null);
    assert!(tracked.json()["eta"].is_string());
    assert!(
        tracked.json().get("dropoff_address").is_none(),
        "public: no address"
    );
    let mut follow = mesh.events(&format!("{tracking}/events"), None).await;
    follow
        .until("snapshot", EVENTUAL, |t| t["status"] == "assigned")
        .await;

    // The kitchen makes it ready.
    let staff = Mesh::staff(restaurant);
    let ticket = mesh.ticket_of(restaurant, id).await;
    let ticket_path = format!("/api/kitchen/orders/{}/status", ticket["id"]);
    for status in ["accepted", "preparing", "ready"] {
        let moved = mesh
            .put(&ticket_path, Some(&staff), &json!({"status": status}))
            .await;
        assert_eq!(moved.status, 200, "{}", moved.text);
    }
    watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "ready")
        .await;

    // The driver's two moves take the order out and home.
    let status_path = format!("/api/deliveries/{delivery_id}/status");
    let picked = eventually("the pickup taken", EVENTUAL, || async {
        let reply = mesh
            .put(
                &status_path,
                Some(&driver_token(near)),
                &json!({"status": "picked_up"}),
            )
            .await;
        (reply.status == 200).then_some(reply)
    })
    .await;
    assert_eq!(picked.json()["status"], "picked_up");
    watch
        .until("status_changed", EVENTUAL, |o| {
            o["status"] == "out_for_delivery"
        })
        .await;
    let location = mesh
        .put(
            &format!("/api/drivers/{near}/location"),
            Some(&driver_token(near)),
            &json!({"latitude": 40.7301, "longitude": -73.9950}),
        )
        .await;
    assert_eq!(location.status, 204, "{}", location.text);
    follow
        .until("changed", EVENTUAL, |t| t["status"] == "picked_up")
        .await;
    let out = mesh.get(&tracking, None).await.json();
    assert_eq!(out["status"], "picked_up");
    assert_eq!(out["driver_first_name"], "Ana");
    assert_eq!(out["driver_location"]["latitude"], 40.7301);
    // From there to the door is 1.8 km: 5.3 minutes at the configured
    // 20 km/h, where an unknown door would count 15.
    let eta = out["eta"].as_str().expect("an eta");
    let eta = chrono::DateTime::parse_from_rfc3339(eta).expect("RFC 3339");
    let minutes_left = (eta.to_utc() - chrono::Utc::now()).num_seconds() as f64 / 60.0;
    assert!(
        (4.0..=5.5).contains(&minutes_left),
        "{minutes_left} minutes to the door"
    );

    let delivered = mesh
        .put(
            &status_path,
            Some(&driver_token(near)),
            &json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(delivered.status, 200, "{}", delivered.text);
    watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "completed")
        .await;
    follow
        .until("changed", EVENTUAL, |t| t["status"] == "delivered")
        .await;
    assert!(
        follow.next(EVENTUAL).await.is_none(),
        "the tracking stream ends with the delivery"
    );
    let done = mesh.get(&tracking, None).await.json();
    assert_eq!(done["status"], "delivered");
    assert!(done["delivered_at"].is_string());
    assert_eq!(done["driver_location"], Value::Null);

    let history = mesh
        .get(
            &format!("/api/deliveries/{delivery_id}/history"),
            Some(&driver_token(near)),
        )
        .await;
    assert_eq!(history.status, 200, "{}", history.text);
    let moves: Vec<(Value, Value)> = history.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m["to"].clone(), m["actor"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (json!("pending"), json!("system")),
            (json!("assigned"), json!("system")),
            (json!("picked_up"), json!(format!("driver:{near}"))),
            (json!("delivered"), json!(format!("driver:{near}"))),
        ]
    );

    // The driver is free again, and their history lists the delivery.
    let theirs = mesh
        .get(
            &format!("/api/drivers/{near}/deliveries"),
            Some(&driver_token(near)),
        )
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.text);
    assert_eq!(theirs.json()["items"][0]["id"], delivery_id);
    let me = mesh
        .get(&format!("/api/drivers/{near}"), Some(&driver_token(near)))
        .await;
    assert_eq!(me.json()["active_deliveries"], 0);
}

#[tokio::test]
async fn bad_input_on_the_delivery_routes_is_a_clear_4xx_that_changes_nothing() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = located_restaurant(&mesh).await;
    let (lat, lon) = RESTAURANT;
    let ana = driver(&mesh, "Ana Diaz", "+12125550150", (lat + 0.01, lon), true).await;
    let ben = driver(&mesh, "Ben Roe", "+12125550151", (lat + 0.3, lon), false).await;
    let id = delivery_order(&mesh, restaurant, item, 62).await;
    let delivery = delivery_of(&mesh, id, |d| d["status"] == "assigned").await;
    let status_path = format!("/api/deliveries/{}/status", delivery["id"]);

    let off = mesh
        .put(
            &format!("/api/drivers/{ana}/location"),
            Some(&driver_token(ana)),
            &json!({"latitude": 91.0, "longitude": 0.0}),
        )
        .await;
    off.problem(422, Some("latitude"));
    let unknown = mesh.get("/api/drivers/99999", Some(&Mesh::admin())).await;
    assert_eq!(unknown.problem(404, None)["code"], "driver_not_found");
    let other = mesh
        .get(&format!("/api/drivers/{ana}"), Some(&driver_token(ben)))
        .await;
    other.problem(404, None);
    let theirs = mesh
        .put(
            &status_path,
            Some(&driver_token(ben)),
            &json!({"status": "picked_up"}),
        )
        .await;
    assert_eq!(theirs.problem(404, None)["code"], "delivery_not_found");
    let early = mesh
        .put(
            &status_path,
            Some(&driver_token(ana)),
            &json!({"status": "delivered"}),
        )
        .await;
    assert_eq!(early.problem(409, None)["code"], "invalid_transition");
    let flying = mesh
        .put(
            &status_path,
            Some(&driver_token(ana)),
            &json!({"status": "flying"}),
        )
        .await;
    flying.problem(422, Some("status"));
    let no_reason = mesh
        .put(
            &status_path,
            Some(&driver_token(ana)),
            &json!({"status": "failed"}),
        )
        .await;
    no_reason.problem(422, Some("reason"));
    let nothing = mesh
        .get("/api/deliveries/track/not-a-tracking-id", None)
        .await;
    nothing.problem(404, None);
    let nul = mesh.get("/api/deliveries/track/abc%00def", None).await;
    nul.problem(404, None);
    let polar = mesh
        .put(
            &format!("/api/drivers/{ana}/location"),
            Some(&driver_token(ana)),
            &json!({"latitude": 89.0, "longitude": 0.0}),
        )
        .await;
    polar.problem(422, Some("latitude"));
    let customer = mesh
        .get("/api/deliveries", Some(&Mesh::customer_id(62)))
        .await;
    customer.problem(403, None);

    let at_sea = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(62)),
            &json!({
                "restaurant_id": restaurant, "payment_method": "cash",
                "items": [{"menu_item_id": item, "quantity": 1}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York",
                                     "state": "NY", "zip_code": "10002", "country": "US"},
                "delivery_location": {"latitude": -91.0, "longitude": 0.0}
            }),
        )
        .await;
    at_sea.problem(422, Some("delivery_location.latitude"));
    let takeout = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(62)),
            &json!({
                "restaurant_id": restaurant, "order_type": "takeout", "payment_method": "cash",
                "items": [{"menu_item_id": item, "quantity": 1}],
                "delivery_location": {"latitude": DOOR.0, "longitude": DOOR.1}
            }),
        )
        .await;
    takeout.problem(422, Some("delivery_location"));
    let orders = mesh.get("/api/orders", Some(&Mesh::customer_id(62))).await;
    assert_eq!(orders.json()["items"].as_array().map(Vec::len), Some(1));

    let after = delivery_of(&mesh, id, |_| true).await;
    assert_eq!(after["status"], "assigned", "nothing changed");
    assert_eq!(after["driver_id"], ana);
}

#[tokio::test]
async fn a_failed_delivery_cancels_its_order_and_releases_its_payment() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = located_restaurant(&mesh).await;
    let (lat, lon) = RESTAURANT;
    let ana = driver(&mesh, "Ana Diaz", "+12125550160", (lat + 0.01, lon), true).await;
    let id = delivery_order(&mesh, restaurant, item, 63).await;
    let delivery = delivery_of(&mesh, id, |d| d["status"] == "assigned").await;
    let staff = Mesh::staff(restaurant);
    let ticket = mesh.ticket_of(restaurant, id).await;
    let ticket_path = format!("/api/kitchen/orders/{}/status", ticket["id"]);
    for status in ["accepted", "preparing", "ready"] {
        let moved = mesh
            .put(&ticket_path, Some(&staff), &json!({"status": status}))
            .await;
        assert_eq!(moved.status, 200, "{}", moved.text);
    }
    let status_path = format!("/api/deliveries/{}/status", delivery["id"]);
    eventually("the pickup taken", EVENTUAL, || async {
        let reply = mesh
            .put(
                &status_path,
                Some(&driver_token(ana)),
                &json!({"status": "picked_up"}),
            )
            .await;
        (reply.status == 200).then_some(())
    })
    .await;
    mesh.order_reaches(id, "out_for_delivery").await;

    let failed = mesh
        .put(
            &status_path,
            Some(&driver_token(ana)),
            &json!({"status": "failed", "reason": "nobody at the door"}),
        )
        .await;
    assert_eq!(failed.status, 200, "{}", failed.text);
    assert_eq!(failed.json()["reason"], "nobody at the door");
    let order = mesh.order_reaches(id, "cancelled").await;
    assert_eq!(order["status"], "cancelled");
    let history = mesh
        .get(&format!("/api/orders/{id}/history"), Some(&Mesh::admin()))
        .await
        .json();
    let last = history["items"]
        .as_array()
        .and_then(|items| items.last().cloned())
        .expect("a history");
    assert_eq!(last["reason"], "delivery failed: nobody at the door");
    // The cash held for it is released, and the invoice is void.
    eventually("the invoice void", EVENTUAL, || async {
        let reply = mesh
            .get(
                &format!("/api/payments/invoices?order_id={id}"),
                Some(&Mesh::admin()),
            )
            .await;
        (reply.json()["items"][0]["status"] == "void").then_some(())
    })
    .await;
    let me = mesh
        .get(&format!("/api/drivers/{ana}"), Some(&driver_token(ana)))
        .await;
    assert_eq!(
        me.json()["active_deliveries"],
        0,
        "the driver is free again"
    );
}
