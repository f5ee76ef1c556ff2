//! The event backbone on the real Postgres and Redis: what commits is
//! published, what rolls back is not, a redelivery has one effect, a poison
//! event is dead-lettered while the stream flows on, a crashed consumer's
//! entries are taken over, and a Redis restart loses nothing. The events of
//! one read are applied in one transaction, and a failing one among them
//! neither loses nor repeats the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foodmesh_proto::events::v1::MenuChanged;
use foodmesh_shared::events::consumer::{Consumer, ConsumerConfig, Handler, HandlerError};
use foodmesh_shared::events::relay::Relay;
use foodmesh_shared::events::{self, Event, outbox};
use foodmesh_shared::testing::{TestDb, TestStreams};
use foodmesh_shared::work::Work;
use futures::future::BoxFuture;
use prost::Message;
use redis::AsyncCommands;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

/// Records each applied event; fails for restaurant ids it is told to.
struct Effects {
    fail_with: Option<fn(i64) -> Option<HandlerError>>,
}

impl Handler for Effects {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            let payload: MenuChanged = event
                .payload()
                .map_err(|e| HandlerError::Reject(e.to_string()))?;
            if let Some(err) = self.fail_with.and_then(|f| f(payload.restaurant_id)) {
                return Err(err);
            }
            sqlx::query("INSERT INTO effects (restaurant_id) VALUES ($1)")
                .bind(payload.restaurant_id)
                .execute(work.conn())
                .await?;
            Ok(())
        })
    }
}

/// [`Effects`] that also counts, through `Work::on_commit`, the events whose
/// effects committed.
struct Counted {
    effects: Effects,
    committed: Arc<AtomicUsize>,
}

impl Handler for Counted {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.effects.handle(work, event).await?;
            let committed = self.committed.clone();
            work.on_commit(move || {
                committed.fetch_add(1, Ordering::SeqCst);
            });
            Ok(())
        })
    }
}

struct Bench {
    pool: PgPool,
    redis_url: String,
    stream: String,
    _db: TestDb,
    _streams: TestStreams,
}

impl Bench {
    async fn new(redis_url: &str) -> Self {
        let db = TestDb::new("events").await;
        let pool = foodmesh_shared::db::connect(db.url(), 10, &events::MIGRATOR)
            .await
            .expect("migrated");
        sqlx::query(
            "CREATE TABLE effects (id BIGSERIAL PRIMARY KEY, restaurant_id BIGINT NOT NULL)",
        )
        .execute(&pool)
        .await
        .expect("effects table");
        let mut streams = TestStreams::new();
        streams.also_on(redis_url);
        Self {
            pool,
            redis_url: redis_url.to_owned(),
            stream: format!("{}:restaurant", streams.prefix()),
            _db: db,
            _streams: streams,
        }
    }

    async fn redis(&self) -> redis::aio::ConnectionManager {
        Consumer::connect_redis(&self.redis_url)
            .await
            .expect("redis answers")
    }

    async fn commit_event(&self, restaurant_id: i64) {
        self.commit_event_of("menu.changed", restaurant_id).await;
    }

    async fn commit_event_of(&self, event_type: &str, restaurant_id: i64) {
        let mut conn = self.pool.acquire().await.expect("a connection");
        let mut work = Work::begin(&mut conn).await.expect("begins");
        outbox::enqueue(
            &mut work,
            &self.stream,
            event_type,
            &restaurant_id.to_string(),
            &MenuChanged { restaurant_id },
        )
        .await
        .expect("enqueued");
        let committed = work.commit().await.expect("committed");
        committed.announce(&mut conn).await;
    }

    /// Commits an event for each id and publishes them all in one batch,
    /// so a consumer's first read takes them together.
    async fn publish_events(&self, ids: std::ops::RangeInclusive<i64>) {
        for id in ids {
            self.commit_event(id).await;
        }
        self.relay().await.publish_batch().await.expect("published");
    }

    async fn relay(&self) -> Relay {
        Relay::new(self.pool.clone(), self.redis().await)
    }

    fn config(&self) -> ConsumerConfig {
        let mut config = ConsumerConfig::new("test-group", vec![self.stream.clone()]);
        config.retry_base = Duration::from_millis(20);
        config.claim_after = Duration::from_millis(200);
        config.block = Duration::from_millis(100);
        config.max_attempts = 3;
        config
    }

