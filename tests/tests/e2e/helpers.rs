//! The harness: a mesh per test and an HTTP client that keeps each
//! answer's exact text, so decimals can be checked digit for digit.
//!
//! [`Mesh::start`] runs restaurant-svc and the gateway; [`Mesh::with_orders`]
//! adds order-svc and kitchen-svc, all on their own fresh databases, on
//! port 0, sharing one event-stream prefix so they hear each other's events
//! and no other test's. Every listener is bound before it serves, so no
//! test sleeps to wait for one; what happens through events is awaited by
//! polling with a deadline ([`eventually`]). [`RedisServer`] is a Redis of
//! a test's own (append-only file, fsync on every write), to be killed and
//! restarted; [`EventStream`] reads Server-Sent Events.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Once;
use std::time::Duration;

use foodmesh_shared::ServiceName;
use foodmesh_shared::config::{DiscoveryConfig, LogFormat, TelemetryConfig};
use foodmesh_shared::testing::smtp::SmtpSink;
use foodmesh_shared::testing::valve::Valve;
use foodmesh_shared::testing::{SpawnedService, TestDb, TestStreams};
use gateway::GatewayConfig;
use gateway::auth::Role;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// The secret the test gateway signs and checks tokens with.
pub const SECRET: &str = "e2e-test-secret";

/// Where the services a test does not start are said to be: a port that
/// refuses connections.
const NOWHERE: &str = "http://127.0.0.1:1";

/// How long anything that travels through events may take before a test
/// gives up on it.
pub const EVENTUAL: Duration = Duration::from_secs(30);

static LOGS: Once = Once::new();

/// Logs only when asked for (`RUST_LOG=info cargo test ...`).
fn init_logs() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        LOGS.call_once(|| {
            let config = TelemetryConfig {
                log_format: LogFormat::Pretty,
                log_filter: filter,
                otlp_endpoint: None,
            };
            if let Ok(telemetry) = foodmesh_shared::telemetry::init("e2e", &config) {
                // Kept for the whole test process.
                std::mem::forget(telemetry);
            }
        });
    }
}

/// The Redis the mesh uses unless a test brings its own.
pub fn default_redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// The services and the gateway, running for one test.
pub struct Mesh {
    base: String,
    http: reqwest::Client,
    // No overall timeout: a live stream lasts as long as the test reads it.
    streaming: reqwest::Client,
    // Sending (or dropping the sender) stops the gateway gracefully.
    stop_gateway: Option<oneshot::Sender<()>>,
    // None between a crash and a restart.
    restaurant: Option<SpawnedService>,
    restaurant_addr: std::net::SocketAddr,
    // Where the others reach it: its own address or the valve's.
    restaurant_url: String,
    valve: Option<Valve>,
    order: Option<SpawnedService>,
    // Where order-svc listens; a restart binds the same address, so the
    // gateway finds it again.
    order_addr: Option<std::net::SocketAddr>,
    // Kept running for as long as the mesh lives.
    kitchen: Option<SpawnedService>,
    // None between a crash and a restart.
    accounting: Option<SpawnedService>,
    accounting_addr: Option<std::net::SocketAddr>,
    // Kept running for as long as the mesh lives.
    _delivery: Option<SpawnedService>,
    _notification: Option<SpawnedService>,
    // Where notification-svc's email goes.
    smtp: Option<SmtpSink>,
    redis_url: String,
    gateway_config: GatewayConfig,
    // Each stops when its sender is dropped with the mesh.
    more_gateways: std::sync::Mutex<Vec<oneshot::Sender<()>>>,
    /// Last: its keys go once the services above have stopped.
    streams: TestStreams,
}

