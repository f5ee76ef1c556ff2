//! A real restaurant-svc and a real order-svc, each on port 0 with its own
//! fresh database, wired by static discovery and a private event prefix;
//! clients for both, a menu to order from, and small builders the tests
//! share.

use std::collections::HashMap;
use std::time::Duration;

use foodmesh_proto::common::v1::{Actor, ActorKind, Address, GeoPoint, PageRequest};
use foodmesh_proto::events::v1::Envelope;
use foodmesh_proto::order::v1 as pb;
use foodmesh_proto::restaurant::v1 as rpb;
use foodmesh_shared::ServiceName;
use foodmesh_shared::clock::Clock;
use foodmesh_shared::config::DiscoveryConfig;
use foodmesh_shared::testing::valve::Valve;
use foodmesh_shared::testing::{self, SpawnedService, TestStreams, service_config};
use order_svc::OrderConfig;
use pb::order_service_client::OrderServiceClient;
use prost::Message;
use rpb::restaurant_service_client::RestaurantServiceClient;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The order-svc client every test talks through.
pub type Client = OrderServiceClient<Channel>;

/// A running mesh of two. Dropping it stops both services, drops their
/// databases and deletes its event streams.
pub struct TestApp {
    pub order: SpawnedService,
    pub restaurant: SpawnedService,
    pub pool: PgPool,
    client: Client,
    restaurants: RestaurantServiceClient<Channel>,
    replicas: Vec<oneshot::Sender<()>>,
    /// What order-svc decides by: the system's, or one the test moves.
    pub clock: Clock,
    /// Between order-svc and restaurant-svc, when spawned behind one.
    pub valve: Option<Valve>,
    /// Last: its keys go once the services above have stopped.
    pub streams: TestStreams,
}

/// The menu of the restaurant every test orders from.
pub struct Menu {
    pub restaurant_id: i64,
    /// Margherita, 12.99, with Toppings (up to two: cheese +1.50).
    pub pizza: i64,
    pub cheese: i64,
    /// Lemonade, 3.50.
    pub lemonade: i64,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(OrderConfig::default()).await
}

pub async fn spawn_app_with(settings: OrderConfig) -> TestApp {
    spawn(settings, Reach::Direct, Clock::system()).await
}

/// order-svc reaching restaurant-svc through [`TestApp::valve`].
pub async fn spawn_app_behind_valve() -> TestApp {
    spawn(OrderConfig::default(), Reach::Valve, Clock::system()).await
}

/// order-svc deciding by a clock that stands still until the test moves it.
pub async fn spawn_app_with_manual_clock() -> TestApp {
    let clock = Clock::manual(chrono::Utc::now());
    spawn(OrderConfig::default(), Reach::Direct, clock).await
}

/// order-svc with restaurant-svc's address pointing where nothing listens.
pub async fn spawn_app_with_restaurant_down() -> TestApp {
    spawn(OrderConfig::default(), Reach::Nowhere, Clock::system()).await
}

/// How order-svc reaches restaurant-svc.
enum Reach {
    Direct,
    /// Through a [`Valve`] the test may freeze.
    Valve,
    /// At an address where nothing listens.
    Nowhere,
}

async fn spawn(settings: OrderConfig, reach: Reach, clock: Clock) -> TestApp {
    let restaurant = SpawnedService::start(ServiceName::Restaurant, restaurant_svc::build).await;
    let streams = TestStreams::new();
    let prefix = streams.prefix().to_owned();
    let valve = match reach {
        Reach::Valve => Some(Valve::start(restaurant.addr()).await),
        Reach::Direct | Reach::Nowhere => None,
    };
    let restaurant_url = match (&reach, &valve) {
        (Reach::Nowhere, _) => "http://127.0.0.1:9".to_owned(),
        (_, Some(valve)) => valve.url(),
        (_, None) => restaurant.url(),
    };
    let order = SpawnedService::start_with(
        ServiceName::Order,
        |c| {
            c.event_prefix = prefix.clone();
            c.clock = clock.clone();
            c.discovery = DiscoveryConfig::Static(HashMap::from([(
                ServiceName::Restaurant,
                restaurant_url.clone(),
            )]));
        },
        move |c| order_svc::build_with(c, settings),
    )
    .await;
    let client = OrderServiceClient::new(connect(&order.url()).await);
    let restaurants = RestaurantServiceClient::new(connect(&restaurant.url()).await);
    let pool = PgPool::connect(order.db().url())
        .await
        .expect("order database answers");
    TestApp {
        order,
        restaurant,
        pool,
        client,
        restaurants,
        replicas: Vec::new(),
        clock,
        valve,
        streams,
    }
}

