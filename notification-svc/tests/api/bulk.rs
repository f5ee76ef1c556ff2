//! Bulk sends: one template to many, accepted at once with everyone who
//! does not want the category on the channel (or has no address there)
//! counted as skipped, then sent in the background until the job says it
//! is finished.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use foodmesh_proto::notification::v1 as pb;
use foodmesh_shared::testing::fields;
use tonic::Code;

use crate::app::{EVENTUAL, TestApp, reason, spawn_app};

const LINK: &str = "https://example.test/menu";

async fn email_template(app: &TestApp, kind: &str) {
    let template = pb::Template {
        kind: kind.to_owned(),
        channel: pb::Channel::Email.into(),
        subject: "News for {name}".to_owned(),
        body: "Hi {name}, the new menu is out: {link}".to_owned(),
        active: true,
        ..Default::default()
    };
    let request = pb::CreateTemplateRequest {
        template: Some(template),
    };
    app.client()
        .create_template(request)
        .await
        .expect("template created");
}

fn recipient(n: i64) -> pb::Recipient {
    pb::Recipient {
        customer_id: n,
        name: format!("Guest{n} Example"),
        email: format!("c{n}@example.com"),
        phone: String::new(),
    }
}

fn bulk(
    kind: &str,
    category: pb::Category,
    recipients: Vec<pb::Recipient>,
) -> pb::StartBulkRequest {
    pb::StartBulkRequest {
        template_kind: kind.to_owned(),
        channel: pb::Channel::Email.into(),
        category: category.into(),
        recipients,
        values: HashMap::from([("link".to_owned(), LINK.to_owned())]),
        created_by: "admin:1".to_owned(),
        idempotency_key: String::new(),
    }
}

async fn start(app: &TestApp, request: pb::StartBulkRequest) -> Result<pb::BulkJob, tonic::Status> {
    let job = app.client().start_bulk(request).await?;
    Ok(job.into_inner())
}

