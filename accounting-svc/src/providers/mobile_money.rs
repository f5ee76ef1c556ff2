//! The sandbox mobile-money provider. It works as the real ones do
//! (MTN MoMo, M-Pesa, Paystack's mobile money): a payment is created
//! waiting for the customer to approve it on the phone, with a reference
//! the provider knows it by, and the provider later calls
//! `POST /api/payments/webhooks/sandbox_mobile_money`, signed (see
//! [`super::webhook`]), with the outcome:
//!
//! ```json
//! {"id": "evt_8f2c", "type": "payment.succeeded", "reference": "mm_5b1e…"}
//! {"id": "evt_8f2d", "type": "payment.failed", "reference": "mm_5b1e…", "failure_reason": "customer_rejected"}
//! ```
//!
//! `id` is the provider's event id, handled once; `reference` is the
//! payment's `provider_reference`.

use serde::Deserialize;

use super::{Callback, Decision};

/// The name payments and webhook routes know the provider by.
pub const NAME: &str = "sandbox_mobile_money";

#[derive(Debug, Deserialize)]
struct Body {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    reference: String,
    #[serde(default)]
    failure_reason: Option<String>,
}

/// What the provider's call says.
///
/// # Errors
/// A body that is not the provider's JSON, an empty id or reference, or an
/// event type it does not send.
pub fn parse(body: &[u8]) -> Result<Callback, String> {
    let body: Body = serde_json::from_slice(body).map_err(|e| format!("body: {e}"))?;
    if body.id.trim().is_empty() {
        return Err("id: must not be empty".to_owned());
    }
    if body.reference.trim().is_empty() {
        return Err("reference: must not be empty".to_owned());
    }
    let outcome = match body.kind.as_str() {
        "payment.succeeded" => Decision::Approved,
        "payment.failed" => Decision::Declined(
            body.failure_reason
                .filter(|r| !r.trim().is_empty())
                .unwrap_or_else(|| "declined".to_owned()),
        ),
        other => {
            return Err(format!(
                "type: `{other}` is not an event this provider sends"
            ));
        }
    };
    Ok(Callback {
        event_id: body.id,
        reference: body.reference,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_and_failures_are_read_and_anything_else_refused() {
        let approved =
            parse(br#"{"id":"evt_1","type":"payment.succeeded","reference":"mm_1"}"#).expect("ok");
        assert_eq!(approved.outcome, Decision::Approved);
        assert_eq!(approved.reference, "mm_1");
        let failed = parse(
            br#"{"id":"evt_2","type":"payment.failed","reference":"mm_1","failure_reason":"customer_rejected"}"#,
        )
        .expect("ok");
        assert_eq!(
            failed.outcome,
            Decision::Declined("customer_rejected".to_owned())
        );
        assert!(parse(br#"{"id":"evt_3","type":"payment.refunded","reference":"mm_1"}"#).is_err());
        assert!(parse(br#"{"id":"","type":"payment.succeeded","reference":"mm_1"}"#).is_err());
        assert!(parse(b"not json").is_err());
    }
}
