//! The menu cache: `GetMenu` and `PriceOrder` answered from memory instead
//! of a snapshot transaction of several statements each, and correct across
//! replicas.
//!
//! Two kinds of entries are kept by restaurant, in one
//! [`foodmesh_shared::cache::Cache`] whose groups are restaurants:
//! - menus, by whether unavailable entries are included, as the built
//!   answer (`M`: the gRPC layer keeps the message it sends, so a hit is a
//!   clone);
//! - pricing inputs (`P`: the restaurant and its whole menu, unavailable
//!   items and options included), which price every order of the
//!   restaurant.
//!
//! Both are read from the same rows, so one rule keeps both:
//! - every change to what they are read from notifies the restaurant's id
//!   (the schema's triggers, [`crate::watch`]), and the [`Follower`] drops
//!   everything held for that restaurant on every instance as the notice
//!   arrives;
//! - the instance that made a change also drops it itself right after its
//!   commit ([`MenuCache::evict`]), so its own next read sees the change
//!   without waiting for the notice;
//! - the cache serves only while the feed listens: disabled until it does,
//!   and emptied and disabled the moment its connection is lost, until it
//!   listens again; emptied on every gap too;
//! - a read that raced a change is answered but not kept (see the shared
//!   module's tickets), so an older copy never overtakes a notice;
//! - a caller that keeps menus itself asks for a `fresh` menu, which skips
//!   the lookup (and refreshes the entry): this replica may not have heard
//!   yet of the change whose notice sent the caller here;
//! - at most [`CAPACITY`] restaurants are held; a new one takes the place
//!   of an arbitrary other.
//!
//! # Pricing
//! `PriceOrder` reads its inputs from this cache. A change is seen by
//! pricing on the replica that committed it at once (it evicts after its
//! commit), and on every other replica as soon as the change's notice
//! arrives — milliseconds normally. An order priced on another replica
//! within that window is priced as just before the change, which is
//! indistinguishable from the same order arriving a moment earlier: the
//! change and the order were concurrent, and either could have come first.
//! What can never happen is an order priced from a copy that a notice this
//! replica has followed should have dropped (a read that raced it is not
//! kept), or from a cache that is not listening: the cache serves nothing
//! then, and every order reads Postgres. Coupons are not cached:
//! redemptions and their limits are always Postgres's.
//!
//! Everything pricing reads is announced: the rows of `restaurants`,
//! `menu_items`, `menu_item_option_groups`, `option_groups` and `options`
//! all have a trigger (any column). The restaurant's opening hours come
//! along in the inputs but pricing does not read them, and
//! `opening_hours` has no trigger (changes through the service touch the
//! restaurant's row, SQL run by hand on that table alone is not
//! announced): a rule on opening hours would need that trigger first.

use std::future::Future;
use std::sync::Arc;

use foodmesh_shared::cache::Cache;
use foodmesh_shared::changes::{Heard, Listening, Subscription};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::DomainError;
use crate::watch::MenuFeed;

/// How many restaurants an instance keeps entries of (each with up to two
/// menus and its pricing inputs).
pub const CAPACITY: usize = 2048;

/// What an entry is, within its restaurant's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// The menu, with or without unavailable entries.
    Menu {
        include_unavailable: bool,
    },
    Pricing,
}

/// An entry: one kind of value under each kind of [`Key`].
#[derive(Debug)]
enum Entry<M, P> {
    Menu(Arc<M>),
    Pricing(Arc<P>),
}

impl<M, P> Clone for Entry<M, P> {
    fn clone(&self) -> Self {
        match self {
            Self::Menu(menu) => Self::Menu(menu.clone()),
            Self::Pricing(inputs) => Self::Pricing(inputs.clone()),
        }
    }
}

/// Menus `M` and pricing inputs `P` by restaurant; cheap to clone.
#[derive(Debug)]
pub struct MenuCache<M, P> {
    entries: Cache<Key, Entry<M, P>>,
}

impl<M, P> Clone for MenuCache<M, P> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<M, P> Default for MenuCache<M, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M, P> MenuCache<M, P> {
    /// An empty cache, serving nothing until a [`Follower`] enables it.
    pub fn new() -> Self {
        Self {
            entries: Cache::new(CAPACITY),
        }
    }

    /// The menu from the cache — unless `fresh` is asked — or from `load`
    /// (kept if no change could have raced it). Counted in
    /// `menu_cache_hits_total` and `menu_cache_misses_total` (a disabled
    /// cache, and a fresh read, miss).
    ///
    /// # Errors
    /// What `load` returns; errors are never kept.
    pub async fn menu<F, Fut>(
        &self,
        restaurant_id: i64,
        include_unavailable: bool,
        fresh: bool,
        load: F,
    ) -> Result<Arc<M>, DomainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<M, DomainError>>,
    {
        let key = Key::Menu {
            include_unavailable,
        };
        if !fresh && let Some(Entry::Menu(menu)) = self.entries.get(restaurant_id, key) {
            metrics::counter!("menu_cache_hits_total").increment(1);
            return Ok(menu);
        }
        metrics::counter!("menu_cache_misses_total").increment(1);
        self.read_through(restaurant_id, key, load, Entry::Menu)
            .await
    }

