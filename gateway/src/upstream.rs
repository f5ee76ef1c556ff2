//! The gRPC side of the gateway: one balanced channel per service from
//! discovery, and every call made the same way.
//!
//! Each call carries the request's trace context and request id (the shared
//! [`Propagate`] interceptor), has a deadline of `UPSTREAM_TIMEOUT_MS` that
//! the server is told about and the gateway enforces, passes the service's
//! circuit [`Breaker`] (refused at once while it is open), is retried once
//! on `UNAVAILABLE` only when it is a read (a write might have happened)
//! and the service's [`RetryBudget`] allows, and is counted as `grpc_client_requests_total{grpc_service,grpc_method,grpc_code,outcome}`
//! and timed as `grpc_client_request_duration_seconds{grpc_service,grpc_method}`.
//!
//! Server streams (live order and kitchen updates, menu changes) are opened
//! the same way, but only the opening is bounded by the deadline: the
//! stream itself lives as long as the client listens.
//!
//! [`Restaurants`] also holds the gateway's [`MenuCache`]: its currency
//! lookup reads through it, and its writes that change a restaurant or its
//! menu evict it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foodmesh_proto::accounting::v1 as accounting_pb;
use foodmesh_proto::accounting::v1::accounting_service_client::AccountingServiceClient;
use foodmesh_proto::delivery::v1 as delivery_pb;
use foodmesh_proto::delivery::v1::delivery_service_client::DeliveryServiceClient;
use foodmesh_proto::kitchen::v1 as kitchen_pb;
use foodmesh_proto::kitchen::v1::kitchen_service_client::KitchenServiceClient;
use foodmesh_proto::notification::v1 as notification_pb;
use foodmesh_proto::notification::v1::notification_service_client::NotificationServiceClient;
use foodmesh_proto::order::v1 as order_pb;
use foodmesh_proto::order::v1::order_service_client::OrderServiceClient;
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_proto::restaurant::v1::restaurant_service_client::RestaurantServiceClient;
use foodmesh_shared::ServiceName;
use foodmesh_shared::discovery::{Discovery, DiscoveryError};
use foodmesh_shared::grpc::{Propagate, TracedChannel, code_name, outcome};
use tonic::Streaming;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;

use crate::breaker::{Breaker, BreakerConfig, Refused, Ticket};
use crate::menu_cache::MenuCache;
use crate::problem::{CIRCUIT_OPEN, Problem, Subject};

/// How every call to a service is made: its deadline and its breaker's
/// settings.
#[derive(Debug, Clone, Copy)]
pub struct CallPolicy {
    pub timeout: Duration,
    pub breaker: BreakerConfig,
}

/// A failed call to a service, with enough to log it and answer the client.
#[derive(Debug)]
pub struct UpstreamError {
    pub service: ServiceName,
    pub method: &'static str,
    /// What it answered (or the gateway's own deadline).
    pub status: tonic::Status,
}

impl From<UpstreamError> for Problem {
    fn from(e: UpstreamError) -> Self {
        Problem::from_grpc(e.service.service_id(), e.method, &e.status)
    }
}

impl UpstreamError {
    /// The problem for this failure of a call about `subject` (the order,
    /// ticket, currency or body field the request named): what
    /// [`Problem::from_grpc_about`] makes of it. Handlers say what they
    /// asked about; the table in [`crate::problem`] decides the answer.
    pub fn about(self, subject: Subject<'_>) -> Problem {
        Problem::from_grpc_about(
            self.service.service_id(),
            self.method,
            &self.status,
            &subject,
        )
    }

    /// The problem for this failure, each field at fault renamed by
    /// `rest_name`: what [`Problem::from_grpc_naming`] makes of it. For
    /// routes whose body the service's request paths do not name as
    /// [`crate::problem::rest_field`] does.
    pub fn naming(self, rest_name: &dyn Fn(&str) -> String) -> Problem {
        Problem::from_grpc_naming(
            self.service.service_id(),
            self.method,
            &self.status,
            rest_name,
        )
    }
}

/// Whether a call may be repeated without a second effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotency {
    /// A read: retried once when the service is unavailable.
    Read,
    /// A write: never retried, since the first attempt may have landed.
    Write,
}

/// A generated client plus the deadline, retry and metrics every call gets.
#[derive(Debug, Clone)]
pub struct UpstreamClient<C> {
    client: C,
    service: ServiceName,
    grpc_service: &'static str,
    timeout: Duration,
    breaker: Arc<Breaker>,
    retries: Arc<RetryBudget>,
}

/// gRPC's retry throttling (gRFC A6): a service's retries draw on tokens
/// that its failures spend (one each) and its successes earn back (a tenth
/// each), and a retry is sent only while more than half of the ten tokens
/// are left. A service that fails now and then gets its retries; one that
/// is failing gets none, so retries never multiply the load on a service
/// that is already down.
#[derive(Debug)]
pub struct RetryBudget {
    tokens: std::sync::Mutex<f64>,
}

impl RetryBudget {
    const MAX_TOKENS: f64 = 10.0;
    const EARNED_PER_SUCCESS: f64 = 0.1;

    pub fn new() -> Self {
        Self {
            tokens: std::sync::Mutex::new(Self::MAX_TOKENS),
        }
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, f64> {
        // A number, valid whatever panicked while it was held.
        self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, failed: bool) {
        let mut tokens = self.tokens();
        *tokens = if failed {
            (*tokens - 1.0).max(0.0)
        } else {
            (*tokens + Self::EARNED_PER_SUCCESS).min(Self::MAX_TOKENS)
        };
    }

    /// Whether a retry may be sent now.
    pub fn allows(&self) -> bool {
        *self.tokens() > Self::MAX_TOKENS / 2.0
    }
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self::new()
    }
}

