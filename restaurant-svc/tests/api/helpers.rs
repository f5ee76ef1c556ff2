//! Spawning the service on port 0 with its own database, a client for it,
//! and small builders the tests share.

use foodmesh_proto::common::v1::{Address, GeoPoint, PageRequest};
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::ServiceName;
use foodmesh_shared::testing::{self, TestDb, service_config};
use pb::restaurant_service_client::RestaurantServiceClient;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// The client type every test talks through.
pub type Client = RestaurantServiceClient<Channel>;

/// A running restaurant-svc. Dropping it stops the service, then drops its
/// database.
pub struct TestApp {
    pub channel: Channel,
    client: Client,
    _stop: oneshot::Sender<()>,
    db: TestDb,
}

/// Another instance on a [`TestApp`]'s database, as a second replica would
/// be. Dropping it stops it.
pub struct Replica {
    client: Client,
    stop: oneshot::Sender<()>,
}

impl Replica {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Starts its graceful stop (NOT_SERVING, then draining).
    pub fn stop(self) {
        let _ = self.stop.send(());
    }
}

/// Builds and starts an instance on `db`; its client and its stop.
async fn start_on(db: &TestDb) -> (Channel, oneshot::Sender<()>) {
    let app = restaurant_svc::build(service_config(ServiceName::Restaurant, db))
        .await
        .expect("restaurant-svc builds");
    let addr = app.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("address is a URI")
        .connect()
        .await
        .expect("restaurant-svc accepts connections");
    (channel, stop)
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new("restaurant").await;
    let (channel, stop) = start_on(&db).await;
    TestApp {
        client: RestaurantServiceClient::new(channel.clone()),
        channel,
        _stop: stop,
        db,
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// A second instance on the same database.
    pub async fn replica(&self) -> Replica {
        let (channel, stop) = start_on(&self.db).await;
        Replica {
            client: RestaurantServiceClient::new(channel),
            stop,
        }
    }

    /// A pool on the service's database, for changes made past the
    /// service.
    pub async fn db_pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(self.db.url())
            .await
            .expect("the test database accepts connections")
    }

    pub async fn create_restaurant(&self, input: pb::RestaurantInput) -> pb::Restaurant {
        self.client()
            .create_restaurant(pb::CreateRestaurantRequest {
                restaurant: Some(input),
            })
            .await
            .expect("restaurant is created")
            .into_inner()
    }

    pub async fn a_restaurant(&self) -> pb::Restaurant {
        self.create_restaurant(restaurant_input("Pizza Palace"))
            .await
    }

    pub async fn a_category(
        &self,
        restaurant_id: i64,
        name: &str,
        position: Option<i32>,
    ) -> pb::Category {
        self.client()
            .create_category(pb::CreateCategoryRequest {
                restaurant_id,
                name: name.to_owned(),
                description: String::new(),
                position,
            })
            .await
            .expect("category is created")
            .into_inner()
    }

    pub async fn an_item(
        &self,
        restaurant_id: i64,
        name: &str,
        price_minor: i64,
        groups: &[i64],
    ) -> pb::MenuItem {
        self.client()
            .create_menu_item(pb::CreateMenuItemRequest {
                restaurant_id,
                name: name.to_owned(),
                price_minor,
                option_group_ids: groups.to_vec(),
                ..Default::default()
            })
            .await
            .expect("item is created")
            .into_inner()
    }

    pub async fn a_group(
        &self,
        restaurant_id: i64,
        name: &str,
        (min_select, max_select): (u32, u32),
        options: &[(&str, i64)],
    ) -> pb::OptionGroup {
        self.client()
            .create_option_group(pb::CreateOptionGroupRequest {
                restaurant_id,
                name: name.to_owned(),
                min_select,
                max_select,
                options: options
                    .iter()
                    .map(|(name, delta)| pb::OptionInput {
                        id: None,
                        name: (*name).to_owned(),
                        price_delta_minor: *delta,
                        available: None,
                    })
                    .collect(),
            })
            .await
            .expect("option group is created")
            .into_inner()
    }

    pub async fn a_coupon(&self, request: pb::CreateCouponRequest) -> pb::Coupon {
        self.client()
            .create_coupon(request)
            .await
            .expect("coupon is created")
            .into_inner()
    }

    pub async fn all_restaurants(&self) -> Vec<pb::Restaurant> {
        self.client()
            .list_restaurants(pb::ListRestaurantsRequest {
                page: Some(PageRequest {
                    page_size: 100,
                    page_token: String::new(),
                }),
                include_inactive: true,
                ..Default::default()
            })
            .await
            .expect("listing works")
            .into_inner()
            .restaurants
    }
}

pub fn restaurant_input(name: &str) -> pb::RestaurantInput {
    pb::RestaurantInput {
        name: name.to_owned(),
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
        opening_hours: vec![pb::OpeningHours {
            day_of_week: 1,
            opens: "11:00".to_owned(),
            closes: "23:00".to_owned(),
        }],
        timezone: "America/New_York".to_owned(),
        delivery_fee_minor: 299,
        avg_prep_minutes: 20,
        tax_rate_ppm: 88_800,
        active: None,
    }
}

pub fn price_line(menu_item_id: i64, quantity: u32, option_ids: &[i64]) -> pb::PriceLineRequest {
    pb::PriceLineRequest {
        menu_item_id,
        quantity,
        option_ids: option_ids.to_vec(),
    }
}

/// The fields a refusal names, in order.
pub use foodmesh_shared::testing::fields;

/// Sends `group` back as it is, but with option `off` unavailable: how a
/// restaurant takes one choice off the menu.
pub fn with_option_off(
    restaurant_id: i64,
    group: &pb::OptionGroup,
    off: i64,
) -> pb::UpdateOptionGroupRequest {
    pb::UpdateOptionGroupRequest {
        restaurant_id,
        option_group_id: group.id,
        options: group
            .options
            .iter()
            .map(|o| pb::OptionInput {
                id: Some(o.id),
                name: o.name.clone(),
                price_delta_minor: amount(&o.price_delta),
                available: Some(o.id != off),
            })
            .collect(),
        replace_options: true,
        ..Default::default()
    }
}

pub fn reason(status: &tonic::Status) -> String {
    testing::reason(status, "foodmesh.restaurant")
}

pub fn amount(money: &Option<foodmesh_proto::common::v1::Money>) -> i64 {
    money.as_ref().expect("money is set").amount_minor
}

/// How many `GetMenu` calls of this test process were answered from a
/// menu cache (nextest runs each test in its own process).
pub fn menu_cache_hits() -> u64 {
    counter("menu_cache_hits_total")
}

/// How many `PriceOrder` calls of this test process were answered from a
/// cache.
pub fn pricing_cache_hits() -> u64 {
    counter("pricing_cache_hits_total")
}

/// The sum of the counter `name` over every instance of this process.
fn counter(name: &str) -> u64 {
    let prefix = format!("{name} ");
    foodmesh_shared::telemetry::prometheus()
        .render()
        .lines()
        .filter_map(|line| line.strip_prefix(prefix.as_str()))
        .filter_map(|value| value.trim().parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}
