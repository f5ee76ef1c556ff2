//! Applying events: a consumer group per consuming service, one consumer
//! per process. Each event is applied in the consumer's own transaction
//! together with the record of its id, and acknowledged only after that
//! commit, so a crash at any point means redelivery, and a redelivery means
//! no second effect.
//!
//! A failed event stays pending and is retried with exponential backoff,
//! by this process or — if it crashed — by another one that claims it. After
//! [`ConsumerConfig::max_attempts`] deliveries (or at once, for an event that
//! cannot even be decoded) it moves to the dead-letter stream, with a metric
//! and a log line, and the stream flows on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prost::Message;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use sqlx::{PgConnection, PgPool};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::{ENVELOPE_FIELD, Envelope, Event, dead_letter_stream};

/// How a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Might succeed later (a peer is down, a lock timed out): retry.
    #[error("transient: {0:#}")]
    Retry(anyhow::Error),
    /// Will never succeed (the payload makes no sense): dead-letter now.
    #[error("rejected: {0}")]
    Reject(String),
}

impl From<sqlx::Error> for HandlerError {
    fn from(e: sqlx::Error) -> Self {
        HandlerError::Retry(e.into())
    }
}

/// What a consuming service does with one event, inside the transaction
/// that also records the event as processed.
pub trait Handler: Send + Sync + 'static {
    /// Applies `event`. Writing through `tx` makes the effect atomic with
    /// the processed-id record.
    ///
    /// # Errors
    /// [`HandlerError::Retry`] to try again later, [`HandlerError::Reject`]
    /// to dead-letter the event.
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>>;

    /// Whether events of `event_type` have any effect here. Those that do
    /// not are acknowledged without a transaction: there is nothing to
    /// make atomic and nothing a redelivery could repeat.
    fn handles(&self, event_type: &str) -> bool {
        let _ = event_type;
        true
    }
}

/// Tuning for one consumer.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The consumer group: the consuming service's name.
    pub group: String,
    /// This process within the group.
    pub consumer: String,
    /// The streams to read.
    pub streams: Vec<String>,
    /// Deliveries before an event is dead-lettered.
    pub max_attempts: usize,
    /// First retry delay; doubles with each further attempt.
    pub retry_base: Duration,
    /// An entry pending this long on a silent consumer is taken over.
    pub claim_after: Duration,
    /// How long one read blocks waiting for new entries.
    pub block: Duration,
    /// Entries read per call.
    pub batch: usize,
}

impl ConsumerConfig {
    /// Defaults that suit the mesh: five attempts from 200 ms, takeover of
    /// a crashed consumer's entries after 15 s.
    pub fn new(group: &str, streams: Vec<String>) -> Self {
        Self {
            group: group.to_owned(),
            consumer: format!("{group}-{}", uuid::Uuid::new_v4().simple()),
            streams,
            max_attempts: 5,
            retry_base: Duration::from_millis(200),
            claim_after: Duration::from_secs(15),
            block: Duration::from_millis(1000),
            batch: 64,
        }
    }
}

/// One consumer process of a group.
pub struct Consumer {
    pool: PgPool,
    redis: ConnectionManager,
    config: ConsumerConfig,
    handler: Arc<dyn Handler>,
}

impl Consumer {
    /// A consumer applying events with `handler` in transactions on `pool`.
    /// `redis` must be a connection of its own: reads block on it.
    pub fn new(
        pool: PgPool,
        redis: ConnectionManager,
        config: ConsumerConfig,
        handler: Arc<dyn Handler>,
    ) -> Self {
        Self {
            pool,
            redis,
            config,
            handler,
        }
    }

