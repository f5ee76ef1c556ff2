//! The gateway's own protections: slow and half-sent requests, the
//! connection cap, rate limits, circuit breakers and load shedding.

use std::time::Duration;

use gateway::GatewayConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Mesh, MeshOptions, RedisServer, Reply, eventually};

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

fn guest_order(restaurant: i64, item: i64, n: usize) -> serde_json::Value {
    json!({
        "restaurant_id": restaurant,
        "guest": {"name": format!("Guest {n}"), "phone": format!("+1212555{n:04}")},
        "items": [{"menu_item_id": item, "quantity": 1}]
    })
}

#[tokio::test]
async fn guest_checkout_takes_thirty_orders_a_minute_from_one_address_by_default() {
    let mesh = Mesh::with_orders_on(MeshOptions {
        // Thirty orders at once on a busy machine: room for the slowest.
        tune_gateway: |config: &mut GatewayConfig| {
            config.upstream_timeout = Duration::from_secs(20);
        },
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    // All at once, as a script would: the quota comes back at one order
    // every two seconds, so sent one by one on a slow machine a 31st could
    // fairly be let in.
    let bodies: Vec<_> = (0..34).map(|n| guest_order(restaurant, item, n)).collect();
    let replies = futures::future::join_all(
        bodies
            .iter()
            .map(|body| mesh.post("/api/orders", None, body)),
    )
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        30,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    let refused = replies.iter().find(|r| r.status == 429).expect("a refusal");
    let problem = refused.problem(429, None);
    assert_eq!(problem["code"], "rate_limited");
    let retry_after: u64 = refused.header("retry-after").parse().expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.header("ratelimit-policy"),
        r#""guest_checkout";q=30;w=60"#
    );
    assert!(
        refused
            .header("ratelimit")
            .starts_with(r#""guest_checkout";r=0;t="#),
        "{}",
        refused.header("ratelimit")
    );
    // Only the admitted orders exist; a signed-in customer at the same
    // address spends from a budget of their own.
    let orders = mesh
        .get("/api/orders?limit=100", Some(&Mesh::admin()))
        .await
        .json();
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(30));
    mesh.cash_order(restaurant, item, 7).await;
    assert_eq!(
        mesh.metric(r#"gateway_rate_limited_total{class="guest_checkout"}"#)
            .await,
        Some(4.0)
    );
}

/// A window long enough that nothing comes back while a test runs.
fn six_reads_an_hour(config: &mut GatewayConfig) {
    config.rate_limits.set_quota(
        gateway::rate_limit::RouteClass::Read,
        Some("6/h".parse().expect("quota")),
    );
}

async fn read_on(http: &reqwest::Client, base: &str, token: &str) -> u16 {
    http.get(format!("{base}/api/restaurants"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the gateway answers")
        .status()
        .as_u16()
}

#[tokio::test]
async fn two_gateways_on_one_redis_spend_one_budget() {
    let mesh = Mesh::start_on(MeshOptions {
        tune_gateway: six_reads_an_hour,
        ..MeshOptions::default()
    })
    .await;
    let second = mesh.second_gateway().await;
    let http = reqwest::Client::new();
    let ana = Mesh::customer_id(1);
    let mut statuses = Vec::new();
    for base in [
        mesh.base(),
        &second,
        mesh.base(),
        &second,
        mesh.base(),
        &second,
    ] {
        statuses.push(read_on(&http, base, &ana).await);
    }
    assert_eq!(statuses, [200; 6]);
    // Either gateway refuses the seventh: the budget is one.
    assert_eq!(read_on(&http, mesh.base(), &ana).await, 429);
    assert_eq!(read_on(&http, &second, &ana).await, 429);
    // Another customer has a budget of their own.
    assert_eq!(read_on(&http, &second, &Mesh::customer_id(2)).await, 200);
}

#[tokio::test]
async fn with_its_redis_stopped_the_gateway_serves_under_a_local_limit_and_says_so() {
    let mut redis = RedisServer::start().await;
    let mesh = Mesh::start_on(MeshOptions {
        gateway_redis_url: Some(redis.url()),
        tune_gateway: six_reads_an_hour,
        ..MeshOptions::default()
    })
    .await;
    let http = reqwest::Client::new();
    let ana = Mesh::customer_id(1);
    assert_eq!(
        mesh.metric("gateway_rate_limit_local_only").await,
        Some(0.0)
    );
    for _ in 0..2 {
        assert_eq!(read_on(&http, mesh.base(), &ana).await, 200);
    }

    redis.kill().await;
    // Served all the same, now against this process's own count, which
    // starts whole: six more, and the seventh refused.
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..7 {
            statuses.push(read_on(&http, mesh.base(), &ana).await);
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 429]);
    assert_eq!(
        mesh.metric("gateway_rate_limit_local_only").await,
        Some(1.0)
    );
    assert!(mesh.metric("gateway_rate_limit_store_errors_total").await >= Some(1.0));

    redis.restart().await;
    eventually("limits shared again", Duration::from_secs(10), || async {
        (mesh.metric("gateway_rate_limit_local_only").await == Some(0.0)).then_some(())
    })
    .await;
    // Back on Redis's count, which kept the two reads spent before.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(read_on(&http, mesh.base(), &ana).await);
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429]);
}

#[tokio::test]
async fn a_hung_redis_costs_a_request_a_fraction_of_a_second_once() {
    let redis = foodmesh_shared::testing::valve::Valve::start(
        crate::helpers::default_redis_url()
            .trim_start_matches("redis://")
            .parse()
            .expect("the tests' Redis is host:port"),
    )
    .await;
    let mesh = Mesh::start_on(MeshOptions {
        gateway_redis_url: Some(format!("redis://{}", redis.addr())),
        // A quota small enough to be counted one by one: every read asks
        // Redis, none is spent from a batch held in the gateway.
        tune_gateway: six_reads_an_hour,
        ..MeshOptions::default()
    })
    .await;
    assert_eq!(mesh.get("/api/restaurants", None).await.status, 200);
    redis.freeze();
    let started = std::time::Instant::now();
    let reply: Reply = mesh.get("/api/restaurants", None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    // Far under any deadline a client would set: the limit was decided
    // locally once Redis did not answer.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        mesh.metric("gateway_rate_limit_local_only").await,
        Some(1.0)
    );
    redis.thaw();
    eventually("limits shared again", Duration::from_secs(10), || async {
        (mesh.metric("gateway_rate_limit_local_only").await == Some(0.0)).then_some(())
    })
    .await;
}

/// A deadline of two seconds, and a breaker that opens after three
/// failures in a row for five seconds (long enough that a slow machine
/// cannot let the test's next call through as a probe).
fn quick_breaker(config: &mut GatewayConfig) {
    config.upstream_timeout = Duration::from_secs(2);
    config.breaker = gateway::breaker::BreakerConfig {
        failures: 3,
        open_for: Duration::from_secs(5),
    };
}

const RESTAURANT_CIRCUIT: &str = r#"gateway_circuit_state{upstream="restaurant-svc"}"#;

/// `GET /api/restaurants`, timed.
async fn list_restaurants(mesh: &Mesh) -> (Reply, Duration) {
    let started = std::time::Instant::now();
    let reply = mesh.get("/api/restaurants", None).await;
    (reply, started.elapsed())
}

/// Waits for restaurant-svc's breaker to let a probe through and close.
async fn closes_by_itself(mesh: &Mesh) {
    eventually(
        "the breaker closes by itself",
        Duration::from_secs(30),
        || async {
            let (reply, _) = list_restaurants(mesh).await;
            (reply.status == 200).then_some(())
        },
    )
    .await;
    assert_eq!(mesh.metric(RESTAURANT_CIRCUIT).await, Some(0.0));
}

/// What a call refused by an open breaker looks like, and that it took a
/// small part of the deadline.
fn assert_refused_by_the_breaker(reply: &Reply, took: Duration) {
    let problem = reply.problem(503, None);
    assert_eq!(problem["code"], "service_unavailable");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("paused"),
        "{problem}"
    );
    assert!(
        !reply.header("retry-after").is_empty(),
        "{:?}",
        reply.headers
    );
    assert!(
        took < Duration::from_secs(1),
        "half the 2 s deadline: {took:?}"
    );
}

