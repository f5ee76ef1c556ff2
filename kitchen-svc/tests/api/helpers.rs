//! Spawning kitchen-svc on port 0 with its own database and event streams
//! (and a second instance on the same database when a test needs one),
//! feeding it order events through the real Redis, and reading what it
//! wrote.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use foodmesh_proto::events::v1::{Envelope, OrderEvent, TicketEvent};
use foodmesh_proto::kitchen::v1 as pb;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::events::consumer::Consumer;
use foodmesh_shared::events::{self, ENVELOPE_FIELD};
use foodmesh_shared::testing::{self, TestDb, TestStreams, service_config};
use foodmesh_shared::{ServiceConfig, ServiceName};
use pb::kitchen_service_client::KitchenServiceClient;
use prost::Message;
use redis::AsyncCommands;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// The client type every test talks through.
pub type Client = KitchenServiceClient<Channel>;

/// One running kitchen-svc process (in the test's runtime).
pub struct Instance {
    pub addr: std::net::SocketAddr,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Instance {
    async fn start(config: ServiceConfig) -> Self {
        let app = kitchen_svc::build(config)
            .await
            .expect("kitchen-svc builds");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("address is a URI")
            .connect()
            .await
            .expect("kitchen-svc accepts connections");
        Self {
            addr,
            client: KitchenServiceClient::new(channel),
            stop: Some(stop),
            task,
        }
    }

    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Stops the instance the way a signal would; panics if it does not
    /// stop within 10 s or stops with an error.
    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    /// [`Instance::stop`], keeping the instance (stopped) in place.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.task)
            .await
            .expect("the instance stops within 10 s")
            .expect("the instance's task completes")
            .expect("the instance stops cleanly");
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.halt();
    }
}

impl Instance {
    /// Stops the instance for good, so nothing recreates the streams a test
    /// deletes. On a multi-threaded runtime an aborted `run` cancels its
    /// relay and consumer only at their next await, on other threads, with
    /// a write perhaps already sent, so it is stopped the graceful way; on a
    /// single thread nothing runs after the test body, so aborting is
    /// enough.
    fn halt(&mut self) {
        let Some(stop) = self.stop.take() else {
            return;
        };
        let handle = tokio::runtime::Handle::current();
        if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
            let _ = stop.send(());
            let task = &mut self.task;
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
                });
            });
        }
        self.task.abort();
    }
}

/// A kitchen-svc on a fresh database with event streams of its own.
/// Dropping it stops the service, deletes its streams and drops the
/// database.
pub struct TestApp {
    pub config: ServiceConfig,
    /// The service's database, for reading what it wrote.
    pub pool: PgPool,
    pub first: Instance,
    _db: TestDb,
    /// Last: its keys go once the service has stopped.
    _streams: TestStreams,
}

pub async fn spawn_app() -> TestApp {
    // Installs the process-wide recorder before any metric is recorded.
    foodmesh_shared::telemetry::prometheus();
    let db = TestDb::new("kitchen").await;
    let config = service_config(ServiceName::Kitchen, &db);
    let streams = TestStreams::adopt(config.event_prefix.clone());
    let first = Instance::start(config.clone()).await;
    let pool = PgPool::connect(db.url()).await.expect("test pool connects");
    TestApp {
        config,
        pool,
        first,
        _db: db,
        _streams: streams,
    }
}

impl TestApp {
    /// A client of the first instance.
    pub fn client(&self) -> Client {
        self.first.client()
    }

    /// Another instance on the same database and streams: a replica.
    pub async fn replica(&self) -> Instance {
        Instance::start(self.config.clone()).await
    }

    /// Stops the first instance the way a signal would.
    pub async fn stop_first(&mut self) {
        self.first.shut_down().await;
    }

    /// The order events kitchen-svc's group was given and has not
    /// acknowledged, and the consumers its group still lists.
    pub async fn unacknowledged(&self) -> (usize, usize) {
        let mut redis = self.redis().await;
        let pending: redis::streams::StreamPendingReply = redis
            .xpending(self.order_stream(), "kitchen-svc")
            .await
            .expect("xpending");
        let consumers: redis::streams::StreamInfoConsumersReply = redis
            .xinfo_consumers(self.order_stream(), "kitchen-svc")
            .await
            .expect("xinfo consumers");
        (pending.count(), consumers.consumers.len())
    }

    /// Creates a ticket through the API.
    pub async fn create(&self, request: pb::CreateTicketRequest) -> pb::Ticket {
        self.client()
            .create_ticket(request)
            .await
            .expect("ticket is created")
            .into_inner()
    }

