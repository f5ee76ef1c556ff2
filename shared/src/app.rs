//! One service process from bound socket to clean exit, so every service
//! starts and stops in the same order:
//!
//! 1. bind the listener (port 0 in tests), then register in discovery;
//! 2. start the background tasks (relay, consumers, change feeds, timers)
//!    and serve until the shutdown future resolves;
//! 3. deregister and report NOT_SERVING first, so no new calls arrive;
//! 4. let in-flight calls finish;
//! 5. tell the background tasks to stop — each finishes the batch in hand
//!    — and wait for them (at most [`STOP_GRACE`]);
//! 6. close the database pool.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use futures::future::BoxFuture;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;

use crate::config::ServiceConfig;
use crate::discovery::{Discovery, HealthCheck, Registration, advertised, keep_registered};
use crate::grpc::GrpcServer;

/// A service ready to run: what each service's `build` returns.
pub struct Application {
    listener: TcpListener,
    local_addr: SocketAddr,
    server: GrpcServer,
    discovery: Discovery,
    registration: Registration,
    pool: PgPool,
    background: Vec<(&'static str, Task)>,
}

/// How long background tasks may take to finish the batch in hand once
/// told to stop; what is still running then is aborted.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// A background task not started yet: given the token that tells it to
/// stop, it runs until then.
type Task = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

impl Application {
    /// Binds `config.listen_addr` and prepares the registration.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(
        config: &ServiceConfig,
        server: GrpcServer,
        pool: PgPool,
        discovery: Discovery,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.listen_addr).await?;
        let local_addr = listener.local_addr()?;
        let (host, port) = advertised(config.advertise_addr.as_deref(), local_addr);
        let registration =
            Registration::new(config.service.service_id(), &host, port, HealthCheck::Grpc);
        Ok(Self {
            listener,
            local_addr,
            server,
            discovery,
            registration,
            pool,
            background: Vec::new(),
        })
    }

    /// The address actually bound (the port is real even when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Adds a background task (relay, consumer, change feed, timer), which
    /// [`run`](Self::run) starts with the service and stops with it: `task`
    /// gets the token that is cancelled when the service stops, and must
    /// then finish what it has in hand and return.
    pub fn background<F, Fut>(&mut self, name: &'static str, task: F)
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.background
            .push((name, Box::new(move |stop| Box::pin(task(stop)))));
    }

    /// Serves until `shutdown` resolves, then stops in order.
    ///
    /// # Errors
    /// The gRPC transport fails.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let Self {
            listener,
            local_addr,
            server,
            discovery,
            registration,
            pool,
            background,
        } = self;
        // Dropped with this future (a crash in a test, a panic), the set
        // aborts whatever still runs.
        let mut tasks = JoinSet::new();
        let stop_tasks = CancellationToken::new();
        for (name, task) in background {
            let stop = stop_tasks.clone();
            tasks.spawn(async move {
                task(stop).await;
                name
            });
        }
        let registrar = keep_registered(discovery.clone(), registration.clone());
        let health = server.health();
        let id = registration.id.clone();
        let stop = {
            let discovery = discovery.clone();
            async move {
                shutdown.await;
                registrar.abort();
                if let Err(e) = discovery.deregister(&id).await {
                    tracing::warn!(error = %e, "deregistration failed");
                }
                health
                    .set_service_status("", ServingStatus::NotServing)
                    .await;
                tracing::info!("draining in-flight calls");
            }
        };
        tracing::info!(addr = %local_addr, id = %registration.id, "serving gRPC and /metrics");
        let served = server.serve(listener, stop).await;
        stop_tasks.cancel();
        stop_all(tasks).await;
        pool.close().await;
        tracing::info!("stopped");
        served.map_err(Into::into)
    }
}

/// Waits for stopped tasks to finish, at most [`STOP_GRACE`], then aborts
/// the rest.
async fn stop_all(mut tasks: JoinSet<&'static str>) {
    let finished = tokio::time::timeout(STOP_GRACE, async {
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(name) => tracing::debug!(task = name, "stopped"),
                Err(e) if e.is_panic() => tracing::error!(error = %e, "a background task panicked"),
                Err(_) => {}
            }
        }
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            still_running = tasks.len(),
            "background tasks did not stop in time; aborting them"
        );
        tasks.shutdown().await;
    }
}

/// The whole life of a service process: configuration from the environment,
/// telemetry, `build`, serve until Ctrl-C or SIGTERM, flush traces. Every
/// service's `main` and the `foodmesh` launcher call this, so they cannot
/// drift apart.
///
/// # Errors
/// Bad configuration, a failed build (database unreachable, port taken), or
/// a transport failure while serving.
pub async fn run_service<F, Fut>(service: crate::ServiceName, build: F) -> anyhow::Result<()>
where
    F: FnOnce(ServiceConfig) -> Fut,
    Fut: Future<Output = anyhow::Result<Application>>,
{
    let config = ServiceConfig::from_env(service)?;
    let telemetry = crate::telemetry::init(service.service_id(), &config.telemetry)?;
    let result = async {
        let app = build(config).await?;
        app.run(crate::shutdown::signal()).await
    }
    .await;
    if let Err(e) = &result {
        tracing::error!(error = format!("{e:#}"), "{service} failed");
    }
    telemetry.shutdown();
    result
}
