//! The gateway's configuration, read once from environment variables. Every
//! value has a default that works on one machine, so `cargo run -p gateway`
//! needs no setup; containers override what differs.

use std::fmt;
use std::net::SocketAddr;
use std::num::{NonZeroU64, NonZeroUsize};
use std::time::Duration;

use foodmesh_shared::config::{ConfigError, DiscoveryConfig, TelemetryConfig, parse_var};

use crate::admission::AdmissionConfig;
use crate::auth::DEV_SECRET;
use crate::breaker::BreakerConfig;
use crate::rate_limit::RateLimitConfig;

/// Everything the gateway process reads from its environment.
#[derive(Clone)]
pub struct GatewayConfig {
    /// `LISTEN_ADDR`, default `127.0.0.1:8000` (the original layout's port).
    /// Port 0 picks a free port, which tests use.
    pub listen_addr: SocketAddr,
    /// `ADVERTISE_ADDR`: `host:port` registered in Consul. Defaults to the
    /// bound address.
    pub advertise_addr: Option<String>,
    /// `JWT_SECRET`: the HS256 key bearer tokens are signed with.
    pub jwt_secret: String,
    /// True when `JWT_SECRET` was unset and [`DEV_SECRET`] is in use.
    pub jwt_secret_is_default: bool,
    /// `BODY_LIMIT_BYTES`, default 65536: larger request bodies get 413
    /// before any of them is parsed. A bulk send alone may be larger, up
    /// to [`crate::routes::notifications::BULK_BODY_LIMIT_BYTES`].
    pub body_limit_bytes: NonZeroUsize,
    /// `UPSTREAM_TIMEOUT_MS`, default 5000: the deadline of each gRPC call.
    pub upstream_timeout: Duration,
    /// `BREAKER_FAILURES`, default 5, and `BREAKER_OPEN_MS`, default 5000:
    /// see [`crate::breaker`].
    pub breaker: BreakerConfig,
    /// `HEADER_READ_TIMEOUT_MS`, default 10000, and `MAX_CONNECTIONS`,
    /// default 4096: see [`crate::serve`].
    pub connections: ConnectionLimits,
    /// `BODY_READ_TIMEOUT_MS`, default 10000: the longest a request body
    /// may pause between two chunks before the request is refused (408).
    pub body_read_timeout: Duration,
    /// `MAX_IN_FLIGHT` (default 512), `MAX_STREAMS` (4096) and
    /// `MAX_STREAMS_PER_CLIENT` (16): see [`crate::admission`].
    pub admission: AdmissionConfig,
    /// `REDIS_URL`, `RATE_LIMIT_*` and `TRUSTED_PROXY_HOPS`: see
    /// [`crate::rate_limit`].
    pub rate_limits: RateLimitConfig,
    pub discovery: DiscoveryConfig,
    pub telemetry: TelemetryConfig,
}

/// How long an HTTP peer may take to send its headers, and how many peers
/// may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl fmt::Debug for GatewayConfig {
    // Hand-written so the signing secret never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen_addr", &self.listen_addr)
            .field("advertise_addr", &self.advertise_addr)
            .field("jwt_secret", &"<redacted>")
            .field("jwt_secret_is_default", &self.jwt_secret_is_default)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("breaker", &self.breaker)
            .field("connections", &self.connections)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("admission", &self.admission)
            .field("rate_limits", &self.rate_limits)
            .field("discovery", &self.discovery)
            .field("telemetry", &self.telemetry)
            .finish()
    }
}

