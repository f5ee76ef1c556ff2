//! kitchen-svc: the kitchen's ticket queue. Every confirmed order becomes
//! exactly one ticket, which staff move from QUEUED to PICKED_UP on a live
//! kitchen display; every move is announced as a `ticket.*` event, and the
//! order's own events cancel or clear its ticket.
//!
//! # Layout
//! Lowest first: a module uses only modules listed before it.
//! - [`domain`] — the rules: parsing input into valid tickets, the
//!   transition table, estimates, and [`domain::DomainError`]. Knows
//!   neither SQL nor gRPC.
//! - [`store`] — every SQL statement, and nothing else.
//! - [`convert`] — domain ↔ protobuf: the ticket messages, the
//!   `TicketEvent` payload, and the one mapping of an order to a ticket.
//! - [`observe`] — the business metrics.
//! - [`service`] — the use cases, each one unit of work over store and
//!   domain with its outbox event, its change notice and its metrics.
//! - [`events`] — the consumer of order-svc's events, calling the use
//!   cases.
//! - [`watch`] — live queues for displays, across replicas, through
//!   Postgres `LISTEN/NOTIFY`.
//! - [`grpc`] — the `KitchenService` implementation: proto → domain, call,
//!   domain → proto, and the one mapping of errors to statuses.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.

pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod observe;
pub mod service;
pub mod store;
pub mod watch;

use std::sync::Arc;

use anyhow::Context;
use foodmesh_proto::kitchen::v1::kitchen_service_server::KitchenServiceServer;
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::events::EventBus;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig, ServiceName, db};

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Connects and migrates the database, starts listening for ticket
/// changes, binds the listener and returns the service ready to run, with
/// its outbox relay, its consumer of order events and its change feed as
/// background tasks.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, or the address is
/// taken.
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    observe::describe();
    let bus = EventBus::new(&config);
    let kitchen = service::Kitchen::new(
        store::Store::new(pool.clone()),
        bus.own_stream(),
        config.clock.clone(),
    );
    let server = GrpcServer::new();
    let (feed, feed_tasks) = watch::ChangeFeed::connect(&pool, kitchen.clone(), server.health())
        .await
        .context("listening for ticket changes")?;
    let api = grpc::KitchenApi::new(kitchen.clone(), feed);
    let server = server.add_service(KitchenServiceServer::new(api));
    let discovery = Discovery::from_config(&config.discovery);
    let mut app = Application::bind(&config, server, pool.clone(), discovery).await?;
    let relay = bus.relay(pool.clone()).await?;
    let orders = Arc::new(events::router(&kitchen));
    let consumer = bus.consumer(pool, &[ServiceName::Order], orders).await?;
    app.background("ticket change feed", |stop| feed_tasks.run(stop));
    app.background("outbox relay", |stop| relay.run(stop));
    app.background("event consumer", |stop| consumer.run(stop));
    Ok(app)
}
