//! The FoodMesh gateway: the only process that speaks HTTP/JSON to clients.
//! It authenticates, authorizes and validates the shape of each request,
//! translates it into gRPC calls to the services, and translates their
//! answers (and gRPC statuses) back. It holds no business data.
//!
//! # Layout
//! Lowest layer first: a module imports only from modules above it in this
//! list, never from one below, so no two modules import each other.
//! - [`money`] — exact decimal amounts in and out.
//! - [`request_context`] — the id and path of the request a task serves.
//! - [`menu_cache`] — public menus (as JSON) and currencies, kept correct
//!   by restaurant-svc's stream of menu changes.
//! - [`problem`] — problem+json errors, the gRPC → HTTP status table, and
//!   the table of upstream failures that mean more once the gateway knows
//!   what a request was about.
//! - [`extract`] — JSON bodies, path ids and query parameters, refused with
//!   the field named.
//! - [`validate`] — shape checks collected into one 422.
//! - [`auth`] — bearer JWTs: issuing, verifying, and the extractors that
//!   answer 401/403.
//! - [`rate_limit`] — per-client budgets per class of route, shared
//!   through Redis, with a per-process fallback.
//! - [`admission`] — the cap on requests in flight (shedding) and on live
//!   streams, in all and per client.
//! - [`config`] — environment variables with local defaults.
//! - [`middleware`] — request scope, access span, HTTP metrics.
//! - [`openapi`] — the OpenAPI document's fixed parts and its problem
//!   responses.
//! - [`breaker`] — a circuit breaker per upstream service.
//! - [`upstream`] — gRPC clients with deadlines, breakers, read retries
//!   and metrics.
//! - [`menu_watch`] — the task that follows restaurant-svc's menu changes
//!   into the menu cache.
//! - [`routes`] — the REST API and the tower stack ([`routes::router`]).
//! - [`serve`] — the server loop: header timeout, connection cap, the
//!   peer's address on each request, graceful shutdown.
//!
//! [`build`] binds the listener and returns a [`Gateway`]; its
//! [`Gateway::run`] serves until a shutdown future resolves. The end-to-end
//! tests go through these two; the binary and the `foodmesh` launcher
//! through [`run_from_env`], which wraps them.

pub mod admission;
pub mod auth;
pub mod breaker;
pub mod config;
pub mod extract;
pub mod menu_cache;
pub mod menu_watch;
pub mod middleware;
pub mod money;
pub mod openapi;
pub mod problem;
pub mod rate_limit;
pub mod request_context;
pub mod route_hints;
pub mod routes;
pub mod serve;
pub mod ui;
pub mod upstream;
pub mod validate;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use foodmesh_shared::discovery::{
    Discovery, HealthCheck, Registration, advertised, keep_registered,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::GatewayConfig;
pub use routes::{AppState, router};

/// The name the gateway registers under in discovery and logs as.
pub const SERVICE_ID: &str = "gateway";

/// The whole life of the gateway process: configuration from the
/// environment, telemetry, [`build`], serve until Ctrl-C or SIGTERM, flush
/// traces. The binary and the `foodmesh` launcher both call this, so they
/// cannot drift apart.
///
/// # Errors
/// Bad configuration, or a failed build (port taken).
pub async fn run_from_env() -> anyhow::Result<()> {
    let config = GatewayConfig::from_env()?;
    let telemetry = foodmesh_shared::telemetry::init(SERVICE_ID, &config.telemetry)?;
    let result = async {
        let gateway = build(config).await?;
        gateway.run(foodmesh_shared::shutdown::signal()).await;
        anyhow::Ok(())
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "gateway failed");
    }
    telemetry.shutdown();
    result
}

/// A gateway with its listener bound, ready to [`Gateway::run`].
pub struct Gateway {
    listener: TcpListener,
    local_addr: SocketAddr,
    app: Router,
    discovery: Discovery,
    registration: Registration,
    drain: tokio::sync::watch::Sender<bool>,
    restaurants: upstream::Restaurants,
    limits: Arc<rate_limit::store::Store>,
    connections: config::ConnectionLimits,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("local_addr", &self.local_addr)
            .field("registration", &self.registration.id)
            .finish_non_exhaustive()
    }
}

