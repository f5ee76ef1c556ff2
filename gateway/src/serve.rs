//! The HTTP server loop, with the limits a public listener needs and
//! `axum::serve` does not set: a client must send its request headers
//! within `HEADER_READ_TIMEOUT_MS` (an idle keep-alive connection is closed
//! after as long), and at most `MAX_CONNECTIONS` connections are open at
//! once — one past the cap is closed at once and counted in
//! `http_connections_refused_total`. A body must keep arriving (the
//! request body timeout in [`crate::routes::router`]), and a whole request
//! is bounded by the request timeout. So a slow or half-sent request holds
//! its connection's buffers for seconds, never for good.
//!
//! Each request carries the peer's address as [`ConnectInfo`], for limits
//! kept per client.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// Serves `app` on `listener` until `shutdown` resolves, then stops
/// accepting, asks every connection to close once its request in flight is
/// answered, and waits for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_read_timeout)
        .keep_alive_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: a pause lets
                    // connections close rather than spinning on the error.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics::counter!("http_connections_refused_total").increment(1);
            tracing::debug!(%peer, "connection refused: at the connection cap");
            drop(tcp);
            continue;
        };
        // Small responses must not wait for Nagle on keep-alive connections.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
        let service = app
            .clone()
            .map_request(move |request: Request<Incoming>| with_peer(request, peer));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            // Telling HTTP/1 from HTTP/2 waits for the first bytes, before
            // hyper's header timer runs: a peer that sends nothing at all
            // is given no longer than one that sends half its headers.
            let mut first = [0_u8; 1];
            match tokio::time::timeout(limits.header_read_timeout, tcp.peek(&mut first)).await {
                Ok(Ok(1..)) => {}
                _ => return,
            }
            let connection = builder.serve_connection_with_upgrades(
                TokioIo::new(tcp),
                TowerToHyperService::new(service),
            );
            if let Err(e) = watcher.watch(connection.into_owned()).await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    graceful.shutdown().await;
}

fn with_peer(request: Request<Incoming>, peer: SocketAddr) -> Request<Body> {
    let mut request = request.map(Body::new);
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}
