//! The runtime every FoodMesh process shares, so a service crate holds only
//! its own domain. Nothing here decides for a service; what several parts
//! must agree on (an address, a coupon code, an order's lines) is defined
//! here once, in [`values`].
//!
//! # Layout
//! - [`config`] — environment variables with local defaults, parsed once.
//! - [`clock`] — the time services decide by, which tests can move.
//! - [`telemetry`] — logs with trace ids, OTLP traces, the Prometheus recorder.
//! - [`money`] — ISO 4217 minor units and exact decimal text.
//! - [`timestamp`] — protobuf timestamps to and from chrono times.
//! - [`validate`] — parsing input into valid values (names, texts, phones,
//!   emails) and collecting every bad field by its path in the request.
//! - [`values`] — the value types and limits the gateway and the services
//!   must agree on: addresses, coupon codes, an order's lines.
//! - [`paging`] — page sizes and opaque page tokens, checked the same way by
//!   every listing.
//! - [`grpc`] — the gRPC server (health, reflection, metrics, trace context)
//!   and the client-side interceptor that carries trace context onwards.
//! - [`status`] — the gRPC status of a refusal: `ErrorInfo` reason and
//!   `BadRequest` field violations.
//! - [`db`] — Postgres: create the service's database if missing, migrate, pool,
//!   read unsigned columns.
//! - [`changes`] — a change feed across replicas over Postgres
//!   `LISTEN/NOTIFY`, fanned out to an instance's live streams.
//! - [`cache`] — a local cache kept correct by change notices: serves only
//!   while they arrive, never keeps a read that raced a change, bounded.
//! - [`discovery`] — Consul or a static map, behind one type.
//! - [`events`] — outbox, relay and consumer groups over Redis Streams.
//! - [`work`] — a unit of work: one transaction, the notices sent after
//!   its commit, and what else waits for that commit.
//! - [`webhook`] — the HMAC signature on webhooks, both ways.
//! - [`app`] — bind, register, serve, and shut down in the right order.
//! - [`shutdown`] — the signal future that starts a graceful stop.
//! - `testing` (feature `test-util`) — fresh databases, doubles of what
//!   cannot run here (the Consul agent, SMTP, SMS and push providers), and
//!   readers of a refusal's reason and fields.

pub mod app;
pub mod cache;
pub mod changes;
pub mod clock;
pub mod config;
pub mod db;
pub mod discovery;
pub mod events;
pub mod grpc;
pub mod money;
pub mod paging;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod timestamp;
pub mod validate;
pub mod values;
pub mod webhook;
pub mod work;

#[cfg(feature = "test-util")]
pub mod testing;

pub use app::Application;
pub use config::{ServiceConfig, ServiceName};
