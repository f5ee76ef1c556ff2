//! End-to-end tests of FoodMesh live in `tests/e2e.rs` and its modules, one
//! test binary so the whole mesh is compiled once. Each test starts the
//! services it needs on port 0 against a fresh Postgres database of its own,
//! and the gateway in front of them, and speaks only HTTP to the gateway.
//!
//! This library is empty on purpose: the crate exists for its tests.
