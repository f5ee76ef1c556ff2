//! Discovery against the Consul agent double: the request shapes the agent
//! documents, health filtering, and a balanced channel that follows
//! instances as they register and go critical.

use foodmesh_shared::ServiceName;
use foodmesh_shared::config::DiscoveryConfig;
use foodmesh_shared::discovery::{ConsulAgent, Discovery, HealthCheck, Registration};
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::testing::consul::ConsulDouble;
use serde_json::json;

fn consul(double: &ConsulDouble) -> Discovery {
    Discovery::from_config(&DiscoveryConfig::Consul {
        addr: double.url(),
        token: None,
    })
}

#[tokio::test]
async fn registration_sends_the_agent_api_shape_with_a_grpc_check() {
    let double = ConsulDouble::start().await;
    let discovery = consul(&double);
    let reg = Registration::new("kitchen-svc", "10.0.0.7", 8003, HealthCheck::Grpc);

    discovery.register(&reg).await.expect("registered");

    let requests = double.requests();
    let sent = requests
        .iter()
        .find(|r| r.path == "/v1/agent/service/register")
        .expect("a register call");
    assert_eq!(sent.method, "PUT");
    let body = sent.body.clone().expect("a JSON body");
    assert_eq!(body["ID"], "kitchen-svc-10.0.0.7-8003");
    assert_eq!(body["Name"], "kitchen-svc");
    assert_eq!(body["Address"], "10.0.0.7");
    assert_eq!(body["Port"], 8003);
    assert_eq!(body["Meta"]["metrics_path"], "/metrics");
    assert_eq!(body["Check"]["GRPC"], "10.0.0.7:8003");
    assert_eq!(body["Check"]["Interval"], "10s");
    assert_eq!(body["Check"]["DeregisterCriticalServiceAfter"], "1m");
    assert!(body["Check"].get("HTTP").is_none());
    assert!(double.services().contains_key("kitchen-svc-10.0.0.7-8003"));
}

#[tokio::test]
async fn an_http_check_names_the_full_url() {
    let double = ConsulDouble::start().await;
    let reg = Registration::new(
        "gateway",
        "gw.local",
        8000,
        HealthCheck::Http("/healthz".to_owned()),
    );

    consul(&double).register(&reg).await.expect("registered");

    let body = double.requests()[0].body.clone().expect("body");
    assert_eq!(body["Check"]["HTTP"], "http://gw.local:8000/healthz");
    assert_eq!(body["Check"]["Method"], "GET");
    assert!(body["Check"].get("GRPC").is_none());
}

#[tokio::test]
async fn deregistration_removes_the_instance_by_id() {
    let double = ConsulDouble::start().await;
    let discovery = consul(&double);
    let reg = Registration::new("order-svc", "127.0.0.1", 8001, HealthCheck::Grpc);
    discovery.register(&reg).await.expect("registered");

    discovery.deregister(&reg.id).await.expect("deregistered");

    assert!(double.services().is_empty());
    let last = double.requests().pop().expect("a request");
    assert_eq!(last.method, "PUT");
    assert_eq!(
        last.path,
        "/v1/agent/service/deregister/order-svc-127.0.0.1-8001"
    );
}

#[tokio::test]
async fn deregistering_an_unknown_id_is_refused_as_the_agent_does() {
    let double = ConsulDouble::start().await;

    let err = consul(&double)
        .deregister("nobody-1")
        .await
        .expect_err("unknown id");

    assert!(err.to_string().contains("404"), "{err}");
}

#[tokio::test]
async fn lookups_return_only_instances_whose_checks_pass() {
    let double = ConsulDouble::start().await;
    let agent = ConsulAgent::new(double.url(), None);
    let healthy = Registration::new("kitchen-svc", "10.0.0.1", 8003, HealthCheck::Grpc);
    let sick = Registration::new("kitchen-svc", "10.0.0.2", 8003, HealthCheck::Grpc);
    let other = Registration::new("order-svc", "10.0.0.3", 8001, HealthCheck::Grpc);
    for reg in [&healthy, &sick, &other] {
        agent.register(reg).await.expect("registered");
    }
    double.set_status(&sick.id, "critical");

    let found = consul(&double)
        .resolve(ServiceName::Kitchen)
        .await
        .expect("resolved");

    assert_eq!(found, vec!["http://10.0.0.1:8003".to_owned()]);
}

#[tokio::test]
async fn the_double_refuses_malformed_registrations() {
    let double = ConsulDouble::start().await;
    let url = format!("{}/v1/agent/service/register", double.url());

    for (body, why) in [
        (json!({"Port": 1}), "no Name"),
        (
            json!({"Name": "x", "Check": {"GRPC": "h:1"}}),
            "no Interval",
        ),
        (
            json!({"Name": "x", "Check": {"GRPC": "h:1", "HTTP": "http://h", "Interval": "10s"}}),
            "two check kinds",
        ),
    ] {
        assert_eq!(put_status(&url, body.to_string()).await, 400, "{why}");
    }
    assert!(double.services().is_empty());
}

/// A PUT through hyper, returning the status code.
async fn put_status(url: &str, body: String) -> u16 {
    use hyper_util::client::legacy::Client;
    let client: Client<_, http_body_util::Full<bytes::Bytes>> =
        Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
    let req = http::Request::put(url)
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("request");
    client
        .request(req)
        .await
        .expect("answered")
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_consul_channel_reaches_the_instances_registered_in_consul() {
    let double = ConsulDouble::start().await;
    let discovery = consul(&double);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(GrpcServer::new().serve(listener, async {
        let _ = stopped.await;
    }));
    let reg = Registration::new("kitchen-svc", "127.0.0.1", port, HealthCheck::Grpc);
    discovery.register(&reg).await.expect("registered");

    let channel = discovery.channel(ServiceName::Kitchen).expect("channel");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    // The channel learns its instance from a background lookup; a call made
    // before that waits in the balancer rather than failing.
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        health.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        }),
    )
    .await
    .expect("answered in time")
    .map(|r| r.into_inner().status)
    .ok();

    assert_eq!(
        answer,
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32)
    );
    let _ = stop.send(());
    let _ = server.await;
}
