//! Payments through the gateway: a card order paid (or declined, then
//! paid) reaches the kitchen; mobile money waits for the provider's signed
//! call; a cancelled order's money is released once, whatever the event
//! stream and accounting-svc's crashes do; refunds never pass what was
//! taken; and who may see which payment.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use accounting_svc::SANDBOX_WEBHOOK_SECRET;
use foodmesh_proto::events::v1::Envelope;
use foodmesh_shared::ServiceName;
use foodmesh_shared::events::ENVELOPE_FIELD;
use foodmesh_shared::webhook::sign;
use prost::Message;
use redis::AsyncCommands;
use redis::streams::StreamRangeReply;
use reqwest::Method;
use serde_json::json;

use crate::helpers::{EVENTUAL, Mesh, eventually, redis_connection};

/// A takeout order of one `item` by customer `customer`, no method chosen
/// yet: PENDING until paid. Its id.
async fn unpaid_order(mesh: &Mesh, restaurant: i64, item: i64, customer: i64) -> i64 {
    let placed = mesh
        .post(
            "/api/orders",
            Some(&Mesh::customer_id(customer)),
            &json!({"restaurant_id": restaurant, "order_type": "takeout",
                    "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    assert_eq!(placed.json()["status"], "pending");
    placed.json()["id"].as_i64().expect("id")
}

/// The `payment.*` event types accounting-svc published, oldest first.
async fn payment_events(mesh: &Mesh) -> Vec<String> {
    let mut redis = redis_connection(mesh.redis_url()).await;
    let reply: StreamRangeReply = redis
        .xrange_all(mesh.stream_of(ServiceName::Accounting))
        .await
        .expect("xrange");
    reply
        .ids
        .iter()
        .filter_map(|entry| entry.get::<Vec<u8>>(ENVELOPE_FIELD))
        .filter_map(|raw| Envelope::decode(raw.as_slice()).ok())
        .map(|envelope| envelope.r#type)
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[tokio::test]
async fn a_declined_card_leaves_the_order_pending_and_the_approving_card_sends_it_to_the_kitchen() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let mut kitchen = mesh
        .events("/api/kitchen/stream", Some(&Mesh::staff(restaurant)))
        .await;
    kitchen.until("synced", EVENTUAL, |_| true).await;
    let customer = Mesh::customer_id(31);
    let id = unpaid_order(&mesh, restaurant, item, 31).await;

    let declined = mesh
        .post(
            "/api/payments",
            Some(&customer),
            &json!({"order_id": id, "payment_method": "card",
                    "source": "4000 0000 0000 9995"}),
        )
        .await;
    let problem = declined.problem(402, None);
    assert_eq!(problem["code"], "payment_declined");
    assert_eq!(problem["decline_reason"], "insufficient_funds");
    assert!(problem["payment_id"].is_i64(), "{problem}");
    let order = mesh
        .get(&format!("/api/orders/{id}"), Some(&customer))
        .await;
    assert_eq!(order.json()["status"], "pending");

    // Seed 002's body, as written: credit_card, the total stated.
    let paid = mesh
        .post(
            "/api/payments",
            Some(&customer),
            &json!({"order_id": id, "amount": 12.99, "payment_method": "credit_card"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let payment = paid.json();
    assert_eq!(payment["status"], "authorized");
    assert_eq!(payment["payment_method"], "card");
    assert_eq!(payment["amount"], json!(12.99));
    assert_eq!(
        paid.header("location"),
        format!("/api/payments/{}", payment["id"])
    );

    mesh.order_reaches(id, "confirmed").await;
    let ticket = kitchen
        .until("changed", EVENTUAL, |t| t["order_id"] == id)
        .await
        .json();
    assert_eq!(ticket["status"], "queued");
    let invoices = mesh
        .get(
            &format!("/api/payments/invoices?order_id={id}"),
            Some(&customer),
        )
        .await;
    assert_eq!(invoices.status, 200, "{}", invoices.text);
    assert_eq!(invoices.json()["items"][0]["total"], json!(12.99));
    assert_eq!(invoices.json()["items"][0]["status"], "open");
    // Both attempts are the order's, the live one first.
    let listed = mesh
        .get(&format!("/api/orders/{id}/payments"), Some(&customer))
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let statuses: Vec<_> = listed.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|p| (p["id"].clone(), p["status"].clone()))
        .collect();
    assert_eq!(
        statuses,
        [
            (payment["id"].clone(), json!("authorized")),
            (problem["payment_id"].clone(), json!("declined"))
        ]
    );
}

#[tokio::test]
async fn a_stated_amount_that_is_not_the_total_is_refused_with_the_total() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = unpaid_order(&mesh, restaurant, item, 32).await;
    let refused = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(32)),
            &json!({"order_id": id, "amount": "25.98", "payment_method": "card"}),
        )
        .await;
    let problem = refused.problem(409, Some("amount"));
    assert_eq!(problem["code"], "amount_mismatch");
    assert_eq!(problem["total"], json!(12.99));
    let unknown = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(32)),
            &json!({"order_id": id, "payment_method": "cheque"}),
        )
        .await;
    unknown.problem(422, Some("payment_method"));
    assert!(payment_events(&mesh).await.is_empty());
}

#[tokio::test]
async fn mobile_money_is_confirmed_only_by_a_fresh_correctly_signed_call_handled_once() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    let id = unpaid_order(&mesh, restaurant, item, 33).await;
    let created = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(33)),
            &json!({"order_id": id, "payment_method": "mobile_money"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["status"], "created");
    let reference = created.json()["provider_reference"]
        .as_str()
        .expect("a reference")
        .to_owned();
    let message = json!({"id": "evt_e2e", "type": "payment.succeeded", "reference": reference});
    // What the gateway receives: the signature covers these bytes.
    let body = message.to_string();
    let secret = SANDBOX_WEBHOOK_SECRET.as_bytes();
    let path = "/api/payments/webhooks/sandbox_mobile_money";
    let call = |signature: Option<String>| {
        let (mesh, message) = (&mesh, &message);
        async move {
            let headers: Vec<(&str, &str)> = signature
                .as_deref()
                .map(|s| vec![("foodmesh-signature", s)])
                .unwrap_or_default();
            mesh.send(Method::POST, path, None, &headers, Some(message))
                .await
        }
    };

    for signature in [
        None,
        Some(sign(b"not the secret", now(), body.as_bytes())),
        Some(sign(secret, now() - 600, body.as_bytes())),
    ] {
        let refused = call(signature).await;
        assert_eq!(
            refused.problem(401, None)["code"],
            "webhook_signature_invalid"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let order = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(order.json()["status"], "pending", "nothing changed");

    let signed = sign(secret, now(), body.as_bytes());
    let taken = call(Some(signed.clone())).await;
    assert_eq!(taken.status, 200, "{}", taken.text);
    assert_eq!(taken.json()["status"], "authorized");
    mesh.order_reaches(id, "confirmed").await;
    let replay = call(Some(signed)).await;
    assert_eq!(replay.problem(409, None)["code"], "webhook_replayed");
    assert_eq!(payment_events(&mesh).await, ["payment.authorized"]);
}

#[tokio::test]
async fn a_cancelled_order_s_payment_is_voided_once_though_the_event_comes_twice_and_accounting_dies()
 {
    let mut mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = unpaid_order(&mesh, restaurant, item, 34).await;
    let paid = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(34)),
            &json!({"order_id": id, "payment_method": "card", "source": "tok_visa"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let payment = paid.json()["id"].as_i64().expect("payment id");
    mesh.order_reaches(id, "confirmed").await;

    // accounting-svc dies; the order is cancelled meanwhile, and its event
    // lands on the stream twice.
    let db = mesh.crash_accounting_svc().await;
    let cancelled = mesh
        .send(
            Method::DELETE,
            &format!("/api/orders/{id}"),
            Some(&Mesh::admin()),
            &[],
            Some(&json!({"reason": "the customer called"})),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let stream = mesh.stream_of(ServiceName::Order);
    let mut redis = redis_connection(mesh.redis_url()).await;
    let event: Vec<u8> = eventually("the order.cancelled event", EVENTUAL, || {
        let (stream, mut redis) = (stream.clone(), redis.clone());
        async move {
            let entries: StreamRangeReply = redis.xrange_all(&stream).await.ok()?;
            entries.ids.iter().find_map(|entry| {
                let raw: Vec<u8> = entry.get(ENVELOPE_FIELD)?;
                let envelope = Envelope::decode(raw.as_slice()).ok()?;
                (envelope.r#type == "order.cancelled" && envelope.aggregate_id == id.to_string())
                    .then_some(raw)
            })
        }
    })
    .await;
    let _: String = redis
        .xadd(&stream, "*", &[(ENVELOPE_FIELD, event.as_slice())])
        .await
        .expect("xadd");
    mesh.restart_accounting_svc(db).await;

    let voided = eventually("the payment voided", EVENTUAL, || async {
        let reply = mesh
            .get(&format!("/api/payments/{payment}"), Some(&Mesh::admin()))
            .await;
        (reply.json()["status"] == "voided").then(|| reply.json())
    })
    .await;
    assert_eq!(voided["captured"], json!(0.0));
    let invoices = mesh
        .get(
            &format!("/api/payments/invoices?order_id={id}"),
            Some(&Mesh::admin()),
        )
        .await;
    assert_eq!(invoices.json()["items"][0]["status"], "void");
    // Both copies were handled before the barrier's order is invoiced.
    let barrier = unpaid_order(&mesh, restaurant, item, 35).await;
    eventually("the next order invoiced", EVENTUAL, || async {
        let reply = mesh
            .get(
                &format!("/api/payments/invoices?order_id={barrier}"),
                Some(&Mesh::admin()),
            )
            .await;
        (reply.json()["items"]
            .as_array()
            .is_some_and(|i| !i.is_empty()))
        .then_some(())
    })
    .await;
    assert_eq!(
        payment_events(&mesh).await,
        ["payment.authorized", "payment.voided"]
    );
}

/// Completes order `id` as an admin moves it (confirmed → completed).
async fn complete(mesh: &Mesh, id: i64) {
    for status in ["preparing", "ready", "completed"] {
        let moved = mesh
            .put(
                &format!("/api/orders/{id}/status"),
                Some(&Mesh::admin()),
                &json!({"status": status}),
            )
            .await;
        assert_eq!(moved.status, 200, "{}", moved.text);
    }
}

#[tokio::test]
async fn fifty_refunds_at_once_never_give_back_more_than_was_taken() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = unpaid_order(&mesh, restaurant, item, 36).await;
    let paid = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(36)),
            &json!({"order_id": id, "payment_method": "card", "source": "tok_visa"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let payment_id = paid.json()["id"].as_i64().expect("payment id");
    mesh.order_reaches(id, "confirmed").await;
    complete(&mesh, id).await;
    let staff = Mesh::staff(restaurant);
    eventually("the payment captured", EVENTUAL, || async {
        let reply = mesh
            .get(&format!("/api/payments/{payment_id}"), Some(&staff))
            .await;
        (reply.json()["status"] == "captured").then_some(())
    })
    .await;

    let refunds = (0..50).map(|n| {
        let staff = staff.clone();
        let mesh = &mesh;
        async move {
            mesh.post(
                "/api/payments/refund",
                Some(&staff),
                &json!({"payment_id": payment_id, "amount": "0.50", "reason": format!("refund {n}")}),
            )
            .await
        }
    });
    let replies = futures::future::join_all(refunds).await;
    let made = replies.iter().filter(|r| r.status == 201).count();
    let refused: Vec<&crate::helpers::Reply> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!((made, refused.len()), (25, 25), "12.99 holds 25 × 0.50");
    for reply in refused {
        let problem = reply.json();
        assert_eq!(problem["code"], "refund_too_large");
        assert_eq!(problem["refundable"], json!(0.49));
    }
    let after = mesh
        .get(&format!("/api/payments/{payment_id}"), Some(&staff))
        .await;
    assert_eq!(after.json()["refunded"], json!(12.5));
    assert_eq!(after.json()["refundable"], json!(0.49));
    assert_eq!(after.json()["status"], "partially_refunded");
}

#[tokio::test]
async fn a_payment_is_seen_only_by_those_who_may_see_its_order() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = unpaid_order(&mesh, restaurant, item, 37).await;
    let paid = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(37)),
            &json!({"order_id": id, "payment_method": "card"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let path = format!("/api/payments/{}", paid.json()["id"]);
    let of_order = format!("/api/orders/{id}/payments");
    for (token, status) in [
        (Mesh::customer_id(37), 200),
        (Mesh::staff(restaurant), 200),
        (Mesh::admin(), 200),
        (Mesh::customer_id(38), 404),
        (Mesh::staff(restaurant + 1000), 404),
    ] {
        let reply = mesh.get(&path, Some(&token)).await;
        assert_eq!(reply.status, status, "{}", reply.text);
        let listed = mesh.get(&of_order, Some(&token)).await;
        assert_eq!(listed.status, status, "{}", listed.text);
        if status == 200 {
            assert_eq!(listed.json()["items"][0]["id"], paid.json()["id"]);
        }
    }
    let stranger = mesh
        .post(
            "/api/payments",
            Some(&Mesh::customer_id(38)),
            &json!({"order_id": id, "payment_method": "card"}),
        )
        .await;
    stranger.problem(404, None);
    let refund = mesh
        .post(
            "/api/payments/refund",
            Some(&Mesh::customer_id(37)),
            &json!({"payment_id": paid.json()["id"], "amount": "1.00"}),
        )
        .await;
    refund.problem(403, None);
    let theirs = mesh
        .get("/api/payments/invoices", Some(&Mesh::customer_id(38)))
        .await;
    assert_eq!(theirs.json()["items"], json!([]));

    // A guest sees their order's payments with its token, and only then.
    let placed = mesh
        .post(
            "/api/orders",
            None,
            &json!({"restaurant_id": restaurant, "order_type": "takeout",
                    "guest": {"name": "Ada Guest", "phone": "+12125550142"},
                    "items": [{"menu_item_id": item, "quantity": 1}]}),
        )
        .await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    let guest_order = placed.json()["id"].as_i64().expect("id");
    let token = placed.json()["access_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let guest_paid = mesh
        .send(
            Method::POST,
            "/api/payments",
            None,
            &[("x-order-token", &token)],
            Some(&json!({"order_id": guest_order, "payment_method": "card"})),
        )
        .await;
    assert_eq!(guest_paid.status, 201, "{}", guest_paid.text);
    let listed_path = format!("/api/orders/{guest_order}/payments");
    let listed = mesh.get_as_guest(&listed_path, &token).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    assert_eq!(listed.json()["items"][0]["id"], guest_paid.json()["id"]);
    mesh.get_as_guest(&listed_path, "fmo_not_the_token")
        .await
        .problem(404, None);
    mesh.get(&listed_path, None).await.problem(401, None);
}
