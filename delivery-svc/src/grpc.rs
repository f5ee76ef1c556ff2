//! The gRPC face of delivery-svc. Each method turns its request into
//! domain values (naming every bad field by its path in the request),
//! calls a use case ([`crate::service`]) and turns the result back into
//! the contract's messages ([`crate::convert`]).

use std::collections::HashMap;
use std::pin::Pin;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_shared::status;
use foodmesh_shared::values::Location;
use pb::delivery_service_server::DeliveryService;
use tokio_stream::{Stream, StreamExt};
use tonic::{Code, Request, Response, Status};

use crate::convert;
use crate::domain::delivery::DeliveryStatus;
use crate::domain::driver::NewDriver;
use crate::domain::{DomainError, Page, Violations};
use crate::service::Deliveries;
use crate::service::moves::Mover;
use crate::service::reads::Tracked;
use crate::store::DeliveryFilter;
use crate::watch::ChangeFeed;

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.delivery";

type Reply<T> = Result<Response<T>, Status>;

/// The `DeliveryService` implementation.
#[derive(Debug, Clone)]
pub struct DeliveryApi {
    deliveries: Deliveries,
    feed: ChangeFeed,
}

impl DeliveryApi {
    /// Serves the use cases of `deliveries`, with live tracking from
    /// `feed`.
    pub fn new(deliveries: Deliveries, feed: ChangeFeed) -> Self {
        Self { deliveries, feed }
    }
}

/// What the public sees of a delivery, as the contract shows it.
fn tracked(t: Tracked) -> pb::Delivery {
    let mut out = convert::delivery(&t.delivery);
    out.driver_first_name = t.driver_first_name.unwrap_or_default();
    if let Some((point, at)) = t.driver_position {
        out.driver_location = Some(convert::geo(point));
        out.driver_seen_at = Some(convert::timestamp(at));
    }
    out
}

fn tracking_id(raw: &str) -> Result<String, DomainError> {
    let id = raw.trim();
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(DomainError::invalid("tracking_id", "is not a tracking id"));
    }
    Ok(id.to_owned())
}

fn positive(field: &str, id: i64) -> Result<i64, DomainError> {
    if id > 0 {
        Ok(id)
    } else {
        Err(DomainError::invalid(field, "must be positive"))
    }
}

/// `kind:id` of the actor, as the history records it.
fn actor_of(actor: Option<&common::Actor>) -> String {
    match actor {
        Some(a) if !a.id.is_empty() => {
            let kind = a.kind().as_str_name();
            let kind = kind.strip_prefix("ACTOR_KIND_").unwrap_or(kind);
            format!("{}:{}", kind.to_ascii_lowercase(), a.id)
        }
        _ => "system".to_owned(),
    }
}

fn page_of(page: Option<common::PageRequest>) -> Result<Page, DomainError> {
    let page = page.unwrap_or_default();
    Page::parse(page.page_size, &page.page_token).map_err(DomainError::Invalid)
}

fn location_of(field: &str, point: Option<&common::GeoPoint>) -> Result<Location, DomainError> {
    let point = point.ok_or_else(|| DomainError::invalid(field, "is required"))?;
    Location::parse(convert::coordinates(point))
        .and_then(crate::domain::driver::trackable)
        .map_err(|found| {
            let mut v = Violations::default();
            v.nested(field, Err::<(), _>(found));
            DomainError::Invalid(v)
        })
}

#[tonic::async_trait]
impl DeliveryService for DeliveryApi {
    async fn create_delivery(
        &self,
        request: Request<pb::CreateDeliveryRequest>,
    ) -> Reply<pb::Delivery> {
        let req = request.into_inner();
        let order = req
            .order
            .ok_or_else(|| DomainError::invalid("order", "is required"))?;
        use foodmesh_proto::order::v1::OrderStatus as O;
        // Past READY the food has left with someone: a delivery opened
        // now could never be picked up.
        let waiting = [O::Confirmed, O::Preparing, O::Ready].map(|s| s as i32);
        let new = convert::delivery_of_order(&order, self.deliveries.now())
            .filter(|_| waiting.contains(&order.status))
            .ok_or_else(|| {
                DomainError::invalid(
                    "order_id",
                    "must be a delivery order that is confirmed, preparing or ready",
                )
            })?;
        let ready = order.status == O::Ready as i32;
        let delivery = self.deliveries.open_by_hand(&new, ready).await?;
        Ok(Response::new(convert::delivery(&delivery)))
    }

