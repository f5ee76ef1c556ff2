//! The menu cache: `GetMenu` answered from memory instead of seven
//! statements in a snapshot transaction, and correct across replicas.
//!
//! Menus are kept by restaurant and by whether unavailable entries are
//! included, as the built answer (`M`: the gRPC layer keeps the message it
//! sends, so a hit is a clone), in a [`foodmesh_shared::cache::Cache`]:
//! - every change to what a menu is read from notifies the restaurant's id
//!   (the schema's triggers, [`crate::watch`]), and the [`Follower`] drops
//!   that restaurant's menus on every instance as the notice arrives;
//! - the instance that made a change also drops them itself right after
//!   its commit ([`MenuCache::evict`]), so its own next read sees the change
//!   without waiting for the notice;
//! - the cache serves only while the feed listens: disabled until it does,
//!   and emptied and disabled the moment its connection is lost, until it
//!   listens again; emptied on every gap too;
//! - a read that raced a change is answered but not kept (see the shared
//!   module's tickets), so an older menu never overtakes a notice;
//! - a caller that keeps menus itself asks for a `fresh` read, which skips
//!   the lookup (and refreshes the entry): this replica may not have heard
//!   yet of the change whose notice sent the caller here;
//! - at most [`CAPACITY`] restaurants are held; a new one takes the place
//!   of an arbitrary other.
//!
//! Pricing (`PriceOrder`) never reads this cache: it reads Postgres, the
//! authority for prices, in one snapshot.

use std::future::Future;
use std::sync::Arc;

use foodmesh_shared::cache::Cache;
use foodmesh_shared::changes::{Heard, Listening, Subscription};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::domain::DomainError;
use crate::watch::MenuFeed;

/// How many restaurants' menus an instance keeps (each with and without
/// unavailable entries).
pub const CAPACITY: usize = 2048;

/// Menus `M` by restaurant and `include_unavailable`; cheap to clone.
#[derive(Debug)]
pub struct MenuCache<M> {
    menus: Cache<bool, Arc<M>>,
}

impl<M> Clone for MenuCache<M> {
    fn clone(&self) -> Self {
        Self {
            menus: self.menus.clone(),
        }
    }
}

impl<M> Default for MenuCache<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M> MenuCache<M> {
    /// An empty cache, serving nothing until a [`Follower`] enables it.
    pub fn new() -> Self {
        Self {
            menus: Cache::new(CAPACITY),
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
        if !fresh && let Some(menu) = self.menus.get(restaurant_id, include_unavailable) {
            metrics::counter!("menu_cache_hits_total").increment(1);
            return Ok(menu);
        }
        metrics::counter!("menu_cache_misses_total").increment(1);
        // Taken before the read: see the module documentation.
        let ticket = self.menus.ticket(restaurant_id);
        let menu = Arc::new(load().await?);
        if let Some(ticket) = ticket {
            self.menus.fill(ticket, include_unavailable, menu.clone());
        }
        Ok(menu)
    }

    /// Drops restaurant `restaurant_id`'s menus: after this instance
    /// committed a change to it, and on every notice of one.
    pub fn evict(&self, restaurant_id: i64) {
        self.menus.invalidate(restaurant_id);
    }

    /// Whether the cache serves now (the feed listens).
    pub fn is_enabled(&self) -> bool {
        self.menus.is_enabled()
    }

    /// The work that keeps this cache in step with `feed`. It subscribes
    /// now, so no notice from here on is missed even before it is
    /// spawned.
    pub fn follower(&self, feed: &MenuFeed) -> Follower<M> {
        Follower {
            menus: self.menus.clone(),
            changes: feed.subscribe(),
            listening: feed.listening(),
        }
    }
}

/// Evicts on every notice and enables the cache only while the feed
/// listens. Spawn it once the service is bound.
#[derive(Debug)]
pub struct Follower<M> {
    menus: Cache<bool, Arc<M>>,
    changes: Subscription<i64>,
    listening: watch::Receiver<Listening>,
}

impl<M: Send + Sync + 'static> Follower<M> {
    /// Runs until the instance stops (or the task is aborted), leaving the
    /// cache disabled.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        // The connection the cache's entries were read under: any other
        // value means notices may have been missed meanwhile.
        let mut accepted: Listening = None;
        self.accept(&mut accepted);
        loop {
            tokio::select! {
                heard = self.changes.next() => match heard {
                    Heard::Changed(id) => self.menus.invalidate(id),
                    // Lagged behind, or the feed listens again: what is
                    // held may have missed a notice.
                    Heard::Gap => {
                        if accepted.is_some() {
                            self.menus.enable();
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
        self.menus.disable();
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
            self.menus.enable();
        } else {
            self.menus.disable();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled() -> MenuCache<u32> {
        let cache = MenuCache::new();
        cache.menus.enable();
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
        let cache: MenuCache<u32> = MenuCache::new();
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