    /// A dedicated Redis connection whose timeout outlasts a blocking read.
    ///
    /// # Errors
    /// Redis is unreachable or the URL is malformed.
    pub async fn connect_redis(url: &str) -> redis::RedisResult<ConnectionManager> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(10)))
            .set_connection_timeout(Some(Duration::from_secs(2)));
        redis::Client::open(url)?
            .get_connection_manager_with_config(config)
            .await
    }

    /// Creates the group on every stream (from the stream's beginning, so no
    /// event published before the first start is skipped).
    ///
    /// # Errors
    /// Redis refuses for a reason other than "the group exists".
    pub async fn ensure_groups(&mut self) -> redis::RedisResult<()> {
        for stream in &self.config.streams {
            let created: redis::RedisResult<()> = self
                .redis
                .xgroup_create_mkstream(stream, &self.config.group, "0")
                .await;
            match created {
                Ok(()) => {}
                Err(e) if e.code() == Some("BUSYGROUP") => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Runs until the task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        while let Err(e) = self.ensure_groups().await {
            tracing::warn!(error = %e, "cannot create consumer groups; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let mut last_retry_scan = tokio::time::Instant::now();
        loop {
            if last_retry_scan.elapsed() >= self.config.retry_base {
                last_retry_scan = tokio::time::Instant::now();
                if let Err(e) = self.retry_pending().await {
                    tracing::warn!(error = %e, "scanning pending events failed");
                }
            }
            match self.read_new().await {
                Ok(entries) => {
                    for (stream, entry) in entries {
                        self.process(&stream, entry).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading events failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    // A restarted Redis may have lost nothing but forgotten
                    // nothing either; the groups exist or are made again.
                    let _ = self.ensure_groups().await;
                }
            }
        }
    }

    async fn read_new(&mut self) -> redis::RedisResult<Vec<(String, StreamId)>> {
        let options = StreamReadOptions::default()
            .group(&self.config.group, &self.config.consumer)
            .count(self.config.batch)
            .block(usize::try_from(self.config.block.as_millis()).unwrap_or(1000));
        let ids: Vec<&str> = self.config.streams.iter().map(|_| ">").collect();
        let reply: Option<StreamReadReply> = self
            .redis
            .xread_options(&self.config.streams, &ids, &options)
            .await?;
        Ok(reply
            .map(|r| {
                r.keys
                    .into_iter()
                    .flat_map(|k| {
                        let stream = k.key;
                        k.ids.into_iter().map(move |id| (stream.clone(), id))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Retries this group's pending entries whose backoff has passed —
    /// including those a crashed consumer left — and dead-letters the ones
    /// out of attempts.
    async fn retry_pending(&mut self) -> redis::RedisResult<()> {
        for stream in self.config.streams.clone() {
            let pending: redis::streams::StreamPendingCountReply = self
                .redis
                .xpending_count(&stream, &self.config.group, "-", "+", self.config.batch)
                .await?;
            metrics::gauge!(
                "events_pending",
                "stream" => stream.clone(),
                "group" => self.config.group.clone()
            )
            .set(pending.ids.len() as f64);
            for p in pending.ids {
                let mine = p.consumer == self.config.consumer;
                let wait = if mine {
                    backoff(self.config.retry_base, p.times_delivered)
                } else {
                    self.config.claim_after
                };
                let idle = Duration::from_millis(p.last_delivered_ms as u64);
                if idle < wait {
                    continue;
                }
                let min_idle = usize::try_from(wait.as_millis()).unwrap_or(usize::MAX);
                let claimed: redis::streams::StreamClaimReply = self
                    .redis
                    .xclaim(
                        &stream,
                        &self.config.group,
                        &self.config.consumer,
                        min_idle,
                        &[&p.id],
                    )
                    .await?;
                for entry in claimed.ids {
                    if p.times_delivered >= self.config.max_attempts {
                        let reason = format!("failed {} deliveries", p.times_delivered);
                        self.dead_letter(&stream, &entry, &reason).await;
                    } else {
                        self.process(&stream, entry).await;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies one entry; acknowledges it on success, on a duplicate and
    /// after dead-lettering; leaves it pending for a retry otherwise.
    async fn process(&mut self, stream: &str, entry: StreamId) {
        let envelope = match decode(&entry) {
            Ok(envelope) => envelope,
            Err(reason) => {
                self.dead_letter(stream, &entry, &reason).await;
                return;
            }
        };
        let span = tracing::info_span!(
            "event.consume",
            otel.name = %format_args!("consume {}", envelope.r#type),
            otel.kind = "consumer",
            event_id = %envelope.id,
            event_type = %envelope.r#type,
            aggregate_id = %envelope.aggregate_id,
            group = %self.config.group,
            trace_id = tracing::field::Empty,
        );
        let mut headers = http::HeaderMap::new();
        for (k, v) in &envelope.trace_context {
            if let (Ok(k), Ok(v)) = (
                http::HeaderName::from_bytes(k.as_bytes()),
                http::HeaderValue::from_str(v),
            ) {
                headers.insert(k, v);
            }
        }
        crate::telemetry::adopt_remote_parent(&span, &headers);
        if let Some(at) = &envelope.occurred_at {
            let now = std::time::SystemTime::now();
            let then = std::time::SystemTime::try_from(*at).unwrap_or(now);
            let lag = now.duration_since(then).unwrap_or_default();
            metrics::histogram!(
                "event_delivery_lag_seconds",
                "stream" => stream.to_owned(),
                "group" => self.config.group.clone()
            )
            .record(lag.as_secs_f64());
        }
        let event = Event {
            stream: stream.to_owned(),
            entry_id: entry.id.clone(),
            envelope,
        };
        if !self.handler.handles(&event.envelope.r#type) {
            self.ack(stream, &entry.id).await;
            count(stream, &self.config.group, "ignored");
            return;
        }
        // Instrumented, never entered: a guard held across an await would
        // leave the span current on a worker thread other tasks run on.
        async {
            // The handler's notices (its events' wake-up, its watchers')
            // go out after its commit: see `crate::notices`.
            match crate::notices::after_commit(&self.pool, self.apply(&event)).await {
                Ok(first) => {
                    self.ack(stream, &entry.id).await;
                    count(
                        stream,
                        &self.config.group,
                        if first { "processed" } else { "duplicate" },
                    );
                }
                Err(HandlerError::Reject(reason)) => {
                    self.dead_letter(stream, &entry, &reason).await;
                }
                Err(HandlerError::Retry(e)) => {
                    tracing::warn!(error = format!("{e:#}"), "event failed; will retry");
                    count(stream, &self.config.group, "retry");
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// Runs the handler in a transaction that also records the event id.
    /// `Ok(false)` means the event had been applied before.
    async fn apply(&self, event: &Event) -> Result<bool, HandlerError> {
        let event_id = uuid::Uuid::parse_str(&event.envelope.id)
            .map_err(|_| HandlerError::Reject(format!("bad event id `{}`", event.envelope.id)))?;
        let mut tx = self.pool.begin().await?;
        let fresh = sqlx::query(
            "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&self.config.group)
        .bind(event_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            tx.rollback().await?;
            return Ok(false);
        }
        self.handler.handle(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn ack(&mut self, stream: &str, id: &str) {
        let acked: redis::RedisResult<i64> =
            self.redis.xack(stream, &self.config.group, &[id]).await;
        if let Err(e) = acked {
            // Harmless: the entry is redelivered and found processed.
            tracing::warn!(error = %e, stream, id, "ack failed");
        }
    }

    async fn dead_letter(&mut self, stream: &str, entry: &StreamId, reason: &str) {
        let envelope: Vec<u8> = entry
            .map
            .get(ENVELOPE_FIELD)
            .and_then(|v| redis::from_redis_value_ref::<Vec<u8>>(v).ok())
            .unwrap_or_default();
        let dead = dead_letter_stream(stream);
        let moved: redis::RedisResult<String> = self
            .redis
            .xadd(
                &dead,
                "*",
                &[
                    (ENVELOPE_FIELD, envelope.as_slice()),
                    ("reason", reason.as_bytes()),
                    ("group", self.config.group.as_bytes()),
                    ("entry_id", entry.id.as_bytes()),
                ],
            )
            .await;
        match moved {
            Ok(_) => {
                tracing::error!(stream, entry_id = %entry.id, group = %self.config.group, reason, "event dead-lettered");
                self.ack(stream, &entry.id).await;
                count(stream, &self.config.group, "dead_lettered");
                metrics::counter!(
                    "events_dead_lettered_total",
                    "stream" => stream.to_owned(),
                    "group" => self.config.group.clone()
                )
                .increment(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "dead-lettering failed; the event stays pending");
            }
        }
    }
}

fn decode(entry: &StreamId) -> Result<Envelope, String> {
    let raw: Vec<u8> = entry
        .map
        .get(ENVELOPE_FIELD)
        .ok_or_else(|| format!("entry has no `{ENVELOPE_FIELD}` field"))
        .and_then(|v| {
            redis::from_redis_value_ref::<Vec<u8>>(v).map_err(|e| format!("unreadable field: {e}"))
        })?;
    Envelope::decode(raw.as_slice()).map_err(|e| format!("undecodable envelope: {e}"))
}

fn backoff(base: Duration, delivered: usize) -> Duration {
    let exponent = u32::try_from(delivered.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(10);
    base.saturating_mul(2_u32.pow(exponent))
}

fn count(stream: &str, group: &str, outcome: &'static str) {
    metrics::counter!(
        "events_consumed_total",
        "stream" => stream.to_owned(),
        "group" => group.to_owned(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Groups several handlers by event type, for a service that reacts to
/// many kinds of event with one consumer.
#[derive(Default)]
pub struct Router {
    routes: HashMap<String, Arc<dyn Handler>>,
}

impl Router {
    /// An empty router: every event type is ignored until routed.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sends events of `event_type` to `handler`.
    #[must_use]
    pub fn route(mut self, event_type: &str, handler: Arc<dyn Handler>) -> Self {
        self.routes.insert(event_type.to_owned(), handler);
        self
    }
}

impl Handler for Router {
    fn handle<'a>(
        &'a self,
        tx: &'a mut PgConnection,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        match self.routes.get(&event.envelope.r#type) {
            Some(handler) => handler.handle(tx, event),
            // Not ours: no effect (the consumer asks `handles` first).
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn handles(&self, event_type: &str) -> bool {
        self.routes.contains_key(event_type)
    }
}
