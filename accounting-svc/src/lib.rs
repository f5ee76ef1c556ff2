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
//! | `PAYMENT_WEBHOOK_SECRET_<PROVIDER>` | unset (`foodmesh up` gives `SANDBOX_MOBILE_MONEY` the sandbox's published secret) | the secret `<provider>` signs its calls back with; the calls of a provider without one are refused |

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

/// The sandbox mobile-money provider's published secret: what a local mesh
/// (`foodmesh up`) and the tests sign its calls with. Being published, it
/// is never a default: a deployment that sets no secret takes no calls.
pub const SANDBOX_WEBHOOK_SECRET: &str = "whsec_foodmesh_sandbox";

/// The variable that holds the sandbox mobile-money provider's secret.
pub const SANDBOX_SECRET_VARIABLE: &str = "PAYMENT_WEBHOOK_SECRET_SANDBOX_MOBILE_MONEY";

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The webhook secret of each provider that calls back and has one, from
/// `lookup` (the process environment in [`build`]).
pub fn webhook_secrets(lookup: &dyn Fn(&str) -> Option<String>) -> HashMap<String, Vec<u8>> {
    [providers::mobile_money::NAME]
        .into_iter()
        .filter_map(|provider| {
            let variable = format!("PAYMENT_WEBHOOK_SECRET_{}", provider.to_ascii_uppercase());
            let secret = lookup(&variable).filter(|s| !s.is_empty())?;
            Some((provider.to_owned(), secret.into_bytes()))
        })
        .collect()
}

/// Connects and migrates the database, binds the listener and returns the
/// service ready to run, with its outbox relay and its consumer of order
/// events as background tasks; the providers' secrets come from the
/// environment.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, or the address is
/// taken.
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let secrets = webhook_secrets(&|k| std::env::var(k).ok());
    if secrets.is_empty() {
        tracing::warn!(
            "no PAYMENT_WEBHOOK_SECRET_<PROVIDER> is set: providers' calls back are refused"
        );
    }
    build_with(config, secrets).await
}

/// [`build`] with the providers' webhook secrets given rather than read
/// from the environment.
///
/// # Errors
/// As [`build`].
pub async fn build_with(
    config: ServiceConfig,
    webhook_secrets: HashMap<String, Vec<u8>>,
) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    observe::describe();
    let bus = EventBus::new(&config);
    let accounting = service::Accounting::new(pool.clone(), bus.own_stream())
        .with_clock(config.clock.clone())
        .with_webhook_secrets(webhook_secrets);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_without_a_secret_has_none_and_an_empty_one_is_none() {
        assert!(webhook_secrets(&|_| None).is_empty());
        assert!(webhook_secrets(&|_| Some(String::new())).is_empty());
        let set = webhook_secrets(&|k| (k == SANDBOX_SECRET_VARIABLE).then(|| "s3cret".to_owned()));
        assert_eq!(
            set.get(providers::mobile_money::NAME).map(Vec::as_slice),
            Some(b"s3cret".as_slice())
        );
    }
}
