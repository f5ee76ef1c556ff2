//! The HTTP client the webhook-shaped providers share: HTTP/1.1 over
//! rustls (webpki roots) or plain HTTP, with a deadline per call.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::http::{HeaderName, HeaderValue, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long a provider has to answer one call.
const DEADLINE: Duration = Duration::from_secs(10);

/// The most of an answer kept for the delivery log.
const KEPT: usize = 2048;

#[derive(Clone)]
pub struct HttpClient {
    inner: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HttpClient")
    }
}

/// A call that got no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The request was never sent: the address is bad or nothing listens.
    #[error("not sent: {0}")]
    NotSent(String),
    /// Sent, but no answer came: it may or may not have been acted on.
    #[error("no answer: {0}")]
    NoAnswer(String),
}

impl HttpClient {
    pub fn new() -> Self {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .build();
        Self {
            inner: Client::builder(TokioExecutor::new()).build(https),
        }
    }

    /// POSTs `body` to `url` with `headers`, and returns the answer's
    /// status and (the start of) its body.
    ///
    /// # Errors
    /// [`CallError`], telling whether the request may have arrived.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<(StatusCode, String), CallError> {
        let mut request = Request::post(url);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::NotSent(format!("bad request to {url}: {e}")))?;
        let answer = tokio::time::timeout(DEADLINE, async {
            let response = self.inner.request(request).await.map_err(|e| {
                if e.is_connect() {
                    CallError::NotSent(e.to_string())
                } else {
                    CallError::NoAnswer(e.to_string())
                }
            })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::NoAnswer(format!("reading the answer: {e}")))?
                .to_bytes();
            let mut text = String::from_utf8_lossy(&body).into_owned();
            if text.len() > KEPT {
                let mut end = KEPT;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            Ok((status, text))
        })
        .await;
        answer.unwrap_or_else(|_| {
            Err(CallError::NoAnswer(format!(
                "no answer within {} s",
                DEADLINE.as_secs()
            )))
        })
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}
