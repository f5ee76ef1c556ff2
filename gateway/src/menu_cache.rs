//! The gateway's menu cache: the public menu of a restaurant as the exact
//! JSON `GET /api/restaurants/{id}/menu` sends, and each restaurant's
//! currency (which every write with amounts, and order creation, reads
//! before writing), so the hottest read is one map lookup and most writes
//! skip a call.
//!
//! It is kept correct by restaurant-svc's `WatchMenuChanges` stream, which
//! [`crate::menu_watch::follow`] keeps open through the usual upstream
//! channel:
//! - nothing is served until the stream's `subscribed` message, when the
//!   cache is emptied and enabled; from then on every committed change to a
//!   restaurant's menu or state arrives as its id and drops its entries;
//! - on a gap, an error or the end of the stream the cache is emptied and
//!   disabled — reads go upstream — until a new stream is subscribed (after
//!   a short backoff, growing while it keeps failing);
//! - writes through this gateway that change a restaurant or its menu drop
//!   its entries as soon as restaurant-svc answers
//!   ([`crate::upstream::Restaurants`]), so the gateway's own next read sees
//!   them without waiting for the notice;
//! - a read that raced a change is answered but not kept (the shared
//!   cache's tickets), so an older menu never overtakes a notice;
//! - a read whose answer will be kept asks restaurant-svc for a `fresh`
//!   one, past its own cache: the replica answering may not have heard yet
//!   of the change whose notice (through another replica's stream, or this
//!   gateway's own write) emptied the entry, and a copy of its older menu
//!   would outlive the notice;
//! - at most [`CAPACITY`] restaurants are held; a new one takes the place
//!   of an arbitrary other.
//!
//! Only the public menu (`include_unavailable` false) is cached; staff
//! asking for unavailable entries always read through. Hits and misses are
//! counted as `gateway_menu_cache_hits_total{kind}` and
//! `gateway_menu_cache_misses_total{kind}`, `kind` being `menu` or
//! `currency`.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use foodmesh_shared::cache::Cache;

/// How many restaurants the gateway keeps a menu and currency for.
pub const CAPACITY: usize = 2048;

/// What is cached of a restaurant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    PublicMenu,
    Currency,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::PublicMenu => "menu",
            Kind::Currency => "currency",
        }
    }
}

#[derive(Debug, Clone)]
enum Entry {
    PublicMenu(Bytes),
    Currency(Arc<str>),
}

/// Public menus (as JSON) and currencies by restaurant; cheap to clone.
#[derive(Debug, Clone)]
pub struct MenuCache {
    entries: Cache<Kind, Entry>,
}

impl Default for MenuCache {
    fn default() -> Self {
        Self::new()
    }
}

fn count(kind: Kind, hit: bool) {
    let name = if hit {
        "gateway_menu_cache_hits_total"
    } else {
        "gateway_menu_cache_misses_total"
    };
    metrics::counter!(name, "kind" => kind.label()).increment(1);
}

impl MenuCache {
    /// An empty cache, serving nothing until [`crate::menu_watch::follow`]
    /// subscribes.
    pub fn new() -> Self {
        Self {
            entries: Cache::new(CAPACITY),
        }
    }

    /// The public menu's JSON from the cache, or from `load`, which reads
    /// it upstream and renders it, returning the JSON and the restaurant's
    /// currency (both kept if no change could have raced the read). `load`
    /// is told whether its answer may be kept, and must then read fresh
    /// (see the module documentation).
    ///
    /// # Errors
    /// What `load` returns; errors are never kept.
    pub async fn public_menu<F, Fut, E>(&self, restaurant_id: i64, load: F) -> Result<Bytes, E>
    where
        F: FnOnce(bool) -> Fut,
        Fut: Future<Output = Result<(Bytes, String), E>>,
    {
        if let Some(Entry::PublicMenu(json)) = self.entries.get(restaurant_id, Kind::PublicMenu) {
            count(Kind::PublicMenu, true);
            return Ok(json);
        }
        count(Kind::PublicMenu, false);
        // Taken before the read: see the module documentation.
        let ticket = self.entries.ticket(restaurant_id);
        let (json, currency) = load(ticket.is_some()).await?;
        if let Some(ticket) = ticket {
            self.entries
                .fill(ticket, Kind::PublicMenu, Entry::PublicMenu(json.clone()));
            self.entries
                .fill(ticket, Kind::Currency, Entry::Currency(currency.into()));
        }
        Ok(json)
    }

