//! Every error the gateway answers with, as `application/problem+json`
//! (RFC 9457), and the one table that turns a gRPC status into an HTTP one.
//!
//! A client reads three things: the HTTP status, a stable lower_snake `code`
//! to branch on, and `errors` naming each field at fault in REST terms. A
//! human reads `title` and `detail`. An operator finds the request by its
//! `request_id`. Unexpected failures tell the client nothing more than that
//! they happened: their cause goes to the log, never into the body.
//!
//! A few failures mean something else once the gateway knows what the
//! request was about (a refused order is a missing one; a price mismatch
//! names the menu's price in the client's currency): those are the one
//! table `REWRITES`, which handlers reach by naming their [`Subject`].

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use foodmesh_proto::common::v1::ErrorReason;
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic_types::StatusExt;
use utoipa::ToSchema;

use crate::money::Decimal;

/// The `ErrorInfo` reason of a call the gateway refused itself because the
/// service's circuit breaker is open.
pub const CIRCUIT_OPEN: &str = "CIRCUIT_OPEN";

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One field at fault, named as the REST body names it (`address.zip_code`,
/// `options[0].price_delta`), so a form can put the message beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"field": "price", "message": "has more than 2 decimal places for USD"}))]
pub struct FieldError {
    /// Path to the field in the request body, or the name of the path or
    /// query parameter.
    pub field: String,
    /// Why the value was refused.
    pub message: String,
}

impl FieldError {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An error response body (RFC 9457 problem details with FoodMesh members).
/// Handlers hold it as a boxed [`Problem`], keeping their `Result`s small.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:foodmesh:problem:validation_failed",
    "title": "Unprocessable Entity",
    "status": 422,
    "detail": "The request has invalid fields: price.",
    "code": "validation_failed",
    "instance": "/api/restaurants/1/menu",
    "request_id": "5f0c6a1e-8d1b-4c47-a3a4-2f7f6f0c9b11",
    "errors": [{"field": "price", "message": "must not be negative"}]
}))]
pub struct ProblemDetails {
    /// `urn:foodmesh:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// The HTTP reason phrase of `status`.
    pub title: String,
    /// The HTTP status, repeated for clients that lose the status line.
    pub status: u16,
    /// What went wrong, for a human.
    pub detail: String,
    /// Stable machine-readable reason, lower_snake (`validation_failed`,
    /// `not_found`, `coupon_code_taken`).
    pub code: String,
    /// The path of the request that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The `x-request-id` of the request, also in the logs and traces.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The fields at fault; empty when the problem is not about fields.
    #[serde(default)]
    pub errors: Vec<FieldError>,
    /// RFC 9457 extension members a problem of one kind adds (a declined
    /// payment's `decline_reason`, a refund's `refundable`), documented
    /// with the operations that answer them.
    #[serde(flatten, default)]
    #[schema(ignore)]
    pub extensions: std::collections::BTreeMap<String, serde_json::Value>,
    /// Extra response headers (`WWW-Authenticate`), not part of the body.
    #[serde(skip)]
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ProblemDetails {
    /// The HTTP status this problem is sent with.
    pub fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// The error every handler and extractor returns: a problem on its way to
/// becoming a response.
#[derive(Debug, Clone)]
pub struct Problem(Box<ProblemDetails>);

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;

    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl Problem {
    /// A problem with `status`, a stable `code` and a human `detail`.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self(Box::new(ProblemDetails {
            type_uri: format!("urn:foodmesh:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_owned(),
            instance: None,
            request_id: None,
            errors: Vec::new(),
            extensions: std::collections::BTreeMap::new(),
            headers: Vec::new(),
        }))
    }

    /// The same problem, told in other words.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.0.detail = detail.into();
        self
    }

    /// Adds the extension member `name`.
    #[must_use]
    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.0.extensions.insert(name.to_owned(), value);
        self
    }

    /// The response body, for callers that want it without a response.
    pub fn into_details(self) -> ProblemDetails {
        *self.0
    }

    /// Adds the fields at fault.
    #[must_use]
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.0.errors = errors;
        self
    }

    /// Adds a response header (e.g. `WWW-Authenticate` on a 401).
    #[must_use]
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// 422: the body is well-formed JSON but these fields are wrong.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("The request has invalid fields: {}.", fields.join(", "));
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
        .with_errors(errors)
    }

    /// 422 for one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError::new(field, message)])
    }

    /// 400: the body is not JSON at all.
    pub fn malformed_json(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed_json", detail)
    }

    /// 400: a path or query parameter is unusable.
    pub fn invalid_parameters(errors: Vec<FieldError>) -> Self {
        let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let detail = format!("Invalid parameters: {}.", names.join(", "));
        Self::new(StatusCode::BAD_REQUEST, "invalid_parameter", detail).with_errors(errors)
    }

    /// 400 for one parameter.
    pub fn invalid_parameter(name: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_parameters(vec![FieldError::new(name, message)])
    }

    /// 415: the body is not declared as JSON.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the request body as JSON with `Content-Type: application/json`.",
        )
    }

    /// 413: the body is over the configured limit.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is larger than the gateway accepts.",
        )
    }

    /// 408: the body stopped arriving.
    pub fn body_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "The request body stopped arriving before it was complete.",
        )
    }

    /// 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
    /// `invalid_token` is true when a token was sent but refused.
    pub fn unauthorized(detail: impl Into<String>, invalid_token: bool) -> Self {
        let challenge = if invalid_token {
            "Bearer realm=\"foodmesh\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"foodmesh\""
        };
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )
    }

    /// 403: authenticated, but this caller may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 500 with an opaque detail. The cause is logged here, with the
    /// request's span fields (request id, trace id), and never sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "request failed unexpectedly");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred. Quote the request id when reporting it.",
        )
    }

    /// The problem for a bare error status that some layer produced without
    /// a body of ours (a timeout, a 405 from the router).
    pub fn for_status(status: StatusCode) -> Self {
        let (code, detail) = match status {
            StatusCode::NOT_FOUND => ("not_found", "No such route; see /openapi.json for the API."),
            StatusCode::METHOD_NOT_ALLOWED => (
                "method_not_allowed",
                "This resource does not support that method; see the Allow header.",
            ),
            StatusCode::PAYLOAD_TOO_LARGE => (
                "payload_too_large",
                "The request body is larger than the gateway accepts.",
            ),
            StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => (
                "request_timeout",
                "The request took longer than the gateway allows.",
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => (
                "unsupported_media_type",
                "Send the request body as JSON with `Content-Type: application/json`.",
            ),
            s if s.is_server_error() => (
                "internal_error",
                "An unexpected error occurred. Quote the request id when reporting it.",
            ),
            _ => ("bad_request", "The request could not be processed."),
        };
        Self::new(status, code, detail)
    }

    /// Translates a failed gRPC call to `service` into a problem: the HTTP
    /// status from [`classify`], the code from the status's `ErrorInfo`
    /// reason when it has one, and its `BadRequest` violations renamed to
    /// REST field names by [`rest_field`].
    pub fn from_grpc(service: &str, method: &str, status: &tonic::Status) -> Self {
        Self::from_grpc_naming(service, method, status, &rest_field)
    }

    /// As [`Problem::from_grpc`], with each violation's field renamed by
    /// `rest_name` instead of [`rest_field`]: for a route whose body is
    /// not the gRPC request less its wrappers and `_minor` suffixes, so
    /// only the route knows the REST name (notification-svc's
    /// `template.body` is a template body's `body`; its `changes[0]` is
    /// whichever channel the preferences body named first). A renamed
    /// `cursor` or `limit` is still a query parameter's 400.
    pub fn from_grpc_naming(
        service: &str,
        method: &str,
        status: &tonic::Status,
        rest_name: &dyn Fn(&str) -> String,
    ) -> Self {
        let (http, default_code) = classify(status.code());
        let details = status.get_error_details();
        let code = reason_of(status).map(|r| r.as_str_name().to_ascii_lowercase());
        let code = code.as_deref().unwrap_or(default_code);
        let errors: Vec<FieldError> = details
            .bad_request()
            .map(|br| {
                br.field_violations
                    .iter()
                    .map(|v| FieldError::new(rest_name(&v.field), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default();
        // A page request's fields come from the query string, and a bad
        // query parameter is a 400 wherever it is caught.
        if status.code() == Code::InvalidArgument
            && !errors.is_empty()
            && errors
                .iter()
                .all(|e| matches!(e.field.as_str(), "cursor" | "limit"))
        {
            return Self::invalid_parameters(errors);
        }
        let detail = match status.code() {
            // The gateway's own refusal, in its own words; the breaker
            // logged once when it opened.
            tonic::Code::Unavailable
                if details
                    .error_info()
                    .is_some_and(|info| info.reason == CIRCUIT_OPEN) =>
            {
                status.message().to_owned()
            }
            tonic::Code::Unavailable => {
                tracing::warn!(
                    service,
                    method,
                    message = status.message(),
                    "upstream unavailable"
                );
                format!("{service} is unavailable; try again shortly.")
            }
            tonic::Code::DeadlineExceeded => {
                tracing::warn!(service, method, "upstream deadline exceeded");
                format!("{service} did not answer in time.")
            }
            tonic::Code::Unimplemented => format!("{service} does not implement this yet."),
            _ if http.is_server_error() => {
                return Self::internal(&format_args!(
                    "{service}/{method} failed: {:?}: {}",
                    status.code(),
                    status.message()
                ));
            }
            _ if status.message().is_empty() => http.canonical_reason().unwrap_or("").to_owned(),
            _ if errors.is_empty() => status.message().to_owned(),
            _ => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("The request has invalid fields: {}.", fields.join(", "))
            }
        };
        let problem = Self::new(http, code, detail).with_errors(errors);
        // A refusal that says when to come back (a twin request still at
        // work) tells the client in the standard header.
        match details
            .error_info()
            .and_then(|info| info.metadata.get("retry_after_seconds"))
            .and_then(|seconds| HeaderValue::from_str(seconds).ok())
        {
            Some(seconds) => problem.with_header(header::RETRY_AFTER, seconds),
            None => problem,
        }
    }
}

/// THE table from gRPC status code to HTTP status, with the problem code
/// used when the service gives no `ErrorInfo` reason. Malformed JSON (400)
/// never reaches a service, so InvalidArgument is always a 422 here.
pub fn classify(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::InvalidArgument => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        Code::OutOfRange => (StatusCode::UNPROCESSABLE_ENTITY, "out_of_range"),
        Code::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        Code::AlreadyExists => (StatusCode::CONFLICT, "already_exists"),
        Code::Aborted => (StatusCode::CONFLICT, "conflict"),
        Code::FailedPrecondition => (StatusCode::CONFLICT, "failed_precondition"),
        Code::PermissionDenied => (StatusCode::FORBIDDEN, "forbidden"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthorized"),
        Code::ResourceExhausted => (StatusCode::TOO_MANY_REQUESTS, "resource_exhausted"),
        Code::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "upstream_timeout"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
        Code::Ok | Code::Cancelled | Code::Unknown | Code::Internal | Code::DataLoss => {
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

/// Renames a field path of a gRPC request to the REST body's name for it:
/// the request wrapper (`restaurant.`, `patch.`, `page.`, `item.`) goes,
/// amounts lose their `_minor` suffix, and the few renamed fields get their
/// REST names (an order line's `stated_unit_price_minor` is its
/// `unit_price`, its `option_ids` are its `modifiers`, a `line_id` is the
/// path's `item_id`). Indexes are kept: `options[1].price_delta_minor` →
/// `options[1].price_delta`, `items[0].option_ids[1]` → `items[0].modifiers[1]`.
pub fn rest_field(proto: &str) -> String {
    let mut path = proto;
    for wrapper in ["restaurant.", "patch.", "page.", "item."] {
        if let Some(rest) = path.strip_prefix(wrapper) {
            path = rest;
        }
    }
    path.split('.')
        .map(|segment| {
            let (name, index) = match segment.find('[') {
                Some(at) => segment.split_at(at),
                None => (segment, ""),
            };
            let name = match name {
                "tax_rate_ppm" => "tax_rate",
                "kind" => "discount_type",
                "page_token" => "cursor",
                "page_size" => "limit",
                "option_group_id" => "group_id",
                "price_delta_minor" => "price_delta",
                "stated_unit_price_minor" => "unit_price",
                "option_ids" => "modifiers",
                "line_id" => "item_id",
                "statuses" => "status",
                "created_from" => "from",
                "created_to" => "to",
                "idempotency_key" => "Idempotency-Key",
                other => other.strip_suffix("_minor").unwrap_or(other),
            };
            format!("{name}{index}")
        })
        .collect::<Vec<_>>()
        .join(".")
}

// ------------------------------------------------------------- rewrites --

impl Problem {
    /// The 404 of an order that does not exist or that the caller may not
    /// see: the two look alike, so ids and tokens cannot be probed. `order`
    /// is its id, or its number when it was tracked by one.
    pub fn order_not_found(order: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "order_not_found",
            format!("There is no order {order} that you may see."),
        )
    }

    /// The 404 of a ticket this kitchen does not have, whether it does not
    /// exist or is another restaurant's.
    pub fn ticket_not_found(id: i64) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "ticket_not_found",
            format!("This kitchen has no ticket {id}."),
        )
    }

    /// What a failed gRPC call about `subject` answers: the first row of
    /// the table `REWRITES` whose code and reason match the status, and
    /// whose needs the subject meets, decides; without one (and always for
    /// [`Subject::default`]) it is what [`Problem::from_grpc`] makes of it.
    pub fn from_grpc_about(
        service: &str,
        method: &str,
        status: &tonic::Status,
        subject: &Subject<'_>,
    ) -> Self {
        let details = status.get_error_details();
        let info = details.error_info();
        let reason = reason_of(status);
        let row = REWRITES.iter().find(|(code, row_reason, needs, _)| {
            code.is_none_or(|code| code == status.code())
                && row_reason.is_none_or(|r| reason == Some(r))
                && subject.meets(*needs)
        });
        let plain = || Self::from_grpc(service, method, status);
        let Some((_, _, _, becomes)) = row else {
            return plain();
        };
        match becomes {
            Becomes::OrderNotFound => match subject.order {
                Some(OrderCall::ForCaller(id) | OrderCall::ReadByGateway(id)) => {
                    Self::order_not_found(id)
                }
                Some(OrderCall::Tracked(number)) => Self::order_not_found(number),
                None => plain(),
            },
            Becomes::TicketNotFound => subject.ticket.map_or_else(plain, Self::ticket_not_found),
            Becomes::RestaurantField => plain().with_errors(vec![FieldError::new(
                "restaurant_id",
                "is not a restaurant",
            )]),
            Becomes::MenuPrice => {
                let problem = plain();
                let price = info
                    .and_then(|info| info.metadata.get("menu_unit_price_minor"))
                    .and_then(|minor| minor.parse::<i64>().ok())
                    .zip(subject.currency)
                    .and_then(|(minor, currency)| {
                        let price = Decimal::from_minor(minor, currency).ok()?;
                        Some(format!("{} {currency}", price.as_str()))
                    });
                let Some(price) = price else {
                    return problem;
                };
                let message = format!("differs from the menu's unit price of {price}");
                let errors = problem
                    .errors
                    .iter()
                    .map(|e| FieldError::new(e.field.clone(), message.clone()))
                    .collect();
                problem.with_errors(errors)
            }
        }
    }
}

/// THE table of upstream failures that the gateway answers otherwise than
/// [`Problem::from_grpc`] would, once it knows what the request was about.
/// A row is (gRPC code or any, `ErrorInfo` reason or any, what the
/// [`Subject`] must hold, what the failure becomes); the first match wins.
#[rustfmt::skip] // one row a line, as a table reads
const REWRITES: &[(Option<Code>, Option<ErrorReason>, Needs, Becomes)] = &[
    // A refusal looks like absence, so ids and tokens cannot be probed.
    (Some(Code::PermissionDenied), None,                             Needs::OrderForCaller,   Becomes::OrderNotFound),
    (Some(Code::NotFound),         Some(ErrorReason::OrderNotFound), Needs::Order,            Becomes::OrderNotFound),
    // A call that reads the order alone can miss nothing else.
    (Some(Code::NotFound),         None,                             Needs::OrderAlone,       Becomes::OrderNotFound),
    (Some(Code::NotFound),         None,                             Needs::Ticket,           Becomes::TicketNotFound),
    (Some(Code::NotFound),         None,                             Needs::RestaurantInBody, Becomes::RestaurantField),
    // The client stated a unit price: tell them the menu's, in their terms.
    (None,                         Some(ErrorReason::PriceMismatch), Needs::Currency,         Becomes::MenuPrice),
];

/// The reason a refusal names in its `ErrorInfo`, when it is one of the
/// contract's.
fn reason_of(status: &tonic::Status) -> Option<ErrorReason> {
    status
        .get_details_error_info()
        .and_then(|info| ErrorReason::from_str_name(&info.reason))
        .filter(|reason| *reason != ErrorReason::Unspecified)
}

/// What a row of [`REWRITES`] needs to know of the request.
#[derive(Debug, Clone, Copy)]
enum Needs {
    /// An order read or changed for the caller, whose access order-svc
    /// checks.
    OrderForCaller,
    /// An order, however the call reached it.
    Order,
    /// An order the call reads and nothing else, so that anything not
    /// found is that order.
    OrderAlone,
    /// A ticket of the caller's kitchen.
    Ticket,
    /// A body naming the restaurant as `restaurant_id`.
    RestaurantInBody,
    /// The currency of the amounts the request stated.
    Currency,
}

/// What a failure matching a row of [`REWRITES`] becomes.
#[derive(Debug, Clone, Copy)]
enum Becomes {
    /// [`Problem::order_not_found`] of the subject's order.
    OrderNotFound,
    /// [`Problem::ticket_not_found`] of the subject's ticket.
    TicketNotFound,
    /// The service's problem, with `restaurant_id` as the field at fault.
    RestaurantField,
    /// The service's problem, each field's message naming the menu's unit
    /// price (the `ErrorInfo`'s `menu_unit_price_minor`) as a decimal in
    /// the subject's currency. Left as it is when either is missing.
    MenuPrice,
}

/// How a call reached the order it is about, which decides which of its
/// failures are that order's 404.
#[derive(Debug, Clone, Copy)]
enum OrderCall<'a> {
    /// Order `id` read or changed for the caller, whose access order-svc
    /// checks (the order routes). The call may also miss other things (a
    /// line, a menu item), which keep their own problem.
    ForCaller(i64),
    /// The order with this number, opened by the caller's access token and
    /// nothing else read (public tracking).
    Tracked(&'a str),
    /// Order `id` read alone on the gateway's own authority, no caller's
    /// access checked (the kitchen taking an order in).
    ReadByGateway(i64),
}

/// What a call to a service was about, as far as its failures need: the
/// order or ticket the client named, the currency of the amounts it
/// stated, whether its body named the restaurant. Handlers build one with
/// the constructors below and pass it to
/// [`crate::upstream::UpstreamError::about`]; `REWRITES` does the rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    order: Option<OrderCall<'a>>,
    ticket: Option<i64>,
    currency: Option<&'a str>,
    restaurant_in_body: bool,
}

impl<'a> Subject<'a> {
    /// A call reading or changing order `id` for the caller: a refusal and
    /// `ORDER_NOT_FOUND` are both its 404; any other missing thing (a line,
    /// a menu item) keeps its own problem.
    pub fn order(id: i64) -> Self {
        Self {
            order: Some(OrderCall::ForCaller(id)),
            ..Self::default()
        }
    }

    /// Public tracking of the order numbered `number` with the caller's
    /// access token: any refusal or miss is that order's 404.
    pub fn tracked_order(number: &'a str) -> Self {
        Self {
            order: Some(OrderCall::Tracked(number)),
            ..Self::default()
        }
    }

    /// The gateway's own read of order `id`, with no caller's access to
    /// check: any miss is that order's 404, a refusal stays a 403.
    pub fn order_read_by_gateway(id: i64) -> Self {
        Self {
            order: Some(OrderCall::ReadByGateway(id)),
            ..Self::default()
        }
    }

    /// A call about ticket `id` of the caller's kitchen: any miss is that
    /// ticket's 404.
    pub fn ticket(id: i64) -> Self {
        Self {
            ticket: Some(id),
            ..Self::default()
        }
    }

    /// A call for the restaurant the body names as `restaurant_id`: a miss
    /// names that field.
    pub fn restaurant_in_body() -> Self {
        Self {
            restaurant_in_body: true,
            ..Self::default()
        }
    }

    /// The same subject, with the amounts the request stated in
    /// `currency`: a price mismatch then names the menu's price in it.
    #[must_use]
    pub fn priced_in(self, currency: &'a str) -> Self {
        Self {
            currency: Some(currency),
            ..self
        }
    }

    fn meets(&self, needs: Needs) -> bool {
        match needs {
            Needs::OrderForCaller => matches!(
                self.order,
                Some(OrderCall::ForCaller(_) | OrderCall::Tracked(_))
            ),
            Needs::Order => self.order.is_some(),
            Needs::OrderAlone => matches!(
                self.order,
                Some(OrderCall::Tracked(_) | OrderCall::ReadByGateway(_))
            ),
            Needs::Ticket => self.ticket.is_some(),
            Needs::RestaurantInBody => self.restaurant_in_body,
            Needs::Currency => self.currency.is_some(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut details = self.into_details();
        if let Some(context) = crate::request_context::current_request() {
            details.request_id.get_or_insert(context.request_id);
            details.instance.get_or_insert(context.path);
        }
        let status = details.status_code();
        let headers = std::mem::take(&mut details.headers);
        // Serializing plain strings and numbers cannot fail; the fallback
        // keeps the status and content type right even so.
        let body = serde_json::to_vec(&details).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (
            status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            body,
        )
            .into_response();
        for (name, value) in headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, FieldViolation};

    use super::*;

    #[test]
    fn every_grpc_code_has_one_http_status() {
        use tonic::Code;
        let table = [
            (Code::InvalidArgument, 422),
            (Code::OutOfRange, 422),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::Aborted, 409),
            (Code::FailedPrecondition, 409),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::ResourceExhausted, 429),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unknown, 500),
            (Code::DataLoss, 500),
            (Code::Cancelled, 500),
        ];
        for (code, http) in table {
            assert_eq!(classify(code).0.as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn proto_field_names_become_rest_field_names() {
        assert_eq!(rest_field("price_minor"), "price");
        assert_eq!(rest_field("delivery_fee_minor"), "delivery_fee");
        assert_eq!(rest_field("restaurant.tax_rate_ppm"), "tax_rate");
        assert_eq!(rest_field("kind"), "discount_type");
        assert_eq!(rest_field("min_order_minor"), "min_order");
        assert_eq!(
            rest_field("options[1].price_delta_minor"),
            "options[1].price_delta"
        );
        assert_eq!(rest_field("address.zip_code"), "address.zip_code");
        assert_eq!(
            rest_field("opening_hours[1].opens"),
            "opening_hours[1].opens"
        );
        assert_eq!(rest_field("page.page_token"), "cursor");
        assert_eq!(rest_field("page_token"), "cursor");
        assert_eq!(rest_field("lines[0].quantity"), "lines[0].quantity");
        assert_eq!(
            rest_field("items[2].stated_unit_price_minor"),
            "items[2].unit_price"
        );
        assert_eq!(
            rest_field("items[0].option_ids[1]"),
            "items[0].modifiers[1]"
        );
        assert_eq!(rest_field("item.quantity"), "quantity");
        assert_eq!(rest_field("guest.phone"), "guest.phone");
        assert_eq!(rest_field("line_id"), "item_id");
        assert_eq!(rest_field("created_to"), "to");
    }

    #[test]
    fn an_invalid_argument_with_violations_is_a_422_naming_rest_fields() {
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "bad input",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("price_minor", "must not be negative"),
                FieldViolation::new("address.zip_code", "is required"),
            ]),
        );
        let problem = Problem::from_grpc("restaurant-svc", "CreateMenuItem", &status);
        assert_eq!(problem.status, 422);
        assert_eq!(problem.code, "validation_failed");
        assert_eq!(problem.type_uri, "urn:foodmesh:problem:validation_failed");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["price", "address.zip_code"]);
    }

    #[test]
    fn a_refused_page_request_is_a_400_like_any_bad_query_parameter() {
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "bad page",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("page.page_size", "must be at most 100"),
                FieldViolation::new("page.page_token", "is not a cursor of this listing"),
            ]),
        );
        let problem = Problem::from_grpc("restaurant-svc", "ListRestaurants", &status);
        assert_eq!(problem.status, 400);
        assert_eq!(problem.code, "invalid_parameter");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["limit", "cursor"]);
    }

    #[test]
    fn a_route_may_name_the_fields_itself() {
        let status = tonic::Status::with_error_details(
            tonic::Code::InvalidArgument,
            "bad template",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("template.kind", "must be 1 to 64 of a-z, 0-9 and _"),
                FieldViolation::new("template.body", "names the unknown placeholder {nope}"),
            ]),
        );
        let unwrapped = |path: &str| path.strip_prefix("template.").unwrap_or(path).to_owned();

        let problem =
            Problem::from_grpc_naming("notification-svc", "CreateTemplate", &status, &unwrapped);

        assert_eq!(problem.status, 422);
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "body"]);
        assert_eq!(
            problem.detail,
            "The request has invalid fields: kind, body."
        );
        // Whereas the shared table knows `kind` as a coupon's.
        let shared = Problem::from_grpc("notification-svc", "CreateTemplate", &status);
        assert_eq!(shared.errors[0].field, "template.discount_type");
    }

    #[test]
    fn an_error_info_reason_becomes_the_lower_snake_code() {
        let status = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "coupon WELCOME has no redemptions left",
            ErrorDetails::with_error_info("COUPON_EXHAUSTED", "foodmesh.restaurant", []),
        );
        let problem = Problem::from_grpc("restaurant-svc", "RedeemCoupon", &status);
        assert_eq!(problem.status, 409);
        assert_eq!(problem.code, "coupon_exhausted");
        assert_eq!(problem.detail, "coupon WELCOME has no redemptions left");
    }

    #[test]
    fn a_refusal_that_says_when_to_retry_sends_retry_after() {
        let status = tonic::Status::with_error_details(
            tonic::Code::Aborted,
            "a request with this idempotency key is still in progress; retry",
            ErrorDetails::with_error_info(
                "IDEMPOTENCY_KEY_IN_PROGRESS",
                "foodmesh.order",
                [("retry_after_seconds".to_owned(), "1".to_owned())],
            ),
        );
        let response = Problem::from_grpc("order-svc", "CreateOrder", &status).into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn internal_failures_reveal_nothing_of_their_cause() {
        let status = tonic::Status::internal("connection to postgres lost: password=hunter2");
        let problem = Problem::from_grpc("restaurant-svc", "GetMenu", &status);
        assert_eq!(problem.status, 500);
        assert_eq!(problem.code, "internal_error");
        assert!(!problem.detail.contains("postgres"));
    }

    #[test]
    fn an_unavailable_upstream_is_a_503_naming_the_service() {
        let status = tonic::Status::unavailable("tcp connect error");
        let problem = Problem::from_grpc("restaurant-svc", "GetMenu", &status);
        assert_eq!(problem.status, 503);
        assert_eq!(problem.code, "service_unavailable");
        assert!(problem.detail.contains("restaurant-svc"));
        assert!(!problem.detail.contains("tcp"));
    }

    #[test]
    fn a_401_carries_the_bearer_challenge() {
        let response = Problem::unauthorized("no token", false).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"foodmesh\""
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    /// A refusal with `code`, an `ErrorInfo` `reason` (none when empty)
    /// carrying `metadata`, and a violation of each of `fields`.
    fn refusal(
        code: Code,
        reason: &str,
        metadata: &[(&str, &str)],
        fields: &[&str],
    ) -> tonic::Status {
        let mut details = ErrorDetails::new();
        if !reason.is_empty() {
            let metadata: std::collections::HashMap<String, String> = metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            details.set_error_info(reason, "foodmesh.test", metadata);
        }
        for field in fields {
            details.add_bad_request_violation(*field, "is refused");
        }
        tonic::Status::with_error_details(code, "refused", details)
    }

    fn about(status: &tonic::Status, subject: Subject<'_>) -> Problem {
        Problem::from_grpc_about("order-svc", "AddItem", status, &subject)
    }

    fn body(problem: &Problem) -> serde_json::Value {
        serde_json::to_value(&**problem).expect("serializes")
    }

    #[test]
    fn a_refused_order_and_a_missing_one_are_the_same_404() {
        let refused = refusal(Code::PermissionDenied, "ACCESS_DENIED", &[], &[]);
        let missing = refusal(Code::NotFound, "ORDER_NOT_FOUND", &[], &[]);

        for status in [&refused, &missing] {
            let problem = about(status, Subject::order(7));
            assert_eq!(problem.status, 404);
            assert_eq!(problem.code, "order_not_found");
            assert_eq!(problem.detail, "There is no order 7 that you may see.");
            assert_eq!(body(&problem), body(&Problem::order_not_found(7)));
        }
        let tracked = about(&refused, Subject::tracked_order("K7M2QX"));
        assert_eq!(body(&tracked), body(&Problem::order_not_found("K7M2QX")));
    }

    #[test]
    fn a_call_on_an_order_that_misses_something_else_keeps_that_problem() {
        let status = refusal(Code::NotFound, "ORDER_LINE_NOT_FOUND", &[], &["line_id"]);

        let problem = about(&status, Subject::order(7));

        assert_eq!(problem.status, 404);
        assert_eq!(problem.code, "order_line_not_found");
        assert_eq!(problem.errors[0].field, "item_id");
    }

    #[test]
    fn a_read_of_the_order_alone_makes_any_miss_its_404() {
        let missing = refusal(Code::NotFound, "", &[], &[]);
        let refused = refusal(Code::PermissionDenied, "ACCESS_DENIED", &[], &[]);

        let tracked = about(&missing, Subject::tracked_order("K7M2QX"));
        let read = about(&missing, Subject::order_read_by_gateway(42));
        let read_refused = about(&refused, Subject::order_read_by_gateway(42));

        assert_eq!(body(&tracked), body(&Problem::order_not_found("K7M2QX")));
        assert_eq!(body(&read), body(&Problem::order_not_found(42)));
        assert_eq!(read_refused.status, 403, "no caller's access was checked");
        assert_eq!(read_refused.code, "access_denied");
    }

    #[test]
    fn a_missing_ticket_is_the_kitchens_404() {
        let status = refusal(Code::NotFound, "TICKET_NOT_FOUND", &[], &[]);

        let problem = about(&status, Subject::ticket(3));

        assert_eq!(problem.code, "ticket_not_found");
        assert_eq!(problem.detail, "This kitchen has no ticket 3.");
    }

    #[test]
    fn a_missing_restaurant_names_the_body_field() {
        let status = refusal(Code::NotFound, "RESTAURANT_NOT_FOUND", &[], &[]);

        let problem = about(&status, Subject::restaurant_in_body());

        assert_eq!(problem.status, 404);
        assert_eq!(problem.code, "restaurant_not_found");
        assert_eq!(
            problem.errors,
            [FieldError::new("restaurant_id", "is not a restaurant")]
        );
    }

    #[test]
    fn a_price_mismatch_names_the_menus_price_in_the_stated_currency() {
        let status = refusal(
            Code::FailedPrecondition,
            "PRICE_MISMATCH",
            &[("menu_unit_price_minor", "1299")],
            &[
                "items[0].stated_unit_price_minor",
                "items[1].stated_unit_price_minor",
            ],
        );
        let unpriced = refusal(
            Code::FailedPrecondition,
            "PRICE_MISMATCH",
            &[],
            &["items[0].stated_unit_price_minor"],
        );

        let usd = about(&status, Subject::default().priced_in("USD"));
        let yen = about(&status, Subject::order(7).priced_in("JPY"));
        let no_price = about(&unpriced, Subject::order(7).priced_in("USD"));

        assert_eq!(usd.status, 409);
        assert_eq!(usd.code, "price_mismatch");
        assert_eq!(
            usd.errors,
            [
                FieldError::new(
                    "items[0].unit_price",
                    "differs from the menu's unit price of 12.99 USD"
                ),
                FieldError::new(
                    "items[1].unit_price",
                    "differs from the menu's unit price of 12.99 USD"
                ),
            ]
        );
        assert_eq!(
            yen.errors[0].message,
            "differs from the menu's unit price of 1299 JPY"
        );
        assert_eq!(no_price.errors[0].message, "is refused");
    }

    #[test]
    fn without_a_subject_nothing_is_rewritten() {
        let statuses = [
            refusal(Code::PermissionDenied, "ACCESS_DENIED", &[], &[]),
            refusal(Code::NotFound, "ORDER_NOT_FOUND", &[], &[]),
            refusal(Code::NotFound, "", &[], &[]),
            refusal(Code::NotFound, "TICKET_NOT_FOUND", &[], &[]),
            refusal(Code::NotFound, "RESTAURANT_NOT_FOUND", &[], &[]),
            refusal(
                Code::FailedPrecondition,
                "PRICE_MISMATCH",
                &[("menu_unit_price_minor", "1299")],
                &["items[0].stated_unit_price_minor"],
            ),
        ];
        for status in &statuses {
            let plain = Problem::from_grpc("order-svc", "AddItem", status);
            assert_eq!(
                body(&about(status, Subject::default())),
                body(&plain),
                "{status:?}"
            );
        }
    }
}
