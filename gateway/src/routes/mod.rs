//! The REST API: every route, the state handlers share, and the tower stack
//! every request passes through.
//!
//! Handlers are thin: an extractor authenticates and parses, a body type
//! turns itself into a gRPC request (or a 422), the upstream is called, and
//! a view type turns the answer into JSON. Only this layer knows HTTP.

/// Declares a closed set of names a REST body or query uses (a status, a
/// payment method), with its protobuf counterpart: serialized lower_snake,
/// read in any case (and in the other spellings `| "alias"` lists),
/// refused with the list of accepted names, and
/// converted to and from the contract's enum in one place.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $name:ident: $pb:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)* => $pbvariant:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
        // Every name is its variant in snake_case (checked by the tests),
        // written here so the OpenAPI document sees it too.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as the API spells it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value named `text` (or one of its other spellings), in
            /// any case.
            pub fn parse(text: &str) -> Option<Self> {
                let text = text.trim();
                Self::ALL.iter().copied().find(|v| {
                    v.as_str().eq_ignore_ascii_case(text)
                        || v.aliases().iter().any(|a| a.eq_ignore_ascii_case(text))
                })
            }

            /// Other spellings read as the value, never written.
            fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*]),+ }
            }

            /// Every accepted name, for messages: `a, b or c`.
            pub fn names() -> String {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                match names.split_last() {
                    Some((last, [])) => (*last).to_owned(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                }
            }

            /// The contract's number for the value.
            pub fn to_proto(self) -> i32 {
                match self { $($name::$variant => <$pb>::$pbvariant as i32),+ }
            }

            /// The value a service sent; `None` for unspecified or unknown
            /// numbers.
            pub fn from_proto(raw: i32) -> Option<Self> {
                $( if raw == <$pb>::$pbvariant as i32 { return Some($name::$variant); } )+
                None
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("must be {}", Self::names()))
                })
            }
        }
    };
}

pub mod coupons;
pub mod customers;
pub mod deliveries;
pub mod drivers;
pub mod kitchen;
pub mod live;
pub mod menu;
pub mod notifications;
pub mod orders;
pub mod payments;
pub mod platform;
pub mod restaurants;

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1::Money;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::admission::{self, Admission};
use crate::auth::Verifier;
use crate::middleware;
use crate::money::Decimal;
use crate::openapi::ApiDoc;
use crate::problem::Problem;
use crate::rate_limit::{self, RateLimiter};
use crate::route_hints::RouteIndex;
use crate::upstream::Upstreams;

/// What every handler can reach: the upstream clients, the token verifier
/// and the limits the stack enforces.
#[derive(Debug, Clone)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub rate_limiter: Arc<RateLimiter>,
    pub admission: Arc<Admission>,
    pub verifier: Arc<Verifier>,
    pub body_limit_bytes: usize,
    /// Longest a whole request may take.
    pub request_timeout: Duration,
    /// Longest a request body may pause between two chunks.
    pub body_read_timeout: Duration,
    /// Turns true when the gateway starts draining: live streams end then
    /// (clients reconnect to another replica), so they do not hold the
    /// shutdown open.
    pub draining: tokio::sync::watch::Receiver<bool>,
}

