//! The routes operators and orchestrators use: liveness, readiness and
//! metrics. (`/openapi.json` and `/docs` are mounted in
//! [`super::router`].)

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use crate::upstream::Health;

/// How long `/readyz` waits for each service's health answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// The answer of `/healthz` and `/health`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Liveness {
    /// Always `ok`: answering at all is the signal.
    pub status: String,
}

/// The answer of `/readyz`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "status": "ready",
    "upstreams": {
        "order-svc": "serving", "restaurant-svc": "serving", "kitchen-svc": "serving",
        "delivery-svc": "serving", "accounting-svc": "serving", "notification-svc": "serving"
    }
}))]
pub struct Readiness {
    /// `ready` when every upstream is serving, else `not_ready`.
    pub status: String,
    /// Each service's health: `serving`, `not_serving` or `unreachable`.
    pub upstreams: BTreeMap<String, String>,
}

/// Check that the gateway is alive
///
/// Answers `ok` while the process runs. It says nothing about the services behind it, so an
/// orchestrator restarts the gateway only when the gateway itself hangs; it is never
/// rate-limited.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "platform",
    responses((status = 200, description = "Alive.", body = Liveness))
)]
pub async fn healthz() -> Json<Liveness> {
    Json(Liveness {
        status: "ok".to_owned(),
    })
}

/// Check that the gateway is alive (original path)
///
/// The same as `/healthz`, under the name the original API's clients and load balancers call.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/health",
    tag = "platform",
    responses((status = 200, description = "Alive.", body = Liveness))
)]
pub async fn health() -> Json<Liveness> {
    healthz().await
}

/// Check that the gateway is ready
///
/// Answers 200 when every service behind the gateway answers its gRPC health check within a
/// second, 503 otherwise, so a load balancer sends traffic elsewhere; each service's health is
/// in `upstreams`.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "platform",
    responses(
        (status = 200, description = "Every upstream is serving.", body = Readiness),
        (status = 503, description = "Some upstream is not serving.", body = Readiness),
    )
)]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let results = state.upstreams.probes.check_all(PROBE_TIMEOUT).await;
    let ready = results.iter().all(|(_, h)| *h == Health::Serving);
    let upstreams = results
        .into_iter()
        .map(|(service, health)| (service.service_id().to_owned(), health.as_str().to_owned()))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let readiness = Readiness {
        status: if ready { "ready" } else { "not_ready" }.to_owned(),
        upstreams,
    };
    (status, Json(readiness))
}

/// Read the gateway's metrics
///
/// Answers every metric this process records, in the Prometheus text format.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "platform",
    responses((status = 200, description = "Prometheus text format.", body = String, content_type = "text/plain"))
)]
pub async fn metrics() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        foodmesh_shared::telemetry::prometheus().render(),
    )
}
