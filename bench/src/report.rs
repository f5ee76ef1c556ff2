//! The run's one summary: every scenario's figures, the two ratios, and
//! what is needed to trust or repeat them — the machine, the commit and the
//! exact command. Written as JSON for tools and as a table for people.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use serde::Serialize;

use crate::cli::Scenario;
use crate::cpu::CpuUse;
use crate::memory::Resident;
use crate::scenarios::CatchUp;
use crate::stats::{self, Summary};

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When the run started (UTC, RFC 3339).
    pub started_at: String,
    /// The tool's own command line, quoted for a shell.
    pub command: String,
    /// The command that ran the tool, when a runner says so
    /// (`FOODMESH_BENCH_RUNNER`, set by `bench/run.sh`).
    pub runner: Option<String>,
    /// `git rev-parse HEAD` where the tool ran.
    pub git_commit: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub settings: Settings,
    /// Scenario name → its figures.
    pub scenarios: BTreeMap<String, ScenarioReport>,
    /// The two ratios the run exists for.
    pub ratios: Ratios,
    /// How long after `order_create` the kitchen had every ticket.
    pub kitchen_catch_up: Option<CatchUp>,
    /// The mesh processes' resident memory at rest.
    pub memory: Memory,
}

/// Resident memory of each mesh process (`foodmesh serve <name>`): with
/// the mesh up and idle before the first scenario, and again a few quiet
/// seconds after the last. Empty when none was found (another machine's
/// mesh, or no `/proc`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Memory {
    /// Before any load.
    pub idle_before: BTreeMap<String, Resident>,
    /// After every scenario.
    pub idle_after: BTreeMap<String, Resident>,
}

/// The settings every scenario shared.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// Workers per scenario (`order_to_kitchen` has its own).
    pub concurrency: usize,
    /// Workers of `order_to_kitchen`.
    pub kitchen_concurrency: usize,
    /// The measured window of each scenario, in seconds.
    pub duration_s: u64,
    /// The warm-up before it, in seconds.
    pub warmup_s: u64,
    /// Lines per order.
    pub lines: usize,
    /// Customers the orders are spread over.
    pub customers: usize,
}

/// One scenario's figures and the workers that made them.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    /// Workers calling at once.
    pub concurrency: usize,
    #[serde(flatten)]
    pub summary: Summary,
}

/// Throughput ratios: how much of a limit a path reaches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ratios {
    /// `order_create` rps over `db_ceiling` rps: the share of the
    /// database's own write rate that ordering through the mesh reaches.
    pub order_create_over_db_ceiling: Option<f64>,
    /// `menu_read` rps over `menu_read_grpc` rps: the share of the service's
    /// own read rate left after the gateway.
    pub menu_read_over_menu_read_grpc: Option<f64>,
    /// `overload`'s p99 over `overload_base`'s: how much later the orders
    /// a shedding gateway admits are answered than the unloaded ones.
    pub overload_p99_over_base_p99: Option<f64>,
}

impl Ratios {
    /// The ratios of whichever scenarios ran.
    pub fn of(scenarios: &BTreeMap<String, ScenarioReport>) -> Self {
        let pair = |a: Scenario, b: Scenario| {
            let a = scenarios.get(a.name())?;
            let b = scenarios.get(b.name())?;
            stats::ratio(&a.summary, &b.summary)
        };
        Self {
            order_create_over_db_ceiling: pair(Scenario::OrderCreate, Scenario::DbCeiling),
            menu_read_over_menu_read_grpc: pair(Scenario::MenuRead, Scenario::MenuReadGrpc),
            overload_p99_over_base_p99: {
                let p99 = |s: Scenario| {
                    scenarios
                        .get(s.name())
                        .and_then(|r| r.summary.latency_ms)
                        .map(|l| l.p99)
                };
                match (p99(Scenario::Overload), p99(Scenario::OverloadBase)) {
                    (Some(loaded), Some(base)) if base > 0.0 => Some(loaded / base),
                    _ => None,
                }
            },
        }
    }
}