impl FromRef<AppState> for Arc<Verifier> {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// The gateway's whole HTTP application: the API, `/openapi.json`,
/// `/docs`, the web pages (`/`, `/kitchen`, `/admin`), the platform routes, problem+json for unknown routes, and the
/// layers below, in order. The binary and tests both serve exactly this.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = api_routes(state.body_limit_bytes).split_for_parts();
    let openapi = crate::openapi::complete(openapi);
    let route_index = Arc::new(RouteIndex::from_openapi(&openapi));
    let body_limit = state.body_limit_bytes;
    let request_timeout = state.request_timeout;
    let body_read_timeout = state.body_read_timeout;
    let rate_limiter = state.rate_limiter.clone();
    let admission = state.admission.clone();
    let stack = ServiceBuilder::new()
        // A client's request id is kept only when it is short printable
        // text, so what is logged and echoed stays clean.
        .layer(axum::middleware::from_fn(
            middleware::drop_unusable_request_id,
        ))
        // Every request gets an id (the client's, or a fresh UUID) before
        // anything below logs or calls out.
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        // The response carries the id back, so a client can quote it.
        .layer(PropagateRequestIdLayer::x_request_id())
        // One span per request, joined to the caller's `traceparent`, so
        // every log line and gRPC call below shares its trace id. A line
        // per answered request is written at debug only: under load it
        // was a tenth of the gateway's CPU, and the request metrics count
        // every answer anyway. A 5xx is still logged, as an error.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(middleware::request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::DEBUG)),
        )
        // Counted and timed outside everything that can refuse a request,
        // so refusals and timeouts show in the metrics too.
        .layer(axum::middleware::from_fn(middleware::record_http_metrics))
        // The request id into gRPC metadata and problem bodies; bare error
        // responses from the layers below become problem+json.
        .layer(axum::middleware::from_fn_with_state(
            route_index,
            middleware::request_scope,
        ))
        // Past the cap of requests in flight a request is shed (503) at
        // once, before it costs anything more.
        .layer(axum::middleware::from_fn_with_state(
            admission.clone(),
            admission::shed,
        ))
        // Over its budget, a client is refused (429) before anything is
        // read or called; under it, it is told what is left.
        .layer(axum::middleware::from_fn_with_state(
            rate_limiter,
            rate_limit::enforce,
        ))
        // Live streams are counted apart from requests, per client.
        .layer(axum::middleware::from_fn_with_state(
            admission,
            admission::count_streams,
        ))
        // A request that outlives its upstream deadlines is cut off (504)
        // rather than holding its connection.
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            request_timeout,
        ))
        // Bodies are refused (413) as soon as they pass the limit, never
        // buffered whole.
        .layer(DefaultBodyLimit::max(body_limit))
        // A body that stops arriving is refused (408) instead of holding
        // its buffer until the whole request times out.
        .layer(RequestBodyTimeoutLayer::new(body_read_timeout));
    Router::new()
        .merge(api.with_state(state))
        .merge(SwaggerUi::new("/docs").url("/openapi.json", openapi))
        .merge(crate::ui::routes())
        .fallback(unknown_route)
        .layer(stack)
}

/// Every documented route, registered with axum and the OpenAPI document
/// in one place. One `routes!` per path. `body_limit` is the stack's limit
/// on request bodies, which one route raises for itself.
fn api_routes(body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            restaurants::create_restaurant,
            restaurants::list_restaurants
        ))
        .routes(routes!(
            restaurants::get_restaurant,
            restaurants::update_restaurant,
            restaurants::delete_restaurant
        ))
        .routes(routes!(menu::get_menu, menu::create_menu_item))
        .routes(routes!(
            menu::get_menu_item,
            menu::update_menu_item,
            menu::delete_menu_item
        ))
        .routes(routes!(menu::list_categories, menu::create_category))
        .routes(routes!(menu::update_category, menu::delete_category))
        .routes(routes!(menu::list_option_groups, menu::create_option_group))
        .routes(routes!(
            menu::update_option_group,
            menu::delete_option_group
        ))
        .routes(routes!(coupons::list_coupons, coupons::create_coupon))
        .routes(routes!(coupons::get_coupon, coupons::update_coupon))
        .routes(routes!(orders::create_order, orders::list_orders))
        .routes(routes!(orders::quote_order))
        .routes(routes!(orders::track_order))
        .routes(routes!(orders::get_order, orders::cancel_order))
        .routes(routes!(orders::update_order_status))
        .routes(routes!(orders::add_item))
        .routes(routes!(orders::update_item, orders::remove_item))
        .routes(routes!(orders::get_history))
        .routes(routes!(orders::watch_order))
        .routes(routes!(orders::reorder))
        .routes(routes!(customers::get_customer, customers::update_customer))
        .routes(routes!(customers::list_customer_orders))
        .routes(routes!(kitchen::create_ticket, kitchen::list_tickets))
        .routes(routes!(kitchen::get_ticket))
        .routes(routes!(kitchen::update_ticket_status))
        .routes(routes!(kitchen::watch_queue))
        .routes(routes!(kitchen::get_stats))
        .routes(routes!(drivers::create_driver, drivers::list_drivers))
        .routes(routes!(drivers::get_driver, drivers::update_driver))
        .routes(routes!(drivers::update_location))
        .routes(routes!(drivers::driver_deliveries))
        .routes(routes!(
            deliveries::create_delivery,
            deliveries::list_deliveries
        ))
        .routes(routes!(deliveries::track_delivery))
        .routes(routes!(deliveries::order_delivery))
        .routes(routes!(deliveries::watch_tracking))
        .routes(routes!(deliveries::get_delivery))
        .routes(routes!(deliveries::get_delivery_history))
        .routes(routes!(deliveries::assign_delivery))
        .routes(routes!(deliveries::update_delivery_status))
        .routes(routes!(payments::create_payment))
        .routes(routes!(payments::list_invoices))
        .routes(routes!(payments::refund_payment))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments::list_order_payments))
        .routes(routes!(payments::process_payment))
        .routes(routes!(payments::provider_webhook))
        .routes(routes!(
            notifications::list_notifications,
            notifications::send_notification
        ))
        .routes(bulk_send_route(body_limit))
        .routes(routes!(notifications::get_bulk))
        .routes(routes!(
            notifications::get_preferences,
            notifications::set_preferences
        ))
        .routes(routes!(
            notifications::list_templates,
            notifications::create_template
        ))
        .routes(routes!(
            notifications::get_template,
            notifications::update_template
        ))
        .routes(routes!(platform::health))
        .routes(routes!(platform::healthz))
        .routes(routes!(platform::readyz))
        .routes(routes!(platform::metrics))
}

