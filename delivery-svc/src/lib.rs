//! delivery-svc: boots for real — its own database and migrations, gRPC health
//! and reflection, registration, metrics and a clean stop — ahead of its
//! business RPCs, which arrive with their own work.
//!
//! # Layout
//! - [`domain`] — drivers, the delivery's transition table, arrival times.
//! - [`store`] — every SQL statement.
//! - [`live`] — drivers' live positions in Redis, and the nearest-driver
//!   search.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.

pub mod domain;
pub mod live;
pub mod store;

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
    let discovery = Discovery::from_config(&config.discovery);
    Ok(Application::bind(&config, GrpcServer::new(), pool, discovery).await?)
}
