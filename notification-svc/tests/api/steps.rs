//! The order's steps: each heard once, on the channels the customer
//! wants, through the real providers' doubles.

use foodmesh_proto::notification::v1 as pb;
use foodmesh_proto::order::v1::{OrderType, PaymentMethod};
use foodmesh_shared::ServiceName;

use crate::app::{EVENTUAL, TWILIO_FROM, order_of, settled, spawn_app};

#[tokio::test]
async fn a_delivery_order_s_steps_arrive_once_by_email_and_never_by_an_opted_out_sms() {
    let app = spawn_app().await;
    app.choose(7, pb::Channel::Sms, false, false).await;
    let order = order_of(
        41,
        7,
        ("Ana Diaz", "ana@example.com", "+12125550100"),
        OrderType::Delivery,
        PaymentMethod::Card,
    );
    app.publish_order("order.created", &order).await;
    let confirmed = app.publish_order("order.confirmed", &order).await;
    app.publish_order("order.preparing", &order).await;
    app.publish_order("order.ready", &order).await;
    app.publish_delivery("delivery.picked_up", 41, 12).await;
    app.publish_delivery("delivery.delivered", 41, 0).await;
    // Delivered again, as a consumer that died before acknowledging would.
    app.deliver(ServiceName::Order, &confirmed).await;

    let mails = app.doubles.smtp.wait_for(4, EVENTUAL).await;
    let log = app
        .log_of_order(41, |log| log.len() >= 4 && settled(log))
        .await;
    let kinds: Vec<&str> = log.iter().rev().map(|n| n.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "order_received",
            "order_confirmed",
            "order_out_for_delivery",
            "order_delivered"
        ]
    );
    for n in &log {
        assert_eq!(n.channel(), pb::Channel::Email);
        assert_eq!(n.recipient, "ana@example.com");
        assert_eq!(n.provider, "smtp");
        assert_eq!(n.status(), pb::NotificationStatus::Sent, "{n:?}");
        assert_eq!(n.attempts, 1);
        assert!(n.provider_response.starts_with("250"), "{n:?}");
        assert!(n.sent_at.is_some());
    }
    let received = mails
        .iter()
        .find(|m| m.body().contains("has your order"))
        .expect("the order-received mail");
    // The link opens the storefront's page of the order, not the API.
    let body = received.body();
    assert!(body.contains("/#/order/41"), "{body}");
    let out = mails
        .iter()
        .find(|m| {
            m.header("Subject")
                .is_some_and(|s| s.contains("on its way"))
        })
        .expect("the out-for-delivery mail");
    assert_eq!(out.to, ["ana@example.com"]);
    let body = out.body();
    assert!(body.contains("Hi Ana,"), "{body}");
    assert!(body.contains("N00041"), "{body}");
    assert!(body.contains("in about 12 min"), "{body}");
    assert!(body.contains("/api/deliveries/track/TRK41"), "{body}");
    let out_of_log = log
        .iter()
        .find(|n| n.kind == "order_out_for_delivery")
        .expect("logged");
    assert_eq!(
        out.header("Message-ID").as_deref(),
        Some(format!("<{}@foodmesh>", message_id_of(&app, out_of_log.id).await).as_str())
    );

    // Nothing more arrives: the redelivery wrote nothing, and no SMS went.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.doubles.smtp.messages().len(), 4);
    assert!(app.doubles.twilio.requests().is_empty());
}

