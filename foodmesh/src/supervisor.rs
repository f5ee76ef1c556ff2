//! `foodmesh up`: starts the six services, waits until each answers its gRPC
//! health check, starts the gateway, loads demo data, and prints where to
//! go. On Ctrl-C (or SIGTERM, or any process dying) it stops the gateway
//! first, then the services, each with SIGTERM and a grace period, so no
//! process and no port is left behind.

use std::collections::HashMap;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use foodmesh_shared::ServiceName;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

use crate::cli::{Process, UpArgs};

/// How long one process may take to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one process may take to drain after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// A started process of the mesh.
struct Running {
    process: Process,
    child: Child,
}

/// Runs the whole mesh until Ctrl-C.
///
/// # Errors
/// Postgres or Redis unreachable, a port taken, or a process that does not
/// become healthy.
pub async fn up(args: UpArgs) -> anyhow::Result<()> {
    let lookup = |k: &str| std::env::var(k).ok();
    let pg = foodmesh_shared::config::pg_base(&lookup);
    let redis = foodmesh_shared::config::redis_url(&lookup);
    preflight(&pg, &redis).await?;
    ports_free(&args)?;

    let exe = std::env::current_exe().context("cannot find the foodmesh executable")?;
    let addrs: HashMap<ServiceName, u16> =
        ServiceName::ALL.into_iter().zip(args.base_port..).collect();
    let mut env: Vec<(String, String)> = addrs
        .iter()
        .map(|(s, port)| (s.addr_var(), format!("http://{}:{port}", args.host)))
        .collect();
    env.push(("JWT_SECRET".to_owned(), crate::token::secret()));
    env.push(("FOODMESH_PG_URL".to_owned(), pg.clone()));
    env.push(("REDIS_URL".to_owned(), redis));

    let mut running: Vec<Running> = Vec::new();
    let started = start_all(&exe, &args, &addrs, &env, &pg, &mut running).await;
    if let Err(e) = started {
        stop_all(&mut running).await;
        return Err(e);
    }

    let gateway = format!("http://{}:{}", args.host, args.gateway_port);
    if !args.no_demo {
        let restaurant = format!("http://{}:{}", args.host, addrs[&ServiceName::Restaurant]);
        if let Err(e) = crate::demo::load(&restaurant).await {
            eprintln!("foodmesh: demo data not loaded: {e:#}");
        }
    }
    let admin = crate::token::issue(&crate::cli::TokenArgs {
        role: crate::cli::RoleArg::Admin,
        restaurant: None,
        subject: "admin".to_owned(),
        ttl_hours: 24,
    })?;
    println!(
        "\nFoodMesh is up.\n  gateway  {gateway}\n  API docs {gateway}/docs\n  OpenAPI  {gateway}/openapi.json\n  metrics  {gateway}/metrics\n  admin token (24 h):\n    {admin}\n  try: curl -H \"Authorization: Bearer $TOKEN\" {gateway}/api/restaurants\nPress Ctrl-C to stop.\n"
    );
    let _ = tokio::io::stdout().flush().await;

    let exited = wait_for_stop(&mut running).await;
    stop_all(&mut running).await;
    match exited {
        Some((process, status)) => {
            bail!("{process} exited unexpectedly ({status}); stopped the rest")
        }
        None => {
            println!("foodmesh: every process stopped");
            Ok(())
        }
    }
}

async fn start_all(
    exe: &std::path::Path,
    args: &UpArgs,
    addrs: &HashMap<ServiceName, u16>,
    env: &[(String, String)],
    pg: &str,
    running: &mut Vec<Running>,
) -> anyhow::Result<()> {
    for service in ServiceName::ALL {
        let listen = format!("{}:{}", args.host, addrs[&service]);
        let mut vars = env.to_vec();
        vars.push(("LISTEN_ADDR".to_owned(), listen));
        vars.push((
            "DATABASE_URL".to_owned(),
            format!("{pg}/{}_{}", args.db_prefix, service.short()),
        ));
        running.push(spawn(exe, Process::Service(service), &vars)?);
    }
    for (i, service) in ServiceName::ALL.into_iter().enumerate() {
        let url = format!("http://{}:{}", args.host, addrs[&service]);
        wait_healthy(&mut running[i], || grpc_serving(url.clone())).await?;
    }
    let mut vars = env.to_vec();
    vars.push((
        "LISTEN_ADDR".to_owned(),
        format!("{}:{}", args.host, args.gateway_port),
    ));
    running.push(spawn(exe, Process::Gateway, &vars)?);
    let addr = format!("{}:{}", args.host, args.gateway_port);
    let last = running.len() - 1;
    wait_healthy(&mut running[last], || http_ok(addr.clone(), "/healthz")).await
}