/// Why an attempt failed: the breaker refused it (no call was made, so
/// there is nothing to retry), or the call itself failed.
enum Failure {
    Refused(tonic::Status),
    Called(tonic::Status),
}

impl Failure {
    fn into_status(self) -> tonic::Status {
        match self {
            Failure::Refused(status) | Failure::Called(status) => status,
        }
    }

    fn may_retry(&self) -> bool {
        matches!(self, Failure::Called(status) if status.code() == tonic::Code::Unavailable)
    }
}

/// Whether a failed call says the service is not there to answer, which is
/// what a breaker counts: no answer in time, or UNAVAILABLE from the
/// transport. An UNAVAILABLE the service wrote itself, with its reason
/// (order-svc's `UPSTREAM_UNAVAILABLE` when restaurant-svc is down), is an
/// answer: the service is there, and its own breaker is not to open for
/// what another lacks.
fn is_absence(status: &tonic::Status) -> bool {
    use tonic_types::StatusExt;
    match status.code() {
        tonic::Code::DeadlineExceeded => true,
        tonic::Code::Unavailable => status.get_details_error_info().is_none(),
        _ => false,
    }
}

impl<C: Clone> UpstreamClient<C> {
    /// Wraps `client` for `service`, whose full gRPC name (for metric
    /// labels, as the server reports it) is `grpc_service`, with a breaker
    /// of its own.
    pub fn new(
        client: C,
        service: ServiceName,
        grpc_service: &'static str,
        policy: CallPolicy,
    ) -> Self {
        // From zero, so the dashboards show no retries rather than no data.
        for outcome in ["sent", "over_budget", "breaker_open"] {
            metrics::counter!(
                "gateway_retries_total",
                "upstream" => service.service_id(),
                "outcome" => outcome
            )
            .increment(0);
        }
        Self {
            client,
            service,
            grpc_service,
            timeout: policy.timeout,
            breaker: Breaker::new(service.service_id(), policy.breaker),
            retries: Arc::new(RetryBudget::new()),
        }
    }

    /// What a call refused by the open breaker answers: UNAVAILABLE with
    /// `retry_after_seconds`, which becomes a 503 with `Retry-After`.
    fn refusal(&self, refused: Refused) -> tonic::Status {
        use tonic_types::{ErrorDetails, StatusExt};
        let seconds = refused.retry_after.as_secs_f64().ceil().to_string();
        tonic::Status::with_error_details(
            tonic::Code::Unavailable,
            format!(
                "{} is failing; calls to it are paused. Retry in {seconds} s.",
                self.service.service_id()
            ),
            ErrorDetails::with_error_info(
                CIRCUIT_OPEN,
                "foodmesh.gateway",
                [("retry_after_seconds".to_owned(), seconds)],
            ),
        )
    }

