//! Configuration from environment variables. Every value has a default that
//! works on one machine with a local Postgres and Redis, so `cargo run` needs
//! no setup; containers override what differs.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

/// The six services of the mesh. Knowing them by name (not by string) keeps
/// ports, database names and discovery names in one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceName {
    /// Orders and customers.
    Order,
    /// Restaurants, menus and coupons.
    Restaurant,
    /// Kitchen tickets.
    Kitchen,
    /// Deliveries and drivers.
    Delivery,
    /// Payments, invoices and the ledger.
    Accounting,
    /// SMS, email and push messages.
    Notification,
}

impl ServiceName {
    /// Every service, in port order.
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Order,
        ServiceName::Restaurant,
        ServiceName::Kitchen,
        ServiceName::Delivery,
        ServiceName::Accounting,
        ServiceName::Notification,
    ];

    /// The short name used in environment variables and the launcher.
    pub fn short(self) -> &'static str {
        match self {
            ServiceName::Order => "order",
            ServiceName::Restaurant => "restaurant",
            ServiceName::Kitchen => "kitchen",
            ServiceName::Delivery => "delivery",
            ServiceName::Accounting => "accounting",
            ServiceName::Notification => "notification",
        }
    }

    /// The name the service registers under in Consul and logs as.
    pub fn service_id(self) -> &'static str {
        match self {
            ServiceName::Order => "order-svc",
            ServiceName::Restaurant => "restaurant-svc",
            ServiceName::Kitchen => "kitchen-svc",
            ServiceName::Delivery => "delivery-svc",
            ServiceName::Accounting => "accounting-svc",
            ServiceName::Notification => "notification-svc",
        }
    }

    /// The service's own database: no other service ever connects to it.
    pub fn database(self) -> String {
        format!("foodmesh_{}", self.short())
    }

    /// The port of the original layout (gateway 8000, services 8001–8006).
    pub fn default_port(self) -> u16 {
        match self {
            ServiceName::Order => 8001,
            ServiceName::Restaurant => 8002,
            ServiceName::Kitchen => 8003,
            ServiceName::Delivery => 8004,
            ServiceName::Accounting => 8005,
            ServiceName::Notification => 8006,
        }
    }

    /// The variable that holds this service's static address for its clients.
    pub fn addr_var(self) -> String {
        format!("FOODMESH_{}_ADDR", self.short().to_ascii_uppercase())
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.service_id())
    }
}

impl FromStr for ServiceName {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim_end_matches("-svc");
        ServiceName::ALL
            .into_iter()
            .find(|n| n.short() == s)
            .ok_or_else(|| ConfigError::new("service", format!("unknown service `{s}`")))
    }
}

/// A configuration value that could not be used, with the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    var: String,
    message: String,
}

impl ConfigError {
    /// An error about `var`, saying why its value is refused.
    pub fn new(var: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            var: var.into(),
            message: message.into(),
        }
    }
}

/// How logs are written: readable on a terminal, JSON for collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, with span fields (trace_id, request_id).
    Json,
}

/// What [`crate::telemetry::init`] needs.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `LOG_FORMAT`: `pretty` (default) or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`, default `info`.
    pub log_filter: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: traces are exported only when set.
    pub otlp_endpoint: Option<String>,
}

/// How services find each other.
#[derive(Debug, Clone)]
pub enum DiscoveryConfig {
    /// Fixed addresses (`FOODMESH_<SERVICE>_ADDR`), for local runs and tests.
    Static(HashMap<ServiceName, String>),
    /// A Consul agent (`CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`).
    Consul {
        /// Base URL of the agent's HTTP API, e.g. `http://127.0.0.1:8500`.
        addr: String,
        /// ACL token, if the agent needs one.
        token: Option<String>,
    },
}

impl DiscoveryConfig {
    /// The static map every process uses by default: each service on
    /// 127.0.0.1 at its default port, overridden per service.
    pub fn static_from(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        let map = ServiceName::ALL
            .into_iter()
            .map(|s| {
                let addr = lookup(&s.addr_var())
                    .unwrap_or_else(|| format!("http://127.0.0.1:{}", s.default_port()));
                (s, with_scheme(addr))
            })
            .collect();
        DiscoveryConfig::Static(map)
    }

    /// Consul when `CONSUL_HTTP_ADDR` is set, else the static map.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Self {
        match lookup("CONSUL_HTTP_ADDR").filter(|a| !a.is_empty()) {
            Some(addr) => DiscoveryConfig::Consul {
                addr: with_scheme(addr),
                token: lookup("CONSUL_HTTP_TOKEN").filter(|t| !t.is_empty()),
            },
            None => Self::static_from(lookup),
        }
    }
}

fn with_scheme(addr: String) -> String {
    if addr.starts_with("http://") || addr.starts_with("https://") {
        addr
    } else {
        format!("http://{addr}")
    }
}

