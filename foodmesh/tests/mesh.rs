//! The mesh as processes: every service boots for real (health, reflection,
//! metrics), registers in Consul and leaves it on shutdown, and `foodmesh up`
//! starts everything and stops it without leaving a process or a port.

use std::time::Duration;

use foodmesh_shared::config::DiscoveryConfig;
use foodmesh_shared::testing::consul::ConsulDouble;
use foodmesh_shared::testing::{SpawnedService, TestStreams};
use foodmesh_shared::{Application, ServiceConfig, ServiceName};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
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
        assert_eq!(code, 200, "{service}");
        assert!(
            metrics.contains("grpc_server_requests_total"),
            "{service}: {metrics}"
        );
        assert!(metrics.contains("grpc_method=\"Check\""), "{service}");
        spawned.stop().await.expect("stops cleanly");
    }
}

#[tokio::test]
async fn restaurant_svc_lists_its_own_service_through_reflection() {
    let spawned = SpawnedService::start(ServiceName::Restaurant, build).await;

    let services = list_services(spawned.url()).await;

    assert!(
        services
            .iter()
            .any(|s| s == "foodmesh.restaurant.v1.RestaurantService"),
        "{services:?}"
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

/// Seven consecutive free ports, so `up` can be given a base port.
fn free_port_run() -> u16 {
    for base in (20_000..60_000).step_by(97) {
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

#[tokio::test]
async fn foodmesh_up_starts_everything_and_ctrl_c_leaves_nothing_behind() {
    let base = free_port_run();
    let gateway_port = base + 6;
    let prefix = format!("test_up_{}", uuid::Uuid::new_v4().simple());
    // The mesh's event streams, under a prefix of their own, go with the test.
    let streams = TestStreams::adopt(prefix.clone());
    let mut launcher = tokio::process::Command::new(env!("CARGO_BIN_EXE_foodmesh"))
        .args([
            "up",
            "--base-port",
            &base.to_string(),
            "--gateway-port",
            &gateway_port.to_string(),
            "--db-prefix",
            &prefix,
        ])
        .env_remove("CONSUL_HTTP_ADDR")
        .env("EVENT_STREAM_PREFIX", streams.prefix())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("launcher starts");
    let stdout = launcher.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut pids = Vec::new();
    let mut banner = String::new();
    let ready = tokio::time::timeout(Duration::from_secs(180), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(pid) = line
                .split("(pid ")
                .nth(1)
                .and_then(|rest| rest.trim_end_matches(')').parse::<i32>().ok())
            {
                pids.push(pid);
            }
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Press Ctrl-C") {
                return true;
            }
        }
        false
    })
    .await;
    let gateway = format!("127.0.0.1:{gateway_port}");
    let (health, _) = http_get(&gateway, "/healthz").await;
    let restaurants = {
        use foodmesh_proto::restaurant::v1::ListRestaurantsRequest;
        use foodmesh_proto::restaurant::v1::restaurant_service_client::RestaurantServiceClient;
        let mut client = RestaurantServiceClient::connect(format!("http://127.0.0.1:{}", base + 1))
            .await
            .expect("restaurant-svc answers");
        client
            .list_restaurants(ListRestaurantsRequest::default())
            .await
            .expect("lists")
            .into_inner()
            .restaurants
    };
    // Drain the rest of the output so the launcher never blocks on a pipe.
    let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let launcher_pid = i32::try_from(launcher.id().expect("running")).expect("pid fits");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launcher_pid),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signalled");
    let exit = tokio::time::timeout(Duration::from_secs(90), launcher.wait())
        .await
        .expect("launcher stops in time")
        .expect("exit status");
    let _ = drain.await;
    drop_databases(&prefix).await;

    assert_eq!(ready, Ok(true), "banner: {banner}");
    assert!(
        banner.contains(&format!("http://127.0.0.1:{gateway_port}/docs")),
        "{banner}"
    );
    assert!(banner.contains("admin token"), "{banner}");
    assert_eq!(health, 200);
    assert!(
        restaurants.iter().any(|r| r.name == "Pizza Palace"),
        "demo data loaded"
    );
    assert!(exit.success(), "{exit}");
    assert_eq!(pids.len(), 7, "seven processes started: {banner}");
    for pid in pids {
        assert!(!alive(pid), "process {pid} is still running");
    }
    for port in base..=gateway_port {
        assert!(
            std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(),
            "port {port} is still taken"
        );
    }
}

#[tokio::test]
async fn foodmesh_up_refuses_a_taken_port_in_one_line_and_starts_nothing() {
    let base = free_port_run();
    let taken = std::net::TcpListener::bind(("127.0.0.1", base + 2)).expect("bind");

    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_foodmesh"))
            .args([
                "up",
                "--base-port",
                &base.to_string(),
                "--gateway-port",
                &(base + 6).to_string(),
                "--db-prefix",
                "test_up_refused",
            ])
            .env_remove("CONSUL_HTTP_ADDR")
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
