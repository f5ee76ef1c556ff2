//! The services' connection pool on the real Postgres: a connection the
//! server dropped costs at most one failed statement when it was in use
//! moments ago, and none when it had sat idle.

use std::time::Duration;

use foodmesh_shared::db::{pool_options, pool_options_pinging_after};
use foodmesh_shared::testing::TestDb;
use sqlx::PgPool;

async fn backend(pool: &PgPool) -> sqlx::Result<i32> {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(pool)
        .await
}

async fn terminate(url: &str, pid: i32) {
    let admin = PgPool::connect(url).await.expect("connects");
    let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(&admin)
        .await
        .expect("terminates");
    assert!(ended, "backend {pid} was there to end");
    admin.close().await;
}

#[tokio::test]
async fn a_busy_connection_the_server_dropped_fails_one_statement_then_is_replaced() {
    let db = TestDb::new("pool_busy").await;
    let pool = pool_options(1).connect(db.url()).await.expect("connects");
    let first = backend(&pool).await.expect("answers");

    terminate(db.url(), first).await;

    // Handed out again at once, without a ping: its next statement may
    // find it gone, and the pool drops it on its way back.
    let mut failures = 0;
    let second = loop {
        match backend(&pool).await {
            Ok(pid) => break pid,
            Err(_) if failures == 0 => failures += 1,
            Err(e) => panic!("a second failure: {e}"),
        }
    };
    assert_ne!(first, second, "a new connection took its place");
}

#[tokio::test]
async fn an_idle_connection_the_server_dropped_is_replaced_before_it_is_used() {
    let db = TestDb::new("pool_idle").await;
    let untested_idle = Duration::from_millis(50);
    let pool = pool_options_pinging_after(1, untested_idle)
        .connect(db.url())
        .await
        .expect("connects");
    let first = backend(&pool).await.expect("answers");

    terminate(db.url(), first).await;
    // Idle past the untested limit: checked before it is handed out. (The
    // pool times idleness by the system's clock, which no test can move.)
    tokio::time::sleep(untested_idle * 2).await;

    let second = backend(&pool).await.expect("no statement fails");
    assert_ne!(first, second, "a new connection took its place");
}
