//! A restaurant's queue as the kitchen display reads it: which tickets a
//! listing shows, what a live watcher is sent, and the figures of the
//! stats panel.

use chrono::{DateTime, Duration, Utc};

use super::ticket::{Ticket, TicketStatus};
use super::{DomainError, Finish, Violations, parse_id};

/// Which tickets of one restaurant a listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFilter {
    restaurant_id: i64,
    statuses: Vec<TicketStatus>,
}

impl QueueFilter {
    /// `statuses` as the request named them, `None` where a value is not a
    /// status; none at all means the open ones.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `restaurant_id` or `statuses[i]`.
    pub fn parse(
        restaurant_id: i64,
        statuses: &[Option<TicketStatus>],
    ) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let restaurant_id = v.check("restaurant_id", parse_id(restaurant_id));
        for (i, status) in statuses.iter().enumerate() {
            if status.is_none() {
                v.add(format_args!("statuses[{i}]"), "is not a ticket status");
            }
        }
        let mut chosen: Vec<TicketStatus> = statuses.iter().flatten().copied().collect();
        if chosen.is_empty() {
            chosen = TicketStatus::OPEN.to_vec();
        }
        chosen.sort_by_key(|s| TicketStatus::ALL.iter().position(|a| a == s));
        chosen.dedup();
        v.finish(|| {
            Some(Self {
                restaurant_id: restaurant_id?,
                statuses: chosen,
            })
        })
    }

    pub fn restaurant_id(&self) -> i64 {
        self.restaurant_id
    }

    /// The statuses shown, without repeats.
    pub fn statuses(&self) -> &[TicketStatus] {
        &self.statuses
    }
}

/// What a live watcher of a queue is sent, in this order: the open
/// tickets ([`Snapshot`](Self::Snapshot)), one [`Synced`](Self::Synced),
/// then every change ([`Changed`](Self::Changed)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueUpdate {
    /// An open ticket as the queue stood when the watch (re)started.
    Snapshot(Ticket),
    /// Every snapshot ticket has been sent.
    Synced,
    /// A ticket was queued or changed status.
    Changed(Ticket),
}

/// The span of recent time the preparation figures cover, ending now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatsWindow(u32);

impl StatsWindow {
    /// A day: a whole service, lunch and dinner.
    pub const DEFAULT_MINUTES: u32 = 24 * 60;
    /// A week.
    pub const MAX_MINUTES: u32 = foodmesh_shared::values::STATS_WINDOW_MINUTES;

    /// # Errors
    /// Longer than [`Self::MAX_MINUTES`].
    pub fn parse(minutes: u32) -> Result<Self, String> {
        match minutes {
            0 => Ok(Self(Self::DEFAULT_MINUTES)),
            n if n <= Self::MAX_MINUTES => Ok(Self(n)),
            _ => Err(format!("must be at most {}", Self::MAX_MINUTES)),
        }
    }

    pub fn minutes(self) -> u32 {
        self.0
    }

    /// When the window starts, if it ends at `now`.
    pub fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::minutes(i64::from(self.0))
    }
}

/// What the stats panel of a kitchen display shows.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KitchenStats {
    /// Open tickets nobody has looked at.
    pub queued: u32,
    /// Accepted, not started.
    pub accepted: u32,
    /// Being cooked.
    pub preparing: u32,
    /// Waiting at the pass.
    pub ready: u32,
    /// Open, not ready, and past their ready-by time.
    pub overdue: u32,
    /// Preparation times of the tickets that became READY in the window.
    pub preparation: PrepTimes,
    /// The window they were taken over.
    pub window_minutes: u32,
}

/// Preparation times over a window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PrepTimes {
    /// How many tickets became READY.
    pub count: u32,
    /// Mean seconds from PREPARING to READY; 0 without tickets.
    pub avg_seconds: f64,
    /// 90th percentile of the same; 0 without tickets.
    pub p90_seconds: f64,
    /// Mean seconds from queued to PREPARING of the same tickets.
    pub avg_wait_seconds: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_statuses_means_the_open_queue() {
        let filter = QueueFilter::parse(3, &[]).expect("valid");
        assert_eq!(filter.statuses(), TicketStatus::OPEN);
    }

    #[test]
    fn statuses_are_kept_once_in_lifecycle_order() {
        let filter = QueueFilter::parse(
            3,
            &[
                Some(TicketStatus::Rejected),
                Some(TicketStatus::Queued),
                Some(TicketStatus::Rejected),
            ],
        )
        .expect("valid");
        assert_eq!(
            filter.statuses(),
            [TicketStatus::Queued, TicketStatus::Rejected]
        );
    }

    #[test]
    fn a_bad_filter_names_each_field() {
        let Err(DomainError::Invalid(v)) =
            QueueFilter::parse(0, &[Some(TicketStatus::Ready), None])
        else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["restaurant_id", "statuses[1]"]);
    }

    #[test]
    fn the_stats_window_defaults_to_a_day_and_is_at_most_a_week() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("valid time");
        let day = StatsWindow::parse(0).expect("default");
        assert_eq!(day.minutes(), 1440);
        assert_eq!(day.since(now), now - Duration::days(1));
        assert!(StatsWindow::parse(10_080).is_ok());
        assert!(StatsWindow::parse(10_081).is_err());
    }
}
