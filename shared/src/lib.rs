//! The runtime every FoodMesh process shares, so a service crate holds only
//! its own domain. Nothing here knows a business rule.
//!
//! # Layout
//! - [`config`] — environment variables with local defaults, parsed once.
//! - [`telemetry`] — logs with trace ids, OTLP traces, the Prometheus recorder.
//! - [`money`] — ISO 4217 minor units and exact decimal text.
//! - [`grpc`] — the gRPC server (health, reflection, metrics, trace context)
//!   and the client-side interceptor that carries trace context onwards.
//! - [`db`] — Postgres: create the service's database if missing, migrate, pool.
//! - [`discovery`] — Consul or a static map, behind one type.
//! - [`events`] — outbox, relay and consumer groups over Redis Streams.
//! - [`app`] — bind, register, serve, and shut down in the right order.
//! - [`shutdown`] — the signal future that starts a graceful stop.
//! - `testing` (feature `test-util`) — fresh databases and a Consul agent double.

pub mod app;
pub mod config;
pub mod db;
pub mod discovery;
pub mod events;
pub mod grpc;
pub mod money;
pub mod shutdown;
pub mod telemetry;

#[cfg(feature = "test-util")]
pub mod testing;

pub use app::Application;
pub use config::{ServiceConfig, ServiceName};