    /// A config under which nothing is retried or claimed during a test:
    /// what ends up acknowledged was acknowledged by the first attempt.
    fn config_without_retries(&self) -> ConsumerConfig {
        let mut config = self.config();
        config.retry_base = Duration::from_secs(600);
        config.claim_after = Duration::from_secs(600);
        config
    }

    async fn consumer(&self, handler: Effects) -> tokio::task::JoinHandle<()> {
        self.consumer_with(self.config(), handler).await
    }

    async fn consumer_with(
        &self,
        config: ConsumerConfig,
        handler: impl Handler,
    ) -> tokio::task::JoinHandle<()> {
        let consumer = Consumer::new(
            self.pool.clone(),
            self.redis().await,
            config,
            Arc::new(handler),
        );
        tokio::spawn(consumer.run(CancellationToken::new()))
    }

    async fn effects(&self) -> Vec<i64> {
        sqlx::query_scalar("SELECT restaurant_id FROM effects ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .expect("effects")
    }

    /// Waits (bounded) until `n` effects exist.
    async fn wait_for_effects(&self, n: usize) -> Vec<i64> {
        for _ in 0..500 {
            let effects = self.effects().await;
            if effects.len() >= n {
                return effects;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.effects().await
    }

    /// Entries read but not acknowledged, once there are none (at most
    /// 5 s).
    async fn wait_until_nothing_pending(&self) -> usize {
        let mut redis = self.redis().await;
        let mut pending = usize::MAX;
        for _ in 0..250 {
            let reply: redis::streams::StreamPendingReply = redis
                .xpending(&self.stream, "test-group")
                .await
                .expect("pending");
            pending = reply.count();
            if pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        pending
    }

    /// The dead-letter stream's length once it has `n` entries (at most
    /// 5 s).
    async fn wait_for_dead_letters(&self, n: usize) -> usize {
        let dead = events::dead_letter_stream(&self.stream);
        let mut len = 0;
        for _ in 0..250 {
            len = self.stream_len(&dead).await;
            if len >= n {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        len
    }

    /// How many events are recorded as processed, and in how many
    /// transactions (a transaction's `now()` is its own).
    async fn processed(&self) -> (i64, i64) {
        sqlx::query_as("SELECT count(*), count(DISTINCT processed_at) FROM processed_events")
            .fetch_one(&self.pool)
            .await
            .expect("processed")
    }

    async fn stream_len(&self, stream: &str) -> usize {
        let mut redis = self.redis().await;
        redis.xlen(stream).await.expect("xlen")
    }
}

const LOCAL_REDIS: &str = "redis://127.0.0.1:6379";

#[tokio::test]
async fn a_committed_event_is_published_and_applied_once() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event(7).await;

    let published = bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let effects = bench.wait_for_effects(1).await;

    assert_eq!(published, 1);
    assert_eq!(effects, vec![7]);
    consumer.abort();
}

#[tokio::test]
async fn a_rolled_back_change_publishes_nothing() {
    let bench = Bench::new(LOCAL_REDIS).await;
    let mut conn = bench.pool.acquire().await.expect("a connection");
    let mut work = Work::begin(&mut conn).await.expect("begins");
    outbox::enqueue(
        &mut work,
        &bench.stream,
        "menu.changed",
        "1",
        &MenuChanged { restaurant_id: 1 },
    )
    .await
    .expect("enqueued");
    work.rollback().await.expect("rolled back");

    let published = bench.relay().await.publish_batch().await.expect("ran");

    assert_eq!(published, 0);
    assert_eq!(bench.stream_len(&bench.stream).await, 0);
}

#[tokio::test]
async fn an_event_committed_while_no_relay_runs_is_published_when_one_starts() {
    let bench = Bench::new(LOCAL_REDIS).await;
    // The service "crashed" after its commit, before any publish.
    bench.commit_event(3).await;
    bench.commit_event(4).await;

    let relay = tokio::spawn(bench.relay().await.run(CancellationToken::new()));
    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let effects = bench.wait_for_effects(2).await;

    assert_eq!(effects, vec![3, 4]);
    relay.abort();
    consumer.abort();
}

#[tokio::test]
async fn an_event_delivered_twice_has_one_effect() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event(5).await;
    let envelope: Vec<u8> = sqlx::query_scalar("SELECT envelope FROM outbox")
        .fetch_one(&bench.pool)
        .await
        .expect("row");
    let mut redis = bench.redis().await;
    for _ in 0..2 {
        let _: String = redis
            .xadd(
                &bench.stream,
                "*",
                &[(events::ENVELOPE_FIELD, envelope.as_slice())],
            )
            .await
            .expect("xadd");
    }
    bench.commit_event(6).await;

    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let effects = bench.wait_for_effects(2).await;

    assert_eq!(effects, vec![5, 6]);
    consumer.abort();
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_the_stream_keeps_flowing() {
    let bench = Bench::new(LOCAL_REDIS).await;
    let mut redis = bench.redis().await;
    let _: String = redis
        .xadd(
            &bench.stream,
            "*",
            &[(events::ENVELOPE_FIELD, b"not protobuf at all".as_slice())],
        )
        .await
        .expect("xadd");
    bench.commit_event(11).await;

    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let effects = bench.wait_for_effects(1).await;

    assert_eq!(effects, vec![11]);
    assert_eq!(
        bench
            .stream_len(&events::dead_letter_stream(&bench.stream))
            .await,
        1
    );
    consumer.abort();
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_retried_then_dead_lettered() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event(13).await;
    bench.commit_event(14).await;

    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let consumer = bench
        .consumer(Effects {
            fail_with: Some(|id| {
                (id == 13).then(|| HandlerError::Retry(anyhow::anyhow!("peer down")))
            }),
        })
        .await;
    let effects = bench.wait_for_effects(1).await;
    let dead_len = bench.wait_for_dead_letters(1).await;

    assert_eq!(
        effects,
        vec![14],
        "the failing event does not block the next"
    );
    assert_eq!(dead_len, 1);
    consumer.abort();
}

#[tokio::test]
async fn entries_left_pending_by_a_crashed_consumer_are_taken_over() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event(21).await;
    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let mut redis = bench.redis().await;
    let _: redis::RedisResult<()> = redis
        .xgroup_create_mkstream(&bench.stream, "test-group", "0")
        .await;
    // A consumer reads the entry and dies before acknowledging it.
    let options = redis::streams::StreamReadOptions::default()
        .group("test-group", "crashed-consumer")
        .count(10);
    let read: redis::streams::StreamReadReply = redis
        .xread_options(&[&bench.stream], &[">"], &options)
        .await
        .expect("read");
    assert_eq!(read.keys.iter().map(|k| k.ids.len()).sum::<usize>(), 1);

    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let effects = bench.wait_for_effects(1).await;

    assert_eq!(effects, vec![21]);
    consumer.abort();
}

/// A Redis of the test's own, with the append-only file on, that can be
/// restarted.
struct OwnRedis {
    port: u16,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let dir =
            std::env::temp_dir().join(format!("foodmesh-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("dir");
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.spawn();
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
            ])
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs");
        self.child = Some(child);
    }

    async fn wait_ready(&self) {
        for _ in 0..200 {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut conn) = client.get_multiplexed_async_connection().await
            {
                let pong: redis::RedisResult<String> =
                    redis::cmd("PING").query_async(&mut conn).await;
                if pong.is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("own redis did not start");
    }

    /// Kills the server outright (no SHUTDOWN save), as a crash would.
    fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_redis_crash_and_restart_loses_no_published_event() {
    let mut own = OwnRedis::start();
    own.wait_ready().await;
    let bench = Bench::new(&own.url()).await;
    for id in 1..=20 {
        bench.commit_event(id).await;
    }
    let relay = tokio::spawn(bench.relay().await.run(CancellationToken::new()));
    let consumer = bench.consumer(Effects { fail_with: None }).await;
    let before = bench.wait_for_effects(5).await.len();

    own.crash();
    for id in 21..=40 {
        bench.commit_event(id).await;
    }
    own.spawn();
    own.wait_ready().await;
    let effects = bench.wait_for_effects(40).await;

    assert!(before >= 5);
    let mut sorted = effects.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        sorted,
        (1..=40).collect::<Vec<i64>>(),
        "every event applied once"
    );
    assert_eq!(effects.len(), 40, "no event applied twice");
    relay.abort();
    consumer.abort();
}

#[tokio::test]
async fn an_event_no_route_handles_is_acknowledged_without_a_transaction() {
    use foodmesh_shared::events::consumer::Router;

    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event_of("menu.archived", 8).await;
    bench.commit_event(9).await;
    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let router = Router::new().route("menu.changed", Arc::new(Effects { fail_with: None }));
    let consumer = bench.consumer_with(bench.config(), router).await;

    // The routed event comes after the other one in the stream.
    let effects = bench.wait_for_effects(1).await;
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM processed_events")
        .fetch_one(&bench.pool)
        .await
        .expect("counted");
    // Acknowledged just after its commit: wait (bounded) for that too.
    let pending = bench.wait_until_nothing_pending().await;

    assert_eq!(effects, vec![9]);
    assert_eq!(recorded, 1, "only the routed event was recorded");
    assert_eq!(pending, 0, "both were acknowledged");
    consumer.abort();
}

#[tokio::test]
async fn the_events_of_one_read_are_applied_in_one_transaction_and_all_acknowledged() {
    let bench = Bench::new(LOCAL_REDIS).await;
    // All on the stream before the consumer starts: its first read takes
    // them all.
    bench.publish_events(1..=10).await;

    let committed = Arc::new(AtomicUsize::new(0));
    let consumer = bench
        .consumer_with(
            bench.config_without_retries(),
            Counted {
                effects: Effects { fail_with: None },
                committed: committed.clone(),
            },
        )
        .await;
    let effects = bench.wait_for_effects(10).await;
    let pending = bench.wait_until_nothing_pending().await;

    assert_eq!(effects, (1..=10).collect::<Vec<i64>>());
    assert_eq!(bench.processed().await, (10, 1), "ten events, one commit");
    assert_eq!(pending, 0, "every entry was acknowledged at once");
    assert_eq!(committed.load(Ordering::SeqCst), 10);
    consumer.abort();
}

#[tokio::test]
async fn failing_events_in_a_read_leave_the_others_applied_once_and_meet_their_own_fate() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.publish_events(31..=35).await;

    let committed = Arc::new(AtomicUsize::new(0));
    let consumer = bench
        .consumer_with(
            bench.config(),
            Counted {
                effects: Effects {
                    fail_with: Some(|id| match id {
                        32 => Some(HandlerError::Reject("poison".to_owned())),
                        34 => Some(HandlerError::Retry(anyhow::anyhow!("peer down"))),
                        _ => None,
                    }),
                },
                committed: committed.clone(),
            },
        )
        .await;
    // 32 is dead-lettered at once, 34 after its attempts run out.
    let dead = bench.wait_for_dead_letters(2).await;
    let pending = bench.wait_until_nothing_pending().await;
    let effects = bench.effects().await;

    assert_eq!(effects, vec![31, 33, 35], "each good event applied once");
    assert_eq!(dead, 2);
    assert_eq!(pending, 0, "nothing left behind");
    assert_eq!(bench.processed().await.0, 3);
    assert_eq!(
        committed.load(Ordering::SeqCst),
        3,
        "the rolled-back attempt's effects were dropped"
    );
    consumer.abort();
}

#[tokio::test]
async fn a_read_that_fails_together_is_applied_one_by_one_at_once() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.publish_events(51..=55).await;

    // No retries: whatever is applied or dead-lettered was so by the
    // fallback after the failed transaction.
    let consumer = bench
        .consumer_with(
            bench.config_without_retries(),
            Effects {
                fail_with: Some(|id| match id {
                    52 => Some(HandlerError::Reject("poison".to_owned())),
                    54 => Some(HandlerError::Retry(anyhow::anyhow!("peer down"))),
                    _ => None,
                }),
            },
        )
        .await;
    let effects = bench.wait_for_effects(3).await;
    let dead = bench.wait_for_dead_letters(1).await;
    let mut redis = bench.redis().await;
    let mut pending = Vec::new();
    for _ in 0..250 {
        let reply: redis::streams::StreamPendingCountReply = redis
            .xpending_count(&bench.stream, "test-group", "-", "+", 10)
            .await
            .expect("pending");
        pending = reply.ids;
        if pending.len() <= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    assert_eq!(effects, vec![51, 53, 55]);
    assert_eq!(dead, 1, "the poison event is dead-lettered at once");
    assert_eq!(pending.len(), 1, "only the retryable event waits");
    assert_eq!(pending[0].times_delivered, 1);
    let read: redis::streams::StreamRangeReply = redis
        .xrange(&bench.stream, &pending[0].id, &pending[0].id)
        .await
        .expect("xrange");
    let raw: Vec<u8> = read.ids[0].get(events::ENVELOPE_FIELD).expect("envelope");
    let envelope = events::Envelope::decode(raw.as_slice()).expect("an envelope");
    let waiting = MenuChanged::decode(envelope.payload.as_slice()).expect("a payload");
    assert_eq!(waiting.restaurant_id, 54);
    consumer.abort();
}

#[tokio::test]
async fn the_same_event_twice_in_one_read_has_one_effect() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.commit_event(41).await;
    let envelope: Vec<u8> = sqlx::query_scalar("SELECT envelope FROM outbox")
        .fetch_one(&bench.pool)
        .await
        .expect("row");
    bench.commit_event(42).await;
    // 41, 42, then 41 twice more.
    bench
        .relay()
        .await
        .publish_batch()
        .await
        .expect("published");
    let mut redis = bench.redis().await;
    for _ in 0..2 {
        let _: String = redis
            .xadd(
                &bench.stream,
                "*",
                &[(events::ENVELOPE_FIELD, envelope.as_slice())],
            )
            .await
            .expect("xadd");
    }

    let consumer = bench
        .consumer_with(bench.config_without_retries(), Effects { fail_with: None })
        .await;
    bench.wait_for_effects(2).await;
    let pending = bench.wait_until_nothing_pending().await;
    let effects = bench.effects().await;

    assert_eq!(effects, vec![41, 42]);
    assert_eq!(bench.processed().await, (2, 1), "one transaction");
    assert_eq!(pending, 0, "the duplicates were acknowledged too");
    consumer.abort();
}

/// [`Effects`] held at a gate: tells when the first event arrives, then
/// waits until the gate opens before applying it.
struct Gated {
    effects: Effects,
    arrived: Arc<tokio::sync::Notify>,
    gate: tokio::sync::watch::Receiver<bool>,
}

impl Handler for Gated {
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            self.arrived.notify_one();
            let mut gate = self.gate.clone();
            let _ = gate.wait_for(|open| *open).await;
            self.effects.handle(work, event).await
        })
    }
}

