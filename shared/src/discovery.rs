//! Finding the other services: through a Consul agent, or through a static
//! map of addresses for local runs and tests. Callers see one type either
//! way; which backend is in use is logged at start-up.
//!
//! Registration goes through the agent's own API (`/v1/agent/service/...`)
//! rather than the catalog, because an agent's anti-entropy would erase a
//! catalog-only entry. Lookups use `rs-consul`'s health query, which returns
//! only instances whose checks pass, and blocking queries so a change is seen
//! within moments rather than at the next poll.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use tonic::transport::channel::Change;
use tonic::transport::{Channel, Endpoint};

use crate::config::{DiscoveryConfig, ServiceName};

/// Why a discovery call failed.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The agent could not be reached.
    #[error("consul agent unreachable: {0}")]
    Unreachable(String),
    /// The agent answered with an error status.
    #[error("consul agent answered {status}: {body}")]
    Refused { status: u16, body: String },
    /// An address could not be turned into an endpoint.
    #[error("bad address `{0}`")]
    BadAddress(String),
    /// No address is known for the service.
    #[error("no address for {0}")]
    Unknown(String),
}

/// How a registered instance is checked by Consul.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthCheck {
    /// The standard gRPC health service on the instance's address.
    Grpc,
    /// An HTTP GET on this path, 2xx meaning healthy.
    Http(String),
}

/// One instance as it is registered.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Unique per instance: `<name>-<address>-<port>`.
    pub id: String,
    /// The service name clients look up (`restaurant-svc`).
    pub name: String,
    /// Host or IP others dial.
    pub address: String,
    /// Port others dial.
    pub port: u16,
    /// Tags for Prometheus relabelling and humans.
    pub tags: Vec<String>,
    /// Free-form metadata (`metrics_path`).
    pub meta: HashMap<String, String>,
    /// How Consul decides the instance is healthy.
    pub check: HealthCheck,
}

impl Registration {
    /// A registration with the usual id, tags and metadata.
    pub fn new(name: &str, address: &str, port: u16, check: HealthCheck) -> Self {
        Self {
            id: format!("{name}-{address}-{port}"),
            name: name.to_owned(),
            address: address.to_owned(),
            port,
            tags: vec!["foodmesh".to_owned()],
            meta: HashMap::from([
                ("metrics_path".to_owned(), "/metrics".to_owned()),
                ("version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
            ]),
            check,
        }
    }
}

/// Service discovery, static or through Consul.
#[derive(Clone)]
pub enum Discovery {
    /// Fixed addresses; registration is a no-op.
    Static(Arc<HashMap<ServiceName, String>>),
    Consul(Arc<ConsulAgent>),
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discovery::Static(map) => f.debug_tuple("Static").field(map).finish(),
            Discovery::Consul(agent) => f.debug_tuple("Consul").field(&agent.base).finish(),
        }
    }
}

impl Discovery {
    /// Builds the configured backend and logs which one it is.
    pub fn from_config(config: &DiscoveryConfig) -> Self {
        match config {
            DiscoveryConfig::Static(map) => {
                tracing::info!(?map, "discovery: static address map");
                Discovery::Static(Arc::new(map.clone()))
            }
            DiscoveryConfig::Consul { addr, token } => {
                tracing::info!(agent = %addr, "discovery: consul");
                Discovery::Consul(Arc::new(ConsulAgent::new(addr.clone(), token.clone())))
            }
        }
    }

    /// Announces an instance. Static discovery has nothing to announce to.
    ///
    /// # Errors
    /// The agent is unreachable or refuses the registration.
    pub async fn register(&self, reg: &Registration) -> Result<(), DiscoveryError> {
        match self {
            Discovery::Static(_) => Ok(()),
            Discovery::Consul(agent) => agent.register(reg).await,
        }
    }

    /// Withdraws an instance so no new calls are routed to it.
    ///
    /// # Errors
    /// The agent is unreachable or refuses.
    pub async fn deregister(&self, id: &str) -> Result<(), DiscoveryError> {
        match self {
            Discovery::Static(_) => Ok(()),
            Discovery::Consul(agent) => agent.deregister(id).await,
        }
    }

    /// The URLs (`http://host:port`) of the healthy instances of `service`.
    ///
    /// # Errors
    /// The agent is unreachable, or the static map lacks the service.
    pub async fn resolve(&self, service: ServiceName) -> Result<Vec<String>, DiscoveryError> {
        match self {
            Discovery::Static(map) => map
                .get(&service)
                .map(|a| vec![a.clone()])
                .ok_or_else(|| DiscoveryError::Unknown(service.to_string())),
            Discovery::Consul(agent) => Ok(agent
                .healthy(service.service_id(), None)
                .await?
                .0
                .into_iter()
                .collect()),
        }
    }

