//! Where the limits are kept: in Redis, so every gateway replica spends
//! from one budget, and in a table of the process's own while Redis cannot
//! be reached, so the gateway goes on serving under a per-process limit
//! rather than failing or letting everything through.
//!
//! A large quota is taken from Redis in batches ([`Cell::batch`], a 64th of
//! it): the first request of a batch asks Redis for that many at once, and
//! the rest are spent from a lease this process holds, so a busy client
//! costs a round trip per batch rather than per request. A lease lasts as
//! long as its requests would take at the quota's pace, and at least a
//! second; what is left of it then lapses, already counted. Across replicas a client may so be held
//! to up to a batch less than its quota per replica, never more.
//!
//! A check that Redis does not answer within [`REDIS_TIMEOUT`] is decided
//! locally, the gateway says so once (a warning and
//! `gateway_rate_limit_local_only` at 1), and every later check stays
//! local, paying no timeout, until the [`keep_connected`] task finds Redis
//! answering again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::gcra::{Cell, LocalTable, SCRIPT, Verdict};

/// The longest a check waits for Redis before deciding locally. Redis
/// answers a script in well under a millisecond; this is a hung server.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// How often an unreachable Redis is tried again.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

pub struct Store {
    shared: Option<Shared>,
    /// Checks that went to Redis.
    round_trips: std::sync::atomic::AtomicU64,
    leases: Mutex<HashMap<String, Lease>>,
    local: Mutex<LocalTable>,
    /// The local table's clock: microseconds since this instant.
    started: Instant,
}

/// Requests granted by Redis and not spent yet.
#[derive(Debug, Clone, Copy)]
struct Lease {
    left: u64,
    /// When what is left lapses.
    until: Instant,
    /// What Redis said when it granted them, for the headers.
    verdict: Verdict,
    granted_at: Instant,
}

/// The shortest a lease lasts: under a huge quota its batch would
/// otherwise lapse within milliseconds, and the store would go back to a
/// round trip every few requests.
const LEASE_AT_LEAST: Duration = Duration::from_secs(1);

/// How many clients' leases are kept before the lapsed ones are dropped.
const LEASES_PRUNE_AT: usize = 16_384;

struct Shared {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
    reachable: AtomicBool,
    /// Wakes [`keep_connected`] when a check finds Redis gone.
    lost: tokio::sync::Notify,
    script: redis::Script,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("shared", &self.shared.is_some())
            .field("local_only", &self.is_local_only())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Limits kept by this process alone.
    pub fn local() -> Self {
        Self {
            shared: None,
            round_trips: Default::default(),
            leases: Mutex::default(),
            local: Mutex::new(LocalTable::default()),
            started: Instant::now(),
        }
    }

    /// Limits kept in the Redis at `url`, connected to now if it answers
    /// (else the store starts local and [`keep_connected`] connects later).
    ///
    /// # Errors
    /// `url` is not a Redis URL.
    pub async fn redis(url: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let store = Self {
            shared: Some(Shared {
                client,
                connection: Mutex::new(None),
                reachable: AtomicBool::new(true),
                lost: tokio::sync::Notify::new(),
                script: redis::Script::new(SCRIPT),
            }),
            round_trips: Default::default(),
            leases: Mutex::default(),
            local: Mutex::new(LocalTable::default()),
            started: Instant::now(),
        };
        if let Some(shared) = &store.shared {
            match shared.connect().await {
                Ok(connection) => {
                    shared.set_connection(Some(connection));
                    metrics::gauge!("gateway_rate_limit_local_only").set(0.0);
                }
                Err(e) => shared.lose(&e),
            }
        }
        Ok(store)
    }

