//! delivery-svc spawned on port 0 with its own database, Redis key prefix
//! and event streams, fed order events through the real Redis and called
//! over real gRPC.

use std::time::{Duration, SystemTime};

use delivery_svc::service::Settings;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::testing::SpawnedService;
use foodmesh_shared::{ServiceConfig, ServiceName};
use pb::delivery_service_client::DeliveryServiceClient;
use sqlx::PgPool;
use tonic::transport::Channel;

pub type Client = DeliveryServiceClient<Channel>;

/// The restaurant every test's orders come from: Union Square, New York.
pub const RESTAURANT: (f64, f64) = (40.7359, -73.9911);

pub struct TestApp {
    /// `None` only within a restart.
    service: Option<SpawnedService>,
    settings: Settings,
    pub pool: PgPool,
    client: Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Settings::default()).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    foodmesh_shared::telemetry::prometheus();
    let service = SpawnedService::start_with(
        ServiceName::Delivery,
        |_| {},
        |config| delivery_svc::build_with(config, settings),
    )
    .await;
    let pool = PgPool::connect(service.db().url())
        .await
        .expect("test pool connects");
    let client = DeliveryServiceClient::new(service.channel().await);
    TestApp {
        service: Some(service),
        settings,
        pool,
        client,
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The service's configuration: its event prefix and Redis.
    pub fn config(&self) -> &ServiceConfig {
        self.service
            .as_ref()
            .expect("the service runs outside a restart")
            .config()
    }

    /// Kills the service as a crashed process dies — its relay, consumer
    /// and assigner cut wherever they are — and starts it again on the
    /// same database and streams.
    pub async fn crash_and_restart(&mut self) {
        let service = self.service.take().expect("a running service");
        let prefix = service.config().event_prefix.clone();
        let db = service.crash().await;
        let settings = self.settings;
        let service = SpawnedService::start_on(
            db,
            ServiceName::Delivery,
            |config| config.event_prefix = prefix,
            |config| delivery_svc::build_with(config, settings),
        )
        .await;
        self.client = DeliveryServiceClient::new(service.channel().await);
        self.service = Some(service);
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
        foodmesh_shared::testing::deliver(self.config(), ServiceName::Order, envelope).await;
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