    /// Moves a ticket through the API.
    pub async fn move_to(&self, id: i64, status: pb::TicketStatus) -> pb::Ticket {
        self.client()
            .update_ticket_status(update(id, status))
            .await
            .unwrap_or_else(|s| panic!("ticket {id} moves to {status:?}: {s:?}"))
            .into_inner()
    }

    pub async fn get_by_order(&self, order_id: i64) -> Result<pb::Ticket, tonic::Status> {
        self.client()
            .get_ticket(pb::GetTicketRequest {
                order_id,
                ..Default::default()
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Publishes an order event on order-svc's stream, as its relay would;
    /// returns the entry's envelope so a test can deliver it again.
    pub async fn publish_order_event(
        &self,
        event_type: &str,
        order: &order::Order,
        prep_minutes: u32,
        reason: &str,
    ) -> Vec<u8> {
        let envelope = order_envelope(event_type, order, prep_minutes, reason).encode_to_vec();
        self.deliver(&envelope).await;
        envelope
    }

    /// Publishes `(event type, order, reason)`s in one Redis transaction,
    /// so the consumer reads them all at once; returns their event ids.
    pub async fn publish_order_events_together(
        &self,
        events: &[(&str, &order::Order, &str)],
    ) -> Vec<uuid::Uuid> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut ids = Vec::new();
        for (event_type, order, reason) in events {
            let envelope = order_envelope(event_type, order, 0, reason);
            ids.push(envelope.id.parse().expect("a uuid"));
            pipe.xadd(
                self.order_stream(),
                "*",
                &[(ENVELOPE_FIELD, envelope.encode_to_vec())],
            );
        }
        let mut redis = self.redis().await;
        let _: Vec<String> = pipe.query_async(&mut redis).await.expect("xadd");
        ids
    }

    /// Adds an encoded envelope to order-svc's stream (again).
    pub async fn deliver(&self, envelope: &[u8]) {
        let mut redis = self.redis().await;
        let _: String = redis
            .xadd(self.order_stream(), "*", &[(ENVELOPE_FIELD, envelope)])
            .await
            .expect("xadd");
    }

    /// Waits until every order event published so far has been applied:
    /// publishes a confirmation for a throw-away order of restaurant
    /// [`BARRIER_RESTAURANT`] and waits for its ticket. With one instance
    /// the consumer applies its stream in order, so everything before the
    /// barrier is done.
    pub async fn barrier(&self) {
        let order_id = NEXT_BARRIER.fetch_add(1, Ordering::Relaxed);
        let barrier = order_with(order_id, BARRIER_RESTAURANT, order::OrderType::Takeout);
        self.publish_order_event("order.confirmed", &barrier, 0, "")
            .await;
        self.wait_for_ticket(order_id).await;
    }

    /// The order's ticket, once the consumer has made it (at most 10 s).
    pub async fn wait_for_ticket(&self, order_id: i64) -> pb::Ticket {
        for _ in 0..500 {
            if let Ok(ticket) = self.get_by_order(order_id).await {
                return ticket;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no ticket for order {order_id} after 10 s");
    }

    /// The order's ticket once it has `status` (at most 10 s).
    pub async fn wait_for_status(&self, order_id: i64, status: pb::TicketStatus) -> pb::Ticket {
        let mut last = None;
        for _ in 0..500 {
            if let Ok(ticket) = self.get_by_order(order_id).await {
                if ticket.status() == status {
                    return ticket;
                }
                last = Some(ticket.status());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order {order_id}'s ticket is {last:?}, not {status:?}, after 10 s");
    }

    /// Every ticket event in the outbox, oldest first.
    pub async fn outbox(&self) -> Vec<(String, pb::Ticket)> {
        let rows: Vec<(String, Vec<u8>)> =
            sqlx::query_as("SELECT event_type, envelope FROM outbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .expect("outbox reads");
        rows.into_iter()
            .map(|(event_type, raw)| {
                let envelope = Envelope::decode(raw.as_slice()).expect("an envelope");
                assert_eq!(envelope.r#type, event_type);
                let event =
                    TicketEvent::decode(envelope.payload.as_slice()).expect("a TicketEvent");
                let ticket = event.ticket.expect("the event carries its ticket");
                assert_eq!(envelope.aggregate_id, ticket.id.to_string());
                (event_type, ticket)
            })
            .collect()
    }

    /// The event types published about one ticket, oldest first.
    pub async fn events_of(&self, ticket_id: i64) -> Vec<String> {
        self.outbox()
            .await
            .into_iter()
            .filter(|(_, t)| t.id == ticket_id)
            .map(|(event_type, _)| event_type)
            .collect()
    }

    /// Rows in a table, to show a refused request wrote nothing.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("count reads")
    }

    /// The envelopes kitchen-svc's relay published to its own stream.
    pub async fn published(&self) -> Vec<Envelope> {
        let mut redis = self.redis().await;
        let reply: redis::streams::StreamRangeReply = redis
            .xrange_all(self.kitchen_stream())
            .await
            .expect("xrange");
        reply
            .ids
            .iter()
            .filter_map(|entry| entry.get::<Vec<u8>>(ENVELOPE_FIELD))
            .map(|raw| Envelope::decode(raw.as_slice()).expect("an envelope"))
            .collect()
    }

    fn order_stream(&self) -> String {
        events::stream(&self.config.event_prefix, ServiceName::Order)
    }

    fn kitchen_stream(&self) -> String {
        events::stream(&self.config.event_prefix, ServiceName::Kitchen)
    }

    async fn redis(&self) -> redis::aio::ConnectionManager {
        Consumer::connect_redis(&self.config.redis_url)
            .await
            .expect("redis answers")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.first.halt();
    }
}

/// An order event as order-svc's relay publishes it.
fn order_envelope(
    event_type: &str,
    order: &order::Order,
    prep_minutes: u32,
    reason: &str,
) -> Envelope {
    let payload = OrderEvent {
        order: Some(order.clone()),
        change: (!reason.is_empty()).then(|| order::StatusChange {
            reason: reason.to_owned(),
            ..Default::default()
        }),
        prep_minutes,
        ..Default::default()
    };
    Envelope {
        id: uuid::Uuid::new_v4().to_string(),
        r#type: event_type.to_owned(),
        aggregate_id: order.id.to_string(),
        occurred_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        trace_context: Default::default(),
        payload: payload.encode_to_vec(),
        request_id: String::new(),
    }
}

/// The restaurant of barrier orders; no test asserts on it.
pub const BARRIER_RESTAURANT: i64 = 999_999;

static NEXT_BARRIER: AtomicI64 = AtomicI64::new(1_000_000);

/// A valid create request for `order_id` at `restaurant_id`: a table
/// ticket with two lines.
pub fn ticket_request(order_id: i64, restaurant_id: i64) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        order_id,
        order_number: Some(format!("N{order_id:05}")),
        restaurant_id,
        fulfilment: pb::Fulfilment::Table.into(),
        table_number: Some("12".to_owned()),
        items: vec![
            pb::TicketItem {
                name: "Margherita".to_owned(),
                quantity: 2,
                modifiers: vec!["extra cheese".to_owned(), "no basil".to_owned()],
                special_instructions: "well done".to_owned(),
            },
            pb::TicketItem {
                name: "Tiramisu".to_owned(),
                quantity: 1,
                modifiers: Vec::new(),
                special_instructions: String::new(),
            },
        ],
        prep_minutes: Some(20),
        notes: Some("allergy: walnuts".to_owned()),
        order: None,
    }
}

pub fn update(id: i64, status: pb::TicketStatus) -> pb::UpdateTicketStatusRequest {
    pb::UpdateTicketStatusRequest {
        id,
        status: status.into(),
        ..Default::default()
    }
}

/// A confirmed order as order-svc publishes it.
pub fn order_with(id: i64, restaurant_id: i64, order_type: order::OrderType) -> order::Order {
    order::Order {
        id,
        order_number: format!("Q{id:05}"),
        restaurant_id,
        order_type: order_type.into(),
        status: order::OrderStatus::Confirmed.into(),
        table_number: if order_type == order::OrderType::DineIn {
            "7".to_owned()
        } else {
            String::new()
        },
        items: vec![order::OrderLine {
            id: 1,
            menu_item_id: 11,
            name: "Pad thai".to_owned(),
            quantity: 3,
            options: vec![
                order::OrderLineOption {
                    option_id: 21,
                    name: "extra peanuts".to_owned(),
                    price_delta: None,
                },
                order::OrderLineOption {
                    option_id: 22,
                    name: "no coriander".to_owned(),
                    price_delta: None,
                },
            ],
            special_instructions: "very spicy".to_owned(),
            ..Default::default()
        }],
        notes: "ring the bell".to_owned(),
        ..Default::default()
    }
}

/// The fields a refusal names, in order.
pub use foodmesh_shared::testing::fields;

/// The `ErrorInfo` reason of a refusal, which must be this service's.
pub fn reason(status: &tonic::Status) -> String {
    testing::reason(status, "foodmesh.kitchen")
}

/// Seconds since the epoch of a timestamp the service set.
pub fn seconds(at: &Option<prost_types::Timestamp>) -> i64 {
    at.as_ref().expect("timestamp is set").seconds
}
