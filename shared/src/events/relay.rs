//! The outbox relay: publishes committed outbox rows to Redis Streams, in
//! commit order per batch, and marks them published only after Redis
//! accepted them. A crash between the two publishes a row twice, never
//! zero times; consumers drop the duplicate by its event id. For the same
//! reason the mark need not wait for the disk (see
//! [`Relay::publish_batch`]).

use std::time::Duration;

use redis::aio::ConnectionManager;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::ENVELOPE_FIELD;
use super::outbox::CHANNEL;

/// Rows published per round trip.
const BATCH: i64 = 256;
/// How often the relay looks even without a notification (a notification
/// can be missed while the listener reconnects).
const POLL: Duration = Duration::from_millis(1000);

/// Why one publishing round failed; the relay retries after a pause.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Postgres failed.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// Redis failed.
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Publishes one service's outbox.
pub struct Relay {
    pool: PgPool,
    redis: ConnectionManager,
}

impl Relay {
    /// A relay for the outbox in `pool`, publishing through `redis`.
    pub fn new(pool: PgPool, redis: ConnectionManager) -> Self {
        Self { pool, redis }
    }

    /// Runs the relay until the task is aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(mut self) {
        let mut listener: Option<PgListener> = None;
        let mut pruned = tokio::time::Instant::now();
        loop {
            if listener.is_none() {
                listener = match PgListener::connect_with(&self.pool).await {
                    Ok(mut l) => match l.listen(CHANNEL).await {
                        Ok(()) => Some(l),
                        Err(e) => {
                            tracing::warn!(error = %e, "outbox listen failed; polling");
                            None
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox listener unavailable; polling");
                        None
                    }
                };
            }
            // Drain everything committed so far before waiting again.
            loop {
                match self.publish_batch().await {
                    Ok(n) if n == BATCH as usize => continue,
                    Ok(_) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "publishing the outbox failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        break;
                    }
                }
            }
            if pruned.elapsed() > Duration::from_secs(600) {
                pruned = tokio::time::Instant::now();
                self.prune().await;
            }
            match listener.as_mut() {
                Some(l) => match tokio::time::timeout(POLL, l.recv()).await {
                    Ok(Ok(_)) => {
                        // The wake-ups already here are for commits made
                        // before the next look, which sees them all: one
                        // look answers them, not one each.
                        while l.next_buffered().is_some() {}
                    }
                    Err(_) => {}
                    Ok(Err(e)) => {
                        tracing::warn!(error = %e, "outbox listener lost; reconnecting");
                        listener = None;
                    }
                },
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// Publishes up to `BATCH` unpublished rows; returns how many.
    ///
    /// The transaction that marks them published does not wait for its
    /// commit record to reach disk (`synchronous_commit` off): what a crash
    /// can lose is only the mark, never a row — each row was committed,
    /// durably, by the change that wrote it — and a lost mark makes the
    /// relay publish those rows again, which consumers drop by event id,
    /// exactly as after a crash between the `XADD` and the mark. Nor can a
    /// mark be lost behind a later durable commit (the prune of published
    /// rows, say): that commit flushes the log up to itself, the mark
    /// included.
    ///
    /// # Errors
    /// Postgres or Redis failed; nothing was marked published.
    pub async fn publish_batch(&mut self) -> Result<usize, RelayError> {
        // Sent with the `BEGIN`, in the same round trip.
        let mut tx = self
            .pool
            .begin_with("BEGIN; SET LOCAL synchronous_commit = off")
            .await?;
        let rows: Vec<(i64, String, Vec<u8>, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
            "SELECT seq, stream, envelope, created_at FROM outbox \
             WHERE published_at IS NULL ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let mut pipe = redis::pipe();
        for (_, stream, envelope, _) in &rows {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg(ENVELOPE_FIELD)
                .arg(envelope.as_slice());
        }
        let _: Vec<String> = pipe.query_async(&mut self.redis).await?;
        let seqs: Vec<i64> = rows.iter().map(|r| r.0).collect();
        sqlx::query("UPDATE outbox SET published_at = now() WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let now = chrono::Utc::now();
        for (_, stream, _, created) in &rows {
            metrics::counter!("events_published_total", "stream" => stream.clone()).increment(1);
            let lag = (now - *created).to_std().unwrap_or_default();
            metrics::histogram!("event_publish_lag_seconds", "stream" => stream.clone())
                .record(lag.as_secs_f64());
        }
        Ok(rows.len())
    }

    /// Published rows are kept a day for inspection, then removed.
    async fn prune(&self) {
        let pruned =
            sqlx::query("DELETE FROM outbox WHERE published_at < now() - interval '1 day'")
                .execute(&self.pool)
                .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "pruning the outbox failed");
        }
    }
}
