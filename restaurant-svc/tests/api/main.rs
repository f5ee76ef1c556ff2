//! restaurant-svc over its real gRPC socket, against a fresh Postgres
//! database per test. One binary, so the tests compile once.

mod cache;
mod coupons;
mod health;
mod helpers;
mod menu;
mod pricing;
mod restaurants;
