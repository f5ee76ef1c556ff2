//! The generic cell rate algorithm (GCRA), the arithmetic both stores share:
//! a client's whole state is one number, the theoretical arrival time
//! (TAT) of its next request. A quota of `count` per `window` spaces
//! requests `window / count` apart and lets a client that has been away
//! spend up to `count` at once.
//!
//! [`decide`] is the Rust form; [`SCRIPT`] is the same steps in Lua, run
//! atomically inside Redis on Redis's clock. The tests in
//! [`super::store`] hold the two to the same answers.

use std::collections::HashMap;
use std::time::Duration;

use super::Quota;

/// A quota in whole microseconds: requests are `interval` apart, and a
/// client may be at most `capacity` (`count` intervals) ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub interval_us: u64,
    pub capacity_us: u64,
}

impl Cell {
    pub fn of(quota: Quota) -> Self {
        let window_us = u64::try_from(quota.window.as_micros()).unwrap_or(u64::MAX);
        let count = u64::from(quota.count.get());
        let interval_us = (window_us / count).max(1);
        Self {
            interval_us,
            capacity_us: interval_us.saturating_mul(count),
        }
    }

    /// How many requests a gateway takes from the shared store at once
    /// (see [`super::store`]): a 64th of the quota, so a quota of a few
    /// dozen is counted one by one and exactly, and a large one costs a
    /// round trip to Redis per batch, not per request.
    pub fn batch(self) -> u64 {
        (self.capacity_us / self.interval_us / 64).max(1)
    }
}

/// What one check decided, in the numbers the response headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Requests granted: this one and, in a batch, more for later. Zero
    /// when refused.
    pub granted: u64,
    /// How long until a request would be allowed (zero when this one was).
    pub wait_us: u64,
    /// How far ahead of now the client's TAT stands after this check: the
    /// time until its whole quota is back.
    pub used_us: u64,
    /// Requests granted earlier and not yet spent, held by this process.
    pub held: u64,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        self.granted > 0
    }

    /// Requests the client may still send at once.
    pub fn remaining(&self, cell: Cell) -> u64 {
        if !self.allowed() {
            return 0;
        }
        cell.capacity_us.saturating_sub(self.used_us) / cell.interval_us + self.held
    }

    pub fn retry_after(&self) -> Duration {
        Duration::from_micros(self.wait_us)
    }

    pub fn reset(&self) -> Duration {
        Duration::from_micros(self.used_us)
    }
}

/// Up to `wanted` requests at `now` for a client whose TAT is `tat` (none
/// for a client not seen, or seen long enough ago to be forgotten): as
/// many as its quota has room for, or none. Returns the verdict and, when
/// any were granted, the TAT to store.
pub fn decide(cell: Cell, tat: Option<u64>, now: u64, wanted: u64) -> (Verdict, Option<u64>) {
    let tat = tat.unwrap_or(now).max(now);
    let behind = tat - now;
    let room = cell.capacity_us.saturating_sub(behind) / cell.interval_us;
    if room == 0 {
        let verdict = Verdict {
            granted: 0,
            wait_us: (behind + cell.interval_us).saturating_sub(cell.capacity_us),
            used_us: behind,
            held: 0,
        };
        return (verdict, None);
    }
    let granted = wanted.clamp(1, room);
    let next = tat.saturating_add(granted * cell.interval_us);
    let verdict = Verdict {
        granted,
        wait_us: 0,
        used_us: next - now,
        held: 0,
    };
    (verdict, Some(next))
}

/// [`decide`] in Redis: `KEYS[1]` holds the TAT in microseconds of Redis's
/// clock (`TIME`, so every gateway reads the same clock) and expires when
/// the client's quota is whole again. `ARGV` is the cell's interval and
/// capacity and the requests wanted. Answers `{granted, wait_us, used_us}`.
pub const SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local behind = tat - now
local room = math.floor((capacity - behind) / interval)
if room < 1 then
  return {0, behind + interval - capacity, behind}
end
local granted = math.min(math.max(wanted, 1), room)
local next = tat + granted * interval
redis.call('SET', KEYS[1], next, 'PX', math.ceil((next - now) / 1000))
return {granted, 0, next - now}
";

