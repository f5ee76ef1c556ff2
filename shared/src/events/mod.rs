//! Domain events that are never lost: written to an outbox in the same
//! transaction as the change ([`outbox::enqueue`]), published to Redis
//! Streams by a [`relay::Relay`] woken on commit, and applied by
//! [`consumer::Consumer`]s in consumer groups exactly once per consumer
//! (processed ids recorded in the consumer's own transaction).
//!
//! Every event travels as one stream entry with a single field, `envelope`:
//! the protobuf [`Envelope`] with id, type, aggregate id, time, trace context
//! and the payload message. A service publishes to its own stream,
//! `<prefix>:<service>`; a consuming service reads in a group named after
//! itself.
//!
//! Delivery is at least once, effect exactly once: the relay may publish a
//! row twice (it marks rows after Redis accepted them), a consumer may be
//! given an entry twice (it acknowledges after its commit), and the
//! consumer's record of processed ids turns every repeat into a no-op.
//!
//! Redis must keep what it accepted: it runs with `appendonly yes` and
//! `appendfsync always` wherever it carries events, so an `XADD` is
//! answered only once it is on disk and an event the relay saw accepted
//! survives a Redis crash or restart. The cost is one fsync per Redis
//! event-loop turn (pipelined `XADD`s share it), far below the databases'
//! own commit rate; `everysec` would risk the last second of events whose
//! outbox rows are already marked published.

pub mod consumer;
pub mod outbox;
pub mod relay;

use std::borrow::Cow;

pub use foodmesh_proto::events::v1::Envelope;
use sqlx::migrate::Migrator;

use crate::ServiceName;

/// The event tables (outbox, processed ids), merged into every service's
/// own migrations by [`crate::db::connect`]. Their versions start at 10000
/// so they never collide with a service's.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The stream field that holds the encoded envelope.
pub const ENVELOPE_FIELD: &str = "envelope";

/// Where a service's events go: `<prefix>:<service>`. The prefix is
/// `foodmesh` in a deployment and unique per test, so tests sharing one
/// Redis never see each other's events.
pub fn stream(prefix: &str, service: ServiceName) -> String {
    format!("{prefix}:{}", service.short())
}

/// The stream an event goes to after failing for good.
pub fn dead_letter_stream(stream: &str) -> String {
    format!("{stream}:dead")
}

/// Combines the event tables with a service's own migrations.
pub fn with_event_tables(service: &Migrator) -> Migrator {
    let mut all: Vec<_> = MIGRATOR.iter().cloned().collect();
    all.extend(
        service
            .iter()
            .filter(|m| !MIGRATOR.iter().any(|e| e.version == m.version))
            .cloned(),
    );
    let mut migrator = Migrator::with_migrations(all);
    migrator.locking = service.locking;
    migrator.table_name = Cow::Borrowed("_sqlx_migrations");
    migrator
}

/// A received event: the envelope and where it came from.
#[derive(Debug, Clone)]
pub struct Event {
    pub stream: String,
    /// The Redis entry id.
    pub entry_id: String,
    pub envelope: Envelope,
}

impl Event {
    /// Decodes the payload as `M`.
    ///
    /// # Errors
    /// The payload is not a valid `M`.
    pub fn payload<M: prost::Message + Default>(&self) -> Result<M, prost::DecodeError> {
        M::decode(self.envelope.payload.as_slice())
    }
}

/// A service's view of the bus: its own stream, its relay, its consumers,
/// all named from its configuration.
#[derive(Debug, Clone)]
pub struct EventBus {
    service: ServiceName,
    prefix: String,
    redis_url: String,
}

impl EventBus {
    pub fn new(config: &crate::ServiceConfig) -> Self {
        Self {
            service: config.service,
            prefix: config.event_prefix.clone(),
            redis_url: config.redis_url.clone(),
        }
    }

    pub fn own_stream(&self) -> String {
        stream(&self.prefix, self.service)
    }

    pub fn stream_of(&self, service: ServiceName) -> String {
        stream(&self.prefix, service)
    }

    /// A relay for this service's outbox.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn relay(&self, pool: sqlx::PgPool) -> redis::RedisResult<relay::Relay> {
        let redis = redis::Client::open(self.redis_url.as_str())?
            .get_connection_manager()
            .await?;
        Ok(relay::Relay::new(pool, redis))
    }

    /// A consumer in this service's group reading what `from` publish.
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn consumer(
        &self,
        pool: sqlx::PgPool,
        from: &[ServiceName],
        handler: std::sync::Arc<dyn consumer::Handler>,
    ) -> redis::RedisResult<consumer::Consumer> {
        self.consumer_with(pool, from, handler, |_| {}).await
    }

    /// [`EventBus::consumer`], its configuration adjusted by `tune` (a
    /// service whose handlers lock rows of two kinds applies events one
    /// per transaction, say).
    ///
    /// # Errors
    /// Redis is unreachable.
    pub async fn consumer_with(
        &self,
        pool: sqlx::PgPool,
        from: &[ServiceName],
        handler: std::sync::Arc<dyn consumer::Handler>,
        tune: impl FnOnce(&mut consumer::ConsumerConfig),
    ) -> redis::RedisResult<consumer::Consumer> {
        let redis = consumer::Consumer::connect_redis(&self.redis_url).await?;
        let mut config = consumer::ConsumerConfig::new(
            self.service.service_id(),
            from.iter().map(|s| self.stream_of(*s)).collect(),
        );
        tune(&mut config);
        Ok(consumer::Consumer::new(pool, redis, config, handler))
    }
}