    /// The restaurant's currency from the cache, or from `load` (kept if no
    /// change could have raced the read).
    ///
    /// # Errors
    /// What `load` returns; errors (an unknown restaurant) are never kept.
    pub async fn currency<F, Fut, E>(&self, restaurant_id: i64, load: F) -> Result<String, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<String, E>>,
    {
        if let Some(Entry::Currency(code)) = self.entries.get(restaurant_id, Kind::Currency) {
            count(Kind::Currency, true);
            return Ok(code.to_string());
        }
        count(Kind::Currency, false);
        let ticket = self.entries.ticket(restaurant_id);
        let currency = load().await?;
        if let Some(ticket) = ticket {
            self.entries.fill(
                ticket,
                Kind::Currency,
                Entry::Currency(currency.as_str().into()),
            );
        }
        Ok(currency)
    }

    /// Drops what is cached for restaurant `restaurant_id`: on its change
    /// notice, and after a write through this gateway.
    pub fn evict(&self, restaurant_id: i64) {
        self.entries.invalidate(restaurant_id);
    }

    /// Whether the cache serves now (a change stream is subscribed).
    pub fn is_enabled(&self) -> bool {
        self.entries.is_enabled()
    }

    /// Empties the cache and serves from now on: for when a change stream
    /// is subscribed, since anything held from before may have missed a
    /// change.
    pub(crate) fn enable(&self) {
        self.entries.enable();
    }

    /// Empties the cache and serves nothing until enabled again: for when
    /// changes may go unseen (the stream failed, ended or had a gap).
    pub(crate) fn disable(&self) {
        self.entries.disable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu(json: &'static str, currency: &str) -> Result<(Bytes, String), ()> {
        Ok((Bytes::from_static(json.as_bytes()), currency.to_owned()))
    }

    #[tokio::test]
    async fn a_public_menu_read_keeps_the_menu_and_its_currency_until_evicted() {
        let cache = MenuCache::new();
        cache.entries.enable();

        let read = cache
            .public_menu(1, |fresh| async move {
                assert!(fresh, "a kept answer is read fresh");
                menu("{}", "EUR")
            })
            .await;
        let again = cache.public_menu(1, |_| async { Err(()) }).await;
        let currency = cache.currency(1, || async { Err(()) }).await;

        assert_eq!(read, Ok(Bytes::from_static(b"{}")));
        assert_eq!(again, read, "a hit");
        assert_eq!(currency, Ok("EUR".to_owned()));

        cache.evict(1);
        let currency = cache.currency(1, || async { Ok::<_, ()>("USD".to_owned()) });
        assert_eq!(currency.await, Ok("USD".to_owned()));
    }

    #[tokio::test]
    async fn a_cache_that_is_off_reads_through_every_time() {
        let cache = MenuCache::new();
        for json in ["1", "2"] {
            let read = cache
                .public_menu(1, |fresh| async move {
                    assert!(!fresh, "nothing will be kept");
                    menu(json, "USD")
                })
                .await;
            assert_eq!(read, Ok(Bytes::from_static(json.as_bytes())));
        }
    }

    #[tokio::test]
    async fn a_read_that_raced_an_eviction_is_not_kept() {
        let cache = MenuCache::new();
        cache.entries.enable();

        cache
            .public_menu(1, |_| async {
                cache.evict(1);
                menu("old", "USD")
            })
            .await
            .expect("read");
        let next = cache.public_menu(1, |_| async { menu("new", "USD") }).await;

        assert_eq!(next, Ok(Bytes::from_static(b"new")));
    }
}