    /// The restaurant's pricing inputs from the cache, or from `load`
    /// (kept if no change could have raced it): see the module
    /// documentation for what pricing may see. Counted in
    /// `pricing_cache_hits_total` and `pricing_cache_misses_total` (a
    /// disabled cache misses).
    ///
    /// # Errors
    /// What `load` returns; errors are never kept.
    pub async fn pricing<F, Fut>(&self, restaurant_id: i64, load: F) -> Result<Arc<P>, DomainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<P, DomainError>>,
    {
        if let Some(Entry::Pricing(inputs)) = self.entries.get(restaurant_id, Key::Pricing) {
            metrics::counter!("pricing_cache_hits_total").increment(1);
            return Ok(inputs);
        }
        metrics::counter!("pricing_cache_misses_total").increment(1);
        self.read_through(restaurant_id, Key::Pricing, load, Entry::Pricing)
            .await
    }

    /// The value `load` reads, kept under `key` (as `entry` makes it) if no
    /// change could have raced the read.
    async fn read_through<T, F, Fut>(
        &self,
        restaurant_id: i64,
        key: Key,
        load: F,
        entry: fn(Arc<T>) -> Entry<M, P>,
    ) -> Result<Arc<T>, DomainError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, DomainError>>,
    {
        // Taken before the read: see the module documentation.
        let ticket = self.entries.ticket(restaurant_id);
        let value = Arc::new(load().await?);
        if let Some(ticket) = ticket {
            self.entries.fill(ticket, key, entry(value.clone()));
        }
        Ok(value)
    }

    /// Drops everything held for restaurant `restaurant_id` (its menus and
    /// its pricing inputs): after this instance committed a change to it,
    /// and on every notice of one.
    pub fn evict(&self, restaurant_id: i64) {
        self.entries.invalidate(restaurant_id);
    }

    /// Whether the cache serves now (the feed listens).
    pub fn is_enabled(&self) -> bool {
        self.entries.is_enabled()
    }

    /// The work that keeps this cache in step with `feed`. It subscribes
    /// now, so no notice from here on is missed even before it runs.
    pub fn follower(&self, feed: &MenuFeed) -> Follower<M, P> {
        Follower {
            entries: self.entries.clone(),
            changes: feed.subscribe(),
            listening: feed.listening(),
        }
    }
}

/// Evicts on every notice and enables the cache only while the feed
/// listens. The service runs it as one of its background tasks.
#[derive(Debug)]
pub struct Follower<M, P> {
    entries: Cache<Key, Entry<M, P>>,
    changes: Subscription<i64>,
    listening: watch::Receiver<Listening>,
}

impl<M: Send + Sync + 'static, P: Send + Sync + 'static> Follower<M, P> {
    /// Runs until the instance starts to stop (NOT_SERVING) or `stop` is
    /// cancelled, leaving the cache disabled.
    pub async fn run(mut self, stop: CancellationToken) {
        // The connection the cache's entries were read under: any other
        // value means notices may have been missed meanwhile.
        let mut accepted: Listening = None;
        self.accept(&mut accepted);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                heard = self.changes.next() => match heard {
                    Heard::Changed(id) => self.entries.invalidate(id),
                    // Lagged behind, or the feed listens again: what is
                    // held may have missed a notice.
                    Heard::Gap => {
                        if accepted.is_some() {
                            self.entries.enable();
                        }
                    }
                    Heard::Stopping | Heard::Closed => break,
                },
                changed = self.listening.changed() => match changed {
                    Ok(()) => self.accept(&mut accepted),
                    Err(_) => break,
                },
            }
        }
        // Nothing evicts any more: serve nothing.
        self.entries.disable();
    }

    /// Follows the feed's listening state: enabled (and emptied) on each
    /// new connection, emptied and disabled while there is none.
    fn accept(&mut self, accepted: &mut Listening) {
        let now = *self.listening.borrow_and_update();
        if now == *accepted {
            return;
        }
        *accepted = now;
        if now.is_some() {
            self.entries.enable();
        } else {
            self.entries.disable();
        }
    }
}

