//! The mesh as processes: every service boots for real (health, reflection,
//! metrics), registers in Consul and leaves it on shutdown, and `foodmesh up`
//! starts everything, restarts a process that dies, and stops it all
//! without leaving a process or a port. `traces`: one order followed
//! through every process in the spans they export over OTLP.

#[path = "mesh/traces.rs"]
mod traces;

use std::time::Duration;

use foodmesh_shared::config::DiscoveryConfig;
use foodmesh_shared::testing::consul::ConsulDouble;
use foodmesh_shared::testing::{SpawnedService, TestStreams};
use foodmesh_shared::{Application, ServiceConfig, ServiceName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    match config.service {
        ServiceName::Order => order_svc::build(config).await,
        ServiceName::Restaurant => restaurant_svc::build(config).await,
        ServiceName::Kitchen => kitchen_svc::build(config).await,
        ServiceName::Delivery => delivery_svc::build(config).await,
        ServiceName::Accounting => accounting_svc::build(config).await,
        ServiceName::Notification => notification_svc::build(config).await,
    }
}

async fn channel(url: String) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(url)
        .expect("a valid url")
        .connect()
        .await
        .expect("connects")
}

async fn list_services(url: String) -> Vec<String> {
    let mut client = ServerReflectionClient::new(channel(url).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("reflection answers")
        .into_inner();
    let answer = answers
        .message()
        .await
        .expect("a message")
        .expect("not empty");
    match answer.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            list.service.into_iter().map(|s| s.name).collect()
        }
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

/// A bare HTTP/1.1 GET: (status code, body).
async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("request written");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("response read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn every_service_answers_health_reflection_and_metrics() {
    for service in ServiceName::ALL {
        let spawned = SpawnedService::start(service, build).await;

        let mut health = HealthClient::new(channel(spawned.url()).await);
        let status = health
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health answers")
            .into_inner()
            .status;
        let services = list_services(spawned.url()).await;
        let (code, metrics) = http_get(&spawned.addr().to_string(), "/metrics").await;

        assert_eq!(status, ServingStatus::Serving as i32, "{service}");
        assert!(
            services.iter().any(|s| s == "grpc.health.v1.Health"),
            "{service}: {services:?}"
        );
        assert!(
            services
                .iter()
                .any(|s| s == "grpc.reflection.v1.ServerReflection"),
            "{service}: {services:?}"
        );
        let own: Vec<&String> = services
            .iter()
            .filter(|s| s.starts_with("foodmesh."))
            .collect();
        assert_eq!(
            own.len(),
            1,
            "{service} lists one service of its own: {services:?}"
        );
        let mut by_name = HealthClient::new(channel(spawned.url()).await);
        let own_status = by_name
            .check(HealthCheckRequest {
                service: own[0].clone(),
            })
            .await
            .expect("health by name answers")
            .into_inner()
            .status;
        assert_eq!(own_status, ServingStatus::Serving as i32, "{service}");
        assert_eq!(code, 200, "{service}");
        assert!(
            metrics.contains("grpc_server_requests_total"),
            "{service}: {metrics}"
        );
        assert!(metrics.contains("grpc_method=\"Check\""), "{service}");
        let undescribed: Vec<&str> = metrics
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|name| !metrics.contains(&format!("# HELP {name} ")))
            .collect();
        assert!(
            undescribed.is_empty(),
            "{service}: metrics without a # HELP line: {undescribed:?}"
        );
        spawned.stop().await.expect("stops cleanly");
    }
}

#[tokio::test]
async fn restaurant_svc_lists_only_what_it_serves_through_reflection() {
    let spawned = SpawnedService::start(ServiceName::Restaurant, build).await;

    let mut services = list_services(spawned.url()).await;
    services.sort();

    assert_eq!(
        services,
        [
            "foodmesh.restaurant.v1.RestaurantService",
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
        ]
    );
    spawned.stop().await.expect("stops cleanly");
}

#[tokio::test]
async fn a_service_registers_in_consul_and_deregisters_when_it_stops() {
    let double = ConsulDouble::start().await;
    let consul = DiscoveryConfig::Consul {
        addr: double.url(),
        token: None,
    };
    let spawned =
        SpawnedService::start_with(ServiceName::Kitchen, |c| c.discovery = consul, build).await;
    let id = format!("kitchen-svc-127.0.0.1-{}", spawned.addr().port());

    let registered = double.wait_for(|s| s.contains_key(&id)).await;
    let entry = double.services().get(&id).cloned().expect("registered");
    spawned.stop().await.expect("stops cleanly");

    assert!(registered);
    assert_eq!(entry["Service"], "kitchen-svc");
    assert!(double.services().is_empty(), "deregistered on shutdown");
    let sent = double.requests();
    let register = sent
        .iter()
        .find(|r| r.path == "/v1/agent/service/register")
        .and_then(|r| r.body.clone())
        .expect("register body");
    assert_eq!(
        register["Check"]["GRPC"],
        format!("127.0.0.1:{}", spawned_port(&id))
    );
    assert!(
        sent.iter()
            .any(|r| r.path == format!("/v1/agent/service/deregister/{id}"))
    );
}

