//! The change feed on the real Postgres: a notice committed on the channel
//! reaches every subscriber of the instance, a payload that is not one of
//! the service's is skipped, and NOT_SERVING ends every watch.

use std::time::Duration;

use foodmesh_shared::changes::{ChangeFeed, Heard, Subscription};
use foodmesh_shared::testing::TestDb;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

const CHANNEL: &str = "test_changes";

async fn next(subscription: &mut Subscription<i64>) -> Heard<i64> {
    tokio::time::timeout(Duration::from_secs(10), subscription.next())
        .await
        .expect("heard within 10 s")
}

async fn notify(pool: &PgPool, payload: &str) {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await
        .expect("notified");
}

#[tokio::test]
async fn a_committed_change_reaches_every_subscriber_until_the_instance_stops() {
    let db = TestDb::new("changes").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = PgListener::connect_with(&pool).await.expect("listens");
    listener.listen(CHANNEL).await.expect("listens");
    let (health, _service) = tonic_health::server::health_reporter();
    let (feed, tasks) = ChangeFeed::new(
        listener,
        CHANNEL,
        |payload| payload.parse().ok(),
        health.clone(),
    );
    let mut first = feed.subscribe();
    let mut second = feed.subscribe();
    let tasks = tokio::spawn(tasks.run(CancellationToken::new()));

    notify(&pool, "not an id").await;
    notify(&pool, "42").await;

    assert_eq!(next(&mut first).await, Heard::Changed(42));
    assert_eq!(next(&mut second).await, Heard::Changed(42));
    assert!(!first.is_stopping());

    health
        .set_service_status("", ServingStatus::NotServing)
        .await;

    assert_eq!(next(&mut first).await, Heard::Stopping);
    tokio::time::timeout(Duration::from_secs(10), second.stopped())
        .await
        .expect("stopped within 10 s");
    assert!(second.is_stopping());
    tasks.abort();
    pool.close().await;
}

#[tokio::test]
async fn a_lost_connection_stops_listening_at_once_and_a_gap_follows_listening_again() {
    let db = TestDb::new("changes").await;
    let pool = PgPool::connect(db.url()).await.expect("connects");
    let mut listener = PgListener::connect_with(&pool).await.expect("listens");
    listener.listen(CHANNEL).await.expect("listens");
    let (health, _service) = tonic_health::server::health_reporter();
    let (feed, tasks) = ChangeFeed::new(listener, CHANNEL, |payload| payload.parse().ok(), health);
    let mut subscription = feed.subscribe();
    let mut listening = feed.listening();
    assert_eq!(
        *listening.borrow(),
        None,
        "nothing is heard before the tasks run"
    );
    let tasks = tokio::spawn(tasks.run(CancellationToken::new()));
    let within = Duration::from_secs(10);
    tokio::time::timeout(within, listening.wait_for(|l| *l == Some(1)))
        .await
        .expect("listening within 10 s")
        .expect("feed alive");

    let pid: i32 = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(&pool)
    .await
    .expect("the listening connection");
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .execute(&pool)
        .await
        .expect("terminated");

    // Told as soon as it is noticed, then the gap once listening again.
    tokio::time::timeout(within, listening.wait_for(|l| *l != Some(1)))
        .await
        .expect("loss noticed within 10 s")
        .expect("feed alive");
    assert_eq!(next(&mut subscription).await, Heard::Gap);
    tokio::time::timeout(within, listening.wait_for(|l| *l == Some(2)))
        .await
        .expect("listening again within 10 s")
        .expect("feed alive");
    notify(&pool, "7").await;
    assert_eq!(next(&mut subscription).await, Heard::Changed(7));
    tasks.abort();
    pool.close().await;
}
