//! The command line. Every flag also reads an environment variable, so the
//! same settings work from a shell profile or a CI job.

use std::fmt;
use std::str::FromStr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use foodmesh_shared::ServiceName;

/// `foodmesh`: run FoodMesh on this machine.
#[derive(Debug, Parser)]
#[command(name = "foodmesh", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The launcher's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the six services and the gateway, load demo data, print the
    /// URLs and an admin token; restart a process that dies; Ctrl-C stops
    /// everything it started.
    Up(UpArgs),
    /// Run one process of the mesh in the foreground (`up` starts seven).
    Serve {
        /// `gateway`, or a service: order, restaurant, kitchen, delivery,
        /// accounting, notification.
        process: Process,
    },
    /// Print a signed bearer token for the gateway.
    Token(TokenArgs),
}

/// Flags of `up`.
#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Address every process binds and dials.
    #[arg(long, env = "FOODMESH_HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// The gateway's HTTP port.
    #[arg(long, env = "FOODMESH_GATEWAY_PORT", default_value_t = 8000)]
    pub gateway_port: u16,
    /// The first service port: order, restaurant, kitchen, delivery,
    /// accounting and notification take it and the five after it.
    #[arg(long, env = "FOODMESH_BASE_PORT", default_value_t = 8001)]
    pub base_port: u16,
    /// Databases are named `<prefix>_<service>` on `FOODMESH_PG_URL`.
    #[arg(long, env = "FOODMESH_DB_PREFIX", default_value = "foodmesh")]
    pub db_prefix: String,
    /// Do not load the demo restaurants.
    #[arg(long)]
    pub no_demo: bool,
    /// Where to write every process's metrics address for Prometheus'
    /// file-based discovery (`prometheus-local.yml` reads the default).
    #[arg(
        long,
        env = "FOODMESH_PROMETHEUS_TARGETS",
        default_value_os_t = crate::targets::default_path()
    )]
    pub prometheus_targets: std::path::PathBuf,
}

/// Flags of `token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// Whose token: customer, staff, driver or admin.
    #[arg(long, value_enum)]
    pub role: RoleArg,
    /// The restaurant a staff token is scoped to.
    #[arg(long)]
    pub restaurant: Option<i64>,
    /// The subject: a customer, staff member or driver id.
    #[arg(long, default_value = "1")]
    pub subject: String,
    /// Lifetime in hours.
    #[arg(long, default_value_t = 24)]
    pub ttl_hours: u64,
}

/// Roles as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Orders for themselves.
    Customer,
    /// Works one restaurant (needs `--restaurant`).
    Staff,
    /// Delivers.
    Driver,
    /// Runs the platform.
    Admin,
}

/// One process of the mesh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Process {
    /// The HTTP gateway.
    Gateway,
    /// One of the six services.
    Service(ServiceName),
}

impl FromStr for Process {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "gateway" {
            return Ok(Process::Gateway);
        }
        s.parse::<ServiceName>()
            .map(Process::Service)
            .map_err(|_| format!("`{s}` is not gateway or one of order, restaurant, kitchen, delivery, accounting, notification"))
    }
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Gateway => f.write_str("gateway"),
            Process::Service(s) => f.write_str(s.service_id()),
        }
    }
}
