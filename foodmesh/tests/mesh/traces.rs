//! One order followed everywhere: `foodmesh up` exports its spans over OTLP
//! to a real OTLP receiver (opentelemetry-proto's trace service, on
//! loopback), and each request's trace is checked across every process it
//! touches: unbroken parent links, a client span on the caller's side of
//! every gRPC hop, and the request's `x-request-id` on every server,
//! client and consumer span, events included.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use foodmesh::cli::{RoleArg, TokenArgs};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::{Value, json};

use super::Launcher;

/// A span as the receiver got it.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    kind: SpanKind,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
    attributes: HashMap<String, String>,
}

impl Received {
    fn request_id(&self) -> &str {
        self.attributes.get("request_id").map_or("", String::as_str)
    }
}

/// The OTLP trace service: keeps every span exported to it.
#[derive(Debug, Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Received>>>,
}

fn text(attributes: &[KeyValue]) -> HashMap<String, String> {
    attributes
        .iter()
        .filter_map(|kv| {
            let value = match kv.value.as_ref()?.value.as_ref()? {
                AnyValue::StringValue(s) => s.clone(),
                AnyValue::IntValue(i) => i.to_string(),
                AnyValue::BoolValue(b) => b.to_string(),
                AnyValue::DoubleValue(d) => d.to_string(),
                _ => return None,
            };
            Some((kv.key.clone(), value))
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| text(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned().unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        kind: span.kind(),
                        name: span.name,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        parent_span_id: span.parent_span_id,
                        attributes: text(&span.attributes),
                    });
                }
            }
        }
        self.spans
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// Serves `receiver` on a loopback port; its endpoint URL.
async fn serve(receiver: Receiver) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    format!("http://{addr}")
}

fn token(role: RoleArg, subject: &str) -> String {
    foodmesh::token::issue(&TokenArgs {
        role,
        restaurant: None,
        subject: subject.to_owned(),
        ttl_hours: 1,
    })
    .expect("a token")
}

/// The REST API of the mesh, each call under the request id it is given.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        request_id: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("x-request-id", request_id);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("the gateway answers");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// Asks `path` (as an admin) until `ready` holds, for at most 30 s.
    async fn until(&self, path: &str, ready: impl Fn(&Value) -> bool) -> Value {
        let admin = token(RoleArg::Admin, "traces");
        for _ in 0..300 {
            let (status, body) = self
                .call(reqwest::Method::GET, path, &admin, "trace-poll", None)
                .await;
            if status == 200 && ready(&body) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{path} never became ready");
    }
}

const ORDER_REQUEST: &str = "trace-order-1";
const PAYMENT_REQUEST: &str = "trace-payment-1";

