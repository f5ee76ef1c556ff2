//! The closed sets of names the notification routes use: the channel a
//! message travels on, what it is about, and where it stands.

use foodmesh_proto::notification::v1 as pb;

wire_enum!(
    /// The way a message travels.
    Channel: pb::Channel {
        /// A text message to an E.164 phone number.
        Sms = "sms" => Sms,
        Email = "email" => Email,
        /// A signed call to the push gateway, for the customer's app
        /// (registered customers only).
        Push = "push" => Push,
    }
);

wire_enum!(
    /// What a message is about: what a customer opts in or out of on each
    /// channel.
    NotificationCategory: pb::Category {
        /// The steps of their orders (by default on, by email — or by SMS
        /// when no email is known).
        OrderUpdates = "order_updates" => OrderUpdates,
        /// News and offers (by default off everywhere).
        Marketing = "marketing" => Marketing,
    }
);

wire_enum!(
    /// Where a message stands: `queued → sending → sent → delivered`, or
    /// `failed`. A failed attempt that may be retried goes back to
    /// `queued`, with its `next_attempt_at`.
    NotificationStatus: pb::NotificationStatus {
        /// Written, waiting for its sender (or for its next attempt).
        Queued = "queued" => Queued,
        /// An attempt is under way.
        Sending = "sending" => Sending,
        /// The provider took it for delivery.
        Sent = "sent" => Sent,
        /// The provider confirms it reached the recipient's side.
        Delivered = "delivered" => Delivered,
        /// Given up on: refused, or out of attempts.
        Failed = "failed" => Failed,
    }
);

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;

    fn spelled_alike<T: Serialize + Copy>(all: &[T], as_str: fn(T) -> &'static str) {
        for value in all {
            let json = serde_json::to_value(value).expect("serializes");
            assert_eq!(json, as_str(*value));
        }
    }

    #[test]
    fn every_name_is_spelled_one_way_and_round_trips_through_the_contract() {
        spelled_alike(Channel::ALL, Channel::as_str);
        spelled_alike(NotificationCategory::ALL, NotificationCategory::as_str);
        spelled_alike(NotificationStatus::ALL, NotificationStatus::as_str);
        for channel in Channel::ALL {
            assert_eq!(Channel::from_proto(channel.to_proto()), Some(*channel));
        }
        for status in NotificationStatus::ALL {
            assert_eq!(
                NotificationStatus::from_proto(status.to_proto()),
                Some(*status)
            );
        }
        assert_eq!(Channel::from_proto(0), None);
        assert_eq!(Channel::names(), "sms, email or push");
        assert_eq!(
            NotificationCategory::parse("MARKETING"),
            Some(NotificationCategory::Marketing)
        );
    }
}
