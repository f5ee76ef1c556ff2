//! A restaurant's menu: `/menu` (the whole menu, and its items),
//! `/categories` and `/option-groups`. Reads are public; writes need an
//! admin or the restaurant's staff. Prices are decimals in the restaurant's
//! currency, read exactly (`12.99` stays 12.99).
//!
//! The public menu is served from the gateway's menu cache
//! ([`crate::menu_cache`]) as the JSON rendered when it was read, so a
//! cached answer is byte for byte what a fresh read sends.
//!
//! # Parts
//! - `view.rs` — the JSON the menu routes answer with, and the public
//!   menu's JSON as the cache keeps it.
//! - `body.rs` — request bodies, their shape checks and their turning into
//!   restaurant-svc's requests.
//! - `query.rs` — who may ask for unavailable entries.
//! - `handlers.rs` — the handlers, with their OpenAPI operations.
//!
//! Everything public of the parts is re-exported here, so the rest of the
//! gateway names it `routes::menu::…` whichever file holds it.

mod body;
mod handlers;
mod query;
mod view;

pub use body::*;
pub use handlers::*;
pub use query::*;
pub use view::*;
