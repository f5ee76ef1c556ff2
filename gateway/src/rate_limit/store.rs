//! Where the limits are kept: in Redis, so every gateway replica spends
//! from one budget, and in a table of the process's own while Redis cannot
//! be reached, so the gateway goes on serving under a per-process limit
//! rather than failing or letting everything through.
//!
//! A check that Redis does not answer within [`REDIS_TIMEOUT`] is decided
//! locally, the gateway says so once (a warning and
//! `gateway_rate_limit_local_only` at 1), and every later check stays
//! local, paying no timeout, until the [`keep_connected`] task finds Redis
//! answering again.

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
    local: Mutex<LocalTable>,
    /// The local table's clock: microseconds since this instant.
    started: Instant,
}

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
            match shared.check(connection, key, cell).await {
                Ok(verdict) => return verdict,
                Err(e) => shared.lose(&e),
            }
        }
        self.check_locally(key, cell)
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
    ) -> Result<Verdict, StoreError> {
        let mut invocation = self.script.key(key);
        invocation.arg(cell.interval_us).arg(cell.capacity_us);
        let answer = tokio::time::timeout(
            REDIS_TIMEOUT,
            invocation.invoke_async::<(u8, u64, u64)>(&mut connection),
        )
        .await;
        match answer {
            Ok(Ok((allowed, wait_us, used_us))) => Ok(Verdict {
                allowed: allowed == 1,
                wait_us,
                used_us,
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
            assert_eq!(shared.allowed, local.allowed, "request {request}");
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
        assert!(store.check(&key, cell).await.allowed);
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
    async fn an_unreachable_redis_is_decided_locally_at_once() {
        // A port nothing listens on: refused at once, as a stopped server.
        let store = Store::redis("redis://127.0.0.1:9").await.expect("a URL");
        assert!(store.is_local_only());
        let cell = cell(2, Duration::from_secs(60));
        let mut allowed = Vec::new();
        for _ in 0..3 {
            allowed.push(store.check("k", cell).await.allowed);
        }
        assert_eq!(allowed, [true, true, false]);
    }
}
