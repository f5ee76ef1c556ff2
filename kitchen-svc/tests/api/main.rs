//! kitchen-svc over its real gRPC socket, against a fresh Postgres
//! database and its own Redis streams per test. One binary, so the tests
//! compile once.

mod health;
mod helpers;
mod order_events;
mod queue;
mod stop;
mod tickets;
mod transitions;
mod validation;
mod watch;
