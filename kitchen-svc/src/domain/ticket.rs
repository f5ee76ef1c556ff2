//! Tickets: what the kitchen makes for one order, the states a ticket moves
//! through, and [`check_transition`] — the one table that says which moves
//! are allowed and who may make them.

use std::fmt;

use chrono::{DateTime, Utc};

use super::{DomainError, Text, Violations};

/// Where a ticket is in the kitchen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TicketStatus {
    /// Received, nobody has looked at it yet.
    Queued,
    /// The kitchen has seen it and will make it.
    Accepted,
    /// Being cooked.
    Preparing,
    /// Done, waiting at the pass.
    Ready,
    /// Taken to the table, by the customer or by the driver.
    PickedUp,
    /// Its order was cancelled.
    Cancelled,
    /// The kitchen refused it; its order is cancelled in turn.
    Rejected,
}

impl TicketStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 7] = [
        Self::Queued,
        Self::Accepted,
        Self::Preparing,
        Self::Ready,
        Self::PickedUp,
        Self::Cancelled,
        Self::Rejected,
    ];

    /// The statuses a kitchen display shows: still work to do or food at
    /// the pass.
    pub const OPEN: [Self; 4] = [Self::Queued, Self::Accepted, Self::Preparing, Self::Ready];

    /// The lower-case name: how it is stored, labelled in metrics and
    /// suffixed to `ticket.` in event types.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Accepted => "accepted",
            Self::Preparing => "preparing",
            Self::Ready => "ready",
            Self::PickedUp => "picked_up",
            Self::Cancelled => "cancelled",
            Self::Rejected => "rejected",
        }
    }

    /// The status stored as `raw`, if it is one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The type of the event that announces a ticket entering this status
    /// (`ticket.picked_up`).
    pub fn event_type(self) -> &'static str {
        match self {
            Self::Queued => "ticket.queued",
            Self::Accepted => "ticket.accepted",
            Self::Preparing => "ticket.preparing",
            Self::Ready => "ticket.ready",
            Self::PickedUp => "ticket.picked_up",
            Self::Cancelled => "ticket.cancelled",
            Self::Rejected => "ticket.rejected",
        }
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().to_ascii_uppercase())
    }
}

/// Who asks for a status change; the transition table allows each side
/// different moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    /// Kitchen staff, through the API.
    Kitchen,
    /// The order's own lifecycle, through its events (cancelled, handed to
    /// a driver, completed).
    Order,
}

/// The transition table: whether `by` may move a ticket from `from` to
/// `to`. Every status change of the service passes through here.
///
/// | from                              | to        | by      |
/// |-----------------------------------|-----------|---------|
/// | QUEUED                            | ACCEPTED  | kitchen |
/// | QUEUED, ACCEPTED                  | PREPARING | kitchen |
/// | PREPARING                         | READY     | kitchen |
/// | READY                             | PICKED_UP | kitchen, order |
/// | QUEUED, ACCEPTED                  | REJECTED  | kitchen |
/// | QUEUED, ACCEPTED, PREPARING, READY| CANCELLED | order   |
///
/// The kitchen cannot cancel a ticket: it cancels the order (which cancels
/// the ticket) or rejects the ticket (which cancels the order).
///
/// # Errors
/// [`DomainError::InvalidTransition`] for every other move, including a
/// move to the status the ticket already has.
pub fn check_transition(
    from: TicketStatus,
    to: TicketStatus,
    by: ChangedBy,
) -> Result<(), DomainError> {
    use TicketStatus::{Accepted, Cancelled, PickedUp, Preparing, Queued, Ready, Rejected};
    let allowed = match by {
        ChangedBy::Kitchen => matches!(
            (from, to),
            (Queued, Accepted)
                | (Queued | Accepted, Preparing)
                | (Preparing, Ready)
                | (Ready, PickedUp)
                | (Queued | Accepted, Rejected)
        ),
        ChangedBy::Order => matches!(
            (from, to),
            (Queued | Accepted | Preparing | Ready, Cancelled) | (Ready, PickedUp)
        ),
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::InvalidTransition { from, to })
    }
}

/// How the food leaves the kitchen, without the table: what requests name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulfilmentKind {
    /// Served to a table (dine-in).
    Table,
    /// Collected at the counter (takeout).
    Pickup,
    /// Handed to a driver.
    Delivery,
}

impl FulfilmentKind {
    /// The lower-case name it is stored as.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Pickup => "pickup",
            Self::Delivery => "delivery",
        }
    }

    /// The kind stored as `raw`, if it is one.
    pub fn from_stored(raw: &str) -> Option<Self> {
        [Self::Table, Self::Pickup, Self::Delivery]
            .into_iter()
            .find(|k| k.as_str() == raw)
    }
}

