//! Push as a signed webhook: each message is POSTed as JSON to the push
//! gateway's URL, signed as FoodMesh signs every webhook
//! (`FoodMesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, see [`foodmesh_shared::webhook`]) and carrying the
//! message's key in `Idempotency-Key`, so the gateway drops a resend. A
//! `2xx` means the gateway has it (`delivered` in the log); `408`, `429`
//! and `5xx`, or no answer, are worth another attempt with the same key.
//!
//! ```json
//! {"id": "7f0c…:7:push", "recipient": "customer:7", "title": "On its way",
//!  "body": "Order K7M2QX arrives about 18:40."}
//! ```

use futures::future::BoxFuture;
use hyper::http::{HeaderName, HeaderValue, header};
use serde::Serialize;

use super::http::HttpClient;
use super::{Outgoing, Provider};
use crate::domain::message::Outcome;

#[derive(Debug, Clone)]
pub struct PushWebhook {
    url: String,
    secret: Vec<u8>,
    http: HttpClient,
}

#[derive(Serialize)]
struct Payload<'a> {
    id: &'a str,
    recipient: &'a str,
    title: &'a str,
    body: &'a str,
}

impl PushWebhook {
    pub fn new(url: String, secret: Vec<u8>, http: HttpClient) -> Self {
        Self { url, secret, http }
    }
}

impl Provider for PushWebhook {
    fn name(&self) -> &'static str {
        "push_webhook"
    }

    fn resends_safely(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let payload = Payload {
                id: &message.key,
                recipient: &message.recipient,
                title: &message.subject,
                body: &message.body,
            };
            let body = match serde_json::to_vec(&payload) {
                Ok(body) => body,
                Err(e) => {
                    return Outcome::Permanent {
                        response: format!("unencodable: {e}"),
                    };
                }
            };
            let now = chrono::Utc::now().timestamp().unsigned_abs();
            let signature = foodmesh_shared::webhook::sign(&self.secret, now, &body);
            let (Ok(signature), Ok(key)) = (
                HeaderValue::from_str(&signature),
                HeaderValue::from_str(&message.key),
            ) else {
                return Outcome::Permanent {
                    response: "the key cannot travel in a header".to_owned(),
                };
            };
            let headers = [
                (
                    HeaderName::from_static(foodmesh_shared::webhook::SIGNATURE_HEADER),
                    signature,
                ),
                (HeaderName::from_static("idempotency-key"), key),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
            ];
            match self.http.post(&self.url, &headers, body).await {
                Ok((status, text)) => {
                    let response = format!("{}: {text}", status.as_u16());
                    if status.is_success() {
                        Outcome::Delivered { response }
                    } else if status.as_u16() == 408
                        || status.as_u16() == 429
                        || status.is_server_error()
                    {
                        Outcome::Transient { response }
                    } else {
                        Outcome::Permanent { response }
                    }
                }
                Err(e) => Outcome::Transient {
                    response: e.to_string(),
                },
            }
        })
    }
}
