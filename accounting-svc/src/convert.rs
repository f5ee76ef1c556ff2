//! Domain values to contract messages, for the edges that speak protobuf:
//! the `payment.*` event payload now, the gRPC API next. Written once, so
//! a payment reads the same on the wire whichever way it leaves.

use chrono::{DateTime, Utc};
use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::common::v1::Money;
use foodmesh_proto::events::v1::PaymentEvent;

use crate::domain::payment::{Method, Payment, PaymentStatus};

fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency: currency.to_owned(),
    })
}

pub(crate) fn method_to_pb(method: Method) -> pb::PaymentMethod {
    match method {
        Method::Card => pb::PaymentMethod::Card,
        Method::Cash => pb::PaymentMethod::Cash,
        Method::MobileMoney => pb::PaymentMethod::MobileMoney,
    }
}

pub(crate) fn status_to_pb(status: PaymentStatus) -> pb::PaymentStatus {
    use PaymentStatus as S;
    match status {
        S::Created => pb::PaymentStatus::Created,
        S::Authorized => pb::PaymentStatus::Authorized,
        S::Captured => pb::PaymentStatus::Captured,
        S::PartiallyRefunded => pb::PaymentStatus::PartiallyRefunded,
        S::Refunded => pb::PaymentStatus::Refunded,
        S::Declined => pb::PaymentStatus::Declined,
        S::Voided => pb::PaymentStatus::Voided,
    }
}

/// A payment as the contract shows it. Its provider's names are left to
/// the caller that knows them.
pub(crate) fn payment(p: &Payment) -> pb::Payment {
    pb::Payment {
        id: p.id,
        order_id: p.order_id,
        method: method_to_pb(p.method) as i32,
        status: status_to_pb(p.status) as i32,
        amount: money(p.amount_minor, &p.currency),
        captured: money(p.captured_minor, &p.currency),
        refunded: money(p.refunded_minor, &p.currency),
        provider: String::new(),
        provider_reference: String::new(),
        decline_reason: String::new(),
        created_at: Some(timestamp(p.created_at)),
        updated_at: Some(timestamp(p.updated_at)),
    }
}

/// The payload of a `payment.*` event: the payment after the change, and
/// what the change moved (zero for a hold, a refusal or a release).
pub(crate) fn payment_event(p: &Payment, moved_minor: i64) -> PaymentEvent {
    PaymentEvent {
        payment: Some(payment(p)),
        amount: money(moved_minor.abs(), &p.currency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_and_status_has_its_contract_value() {
        for method in Method::ALL {
            assert_ne!(method_to_pb(method), pb::PaymentMethod::Unspecified);
        }
        let mut seen = std::collections::HashSet::new();
        for status in PaymentStatus::ALL {
            let value = status_to_pb(status);
            assert_ne!(value, pb::PaymentStatus::Unspecified);
            assert!(seen.insert(value), "{status} shares {value:?}");
        }
    }
}
