//! What admins and customers manage: templates checked whole before they
//! are saved, preferences whose defaults follow the latest order's
//! contact, messages by hand sent like any other, and the log they all
//! land in — narrowed, paged, and refused when asked wrongly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::notification::v1 as pb;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::testing::fields;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::app::{EVENTUAL, TestApp, order_of, reason, settled, spawn_app};

/// A refusal of bad input naming `field` and nothing else.
fn names_only(refused: &Status, field: &str) {
    assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
    assert_eq!(fields(refused), [field], "{refused:?}");
}

fn template(kind: &str, channel: pb::Channel, body: &str) -> pb::Template {
    pb::Template {
        kind: kind.to_owned(),
        channel: channel.into(),
        subject: "A weekend treat, {name}".to_owned(),
        body: body.to_owned(),
        active: true,
        ..Default::default()
    }
}

async fn create(app: &TestApp, template: pb::Template) -> Result<pb::Template, Status> {
    let request = pb::CreateTemplateRequest {
        template: Some(template),
    };
    let created = app.client().create_template(request).await?;
    Ok(created.into_inner())
}

async fn templates_of(app: &TestApp, kind: &str) -> Vec<pb::Template> {
    let request = pb::ListTemplatesRequest {
        kind: kind.to_owned(),
        ..Default::default()
    };
    let listed = app.client().list_templates(request).await.expect("listed");
    listed.into_inner().templates
}

fn updated_at(t: &pb::Template) -> (i64, i32) {
    let stamp = t.updated_at.expect("a template has its updated_at");
    (stamp.seconds, stamp.nanos)
}

#[tokio::test]
async fn the_seeded_order_steps_have_a_template_on_every_channel() {
    let app = spawn_app().await;
    let confirmed = templates_of(&app, "order_confirmed").await;
    let mut channels: Vec<pb::Channel> = confirmed.iter().map(|t| t.channel()).collect();
    channels.sort();
    assert_eq!(
        channels,
        [pb::Channel::Sms, pb::Channel::Email, pb::Channel::Push]
    );
    assert!(
        confirmed
            .iter()
            .all(|t| t.active && t.body.contains("{order_number}")),
        "{confirmed:#?}"
    );
}

#[tokio::test]
async fn a_template_kind_of_ones_own_is_created_once_per_channel() {
    let app = spawn_app().await;
    let body = "Hi {name}, this weekend only: {link}";
    let created = create(&app, template("weekend_offer", pb::Channel::Email, body))
        .await
        .expect("created");
    assert!(
        created.id > 0 && created.updated_at.is_some(),
        "{created:?}"
    );
    assert_eq!(
        pb::Template {
            id: 0,
            updated_at: None,
            ..created.clone()
        },
        template("weekend_offer", pb::Channel::Email, body)
    );
    let dormant = pb::Template {
        active: false,
        ..template("weekend_offer", pb::Channel::Sms, "Weekend offer: {link}")
    };
    let dormant = create(&app, dormant).await.expect("created");
    assert!(!dormant.active);

    let twin = template("weekend_offer", pb::Channel::Email, "Hi {name}");
    let taken = create(&app, twin)
        .await
        .expect_err("the kind is taken on email");
    assert_eq!(taken.code(), Code::AlreadyExists);
    assert_eq!(reason(&taken), "TEMPLATE_TAKEN");
    assert_eq!(
        templates_of(&app, "weekend_offer").await,
        [created, dormant]
    );
}

#[tokio::test]
async fn a_template_with_an_unknown_placeholder_a_bad_kind_or_no_channel_is_not_written() {
    let app = spawn_app().await;
    let misspelt = template("misspelt", pb::Channel::Email, "Hi {nmae}");
    let refused = create(&app, misspelt).await.expect_err("refused");
    names_only(&refused, "template.body");
    let said = refused.get_details_bad_request().expect("a BadRequest");
    assert!(
        said.field_violations[0].description.contains("{nmae}"),
        "{said:?}"
    );
    assert!(templates_of(&app, "misspelt").await.is_empty());

    for kind in ["", "Bad Kind!"] {
        let bad = template(kind, pb::Channel::Email, "Hi {name}");
        names_only(
            &create(&app, bad).await.expect_err("refused"),
            "template.kind",
        );
    }
    let no_channel = template("no_channel", pb::Channel::Unspecified, "Hi {name}");
    let refused = create(&app, no_channel).await.expect_err("refused");
    names_only(&refused, "template.channel");
}