/// How to run a mesh: which Redis carries the events (and optionally
/// another one for order-svc alone), whether restaurant-svc sits behind a
/// valve, and the gateway's settings.
#[derive(Debug, Clone)]
pub struct MeshOptions {
    /// The event transport of restaurant-svc and kitchen-svc (and of
    /// order-svc unless `order_redis_url` is set).
    pub redis_url: String,
    /// A Redis for order-svc alone (to cut its relay off).
    pub order_redis_url: Option<String>,
    /// Whether restaurant-svc is reached through a [`Valve`] the test may
    /// freeze ([`Mesh::valve`]).
    pub restaurant_valve: bool,
    /// The Redis the gateway keeps its rate limits in, when not
    /// `redis_url`.
    pub gateway_redis_url: Option<String>,
    /// Changes the gateway's configuration before it starts.
    pub tune_gateway: fn(&mut GatewayConfig),
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            redis_url: default_redis_url(),
            order_redis_url: None,
            restaurant_valve: false,
            gateway_redis_url: None,
            tune_gateway: |_| {},
        }
    }
}

fn static_map(entries: &[(ServiceName, String)]) -> DiscoveryConfig {
    let mut map: HashMap<ServiceName, String> = ServiceName::ALL
        .into_iter()
        .map(|s| (s, NOWHERE.to_owned()))
        .collect();
    for (service, url) in entries {
        map.insert(*service, url.clone());
    }
    DiscoveryConfig::Static(map)
}

/// restaurant-svc on `db`, publishing under `prefix` through `redis_url`,
/// listening on `listen` (port 0 when none).
async fn start_restaurant_svc(
    db: TestDb,
    prefix: &str,
    redis_url: &str,
    listen: Option<std::net::SocketAddr>,
) -> SpawnedService {
    SpawnedService::start_on(
        db,
        ServiceName::Restaurant,
        on_mesh(prefix, redis_url, listen),
        restaurant_svc::build,
    )
    .await
}

/// How a service joins the mesh: its events under `prefix` through
/// `redis_url`, listening on `listen` (port 0 when none).
fn on_mesh(
    prefix: &str,
    redis_url: &str,
    listen: Option<std::net::SocketAddr>,
) -> impl FnOnce(&mut foodmesh_shared::ServiceConfig) + use<> {
    let (prefix, redis) = (prefix.to_owned(), redis_url.to_owned());
    move |config| {
        config.event_prefix = prefix;
        config.redis_url = redis;
        if let Some(addr) = listen {
            config.listen_addr = addr;
        }
    }
}

/// order-svc on `db`, publishing under `prefix` through `redis_url`,
/// pricing through restaurant-svc at `restaurant_url`, listening on
/// `listen` (port 0 when none), with the default order settings.
async fn start_order_svc(
    db: TestDb,
    prefix: &str,
    redis_url: &str,
    restaurant_url: &str,
    listen: Option<std::net::SocketAddr>,
) -> SpawnedService {
    let discovery = static_map(&[(ServiceName::Restaurant, restaurant_url.to_owned())]);
    let join = on_mesh(prefix, redis_url, listen);
    SpawnedService::start_on(
        db,
        ServiceName::Order,
        move |config| {
            join(config);
            config.discovery = discovery;
        },
        |config| order_svc::build_with(config, order_svc::OrderConfig::default()),
    )
    .await
}

/// accounting-svc on `db` with the mesh's event streams, listening on
/// `listen` when given.
async fn start_accounting_svc(
    db: TestDb,
    prefix: &str,
    redis_url: &str,
    listen: Option<std::net::SocketAddr>,
) -> SpawnedService {
    SpawnedService::start_on(
        db,
        ServiceName::Accounting,
        on_mesh(prefix, redis_url, listen),
        |config| {
            let secrets = std::collections::HashMap::from([(
                accounting_svc::providers::mobile_money::NAME.to_owned(),
                accounting_svc::SANDBOX_WEBHOOK_SECRET.as_bytes().to_vec(),
            )]);
            accounting_svc::build_with(config, secrets)
        },
    )
    .await
}

