//! notification-svc: boots — its own database and migrations, gRPC health
//! and reflection, registration, metrics and a clean stop — with the rules
//! of notifications in [`domain`], their statements in [`store`] and the
//! providers that carry them in [`providers`], ahead of what sends them.

pub mod domain;
pub mod observe;
pub mod providers;
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
