//! delivery-svc spawned on port 0 with its own database, Redis key prefix
//! and event streams, fed order events through the real Redis and called
//! over real gRPC.

use std::time::{Duration, SystemTime};

use delivery_svc::service::Settings;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::testing::{TestDb, TestStreams, service_config};
use foodmesh_shared::{ServiceConfig, ServiceName};
use pb::delivery_service_client::DeliveryServiceClient;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

pub type Client = DeliveryServiceClient<Channel>;

/// The restaurant every test's orders come from: Union Square, New York.
pub const RESTAURANT: (f64, f64) = (40.7359, -73.9911);

pub struct TestApp {
    pub config: ServiceConfig,
    settings: Settings,
    pub pool: PgPool,
    client: Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    _db: TestDb,
    _streams: TestStreams,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Settings::default()).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    foodmesh_shared::telemetry::prometheus();
    let db = TestDb::new("delivery").await;
    let config = service_config(ServiceName::Delivery, &db);
    let streams = TestStreams::adopt(config.event_prefix.clone());
    let (client, stop, task) = start(&config, settings).await;
    let pool = PgPool::connect(db.url()).await.expect("test pool connects");
    TestApp {
        config,
        settings,
        pool,
        client,
        stop: Some(stop),
        task: Some(task),
        _db: db,
        _streams: streams,
    }
}

type Started = (Client, oneshot::Sender<()>, JoinHandle<anyhow::Result<()>>);

async fn start(config: &ServiceConfig, settings: Settings) -> Started {
    let app = delivery_svc::build_with(config.clone(), settings)
        .await
        .expect("delivery-svc builds");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("address is a URI")
        .connect()
        .await
        .expect("delivery-svc accepts connections");
    (DeliveryServiceClient::new(channel), stop, task)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Kills the service as a crashed process dies — its relay, consumer
    /// and assigner cut wherever they are — and starts it again on the
    /// same database and streams.
    pub async fn crash_and_restart(&mut self) {
        self.stop = None;
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let (client, stop, task) = start(&self.config, self.settings).await;
        self.client = client;
        self.stop = Some(stop);
        self.task = Some(task);
    }

    /// A driver named `name`, available at `(latitude, longitude)`.
    pub async fn driver_at(&self, name: &str, phone: &str, at: (f64, f64)) -> pb::Driver {
        let mut client = self.client();
        let driver = client
            .create_driver(pb::CreateDriverRequest {
                name: name.to_owned(),
                phone: phone.to_owned(),
                vehicle: "scooter".to_owned(),
                location: Some(point(at)),
            })
            .await
            .expect("created")
            .into_inner();
        client
            .update_driver(pb::UpdateDriverRequest {
                driver_id: driver.id,
                available: Some(true),
            })
            .await
            .expect("available")
            .into_inner()
    }

    /// Publishes an order event on order-svc's stream, as its relay would.
    pub async fn publish(&self, event_type: &str, order: &order::Order) -> Vec<u8> {
        let payload = OrderEvent {
            order: Some(order.clone()),
            restaurant_address: order.restaurant_address.clone(),
            restaurant_location: order.restaurant_location,
            prep_minutes: 10,
            ..Default::default()
        };
        let envelope =
            foodmesh_shared::testing::envelope(event_type, &order.id.to_string(), &payload);
        self.deliver(&envelope).await;
        envelope
    }

    /// Adds an encoded envelope to order-svc's stream (again).
    pub async fn deliver(&self, envelope: &[u8]) {
        foodmesh_shared::testing::deliver(&self.config, ServiceName::Order, envelope).await;
    }

    /// The delivery of order `order_id`, once it satisfies `ready` (at
    /// most 10 s).
    pub async fn delivery_of(
        &self,
        order_id: i64,
        ready: impl Fn(&pb::Delivery) -> bool,
    ) -> pb::Delivery {
        let mut last = None;
        for _ in 0..500 {
            let found = self
                .client()
                .list_deliveries(pb::ListDeliveriesRequest {
                    order_id: Some(order_id),
                    ..Default::default()
                })
                .await
                .expect("listed")
                .into_inner()
                .deliveries;
            if let Some(delivery) = found.into_iter().next() {
                if ready(&delivery) {
                    return delivery;
                }
                last = Some(delivery);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order {order_id}'s delivery is {last:?} after 10 s");
    }

    /// The delivery event types in the outbox, oldest first.
    pub async fn events(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_type FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .expect("the outbox")
    }
}

pub fn point((latitude, longitude): (f64, f64)) -> common::GeoPoint {
    common::GeoPoint {
        latitude,
        longitude,
    }
}

/// A confirmed delivery order of restaurant 3, as order-svc publishes it.
pub fn delivery_order(id: i64) -> order::Order {
    order::Order {
        id,
        order_number: format!("D{id:05}"),
        restaurant_id: 3,
        order_type: order::OrderType::Delivery.into(),
        status: order::OrderStatus::Confirmed.into(),
        delivery_address: Some(common::Address {
            street: "456 Oak Ave".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10002".to_owned(),
            country: "US".to_owned(),
        }),
        restaurant_address: Some(common::Address {
            street: "1 Union Sq".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10003".to_owned(),
            country: "US".to_owned(),
        }),
        restaurant_location: Some(point(RESTAURANT)),
        confirmed_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        ..Default::default()
    }
}

/// The `ErrorInfo` reason of a refusal, which must be this service's.
pub fn reason(status: &tonic::Status) -> String {
    foodmesh_shared::testing::reason(status, "foodmesh.delivery")
}
