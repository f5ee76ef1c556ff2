//! Nothing lost, nothing twice: the order → kitchen path through the
//! outbox and Redis Streams, on the real Postgres and Redis, through
//! crashes, a Redis restart, a duplicated event and a poison event. Every
//! wait is bounded and polls; none sleeps a fixed time to synchronise.

use std::time::Duration;

use foodmesh_proto::events::v1::Envelope;
use foodmesh_shared::ServiceName;
use foodmesh_shared::events::{ENVELOPE_FIELD, dead_letter_stream};
use prost::Message;
use redis::AsyncCommands;
use redis::streams::{StreamInfoGroupsReply, StreamRangeReply};
use reqwest::Method;
use serde_json::json;
use sqlx::Connection;

use crate::helpers::{EVENTUAL, Mesh, MeshOptions, RedisServer, eventually, redis_connection};

/// The kitchen's consumer group (consumer groups are named after the
/// consuming service).
const KITCHEN_GROUP: &str = "kitchen-svc";

/// The types of order-svc's events committed to its outbox and not yet
/// published, oldest first.
async fn unpublished_events(mesh: &Mesh) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(mesh.order_db().url())
        .await
        .expect("order-svc's database answers");
    sqlx::query_scalar::<_, String>(
        "SELECT event_type FROM outbox WHERE published_at IS NULL ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .expect("the outbox reads")
}

/// Waits until the kitchen's group has read and acknowledged every entry
/// of `stream` up to `entry_id`.
async fn kitchen_has_read(url: &str, stream: &str, entry_id: &str) {
    let redis = redis_connection(url).await;
    let wanted = entry_id.to_owned();
    eventually(
        &format!("the kitchen to read {stream} up to {wanted}"),
        EVENTUAL,
        || {
            let mut redis = redis.clone();
            let (stream, wanted) = (stream.to_owned(), wanted.clone());
            async move {
                let groups: StreamInfoGroupsReply = redis.xinfo_groups(&stream).await.ok()?;
                let group = groups
                    .groups
                    .into_iter()
                    .find(|g| g.name == KITCHEN_GROUP)?;
                (entry_order(&group.last_delivered_id) >= entry_order(&wanted)
                    && group.pending == 0)
                    .then_some(())
            }
        },
    )
    .await;
}