impl GatewayConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed, named in the error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    /// Reads configuration through `lookup`, so tests need not touch the
    /// process environment.
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed, named in the error.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let listen_addr = parse_var(lookup, "LISTEN_ADDR", "127.0.0.1:8000".to_owned())?;
        let body_limit_bytes = parse_var(lookup, "BODY_LIMIT_BYTES", "65536".to_owned())?;
        let timeout_ms: NonZeroU64 = parse_var(lookup, "UPSTREAM_TIMEOUT_MS", "5000".to_owned())?;
        let header_ms: NonZeroU64 =
            parse_var(lookup, "HEADER_READ_TIMEOUT_MS", "10000".to_owned())?;
        let max_connections: NonZeroUsize =
            parse_var(lookup, "MAX_CONNECTIONS", "4096".to_owned())?;
        let body_ms: NonZeroU64 = parse_var(lookup, "BODY_READ_TIMEOUT_MS", "10000".to_owned())?;
        let breaker_failures: std::num::NonZeroU32 =
            parse_var(lookup, "BREAKER_FAILURES", "5".to_owned())?;
        let breaker_open_ms: NonZeroU64 = parse_var(lookup, "BREAKER_OPEN_MS", "5000".to_owned())?;
        let secret = lookup("JWT_SECRET").filter(|s| !s.is_empty());
        Ok(Self {
            listen_addr,
            advertise_addr: lookup("ADVERTISE_ADDR").filter(|a| !a.is_empty()),
            jwt_secret_is_default: secret.is_none(),
            jwt_secret: secret.unwrap_or_else(|| DEV_SECRET.to_owned()),
            body_limit_bytes,
            upstream_timeout: Duration::from_millis(timeout_ms.get()),
            breaker: BreakerConfig {
                failures: breaker_failures.get(),
                open_for: Duration::from_millis(breaker_open_ms.get()),
            },
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_millis(header_ms.get()),
                max_connections: max_connections.get(),
            },
            body_read_timeout: Duration::from_millis(body_ms.get()),
            admission: AdmissionConfig {
                max_in_flight: positive(lookup, "MAX_IN_FLIGHT", "512")?,
                max_streams: positive(lookup, "MAX_STREAMS", "4096")?,
                max_streams_per_client: positive(lookup, "MAX_STREAMS_PER_CLIENT", "16")?,
            },
            rate_limits: RateLimitConfig::from_lookup(lookup)?,
            discovery: DiscoveryConfig::from_lookup(lookup),
            telemetry: TelemetryConfig::from_lookup(lookup)?,
        })
    }

    /// How long one REST request may take in all: room for a currency
    /// lookup with its one retry and the write itself, each bounded by the
    /// upstream deadline, plus a second of slack.
    pub fn request_timeout(&self) -> Duration {
        self.upstream_timeout * 3 + Duration::from_secs(1)
    }
}

/// A count that must be at least one.
fn positive(
    lookup: &dyn Fn(&str) -> Option<String>,
    var: &str,
    default: &str,
) -> Result<usize, ConfigError> {
    parse_var::<NonZeroUsize>(lookup, var, default.to_owned()).map(NonZeroUsize::get)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        let cfg = GatewayConfig::from_lookup(&lookup_from(&[])).expect("defaults parse");
        assert_eq!(cfg.listen_addr.port(), 8000);
        assert_eq!(cfg.body_limit_bytes.get(), 65536);
        assert_eq!(cfg.upstream_timeout, Duration::from_secs(5));
        assert!(cfg.jwt_secret_is_default);
        assert_eq!(cfg.jwt_secret, DEV_SECRET);
        assert!(matches!(cfg.discovery, DiscoveryConfig::Static(_)));
    }

    #[test]
    fn a_configured_secret_replaces_the_development_one_and_is_never_printed() {
        let cfg = GatewayConfig::from_lookup(&lookup_from(&[("JWT_SECRET", "s3cret-value")]))
            .expect("parses");
        assert!(!cfg.jwt_secret_is_default);
        assert_eq!(cfg.jwt_secret, "s3cret-value");
        assert!(!format!("{cfg:?}").contains("s3cret-value"));
    }

    #[test]
    fn a_zero_timeout_or_limit_is_refused_naming_the_variable() {
        let err = GatewayConfig::from_lookup(&lookup_from(&[("UPSTREAM_TIMEOUT_MS", "0")]))
            .expect_err("zero must fail");
        assert!(err.to_string().starts_with("UPSTREAM_TIMEOUT_MS"), "{err}");
        let err = GatewayConfig::from_lookup(&lookup_from(&[("BODY_LIMIT_BYTES", "lots")]))
            .expect_err("text must fail");
        assert!(err.to_string().starts_with("BODY_LIMIT_BYTES"), "{err}");
    }
}
