//! Test harness shared by every crate's tests (feature `test-util`):
//! [`TestDb`] gives each test its own fresh database on the real Postgres,
//! [`TestStreams`] its own event streams on the real Redis (both removed
//! when the test ends),
//! [`consul::ConsulDouble`] stands in for the Consul agent, which cannot
//! run on development machines, [`smtp::SmtpSink`] for a mail relay,
//! [`twilio::TwilioDouble`] for Twilio's Messaging API,
//! [`push::PushReceiver`] for a push gateway taking FoodMesh's signed
//! webhooks, [`valve::Valve`] freezes a service's
//! socket, [`reason`] and [`fields`] read a refusal the way
//! [`crate::status::refusal`] builds it, and [`envelope`] and [`deliver`]
//! put an event on a stream as another service's relay would.

pub mod consul;
pub mod push;
pub mod smtp;
pub mod twilio;
pub mod valve;

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection};
use tonic_types::StatusExt;

/// The Postgres server tests use: `FOODMESH_TEST_PG_URL`, else the local one.
pub fn pg_base() -> String {
    std::env::var("FOODMESH_TEST_PG_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database that exists for one test only. It is created empty (the
/// service's own start-up migrates it) and dropped when this value drops.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// A fresh, empty database named `test_<prefix>_<uuid>`.
    ///
    /// # Panics
    /// Postgres is not reachable: tests cannot run without it.
    pub async fn new(prefix: &str) -> Self {
        let name = format!("test_{prefix}_{}", uuid::Uuid::new_v4().simple());
        let url = format!("{}/{name}", pg_base());
        let options = PgConnectOptions::from_str(&url).expect("test database url parses");
        crate::db::ensure_database(&options, &name)
            .await
            .expect("Postgres must be running for the tests (see README)");
        Self { name, url }
    }

    /// The database's URL, for a service's `DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        let name = self.name.clone();
        let base = pg_base();
        // Drop runs outside async context; a short-lived runtime on its own
        // thread does the async work without blocking the test's runtime.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async move {
                let options = PgConnectOptions::from_str(&format!("{base}/postgres")).ok()?;
                let mut conn = options.connect().await.ok()?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .ok()?;
                conn.close().await.ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// The Redis tests use: `REDIS_URL`, else the local one.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// A prefix of Redis keys (`<prefix>:order`, `<prefix>:order:dead`, …)
/// that exists for one test only: every key under it is deleted when this
/// value drops. A harness holds it after the services that publish under
/// it, so it drops once they are stopped.
#[derive(Debug)]
pub struct TestStreams {
    prefix: String,
    redis_urls: Vec<String>,
}

impl TestStreams {
    /// A prefix no other test uses, on the tests' Redis.
    pub fn new() -> Self {
        Self::adopt(format!("test_{}", uuid::Uuid::new_v4().simple()))
    }

    /// Takes over `prefix`, whose keys go when this drops.
    pub fn adopt(prefix: String) -> Self {
        Self {
            prefix,
            redis_urls: vec![redis_url()],
        }
    }

    /// Also deletes the prefix's keys on the Redis at `url` (a test's own
    /// Redis server).
    pub fn also_on(&mut self, url: &str) {
        if !self.redis_urls.iter().any(|u| u == url) {
            self.redis_urls.push(url.to_owned());
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

/// The keys under `prefix` on the tests' Redis now: what a test left
/// behind, once its [`TestStreams`] is gone.
///
/// # Errors
/// Redis is unreachable.
pub fn keys_under_prefix(prefix: &str) -> redis::RedisResult<Vec<String>> {
    keys_under(&redis_url(), prefix)
}

impl Default for TestStreams {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestStreams {
    fn drop(&mut self) {
        let prefix = self.prefix.clone();
        let urls = std::mem::take(&mut self.redis_urls);
        // Drop runs outside async context: plain connections on a thread of
        // their own. A second pass catches what a service stopped a moment
        // ago had in flight on another connection.
        let deleted = std::thread::spawn(move || -> redis::RedisResult<()> {
            for pass in 0..2 {
                if pass > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                for url in &urls {
                    let keys = keys_under(url, &prefix)?;
                    if !keys.is_empty() {
                        let mut redis = redis::Client::open(url.as_str())?.get_connection()?;
                        redis::cmd("UNLINK").arg(&keys).query::<()>(&mut redis)?;
                    }
                }
            }
            Ok(())
        })
        .join();
        if !matches!(deleted, Ok(Ok(()))) {
            eprintln!(
                "warning: the test's Redis keys under {} were not all deleted",
                self.prefix
            );
        }
    }
}

/// Every key under `prefix` on the Redis at `url`, found with `SCAN` (not
/// `KEYS`, which blocks the server while it runs).
fn keys_under(url: &str, prefix: &str) -> redis::RedisResult<Vec<String>> {
    let mut redis = redis::Client::open(url)?.get_connection()?;
    let pattern = format!("{prefix}:*");
    let mut keys = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(&pattern)
            .arg("COUNT")
            .arg(1000)
            .query(&mut redis)?;
        keys.extend(batch);
        if next == 0 {
            return Ok(keys);
        }
        cursor = next;
    }
}

/// Configuration for a service under test: its own fresh database, port 0,
/// static discovery, and event streams under a prefix no other test uses
/// (which a [`TestStreams`] should own, as [`SpawnedService`] does).
pub fn service_config(service: crate::ServiceName, db: &TestDb) -> crate::ServiceConfig {
    let mut config = crate::ServiceConfig::from_lookup(service, &|_| None)
        .expect("default configuration parses");
    config.listen_addr = "127.0.0.1:0".parse().expect("literal address");
    config.database_url = db.url().to_owned();
    config.db_max_connections = 20;
    config.event_prefix = format!("test_{}", uuid::Uuid::new_v4().simple());
    config
}

/// A service running in the test's runtime on a free port, with its own
/// fresh database. The listener is bound before this returns, so a client
/// may connect at once: no sleeps.
pub struct SpawnedService {
    addr: std::net::SocketAddr,
    config: crate::ServiceConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: TestDb,
    /// Last, so its keys go after the task is stopped.
    streams: TestStreams,
}

impl SpawnedService {
    /// Builds `service` with `build` (the service crate's `build`) on a
    /// fresh database and starts it.
    ///
    /// # Panics
    /// The service fails to build: the test cannot go on.
    pub async fn start<F, Fut>(service: crate::ServiceName, build: F) -> Self
    where
        F: FnOnce(crate::ServiceConfig) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<crate::Application>>,
    {
        Self::start_with(service, |_| {}, build).await
    }

    /// As [`SpawnedService::start`], after `tweak` adjusts the configuration
    /// (discovery, peers).
    ///
    /// # Panics
    /// The service fails to build: the test cannot go on.
    pub async fn start_with<F, Fut>(
        service: crate::ServiceName,
        tweak: impl FnOnce(&mut crate::ServiceConfig),
        build: F,
    ) -> Self
    where
        F: FnOnce(crate::ServiceConfig) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<crate::Application>>,
    {
        let db = TestDb::new(service.short()).await;
        Self::start_on(db, service, tweak, build).await
    }

    /// As [`SpawnedService::start_with`], on a database that already exists
    /// — the one a [`SpawnedService::crash`] handed back — as a restarted
    /// process would find it.
    ///
    /// # Panics
    /// The service fails to build: the test cannot go on.
    pub async fn start_on<F, Fut>(
        db: TestDb,
        service: crate::ServiceName,
        tweak: impl FnOnce(&mut crate::ServiceConfig),
        build: F,
    ) -> Self
    where
        F: FnOnce(crate::ServiceConfig) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<crate::Application>>,
    {
        let mut config = service_config(service, &db);
        tweak(&mut config);
        let mut streams = TestStreams::adopt(config.event_prefix.clone());
        streams.also_on(&config.redis_url);
        let app = build(config.clone()).await.expect("the service builds");
        let addr = app.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            config,
            stop: Some(stop),
            task,
            db,
            streams,
        }
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// The configuration it was built with (its event prefix and Redis).
    pub fn config(&self) -> &crate::ServiceConfig {
        &self.config
    }

    /// A client channel to it.
    ///
    /// # Panics
    /// It does not accept the connection: the test cannot go on.
    pub async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(self.url())
            .expect("address is a URI")
            .connect()
            .await
            .expect("the service accepts connections")
    }

    /// `http://addr`, for tonic clients and static discovery maps.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// Ends the service at once, as a killed process ends: no deregistration,
    /// no draining, background work (relay, consumers) cut wherever it is.
    /// The database survives, for [`SpawnedService::start_on`], and so do
    /// its event streams: whoever set their prefix owns them.
    pub async fn crash(mut self) -> TestDb {
        self.streams.redis_urls.clear();
        self.task.abort();
        let _ = (&mut self.task).await;
        let placeholder = TestDb {
            name: String::new(),
            url: String::new(),
        };
        std::mem::replace(&mut self.db, placeholder)
    }

    /// Stops the service the way a signal would and waits for it.
    ///
    /// # Errors
    /// The service reported an error while serving or stopping.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await?
    }
}

impl Drop for SpawnedService {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `ErrorInfo` reason of a refusal, which must come from `domain`.
///
/// # Panics
/// The status carries no `ErrorInfo`, or one of another domain.
pub fn reason(status: &tonic::Status, domain: &str) -> String {
    let info = status
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {status:?}"));
    assert_eq!(info.domain, domain);
    info.reason
}

/// The fields a refusal names, in order.
///
/// # Panics
/// The status carries no `BadRequest`.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .unwrap_or_else(|| panic!("no BadRequest in {status:?}"))
        .field_violations
        .into_iter()
        .map(|v| v.field)
        .collect()
}

/// An event as a service's relay publishes it, encoded: a fresh id,
/// `event_type`, the aggregate's id and `payload`.
pub fn envelope(event_type: &str, aggregate_id: &str, payload: &impl prost::Message) -> Vec<u8> {
    prost::Message::encode_to_vec(&foodmesh_proto::events::v1::Envelope {
        id: uuid::Uuid::new_v4().to_string(),
        r#type: event_type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        occurred_at: Some(prost_types::Timestamp::from(std::time::SystemTime::now())),
        trace_context: Default::default(),
        payload: payload.encode_to_vec(),
        request_id: String::new(),
    })
}

/// Adds encoded `envelope` to `from`'s event stream of `config`'s prefix
/// and Redis, as `from`'s relay would (again, when it is a copy).
///
/// # Panics
/// Redis does not take it: the test cannot go on.
pub async fn deliver(config: &crate::ServiceConfig, from: crate::ServiceName, envelope: &[u8]) {
    let mut redis = crate::events::consumer::Consumer::connect_redis(&config.redis_url)
        .await
        .expect("redis answers");
    let stream = crate::events::stream(&config.event_prefix, from);
    let _: String = redis::cmd("XADD")
        .arg(stream)
        .arg("*")
        .arg(crate::events::ENVELOPE_FIELD)
        .arg(envelope)
        .query_async(&mut redis)
        .await
        .expect("xadd");
}