    /// Calls `method` with `message` through `send` (which names the
    /// generated client method), retrying once on UNAVAILABLE for reads.
    ///
    /// # Errors
    /// The service's status, or DEADLINE_EXCEEDED when it did not answer
    /// within the deadline.
    pub async fn unary<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        idempotency: Idempotency,
        message: Req,
        send: F,
    ) -> Result<Resp, UpstreamError>
    where
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let attempts = match idempotency {
            Idempotency::Read => 2,
            Idempotency::Write => 1,
        };
        let mut attempt = 1;
        loop {
            match self
                .attempt(method, message.clone(), &send, attempt > 1)
                .await
            {
                Err(failure)
                    if failure.may_retry() && attempt < attempts && self.budget_allows() =>
                {
                    tracing::debug!(method, "upstream unavailable; retrying the read once");
                    attempt += 1;
                    // A moment for the balancer to drop a dead instance.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                result => {
                    return result.map_err(|failure| UpstreamError {
                        service: self.service,
                        method,
                        status: failure.into_status(),
                    });
                }
            }
        }
    }

    /// One call of `method`; `retry` when an earlier attempt failed.
    async fn attempt<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        message: Req,
        send: &F,
        retry: bool,
    ) -> Result<Resp, Failure>
    where
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let ticket = self
            .admit(retry)
            .map_err(|refused| Failure::Refused(self.refusal(refused)))?;
        let mut request = tonic::Request::new(message);
        // Tells the server how long the caller waits, so it can give up too.
        request.set_timeout(self.timeout);
        let span = self.span(method);
        let started = Instant::now();
        let call = send(self.client.clone(), request);
        let result = match tokio::time::timeout(self.timeout, call)
            .instrument(span)
            .await
        {
            Ok(result) => result
                .map(tonic::Response::into_inner)
                .map_err(|status| settle(status, started.elapsed(), self.timeout)),
            Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        };
        self.record(method, started, result.as_ref().err());
        let absent = result.as_ref().err().is_some_and(is_absence);
        self.retries.record(absent);
        match absent {
            true => ticket.failed(),
            false => ticket.succeeded(),
        }
        result.map_err(Failure::Called)
    }

    /// Opens the server stream `method` through `send`, retrying the opening
    /// once on UNAVAILABLE (opening a watch is a read). The deadline bounds
    /// only the opening: the server is told no deadline, so the stream lasts
    /// until it ends or the caller drops it.
    ///
    /// # Errors
    /// The service's status, or DEADLINE_EXCEEDED when the stream did not
    /// open within the deadline.
    pub async fn server_stream<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        message: Req,
        send: F,
    ) -> Result<Streaming<Resp>, UpstreamError>
    where
        Req: Clone,
        F: Fn(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Streaming<Resp>>, tonic::Status>>,
    {
        let mut attempt = 1;
        loop {
            let ticket = match self.admit(attempt > 1) {
                Ok(ticket) => ticket,
                Err(refused) => {
                    return Err(UpstreamError {
                        service: self.service,
                        method,
                        status: self.refusal(refused),
                    });
                }
            };
            let started = Instant::now();
            let span = self.span(method);
            let call = send(self.client.clone(), tonic::Request::new(message.clone()));
            let result = match tokio::time::timeout(self.timeout, call)
                .instrument(span)
                .await
            {
                Ok(result) => result
                    .map(tonic::Response::into_inner)
                    .map_err(|status| settle(status, started.elapsed(), self.timeout)),
                Err(_) => Err(tonic::Status::deadline_exceeded(format!(
                    "the stream did not open within {} ms",
                    self.timeout.as_millis()
                ))),
            };
            self.record(method, started, result.as_ref().err());
            let absent = result.as_ref().err().is_some_and(is_absence);
            self.retries.record(absent);
            match absent {
                true => ticket.failed(),
                false => ticket.succeeded(),
            }
            match result {
                Err(status)
                    if status.code() == tonic::Code::Unavailable
                        && attempt < 2
                        && self.budget_allows() =>
                {
                    tracing::debug!(method, "upstream unavailable; retrying the watch once");
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                result => {
                    return result.map_err(|status| UpstreamError {
                        service: self.service,
                        method,
                        status,
                    });
                }
            }
        }
    }

    /// Whether the retry budget lets a retry go now; one it stops is
    /// counted `over_budget`.
    fn budget_allows(&self) -> bool {
        let allowed = self.retries.allows();
        if !allowed {
            self.count_retry("over_budget");
        }
        allowed
    }

    /// The breaker's leave for an attempt. A retry is counted `sent` only
    /// once it goes; the breaker the first failure opened may refuse it
    /// (`breaker_open`).
    fn admit(&self, retry: bool) -> Result<Ticket, Refused> {
        let admitted = self.breaker.admit();
        if retry {
            self.count_retry(match admitted {
                Ok(_) => "sent",
                Err(_) => "breaker_open",
            });
        }
        admitted
    }

    fn count_retry(&self, outcome: &'static str) {
        metrics::counter!(
            "gateway_retries_total",
            "upstream" => self.service.service_id(),
            "outcome" => outcome
        )
        .increment(1);
    }

    fn span(&self, method: &'static str) -> tracing::Span {
        foodmesh_shared::grpc::client_span(self.grpc_service, method)
    }

    fn record(&self, method: &'static str, started: Instant, error: Option<&tonic::Status>) {
        let code = error.map_or(tonic::Code::Ok, tonic::Status::code);
        metrics::histogram!(
            "grpc_client_request_duration_seconds",
            "grpc_service" => self.grpc_service,
            "grpc_method" => method
        )
        .record(started.elapsed().as_secs_f64());
        metrics::counter!(
            "grpc_client_requests_total",
            "grpc_service" => self.grpc_service,
            "grpc_method" => method,
            "grpc_code" => code_name(code),
            "outcome" => outcome(code)
        )
        .increment(1);
    }
}

/// The status a failed call stands for, whoever wrote it. The gateway never
/// cancels a call it is still awaiting, so a CANCELLED near the deadline is
/// the server giving up at the deadline it was told (504), and one before
/// it, like an error tonic made from a broken connection (it carries the
/// transport error as its source; a server's own status has none), is the
/// service going away mid-call (503). Either way the caller is told what
/// happened instead of a 500.
fn settle(status: tonic::Status, elapsed: Duration, timeout: Duration) -> tonic::Status {
    use std::error::Error;
    let near_deadline = elapsed >= timeout.mul_f64(0.9);
    match status.code() {
        tonic::Code::Cancelled if near_deadline => {
            tonic::Status::deadline_exceeded(format!("no answer within {} ms", timeout.as_millis()))
        }
        tonic::Code::Cancelled => {
            tonic::Status::unavailable(format!("the call was cut off: {}", status.message()))
        }
        tonic::Code::Unknown | tonic::Code::Internal if status.source().is_some() => {
            tonic::Status::unavailable(format!("the connection failed: {}", status.message()))
        }
        _ => status,
    }
}

/// Declares one RPC of a service as a typed async method.
macro_rules! rpc {
    ($(#[$doc:meta])* $name:ident, $method:literal, $idempotency:ident, $req:ty => $resp:ty) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// The service's status, as an [`UpstreamError`].
        pub async fn $name(&self, request: $req) -> Result<$resp, UpstreamError> {
            self.0
                .unary($method, Idempotency::$idempotency, request, |mut client, request| async move {
                    client.$name(request).await
                })
                .await
        }
    };
}

/// Declares one write of restaurant-svc that changes restaurant
/// `request.$id` or its menu: as [`rpc!`], and the restaurant's cached menu
/// and currency are dropped once the call returns — whatever it returned,
/// since a write whose answer was lost may have landed — so this gateway's
/// next read sees the change without waiting for its notice.
macro_rules! rpc_menu_write {
    ($(#[$doc:meta])* $name:ident, $method:literal, $req:ty => $resp:ty, $id:ident) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// The service's status, as an [`UpstreamError`].
        pub async fn $name(&self, request: $req) -> Result<$resp, UpstreamError> {
            let restaurant_id = request.$id;
            let written = self
                .0
                .unary($method, Idempotency::Write, request, |mut client, request| async move {
                    client.$name(request).await
                })
                .await;
            self.1.evict(restaurant_id);
            written
        }
    };
}

/// Declares one server-streaming RPC of a service as a typed async method.
macro_rules! rpc_stream {
    ($(#[$doc:meta])* $name:ident, $method:literal, $req:ty => $resp:ty) => {
        $(#[$doc])*
        ///
        /// # Errors
        /// The service's status when the stream cannot be opened, as an
        /// [`UpstreamError`].
        pub async fn $name(&self, request: $req) -> Result<Streaming<$resp>, UpstreamError> {
            self.0
                .server_stream($method, request, |mut client, request| async move {
                    client.$name(request).await
                })
                .await
        }
    };
}

/// restaurant-svc: restaurants, menus and coupons, with the gateway's
/// cache of menus and currencies.
#[derive(Debug, Clone)]
pub struct Restaurants(
    UpstreamClient<RestaurantServiceClient<TracedChannel>>,
    MenuCache,
);

impl Restaurants {
    /// A client over `channel`, each call made by `policy`, with an
    /// empty menu cache that serves nothing until
    /// [`crate::menu_watch::follow`] runs.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = RestaurantServiceClient::with_interceptor(channel, Propagate);
        Self(
            UpstreamClient::new(
                client,
                ServiceName::Restaurant,
                pb::restaurant_service_server::SERVICE_NAME,
                policy,
            ),
            MenuCache::new(),
        )
    }

    pub fn menus(&self) -> &MenuCache {
        &self.1
    }

    /// The currency every amount of restaurant `id` is in: the gateway
    /// needs it to read the decimals a client sends. From the menu cache
    /// when it holds it.
    ///
    /// # Errors
    /// The restaurant does not exist (404) or the service failed.
    pub async fn currency_of(&self, id: i64) -> Result<String, UpstreamError> {
        self.1
            .currency(id, || async {
                self.get_restaurant(pb::GetRestaurantRequest { id })
                    .await
                    .map(|r| r.currency)
            })
            .await
    }

    rpc!(
        get_restaurant, "GetRestaurant", Read, pb::GetRestaurantRequest => pb::Restaurant
    );
    rpc!(
        list_restaurants, "ListRestaurants", Read, pb::ListRestaurantsRequest => pb::ListRestaurantsResponse
    );
    rpc!(
        create_restaurant, "CreateRestaurant", Write, pb::CreateRestaurantRequest => pb::Restaurant
    );
    rpc_menu_write!(
        /// Changes some fields of a restaurant.
        update_restaurant, "UpdateRestaurant", pb::UpdateRestaurantRequest => pb::Restaurant, id
    );
    rpc_menu_write!(
        /// Removes a restaurant from listings and ordering.
        delete_restaurant, "DeleteRestaurant", pb::DeleteRestaurantRequest => (), id
    );
    rpc!(
        get_menu, "GetMenu", Read, pb::GetMenuRequest => pb::Menu
    );
    /// The whole menu read from restaurant-svc's database, past its
    /// replica's menu cache (`cache-control: no-cache`): what the gateway's
    /// cache keeps (see [`crate::menu_cache`]).
    ///
    /// # Errors
    /// The service's status, as an [`UpstreamError`].
    pub async fn get_fresh_menu(
        &self,
        request: pb::GetMenuRequest,
    ) -> Result<pb::Menu, UpstreamError> {
        self.0
            .unary(
                "GetMenu",
                Idempotency::Read,
                request,
                |mut client, mut request| async move {
                    request.metadata_mut().insert(
                        "cache-control",
                        tonic::metadata::MetadataValue::from_static("no-cache"),
                    );
                    client.get_menu(request).await
                },
            )
            .await
    }
    rpc_stream!(
        /// Every committed menu change, after a `subscribed` message.
        watch_menu_changes, "WatchMenuChanges", pb::WatchMenuChangesRequest => pb::MenuChange
    );
    rpc_menu_write!(
        create_category, "CreateCategory", pb::CreateCategoryRequest => pb::Category, restaurant_id
    );
    rpc_menu_write!(
        update_category, "UpdateCategory", pb::UpdateCategoryRequest => pb::Category, restaurant_id
    );
    rpc_menu_write!(
        delete_category, "DeleteCategory", pb::DeleteCategoryRequest => (), restaurant_id
    );
    rpc_menu_write!(
        create_menu_item, "CreateMenuItem", pb::CreateMenuItemRequest => pb::MenuItem, restaurant_id
    );
    rpc!(
        get_menu_item, "GetMenuItem", Read, pb::GetMenuItemRequest => pb::MenuItem
    );
    rpc_menu_write!(
        update_menu_item, "UpdateMenuItem", pb::UpdateMenuItemRequest => pb::MenuItem, restaurant_id
    );
    rpc_menu_write!(
        delete_menu_item, "DeleteMenuItem", pb::DeleteMenuItemRequest => (), restaurant_id
    );
    rpc_menu_write!(
        create_option_group, "CreateOptionGroup", pb::CreateOptionGroupRequest => pb::OptionGroup, restaurant_id
    );
    rpc_menu_write!(
        update_option_group, "UpdateOptionGroup", pb::UpdateOptionGroupRequest => pb::OptionGroup, restaurant_id
    );
    rpc_menu_write!(
        delete_option_group, "DeleteOptionGroup", pb::DeleteOptionGroupRequest => (), restaurant_id
    );
    rpc!(
        create_coupon, "CreateCoupon", Write, pb::CreateCouponRequest => pb::Coupon
    );
    rpc!(
        list_coupons, "ListCoupons", Read, pb::ListCouponsRequest => pb::ListCouponsResponse
    );
    rpc!(
        update_coupon, "UpdateCoupon", Write, pb::UpdateCouponRequest => pb::Coupon
    );
}

/// order-svc: orders, their history and live updates, and customers.
#[derive(Debug, Clone)]
pub struct Orders(UpstreamClient<OrderServiceClient<TracedChannel>>);

impl Orders {
    /// A client over `channel`, each call made by `policy`.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = OrderServiceClient::with_interceptor(channel, Propagate);
        Self(UpstreamClient::new(
            client,
            ServiceName::Order,
            order_pb::order_service_server::SERVICE_NAME,
            policy,
        ))
    }

    rpc!(
        /// Places an order (idempotent per caller and key, by order-svc).
        create_order, "CreateOrder", Write, order_pb::CreateOrderRequest => order_pb::CreateOrderResponse
    );
    rpc!(
        /// Prices an order as placing it would, writing nothing.
        quote_order, "QuoteOrder", Read, order_pb::QuoteOrderRequest => order_pb::Quote
    );
    rpc!(
        /// Places a new order with an earlier order's lines.
        reorder, "Reorder", Write, order_pb::ReorderRequest => order_pb::CreateOrderResponse
    );
    rpc!(
        get_order, "GetOrder", Read, order_pb::GetOrderRequest => order_pb::Order
    );
    rpc!(
        list_orders, "ListOrders", Read, order_pb::ListOrdersRequest => order_pb::ListOrdersResponse
    );
    rpc!(
        /// Moves an order along its lifecycle.
        update_order_status, "UpdateOrderStatus", Write, order_pb::UpdateOrderStatusRequest => order_pb::Order
    );
    rpc!(
        cancel_order, "CancelOrder", Write, order_pb::CancelOrderRequest => order_pb::Order
    );
    rpc!(
        /// Adds a line to a PENDING order.
        add_item, "AddItem", Write, order_pb::AddItemRequest => order_pb::Order
    );
    rpc!(
        /// Changes a line of a PENDING order.
        update_item, "UpdateItem", Write, order_pb::UpdateItemRequest => order_pb::Order
    );
    rpc!(
        /// Removes a line of a PENDING order.
        remove_item, "RemoveItem", Write, order_pb::RemoveItemRequest => order_pb::Order
    );
    rpc!(
        /// Every status change of an order.
        get_history, "GetHistory", Read, order_pb::GetHistoryRequest => order_pb::GetHistoryResponse
    );
    rpc!(
        /// An order by its number and access token.
        track_order, "TrackOrder", Read, order_pb::TrackOrderRequest => order_pb::Order
    );
    rpc_stream!(
        /// An order's changes as they happen, starting with its state now.
        watch_order, "WatchOrder", order_pb::WatchOrderRequest => order_pb::OrderUpdate
    );
    rpc!(
        get_customer, "GetCustomer", Read, order_pb::GetCustomerRequest => order_pb::Customer
    );
    rpc!(
        /// Changes (or, for a registered customer, makes) a profile.
        update_customer, "UpdateCustomer", Write, order_pb::UpdateCustomerRequest => order_pb::Customer
    );
}

/// kitchen-svc: the ticket queue of each restaurant.
#[derive(Debug, Clone)]
pub struct Kitchen(UpstreamClient<KitchenServiceClient<TracedChannel>>);

impl Kitchen {
    /// A client over `channel`, each call made by `policy`.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = KitchenServiceClient::with_interceptor(channel, Propagate);
        Self(UpstreamClient::new(
            client,
            ServiceName::Kitchen,
            kitchen_pb::kitchen_service_server::SERVICE_NAME,
            policy,
        ))
    }

    rpc!(
        /// Receives an order into the kitchen by hand (idempotent per order).
        create_ticket, "CreateTicket", Write, kitchen_pb::CreateTicketRequest => kitchen_pb::Ticket
    );
    rpc!(
        get_ticket, "GetTicket", Read, kitchen_pb::GetTicketRequest => kitchen_pb::Ticket
    );
    rpc!(
        /// A page of a restaurant's tickets.
        list_tickets, "ListTickets", Read, kitchen_pb::ListTicketsRequest => kitchen_pb::ListTicketsResponse
    );
    rpc!(
        /// Moves a ticket along.
        update_ticket_status, "UpdateTicketStatus", Write, kitchen_pb::UpdateTicketStatusRequest => kitchen_pb::Ticket
    );
    rpc_stream!(
        /// A restaurant's queue as it changes.
        watch_queue, "WatchQueue", kitchen_pb::WatchQueueRequest => kitchen_pb::TicketUpdate
    );
    rpc!(
        /// Queue counts and preparation times.
        get_stats, "GetStats", Read, kitchen_pb::GetStatsRequest => kitchen_pb::KitchenStats
    );
}

/// delivery-svc: drivers and deliveries.
#[derive(Debug, Clone)]
pub struct Delivery(UpstreamClient<DeliveryServiceClient<TracedChannel>>);

impl Delivery {
    /// A client over `channel`, each call made by `policy`.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = DeliveryServiceClient::with_interceptor(channel, Propagate);
        Self(UpstreamClient::new(
            client,
            ServiceName::Delivery,
            delivery_pb::delivery_service_server::SERVICE_NAME,
            policy,
        ))
    }

    rpc!(
        /// Opens a delivery order's delivery by hand (the existing one if any).
        create_delivery, "CreateDelivery", Write, delivery_pb::CreateDeliveryRequest => delivery_pb::Delivery
    );
    rpc!(
        get_delivery, "GetDelivery", Read, delivery_pb::GetDeliveryRequest => delivery_pb::Delivery
    );
    rpc!(
        /// Every move of a delivery.
        get_delivery_history, "GetDeliveryHistory", Read, delivery_pb::GetDeliveryRequest => delivery_pb::GetDeliveryHistoryResponse
    );
    rpc!(
        /// A page of deliveries.
        list_deliveries, "ListDeliveries", Read, delivery_pb::ListDeliveriesRequest => delivery_pb::ListDeliveriesResponse
    );
    rpc!(
        /// To a named driver, or the nearest free one.
        assign_driver, "AssignDriver", Write, delivery_pb::AssignDriverRequest => delivery_pb::Delivery
    );
    rpc!(
        /// A driver's move.
        update_delivery_status, "UpdateDeliveryStatus", Write, delivery_pb::UpdateDeliveryStatusRequest => delivery_pb::Delivery
    );
    rpc!(
        /// What the public sees by tracking id.
        track_delivery, "TrackDelivery", Read, delivery_pb::TrackDeliveryRequest => delivery_pb::Delivery
    );
    rpc_stream!(
        /// The same, live, until the delivery ends.
        watch_delivery, "WatchDelivery", delivery_pb::TrackDeliveryRequest => delivery_pb::Delivery
    );
    rpc!(
        create_driver, "CreateDriver", Write, delivery_pb::CreateDriverRequest => delivery_pb::Driver
    );
    rpc!(
        get_driver, "GetDriver", Read, delivery_pb::GetDriverRequest => delivery_pb::Driver
    );
    rpc!(
        /// A page of drivers.
        list_drivers, "ListDrivers", Read, delivery_pb::ListDriversRequest => delivery_pb::ListDriversResponse
    );
    rpc!(
        /// Whether the driver takes deliveries.
        update_driver, "UpdateDriver", Write, delivery_pb::UpdateDriverRequest => delivery_pb::Driver
    );
    rpc!(
        /// A driver's live position.
        update_driver_location, "UpdateDriverLocation", Write, delivery_pb::UpdateDriverLocationRequest => delivery_pb::UpdateDriverLocationResponse
    );
}

/// accounting-svc: payments, refunds, invoices.
#[derive(Debug, Clone)]
pub struct Accounting(UpstreamClient<AccountingServiceClient<TracedChannel>>);

impl Accounting {
    /// A client over `channel`, each call made by `policy`.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = AccountingServiceClient::with_interceptor(channel, Propagate);
        Self(UpstreamClient::new(
            client,
            ServiceName::Accounting,
            accounting_pb::accounting_service_server::SERVICE_NAME,
            policy,
        ))
    }

    rpc!(
        /// Pays an order (idempotent per caller and key).
        create_payment, "CreatePayment", Write, accounting_pb::CreatePaymentRequest => accounting_pb::Payment
    );
    rpc!(
        /// Authorizes, captures or voids a payment.
        process_payment, "ProcessPayment", Write, accounting_pb::ProcessPaymentRequest => accounting_pb::Payment
    );
    rpc!(
        /// Gives back part or all of a captured payment.
        refund_payment, "RefundPayment", Write, accounting_pb::RefundPaymentRequest => accounting_pb::Refund
    );
    rpc!(
        get_payment, "GetPayment", Read, accounting_pb::GetPaymentRequest => accounting_pb::Payment
    );
    rpc!(
        /// Every payment of one order, newest first.
        list_payments, "ListPayments", Read, accounting_pb::ListPaymentsRequest => accounting_pb::ListPaymentsResponse
    );
    rpc!(
        /// A page of invoices.
        list_invoices, "ListInvoices", Read, accounting_pb::ListInvoicesRequest => accounting_pb::ListInvoicesResponse
    );
    rpc!(
        /// A provider's signed call back.
        handle_webhook, "HandleWebhook", Write, accounting_pb::HandleWebhookRequest => accounting_pb::HandleWebhookResponse
    );
}

