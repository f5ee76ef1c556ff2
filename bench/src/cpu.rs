//! Where the machine's CPU goes during a scenario's measured window, by
//! process, per successful call: the evidence for what bounds a scenario
//! that is CPU-bound. On a small machine the mesh, its databases, Redis and
//! this tool share the cores, so a path's throughput is the cores divided
//! by the CPU one call costs all of them together — and the split shows
//! which of them to make cheaper.
//!
//! Read from `/proc/<pid>/stat` (user + system time of all of a process's
//! threads) at the start and the end of the window. Processes are grouped
//! as an operator would look at them: each `foodmesh serve <name>` by its
//! name, Postgres backends by database (so order-svc's statements and
//! kitchen-svc's show apart) and its own background processes by role,
//! Redis, this tool, the kernel's workers. A process that starts or ends
//! within the window is missed; the mesh's processes and its pools'
//! connections live through it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use tokio::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` times: the kernel's
/// `USER_HZ`, 100 on every Linux this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// A group below this share of all the CPU used is counted in `other`.
const SHOWN_SHARE: f64 = 0.01;

/// CPU seconds used so far, by group.
pub type Snapshot = BTreeMap<String, f64>;

/// What the machine's processes used over a window, per call.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CpuUse {
    /// Cores kept busy on average over the window (2.0 = two cores).
    pub cores_busy: f64,
    /// Milliseconds of CPU per successful call, all processes together.
    pub ms_per_call: f64,
    /// Milliseconds of CPU per successful call, by group; groups under 1 %
    /// of the whole are summed as `other`.
    pub ms_per_call_by_process: BTreeMap<String, f64>,
}

impl CpuUse {
    /// The use between `before` and `after`, `seconds` apart, spread over
    /// `calls` successful calls; `None` without `/proc` or calls.
    pub fn between(before: &Snapshot, after: &Snapshot, seconds: f64, calls: u64) -> Option<Self> {
        if after.is_empty() || calls == 0 || seconds <= 0.0 {
            return None;
        }
        let used: Vec<(&String, f64)> = after
            .iter()
            .map(|(group, s)| {
                (
                    group,
                    (s - before.get(group).copied().unwrap_or(0.0)).max(0.0),
                )
            })
            .collect();
        let total: f64 = used.iter().map(|(_, s)| s).sum();
        let per_call = |s: f64| s * 1000.0 / calls as f64;
        let mut by_process = BTreeMap::new();
        for (group, s) in used {
            let key = if s >= total * SHOWN_SHARE {
                group.clone()
            } else {
                "other".to_owned()
            };
            *by_process.entry(key).or_insert(0.0) += per_call(s);
        }
        by_process.retain(|_, ms| *ms > 0.0);
        Some(Self {
            cores_busy: total / seconds,
            ms_per_call: per_call(total),
            ms_per_call_by_process: by_process,
        })
    }
}

/// The machine's CPU at the start and at the end of a measured window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub before: Snapshot,
    pub after: Snapshot,
    /// Seconds between the two.
    pub seconds: f64,
}

impl Window {
    /// What was used over the window, per one of `calls` successful calls.
    pub fn per_call(&self, calls: u64) -> Option<CpuUse> {
        CpuUse::between(&self.before, &self.after, self.seconds, calls)
    }
}

/// Snapshots at `begin` and at `end` — a measured window — in the
/// background.
pub fn sample_window(begin: Instant, end: Instant) -> tokio::task::JoinHandle<Window> {
    tokio::spawn(async move {
        tokio::time::sleep_until(begin).await;
        let (before, start) = (snapshot(), Instant::now());
        tokio::time::sleep_until(end).await;
        let after = snapshot();
        Window {
            before,
            after,
            seconds: start.elapsed().as_secs_f64(),
        }
    })
}

/// CPU seconds every process has used, by group; empty without `/proc`.
pub fn snapshot() -> Snapshot {
    snapshot_of(Path::new("/proc"))
}

/// [`snapshot`] of a `/proc` tree at `proc`.
fn snapshot_of(proc: &Path) -> Snapshot {
    let mut used = Snapshot::new();
    let Ok(entries) = std::fs::read_dir(proc) else {
        return used;
    };
    for entry in entries.flatten() {
        // Processes only: `/proc/self` and `/proc/thread-self` would count
        // this tool again.
        if !entry
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let dir = entry.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        let Some((comm, seconds)) = parse_stat(&stat) else {
            continue;
        };
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        *used.entry(group(comm, &cmdline)).or_insert(0.0) += seconds;
    }
    used
}

/// A `/proc/<pid>/stat` line's command name and CPU seconds (user +
/// system). The name is in parentheses and may hold spaces, so the fields
/// are counted from the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, f64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let mut fields = stat.get(close + 1..)?.split_whitespace();
    // After the name: state (3), …, utime (14), stime (15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((comm, (utime + stime) as f64 / TICKS_PER_SECOND))
}

/// The group a process is counted in.
fn group(comm: &str, cmdline: &[u8]) -> String {
    let cmd = String::from_utf8_lossy(cmdline).replace('\0', " ");
    let cmd = cmd.trim();
    if let Some(rest) = cmd.strip_prefix("postgres: ") {
        return postgres_group(rest);
    }
    let mut args = cmd.split_whitespace();
    let exe = args.next().unwrap_or_default();
    let exe = exe.rsplit('/').next().unwrap_or(exe);
    match (exe, args.next(), args.next()) {
        ("foodmesh", Some("serve"), Some(name)) => name.to_owned(),
        // bench/run.sh's gateway for the overload scenarios.
        ("foodmesh-overload", Some("serve"), Some(name)) => format!("{name} (overload)"),
        ("foodmesh", Some(sub), _) => format!("foodmesh {sub}"),
        ("foodmesh-bench", _, _) => "foodmesh-bench".to_owned(),
        _ if comm.contains("redis") => "redis".to_owned(),
        _ if comm.starts_with("kworker") || comm.starts_with("ksoftirqd") => {
            "kernel workers".to_owned()
        }
        _ => comm.to_owned(),
    }
}