    /// A lazily connecting channel to `service` that balances across its
    /// healthy instances and follows them as they come and go.
    ///
    /// # Errors
    /// The static address is malformed or missing.
    pub fn channel(&self, service: ServiceName) -> Result<Channel, DiscoveryError> {
        match self {
            Discovery::Static(map) => {
                let addr = map
                    .get(&service)
                    .ok_or_else(|| DiscoveryError::Unknown(service.to_string()))?;
                Ok(endpoint(addr)?.connect_lazy())
            }
            Discovery::Consul(agent) => {
                let (channel, tx) = Channel::balance_channel::<String>(16);
                tokio::spawn(watch_instances(agent.clone(), service, tx));
                Ok(channel)
            }
        }
    }
}

/// The `host:port` to register: the configured one, else the bound address,
/// with an unspecified IP replaced by the host name.
pub fn advertised(configured: Option<&str>, bound: std::net::SocketAddr) -> (String, u16) {
    if let Some(addr) = configured {
        if let Some((host, port)) = addr.rsplit_once(':')
            && let Ok(port) = port.parse()
        {
            return (host.to_owned(), port);
        }
        return (addr.to_owned(), bound.port());
    }
    if bound.ip().is_unspecified() {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        (host, bound.port())
    } else {
        (bound.ip().to_string(), bound.port())
    }
}

/// Registers `registration` and keeps trying until it succeeds: Consul may
/// start after the process, which is useful to anyone with its address
/// meanwhile. Abort the task at shutdown.
pub fn keep_registered(
    discovery: Discovery,
    registration: Registration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Err(e) = discovery.register(&registration).await {
            tracing::warn!(error = %e, "registration failed; retrying in 5s");
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    })
}

/// The endpoint settings every client channel uses.
///
/// # Errors
/// `addr` is not a valid URI.
pub fn endpoint(addr: &str) -> Result<Endpoint, DiscoveryError> {
    Ok(Endpoint::from_shared(addr.to_owned())
        .map_err(|_| DiscoveryError::BadAddress(addr.to_owned()))?
        .connect_timeout(Duration::from_secs(2))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true))
}

