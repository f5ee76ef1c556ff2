//! The harness: a mesh per test (restaurant-svc on its own fresh database,
//! the gateway in front of it, both on port 0) and an HTTP client that
//! keeps each answer's exact text, so decimals can be checked digit for
//! digit. Both listeners are bound before they serve, so no test sleeps.

use std::collections::HashMap;
use std::sync::Once;
use std::time::Duration;

use foodmesh_shared::ServiceName;
use foodmesh_shared::config::{DiscoveryConfig, LogFormat, TelemetryConfig};
use foodmesh_shared::testing::{TestDb, service_config};
use gateway::GatewayConfig;
use gateway::auth::Role;
use reqwest::Method;
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use serde_json::Value;
use tokio::sync::oneshot;

/// The secret the test gateway signs and checks tokens with.
pub const SECRET: &str = "e2e-test-secret";

/// Where the services a test does not start are said to be: a port that
/// refuses connections.
const NOWHERE: &str = "http://127.0.0.1:1";

static LOGS: Once = Once::new();

/// Logs only when asked for (`RUST_LOG=info cargo test ...`).
fn init_logs() {
    if let Ok(filter) = std::env::var("RUST_LOG") {
        LOGS.call_once(|| {
            let config = TelemetryConfig {
                log_format: LogFormat::Pretty,
                log_filter: filter,
                otlp_endpoint: None,
            };
            if let Ok(telemetry) = foodmesh_shared::telemetry::init("e2e", &config) {
                // Kept for the whole test process.
                std::mem::forget(telemetry);
            }
        });
    }
}

/// restaurant-svc and the gateway, running for one test.
pub struct Mesh {
    base: String,
    http: reqwest::Client,
    // Dropping a sender stops its process gracefully.
    _stops: Vec<oneshot::Sender<()>>,
    _db: TestDb,
}

impl Mesh {
    /// Starts restaurant-svc on a fresh database and the gateway pointing
    /// at it; the other five services are unreachable.
    pub async fn start() -> Mesh {
        init_logs();
        let db = TestDb::new("e2e_restaurant").await;
        let service = restaurant_svc::build(service_config(ServiceName::Restaurant, &db))
            .await
            .expect("restaurant-svc builds");
        let restaurant_addr = service.local_addr();
        let (stop_service, stopped) = oneshot::channel::<()>();
        tokio::spawn(service.run(async move {
            let _ = stopped.await;
        }));

        let mut map: HashMap<ServiceName, String> = ServiceName::ALL
            .into_iter()
            .map(|s| (s, NOWHERE.to_owned()))
            .collect();
        map.insert(ServiceName::Restaurant, format!("http://{restaurant_addr}"));
        let mut config = GatewayConfig::from_lookup(&|_| None).expect("defaults parse");
        config.listen_addr = "127.0.0.1:0".parse().expect("literal address");
        config.jwt_secret = SECRET.to_owned();
        config.jwt_secret_is_default = false;
        config.discovery = DiscoveryConfig::Static(map);
        let gateway = gateway::build(config).await.expect("gateway builds");
        let base = format!("http://{}", gateway.local_addr());
        let (stop_gateway, stopped) = oneshot::channel::<()>();
        tokio::spawn(gateway.run(async move {
            let _ = stopped.await;
        }));

        Mesh {
            base,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client builds"),
            _stops: vec![stop_gateway, stop_service],
            _db: db,
        }
    }

    /// The gateway's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A token for `role`, valid for an hour.
    pub fn token(role: Role, restaurant_id: Option<i64>) -> String {
        gateway::auth::issue(
            SECRET.as_bytes(),
            role,
            "e2e-tester",
            restaurant_id,
            Duration::from_secs(3600),
        )
        .expect("token issues")
    }

    /// An admin's token.
    pub fn admin() -> String {
        Self::token(Role::Admin, None)
    }

    /// A token of staff of `restaurant_id`.
    pub fn staff(restaurant_id: i64) -> String {
        Self::token(Role::Staff, Some(restaurant_id))
    }

    /// A customer's token.
    pub fn customer() -> String {
        Self::token(Role::Customer, None)
    }

    /// Sends any request; `body` goes out as-is with `content_type`.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.body(body).send().await.expect("gateway answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body reads");
        Reply {
            status,
            headers,
            text,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.raw(Method::GET, path, token, None, Vec::new()).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.raw(Method::DELETE, path, token, None, Vec::new())
            .await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::POST, path, token, body).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.json(Method::PATCH, path, token, body).await
    }

    /// Any method with a JSON body.
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Reply {
        self.raw(
            method,
            path,
            token,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    /// Creates a restaurant named `name` in `city` as an admin; its id.
    pub async fn restaurant_in(&self, name: &str, city: &str) -> i64 {
        let body = serde_json::json!({
            "name": name,
            "address": {
                "street": "1 Test St", "city": city, "state": "NY",
                "zip_code": "10001", "country": "US"
            }
        });
        let reply = self
            .post("/api/restaurants", Some(&Self::admin()), &body)
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_i64().expect("id")
    }

    /// Creates a restaurant in New York; its id.
    pub async fn restaurant(&self, name: &str) -> i64 {
        self.restaurant_in(name, "New York").await
    }

    /// Adds a menu item as an admin; its id.
    pub async fn item(&self, restaurant_id: i64, body: &Value) -> i64 {
        let reply = self
            .post(
                &format!("/api/restaurants/{restaurant_id}/menu"),
                Some(&Self::admin()),
                body,
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.json()["id"].as_i64().expect("id")
    }

    /// Every item of the menu, unavailable ones included, as an admin
    /// sees it: for checking that a refused write left nothing behind.
    pub async fn all_items(&self, restaurant_id: i64) -> Vec<Value> {
        let reply = self
            .get(
                &format!("/api/restaurants/{restaurant_id}/menu?include_unavailable=true"),
                Some(&Self::admin()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Every restaurant, inactive ones included.
    pub async fn all_restaurants(&self) -> Vec<Value> {
        let reply = self
            .get(
                "/api/restaurants?include_inactive=true&limit=100",
                Some(&Self::admin()),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.json()["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

/// One answer: status, headers and the body's exact text.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body as sent.
    pub text: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json answer with `status` naming `field` (when
    /// given) among its errors; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16, field: Option<&str>) -> Value {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        let problem = self.json();
        assert_eq!(problem["status"], status, "{}", self.text);
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{}",
            self.text
        );
        assert!(
            problem["request_id"]
                .as_str()
                .is_some_and(|c| !c.is_empty()),
            "{}",
            self.text
        );
        if let Some(field) = field {
            let named = problem["errors"]
                .as_array()
                .is_some_and(|errors| errors.iter().any(|e| e["field"] == field));
            assert!(named, "expected `{field}` in {}", self.text);
        }
        problem
    }
}
