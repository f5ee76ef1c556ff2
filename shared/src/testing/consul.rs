//! A double of the Consul agent HTTP API, faithful to the parts FoodMesh
//! uses and to their documented shapes:
//!
//! - `PUT /v1/agent/service/register` — JSON body with `Name` (required),
//!   `ID` (defaults to `Name`), `Address`, `Port`, `Tags`, `Meta`, and a
//!   `Check` that has exactly one of `GRPC`/`HTTP`/`TCP`/`TTL` and, for the
//!   first three, an `Interval`. Bad bodies get 400 with a text reason, other
//!   methods 405, as the agent does.
//! - `PUT /v1/agent/service/deregister/{id}` — 200, or 404 for an unknown id.
//! - `GET /v1/agent/services` — a map of id to service.
//! - `GET /v1/health/service/{name}?passing=true` — node + service + checks
//!   entries, with `X-Consul-Index` and blocking queries (`index`, `wait`).
//!
//! Check status starts `passing` (the double does not dial the instances);
//! tests flip it with [`ConsulDouble::set_status`].

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::watch;

/// One request the double received, for assertions on request shapes.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

#[derive(Default)]
struct Inner {
    services: BTreeMap<String, Value>,
    status: HashMap<String, String>,
    requests: Vec<Recorded>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    index: Arc<watch::Sender<u64>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.index.send_modify(|i| *i += 1);
    }
}

/// A running double on a free local port; stops when dropped.
pub struct ConsulDouble {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ConsulDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ConsulDouble {
    /// Starts the double on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// No local port can be bound.
    pub async fn start() -> Self {
        let (index, _) = watch::channel(1_u64);
        let shared = Shared {
            inner: Arc::default(),
            index: Arc::new(index),
        };
        let app = Router::new()
            .route("/v1/agent/service/register", put(register))
            .route("/v1/agent/service/deregister/{id}", put(deregister))
            .route("/v1/agent/services", get(services))
            .route("/v1/health/service/{name}", get(health))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, task }
    }

    /// The agent's base URL, for `CONSUL_HTTP_ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The registered services, by id.
    pub fn services(&self) -> BTreeMap<String, Value> {
        self.shared.lock().services.clone()
    }

    /// Waits (up to ten seconds) until the registered services satisfy
    /// `condition`, waking on every change rather than polling.
    pub async fn wait_for(&self, condition: impl Fn(&BTreeMap<String, Value>) -> bool) -> bool {
        let mut changes = self.shared.index.subscribe();
        let waited = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                changes.borrow_and_update();
                if condition(&self.services()) {
                    return;
                }
                if changes.changed().await.is_err() {
                    return;
                }
            }
        });
        waited.await.is_ok() && condition(&self.services())
    }

    /// Sets an instance's check status (`passing`, `warning`, `critical`).
    pub fn set_status(&self, id: &str, status: &str) {
        self.shared
            .lock()
            .status
            .insert(id.to_owned(), status.to_owned());
        self.shared.bump();
    }
}

fn record(shared: &Shared, method: &str, path: String, body: Option<Value>) {
    shared.lock().requests.push(Recorded {
        method: method.to_owned(),
        path,
        body,
    });
}

fn bad_request(reason: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, reason.into()).into_response()
}

async fn register(State(shared): State<Shared>, body: axum::body::Bytes) -> Response {
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    record(
        &shared,
        "PUT",
        "/v1/agent/service/register".to_owned(),
        parsed.as_ref().ok().cloned(),
    );
    let Ok(Value::Object(obj)) = parsed else {
        return bad_request("Request decode failed: invalid JSON body");
    };
    let Some(name) = obj
        .get("Name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return bad_request("Missing service name");
    };
    if let Some(port) = obj.get("Port")
        && port.as_u64().is_none_or(|p| p > 65535)
    {
        return bad_request("Request decode failed: Port must be an integer port");
    }
    if let Some(check) = obj.get("Check")
        && let Err(reason) = validate_check(check)
    {
        return bad_request(reason);
    }
    let id = obj
        .get("ID")
        .and_then(Value::as_str)
        .filter(|i| !i.is_empty())
        .unwrap_or(name)
        .to_owned();
    let service = json!({
        "ID": id,
        "Service": name,
        "Tags": obj.get("Tags").cloned().unwrap_or(json!([])),
        "Meta": obj.get("Meta").cloned().unwrap_or(json!({})),
        "Address": obj.get("Address").cloned().unwrap_or(json!("")),
        "Port": obj.get("Port").cloned().unwrap_or(json!(0)),
        "Datacenter": "dc1",
    });
    {
        let mut inner = shared.lock();
        inner.services.insert(id.clone(), service);
        inner
            .status
            .entry(id)
            .or_insert_with(|| "passing".to_owned());
    }
    shared.bump();
    StatusCode::OK.into_response()
}