/// `POST /api/notifications/bulk`, which alone reads bodies of up to
/// [`notifications::BULK_BODY_LIMIT_BYTES`]: a send names up to 100,000
/// recipients, and one request carries them all. Its limit is set on the
/// route, inside the stack's [`DefaultBodyLimit`], so it is the one that
/// holds there; every other route keeps `body_limit` (and so does this one,
/// should `body_limit` be the larger).
fn bulk_send_route(body_limit: usize) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, send) = routes!(notifications::start_bulk);
    let limit = DefaultBodyLimit::max(notifications::BULK_BODY_LIMIT_BYTES.max(body_limit));
    (schemas, paths, send.layer(limit))
}

/// A bare 404, which [`middleware::request_scope`] turns into a problem
/// naming the route most likely meant.
async fn unknown_route() -> StatusCode {
    StatusCode::NOT_FOUND
}

/// A 201 with the new resource's `Location` and its JSON.
pub type Created<T> = (StatusCode, [(HeaderName, HeaderValue); 1], Json<T>);

pub fn created<T>(location: &str, body: T) -> Created<T> {
    (
        StatusCode::CREATED,
        [middleware::location(location)],
        Json(body),
    )
}

/// A 202 with the `Location` where the accepted work is followed, and its
/// JSON as it starts.
pub type Accepted<T> = (StatusCode, [(HeaderName, HeaderValue); 1], Json<T>);

pub fn accepted<T>(location: &str, body: T) -> Accepted<T> {
    (
        StatusCode::ACCEPTED,
        [middleware::location(location)],
        Json(body),
    )
}

/// A protobuf timestamp as RFC 3339 time.
pub fn from_timestamp(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.and_then(foodmesh_shared::timestamp::from_pb)
}

/// RFC 3339 time as a protobuf timestamp.
pub use foodmesh_shared::timestamp::to_pb as to_timestamp;