/// A Postgres process by what it serves: `postgres <database>` for a
/// backend (`postgres: [cluster: ]user database client state`, the client
/// a `host(port)` or `[local]`), `postgres <role>` for the server's own
/// (`postgres: [cluster: ]walwriter`, `… autovacuum launcher`).
fn postgres_group(title: &str) -> String {
    let mut words: Vec<&str> = title.split_whitespace().collect();
    // Debian titles start with the cluster, e.g. `15/main:`.
    if words.first().is_some_and(|w| w.ends_with(':')) {
        words.remove(0);
    }
    match words.as_slice() {
        [_, database, client, ..] if client.contains('(') || *client == "[local]" => {
            format!("postgres {database}")
        }
        [] => "postgres server".to_owned(),
        role => format!("postgres {}", role.join(" ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_their_name_and_cpu_seconds_even_with_spaces_in_the_name() {
        let stat = "4242 (tokio rt) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 50 0 0 20 0 4 0 \
                    100 1000000 2000 18446744073709551615";
        let (comm, seconds) = parse_stat(stat).expect("parsed");
        assert_eq!(comm, "tokio rt");
        assert!((seconds - 3.0).abs() < 1e-9, "{seconds}");
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn processes_are_grouped_by_what_they_serve() {
        let g = |comm: &str, cmd: &str| group(comm, cmd.replace(' ', "\0").as_bytes());
        assert_eq!(
            g("foodmesh", "/x/target/release/foodmesh serve order-svc"),
            "order-svc"
        );
        assert_eq!(
            g("foodmesh", "target/release/foodmesh up --db-prefix bench"),
            "foodmesh up"
        );
        assert_eq!(
            g("foodmesh-bench", "target/release/foodmesh-bench -d 10"),
            "foodmesh-bench"
        );
        assert_eq!(g("redis-server", "redis-server 127.0.0.1:6379"), "redis");
        assert_eq!(g("kworker/u8:0-events", ""), "kernel workers");
        assert_eq!(g("sshd", "sshd -D"), "sshd");
        // Postgres rewrites its command line with spaces, not NULs.
        let pg = |title: &str| group("postgres", title.as_bytes());
        assert_eq!(
            pg("postgres: 15/main: postgres bench_order 127.0.0.1(5000) idle"),
            "postgres bench_order"
        );
        assert_eq!(pg("postgres: walwriter "), "postgres walwriter");
        assert_eq!(
            pg("postgres: 15/main: autovacuum launcher"),
            "postgres autovacuum launcher"
        );
        assert_eq!(pg("postgres: app orders [local] idle"), "postgres orders");
        assert_eq!(
            pg("postgres: 15/main: checkpointer"),
            "postgres checkpointer"
        );
    }

    #[test]
    fn use_is_spread_over_the_calls_and_small_groups_are_summed() {
        let before = Snapshot::from([
            ("order-svc".to_owned(), 10.0),
            ("postgres bench_order".to_owned(), 20.0),
            ("sshd".to_owned(), 1.0),
        ]);
        let after = Snapshot::from([
            ("order-svc".to_owned(), 14.0),
            ("postgres bench_order".to_owned(), 35.0),
            ("sshd".to_owned(), 1.01),
            // Started within the window: all it used counts.
            ("psql".to_owned(), 0.99),
        ]);
        let used = CpuUse::between(&before, &after, 10.0, 1000).expect("use");
        assert!((used.cores_busy - 2.0).abs() < 1e-9, "{used:?}");
        assert!((used.ms_per_call - 20.0).abs() < 1e-9, "{used:?}");
        let ms = |k: &str| used.ms_per_call_by_process.get(k).copied();
        assert_eq!(ms("order-svc"), Some(4.0));
        assert_eq!(ms("postgres bench_order"), Some(15.0));
        assert!((ms("other").expect("other") - 0.01).abs() < 1e-9);
        assert_eq!(ms("psql"), Some(0.99));
        assert_eq!(CpuUse::between(&before, &Snapshot::new(), 10.0, 1000), None);
        assert_eq!(CpuUse::between(&before, &after, 10.0, 0), None);
    }

    #[test]
    fn a_process_is_counted_once_not_again_under_self() {
        let proc = std::env::temp_dir().join(format!("cpu-{}", uuid::Uuid::new_v4().simple()));
        let stat = "77 (foodmesh) S 1 77 77 0 -1 0 0 0 0 0 150 50 0 0 20 0 4 0 100 1 2 3";
        let cmdline = "/x/foodmesh\0serve\0order-svc\0";
        // The process, and the links the kernel adds to it for a reader.
        for dir in ["77", "self", "thread-self"] {
            std::fs::create_dir_all(proc.join(dir)).expect("dir");
            std::fs::write(proc.join(dir).join("stat"), stat).expect("stat");
            std::fs::write(proc.join(dir).join("cmdline"), cmdline).expect("cmdline");
        }

        let used = snapshot_of(&proc);
        let _ = std::fs::remove_dir_all(&proc);

        assert_eq!(used, Snapshot::from([("order-svc".to_owned(), 2.0)]));
        assert_eq!(snapshot_of(&proc.join("gone")), Snapshot::new());
    }
}