/// How the food leaves the kitchen; only table service has a table number,
/// so a pickup ticket with a table cannot exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfilment {
    /// Served to a table; the number may be empty (counter service).
    Table {
        /// As the restaurant labels its tables ("12", "T4", "Patio 2").
        table_number: String,
    },
    /// Collected at the counter.
    Pickup,
    /// Handed to a driver.
    Delivery,
}

/// The longest table label accepted.
pub const MAX_TABLE_NUMBER: usize = 20;

impl Fulfilment {
    /// # Errors
    /// Violations naming `fulfilment` (missing) or `table_number` (too long,
    /// or given for a ticket that is not served to a table).
    pub fn parse(kind: Option<FulfilmentKind>, table_number: &str) -> Result<Self, Violations> {
        let mut v = Violations::default();
        let table = table_number.trim();
        if table.chars().count() > MAX_TABLE_NUMBER || table.chars().any(char::is_control) {
            v.add(
                "table_number",
                format!("must be one line of at most {MAX_TABLE_NUMBER} characters"),
            );
        }
        let parsed = match kind {
            None => {
                v.add("fulfilment", "must be TABLE, PICKUP or DELIVERY");
                None
            }
            Some(FulfilmentKind::Table) => Some(Self::Table {
                table_number: table.to_owned(),
            }),
            Some(other) if !table.is_empty() => {
                v.add(
                    "table_number",
                    format!("only table tickets have one, not {}", other.as_str()),
                );
                None
            }
            Some(FulfilmentKind::Pickup) => Some(Self::Pickup),
            Some(FulfilmentKind::Delivery) => Some(Self::Delivery),
        };
        match parsed {
            Some(f) if v.is_empty() => Ok(f),
            _ => Err(v),
        }
    }

    /// Rebuilds a stored fulfilment; `None` when `kind` is not one.
    pub fn from_stored(kind: &str, table_number: String) -> Option<Self> {
        Some(match FulfilmentKind::from_stored(kind)? {
            FulfilmentKind::Table => Self::Table { table_number },
            FulfilmentKind::Pickup => Self::Pickup,
            FulfilmentKind::Delivery => Self::Delivery,
        })
    }

    /// Table, pickup or delivery.
    pub fn kind(&self) -> FulfilmentKind {
        match self {
            Self::Table { .. } => FulfilmentKind::Table,
            Self::Pickup => FulfilmentKind::Pickup,
            Self::Delivery => FulfilmentKind::Delivery,
        }
    }

    /// The table's label; empty unless served to a table.
    pub fn table_number(&self) -> &str {
        match self {
            Self::Table { table_number } => table_number,
            Self::Pickup | Self::Delivery => "",
        }
    }
}

/// One line of a ticket as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketItem {
    /// What to make.
    pub name: String,
    pub quantity: u32,
    /// Chosen options by name.
    pub modifiers: Vec<String>,
    /// Free text from the customer.
    pub special_instructions: String,
}

/// A ticket as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: i64,
    /// The order it is for.
    pub order_id: i64,
    /// The order's human number.
    pub order_number: String,
    /// The kitchen it is in.
    pub restaurant_id: i64,
    pub status: TicketStatus,
    /// How the food leaves.
    pub fulfilment: Fulfilment,
    /// The lines, in order.
    pub items: Vec<TicketItem>,
    /// Notes on the whole order.
    pub notes: String,
    /// Why it was rejected or cancelled; empty otherwise.
    pub reason: String,
    /// When it should be ready.
    pub ready_by: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was accepted, if it was.
    pub accepted_at: Option<DateTime<Utc>>,
    /// When cooking started.
    pub started_at: Option<DateTime<Utc>>,
    pub ready_at: Option<DateTime<Utc>>,
    /// When it left the kitchen.
    pub picked_up_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// 1 when queued, one more with each change.
    pub version: i64,
}

impl Ticket {
    /// Whole seconds from PREPARING to READY, once it has been READY.
    /// Never negative, even if the instances' clocks disagree.
    pub fn preparation_seconds(&self) -> Option<u32> {
        let (started, ready) = (self.started_at?, self.ready_at?);
        let seconds = (ready - started).num_seconds().max(0);
        Some(u32::try_from(seconds).unwrap_or(u32::MAX))
    }

