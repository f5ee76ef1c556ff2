//! What accounting-svc does, one module per use: each reads and locks what
//! it changes, lets [`crate::domain`] decide, and writes the outcome in
//! one unit of work.

pub mod refund;