fn validate_check(check: &Value) -> Result<(), String> {
    let Value::Object(check) = check else {
        return Err("Request decode failed: Check must be an object".to_owned());
    };
    let kinds: Vec<&str> = ["GRPC", "HTTP", "TCP", "TTL"]
        .into_iter()
        .filter(|k| {
            check
                .get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| !v.is_empty())
        })
        .collect();
    match kinds.as_slice() {
        [] => return Err("Invalid check: one of GRPC, HTTP, TCP or TTL is required".to_owned()),
        [_] => {}
        _ => return Err("Invalid check: only one of GRPC, HTTP, TCP or TTL may be set".to_owned()),
    }
    if kinds[0] != "TTL" {
        let interval = check.get("Interval").and_then(Value::as_str).unwrap_or("");
        if parse_duration(interval).is_none() {
            return Err(format!(
                "Invalid check: Interval `{interval}` is not a duration"
            ));
        }
    }
    if kinds[0] == "HTTP" {
        let url = check.get("HTTP").and_then(Value::as_str).unwrap_or("");
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err("Invalid check: HTTP must be a URL".to_owned());
        }
    }
    if kinds[0] == "GRPC" {
        let target = check.get("GRPC").and_then(Value::as_str).unwrap_or("");
        let host_port = target.split('/').next().unwrap_or("");
        if host_port
            .rsplit_once(':')
            .is_none_or(|(_, p)| p.parse::<u16>().is_err())
        {
            return Err("Invalid check: GRPC must be host:port[/service]".to_owned());
        }
    }
    Ok(())
}

/// Go duration strings as Consul accepts them ("10s", "1m", "500ms").
fn parse_duration(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        "h" => Some(Duration::from_secs(n * 3600)),
        _ => None,
    }
}

async fn deregister(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    record(
        &shared,
        "PUT",
        format!("/v1/agent/service/deregister/{id}"),
        None,
    );
    let removed = {
        let mut inner = shared.lock();
        inner.status.remove(&id);
        inner.services.remove(&id)
    };
    match removed {
        Some(_) => {
            shared.bump();
            StatusCode::OK.into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."),
        )
            .into_response(),
    }
}

async fn services(State(shared): State<Shared>) -> Response {
    record(&shared, "GET", "/v1/agent/services".to_owned(), None);
    Json(shared.lock().services.clone()).into_response()
}

#[derive(Deserialize)]
struct HealthQuery {
    passing: Option<String>,
    index: Option<u64>,
    wait: Option<String>,
}

async fn health(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Query(q): Query<HealthQuery>,
) -> Response {
    record(&shared, "GET", format!("/v1/health/service/{name}"), None);
    // A blocking query waits until the index moves past the one given, or
    // until `wait` runs out, exactly like the agent.
    if let Some(seen) = q.index {
        let wait = q
            .wait
            .as_deref()
            .and_then(parse_duration)
            .unwrap_or(Duration::from_secs(300));
        let mut rx = shared.index.subscribe();
        let _ = tokio::time::timeout(wait, rx.wait_for(|i| *i > seen)).await;
    }
    let passing_only = q
        .passing
        .as_deref()
        .is_some_and(|p| p.is_empty() || p == "true" || p == "1");
    let index = *shared.index.borrow();
    let inner = shared.lock();
    let entries: Vec<Value> = inner
        .services
        .values()
        .filter(|s| s["Service"] == name)
        .filter_map(|s| {
            let id = s["ID"].as_str().unwrap_or_default();
            let status = inner.status.get(id).map_or("passing", String::as_str);
            if passing_only && status != "passing" {
                return None;
            }
            Some(json!({
                "Node": {
                    "ID": "00000000-0000-0000-0000-000000000001",
                    "Node": "double",
                    "Address": "127.0.0.1",
                    "Datacenter": "dc1",
                    "TaggedAddresses": {},
                    "Meta": {},
                },
                "Service": s,
                "Checks": [{
                    "Node": "double",
                    "CheckID": format!("service:{id}"),
                    "Name": format!("Service '{name}' check"),
                    "Status": status,
                    "ServiceID": id,
                    "ServiceName": name,
                }],
            }))
        })
        .collect();
    (
        [("X-Consul-Index", index.to_string())],
        Json(Value::Array(entries)),
    )
        .into_response()
}