    /// The ticket after `change`, made at `now`: the new status, the time
    /// it entered it, the reason, a higher version.
    ///
    /// # Errors
    /// [`DomainError::StatusChanged`] when the caller expected another
    /// status; [`DomainError::InvalidTransition`] when the table forbids
    /// the move.
    pub fn apply(&self, change: &StatusChange, now: DateTime<Utc>) -> Result<Self, DomainError> {
        if let Some(expected) = change.expected
            && expected != self.status
        {
            return Err(DomainError::StatusChanged {
                expected,
                actual: self.status,
            });
        }
        check_transition(self.status, change.to, change.by)?;
        let mut next = self.clone();
        next.status = change.to;
        next.version += 1;
        next.updated_at = now;
        match change.to {
            TicketStatus::Queued => {}
            TicketStatus::Accepted => next.accepted_at = Some(now),
            TicketStatus::Preparing => next.started_at = Some(now),
            TicketStatus::Ready => next.ready_at = Some(now),
            TicketStatus::PickedUp => next.picked_up_at = Some(now),
            TicketStatus::Cancelled | TicketStatus::Rejected => {
                next.reason = change.reason.as_str().to_owned();
            }
        }
        Ok(next)
    }
}

/// Longest rejection or cancellation reason, in characters.
pub const MAX_REASON: usize = foodmesh_shared::values::limits::REASON;

/// A request to move a ticket, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    to: TicketStatus,
    reason: Text<MAX_REASON>,
    expected: Option<TicketStatus>,
    by: ChangedBy,
}

impl StatusChange {
    /// A change asked for by kitchen staff; `reason` comes from
    /// [`parse_reason`], `expected` guards against someone else's change.
    pub fn by_kitchen(
        to: TicketStatus,
        reason: Text<MAX_REASON>,
        expected: Option<TicketStatus>,
    ) -> Self {
        Self {
            to,
            reason,
            expected,
            by: ChangedBy::Kitchen,
        }
    }

    /// The ticket's order was cancelled, for `reason` (cut to the longest
    /// reason kept), or for "the order was cancelled" when it gives none.
    pub fn order_cancelled(reason: &str) -> Self {
        let reason = if reason.trim().is_empty() {
            "the order was cancelled"
        } else {
            reason
        };
        Self {
            to: TicketStatus::Cancelled,
            reason: Text::truncated(reason),
            expected: None,
            by: ChangedBy::Order,
        }
    }

    /// The ticket's order left with a driver or was completed: the food is
    /// no longer at the pass.
    pub fn order_handed_over() -> Self {
        Self {
            to: TicketStatus::PickedUp,
            reason: Text::default(),
            expected: None,
            by: ChangedBy::Order,
        }
    }
}

