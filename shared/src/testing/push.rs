//! [`PushReceiver`]: the far end of FoodMesh's signed push webhooks, as a
//! push gateway would run it. `POST /push` carries a JSON body and
//!
//! - `FoodMesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC
//!   of `<t>.<raw body>` with the shared secret, checked by
//!   [`crate::webhook::verify`]. A call without a matching
//!   signature made within five minutes gets 401
//!   `{"error":"invalid_signature"}`.
//! - `Idempotency-Key: <key>`. A key already accepted is answered 200
//!   `{"duplicate": true}` and not counted again, which is what makes a
//!   resend safe.
//!
//! A call accepted is answered 202 `{"id": "<key>"}`. Every call is
//! recorded, accepted or not. Tests script failures with
//! [`PushReceiver::fail_next`], and with [`PushReceiver::hold`] take a
//! call while withholding the answer, to stop the sender between the
//! provider having a message and the sender learning so.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;

/// One call to the receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The `Idempotency-Key` header.
    pub key: Option<String>,
    /// The body as JSON, or as a JSON string when it is not JSON.
    pub body: Value,
    pub signature_ok: bool,
}

#[derive(Default)]
struct Inner {
    calls: Vec<Push>,
    accepted: Vec<Push>,
    keys: HashSet<String>,
    failing: Option<(usize, StatusCode)>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    secret: Arc<[u8]>,
    /// `(calls, accepted)`, so waiters wake on each call.
    counts: Arc<watch::Sender<(usize, usize)>>,
    held: Arc<watch::Sender<bool>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running receiver on a free local port; stops when dropped.
pub struct PushReceiver {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for PushReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PushReceiver {
    /// Starts the receiver on 127.0.0.1 with a free port, verifying with
    /// `secret`.
    ///
    /// # Panics
    /// No local port can be bound.
    pub async fn start(secret: impl AsRef<[u8]>) -> Self {
        let (counts, _) = watch::channel((0, 0));
        let (held, _) = watch::channel(false);
        let shared = Shared {
            inner: Arc::default(),
            secret: secret.as_ref().into(),
            counts: Arc::new(counts),
            held: Arc::new(held),
        };
        let app = Router::new()
            .route("/push", post(push))
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

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr/push`, the endpoint to deliver to.
    pub fn url(&self) -> String {
        format!("http://{}/push", self.addr)
    }

    /// Every call so far, refused and duplicate ones included.
    pub fn calls(&self) -> Vec<Push> {
        self.shared.lock().calls.clone()
    }

    /// The calls accepted, one per idempotency key.
    pub fn accepted(&self) -> Vec<Push> {
        self.shared.lock().accepted.clone()
    }

    /// Waits until at least `n` calls are accepted and returns them all.
    ///
    /// # Panics
    /// Fewer than `n` are accepted within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Push> {
        self.wait(timeout, |(_, accepted)| accepted >= n).await;
        let accepted = self.accepted();
        assert!(
            accepted.len() >= n,
            "PushReceiver: {} of {n} pushes accepted within {timeout:?}",
            accepted.len()
        );
        accepted
    }

    /// Waits until at least `n` calls arrived, whatever their answer: a
    /// held call, or a retry after a scripted failure.
    ///
    /// # Panics
    /// Fewer than `n` arrive within `timeout`.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<Push> {
        self.wait(timeout, |(calls, _)| calls >= n).await;
        let calls = self.calls();
        assert!(
            calls.len() >= n,
            "PushReceiver: {} of {n} calls arrived within {timeout:?}",
            calls.len()
        );
        calls
    }

    async fn wait(&self, timeout: Duration, reached: impl Fn((usize, usize)) -> bool) {
        let mut counts = self.shared.counts.subscribe();
        let _ = tokio::time::timeout(timeout, async {
            let _ = counts.wait_for(|c| reached(*c)).await;
        })
        .await;
    }

    /// Answers the next `n` calls with `status` (503, say) without
    /// checking or accepting them.
    ///
    /// # Panics
    /// `status` is not an HTTP status code.
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("fail_next takes an HTTP status");
        self.shared.lock().failing = Some((n, status)).filter(|_| n > 0);
    }

    /// From now on, every call is handled and recorded as it arrives, but
    /// its answer waits for [`PushReceiver::release`].
    pub fn hold(&self) {
        self.shared.held.send_replace(true);
    }

    /// Sends the withheld answers, and answers at once again.
    pub fn release(&self) {
        self.shared.held.send_replace(false);
    }
}

async fn push(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header("idempotency-key").map(str::to_owned);
    let now = chrono::Utc::now().timestamp().unsigned_abs();
    let signature_ok =
        crate::webhook::verify(&shared.secret, header("foodmesh-signature"), &body, now).is_ok();
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let call = Push {
        key: key.clone(),
        body: parsed
            .clone()
            .unwrap_or_else(|| Value::String(String::from_utf8_lossy(&body).into_owned())),
        signature_ok,
    };
    let answer = {
        let mut inner = shared.lock();
        inner.calls.push(call.clone());
        let failing = inner.failing.as_mut().map(|(left, status)| {
            *left -= 1;
            (*left, *status)
        });
        let answer = match failing {
            Some((left, status)) => {
                if left == 0 {
                    inner.failing = None;
                }
                (status, json!({ "error": "scripted_failure" }))
            }
            None if !signature_ok => (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "invalid_signature" }),
            ),
            None if parsed.is_none() => {
                (StatusCode::BAD_REQUEST, json!({ "error": "invalid_json" }))
            }
            None if key.as_ref().is_some_and(|k| inner.keys.contains(k)) => {
                (StatusCode::OK, json!({ "id": key, "duplicate": true }))
            }
            None => {
                if let Some(key) = &key {
                    inner.keys.insert(key.clone());
                }
                inner.accepted.push(call);
                // A call without a key is taken each time, with an id of
                // its own for the answer.
                let id = key.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
                (StatusCode::ACCEPTED, json!({ "id": id }))
            }
        };
        shared
            .counts
            .send_replace((inner.calls.len(), inner.accepted.len()));
        answer
    };
    // Recorded first, answered after: a held call counts as delivered even
    // if the sender is gone before the answer is sent.
    let mut held = shared.held.subscribe();
    let _ = held.wait_for(|on| !*on).await;
    let (status, reply) = answer;
    (status, Json(reply)).into_response()
}
