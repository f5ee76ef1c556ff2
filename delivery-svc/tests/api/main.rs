//! delivery-svc against a real Postgres and Redis: a fresh database and
//! key prefix per test, real gRPC, and order events through the real
//! stream.
//!
//! - `app` — the service spawned on its own database and streams.
//! - `drivers` — adding drivers, their availability and live position.
//! - `assignment` — deliveries opened by orders, the nearest free driver,
//!   many at once, and the road to the door.

mod app;

mod assignment;
mod drivers;
