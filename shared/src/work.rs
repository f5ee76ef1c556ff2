//! A unit of work: one transaction, the notices that announce it, and what
//! is done outside the database once it has committed — passed explicitly
//! to everything that takes part, so a call site shows all of it.
//!
//! ```ignore
//! let mut conn = pool.acquire().await?;
//! let mut work = Work::begin(&mut conn).await?;
//! store::write(work.conn(), &change).await?;
//! outbox::enqueue(&mut work, &stream, "thing.changed", &id, &payload).await?;
//! work.notify("thing_changes", id.to_string());
//! work.on_commit(|| metrics::counter!("things_changed_total").increment(1));
//! work.commit().await?.announce(&mut conn).await;
//! ```
//!
//! **Notices after the commit.** A transaction that notifies takes a
//! cluster-wide lock when it commits and holds it until its commit record
//! is flushed to disk, so notifying transactions commit one after another,
//! each waiting out its own `fsync`, and group commit cannot help them. On
//! the hot paths (placing an order, queueing its ticket) that lock, not the
//! work, would set the pace. So [`Work::notify`] only remembers a notice;
//! [`Committed::announce`] sends them all in one statement of their own
//! with `synchronous_commit` off, on the connection the work committed on
//! (another checkout from the pool would cost a round trip), and that
//! transaction holds the lock for microseconds.
//!
//! What a late notice may cost is what any notice may: it is a wake-up, not
//! data. If the process dies between the commit and the notice, listeners
//! hear nothing — and every listener here also looks on its own (the outbox
//! relay polls, watchers read again every few seconds), so a lost notice
//! delays, never loses.
//!
//! **Effects after the commit.** What is done outside the database
//! (metrics, a log line announcing a change) waits for the commit too
//! ([`Work::on_commit`]): an event consumer may roll a group of events back
//! and apply them again one by one, and an effect done inside would then
//! happen twice. Each effect runs in the span it was registered in.

use sqlx::{Connection, PgConnection, Postgres, Transaction};

type Effect = Box<dyn FnOnce() + Send>;

/// An open transaction with the notices and effects its commit releases.
/// Dropped without [`commit`](Self::commit), it rolls back and releases
/// nothing.
pub struct Work<'c> {
    tx: Transaction<'c, Postgres>,
    after: Committed,
}

impl<'c> Work<'c> {
    /// Begins a transaction on `conn`, which stays borrowed until the work
    /// is committed or dropped.
    ///
    /// # Errors
    /// `BEGIN` failed.
    pub async fn begin(conn: &'c mut PgConnection) -> sqlx::Result<Self> {
        Ok(Self {
            tx: conn.begin().await?,
            after: Committed::default(),
        })
    }

    /// The transaction's connection, for the statements of the work.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Notifies `channel` with `payload` once the work has committed; the
    /// same notice asked for twice is sent once.
    pub fn notify(&mut self, channel: &str, payload: impl Into<String>) {
        let notice = (channel.to_owned(), payload.into());
        if !self.after.notices.contains(&notice) {
            self.after.notices.push(notice);
        }
    }

    /// Runs `effect` once the work has committed, in the span current now;
    /// never if it rolls back.
    pub fn on_commit(&mut self, effect: impl FnOnce() + Send + 'static) {
        self.after
            .effects
            .push((tracing::Span::current(), Box::new(effect)));
    }

    /// Commits, and hands back what the commit released.
    ///
    /// # Errors
    /// `COMMIT` failed: nothing was written and nothing is released.
    pub async fn commit(self) -> sqlx::Result<Committed> {
        self.tx.commit().await?;
        Ok(self.after)
    }

    /// Rolls back now rather than when the connection is next used, so
    /// what comes next on it does not wait on this work's locks.
    ///
    /// # Errors
    /// `ROLLBACK` failed; the connection is then unusable.
    pub async fn rollback(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}

/// What a committed [`Work`] still owes: its notices and effects.
#[derive(Default)]
#[must_use = "the notices and effects of committed work go out only when announced"]
pub struct Committed {
    notices: Vec<(String, String)>,
    effects: Vec<(tracing::Span, Effect)>,
}

impl Committed {
    /// Sends the notices on `conn` (see the module's doc) and runs the
    /// effects. A failure to send is logged, not returned: the work is
    /// done, and listeners poll.
    pub async fn announce(self, conn: &mut PgConnection) {
        if !self.notices.is_empty()
            && let Err(e) = send(conn, &self.notices).await
        {
            tracing::warn!(error = %e, "notices after commit were not sent; listeners will poll");
        }
        for (span, effect) in self.effects {
            span.in_scope(effect);
        }
    }
}

/// Sends `notices` in one transaction of their own that does not wait for
/// its commit record to reach disk.
async fn send(conn: &mut PgConnection, notices: &[(String, String)]) -> sqlx::Result<()> {
    let (channels, payloads): (Vec<&str>, Vec<&str>) = notices
        .iter()
        .map(|(c, p)| (c.as_str(), p.as_str()))
        .unzip();
    sqlx::query(
        "SELECT set_config('synchronous_commit', 'off', true), pg_notify(n.channel, n.payload)
         FROM unnest($1::text[], $2::text[]) AS n (channel, payload)",
    )
    .bind(&channels)
    .bind(&payloads)
    .execute(conn)
    .await?;
    Ok(())
}
