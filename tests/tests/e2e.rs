//! End-to-end tests through the gateway's REST API, with real services on a
//! real Postgres and Redis. One binary, so the mesh compiles once.
//!
//! - `helpers` — the mesh per test, the HTTP and Server-Sent Events
//!   clients, bounded waits, and a Redis of a test's own.
//! - `restaurants`, `menu`, `coupons` — the restaurant-svc routes.
//! - `orders` — the order, customer and kitchen routes: the lifecycle with
//!   live updates, idempotency, transitions, races and access.
//! - `order_input` — bad input on each of those routes.
//! - `hostile_input` — what a fuzzer sends to any route: NUL characters,
//!   integer overflow, unknown fields, paging out of range.
//! - `deliveries` — a delivery order to the door with the nearest driver,
//!   followed live and publicly, and bad input on the delivery routes.
//! - `notifications` — a card delivery order's whole life, heard once per
//!   step on the customer's chosen channel over real SMTP.
//! - `payments` — paying, declines, mobile money's signed calls back,
//!   cancellation, refunds and who sees which payment.
//! - `protection` — slow clients, the connection cap, rate limits, circuit
//!   breakers and load shedding.
//! - `resilience` — crashes, a Redis restart, duplicate and poison events.
//! - `platform` — health, readiness, metrics, OpenAPI and docs.
//! - `seeds` — the original API's calls, as its documents write them.

#[path = "e2e/helpers.rs"]
mod helpers;

#[path = "e2e/coupons.rs"]
mod coupons;
#[path = "e2e/deliveries.rs"]
mod deliveries;
#[path = "e2e/hostile_input.rs"]
mod hostile_input;
#[path = "e2e/menu.rs"]
mod menu;
#[path = "e2e/notifications.rs"]
mod notifications;
#[path = "e2e/order_input.rs"]
mod order_input;
#[path = "e2e/orders.rs"]
mod orders;
#[path = "e2e/payments.rs"]
mod payments;
#[path = "e2e/platform.rs"]
mod platform;
#[path = "e2e/protection.rs"]
mod protection;
#[path = "e2e/resilience.rs"]
mod resilience;
#[path = "e2e/restaurants.rs"]
mod restaurants;
#[path = "e2e/seeds.rs"]
mod seeds;
