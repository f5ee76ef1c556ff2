//! The gRPC server every service runs, and the client-side half of trace
//! propagation.
//!
//! [`GrpcServer`] adds to a service's own tonic services what every service
//! must have: the standard health service, server reflection (v1 and
//! v1alpha, for grpcurl of any age) listing what the process serves and
//! nothing else, per-method request counts and
//! latencies, trace-context adoption, and `/metrics` + `/healthz` over
//! HTTP/1.1 on the same port so Prometheus and Consul need one address.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::response::IntoResponse;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::{Layer, Service};
use tracing::Instrument;

/// A service's gRPC server before it is started.
pub struct GrpcServer {
    routes: Routes,
    health: HealthReporter,
    names: Vec<&'static str>,
}

impl Default for GrpcServer {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcServer {
    /// A server with health, reflection and the HTTP `/metrics` route.
    pub fn new() -> Self {
        // Metrics recorded before a recorder exists are lost; make sure it
        // does before the first call can arrive.
        crate::telemetry::prometheus();
        let (health, health_service) = tonic_health::server::health_reporter();
        let http = axum::Router::new()
            .route("/metrics", axum::routing::get(render_metrics))
            .route("/healthz", axum::routing::get(|| async { "ok" }))
            // The name the original API's clients and load balancers call.
            .route("/health", axum::routing::get(|| async { "ok" }));
        let routes = Routes::from(http).add_service(health_service);
        Self {
            routes,
            health,
            names: Vec::new(),
        }
    }

    /// Server reflection (v1 and v1alpha) that lists what this process
    /// serves — its own services, health and reflection — and describes
    /// them from the contracts' descriptors.
    fn add_reflection(mut self) -> Self {
        let advertised: Vec<&str> = self
            .names
            .iter()
            .copied()
            .chain([
                "grpc.health.v1.Health",
                "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection",
            ])
            .collect();
        let builder = || {
            advertised.iter().fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(foodmesh_proto::FILE_DESCRIPTOR_SET)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(*name),
            )
        };
        match (builder().build_v1(), builder().build_v1alpha()) {
            (Ok(v1), Ok(v1alpha)) => {
                self.routes = self.routes.add_service(v1).add_service(v1alpha);
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "reflection disabled: bad descriptor set");
            }
        }
        self
    }

    /// Adds one of the service's own tonic services; it is reported SERVING
    /// by the health service once the server starts.
    #[must_use]
    pub fn add_service<S>(mut self, svc: S) -> Self
    where
        S: Service<http::Request<Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Response: IntoResponse,
        S::Future: Send + 'static,
    {
        self.names.push(S::NAME);
        self.routes = self.routes.add_service(svc);
        self
    }

    /// The health reporter, so the owner can flip services to NOT_SERVING
    /// before draining.
    pub fn health(&self) -> HealthReporter {
        self.health.clone()
    }

    /// Serves on `listener` until `shutdown` resolves, then lets in-flight
    /// calls finish.
    ///
    /// # Errors
    /// The transport fails (not a single bad connection, which is dropped).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), tonic::transport::Error> {
        // The empty name is the whole server, which is what Consul's gRPC
        // check and Kubernetes' grpc probe ask about.
        self.health
            .set_service_status("", ServingStatus::Serving)
            .await;
        for name in &self.names {
            self.health
                .set_service_status(*name, ServingStatus::Serving)
                .await;
        }
        let upkeep = crate::telemetry::spawn_upkeep();
        let this = self.add_reflection();
        let result = tonic::transport::Server::builder()
            // Prometheus and probes speak HTTP/1.1 to the same port.
            .accept_http1(true)
            // Outermost, so the metrics see every call, including failures
            // of the layers below.
            .layer(ObserveLayer)
            .add_routes(this.routes.prepare())
            // Small RPCs must not wait for Nagle: with delayed ACKs on the
            // peer that costs ~40 ms per call. The builder's own setting
            // applies only to listeners it binds, so set it on ours.
            .serve_with_incoming_shutdown(
                TcpIncoming::from(listener).with_nodelay(Some(true)),
                shutdown,
            )
            .await;
        upkeep.abort();
        result
    }
}

async fn render_metrics() -> impl IntoResponse {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::prometheus().render(),
    )
}

/// Splits `/pkg.Service/Method` into its two names.
fn split_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix('/')?;
    rest.split_once('/')
}

/// Tower layer that wraps every gRPC call in a span joined to the caller's
/// trace and records `grpc_server_requests_total` and
/// `grpc_server_request_duration_seconds`.
#[derive(Debug, Clone, Copy)]
pub struct ObserveLayer;

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe { inner }
    }
}

