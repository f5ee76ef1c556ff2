//! The outbox relay: publishes committed outbox rows to Redis Streams, in
//! commit order per batch, and marks them published only after Redis
//! accepted them. A crash between the two publishes a row twice, never
//! zero times; consumers drop the duplicate by its event id. For the same
//! reason the mark need not wait for the disk (see
//! [`Relay::publish_batch`]).

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use redis::aio::ConnectionManager;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use super::ENVELOPE_FIELD;
use super::outbox::CHANNEL;

/// Rows published per round trip.
const BATCH: i64 = 256;
/// How often the relay looks even without a notification (a notification
/// can be missed while the listener reconnects).
const POLL: Duration = Duration::from_millis(1000);
/// How often published rows older than a day are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// How many published rows the relay remembers, to tell a wake-up it has
/// already answered: far more than go out between a commit and the
/// arrival of its notice.
const REMEMBERED: usize = 4096;

/// Why one publishing round failed; the relay retries after a pause.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Publishes one service's outbox.
pub struct Relay {
    pool: PgPool,
    redis: ConnectionManager,
    published: Published,
}

impl Relay {
    pub fn new(pool: PgPool, redis: ConnectionManager) -> Self {
        Self {
            pool,
            redis,
            published: Published::default(),
        }
    }

    /// Publishes until `stop` is cancelled. Stopping never cuts a batch:
    /// the relay stops while it waits, and first publishes what was
    /// committed up to then, so a clean stop leaves nothing for the next
    /// start but rows committed after it.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut listener: Option<PgListener> = None;
        let mut pruned = tokio::time::Instant::now();
        loop {
            if listener.is_none() {
                listener = self.listen().await;
            }
            // Told to stop before this drain began: it takes everything
            // committed until then, and is the last.
            let last = stop.is_cancelled();
            self.drain().await;
            if last {
                return;
            }
            if pruned.elapsed() > PRUNE_EVERY {
                pruned = tokio::time::Instant::now();
                self.prune().await;
            }
            let waited = match listener.as_mut() {
                Some(l) => stop.run_until_cancelled(self.await_news(l)).await,
                None => stop
                    .run_until_cancelled(tokio::time::sleep(POLL))
                    .await
                    .map(Ok),
            };
            if let Some(Err(e)) = waited {
                tracing::warn!(error = %e, "outbox listener lost; reconnecting");
                listener = None;
            }
        }
    }

    /// A listener for the relay's wake-ups, or `None` to poll instead.
    async fn listen(&self) -> Option<PgListener> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(|e| tracing::warn!(error = %e, "outbox listener unavailable; polling"))
            .ok()?;
        match listener.listen(CHANNEL).await {
            Ok(()) => Some(listener),
            Err(e) => {
                tracing::warn!(error = %e, "outbox listen failed; polling");
                None
            }
        }
    }

    /// Publishes everything committed so far, batch after batch; after a
    /// failure, pauses and leaves the rest to the next round.
    async fn drain(&mut self) {
        loop {
            match self.publish_batch().await {
                Ok(n) if n == BATCH as usize => continue,
                Ok(_) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "publishing the outbox failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    return;
                }
            }
        }
    }

    /// Waits until a wake-up names a row not yet published, or `POLL` has
    /// passed. Each notice is sent after its commit and names one of its
    /// transaction's rows: if that row went out, the look that took it saw
    /// the whole transaction, so the notice is answered. Under load most
    /// notices arrive after the rows they announce went out with an earlier
    /// batch; answering each with a look of its own would cost three round
    /// trips per event.
    async fn await_news(&self, listener: &mut PgListener) -> sqlx::Result<()> {
        let deadline = tokio::time::Instant::now() + POLL;
        loop {
            let Ok(notice) = tokio::time::timeout_at(deadline, listener.recv()).await else {
                return Ok(());
            };
            let mut news = !self.published.answers(notice?.payload());
            while let Some(notice) = listener.next_buffered() {
                news |= !self.published.answers(notice.payload());
            }
            if news {
                return Ok(());
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
        self.published.remember(&seqs);
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

/// The rows this relay published most recently, by sequence number.
#[derive(Debug, Default)]
struct Published {
    order: VecDeque<i64>,
    seqs: HashSet<i64>,
}

impl Published {
    fn remember(&mut self, seqs: &[i64]) {
        for &seq in seqs {
            if self.seqs.insert(seq) {
                self.order.push_back(seq);
            }
        }
        while self.order.len() > REMEMBERED {
            if let Some(oldest) = self.order.pop_front() {
                self.seqs.remove(&oldest);
            }
        }
    }

    /// Whether a wake-up with this payload names a row published already;
    /// one naming a row this relay does not remember (or no row) is news.
    fn answers(&self, payload: &str) -> bool {
        payload
            .parse::<i64>()
            .is_ok_and(|seq| self.seqs.contains(&seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wake_up_is_answered_only_by_a_row_still_remembered() {
        let mut published = Published::default();
        published.remember(&[1, 2, 3]);
        assert!(published.answers("2"));
        assert!(!published.answers("4"), "never published");
        assert!(!published.answers("orders"), "names no row");

        let last = 3 + i64::try_from(REMEMBERED).expect("fits");
        published.remember(&(4..=last).collect::<Vec<i64>>());
        assert!(!published.answers("1"), "forgotten: looked for again");
        assert!(published.answers(&last.to_string()));
        assert_eq!(published.seqs.len(), REMEMBERED);
        assert_eq!(published.order.len(), REMEMBERED);
    }
}