/// notification-svc: the delivery log, messages by hand and in bulk,
/// customers' preferences, templates.
#[derive(Debug, Clone)]
pub struct Notification(UpstreamClient<NotificationServiceClient<TracedChannel>>);

impl Notification {
    /// A client over `channel`, each call made by `policy`.
    pub fn new(channel: Channel, policy: CallPolicy) -> Self {
        let client = NotificationServiceClient::with_interceptor(channel, Propagate);
        Self(UpstreamClient::new(
            client,
            ServiceName::Notification,
            notification_pb::notification_service_server::SERVICE_NAME,
            policy,
        ))
    }

    rpc!(
        /// One message by hand, queued (idempotent per sender and key).
        send_notification, "SendNotification", Write, notification_pb::SendNotificationRequest => notification_pb::Notification
    );
    rpc!(
        /// A page of the delivery log, newest first.
        list_notifications, "ListNotifications", Read, notification_pb::ListNotificationsRequest => notification_pb::ListNotificationsResponse
    );
    rpc!(
        /// One template to many, accepted at once and sent in the background.
        start_bulk, "StartBulk", Write, notification_pb::StartBulkRequest => notification_pb::BulkJob
    );
    rpc!(
        get_bulk, "GetBulk", Read, notification_pb::GetBulkRequest => notification_pb::BulkJob
    );
    rpc!(
        /// A customer's choice on every channel.
        get_preferences, "GetPreferences", Read, notification_pb::GetPreferencesRequest => notification_pb::Preferences
    );
    rpc!(
        /// Changes a customer's choice on some channels, all at once (the
        /// same change twice leaves the same choice, but it is a write).
        set_preferences, "SetPreferences", Write, notification_pb::SetPreferencesRequest => notification_pb::Preferences
    );
    rpc!(
        create_template, "CreateTemplate", Write, notification_pb::CreateTemplateRequest => notification_pb::Template
    );
    rpc!(
        get_template, "GetTemplate", Read, notification_pb::GetTemplateRequest => notification_pb::Template
    );
    rpc!(
        update_template, "UpdateTemplate", Write, notification_pb::UpdateTemplateRequest => notification_pb::Template
    );
    rpc!(
        list_templates, "ListTemplates", Read, notification_pb::ListTemplatesRequest => notification_pb::ListTemplatesResponse
    );
}

