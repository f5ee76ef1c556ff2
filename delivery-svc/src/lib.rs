//! delivery-svc: drivers, deliveries and tracking. Every confirmed
//! delivery order opens a delivery, handed at once to the nearest free
//! driver (found in Redis, claimed in Postgres); the driver's moves take
//! the order out for delivery and to completion through `delivery.*`
//! events, and anyone holding the public tracking id follows it.
//!
//! # Layout
//! Lowest first: a module uses only modules listed before it.
//! - [`domain`] — drivers, the delivery's transition table, arrival times.
//! - [`store`] — every SQL statement.
//! - [`live`] — drivers' live positions in Redis, and the nearest-driver
//!   search.
//! - [`convert`] — domain ↔ protobuf.
//! - [`observe`] — the business metrics.
//! - [`service`] — each use, in one unit of work.
//! - [`events`] — the consumer of order-svc's events.
//! - [`tasks`] — the assigner.
//! - [`watch`] — live tracking across replicas, through Postgres
//!   `LISTEN/NOTIFY`.
//! - [`grpc`] — the `DeliveryService` implementation.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.
//!
//! # Configuration
//! Besides the variables every service reads ([`ServiceConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `DRIVER_MAX_ACTIVE` | `1` | deliveries a driver holds at once |
//! | `DELIVERY_SEARCH_RADIUS_KM` | `25` | how far from the restaurant a free driver is looked for |
//! | `DELIVERY_SPEED_KMH` | `20` | drivers' average speed, for arrival estimates |
//! | `DELIVERY_UNKNOWN_LEG_MINUTES` | `15` | the ride to a door whose location is unknown |

pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod live;
pub mod observe;
pub mod service;
pub mod store;
pub mod tasks;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use foodmesh_proto::delivery::v1::delivery_service_server::DeliveryServiceServer;
use foodmesh_shared::config::{ConfigError, parse_var};
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::events::EventBus;
use foodmesh_shared::events::consumer::Consumer;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig, ServiceName, db};

use crate::domain::eta::Pace;
use crate::service::Settings;

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Reads the settings only delivery-svc has through `lookup`.
///
/// # Errors
/// A variable that is set but not a number in range, named in the error.
pub fn settings(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let max_active: u32 = parse_var(lookup, "DRIVER_MAX_ACTIVE", "1".to_owned())?;
    let radius: u32 = parse_var(lookup, "DELIVERY_SEARCH_RADIUS_KM", "25".to_owned())?;
    let speed: u32 = parse_var(lookup, "DELIVERY_SPEED_KMH", "20".to_owned())?;
    let unknown: u64 = parse_var(lookup, "DELIVERY_UNKNOWN_LEG_MINUTES", "15".to_owned())?;
    Ok(Settings {
        max_active: i32::try_from(max_active.clamp(1, 100)).unwrap_or(1),
        search_radius_km: f64::from(radius.clamp(1, 500)),
        pace: Pace {
            speed_kmh: f64::from(speed.clamp(1, 200)),
            unknown_leg: Duration::from_secs(unknown.saturating_mul(60)),
        },
    })
}

/// Builds the service with its settings from the environment.
///
/// # Errors
/// A bad delivery-svc variable, or as [`build_with`].
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    build_with(config, settings(&|k| std::env::var(k).ok())?).await
}

/// Connects and migrates the database, connects to Redis, binds the
/// listener and returns the service ready to run, with its outbox relay,
/// its consumer of order events and its assigner as background tasks.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, or the address is
/// taken.
pub async fn build_with(config: ServiceConfig, settings: Settings) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    observe::describe();
    let redis = Consumer::connect_redis(&config.redis_url)
        .await
        .context("connecting to Redis for drivers' positions")?;
    let positions = live::Positions::new(redis, &config.event_prefix);
    let bus = EventBus::new(&config);
    let deliveries = service::Deliveries::new(
        pool.clone(),
        positions,
        bus.own_stream(),
        settings,
        config.clock.clone(),
    );
    let server = GrpcServer::new();
    let (feed, feed_tasks) =
        watch::ChangeFeed::connect(&pool, deliveries.clone(), server.health()).await?;
    let server = server.add_service(DeliveryServiceServer::new(grpc::DeliveryApi::new(
        deliveries.clone(),
        feed,
    )));
    let discovery = Discovery::from_config(&config.discovery);
    let mut app = Application::bind(&config, server, pool.clone(), discovery).await?;
    let relay = bus.relay(pool.clone()).await?;
    let orders = Arc::new(events::router(&deliveries));
    // One event per transaction: a cancellation locks a delivery and then
    // its driver, and a batch holding that driver while it locks the next
    // delivery would wait on an assignment that waits on it.
    let consumer = bus
        .consumer_with(pool, &[ServiceName::Order], orders, |config| {
            config.max_per_transaction = 1;
        })
        .await?;
    app.background("outbox relay", |stop| relay.run(stop));
    app.background("event consumer", |stop| consumer.run(stop));
    app.background("delivery change feed", |stop| feed_tasks.run(stop));
    app.background("assigner", |stop| tasks::assigner(deliveries, stop));
    tracing::info!(
        max_active = settings.max_active,
        radius_km = settings.search_radius_km,
        speed_kmh = settings.pace.speed_kmh,
        "delivery settings"
    );
    Ok(app)
}