#[tokio::test]
async fn an_update_replaces_only_what_it_sets_and_is_checked_whole() {
    let app = spawn_app().await;
    let mut client = app.client();
    let created = template("weekend_offer", pb::Channel::Email, "Hi {name}: {link}");
    let created = create(&app, created).await.expect("created");
    let body = "Hi {name}, two for one this weekend: {link}";
    let rewrite = |id: i64, body: &str| pb::UpdateTemplateRequest {
        id,
        body: Some(body.to_owned()),
        ..Default::default()
    };
    let updated = client
        .update_template(rewrite(created.id, body))
        .await
        .expect("updated")
        .into_inner();
    let expected = pb::Template {
        body: body.to_owned(),
        updated_at: updated.updated_at,
        ..created.clone()
    };
    assert_eq!(updated, expected);
    assert!(updated_at(&updated) > updated_at(&created));

    let refused = client
        .update_template(rewrite(created.id, "Hi {nope}"))
        .await
        .expect_err("an unknown placeholder");
    names_only(&refused, "body");
    assert_eq!(
        templates_of(&app, "weekend_offer").await,
        std::slice::from_ref(&updated)
    );
    let read = client
        .get_template(pb::GetTemplateRequest { id: created.id })
        .await
        .expect("read")
        .into_inner();
    assert_eq!(read, updated);

    let missing = client
        .update_template(rewrite(999_999, body))
        .await
        .expect_err("no such template");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "TEMPLATE_NOT_FOUND");
    let unread = client
        .get_template(pb::GetTemplateRequest { id: 999_999 })
        .await
        .expect_err("no such template");
    assert_eq!(reason(&unread), "TEMPLATE_NOT_FOUND");
}

#[tokio::test]
async fn two_admins_editing_one_template_at_once_both_keep_their_change() {
    let app = spawn_app().await;
    let created = template("weekend_offer", pb::Channel::Email, "Hi {name}: {link}");
    let created = create(&app, created).await.expect("created");
    // One admin's edit of the body holds the row, as a slow transaction
    // would, while another changes the subject.
    let mut first = app.pool.begin().await.expect("a transaction");
    sqlx::query("SELECT id FROM templates WHERE id = $1 FOR UPDATE")
        .bind(created.id)
        .execute(&mut *first)
        .await
        .expect("locked");
    let mut client = app.client();
    let second = tokio::spawn(async move {
        client
            .update_template(pb::UpdateTemplateRequest {
                id: created.id,
                subject: Some("This weekend, {name}".to_owned()),
                ..Default::default()
            })
            .await
    });
    let deadline = Instant::now() + EVENTUAL;
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("counted");
        if waiting > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second edit never reached the row"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sqlx::query("UPDATE templates SET body = 'Two for one, {name}: {link}' WHERE id = $1")
        .bind(created.id)
        .execute(&mut *first)
        .await
        .expect("the body changed");
    first.commit().await.expect("committed");

    let updated = second
        .await
        .expect("joined")
        .expect("the subject changed")
        .into_inner();
    assert_eq!(updated.subject, "This weekend, {name}");
    assert_eq!(updated.body, "Two for one, {name}: {link}");
}

fn on(preferences: &pb::Preferences, channel: pb::Channel) -> pb::ChannelPreference {
    *preferences
        .channels
        .iter()
        .find(|c| c.channel() == channel)
        .unwrap_or_else(|| panic!("no {channel:?} in {preferences:?}"))
}

async fn preferences(app: &TestApp, customer_id: i64) -> pb::Preferences {
    let request = pb::GetPreferencesRequest { customer_id };
    let read = app.client().get_preferences(request).await.expect("read");
    read.into_inner()
}

