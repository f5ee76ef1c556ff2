//! Domain values to contract messages and back, for the edges that speak
//! protobuf: the gRPC API, the `payment.*` event payload, and the orders
//! order-svc shows. Written once, so a payment reads the same on the wire
//! whichever way it leaves.

use chrono::DateTime;
use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::common::v1::Money;
use foodmesh_proto::events::v1::PaymentEvent;
use foodmesh_proto::order::v1 as order_pb;

use crate::domain::invoice::{Invoice, InvoiceLine, OrderFacts};
use crate::domain::payment::{Method, Payment, PaymentRecord, PaymentStatus};
use crate::domain::{DomainError, Violations};

pub(crate) use foodmesh_shared::timestamp::{from_pb as time_of, to_pb as timestamp};

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

/// A payment with its provider's names, as the API shows it.
pub(crate) fn payment_record(record: &PaymentRecord) -> pb::Payment {
    pb::Payment {
        provider: record.provider.clone(),
        provider_reference: record.provider_reference.clone().unwrap_or_default(),
        decline_reason: record.decline_reason.clone().unwrap_or_default(),
        ..payment(&record.payment)
    }
}

pub(crate) fn invoice(i: &Invoice) -> pb::Invoice {
    let amount = |minor| money(minor, &i.currency);
    pb::Invoice {
        id: i.id,
        number: i.display_number(),
        order_id: i.order_id,
        lines: i
            .lines
            .iter()
            .map(|l| pb::InvoiceLine {
                description: l.description.clone(),
                quantity: l.quantity,
                unit_price: amount(l.unit_price_minor),
                total: amount(l.total_minor),
            })
            .collect(),
        subtotal: amount(i.subtotal_minor),
        discount: amount(i.discount_minor),
        delivery_fee: amount(i.delivery_fee_minor),
        tax: amount(i.tax_minor),
        total: amount(i.total_minor),
        status: i.status.as_str().to_owned(),
        issued_at: Some(timestamp(i.issued_at)),
        restaurant_id: i.restaurant_id,
        customer_id: i.customer_id,
    }
}

pub(crate) fn method_from_pb(raw: i32) -> Option<Method> {
    match pb::PaymentMethod::try_from(raw).ok()? {
        pb::PaymentMethod::Card => Some(Method::Card),
        pb::PaymentMethod::Cash => Some(Method::Cash),
        pb::PaymentMethod::MobileMoney => Some(Method::MobileMoney),
        pb::PaymentMethod::Unspecified => None,
    }
}

/// What an order as order-svc shows it says for billing. An order whose
/// figures do not add up breaks the contract with order-svc.
///
/// # Errors
/// [`DomainError::Invalid`] naming what is missing or inconsistent, under
/// `field` (`order`).
pub(crate) fn order_facts(order: &order_pb::Order, field: &str) -> Result<OrderFacts, DomainError> {
    let mut v = Violations::default();
    let minor = |m: &Option<Money>| m.as_ref().map_or(0, |m| m.amount_minor);
    let totals = order.totals.clone().unwrap_or_default();
    let facts = OrderFacts {
        order_id: order.id,
        restaurant_id: order.restaurant_id,
        customer_id: order.customer_id,
        currency: order.currency.clone(),
        lines: order
            .items
            .iter()
            .map(|line| InvoiceLine {
                description: line_description(line),
                quantity: line.quantity,
                unit_price_minor: minor(&line.unit_price),
                total_minor: minor(&line.line_total),
            })
            .collect(),
        subtotal_minor: minor(&totals.subtotal),
        discount_minor: minor(&totals.discount),
        delivery_fee_minor: minor(&totals.delivery_fee),
        tax_minor: minor(&totals.tax),
        total_minor: minor(&totals.total),
        method: match order_pb::PaymentMethod::try_from(order.payment_method) {
            Ok(order_pb::PaymentMethod::Card) => Some(Method::Card),
            Ok(order_pb::PaymentMethod::Cash) => Some(Method::Cash),
            Ok(order_pb::PaymentMethod::MobileMoney) => Some(Method::MobileMoney),
            _ => None,
        },
        pending: order.status == order_pb::OrderStatus::Pending as i32,
        updated_at: order
            .updated_at
            .as_ref()
            .and_then(time_of)
            .unwrap_or(DateTime::UNIX_EPOCH),
    };
    if facts.order_id <= 0 {
        v.add(format!("{field}.id"), "must be positive");
    }
    if facts.restaurant_id <= 0 {
        v.add(format!("{field}.restaurant_id"), "must be positive");
    }
    if facts.currency.len() != 3 || !facts.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        v.add(format!("{field}.currency"), "must be an ISO 4217 code");
    }
    for (i, line) in facts.lines.iter().enumerate() {
        if line.quantity == 0 {
            v.add(format!("{field}.items[{i}].quantity"), "must be positive");
        }
        if line.unit_price_minor < 0 || line.total_minor < 0 {
            v.add(
                format!("{field}.items[{i}]"),
                "must not cost less than nothing",
            );
        }
    }
    let amounts = [
        ("subtotal", facts.subtotal_minor),
        ("discount", facts.discount_minor),
        ("delivery_fee", facts.delivery_fee_minor),
        ("tax", facts.tax_minor),
        ("total", facts.total_minor),
    ];
    for (name, amount) in amounts {
        if amount < 0 {
            v.add(format!("{field}.totals.{name}"), "must not be negative");
        }
    }
    let sum =
        facts.subtotal_minor - facts.discount_minor + facts.delivery_fee_minor + facts.tax_minor;
    if sum != facts.total_minor {
        v.add(
            format!("{field}.totals.total"),
            "must be subtotal - discount + delivery fee + tax",
        );
    }
    v.finish_with(|| Some(facts)).map_err(DomainError::Invalid)
}

/// A line as an invoice reads it: the item, then its options.
fn line_description(line: &order_pb::OrderLine) -> String {
    if line.options.is_empty() {
        return line.name.clone();
    }
    let options: Vec<&str> = line.options.iter().map(|o| o.name.as_str()).collect();
    format!("{} ({})", line.name, options.join(", "))
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
