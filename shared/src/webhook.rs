//! Webhook signatures, one scheme both ways: payment providers sign their
//! calls to the platform (checked with `PAYMENT_WEBHOOK_SECRET_<PROVIDER>`)
//! and the platform signs its push notifications. The header
//! `FoodMesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>` carries the
//! time of signing and the HMAC of `<t>.<raw body>`, as Stripe's scheme
//! does. A call is taken only when the HMAC matches (compared in constant
//! time) and was made within [`TOLERANCE`] of now, so a captured call
//! cannot be replayed later; a replay within the window is caught by the
//! provider event id, which is handled once.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header the signature travels in.
pub const SIGNATURE_HEADER: &str = "foodmesh-signature";

/// How old a signature may be.
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// Why a call was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the call is not signed")]
    Missing,
    #[error("the signature header is not `t=<unix seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature is more than five minutes old, or from the future")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// Checks `header` (the signature header's value, if any) for `body` with
/// `secret`, at `now` (Unix seconds).
///
/// # Errors
/// Why the call is not to be taken.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now: u64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<u64>().ok(),
            Some(("v1", v)) => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now.abs_diff(timestamp) > TOLERANCE.as_secs() {
        return Err(SignatureError::Stale);
    }
    // Several v1 values let a provider roll its secret: any one may match.
    let matches = signatures
        .iter()
        .any(|signature| mac(secret, timestamp, body).verify_slice(signature).is_ok());
    if matches {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The header value for `body` signed at `timestamp`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let signature = hex::encode(mac(secret, timestamp, body).finalize().into_bytes());
    format!("t={timestamp},v1={signature}")
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; the error type exists for other MACs.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment.approved","reference":"mm_9"}"#;
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_call_signed_with_the_secret_just_now_is_taken() {
        let header = sign(SECRET, NOW - 10, BODY);
        assert_eq!(verify(SECRET, Some(&header), BODY, NOW), Ok(()));
    }

    #[test]
    fn a_missing_malformed_stale_or_wrong_signature_is_refused() {
        assert_eq!(
            verify(SECRET, None, BODY, NOW),
            Err(SignatureError::Missing)
        );
        for header in [
            "",
            "v1=abcd",
            "t=abc,v1=abcd",
            "t=1800000000",
            "t=1800000000,v1=zz",
        ] {
            assert_eq!(
                verify(SECRET, Some(header), BODY, NOW),
                Err(SignatureError::Malformed),
                "{header}"
            );
        }
        let old = sign(SECRET, NOW - 301, BODY);
        assert_eq!(
            verify(SECRET, Some(&old), BODY, NOW),
            Err(SignatureError::Stale)
        );
        let ahead = sign(SECRET, NOW + 301, BODY);
        assert_eq!(
            verify(SECRET, Some(&ahead), BODY, NOW),
            Err(SignatureError::Stale)
        );
        let other_secret = sign(b"whsec_other", NOW, BODY);
        assert_eq!(
            verify(SECRET, Some(&other_secret), BODY, NOW),
            Err(SignatureError::Mismatch)
        );
        let header = sign(SECRET, NOW, BODY);
        let tampered = br#"{"id":"evt_1","type":"payment.approved","reference":"mm_8"}"#;
        assert_eq!(
            verify(SECRET, Some(&header), tampered, NOW),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_rolled_secret_is_taken_by_either_signature() {
        let new = sign(SECRET, NOW, BODY);
        let old = sign(b"whsec_old", NOW, BODY);
        let old_v1 = old.split_once("v1=").map(|(_, v)| v).unwrap_or_default();
        let both = format!("{new},v1={old_v1}");
        assert_eq!(verify(SECRET, Some(&both), BODY, NOW), Ok(()));
        assert_eq!(verify(b"whsec_old", Some(&both), BODY, NOW), Ok(()));
    }
}
