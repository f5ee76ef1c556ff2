//! HTTP/1.1 to the gateway, one kept-alive connection per worker.
//!
//! hyper's connection API rather than a pooled client: a closed-loop
//! worker has exactly one request in flight, so one connection of its own
//! is all it needs, and the tool then spends its (shared, two-core) CPU
//! on requests rather than on a pool. A connection that fails or times out
//! is dropped and the next call dials again, so one bad exchange never
//! poisons the ones after it.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Where the gateway listens, from its base URL (`http://127.0.0.1:8000`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    authority: String,
    host: HeaderValue,
}

impl Gateway {
    /// Reads a base URL: `http`, a host and an optional port; no path.
    ///
    /// # Errors
    /// Not a URL, not `http`, or with a path: the tool speaks plain
    /// HTTP/1.1 to a gateway on this machine, nothing else.
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let uri: http::Uri = url.parse()?;
        if uri.scheme_str() != Some("http") {
            anyhow::bail!("the gateway URL must be http://host:port, not {url}");
        }
        if !matches!(uri.path(), "" | "/") {
            anyhow::bail!("the gateway URL takes no path: {url}");
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow::anyhow!("the gateway URL needs a host: {url}"))?;
        let port = authority.port_u16().unwrap_or(80);
        let authority = format!("{}:{port}", authority.host());
        Ok(Self {
            host: HeaderValue::from_str(&authority)?,
            authority,
        })
    }

    /// A request to `path` on the gateway, with `Authorization` when a
    /// token is given and a JSON body when one is.
    ///
    /// # Errors
    /// `path` is not a valid request target.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&Bearer>,
        json: Option<Bytes>,
    ) -> Result<Request<Full<Bytes>>, http::Error> {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone());
        if let Some(bearer) = bearer {
            builder = builder.header(AUTHORIZATION, bearer.0.clone());
        }
        match json {
            Some(body) => builder
                .header(CONTENT_TYPE, "application/json")
                .body(Full::new(body)),
            None => builder.body(Full::new(Bytes::new())),
        }
    }
}

/// An `Authorization: Bearer …` value, checked once rather than per
/// request.
#[derive(Debug, Clone)]
pub struct Bearer(HeaderValue);

impl Bearer {
    /// The header value for `token`.
    ///
    /// # Errors
    /// The token holds characters a header cannot.
    pub fn new(token: &str) -> anyhow::Result<Self> {
        Ok(Self(HeaderValue::from_str(&format!("Bearer {token}"))?))
    }
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    /// `Retry-After` in whole seconds, when the answer has one.
    pub retry_after: Option<Duration>,
    pub body: Bytes,
}

impl Reply {
    /// The body as text, cut short, for an error report.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        text.chars().take(300).collect()
    }
}

/// Why an exchange failed before an answer came.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The TCP connection could not be made.
    #[error("cannot connect to the gateway: {0}")]
    Connect(#[from] std::io::Error),
    /// The connection broke during the handshake or the exchange.
    #[error("HTTP exchange failed: {0}")]
    Exchange(#[from] hyper::Error),
    /// No whole answer within the time allowed.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
}

impl HttpError {
    /// The key a failure of this kind is counted under in a report.
    pub fn key(&self) -> &'static str {
        match self {
            HttpError::Connect(_) => "connect",
            HttpError::Exchange(_) => "transport",
            HttpError::Timeout(_) => "timeout",
        }
    }
}

/// One kept-alive connection to the gateway, dialled on first use and
/// again after any failure.
#[derive(Debug)]
pub struct Conn {
    gateway: Gateway,
    timeout: Duration,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    /// A connection to `gateway` whose exchanges each get `timeout`.
    pub fn new(gateway: Gateway, timeout: Duration) -> Self {
        Self {
            gateway,
            timeout,
            sender: None,
        }
    }

    /// The gateway this connection talks to.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// Sends `request` and reads the whole answer.
    ///
    /// # Errors
    /// No connection, a broken one, or no answer in time; the connection
    /// is then dropped, and the next call dials a new one.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, HttpError> {
        tokio::time::timeout(self.timeout, self.exchange(request))
            .await
            .unwrap_or(Err(HttpError::Timeout(self.timeout)))
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<Reply, HttpError> {
        // Taken out for the exchange and put back only after a whole
        // answer: a failed or abandoned exchange leaves no connection
        // behind whose state is unknown.
        let kept = match self.sender.take() {
            Some(mut sender) => sender.ready().await.is_ok().then_some(sender),
            None => None,
        };
        let mut sender = match kept {
            Some(sender) => sender,
            None => dial(&self.gateway).await?,
        };
        let response = sender.send_request(request).await?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let body = response.into_body().collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok(Reply {
            status,
            retry_after,
            body,
        })
    }
}

/// A fresh connection, with its driving task spawned.
async fn dial(gateway: &Gateway) -> Result<SendRequest<Full<Bytes>>, HttpError> {
    let stream = TcpStream::connect(&gateway.authority).await?;
    // Requests are small and written whole: do not let Nagle hold them.
    stream.set_nodelay(true)?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the peer closes; either way
        // the next call notices and dials again.
        let _ = connection.await;
    });
    sender.ready().await?;
    Ok(sender)
}

/// An open `text/event-stream` answer: its body, read as it arrives.
#[derive(Debug)]
pub struct Stream {
    body: Incoming,
    // Kept so the connection stays up as long as the stream is read.
    _sender: SendRequest<Full<Bytes>>,
}

impl Stream {
    /// Opens `path` as a Server-Sent Events stream on a connection of its
    /// own.
    ///
    /// # Errors
    /// No connection, or an answer other than 200 (named with its body).
    pub async fn open(
        gateway: &Gateway,
        path: &str,
        bearer: &Bearer,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let mut request = gateway.request(Method::GET, path, Some(bearer), None)?;
        request
            .headers_mut()
            .insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        let opened = async {
            let mut sender = dial(gateway).await?;
            let response = sender.send_request(request).await?;
            Ok::<_, HttpError>((sender, response))
        };
        let (sender, response) = tokio::time::timeout(timeout, opened)
            .await
            .unwrap_or(Err(HttpError::Timeout(timeout)))?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            anyhow::bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        Ok(Self {
            body: response.into_body(),
            _sender: sender,
        })
    }

    /// The next piece of the body; `None` once the stream has ended.
    ///
    /// # Errors
    /// The connection broke.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, hyper::Error>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => return Some(Ok(data)),
                    // Trailers: nothing an event stream carries.
                    Err(_) => continue,
                },
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gives_the_address_to_dial_and_the_host_header() {
        let g = Gateway::parse("http://127.0.0.1:8000").expect("parse");
        assert_eq!(g.authority, "127.0.0.1:8000");
        assert_eq!(g.host, "127.0.0.1:8000");
        let g = Gateway::parse("http://localhost/").expect("parse");
        assert_eq!(g.authority, "localhost:80");
    }

    #[test]
    fn anything_but_a_plain_http_base_url_is_refused() {
        assert!(Gateway::parse("https://127.0.0.1:8000").is_err());
        assert!(Gateway::parse("http://127.0.0.1:8000/api").is_err());
        assert!(Gateway::parse("127.0.0.1:8000").is_err());
    }
}
