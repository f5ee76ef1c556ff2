//! Test harness shared by every crate's tests (feature `test-util`):
//! [`TestDb`] gives each test its own fresh database on the real Postgres,
//! [`consul::ConsulDouble`] stands in for the Consul agent, which cannot
//! run on development machines, and [`reason`] and [`fields`] read a
//! refusal the way [`crate::status::refusal`] builds it.

pub mod consul;

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

    /// The database's name.
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

/// Configuration for a service under test: its own fresh database, port 0,
/// static discovery, and event streams under a prefix no other test uses.
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
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    db: TestDb,
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
        let app = build(config).await.expect("the service builds");
        let addr = app.local_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            db,
        }
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://addr`, for tonic clients and static discovery maps.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The service's database.
    pub fn db(&self) -> &TestDb {
        &self.db
    }

    /// Ends the service at once, as a killed process ends: no deregistration,
    /// no draining, background work (relay, consumers) cut wherever it is.
    /// The database survives, for [`SpawnedService::start_on`].
    pub async fn crash(mut self) -> TestDb {
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
