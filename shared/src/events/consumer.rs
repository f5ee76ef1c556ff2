//! Applying events: a consumer group per consuming service, one consumer
//! per process. Each event is applied in the consumer's own transaction
//! together with the record of its id, and acknowledged only after that
//! commit, so a crash at any point means redelivery, and a redelivery means
//! no second effect.
//!
//! The events one read returns are applied together: up to
//! [`ConsumerConfig::max_per_transaction`] of them in one transaction with
//! one commit, then acknowledged with one `XACK`. Under load the round trips
//! and the commit's flush of applying each event alone, not the work, set
//! the pace. If any of them fails, or the commit does, the whole group is
//! rolled back and applied again one event at a time, so each event meets
//! the fate it would have met alone — applied, retried, dead-lettered — and
//! is counted once. A handler's effects outside the database therefore wait
//! for the commit: see [`Work::on_commit`].
//!
//! A failed event stays pending and is retried with exponential backoff,
//! by this process or — if it crashed — by another one that claims it. After
//! [`ConsumerConfig::max_attempts`] deliveries (or at once, for an event that
//! cannot even be decoded) it moves to the dead-letter stream, with a metric
//! and a log line, and the stream flows on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use prost::Message;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamReadOptions, StreamReadReply};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{ENVELOPE_FIELD, Envelope, Event, dead_letter_stream};
use crate::work::Work;

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
    /// Applies `event` as part of `work`, which also records the event as
    /// processed. The work may apply other events of the same read before
    /// and after this one, and it may roll back because of one of them and
    /// run this handler again alone: what is done outside the database
    /// belongs in [`Work::on_commit`]. Its `now()` is the time the
    /// transaction began, not the time this event is handled.
    ///
    /// # Errors
    /// [`HandlerError::Retry`] to try again later, [`HandlerError::Reject`]
    /// to dead-letter the event.
    fn handle<'a>(
        &'a self,
        work: &'a mut Work<'_>,
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
    /// Most events applied in one transaction. More means fewer commits and
    /// round trips, but the transaction holds every lock its events take
    /// until the last of them is done, and one failing event sends all of
    /// them through again one by one. 1 applies every event alone.
    pub max_per_transaction: usize,
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
            max_per_transaction: 64,
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

    /// Applies events until `stop` is cancelled, then finishes the read in
    /// hand — applied and acknowledged — and stops. A read is never cut
    /// short: Redis counts an entry as this consumer's the moment it
    /// delivers it, so a read abandoned halfway would leave entries pending
    /// on a consumer that is gone until another one claims them. Leaving,
    /// the consumer removes itself from its group if it holds nothing, so
    /// the group lists only consumers that may still come back.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            match stop.run_until_cancelled(self.ensure_groups()).await {
                None => return,
                Some(Ok(())) => break,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "cannot create consumer groups; retrying");
                    let _ = stop
                        .run_until_cancelled(tokio::time::sleep(Duration::from_secs(1)))
                        .await;
                }
            }
        }
        let mut last_retry_scan = tokio::time::Instant::now();
        while !stop.is_cancelled() {
            if last_retry_scan.elapsed() >= self.config.retry_base {
                last_retry_scan = tokio::time::Instant::now();
                if let Err(e) = self.retry_pending().await {
                    tracing::warn!(error = %e, "scanning pending events failed");
                }
            }
            match self.read_new().await {
                Ok(entries) => self.process_read(entries).await,
                Err(e) => {
                    tracing::warn!(error = %e, "reading events failed; retrying");
                    let pause = tokio::time::sleep(Duration::from_millis(500));
                    let _ = stop.run_until_cancelled(pause).await;
                    // A restarted Redis may have lost nothing but forgotten
                    // nothing either; the groups exist or are made again.
                    let _ = self.ensure_groups().await;
                }
            }
        }
        self.leave().await;
    }

    /// Removes this consumer from its groups where it holds no entry; one
    /// that still holds entries (failed, waiting for their retry) stays,
    /// so another consumer can claim them.
    async fn leave(&mut self) {
        for stream in self.config.streams.clone() {
            let held: redis::RedisResult<redis::streams::StreamPendingCountReply> =
                redis::cmd("XPENDING")
                    .arg(&stream)
                    .arg(&self.config.group)
                    .arg("-")
                    .arg("+")
                    .arg(1)
                    .arg(&self.config.consumer)
                    .query_async(&mut self.redis)
                    .await;
            match held {
                Ok(held) if held.ids.is_empty() => {
                    let left: redis::RedisResult<i64> = redis::cmd("XGROUP")
                        .arg("DELCONSUMER")
                        .arg(&stream)
                        .arg(&self.config.group)
                        .arg(&self.config.consumer)
                        .query_async(&mut self.redis)
                        .await;
                    if let Err(e) = left {
                        tracing::warn!(error = %e, stream, "leaving the consumer group failed");
                    }
                }
                Ok(held) => tracing::info!(
                    stream,
                    pending = held.ids.len(),
                    "stopping with events still to retry; another consumer will claim them"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, stream, "cannot tell what this consumer holds")
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
                        // Alone: a read of one.
                        self.process_read(vec![(stream.clone(), entry)]).await;
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies what one read returned (or one entry claimed from a crashed
    /// consumer): the handled events together (see the module's doc),
    /// falling back to one at a time; the rest are acknowledged in the
    /// same `XACK`.
    async fn process_read(&mut self, entries: Vec<(String, StreamId)>) {
        let mut acks: Vec<(String, String)> = Vec::new();
        let mut handled = Vec::with_capacity(entries.len());
        for (stream, entry) in entries {
            let Some(incoming) = self.receive(stream, entry).await else {
                continue;
            };
            if self.handler.handles(&incoming.event.envelope.r#type) {
                handled.push(incoming);
            } else {
                count(&incoming.event.stream, &self.config.group, "ignored");
                acks.push((incoming.event.stream, incoming.event.entry_id));
            }
        }
        for group in handled.chunks(self.config.max_per_transaction.max(1)) {
            if group.len() > 1 && self.apply_together(group).await {
                acks.extend(
                    group
                        .iter()
                        .map(|i| (i.event.stream.clone(), i.event.entry_id.clone())),
                );
            } else {
                for incoming in group {
                    self.apply_alone(incoming).await;
                }
            }
        }
        self.ack_all(&acks).await;
    }

    /// Decodes an entry — dead-lettering one that cannot be — and records
    /// how long its event took to arrive.
    async fn receive(&mut self, stream: String, entry: StreamId) -> Option<Incoming> {
        let envelope = match decode(&entry) {
            Ok(envelope) => envelope,
            Err(reason) => {
                self.dead_letter(&stream, &entry, &reason).await;
                return None;
            }
        };
        if let Some(at) = &envelope.occurred_at {
            let now = std::time::SystemTime::now();
            let then = std::time::SystemTime::try_from(*at).unwrap_or(now);
            let lag = now.duration_since(then).unwrap_or_default();
            metrics::histogram!(
                "event_delivery_lag_seconds",
                "stream" => stream.clone(),
                "group" => self.config.group.clone()
            )
            .record(lag.as_secs_f64());
        }
        let event = Event {
            stream,
            entry_id: entry.id.clone(),
            envelope,
        };
        Some(Incoming { entry, event })
    }

    /// The span an event is applied in, a child of the publisher's trace.
    fn span(&self, event: &Event) -> tracing::Span {
        let envelope = &event.envelope;
        let span = tracing::info_span!(
            "event.consume",
            otel.name = %format_args!("consume {}", envelope.r#type),
            otel.kind = "consumer",
            event_id = %envelope.id,
            event_type = %envelope.r#type,
            aggregate_id = %envelope.aggregate_id,
            group = %self.config.group,
            request_id = %envelope.request_id,
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
        span
    }

    /// Applies one event in a transaction of its own; acknowledges it on
    /// success, on a duplicate and after dead-lettering; leaves it pending
    /// for a retry otherwise.
    async fn apply_alone(&mut self, incoming: &Incoming) {
        let span = self.span(&incoming.event);
        let stream = incoming.event.stream.as_str();
        let entry = &incoming.entry;
        // Instrumented, never entered: a guard held across an await would
        // leave the span current on a worker thread other tasks run on.
        async {
            let applied = self
                .apply_group(std::slice::from_ref(incoming), std::slice::from_ref(&span))
                .await;
            match applied.map(|first| first.first().copied().unwrap_or(false)) {
                Ok(first) => {
                    self.ack(stream, &entry.id).await;
                    count(
                        stream,
                        &self.config.group,
                        if first { "processed" } else { "duplicate" },
                    );
                }
                Err(HandlerError::Reject(reason)) => {
                    self.dead_letter(stream, entry, &reason).await;
                }
                Err(HandlerError::Retry(e)) => {
                    tracing::warn!(error = format!("{e:#}"), "event failed; will retry");
                    count(stream, &self.config.group, "retry");
                }
            }
        }
        .instrument(span.clone())
        .await;
    }

    /// Applies `group` in one transaction, its notices after the commit;
    /// counts each event and returns true. Returns false, having changed
    /// nothing, if any event or the commit failed: the caller applies them
    /// one by one, which retries or dead-letters the one at fault.
    async fn apply_together(&mut self, group: &[Incoming]) -> bool {
        let spans: Vec<tracing::Span> = group.iter().map(|i| self.span(&i.event)).collect();
        match self.apply_group(group, &spans).await {
            Ok(first) => {
                for (incoming, first) in group.iter().zip(first) {
                    count(
                        &incoming.event.stream,
                        &self.config.group,
                        if first { "processed" } else { "duplicate" },
                    );
                }
                true
            }
            Err(e) => {
                tracing::info!(
                    error = %e,
                    events = group.len(),
                    "applying events together failed; applying them one by one"
                );
                false
            }
        }
    }

    /// Applies `group` (each event's handler in its span of `spans`) in one
    /// unit of work: records the ids, runs the handler on each new one in
    /// order, commits, and announces what the handlers asked for. Returns,
    /// per event, whether it was new.
    async fn apply_group(
        &self,
        group: &[Incoming],
        spans: &[tracing::Span],
    ) -> Result<Vec<bool>, HandlerError> {
        let ids = group
            .iter()
            .map(|i| event_id(&i.event))
            .collect::<Result<Vec<_>, _>>()?;
        let mut conn = self.pool.acquire().await?;
        let mut work = Work::begin(&mut conn).await?;
        match self.apply_within(&mut work, group, spans, &ids).await {
            Ok(first) => {
                work.commit().await?.announce(&mut conn).await;
                Ok(first)
            }
            Err(e) => {
                // Now, not when the connection goes back to the pool: the
                // one-by-one attempts that follow take the same locks.
                let _ = work.rollback().await;
                Err(e)
            }
        }
    }

    /// The body of [`Self::apply_group`]'s work.
    async fn apply_within(
        &self,
        work: &mut Work<'_>,
        group: &[Incoming],
        spans: &[tracing::Span],
        ids: &[uuid::Uuid],
    ) -> Result<Vec<bool>, HandlerError> {
        // Every id in one statement; the ids it inserted are the new events.
        let recorded: Vec<uuid::Uuid> = sqlx::query_scalar(
            "INSERT INTO processed_events (consumer, event_id) \
             SELECT $1, id FROM unnest($2::uuid[]) AS id \
             ON CONFLICT DO NOTHING RETURNING event_id",
        )
        .bind(&self.config.group)
        .bind(ids)
        .fetch_all(work.conn())
        .await?;
        let mut new: HashSet<uuid::Uuid> = recorded.into_iter().collect();
        let mut first = Vec::with_capacity(group.len());
        for ((incoming, span), id) in group.iter().zip(spans).zip(ids) {
            // Of two entries with one id, the earlier is applied and the
            // later is a duplicate, as if they had come one by one.
            let fresh = new.remove(id);
            if fresh {
                let handled = self
                    .handler
                    .handle(work, &incoming.event)
                    .instrument(span.clone());
                // What the handler publishes or calls carries the request
                // id the event came with.
                crate::grpc::REQUEST_ID
                    .scope(incoming.event.envelope.request_id.clone(), handled)
                    .await?;
            }
            first.push(fresh);
        }
        Ok(first)
    }

    /// Acknowledges `acks` (stream, entry id): one `XACK` per stream, all
    /// in one round trip.
    async fn ack_all(&mut self, acks: &[(String, String)]) {
        if acks.is_empty() {
            return;
        }
        let mut by_stream: Vec<(&str, Vec<&str>)> = Vec::new();
        for (stream, id) in acks {
            match by_stream.iter_mut().find(|(s, _)| s == stream) {
                Some((_, ids)) => ids.push(id),
                None => by_stream.push((stream, vec![id])),
            }
        }
        let mut pipe = redis::pipe();
        for (stream, ids) in &by_stream {
            pipe.cmd("XACK")
                .arg(*stream)
                .arg(&self.config.group)
                .arg(ids);
        }
        let acked: redis::RedisResult<Vec<i64>> = pipe.query_async(&mut self.redis).await;
        if let Err(e) = acked {
            // Harmless: the entries are redelivered and found processed.
            tracing::warn!(error = %e, entries = acks.len(), "ack failed");
        }
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

/// An entry read and decoded, waiting to be applied.
struct Incoming {
    /// The entry as read, for the dead-letter stream.
    entry: StreamId,
    event: Event,
}

fn event_id(event: &Event) -> Result<uuid::Uuid, HandlerError> {
    uuid::Uuid::parse_str(&event.envelope.id)
        .map_err(|_| HandlerError::Reject(format!("bad event id `{}`", event.envelope.id)))
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
        work: &'a mut Work<'_>,
        event: &'a Event,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        match self.routes.get(&event.envelope.r#type) {
            Some(handler) => handler.handle(work, event),
            // Not ours: no effect (the consumer asks `handles` first).
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn handles(&self, event_type: &str) -> bool {
        self.routes.contains_key(event_type)
    }
}
