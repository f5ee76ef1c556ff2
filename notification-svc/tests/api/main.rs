//! notification-svc against a real Postgres and Redis and real providers'
//! doubles on loopback: a fresh database and key prefix per test, real
//! gRPC, and order and delivery events through the real streams.
//!
//! - `app` — the service spawned on its own database, streams and doubles.
//! - `steps` — the order's steps heard once, on the chosen channels.
//! - `sending` — retries, a provider that is down, a sender killed
//!   mid-attempt.
//! - `manage` — templates, preferences, messages by hand, the log.
//! - `bulk` — one template to many.

mod app;

mod bulk;
mod manage;
mod sending;
mod steps;
