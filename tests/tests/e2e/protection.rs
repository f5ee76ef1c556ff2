//! The gateway's own protections: slow and half-sent requests, the
//! connection cap, rate limits, circuit breakers and load shedding.

use std::time::Duration;

use gateway::GatewayConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Mesh, MeshOptions, eventually};

fn address_of(mesh: &Mesh) -> String {
    mesh.base().trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection, for at most `within`;
/// what it sent, or `None` if it kept the connection open that long.
async fn until_closed(tcp: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    tokio::time::timeout(within, tcp.read_to_end(&mut received))
        .await
        .ok()
        .map(|_| String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test]
async fn half_sent_headers_and_idle_connections_are_closed_after_the_header_timeout() {
    let mesh = Mesh::start_on(MeshOptions {
        tune_gateway: |config: &mut GatewayConfig| {
            config.connections.header_read_timeout = Duration::from_millis(300);
        },
        ..MeshOptions::default()
    })
    .await;
    let address = address_of(&mesh);
    let mut half_sent = Vec::new();
    for _ in 0..50 {
        let mut tcp = TcpStream::connect(&address).await.expect("connects");
        tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
            .await
            .expect("writes");
        half_sent.push(tcp);
    }
    let mut silent = TcpStream::connect(&address).await.expect("connects");
    let mut kept_alive = TcpStream::connect(&address).await.expect("connects");
    kept_alive
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        .await
        .expect("writes");
    for tcp in &mut half_sent {
        let answer = until_closed(tcp, Duration::from_secs(5)).await;
        let answer = answer.expect("closed within seconds of the header timeout");
        assert!(!answer.contains("200 OK"), "{answer}");
    }
    let silent = until_closed(&mut silent, Duration::from_secs(5)).await;
    assert_eq!(silent.as_deref(), Some(""), "a peer that sends nothing");
    let kept = until_closed(&mut kept_alive, Duration::from_secs(5)).await;
    let kept = kept.expect("an idle keep-alive connection is closed too");
    assert!(kept.starts_with("HTTP/1.1 200"), "{kept}");
    assert_eq!(mesh.get("/healthz", None).await.status, 200);
}

#[tokio::test]
async fn a_connection_past_the_cap_is_closed_at_once_and_the_cap_frees_up() {
    let mesh = Mesh::start_on(MeshOptions {
        tune_gateway: |config: &mut GatewayConfig| {
            config.connections.max_connections = 4;
            config.connections.header_read_timeout = Duration::from_secs(30);
        },
        ..MeshOptions::default()
    })
    .await;
    let address = address_of(&mesh);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&address).await.expect("connects"));
    }
    // The gateway takes the four in turn; the fifth finds no slot.
    eventually(
        "a fifth connection closed at once",
        Duration::from_secs(5),
        || {
            let address = address.clone();
            async move {
                let mut tcp = TcpStream::connect(&address).await.ok()?;
                until_closed(&mut tcp, Duration::from_millis(500)).await
            }
        },
    )
    .await;
    drop(held);
    eventually("a slot again", Duration::from_secs(5), || {
        let address = address.clone();
        async move {
            let answer = get_over(&address, "/healthz").await?;
            answer.starts_with("HTTP/1.1 200").then_some(())
        }
    })
    .await;
}

/// `GET path` on a connection of its own; the whole answer, if any.
async fn get_over(address: &str, path: &str) -> Option<String> {
    let mut tcp = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.ok()?;
    until_closed(&mut tcp, Duration::from_secs(2)).await
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_and_nothing_is_written() {
    let mesh = Mesh::start_on(MeshOptions {
        tune_gateway: |config: &mut GatewayConfig| {
            config.body_read_timeout = Duration::from_millis(300);
        },
        ..MeshOptions::default()
    })
    .await;
    let mut tcp = TcpStream::connect(address_of(&mesh))
        .await
        .expect("connects");
    let head = format!(
        "POST /api/restaurants HTTP/1.1\r\nHost: gateway\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"name\": \"Slow",
        Mesh::admin()
    );
    tcp.write_all(head.as_bytes()).await.expect("writes");
    let answer = until_closed(&mut tcp, Duration::from_secs(5))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let listed = mesh.get("/api/restaurants", None).await.json();
    assert_eq!(listed["items"], json!([]), "{listed}");
}
