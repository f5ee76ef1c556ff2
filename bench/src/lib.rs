//! `foodmesh-bench`: a closed-loop load generator for a running FoodMesh
//! mesh. It measures the hot paths — reading a menu, placing an order, an
//! order reaching the kitchen — through the gateway, and holds them against
//! the limits beneath them: the same read over gRPC straight to the
//! service, and the same write straight against Postgres.
//!
//! `bench/run.sh` builds it, starts a fresh mesh in release mode, runs it
//! and stops the mesh; `bench/README.md` says what each scenario measures.
//!
//! # Layout
//! - [`cli`] — the flags and the scenarios' names.
//! - [`load`] — the closed loop: workers, warm-up, the measured window.
//! - [`stats`] — outcomes, per-worker histograms, summaries and ratios.
//! - [`http`] — one kept-alive HTTP/1.1 connection per worker; event
//!   streams.
//! - [`sse`] — Server-Sent Events parsing; the order of a kitchen ticket.
//! - [`mesh`] — tokens, the benchmark restaurants, the order body.
//! - [`scenarios`] — the scenarios that go through the mesh.
//! - [`delivery`] — drivers' positions and the nearest-driver search.
//! - [`notify`] — a bulk send, from acceptance to its last message.
//! - [`ceiling`] — `db_ceiling`, straight against order-svc's database.
//! - [`memory`] — the mesh processes' resident memory at rest.
//! - [`cpu`] — the CPU each process spends per call in a measured window.
//! - [`report`] — the JSON summary and the table.

#![forbid(unsafe_code)]

pub mod ceiling;
pub mod cli;
pub mod cpu;
pub mod delivery;
pub mod http;
pub mod load;
pub mod memory;
pub mod mesh;
pub mod notify;
pub mod report;
pub mod scenarios;
pub mod sse;
pub mod stats;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

use crate::cli::{Cli, Scenario};
use crate::http::{Conn, Gateway};
use crate::load::Plan;
use crate::mesh::Tokens;
use crate::report::{Machine, Memory, Ratios, Report, ScenarioReport, Settings};
use crate::scenarios::Context;
use crate::stats::Summary;