/// Everything one service process reads from its environment.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub service: ServiceName,
    /// `LISTEN_ADDR`: where gRPC (and `/metrics` over HTTP/1.1) is served.
    /// Port 0 picks a free port, which tests use.
    pub listen_addr: SocketAddr,
    /// `ADVERTISE_ADDR`: `host:port` others should dial, registered in
    /// Consul. Defaults to the bound address.
    pub advertise_addr: Option<String>,
    /// `DATABASE_URL`, or `FOODMESH_PG_URL` + `/foodmesh_<service>`.
    pub database_url: String,
    /// `DB_MAX_CONNECTIONS`, default 10.
    pub db_max_connections: u32,
    /// `REDIS_URL`, default `redis://127.0.0.1:6379`.
    pub redis_url: String,
    /// `EVENT_STREAM_PREFIX`, default `foodmesh`: streams are named
    /// `<prefix>:<service>`.
    pub event_prefix: String,
    pub discovery: DiscoveryConfig,
    pub telemetry: TelemetryConfig,
    /// What decisions by time read: the system's clock, or a test's.
    pub clock: crate::clock::Clock,
}

impl ServiceConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed, named in the error.
    pub fn from_env(service: ServiceName) -> Result<Self, ConfigError> {
        Self::from_lookup(service, &|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment.
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed, named in the error.
    pub fn from_lookup(
        service: ServiceName,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let listen_addr = parse_var(
            lookup,
            "LISTEN_ADDR",
            format!("127.0.0.1:{}", service.default_port()),
        )?;
        let database_url = match lookup("DATABASE_URL").filter(|u| !u.is_empty()) {
            Some(url) => url,
            None => format!("{}/{}", pg_base(lookup), service.database()),
        };
        Ok(Self {
            service,
            listen_addr,
            advertise_addr: lookup("ADVERTISE_ADDR").filter(|a| !a.is_empty()),
            database_url,
            db_max_connections: parse_var(lookup, "DB_MAX_CONNECTIONS", "10".to_owned())?,
            redis_url: redis_url(lookup),
            event_prefix: lookup("EVENT_STREAM_PREFIX")
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "foodmesh".to_owned()),
            discovery: DiscoveryConfig::from_lookup(lookup),
            telemetry: TelemetryConfig::from_lookup(lookup)?,
            clock: crate::clock::Clock::system(),
        })
    }
}

impl TelemetryConfig {
    /// Reads `LOG_FORMAT`, `RUST_LOG` and `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// # Errors
    /// An unknown `LOG_FORMAT`.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let log_format = match lookup("LOG_FORMAT").as_deref() {
            None | Some("") | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("`{other}` is neither `pretty` nor `json`"),
                ));
            }
        };
        Ok(Self {
            log_format,
            log_filter: lookup("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            otlp_endpoint: lookup("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|e| !e.is_empty()),
        })
    }
}

/// `FOODMESH_PG_URL`: the Postgres server every service's database lives on
/// when `DATABASE_URL` is not given.
pub fn pg_base(lookup: &dyn Fn(&str) -> Option<String>) -> String {
    lookup("FOODMESH_PG_URL")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// `REDIS_URL`, defaulting to the local Redis.
pub fn redis_url(lookup: &dyn Fn(&str) -> Option<String>) -> String {
    lookup("REDIS_URL")
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379".to_owned())
}

/// Parses `var` when set, else `default`, naming the variable on failure.
///
/// # Errors
/// The value does not parse as `T`.
pub fn parse_var<T: FromStr>(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &str,
    default: String,
) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    let raw = lookup(var).filter(|v| !v.is_empty()).unwrap_or(default);
    raw.parse()
        .map_err(|e| ConfigError::new(var, format!("`{raw}`: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_fit_one_machine() {
        let cfg = ServiceConfig::from_lookup(ServiceName::Kitchen, &lookup_from(&[]))
            .expect("defaults parse");
        assert_eq!(cfg.listen_addr.port(), 8003);
        assert_eq!(
            cfg.database_url,
            "postgres://postgres@127.0.0.1:5432/foodmesh_kitchen"
        );
        let DiscoveryConfig::Static(map) = cfg.discovery else {
            panic!("static discovery is the default");
        };
        assert_eq!(map[&ServiceName::Restaurant], "http://127.0.0.1:8002");
    }

    #[test]
    fn a_consul_address_switches_discovery_to_consul() {
        let cfg = ServiceConfig::from_lookup(
            ServiceName::Order,
            &lookup_from(&[("CONSUL_HTTP_ADDR", "consul:8500")]),
        )
        .expect("parses");
        assert!(matches!(
            cfg.discovery,
            DiscoveryConfig::Consul { ref addr, .. } if addr == "http://consul:8500"
        ));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = ServiceConfig::from_lookup(
            ServiceName::Order,
            &lookup_from(&[("LISTEN_ADDR", "nowhere")]),
        )
        .expect_err("must fail");
        assert!(err.to_string().starts_with("LISTEN_ADDR"), "{err}");
    }

    #[test]
    fn service_names_parse_with_or_without_suffix() {
        assert_eq!(
            "kitchen".parse::<ServiceName>().ok(),
            Some(ServiceName::Kitchen)
        );
        assert_eq!(
            "kitchen-svc".parse::<ServiceName>().ok(),
            Some(ServiceName::Kitchen)
        );
        assert!("bakery".parse::<ServiceName>().is_err());
    }
}