    /// How many checks have gone to Redis.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// True while checks are decided by this process alone.
    pub fn is_local_only(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|s| !s.reachable.load(Ordering::Relaxed))
    }

    /// Spends one request of `cell` for `key`.
    pub async fn check(&self, key: &str, cell: Cell) -> Verdict {
        if let Some(shared) = &self.shared
            && let Some(connection) = shared.usable_connection()
        {
            let batch = cell.batch();
            if batch > 1
                && let Some(verdict) = self.spend_lease(key)
            {
                return verdict;
            }
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            match shared.check(connection, key, cell, batch).await {
                Ok(verdict) => {
                    if verdict.granted > 1 {
                        self.lease(key, cell, verdict);
                    }
                    return verdict;
                }
                Err(e) => shared.lose(&e),
            }
        }
        self.check_locally(key, cell)
    }

    fn leases(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lease>> {
        // Plain counts: usable whatever panicked while the lock was held.
        self.leases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One request from this process's lease for `key`, if it holds one.
    fn spend_lease(&self, key: &str) -> Option<Verdict> {
        let now = Instant::now();
        let mut leases = self.leases();
        let lease = leases
            .get_mut(key)
            .filter(|l| l.left > 0 && l.until > now)?;
        lease.left -= 1;
        let elapsed = u64::try_from((now - lease.granted_at).as_micros()).unwrap_or(u64::MAX);
        Some(Verdict {
            granted: 1,
            wait_us: 0,
            used_us: lease.verdict.used_us.saturating_sub(elapsed),
            held: lease.left,
        })
    }

    /// Keeps what `verdict` granted beyond this request, on top of what is
    /// still held: requests that found the lease empty at the same moment
    /// each bring a batch, and none of it is thrown away.
    fn lease(&self, key: &str, cell: Cell, verdict: Verdict) {
        let now = Instant::now();
        let lasts = Duration::from_micros(verdict.granted * cell.interval_us).max(LEASE_AT_LEAST);
        let mut leases = self.leases();
        if leases.len() >= LEASES_PRUNE_AT && !leases.contains_key(key) {
            leases.retain(|_, lease| lease.until > now);
        }
        let held = leases
            .get(key)
            .filter(|lease| lease.until > now)
            .map_or(0, |lease| lease.left);
        leases.insert(
            key.to_owned(),
            Lease {
                left: held + verdict.granted - 1,
                until: now + lasts,
                verdict,
                granted_at: now,
            },
        );
    }

    fn check_locally(&self, key: &str, cell: Cell) -> Verdict {
        let now = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // A poisoned lock only means another check panicked mid-insert;
        // the table is still a valid map.
        let mut table = self.local.lock().unwrap_or_else(|p| p.into_inner());
        table.check(key, cell, now)
    }
}

impl Shared {
    async fn connect(&self) -> Result<MultiplexedConnection, StoreError> {
        let connect = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await?;
            Ok::<_, redis::RedisError>(connection)
        };
        match tokio::time::timeout(REDIS_TIMEOUT * 4, connect).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(e)) => Err(StoreError::Redis(e)),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    fn usable_connection(&self) -> Option<MultiplexedConnection> {
        if !self.reachable.load(Ordering::Relaxed) {
            return None;
        }
        self.connection
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_connection(&self, connection: Option<MultiplexedConnection>) {
        *self.connection.lock().unwrap_or_else(|p| p.into_inner()) = connection;
    }

    async fn check(
        &self,
        mut connection: MultiplexedConnection,
        key: &str,
        cell: Cell,
        wanted: u64,
    ) -> Result<Verdict, StoreError> {
        let mut invocation = self.script.key(key);
        invocation
            .arg(cell.interval_us)
            .arg(cell.capacity_us)
            .arg(wanted);
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            invocation.invoke_async::<(u64, u64, u64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((granted, wait_us, used_us))) => Ok(Verdict {
                granted,
                wait_us,
                used_us,
                held: 0,
            }),
            Ok(Err(e)) => Err(StoreError::Redis(e)),
            Err(_) => Err(StoreError::Timeout),
        }
    }

    /// Goes local: said once, however many checks fail at the same time.
    fn lose(&self, error: &StoreError) {
        metrics::counter!("gateway_rate_limit_store_errors_total").increment(1);
        self.set_connection(None);
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                error = %error,
                "Redis does not answer: rate limits are kept per gateway process until it does"
            );
            metrics::gauge!("gateway_rate_limit_local_only").set(1.0);
        }
        self.lost.notify_one();
    }
}

#[derive(Debug, thiserror::Error)]
enum StoreError {
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error("no answer within {} ms", REDIS_TIMEOUT.as_millis())]
    Timeout,
}

