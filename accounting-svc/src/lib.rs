//! accounting-svc: takes an order's money, gives it back, and keeps books
//! that add up. Every order gets an invoice; its payment is authorized by
//! a provider (the sandboxes unless configured otherwise), captured when
//! the order completes, voided or refunded when it is cancelled; every
//! movement of money is a balanced, append-only ledger transaction; and
//! every change is announced as a `payment.*` event.
//!
//! # Layout
//! Lowest first: a module uses only modules listed before it.
//! - [`domain`] — payments' lifecycle, invoices and the ledger's postings.
//! - [`providers`] — who decides whether money can be taken: the sandbox
//!   card and mobile-money providers, and the signatures on their calls
//!   back.
//! - [`store`] — every SQL statement.
//! - [`convert`] — domain ↔ protobuf.
//! - [`observe`] — the business metrics.
//! - [`service`] — each use, in one unit of work.
//! - [`events`] — the consumer of order-svc's events.
//! - [`grpc`] — the `AccountingService` implementation.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.
//!
//! # Configuration
//! Besides the variables every service reads ([`ServiceConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `PAYMENT_WEBHOOK_SECRET_<PROVIDER>` | the sandbox's own for `SANDBOX_MOBILE_MONEY`, else unset | the secret `<provider>` signs its calls back with; a provider without one is not taken calls from |

pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod observe;
pub mod providers;
pub mod service;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use foodmesh_proto::accounting::v1::accounting_service_server::AccountingServiceServer;
use foodmesh_shared::db;
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::events::EventBus;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig, ServiceName};

/// The secret the sandbox mobile-money provider signs with unless
/// `PAYMENT_WEBHOOK_SECRET_SANDBOX_MOBILE_MONEY` says otherwise. It is a
/// sandbox: nothing real is paid through it.
pub const SANDBOX_WEBHOOK_SECRET: &str = "whsec_foodmesh_sandbox";

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The webhook secret of each provider that calls back, from `lookup`
/// (the process environment in [`build`]).
pub fn webhook_secrets(lookup: &dyn Fn(&str) -> Option<String>) -> HashMap<String, Vec<u8>> {
    let provider = providers::mobile_money::NAME;
    let variable = format!("PAYMENT_WEBHOOK_SECRET_{}", provider.to_ascii_uppercase());
    let secret = lookup(&variable)
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| SANDBOX_WEBHOOK_SECRET.to_owned());
    HashMap::from([(provider.to_owned(), secret.into_bytes())])
}

/// Connects and migrates the database, binds the listener and returns the
/// service ready to run, with its outbox relay and its consumer of order
/// events as background tasks.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, or the address is
/// taken.
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    observe::describe();
    let bus = EventBus::new(&config);
    let accounting = service::Accounting::new(pool.clone(), bus.own_stream())
        .with_clock(config.clock.clone())
        .with_webhook_secrets(webhook_secrets(&|k| std::env::var(k).ok()));
    let server = GrpcServer::new().add_service(AccountingServiceServer::new(
        grpc::AccountingApi::new(accounting.clone()),
    ));
    let discovery = Discovery::from_config(&config.discovery);
    let mut app = Application::bind(&config, server, pool.clone(), discovery).await?;
    let relay = bus.relay(pool.clone()).await?;
    let orders = Arc::new(events::router(&accounting));
    let consumer = bus.consumer(pool, &[ServiceName::Order], orders).await?;
    app.background("outbox relay", |stop| relay.run(stop));
    app.background("event consumer", |stop| consumer.run(stop));
    Ok(app)
}