#[tokio::test]
async fn one_order_is_followed_through_every_process_by_its_traces_and_request_ids() {
    let receiver = Receiver::default();
    let endpoint = serve(receiver.clone()).await;
    let mut up = Launcher::start_with(
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            // Quiet logs: exported traces keep their own floor.
            ("RUST_LOG", "warn"),
        ],
    );
    assert!(up.ready().await, "the mesh is up: {}", up.seen);
    let api = Api {
        http: reqwest::Client::new(),
        base: format!("http://{}", up.gateway()),
    };
    let admin = token(RoleArg::Admin, "traces");
    let customer = token(RoleArg::Customer, "5");

    // A delivery order from the first demo restaurant (its drivers wait
    // nearby), paid by card: the order's request, then the payment's.
    let (status, item) = api
        .call(
            reqwest::Method::POST,
            "/api/restaurants/1/menu",
            &admin,
            "trace-setup",
            Some(json!({"name": "Trace Pizza", "price": 10.00})),
        )
        .await;
    assert_eq!(status, 201, "{item}");
    // An email to be told at: without one, a customer hears nothing.
    let (status, profile) = api
        .call(
            reqwest::Method::PUT,
            "/api/customers/5",
            &customer,
            "trace-setup",
            Some(json!({"name": "Tracy Lee", "email": "tracy@example.com"})),
        )
        .await;
    assert_eq!(status, 200, "{profile}");
    let (status, order) = api
        .call(
            reqwest::Method::POST,
            "/api/orders",
            &customer,
            ORDER_REQUEST,
            Some(json!({
                "restaurant_id": 1, "order_type": "delivery", "payment_method": "card",
                "items": [{"menu_item_id": item["id"], "quantity": 1}],
                "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY",
                                     "zip_code": "10002", "country": "US"}
            })),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order_id = order["id"].as_i64().expect("id");
    let (status, payment) = api
        .call(
            reqwest::Method::POST,
            "/api/payments",
            &customer,
            PAYMENT_REQUEST,
            Some(json!({"order_id": order_id, "payment_method": "card", "source": "tok_visa"})),
        )
        .await;
    assert_eq!(status, 201, "{payment}");

    // Everything the payment sets off: the kitchen's ticket, a driver, the
    // customer's messages.
    api.until(&format!("/api/deliveries?order_id={order_id}"), |d| {
        d["items"][0]["status"] == "assigned"
    })
    .await;
    api.until("/api/kitchen/orders?restaurant_id=1", |t| {
        t["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|t| t["order_id"] == order_id))
    })
    .await;
    api.until(&format!("/api/notifications?order_id={order_id}"), |n| {
        n["items"].as_array().is_some_and(|items| items.len() >= 2)
    })
    .await;

    // Every process flushes its spans as it stops.
    let stopped = up.interrupt().await;
    assert!(stopped.exit.success(), "{}", stopped.stderr);
    let spans = receiver
        .spans
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();

    let order_trace = trace_of(&spans, ORDER_REQUEST);
    let payment_trace = trace_of(&spans, PAYMENT_REQUEST);
    assert_ne!(order_trace, payment_trace, "two requests, two traces");
    let order_services = services_in(&spans, &order_trace);
    let payment_services = services_in(&spans, &payment_trace);
    for service in ["gateway", "order-svc", "restaurant-svc"] {
        assert!(
            order_services.contains(service),
            "{service} in the order's trace: {order_services:?}"
        );
    }
    for service in [
        "gateway",
        "accounting-svc",
        "order-svc",
        "kitchen-svc",
        "delivery-svc",
        "notification-svc",
    ] {
        assert!(
            payment_services.contains(service),
            "{service} in the payment's trace: {payment_services:?}"
        );
    }
    let every: HashSet<&str> = order_services.union(&payment_services).copied().collect();
    assert_eq!(every.len(), 7, "every process: {every:?}");

    for (trace, request_id) in [
        (&order_trace, ORDER_REQUEST),
        (&payment_trace, PAYMENT_REQUEST),
    ] {
        let in_trace: Vec<&Received> = spans.iter().filter(|s| &s.trace_id == trace).collect();
        let ids: HashSet<&[u8]> = in_trace.iter().map(|s| s.span_id.as_slice()).collect();
        let roots: Vec<&&Received> = in_trace
            .iter()
            .filter(|s| s.parent_span_id.is_empty())
            .collect();
        assert_eq!(
            roots.len(),
            1,
            "one root in {request_id}'s trace: {roots:?}"
        );
        assert_eq!(roots[0].service, "gateway");
        for span in &in_trace {
            assert!(
                span.parent_span_id.is_empty() || ids.contains(span.parent_span_id.as_slice()),
                "{request_id}: the parent of {} ({}) was exported",
                span.name,
                span.service
            );
            if matches!(
                span.kind,
                SpanKind::Server | SpanKind::Client | SpanKind::Consumer
            ) {
                assert_eq!(
                    span.request_id(),
                    request_id,
                    "{} ({}) carries the request id",
                    span.name,
                    span.service
                );
            }
        }
        // Every server span of a gRPC call has its caller's client span as
        // its parent.
        for server in in_trace
            .iter()
            .filter(|s| s.kind == SpanKind::Server && s.attributes.contains_key("rpc.method"))
        {
            let parent = in_trace
                .iter()
                .find(|s| s.span_id == server.parent_span_id)
                .unwrap_or_else(|| panic!("{} has a parent", server.name));
            assert_eq!(
                (parent.kind, parent.name.as_str()),
                (SpanKind::Client, server.name.as_str()),
                "{} ({}) is called from a client span",
                server.name,
                server.service
            );
        }
    }
    // The hop from one service to another has both sides.
    let price = spans
        .iter()
        .find(|s| {
            s.trace_id == order_trace
                && s.kind == SpanKind::Client
                && s.service == "order-svc"
                && s.name == "foodmesh.restaurant.v1.RestaurantService/PriceOrder"
        })
        .expect("order-svc's client span of PriceOrder");
    assert!(
        spans.iter().any(|s| s.service == "restaurant-svc"
            && s.kind == SpanKind::Server
            && s.parent_span_id == price.span_id),
        "restaurant-svc's PriceOrder is the child of order-svc's call"
    );
}

/// The trace of the gateway's span for the request `request_id`.
fn trace_of(spans: &[Received], request_id: &str) -> Vec<u8> {
    spans
        .iter()
        .find(|s| {
            s.service == "gateway" && s.kind == SpanKind::Server && s.request_id() == request_id
        })
        .map(|s| s.trace_id.clone())
        .unwrap_or_else(|| {
            let seen: Vec<(&str, &str, &str)> = spans
                .iter()
                .map(|s| (s.service.as_str(), s.name.as_str(), s.request_id()))
                .collect();
            panic!("no gateway span of {request_id}: {seen:?}")
        })
}

fn services_in<'a>(spans: &'a [Received], trace: &[u8]) -> HashSet<&'a str> {
    spans
        .iter()
        .filter(|s| s.trace_id == trace)
        .map(|s| s.service.as_str())
        .collect()
}