async fn connect(url: &str) -> Channel {
    Channel::from_shared(url.to_owned())
        .expect("address is a URI")
        .connect()
        .await
        .expect("the service accepts connections")
}

impl Drop for TestApp {
    fn drop(&mut self) {
        for stop in self.replicas.drain(..) {
            let _ = stop.send(());
        }
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    pub fn restaurants(&self) -> RestaurantServiceClient<Channel> {
        self.restaurants.clone()
    }

    /// A second order-svc instance on the same database and streams, as
    /// another replica would be; returns a client for it.
    pub async fn spawn_replica(&mut self) -> Client {
        let mut config = service_config(ServiceName::Order, self.order.db());
        config.event_prefix = self.streams.prefix().to_owned();
        config.discovery = DiscoveryConfig::Static(HashMap::from([(
            ServiceName::Restaurant,
            self.restaurant.url(),
        )]));
        let app = order_svc::build_with(config, OrderConfig::default())
            .await
            .expect("the replica builds");
        let url = format!("http://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        self.replicas.push(stop);
        OrderServiceClient::new(connect(&url).await)
    }

    /// A restaurant (delivery fee 2.99, tax 8.88%) with a pizza, a topping
    /// and a lemonade.
    pub async fn a_menu(&self) -> Menu {
        let mut r = self.restaurants();
        let restaurant = r
            .create_restaurant(rpb::CreateRestaurantRequest {
                restaurant: Some(restaurant_input()),
            })
            .await
            .expect("restaurant is created")
            .into_inner();
        let toppings = r
            .create_option_group(rpb::CreateOptionGroupRequest {
                restaurant_id: restaurant.id,
                name: "Toppings".to_owned(),
                min_select: 0,
                max_select: 2,
                options: vec![rpb::OptionInput {
                    id: None,
                    name: "Extra cheese".to_owned(),
                    price_delta_minor: 150,
                    available: None,
                }],
            })
            .await
            .expect("option group is created")
            .into_inner();
        let item = |name: &str, price_minor: i64, groups: Vec<i64>| rpb::CreateMenuItemRequest {
            restaurant_id: restaurant.id,
            name: name.to_owned(),
            price_minor,
            option_group_ids: groups,
            ..Default::default()
        };
        let pizza = r
            .create_menu_item(item("Margherita", 1299, vec![toppings.id]))
            .await
            .expect("pizza is created")
            .into_inner();
        let lemonade = r
            .create_menu_item(item("Lemonade", 350, Vec::new()))
            .await
            .expect("lemonade is created")
            .into_inner();
        Menu {
            restaurant_id: restaurant.id,
            pizza: pizza.id,
            cheese: toppings.options[0].id,
            lemonade: lemonade.id,
        }
    }

    /// A coupon of the restaurant.
    pub async fn a_coupon(&self, request: rpb::CreateCouponRequest) -> rpb::Coupon {
        self.restaurants()
            .create_coupon(request)
            .await
            .expect("coupon is created")
            .into_inner()
    }

    /// Redemptions the restaurant holds for its coupon `code`.
    pub async fn redemptions(&self, restaurant_id: i64, code: &str) -> u32 {
        self.restaurants()
            .list_coupons(rpb::ListCouponsRequest { restaurant_id })
            .await
            .expect("coupons are listed")
            .into_inner()
            .coupons
            .into_iter()
            .find(|c| c.code == code)
            .map(|c| c.redemptions)
            .expect("the coupon exists")
    }

    pub async fn create(
        &self,
        request: pb::CreateOrderRequest,
    ) -> Result<pb::CreateOrderResponse, tonic::Status> {
        self.client()
            .create_order(request)
            .await
            .map(tonic::Response::into_inner)
    }

    /// Creates an order that must be accepted.
    pub async fn an_order(&self, request: pb::CreateOrderRequest) -> pb::Order {
        self.create(request)
            .await
            .expect("order is created")
            .order
            .expect("an order")
    }

    pub async fn get(&self, id: i64) -> pb::Order {
        self.client()
            .get_order(pb::GetOrderRequest {
                id,
                access_token: String::new(),
            })
            .await
            .expect("order is found")
            .into_inner()
    }

    pub async fn history(&self, id: i64) -> Vec<pb::StatusChange> {
        self.client()
            .get_history(pb::GetHistoryRequest {
                order_id: id,
                access_token: String::new(),
            })
            .await
            .expect("history is found")
            .into_inner()
            .changes
    }

    pub async fn set_status(
        &self,
        id: i64,
        status: pb::OrderStatus,
        actor: Actor,
        reason: &str,
    ) -> Result<pb::Order, tonic::Status> {
        self.client()
            .update_order_status(pb::UpdateOrderStatusRequest {
                id,
                status: status.into(),
                reason: reason.to_owned(),
                actor: Some(actor),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Moves an order through `statuses` as staff (and a driver for
    /// OUT_FOR_DELIVERY and what follows it).
    pub async fn advance(&self, id: i64, statuses: &[pb::OrderStatus]) -> pb::Order {
        let mut order = self.get(id).await;
        for status in statuses {
            order = self
                .set_status(id, *status, staff(), "")
                .await
                .unwrap_or_else(|e| panic!("moving to {status:?}: {e:?}"));
        }
        order
    }

    pub async fn cancel(
        &self,
        id: i64,
        actor: Actor,
        reason: &str,
        access_token: &str,
    ) -> Result<pb::Order, tonic::Status> {
        self.client()
            .cancel_order(pb::CancelOrderRequest {
                id,
                reason: reason.to_owned(),
                actor: Some(actor),
                access_token: access_token.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Waits (bounded) until the order has `status`.
    pub async fn wait_for_status(&self, id: i64, status: pb::OrderStatus) -> pb::Order {
        for _ in 0..200 {
            let order = self.get(id).await;
            if order.status() == status {
                return order;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let order = self.get(id).await;
        assert_eq!(
            order.status(),
            status,
            "order {id} never reached {status:?}"
        );
        order
    }

    /// Waits (bounded) until the restaurant holds `n` redemptions of `code`.
    pub async fn wait_for_redemptions(&self, restaurant_id: i64, code: &str, n: u32) {
        for _ in 0..200 {
            if self.redemptions(restaurant_id, code).await == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(self.redemptions(restaurant_id, code).await, n, "{code}");
    }

    /// The types of the events in the outbox, in the order they were
    /// written.
    pub async fn outbox(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_type FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .expect("outbox is readable")
    }

    /// The envelopes in the outbox, in the order they were written.
    pub async fn envelopes(&self) -> Vec<Envelope> {
        let rows: Vec<Vec<u8>> = sqlx::query_scalar("SELECT envelope FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .expect("outbox is readable");
        rows.iter()
            .map(|bytes| Envelope::decode(bytes.as_slice()).expect("an envelope"))
            .collect()
    }

    /// How many rows `table` holds.
    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .fetch_one(&self.pool)
            .await
            .expect("table is readable")
    }

    /// Publishes an event as `from` would: an envelope on its stream. Returns
    /// the envelope, so it can be delivered again.
    pub async fn publish(
        &self,
        from: ServiceName,
        event_type: &str,
        aggregate_id: i64,
        payload: &impl Message,
    ) -> Envelope {
        let envelope = Envelope {
            id: uuid::Uuid::new_v4().to_string(),
            r#type: event_type.to_owned(),
            aggregate_id: aggregate_id.to_string(),
            occurred_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
            trace_context: HashMap::new(),
            payload: payload.encode_to_vec(),
            request_id: String::new(),
        };
        self.deliver(from, &envelope).await;
        envelope
    }

    /// Waits (at most 10 s) until order-svc's consumer has read every
    /// event on `from`'s stream so far and acknowledged it: what it does
    /// with them is done.
    pub async fn wait_until_consumed(&self, from: ServiceName) {
        use redis::AsyncCommands;
        use redis::streams::{StreamInfoGroupsReply, StreamInfoStreamReply};
        let mut redis = redis::Client::open(testing::redis_url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        let stream = foodmesh_shared::events::stream(self.streams.prefix(), from);
        for _ in 0..500 {
            let info: StreamInfoStreamReply = redis.xinfo_stream(&stream).await.expect("stream");
            let groups: StreamInfoGroupsReply = redis.xinfo_groups(&stream).await.expect("groups");
            let consumed = groups.groups.iter().any(|g| {
                g.name == "order-svc"
                    && g.last_delivered_id == info.last_generated_id
                    && g.pending == 0
            });
            if consumed {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("order-svc did not consume everything on {stream} within 10 s");
    }

    /// Puts `envelope` on `from`'s stream (again).
    pub async fn deliver(&self, from: ServiceName, envelope: &Envelope) {
        let mut redis = redis::Client::open(testing::redis_url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("redis answers");
        let stream = foodmesh_shared::events::stream(self.streams.prefix(), from);
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg(foodmesh_shared::events::ENVELOPE_FIELD)
            .arg(envelope.encode_to_vec())
            .query_async(&mut redis)
            .await
            .expect("event is added");
    }

    pub async fn list(&self, request: pb::ListOrdersRequest) -> pb::ListOrdersResponse {
        self.client()
            .list_orders(request)
            .await
            .expect("orders are listed")
            .into_inner()
    }
}

pub fn restaurant_input() -> rpb::RestaurantInput {
    rpb::RestaurantInput {
        name: "Pizza Palace".to_owned(),
        description: "Best pizza in town".to_owned(),
        phone: "+12125550100".to_owned(),
        email: "info@pizza.example".to_owned(),
        cuisine_type: "Italian".to_owned(),
        address: Some(Address {
            street: "123 Main St".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10001".to_owned(),
            country: "US".to_owned(),
        }),
        location: Some(GeoPoint {
            latitude: 40.7128,
            longitude: -74.006,
        }),
        currency: "USD".to_owned(),
        opening_hours: Vec::new(),
        timezone: "America/New_York".to_owned(),
        delivery_fee_minor: 299,
        avg_prep_minutes: 20,
        tax_rate_ppm: 88_800,
        active: None,
    }
}

pub fn oak_ave() -> Address {
    Address {
        street: "456 Oak Ave".to_owned(),
        city: "New York".to_owned(),
        state: "NY".to_owned(),
        zip_code: "10002".to_owned(),
        country: "US".to_owned(),
    }
}

pub fn line(menu_item_id: i64, quantity: u32) -> pb::OrderLineInput {
    pb::OrderLineInput {
        menu_item_id,
        quantity,
        ..Default::default()
    }
}

/// The body of seed 002's "Creating an Order": customer 1, two pizzas at a
/// stated 12.99, delivered to 456 Oak Ave; neither type nor payment named.
pub fn seed_order(menu: &Menu) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        restaurant_id: menu.restaurant_id,
        customer: Some(pb::create_order_request::Customer::CustomerId(1)),
        items: vec![pb::OrderLineInput {
            stated_unit_price_minor: Some(1299),
            ..line(menu.pizza, 2)
        }],
        delivery_address: Some(oak_ave()),
        ..Default::default()
    }
}

/// A takeout order of one pizza by registered customer `customer_id`.
pub fn takeout(menu: &Menu, customer_id: i64) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        restaurant_id: menu.restaurant_id,
        customer: Some(pb::create_order_request::Customer::CustomerId(customer_id)),
        order_type: pb::OrderType::Takeout.into(),
        items: vec![line(menu.pizza, 1)],
        ..Default::default()
    }
}

/// A guest's takeout order of one pizza.
pub fn guest_order(menu: &Menu, name: &str, phone: &str) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        restaurant_id: menu.restaurant_id,
        customer: Some(pb::create_order_request::Customer::Guest(pb::Guest {
            name: name.to_owned(),
            phone: phone.to_owned(),
            email: String::new(),
        })),
        items: vec![line(menu.pizza, 1)],
        ..Default::default()
    }
}

pub fn paid_by(
    method: pb::PaymentMethod,
    request: pb::CreateOrderRequest,
) -> pb::CreateOrderRequest {
    pb::CreateOrderRequest {
        payment_method: method.into(),
        ..request
    }
}

pub fn actor(kind: ActorKind, id: &str) -> Actor {
    Actor {
        kind: kind.into(),
        id: id.to_owned(),
    }
}

pub fn staff() -> Actor {
    actor(ActorKind::Staff, "staff-1")
}

pub fn customer(id: i64) -> Actor {
    actor(ActorKind::Customer, &id.to_string())
}

pub fn page(page_size: u32, page_token: &str) -> Option<PageRequest> {
    Some(PageRequest {
        page_size,
        page_token: page_token.to_owned(),
    })
}

pub fn amount(money: &Option<foodmesh_proto::common::v1::Money>) -> i64 {
    money.as_ref().expect("money is set").amount_minor
}

pub fn totals(order: &pb::Order) -> (i64, i64, i64, i64, i64) {
    let t = order.totals.as_ref().expect("totals");
    (
        amount(&t.subtotal),
        amount(&t.discount),
        amount(&t.delivery_fee),
        amount(&t.tax),
        amount(&t.total),
    )
}

/// The fields a refusal names, in order.
pub use foodmesh_shared::testing::fields;

/// The `ErrorInfo` reason of a refusal, which must be this service's.
pub fn reason(status: &tonic::Status) -> String {
    testing::reason(status, "foodmesh.order")
}
