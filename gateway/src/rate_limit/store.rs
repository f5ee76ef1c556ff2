//! Where the limits are kept: in Redis, so every gateway replica spends
//! from one budget, and in a table of the process's own while Redis cannot
//! be reached, so the gateway goes on serving under a per-process limit
//! rather than failing or letting everything through.
//!
//! A large quota is taken from Redis in batches ([`Cell::batch`], a 64th of
//! it): when a client has nothing left in hand, one request asks Redis for
//! a batch (those arriving meanwhile ask for one each), and the rest of it
//! is spent from a lease this process holds, so a busy client costs a
//! round trip per batch rather than per request. A lease lasts as long as
//! its requests would take at the quota's pace, so nothing is spent after
//! Redis would have given it back; what is left then lapses, already
//! counted. Across replicas a client may so be held to up to a batch less
//! than its quota per replica, never more.
//!
//! A check that Redis does not answer within [`REDIS_TIMEOUT`] is decided
//! locally, the gateway says so once (a warning and
//! `gateway_rate_limit_local_only` at 1), and every later check stays
//! local, paying no timeout, until the [`keep_connected`] task finds Redis
//! answering again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;

use super::gcra::{Cell, LocalTable, SCRIPT, Verdict};

/// The longest a check waits for Redis before deciding locally. Redis
/// answers a script in well under a millisecond; this is a hung server.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// How often an unreachable Redis is tried again.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);

/// How many clients' leases are kept before the lapsed ones are dropped.
const LEASES_PRUNE_AT: usize = 16_384;

pub struct Store {
    shared: Option<Shared>,
    /// Checks that went to Redis.
    round_trips: AtomicU64,
    leases: Mutex<Leases>,
    local: Mutex<LocalTable>,
    /// The local table's clock: microseconds since this instant.
    started: Instant,
}

/// Requests granted by Redis and not spent yet, per client.
struct Leases {
    by_key: HashMap<String, Lease>,
    /// The size at which lapsed leases are next dropped: twice what was
    /// left after the last pruning, so pruning costs a constant share of
    /// the inserts however many clients are active.
    prune_at: usize,
}