fn change(channel: pb::Channel, order_updates: Option<bool>) -> pb::PreferenceChange {
    pb::PreferenceChange {
        channel: channel.into(),
        order_updates,
        marketing: None,
    }
}

#[tokio::test]
async fn the_defaults_follow_the_latest_orders_contact_until_the_customer_chooses() {
    let app = spawn_app().await;
    let unknown = preferences(&app, 21).await;
    assert_eq!(unknown.channels.len(), 3, "{unknown:?}");
    assert!(unknown.channels.iter().all(|c| !c.chosen && !c.marketing));
    assert!(!on(&unknown, pb::Channel::Email).order_updates);

    let contact = ("Cara Lee", "cara@example.com", "+12125550123");
    let (takeout, card) = (order::OrderType::Takeout, order::PaymentMethod::Card);
    let placed = order_of(201, 21, contact, takeout, card);
    app.publish_order("order.created", &placed).await;
    app.log_of_order(201, |log| log.len() == 1 && settled(log))
        .await;
    let known = preferences(&app, 21).await;
    assert!(on(&known, pb::Channel::Email).order_updates, "{known:?}");
    assert!(!on(&known, pb::Channel::Sms).order_updates, "{known:?}");
    assert!(known.channels.iter().all(|c| !c.chosen && !c.marketing));

    let request = pb::SetPreferencesRequest {
        customer_id: 21,
        changes: vec![
            change(pb::Channel::Sms, Some(true)),
            change(pb::Channel::Email, Some(false)),
        ],
    };
    let set = app.client().set_preferences(request).await.expect("set");
    let set = set.into_inner();
    let sms = on(&set, pb::Channel::Sms);
    assert!(sms.chosen && sms.order_updates && !sms.marketing, "{set:?}");
    let email = on(&set, pb::Channel::Email);
    assert!(email.chosen && !email.order_updates, "{set:?}");
    assert!(!on(&set, pb::Channel::Push).chosen, "{set:?}");
    assert_eq!(preferences(&app, 21).await, set);
}

#[tokio::test]
async fn a_preference_change_names_what_is_wrong_with_it() {
    let app = spawn_app().await;
    let cases = [
        (
            23,
            vec![change(pb::Channel::Unspecified, Some(true))],
            "changes[0].channel",
        ),
        (23, vec![change(pb::Channel::Email, None)], "changes[0]"),
        (23, Vec::new(), "changes"),
        (
            0,
            vec![change(pb::Channel::Email, Some(true))],
            "customer_id",
        ),
    ];
    for (customer_id, changes, field) in cases {
        let request = pb::SetPreferencesRequest {
            customer_id,
            changes,
        };
        let refused = app.client().set_preferences(request).await;
        names_only(&refused.expect_err("refused"), field);
    }
    let untouched = preferences(&app, 23).await;
    assert!(
        untouched.channels.iter().all(|c| !c.chosen),
        "{untouched:?}"
    );
}

