//! `/api/orders`: placing orders (as a guest, a signed-in customer, or
//! staff at the front desk), listing and reading them, public tracking by
//! order number, moving them along their lifecycle, cancelling, editing
//! their items while PENDING, their status history, reordering, and live
//! updates as Server-Sent Events.
//!
//! order-svc owns every rule of an order (pricing, the transition table,
//! the cancellation window, idempotency). The gateway decides who is
//! asking ([`Party`]) and which orders they may touch:
//!
//! - an admin: every order;
//! - staff: the orders of their own restaurant;
//! - a customer (token subject = customer id): their own orders;
//! - a guest: the one order whose access token they present
//!   (`X-Order-Token`, or `?token=` for clients that cannot set headers).
//!
//! An order the caller may not see answers 404, exactly like one that does
//! not exist, so ids cannot be probed. Every call that takes an actor gets
//! the caller's kind and id, which order-svc keeps in the history.
//!
//! # Parts
//! - `names.rs` — the closed sets of names an order's JSON uses (status,
//!   type, source, payment method, actor kind).
//! - `view.rs` — the JSON an order route answers with.
//! - `access.rs` — who is asking ([`Party`]) and which orders they may
//!   open ([`open_order`]).
//! - `body.rs` — request bodies and headers, and their shape checks.
//! - `query.rs` — the order listing's query ([`OrderFilter`]).
//! - `handlers.rs` — the handlers, with their OpenAPI operations.
//!
//! Everything public of the parts is re-exported here, so the rest of the
//! gateway names it `routes::orders::…` whichever file holds it.

mod access;
mod body;
mod handlers;
mod names;
mod query;
mod view;

pub use access::*;
pub use body::*;
pub use handlers::*;
pub use names::*;
pub use query::*;
pub use view::*;