fn spawned_port(id: &str) -> &str {
    id.rsplit('-').next().unwrap_or_default()
}

/// Seven consecutive free ports, so `up` can be given a base port. The
/// search starts at a random place, so tests running side by side do not
/// all try the same ports first, and stays below 32768, where the kernel
/// takes no ports for outgoing connections.
fn free_port_run() -> u16 {
    const FIRST: u16 = 20_000;
    const SLOTS: u16 = 1_000;
    const WIDTH: u16 = 12;
    let start =
        u16::try_from(uuid::Uuid::new_v4().as_u128() % u128::from(SLOTS)).expect("below SLOTS");
    for i in 0..SLOTS {
        let base = FIRST + (start + i) % SLOTS * WIDTH;
        let all_free =
            (base..base + 7).all(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
        if all_free {
            return base;
        }
    }
    panic!("no seven consecutive free ports");
}

fn alive(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
}

async fn drop_databases(prefix: &str) {
    use sqlx::Connection;
    let base = foodmesh_shared::testing::pg_base();
    let mut conn = sqlx::PgConnection::connect(&format!("{base}/postgres"))
        .await
        .expect("postgres");
    for service in ServiceName::ALL {
        let name = format!("{prefix}_{}", service.short());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await
        .expect("dropped");
    }
}

/// The launcher line `foodmesh: started kitchen-svc (pid 123)` as
/// `("kitchen-svc", 123)`.
fn started(line: &str) -> Option<(String, i32)> {
    let rest = line.strip_prefix("foodmesh: started ")?;
    let (process, pid) = rest.split_once(" (pid ")?;
    Some((process.to_owned(), pid.strip_suffix(')')?.parse().ok()?))
}

/// A child's output, line by line, read on a task of its own so the child
/// never blocks on a full pipe, whatever the test is waiting for.
fn lines_of(
    stream: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            // Keep reading after the test stops listening.
            let _ = tx.send(line);
        }
    });
    rx
}

/// `foodmesh up` on ports, databases and event streams of its own.
struct Launcher {
    child: tokio::process::Child,
    base: u16,
    prefix: String,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    /// Every line of stdout read so far.
    seen: String,
    /// Every process started so far, restarts included, in order.
    started: Vec<(String, i32)>,
    // Last field: the streams' keys go once the mesh has stopped.
    _streams: TestStreams,
}

/// How a launcher stopped.
struct Stopped {
    exit: std::process::ExitStatus,
    stderr: String,
    /// All of stdout.
    seen: String,
    /// Every process it had started.
    started: Vec<(String, i32)>,
}

/// `foodmesh up` on the seven ports from `base` (the gateway last), with
/// databases under `prefix`, in static discovery.
fn up_command(base: u16, prefix: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_foodmesh"));
    command
        .args([
            "up",
            "--base-port",
            &base.to_string(),
            "--gateway-port",
            &(base + 6).to_string(),
            "--db-prefix",
            prefix,
            "--prometheus-targets",
        ])
        .arg(targets_path(prefix))
        .env_remove("CONSUL_HTTP_ADDR");
    command
}

/// Where the mesh of database prefix `prefix` lists its scrape targets.
fn targets_path(prefix: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{prefix}-targets.json"))
}