fn by_hand(customer_id: i64, email: &str) -> pb::SendNotificationRequest {
    pb::SendNotificationRequest {
        recipient: Some(pb::Recipient {
            customer_id,
            name: "Ana Diaz".to_owned(),
            email: email.to_owned(),
            phone: String::new(),
        }),
        channel: pb::Channel::Email.into(),
        subject: "A table for {name}".to_owned(),
        message: "Hi {name}, your table for two is ready.".to_owned(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_message_by_hand_is_filled_in_and_reaches_the_mail_server() {
    let app = spawn_app().await;
    let sent = app
        .client()
        .send_notification(by_hand(51, "ana@example.com"))
        .await;
    let sent = sent.expect("accepted").into_inner();
    use pb::NotificationStatus as S;
    assert!(
        matches!(sent.status(), S::Queued | S::Sending | S::Sent),
        "{sent:?}"
    );
    assert_eq!(
        (sent.kind.as_str(), sent.recipient.as_str()),
        ("direct", "ana@example.com")
    );
    assert_eq!(sent.subject, "A table for Ana");
    assert_eq!(sent.message, "Hi Ana, your table for two is ready.");

    let mail = app.doubles.smtp.wait_for(1, EVENTUAL).await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["ana@example.com"]);
    assert_eq!(
        mail[0].header("Subject").as_deref(),
        Some("A table for Ana")
    );
    assert_eq!(
        mail[0].body().trim_end(),
        "Hi Ana, your table for two is ready."
    );
}

#[tokio::test]
async fn a_message_by_hand_sent_again_with_the_same_key_is_sent_once() {
    let app = spawn_app().await;
    let request = pb::SendNotificationRequest {
        idempotency_key: "table-ready-52".to_owned(),
        sender: "admin:7".to_owned(),
        ..by_hand(52, "ana@example.com")
    };
    let first = app.client().send_notification(request.clone()).await;
    let again = app.client().send_notification(request).await;
    assert_eq!(
        again.expect("accepted").into_inner().id,
        first.expect("accepted").into_inner().id
    );

    let mine = pb::ListNotificationsRequest {
        customer_id: 52,
        ..Default::default()
    };
    let started = Instant::now();
    let log = loop {
        let log = app.log(mine.clone()).await;
        if !log.is_empty() && settled(&log) {
            break log;
        }
        assert!(
            started.elapsed() < EVENTUAL,
            "the log after {EVENTUAL:?}: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(log.len(), 1, "{log:#?}");
    assert_eq!(log[0].status(), pb::NotificationStatus::Sent);
    assert_eq!(app.doubles.smtp.messages().len(), 1);

    // The key answers with what it sent, even once the customer opts out;
    // another sender's key of the same spelling is another message.
    app.choose(52, pb::Channel::Email, false, false).await;
    let retried = app
        .client()
        .send_notification(pb::SendNotificationRequest {
            idempotency_key: "table-ready-52".to_owned(),
            sender: "admin:7".to_owned(),
            ..by_hand(52, "ana@example.com")
        })
        .await
        .expect("answered from the key");
    assert_eq!(retried.into_inner().id, log[0].id);
    let other_sender = app
        .client()
        .send_notification(pb::SendNotificationRequest {
            idempotency_key: "7:table-ready-52".to_owned(),
            sender: "admin".to_owned(),
            ..by_hand(52, "ana@example.com")
        })
        .await
        .expect_err("a new message, to someone who opted out");
    assert_eq!(fields(&other_sender), ["recipient"]);
}

#[tokio::test]
async fn a_message_by_hand_is_refused_for_mixed_content_no_template_an_opt_out_or_bad_values() {
    let app = spawn_app().await;
    app.choose(55, pb::Channel::Email, false, true).await;
    let mixed = pb::SendNotificationRequest {
        template_kind: "order_ready".to_owned(),
        ..by_hand(53, "ana@example.com")
    };
    let unknown_value = pb::SendNotificationRequest {
        values: HashMap::from([("nope".to_owned(), "x".to_owned())]),
        ..by_hand(53, "ana@example.com")
    };
    // 500 characters, written four times: past a message's 1,600.
    let swollen = pb::SendNotificationRequest {
        message: "{link} {link} {link} {link}".to_owned(),
        values: HashMap::from([("link".to_owned(), "x".repeat(500))]),
        ..by_hand(53, "ana@example.com")
    };
    let unfilled = pb::SendNotificationRequest {
        message: "Track it at {link}".to_owned(),
        ..by_hand(53, "ana@example.com")
    };
    let invalid = [
        (mixed, "message"),
        (by_hand(55, "ana@example.com"), "recipient"),
        (by_hand(53, "ana.example.com"), "recipient.email"),
        (unknown_value, "values.nope"),
        (swollen, "values"),
        (unfilled, "values.link"),
    ];
    for (request, field) in invalid {
        let refused = app.client().send_notification(request).await;
        names_only(&refused.expect_err("refused"), field);
    }
    let untemplated = pb::SendNotificationRequest {
        template_kind: "no_such_kind".to_owned(),
        subject: String::new(),
        message: String::new(),
        ..by_hand(54, "ana@example.com")
    };
    let refused = app.client().send_notification(untemplated).await;
    let refused = refused.expect_err("no template of that kind on email");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "NO_TEMPLATE");
    assert!(
        app.log(pb::ListNotificationsRequest::default())
            .await
            .is_empty()
    );
}

/// Ana's takeout order 101 received, confirmed and ready (by email), Ben's
/// order 102 received (by email and, as he chose, push): the whole log
/// once every message settled.
async fn two_customers_orders(app: &TestApp) -> Vec<pb::Notification> {
    app.choose(12, pb::Channel::Push, true, false).await;
    let (takeout, card) = (order::OrderType::Takeout, order::PaymentMethod::Card);
    let ana = order_of(101, 11, ("Ana Diaz", "ana@example.com", ""), takeout, card);
    for event in ["order.created", "order.confirmed", "order.ready"] {
        app.publish_order(event, &ana).await;
    }
    let ben = order_of(102, 12, ("Ben Ode", "ben@example.com", ""), takeout, card);
    app.publish_order("order.created", &ben).await;
    app.log_of_order(101, |log| log.len() == 3 && settled(log))
        .await;
    app.log_of_order(102, |log| log.len() == 2 && settled(log))
        .await;
    app.log(pb::ListNotificationsRequest::default()).await
}

fn ids(log: &[pb::Notification]) -> Vec<i64> {
    log.iter().map(|n| n.id).collect()
}

#[tokio::test]
async fn the_log_is_narrowed_by_customer_order_channel_status_kind_and_recipient() {
    let app = spawn_app().await;
    let all = two_customers_orders(&app).await;
    assert_eq!(all.len(), 5, "{all:#?}");
    type Narrow = fn(&mut pb::ListNotificationsRequest);
    type Keep = fn(&pb::Notification) -> bool;
    use pb::{Channel as C, NotificationStatus as S};
    let cases: [(Narrow, Keep, usize); 6] = [
        (|r| r.customer_id = 11, |n| n.customer_id == 11, 3),
        (|r| r.order_id = 102, |n| n.order_id == 102, 2),
        (
            |r| r.channel = C::Push.into(),
            |n| n.channel() == C::Push,
            1,
        ),
        (|r| r.status = S::Sent.into(), |n| n.status() == S::Sent, 4),
        (
            |r| r.kind = "order_confirmed".into(),
            |n| n.kind == "order_confirmed",
            1,
        ),
        (
            |r| r.recipient = "ben@example.com".into(),
            |n| n.recipient == "ben@example.com",
            1,
        ),
    ];
    for (narrow, keep, count) in cases {
        let mut narrowed = pb::ListNotificationsRequest::default();
        narrow(&mut narrowed);
        let expected: Vec<i64> = all.iter().filter(|n| keep(n)).map(|n| n.id).collect();
        assert_eq!(expected.len(), count, "{narrowed:?} in {all:#?}");
        assert_eq!(
            ids(&app.log(narrowed.clone()).await),
            expected,
            "{narrowed:?}"
        );
    }
}

#[tokio::test]
async fn the_log_pages_through_a_customers_messages_and_refuses_bad_paging() {
    let app = spawn_app().await;
    let all = two_customers_orders(&app).await;
    let anas: Vec<i64> = all
        .iter()
        .filter(|n| n.customer_id == 11)
        .map(|n| n.id)
        .collect();
    let page = |page_size: u32, page_token: &str| pb::ListNotificationsRequest {
        customer_id: 11,
        page: Some(common::PageRequest {
            page_size,
            page_token: page_token.to_owned(),
        }),
        ..Default::default()
    };
    let (mut walked, mut token) = (Vec::new(), String::new());
    for _ in 0..=anas.len() + 1 {
        let found = app.client().list_notifications(page(1, &token)).await;
        let found = found.expect("a page").into_inner();
        assert!(found.notifications.len() <= 1, "{found:?}");
        walked.extend(ids(&found.notifications));
        token = found.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            break;
        }
    }
    assert!(token.is_empty(), "the walk ends with an empty token");
    assert_eq!(walked, anas);

    let too_big = app.client().list_notifications(page(101, "")).await;
    names_only(&too_big.expect_err("refused"), "page.page_size");
    let forged = app
        .client()
        .list_notifications(page(1, "not-a-token"))
        .await;
    names_only(&forged.expect_err("refused"), "page.page_token");
}
