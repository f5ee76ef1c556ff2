//! [`TwilioDouble`]: a double of Twilio's Programmable Messaging API, in
//! the shapes Twilio documents:
//!
//! - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` with HTTP Basic
//!   auth (`AccountSid:AuthToken`) and a form body of `To`, `From` (or
//!   `MessagingServiceSid`) and `Body`.
//! - Success is 201 with the message resource, `status: "queued"`.
//! - A refusal is Twilio's error object (`code`, `message`, `more_info`,
//!   `status`): 401/20003 for bad credentials, 404/20404 for another
//!   account's path, 400 with 21604, 21603, 21602 or 21211 for a missing
//!   `To`, `From`, `Body` or a `To` that is not E.164.
//!
//! Every request is recorded with the status it got, including the
//! `I-Twilio-Idempotency-Token` header when sent (recorded only: the double
//! does not deduplicate by it). [`TwilioDouble::fail_next`] scripts outages.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::sync::watch;

/// One request to the Messages resource, with the status it was answered.
/// A field the request did not carry is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRequest {
    pub to: String,
    /// `From`, or else `MessagingServiceSid`.
    pub from: String,
    pub body: String,
    /// The `I-Twilio-Idempotency-Token` header.
    pub idempotency_key: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct Inner {
    requests: Vec<SmsRequest>,
    failing: Option<(usize, StatusCode)>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    account_sid: Arc<str>,
    /// `base64(AccountSid:AuthToken)`, what a client's Basic auth carries.
    credentials: Arc<str>,
    /// How many messages were accepted, so waiters wake on each one.
    accepted: Arc<watch::Sender<usize>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running double on a free local port; stops when dropped.
pub struct TwilioDouble {
    addr: SocketAddr,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TwilioDouble {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TwilioDouble {
    /// Starts the double on 127.0.0.1 with a free port, taking only these
    /// credentials.
    ///
    /// # Panics
    /// No local port can be bound.
    pub async fn start(account_sid: &str, auth_token: &str) -> Self {
        let (accepted, _) = watch::channel(0_usize);
        let shared = Shared {
            inner: Arc::default(),
            account_sid: account_sid.into(),
            credentials: encode_base64(format!("{account_sid}:{auth_token}").as_bytes()).into(),
            accepted: Arc::new(accepted),
        };
        let app = Router::new()
            .route(
                "/2010-04-01/Accounts/{account_sid}/Messages.json",
                post(create),
            )
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

    /// The API's base URL, in place of `https://api.twilio.com`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, refused ones included.
    pub fn requests(&self) -> Vec<SmsRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests answered 201: the messages Twilio would send.
    pub fn messages(&self) -> Vec<SmsRequest> {
        let inner = self.shared.lock();
        inner
            .requests
            .iter()
            .filter(|r| r.status == 201)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` messages are accepted and returns them all.
    ///
    /// # Panics
    /// Fewer than `n` are accepted within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<SmsRequest> {
        let mut accepted = self.shared.accepted.subscribe();
        let reached = tokio::time::timeout(timeout, accepted.wait_for(|a| *a >= n))
            .await
            .is_ok_and(|r| r.is_ok());
        let messages = self.messages();
        assert!(
            reached,
            "TwilioDouble: {} of {n} messages accepted within {timeout:?}",
            messages.len()
        );
        messages
    }

    /// Answers the next `n` requests with `status` before looking at them,
    /// as Twilio does in an outage: 500 (code 20500), 503 (20503) or 429
    /// (20429, without `Retry-After`).
    ///
    /// # Panics
    /// `status` is not an HTTP status code.
    pub fn fail_next(&self, n: usize, status: u16) {
        let status = StatusCode::from_u16(status).expect("fail_next takes an HTTP status");
        self.shared.lock().failing = Some((n, status)).filter(|_| n > 0);
    }
}

/// A refusal in Twilio's error shape.
struct TwilioError {
    status: StatusCode,
    code: u32,
    message: String,
}

impl TwilioError {
    fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }
}

impl IntoResponse for TwilioError {
    fn into_response(self) -> Response {
        let body = Json(json!({
            "code": self.code,
            "message": self.message,
            "more_info": format!("https://www.twilio.com/docs/errors/{}", self.code),
            "status": self.status.as_u16(),
        }));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = [(header::WWW_AUTHENTICATE, "Basic realm=\"Twilio API\"")];
            return (self.status, challenge, body).into_response();
        }
        (self.status, body).into_response()
    }
}

async fn create(
    State(shared): State<Shared>,
    Path(account_sid): Path<String>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    // A body that is not a form is answered like one without fields.
    let fields = form.map(|Form(fields)| fields).unwrap_or_default();
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let to = field("To");
    let from = field("From").or_else(|| field("MessagingServiceSid"));
    let body = field("Body");
    let outcome = answer(&shared, &account_sid, &headers, &fields);
    let status = match &outcome {
        Ok(_) => StatusCode::CREATED,
        Err(refusal) => refusal.status,
    };
    let accepted = {
        let mut inner = shared.lock();
        inner.requests.push(SmsRequest {
            to: to.unwrap_or_default(),
            from: from.unwrap_or_default(),
            body: body.unwrap_or_default(),
            idempotency_key: headers
                .get("i-twilio-idempotency-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            status: status.as_u16(),
        });
        inner.requests.iter().filter(|r| r.status == 201).count()
    };
    shared.accepted.send_replace(accepted);
    match outcome {
        Ok(message) => (StatusCode::CREATED, Json(message)).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// The message resource Twilio would answer, or why it refuses.
fn answer(
    shared: &Shared,
    account_sid: &str,
    headers: &HeaderMap,
    fields: &HashMap<String, String>,
) -> Result<Value, TwilioError> {
    if let Some(status) = take_failure(shared) {
        let reason = status.canonical_reason().unwrap_or("Error");
        return Err(TwilioError::new(
            status,
            20_000 + u32::from(status.as_u16()),
            reason,
        ));
    }
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, credentials)| credentials.trim());
    if credentials != Some(&*shared.credentials) {
        return Err(TwilioError::new(
            StatusCode::UNAUTHORIZED,
            20003,
            "Authenticate",
        ));
    }
    let uri = format!("/2010-04-01/Accounts/{account_sid}/Messages");
    if *account_sid != *shared.account_sid {
        let message = format!("The requested resource {uri}.json was not found");
        return Err(TwilioError::new(StatusCode::NOT_FOUND, 20404, message));
    }
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty());
    let bad = |code: u32, message: &str| -> Result<Value, TwilioError> {
        Err(TwilioError::new(StatusCode::BAD_REQUEST, code, message))
    };
    let Some(to) = field("To") else {
        return bad(21604, "A 'To' phone number is required.");
    };
    let service = field("MessagingServiceSid");
    if field("From").is_none() && service.is_none() {
        return bad(21603, "A 'From' phone number is required.");
    }
    let Some(body) = field("Body") else {
        return bad(21602, "Message body is required.");
    };
    if !is_e164(to) {
        return bad(21211, "Invalid 'To' Phone Number");
    }
    let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
    let now = chrono::Utc::now()
        .format("%a, %d %b %Y %H:%M:%S +0000")
        .to_string();
    Ok(json!({
        "sid": sid,
        "account_sid": account_sid,
        "messaging_service_sid": service,
        "to": to,
        "from": field("From"),
        "body": body,
        "status": "queued",
        "direction": "outbound-api",
        "num_segments": "1",
        "num_media": "0",
        "api_version": "2010-04-01",
        "price": null,
        "price_unit": "USD",
        "date_created": now,
        "date_updated": now,
        "date_sent": null,
        "error_code": null,
        "error_message": null,
        "uri": format!("{uri}/{sid}.json"),
        "subresource_uris": { "media": format!("{uri}/{sid}/Media.json") },
    }))
}

/// The scripted status for this request, if any are left.
fn take_failure(shared: &Shared) -> Option<StatusCode> {
    let mut inner = shared.lock();
    let (left, status) = inner.failing.as_mut()?;
    let status = *status;
    *left -= 1;
    if *left == 0 {
        inner.failing = None;
    }
    Some(status)
}

/// `+` and 8 to 15 digits, the first not 0, as Twilio reads E.164.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (8..=15).contains(&digits.len())
            && digits.bytes().all(|d| d.is_ascii_digit())
            && !digits.starts_with('0')
    })
}

fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (triple >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
