//! Notifications through the gateway: the whole life of a card delivery
//! order — browsed, ordered, paid, cooked on the kitchen stream, handed to
//! the nearest driver, picked up, delivered — heard by its customer once
//! per step on the channel they chose, over a real SMTP connection, and
//! never on the one they opted out of.

use serde_json::{Value, json};

use crate::helpers::{
    EVENTUAL, Mesh, RESTAURANT, delivery_of, driver, driver_token, eventually, located_restaurant,
};

/// Where the order goes: Grand St, about 2.5 km south of the restaurant.
const DOOR: (f64, f64) = (40.7155, -73.9865);

#[tokio::test]
async fn a_card_delivery_order_is_heard_once_per_step_by_email_and_never_by_the_opted_out_sms() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = located_restaurant(&mesh).await;
    let (lat, lon) = RESTAURANT;
    let near = driver(&mesh, "Ana Diaz", "+12125550160", (lat + 0.01, lon), true).await;
    driver(&mesh, "Ben Far", "+12125550161", (lat + 0.05, lon), true).await;

    // The customer browses the menu.
    let menu = mesh
        .get(&format!("/api/restaurants/{restaurant}/menu"), None)
        .await;
    assert_eq!(menu.status, 200, "{}", menu.text);
    assert!(menu.text.contains("Margherita"), "{}", menu.text);

    // Their profile, and their choice: order updates by email, not by SMS.
    let customer = Mesh::customer_id(81);
    let profile = mesh
        .put(
            "/api/customers/81",
            Some(&customer),
            &json!({"name": "Cleo Park", "email": "cleo@example.com", "phone": "+12125550170"}),
        )
        .await;
    assert_eq!(profile.status, 200, "{}", profile.text);
    let chosen = mesh
        .post(
            "/api/notifications/preferences",
            Some(&customer),
            &json!({"email": {"order_updates": true}, "sms": {"order_updates": false}}),
        )
        .await;
    assert_eq!(chosen.status, 200, "{}", chosen.text);
    let preferences = chosen.json();
    let sms = channel_of(&preferences, "sms");
    assert_eq!(sms["order_updates"], false);
    assert_eq!(sms["chosen"], true);

    // The kitchen display is open before the order comes.
    let staff = Mesh::staff(restaurant);
    let mut kitchen = mesh.events("/api/kitchen/stream", Some(&staff)).await;
    kitchen.until("synced", EVENTUAL, |_| true).await;

    let placed = mesh
        .post(
            "/api/orders",
            Some(&customer),
            &json!({
                "restaurant_id": restaurant, "order_type": "delivery", "payment_method": "card",
                "items": [{"menu_item_id": item, "quantity": 2}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York",
                                     "state": "NY", "zip_code": "10002", "country": "US"},
                "delivery_location": {"latitude": DOOR.0, "longitude": DOOR.1}
            }),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let id = placed.json()["id"].as_i64().expect("id");
    let number = placed.json()["order_number"]
        .as_str()
        .expect("a number")
        .to_owned();
    let mut watch = mesh
        .events(&format!("/api/orders/{id}/events"), Some(&customer))
        .await;
    watch
        .until("snapshot", EVENTUAL, |o| o["status"] == "pending")
        .await;

    // Paid with the sandbox card.
    let paid = mesh
        .post(
            "/api/payments",
            Some(&customer),
            &json!({"order_id": id, "payment_method": "card", "source": "tok_visa"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "confirmed")
        .await;

    // Cooked from the kitchen stream.
    let ticket = kitchen
        .until("changed", EVENTUAL, |t| t["order_id"] == id)
        .await
        .json();
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

    // The nearest driver has it, and takes it to the door.
    let delivery = delivery_of(&mesh, id, |d| d["status"] == "assigned").await;
    assert_eq!(delivery["driver_id"], near);
    let status_path = format!("/api/deliveries/{}/status", delivery["id"]);
    for status in ["picked_up", "delivered"] {
        let moved = eventually(status, EVENTUAL, || async {
            let reply = mesh
                .put(
                    &status_path,
                    Some(&driver_token(near)),
                    &json!({"status": status}),
                )
                .await;
            (reply.status == 200).then_some(reply)
        })
        .await;
        assert_eq!(moved.json()["status"], status);
    }
    watch
        .until("status_changed", EVENTUAL, |o| o["status"] == "completed")
        .await;

    // One email per step, in the SMTP server and in the delivery log.
    let mails = mesh.smtp().wait_for(4, EVENTUAL).await;
    let log = eventually("every message settled", EVENTUAL, || async {
        let reply = mesh
            .get(
                &format!("/api/notifications?order_id={id}"),
                Some(&customer),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let items = reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let settled = items.len() == 4 && items.iter().all(|n| n["status"] == "sent");
        settled.then_some(items)
    })
    .await;
    let mut events: Vec<&str> = log.iter().filter_map(|n| n["event"].as_str()).collect();
    events.reverse();
    assert_eq!(
        events,
        [
            "order_received",
            "order_confirmed",
            "order_out_for_delivery",
            "order_delivered"
        ]
    );
    for n in &log {
        assert_eq!(n["channel"], "email", "{n}");
        assert_eq!(n["recipient"], "cleo@example.com", "{n}");
        assert_eq!(n["provider"], "smtp", "{n}");
        assert_eq!(n["attempts"], 1, "{n}");
        // What the provider answered is for the platform's admins.
        assert!(n["provider_response"].is_null(), "{n}");
    }
    let as_admin = mesh
        .get(
            &format!("/api/notifications?order_id={id}"),
            Some(&Mesh::admin()),
        )
        .await;
    assert_eq!(as_admin.status, 200, "{}", as_admin.text);
    let seen = as_admin.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(seen.len(), log.len(), "{}", as_admin.text);
    for n in &seen {
        let answer = n["provider_response"].as_str().unwrap_or_default();
        assert!(answer.starts_with("250"), "{n}");
    }
    for mail in &mails {
        assert_eq!(mail.to, ["cleo@example.com"]);
        assert!(
            mail.header("Subject")
                .is_some_and(|s| s.contains(number.as_str())),
            "{mail:?}"
        );
    }
    let on_its_way = mails
        .iter()
        .map(|m| m.body())
        .find(|b| b.contains("on its way"))
        .expect("the out-for-delivery mail");
    assert!(
        on_its_way.contains(&format!(
            "/api/deliveries/track/{}",
            delivery["tracking_id"].as_str().expect("a tracking id")
        )),
        "{on_its_way}"
    );

    // Nothing by SMS, and nothing twice.
    let texts = mesh
        .get(
            &format!("/api/notifications?order_id={id}&channel=sms"),
            Some(&customer),
        )
        .await;
    assert_eq!(texts.json()["items"], json!([]));
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mesh.smtp().messages().len(), 4);

    // Another customer sees none of it.
    let other = mesh
        .get(
            &format!("/api/notifications?order_id={id}"),
            Some(&Mesh::customer_id(82)),
        )
        .await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(other.json()["items"], json!([]));
}

fn channel_of<'a>(preferences: &'a Value, channel: &str) -> &'a Value {
    preferences["channels"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["channel"] == channel))
        .unwrap_or_else(|| panic!("no {channel} in {preferences}"))
}