/// Help text for the caches' metrics on `/metrics`, which count from zero:
/// a dashboard shows a cache not read yet, not no data.
pub fn describe_metrics() {
    for name in [
        "menu_cache_hits_total",
        "menu_cache_misses_total",
        "pricing_cache_hits_total",
        "pricing_cache_misses_total",
    ] {
        metrics::counter!(name).increment(0);
    }
    metrics::describe_counter!("menu_cache_hits_total", "Menu reads served from the cache.");
    metrics::describe_counter!(
        "menu_cache_misses_total",
        "Menu reads that went to the database (the cache off, cold or behind a change)."
    );
    metrics::describe_counter!(
        "pricing_cache_hits_total",
        "Order pricings served from the cache."
    );
    metrics::describe_counter!(
        "pricing_cache_misses_total",
        "Order pricings that went to the database."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> MenuCache<u32, u32> {
        let cache = MenuCache::new();
        cache.entries.enable();
        cache
    }

    #[tokio::test]
    async fn a_read_that_raced_a_change_is_answered_but_not_kept() {
        let cache = enabled();

        let raced = cache
            .menu(1, false, false, || async {
                // The change commits, and is evicted, while the read runs.
                cache.evict(1);
                Ok(1)
            })
            .await
            .expect("loads");
        let next = cache.menu(1, false, false, || async { Ok(2) }).await;
        let hit = cache.menu(1, false, false, || async { Ok(3) }).await;

        assert_eq!(*raced, 1);
        assert_eq!(*next.expect("loads"), 2, "the raced read was not kept");
        assert_eq!(*hit.expect("cached"), 2);
    }

    #[tokio::test]
    async fn menus_with_and_without_unavailable_entries_are_kept_apart() {
        let cache = enabled();
        cache
            .menu(1, false, false, || async { Ok(1) })
            .await
            .expect("loads");
        cache
            .menu(1, true, false, || async { Ok(2) })
            .await
            .expect("loads");

        let public = cache.menu(1, false, false, || async { Ok(0) }).await;
        let staff = cache.menu(1, true, false, || async { Ok(0) }).await;

        assert_eq!(*public.expect("cached"), 1);
        assert_eq!(*staff.expect("cached"), 2);
    }

    #[tokio::test]
    async fn pricing_inputs_are_kept_apart_from_menus_and_dropped_with_them() {
        let cache = enabled();
        cache
            .menu(1, true, false, || async { Ok(1) })
            .await
            .expect("loads");
        cache.pricing(1, || async { Ok(2) }).await.expect("loads");

        let menu = cache.menu(1, true, false, || async { Ok(0) }).await;
        let inputs = cache.pricing(1, || async { Ok(0) }).await;
        assert_eq!(*menu.expect("cached"), 1);
        assert_eq!(*inputs.expect("cached"), 2);

        cache.evict(1);
        let menu = cache.menu(1, true, false, || async { Ok(3) }).await;
        let inputs = cache.pricing(1, || async { Ok(4) }).await;
        assert_eq!(*menu.expect("loads"), 3);
        assert_eq!(*inputs.expect("loads"), 4);
    }

    #[tokio::test]
    async fn a_pricing_read_that_raced_a_change_is_answered_but_not_kept() {
        let cache = enabled();

        let raced = cache
            .pricing(1, || async {
                cache.evict(1);
                Ok(1)
            })
            .await
            .expect("loads");
        let next = cache.pricing(1, || async { Ok(2) }).await;
        let hit = cache.pricing(1, || async { Ok(3) }).await;

        assert_eq!(*raced, 1);
        assert_eq!(*next.expect("loads"), 2, "the raced read was not kept");
        assert_eq!(*hit.expect("cached"), 2);
    }

    #[tokio::test]
    async fn a_disabled_cache_prices_from_every_read_and_keeps_no_error() {
        let cache: MenuCache<u32, u32> = MenuCache::new();
        cache.pricing(1, || async { Ok(1) }).await.expect("loads");
        let again = cache.pricing(1, || async { Ok(2) }).await;
        assert_eq!(*again.expect("loads"), 2);

        let enabled = enabled();
        let failed = enabled
            .pricing(1, || async { Err(DomainError::RestaurantNotFound(1)) })
            .await;
        assert!(failed.is_err());
        let found = enabled.pricing(1, || async { Ok(3) }).await;
        assert_eq!(*found.expect("loads"), 3);
        enabled.entries.disable();
        let disabled = enabled.pricing(1, || async { Ok(4) }).await;
        assert_eq!(*disabled.expect("loads"), 4, "nothing served once disabled");
    }

    #[tokio::test]
    async fn a_fresh_read_loads_and_refreshes_the_cache() {
        let cache = enabled();
        cache
            .menu(1, false, false, || async { Ok(1) })
            .await
            .expect("loads");

        let fresh = cache.menu(1, false, true, || async { Ok(2) }).await;
        let cached = cache.menu(1, false, false, || async { Ok(0) }).await;

        assert_eq!(*fresh.expect("loads"), 2);
        assert_eq!(*cached.expect("cached"), 2);
    }

    #[tokio::test]
    async fn a_cache_that_was_never_enabled_reads_every_time_and_keeps_no_error() {
        let cache: MenuCache<u32, u32> = MenuCache::new();
        cache
            .menu(1, false, false, || async { Ok(1) })
            .await
            .expect("loads");
        let again = cache.menu(1, false, false, || async { Ok(2) }).await;
        assert_eq!(*again.expect("loads"), 2);

        let enabled = enabled();
        let failed = enabled
            .menu(1, false, false, || async {
                Err(DomainError::RestaurantNotFound(1))
            })
            .await;
        assert!(failed.is_err());
        let found = enabled.menu(1, false, false, || async { Ok(3) }).await;
        assert_eq!(*found.expect("loads"), 3);
    }
}