/// notification-svc with the mesh's event streams, its email sent over
/// SMTP to `smtp` and its SMS and push to the log.
async fn start_notification_svc(prefix: &str, redis_url: &str, smtp: &SmtpSink) -> SpawnedService {
    let url = smtp.url();
    let environment = move |k: &str| match k {
        "NOTIFY_EMAIL_PROVIDER" => Some("smtp".to_owned()),
        "SMTP_URL" => Some(url.clone()),
        _ => None,
    };
    let providers =
        notification_svc::providers(&environment).expect("the SMTP sink's settings are whole");
    let mut settings = notification_svc::service::Settings::default();
    settings.rate.email = 1000;
    settings.backoff.base = Duration::from_millis(100);
    SpawnedService::start_with(
        ServiceName::Notification,
        on_mesh(prefix, redis_url, None),
        |config| notification_svc::build_with(config, settings, providers),
    )
    .await
}

impl Mesh {
    /// Starts restaurant-svc on a fresh database and the gateway pointing
    /// at it; the other five services are unreachable.
    pub async fn start() -> Mesh {
        Self::build(false, MeshOptions::default()).await
    }

    /// As [`Mesh::start`], with `options` (the orders' transport unused).
    pub async fn start_on(options: MeshOptions) -> Mesh {
        Self::build(false, options).await
    }

    /// restaurant-svc, order-svc and kitchen-svc on the real Redis, and
    /// the gateway in front of them.
    pub async fn with_orders() -> Mesh {
        Self::build(true, MeshOptions::default()).await
    }

    /// As [`Mesh::with_orders`], with the event transport `options` names.
    pub async fn with_orders_on(options: MeshOptions) -> Mesh {
        Self::build(true, options).await
    }

    async fn build(with_orders: bool, options: MeshOptions) -> Mesh {
        init_logs();
        let orders = with_orders.then(|| options.clone());
        let mut streams = TestStreams::new();
        streams.also_on(&options.redis_url);
        if let Some(url) = &options.order_redis_url {
            streams.also_on(url);
        }
        let prefix = streams.prefix().to_owned();
        let db = TestDb::new(ServiceName::Restaurant.short()).await;
        let restaurant = start_restaurant_svc(db, &prefix, &options.redis_url, None).await;
        let valve = match options.restaurant_valve {
            true => Some(Valve::start(restaurant.addr()).await),
            false => None,
        };
        let restaurant_url = valve.as_ref().map_or_else(|| restaurant.url(), Valve::url);
        let mut mesh_entries = vec![(ServiceName::Restaurant, restaurant_url.clone())];
        let (order, kitchen, accounting, delivery, notification, smtp) = match &orders {
            None => (None, None, None, None, None, None),
            Some(options) => {
                let kitchen = SpawnedService::start_with(
                    ServiceName::Kitchen,
                    on_mesh(&prefix, &options.redis_url, None),
                    kitchen_svc::build,
                )
                .await;
                let order_redis = options
                    .order_redis_url
                    .clone()
                    .unwrap_or_else(|| options.redis_url.clone());
                let db = TestDb::new(ServiceName::Order.short()).await;
                let order = start_order_svc(db, &prefix, &order_redis, &restaurant_url, None).await;
                let db = TestDb::new(ServiceName::Accounting.short()).await;
                let accounting = start_accounting_svc(db, &prefix, &options.redis_url, None).await;
                let delivery = SpawnedService::start_with(
                    ServiceName::Delivery,
                    on_mesh(&prefix, &options.redis_url, None),
                    |config| {
                        delivery_svc::build_with(config, delivery_svc::service::Settings::default())
                    },
                )
                .await;
                mesh_entries.push((ServiceName::Kitchen, kitchen.url()));
                mesh_entries.push((ServiceName::Order, order.url()));
                mesh_entries.push((ServiceName::Accounting, accounting.url()));
                let smtp = SmtpSink::start().await;
                let notification = start_notification_svc(&prefix, &options.redis_url, &smtp).await;
                mesh_entries.push((ServiceName::Delivery, delivery.url()));
                mesh_entries.push((ServiceName::Notification, notification.url()));
                (
                    Some(order),
                    Some(kitchen),
                    Some(accounting),
                    Some(delivery),
                    Some(notification),
                    Some(smtp),
                )
            }
        };

        let mut config = GatewayConfig::from_lookup(&|_| None).expect("defaults parse");
        config.listen_addr = "127.0.0.1:0".parse().expect("literal address");
        config.jwt_secret = SECRET.to_owned();
        config.jwt_secret_is_default = false;
        config.discovery = static_map(&mesh_entries);
        config.rate_limits.redis_url = options
            .gateway_redis_url
            .clone()
            .unwrap_or_else(|| options.redis_url.clone());
        config.rate_limits.key_prefix = prefix.clone();
        (options.tune_gateway)(&mut config);
        let gateway_config = config.clone();
        let gateway = gateway::build(config).await.expect("gateway builds");
        let base = format!("http://{}", gateway.local_addr());
        let (stop_gateway, stopped) = oneshot::channel::<()>();
        tokio::spawn(gateway.run(async move {
            let _ = stopped.await;
        }));

        Mesh {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client builds"),
            streaming: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()
                .expect("client builds"),
            stop_gateway: Some(stop_gateway),
            order_addr: order.as_ref().map(SpawnedService::addr),
            restaurant_addr: restaurant.addr(),
            restaurant: Some(restaurant),
            restaurant_url,
            valve,
            order,
            kitchen,
            accounting_addr: accounting.as_ref().map(SpawnedService::addr),
            accounting,
            _delivery: delivery,
            _notification: notification,
            smtp,
            redis_url: options.redis_url,
            gateway_config,
            more_gateways: std::sync::Mutex::default(),
            streams,
        }
    }

