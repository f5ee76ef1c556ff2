//! Customer profiles: who orders, how to reach them, where they have food
//! delivered and how they like to pay.
//!
//! Registered customers and guests share one id space without colliding:
//! a registered customer's profile id is the positive id the auth system
//! gave them (their token's subject), and guest profiles take negative ids
//! from their own sequence. A guest profile is found by its phone at every
//! guest checkout.

use chrono::{DateTime, Utc};
use foodmesh_shared::values::limits;

use super::order::PaymentMethod;
use super::{Address, Email, Name, Phone, PostalAddress, Violations};

/// The most saved addresses a profile keeps; the oldest fall off.
pub const MAX_SAVED_ADDRESSES: usize = limits::SAVED_ADDRESSES;

/// A profile as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Positive: registered; negative: a guest profile.
    pub id: i64,
    /// Their name, or empty.
    pub name: String,
    /// E.164, or `None` for a registered customer who gave none.
    pub phone: Option<String>,
    /// Email, or empty.
    pub email: String,
    /// Most recent first.
    pub saved_addresses: Vec<PostalAddress>,
    pub preferred_payment_method: Option<PaymentMethod>,
    pub order_count: u32,
    pub last_order_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Customer {
    /// True for a registered customer's profile.
    pub fn registered(&self) -> bool {
        self.id > 0
    }
}

/// The parts of a profile an update changes; `None` keeps a part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerPatch {
    pub name: Option<Name<{ limits::PERSON_NAME }>>,
    pub phone: Option<Phone>,
    /// New email; empty clears it.
    pub email: Option<Email>,
    /// Replaces every saved address.
    pub saved_addresses: Option<Vec<Address>>,
    pub preferred_payment_method: Option<PaymentMethod>,
}

/// Parses a replacement list of saved addresses; violations name
/// `saved_addresses[i].field`.
///
/// # Errors
/// More than [`MAX_SAVED_ADDRESSES`], or a bad address.
pub fn parse_saved_addresses(raw: &[PostalAddress]) -> Result<Vec<Address>, Violations> {
    let mut v = Violations::default();
    if raw.len() > MAX_SAVED_ADDRESSES {
        v.add(
            "saved_addresses",
            format!("must hold at most {MAX_SAVED_ADDRESSES} addresses"),
        );
    }
    let parsed: Vec<Option<Address>> = raw
        .iter()
        .enumerate()
        .map(|(i, a)| v.nested(format_args!("saved_addresses[{i}]"), Address::parse(a)))
        .collect();
    v.finish_with(|| parsed.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(street: &str) -> PostalAddress {
        PostalAddress {
            street: street.to_owned(),
            city: "New York".to_owned(),
            state: String::new(),
            zip_code: String::new(),
            country: "us".to_owned(),
        }
    }

    #[test]
    fn saved_addresses_are_bounded_and_each_is_checked() {
        let ok = parse_saved_addresses(&[address("1 Main St")]).expect("valid");
        assert_eq!(ok[0].parts().country, "US");
        let Err(v) = parse_saved_addresses(&[address("1 Main St"), address("")]) else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["saved_addresses[1].street"]);
        let many = vec![address("1 Main St"); MAX_SAVED_ADDRESSES + 1];
        assert!(parse_saved_addresses(&many).is_err());
    }
}