/// Connects (lazily) to the services, builds the HTTP application and binds
/// `config.listen_addr`. Nothing is served until [`Gateway::run`], but the
/// port is already taken, so a test can use [`Gateway::local_addr`] at once.
///
/// # Errors
/// A malformed static service address, or the address cannot be bound.
pub async fn build(config: GatewayConfig) -> anyhow::Result<Gateway> {
    if config.jwt_secret_is_default {
        tracing::warn!(
            "JWT_SECRET is unset: using the public development secret; \
             anyone can mint tokens for this gateway"
        );
    }
    // Installs the recorder if telemetry::init did not (tests), so the
    // metrics recorded from here on are exported.
    foodmesh_shared::telemetry::prometheus();
    middleware::describe_metrics();
    let discovery = Discovery::from_config(&config.discovery);
    let policy = upstream::CallPolicy {
        timeout: config.upstream_timeout,
        breaker: config.breaker,
    };
    let upstreams = upstream::Upstreams::connect(&discovery, policy)?;
    let (drain, draining) = tokio::sync::watch::channel(false);
    let restaurants = upstreams.restaurants.clone();
    let verifier = Arc::new(auth::Verifier::new(config.jwt_secret.as_bytes()));
    let limits = Arc::new(rate_limit::store::Store::redis(&config.rate_limits.redis_url).await?);
    let state = AppState {
        upstreams,
        rate_limiter: Arc::new(rate_limit::RateLimiter::new(
            config.rate_limits.clone(),
            verifier.clone(),
            limits.clone(),
        )),
        verifier,
        admission: admission::Admission::new(config.admission),
        body_limit_bytes: config.body_limit_bytes.get(),
        request_timeout: config.request_timeout(),
        body_read_timeout: config.body_read_timeout,
        draining,
    };
    let app = router(state);
    let listener = TcpListener::bind(config.listen_addr).await?;
    let local_addr = listener.local_addr()?;
    let (host, port) = advertised(config.advertise_addr.as_deref(), local_addr);
    let registration = Registration::new(
        SERVICE_ID,
        &host,
        port,
        HealthCheck::Http("/healthz".to_owned()),
    );
    Ok(Gateway {
        listener,
        local_addr,
        app,
        discovery,
        registration,
        drain,
        restaurants,
        limits,
        connections: config.connections,
    })
}

impl Gateway {
    /// The address actually bound (a real port even when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Registers in discovery, keeps the rate limits' Redis connected, follows restaurant-svc's menu changes (the
    /// menu cache serves once that stream is subscribed), serves until
    /// `shutdown` resolves, then deregisters first (so no new requests are
    /// routed here), ends the live event streams (their clients reconnect
    /// elsewhere) and lets the requests in flight finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) {
        let Self {
            listener,
            local_addr,
            app,
            discovery,
            registration,
            drain,
            restaurants,
            limits,
            connections,
        } = self;
        let registrar = keep_registered(discovery.clone(), registration.clone());
        let upkeep = foodmesh_shared::telemetry::spawn_upkeep();
        let limits_store = tokio::spawn(rate_limit::store::keep_connected(limits));
        let stop_following = CancellationToken::new();
        let menu_changes = tokio::spawn(menu_watch::follow(restaurants, stop_following.clone()));
        let id = registration.id.clone();
        let stop = async move {
            shutdown.await;
            registrar.abort();
            if let Err(e) = discovery.deregister(&id).await {
                tracing::warn!(error = %e, "deregistration failed");
            }
            // Receivers only go away with the router, which outlives this.
            let _ = drain.send(true);
            tracing::info!("draining in-flight requests");
        };
        tracing::info!(addr = %local_addr, id = %registration.id, "serving HTTP");
        serve::serve(listener, app, connections, stop).await;
        upkeep.abort();
        limits_store.abort();
        stop_following.cancel();
        let _ = menu_changes.await;
        tracing::info!("stopped");
    }
}