#[tokio::test]
async fn with_restaurant_svc_frozen_its_breaker_opens_the_rest_works_and_it_recovers() {
    let mesh = Mesh::with_orders_on(MeshOptions {
        restaurant_valve: true,
        tune_gateway: quick_breaker,
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    let order = mesh.cash_order(restaurant, item, 1).await;
    let order_id = order["id"].as_i64().expect("id");

    mesh.valve().freeze();
    // Three callers wait out the deadline together...
    let waited = futures::future::join_all((0..3).map(|_| list_restaurants(&mesh))).await;
    for (reply, _) in &waited {
        assert_eq!(reply.status, 504, "{}", reply.text);
    }
    // ...and the next is refused at once.
    let (refused, took) = list_restaurants(&mesh).await;
    assert_refused_by_the_breaker(&refused, took);
    assert_eq!(mesh.metric(RESTAURANT_CIRCUIT).await, Some(1.0));
    // What does not need restaurant-svc is served as ever.
    let read = mesh
        .get(&format!("/api/orders/{order_id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    // The kitchen's own display (an admin naming a restaurant needs
    // restaurant-svc to know it exists).
    let tickets = mesh
        .get("/api/kitchen/orders", Some(&Mesh::staff(restaurant)))
        .await;
    assert_eq!(tickets.status, 200, "{}", tickets.text);

    mesh.valve().thaw();
    closes_by_itself(&mesh).await;
}

#[tokio::test]
async fn with_restaurant_svc_killed_calls_that_need_it_fail_fast_until_it_is_back() {
    let mut mesh = Mesh::with_orders_on(MeshOptions {
        tune_gateway: quick_breaker,
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, item) = mesh.restaurant_with_item("8.00").await;
    let order = mesh.cash_order(restaurant, item, 1).await;
    let order_id = order["id"].as_i64().expect("id");

    let db = mesh.crash_restaurant_svc().await;
    let mut statuses = Vec::new();
    let refused = loop {
        let (reply, took) = list_restaurants(&mesh).await;
        if reply.status == 503 && !reply.header("retry-after").is_empty() {
            break (reply, took);
        }
        statuses.push(reply.status);
        assert!(statuses.len() < 3, "no breaker after {statuses:?}");
    };
    // Each failed read is tried twice, and the gateway's follower of menu
    // changes fails too: a read or two make the run of three.
    assert!(statuses.iter().all(|s| *s == 503), "{statuses:?}");
    assert_refused_by_the_breaker(&refused.0, refused.1);
    assert_eq!(mesh.metric(RESTAURANT_CIRCUIT).await, Some(1.0));
    assert!(
        mesh.metric(r#"gateway_circuit_refused_total{upstream="restaurant-svc"}"#)
            .await
            >= Some(1.0)
    );
    let read = mesh
        .get(&format!("/api/orders/{order_id}"), Some(&Mesh::admin()))
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(
        mesh.metric(r#"gateway_circuit_state{upstream="order-svc"}"#)
            .await,
        Some(0.0)
    );

    mesh.restart_restaurant_svc(db).await;
    closes_by_itself(&mesh).await;
}

#[tokio::test]
async fn past_the_cap_of_requests_in_flight_the_gateway_sheds_at_once_and_probes_still_answer() {
    let mesh = Mesh::start_on(MeshOptions {
        restaurant_valve: true,
        tune_gateway: |config: &mut GatewayConfig| {
            config.admission.max_in_flight = 2;
            config.upstream_timeout = Duration::from_secs(3);
        },
        ..MeshOptions::default()
    })
    .await;
    mesh.valve().freeze();
    // Two requests hold the two places, waiting on the frozen service.
    let held = futures::future::join_all((0..2).map(|_| mesh.get("/api/restaurants", None)));
    let check = async {
        // The gateway answers this one itself: only its place is missing.
        let shed = eventually("a request shed", Duration::from_secs(3), || async {
            let reply = mesh.get("/openapi.json", None).await;
            (reply.status == 503).then_some(reply)
        })
        .await;
        assert_eq!(shed.problem(503, None)["code"], "overloaded");
        assert_eq!(shed.header("retry-after"), "1");
        assert_eq!(mesh.get("/healthz", None).await.status, 200);
        assert!(mesh.metric("http_requests_shed_total").await >= Some(1.0));
    };
    let (held, ()) = tokio::join!(held, check);
    for reply in held {
        assert_eq!(reply.status, 504, "{}", reply.text);
    }
    mesh.valve().thaw();
    assert_eq!(mesh.get("/openapi.json", None).await.status, 200);
}

/// Opens `path` as a live stream; the open response, or the status it was
/// refused with.
async fn open_stream(mesh: &Mesh, path: &str, token: &str) -> Result<reqwest::Response, u16> {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", mesh.base()))
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("the gateway answers");
    match response.status().as_u16() {
        200 => Ok(response),
        status => Err(status),
    }
}

#[tokio::test]
async fn live_streams_are_counted_apart_from_requests_and_capped_per_client() {
    let mesh = Mesh::with_orders_on(MeshOptions {
        tune_gateway: |config: &mut GatewayConfig| {
            config.admission.max_in_flight = 1;
            config.admission.max_streams_per_client = 2;
        },
        ..MeshOptions::default()
    })
    .await;
    let (restaurant, _) = mesh.restaurant_with_item("8.00").await;
    let (ana, bo) = (
        Mesh::staff_named(restaurant, "ana"),
        Mesh::staff_named(restaurant, "bo"),
    );
    let path = "/api/kitchen/stream";
    let first = open_stream(&mesh, path, &ana).await.expect("opens");
    let _second = open_stream(&mesh, path, &ana).await.expect("opens");
    let refused = mesh.get(path, Some(&ana)).await;
    assert_eq!(refused.problem(429, None)["code"], "too_many_streams");
    assert!(!refused.header("retry-after").is_empty());
    // Not a matter of the read budget, which is not spent: no `RateLimit`
    // saying some is left, as if a retry would do.
    assert!(
        !refused.headers.contains_key("ratelimit"),
        "{:?}",
        refused.headers
    );
    // Another client has places of their own, and requests still have
    // theirs with three streams open.
    let _bos = open_stream(&mesh, path, &bo).await.expect("opens");
    let menu = mesh
        .get(&format!("/api/restaurants/{restaurant}/menu"), None)
        .await;
    assert_eq!(menu.status, 200, "{}", menu.text);
    assert_eq!(mesh.metric("gateway_live_streams").await, Some(3.0));

    drop(first);
    let _third = eventually(
        "a place again once a stream closes",
        Duration::from_secs(5),
        || async { open_stream(&mesh, path, &ana).await.ok() },
    )
    .await;
}