    /// Another gateway process's worth, with the first one's configuration
    /// on a port of its own: the same services, the same Redis. Its base
    /// URL; it serves until the mesh is dropped.
    pub async fn second_gateway(&self) -> String {
        let mut config = self.gateway_config.clone();
        config.listen_addr = "127.0.0.1:0".parse().expect("literal address");
        let gateway = gateway::build(config).await.expect("gateway builds");
        let base = format!("http://{}", gateway.local_addr());
        let (stop, stopped) = oneshot::channel::<()>();
        self.more_gateways
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(stop);
        tokio::spawn(gateway.run(async move {
            let _ = stopped.await;
        }));
        base
    }

    /// Starts the gateway's graceful stop (deregister, end live streams,
    /// drain).
    pub fn stop_gateway(&mut self) {
        if let Some(stop) = self.stop_gateway.take() {
            let _ = stop.send(());
        }
    }

    /// The SMTP server notification-svc sends email to.
    pub fn smtp(&self) -> &SmtpSink {
        self.smtp.as_ref().expect("a mesh with orders")
    }

    /// The stream `service` publishes its events to.
    pub fn stream_of(&self, service: ServiceName) -> String {
        foodmesh_shared::events::stream(self.streams.prefix(), service)
    }

    /// The Redis restaurant-svc and kitchen-svc use.
    pub fn redis_url(&self) -> &str {
        &self.redis_url
    }

    /// order-svc's database.
    pub fn order_db(&self) -> &TestDb {
        self.order.as_ref().expect("a mesh with orders").db()
    }

    /// Kills order-svc as a crashed process dies (background work cut
    /// wherever it is) and hands back its database.
    pub async fn crash_order_svc(&mut self) -> TestDb {
        self.order.take().expect("a mesh with orders").crash().await
    }

    /// Starts order-svc again on `db` (the crashed one's), at the address
    /// it had, with `redis_url` as its event transport.
    pub async fn restart_order_svc(&mut self, db: TestDb, redis_url: &str) {
        let order = start_order_svc(
            db,
            self.streams.prefix(),
            redis_url,
            &self.restaurant_url,
            self.order_addr,
        )
        .await;
        self.order = Some(order);
    }

