//! Domain values to contract messages and back, for the edges that speak
//! protobuf: the gRPC API, the `ticket.*` event payload, and the orders
//! order-svc sends. Written once, so a ticket reads the same on the wire
//! whichever way it leaves, and an order becomes a ticket one way whichever
//! way it arrives.

use chrono::{DateTime, Utc};
use foodmesh_proto::events::v1::TicketEvent;
use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1 as order;

use crate::domain::Text;
use crate::domain::new_ticket::{ItemInput, MAX_INSTRUCTIONS, MAX_NOTES, PrepMinutes, TicketInput};
use crate::domain::queue::{KitchenStats, QueueUpdate};
use crate::domain::ticket::{Fulfilment, FulfilmentKind, Ticket, TicketStatus};

// ----- proto → domain ------------------------------------------------------

/// A status a request names; UNSPECIFIED and unknown numbers are not one.
pub(crate) fn status_from_pb(raw: i32) -> Result<TicketStatus, String> {
    use pb::TicketStatus as P;
    match P::try_from(raw) {
        Ok(P::Queued) => Ok(TicketStatus::Queued),
        Ok(P::Accepted) => Ok(TicketStatus::Accepted),
        Ok(P::Preparing) => Ok(TicketStatus::Preparing),
        Ok(P::Ready) => Ok(TicketStatus::Ready),
        Ok(P::PickedUp) => Ok(TicketStatus::PickedUp),
        Ok(P::Cancelled) => Ok(TicketStatus::Cancelled),
        Ok(P::Rejected) => Ok(TicketStatus::Rejected),
        Ok(P::Unspecified) | Err(_) => Err("must be a ticket status".to_owned()),
    }
}

/// A fulfilment a request names: `Ok(None)` for UNSPECIFIED.
pub(crate) fn fulfilment_from_pb(raw: i32) -> Result<Option<FulfilmentKind>, String> {
    use pb::Fulfilment as P;
    match P::try_from(raw) {
        Ok(P::Table) => Ok(Some(FulfilmentKind::Table)),
        Ok(P::Pickup) => Ok(Some(FulfilmentKind::Pickup)),
        Ok(P::Delivery) => Ok(Some(FulfilmentKind::Delivery)),
        Ok(P::Unspecified) => Ok(None),
        Err(_) => Err("must be TABLE, PICKUP or DELIVERY".to_owned()),
    }
}

// ----- domain → proto ------------------------------------------------------

fn time_to_pb(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(foodmesh_shared::timestamp::to_pb(at))
}

fn status_to_pb(status: TicketStatus) -> pb::TicketStatus {
    use pb::TicketStatus as P;
    match status {
        TicketStatus::Queued => P::Queued,
        TicketStatus::Accepted => P::Accepted,
        TicketStatus::Preparing => P::Preparing,
        TicketStatus::Ready => P::Ready,
        TicketStatus::PickedUp => P::PickedUp,
        TicketStatus::Cancelled => P::Cancelled,
        TicketStatus::Rejected => P::Rejected,
    }
}

fn fulfilment_to_pb(fulfilment: &Fulfilment) -> pb::Fulfilment {
    match fulfilment.kind() {
        FulfilmentKind::Table => pb::Fulfilment::Table,
        FulfilmentKind::Pickup => pb::Fulfilment::Pickup,
        FulfilmentKind::Delivery => pb::Fulfilment::Delivery,
    }
}

/// A ticket as the contract shows it: in replies, updates and events.
pub(crate) fn ticket_to_pb(t: &Ticket) -> pb::Ticket {
    pb::Ticket {
        id: t.id,
        order_id: t.order_id,
        order_number: t.order_number.clone(),
        restaurant_id: t.restaurant_id,
        status: status_to_pb(t.status).into(),
        fulfilment: fulfilment_to_pb(&t.fulfilment).into(),
        table_number: t.fulfilment.table_number().to_owned(),
        items: t
            .items
            .iter()
            .map(|item| pb::TicketItem {
                name: item.name.clone(),
                quantity: item.quantity,
                modifiers: item.modifiers.clone(),
                special_instructions: item.special_instructions.clone(),
            })
            .collect(),
        reason: t.reason.clone(),
        ready_by: time_to_pb(t.ready_by),
        created_at: time_to_pb(t.created_at),
        started_at: t.started_at.and_then(time_to_pb),
        ready_at: t.ready_at.and_then(time_to_pb),
        preparation_seconds: t.preparation_seconds().unwrap_or(0),
        notes: t.notes.clone(),
        updated_at: time_to_pb(t.updated_at),
        accepted_at: t.accepted_at.and_then(time_to_pb),
        picked_up_at: t.picked_up_at.and_then(time_to_pb),
        version: t.version,
    }
}