/// Reconnects to Redis whenever a check has lost it, trying every second
/// until it answers; then limits are shared again. Runs for the gateway's
/// life; returns at once for a local store.
pub async fn keep_connected(store: Arc<Store>) {
    let Some(shared) = &store.shared else {
        return;
    };
    loop {
        if shared.reachable.load(Ordering::Relaxed) {
            shared.lost.notified().await;
            continue;
        }
        match shared.connect().await {
            Ok(connection) => {
                shared.set_connection(Some(connection));
                shared.reachable.store(true, Ordering::Relaxed);
                metrics::gauge!("gateway_rate_limit_local_only").set(0.0);
                tracing::info!("Redis answers again: rate limits are shared across gateways");
            }
            Err(e) => {
                tracing::debug!(error = %e, "Redis still unreachable");
                tokio::time::sleep(RECONNECT_EVERY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use foodmesh_shared::testing::{TestStreams, redis_url};

    use super::super::Quota;
    use super::super::gcra::LocalTable;
    use super::*;

    fn cell(count: u32, window: Duration) -> Cell {
        Cell::of(Quota {
            count: NonZeroU32::new(count).expect("positive"),
            window,
        })
    }

    #[tokio::test]
    async fn the_script_decides_as_the_local_table_does() {
        let streams = TestStreams::new();
        let store = Store::redis(&redis_url()).await.expect("a Redis URL");
        assert!(!store.is_local_only(), "the tests' Redis answers");
        let key = format!("{}:ratelimit:read:ip:127.0.0.1", streams.prefix());
        // A long window, so the few milliseconds between checks give
        // nothing back and both sides see the same instant.
        let cell = cell(4, Duration::from_secs(3600));
        let mut table = LocalTable::default();
        for request in 0..6 {
            let shared = store.check(&key, cell).await;
            let local = table.check("k", cell, 0);
            assert_eq!(shared.allowed(), local.allowed(), "request {request}");
            assert_eq!(shared.remaining(cell), local.remaining(cell));
            let drift = shared.used_us.abs_diff(local.used_us);
            assert!(drift < 1_000_000, "request {request}: {shared:?} {local:?}");
        }
        assert!(!store.is_local_only());
    }

    #[tokio::test]
    async fn a_key_expires_once_its_quota_is_whole_again() {
        let streams = TestStreams::new();
        let store = Store::redis(&redis_url()).await.expect("a Redis URL");
        let key = format!("{}:ratelimit:write:sub:admin:a", streams.prefix());
        let cell = cell(2, Duration::from_millis(200));
        assert!(store.check(&key, cell).await.allowed());
        let mut connection = redis::Client::open(redis_url())
            .expect("URL")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers");
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!((1..=100).contains(&ttl), "{ttl}");
    }

    #[tokio::test]
    async fn a_large_quota_is_taken_in_batches_and_never_overspent() {
        let streams = TestStreams::new();
        let key = format!("{}:ratelimit:read:ip:127.0.0.1", streams.prefix());
        // 640 an hour: batches of ten, and nothing comes back meanwhile.
        let cell = cell(640, Duration::from_secs(3600));
        assert_eq!(cell.batch(), 10);
        // Two replicas on one Redis.
        let (a, b) = (
            Store::redis(&redis_url()).await.expect("a Redis URL"),
            Store::redis(&redis_url()).await.expect("a Redis URL"),
        );
        let mut allowed = 0;
        for _ in 0..320 {
            allowed += usize::from(a.check(&key, cell).await.allowed());
            allowed += usize::from(b.check(&key, cell).await.allowed());
        }
        assert_eq!(allowed, 640, "the whole quota, shared");
        // A round trip per batch of ten.
        assert_eq!(a.round_trips() + b.round_trips(), 64);
        assert!(!a.check(&key, cell).await.allowed(), "and not one more");
        assert!(!b.check(&key, cell).await.allowed());
    }

    #[tokio::test]
    async fn batches_fetched_at_the_same_moment_are_all_kept() {
        let streams = TestStreams::new();
        let key = format!("{}:ratelimit:read:ip:127.0.0.2", streams.prefix());
        let cell = cell(640, Duration::from_secs(3600));
        let store = Store::redis(&redis_url()).await.expect("a Redis URL");
        let (first, second) = tokio::join!(store.check(&key, cell), store.check(&key, cell));
        assert!(first.allowed() && second.allowed());
        assert_eq!(store.round_trips(), 2, "both found no lease");
        // Twenty granted, two spent: eighteen more without asking Redis.
        for _ in 0..18 {
            assert!(store.check(&key, cell).await.allowed());
        }
        assert_eq!(store.round_trips(), 2);
        assert!(store.check(&key, cell).await.allowed());
        assert_eq!(store.round_trips(), 3);
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_decided_locally_at_once() {
        // A port nothing listens on: refused at once, as a stopped server.
        let store = Store::redis("redis://127.0.0.1:9").await.expect("a URL");
        assert!(store.is_local_only());
        let cell = cell(2, Duration::from_secs(60));
        let mut allowed = Vec::new();
        for _ in 0..3 {
            allowed.push(store.check("k", cell).await.allowed());
        }
        assert_eq!(allowed, [true, true, false]);
    }
}