/// The machine a run was on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Cores this process may use.
    pub cores: usize,
    /// `MemTotal` of `/proc/meminfo`, in KiB.
    pub mem_total_kib: Option<u64>,
    /// The first `model name` of `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
}

impl Machine {
    pub fn this() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        Self {
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            mem_total_kib: read("/proc/meminfo").as_deref().and_then(mem_total_kib),
            cpu_model: read("/proc/cpuinfo").as_deref().and_then(cpu_model),
        }
    }

    fn describe(&self) -> String {
        let memory = match self.mem_total_kib {
            Some(kib) => format!("{:.1} GiB", kib as f64 / (1024.0 * 1024.0)),
            None => "memory unknown".to_owned(),
        };
        let cpu = self.cpu_model.as_deref().unwrap_or("cpu unknown");
        format!("{} cores, {memory}, {cpu}", self.cores)
    }
}

/// `MemTotal` in KiB from the text of `/proc/meminfo`.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// The first `model name` from the text of `/proc/cpuinfo`.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter(|line| line.starts_with("model name"))
        .find_map(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .filter(|model| !model.is_empty())
}

/// The commit checked out where the tool runs; `None` outside a checkout.
pub fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .filter(|commit| !commit.is_empty())
}

/// `args` as one line a shell reads back to the same words.
pub fn shell_line(args: impl IntoIterator<Item = String>) -> String {
    let quote = |arg: String| {
        let plain = !arg.is_empty()
            && arg
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
        if plain {
            arg
        } else {
            format!("'{}'", arg.replace('\'', r"'\''"))
        }
    };
    args.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

impl Report {
    /// Writes the report as pretty JSON to `path`, making its folder.
    ///
    /// # Errors
    /// The folder or file cannot be written.
    pub fn write_json(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))
    }

    /// The CPU per call of each scenario that has it, one column each, by
    /// process, the most costly first.
    fn cpu_table(&self, out: &mut String) {
        let used: Vec<(&str, &CpuUse)> = Scenario::ALL
            .iter()
            .filter_map(|s| {
                let cpu = self.scenarios.get(s.name())?.summary.cpu.as_ref()?;
                Some((s.name(), cpu))
            })
            .collect();
        if used.is_empty() {
            return;
        }
        let mut groups: Vec<(&str, f64)> = Vec::new();
        for (_, cpu) in &used {
            for (group, ms) in &cpu.ms_per_call_by_process {
                match groups.iter_mut().find(|(g, _)| g == group) {
                    Some((_, most)) => *most = most.max(*ms),
                    None => groups.push((group, *ms)),
                }
            }
        }
        groups.sort_by(|a, b| b.1.total_cmp(&a.1));
        let _ = writeln!(out);
        let _ = write!(out, "{:<24}", "cpu ms per call");
        for (name, _) in &used {
            let _ = write!(out, " {name:>16}");
        }
        let _ = writeln!(out);
        let mut row = |label: &str, value: &dyn Fn(&CpuUse) -> Option<f64>| {
            let _ = write!(out, "{label:<24}");
            for (_, cpu) in &used {
                let cell = value(cpu).map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
                let _ = write!(out, " {cell:>16}");
            }
            let _ = writeln!(out);
        };
        for (group, _) in &groups {
            row(group, &|cpu| {
                cpu.ms_per_call_by_process.get(*group).copied()
            });
        }
        row("in all", &|cpu| Some(cpu.ms_per_call));
        row("cores busy", &|cpu| Some(cpu.cores_busy));
    }

    /// The report as a table, scenarios in the order they ran, then the
    /// failures, the ratios, the CPU per call and where it ran.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<21} {:>5} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
            "scenario", "conc", "rps", "p50 ms", "p90 ms", "p99 ms", "max ms", "ok", "errors"
        );
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
        for scenario in Scenario::ALL {
            let Some(s) = self.scenarios.get(scenario.name()) else {
                continue;
            };
            let l = s.summary.latency_ms;
            let _ = writeln!(
                out,
                "{:<21} {:>5} {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>9} {:>7}",
                scenario.name(),
                s.concurrency,
                s.summary.rps,
                ms(l.map(|l| l.p50)),
                ms(l.map(|l| l.p90)),
                ms(l.map(|l| l.p99)),
                ms(l.map(|l| l.max)),
                s.summary.ok,
                s.summary.error_count,
            );
        }
        for scenario in Scenario::ALL {
            let Some(s) = self.scenarios.get(scenario.name()) else {
                continue;
            };
            if let Some(early) = s.summary.early {
                let _ = writeln!(
                    out,
                    "  {}: {} of {} came before their reference moment (by up to {:.2} ms), counted as 0",
                    scenario.name(),
                    early.count,
                    s.summary.ok,
                    early.max_lead_ms
                );
            }
            for (key, count) in &s.summary.errors {
                let sample = s.summary.error_samples.get(key).map_or("", String::as_str);
                let _ = writeln!(out, "  {} errors {key} x{count}: {sample}", scenario.name());
            }
        }
        let ratio = |r: Option<f64>| r.map_or_else(|| "-".to_owned(), |r| format!("{r:.3}"));
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "order_create / db_ceiling    {}",
            ratio(self.ratios.order_create_over_db_ceiling)
        );
        let _ = writeln!(
            out,
            "menu_read / menu_read_grpc   {}",
            ratio(self.ratios.menu_read_over_menu_read_grpc)
        );
        let _ = writeln!(
            out,
            "overload p99 / base p99      {}",
            ratio(self.ratios.overload_p99_over_base_p99)
        );
        if let Some(c) = &self.kitchen_catch_up {
            let _ = writeln!(
                out,
                "kitchen caught up            {} of {} tickets, {:.1} s after order_create{}",
                c.tickets,
                c.orders,
                c.seconds,
                if c.complete { "" } else { " (gave up)" }
            );
        }
        self.cpu_table(&mut out);
        let mib = |kib: u64| kib as f64 / 1024.0;
        if !self.memory.idle_before.is_empty() {
            let _ = writeln!(out);
            let _ = writeln!(
                out,
                "{:<17} {:>14} {:>14} {:>14} {:>14}",
                "idle memory MiB", "RSS before", "PSS before", "RSS after", "PSS after"
            );
            for (name, before) in &self.memory.idle_before {
                let after = self
                    .memory
                    .idle_after
                    .get(name)
                    .copied()
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "{:<17} {:>14.1} {:>14.1} {:>14.1} {:>14.1}",
                    name,
                    mib(before.rss_kib),
                    mib(before.pss_kib),
                    mib(after.rss_kib),
                    mib(after.pss_kib)
                );
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "machine  {}", self.machine.describe());
        let _ = writeln!(
            out,
            "commit   {}",
            self.git_commit.as_deref().unwrap_or("unknown")
        );
        if let Some(runner) = &self.runner {
            let _ = writeln!(out, "runner   {runner}");
        }
        let _ = writeln!(out, "command  {}", self.command);
        let _ = writeln!(out, "started  {}", self.started_at);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::{Outcome, Recorder};

    fn scenario(ok: u64, seconds: u64) -> ScenarioReport {
        let mut r = Recorder::new();
        for _ in 0..ok {
            r.record(Outcome::Ok, Duration::from_millis(2));
        }
        ScenarioReport {
            concurrency: 16,
            summary: r.summary(Duration::from_secs(seconds)),
        }
    }

    #[test]
    fn the_ratios_are_taken_from_the_scenarios_that_ran() {
        let mut scenarios = BTreeMap::new();
        scenarios.insert("order_create".to_owned(), scenario(100, 1));
        scenarios.insert("db_ceiling".to_owned(), scenario(400, 1));
        scenarios.insert("menu_read".to_owned(), scenario(10, 1));

        let ratios = Ratios::of(&scenarios);

        assert_eq!(ratios.order_create_over_db_ceiling, Some(0.25));
        assert_eq!(ratios.menu_read_over_menu_read_grpc, None);
        assert_eq!(ratios.overload_p99_over_base_p99, None);
    }

    #[test]
    fn the_overload_ratio_is_of_the_admitted_calls_p99s() {
        let timed = |ms: u64| {
            let mut r = Recorder::new();
            for _ in 0..100 {
                r.record(Outcome::Ok, Duration::from_millis(ms));
            }
            r.record(Outcome::failed("503", "shed"), Duration::from_micros(50));
            ScenarioReport {
                concurrency: 1,
                summary: r.summary(Duration::from_secs(1)),
            }
        };
        let mut scenarios = BTreeMap::new();
        scenarios.insert("overload_base".to_owned(), timed(4));
        scenarios.insert("overload".to_owned(), timed(6));

        let ratio = Ratios::of(&scenarios)
            .overload_p99_over_base_p99
            .expect("both ran");

        assert!((ratio - 1.5).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn memory_and_cpu_are_read_from_proc() {
        let meminfo = "MemTotal:       24598172 kB\nMemFree:        21000000 kB\n";
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\n\
                       model name\t: AMD EPYC 7B13\n";

        assert_eq!(mem_total_kib(meminfo), Some(24_598_172));
        assert_eq!(mem_total_kib("nothing"), None);
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model(""), None);
    }

    #[test]
    fn a_command_line_is_quoted_only_where_a_shell_needs_it() {
        let line = shell_line(
            [
                "foodmesh-bench",
                "-c",
                "16",
                "--out",
                "my results/x.json",
                "it's",
                "",
            ]
            .map(str::to_owned),
        );

        assert_eq!(
            line,
            r"foodmesh-bench -c 16 --out 'my results/x.json' 'it'\''s' ''"
        );
    }

    #[test]
    fn the_table_names_every_scenario_that_ran_and_both_ratios() {
        let mut scenarios = BTreeMap::new();
        let mut create = scenario(100, 1);
        create.summary.cpu = Some(CpuUse {
            cores_busy: 2.0,
            ms_per_call: 4.5,
            ms_per_call_by_process: BTreeMap::from([
                ("order-svc".to_owned(), 1.0),
                ("postgres bench_order".to_owned(), 3.5),
            ]),
        });
        let mut ceiling = scenario(400, 1);
        ceiling.summary.cpu = Some(CpuUse {
            cores_busy: 1.9,
            ms_per_call: 1.1,
            ms_per_call_by_process: BTreeMap::from([("postgres bench_order".to_owned(), 1.1)]),
        });
        scenarios.insert("order_create".to_owned(), create);
        scenarios.insert("db_ceiling".to_owned(), ceiling);
        let report = Report {
            started_at: "2026-01-01T00:00:00Z".to_owned(),
            command: "foodmesh-bench".to_owned(),
            runner: None,
            git_commit: Some("abc".to_owned()),
            machine: Machine {
                cores: 2,
                mem_total_kib: Some(1024 * 1024),
                cpu_model: None,
            },
            settings: Settings {
                concurrency: 16,
                kitchen_concurrency: 1,
                duration_s: 1,
                warmup_s: 0,
                lines: 3,
                customers: 1,
            },
            ratios: Ratios::of(&scenarios),
            scenarios,
            kitchen_catch_up: None,
            memory: Memory::default(),
        };

        let table = report.table();

        let rows: Vec<&str> = table
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(rows, ["order_create", "db_ceiling"], "{table}");
        assert!(
            table.contains("order_create / db_ceiling    0.250"),
            "{table}"
        );
        assert!(table.contains("menu_read / menu_read_grpc   -"), "{table}");
        assert!(table.contains("2 cores, 1.0 GiB"), "{table}");
        let cpu: Vec<Vec<&str>> = table
            .lines()
            .skip_while(|l| !l.starts_with("cpu ms per call"))
            .take_while(|l| !l.is_empty())
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            cpu,
            [
                vec!["cpu", "ms", "per", "call", "order_create", "db_ceiling"],
                vec!["postgres", "bench_order", "3.500", "1.100"],
                vec!["order-svc", "1.000", "-"],
                vec!["in", "all", "4.500", "1.100"],
                vec!["cores", "busy", "2.000", "1.900"],
            ],
            "{table}"
        );
    }
}
