//! The gRPC face of order-svc. Each method turns its request into domain
//! values (naming every bad field by its path in the request), calls the
//! use case, and turns the result back into the contract's messages. Prost
//! types go no deeper than this module, [`crate::convert`] and
//! [`crate::events`].

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::status;
use foodmesh_shared::values::limits;
use futures::{Stream, StreamExt};
use pb::order_service_server::OrderService;
use prost::Message;
use tonic::{Code, Request, Response, Status};

use crate::convert::{self, address_from_pb, time_from_pb};
use crate::domain::customer::{CustomerPatch, parse_saved_addresses};
use crate::domain::lifecycle;
use crate::domain::number::{self, OrderNumber, TokenHash};
use crate::domain::order::{
    self as order_domain, Actor, CustomerRef, Fulfilment, GuestContact, ItemEdit, LineInput,
    NewOrder, OrderFilter, OrderSource, OrderStatus, OrderType, check_line_count,
};
use crate::domain::{
    Coordinates, CouponCode, DateRange, DomainError, Email, Finish, IdempotencyKey, Name, Page,
    Phone, Text, Violations,
};
use crate::service::{Caller, Idempotency, Orders, ReorderChoices};
use crate::watch::{ChangeFeed, Update, UpdateKind};

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.order";

type Reply<T> = Result<Response<T>, Status>;

/// The `OrderService` implementation.
#[derive(Debug, Clone)]
pub struct OrderApi {
    orders: Orders,
    feed: ChangeFeed,
}

impl OrderApi {
    /// Serves the use cases of `orders`, and live updates from `feed`.
    pub fn new(orders: Orders, feed: ChangeFeed) -> Self {
        Self { orders, feed }
    }

    fn cancel_window(&self) -> Duration {
        self.orders.config().cancel_window
    }

    fn view(&self, order: &order_domain::Order) -> pb::Order {
        order_view(order, self.cancel_window())
    }
}