/// How one upstream answered its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    Serving,
    /// Answered, but not SERVING (starting, draining).
    NotServing,
    /// No answer within the probe's time.
    Unreachable,
}

impl Health {
    /// The word `/readyz` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Serving => "serving",
            Health::NotServing => "not_serving",
            Health::Unreachable => "unreachable",
        }
    }
}

/// The standard gRPC health check against every service, for `/readyz`.
#[derive(Debug, Clone)]
pub struct Probes(Vec<(ServiceName, Channel)>);

impl Probes {
    /// Checks every service at once, each within `timeout`.
    pub async fn check_all(&self, timeout: Duration) -> Vec<(ServiceName, Health)> {
        let checks = self.0.iter().map(|(service, channel)| async move {
            let mut client = HealthClient::new(channel.clone());
            let request = HealthCheckRequest {
                service: String::new(),
            };
            let health = match tokio::time::timeout(timeout, client.check(request)).await {
                Ok(Ok(answer)) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                    Health::Serving
                }
                Ok(Ok(_)) => Health::NotServing,
                Ok(Err(_)) | Err(_) => Health::Unreachable,
            };
            (*service, health)
        });
        futures::future::join_all(checks).await
    }
}

/// Every upstream the gateway talks to.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub restaurants: Restaurants,
    pub orders: Orders,
    pub kitchen: Kitchen,
    pub accounting: Accounting,
    pub delivery: Delivery,
    pub notification: Notification,
    /// Health checks of all six services.
    pub probes: Probes,
}