    /// The valve in front of restaurant-svc.
    pub fn valve(&self) -> &Valve {
        self.valve
            .as_ref()
            .expect("a mesh started with a restaurant valve")
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// restaurant-svc's URL, for changes made past the gateway.
    pub fn restaurant_url(&self) -> String {
        format!("http://{}", self.restaurant_addr)
    }

    /// Kills kitchen-svc as a crashed process dies and hands back its
    /// database.
    pub async fn crash_kitchen_svc(&mut self) -> TestDb {
        self.kitchen
            .take()
            .expect("a mesh with orders")
            .crash()
            .await
    }

    /// Kills accounting-svc as a crashed process dies and hands back its
    /// database.
    pub async fn crash_accounting_svc(&mut self) -> TestDb {
        self.accounting
            .take()
            .expect("a mesh with orders")
            .crash()
            .await
    }

    /// Starts accounting-svc again on `db`, at the address it had.
    pub async fn restart_accounting_svc(&mut self, db: TestDb) {
        let accounting = start_accounting_svc(
            db,
            self.streams.prefix(),
            &self.redis_url,
            self.accounting_addr,
        )
        .await;
        self.accounting = Some(accounting);
    }

    /// Kills restaurant-svc as a crashed process dies and hands back its
    /// database.
    pub async fn crash_restaurant_svc(&mut self) -> TestDb {
        self.restaurant
            .take()
            .expect("restaurant-svc running")
            .crash()
            .await
    }

    /// Starts restaurant-svc again on `db`, at the address it had.
    pub async fn restart_restaurant_svc(&mut self, db: TestDb) {
        let restaurant = start_restaurant_svc(
            db,
            self.streams.prefix(),
            &self.redis_url,
            Some(self.restaurant_addr),
        )
        .await;
        self.restaurant = Some(restaurant);
    }

    /// How many public menu reads the gateway has answered from its
    /// cache, from its `/metrics`.
    pub async fn menu_cache_hits(&self) -> u64 {
        self.metric(r#"gateway_menu_cache_hits_total{kind="menu"}"#)
            .await
            .map_or(0, |v| v as u64)
    }

    /// The value of metric line `series` (name and labels) in the
    /// gateway's `/metrics`, if it has one.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let reply = self.get("/metrics", None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply
            .text
            .lines()
            .filter_map(|line| line.strip_prefix(series))
            .find_map(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.trim().parse().ok())
    }

    /// A token for `role`, valid for an hour.
    pub fn token(role: Role, restaurant_id: Option<i64>) -> String {
        Self::token_for(role, "e2e-tester", restaurant_id)
    }

    /// A token for `role` with subject `subject`, valid for an hour.
    pub fn token_for(role: Role, subject: &str, restaurant_id: Option<i64>) -> String {
        gateway::auth::issue(
            SECRET.as_bytes(),
            role,
            subject,
            restaurant_id,
            Duration::from_secs(3600),
        )
        .expect("token issues")
    }

    /// The token of registered customer `id` (their id is the subject).
    pub fn customer_id(id: i64) -> String {
        Self::token_for(Role::Customer, &id.to_string(), None)
    }

    /// The token of staff member `name` of `restaurant_id`.
    pub fn staff_named(restaurant_id: i64, name: &str) -> String {
        Self::token_for(Role::Staff, name, Some(restaurant_id))
    }

    pub fn admin() -> String {
        Self::token(Role::Admin, None)
    }

    /// A token of staff of `restaurant_id`.
    pub fn staff(restaurant_id: i64) -> String {
        Self::token(Role::Staff, Some(restaurant_id))
    }

    pub fn customer() -> String {
        Self::token(Role::Customer, None)
    }

    /// Sends any request; `body` goes out as-is with `content_type`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.body(body).send().await.expect("gateway answers");
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.raw(Method::GET, path, token, None, Vec::new()).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.raw(Method::DELETE, path, token, None, Vec::new())
            .await
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::PUT, path, token, body).await
    }

    /// Any request with extra headers (`X-Order-Token`,
    /// `Idempotency-Key`) and an optional JSON body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("gateway answers");
        Reply::read(response).await
    }

    /// `GET path` with an order's access token in `X-Order-Token`.
    pub async fn get_as_guest(&self, path: &str, order_token: &str) -> Reply {
        self.send(
            Method::GET,
            path,
            None,
            &[("x-order-token", order_token)],
            None,
        )
        .await
    }

    /// Opens a Server-Sent Events stream; panics unless it opens (200,
    /// `text/event-stream`).
    pub async fn events(&self, path: &str, token: Option<&str>) -> EventStream {
        let mut request = self
            .streaming
            .get(format!("{}{path}", self.base))
            .header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("gateway answers");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        if status != 200 || !content_type.starts_with("text/event-stream") {
            let text = response.text().await.unwrap_or_default();
            panic!("{path} did not open a stream: {status} {content_type} {text}");
        }
        EventStream {
            response,
            buffer: String::new(),
        }
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::POST, path, token, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::PATCH, path, token, body).await
    }

    /// Any method with a JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Reply {
        self.raw(
            method,
            path,
            token,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// Creates a restaurant named `name` in `city` as an admin; its id.
    pub async fn restaurant_in(&self, name: &str, city: &str) -> i64 {
        let body = serde_json::json!({
            "name": name,
            "address": {
                "street": "1 Test St", "city": city, "state": "NY",
                "zip_code": "10001", "country": "US"
            }
        });
        let reply = self
            .post("/api/restaurants", Some(&Self::admin()), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_i64().expect("id")
    }

    /// Creates a restaurant in New York; its id.
    pub async fn restaurant(&self, name: &str) -> i64 {
        self.restaurant_in(name, "New York").await
    }

    /// Adds a menu item as an admin; its id.
    pub async fn item(&self, restaurant_id: i64, body: &Value) -> i64 {
        let reply = self
            .post(
                &format!("/api/restaurants/{restaurant_id}/menu"),
                Some(&Self::admin()),
                body,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_i64().expect("id")
    }

    /// Every item of the menu, unavailable ones included, as an admin
    /// sees it: for checking that a refused write left nothing behind.
    pub async fn all_items(&self, restaurant_id: i64) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/api/restaurants/{restaurant_id}/menu?include_unavailable=true"),
                Some(&Self::admin()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every restaurant, inactive ones included.
    pub async fn all_restaurants(&self) -> Vec<Value> {
        let reply = self
            .get(
                "/api/restaurants?include_inactive=true&limit=100",
                Some(&Self::admin()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// One answer: status, headers and the body's exact text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as sent.
    pub text: String,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body reads");
        Reply {
            status,
            headers,
            text,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json answer with `status` naming `field` (when
    /// given) among its errors; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, field: Option<&str>) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{}", self.text);
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{}",
            self.text
        );
        assert!(
            problem["request_id"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{}",
            self.text
        );
        if let Some(field) = field {
            let named = problem["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["field"] == field));
            assert!(named, "expected `{field}` in {}", self.text);
        }
        problem
    }
}

/// `base` with the fields of `patch` set, and those `patch` sets to
/// `null` removed: one bad field at a time on a good body.
pub fn with(base: &Value, patch: &Value) -> Value {
    let mut body = base.clone();
    if let (Some(body), Some(patch)) = (body.as_object_mut(), patch.as_object()) {
        for (k, v) in patch {
            if v.is_null() {
                body.remove(k);
            } else {
                body.insert(k.clone(), v.clone());
            }
        }
    }
    body
}

/// Waits for `probe` to find something, polling every 50 ms, and panics
/// naming `what` if `within` passes first. What travels through events
/// is awaited this way: never with a fixed sleep.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "gave up after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// `event:`; `message` when absent.
    pub name: String,
    /// `id:`, if sent.
    pub id: Option<String>,
    /// `data:` lines, joined with newlines.
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

/// A Server-Sent Events response being read.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// The next event, or `None` when the server ended the stream. Comment
    /// lines (keep-alives) are skipped. Panics if nothing arrives within
    /// `within`.
    pub async fn next(&mut self, within: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse_event(&block) {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!("no event within {within:?}; buffered: {:?}", self.buffer)
                })
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self
                    .buffer
                    .push_str(&String::from_utf8_lossy(&bytes).replace("\r\n", "\n")),
                None => return None,
            }
        }
    }

    /// Reads events until one named `name` comes whose data satisfies
    /// `matches`; panics if the stream ends or `within` passes first.
    pub async fn until(
        &mut self,
        name: &str,
        within: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> SseEvent {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self
                .next(left)
                .await
                .unwrap_or_else(|| panic!("the stream ended before a `{name}` event"));
            if event.name == name && matches(&event.json()) {
                return event;
            }
        }
    }
}

fn parse_event(block: &str) -> Option<SseEvent> {
    let mut name = None;
    let mut id = None;
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => name = Some(value.to_owned()),
            "id" => id = Some(value.to_owned()),
            "data" => data.push(value),
            _ => {}
        }
    }
    if name.is_none() && data.is_empty() {
        return None;
    }
    Some(SseEvent {
        name: name.unwrap_or_else(|| "message".to_owned()),
        id,
        data: data.join("\n"),
    })
}

/// A `redis-server` of the test's own on a free port, with its
/// append-only file fsynced on every write in a directory of its own, as
/// the platform runs Redis wherever it carries events. It can be killed
/// and started again on the same port and data.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<tokio::process::Child>,
}

impl RedisServer {
    /// Starts one and waits (bounded) until it answers.
    pub async fn start() -> RedisServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = std::env::temp_dir().join(format!(
            "foodmesh-e2e-redis-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let mut server = RedisServer {
            port,
            dir,
            child: None,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let binary =
            std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned());
        let child = tokio::process::Command::new(binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--appendonly", "yes"])
            .args(["--appendfsync", "always"])
            .args(["--save", ""])
            .args(["--daemonize", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server must be installed for the resilience tests");
        self.child = Some(child);
        let url = self.url();
        eventually("the test's redis-server to answer", EVENTUAL, || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL): nothing is flushed beyond what
    /// `appendfsync always` already wrote.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("redis-server is killed");
        }
    }

    /// Starts the server again on the same port and data.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A connection to `url`, for reading and writing streams directly.
pub async fn redis_connection(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .expect("redis url parses")
        .get_multiplexed_async_connection()
        .await
        .expect("redis answers")
}

/// What order tests need again and again.
impl Mesh {
    /// A restaurant (no delivery fee, no tax) with one item priced `price`;
    /// their ids.
    pub async fn restaurant_with_item(&self, price: &str) -> (i64, i64) {
        let restaurant = self.restaurant("Pizza Palace").await;
        let item = self
            .item(
                restaurant,
                &serde_json::json!({"name": "Margherita", "price": price}),
            )
            .await;
        (restaurant, item)
    }

    /// Places a cash takeout order of `quantity` × `item` as customer
    /// `customer`; the order as answered.
    pub async fn cash_order(&self, restaurant: i64, item: i64, customer: i64) -> Value {
        let reply = self
            .post(
                "/api/orders",
                Some(&Self::customer_id(customer)),
                &serde_json::json!({
                    "restaurant_id": restaurant,
                    "order_type": "takeout",
                    "payment_method": "cash",
                    "items": [{"menu_item_id": item, "quantity": 1}]
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()
    }

    /// Every ticket of `restaurant`'s kitchen for `order_id`, whatever its
    /// status.
    pub async fn tickets_for(&self, restaurant: i64, order_id: i64) -> Vec<Value> {
        let reply = self
            .get(
                "/api/kitchen/orders?status=queued,accepted,preparing,ready,picked_up,cancelled,rejected&limit=500",
                Some(&Self::staff(restaurant)),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["order_id"] == order_id)
            .collect()
    }

    /// Waits (bounded) for the kitchen's ticket of `order_id`.
    pub async fn ticket_of(&self, restaurant: i64, order_id: i64) -> Value {
        eventually(
            &format!("a ticket for order {order_id}"),
            EVENTUAL,
            || async move {
                self.tickets_for(restaurant, order_id)
                    .await
                    .into_iter()
                    .next()
            },
        )
        .await
    }

    /// Waits (bounded) until order `id` is in `status`, as admin reads it.
    pub async fn order_reaches(&self, id: i64, status: &str) -> Value {
        eventually(
            &format!("order {id} to be {status}"),
            EVENTUAL,
            || async move {
                let reply = self
                    .get(&format!("/api/orders/{id}"), Some(&Self::admin()))
                    .await;
                let order = reply.json();
                (order["status"] == status).then_some(order)
            },
        )
        .await
    }
}

/// The body of the original API's "Creating a Restaurant" curl, verbatim.
pub const SEED_BODY: &str = r#"{
    "name": "Pizza Palace",
    "description": "Best pizza in town",
    "phone": "+1234567890",
    "email": "info@pizzapalace.com",
    "cuisine_type": "Italian",
    "address": {
      "street": "123 Main St",
      "city": "New York",
      "state": "NY",
      "zip_code": "10001",
      "country": "US"
    },
    "location": {
      "latitude": 40.7128,
      "longitude": -74.0060
    }
  }"#;

// ---- deliveries -----------------------------------------------------------

/// Union Square, New York: where the delivery tests' restaurant is.
pub const RESTAURANT: (f64, f64) = (40.7359, -73.9911);

/// A token of driver `id`.
pub fn driver_token(id: i64) -> String {
    Mesh::token_for(Role::Driver, &id.to_string(), None)
}

/// A restaurant at [`RESTAURANT`] with one item; their ids.
pub async fn located_restaurant(mesh: &Mesh) -> (i64, i64) {
    let reply = mesh
        .post(
            "/api/restaurants",
            Some(&Mesh::admin()),
            &json!({
                "name": "Union Pizza",
                "address": {"street": "1 Union Sq", "city": "New York", "state": "NY",
                            "zip_code": "10003", "country": "US"},
                "location": {"latitude": RESTAURANT.0, "longitude": RESTAURANT.1}
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let restaurant = reply.json()["id"].as_i64().expect("id");
    let item = mesh
        .item(restaurant, &json!({"name": "Margherita", "price": "12.99"}))
        .await;
    (restaurant, item)
}

/// A driver `name` at `(lat, lon)`, available when `available`; their id.
pub async fn driver(mesh: &Mesh, name: &str, phone: &str, at: (f64, f64), available: bool) -> i64 {
    let added = mesh
        .post(
            "/api/drivers",
            Some(&Mesh::admin()),
            &json!({"name": name, "phone": phone, "vehicle": "scooter",
                    "location": {"latitude": at.0, "longitude": at.1}}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.text);
    let id = added.json()["id"].as_i64().expect("id");
    let patched = mesh
        .patch(
            &format!("/api/drivers/{id}"),
            Some(&driver_token(id)),
            &json!({"available": available}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.text);
    id
}

/// The delivery of order `order_id` once `ready` holds, as an admin reads it.
pub async fn delivery_of(mesh: &Mesh, order_id: i64, ready: impl Fn(&Value) -> bool) -> Value {
    let ready = &ready;
    eventually(
        &format!("the delivery of order {order_id}"),
        EVENTUAL,
        || async move {
            let reply = mesh
                .get(
                    &format!("/api/deliveries?order_id={order_id}"),
                    Some(&Mesh::admin()),
                )
                .await;
            let delivery = reply.json()["items"].get(0).cloned()?;
            ready(&delivery).then_some(delivery)
        },
    )
    .await
}
