//! The use cases of kitchen-svc. Each decides in [`crate::domain`] and
//! writes in one unit of work ([`Work`]): a ticket's change and its
//! `ticket.<status>` event in the outbox commit together or not at all,
//! and its change notice and metrics follow the commit. The gRPC layer and
//! the consumer of order events both come through here, so a ticket
//! changes the same way whoever asks.
//!
//! - `receive` — queueing a ticket, by hand or for a confirmed order;
//! - `status` — every status change, by staff or by the order's events;
//! - `reads` — tickets, listings, the open queue and the stats.

mod reads;
mod receive;
mod status;

use foodmesh_shared::clock::Clock;
use foodmesh_shared::events::outbox;
use foodmesh_shared::work::Work;

use crate::convert;
use crate::domain::DomainError;
use crate::domain::ticket::Ticket;
use crate::observe;
use crate::store::Store;

/// The Postgres channel every ticket change is announced on, with the
/// payload `<restaurant_id>:<ticket_id>:<version>` ([`ChangeNotice`]).
pub const CHANNEL: &str = "kitchen_changes";

/// A change announced on [`CHANNEL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeNotice {
    /// The ticket's restaurant, so watchers of other queues skip it.
    pub restaurant_id: i64,
    pub ticket_id: i64,
    /// The ticket's version after the change.
    pub version: i64,
}

impl ChangeNotice {
    /// Reads a notification's payload; `None` if it is not one of ours.
    pub fn parse(payload: &str) -> Option<Self> {
        let mut parts = payload.split(':').map(str::parse::<i64>);
        let notice = Self {
            restaurant_id: parts.next()?.ok()?,
            ticket_id: parts.next()?.ok()?,
            version: parts.next()?.ok()?,
        };
        parts.next().is_none().then_some(notice)
    }

    fn payload(ticket: &Ticket) -> String {
        format!("{}:{}:{}", ticket.restaurant_id, ticket.id, ticket.version)
    }
}

/// The kitchen's use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Kitchen {
    store: Store,
    stream: String,
    clock: Clock,
}

impl Kitchen {
    /// Use cases over `store`, publishing to `stream` (the service's own),
    /// deciding by `clock`'s time.
    pub fn new(store: Store, stream: String, clock: Clock) -> Self {
        Self {
            store,
            stream,
            clock,
        }
    }

    /// Announces `ticket`'s new state as part of `work`: its event in the
    /// outbox, its notice to live watchers once `work` commits, and its
    /// count in the metrics then.
    async fn record(&self, work: &mut Work<'_>, ticket: &Ticket) -> Result<(), DomainError> {
        outbox::enqueue(
            work,
            &self.stream,
            ticket.status.event_type(),
            &ticket.id.to_string(),
            &convert::ticket_event(ticket),
        )
        .await?;
        work.notify(CHANNEL, ChangeNotice::payload(ticket));
        let counted = ticket.clone();
        work.on_commit(move || observe::ticket_changed(&counted));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_notices_round_trip_and_strangers_are_ignored() {
        assert_eq!(
            ChangeNotice::parse("3:41:2"),
            Some(ChangeNotice {
                restaurant_id: 3,
                ticket_id: 41,
                version: 2
            })
        );
        for bad in ["", "3:41", "3:41:2:9", "a:b:c", "foodmesh:kitchen"] {
            assert_eq!(ChangeNotice::parse(bad), None, "{bad}");
        }
    }
}