/// Refuses early when a port is taken — most often by a mesh already
/// running — rather than mistaking another process's health for ours.
fn ports_free(args: &UpArgs) -> anyhow::Result<()> {
    let ports =
        std::iter::once(args.gateway_port).chain((0..ServiceName::ALL.len()).filter_map(|i| {
            u16::try_from(i)
                .ok()
                .and_then(|i| args.base_port.checked_add(i))
        }));
    for port in ports {
        if std::net::TcpListener::bind((args.host.as_str(), port)).is_err() {
            bail!(
                "port {port} on {} is already in use (is FoodMesh already running?); \
                 choose others with --gateway-port and --base-port",
                args.host
            );
        }
    }
    Ok(())
}

/// Refuses early, with the fix, when Postgres or Redis is not there.
async fn preflight(pg: &str, redis: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let conn = sqlx::PgConnection::connect(&format!("{pg}/postgres"))
        .await
        .with_context(|| format!("Postgres is not answering at {pg} (set FOODMESH_PG_URL)"))?;
    let _ = conn.close().await;
    let client = redis::Client::open(redis).with_context(|| format!("bad REDIS_URL {redis}"))?;
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("Redis is not answering at {redis} (set REDIS_URL)"))?;
    let _: String = redis::cmd("PING")
        .query_async(&mut conn)
        .await
        .with_context(|| format!("Redis at {redis} did not answer PING"))?;
    Ok(())
}

fn spawn(
    exe: &std::path::Path,
    process: Process,
    env: &[(String, String)],
) -> anyhow::Result<Running> {
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg(process.to_string())
        // Each process's own settings come from `env` alone.
        .env_remove("DATABASE_URL")
        .env_remove("LISTEN_ADDR")
        .env_remove("ADVERTISE_ADDR")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group: a terminal's Ctrl-C reaches only the launcher,
        // which then stops the processes in order.
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {process}"))?;
    let label = format!("{process:>16} |");
    if let Some(out) = child.stdout.take() {
        tokio::spawn(prefix_lines(out, label.clone(), false));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(prefix_lines(err, label, true));
    }
    println!(
        "foodmesh: started {process} (pid {})",
        child.id().unwrap_or(0)
    );
    Ok(Running { process, child })
}

/// Copies a child's output to ours, each line labelled with its process.
async fn prefix_lines(stream: impl AsyncRead + Unpin, label: String, to_stderr: bool) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if to_stderr {
            eprintln!("{label} {line}");
        } else {
            println!("{label} {line}");
        }
    }
}

async fn wait_healthy<F, Fut>(running: &mut Running, probe: F) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    loop {
        // Our child must still be alive for a healthy answer to be its own.
        if let Some(status) = running.child.try_wait()? {
            bail!("{} exited while starting ({status})", running.process);
        }
        if probe().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} did not become healthy within {START_TIMEOUT:?}",
                running.process
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn grpc_serving(url: String) -> bool {
    use tonic_health::pb::health_check_response::ServingStatus;
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(url) else {
        return false;
    };
    let Ok(channel) = endpoint
        .connect_timeout(Duration::from_millis(500))
        .connect()
        .await
    else {
        return false;
    };
    let mut client = tonic_health::pb::health_client::HealthClient::new(channel);
    let request = tonic_health::pb::HealthCheckRequest {
        service: String::new(),
    };
    matches!(
        client.check(request).await,
        Ok(resp) if resp.get_ref().status == ServingStatus::Serving as i32
    )
}

/// A bare HTTP/1.1 GET, enough to see a 200 without an HTTP client crate.
async fn http_ok(addr: String, path: &str) -> bool {
    use tokio::io::AsyncReadExt;
    let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
        return false;
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0_u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 200")
}

/// Waits for Ctrl-C/SIGTERM (→ `None`) or the first process to exit.
async fn wait_for_stop(running: &mut [Running]) -> Option<(Process, ExitStatus)> {
    let mut check = tokio::time::interval(Duration::from_millis(250));
    tokio::select! {
        () = foodmesh_shared::shutdown::signal() => None,
        exited = async {
            loop {
                check.tick().await;
                for r in running.iter_mut() {
                    if let Ok(Some(status)) = r.child.try_wait() {
                        return (r.process, status);
                    }
                }
            }
        } => Some(exited),
    }
}

fn pid_i32(pid: u32) -> i32 {
    i32::try_from(pid).unwrap_or(i32::MAX)
}

/// Stops the gateway first, then the services, each with SIGTERM and a
/// grace period before SIGKILL.
async fn stop_all(running: &mut Vec<Running>) {
    while let Some(mut r) = running.pop() {
        if let Ok(Some(_)) = r.child.try_wait() {
            continue;
        }
        if let Some(pid) = r.child.id() {
            let _ = kill(Pid::from_raw(pid_i32(pid)), Signal::SIGTERM);
        }
        match tokio::time::timeout(STOP_GRACE, r.child.wait()).await {
            Ok(_) => println!("foodmesh: stopped {}", r.process),
            Err(_) => {
                eprintln!(
                    "foodmesh: {} did not stop in {STOP_GRACE:?}; killing it",
                    r.process
                );
                let _ = r.child.kill().await;
            }
        }
    }
}