#[tokio::test]
async fn bad_input_on_the_notification_routes_is_a_clear_4xx_that_changes_nothing() {
    let mesh = Mesh::with_orders().await;
    let admin = Mesh::admin();
    let customer = Mesh::customer_id(91);

    let unknown = mesh
        .post(
            "/api/notifications/templates",
            Some(&admin),
            &json!({"kind": "weekend_offer", "channel": "email", "subject": "Hi",
                    "body": "Hi {nmae}"}),
        )
        .await;
    let problem = unknown.problem(422, Some("body"));
    assert!(problem.to_string().contains("{nmae}"), "{problem}");
    let step = mesh
        .post(
            "/api/notifications/templates",
            Some(&admin),
            &json!({"kind": "order_confirmed", "channel": "email", "subject": "Hi",
                    "body": "{refund}"}),
        )
        .await;
    let problem = step.problem(422, Some("body"));
    assert!(problem.to_string().contains("{refund}"), "{problem}");
    let taken = mesh
        .post(
            "/api/notifications/templates",
            Some(&admin),
            &json!({"kind": "order_confirmed", "channel": "email", "subject": "Hi",
                    "body": "Hi {name}"}),
        )
        .await;
    assert_eq!(taken.problem(409, None)["code"], "template_taken");
    let templates = mesh
        .get(
            "/api/notifications/templates?kind=weekend_offer",
            Some(&admin),
        )
        .await;
    assert_eq!(templates.json()["items"], json!([]), "nothing written");

    let no_channel = mesh
        .post(
            "/api/notifications/preferences",
            Some(&customer),
            &json!({"fax": {"order_updates": true}}),
        )
        .await;
    no_channel.problem(422, Some("fax"));
    let someone_else = mesh
        .post(
            "/api/notifications/preferences",
            Some(&customer),
            &json!({"customer_id": 92, "email": {"marketing": true}}),
        )
        .await;
    someone_else.problem(403, None);
    let theirs = mesh
        .get("/api/notifications?customer_id=92", Some(&customer))
        .await;
    theirs.problem(403, None);
    let staff = mesh.get("/api/notifications", Some(&Mesh::staff(1))).await;
    staff.problem(403, None);
    let anonymous = mesh.get("/api/notifications", None).await;
    anonymous.problem(401, None);
    let mine = mesh
        .get("/api/notifications/preferences", Some(&customer))
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert!(
        mine.json()["channels"]
            .as_array()
            .is_some_and(|all| all.iter().all(|c| c["chosen"] == false)),
        "{}",
        mine.text
    );

    let bulk = mesh
        .post(
            "/api/notifications/bulk",
            Some(&admin),
            &json!({"template": "order_confirmed", "channel": "email",
                    "recipients": [{"customer_id": 5, "email": "five@example.com"},
                                   {"customer_id": 6, "email": "not-an-address"}],
                    "values": {"order_number": "K7M2QX", "restaurant": "Pizza Palace",
                               "eta": "soon"}}),
        )
        .await;
    bulk.problem(422, Some("recipients[1].email"));
    let unfilled = mesh
        .post(
            "/api/notifications/bulk",
            Some(&admin),
            &json!({"template": "order_confirmed", "channel": "email",
                    "recipients": [{"customer_id": 5, "email": "five@example.com"}]}),
        )
        .await;
    unfilled.problem(422, Some("values.order_number"));
    let by_customer = mesh
        .post(
            "/api/notifications/bulk",
            Some(&customer),
            &json!({"template": "order_confirmed", "channel": "email", "recipients": []}),
        )
        .await;
    by_customer.problem(403, None);
    let log = mesh.get("/api/notifications", Some(&admin)).await;
    assert_eq!(log.json()["items"], json!([]), "nothing sent");
}
