//! `foodmesh up`: starts the six services, waits until each answers its gRPC
//! health check, starts the gateway, loads demo data, and prints where to
//! go. From then on it supervises: a process that dies is logged with its
//! exit status and started again after a back-off (see [`Backoff`]), while
//! the others keep running. On Ctrl-C or SIGTERM it stops the gateway
//! first, then the services, each with SIGTERM and a grace period, so no
//! process and no port is left behind.
//!
//! A process that dies while the mesh is still starting is not restarted:
//! that is almost always a setting (a database, a port) that a retry would
//! not fix, so `up` stops what it started and says which process failed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use foodmesh_shared::ServiceName;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::cli::{Process, UpArgs};

/// How long one process may take to become healthy.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one process may take to drain after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What it takes to start one process of the mesh, again if need be.
#[derive(Debug, Clone)]
struct Spec {
    process: Process,
    /// Its settings, over the launcher's environment (less the variables
    /// that would give every process the same address or database).
    env: Vec<(String, String)>,
}

/// A started process of the mesh, before it is handed to [`supervise`].
struct Running {
    spec: Spec,
    child: Child,
}

/// A process under supervision: the task that restarts it, and the switch
/// that tells that task to stop it for good.
struct Supervised {
    process: Process,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// The wait before a dead process is started again: 0.5 s after the first
/// death, doubling with each death in a row up to 30 s, so a process that
/// cannot start does not spin a core; a process that had stayed up a
/// minute starts again from 0.5 s, since its last death was not part of
/// the same failure.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);
    /// Up this long, a process is taken to have recovered.
    const STABLE: Duration = Duration::from_secs(60);

    fn new() -> Self {
        Self { next: Self::FIRST }
    }

    /// The delay before restarting a process that died after running for
    /// `uptime`.
    fn after_exit(&mut self, uptime: Duration) -> Duration {
        if uptime >= Self::STABLE {
            self.next = Self::FIRST;
        }
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(Self::MAX);
        delay
    }
}

/// Runs the whole mesh until Ctrl-C or SIGTERM, restarting any process
/// that dies.
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
    let admin = crate::token::issue(&crate::cli::TokenArgs {
        role: crate::cli::RoleArg::Admin,
        restaurant: None,
        subject: "admin".to_owned(),
        ttl_hours: 24,
    })?;

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
    // A local mesh takes the sandbox mobile-money provider's calls signed
    // with the sandbox's published secret (see the README), unless told
    // otherwise; a deployment configures its own or takes none.
    let webhook_secret = accounting_svc::SANDBOX_SECRET_VARIABLE;
    if std::env::var_os(webhook_secret).is_none() {
        env.push((
            webhook_secret.to_owned(),
            accounting_svc::SANDBOX_WEBHOOK_SECRET.to_owned(),
        ));
    }

    // Listening from the start: a Ctrl-C while the mesh starts must stop
    // what has started, not kill the launcher and orphan its children
    // (they are in process groups of their own).
    let signal = foodmesh_shared::shutdown::signal();
    tokio::pin!(signal);

    let mut running: Vec<Running> = Vec::new();
    let started = tokio::select! {
        // Signal first: its first poll installs the handlers, which must be
        // in place before the first child is.
        biased;
        () = &mut signal => None,
        started = start_all(&exe, &args, &addrs, &env, &pg, &mut running) => Some(started),
    };
    match started {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            stop_starting(running).await;
            return Err(e);
        }
        None => {
            stop_starting(running).await;
            println!("foodmesh: every process stopped");
            return Ok(());
        }
    }
    let supervised: Vec<Supervised> = running
        .into_iter()
        .map(|r| {
            let (stop, stopped) = oneshot::channel();
            let process = r.spec.process;
            let task = tokio::spawn(supervise(exe.clone(), r, stopped));
            Supervised {
                process,
                stop,
                task,
            }
        })
        .collect();

    let targets = crate::targets::list(&args.host, args.gateway_port, &addrs);
    if let Err(e) = crate::targets::write(&args.prometheus_targets, &targets) {
        eprintln!("foodmesh: no scrape targets for Prometheus: {e:#}");
    }

    let gateway = format!("http://{}:{}", args.host, args.gateway_port);
    let announce = async {
        if !args.no_demo {
            let restaurant = format!("http://{}:{}", args.host, addrs[&ServiceName::Restaurant]);
            if let Err(e) = crate::demo::load(&restaurant).await {
                eprintln!("foodmesh: demo data not loaded: {e:#}");
            }
            let delivery = format!("http://{}:{}", args.host, addrs[&ServiceName::Delivery]);
            if let Err(e) = crate::demo::load_drivers(&delivery).await {
                eprintln!("foodmesh: demo drivers not added: {e:#}");
            }
        }
        println!(
            "\nFoodMesh is up.\n  gateway  {gateway}\n  API docs {gateway}/docs\n  OpenAPI  {gateway}/openapi.json\n  metrics  {gateway}/metrics\n  scrape targets for Prometheus (prometheus-local.yml):\n    {}\n  try, with an admin token (24 h):\n    TOKEN={admin}\n    curl -H \"Authorization: Bearer $TOKEN\" {gateway}/api/restaurants\nPress Ctrl-C to stop.\n",
            args.prometheus_targets.display()
        );
        let _ = tokio::io::stdout().flush().await;
    };
    tokio::select! {
        () = &mut signal => {}
        () = announce => signal.await,
    }

    stop_all(supervised).await;
    crate::targets::remove(&args.prometheus_targets);
    println!("foodmesh: every process stopped");
    Ok(())
}

