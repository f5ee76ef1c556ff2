//! The sandbox card provider, the default: it decides as a real card
//! network would, from the test tokens and test card numbers developers
//! know from Stripe's documentation, so a client can be written and tested
//! against every outcome without real money.
//!
//! | `source` | outcome |
//! |---|---|
//! | none (seed 002's body), `tok_visa`, `tok_mastercard`, `tok_amex`, `4242 4242 4242 4242`, `5555 5555 5555 4444` | approved |
//! | `tok_chargeDeclined`, `4000 0000 0000 0002` | declined: `card_declined` |
//! | `tok_chargeDeclinedInsufficientFunds`, `4000 0000 0000 9995` | declined: `insufficient_funds` |
//! | `tok_chargeDeclinedExpiredCard`, `4000 0000 0000 0069` | declined: `expired_card` |
//! | `tok_chargeDeclinedIncorrectCvc`, `4000 0000 0000 0127` | declined: `incorrect_cvc` |
//! | `tok_threeDSecure2Required`, `4000 0027 6000 3184` | needs the customer's confirmation (3-D Secure) first |
//!
//! Anything else is refused as a source the sandbox does not know.

use super::Decision;

/// The sandbox's answer for `source`, or `None` when it is neither a test
/// token nor a test card number.
pub fn decide(source: Option<&str>) -> Option<Decision> {
    let Some(source) = source.map(str::trim).filter(|s| !s.is_empty()) else {
        return Some(Decision::Approved);
    };
    let digits: String = source.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let declined = |reason: &str| Some(Decision::Declined(reason.to_owned()));
    match digits.as_str() {
        "tok_visa" | "tok_mastercard" | "tok_amex" | "4242424242424242" | "5555555555554444" => {
            Some(Decision::Approved)
        }
        "tok_chargeDeclined" | "4000000000000002" => declined("card_declined"),
        "tok_chargeDeclinedInsufficientFunds" | "4000000000009995" => {
            declined("insufficient_funds")
        }
        "tok_chargeDeclinedExpiredCard" | "4000000000000069" => declined("expired_card"),
        "tok_chargeDeclinedIncorrectCvc" | "4000000000000127" => declined("incorrect_cvc"),
        "tok_threeDSecure2Required" | "4000002760003184" => Some(Decision::NeedsConfirmation),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_s_test_tokens_and_numbers_decide_alike() {
        let pairs = [
            ("tok_visa", "4242 4242 4242 4242"),
            ("tok_chargeDeclined", "4000 0000 0000 0002"),
            ("tok_chargeDeclinedInsufficientFunds", "4000-0000-0000-9995"),
            ("tok_chargeDeclinedExpiredCard", "4000000000000069"),
            ("tok_chargeDeclinedIncorrectCvc", "4000 0000 0000 0127"),
            ("tok_threeDSecure2Required", "4000 0027 6000 3184"),
        ];
        for (token, number) in pairs {
            assert_eq!(decide(Some(token)), decide(Some(number)), "{token}");
            assert!(decide(Some(token)).is_some(), "{token}");
        }
    }

    #[test]
    fn no_source_is_approved_and_the_declines_say_why() {
        assert_eq!(decide(None), Some(Decision::Approved));
        assert_eq!(decide(Some("  ")), Some(Decision::Approved));
        assert_eq!(
            decide(Some("tok_chargeDeclinedInsufficientFunds")),
            Some(Decision::Declined("insufficient_funds".to_owned()))
        );
        assert_eq!(
            decide(Some("4000002760003184")),
            Some(Decision::NeedsConfirmation)
        );
    }

    #[test]
    fn a_real_looking_number_or_an_unknown_token_is_not_the_sandbox_s() {
        assert_eq!(decide(Some("4111 1111 1111 1111")), None);
        assert_eq!(decide(Some("tok_unknown")), None);
    }
}
