//! Postgres notices (`NOTIFY`) sent after the commit they announce, not in
//! it.
//!
//! A transaction that notifies takes a cluster-wide lock when it commits
//! and holds it until its commit record is flushed to disk, so every
//! notifying transaction commits one after another, each waiting out its
//! own `fsync` — group commit cannot help them. On the hot paths (placing
//! an order, queueing its ticket) that lock, not the work, set the pace.
//!
//! Inside [`after_commit`], [`notify`] only remembers the notice; once the
//! work has committed, the notices go out in one statement of their own
//! with `synchronous_commit` off, so that transaction holds the lock for
//! microseconds. Outside it, [`notify`] notifies in the caller's
//! transaction, as plain `NOTIFY` would.
//!
//! What a deferred notice may cost is what any notice may: it is a
//! wake-up, not data. If the process dies between the commit and the
//! notice, listeners hear nothing — and every listener here also looks
//! on its own (the outbox relay polls, watchers read again every few
//! seconds), so a lost notice delays, never loses.

use std::cell::RefCell;
use std::future::Future;

use sqlx::PgConnection;

tokio::task_local! {
    static DEFERRED: RefCell<Vec<(String, String)>>;
}

/// Notifies `channel` with `payload`: after the commit when called inside
/// [`after_commit`], else in `conn`'s transaction.
///
/// # Errors
/// The notification failed (only when sent in the transaction).
pub async fn notify(conn: &mut PgConnection, channel: &str, payload: &str) -> sqlx::Result<()> {
    let deferred = DEFERRED
        .try_with(|notices| {
            let mut notices = notices.borrow_mut();
            let notice = (channel.to_owned(), payload.to_owned());
            if !notices.contains(&notice) {
                notices.push(notice);
            }
        })
        .is_ok();
    if !deferred {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Runs `work` — which runs its transaction on `conn` and commits (or
/// rolls back) before it returns — and, when it succeeds, sends the
/// notices it asked for on the same connection (another checkout from the
/// pool would cost a round trip of its own). A failure to send them is
/// logged, not returned: the work is done.
pub async fn after_commit<T, E>(
    conn: &mut PgConnection,
    work: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E> {
    let (result, notices) = deferring(work(&mut *conn)).await;
    if result.is_ok()
        && !notices.is_empty()
        && let Err(e) = send(conn, &notices).await
    {
        tracing::warn!(error = %e, "notices after commit were not sent; listeners will poll");
    }
    result
}

/// Runs `work` with the notices it asks for held back, and returns them.
async fn deferring<T>(work: impl Future<Output = T>) -> (T, Vec<(String, String)>) {
    DEFERRED
        .scope(RefCell::new(Vec::new()), async {
            let result = work.await;
            (result, DEFERRED.with(RefCell::take))
        })
        .await
}

/// Sends `notices` in one transaction of their own that does not wait for
/// its commit record to reach disk: the lock `NOTIFY` takes at commit is
/// held only while the record is written.
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
