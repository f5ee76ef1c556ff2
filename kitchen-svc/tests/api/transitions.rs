//! Moving tickets: every legal move publishes its event, every other move
//! is refused and changes nothing, racing moves have one winner, and a
//! rejection needs its reason.

use foodmesh_proto::kitchen::v1 as pb;
use pb::TicketStatus::{Accepted, Cancelled, PickedUp, Preparing, Queued, Ready, Rejected};
use tokio::task::JoinSet;
use tonic::Code;

use crate::helpers::{TestApp, fields, reason, seconds, spawn_app, ticket_request, update};

async fn ticket_in(app: &TestApp, order_id: i64, path: &[pb::TicketStatus]) -> pb::Ticket {
    let mut ticket = app.create(ticket_request(order_id, 3)).await;
    for status in path {
        ticket = if *status == Rejected {
            app.client()
                .update_ticket_status(pb::UpdateTicketStatusRequest {
                    reason: "out of dough".to_owned(),
                    ..update(ticket.id, Rejected)
                })
                .await
                .expect("rejected")
                .into_inner()
        } else {
            app.move_to(ticket.id, *status).await
        };
    }
    ticket
}

#[tokio::test]
async fn every_legal_move_publishes_its_event_with_the_ticket_after_it() {
    let app = spawn_app().await;
    let paths: [(i64, &[pb::TicketStatus], &[&str]); 4] = [
        (
            1,
            &[Accepted, Preparing, Ready, PickedUp],
            &[
                "ticket.queued",
                "ticket.accepted",
                "ticket.preparing",
                "ticket.ready",
                "ticket.picked_up",
            ],
        ),
        (
            2,
            &[Preparing, Ready],
            &["ticket.queued", "ticket.preparing", "ticket.ready"],
        ),
        (3, &[Rejected], &["ticket.queued", "ticket.rejected"]),
        (
            4,
            &[Accepted, Rejected],
            &["ticket.queued", "ticket.accepted", "ticket.rejected"],
        ),
    ];

    for (order_id, path, expected) in paths {
        let ticket = ticket_in(&app, order_id, path).await;

        let outbox: Vec<_> = app
            .outbox()
            .await
            .into_iter()
            .filter(|(_, t)| t.id == ticket.id)
            .collect();
        let types: Vec<&str> = outbox.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(types, expected, "order {order_id}");
        for (i, (event_type, snapshot)) in outbox.iter().enumerate() {
            let status = pb::TicketStatus::try_from(snapshot.status).expect("a status");
            assert_eq!(
                *event_type,
                format!(
                    "ticket.{}",
                    status.as_str_name()["TICKET_STATUS_".len()..].to_lowercase()
                ),
                "the event names the status its ticket is in"
            );
            assert_eq!(snapshot.version, i as i64 + 1);
        }
        let (_, last) = outbox.last().expect("events");
        assert_eq!(last, &ticket, "the last event carries the ticket as it is");
    }
}

#[tokio::test]
async fn the_times_of_each_status_and_the_preparation_time_are_recorded() {
    let app = spawn_app().await;

    let ready = ticket_in(&app, 5, &[Accepted, Preparing, Ready]).await;
    let gone = app.move_to(ready.id, PickedUp).await;

    assert!(ready.accepted_at.is_some());
    assert!(seconds(&ready.started_at) >= seconds(&ready.accepted_at));
    assert!(seconds(&ready.ready_at) >= seconds(&ready.started_at));
    assert_eq!(
        i64::from(ready.preparation_seconds),
        seconds(&ready.ready_at) - seconds(&ready.started_at)
    );
    assert!(gone.picked_up_at.is_some());
    assert_eq!(gone.preparation_seconds, ready.preparation_seconds);
}