impl Default for Leases {
    fn default() -> Self {
        Self {
            by_key: HashMap::new(),
            prune_at: LEASES_PRUNE_AT,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Lease {
    left: u64,
    /// When what is left lapses.
    until: Instant,
    /// What Redis said when it granted them, for the headers.
    verdict: Verdict,
    granted_at: Instant,
    /// When a request went to Redis for the next batch, while it is out:
    /// others then ask for one each rather than a batch of their own.
    fetching_since: Option<Instant>,
}

/// What the lease says a check should do.
enum InHand {
    /// Spent from the lease.
    Spent(Verdict),
    /// Ask Redis for this many.
    Ask(u64),
}

/// The connection to Redis, with a number that changes with every new
/// one, so a failure seen on an old connection cannot drop a new one.
#[derive(Default)]
struct Link {
    connection: Option<MultiplexedConnection>,
    generation: u64,
}

struct Shared {
    client: redis::Client,
    link: Mutex<Link>,
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

/// Locks a mutex that holds plain values, usable whatever panicked while
/// it was held.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store {
    /// Limits kept by this process alone.
    pub fn local() -> Self {
        Self {
            shared: None,
            round_trips: AtomicU64::new(0),
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
        let shared = Shared {
            client: redis::Client::open(url)?,
            link: Mutex::default(),
            lost: tokio::sync::Notify::new(),
            script: redis::Script::new(SCRIPT),
        };
        match shared.connect().await {
            Ok(connection) => shared.connected(connection),
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "Redis does not answer: rate limits are kept per gateway process until it does"
                );
                metrics::gauge!("gateway_rate_limit_local_only").set(1.0);
            }
        }
        Ok(Self {
            shared: Some(shared),
            round_trips: AtomicU64::new(0),
            leases: Mutex::default(),
            local: Mutex::new(LocalTable::default()),
            started: Instant::now(),
        })
    }

    /// How many checks have gone to Redis.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// True while checks are decided by this process alone.
    pub fn is_local_only(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|s| lock(&s.link).connection.is_none())
    }

    /// Spends one request of `cell` for `key`.
    pub async fn check(&self, key: &str, cell: Cell) -> Verdict {
        if let Some(shared) = &self.shared
            && let Some((connection, generation)) = shared.usable_connection()
        {
            let wanted = match self.in_hand(key, cell) {
                InHand::Spent(verdict) => return verdict,
                InHand::Ask(wanted) => wanted,
            };
            self.round_trips.fetch_add(1, Ordering::Relaxed);
            let answer = shared.check(connection, key, cell, wanted).await;
            if wanted > 1 {
                self.fetched(key, cell, answer.as_ref().ok());
            }
            match answer {
                Ok(verdict) => return verdict,
                Err(e) => shared.lose(generation, &e),
            }
        }
        self.check_locally(key, cell)
    }

    /// Spends a request from `key`'s lease, or says how many to ask Redis
    /// for: a batch, unless another request is already fetching one.
    fn in_hand(&self, key: &str, cell: Cell) -> InHand {
        let batch = cell.batch();
        if batch == 1 {
            return InHand::Ask(1);
        }
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        if let Some(lease) = leases.by_key.get_mut(key) {
            if lease.left > 0 && lease.until > now {
                lease.left -= 1;
                let elapsed =
                    u64::try_from((now - lease.granted_at).as_micros()).unwrap_or(u64::MAX);
                return InHand::Spent(Verdict {
                    granted: 1,
                    wait_us: 0,
                    used_us: lease.verdict.used_us.saturating_sub(elapsed),
                    held: lease.left,
                });
            }
            // A fetch whose request went away mid-call never reports back;
            // after a while another may fetch.
            let out = lease
                .fetching_since
                .is_some_and(|since| now - since < REDIS_TIMEOUT * 2);
            if out {
                return InHand::Ask(1);
            }
            lease.left = 0;
            lease.fetching_since = Some(now);
            return InHand::Ask(batch);
        }
        if leases.by_key.len() >= leases.prune_at {
            leases.by_key.retain(|_, lease| lease.until > now);
            leases.prune_at = LEASES_PRUNE_AT.max(leases.by_key.len() * 2);
        }
        leases.by_key.insert(
            key.to_owned(),
            Lease {
                left: 0,
                until: now,
                verdict: Verdict {
                    granted: 0,
                    wait_us: 0,
                    used_us: 0,
                    held: 0,
                },
                granted_at: now,
                fetching_since: Some(now),
            },
        );
        InHand::Ask(batch)
    }

    /// Keeps what a batch fetch brought beyond its own request, and lets
    /// the next fetch go.
    fn fetched(&self, key: &str, cell: Cell, verdict: Option<&Verdict>) {
        let now = Instant::now();
        let mut leases = lock(&self.leases);
        let Some(lease) = leases.by_key.get_mut(key) else {
            return;
        };
        lease.fetching_since = None;
        if let Some(verdict) = verdict.filter(|v| v.granted > 1) {
            lease.left = verdict.granted - 1;
            lease.until = now + Duration::from_micros(verdict.granted * cell.interval_us);
            lease.verdict = *verdict;
            lease.granted_at = now;
        }
    }

    fn check_locally(&self, key: &str, cell: Cell) -> Verdict {
        let now = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        lock(&self.local).check(key, cell, now)
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

    fn connected(&self, connection: MultiplexedConnection) {
        let mut link = lock(&self.link);
        link.connection = Some(connection);
        link.generation += 1;
        metrics::gauge!("gateway_rate_limit_local_only").set(0.0);
    }

    fn usable_connection(&self) -> Option<(MultiplexedConnection, u64)> {
        let link = lock(&self.link);
        link.connection.clone().map(|c| (c, link.generation))
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

    /// Goes local, when `generation` is still the connection in use: said
    /// once, however many checks fail at the same time, and a failure seen
    /// on a connection already replaced changes nothing.
    fn lose(&self, generation: u64, error: &StoreError) {
        metrics::counter!("gateway_rate_limit_store_errors_total").increment(1);
        let mut link = lock(&self.link);
        if link.generation != generation || link.connection.is_none() {
            return;
        }
        link.connection = None;
        drop(link);
        tracing::warn!(
            error = %error,
            "Redis does not answer: rate limits are kept per gateway process until it does"
        );
        metrics::gauge!("gateway_rate_limit_local_only").set(1.0);
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
        if lock(&shared.link).connection.is_some() {
            shared.lost.notified().await;
            continue;
        }
        match shared.connect().await {
            Ok(connection) => {
                shared.connected(connection);
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
        let mut connection = redis::Client::open(redis_url())
            .expect("URL")
            .get_multiplexed_async_connection()
            .await
            .expect("Redis answers");
        // Two per 20 s: one spent is whole again in 10 s.
        let cell = cell(2, Duration::from_secs(20));
        assert!(store.check(&key, cell).await.allowed());
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        assert!((1..=10_000).contains(&ttl), "{ttl}");
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
    async fn requests_that_find_nothing_in_hand_together_fetch_one_batch() {
        let streams = TestStreams::new();
        let key = format!("{}:ratelimit:read:ip:127.0.0.2", streams.prefix());
        let cell = cell(640, Duration::from_secs(3600));
        let store = Store::redis(&redis_url()).await.expect("a Redis URL");
        let (first, second) = tokio::join!(store.check(&key, cell), store.check(&key, cell));
        assert!(first.allowed() && second.allowed());
        assert_eq!(store.round_trips(), 2, "both found nothing in hand");
        assert_eq!(
            first.granted + second.granted,
            11,
            "one batch of ten, and one for the request that came meanwhile"
        );
        // Nine left in hand: spent without asking Redis.
        for _ in 0..9 {
            assert!(store.check(&key, cell).await.allowed());
        }
        assert_eq!(store.round_trips(), 2);
        assert!(store.check(&key, cell).await.allowed());
        assert_eq!(store.round_trips(), 3);
    }

    #[tokio::test]
    async fn a_lease_lapses_when_redis_would_have_given_its_requests_back() {
        let streams = TestStreams::new();
        let key = format!("{}:ratelimit:read:ip:127.0.0.3", streams.prefix());
        // 128 a second: batches of two, each worth 15.6 ms.
        let cell = cell(128, Duration::from_secs(1));
        assert_eq!(cell.batch(), 2);
        let store = Store::redis(&redis_url()).await.expect("a Redis URL");
        assert!(store.check(&key, cell).await.allowed());
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(store.check(&key, cell).await.allowed());
        assert_eq!(store.round_trips(), 2, "the one in hand had lapsed");
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
