//! restaurant-svc: restaurants, their menus and their coupons. The menu is
//! the single source of prices — order-svc prices every order through
//! `PriceOrder` — and coupon redemptions are atomic, so a coupon limited to
//! 50 uses is used 50 times however many orders race for it.
//!
//! # Layout
//! Lowest layer first: a module imports only from modules above it in this
//! list, never from one below, so no two modules import each other.
//! - [`domain`] — the rules: parsing input into valid values, pricing,
//!   coupon limits, and [`domain::DomainError`]. Knows neither SQL nor gRPC.
//! - [`store`] — every SQL statement and transaction, one file per concern.
//! - [`watch`] — menu change notices across replicas (Postgres
//!   `LISTEN/NOTIFY`, sent by the schema's triggers), and the
//!   `WatchMenuChanges` stream the gateway's cache follows.
//! - [`cache`] — the menu cache `GetMenu` and `PriceOrder` answer from:
//!   evicted on every notice and after this instance's own writes, serving
//!   only while the notices flow. Coupons are never cached.
//! - [`service`] — the use cases: each store call with the menu cache's
//!   part in it (which reads go through it, which writes evict).
//! - [`convert`] — the domain ↔ protobuf conversions [`grpc`] answers with.
//! - [`grpc`] — the `RestaurantService` implementation: proto → domain,
//!   call, domain → proto, and the one mapping of errors to statuses.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema, and the triggers that
//!   announce menu changes.

pub mod cache;
pub mod convert;
pub mod domain;
pub mod grpc;
pub mod service;
pub mod store;
pub mod watch;

use foodmesh_proto::restaurant::v1::restaurant_service_server::RestaurantServiceServer;
use foodmesh_shared::db;
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig};

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connects and migrates the database, starts listening for menu changes,
/// binds the listener and returns the service ready to run, with the
/// change feed and the cache's follower started with it.
///
/// # Errors
/// Postgres is unreachable or a migration fails, or the address is taken.
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    cache::describe_metrics();
    let store = store::Store::new(pool.clone());
    let server = GrpcServer::new();
    // Listening before anything is served, so no change is missed.
    let (feed, feed_tasks) = watch::MenuFeed::connect(&store, server.health()).await?;
    let cache = cache::MenuCache::new();
    let follower = cache.follower(&feed);
    let api = grpc::RestaurantApi::new(
        service::Restaurants::new(store, cache, config.clock.clone()),
        feed,
    );
    let server = server.add_service(RestaurantServiceServer::new(api));
    let discovery = Discovery::from_config(&config.discovery);
    let mut app = Application::bind(&config, server, pool, discovery).await?;
    app.background("menu change feed", |stop| feed_tasks.run(stop));
    app.background("menu cache follower", |stop| follower.run(stop));
    Ok(app)
}
