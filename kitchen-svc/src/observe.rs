//! The kitchen's business metrics, for the operators' dashboard:
//!
//! - `kitchen_tickets_total{status}` — tickets entering each status
//!   (`queued` counts new tickets);
//! - `kitchen_preparation_seconds{restaurant_id}` — seconds from PREPARING
//!   to READY, recorded as each ticket becomes READY.
//!
//! A change is counted once its unit of work commits (the use cases hand
//! the count to the work), so an event applied again after its transaction
//! rolled back is counted once.

use crate::domain::ticket::{Ticket, TicketStatus};

/// Gives the metrics their help text on `/metrics`.
pub fn describe() {
    metrics::describe_counter!(
        "kitchen_tickets_total",
        "Kitchen tickets entering each status."
    );
    metrics::describe_histogram!(
        "kitchen_preparation_seconds",
        metrics::Unit::Seconds,
        "Seconds from PREPARING to READY per ticket."
    );
}

/// Counts `ticket`'s new status and, when it just became READY, records
/// how long it took to prepare.
pub fn ticket_changed(ticket: &Ticket) {
    metrics::counter!("kitchen_tickets_total", "status" => ticket.status.as_str()).increment(1);
    if ticket.status == TicketStatus::Ready
        && let (Some(started), Some(ready)) = (ticket.started_at, ticket.ready_at)
    {
        let seconds = (ready - started).to_std().unwrap_or_default().as_secs_f64();
        metrics::histogram!(
            "kitchen_preparation_seconds",
            "restaurant_id" => ticket.restaurant_id.to_string()
        )
        .record(seconds);
    }
}
