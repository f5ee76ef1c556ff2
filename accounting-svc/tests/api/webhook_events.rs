//! A provider's event is handled once: its second delivery is recognised,
//! also when both arrive at the same moment, and another provider's event
//! with the same id is another event.

use accounting_svc::store::first_delivery;
use chrono::Utc;

use crate::helpers::migrated;

#[tokio::test]
async fn a_replayed_provider_event_is_recognised_once_handled() {
    let (_db, pool) = migrated(10).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let mut tx = pool.begin().await.expect("begins");
                let first = first_delivery(&mut tx, "momo", "evt_1", Utc::now())
                    .await
                    .expect("recorded");
                tx.commit().await.expect("commits");
                first
            })
        })
        .collect();
    let mut firsts = 0;
    for task in tasks {
        firsts += usize::from(task.await.expect("the task ran"));
    }
    assert_eq!(firsts, 1, "eight deliveries at once, one handled");

    let mut conn = pool.acquire().await.expect("a connection");
    assert!(
        !first_delivery(&mut conn, "momo", "evt_1", Utc::now())
            .await
            .expect("read")
    );
    assert!(
        first_delivery(&mut conn, "sandbox", "evt_1", Utc::now())
            .await
            .expect("read")
    );
    // A delivery whose handling rolled back was not handled.
    let mut tx = pool.begin().await.expect("begins");
    assert!(
        first_delivery(&mut tx, "momo", "evt_2", Utc::now())
            .await
            .expect("read")
    );
    tx.rollback().await.expect("rolls back");
    assert!(
        first_delivery(&mut conn, "momo", "evt_2", Utc::now())
            .await
            .expect("read")
    );
}