/// A stream entry id (`<ms>-<seq>`) as a sortable pair.
fn entry_order(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

#[tokio::test]
async fn an_order_committed_before_its_relay_published_reaches_the_kitchen_once_after_a_crash() {
    // order-svc's relay talks to a Redis of its own, which dies: whatever
    // it commits from then on stays in its outbox.
    let mut private = RedisServer::start().await;
    let mut mesh = Mesh::with_orders_on(MeshOptions {
        order_redis_url: Some(private.url()),
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    private.kill().await;

    let order = mesh.cash_order(restaurant, item, 70).await;
    let id = order["id"].as_i64().expect("id");
    assert_eq!(order["status"], "confirmed");
    assert_eq!(
        unpublished_events(&mesh).await,
        ["order.created", "order.confirmed"],
        "committed, not published"
    );
    assert!(mesh.tickets_for(restaurant, id).await.is_empty());

    // The process dies; it comes back on the same data and the real Redis.
    let db = mesh.crash_order_svc().await;
    let redis_url = mesh.redis_url().to_owned();
    mesh.restart_order_svc(db, &redis_url).await;

    let ticket = mesh.ticket_of(restaurant, id).await;
    assert_eq!(ticket["status"], "queued");
    eventually("the outbox to drain", EVENTUAL, || async {
        unpublished_events(&mesh).await.is_empty().then_some(())
    })
    .await;
    let mut redis = redis_connection(&redis_url).await;
    let stream = mesh.stream_of(ServiceName::Order);
    let published: StreamRangeReply = redis.xrange_all(&stream).await.expect("xrange");
    let last = published.ids.last().expect("published entries").id.clone();
    kitchen_has_read(&redis_url, &stream, &last).await;
    assert_eq!(mesh.tickets_for(restaurant, id).await.len(), 1);
    // The restarted service serves the order as before.
    let read = mesh
        .get(&format!("/api/orders/{id}"), Some(&Mesh::customer_id(70)))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
}

#[tokio::test]
async fn a_redis_restart_between_orders_loses_nothing() {
    let mut redis = RedisServer::start().await;
    let mesh = Mesh::with_orders_on(MeshOptions {
        redis_url: redis.url(),
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let stream = mesh.stream_of(ServiceName::Order);

    let before = mesh.cash_order(restaurant, item, 80).await["id"]
        .as_i64()
        .expect("id");
    mesh.ticket_of(restaurant, before).await;
    let mut conn = redis_connection(&redis.url()).await;
    let published_before: usize = conn.xlen(&stream).await.expect("xlen");
    assert!(published_before >= 2);

    redis.kill().await;
    let during = mesh.cash_order(restaurant, item, 81).await["id"]
        .as_i64()
        .expect("id");
    redis.restart().await;
    let after = mesh.cash_order(restaurant, item, 82).await["id"]
        .as_i64()
        .expect("id");

    for id in [before, during, after] {
        mesh.ticket_of(restaurant, id).await;
    }
    let mut conn = redis_connection(&redis.url()).await;
    let entries: StreamRangeReply = conn.xrange_all(&stream).await.expect("xrange");
    assert!(
        entries.ids.len() >= published_before + 4,
        "the events from before the restart survived it: {} entries",
        entries.ids.len()
    );
    let last = entries.ids.last().expect("entries").id.clone();
    kitchen_has_read(&redis.url(), &stream, &last).await;
    for id in [before, during, after] {
        assert_eq!(
            mesh.tickets_for(restaurant, id).await.len(),
            1,
            "order {id} has exactly one ticket"
        );
    }
}

#[tokio::test]
async fn an_event_delivered_twice_makes_one_ticket() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let id = mesh.cash_order(restaurant, item, 90).await["id"]
        .as_i64()
        .expect("id");
    mesh.ticket_of(restaurant, id).await;
    let stream = mesh.stream_of(ServiceName::Order);
    let mut redis = redis_connection(mesh.redis_url()).await;

    let entries: StreamRangeReply = redis.xrange_all(&stream).await.expect("xrange");
    let confirmed = entries
        .ids
        .iter()
        .find_map(|entry| {
            let raw: Vec<u8> = entry.get(ENVELOPE_FIELD)?;
            let envelope = Envelope::decode(raw.as_slice()).ok()?;
            (envelope.r#type == "order.confirmed" && envelope.aggregate_id == id.to_string())
                .then_some(raw)
        })
        .expect("the order.confirmed event");
    let copy: String = redis
        .xadd(&stream, "*", &[(ENVELOPE_FIELD, confirmed.as_slice())])
        .await
        .expect("xadd");

    kitchen_has_read(mesh.redis_url(), &stream, &copy).await;
    let tickets = mesh.tickets_for(restaurant, id).await;
    assert_eq!(tickets.len(), 1, "{tickets:?}");
    assert_eq!(tickets[0]["version"], 1, "the copy changed nothing");
}

#[tokio::test]
async fn a_poison_event_is_dead_lettered_and_later_orders_still_reach_the_kitchen() {
    let mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    let first = mesh.cash_order(restaurant, item, 95).await["id"]
        .as_i64()
        .expect("id");
    mesh.ticket_of(restaurant, first).await;
    let stream = mesh.stream_of(ServiceName::Order);
    let mut redis = redis_connection(mesh.redis_url()).await;

    let poison: String = redis
        .xadd(
            &stream,
            "*",
            &[(
                ENVELOPE_FIELD,
                b"\xff\xff\xff not a protobuf envelope".as_slice(),
            )],
        )
        .await
        .expect("xadd");
    let no_envelope: String = redis
        .xadd(&stream, "*", &[("garbage", "yes")])
        .await
        .expect("xadd");

    // Every group reading the stream (the kitchen's, accounting's) sets
    // the entries aside on its own; the kitchen's are the ones at stake.
    let dead = dead_letter_stream(&stream);
    eventually(
        "both entries in the kitchen's dead letters",
        EVENTUAL,
        || {
            let mut redis = redis.clone();
            let dead = dead.clone();
            let wanted = [poison.clone(), no_envelope.clone()];
            async move {
                let entries: StreamRangeReply = redis.xrange_all(&dead).await.ok()?;
                let ids: Vec<String> = entries
                    .ids
                    .iter()
                    .filter(|e| e.get::<String>("group").as_deref() == Some(KITCHEN_GROUP))
                    .filter_map(|e| e.get::<String>("entry_id"))
                    .collect();
                wanted.iter().all(|w| ids.contains(w)).then_some(())
            }
        },
    )
    .await;
    kitchen_has_read(mesh.redis_url(), &stream, &no_envelope).await;

    let later = mesh.cash_order(restaurant, item, 96).await["id"]
        .as_i64()
        .expect("id");
    let ticket = mesh.ticket_of(restaurant, later).await;
    assert_eq!(ticket["status"], "queued");
    assert_eq!(mesh.tickets_for(restaurant, first).await.len(), 1);
}

#[tokio::test]
async fn a_retry_of_an_order_cut_off_mid_flight_gets_the_order() {
    let mesh = Mesh::with_orders_on(MeshOptions {
        restaurant_valve: true,
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("12.99").await;
    // A first order warms the gateway's view of the restaurant, so the
    // keyed one below reaches order-svc before anything waits.
    mesh.cash_order(restaurant, item, 71).await;
    let customer = Mesh::customer_id(71);
    let body = json!({
        "restaurant_id": restaurant, "payment_method": "cash",
        "items": [{"menu_item_id": item, "quantity": 1}]
    });
    let create = || {
        mesh.send(
            Method::POST,
            "/api/orders",
            Some(&customer),
            &[("idempotency-key", "cut-off-71")],
            Some(&body),
        )
    };

    // The client gives up while order-svc waits on a hung restaurant-svc.
    mesh.valve().freeze();
    let cut = tokio::time::timeout(Duration::from_millis(500), create()).await;
    assert!(
        cut.is_err(),
        "the create waits on the frozen restaurant-svc"
    );
    mesh.valve().thaw();
    let retry = create().await;

    assert_eq!(retry.status, 201, "{}", retry.text);
    let orders = mesh
        .get("/api/orders?customer_id=71", Some(&Mesh::admin()))
        .await
        .json();
    assert_eq!(
        orders["items"].as_array().map(Vec::len),
        Some(2),
        "{orders}"
    );
}

#[tokio::test]
async fn a_write_whose_service_goes_away_mid_call_is_a_503_not_a_500() {
    let mesh = Mesh::start_on(MeshOptions {
        restaurant_valve: true,
        ..MeshOptions::default()
    })
    .await;
    mesh.restaurant("Warm Up").await;
    let admin = Mesh::admin();
    let body = json!({"name": "Cut Off Diner", "phone": "+15555550123", "email": "c@example.com",
                      "cuisine_type": "Diner",
                      "address": {"street": "1 Main St", "city": "Springfield", "state": "IL",
                                  "zip_code": "62701", "country": "US"}});
    mesh.valve().freeze();
    let create = mesh.post("/api/restaurants", Some(&admin), &body);
    let cut = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        mesh.valve().cut();
    };
    let (reply, ()) = tokio::join!(create, cut);
    mesh.valve().thaw();
    reply.problem(503, None);
}

#[tokio::test]
async fn a_live_stream_whose_service_dies_ends_with_a_503_problem() {
    let mut mesh = Mesh::with_orders().await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    let order = mesh.cash_order(restaurant, item, 1).await;
    let id = order["id"].as_i64().expect("id");
    let mut orders = mesh
        .events(&format!("/api/orders/{id}/events"), Some(&Mesh::admin()))
        .await;
    let mut kitchen = mesh
        .events("/api/kitchen/stream", Some(&Mesh::staff(restaurant)))
        .await;
    assert_eq!(
        orders.next(EVENTUAL).await.map(|e| e.name).as_deref(),
        Some("snapshot")
    );
    kitchen.until("synced", EVENTUAL, |_| true).await;

    // The service went away: each client is told to come back (503), not
    // that something broke (500), and its stream ends.
    let _kitchen_db = mesh.crash_kitchen_svc().await;
    let last = kitchen.until("problem", EVENTUAL, |_| true).await.json();
    assert_eq!(last["status"], 503, "{last}");
    assert_eq!(kitchen.next(EVENTUAL).await.map(|e| e.name), None);

    let _order_db = mesh.crash_order_svc().await;
    let last = orders.until("problem", EVENTUAL, |_| true).await.json();
    assert_eq!(last["status"], 503, "{last}");
    assert_eq!(orders.next(EVENTUAL).await.map(|e| e.name), None);
}
