//! The original API's documents, taken at their word: its curl commands
//! run as written (given a token), every route it lists under `/api`
//! answers 2xx, and `/health` answers as it says.

use serde_json::{Value, json};

use crate::helpers::{Mesh, SEED_BODY, delivery_of, driver};

/// Los Angeles: beyond any search radius from New York, so the assigner
/// never takes this driver by itself and assigning them is left to us.
const FAR_AWAY: (f64, f64) = (34.0522, -118.2437);

fn ok(reply: &crate::helpers::Reply, what: &str) -> Value {
    assert!(
        (200..300).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        reply.text
    );
    reply.json()
}

#[tokio::test]
async fn the_original_api_s_calls_answer_2xx_as_written_given_a_token() {
    let mesh = Mesh::with_orders().await;
    let admin = Mesh::admin();

    // "Creating a Restaurant", as written: it is restaurant 1.
    let seed: Value = serde_json::from_str(SEED_BODY).expect("seed parses");
    let restaurant = ok(
        &mesh.post("/api/restaurants", Some(&admin), &seed).await,
        "POST /api/restaurants",
    );
    assert_eq!(restaurant["id"], 1);
    ok(
        &mesh.get("/api/restaurants", None).await,
        "GET /api/restaurants",
    );
    ok(
        &mesh.get("/api/restaurants/1", None).await,
        "GET /api/restaurants/{id}",
    );
    let item = ok(
        &mesh
            .post(
                "/api/restaurants/1/menu",
                Some(&admin),
                &json!({"name": "Margherita", "price": 12.99}),
            )
            .await,
        "POST /api/restaurants/{id}/menu",
    );
    assert_eq!(item["id"], 1);
    ok(
        &mesh.get("/api/restaurants/1/menu", None).await,
        "GET /api/restaurants/{id}/menu",
    );

    // "Creating an Order", as written, by customer 1.
    let customer = Mesh::customer_id(1);
    let order = ok(
        &mesh
            .post(
                "/api/orders",
                Some(&customer),
                &json!({
                    "customer_id": 1,
                    "restaurant_id": 1,
                    "items": [{"menu_item_id": 1, "quantity": 2, "unit_price": 12.99}],
                    "delivery_address": {"street": "456 Oak Ave", "city": "New York",
                                         "state": "NY", "zip_code": "10002", "country": "US"}
                }),
            )
            .await,
        "POST /api/orders",
    );
    assert_eq!(order["id"], 1);
    assert_eq!(order["total"], 25.98);
    ok(
        &mesh.get("/api/orders/1", Some(&customer)).await,
        "GET /api/orders/{id}",
    );

    // "Processing a Payment", as written.
    let payment = ok(
        &mesh
            .post(
                "/api/payments",
                Some(&customer),
                &json!({"order_id": 1, "amount": 25.98, "payment_method": "credit_card"}),
            )
            .await,
        "POST /api/payments",
    );
    assert_eq!(payment["status"], "authorized");
    mesh.order_reaches(1, "confirmed").await;

    // The kitchen's routes.
    let staff = Mesh::staff(1);
    let ticket = mesh.ticket_of(1, 1).await;
    ok(
        &mesh.get("/api/kitchen/orders", Some(&staff)).await,
        "GET /api/kitchen/orders",
    );
    ok(
        &mesh
            .post("/api/kitchen/orders", Some(&staff), &json!({"order_id": 1}))
            .await,
        "POST /api/kitchen/orders",
    );
    ok(
        &mesh
            .put(
                &format!("/api/kitchen/orders/{}/status", ticket["id"]),
                Some(&staff),
                &json!({"status": "preparing"}),
            )
            .await,
        "PUT /api/kitchen/orders/{id}/status",
    );

    // The delivery's routes: the order's delivery waits for a driver, and
    // one is handed it by hand.
    let waiting = delivery_of(&mesh, 1, |d| d["status"] == "pending").await;
    let delivery = ok(
        &mesh
            .post("/api/deliveries", Some(&admin), &json!({"order_id": 1}))
            .await,
        "POST /api/deliveries",
    );
    assert_eq!(delivery["id"], waiting["id"]);
    let driver_id = driver(&mesh, "Ana Diaz", "+12125550100", FAR_AWAY, true).await;
    let id = &delivery["id"];
    ok(
        &mesh
            .post(
                &format!("/api/deliveries/{id}/assign"),
                Some(&admin),
                &json!({"driver_id": driver_id}),
            )
            .await,
        "POST /api/deliveries/{id}/assign",
    );
    ok(
        &mesh
            .get(&format!("/api/deliveries/{id}"), Some(&admin))
            .await,
        "GET /api/deliveries/{id}",
    );
    let tracking = delivery["tracking_id"].as_str().expect("tracking id");
    ok(
        &mesh
            .get(&format!("/api/deliveries/track/{tracking}"), None)
            .await,
        "GET /api/deliveries/track/{tracking_id}",
    );

    // The order's other routes, on a second (cash) order.
    let second = mesh.cash_order(1, 1, 1).await;
    let second = second["id"].as_i64().expect("id");
    ok(
        &mesh
            .put(
                &format!("/api/orders/{second}/status"),
                Some(&staff),
                &json!({"status": "preparing"}),
            )
            .await,
        "PUT /api/orders/{id}/status",
    );
    let third = mesh.cash_order(1, 1, 1).await;
    ok(
        &mesh
            .delete(&format!("/api/orders/{}", third["id"]), Some(&customer))
            .await,
        "DELETE /api/orders/{id}",
    );

    // The accounting routes.
    let payment_id = &payment["id"];
    ok(
        &mesh
            .put(
                &format!("/api/payments/{payment_id}/process"),
                Some(&admin),
                &json!({"action": "capture"}),
            )
            .await,
        "PUT /api/payments/{id}/process",
    );
    ok(
        &mesh
            .post(
                "/api/payments/refund",
                Some(&admin),
                &json!({"payment_id": payment_id, "amount": 5.00, "reason": "cold fries"}),
            )
            .await,
        "POST /api/payments/refund",
    );
    ok(
        &mesh.get("/api/payments/invoices", Some(&admin)).await,
        "GET /api/payments/invoices",
    );

    // The notification routes.
    ok(
        &mesh
            .post(
                "/api/notifications",
                Some(&admin),
                &json!({"customer_id": 1, "channel": "email", "recipient": "ana@example.com",
                        "name": "Ana Diaz", "message": "Your table is ready, {name}.",
                        "category": "order_updates"}),
            )
            .await,
        "POST /api/notifications",
    );
    ok(
        &mesh.get("/api/notifications", Some(&admin)).await,
        "GET /api/notifications",
    );
    ok(
        &mesh
            .post(
                "/api/notifications/bulk",
                Some(&admin),
                &json!({"template": "order_confirmed", "channel": "email",
                        "category": "order_updates",
                        "recipients": [{"customer_id": 1, "name": "Ana Diaz",
                                        "email": "ana@example.com"}],
                        "values": {"order_number": "K7M2QX", "restaurant": "Pizza Palace",
                                   "eta": "in about 20 min"}}),
            )
            .await,
        "POST /api/notifications/bulk",
    );
    ok(
        &mesh
            .post(
                "/api/notifications/preferences",
                Some(&customer),
                &json!({"email": {"order_updates": true}}),
            )
            .await,
        "POST /api/notifications/preferences",
    );

    // "All services expose health check endpoints at /health".
    ok(&mesh.get("/health", None).await, "GET /health");
}
