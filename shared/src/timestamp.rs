//! Protobuf timestamps to and from chrono times: the one conversion every
//! contract's times go through.

use chrono::{DateTime, Utc};

/// `at` on the wire.
pub fn to_pb(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        // chrono counts a leap second's nanoseconds past 10⁹; protobuf time
        // has no leap seconds, so it stays at the end of the second.
        nanos: i32::try_from(at.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0),
    }
}

/// The time `stamp` names; `None` when it names none (negative or
/// overlong nanoseconds, or seconds out of chrono's range).
pub fn from_pb(stamp: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(stamp.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(stamp.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_goes_to_the_wire_and_back_to_the_nanosecond() {
        let at = DateTime::from_timestamp(1_795_000_000, 123_456_789).expect("a time");
        let stamp = to_pb(at);
        assert_eq!((stamp.seconds, stamp.nanos), (1_795_000_000, 123_456_789));
        assert_eq!(from_pb(&stamp), Some(at));
    }

    #[test]
    fn a_leap_second_stays_within_its_second_on_the_wire() {
        let leap = DateTime::from_timestamp(1_483_228_799, 1_500_000_000).expect("a leap second");
        let stamp = to_pb(leap);
        assert_eq!((stamp.seconds, stamp.nanos), (1_483_228_799, 999_999_999));
        assert!(from_pb(&stamp).is_some());
    }

    #[test]
    fn a_stamp_that_names_no_time_is_none() {
        for (seconds, nanos) in [(0, -1), (0, 1_000_000_000), (i64::MAX, 0)] {
            assert_eq!(
                from_pb(&prost_types::Timestamp { seconds, nanos }),
                None,
                "{seconds} {nanos}"
            );
        }
    }
}
