//! restaurant-svc: restaurants, their menus and their coupons. The menu is
//! the single source of prices — order-svc prices every order through
//! `PriceOrder` — and coupon redemptions are atomic, so a coupon limited to
//! 50 uses is used 50 times however many orders race for it.
//!
//! # Layout
//! - [`domain`] — the rules: parsing input into valid values, pricing,
//!   coupon limits, and [`domain::DomainError`]. Knows neither SQL nor gRPC.
//! - [`store`] — every SQL statement and transaction.
//! - [`grpc`] — the `RestaurantService` implementation: proto → domain,
//!   call, domain → proto, and the one mapping of errors to statuses.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.

pub mod domain;
pub mod grpc;
pub mod store;

use foodmesh_proto::restaurant::v1::restaurant_service_server::RestaurantServiceServer;
use foodmesh_shared::db;
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig};

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connects and migrates the database, binds the listener and returns the
/// service ready to run.
///
/// # Errors
/// Postgres is unreachable or a migration fails, or the address is taken.
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    let api = grpc::RestaurantApi::new(store::Store::new(pool.clone()));
    let server = GrpcServer::new().add_service(RestaurantServiceServer::new(api));
    let discovery = Discovery::from_config(&config.discovery);
    Ok(Application::bind(&config, server, pool, discovery).await?)
}