/// The key message `id` was written under, as its Message-ID spells it.
async fn message_id_of(app: &crate::app::TestApp, id: i64) -> String {
    let key: String = sqlx::query_scalar("SELECT dedupe_key FROM notifications WHERE id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("the message");
    key.replace(':', ".")
}

#[tokio::test]
async fn a_takeout_by_phone_hears_ready_and_a_cancellation_says_why_and_what_of_the_payment() {
    let app = spawn_app().await;
    let takeout = order_of(
        51,
        -3,
        ("Ben Roe", "", "+12125550111"),
        OrderType::Takeout,
        PaymentMethod::Card,
    );
    app.publish_order("order.ready", &takeout).await;
    let cash = order_of(
        52,
        -3,
        ("Ben Roe", "", "+12125550111"),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.cancelled", &takeout).await;
    app.publish_order("order.cancelled", &cash).await;

    let texts = app.doubles.twilio.wait_for(3, EVENTUAL).await;
    for text in &texts {
        assert_eq!(text.to, "+12125550111");
        assert_eq!(text.from, TWILIO_FROM);
    }
    let bodies: Vec<&str> = texts.iter().map(|t| t.body.as_str()).collect();
    assert!(
        bodies.contains(&"Pizza Palace: order N00051 is ready to collect."),
        "{bodies:?}"
    );
    assert!(
        bodies.contains(
            &"Order N00051 was cancelled: the kitchen is closed. Any payment of USD 25.98 is returned to you."
        ),
        "{bodies:?}"
    );
    assert!(
        bodies.contains(&"Order N00052 was cancelled: the kitchen is closed. Nothing was charged."),
        "{bodies:?}"
    );
    let log = app
        .log_of_order(51, |log| log.len() == 2 && settled(log))
        .await;
    assert!(log.iter().all(|n| n.provider == "twilio"));
    assert!(
        log.iter()
            .all(|n| n.provider_response.starts_with("201 sid=SM")),
        "{log:?}"
    );
}

#[tokio::test]
async fn a_delivery_order_s_ready_is_for_its_driver_and_the_customer_hears_nothing() {
    let app = spawn_app().await;
    let order = order_of(
        61,
        8,
        ("Cy", "cy@example.com", ""),
        OrderType::Delivery,
        PaymentMethod::Cash,
    );
    app.publish_order("order.ready", &order).await;
    app.publish_order("order.created", &order).await;
    app.doubles.smtp.wait_for(1, EVENTUAL).await;
    let log = app
        .log_of_order(61, |log| !log.is_empty() && settled(log))
        .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].kind, "order_received");
}

#[tokio::test]
async fn a_delivery_event_ahead_of_its_order_waits_for_it_and_is_heard_once() {
    let app = spawn_app().await;
    app.publish_delivery("delivery.picked_up", 71, 9).await;
    let order = order_of(
        71,
        9,
        ("Di", "di@example.com", ""),
        OrderType::Delivery,
        PaymentMethod::Cash,
    );
    // The order's own events were held up on their stream.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.publish_order("order.confirmed", &order).await;
    let log = app
        .log_of_order(71, |log| {
            log.iter().any(|n| n.kind == "order_out_for_delivery") && settled(log)
        })
        .await;
    assert_eq!(
        log.iter()
            .filter(|n| n.kind == "order_out_for_delivery")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_customer_who_chose_push_and_sms_hears_on_both_and_not_by_email() {
    let app = spawn_app().await;
    app.choose(11, pb::Channel::Push, true, false).await;
    app.choose(11, pb::Channel::Sms, true, false).await;
    app.choose(11, pb::Channel::Email, false, false).await;
    let order = order_of(
        81,
        11,
        ("Eve", "eve@example.com", "+12125550122"),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.confirmed", &order).await;
    let pushed = app.doubles.push.wait_for(1, EVENTUAL).await;
    app.doubles.twilio.wait_for(1, EVENTUAL).await;
    let push = &pushed[0];
    assert!(push.signature_ok);
    assert_eq!(push.body["recipient"], "customer:11");
    assert_eq!(push.body["title"], "Order confirmed");
    assert_eq!(
        push.key.as_deref(),
        push.body["id"].as_str(),
        "the key travels in the header and the body"
    );
    let log = app
        .log_of_order(81, |log| log.len() == 2 && settled(log))
        .await;
    let push_row = log
        .iter()
        .find(|n| n.channel() == pb::Channel::Push)
        .expect("push logged");
    assert_eq!(push_row.status(), pb::NotificationStatus::Delivered);
    assert!(push_row.delivered_at.is_some());
    assert!(app.doubles.smtp.messages().is_empty());
}

#[tokio::test]
async fn a_customer_who_set_only_marketing_still_hears_of_their_orders_by_default() {
    let app = spawn_app().await;
    // Before any order, no email is known: email order updates are off by
    // default then, and setting marketing alone must not fix that.
    app.client()
        .set_preferences(pb::SetPreferencesRequest {
            customer_id: 15,
            changes: vec![pb::PreferenceChange {
                channel: pb::Channel::Email.into(),
                order_updates: None,
                marketing: Some(true),
            }],
        })
        .await
        .expect("set");
    let order = order_of(
        85,
        15,
        ("Jo", "jo@example.com", ""),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.confirmed", &order).await;
    let mails = app.doubles.smtp.wait_for(1, EVENTUAL).await;
    assert_eq!(mails[0].to, ["jo@example.com"]);
    let now = app
        .client()
        .get_preferences(pb::GetPreferencesRequest { customer_id: 15 })
        .await
        .expect("read")
        .into_inner();
    let email = now
        .channels
        .iter()
        .find(|c| c.channel() == pb::Channel::Email)
        .expect("email");
    assert!(
        email.order_updates && email.marketing && email.chosen,
        "{email:?}"
    );
}
