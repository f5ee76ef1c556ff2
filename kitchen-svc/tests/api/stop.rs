//! A stopped kitchen-svc finishes the order events in hand: nothing it was
//! given is left for another instance to claim after its timeout.

use foodmesh_proto::order::v1 as order;

use crate::helpers::{order_with, spawn_app};

#[tokio::test]
async fn a_stopped_instance_leaves_no_order_event_it_was_given_unacknowledged() {
    let mut app = spawn_app().await;
    for id in 1..=40 {
        let confirmed = order_with(id, 1, order::OrderType::Takeout);
        app.publish_order_event("order.confirmed", &confirmed, 0, "")
            .await;
    }
    // The consumer is at work on the events.
    app.wait_for_ticket(1).await;

    app.stop_first().await;

    let (pending, consumers) = app.unacknowledged().await;
    assert_eq!(pending, 0, "nothing it was given is left pending");
    assert_eq!(consumers, 0, "it left its group");
}