#[tokio::test]
async fn moves_outside_the_table_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let cases: [(&[pb::TicketStatus], pb::TicketStatus); 10] = [
        (&[], Ready),
        (&[], PickedUp),
        (&[], Queued),
        (&[], Cancelled),
        (&[Accepted], Accepted),
        (&[Preparing], Accepted),
        (&[Preparing], Rejected),
        (&[Preparing, Ready], Preparing),
        (&[Preparing, Ready, PickedUp], Ready),
        (&[Rejected], Preparing),
    ];

    for (i, (path, to)) in cases.into_iter().enumerate() {
        let before = ticket_in(&app, 100 + i as i64, path).await;
        let outbox_before = app.count("outbox").await;

        let refused = app
            .client()
            .update_ticket_status(pb::UpdateTicketStatusRequest {
                reason: if matches!(to, Cancelled | Rejected) {
                    "kitchen closed".to_owned()
                } else {
                    String::new()
                },
                ..update(before.id, to)
            })
            .await
            .expect_err("not in the table");

        assert_eq!(
            refused.code(),
            Code::FailedPrecondition,
            "{path:?} → {to:?}"
        );
        assert_eq!(reason(&refused), "INVALID_TRANSITION");
        let after = app.get_by_order(100 + i as i64).await.expect("still there");
        assert_eq!(after, before, "{path:?} → {to:?} changed the ticket");
        assert_eq!(app.count("outbox").await, outbox_before);
    }
}

#[tokio::test]
async fn a_ticket_of_another_restaurant_cannot_be_moved_by_its_staff() {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(6, 3)).await;

    let refused = app
        .client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            restaurant_id: 4,
            ..update(ticket.id, Accepted)
        })
        .await
        .expect_err("scoped to restaurant 4");
    let missing = app
        .client()
        .update_ticket_status(update(ticket.id + 100, Accepted))
        .await
        .expect_err("no such ticket");

    assert_eq!(refused.code(), Code::NotFound);
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_ten_racing_starts_exactly_one_wins_and_the_others_get_a_conflict() {
    let app = spawn_app().await;
    let id = app.create(ticket_request(7, 3)).await.id;

    let mut calls = JoinSet::new();
    for _ in 0..10 {
        let mut client = app.client();
        calls.spawn(async move { client.update_ticket_status(update(id, Preparing)).await });
    }
    let (mut won, mut refused) = (0, 0);
    while let Some(call) = calls.join_next().await {
        match call.expect("the call completes") {
            Ok(_) => won += 1,
            Err(status) => {
                assert_eq!(status.code(), Code::FailedPrecondition);
                assert_eq!(reason(&status), "INVALID_TRANSITION");
                refused += 1;
            }
        }
    }

    assert_eq!((won, refused), (1, 9));
    assert_eq!(
        app.events_of(id).await,
        ["ticket.queued", "ticket.preparing"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_accept_racing_a_reject_that_saw_the_same_status_has_one_winner() {
    let app = spawn_app().await;

    for order_id in 10..20 {
        let id = app.create(ticket_request(order_id, 3)).await.id;
        let (mut a, mut b) = (app.client(), app.client());
        let accept = tokio::spawn(async move {
            a.update_ticket_status(pb::UpdateTicketStatusRequest {
                expected_status: Queued.into(),
                ..update(id, Accepted)
            })
            .await
        });
        let reject = tokio::spawn(async move {
            b.update_ticket_status(pb::UpdateTicketStatusRequest {
                expected_status: Queued.into(),
                reason: "no gas".to_owned(),
                ..update(id, Rejected)
            })
            .await
        });
        let outcomes = [
            accept.await.expect("accept completes"),
            reject.await.expect("reject completes"),
        ];

        let winners: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
        let losers: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert_eq!((winners.len(), losers.len()), (1, 1), "order {order_id}");
        assert_eq!(losers[0].code(), Code::Aborted);
        assert_eq!(reason(losers[0]), "TICKET_STATUS_CHANGED");
        assert_eq!(app.events_of(id).await.len(), 2);
    }
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_publishes_ticket_rejected_with_it() {
    let app = spawn_app().await;
    let ticket = app.create(ticket_request(8, 3)).await;

    let refused = app
        .client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "   ".to_owned(),
            ..update(ticket.id, Rejected)
        })
        .await
        .expect_err("a reason is required");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["reason"]);
    assert_eq!(app.events_of(ticket.id).await, ["ticket.queued"]);

    let rejected = app
        .client()
        .update_ticket_status(pb::UpdateTicketStatusRequest {
            reason: "out of dough".to_owned(),
            ..update(ticket.id, Rejected)
        })
        .await
        .expect("rejected with a reason")
        .into_inner();

    assert_eq!(rejected.status(), Rejected);
    assert_eq!(rejected.reason, "out of dough");
    let (event_type, published) = app.outbox().await.pop().expect("an event");
    assert_eq!(event_type, "ticket.rejected");
    assert_eq!(published.reason, "out of dough");
    assert_eq!(published.order_id, 8, "order-svc finds the order to cancel");
}