    async fn get_delivery(&self, request: Request<pb::GetDeliveryRequest>) -> Reply<pb::Delivery> {
        let req = request.into_inner();
        let id = positive("id", req.id)?;
        let as_driver = Some(req.as_driver_id).filter(|d| *d > 0);
        let delivery = self.deliveries.delivery(id, as_driver).await?;
        Ok(Response::new(convert::delivery(&delivery)))
    }

    async fn get_delivery_history(
        &self,
        request: Request<pb::GetDeliveryRequest>,
    ) -> Reply<pb::GetDeliveryHistoryResponse> {
        let req = request.into_inner();
        let id = positive("id", req.id)?;
        let as_driver = Some(req.as_driver_id).filter(|d| *d > 0);
        let moves = self.deliveries.history(id, as_driver).await?;
        Ok(Response::new(pb::GetDeliveryHistoryResponse {
            moves: moves
                .iter()
                .map(|m| pb::DeliveryMove {
                    from: m.from.map_or(0, |s| convert::status_to_pb(s) as i32),
                    to: convert::status_to_pb(m.to) as i32,
                    actor: m.actor.clone(),
                    reason: m.reason.clone(),
                    at: Some(convert::timestamp(m.at)),
                })
                .collect(),
        }))
    }

    async fn list_deliveries(
        &self,
        request: Request<pb::ListDeliveriesRequest>,
    ) -> Reply<pb::ListDeliveriesResponse> {
        let req = request.into_inner();
        let status = match req.status {
            0 => None,
            raw => Some(
                convert::status_from_pb(raw)
                    .ok_or_else(|| DomainError::invalid("status", "is not a delivery status"))?,
            ),
        };
        let filter = DeliveryFilter {
            order_id: req.order_id,
            restaurant_id: req.restaurant_id,
            status,
            driver_id: req.driver_id,
        };
        let (found, next) = self
            .deliveries
            .deliveries(&filter, page_of(req.page)?)
            .await?;
        Ok(Response::new(pb::ListDeliveriesResponse {
            deliveries: found.iter().map(convert::delivery).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn assign_driver(
        &self,
        request: Request<pb::AssignDriverRequest>,
    ) -> Reply<pb::Delivery> {
        let req = request.into_inner();
        let id = positive("delivery_id", req.delivery_id)?;
        let delivery = match req.driver_id {
            0 => self
                .deliveries
                .assign_nearest(id)
                .await?
                .ok_or(DomainError::NoDriverFree)?,
            driver => {
                let driver = positive("driver_id", driver)?;
                self.deliveries
                    .assign(id, driver, &actor_of(req.actor.as_ref()))
                    .await?
            }
        };
        Ok(Response::new(convert::delivery(&delivery)))
    }

    async fn update_delivery_status(
        &self,
        request: Request<pb::UpdateDeliveryStatusRequest>,
    ) -> Reply<pb::Delivery> {
        let req = request.into_inner();
        let id = positive("id", req.id)?;
        let to = convert::status_from_pb(req.status)
            .filter(|s| {
                matches!(
                    s,
                    DeliveryStatus::PickedUp | DeliveryStatus::Delivered | DeliveryStatus::Failed
                )
            })
            .ok_or_else(|| {
                DomainError::invalid("status", "must be picked_up, delivered or failed")
            })?;
        let mover = Mover {
            actor: actor_of(req.actor.as_ref()),
            as_driver: Some(req.as_driver_id).filter(|d| *d > 0),
        };
        let moved = self
            .deliveries
            .move_delivery(id, to, &req.reason, &mover)
            .await?;
        Ok(Response::new(convert::delivery(&moved)))
    }

    async fn track_delivery(
        &self,
        request: Request<pb::TrackDeliveryRequest>,
    ) -> Reply<pb::Delivery> {
        let id = tracking_id(&request.into_inner().tracking_id)?;
        let found = self.deliveries.track(&id).await?;
        Ok(Response::new(tracked(found)))
    }

    type WatchDeliveryStream = Pin<Box<dyn Stream<Item = Result<pb::Delivery, Status>> + Send>>;

    async fn watch_delivery(
        &self,
        request: Request<pb::TrackDeliveryRequest>,
    ) -> Reply<Self::WatchDeliveryStream> {
        let id = tracking_id(&request.into_inner().tracking_id)?;
        // Refused at once when there is no such delivery, rather than as
        // the stream's first message.
        self.deliveries.track(&id).await?;
        let updates = self
            .feed
            .watch(id)
            .map(|update| update.map(tracked).map_err(Status::from));
        Ok(Response::new(Box::pin(updates)))
    }

    async fn create_driver(&self, request: Request<pb::CreateDriverRequest>) -> Reply<pb::Driver> {
        let req = request.into_inner();
        let new = NewDriver::parse(
            &req.name,
            &req.phone,
            &req.vehicle,
            req.location.as_ref().map(convert::coordinates),
        )?;
        let driver = self.deliveries.add_driver(&new).await?;
        Ok(Response::new(convert::driver(&driver)))
    }

    async fn get_driver(&self, request: Request<pb::GetDriverRequest>) -> Reply<pb::Driver> {
        let id = positive("id", request.into_inner().id)?;
        let driver = self.deliveries.driver(id).await?;
        Ok(Response::new(convert::driver(&driver)))
    }

    async fn list_drivers(
        &self,
        request: Request<pb::ListDriversRequest>,
    ) -> Reply<pb::ListDriversResponse> {
        let req = request.into_inner();
        let (found, next) = self
            .deliveries
            .drivers(req.available_only, page_of(req.page)?)
            .await?;
        Ok(Response::new(pb::ListDriversResponse {
            drivers: found.iter().map(convert::driver).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn update_driver(&self, request: Request<pb::UpdateDriverRequest>) -> Reply<pb::Driver> {
        let req = request.into_inner();
        let id = positive("driver_id", req.driver_id)?;
        let driver = match req.available {
            Some(available) => self.deliveries.set_available(id, available).await?,
            None => self.deliveries.driver(id).await?,
        };
        Ok(Response::new(convert::driver(&driver)))
    }

    async fn update_driver_location(
        &self,
        request: Request<pb::UpdateDriverLocationRequest>,
    ) -> Reply<pb::UpdateDriverLocationResponse> {
        let req = request.into_inner();
        let id = positive("driver_id", req.driver_id)?;
        let location = location_of("location", req.location.as_ref())?;
        let at = self.deliveries.now();
        self.deliveries.report_location(id, location, at).await?;
        Ok(Response::new(pb::UpdateDriverLocationResponse {
            accepted_at: Some(convert::timestamp(at)),
        }))
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::DriverNotFound(_) => (Code::NotFound, R::DriverNotFound),
            E::DeliveryNotFound(_) => (Code::NotFound, R::DeliveryNotFound),
            E::PhoneTaken => (Code::AlreadyExists, R::PhoneTaken),
            E::InvalidTransition { .. } => (Code::FailedPrecondition, R::InvalidTransition),
            E::DriverBusy(_) | E::NoDriverFree => (Code::FailedPrecondition, R::DriverBusy),
            E::FoodNotReady(_) => (Code::FailedPrecondition, R::FoodNotReady),
            E::ShuttingDown => (Code::Unavailable, R::ShuttingDown),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let metadata = match &error {
            E::InvalidTransition { from, to } => HashMap::from([
                ("from".to_owned(), from.to_string()),
                ("to".to_owned(), to.to_string()),
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