async fn start_all(
    exe: &Path,
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
        let spec = Spec {
            process: Process::Service(service),
            env: vars,
        };
        let child = spawn(exe, &spec)?;
        running.push(Running { spec, child });
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
    let spec = Spec {
        process: Process::Gateway,
        env: vars,
    };
    let child = spawn(exe, &spec)?;
    running.push(Running { spec, child });
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

fn spawn(exe: &Path, spec: &Spec) -> anyhow::Result<Child> {
    let process = spec.process;
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg(process.to_string())
        // Each process's own settings come from `env` alone.
        .env_remove("DATABASE_URL")
        .env_remove("LISTEN_ADDR")
        .env_remove("ADVERTISE_ADDR")
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
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
    Ok(child)
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
            bail!("{} exited while starting ({status})", running.spec.process);
        }
        if probe().await {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "{} did not become healthy within {START_TIMEOUT:?}",
                running.spec.process
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

/// Keeps one process running until `stop` fires (or its sender is
/// dropped): each time it dies, says so with its exit status and starts it
/// again after the [`Backoff`] delay. Once told to stop, it stops the
/// process (see [`terminate`]) and returns.
async fn supervise(exe: PathBuf, running: Running, mut stop: oneshot::Receiver<()>) {
    let Running { spec, child } = running;
    let process = spec.process;
    // `None` while a restart could not even spawn (the executable gone).
    let mut child = Some(child);
    let mut since = Instant::now();
    let mut backoff = Backoff::new();
    loop {
        let delay = if let Some(c) = child.as_mut() {
            let exited = tokio::select! {
                _ = &mut stop => {
                    terminate(process, c).await;
                    return;
                }
                exited = c.wait() => exited,
            };
            let how = match exited {
                Ok(status) => status.to_string(),
                Err(e) => format!("cannot wait for it: {e}"),
            };
            let uptime = since.elapsed();
            let delay = backoff.after_exit(uptime);
            eprintln!(
                "foodmesh: {process} exited ({how}) after {}; restarting it in {}",
                seconds(uptime),
                seconds(delay)
            );
            delay
        } else {
            let delay = backoff.after_exit(Duration::ZERO);
            eprintln!(
                "foodmesh: trying to start {process} again in {}",
                seconds(delay)
            );
            delay
        };
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(delay) => {}
        }
        since = Instant::now();
        child = match spawn(&exe, &spec) {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("foodmesh: {e:#}");
                None
            }
        };
    }
}

/// `1.5s`: durations as a person reads them in a log line.
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn pid_i32(pid: u32) -> i32 {
    i32::try_from(pid).unwrap_or(i32::MAX)
}

/// Stops the gateway first, then the services in the reverse of their
/// start order, each once the one before it has gone.
async fn stop_all(supervised: Vec<Supervised>) {
    for s in supervised.into_iter().rev() {
        let _ = s.stop.send(());
        if let Err(e) = s.task.await {
            eprintln!("foodmesh: the supervisor of {} failed: {e}", s.process);
        }
    }
}

/// [`stop_all`] for a mesh still starting: nothing supervises it yet.
async fn stop_starting(mut running: Vec<Running>) {
    while let Some(mut r) = running.pop() {
        terminate(r.spec.process, &mut r.child).await;
    }
}

/// Stops one process with SIGTERM and, if it has not gone after a grace
/// period, SIGKILL.
async fn terminate(process: Process, child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Some(pid) = child.id() {
        let _ = kill(Pid::from_raw(pid_i32(pid)), Signal::SIGTERM);
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(_) => println!("foodmesh: stopped {process}"),
        Err(_) => {
            eprintln!("foodmesh: {process} did not stop in {STOP_GRACE:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn restarts_wait_half_a_second_then_double_up_to_thirty_seconds() {
        let mut backoff = Backoff::new();

        let delays: Vec<u128> = (0..9)
            .map(|_| backoff.after_exit(SECOND).as_millis())
            .collect();

        assert_eq!(
            delays,
            [
                500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000
            ]
        );
    }

    #[test]
    fn a_process_that_stayed_up_a_minute_is_restarted_quickly_again() {
        let mut backoff = Backoff::new();
        for _ in 0..5 {
            backoff.after_exit(SECOND);
        }

        let after_a_good_run = backoff.after_exit(60 * SECOND);
        let next = backoff.after_exit(SECOND);

        assert_eq!(after_a_good_run, Duration::from_millis(500));
        assert_eq!(next, SECOND);
    }

    #[test]
    fn a_process_that_dies_just_short_of_a_minute_keeps_backing_off() {
        let mut backoff = Backoff::new();
        backoff.after_exit(SECOND);

        let delay = backoff.after_exit(59 * SECOND);

        assert_eq!(delay, SECOND);
    }
}