impl Upstreams {
    /// Lazily connecting channels to every service through `discovery`:
    /// nothing is dialled until the first call, so the gateway starts
    /// whether or not the services are up yet.
    ///
    /// # Errors
    /// A static address that is missing or malformed.
    pub fn connect(discovery: &Discovery, policy: CallPolicy) -> Result<Self, DiscoveryError> {
        let channels = ServiceName::ALL
            .into_iter()
            .map(|service| Ok((service, discovery.channel(service)?)))
            .collect::<Result<Vec<_>, DiscoveryError>>()?;
        let channel = |service: ServiceName| {
            channels
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, c)| c.clone())
                .ok_or_else(|| DiscoveryError::Unknown(service.to_string()))
        };
        Ok(Self {
            restaurants: Restaurants::new(channel(ServiceName::Restaurant)?, policy),
            orders: Orders::new(channel(ServiceName::Order)?, policy),
            kitchen: Kitchen::new(channel(ServiceName::Kitchen)?, policy),
            accounting: Accounting::new(channel(ServiceName::Accounting)?, policy),
            delivery: Delivery::new(channel(ServiceName::Delivery)?, policy),
            notification: Notification::new(channel(ServiceName::Notification)?, policy),
            probes: Probes(channels),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const DEADLINE: Duration = Duration::from_secs(5);

    fn client(failures_to_open: u32) -> UpstreamClient<()> {
        UpstreamClient::new(
            (),
            ServiceName::Restaurant,
            "test.Service",
            CallPolicy {
                timeout: DEADLINE,
                breaker: BreakerConfig {
                    failures: failures_to_open,
                    open_for: Duration::from_secs(60),
                },
            },
        )
    }

    /// Calls `client` as `idempotency` against a service that answers
    /// `code` every time; how many attempts reached it.
    async fn attempts(
        client: &UpstreamClient<()>,
        idempotency: Idempotency,
        code: tonic::Code,
    ) -> usize {
        let sent = AtomicUsize::new(0);
        let result = client
            .unary(
                "Method",
                idempotency,
                (),
                |(), _request: tonic::Request<()>| {
                    sent.fetch_add(1, Ordering::Relaxed);
                    async move { Err::<tonic::Response<()>, _>(tonic::Status::new(code, "down")) }
                },
            )
            .await;
        assert!(result.is_err());
        sent.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_read_is_retried_once_when_unavailable_a_write_never() {
        let client = client(100);
        assert_eq!(
            attempts(&client, Idempotency::Read, tonic::Code::Unavailable).await,
            2
        );
        assert_eq!(
            attempts(&client, Idempotency::Write, tonic::Code::Unavailable).await,
            1
        );
        // A service's own refusal is an answer: nothing to retry.
        assert_eq!(
            attempts(&client, Idempotency::Read, tonic::Code::NotFound).await,
            1
        );
    }

    #[tokio::test]
    async fn a_failing_service_spends_the_retry_budget_and_gets_no_more_retries() {
        let client = client(100);
        let mut sent = Vec::new();
        for _ in 0..5 {
            sent.push(attempts(&client, Idempotency::Read, tonic::Code::Unavailable).await);
        }
        // Ten tokens: every attempt costs one, and retries stop at half.
        assert_eq!(sent, [2, 2, 1, 1, 1]);
        // Successes earn the budget back, a tenth of a token each.
        let ok = |(), _request: tonic::Request<()>| async { Ok(tonic::Response::new(())) };
        for _ in 0..40 {
            client
                .unary("Method", Idempotency::Read, (), ok)
                .await
                .expect("answers");
        }
        assert_eq!(
            attempts(&client, Idempotency::Read, tonic::Code::Unavailable).await,
            2
        );
    }

    #[tokio::test]
    async fn a_service_saying_another_is_down_does_not_open_its_own_breaker() {
        use tonic_types::{ErrorDetails, StatusExt};
        let client = client(2);
        let sent = AtomicUsize::new(0);
        for _ in 0..5 {
            let result = client
                .unary(
                    "Method",
                    Idempotency::Write,
                    (),
                    |(), _request: tonic::Request<()>| {
                        sent.fetch_add(1, Ordering::Relaxed);
                        async {
                            Err::<tonic::Response<()>, _>(tonic::Status::with_error_details(
                                tonic::Code::Unavailable,
                                "restaurant-svc is unavailable",
                                ErrorDetails::with_error_info(
                                    "UPSTREAM_UNAVAILABLE",
                                    "foodmesh.order",
                                    std::collections::HashMap::new(),
                                ),
                            ))
                        }
                    },
                )
                .await;
            assert!(result.is_err());
        }
        assert_eq!(
            sent.load(Ordering::Relaxed),
            5,
            "every call reached the service"
        );
        // Whereas two calls the transport lost open it.
        attempts(&client, Idempotency::Write, tonic::Code::Unavailable).await;
        attempts(&client, Idempotency::Write, tonic::Code::Unavailable).await;
        assert_eq!(
            attempts(&client, Idempotency::Write, tonic::Code::NotFound).await,
            0
        );
    }

    #[tokio::test]
    async fn an_open_breaker_refuses_without_calling_and_is_never_retried() {
        let client = client(2);
        assert_eq!(
            attempts(&client, Idempotency::Read, tonic::Code::Unavailable).await,
            2
        );
        let refused = client
            .unary(
                "Method",
                Idempotency::Read,
                (),
                |(), _request: tonic::Request<()>| async {
                    panic!("an open breaker lets nothing through");
                    #[allow(unreachable_code)]
                    Ok(tonic::Response::new(()))
                },
            )
            .await
            .expect_err("refused");
        assert_eq!(refused.status.code(), tonic::Code::Unavailable);
        let problem = Problem::from(refused);
        assert_eq!(problem.status, 503);
    }

    /// The value of `gateway_retries_total` for `upstream` and `outcome`.
    fn retries(upstream: &str, outcome: &str) -> u64 {
        let series =
            format!("gateway_retries_total{{upstream=\"{upstream}\",outcome=\"{outcome}\"}} ");
        foodmesh_shared::telemetry::prometheus()
            .render()
            .lines()
            .find_map(|line| line.strip_prefix(&series)?.parse().ok())
            .unwrap_or(0)
    }

    #[tokio::test]
    async fn a_retry_the_opened_breaker_refuses_is_not_counted_as_sent() {
        // An upstream no other test uses, so its counts are this test's.
        let client = UpstreamClient::new(
            (),
            ServiceName::Notification,
            "test.Service",
            CallPolicy {
                timeout: DEADLINE,
                breaker: BreakerConfig {
                    failures: 1,
                    open_for: Duration::from_secs(60),
                },
            },
        );
        let upstream = ServiceName::Notification.service_id();
        let before = (retries(upstream, "sent"), retries(upstream, "breaker_open"));

        // The first failure opens the breaker, which then stops the retry.
        let reached = attempts(&client, Idempotency::Read, tonic::Code::Unavailable).await;

        assert_eq!(reached, 1);
        assert_eq!(
            (retries(upstream, "sent"), retries(upstream, "breaker_open")),
            (before.0, before.1 + 1)
        );
    }

    #[test]
    fn a_server_giving_up_at_the_deadline_is_a_deadline() {
        let status = settle(
            tonic::Status::cancelled("Timeout expired"),
            Duration::from_millis(4_990),
            DEADLINE,
        );
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    }

    #[test]
    fn a_call_cut_off_before_its_deadline_is_unavailable() {
        let cancelled = settle(
            tonic::Status::cancelled("connection closed"),
            Duration::from_millis(20),
            DEADLINE,
        );
        assert_eq!(cancelled.code(), tonic::Code::Unavailable);
        let broken = tonic::Status::from_error(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )));
        assert_eq!(broken.code(), tonic::Code::Unknown);
        let settled = settle(broken, Duration::from_millis(20), DEADLINE);
        assert_eq!(settled.code(), tonic::Code::Unavailable);
    }

    #[test]
    fn a_service_s_own_error_is_left_as_it_is() {
        let status = settle(
            tonic::Status::internal("a bug"),
            Duration::from_millis(20),
            DEADLINE,
        );
        assert_eq!(status.code(), tonic::Code::Internal);
    }
}