impl Launcher {
    fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, &[])
    }

    /// As [`Launcher::start`], with `env` set for the launcher and so for
    /// every process it starts.
    fn start_with(extra: &[&str], env: &[(&str, &str)]) -> Self {
        let base = free_port_run();
        let prefix = format!("test_up_{}", uuid::Uuid::new_v4().simple());
        // The mesh's event streams, under a prefix of their own, go with
        // the test.
        let streams = TestStreams::adopt(prefix.clone());
        let mut child = up_command(base, &prefix)
            .args(extra)
            .envs(env.iter().copied())
            .env("EVENT_STREAM_PREFIX", streams.prefix())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("launcher starts");
        let stdout = lines_of(child.stdout.take().expect("stdout"));
        let stderr = lines_of(child.stderr.take().expect("stderr"));
        Self {
            child,
            base,
            prefix,
            stdout,
            stderr,
            seen: String::new(),
            started: Vec::new(),
            _streams: streams,
        }
    }

    fn gateway(&self) -> String {
        format!("127.0.0.1:{}", self.base + 6)
    }

    fn service_url(&self, service: ServiceName) -> String {
        let index = ServiceName::ALL
            .iter()
            .position(|s| *s == service)
            .expect("a service");
        let offset = u16::try_from(index).expect("six services");
        format!("http://127.0.0.1:{}", self.base + offset)
    }

    /// Reads stdout until a line `matches` (→ that line) or `within` ends
    /// (→ `None`), noting each process started on the way.
    async fn read_until(
        &mut self,
        within: Duration,
        matches: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let read = async {
            while let Some(line) = self.stdout.recv().await {
                self.seen.push_str(&line);
                self.seen.push('\n');
                if let Some(process) = started(&line) {
                    self.started.push(process);
                }
                if matches(&line) {
                    return Some(line);
                }
            }
            None
        };
        tokio::time::timeout(within, read).await.ok().flatten()
    }

    /// Waits for the banner's last line: the whole mesh is up.
    async fn ready(&mut self) -> bool {
        self.read_until(Duration::from_secs(180), |l| l.starts_with("Press Ctrl-C"))
            .await
            .is_some()
    }

    fn pid_of(&self, process: &str) -> i32 {
        self.started
            .iter()
            .rev()
            .find(|(p, _)| p == process)
            .map(|(_, pid)| *pid)
            .unwrap_or_else(|| panic!("{process} was not started: {}", self.seen))
    }

    /// Ctrl-C, as a terminal sends it; waits for the launcher to exit and
    /// drops its databases.
    async fn interrupt(mut self) -> Stopped {
        let pid = i32::try_from(self.child.id().expect("running")).expect("pid fits");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGINT,
        )
        .expect("signalled");
        let exit = tokio::time::timeout(Duration::from_secs(90), self.child.wait())
            .await
            .expect("launcher stops in time")
            .expect("exit status");
        let mut stderr = String::new();
        while let Some(line) = self.stderr.recv().await {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        // The rest of stdout, noting every process started.
        let _ = self.read_until(Duration::from_secs(5), |_| false).await;
        drop_databases(&self.prefix).await;
        Stopped {
            exit,
            stderr,
            seen: std::mem::take(&mut self.seen),
            started: std::mem::take(&mut self.started),
        }
    }
}

impl Drop for Launcher {
    /// A test that fails half-way still stops the mesh: SIGTERM lets the
    /// launcher stop its processes in order, which SIGKILL would not.
    fn drop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.child.try_wait(), self.child.id()) {
            let pid = i32::try_from(pid).unwrap_or(i32::MAX);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

async fn grpc_serving(url: String) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(url) else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let request = HealthCheckRequest {
        service: String::new(),
    };
    matches!(
        HealthClient::new(channel).check(request).await,
        Ok(resp) if resp.get_ref().status == ServingStatus::Serving as i32
    )
}

#[tokio::test]
async fn foodmesh_up_starts_everything_and_ctrl_c_leaves_nothing_behind() {
    let mut up = Launcher::start(&[]);
    let ready = up.ready().await;
    let (health, _) = http_get(&up.gateway(), "/healthz").await;
    let restaurants = {
        use foodmesh_proto::restaurant::v1::ListRestaurantsRequest;
        use foodmesh_proto::restaurant::v1::restaurant_service_client::RestaurantServiceClient;
        let mut client = RestaurantServiceClient::connect(up.service_url(ServiceName::Restaurant))
            .await
            .expect("restaurant-svc answers");
        client
            .list_restaurants(ListRestaurantsRequest::default())
            .await
            .expect("lists")
            .into_inner()
            .restaurants
    };
    let (base, gateway) = (up.base, up.gateway());
    let targets_file = targets_path(&up.prefix);
    let targets: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&targets_file).unwrap_or_default())
            .unwrap_or_default();
    let banner = up.seen.clone();
    let pids: Vec<i32> = up.started.iter().map(|(_, pid)| *pid).collect();

    let stopped = up.interrupt().await;

    assert!(ready, "banner: {banner}");
    assert!(
        banner.contains(&format!("http://{gateway}/docs")),
        "{banner}"
    );
    assert!(banner.contains("admin token"), "{banner}");
    // Prometheus' file-based discovery finds all seven processes while the
    // mesh is up, and nothing once it has stopped.
    assert!(
        banner.contains(&targets_file.display().to_string()),
        "{banner}"
    );
    let listed: Vec<&str> = targets
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .filter_map(|g| g["targets"][0].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed.len(), 7, "{targets}");
    assert!(
        listed.contains(&format!("127.0.0.1:{}", base + 6).as_str()),
        "{targets}"
    );
    assert!(!targets_file.exists(), "the list outlived the mesh");
    assert_eq!(health, 200);
    assert!(
        restaurants.iter().any(|r| r.name == "Pizza Palace"),
        "demo data loaded"
    );
    assert!(
        stopped.exit.success(),
        "{}: {}",
        stopped.exit,
        stopped.stderr
    );
    assert_eq!(pids.len(), 7, "seven processes started: {banner}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} is still running");
    }
    for port in base..=base + 6 {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still taken"
        );
    }
}

