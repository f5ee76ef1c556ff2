//! The gateway's own pieces of the tower stack (the stack itself is laid out
//! in [`crate::routes::router`]): the per-request scope that carries the
//! request id into gRPC calls and problem bodies, the net that turns any
//! bare error response into problem+json, the access span, and the HTTP
//! metrics.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use foodmesh_shared::grpc::REQUEST_ID;

use crate::problem::Problem;
use crate::request_context::{self, RequestContext};
use crate::route_hints::RouteIndex;

/// The header a request id travels in, both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Runs the rest of the stack inside the request's scope: the request id is
/// set in the shared `REQUEST_ID` task-local (so every gRPC call made for
/// this request carries it) and in [`request_context::current_request`]
/// (so every problem body names it). On the way out, an error response
/// without a body of ours (a timeout, a router 405) is rewritten as
/// problem+json.
///
/// A 404 or 405 for a route the API does not serve names, when it can, the
/// route that was most likely meant ([`RouteIndex::hint`]).
pub async fn request_scope(
    State(routes): State<Arc<RouteIndex>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let context = RequestContext {
        request_id: request_id.clone(),
        path: request.uri().path().to_owned(),
    };
    request_context::scope(
        context,
        REQUEST_ID.scope(request_id, async move {
            let path = request.uri().path().to_owned();
            let response = next.run(request).await;
            // Worked out only for a bare 404 or 405 that becomes a problem.
            as_problem_if_bare(response, |status| match status {
                StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => {
                    routes.hint(&method, &path)
                }
                _ => None,
            })
        }),
    )
    .await
}

/// Replaces the body of a 4xx/5xx response that has no content type or a
/// plain-text one with a problem for its status, keeping its other headers
/// (`Allow` on a 405). JSON bodies (ours, `/readyz`) pass untouched.
fn as_problem_if_bare(
    response: Response,
    detail: impl FnOnce(StatusCode) -> Option<String>,
) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let bare = match response.headers().get(header::CONTENT_TYPE) {
        None => true,
        Some(value) => value.as_bytes().starts_with(b"text/plain"),
    };
    if !bare {
        return response;
    }
    let (parts, _body) = response.into_parts();
    let mut problem = Problem::for_status(status);
    if let Some(detail) = detail(status) {
        problem = problem.with_detail(detail);
    }
    let mut problem = problem.into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name.clone(), value.clone());
        }
    }
    problem
}

/// Removes a client's `x-request-id` unless it is short printable ASCII, so
/// the id layer generates a clean one instead: ids end up in logs, gRPC
/// metadata and response bodies.
pub async fn drop_unusable_request_id(mut request: Request, next: Next) -> Response {
    let unusable = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .is_some_and(|v| !is_usable_request_id(v.as_bytes()));
    if unusable {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

fn is_usable_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= 128 && id.iter().all(u8::is_ascii_graphic)
}

/// The route template a request matched (`/api/restaurants/{id}`), or
/// `unmatched`, so metric labels stay few however many ids are requested.
fn route_of(request: &Request) -> String {
    request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
}

/// Counts every request as `http_requests_total{method,route,status}` and
/// times it as `http_request_duration_seconds{method,route}`.
pub async fn record_http_metrics(request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_owned();
    let route = route_of(&request);
    let started = Instant::now();
    let response = next.run(request).await;
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method.clone(),
        "route" => route.clone()
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_u16().to_string()
    )
    .increment(1);
    response
}

/// The span every request is served in: a child of the caller's
/// `traceparent` when there is one, with the `trace_id` and `request_id`
/// fields every log line inside it carries.
pub fn request_span(request: &Request) -> tracing::Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let route = route_of(request);
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        http.method = %request.method(),
        http.route = %route,
        http.path = %request.uri().path(),
        request_id = %request_id,
        trace_id = tracing::field::Empty,
    );
    foodmesh_shared::telemetry::adopt_remote_parent(&span, request.headers());
    span
}

/// A `Location` header value for a created resource's path.
pub fn location(path: &str) -> (header::HeaderName, HeaderValue) {
    // Paths are built from integer ids and literals, always valid header
    // text; the fallback only keeps the type total.
    let value = HeaderValue::from_str(path).unwrap_or_else(|_| HeaderValue::from_static("/"));
    (header::LOCATION, value)
}

/// Help text for every metric the gateway records, so `/metrics` says what
/// each series is; given once the recorder exists.
pub fn describe_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "http_requests_total",
        "HTTP requests answered, by method, route and status."
    );
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Seconds to answer an HTTP request, by method and route."
    );
    describe_counter!(
        "grpc_client_requests_total",
        "Calls to the services, by service, method, status code and outcome (ok, refused, error)."
    );
    describe_histogram!(
        "grpc_client_request_duration_seconds",
        Unit::Seconds,
        "Seconds a call to a service took, by service and method."
    );
    describe_counter!(
        "gateway_menu_cache_hits_total",
        "Menu and currency reads served from the cache, by kind."
    );
    describe_counter!(
        "gateway_menu_cache_misses_total",
        "Menu and currency reads that went to restaurant-svc, by kind."
    );
    describe_counter!(
        "http_connections_refused_total",
        "Client connections closed at once: the connection cap was reached."
    );
    describe_counter!(
        "gateway_rate_limited_total",
        "Requests refused with 429 for their client's budget, by class of route."
    );
    describe_gauge!(
        "gateway_rate_limit_local_only",
        "1 while Redis does not answer and budgets are kept in this process."
    );
    describe_counter!(
        "gateway_rate_limit_store_errors_total",
        "Rate-limit checks Redis did not answer."
    );
    describe_gauge!(
        "gateway_circuit_state",
        "Each upstream's circuit breaker: 0 closed, 1 open, 2 half-open."
    );
    describe_counter!(
        "gateway_circuit_opened_total",
        "Times an upstream's breaker opened."
    );
    describe_counter!(
        "gateway_circuit_refused_total",
        "Calls an open breaker refused, by upstream."
    );
    describe_counter!(
        "gateway_retries_total",
        "Read retries, by upstream and outcome: sent, over_budget (the retry budget stopped it), breaker_open (the breaker the first failure opened refused it)."
    );
    describe_counter!(
        "http_requests_shed_total",
        "Requests shed with 503 past MAX_IN_FLIGHT."
    );
    describe_gauge!(
        "gateway_live_streams",
        "Live streams (Server-Sent Events) open now."
    );
    describe_counter!(
        "gateway_streams_refused_total",
        "Live streams refused, by reason (client, total)."
    );
}