/// Bulk send `id` once nothing of it is pending and it says when it
/// finished (at most [`EVENTUAL`]).
async fn finished(app: &TestApp, id: i64) -> pb::BulkJob {
    let started = Instant::now();
    loop {
        let job = app.client().get_bulk(pb::GetBulkRequest { id }).await;
        let job = job.expect("read").into_inner();
        if job.pending == 0 && job.finished_at.is_some() {
            return job;
        }
        assert!(
            started.elapsed() < EVENTUAL,
            "bulk send {id} after {EVENTUAL:?}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn jobs(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM bulk_jobs")
        .fetch_one(&app.pool)
        .await
        .expect("counted")
}

fn addressees(mail: &[foodmesh_shared::testing::smtp::Received]) -> BTreeSet<String> {
    mail.iter().flat_map(|m| m.to.iter().cloned()).collect()
}

#[tokio::test]
async fn a_bulk_send_writes_everyone_who_wants_it_and_counts_the_rest_as_skipped() {
    let app = spawn_app().await;
    email_template(&app, "menu_news").await;
    let (opted_out, without_email) = (5001_i64..=5006, 5057_i64..=5060);
    for n in opted_out.clone() {
        app.choose(n, pb::Channel::Email, false, false).await;
    }
    let recipients = (5001..=5060)
        .map(|n| {
            let email = if without_email.contains(&n) {
                String::new()
            } else {
                format!("c{n}@example.com")
            };
            pb::Recipient {
                email,
                ..recipient(n)
            }
        })
        .collect();

    let request = bulk("menu_news", pb::Category::OrderUpdates, recipients);
    let job = start(&app, request).await.expect("started");
    assert_eq!((job.recipients, job.skipped), (60, 10), "{job:?}");
    let done = finished(&app, job.id).await;
    assert_eq!(
        (done.sent, done.delivered, done.failed),
        (50, 0, 0),
        "{done:?}"
    );

    let mail = app.doubles.smtp.wait_for(50, EVENTUAL).await;
    assert_eq!(mail.len(), 50);
    let wanted: BTreeSet<String> = (5001_i64..=5060)
        .filter(|n| !opted_out.contains(n) && !without_email.contains(n))
        .map(|n| format!("c{n}@example.com"))
        .collect();
    assert_eq!(addressees(&mail), wanted);
    for message in &mail {
        let to = &message.to[0];
        let n = to.trim_start_matches('c').trim_end_matches("@example.com");
        let body = message.body();
        assert!(body.contains(&format!("Hi Guest{n},")), "{to}: {body}");
        assert!(body.contains(LINK), "{to}: {body}");
    }

    let logged = app
        .log(pb::ListNotificationsRequest {
            bulk_job_id: job.id,
            ..Default::default()
        })
        .await;
    assert_eq!(logged.len(), 50);
    assert!(
        logged
            .iter()
            .all(|n| n.kind == "menu_news" && n.bulk_job_id == job.id)
    );
}

#[tokio::test]
async fn marketing_in_bulk_reaches_only_those_who_opted_in() {
    let app = spawn_app().await;
    email_template(&app, "tasting_night").await;
    app.choose(6001, pb::Channel::Email, true, true).await;
    app.choose(6002, pb::Channel::Email, false, true).await;
    app.choose(6003, pb::Channel::Email, true, false).await;

    let recipients = (6001..=6005).map(recipient).collect();
    let request = bulk("tasting_night", pb::Category::Unspecified, recipients);
    let job = start(&app, request).await.expect("started");
    assert_eq!(job.category(), pb::Category::Marketing);
    assert_eq!((job.recipients, job.skipped), (5, 3), "{job:?}");
    let done = finished(&app, job.id).await;
    assert_eq!((done.sent, done.failed), (2, 0), "{done:?}");

    let mail = app.doubles.smtp.wait_for(2, EVENTUAL).await;
    assert_eq!(mail.len(), 2);
    let opted_in = ["c6001@example.com", "c6002@example.com"].map(str::to_owned);
    assert_eq!(addressees(&mail), BTreeSet::from(opted_in));
}

#[tokio::test]
async fn a_bad_bulk_send_is_refused_and_writes_no_job() {
    let app = spawn_app().await;
    email_template(&app, "menu_news").await;
    let valid = || {
        let recipients = vec![recipient(7001), recipient(7002)];
        bulk("menu_news", pb::Category::OrderUpdates, recipients)
    };
    let no_customer = pb::Recipient {
        customer_id: 0,
        ..recipient(7002)
    };
    let invalid = [
        (
            pb::StartBulkRequest {
                recipients: Vec::new(),
                ..valid()
            },
            "recipients",
        ),
        (
            pb::StartBulkRequest {
                recipients: vec![recipient(7001), no_customer],
                ..valid()
            },
            "recipients[1].customer_id",
        ),
        (
            pb::StartBulkRequest {
                values: HashMap::from([("name".to_owned(), "x".to_owned())]),
                ..valid()
            },
            "values.name",
        ),
        (
            pb::StartBulkRequest {
                channel: pb::Channel::Unspecified.into(),
                ..valid()
            },
            "channel",
        ),
        (
            pb::StartBulkRequest {
                template_kind: "Menu News!".to_owned(),
                ..valid()
            },
            "template_kind",
        ),
        (
            pb::StartBulkRequest {
                recipients: vec![
                    recipient(7001),
                    pb::Recipient {
                        email: "not-an-address".to_owned(),
                        ..recipient(7002)
                    },
                ],
                ..valid()
            },
            "recipients[1].email",
        ),
        (
            // The template writes {link}: without it, a hole.
            pb::StartBulkRequest {
                values: HashMap::new(),
                ..valid()
            },
            "values.link",
        ),
    ];
    for (request, field) in invalid {
        let refused = start(&app, request).await.expect_err("refused");
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(fields(&refused), [field], "{refused:?}");
    }
    let untemplated = pb::StartBulkRequest {
        template_kind: "no_such_kind".to_owned(),
        ..valid()
    };
    let refused = start(&app, untemplated).await.expect_err("no template");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(reason(&refused), "NO_TEMPLATE");
    let missing = app
        .client()
        .get_bulk(pb::GetBulkRequest { id: 999_999 })
        .await
        .expect_err("no such bulk send");
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(reason(&missing), "BULK_NOT_FOUND");

    assert_eq!(jobs(&app).await, 0);
    start(&app, valid()).await.expect("the valid send starts");
    assert_eq!(jobs(&app).await, 1);
}

#[tokio::test]
async fn a_recipient_named_twice_hears_once_and_a_send_with_no_one_to_write_finishes_at_once() {
    let app = spawn_app().await;
    email_template(&app, "menu_news").await;
    let twice = vec![recipient(7101), recipient(7102), recipient(7101)];
    let job = start(&app, bulk("menu_news", pb::Category::OrderUpdates, twice))
        .await
        .expect("started");
    assert_eq!((job.recipients, job.skipped), (3, 1));
    let job = finished(&app, job.id).await;
    assert_eq!(job.sent, 2);
    app.doubles.smtp.wait_for(2, EVENTUAL).await;

    // Marketing nobody opted in to: every recipient skipped, nothing pending.
    let nobody = vec![recipient(7201), recipient(7202)];
    let job = start(&app, bulk("menu_news", pb::Category::Marketing, nobody))
        .await
        .expect("started");
    assert_eq!(job.skipped, 2);
    assert_eq!(job.pending, 0);
    assert!(job.finished_at.is_some(), "{job:?}");
}

#[tokio::test]
async fn a_bulk_send_started_again_with_its_key_answers_with_the_first_job() {
    let app = spawn_app().await;
    email_template(&app, "menu_news").await;
    let request = pb::StartBulkRequest {
        idempotency_key: "news-2026-12".to_owned(),
        ..bulk(
            "menu_news",
            pb::Category::OrderUpdates,
            vec![recipient(7301), recipient(7302)],
        )
    };
    let (first, again) = tokio::join!(start(&app, request.clone()), start(&app, request.clone()));
    let (first, again) = (first.expect("started"), again.expect("answered"));
    assert_eq!(first.id, again.id);
    finished(&app, first.id).await;
    let later = start(&app, request).await.expect("answered");
    assert_eq!(later.id, first.id);
    assert_eq!(later.sent, 2, "as the job is now");
    assert_eq!(jobs(&app).await, 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.doubles.smtp.messages().len(), 2);

    // Another admin's key of the same spelling is another send.
    let theirs = pb::StartBulkRequest {
        idempotency_key: "news-2026-12".to_owned(),
        created_by: "admin:2".to_owned(),
        ..bulk(
            "menu_news",
            pb::Category::OrderUpdates,
            vec![recipient(7303)],
        )
    };
    let other = start(&app, theirs).await.expect("started");
    assert_ne!(other.id, first.id);
}