#[tokio::test]
async fn foodmesh_up_restarts_a_killed_service_while_the_others_keep_running() {
    let mut up = Launcher::start(&["--no-demo"]);
    let ready = up.ready().await;
    let first: Vec<(String, i32)> = up.started.clone();
    let kitchen = up.pid_of("kitchen-svc");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(kitchen),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("killed");
    let restarted = up
        .read_until(Duration::from_secs(60), |l| {
            started(l).is_some_and(|(p, _)| p == "kitchen-svc")
        })
        .await
        .and_then(|l| started(&l));
    let url = up.service_url(ServiceName::Kitchen);
    let serving = tokio::time::timeout(Duration::from_secs(60), async {
        while !grpc_serving(url.clone()).await {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .is_ok();
    let others: Vec<(String, bool)> = first
        .iter()
        .filter(|(p, _)| p != "kitchen-svc")
        .map(|(p, pid)| (p.clone(), alive(*pid)))
        .collect();
    let (health, _) = http_get(&up.gateway(), "/healthz").await;
    let seen = up.seen.clone();
    let stopped = up.interrupt().await;

    assert!(ready, "{seen}");
    assert_eq!(first.len(), 7, "{seen}");
    let (_, new_pid) = restarted.unwrap_or_else(|| panic!("not restarted: {seen}"));
    assert_ne!(new_pid, kitchen);
    assert!(serving, "the new kitchen-svc answers its health check");
    assert!(
        stopped
            .stderr
            .contains("foodmesh: kitchen-svc exited (signal: 9 (SIGKILL))"),
        "the death is logged: {}",
        stopped.stderr
    );
    for (process, alive) in others {
        assert!(alive, "{process} kept running");
    }
    assert_eq!(health, 200);
    assert!(stopped.exit.success(), "{}", stopped.exit);
    assert!(!alive(new_pid), "the restarted kitchen-svc is stopped too");
}

#[tokio::test]
async fn ctrl_c_while_the_mesh_is_starting_stops_what_had_started() {
    let mut up = Launcher::start(&["--no-demo"]);
    let first = up
        .read_until(Duration::from_secs(60), |l| started(l).is_some())
        .await;

    let stopped = up.interrupt().await;

    assert!(first.is_some(), "a process started");
    assert!(
        stopped.exit.success(),
        "{}: {}",
        stopped.exit,
        stopped.stderr
    );
    assert!(
        !stopped.seen.contains("Press Ctrl-C"),
        "interrupted before the mesh was up: {}",
        stopped.seen
    );
    assert!(!stopped.started.is_empty());
    for (process, pid) in stopped.started {
        assert!(!alive(pid), "{process} ({pid}) is still running");
    }
}

#[tokio::test]
async fn foodmesh_up_refuses_a_taken_port_in_one_line_and_starts_nothing() {
    let base = free_port_run();
    let taken = std::net::TcpListener::bind(("127.0.0.1", base + 2)).expect("bind");

    let output = tokio::time::timeout(
        Duration::from_secs(60),
        up_command(base, "test_up_refused")
            // Asked for, a backtrace would show here.
            .env("RUST_BACKTRACE", "1")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("answers in time")
    .expect("runs");
    drop(taken);

    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with(&format!("foodmesh: port {} ", base + 2)),
        "stderr: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(!stdout.contains("started"), "nothing started: {stdout}");
}

#[tokio::test]
async fn a_command_that_fails_says_why_in_one_line_without_a_backtrace() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_foodmesh"))
        .args(["token", "--role", "staff"])
        .env("RUST_BACKTRACE", "1")
        .output()
        .await
        .expect("runs");

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr, "foodmesh: a staff token needs --restaurant ID\n");
}
