//! One service process from bound socket to clean exit, so every service
//! starts and stops in the same order:
//!
//! 1. bind the listener (port 0 in tests), then register in discovery;
//! 2. serve until the shutdown future resolves;
//! 3. deregister and report NOT_SERVING first, so no new calls arrive;
//! 4. let in-flight calls finish, then close the database pool.

use std::future::Future;
use std::net::SocketAddr;

use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
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
    background: Background,
}

/// Background tasks that die with the service — also when the service's
/// future is dropped rather than stopped (a crash in a test, a panic), since
/// dropping a `JoinHandle` alone would leave its task running.
#[derive(Default)]
struct Background(Vec<JoinHandle<()>>);

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

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
            background: Background::default(),
        })
    }

    /// The address actually bound (the port is real even when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Keeps a background task (relay, consumer, timer) that stops with the
    /// service.
    pub fn spawn_background(&mut self, task: JoinHandle<()>) {
        self.background.0.push(task);
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
        drop(background);
        pool.close().await;
        tracing::info!("stopped");
        served.map_err(Into::into)
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
