//! A process-local cache of values read from data that other processes
//! change, kept correct by change notices rather than by expiry: the
//! mechanics restaurant-svc's menu cache and the gateway's share. What is
//! cached, under which keys, and what feeds it the notices is each user's.
//!
//! Values are grouped by an id (a restaurant): a notice invalidates a whole
//! group, whatever keys it holds (a menu with and without unavailable
//! items). The rules that make a cache hit as good as a read:
//!
//! - **Only while notices arrive.** A cache starts disabled and serves
//!   nothing until its user [`Cache::enable`]s it — once its notices flow.
//!   When they may be lost, the user [`Cache::disable`]s it; enabling and
//!   disabling both forget everything.
//! - **No stale fill.** A read that may fill the cache takes a [`Ticket`]
//!   before it reads; [`Cache::fill`] keeps its result only if no
//!   invalidation that could concern the group (and no enable or disable)
//!   happened since. A read that raced a change is served once but never
//!   cached, so the change's notice cannot be overtaken by an older value.
//!   Generations are kept per stripe of group ids rather than per group, so
//!   their memory is fixed; a change in another group of the same stripe
//!   only costs a fill.
//! - **Bounded.** At most `capacity` groups are held; filling a new group
//!   into a full cache drops another one, chosen arbitrarily (no recency is
//!   tracked: a hit stays a read lock, and the next miss refills).
//!
//! Reads take a read lock; fills and invalidations a write lock held for a
//! few map operations, never across an await.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How many generation counters invalidations are spread over.
const STRIPES: usize = 256;

/// A cache of values `V` under keys `K` within groups of `i64` ids; cheap
/// to clone (clones share the entries).
#[derive(Debug)]
pub struct Cache<K, V> {
    state: Arc<RwLock<State<K, V>>>,
    capacity: usize,
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Self {
            state: self.state.clone(),
            capacity: self.capacity,
        }
    }
}

#[derive(Debug)]
struct State<K, V> {
    enabled: bool,
    /// Moves on every enable and disable: tickets from before are void.
    epoch: u64,
    /// Moves for a stripe of groups on every invalidation of one of them.
    generations: Vec<u64>,
    groups: HashMap<i64, Vec<(K, V)>>,
}

/// Taken before a read that may fill the cache: the state the read
/// started from, which [`Cache::fill`] checks is still current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a ticket is only useful to fill with"]
pub struct Ticket {
    group: i64,
    epoch: u64,
    generation: u64,
}

fn stripe(group: i64) -> usize {
    // Both conversions are lossless: the remainder is below STRIPES.
    group.rem_euclid(STRIPES as i64) as usize
}

