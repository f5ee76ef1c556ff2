//! Sending: a provider answering errors is retried with backoff, one that
//! refuses is not, one that is down holds back no other channel, a
//! sender killed between the provider taking a message and the answer
//! being recorded sends nothing twice, and a stopping sender puts back
//! what it has not tried.

use std::time::Duration;

use foodmesh_proto::notification::v1 as pb;
use foodmesh_proto::order::v1::{OrderType, PaymentMethod};

use crate::app::{EVENTUAL, order_of, settled, spawn_app};

#[tokio::test]
async fn a_stopping_sender_puts_back_what_it_has_not_tried_and_a_restart_sends_it_once() {
    use notification_svc::domain::channel::{Category, Channel};
    use notification_svc::domain::preference::Recipient;
    use notification_svc::domain::template::Template;
    use notification_svc::service::direct::{Content, DirectMessage};

    let mut app = spawn_app().await;
    app.crash().await;
    let notifications = app.notifications();
    let text =
        Template::parse("direct", Channel::Email, "News", "Hi {name}", true).expect("a valid text");
    for customer in 1..=3 {
        notifications
            .send_direct(DirectMessage {
                recipient: Recipient {
                    customer_id: customer,
                    name: format!("Customer {customer}"),
                    email: format!("c{customer}@example.com"),
                    phone: String::new(),
                },
                channel: Channel::Email,
                category: Category::OrderUpdates,
                content: Content::Text(text.clone(), std::collections::HashMap::new()),
                key: None,
                sender: "admin".to_owned(),
            })
            .await
            .expect("queued");
    }

    // Stopped before its first attempt: it claims the batch, tries none
    // and puts every one back as it was.
    let stop = tokio_util::sync::CancellationToken::new();
    stop.cancel();
    let claimed = notifications
        .send_due(Channel::Email, 10, &stop)
        .await
        .expect("the database answers");
    assert_eq!(claimed, 3);
    let rows: Vec<(String, i32, bool)> = sqlx::query_as(
        "SELECT status, attempts, lease_until IS NULL FROM notifications ORDER BY id",
    )
    .fetch_all(&app.pool)
    .await
    .expect("read");
    assert_eq!(rows, vec![("queued".to_owned(), 0, true); 3]);
    assert!(app.doubles.smtp.messages().is_empty());

    // The next sender sends each once.
    app.restart().await;
    app.doubles.smtp.wait_for(3, EVENTUAL).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.doubles.smtp.messages().len(), 3);
}

fn by_phone(id: i64, customer: i64, phone: &str) -> foodmesh_proto::order::v1::Order {
    order_of(
        id,
        customer,
        ("Fay", "", phone),
        OrderType::Takeout,
        PaymentMethod::Cash,
    )
}

#[tokio::test]
async fn a_provider_answering_errors_is_retried_with_backoff_and_the_attempts_are_logged() {
    let app = spawn_app().await;
    app.doubles.twilio.fail_next(2, 503);
    app.publish_order("order.confirmed", &by_phone(91, -5, "+12125550133"))
        .await;

    let texts = app.doubles.twilio.wait_for(1, EVENTUAL).await;
    assert_eq!(texts.len(), 1);
    let log = app
        .log_of_order(91, |log| !log.is_empty() && settled(log))
        .await;
    let sms = &log[0];
    assert_eq!(sms.status(), pb::NotificationStatus::Sent, "{sms:?}");
    assert_eq!(sms.attempts, 3);
    let tried: Vec<u16> = app
        .doubles
        .twilio
        .requests()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(tried, [503, 503, 201]);
}

#[tokio::test]
async fn a_provider_that_keeps_failing_is_given_up_on_after_the_last_attempt() {
    let app = spawn_app().await;
    app.doubles.twilio.fail_next(10, 503);
    app.publish_order("order.confirmed", &by_phone(92, -6, "+12125550134"))
        .await;
    let log = app
        .log_of_order(92, |log| !log.is_empty() && settled(log))
        .await;
    let sms = &log[0];
    assert_eq!(sms.status(), pb::NotificationStatus::Failed);
    assert_eq!(sms.attempts, 4, "the configured most");
    assert!(sms.provider_response.contains("20503"), "{sms:?}");
    assert!(sms.sent_at.is_none());
    assert_eq!(app.doubles.twilio.requests().len(), 4);
}

