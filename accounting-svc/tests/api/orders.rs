//! The order's events through the real Redis and payments over real gRPC:
//! an invoice per order however often its events arrive, cash held at
//! once and taken on completion, cancellation voiding or refunding once.

use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::order::v1::{OrderStatus, PaymentMethod};

use crate::app::{card_payment, pending_order, reason, spawn_app, with_status};

#[tokio::test]
async fn an_order_placed_is_invoiced_once_however_often_its_event_arrives() {
    let app = spawn_app().await;
    let order = pending_order(101, PaymentMethod::Unspecified);
    let envelope = app.publish("order.created", &order).await;
    app.deliver(&envelope).await;
    app.publish(
        "order.created",
        &pending_order(102, PaymentMethod::Unspecified),
    )
    .await;
    app.wait_for_handled(2).await;

    let invoices = app.invoices_of(101).await;
    assert_eq!(invoices.len(), 1);
    let invoice = &invoices[0];
    assert_eq!(
        (invoice.number.as_str(), invoice.status.as_str()),
        ("R7-000001", "open")
    );
    let total = invoice.total.as_ref().map(|m| m.amount_minor);
    assert_eq!(total, Some(2_599));
    let lines: Vec<(&str, u32)> = invoice
        .lines
        .iter()
        .map(|l| (l.description.as_str(), l.quantity))
        .collect();
    assert_eq!(lines, [("Margherita (extra basil)", 2), ("Tiramisu", 1)]);
    assert_eq!(app.invoices_of(102).await[0].number, "R7-000002");
}

#[tokio::test]
async fn a_payment_before_the_order_s_event_issues_the_invoice_the_event_then_finds() {
    let app = spawn_app().await;
    let order = pending_order(103, PaymentMethod::Card);
    let paid = app
        .client()
        .create_payment(card_payment(&order, "tok_visa", ""))
        .await
        .expect("paid")
        .into_inner();
    assert_eq!(paid.status(), pb::PaymentStatus::Authorized);
    app.publish("order.created", &order).await;
    app.wait_for_handled(1).await;
    let invoices = app.invoices_of(103).await;
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].number, "R7-000001");
}

#[tokio::test]
async fn cash_is_held_when_the_order_is_placed_and_taken_once_when_it_completes() {
    let app = spawn_app().await;
    let order = pending_order(104, PaymentMethod::Cash);
    app.publish("order.created", &order).await;
    app.wait_for_handled(1).await;
    assert_eq!(app.payment_status(104).await.as_deref(), Some("authorized"));

    let completed = with_status(&order, OrderStatus::Completed);
    let envelope = app.publish("order.completed", &completed).await;
    app.deliver(&envelope).await;
    app.wait_for_handled(2).await;
    assert_eq!(app.payment_status(104).await.as_deref(), Some("captured"));
    assert_eq!(app.ledger(104, "capture").await, 1);
    assert_eq!(app.invoices_of(104).await[0].status, "paid");
    assert_eq!(
        app.events().await,
        ["payment.authorized", "payment.captured"]
    );
    // Each test runs in a process of its own: these are this test's counts.
    let metrics = foodmesh_shared::telemetry::prometheus().render();
    assert!(
        metrics.contains(
            r#"payment_captured_amount_sum{restaurant_id="7",method="cash",currency="USD"} 25.99"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn cancelling_voids_a_held_payment_and_refunds_a_taken_one_once() {
    let app = spawn_app().await;
    let held = pending_order(105, PaymentMethod::Card);
    let taken = pending_order(106, PaymentMethod::Card);
    for order in [&held, &taken] {
        app.client()
            .create_payment(card_payment(order, "4242 4242 4242 4242", ""))
            .await
            .expect("authorized");
    }
    app.publish(
        "order.completed",
        &with_status(&taken, OrderStatus::Completed),
    )
    .await;
    app.wait_for_handled(1).await;

    for order in [&held, &taken] {
        let cancelled = with_status(order, OrderStatus::Cancelled);
        let envelope = app.publish("order.cancelled", &cancelled).await;
        app.deliver(&envelope).await;
    }
    app.wait_for_handled(3).await;

    assert_eq!(app.payment_status(105).await.as_deref(), Some("voided"));
    assert_eq!(app.invoices_of(105).await[0].status, "void");
    assert_eq!(app.payment_status(106).await.as_deref(), Some("refunded"));
    assert_eq!(app.invoices_of(106).await[0].status, "refunded");
    assert_eq!(app.ledger(106, "refund").await, 1, "refunded once");
    let refunded: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(refunds.amount_minor), 0)::BIGINT FROM refunds
         JOIN payments ON payments.id = refunds.payment_id WHERE order_id = 106",
    )
    .fetch_one(&app.pool)
    .await
    .expect("refunds");
    assert_eq!(refunded, 2_599);

    // A cancelled order can no longer be paid.
    let again = app
        .client()
        .create_payment(card_payment(&held, "tok_visa", ""))
        .await
        .expect_err("refused");
    assert_eq!(reason(&again), "ORDER_NOT_PAYABLE");
}