/// Feeds a balanced channel with the healthy instances of `service`, using
/// Consul blocking queries so changes arrive as they happen.
async fn watch_instances(
    agent: Arc<ConsulAgent>,
    service: ServiceName,
    tx: tokio::sync::mpsc::Sender<Change<String, Endpoint>>,
) {
    let mut known: HashSet<String> = HashSet::new();
    let mut index: Option<u64> = None;
    loop {
        match agent.healthy(service.service_id(), index).await {
            Ok((instances, new_index)) => {
                index = Some(new_index).filter(|i| *i > 0);
                for gone in known.difference(&instances) {
                    if tx.send(Change::Remove(gone.clone())).await.is_err() {
                        return;
                    }
                }
                for new in instances.difference(&known) {
                    match endpoint(new) {
                        Ok(ep) => {
                            if tx.send(Change::Insert(new.clone(), ep)).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "skipping instance"),
                    }
                }
                if instances != known {
                    tracing::info!(%service, ?instances, "instances changed");
                }
                known = instances;
                if index.is_none() {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
            Err(e) => {
                tracing::warn!(%service, error = %e, "consul lookup failed; retrying");
                index = None;
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
        if tx.is_closed() {
            return;
        }
    }
}

/// A Consul agent's HTTP API: registration through a small client of our
/// own (rs-consul has no agent endpoints), lookups through rs-consul.
pub struct ConsulAgent {
    base: String,
    token: Option<String>,
    http: Client<HttpConnector, Full<Bytes>>,
    consul: rs_consul::Consul,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentRegistration<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    address: &'a str,
    port: u16,
    tags: &'a [String],
    meta: &'a HashMap<String, String>,
    check: AgentCheck,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AgentCheck {
    #[serde(rename = "GRPC", skip_serializing_if = "Option::is_none")]
    grpc: Option<String>,
    #[serde(rename = "GRPCUseTLS", skip_serializing_if = "Option::is_none")]
    grpc_use_tls: Option<bool>,
    #[serde(rename = "HTTP", skip_serializing_if = "Option::is_none")]
    http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    interval: &'static str,
    timeout: &'static str,
    deregister_critical_service_after: &'static str,
}

impl ConsulAgent {
    /// A client for the agent at `base` (`http://host:8500`).
    pub fn new(base: String, token: Option<String>) -> Self {
        let consul = rs_consul::Consul::new(rs_consul::Config {
            address: base.clone(),
            token: token.clone(),
            ..Default::default()
        });
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http: Client::builder(TokioExecutor::new()).build_http(),
            consul,
        }
    }

    /// `PUT /v1/agent/service/register`.
    ///
    /// # Errors
    /// The agent is unreachable or answers non-2xx.
    pub async fn register(&self, reg: &Registration) -> Result<(), DiscoveryError> {
        let target = format!("{}:{}", reg.address, reg.port);
        let check = match &reg.check {
            HealthCheck::Grpc => AgentCheck {
                grpc: Some(target),
                grpc_use_tls: Some(false),
                http: None,
                method: None,
                interval: "10s",
                timeout: "3s",
                deregister_critical_service_after: "1m",
            },
            HealthCheck::Http(path) => AgentCheck {
                grpc: None,
                grpc_use_tls: None,
                http: Some(format!("http://{target}{path}")),
                method: Some("GET"),
                interval: "10s",
                timeout: "3s",
                deregister_critical_service_after: "1m",
            },
        };
        let body = AgentRegistration {
            id: &reg.id,
            name: &reg.name,
            address: &reg.address,
            port: reg.port,
            tags: &reg.tags,
            meta: &reg.meta,
            check,
        };
        let json =
            serde_json::to_vec(&body).map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
        self.put("/v1/agent/service/register", json).await?;
        tracing::info!(id = %reg.id, "registered in consul");
        Ok(())
    }

    /// `PUT /v1/agent/service/deregister/{id}`.
    ///
    /// # Errors
    /// The agent is unreachable or answers non-2xx.
    pub async fn deregister(&self, id: &str) -> Result<(), DiscoveryError> {
        self.put(&format!("/v1/agent/service/deregister/{id}"), Vec::new())
            .await?;
        tracing::info!(id, "deregistered from consul");
        Ok(())
    }

    /// The healthy instances of `name` as `http://address:port`, and the
    /// Consul index to block on for the next change.
    ///
    /// # Errors
    /// The agent is unreachable or the answer does not parse.
    pub async fn healthy(
        &self,
        name: &str,
        index: Option<u64>,
    ) -> Result<(HashSet<String>, u64), DiscoveryError> {
        let request = rs_consul::GetServiceNodesRequest {
            service: name,
            passing: true,
            ..Default::default()
        };
        let options = rs_consul::QueryOptions {
            index,
            wait: index.map(|_| Duration::from_secs(30)),
            timeout: Some(Duration::from_secs(if index.is_some() { 40 } else { 5 })),
            ..Default::default()
        };
        let answer = self
            .consul
            .get_service_nodes(request, Some(options))
            .await
            .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
        let instances = answer
            .response
            .into_iter()
            .map(|n| {
                // An instance registered without an address is reached at
                // its node's address, as Consul's own DNS does.
                let host = if n.service.address.is_empty() {
                    n.node.address
                } else {
                    n.service.address
                };
                format!("http://{host}:{}", n.service.port)
            })
            .collect();
        Ok((instances, answer.index))
    }

    async fn put(&self, path: &str, body: Vec<u8>) -> Result<(), DiscoveryError> {
        let mut req = http::Request::put(format!("{}{path}", self.base))
            .header(http::header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            req = req.header("X-Consul-Token", token);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DiscoveryError::BadAddress(e.to_string()))?;
        let resp = tokio::time::timeout(Duration::from_secs(5), self.http.request(req))
            .await
            .map_err(|_| DiscoveryError::Unreachable("timed out".to_owned()))?
            .map_err(|e| DiscoveryError::Unreachable(e.to_string()))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default();
        Err(DiscoveryError::Refused {
            status: status.as_u16(),
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_advertised_address_prefers_configuration_then_the_bound_ip() {
        let bound: std::net::SocketAddr = "127.0.0.1:8002".parse().expect("addr");
        assert_eq!(advertised(None, bound), ("127.0.0.1".to_owned(), 8002));
        assert_eq!(
            advertised(Some("restaurant:9000"), bound),
            ("restaurant".to_owned(), 9000)
        );
        assert_eq!(
            advertised(Some("restaurant"), bound),
            ("restaurant".to_owned(), 8002)
        );
    }
}
