//! What the gateway takes on at once. Requests in flight are capped at
//! `MAX_IN_FLIGHT`: one past the cap is shed at once with 503 `overloaded`
//! and `Retry-After`, rather than queued behind the others until every
//! answer is late. Live streams last for minutes or hours, so they are
//! counted apart and do not hold the cap: at most `MAX_STREAMS` are open,
//! and at most `MAX_STREAMS_PER_CLIENT` for one client (429
//! `too_many_streams` past it), so one client cannot hold them all.
//! The platform routes (`/healthz`, `/readyz`, `/metrics`) are never
//! refused, so an overloaded gateway can still be probed and watched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::Semaphore;

use crate::problem::Problem;
use crate::rate_limit::{Client, PLATFORM_ROUTES};

/// The routes that answer with a live stream.
pub const STREAM_ROUTES: &[&str] = &[
    "/api/orders/{id}/events",
    "/api/kitchen/stream",
    "/api/deliveries/track/{tracking_id}/events",
];

/// The caps, from `MAX_IN_FLIGHT`, `MAX_STREAMS` and
/// `MAX_STREAMS_PER_CLIENT`.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionConfig {
    pub max_in_flight: usize,
    pub max_streams: usize,
    pub max_streams_per_client: usize,
}

#[derive(Debug)]
pub struct Admission {
    config: AdmissionConfig,
    in_flight: Arc<Semaphore>,
    /// Open streams per client, and in all.
    streams: Mutex<Streams>,
}

#[derive(Debug, Default)]
struct Streams {
    per_client: HashMap<String, usize>,
    total: usize,
}

impl Admission {
    pub fn new(config: AdmissionConfig) -> Arc<Self> {
        // From zero, so the dashboards show none rather than no data.
        metrics::counter!("http_requests_shed_total").increment(0);
        for reason in ["client", "total"] {
            metrics::counter!("gateway_streams_refused_total", "reason" => reason).increment(0);
        }
        metrics::gauge!("gateway_live_streams").set(0.0);
        Arc::new(Self {
            config,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight)),
            streams: Mutex::new(Streams::default()),
        })
    }

    fn streams(&self) -> std::sync::MutexGuard<'_, Streams> {
        // Counts only; whatever panicked while holding the lock left them
        // usable.
        self.streams.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn open_stream(self: &Arc<Self>, client: String) -> Result<StreamSlot, Problem> {
        let mut streams = self.streams();
        if streams.total >= self.config.max_streams {
            metrics::counter!("gateway_streams_refused_total", "reason" => "total").increment(1);
            return Err(overloaded(
                "The gateway has as many live streams open as it serves.",
            ));
        }
        let open = streams.per_client.entry(client.clone()).or_default();
        if *open >= self.config.max_streams_per_client {
            metrics::counter!("gateway_streams_refused_total", "reason" => "client").increment(1);
            return Err(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_streams",
                format!(
                    "This client has {} live streams open, the most it may; close one first.",
                    self.config.max_streams_per_client
                ),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("5")));
        }
        *open += 1;
        streams.total += 1;
        metrics::gauge!("gateway_live_streams").set(streams.total as f64);
        Ok(StreamSlot {
            admission: self.clone(),
            client,
        })
    }

    fn close_stream(&self, client: &str) {
        let mut streams = self.streams();
        if let Some(open) = streams.per_client.get_mut(client) {
            *open -= 1;
            if *open == 0 {
                streams.per_client.remove(client);
            }
        }
        streams.total = streams.total.saturating_sub(1);
        metrics::gauge!("gateway_live_streams").set(streams.total as f64);
    }
}

/// One open live stream; closing (dropping) it frees the slot.
struct StreamSlot {
    admission: Arc<Admission>,
    client: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        self.admission.close_stream(&self.client);
    }
}

fn overloaded(detail: &str) -> Problem {
    Problem::new(StatusCode::SERVICE_UNAVAILABLE, "overloaded", detail)
        .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
}

/// The route template the request matched, if any.
fn route_of(request: &Request) -> Option<&str> {
    request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
}

/// The outer middleware, before anything that costs (the rate limit's
/// round trip to Redis): a request other than a live stream takes an
/// in-flight permit, held until its answer is ready, or is shed at once.
pub async fn shed(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_of(&request);
    if route.is_some_and(|r| PLATFORM_ROUTES.contains(&r) || STREAM_ROUTES.contains(&r)) {
        return next.run(request).await;
    }
    let Ok(permit) = admission.in_flight.clone().try_acquire_owned() else {
        metrics::counter!("http_requests_shed_total").increment(1);
        return overloaded("The gateway is at its limit of requests in flight; retry shortly.")
            .into_response();
    };
    let response = next.run(request).await;
    drop(permit);
    response
}

/// The inner middleware, once the rate limit has named the [`Client`]: a
/// live stream takes a stream slot, held until its response body ends.
pub async fn count_streams(
    State(admission): State<Arc<Admission>>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_of(&request);
    if !route.is_some_and(|r| STREAM_ROUTES.contains(&r)) {
        return next.run(request).await;
    }
    let client = request
        .extensions()
        .get::<Client>()
        .map_or_else(String::new, |c| c.0.clone());
    let slot = match admission.open_stream(client) {
        Ok(slot) => slot,
        Err(problem) => return problem.into_response(),
    };
    let response = next.run(request).await;
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _open = &slot;
            chunk
        }))
    })
}