/// A staff member's reason for moving a ticket to `to`: required to reject
/// (the customer is told), allowed when cancelling, refused otherwise.
///
/// # Errors
/// Missing for REJECTED, longer than [`MAX_REASON`], or given for a status
/// that keeps none.
pub fn parse_reason(to: TicketStatus, raw: &str) -> Result<Text<MAX_REASON>, String> {
    let reason = Text::parse(raw)?;
    match to {
        TicketStatus::Rejected if reason.is_empty() => {
            Err("is required to reject a ticket".to_owned())
        }
        TicketStatus::Rejected | TicketStatus::Cancelled => Ok(reason),
        _ if reason.is_empty() => Ok(reason),
        other => Err(format!("is kept only for REJECTED, not {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TicketStatus::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    fn ticket(status: TicketStatus) -> Ticket {
        Ticket {
            id: 1,
            order_id: 10,
            order_number: "ABC234".to_owned(),
            restaurant_id: 3,
            status,
            fulfilment: Fulfilment::Pickup,
            items: Vec::new(),
            notes: String::new(),
            reason: String::new(),
            ready_by: at(900),
            created_at: at(0),
            accepted_at: None,
            started_at: None,
            ready_at: None,
            picked_up_at: None,
            updated_at: at(0),
            version: 1,
        }
    }

    fn kitchen(to: TicketStatus) -> StatusChange {
        StatusChange::by_kitchen(to, Text::default(), None)
    }

    #[test]
    fn the_kitchen_may_make_exactly_the_moves_of_the_table() {
        let allowed = [
            (Queued, Accepted),
            (Queued, Preparing),
            (Accepted, Preparing),
            (Preparing, Ready),
            (Ready, PickedUp),
            (Queued, Rejected),
            (Accepted, Rejected),
        ];
        for from in TicketStatus::ALL {
            for to in TicketStatus::ALL {
                let result = check_transition(from, to, ChangedBy::Kitchen);
                assert_eq!(
                    result.is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn the_order_may_cancel_any_open_ticket_and_hand_over_a_ready_one() {
        let allowed = [
            (Queued, Cancelled),
            (Accepted, Cancelled),
            (Preparing, Cancelled),
            (Ready, Cancelled),
            (Ready, PickedUp),
        ];
        for from in TicketStatus::ALL {
            for to in TicketStatus::ALL {
                let result = check_transition(from, to, ChangedBy::Order);
                assert_eq!(
                    result.is_ok(),
                    allowed.contains(&(from, to)),
                    "{from} → {to}"
                );
            }
        }
    }

    #[test]
    fn a_refused_move_names_both_statuses() {
        let Err(DomainError::InvalidTransition { from, to }) =
            check_transition(PickedUp, Cancelled, ChangedBy::Order)
        else {
            panic!("picked-up tickets cannot be cancelled");
        };
        assert_eq!((from, to), (PickedUp, Cancelled));
    }

    #[test]
    fn each_move_records_when_the_ticket_entered_its_status() {
        let queued = ticket(Queued);
        let accepted = queued.apply(&kitchen(Accepted), at(10)).expect("accept");
        let preparing = accepted.apply(&kitchen(Preparing), at(20)).expect("start");
        let ready = preparing.apply(&kitchen(Ready), at(320)).expect("ready");
        let gone = ready.apply(&kitchen(PickedUp), at(400)).expect("pick up");

        assert_eq!(gone.accepted_at, Some(at(10)));
        assert_eq!(gone.started_at, Some(at(20)));
        assert_eq!(gone.ready_at, Some(at(320)));
        assert_eq!(gone.picked_up_at, Some(at(400)));
        assert_eq!(gone.updated_at, at(400));
        assert_eq!(gone.version, 5);
        assert_eq!(gone.preparation_seconds(), Some(300));
        assert_eq!(preparing.preparation_seconds(), None);
    }

    #[test]
    fn a_busy_kitchen_may_skip_accepting() {
        let preparing = ticket(Queued)
            .apply(&kitchen(Preparing), at(5))
            .expect("start at once");
        assert_eq!(preparing.accepted_at, None);
        assert_eq!(preparing.started_at, Some(at(5)));
    }

    #[test]
    fn preparation_time_is_never_negative() {
        let mut skewed = ticket(Ready);
        skewed.started_at = Some(at(100));
        skewed.ready_at = Some(at(90));
        assert_eq!(skewed.preparation_seconds(), Some(0));
    }

    #[test]
    fn an_expected_status_that_no_longer_holds_refuses_the_change() {
        let change = StatusChange::by_kitchen(Rejected, Text::truncated("no gas"), Some(Queued));
        let Err(DomainError::StatusChanged { expected, actual }) =
            ticket(Accepted).apply(&change, at(1))
        else {
            panic!("someone else moved it");
        };
        assert_eq!((expected, actual), (Queued, Accepted));
    }

    #[test]
    fn rejection_and_cancellation_keep_their_reason() {
        let reason = parse_reason(Rejected, " out of dough ").expect("reason");
        let rejected = ticket(Queued)
            .apply(&StatusChange::by_kitchen(Rejected, reason, None), at(1))
            .expect("reject");
        assert_eq!(rejected.reason, "out of dough");

        let cancelled = ticket(Preparing)
            .apply(&StatusChange::order_cancelled("customer left"), at(1))
            .expect("cancel");
        assert_eq!(cancelled.reason, "customer left");
    }

    #[test]
    fn a_reason_is_required_to_reject_and_refused_where_it_means_nothing() {
        assert!(parse_reason(Rejected, "   ").is_err());
        assert!(parse_reason(Rejected, &"x".repeat(MAX_REASON + 1)).is_err());
        assert!(parse_reason(Ready, "because").is_err());
        assert!(parse_reason(Ready, "").is_ok());
        assert!(parse_reason(Cancelled, "").is_ok());
    }

    #[test]
    fn only_table_tickets_have_a_table() {
        assert_eq!(
            Fulfilment::parse(Some(FulfilmentKind::Table), " 12 "),
            Ok(Fulfilment::Table {
                table_number: "12".to_owned()
            })
        );
        assert_eq!(
            Fulfilment::parse(Some(FulfilmentKind::Table), ""),
            Ok(Fulfilment::Table {
                table_number: String::new()
            })
        );
        assert!(Fulfilment::parse(Some(FulfilmentKind::Pickup), "12").is_err());
        assert_eq!(
            Fulfilment::parse(Some(FulfilmentKind::Delivery), ""),
            Ok(Fulfilment::Delivery)
        );
        let Err(v) = Fulfilment::parse(None, "") else {
            panic!("a fulfilment is required");
        };
        assert_eq!(
            v.to_string(),
            "fulfilment: must be TABLE, PICKUP or DELIVERY"
        );
    }
}