#[tokio::test]
async fn a_stopped_consumer_finishes_its_read_and_leaves_nothing_pending() {
    let bench = Bench::new(LOCAL_REDIS).await;
    bench.publish_events(1..=10).await;
    let (open, gate) = tokio::sync::watch::channel(false);
    let arrived = Arc::new(tokio::sync::Notify::new());
    let handler = Gated {
        effects: Effects { fail_with: None },
        arrived: arrived.clone(),
        gate,
    };
    // Nothing is retried or claimed while the test runs: whatever is
    // acknowledged was acknowledged by this consumer on its way out.
    let consumer = Consumer::new(
        bench.pool.clone(),
        bench.redis().await,
        bench.config_without_retries(),
        Arc::new(handler),
    );
    let stop = CancellationToken::new();
    let running = tokio::spawn(consumer.run(stop.clone()));
    tokio::time::timeout(Duration::from_secs(10), arrived.notified())
        .await
        .expect("the consumer reads the events");

    // The read is in hand: stop, then let the handler go on.
    stop.cancel();
    open.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the consumer stops")
        .expect("without a panic");

    let mut redis = bench.redis().await;
    let pending: redis::streams::StreamPendingReply = redis
        .xpending(&bench.stream, "test-group")
        .await
        .expect("pending");
    assert_eq!(
        pending.count(),
        0,
        "nothing left for another consumer to claim"
    );
    assert_eq!(bench.effects().await, (1..=10).collect::<Vec<i64>>());
    let consumers: redis::streams::StreamInfoConsumersReply = redis
        .xinfo_consumers(&bench.stream, "test-group")
        .await
        .expect("consumers");
    assert!(consumers.consumers.is_empty(), "it left its group");
}

#[tokio::test]
async fn a_stopped_relay_publishes_what_was_committed_before_it_stops() {
    let bench = Bench::new(LOCAL_REDIS).await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(bench.relay().await.run(stop.clone()));
    for id in 1..=5 {
        bench.commit_event(id).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("the relay stops")
        .expect("without a panic");

    assert_eq!(bench.stream_len(&bench.stream).await, 5);
}
