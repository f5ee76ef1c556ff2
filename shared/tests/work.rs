//! Units of work on the real Postgres: a notice is held until the work has
//! committed and is announced, then delivered once, on the work's own
//! connection; work that rolls back sends none and runs no effect.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use foodmesh_shared::testing::TestDb;
use foodmesh_shared::work::Work;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgNotification};

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
async fn notices_and_effects_wait_for_the_commit_and_go_out_once() {
    let db = TestDb::new("work_after").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");
    let effects = Arc::new(AtomicUsize::new(0));

    let mut work = Work::begin(&mut conn).await.expect("begins");
    work.notify(CHANNEL, "42");
    work.notify(CHANNEL, "42");
    work.notify(CHANNEL, "43");
    let counter = effects.clone();
    work.on_commit(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let committed = work.commit().await.expect("commits");
    // Committed, but the notices and effects wait to be announced.
    let before_announce = pending(&pool, &mut listener).await;
    let effects_before = effects.load(Ordering::SeqCst);
    committed.announce(&mut conn).await;

    assert_eq!(before_announce, Vec::<String>::new());
    assert_eq!(effects_before, 0);
    assert_eq!(effects.load(Ordering::SeqCst), 1);
    assert_eq!(
        pending(&pool, &mut listener).await,
        ["42", "43"],
        "once each"
    );
}

#[tokio::test]
async fn work_that_rolls_back_sends_no_notice_and_runs_no_effect() {
    let db = TestDb::new("work_failed").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");
    let effects = Arc::new(AtomicUsize::new(0));

    let mut work = Work::begin(&mut conn).await.expect("begins");
    work.notify(CHANNEL, "rolled back");
    let counter = effects.clone();
    work.on_commit(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    work.rollback().await.expect("rolls back");
    {
        // Dropped without a commit: the same.
        let mut dropped = Work::begin(&mut conn).await.expect("begins");
        dropped.notify(CHANNEL, "dropped");
    }

    assert_eq!(pending(&pool, &mut listener).await, Vec::<String>::new());
    assert_eq!(effects.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_notices_go_out_on_the_connection_the_work_committed_on() {
    let db = TestDb::new("work_on").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = listening(&pool).await;
    let mut conn = pool.acquire().await.expect("a connection");
    let sender: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .expect("its pid");

    let mut work = Work::begin(&mut conn).await.expect("begins");
    work.notify(CHANNEL, "7");
    work.commit()
        .await
        .expect("commits")
        .announce(&mut conn)
        .await;

    let notice = next(&mut listener).await;
    assert_eq!(notice.payload(), "7");
    assert_eq!(notice.process_id(), u32::try_from(sender).expect("a pid"));
}