/// The TATs a process keeps by itself when Redis cannot be reached: the
/// same algorithm over the same keys, counted per process.
#[derive(Debug)]
pub struct LocalTable {
    tats: HashMap<String, u64>,
    /// The size at which the table is next pruned: twice what was left
    /// after the last pruning, so pruning costs a constant share of the
    /// inserts however many clients are active.
    prune_at: usize,
}

impl Default for LocalTable {
    fn default() -> Self {
        Self {
            tats: HashMap::new(),
            prune_at: LOCAL_PRUNE_AT,
        }
    }
}

/// How many clients the local table holds before it forgets those whose
/// quota is whole again (their entry says nothing a missing one does not).
const LOCAL_PRUNE_AT: usize = 65_536;

impl LocalTable {
    pub fn check(&mut self, key: &str, cell: Cell, now: u64) -> Verdict {
        let (verdict, next) = decide(cell, self.tats.get(key).copied(), now, 1);
        if let Some(next) = next {
            if self.tats.len() >= self.prune_at && !self.tats.contains_key(key) {
                self.tats.retain(|_, tat| *tat > now);
                self.prune_at = LOCAL_PRUNE_AT.max(self.tats.len() * 2);
            }
            self.tats.insert(key.to_owned(), next);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn cell(count: u32, window_secs: u64) -> Cell {
        Cell::of(Quota {
            count: NonZeroU32::new(count).expect("positive"),
            window: Duration::from_secs(window_secs),
        })
    }

    #[test]
    fn a_fresh_client_may_spend_its_whole_quota_at_once_and_no_more() {
        let cell = cell(30, 60);
        let mut table = LocalTable::default();
        let now = 1_000_000_000;
        let allowed = (0..40)
            .filter(|_| table.check("ip:10.0.0.1", cell, now).allowed())
            .count();
        assert_eq!(allowed, 30);
    }

    #[test]
    fn a_refusal_says_when_the_next_request_is_allowed_and_that_is_true() {
        let cell = cell(30, 60);
        let mut table = LocalTable::default();
        let now = 1_000_000_000;
        for _ in 0..30 {
            assert!(table.check("k", cell, now).allowed());
        }
        let refused = table.check("k", cell, now);
        assert!(!refused.allowed());
        assert_eq!(refused.retry_after(), Duration::from_secs(2));
        assert_eq!(refused.reset(), Duration::from_secs(60));
        assert_eq!(refused.remaining(cell), 0);
        let just_before = now + refused.wait_us - 1;
        assert!(!table.check("k", cell, just_before).allowed());
        let then = table.check("k", cell, now + refused.wait_us);
        assert!(then.allowed());
        assert_eq!(then.remaining(cell), 0);
    }

    #[test]
    fn remaining_counts_down_and_clients_do_not_share() {
        let cell = cell(5, 1);
        let mut table = LocalTable::default();
        let remaining: Vec<u64> = (0..5)
            .map(|_| table.check("a", cell, 0).remaining(cell))
            .collect();
        assert_eq!(remaining, [4, 3, 2, 1, 0]);
        assert!(table.check("b", cell, 0).allowed());
    }

    #[test]
    fn a_batch_takes_what_room_there_is_and_no_more() {
        let cell = cell(10, 10);
        let (first, tat) = decide(cell, None, 0, 4);
        assert_eq!(first.granted, 4);
        assert_eq!(first.remaining(cell), 6);
        let (second, tat) = decide(cell, tat, 0, 8);
        assert_eq!(second.granted, 6, "only six were left");
        let (third, _) = decide(cell, tat, 0, 8);
        assert!(!third.allowed());
        assert_eq!(third.retry_after(), Duration::from_secs(1));
        assert_eq!(cell.batch(), 1);
        assert_eq!(
            super::Cell::of("1200/min".parse().expect("quota")).batch(),
            18
        );
    }

    #[test]
    fn the_quota_comes_back_at_its_rate() {
        let cell = cell(10, 10);
        let mut table = LocalTable::default();
        for _ in 0..10 {
            assert!(table.check("k", cell, 0).allowed());
        }
        assert!(!table.check("k", cell, 0).allowed());
        // Three seconds later, three requests' worth has come back.
        let later = 3_000_000;
        let allowed = (0..10)
            .filter(|_| table.check("k", cell, later).allowed())
            .count();
        assert_eq!(allowed, 3);
    }
}