/// Runs the scenarios `cli` names against the mesh, writes the JSON
/// summary to `cli.out` and returns the report (whose table `main`
/// prints). Failed calls are counted in the report, not returned.
///
/// # Errors
/// The mesh or its database is not there, setting up through the gateway
/// failed, or the summary cannot be written.
pub async fn run(cli: Cli, command: String) -> anyhow::Result<Report> {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let timeout = Duration::from_secs(cli.request_timeout);
    let concurrency = usize::from(cli.concurrency);
    let customers = usize::try_from(cli.customers).unwrap_or(1);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let secret = cli
        .jwt_secret
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| gateway::auth::DEV_SECRET.to_owned());
    let ctx = Context {
        gateway: Gateway::parse(&cli.gateway)?,
        timeout,
        plan: Plan {
            concurrency,
            warmup: Duration::from_secs(cli.warmup),
            duration: Duration::from_secs(cli.duration),
        },
        run_id: run_id.clone(),
        tokens: Tokens::new(secret),
        lines: usize::from(cli.lines),
        customers,
    };
    let mut wanted = cli.scenarios.clone();
    wanted.sort();
    wanted.dedup();

    let mut setup = Conn::new(ctx.gateway.clone(), timeout);
    mesh::check_gateway(&mut setup).await?;
    let admin = ctx.tokens.admin()?;
    // Two restaurants: the kitchen stream of the second carries only the
    // tickets `order_to_kitchen` waits for.
    let main = mesh::create_restaurant(&mut setup, &admin, &format!("Bench Pizza {run_id}"))
        .await
        .context("creating the benchmark restaurant")?;
    let kitchen = mesh::create_restaurant(&mut setup, &admin, &format!("Bench Kitchen {run_id}"))
        .await
        .context("creating the kitchen benchmark restaurant")?;
    eprintln!(
        "foodmesh-bench: run {run_id}: restaurants {} and {}, {} workers, {} s warm-up + {} s per scenario",
        main.id, kitchen.id, concurrency, cli.warmup, cli.duration
    );

    let idle_before = memory::mesh_memory();
    let mut results = BTreeMap::new();
    let mut kitchen_catch_up = None;
    let mut record = |scenario: Scenario, concurrency: usize, summary: Summary| {
        eprintln!(
            "foodmesh-bench: {:<21} {:>9.1} rps, {} ok, {} errors",
            scenario.name(),
            summary.rps,
            summary.ok,
            summary.error_count
        );
        results.insert(
            scenario.name().to_owned(),
            ScenarioReport {
                concurrency,
                summary,
            },
        );
    };
    for scenario in wanted {
        eprintln!("foodmesh-bench: running {}", scenario.name());
        match scenario {
            Scenario::MenuRead => {
                record(
                    scenario,
                    concurrency,
                    scenarios::menu_read(&ctx, &main).await?,
                );
            }
            Scenario::MenuReadGrpc => {
                let summary = scenarios::menu_read_grpc(&ctx, &cli.restaurant_grpc, &main).await?;
                record(scenario, concurrency, summary);
            }
            Scenario::CartQuote => {
                mesh::create_coupon(&mut setup, &admin, &main)
                    .await
                    .context("creating the benchmark coupon")?;
                let summary = scenarios::cart_quote(&ctx, &main).await?;
                record(scenario, concurrency, summary);
            }
            Scenario::OrderToKitchen => {
                let workers = usize::from(cli.kitchen_concurrency);
                let summary = scenarios::order_to_kitchen(&ctx, &kitchen, workers).await?;
                record(scenario, workers, summary);
            }
            Scenario::DriverLocation => {
                let summary = delivery::driver_location(&ctx, &cli.delivery_grpc).await?;
                record(scenario, concurrency, summary);
            }
            Scenario::NearestDriver => {
                let summary = delivery::nearest_driver(
                    &ctx,
                    &cli.delivery_grpc,
                    usize::try_from(cli.drivers).unwrap_or(10_000),
                )
                .await?;
                record(scenario, concurrency, summary);
            }
            Scenario::CardOrderToKitchen => {
                let workers = usize::from(cli.kitchen_concurrency);
                let summary = scenarios::card_order_to_kitchen(&ctx, &kitchen, workers).await?;
                record(scenario, workers, summary);
            }
            Scenario::OrderCreate => {
                let (summary, created) = scenarios::order_create(&ctx, &main).await?;
                let stopped = Instant::now();
                record(scenario, concurrency, summary);
                if !created.is_empty() && cli.catch_up_timeout > 0 {
                    eprintln!(
                        "foodmesh-bench: waiting for the kitchen to show {} tickets",
                        created.len()
                    );
                    let give_up = Duration::from_secs(cli.catch_up_timeout);
                    let caught =
                        scenarios::kitchen_catch_up(&ctx, &main, created, stopped, give_up).await?;
                    kitchen_catch_up = Some(caught);
                }
            }
            Scenario::DbCeiling => {
                let url = cli.order_db_url.clone().unwrap_or_else(|| {
                    let lookup = |k: &str| std::env::var(k).ok();
                    let base = foodmesh_shared::config::pg_base(&lookup);
                    format!("{base}/{}_order", cli.db_prefix)
                });
                let scratch = ceiling::prepare(&url, concurrency, customers).await?;
                let measured = ceiling::db_ceiling(
                    &scratch, &ctx.plan, main.id, ctx.lines, customers, timeout,
                )
                .await;
                let removed = scratch.remove().await;
                record(scenario, concurrency, measured?);
                removed?;
            }
            Scenario::OverloadBase | Scenario::Overload => {
                let workers = match scenario {
                    Scenario::Overload => usize::from(cli.overload_concurrency),
                    _ => 1,
                };
                let gateway = Gateway::parse(&cli.overload_gateway)?;
                let mut check = Conn::new(gateway.clone(), timeout);
                mesh::check_gateway(&mut check)
                    .await
                    .context("the overload gateway (bench/run.sh starts it on port 8010)")?;
                let honour = !cli.ignore_retry_after;
                let summary = scenarios::overload(&ctx, gateway, &main, workers, honour).await?;
                record(scenario, workers, summary);
            }
            Scenario::BulkSend => {
                let recipients = usize::try_from(cli.recipients).unwrap_or(10_000);
                record(scenario, 1, notify::bulk_send(&ctx, recipients).await?);
            }
        }
    }

    // A few quiet seconds, so what is read is the footprint at rest, not
    // the tail of the last scenario.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let memory = Memory {
        idle_before,
        idle_after: memory::mesh_memory(),
    };
    let report = Report {
        started_at,
        command,
        runner: std::env::var("FOODMESH_BENCH_RUNNER")
            .ok()
            .filter(|r| !r.is_empty()),
        git_commit: report::git_commit(),
        machine: Machine::this(),
        settings: Settings {
            concurrency,
            kitchen_concurrency: usize::from(cli.kitchen_concurrency),
            duration_s: cli.duration,
            warmup_s: cli.warmup,
            lines: ctx.lines,
            customers,
        },
        ratios: Ratios::of(&results),
        scenarios: results,
        kitchen_catch_up,
        memory,
    };
    report.write_json(&cli.out)?;
    eprintln!("foodmesh-bench: wrote {}", cli.out.display());
    Ok(report)
}
