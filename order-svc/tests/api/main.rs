//! order-svc over its real gRPC socket, with a real restaurant-svc to price
//! from, each against a fresh Postgres database per test, and events on the
//! real Redis under a prefix of the test's own. One binary, so the tests
//! compile once.

mod cancel;
mod coupons;
mod create;
mod customers;
mod events;
mod health;
mod helpers;
mod idempotency;
mod items;
mod lifecycle;
mod listing;
mod store;
mod timeout;
mod tracking;
mod validation;
mod watch;
