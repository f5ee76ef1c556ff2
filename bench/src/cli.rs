//! The command line. The defaults measure a mesh started by
//! `bench/run.sh` (`foodmesh up --db-prefix bench`) on the default ports.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// `foodmesh-bench`: load a running FoodMesh mesh and measure its hot
/// paths against the database's own limit.
#[derive(Debug, Clone, Parser)]
#[command(name = "foodmesh-bench", version, about)]
pub struct Cli {
    /// The gateway's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8000")]
    pub gateway: String,
    /// restaurant-svc's gRPC address, for `menu_read_grpc`.
    #[arg(
        long,
        env = "FOODMESH_RESTAURANT_ADDR",
        default_value = "http://127.0.0.1:8002"
    )]
    pub restaurant_grpc: String,
    /// delivery-svc's gRPC address, for the driver scenarios.
    #[arg(
        long,
        env = "FOODMESH_DELIVERY_ADDR",
        default_value = "http://127.0.0.1:8004"
    )]
    pub delivery_grpc: String,
    /// Drivers online around the city for `nearest_driver`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub drivers: u64,
    /// Recipients of `bulk_send`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(10..=100_000))]
    pub recipients: u64,
    /// The mesh's database prefix (`foodmesh up --db-prefix`): `db_ceiling`
    /// writes to `<prefix>_order`.
    #[arg(long, default_value = "bench")]
    pub db_prefix: String,
    /// order-svc's database for `db_ceiling`; default
    /// `$FOODMESH_PG_URL/<db-prefix>_order`.
    #[arg(long)]
    pub order_db_url: Option<String>,
    /// Workers calling at once in each scenario.
    #[arg(short, long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Workers of `order_to_kitchen`: each places an order and waits for
    /// its ticket before the next.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub kitchen_concurrency: u16,
    /// Measured seconds per scenario.
    #[arg(short, long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub duration: u64,
    /// Seconds of warm-up before each measured window (not counted).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub warmup: u64,
    /// Lines per order (from the top of the benchmark menu).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=6))]
    pub lines: u8,
    /// Customers the order workers are spread over; 1 is the seed body's
    /// customer 1 for every order.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub customers: u32,
    /// Scenarios to run, comma-separated; they always run in the order
    /// listed here.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = Scenario::ALL)]
    pub scenarios: Vec<Scenario>,
    /// Seconds any one call may take before it counts as a `timeout`.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub request_timeout: u64,
    /// Seconds to wait after `order_create` for the kitchen to show every
    /// ticket.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub catch_up_timeout: u64,
    /// Where the JSON summary goes.
    #[arg(long, default_value = "bench/results/latest.json")]
    pub out: PathBuf,
    /// The gateway `overload_base` and `overload` drive: one of its own,
    /// with a small `MAX_IN_FLIGHT`, in front of the same services.
    #[arg(long, default_value = "http://127.0.0.1:8010")]
    pub overload_gateway: String,
    /// Workers `overload` sends at once, far past that gateway's cap.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub overload_concurrency: u16,
    /// In `overload`, a shed worker calls again at once instead of waiting
    /// as `Retry-After` says: a retry storm.
    #[arg(long)]
    pub ignore_retry_after: bool,
    /// The gateway's `JWT_SECRET`; its development default when unset.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// What can be measured, in the order a run measures it: the reads, the
/// order pipeline while the mesh is quiet, the order load, the database
/// alone once the mesh's backlog has drained, then ordering through a
/// gateway held to a few requests in flight, unloaded and overloaded, and
/// last a bulk send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Scenario {
    /// `GET /api/restaurants/{id}/menu` through the gateway.
    #[value(name = "menu_read")]
    MenuRead,
    /// `RestaurantService/GetMenu` straight to restaurant-svc.
    #[value(name = "menu_read_grpc")]
    MenuReadGrpc,
    /// `POST /api/orders/quote` through the gateway: a cart with a coupon.
    #[value(name = "cart_quote")]
    CartQuote,
    /// From an order's 201 to its ticket on the kitchen stream.
    #[value(name = "order_to_kitchen")]
    OrderToKitchen,
    /// From sending an order to its ticket on the kitchen stream, paid by
    /// card in between.
    #[value(name = "card_order_to_kitchen")]
    CardOrderToKitchen,
    /// `PUT /api/drivers/{id}/location` through the gateway.
    #[value(name = "driver_location")]
    DriverLocation,
    /// The nearest free driver assigned, with `--drivers` online, straight
    /// to delivery-svc.
    #[value(name = "nearest_driver")]
    NearestDriver,
    /// `POST /api/orders` through the gateway.
    #[value(name = "order_create")]
    OrderCreate,
    /// The order write straight against Postgres.
    #[value(name = "db_ceiling")]
    DbCeiling,
    /// `POST /api/orders` through the overload gateway, one at a time.
    #[value(name = "overload_base")]
    OverloadBase,
    /// The same with `--overload-concurrency` workers: what it admits, and
    /// what it sheds.
    #[value(name = "overload")]
    Overload,
    /// One email template to `--recipients` customers, from acceptance to
    /// the last message settled.
    #[value(name = "bulk_send")]
    BulkSend,
}

impl Scenario {
    /// Every scenario, in run order.
    pub const ALL: [Scenario; 12] = [
        Scenario::MenuRead,
        Scenario::MenuReadGrpc,
        Scenario::CartQuote,
        Scenario::OrderToKitchen,
        Scenario::CardOrderToKitchen,
        Scenario::DriverLocation,
        Scenario::NearestDriver,
        Scenario::OrderCreate,
        Scenario::DbCeiling,
        Scenario::OverloadBase,
        Scenario::Overload,
        Scenario::BulkSend,
    ];

    /// Its name in reports and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::MenuRead => "menu_read",
            Scenario::MenuReadGrpc => "menu_read_grpc",
            Scenario::CartQuote => "cart_quote",
            Scenario::OrderToKitchen => "order_to_kitchen",
            Scenario::CardOrderToKitchen => "card_order_to_kitchen",
            Scenario::DriverLocation => "driver_location",
            Scenario::NearestDriver => "nearest_driver",
            Scenario::OrderCreate => "order_create",
            Scenario::DbCeiling => "db_ceiling",
            Scenario::OverloadBase => "overload_base",
            Scenario::Overload => "overload",
            Scenario::BulkSend => "bulk_send",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_runs_by_default_at_16_workers_for_10_seconds() {
        let cli = Cli::try_parse_from(["foodmesh-bench"]).expect("defaults parse");

        assert_eq!(cli.scenarios, Scenario::ALL);
        assert_eq!((cli.concurrency, cli.duration), (16, 10));
    }

    #[test]
    fn scenarios_are_named_as_in_the_report() {
        let cli = Cli::try_parse_from(["foodmesh-bench", "--scenarios", "db_ceiling,menu_read"])
            .expect("parse");

        assert_eq!(cli.scenarios, [Scenario::DbCeiling, Scenario::MenuRead]);
        for scenario in Scenario::ALL {
            let value = scenario.to_possible_value().expect("named");
            assert_eq!(value.get_name(), scenario.name());
        }
    }
}
