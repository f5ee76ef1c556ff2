//! End-to-end tests through the gateway's REST API, with real services on a
//! real Postgres. One binary, so the mesh compiles once.
//!
//! - `helpers` — the mesh per test and the HTTP client.
//! - `restaurants`, `menu`, `coupons` — the restaurant-svc routes.
//! - `platform` — health, readiness, metrics, OpenAPI and docs.

#[path = "e2e/helpers.rs"]
mod helpers;

#[path = "e2e/coupons.rs"]
mod coupons;
#[path = "e2e/menu.rs"]
mod menu;
#[path = "e2e/platform.rs"]
mod platform;
#[path = "e2e/restaurants.rs"]
mod restaurants;
