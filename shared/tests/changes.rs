//! The change feed on the real Postgres: a notice committed on the channel
//! reaches every subscriber of the instance, a payload that is not one of
//! the service's is skipped, and NOT_SERVING ends every watch.

use std::time::Duration;

use foodmesh_shared::changes::{ChangeFeed, Heard, Subscription};
use foodmesh_shared::testing::TestDb;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
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
    let tasks = tasks.spawn();

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
