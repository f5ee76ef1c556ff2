//! Notices after commit, on the real Postgres: inside `after_commit` a
//! notice is held until the work has committed and then delivered once, on
//! the work's own connection; work that fails sends none; outside it, a
//! notice rides its transaction.

use std::time::Duration;

use foodmesh_shared::notices;
use foodmesh_shared::testing::TestDb;
use sqlx::postgres::{PgListener, PgNotification};
use sqlx::{Connection, PgPool};

const CHANNEL: &str = "test_notices";

async fn listening(pool: &PgPool) -> PgListener {
    let mut listener = PgListener::connect_with(pool).await.expect("connects");
    listener.listen(CHANNEL).await.expect("listens");
    listener
}

async fn next(listener: &mut PgListener) -> PgNotification {
    tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notice within 10 s")
        .expect("the listener works")
}

/// What the listener holds now: a marker notice sent after everything
/// else is delivered after it, so anything queued before shows first.
async fn pending(pool: &PgPool, listener: &mut PgListener) -> Vec<String> {
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(CHANNEL)
        .execute(pool)
        .await
        .expect("marker sent");
    let mut seen = Vec::new();
    loop {
        let notice = next(listener).await;
        if notice.payload() == "marker" {
            return seen;
        }
        seen.push(notice.payload().to_owned());
    }
}

#[tokio::test]
async fn a_notice_inside_after_commit_is_sent_once_after_the_commit() {
    let db = TestDb::new("notices_after").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");

    let mut before_commit = Vec::new();
    let done = notices::after_commit(&mut conn, async |conn| {
        let mut tx = conn.begin().await?;
        notices::notify(&mut tx, CHANNEL, "42").await?;
        notices::notify(&mut tx, CHANNEL, "42").await?;
        notices::notify(&mut tx, CHANNEL, "43").await?;
        tx.commit().await?;
        // Committed, but the notices wait for the work to return.
        before_commit = pending(&pool, &mut listener).await;
        Ok::<_, sqlx::Error>("done")
    })
    .await
    .expect("the work succeeds");

    assert_eq!(done, "done");
    assert_eq!(before_commit, Vec::<String>::new());
    assert_eq!(
        pending(&pool, &mut listener).await,
        ["42", "43"],
        "once each"
    );
}

#[tokio::test]
async fn failed_work_sends_no_notice_and_plain_notify_rides_the_transaction() {
    let db = TestDb::new("notices_failed").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");

    let failed = notices::after_commit(&mut conn, async |conn| {
        let mut tx = conn.begin().await?;
        notices::notify(&mut tx, CHANNEL, "rolled back").await?;
        tx.rollback().await?;
        Err::<(), _>(sqlx::Error::RowNotFound)
    })
    .await;
    let mut tx = pool.begin().await.expect("begins");
    notices::notify(&mut tx, CHANNEL, "in the transaction")
        .await
        .expect("notified");
    let before_commit = pending(&pool, &mut listener).await;
    tx.commit().await.expect("commits");

    assert!(failed.is_err());
    assert_eq!(before_commit, Vec::<String>::new());
    assert_eq!(pending(&pool, &mut listener).await, ["in the transaction"]);
}

#[tokio::test]
async fn the_notices_go_out_on_the_connection_the_work_committed_on() {
    let db = TestDb::new("notices_on").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");
    let sender: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .expect("its pid");

    let mut before_commit = Vec::new();
    let done = notices::after_commit(&mut conn, async |conn| {
        let mut tx = conn.begin().await?;
        notices::notify(&mut tx, CHANNEL, "7").await?;
        tx.commit().await?;
        before_commit = pending(&pool, &mut listener).await;
        Ok::<_, sqlx::Error>("done")
    })
    .await
    .expect("the work succeeds");

    assert_eq!(done, "done");
    assert_eq!(before_commit, Vec::<String>::new());
    let notice = next(&mut listener).await;
    assert_eq!(notice.payload(), "7");
    assert_eq!(notice.process_id(), u32::try_from(sender).expect("a pid"));
}
