//! The gRPC face of kitchen-svc. Each method turns its request into domain
//! values (naming every bad field by its path in the request), calls a use
//! case ([`crate::service`]) or the change feed, and turns the result back
//! into the contract's messages ([`crate::convert`]). Prost types go no
//! deeper than this module, the event consumer and the conversions.

use std::collections::HashMap;
use std::pin::Pin;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_shared::status;
use pb::kitchen_service_server::KitchenService;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status};

use crate::convert::{
    self, fulfilment_from_pb, stats_to_pb, status_from_pb, ticket_to_pb, update_to_pb,
};
use crate::domain::new_ticket::{ItemInput, NewTicket, Overrides, TicketInput};
use crate::domain::queue::{QueueFilter, StatsWindow};
use crate::domain::ticket::{StatusChange, TicketStatus, parse_reason};
use crate::domain::{DomainError, Finish, Page, TicketRef, Violations, both, parse_id};
use crate::service::Kitchen;
use crate::watch::ChangeFeed;

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.kitchen";

type Reply<T> = Result<Response<T>, Status>;

/// The `KitchenService` implementation.
#[derive(Debug, Clone)]
pub struct KitchenApi {
    kitchen: Kitchen,
    feed: ChangeFeed,
}

impl KitchenApi {
    /// Serves the use cases of `kitchen`, with live queues from `feed`.
    pub fn new(kitchen: Kitchen, feed: ChangeFeed) -> Self {
        Self { kitchen, feed }
    }
}

#[tonic::async_trait]
impl KitchenService for KitchenApi {
    async fn create_ticket(&self, request: Request<pb::CreateTicketRequest>) -> Reply<pb::Ticket> {
        let input = requested_ticket(request.into_inner())?;
        let new = NewTicket::parse(&input)?;
        let ticket = self.kitchen.create_ticket(&new).await?;
        Ok(Response::new(ticket_to_pb(&ticket)))
    }

    async fn get_ticket(&self, request: Request<pb::GetTicketRequest>) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let key = match (req.id, req.order_id) {
            (0, 0) => {
                v.add("id", "give the ticket's id or its order_id");
                None
            }
            (id, 0) => v.check("id", parse_id(id)).map(TicketRef::Id),
            (0, order_id) => v
                .check("order_id", parse_id(order_id))
                .map(TicketRef::Order),
            (_, _) => {
                v.add("order_id", "give either id or order_id, not both");
                None
            }
        };
        let scope = restaurant_scope(&mut v, req.restaurant_id);
        let (key, scope) = v.finish(|| Some((key?, scope?)))?;
        let ticket = self.kitchen.ticket(key, scope).await?;
        Ok(Response::new(ticket_to_pb(&ticket)))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Reply<pb::ListTicketsResponse> {
        let req = request.into_inner();
        let statuses: Vec<Option<TicketStatus>> = req
            .statuses
            .iter()
            .map(|s| status_from_pb(*s).ok())
            .collect();
        let page_request = req.page.unwrap_or_default();
        let (filter, page) = both(
            QueueFilter::parse(req.restaurant_id, &statuses),
            Page::parse(page_request.page_size, &page_request.page_token),
        )?;
        let (tickets, next) = self.kitchen.list(&filter, page).await?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets: tickets.iter().map(ticket_to_pb).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn update_ticket_status(
        &self,
        request: Request<pb::UpdateTicketStatusRequest>,
    ) -> Reply<pb::Ticket> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check("id", parse_id(req.id));
        let to = v.check("status", status_from_pb(req.status));
        let reason = to.and_then(|to| v.check("reason", parse_reason(to, &req.reason)));
        let expected = match req.expected_status {
            0 => Some(None),
            raw => v.check("expected_status", status_from_pb(raw)).map(Some),
        };
        let scope = restaurant_scope(&mut v, req.restaurant_id);
        let (id, change, scope) = v.finish(|| {
            Some((
                id?,
                StatusChange::by_kitchen(to?, reason?, expected?),
                scope?,
            ))
        })?;
        let ticket = self.kitchen.change_status(id, scope, &change).await?;
        Ok(Response::new(ticket_to_pb(&ticket)))
    }

    type WatchQueueStream = Pin<Box<dyn Stream<Item = Result<pb::TicketUpdate, Status>> + Send>>;

    async fn watch_queue(
        &self,
        request: Request<pb::WatchQueueRequest>,
    ) -> Reply<Self::WatchQueueStream> {
        let restaurant_id = parse_id(request.into_inner().restaurant_id)
            .map_err(|why| DomainError::invalid("restaurant_id", why))?;
        let updates = self
            .feed
            .watch(restaurant_id)
            .map(|update| update.map(update_to_pb).map_err(Status::from));
        Ok(Response::new(Box::pin(updates)))
    }

    async fn get_stats(&self, request: Request<pb::GetStatsRequest>) -> Reply<pb::KitchenStats> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let restaurant_id = v.check("restaurant_id", parse_id(req.restaurant_id));
        let window = v.check("window_minutes", StatsWindow::parse(req.window_minutes));
        let (restaurant_id, window) = v.finish(|| Some((restaurant_id?, window?)))?;
        let stats = self.kitchen.stats(restaurant_id, window).await?;
        Ok(Response::new(stats_to_pb(stats)))
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::TicketNotFound(_) => (Code::NotFound, R::TicketNotFound),
            E::InvalidTransition { .. } => (Code::FailedPrecondition, R::InvalidTransition),
            E::StatusChanged { .. } => (Code::Aborted, R::TicketStatusChanged),
            E::ShuttingDown => (Code::Unavailable, R::ShuttingDown),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let metadata = match &error {
            E::InvalidTransition { from, to } => HashMap::from([
                ("from".to_owned(), from.to_string()),
                ("to".to_owned(), to.to_string()),
            ]),
            E::StatusChanged { expected, actual } => HashMap::from([
                ("expected".to_owned(), expected.to_string()),
                ("actual".to_owned(), actual.to_string()),
            ]),
            _ => HashMap::new(),
        };
        let message = error.to_string();
        let fields = match error {
            E::Invalid(violations) => violations,
            _ => Violations::default(),
        };
        status::refusal(code, message, ERROR_DOMAIN, reason, metadata, &fields)
    }
}