#[tokio::test]
async fn an_idempotency_key_answers_with_the_first_payment_and_refuses_another_body() {
    let app = spawn_app().await;
    let order = pending_order(107, PaymentMethod::Card);
    let mut client = app.client();
    let declined = client
        .create_payment(card_payment(&order, "tok_chargeDeclined", "k-1"))
        .await
        .expect("a declined payment")
        .into_inner();
    assert_eq!(declined.status(), pb::PaymentStatus::Declined);
    assert_eq!(declined.decline_reason, "card_declined");
    let again = client
        .create_payment(card_payment(&order, "tok_chargeDeclined", "k-1"))
        .await
        .expect("the first answer again")
        .into_inner();
    assert_eq!(again.id, declined.id);
    let other = client
        .create_payment(card_payment(&order, "tok_visa", "k-1"))
        .await
        .expect_err("another body");
    assert_eq!(reason(&other), "IDEMPOTENCY_KEY_REUSED");
    let paid = client
        .create_payment(card_payment(&order, "tok_visa", "k-2"))
        .await
        .expect("another card, another key")
        .into_inner();
    assert_eq!(paid.status(), pb::PaymentStatus::Authorized);
    assert_eq!(
        app.events().await,
        ["payment.declined", "payment.authorized"]
    );
    let metrics = foodmesh_shared::telemetry::prometheus().render();
    for series in [
        r#"payment_declines_total{method="card",reason="card_declined"} 1"#,
        r#"payments_total{method="card",status="declined"} 1"#,
        r#"payments_total{method="card",status="authorized"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_stated_amount_that_is_not_the_total_is_refused_naming_the_total() {
    let app = spawn_app().await;
    let order = pending_order(108, PaymentMethod::Card);
    let mut request = card_payment(&order, "tok_visa", "");
    request.amount = Some(foodmesh_proto::common::v1::Money {
        amount_minor: 2_000,
        currency: "USD".to_owned(),
    });
    let refused = app
        .client()
        .create_payment(request)
        .await
        .expect_err("refused");
    assert_eq!(reason(&refused), "AMOUNT_MISMATCH");
    assert_eq!(app.payment_status(108).await, None);
}

#[tokio::test]
async fn an_open_invoice_follows_newer_views_of_its_order_and_never_older_ones() {
    let app = spawn_app().await;
    let placed = pending_order(109, PaymentMethod::Unspecified);
    let mut changed = placed.clone();
    changed.items.truncate(1);
    changed.totals = Some(foodmesh_proto::order::v1::Totals {
        subtotal: placed.items[0].line_total.clone(),
        total: placed.items[0].line_total.clone(),
        ..Default::default()
    });
    changed.updated_at = Some(prost_types::Timestamp {
        seconds: placed.updated_at.as_ref().map_or(0, |t| t.seconds) + 60,
        nanos: 0,
    });
    app.publish("order.created", &placed).await;
    app.publish("order.updated", &changed).await;
    // A late copy of the first view: older than what the invoice holds.
    app.publish("order.created", &placed).await;
    app.wait_for_handled(3).await;

    let invoice = &app.invoices_of(109).await[0];
    assert_eq!(invoice.total.as_ref().map(|m| m.amount_minor), Some(1_800));
    assert_eq!(invoice.lines.len(), 1);
    // And a payment is for the invoice's total.
    let paid = app
        .client()
        .create_payment(card_payment(&changed, "tok_visa", ""))
        .await
        .expect("paid")
        .into_inner();
    assert_eq!(paid.amount.map(|m| m.amount_minor), Some(1_800));
}

#[tokio::test]
async fn invoices_are_listed_newest_first_a_page_at_a_time_by_filter() {
    let app = spawn_app().await;
    for id in 110..115 {
        app.publish(
            "order.created",
            &pending_order(id, PaymentMethod::Unspecified),
        )
        .await;
    }
    let mut other = pending_order(115, PaymentMethod::Unspecified);
    other.restaurant_id = 8;
    app.publish("order.created", &other).await;
    app.wait_for_handled(6).await;

    let mut client = app.client();
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_invoices(pb::ListInvoicesRequest {
                restaurant_id: Some(7),
                page: Some(foodmesh_proto::common::v1::PageRequest {
                    page_size: 2,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await
            .expect("a page")
            .into_inner();
        seen.extend(page.invoices.iter().map(|i| i.order_id));
        token = page.page.map(|p| p.next_page_token).unwrap_or_default();
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, [114, 113, 112, 111, 110]);
    let paid = client
        .list_invoices(pb::ListInvoicesRequest {
            status: "paid".to_owned(),
            ..Default::default()
        })
        .await
        .expect("listed")
        .into_inner();
    assert!(paid.invoices.is_empty());
    let refused = client
        .list_invoices(pb::ListInvoicesRequest {
            status: "lost".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("no such status");
    assert_eq!(reason(&refused), "VALIDATION_FAILED");
}

#[tokio::test]
async fn a_payment_waiting_for_its_customer_is_voided_when_the_order_s_total_changes() {
    let app = spawn_app().await;
    let placed = pending_order(116, PaymentMethod::MobileMoney);
    let mut request = card_payment(&placed, "", "");
    request.method = pb::PaymentMethod::MobileMoney.into();
    let waiting = app
        .client()
        .create_payment(request.clone())
        .await
        .expect("created")
        .into_inner();
    assert_eq!(waiting.status(), pb::PaymentStatus::Created);

    let mut changed = placed.clone();
    changed.items.truncate(1);
    changed.totals = Some(foodmesh_proto::order::v1::Totals {
        subtotal: placed.items[0].line_total.clone(),
        total: placed.items[0].line_total.clone(),
        ..Default::default()
    });
    changed.updated_at = Some(prost_types::Timestamp {
        seconds: placed.updated_at.as_ref().map_or(0, |t| t.seconds) + 60,
        nanos: 0,
    });
    app.publish("order.updated", &changed).await;
    app.wait_for_handled(1).await;
    assert_eq!(app.payment_status(116).await.as_deref(), Some("voided"));

    request.order = Some(changed);
    let again = app
        .client()
        .create_payment(request)
        .await
        .expect("paid again")
        .into_inner();
    assert_eq!(again.amount.map(|m| m.amount_minor), Some(1_800));
    assert_eq!(app.events().await, ["payment.voided"]);
}
