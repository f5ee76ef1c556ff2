//! Rate limits: how many requests one client may send in a window, per
//! class of route, kept in Redis so every gateway replica spends from the
//! same budget ([`store`]), decided by one atomic script per check
//! ([`gcra`]).
//!
//! A client is the subject of its bearer token when it sends a valid one,
//! else its address (an IPv6 address counts by its /64, which one host
//! usually holds whole). Behind `TRUSTED_PROXY_HOPS` proxies, the address
//! is the one the outermost of them saw, read from `X-Forwarded-For`.
//!
//! A refused request gets 429 problem+json with `Retry-After`; every
//! limited response carries the IETF draft's `RateLimit-Policy` and
//! `RateLimit` fields (draft-ietf-httpapi-ratelimit-headers), so a client
//! can pace itself before it is refused.

pub mod gcra;
pub mod store;

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::auth::{ORDER_TOKEN_HEADER, ORDER_TOKEN_QUERY, Verified, Verifier};
use crate::problem::Problem;
use gcra::Cell;
use store::Store;

/// A number of requests per window: `30/min`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub count: NonZeroU32,
    pub window: Duration,
}

impl FromStr for Quota {
    type Err = String;

    /// `<count>/<unit>`, the unit `s`, `min` or `h`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (count, unit) = text
            .split_once('/')
            .ok_or_else(|| "must be <count>/<s|min|h>, such as 30/min, or off".to_owned())?;
        let count: NonZeroU32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{count}` is not a positive count"))?;
        let window = match unit.trim() {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => return Err(format!("`{other}` is not a unit: use s, min or h")),
        };
        Ok(Self { count, window })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.window.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.count)
    }
}

/// Which budget a request spends from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Reads (GET) not presenting an order token.
    Read,
    /// Writes outside orders: restaurants, menus, coupons, the kitchen.
    Write,
    /// An authenticated caller's order writes: placing, changing,
    /// cancelling, moving.
    Order,
    /// An order placed without a bearer token, counted per address.
    GuestCheckout,
    /// Any call without a bearer token presenting an order access token:
    /// tracking, reading, watching or cancelling a guest order. Bounds
    /// guessing tokens.
    Tracking,
    /// `/api/webhooks/…` and `/api/payments/webhooks/…`: payment and
    /// delivery providers calling back.
    Webhook,
}

impl RouteClass {
    pub const ALL: [RouteClass; 6] = [
        RouteClass::Read,
        RouteClass::Write,
        RouteClass::Order,
        RouteClass::GuestCheckout,
        RouteClass::Tracking,
        RouteClass::Webhook,
    ];

    /// The name in keys, headers and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteClass::Read => "read",
            RouteClass::Write => "write",
            RouteClass::Order => "order",
            RouteClass::GuestCheckout => "guest_checkout",
            RouteClass::Tracking => "tracking",
            RouteClass::Webhook => "webhook",
        }
    }

    /// The environment variable that sets the class's quota.
    pub fn variable(self) -> &'static str {
        match self {
            RouteClass::Read => "RATE_LIMIT_READ",
            RouteClass::Write => "RATE_LIMIT_WRITE",
            RouteClass::Order => "RATE_LIMIT_ORDER",
            RouteClass::GuestCheckout => "RATE_LIMIT_GUEST_CHECKOUT",
            RouteClass::Tracking => "RATE_LIMIT_TRACKING",
            RouteClass::Webhook => "RATE_LIMIT_WEBHOOK",
        }
    }

    /// What a deployment starts with: generous for a person at a screen or
    /// an office behind one address, tight where volume means abuse.
    pub fn default_quota(self) -> &'static str {
        match self {
            RouteClass::Read => "1200/min",
            RouteClass::Write => "300/min",
            RouteClass::Order => "60/min",
            RouteClass::GuestCheckout => "30/min",
            RouteClass::Tracking => "60/min",
            RouteClass::Webhook => "600/min",
        }
    }

    fn index(self) -> usize {
        match self {
            RouteClass::Read => 0,
            RouteClass::Write => 1,
            RouteClass::Order => 2,
            RouteClass::GuestCheckout => 3,
            RouteClass::Tracking => 4,
            RouteClass::Webhook => 5,
        }
    }

    fn described(self) -> &'static str {
        match self {
            RouteClass::Read => "reads",
            RouteClass::Write => "writes",
            RouteClass::Order => "order changes",
            RouteClass::GuestCheckout => "guest orders",
            RouteClass::Tracking => "order-token requests",
            RouteClass::Webhook => "webhook calls",
        }
    }
}

/// The platform's own routes: never rate-limited, nor shed by admission,
/// so an orchestrator's probes and Prometheus get through an overload.
pub const PLATFORM_ROUTES: &[&str] = &["/health", "/healthz", "/readyz", "/metrics"];

/// The class of a request, or `None` for the platform routes probes and
/// scrapers call (never limited). `authenticated` is whether it carries a
/// valid bearer token.
pub fn classify(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    authenticated: bool,
) -> Option<RouteClass> {
    let path = uri.path();
    if PLATFORM_ROUTES.contains(&path) {
        return None;
    }
    if path.starts_with("/api/webhooks/") || path.starts_with("/api/payments/webhooks/") {
        return Some(RouteClass::Webhook);
    }
    if !authenticated {
        // Placing an order takes no order token: sending one anyway does
        // not move a guest's orders to another budget.
        if method == Method::POST && path == "/api/orders" {
            return Some(RouteClass::GuestCheckout);
        }
        if presents_order_token(uri, headers) {
            return Some(RouteClass::Tracking);
        }
    }
    // Pricing a cart reads: it changes nothing, and a cart asks often.
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path == "/api/orders/quote"
    {
        return Some(RouteClass::Read);
    }
    if path == "/api/orders" || path.starts_with("/api/orders/") {
        return Some(RouteClass::Order);
    }
    Some(RouteClass::Write)
}

/// Whether the request presents an order access token the way
/// [`crate::auth`] reads one: the header, or the query parameter as
/// decoded (`?to%6Ben=` is `?token=`).
fn presents_order_token(uri: &Uri, headers: &HeaderMap) -> bool {
    let in_header = headers
        .get(ORDER_TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| !v.trim().is_empty());
    in_header
        || Query::<Vec<(String, String)>>::try_from_uri(uri).is_ok_and(|Query(pairs)| {
            pairs
                .iter()
                .any(|(name, value)| name == ORDER_TOKEN_QUERY && !value.trim().is_empty())
        })
}

/// The limits' settings, read with the gateway's configuration.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// `REDIS_URL`: where the shared limits are kept.
    pub redis_url: String,
    /// `RATE_LIMIT_KEY_PREFIX`, else `EVENT_STREAM_PREFIX` (one prefix for
    /// a deployment's keys), else `foodmesh`: keys are
    /// `<prefix>:ratelimit:<class>:<client>`.
    pub key_prefix: String,
    /// `TRUSTED_PROXY_HOPS`, default 0: how many proxies in front of the
    /// gateway append to `X-Forwarded-For`. With none, the address is the
    /// connection's peer and the header is ignored (anyone can write it).
    pub trusted_proxy_hops: usize,
    /// `RATE_LIMIT_<CLASS>`: a quota, or `off`.
    quotas: [Option<Quota>; 6],
}

impl RateLimitConfig {
    /// Reads every setting through `lookup`.
    ///
    /// # Errors
    /// The variable at fault and why.
    pub fn from_lookup(
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, foodmesh_shared::config::ConfigError> {
        use foodmesh_shared::config::{ConfigError, parse_var};
        let mut quotas = [None; 6];
        for class in RouteClass::ALL {
            let text = lookup(class.variable())
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| class.default_quota().to_owned());
            quotas[class.index()] = match text.trim() {
                "off" => None,
                text => Some(
                    text.parse()
                        .map_err(|e| ConfigError::new(class.variable(), e))?,
                ),
            };
        }
        Ok(Self {
            redis_url: foodmesh_shared::config::redis_url(lookup),
            key_prefix: lookup("RATE_LIMIT_KEY_PREFIX")
                .filter(|p| !p.is_empty())
                .or_else(|| lookup("EVENT_STREAM_PREFIX").filter(|p| !p.is_empty()))
                .unwrap_or_else(|| "foodmesh".to_owned()),
            trusted_proxy_hops: parse_var(lookup, "TRUSTED_PROXY_HOPS", "0".to_owned())?,
            quotas,
        })
    }

    pub fn quota(&self, class: RouteClass) -> Option<Quota> {
        self.quotas[class.index()]
    }

    pub fn set_quota(&mut self, class: RouteClass, quota: Option<Quota>) {
        self.quotas[class.index()] = quota;
    }
}

/// Who is calling, as the limits count clients (`sub:<role>:<subject>` or
/// `ip:<address>`): put on each limited request for the layers below.
#[derive(Debug, Clone)]
pub struct Client(pub String);

/// Decides, per request, whether its client has budget left.
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    verifier: Arc<Verifier>,
    store: Arc<Store>,
}

impl RateLimiter {
    pub fn new(config: RateLimitConfig, verifier: Arc<Verifier>, store: Arc<Store>) -> Self {
        // From zero, so the dashboards show no refusals rather than no data.
        for class in RouteClass::ALL {
            metrics::counter!("gateway_rate_limited_total", "class" => class.as_str()).increment(0);
        }
        Self {
            config,
            verifier,
            store,
        }
    }

    fn key(&self, class: RouteClass, client: &str) -> String {
        format!(
            "{}:ratelimit:{}:{client}",
            self.config.key_prefix,
            class.as_str()
        )
    }

    /// Who is calling, for counting: the token's subject, else the address.
    fn client(&self, request: &Request, claims: Option<&crate::auth::Claims>) -> String {
        if let Some(claims) = claims {
            return match claims.restaurant_id {
                Some(restaurant) => format!("sub:{}:{restaurant}:{}", claims.role, claims.sub),
                None => format!("sub:{}:{}", claims.role, claims.sub),
            };
        }
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        match client_address(peer, request.headers(), self.config.trusted_proxy_hops) {
            Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
                let [a, b, c, d, ..] = v6.segments();
                format!("ip:{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
            Some(IpAddr::V6(v6)) => format!("ip:{}", v6.to_canonical()),
            Some(v4) => format!("ip:{v4}"),
            None => "ip:unknown".to_owned(),
        }
    }
}

/// The address a request came from: the peer's, or, behind `hops` trusted
/// proxies, the one the outermost proxy saw (the `hops`-th entry of
/// `X-Forwarded-For` from the right; each proxy appends the address it was
/// called from). A header too short or unreadable falls back to the peer.
pub fn client_address(peer: Option<IpAddr>, headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    // Only the entries the trusted proxies appended count; anything to
    // their left is whatever the client wrote, and is never read.
    let mut appended = headers
        .get_all("x-forwarded-for")
        .iter()
        .rev()
        .flat_map(|value| value.to_str().unwrap_or_default().rsplit(','));
    appended
        .nth(hops - 1)
        .and_then(|entry| parse_forwarded(entry.trim()))
        .or(peer)
}

/// An `X-Forwarded-For` entry: an address, with a port or without.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    entry
        .parse()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
}

/// The middleware: names the request's [`Client`], counts the request
/// against its class's budget, refuses it with 429 when none is left, and
/// writes the `RateLimit` fields on the response either way.
pub async fn enforce(
    State(limiter): State<Arc<RateLimiter>>,
    mut request: Request,
    next: Next,
) -> Response {
    let claims = limiter.verifier.claims_in(request.headers()).ok().flatten();
    let class = classify(
        request.method(),
        request.uri(),
        request.headers(),
        claims.is_some(),
    );
    let Some(class) = class else {
        return next.run(request).await;
    };
    let client = limiter.client(&request, claims.as_ref());
    request.extensions_mut().insert(Client(client.clone()));
    if let Some(claims) = claims {
        request.extensions_mut().insert(Verified(claims));
    }
    let Some(quota) = limiter.config.quota(class) else {
        return next.run(request).await;
    };
    let cell = Cell::of(quota);
    let verdict = limiter
        .store
        .check(&limiter.key(class, &client), cell)
        .await;
    let fields = fields(class, quota, cell, &verdict);
    let mut response = if verdict.allowed() {
        next.run(request).await
    } else {
        metrics::counter!("gateway_rate_limited_total", "class" => class.as_str()).increment(1);
        let retry_after = whole_seconds(verdict.retry_after()).max(1);
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "Too many {} from this client: the limit is {quota}. Retry in {retry_after} s.",
                class.described()
            ),
        )
        .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after))
        .into_response()
    };
    // A refusal from below (too many streams) is not about this budget:
    // telling its client budget is left would invite a retry.
    if verdict.allowed() && response.status() == StatusCode::TOO_MANY_REQUESTS {
        return response;
    }
    response.headers_mut().extend(fields);
    response
}

/// `RateLimit-Policy: "<class>";q=<count>;w=<window s>` and
/// `RateLimit: "<class>";r=<remaining>;t=<s until the quota is whole>`.
fn fields(
    class: RouteClass,
    quota: Quota,
    cell: Cell,
    verdict: &gcra::Verdict,
) -> [(HeaderName, HeaderValue); 2] {
    let policy = format!(
        "\"{}\";q={};w={}",
        class.as_str(),
        quota.count,
        quota.window.as_secs()
    );
    let state = format!(
        "\"{}\";r={};t={}",
        class.as_str(),
        verdict.remaining(cell),
        whole_seconds(verdict.reset())
    );
    // Built from a class name and numbers: always valid header text.
    let value = |text: String| HeaderValue::try_from(text).unwrap_or(HeaderValue::from_static(""));
    [
        (HeaderName::from_static("ratelimit-policy"), value(policy)),
        (HeaderName::from_static("ratelimit"), value(state)),
    ]
}

fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(
        method: Method,
        path_and_query: &str,
        token_header: bool,
        authenticated: bool,
    ) -> Option<RouteClass> {
        let uri: Uri = path_and_query.parse().expect("a URI");
        let mut headers = HeaderMap::new();
        if token_header {
            headers.insert(ORDER_TOKEN_HEADER, HeaderValue::from_static("t"));
        }
        classify(&method, &uri, &headers, authenticated)
    }

    #[test]
    fn routes_fall_into_the_documented_classes() {
        use RouteClass::*;
        let cases = [
            (Method::GET, "/api/restaurants", false, false, Some(Read)),
            (Method::GET, "/api/orders/7", false, true, Some(Read)),
            (Method::POST, "/api/restaurants", false, true, Some(Write)),
            (
                Method::PUT,
                "/api/kitchen/orders/3/status",
                false,
                true,
                Some(Write),
            ),
            (Method::POST, "/api/orders", false, true, Some(Order)),
            (Method::DELETE, "/api/orders/7", false, true, Some(Order)),
            (
                Method::POST,
                "/api/orders",
                false,
                false,
                Some(GuestCheckout),
            ),
            (
                Method::GET,
                "/api/orders/track/FM-1",
                true,
                false,
                Some(Tracking),
            ),
            (
                Method::GET,
                "/api/orders/7/events?token=abc",
                false,
                false,
                Some(Tracking),
            ),
            (Method::DELETE, "/api/orders/7", true, false, Some(Tracking)),
            // A token sent with a new order changes nothing.
            (
                Method::POST,
                "/api/orders",
                true,
                false,
                Some(GuestCheckout),
            ),
            (
                Method::POST,
                "/api/orders?token=x",
                false,
                false,
                Some(GuestCheckout),
            ),
            // The parameter counts as the routes read it, decoded.
            (
                Method::GET,
                "/api/orders/7?to%6Ben=guess",
                false,
                false,
                Some(Tracking),
            ),
            (
                Method::GET,
                "/api/orders/7?token=",
                false,
                false,
                Some(Read),
            ),
            (
                Method::POST,
                "/api/webhooks/payments",
                false,
                false,
                Some(Webhook),
            ),
            (
                Method::POST,
                "/api/payments/webhooks/sandbox_mobile_money",
                false,
                false,
                Some(Webhook),
            ),
            (Method::GET, "/healthz", false, false, None),
            (Method::GET, "/health", false, false, None),
            (Method::GET, "/metrics", false, true, None),
        ];
        for (method, path, token, authenticated, expected) in cases {
            assert_eq!(
                class_of(method.clone(), path, token, authenticated),
                expected,
                "{method} {path} token={token} authenticated={authenticated}"
            );
        }
    }

    #[test]
    fn quotas_parse_and_print_alike_and_bad_ones_say_why() {
        for text in ["30/min", "5/s", "1000/h"] {
            let quota: Quota = text.parse().expect("parses");
            assert_eq!(quota.to_string(), text);
        }
        assert!("0/min".parse::<Quota>().is_err());
        assert!("30".parse::<Quota>().is_err());
        let err = "30/day".parse::<Quota>().expect_err("no such unit");
        assert!(err.contains("day"), "{err}");
    }

    #[test]
    fn the_defaults_hold_guest_checkout_to_thirty_a_minute_and_off_turns_a_class_off() {
        let lookup = |k: &str| (k == "RATE_LIMIT_READ").then(|| "off".to_owned());
        let config = RateLimitConfig::from_lookup(&lookup).expect("parses");
        assert_eq!(config.quota(RouteClass::Read), None);
        assert_eq!(
            config.quota(RouteClass::GuestCheckout),
            Some("30/min".parse().expect("literal"))
        );
        let err = RateLimitConfig::from_lookup(&|k: &str| {
            (k == "RATE_LIMIT_ORDER").then(|| "lots".to_owned())
        })
        .expect_err("refused");
        assert!(err.to_string().starts_with("RATE_LIMIT_ORDER"), "{err}");
    }

    #[test]
    fn behind_trusted_proxies_the_address_is_the_one_the_outermost_saw() {
        let peer: IpAddr = "10.0.0.2".parse().expect("literal");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.7, 10.0.0.1"),
        );
        // No trusted proxy: the header is anyone's to forge.
        assert_eq!(client_address(Some(peer), &headers, 0), Some(peer));
        assert_eq!(
            client_address(Some(peer), &headers, 1),
            Some("10.0.0.1".parse().expect("literal"))
        );
        assert_eq!(
            client_address(Some(peer), &headers, 2),
            Some("203.0.113.7".parse().expect("literal"))
        );
        // Shorter than the proxies claimed, or unreadable: the peer.
        assert_eq!(client_address(Some(peer), &headers, 5), Some(peer));
        headers.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(client_address(Some(peer), &headers, 1), Some(peer));
        // What the client wrote to the left of the proxy's entry is never
        // read, however malformed; a port on the entry is dropped.
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("junk, ::zz, 198.51.100.4:50123"),
        );
        assert_eq!(
            client_address(Some(peer), &headers, 1),
            Some("198.51.100.4".parse().expect("literal"))
        );
    }
}