impl<K: Copy + Eq, V: Clone> Cache<K, V> {
    /// An empty, disabled cache holding at most `capacity` groups (at
    /// least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Arc::new(RwLock::new(State {
                enabled: false,
                epoch: 0,
                generations: vec![0; STRIPES],
                groups: HashMap::new(),
            })),
            capacity: capacity.max(1),
        }
    }

    // A panic while holding the lock leaves the state consistent (every
    // method changes it in steps that are each complete), so a poisoned
    // lock is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, State<K, V>> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State<K, V>> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value cached under `key` in `group`; `None` when there is none
    /// or the cache is disabled.
    pub fn get(&self, group: i64, key: K) -> Option<V> {
        let state = self.read();
        state
            .groups
            .get(&group)?
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
    }

    /// A ticket for a read of `group` about to start; `None` while the
    /// cache is disabled (the read must not fill it).
    pub fn ticket(&self, group: i64) -> Option<Ticket> {
        let state = self.read();
        state.enabled.then(|| Ticket {
            group,
            epoch: state.epoch,
            generation: state.generations[stripe(group)],
        })
    }

    /// Keeps `value` under `key` in the ticket's group if nothing could
    /// have made it stale since the ticket was taken; says whether it did.
    pub fn fill(&self, ticket: Ticket, key: K, value: V) -> bool {
        let mut state = self.write();
        let current = state.enabled
            && state.epoch == ticket.epoch
            && state.generations[stripe(ticket.group)] == ticket.generation;
        if !current {
            return false;
        }
        if !state.groups.contains_key(&ticket.group)
            && state.groups.len() >= self.capacity
            && let Some(victim) = state.groups.keys().next().copied()
        {
            state.groups.remove(&victim);
        }
        let entries = state.groups.entry(ticket.group).or_default();
        match entries.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => entries.push((key, value)),
        }
        true
    }

    /// Forgets everything cached for `group`, and voids the tickets of
    /// reads of it (and of its stripe) still in flight.
    pub fn invalidate(&self, group: i64) {
        let mut state = self.write();
        let generation = &mut state.generations[stripe(group)];
        *generation = generation.wrapping_add(1);
        state.groups.remove(&group);
    }

    /// Forgets everything and serves from now on: for when notices start
    /// to arrive (again) and anything held from before may have missed
    /// some.
    pub fn enable(&self) {
        self.reset(true);
    }

    /// Forgets everything and serves nothing until enabled: for when
    /// notices may be lost.
    pub fn disable(&self) {
        self.reset(false);
    }

    fn reset(&self, enabled: bool) {
        let mut state = self.write();
        state.enabled = enabled;
        state.epoch = state.epoch.wrapping_add(1);
        state.groups.clear();
    }

    pub fn is_enabled(&self) -> bool {
        self.read().enabled
    }

    /// How many groups it holds.
    pub fn len(&self) -> usize {
        self.read().groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enabled(capacity: usize) -> Cache<bool, u32> {
        let cache = Cache::new(capacity);
        cache.enable();
        cache
    }

    #[test]
    fn a_new_cache_serves_and_keeps_nothing_until_enabled() {
        let cache: Cache<bool, u32> = Cache::new(8);
        assert!(cache.ticket(1).is_none());
        assert_eq!(cache.get(1, false), None);
        cache.enable();
        let ticket = cache.ticket(1).expect("enabled");
        assert!(cache.fill(ticket, false, 7));
        assert_eq!(cache.get(1, false), Some(7));
        assert_eq!(cache.get(1, true), None);
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let cache = enabled(8);
        let ticket = cache.ticket(1).expect("enabled");
        cache.invalidate(1);
        assert!(!cache.fill(ticket, false, 7));
        assert_eq!(cache.get(1, false), None);
        let fresh = cache.ticket(1).expect("enabled");
        assert!(cache.fill(fresh, false, 8));
        assert_eq!(cache.get(1, false), Some(8));
    }

    #[test]
    fn an_invalidation_drops_every_key_of_its_group_only() {
        let cache = enabled(8);
        for (group, key, value) in [(1, false, 1), (1, true, 2), (2, false, 3)] {
            let ticket = cache.ticket(group).expect("enabled");
            assert!(cache.fill(ticket, key, value));
        }
        cache.invalidate(1);
        assert_eq!(cache.get(1, false), None);
        assert_eq!(cache.get(1, true), None);
        assert_eq!(cache.get(2, false), Some(3));
    }

    #[test]
    fn disabling_forgets_everything_and_voids_tickets_taken_before() {
        let cache = enabled(8);
        let kept = cache.ticket(1).expect("enabled");
        assert!(cache.fill(kept, false, 1));
        let in_flight = cache.ticket(2).expect("enabled");
        cache.disable();
        assert_eq!(cache.get(1, false), None);
        assert!(!cache.fill(in_flight, false, 2));
        cache.enable();
        assert!(!cache.fill(in_flight, false, 2), "an old epoch's ticket");
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_a_group_to_take_a_new_one() {
        let cache = enabled(2);
        for group in 1..=3 {
            let ticket = cache.ticket(group).expect("enabled");
            assert!(cache.fill(ticket, false, 0));
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(cache.get(3, false), Some(0));
        // Another key of a group already held takes no other group's place.
        let ticket = cache.ticket(3).expect("enabled");
        assert!(cache.fill(ticket, true, 1));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn negative_and_large_ids_have_their_stripe() {
        let cache = enabled(8);
        for group in [i64::MIN, -1, 0, i64::MAX] {
            let ticket = cache.ticket(group).expect("enabled");
            cache.invalidate(group);
            assert!(!cache.fill(ticket, false, 0), "{group}");
        }
    }
}
