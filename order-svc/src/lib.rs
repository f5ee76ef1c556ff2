//! order-svc: orders and customers, and the order lifecycle every other
//! service reacts to.
//!
//! An order is priced from the restaurant's current menu through
//! restaurant-svc (never from the client's figures), gets a six-character
//! order number, redeems its coupon, and then moves through
//! `PENDING → CONFIRMED → PREPARING → READY → (OUT_FOR_DELIVERY →)
//! COMPLETED`, or to `CANCELLED`, by the one transition table in
//! [`domain::lifecycle`] — whether the move comes from the API, from another
//! service's event, or from the payment timeout. Every change is written
//! with its history entry and its event (through the outbox) in one
//! transaction, and announced to live watchers once it has committed.
//!
//! # Layout
//! - [`domain`] — the rules: parsed inputs, the transition table, totals,
//!   order numbers and access tokens, and [`domain::DomainError`]. Knows
//!   neither SQL nor gRPC.
//! - [`store`] — every SQL statement.
//! - [`service`] — the use cases, each decided in the domain and written
//!   in one unit of work with its outbox events.
//! - [`restaurant`] — the client of restaurant-svc (pricing and coupons).
//! - [`events`] — the consumers of other services' events.
//! - [`watch`] — live order updates across replicas (Postgres
//!   `LISTEN/NOTIFY`).
//! - [`tasks`] — the payment timeout and the coupon releaser.
//! - [`grpc`] and [`convert`] — the `OrderService` implementation and the
//!   domain ↔ protobuf conversions it shares with the events.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.
//!
//! # Configuration
//! Besides the variables every service reads ([`ServiceConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ORDER_TIMEOUT_MINUTES` | `15` | a PENDING order unpaid this long is cancelled (actor SYSTEM, reason "payment timeout") |
//! | `ORDER_TIMEOUT_SECONDS` | unset | the same in seconds; wins over the minutes when set (short timeouts for tests and demos) |
//! | `ORDER_CANCEL_WINDOW_SECONDS` | `120` | how long after confirmation a customer (or guest) may still cancel |
//!
//! # Decisions
//! - **Customer ids.** Registered customers and guest profiles share one
//!   id space without colliding: a registered customer's profile id is the
//!   positive id the auth system gave them (their token's subject, made on
//!   their first order or profile update), and guest profiles take negative
//!   ids from their own database sequence. Guest checkout finds the guest
//!   profile by phone (E.164) and updates its name and email; it never
//!   touches a registered customer's profile, even one with the same phone.
//! - **Idempotency** and **coupon holds** are decided where an order is
//!   placed: see `service::create`.
//! - **Coupons on item edits.** The coupon's terms (percent or fixed, value,
//!   minimum order) are kept with the order when it is redeemed; when items
//!   change while PENDING the discount is recomputed from them on the new
//!   subtotal — a percentage follows it, a fixed amount is capped by it, and
//!   below the minimum order the discount is zero until the subtotal
//!   reaches it again. The redemption itself stays held.
//! - **Coupon releases are never lost.** A cancellation queues its release
//!   in its own transaction, and a redemption whose order was never
//!   written falls due when its hold runs out; [`tasks`] retries each
//!   release with backoff until restaurant-svc accepts it.
//! - **Cancellation window** runs from confirmation, when the kitchen gets
//!   the order.

pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod restaurant;
pub mod service;
pub mod store;
pub mod tasks;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use foodmesh_proto::order::v1::order_service_server::OrderServiceServer;
use foodmesh_shared::config::{ConfigError, parse_var};
use foodmesh_shared::db;
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::events::EventBus;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig, ServiceName};

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// The settings only order-svc reads (see the table above).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderConfig {
    /// A PENDING order unpaid this long is cancelled.
    pub order_timeout: Duration,
    /// How long after confirmation a customer may still cancel.
    pub cancel_window: Duration,
}

impl Default for OrderConfig {
    fn default() -> Self {
        Self {
            order_timeout: Duration::from_secs(15 * 60),
            cancel_window: Duration::from_secs(120),
        }
    }
}

impl OrderConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable that is set but is not a whole number, named in the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment.
    ///
    /// # Errors
    /// A variable that is set but is not a whole number, named in the error.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let minutes: u64 = parse_var(lookup, "ORDER_TIMEOUT_MINUTES", "15".to_owned())?;
        let seconds: Option<u64> = match lookup("ORDER_TIMEOUT_SECONDS").filter(|s| !s.is_empty()) {
            Some(_) => Some(parse_var(lookup, "ORDER_TIMEOUT_SECONDS", String::new())?),
            None => None,
        };
        let window: u64 = parse_var(lookup, "ORDER_CANCEL_WINDOW_SECONDS", "120".to_owned())?;
        Ok(Self {
            order_timeout: Duration::from_secs(
                seconds.unwrap_or_else(|| minutes.saturating_mul(60)),
            ),
            cancel_window: Duration::from_secs(window),
        })
    }
}