/// An amount from a service as a REST decimal with its currency. A missing
/// amount is zero in `currency`, the restaurant's.
///
/// # Errors
/// A currency the platform does not know: the service broke the contract,
/// so the client gets an opaque 500 and the log says why.
pub fn amount(money: Option<&Money>, currency: &str) -> Result<(Decimal, String), Problem> {
    let (minor, code) = match money {
        Some(m) if !m.currency.is_empty() => (m.amount_minor, m.currency.as_str()),
        Some(m) => (m.amount_minor, currency),
        None => (0, currency),
    };
    Decimal::from_minor(minor, code)
        .map(|d| (d, code.to_owned()))
        .map_err(|e| Problem::internal(&format_args!("amount from upstream: {e}")))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use axum::body::Body;
    use axum::http::{Request, header};
    use foodmesh_shared::ServiceName;
    use foodmesh_shared::config::DiscoveryConfig;
    use foodmesh_shared::discovery::Discovery;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::problem::PROBLEM_JSON;

    /// The application with every upstream pointing at a closed port: only
    /// what the gateway answers by itself can succeed.
    fn app() -> Router {
        let map: HashMap<ServiceName, String> = ServiceName::ALL
            .into_iter()
            .map(|s| (s, "http://127.0.0.1:9".to_owned()))
            .collect();
        let discovery = Discovery::from_config(&DiscoveryConfig::Static(map));
        let policy = crate::upstream::CallPolicy {
            timeout: Duration::from_millis(200),
            breaker: crate::breaker::BreakerConfig {
                failures: 5,
                open_for: Duration::from_secs(5),
            },
        };
        let upstreams = Upstreams::connect(&discovery, policy).expect("static map");
        let verifier = Arc::new(Verifier::new(b"secret"));
        let rate_limiter = Arc::new(RateLimiter::new(
            crate::rate_limit::RateLimitConfig::from_lookup(&|_| None).expect("defaults parse"),
            verifier.clone(),
            Arc::new(crate::rate_limit::store::Store::local()),
        ));
        router(AppState {
            upstreams,
            rate_limiter,
            admission: Admission::new(crate::admission::AdmissionConfig {
                max_in_flight: 64,
                max_streams: 64,
                max_streams_per_client: 4,
            }),
            verifier,
            body_limit_bytes: 1024,
            request_timeout: Duration::from_secs(2),
            body_read_timeout: Duration::from_millis(200),
            draining: tokio::sync::watch::channel(false).1,
        })
    }

    async fn send(
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = app().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, headers, json)
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).body(Body::empty()).expect("request")
    }

    fn admin_token() -> String {
        crate::auth::issue(
            b"secret",
            crate::auth::Role::Admin,
            "root",
            None,
            Duration::from_secs(60),
        )
        .expect("token")
    }

    #[tokio::test]
    async fn an_unknown_route_is_a_problem_404_with_the_request_id() {
        let request = Request::get("/nowhere")
            .header("x-request-id", "abc-123")
            .body(Body::empty())
            .expect("request");
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(headers["x-request-id"], "abc-123");
        assert_eq!(body["request_id"], "abc-123");
        assert_eq!(body["instance"], "/nowhere");
        assert_eq!(body["code"], "not_found");
    }

    #[tokio::test]
    async fn an_unusable_request_id_is_replaced_by_a_generated_one() {
        let request = Request::get("/nowhere")
            .header("x-request-id", "x".repeat(500))
            .body(Body::empty())
            .expect("request");
        let (_, headers, body) = send(request).await;
        let id = headers["x-request-id"].to_str().expect("text");
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(body["request_id"], id);
    }

    #[tokio::test]
    async fn a_wrong_method_is_a_problem_405_keeping_allow() {
        let request = Request::put("/api/restaurants")
            .body(Body::empty())
            .expect("request");
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_JSON);
        assert!(headers.contains_key(header::ALLOW));
        assert_eq!(body["code"], "method_not_allowed");
        assert!(!body["request_id"].as_str().unwrap_or_default().is_empty());
    }

    #[tokio::test]
    async fn another_api_s_spelling_is_told_the_route_that_exists() {
        let request = Request::post("/api/v1/orders/7/cancel")
            .body(Body::empty())
            .expect("request");
        let (status, _, body) = send(request).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "not_found");
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("DELETE /api/orders/{id}"), "{detail}");

        let request = Request::put("/api/orders/7/items/3")
            .body(Body::empty())
            .expect("request");
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(headers.contains_key(header::ALLOW));
        let detail = body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("PATCH /api/orders/{id}/items/{item_id}"),
            "{detail}"
        );

        let (status, _, body) = send(get("/api/v1/restaurants")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["detail"], "Did you mean GET /api/restaurants?");
    }

    #[tokio::test]
    async fn a_write_without_a_token_is_401_before_the_body_is_read() {
        let request = Request::post("/api/restaurants")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("not even json"))
            .expect("request");
        let (status, headers, body) = send(request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            headers[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap_or_default()
                .starts_with("Bearer")
        );
        assert_eq!(body["code"], "unauthorized");
    }

    #[tokio::test]
    async fn a_non_numeric_path_id_is_a_400_naming_the_parameter() {
        let (status, _, body) = send(get("/api/restaurants/abc/menu")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["errors"][0]["field"], "id");
        let (status, _, body) = send(get("/api/restaurants/0")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["errors"][0]["field"], "id");
    }

    #[tokio::test]
    async fn an_oversized_body_is_a_413() {
        let request = Request::post("/api/restaurants")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {}", admin_token()))
            .body(Body::from(format!(r#"{{"name": "{}"}}"#, "x".repeat(2048))))
            .expect("request");
        let (status, _, body) = send(request).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn only_a_bulk_send_reads_a_body_over_the_gateways_limit() {
        let recipients: Vec<String> = (1..=40)
            .map(|i| format!(r#"{{"customer_id": {i}, "email": "c{i}@example.com"}}"#))
            .collect();
        let bulk = format!(
            r#"{{"template": "menu_news", "channel": "email", "recipients": [{}]}}"#,
            recipients.join(",")
        );
        assert!(bulk.len() > 1024, "over the test app's limit");
        let post = |path: &str, body: String| {
            Request::post(path)
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", admin_token()))
                .body(Body::from(body))
                .expect("request")
        };

        let (bulk_status, _, _) = send(post("/api/notifications/bulk", bulk.clone())).await;
        let (other_status, _, body) = send(post("/api/notifications", bulk)).await;

        // Read whole and sent on; notification-svc is not there to take it.
        assert_eq!(bulk_status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(other_status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["code"], "payload_too_large");
    }

    #[tokio::test]
    async fn the_notification_routes_are_documented() {
        let (_, _, doc) = send(get("/openapi.json")).await;
        let paths = &doc["paths"];
        for (path, method) in [
            ("/api/notifications", "get"),
            ("/api/notifications", "post"),
            ("/api/notifications/bulk", "post"),
            ("/api/notifications/bulk/{id}", "get"),
            ("/api/notifications/preferences", "get"),
            ("/api/notifications/preferences", "post"),
            ("/api/notifications/templates", "get"),
            ("/api/notifications/templates", "post"),
            ("/api/notifications/templates/{id}", "get"),
            ("/api/notifications/templates/{id}", "put"),
        ] {
            assert_eq!(
                paths[path][method]["tags"][0], "notifications",
                "{method} {path}"
            );
        }
        assert!(paths["/api/notifications/bulk"]["post"]["responses"]["202"].is_object());
    }

    #[tokio::test]
    async fn an_unreachable_upstream_is_a_503_problem() {
        let (status, headers, body) = send(get("/api/restaurants/1")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(body["code"], "service_unavailable");
    }

    #[tokio::test]
    async fn readiness_names_every_upstream_and_fails_when_they_are_down() {
        let (status, _, body) = send(get("/readyz")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "not_ready");
        for service in ServiceName::ALL {
            assert_eq!(body["upstreams"][service.service_id()], "unreachable");
        }
    }

    #[tokio::test]
    async fn the_stream_routes_admission_counts_apart_are_the_documented_streams() {
        let (_, _, doc) = send(get("/openapi.json")).await;
        let mut streams: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .filter(|(_, item)| {
                item["get"]["responses"]["200"]["content"]["text/event-stream"].is_object()
            })
            .map(|(path, _)| path.clone())
            .collect();
        streams.sort();
        let mut counted: Vec<String> = admission::STREAM_ROUTES
            .iter()
            .map(|r| (*r).to_owned())
            .collect();
        counted.sort();
        assert_eq!(streams, counted);
    }

    #[tokio::test]
    async fn the_openapi_document_has_the_schemas_of_live_event_data() {
        let (status, _, doc) = send(get("/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        for schema in ["OrderUpdateView", "SyncedView"] {
            assert!(
                doc["components"]["schemas"][schema].is_object(),
                "{schema} missing"
            );
        }
    }

    /// A limit in the document is a literal (the schema macros take no
    /// constants), so this holds each to the one the checks use.
    #[tokio::test]
    async fn the_documented_limits_are_the_ones_the_requests_are_held_to() {
        use foodmesh_shared::values::{COUPON_CODE_LENGTH, MAX_SELECT, POSITION, limits};
        let (_, _, doc) = send(get("/openapi.json")).await;
        let position_max = usize::try_from(*POSITION.end()).expect("a small bound");
        let select_max = usize::try_from(MAX_SELECT).expect("a small bound");
        let schemas = &doc["components"]["schemas"];
        let documented = [
            (
                "NewRestaurant",
                "name",
                "maxLength",
                limits::RESTAURANT_NAME,
            ),
            (
                "NewRestaurant",
                "description",
                "maxLength",
                limits::DESCRIPTION,
            ),
            (
                "RestaurantPatch",
                "name",
                "maxLength",
                limits::RESTAURANT_NAME,
            ),
            ("NewMenuItem", "name", "maxLength", limits::MENU_ITEM_NAME),
            ("NewCategory", "name", "maxLength", limits::CATEGORY_NAME),
            ("NewOptionGroup", "name", "maxLength", limits::OPTION_NAME),
            ("NewCoupon", "code", "maxLength", *COUPON_CODE_LENGTH.end()),
            (
                "NewCoupon",
                "code",
                "minLength",
                *COUPON_CODE_LENGTH.start(),
            ),
            ("CustomerInput", "name", "maxLength", limits::PERSON_NAME),
            ("NewCategory", "position", "maximum", position_max),
            ("MenuItemPatch", "position", "maximum", position_max),
            ("NewOptionGroup", "max_select", "maximum", select_max),
            ("OptionGroupPatch", "min_select", "maximum", select_max),
        ];
        for (schema, field, keyword, limit) in documented {
            assert_eq!(
                schemas[schema]["properties"][field][keyword],
                serde_json::json!(limit),
                "{schema}.{field} {keyword}"
            );
        }
    }

    #[tokio::test]
    async fn the_openapi_document_has_problem_responses_and_the_bearer_scheme() {
        let (status, _, doc) = send(get("/openapi.json")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let create = &doc["paths"]["/api/restaurants/{id}/menu"]["post"];
        for code in [
            "201", "400", "401", "403", "404", "413", "415", "422", "500", "503",
        ] {
            assert!(create["responses"][code].is_object(), "{code}: {create}");
        }
    }

    #[tokio::test]
    async fn every_operation_says_in_short_what_it_is_who_may_call_it_and_what_it_sets_off() {
        let (_, _, doc) = send(get("/openapi.json")).await;
        let paths = doc["paths"].as_object().expect("paths");
        let mut faults = Vec::new();
        for (path, item) in paths.iter().filter(|(p, _)| p.starts_with("/api/")) {
            for (method, op) in item.as_object().into_iter().flatten() {
                let summary = op["summary"].as_str().unwrap_or_default();
                let description = op["description"].as_str().unwrap_or_default();
                let at = format!("{} {path}", method.to_uppercase());
                if summary.is_empty() || summary.chars().count() > 60 || summary.ends_with('.') {
                    faults.push(format!("{at}: summary {summary:?}"));
                }
                for part in ["Who may call:", "Events:"] {
                    if !description.contains(part) {
                        faults.push(format!("{at}: no {part:?} in the description"));
                    }
                }
                // A route anyone may call shows no lock.
                let public = description.contains("Who may call: anyone");
                if public && op.get("security").is_some() {
                    faults.push(format!("{at}: public, yet it names a security scheme"));
                }
            }
        }
        assert!(faults.is_empty(), "{}", faults.join("\n"));
    }
}