#[tokio::test]
async fn a_refusal_is_never_tried_again() {
    let app = spawn_app().await;
    // Twilio refuses a number that cannot exist (code 21211).
    app.publish_order("order.confirmed", &by_phone(93, -7, "+0123"))
        .await;
    let log = app
        .log_of_order(93, |log| !log.is_empty() && settled(log))
        .await;
    assert_eq!(log[0].status(), pb::NotificationStatus::Failed);
    assert_eq!(log[0].attempts, 1);
    assert!(log[0].provider_response.contains("21211"), "{:?}", log[0]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.doubles.twilio.requests().len(), 1);
}

#[tokio::test]
async fn a_provider_that_is_down_holds_back_no_other_channel() {
    let app = spawn_app().await;
    app.doubles.smtp.set_failing(Some(451));
    app.choose(12, pb::Channel::Sms, true, false).await;
    let both = order_of(
        94,
        12,
        ("Gus", "gus@example.com", "+12125550135"),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.confirmed", &both).await;

    app.doubles.twilio.wait_for(1, EVENTUAL).await;
    let log = app
        .log_of_order(94, |log| {
            // Refused twice, and waiting for its next attempt.
            log.iter().any(|n| {
                n.channel() == pb::Channel::Email
                    && n.attempts >= 2
                    && n.status() == pb::NotificationStatus::Queued
            })
        })
        .await;
    let email = log
        .iter()
        .find(|n| n.channel() == pb::Channel::Email)
        .expect("the email");
    assert!(email.provider_response.contains("451"), "{email:?}");
    assert!(email.next_attempt_at.is_some());

    app.doubles.smtp.set_failing(None);
    app.doubles.smtp.wait_for(1, EVENTUAL).await;
    app.log_of_order(94, |log| log.len() == 2 && settled(log))
        .await;
}

#[tokio::test]
async fn killed_between_the_push_gateway_taking_a_message_and_the_answer_it_is_delivered_once() {
    let mut app = spawn_app().await;
    app.choose(13, pb::Channel::Push, true, false).await;
    app.choose(13, pb::Channel::Email, false, false).await;
    app.doubles.push.hold();
    let order = order_of(
        95,
        13,
        ("Hal", "hal@example.com", ""),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.confirmed", &order).await;
    // The gateway has the message; its answer is held back.
    let first = app.doubles.push.wait_for_calls(1, EVENTUAL).await;
    assert_eq!(app.doubles.push.accepted().len(), 1);

    app.crash_and_restart().await;
    app.doubles.push.release();

    let log = app
        .log_of_order(95, |log| !log.is_empty() && settled(log))
        .await;
    assert_eq!(
        log[0].status(),
        pb::NotificationStatus::Delivered,
        "{:?}",
        log[0]
    );
    assert_eq!(log[0].attempts, 2, "sent again after the lease ran out");
    let calls = app.doubles.push.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].key, first[0].key, "the same key both times");
    assert_eq!(app.doubles.push.accepted().len(), 1, "delivered once");
}

#[tokio::test]
async fn killed_mid_attempt_where_a_resend_is_not_safe_the_message_is_not_sent_again() {
    let mut app = spawn_app().await;
    app.doubles.smtp.set_failing(Some(451));
    let order = order_of(
        96,
        14,
        ("Ivy", "ivy@example.com", ""),
        OrderType::Takeout,
        PaymentMethod::Cash,
    );
    app.publish_order("order.confirmed", &order).await;
    app.log_of_order(96, |log| log.iter().any(|n| n.attempts >= 1))
        .await;
    // As a sender that died holding it leaves it: claimed, lease lapsed.
    app.crash().await;
    sqlx::query(
        "UPDATE notifications SET status = 'sending', lease_until = now() - interval '1 s'
         WHERE order_id = 96",
    )
    .execute(&app.pool)
    .await
    .expect("claimed");
    app.doubles.smtp.set_failing(None);
    app.restart().await;

    let log = app
        .log_of_order(96, |log| !log.is_empty() && settled(log))
        .await;
    assert_eq!(log[0].status(), pb::NotificationStatus::Failed);
    assert!(
        log[0].provider_response.contains("not sent again"),
        "{:?}",
        log[0]
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(app.doubles.smtp.messages().is_empty());
}