/// Builds the service with its settings from the environment.
///
/// # Errors
/// A bad order-svc variable, or as [`build_with`].
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    build_with(config, OrderConfig::from_env()?).await
}

/// Connects and migrates the database, binds the listener, and starts the
/// outbox relay, the event consumer, the change feed, the payment timeout
/// and the coupon releaser with the service.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, restaurant-svc's
/// address is malformed, or the address is taken.
pub async fn build_with(
    config: ServiceConfig,
    settings: OrderConfig,
) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    let discovery = Discovery::from_config(&config.discovery);
    let restaurant = restaurant::RestaurantClient::new(discovery.channel(ServiceName::Restaurant)?);
    let bus = EventBus::new(&config);
    let store = store::Store::new(pool.clone());
    let orders = service::Orders::new(
        store.clone(),
        restaurant,
        bus.own_stream(),
        settings,
        config.clock.clone(),
    );

    let server = GrpcServer::new();
    // After the recorder exists (the server makes sure it does): help
    // given before is lost, and the open orders gauge is set at once.
    describe_metrics();
    let (feed, feed_tasks) = watch::ChangeFeed::connect(store, server.health()).await?;
    let server = server.add_service(OrderServiceServer::new(grpc::OrderApi::new(
        orders.clone(),
        feed,
    )));

    let relay = bus.relay(pool.clone()).await?;
    let consumer = bus
        .consumer(
            pool.clone(),
            &[
                ServiceName::Kitchen,
                ServiceName::Accounting,
                ServiceName::Delivery,
            ],
            Arc::new(events::router(&orders)),
        )
        .await?;

    let mut app = Application::bind(&config, server, pool, discovery).await?;
    app.background("outbox relay", |stop| relay.run(stop));
    app.background("event consumer", |stop| consumer.run(stop));
    app.background("order change feed", |stop| feed_tasks.run(stop));
    let timer = orders.clone();
    app.background("payment timeout", |stop| {
        tasks::payment_timeout(timer, stop)
    });
    let counter = orders.clone();
    app.background("open orders gauge", |stop| {
        tasks::open_orders_gauge(counter, stop)
    });
    app.background("coupon releaser", |stop| {
        tasks::coupon_releaser(orders, stop)
    });
    tracing::info!(
        order_timeout_s = settings.order_timeout.as_secs(),
        cancel_window_s = settings.cancel_window.as_secs(),
        "order settings"
    );
    Ok(app)
}

/// Help text for order-svc's business metrics on `/metrics`.
fn describe_metrics() {
    metrics::describe_counter!(
        "orders_created_total",
        "Orders placed, by where (source) and how they are fulfilled (order_type)."
    );
    metrics::describe_gauge!(
        "orders_open",
        "Orders in each status that is not final (PENDING to OUT_FOR_DELIVERY), counted every 15 s."
    );
    metrics::describe_counter!(
        "order_transitions_total",
        "Orders entering a status, by status (to) and who moved them (actor)."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_are_fifteen_minutes_and_two_minutes() {
        let config = OrderConfig::from_lookup(&lookup(&[])).expect("defaults parse");
        assert_eq!(config, OrderConfig::default());
        assert_eq!(config.order_timeout, Duration::from_secs(900));
    }

    #[test]
    fn seconds_win_over_minutes() {
        let config = OrderConfig::from_lookup(&lookup(&[
            ("ORDER_TIMEOUT_MINUTES", "5"),
            ("ORDER_TIMEOUT_SECONDS", "3"),
            ("ORDER_CANCEL_WINDOW_SECONDS", "30"),
        ]))
        .expect("parses");
        assert_eq!(config.order_timeout, Duration::from_secs(3));
        assert_eq!(config.cancel_window, Duration::from_secs(30));
        let minutes =
            OrderConfig::from_lookup(&lookup(&[("ORDER_TIMEOUT_MINUTES", "5")])).expect("parses");
        assert_eq!(minutes.order_timeout, Duration::from_secs(300));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = OrderConfig::from_lookup(&lookup(&[("ORDER_TIMEOUT_SECONDS", "soon")]))
            .expect_err("must fail");
        assert!(
            err.to_string().starts_with("ORDER_TIMEOUT_SECONDS"),
            "{err}"
        );
    }
}
