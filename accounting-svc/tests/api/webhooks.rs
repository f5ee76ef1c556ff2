//! Mobile money approved by the provider's signed call back: a bad, a
//! missing or a stale signature and a replay change nothing.

use accounting_svc::SANDBOX_WEBHOOK_SECRET;
use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::order::v1::PaymentMethod;
use foodmesh_shared::webhook::sign;

use crate::app::{TestApp, card_payment, pending_order, reason, spawn_app};

const PROVIDER: &str = "sandbox_mobile_money";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn call(app: &TestApp, body: &str, signature: String) -> Result<pb::Payment, tonic::Status> {
    app.client()
        .handle_webhook(pb::HandleWebhookRequest {
            provider: PROVIDER.to_owned(),
            body: body.as_bytes().to_vec(),
            signature,
        })
        .await
        .map(|r| r.into_inner().payment.unwrap_or_default())
}

#[tokio::test]
async fn only_a_fresh_correctly_signed_call_authorizes_and_only_once() {
    let app = spawn_app().await;
    let order = pending_order(201, PaymentMethod::MobileMoney);
    let mut request = card_payment(&order, "", "");
    request.method = pb::PaymentMethod::MobileMoney.into();
    let waiting = app
        .client()
        .create_payment(request)
        .await
        .expect("created")
        .into_inner();
    assert_eq!(waiting.status(), pb::PaymentStatus::Created);
    assert!(waiting.provider_reference.starts_with("mm_"));
    // Only the provider approves mobile money: not its customer's request.
    let by_request = app
        .client()
        .process_payment(pb::ProcessPaymentRequest {
            id: waiting.id,
            action: pb::PaymentAction::Authorize.into(),
        })
        .await
        .expect_err("refused");
    assert_eq!(reason(&by_request), "VALIDATION_FAILED");
    let body = format!(
        r#"{{"id":"evt_1","type":"payment.succeeded","reference":"{}"}}"#,
        waiting.provider_reference
    );
    let secret = SANDBOX_WEBHOOK_SECRET.as_bytes();

    let refusals = [
        (String::new(), "WEBHOOK_SIGNATURE_INVALID"),
        (
            sign(b"another secret", now(), body.as_bytes()),
            "WEBHOOK_SIGNATURE_INVALID",
        ),
        (
            sign(secret, now() - 301, body.as_bytes()),
            "WEBHOOK_SIGNATURE_INVALID",
        ),
        (
            sign(secret, now(), b"another body"),
            "WEBHOOK_SIGNATURE_INVALID",
        ),
    ];
    for (signature, expected) in refusals {
        let refused = call(&app, &body, signature).await.expect_err("refused");
        assert_eq!(reason(&refused), expected);
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    }
    assert_eq!(app.payment_status(201).await.as_deref(), Some("created"));

    let signed = sign(secret, now(), body.as_bytes());
    let authorized = call(&app, &body, signed.clone()).await.expect("taken");
    assert_eq!(authorized.status(), pb::PaymentStatus::Authorized);
    let replay = call(&app, &body, signed).await.expect_err("a replay");
    assert_eq!(reason(&replay), "WEBHOOK_REPLAYED");
    assert_eq!(app.events().await, ["payment.authorized"]);

    // Each test runs in a process of its own: these are this test's counts.
    let metrics = foodmesh_shared::telemetry::prometheus().render();
    for series in [
        r#"payment_webhooks_total{provider="sandbox_mobile_money",outcome="signature_invalid"} 4"#,
        r#"payment_webhooks_total{provider="sandbox_mobile_money",outcome="accepted"} 1"#,
        r#"payment_webhooks_total{provider="sandbox_mobile_money",outcome="replayed"} 1"#,
        r#"payments_total{method="mobile_money",status="created"} 1"#,
        r#"payments_total{method="mobile_money",status="authorized"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series} in\n{metrics}");
    }
}

#[tokio::test]
async fn a_failed_approval_declines_and_an_unknown_provider_or_reference_is_refused() {
    let app = spawn_app().await;
    let order = pending_order(202, PaymentMethod::MobileMoney);
    let mut request = card_payment(&order, "", "");
    request.method = pb::PaymentMethod::MobileMoney.into();
    let waiting = app
        .client()
        .create_payment(request)
        .await
        .expect("created")
        .into_inner();
    let secret = SANDBOX_WEBHOOK_SECRET.as_bytes();

    let unknown = r#"{"id":"evt_2","type":"payment.succeeded","reference":"mm_nothing"}"#;
    let refused = call(&app, unknown, sign(secret, now(), unknown.as_bytes()))
        .await
        .expect_err("no such payment");
    assert_eq!(reason(&refused), "VALIDATION_FAILED");

    let failed = format!(
        r#"{{"id":"evt_2","type":"payment.failed","reference":"{}","failure_reason":"customer_rejected"}}"#,
        waiting.provider_reference
    );
    let declined = call(&app, &failed, sign(secret, now(), failed.as_bytes()))
        .await
        .expect("the same event id, now about a payment: taken");
    assert_eq!(declined.status(), pb::PaymentStatus::Declined);
    assert_eq!(declined.decline_reason, "customer_rejected");

    let stranger = app
        .client()
        .handle_webhook(pb::HandleWebhookRequest {
            provider: "paypal".to_owned(),
            body: failed.into_bytes(),
            signature: String::new(),
        })
        .await
        .expect_err("no such provider");
    assert_eq!(reason(&stranger), "PROVIDER_NOT_FOUND");
}