pub(crate) fn update_to_pb(update: QueueUpdate) -> pb::TicketUpdate {
    let (ticket, kind) = match update {
        QueueUpdate::Snapshot(t) => (Some(t), pb::TicketUpdateKind::Snapshot),
        QueueUpdate::Synced => (None, pb::TicketUpdateKind::Synced),
        QueueUpdate::Changed(t) => (Some(t), pb::TicketUpdateKind::Changed),
    };
    pb::TicketUpdate {
        ticket: ticket.as_ref().map(ticket_to_pb),
        kind: kind.into(),
    }
}

pub(crate) fn stats_to_pb(s: KitchenStats) -> pb::KitchenStats {
    pb::KitchenStats {
        queued: s.queued,
        in_progress: s.preparing,
        avg_preparation_seconds: s.preparation.avg_seconds,
        accepted: s.accepted,
        ready: s.ready,
        p90_preparation_seconds: s.preparation.p90_seconds,
        prepared: s.preparation.count,
        window_minutes: s.window_minutes,
        avg_wait_seconds: s.preparation.avg_wait_seconds,
        overdue: s.overdue,
    }
}

/// The payload of every `ticket.*` event: the ticket after its change.
pub(crate) fn ticket_event(ticket: &Ticket) -> TicketEvent {
    TicketEvent {
        ticket: Some(ticket_to_pb(ticket)),
    }
}

// ----- order → ticket -----------------------------------------------------

/// What the kitchen needs of an order: the one mapping, for an
/// `order.confirmed` event and for an order received by hand alike. Only a
/// dine-in order keeps its table; free text the order already accepted is
/// cut to the kitchen's limits rather than refused; an estimate beyond the
/// maximum is capped.
pub(crate) fn ticket_input(order: &order::Order, prep_minutes: u32) -> TicketInput {
    let order_type = order::OrderType::try_from(order.order_type).ok();
    let fulfilment = match order_type {
        Some(order::OrderType::DineIn) => Some(FulfilmentKind::Table),
        Some(order::OrderType::Takeout) => Some(FulfilmentKind::Pickup),
        Some(order::OrderType::Delivery) => Some(FulfilmentKind::Delivery),
        Some(order::OrderType::Unspecified) | None => None,
    };
    let table_number = if fulfilment == Some(FulfilmentKind::Table) {
        order.table_number.clone()
    } else {
        String::new()
    };
    TicketInput {
        order_id: order.id,
        order_number: order.order_number.clone(),
        restaurant_id: order.restaurant_id,
        fulfilment,
        table_number,
        items: order
            .items
            .iter()
            .map(|line| ItemInput {
                name: line.name.clone(),
                quantity: line.quantity,
                modifiers: line.options.iter().map(|o| o.name.clone()).collect(),
                special_instructions: Text::<MAX_INSTRUCTIONS>::truncated(
                    &line.special_instructions,
                )
                .as_str()
                .to_owned(),
            })
            .collect(),
        prep_minutes: PrepMinutes::clamped(prep_minutes).get(),
        notes: Text::<MAX_NOTES>::truncated(&order.notes)
            .as_str()
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::new_ticket::NewTicket;

    fn order(order_type: order::OrderType) -> order::Order {
        order::Order {
            id: 9,
            order_number: "H4K7PZ".to_owned(),
            restaurant_id: 2,
            order_type: order_type.into(),
            table_number: "7".to_owned(),
            notes: "n".repeat(MAX_NOTES + 10),
            items: vec![order::OrderLine {
                name: "Pad thai".to_owned(),
                quantity: 2,
                options: vec![order::OrderLineOption {
                    option_id: 1,
                    name: "extra peanuts".to_owned(),
                    price_delta: None,
                }],
                special_instructions: "mild".to_owned(),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn an_order_becomes_a_ticket_with_its_options_as_modifiers() {
        let input = ticket_input(&order(order::OrderType::DineIn), 0);
        let ticket = NewTicket::parse(&input).expect("valid");
        assert_eq!(ticket.fulfilment.table_number(), "7");
        assert_eq!(ticket.items[0].modifiers[0].as_str(), "extra peanuts");
        assert_eq!(ticket.items[0].special_instructions.as_str(), "mild");
        assert_eq!(ticket.notes.as_str().chars().count(), MAX_NOTES);
        assert_eq!(ticket.prep.get(), PrepMinutes::DEFAULT);
    }

    #[test]
    fn only_dine_in_orders_keep_their_table() {
        let input = ticket_input(&order(order::OrderType::Takeout), 20);
        assert_eq!(input.fulfilment, Some(FulfilmentKind::Pickup));
        assert_eq!(input.table_number, "");
        assert_eq!(input.prep_minutes, 20);
        assert!(NewTicket::parse(&input).is_ok());
    }

    #[test]
    fn an_order_without_a_type_is_refused() {
        let input = ticket_input(&order(order::OrderType::Unspecified), 99_999);
        assert_eq!(input.prep_minutes, PrepMinutes::MAX);
        assert!(NewTicket::parse(&input).is_err());
    }
}