/// The service made by [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
}

impl<S, B, R> Service<http::Request<B>> for Observe<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let is_grpc = req
            .headers()
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
        let names = if is_grpc {
            split_path(req.uri().path()).map(|(s, m)| (s.to_owned(), m.to_owned()))
        } else {
            None
        };
        let Some((service, method)) = names else {
            return Box::pin(self.inner.call(req));
        };
        let request_id = req
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format_args!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            request_id = %request_id,
            trace_id = tracing::field::Empty,
        );
        crate::telemetry::adopt_remote_parent(&span, req.headers());
        let started = Instant::now();
        let fut = self.inner.call(req).instrument(span);
        Box::pin(async move {
            // The caller's request id goes on with every call and event
            // this one makes (see [`Propagate`] and the outbox).
            let result = if request_id.is_empty() {
                fut.await
            } else {
                REQUEST_ID.scope(request_id, fut).await
            };
            let code = match &result {
                Ok(resp) => resp
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32),
                Err(_) => tonic::Code::Unknown,
            };
            let labels = [("grpc_service", service), ("grpc_method", method)];
            metrics::histogram!("grpc_server_request_duration_seconds", &labels)
                .record(started.elapsed().as_secs_f64());
            let [s, m] = labels;
            metrics::counter!(
                "grpc_server_requests_total",
                &[
                    s,
                    m,
                    ("grpc_code", code_name(code).to_owned()),
                    ("outcome", outcome(code).to_owned()),
                ]
            )
            .increment(1);
            result
        })
    }
}

/// The canonical upper-snake name of a gRPC code, as Grafana panels show it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

/// What a call's status code says of the server: `ok`; `error`, a fault
/// of the server or of what it depends on (INTERNAL, UNKNOWN, UNAVAILABLE,
/// DEADLINE_EXCEEDED, DATA_LOSS); or `refused`, any other code, where the
/// server worked and said no (a conflict, bad input, a missing order).
/// Error rates count only `error`: refusals are the service doing its job.
pub fn outcome(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "ok",
        Internal | Unknown | Unavailable | DeadlineExceeded | DataLoss => "error",
        _ => "refused",
    }
}

/// Client interceptor that carries the current trace context and request id
/// to the next service, so one order's trace spans every hop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Propagate;

tokio::task_local! {
    /// The request id of the REST call being served: set by the gateway
    /// around each request, by every service around each call it serves
    /// and each event it applies, so every gRPC call and event made for
    /// the request carries it.
    pub static REQUEST_ID: String;
}

impl tonic::service::Interceptor for Propagate {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut headers = http::HeaderMap::new();
        crate::telemetry::inject(&mut headers);
        let md = req.metadata_mut();
        for (name, value) in &headers {
            if let (Ok(key), Ok(val)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                tonic::metadata::MetadataValue::try_from(value.as_bytes()),
            ) {
                md.insert(key, val);
            }
        }
        let _ = REQUEST_ID.try_with(|id| {
            if let Ok(val) = tonic::metadata::MetadataValue::try_from(id.as_str())
                && !id.is_empty()
            {
                md.insert("x-request-id", val);
            }
        });
        Ok(req)
    }
}

/// The span of one outgoing call to `grpc_service`'s `method`
/// (OpenTelemetry kind client), with the request id it carries. Instrument
/// the call's future with it: [`Propagate`] then names it as the callee's
/// parent, so the trace shows the caller's side of every hop.
pub fn client_span(grpc_service: &str, method: &str) -> tracing::Span {
    let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
    tracing::info_span!(
        "grpc.client",
        otel.name = %format_args!("{grpc_service}/{method}"),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = %grpc_service,
        rpc.method = %method,
        request_id = %request_id,
    )
}

/// A channel wrapped with [`Propagate`]: what every generated client takes.
pub type TracedChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Propagate>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/foodmesh.restaurant.v1.RestaurantService/GetMenu"),
            Some(("foodmesh.restaurant.v1.RestaurantService", "GetMenu"))
        );
        assert_eq!(split_path("metrics"), None);
    }

    #[test]
    fn only_a_server_s_failures_are_errors_and_its_answers_refusals() {
        use tonic::Code;
        assert_eq!(outcome(Code::Ok), "ok");
        for code in [
            Code::Internal,
            Code::Unknown,
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::DataLoss,
        ] {
            assert_eq!(outcome(code), "error", "{code:?}");
        }
        for code in [
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::Aborted,
            Code::ResourceExhausted,
        ] {
            assert_eq!(outcome(code), "refused", "{code:?}");
        }
    }
}