#[tonic::async_trait]
impl OrderService for OrderApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Reply<pb::CreateOrderResponse> {
        let req = request.into_inner();
        let fingerprint = {
            let mut body = req.clone();
            body.idempotency_key.clear();
            body.actor = None;
            number::fingerprint(&body.encode_to_vec())
        };
        let mut v = Violations::default();
        if req.restaurant_id <= 0 {
            v.add("restaurant_id", "is required");
        }
        let customer = match &req.customer {
            None => {
                v.add("customer", "is required: a customer_id or a guest");
                None
            }
            Some(pb::create_order_request::Customer::CustomerId(id)) => {
                v.check("customer_id", CustomerRef::registered(*id))
            }
            Some(pb::create_order_request::Customer::Guest(g)) => v
                .nested("guest", GuestContact::parse(&g.name, &g.phone, &g.email))
                .map(CustomerRef::Guest),
            Some(pb::create_order_request::Customer::WalkIn(true)) => Some(CustomerRef::WalkIn),
            Some(pb::create_order_request::Customer::WalkIn(false)) => {
                v.add("walk_in", "is true when given");
                None
            }
        };
        let order_type = v.check("order_type", convert::order_type_from_pb(req.order_type));
        let address = req.delivery_address.as_ref().map(address_from_pb);
        let location = req.delivery_location.as_ref().map(|at| Coordinates {
            latitude: at.latitude,
            longitude: at.longitude,
        });
        let fulfilment = order_type.and_then(|kind| {
            v.merge(Fulfilment::parse(
                kind,
                &req.table_number,
                address.as_ref(),
                location,
            ))
        });
        if customer == Some(CustomerRef::WalkIn)
            && fulfilment
                .as_ref()
                .is_some_and(|f| f.order_type() == OrderType::Delivery)
        {
            v.add(
                "walk_in",
                "is for dine-in and takeout; a delivery needs a customer to deliver to",
            );
        }
        let source = v.check("source", convert::source_from_pb(req.source));
        let lines = parse_lines(&mut v, &req.items);
        let coupon_code = optional_coupon(&mut v, &req.coupon_code);
        let payment_method = v.check(
            "payment_method",
            convert::payment_from_pb(req.payment_method),
        );
        let notes = v.check("notes", Text::parse(&req.notes));
        let key = optional_key(&mut v, &req.idempotency_key);
        let actor = req.actor.as_ref().map(|a| parse_actor(&mut v, a));
        let new = v.finish(|| {
            Some(NewOrder {
                restaurant_id: req.restaurant_id,
                customer: customer?,
                fulfilment: fulfilment?,
                source: source?.unwrap_or(OrderSource::Web),
                lines: lines?,
                coupon_code: coupon_code?,
                payment_method: payment_method?,
                notes: notes?,
            })
        })?;
        let actor = actor.flatten();
        let idempotency = key.flatten().map(|key| Idempotency {
            scope: new.idempotency_scope(
                &actor
                    .clone()
                    .unwrap_or_else(|| new.customer.default_actor()),
            ),
            key,
            fingerprint,
        });
        let created = self.orders.create(new, actor, idempotency).await?;
        Ok(Response::new(created_to_pb(created, self.cancel_window())))
    }

    async fn quote_order(&self, request: Request<pb::QuoteOrderRequest>) -> Reply<pb::Quote> {
        let req = request.into_inner();
        let mut v = Violations::default();
        if req.restaurant_id <= 0 {
            v.add("restaurant_id", "is required");
        }
        let order_type = v.check("order_type", convert::order_type_from_pb(req.order_type));
        let lines = parse_lines(&mut v, &req.items);
        let coupon_code = optional_coupon(&mut v, &req.coupon_code);
        let (order_type, lines, coupon_code) = v.finish(|| {
            Some((
                order_type?.unwrap_or(OrderType::Takeout),
                lines?,
                coupon_code?,
            ))
        })?;
        let quote = self
            .orders
            .quote(req.restaurant_id, order_type, &lines, coupon_code.as_ref())
            .await?;
        Ok(Response::new(convert::quote_to_pb(&quote)))
    }

    async fn reorder(
        &self,
        request: Request<pb::ReorderRequest>,
    ) -> Reply<pb::CreateOrderResponse> {
        let req = request.into_inner();
        let fingerprint = {
            let mut body = req.clone();
            body.idempotency_key.clear();
            body.actor = None;
            body.access_token.clear();
            let mut bytes = b"reorder:".to_vec();
            bytes.extend(body.encode_to_vec());
            number::fingerprint(&bytes)
        };
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        let key = optional_key(&mut v, &req.idempotency_key);
        let actor = req.actor.as_ref().map(|a| parse_actor(&mut v, a));
        let source = v.check("source", convert::source_from_pb(req.source));
        let payment_method = v.check(
            "payment_method",
            convert::payment_from_pb(req.payment_method),
        );
        let coupon_code = optional_coupon(&mut v, &req.coupon_code);
        let choices = v.finish(|| {
            Some(ReorderChoices {
                source: source?,
                payment_method: payment_method?,
                coupon_code: coupon_code?,
            })
        })?;
        let actor = actor.flatten();
        let token = token(&req.access_token);
        let caller = Caller {
            actor: actor.as_ref(),
            token: token.as_ref(),
        };
        let anonymous = actor.as_ref().is_none_or(Actor::is_anonymous);
        let idempotency = match (key.flatten(), &actor) {
            (Some(key), Some(actor)) if !anonymous => Some(Idempotency {
                scope: actor.scope(),
                key,
                fingerprint,
            }),
            // Without a named actor the scope is the earlier order's
            // customer: a guest's order is theirs alone.
            (Some(key), _) => {
                let earlier = self.orders.get(req.order_id, caller).await?;
                let customer = if earlier.guest {
                    format!("GUEST:order:{}", earlier.id)
                } else {
                    format!("CUSTOMER:{}", earlier.customer_id)
                };
                Some(Idempotency {
                    scope: customer,
                    key,
                    fingerprint,
                })
            }
            (None, _) => None,
        };
        let created = self
            .orders
            .reorder(req.order_id, caller, choices, idempotency)
            .await?;
        Ok(Response::new(created_to_pb(created, self.cancel_window())))
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "id", req.id);
        v.finish(|| Some(()))?;
        let token = token(&req.access_token);
        let caller = Caller {
            actor: None,
            token: token.as_ref(),
        };
        let order = self.orders.get(req.id, caller).await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Reply<pb::ListOrdersResponse> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let page_request = req.page.unwrap_or_default();
        let page = v.merge(Page::parse(
            page_request.page_size,
            &page_request.page_token,
        ));
        let mut statuses = Vec::with_capacity(req.statuses.len());
        for (i, raw) in req.statuses.iter().enumerate() {
            match convert::status_from_pb(*raw) {
                Some(status) => statuses.push(status),
                None => v.add(
                    format_args!("statuses[{i}]"),
                    "must be a known order status",
                ),
            }
        }
        let mut order_types = Vec::with_capacity(req.order_types.len());
        for (i, raw) in req.order_types.iter().enumerate() {
            match convert::order_type_from_pb(*raw) {
                Ok(Some(kind)) => order_types.push(kind),
                _ => v.add(
                    format_args!("order_types[{i}]"),
                    "must be a known order type",
                ),
            }
        }
        let order_number = match req.order_number.trim() {
            "" => None,
            raw => v.check("order_number", OrderNumber::parse(raw)),
        };
        if req.restaurant_id < 0 {
            v.add("restaurant_id", "must be a restaurant id, or 0 for any");
        }
        let from = req
            .created_from
            .and_then(|at| v.check("created_from", time_from_pb(at)));
        let to = req
            .created_to
            .and_then(|at| v.check("created_to", time_from_pb(at)));
        let created = v.check("created_to", DateRange::parse(from, to));
        let (filter, page) = v.finish(|| {
            Some((
                OrderFilter {
                    statuses,
                    restaurant_id: (req.restaurant_id != 0).then_some(req.restaurant_id),
                    customer_id: (req.customer_id != 0).then_some(req.customer_id),
                    created: created?,
                    order_types,
                    order_number,
                },
                page?,
            ))
        })?;
        let (orders, next) = self.orders.list(&filter, page).await?;
        Ok(Response::new(pb::ListOrdersResponse {
            orders: orders.iter().map(|o| self.view(o)).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn update_order_status(
        &self,
        request: Request<pb::UpdateOrderStatusRequest>,
    ) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "id", req.id);
        let to = convert::status_from_pb(req.status);
        if to.is_none() {
            v.add("status", "must be an order status");
        }
        let reason = v.check("reason", Text::<{ limits::REASON }>::parse(&req.reason));
        let actor = required_actor(&mut v, req.actor.as_ref());
        let (to, reason, actor) = v.finish(|| Some((to?, reason?, actor?)))?;
        let order = self
            .orders
            .change_status(req.id, to, &actor, reason.as_str(), None)
            .await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn cancel_order(&self, request: Request<pb::CancelOrderRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "id", req.id);
        let reason = v.check("reason", Text::<{ limits::REASON }>::parse(&req.reason));
        let actor = required_actor(&mut v, req.actor.as_ref());
        let (reason, actor) = v.finish(|| Some((reason?, actor?)))?;
        let token = token(&req.access_token);
        let order = self
            .orders
            .change_status(
                req.id,
                OrderStatus::Cancelled,
                &actor,
                reason.as_str(),
                token.as_ref(),
            )
            .await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn add_item(&self, request: Request<pb::AddItemRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        let line = match &req.item {
            Some(item) => v.nested("item", parse_line(item)),
            None => {
                v.add("item", "is required");
                None
            }
        };
        let line = v.finish(|| line)?;
        let token = token(&req.access_token);
        let order = self
            .orders
            .edit_items(req.order_id, &ItemEdit::Add(line), token.as_ref())
            .await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn update_item(&self, request: Request<pb::UpdateItemRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        check_id(&mut v, "line_id", req.line_id);
        let quantity = v.check_opt("quantity", req.quantity.map(order_domain::parse_quantity));
        let special_instructions = v.check_opt(
            "special_instructions",
            req.special_instructions.as_deref().map(Text::parse),
        );
        if !req.option_ids.is_empty() && !req.replace_options {
            v.add("replace_options", "must be true to change option_ids");
        }
        let option_ids = if req.replace_options {
            order_domain::check_options(&mut v, &req.option_ids)
        } else {
            None
        };
        if req.stated_unit_price_minor.is_some_and(|p| p < 0) {
            v.add("stated_unit_price_minor", "must not be negative");
        }
        let edit = v.finish(|| {
            Some(ItemEdit::Update {
                line_id: req.line_id,
                quantity,
                special_instructions,
                option_ids,
                stated_unit_price_minor: req.stated_unit_price_minor,
            })
        })?;
        let token = token(&req.access_token);
        let order = self
            .orders
            .edit_items(req.order_id, &edit, token.as_ref())
            .await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn remove_item(&self, request: Request<pb::RemoveItemRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        check_id(&mut v, "line_id", req.line_id);
        v.finish(|| Some(()))?;
        let token = token(&req.access_token);
        let edit = ItemEdit::Remove {
            line_id: req.line_id,
        };
        let order = self
            .orders
            .edit_items(req.order_id, &edit, token.as_ref())
            .await?;
        Ok(Response::new(self.view(&order)))
    }

    async fn get_history(
        &self,
        request: Request<pb::GetHistoryRequest>,
    ) -> Reply<pb::GetHistoryResponse> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        v.finish(|| Some(()))?;
        let token = token(&req.access_token);
        let caller = Caller {
            actor: None,
            token: token.as_ref(),
        };
        let changes = self.orders.history(req.order_id, caller).await?;
        Ok(Response::new(pb::GetHistoryResponse {
            changes: changes.iter().map(convert::change_to_pb).collect(),
        }))
    }

    async fn track_order(&self, request: Request<pb::TrackOrderRequest>) -> Reply<pb::Order> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let number = v.check("order_number", OrderNumber::parse(&req.order_number));
        let token = token(&req.access_token);
        if token.is_none() {
            v.add("access_token", "is required");
        }
        let (number, token) = v.finish(|| Some((number?, token?)))?;
        let order = self.orders.track(&number, &token).await?;
        Ok(Response::new(self.view(&order)))
    }

    type WatchOrderStream = Pin<Box<dyn Stream<Item = Result<pb::OrderUpdate, Status>> + Send>>;

    async fn watch_order(
        &self,
        request: Request<pb::WatchOrderRequest>,
    ) -> Reply<Self::WatchOrderStream> {
        let req = request.into_inner();
        let mut v = Violations::default();
        check_id(&mut v, "order_id", req.order_id);
        v.finish(|| Some(()))?;
        let token = token(&req.access_token);
        let updates = self.feed.watch(req.order_id, token.as_ref()).await?;
        let window = self.cancel_window();
        let stream = updates.map(move |update| {
            update
                .map(|update| update_to_pb(update, window))
                .map_err(Status::from)
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn get_customer(&self, request: Request<pb::GetCustomerRequest>) -> Reply<pb::Customer> {
        let id = request.into_inner().id;
        if id == 0 {
            return Err(DomainError::invalid("id", "is required").into());
        }
        let customer = self.orders.customer(id).await?;
        Ok(Response::new(convert::customer_to_pb(&customer)))
    }

    async fn update_customer(
        &self,
        request: Request<pb::UpdateCustomerRequest>,
    ) -> Reply<pb::Customer> {
        let req = request.into_inner();
        let mut v = Violations::default();
        if req.id == 0 {
            v.add("id", "is required");
        }
        if !req.saved_addresses.is_empty() && !req.replace_saved_addresses {
            v.add(
                "replace_saved_addresses",
                "must be true to change saved_addresses",
            );
        }
        let saved_addresses = if req.replace_saved_addresses {
            let raw: Vec<_> = req.saved_addresses.iter().map(address_from_pb).collect();
            v.merge(parse_saved_addresses(&raw))
        } else {
            None
        };
        let preferred = v.check(
            "preferred_payment_method",
            convert::payment_from_pb(req.preferred_payment_method),
        );
        let patch = CustomerPatch {
            name: v.check_opt("name", req.name.as_deref().map(Name::parse)),
            phone: v.check_opt("phone", req.phone.as_deref().map(Phone::parse)),
            email: v.check_opt("email", req.email.as_deref().map(Email::parse)),
            saved_addresses,
            preferred_payment_method: preferred.flatten(),
        };
        let patch = v.finish(|| Some(patch))?;
        let customer = self.orders.update_customer(req.id, &patch).await?;
        Ok(Response::new(convert::customer_to_pb(&customer)))
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::RestaurantNotFound(_) => (Code::NotFound, R::RestaurantNotFound),
            E::RestaurantRefused {
                bad_input, reason, ..
            } => {
                let code = if *bad_input {
                    Code::InvalidArgument
                } else {
                    Code::FailedPrecondition
                };
                // restaurant-svc's reason, by the name both share.
                (
                    code,
                    R::from_str_name(reason).unwrap_or(R::RestaurantRefused),
                )
            }
            E::PriceMismatch { .. } => (Code::FailedPrecondition, R::PriceMismatch),
            E::TotalTooLarge => (Code::InvalidArgument, R::AmountTooLarge),
            E::CurrencyChanged => (Code::FailedPrecondition, R::CurrencyChanged),
            E::IdempotencyKeyReused => (Code::FailedPrecondition, R::IdempotencyKeyReused),
            E::OrderNotFound(_) => (Code::NotFound, R::OrderNotFound),
            E::LineNotFound(_) => (Code::NotFound, R::OrderLineNotFound),
            E::CustomerNotFound(_) => (Code::NotFound, R::CustomerNotFound),
            E::PhoneTaken(_) => (Code::AlreadyExists, R::PhoneTaken),
            E::InvalidTransition { .. } => (Code::FailedPrecondition, R::InvalidTransition),
            E::CancelWindowClosed { .. } => (Code::FailedPrecondition, R::CancelWindowClosed),
            E::NotEditable(_) => (Code::FailedPrecondition, R::OrderNotEditable),
            E::LineLimit(_) => (Code::FailedPrecondition, R::OrderLineLimit),
            E::LastLine => (Code::FailedPrecondition, R::OrderNeedsALine),
            E::Concurrent => (Code::Aborted, R::ConcurrentModification),
            E::KeyInProgress { .. } => (Code::Aborted, R::IdempotencyKeyInProgress),
            E::AccessDenied(_) => (Code::PermissionDenied, R::AccessDenied),
            E::Unavailable(_) => (Code::Unavailable, R::UpstreamUnavailable),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let mut metadata = HashMap::new();
        match &error {
            E::PriceMismatch {
                stated_minor,
                menu_minor,
                ..
            } => {
                metadata.insert(
                    "stated_unit_price_minor".to_owned(),
                    stated_minor.to_string(),
                );
                metadata.insert("menu_unit_price_minor".to_owned(), menu_minor.to_string());
            }
            E::InvalidTransition { from, to, actor } => {
                metadata.insert("from".to_owned(), from.as_str().to_owned());
                metadata.insert("to".to_owned(), to.as_str().to_owned());
                metadata.insert("actor".to_owned(), actor.as_str().to_owned());
            }
            E::NotEditable(status) => {
                metadata.insert("status".to_owned(), status.as_str().to_owned());
            }
            E::KeyInProgress { retry_after } => {
                metadata.insert(
                    "retry_after_seconds".to_owned(),
                    retry_after.as_secs().max(1).to_string(),
                );
            }
            _ => {}
        }
        let fields = match &error {
            E::Invalid(violations) | E::RestaurantRefused { violations, .. } => violations.clone(),
            E::PriceMismatch {
                field, menu_minor, ..
            } => Violations::one(
                field,
                format!("differs from the menu's unit price of {menu_minor} minor units"),
            ),
            E::RestaurantNotFound(_) => Violations::one("restaurant_id", "is not a restaurant"),
            E::IdempotencyKeyReused => {
                Violations::one("idempotency_key", "was used before for a different request")
            }
            E::LineNotFound(_) => Violations::one("line_id", "is not a line of the order"),
            E::PhoneTaken(_) => Violations::one("phone", "belongs to another customer"),
            E::TotalTooLarge => Violations::one("items", "the total is too large"),
            _ => Violations::default(),
        };
        status::refusal(
            code,
            error.to_string(),
            ERROR_DOMAIN,
            reason,
            metadata,
            &fields,
        )
    }
}

// ----- proto → domain ----------------------------------------------------------

fn check_id(v: &mut Violations, field: &str, id: i64) {
    if id <= 0 {
        v.add(field, "is required");
    }
}

/// A token as presented; empty means none.
fn token(raw: &str) -> Option<TokenHash> {
    (!raw.trim().is_empty()).then(|| TokenHash::of(raw))
}

fn parse_line(item: &pb::OrderLineInput) -> Result<LineInput, Violations> {
    LineInput::parse(
        item.menu_item_id,
        item.quantity,
        &item.option_ids,
        &item.special_instructions,
        item.stated_unit_price_minor,
    )
}

fn parse_lines(v: &mut Violations, items: &[pb::OrderLineInput]) -> Option<Vec<LineInput>> {
    if let Err(why) = check_line_count(items.len()) {
        v.add("items", why);
    }
    let lines: Vec<Option<LineInput>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| v.nested(format_args!("items[{i}]"), parse_line(item)))
        .collect();
    lines.into_iter().collect()
}

/// An optional coupon code: `Some(None)` when none is given.
fn optional_coupon(v: &mut Violations, raw: &str) -> Option<Option<CouponCode>> {
    if raw.trim().is_empty() {
        return Some(None);
    }
    v.check("coupon_code", CouponCode::parse(raw)).map(Some)
}

/// An optional idempotency key: `Some(None)` when none is given.
fn optional_key(v: &mut Violations, raw: &str) -> Option<Option<IdempotencyKey>> {
    if raw.is_empty() {
        return Some(None);
    }
    v.check("idempotency_key", IdempotencyKey::parse(raw))
        .map(Some)
}

fn parse_actor(v: &mut Violations, actor: &common::Actor) -> Option<Actor> {
    let kind = v.check("actor.kind", convert::actor_kind_from_pb(actor.kind))?;
    v.check("actor.id", Actor::parse(kind, &actor.id))
}

fn required_actor(v: &mut Violations, actor: Option<&common::Actor>) -> Option<Actor> {
    match actor {
        Some(actor) => parse_actor(v, actor),
        None => {
            v.add("actor", "is required");
            None
        }
    }
}

// ----- domain → proto ----------------------------------------------------------

/// An order as the API shows it: as its events carry it, and with the
/// customer's cancellation deadline, which depends on this instance's
/// window.
fn order_view(order: &order_domain::Order, cancel_window: Duration) -> pb::Order {
    let mut view = convert::order_to_pb(order);
    view.customer_cancel_until =
        lifecycle::customer_cancel_until(order.status, order.confirmed_at, cancel_window)
            .and_then(convert::time_to_pb);
    view
}

fn created_to_pb(
    created: crate::service::Created,
    cancel_window: Duration,
) -> pb::CreateOrderResponse {
    pb::CreateOrderResponse {
        order: Some(order_view(&created.order, cancel_window)),
        access_token: created
            .access_token
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        replayed: created.replayed,
    }
}

fn update_to_pb(update: Update, cancel_window: Duration) -> pb::OrderUpdate {
    let kind = match update.kind {
        UpdateKind::Snapshot => pb::OrderUpdateKind::Snapshot,
        UpdateKind::StatusChanged => pb::OrderUpdateKind::StatusChanged,
        UpdateKind::ItemsChanged => pb::OrderUpdateKind::ItemsChanged,
    };
    pb::OrderUpdate {
        order: Some(order_view(&update.order, cancel_window)),
        change: update.change.as_ref().map(convert::change_to_pb),
        kind: kind.into(),
    }
}