/// The ticket a create asks for: made from its order with the fields it
/// sets over the order's ([`convert::ticket_input`], the one mapping of an
/// order to a ticket), or stated by its fields alone.
fn requested_ticket(req: pb::CreateTicketRequest) -> Result<TicketInput, DomainError> {
    let fulfilment = fulfilment_from_pb(req.fulfilment);
    let Some(order) = req.order else {
        return Ok(TicketInput {
            order_id: req.order_id,
            order_number: req.order_number.unwrap_or_default(),
            restaurant_id: req.restaurant_id,
            fulfilment: fulfilment.ok().flatten(),
            table_number: req.table_number.unwrap_or_default(),
            items: req
                .items
                .into_iter()
                .map(|item| ItemInput {
                    name: item.name,
                    quantity: item.quantity,
                    modifiers: item.modifiers,
                    special_instructions: item.special_instructions,
                })
                .collect(),
            prep_minutes: req.prep_minutes.unwrap_or_default(),
            notes: req.notes.unwrap_or_default(),
        });
    };
    let mut v = Violations::default();
    if ![0, order.id].contains(&req.order_id) {
        v.add("order_id", "must be the order's id, or 0");
    }
    if ![0, order.restaurant_id].contains(&req.restaurant_id) {
        v.add("restaurant_id", "must be the order's restaurant, or 0");
    }
    if !req.items.is_empty() {
        v.add(
            "items",
            "must be empty with an order: the ticket has its lines",
        );
    }
    let fulfilment = v.check("fulfilment", fulfilment);
    let overrides = v.finish(|| {
        Some(Overrides {
            order_number: req.order_number,
            fulfilment: fulfilment?,
            table_number: req.table_number,
            prep_minutes: req.prep_minutes,
            notes: req.notes,
        })
    })?;
    Ok(convert::ticket_input(&order, order.prep_minutes).overridden(overrides))
}

/// `restaurant_id` as an optional scope: 0 is none.
fn restaurant_scope(v: &mut Violations, raw: i64) -> Option<Option<i64>> {
    match raw {
        0 => Some(None),
        id => v.check("restaurant_id", parse_id(id)).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use foodmesh_proto::order::v1 as order;

    use super::*;
    use crate::domain::ticket::FulfilmentKind;

    fn dine_in() -> order::Order {
        order::Order {
            id: 42,
            order_number: "K7M2QX".to_owned(),
            restaurant_id: 1,
            order_type: order::OrderType::DineIn.into(),
            table_number: "12".to_owned(),
            items: vec![order::OrderLine {
                name: "Margherita".to_owned(),
                quantity: 2,
                options: vec![order::OrderLineOption {
                    name: "extra cheese".to_owned(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            prep_minutes: 20,
            ..Default::default()
        }
    }

    fn from(order: order::Order) -> pb::CreateTicketRequest {
        pb::CreateTicketRequest {
            order: Some(order),
            ..Default::default()
        }
    }

    fn violations(result: Result<TicketInput, DomainError>) -> Vec<String> {
        let Err(DomainError::Invalid(v)) = result else {
            panic!("expected violations, got {result:?}");
        };
        v.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn an_order_alone_makes_the_ticket_its_confirmation_would() {
        let input = requested_ticket(from(dine_in())).expect("valid");

        assert_eq!(input, convert::ticket_input(&dine_in(), 20));
        assert_eq!(input.fulfilment, Some(FulfilmentKind::Table));
        assert_eq!(input.table_number, "12");
        assert_eq!(input.items[0].modifiers, ["extra cheese"]);
        assert_eq!(input.prep_minutes, 20);
    }

    #[test]
    fn the_fields_set_with_an_order_override_it_and_the_others_keep_it() {
        let input = requested_ticket(pb::CreateTicketRequest {
            order_id: 42,
            restaurant_id: 1,
            fulfilment: pb::Fulfilment::Pickup.into(),
            table_number: Some(String::new()),
            notes: Some(String::new()),
            ..from(order::Order {
                notes: "ring twice".to_owned(),
                ..dine_in()
            })
        })
        .expect("valid");

        assert_eq!(input.fulfilment, Some(FulfilmentKind::Pickup));
        assert_eq!(input.table_number, "");
        assert_eq!(input.notes, "");
        assert_eq!(input.order_number, "K7M2QX");
        assert_eq!(input.prep_minutes, 20);
    }

    #[test]
    fn with_an_order_its_id_restaurant_and_lines_are_not_stated_again() {
        let result = requested_ticket(pb::CreateTicketRequest {
            order_id: 43,
            restaurant_id: 2,
            fulfilment: 42,
            items: vec![pb::TicketItem::default()],
            ..from(dine_in())
        });

        assert_eq!(
            violations(result),
            ["order_id", "restaurant_id", "items", "fulfilment"]
        );
    }
}
