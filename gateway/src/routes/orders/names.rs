//! The closed sets of names an order's JSON uses, each declared with its
//! contract counterpart through `wire_enum!`.

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::order::v1 as pb;

wire_enum!(
    /// Where an order is in its lifecycle: `pending → confirmed → preparing
    /// → ready → completed`, with `ready → out_for_delivery → completed`
    /// for deliveries, or `cancelled`.
    OrderStatus: pb::OrderStatus {
        /// Waiting for its payment (card, mobile money) or confirmation.
        Pending = "pending" => Pending,
        /// Paid or cash: the kitchen has it.
        Confirmed = "confirmed" => Confirmed,
        /// Being cooked.
        Preparing = "preparing" => Preparing,
        /// Ready to serve, collect or hand to a driver.
        Ready = "ready" => Ready,
        /// On its way (delivery orders).
        OutForDelivery = "out_for_delivery" => OutForDelivery,
        /// Served, collected or delivered.
        Completed = "completed" => Completed,
        /// Cancelled; see the history for who and why.
        Cancelled = "cancelled" => Cancelled,
    }
);

wire_enum!(
    /// How the order reaches the customer.
    OrderType: pb::OrderType {
        /// Served at a table (`table_number` required).
        DineIn = "dine_in" => DineIn,
        /// Collected at the counter.
        Takeout = "takeout" => Takeout,
        /// Delivered (`delivery_address` required).
        Delivery = "delivery" => Delivery,
    }
);

wire_enum!(
    /// Where the order was placed.
    OrderSource: pb::OrderSource {
        /// The web site.
        Web = "web" => Web,
        /// The mobile app.
        App = "app" => App,
        /// The restaurant's front desk.
        Frontdesk = "frontdesk" => Frontdesk,
        /// A phone call.
        Phone = "phone" => Phone,
        /// A chat channel.
        Chat = "chat" => Chat,
    }
);

wire_enum!(
    /// How the order is paid. Cash orders are confirmed at once; card and
    /// mobile money orders wait in `pending` for their payment.
    PaymentMethod: pb::PaymentMethod {
        /// A card, through the payment provider (`credit_card` and
        /// `debit_card` are read as `card`).
        Card = "card" | "credit_card" | "debit_card" => Card,
        /// Cash on collection or delivery.
        Cash = "cash" => Cash,
        /// Mobile money, through the payment provider.
        MobileMoney = "mobile_money" => MobileMoney,
    }
);

wire_enum!(
    /// Who made a change.
    ActorKind: common::ActorKind {
        /// A registered customer.
        Customer = "customer" => Customer,
        /// Restaurant staff.
        Staff = "staff" => Staff,
        Driver = "driver" => Driver,
        Admin = "admin" => Admin,
        /// A service reacting to an event (payment, kitchen, delivery) or a
        /// timer (the payment timeout).
        System = "system" => System,
        /// A guest with the order's access token.
        Guest = "guest" => Guest,
    }
);

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    /// Checks that serde, the OpenAPI document and `as_str` spell every
    /// value of a [`wire_enum!`] the same way.
    fn spelled_alike<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for value in all {
            let json = serde_json::to_value(value).expect("serializes");
            assert_eq!(json, as_str(*value));
        }
    }

    #[test]
    fn every_name_is_spelled_one_way() {
        spelled_alike(OrderStatus::ALL, OrderStatus::as_str);
        spelled_alike(OrderType::ALL, OrderType::as_str);
        spelled_alike(OrderSource::ALL, OrderSource::as_str);
        spelled_alike(PaymentMethod::ALL, PaymentMethod::as_str);
        spelled_alike(ActorKind::ALL, ActorKind::as_str);
        spelled_alike(
            crate::routes::kitchen::TicketStatus::ALL,
            crate::routes::kitchen::TicketStatus::as_str,
        );
        spelled_alike(
            crate::routes::kitchen::Fulfilment::ALL,
            crate::routes::kitchen::Fulfilment::as_str,
        );
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(OrderStatus::schema()).expect("schema");
        assert_eq!(
            schema["enum"],
            serde_json::json!([
                "pending",
                "confirmed",
                "preparing",
                "ready",
                "out_for_delivery",
                "completed",
                "cancelled"
            ])
        );
    }

    #[test]
    fn names_round_trip_through_the_contract() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_proto(status.to_proto()), Some(*status));
        }
        assert_eq!(OrderStatus::from_proto(0), None);
        assert_eq!(
            OrderStatus::OutForDelivery.to_proto(),
            pb::OrderStatus::OutForDelivery as i32
        );
        assert_eq!(PaymentMethod::names(), "card, cash or mobile_money");
    }

    #[test]
    fn a_card_is_read_under_the_names_payments_take_too() {
        for name in ["card", "credit_card", "Debit_Card"] {
            assert_eq!(PaymentMethod::parse(name), Some(PaymentMethod::Card));
        }
        assert_eq!(PaymentMethod::parse("cheque"), None);
        assert_eq!(PaymentMethod::Card.as_str(), "card");
    }
}
