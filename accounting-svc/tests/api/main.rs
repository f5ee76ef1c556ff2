//! accounting-svc against a real Postgres: a fresh database per test,
//! migrated as the service migrates its own. One binary, so the crate
//! compiles once for all of them.
//!
//! - `helpers` — the migrated database and payments to start from.
//! - `app` — the service spawned on its own database and streams, over
//!   gRPC.
//! - `ledger` — the rules the database itself enforces on the books.
//! - `pay` — paying an order through the sandbox providers.
//! - `lifecycle` — authorize, decline, capture, void through the service.
//! - `refunds` — refunds under concurrency.
//! - `books` — every balance recomputed from the ledger.
//! - `invoice_numbers`, `webhook_events` — numbering and replays under
//!   concurrency.
//! - `orders` — the order's events and payments over gRPC.
//! - `webhooks` — the provider's signed calls back.

mod app;
mod helpers;

mod books;
mod invoice_numbers;
mod ledger;
mod lifecycle;
mod orders;
mod pay;
mod refunds;
mod webhook_events;
mod webhooks;
