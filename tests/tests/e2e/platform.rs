//! The platform routes: health, readiness, metrics, OpenAPI and the docs
//! page, plus how the gateway answers what it does not serve.

use std::collections::BTreeSet;

use reqwest::Method;

use crate::helpers::Mesh;

#[tokio::test]
async fn healthz_answers_ok_without_asking_the_services() {
    let mesh = Mesh::start().await;

    let reply = mesh.get("/healthz", None).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status"], "ok");
}

#[tokio::test]
async fn health_answers_as_healthz_does_on_the_gateway_and_on_a_service() {
    let mesh = Mesh::start().await;

    let gateway = mesh.get("/health", None).await;
    assert_eq!(gateway.status, 200, "{}", gateway.text);
    assert_eq!(gateway.json()["status"], "ok");
    let service = reqwest::get(format!("{}/health", mesh.restaurant_url()))
        .await
        .expect("restaurant-svc's HTTP answers");
    assert_eq!(service.status(), 200);
    assert_eq!(service.text().await.expect("a body"), "ok");
}

#[tokio::test]
async fn readyz_names_each_upstream_and_is_503_while_some_are_missing() {
    let mesh = Mesh::start().await;

    let reply = mesh.get("/readyz", None).await;

    assert_eq!(reply.status, 503, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["status"], "not_ready");
    assert_eq!(body["upstreams"]["restaurant-svc"], "serving");
    assert_eq!(body["upstreams"]["order-svc"], "unreachable");
    assert_eq!(body["upstreams"].as_object().map(|o| o.len()), Some(6));
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let mesh = Mesh::start().await;

    let reply = mesh.get("/openapi.json", None).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    let doc = reply.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let expected = [
        "POST /api/restaurants",
        "GET /api/restaurants",
        "GET /api/restaurants/{id}",
        "PATCH /api/restaurants/{id}",
        "DELETE /api/restaurants/{id}",
        "POST /api/restaurants/{id}/menu",
        "GET /api/restaurants/{id}/menu",
        "GET /api/restaurants/{id}/menu/{item_id}",
        "PATCH /api/restaurants/{id}/menu/{item_id}",
        "DELETE /api/restaurants/{id}/menu/{item_id}",
        "POST /api/restaurants/{id}/categories",
        "GET /api/restaurants/{id}/categories",
        "PATCH /api/restaurants/{id}/categories/{category_id}",
        "DELETE /api/restaurants/{id}/categories/{category_id}",
        "POST /api/restaurants/{id}/option-groups",
        "GET /api/restaurants/{id}/option-groups",
        "PATCH /api/restaurants/{id}/option-groups/{group_id}",
        "DELETE /api/restaurants/{id}/option-groups/{group_id}",
        "POST /api/restaurants/{id}/coupons",
        "GET /api/restaurants/{id}/coupons",
        "GET /api/restaurants/{id}/coupons/{coupon_id}",
        "PATCH /api/restaurants/{id}/coupons/{coupon_id}",
        "POST /api/orders",
        "GET /api/orders",
        "GET /api/orders/{id}",
        "DELETE /api/orders/{id}",
        "PUT /api/orders/{id}/status",
        "POST /api/orders/{id}/items",
        "PATCH /api/orders/{id}/items/{item_id}",
        "DELETE /api/orders/{id}/items/{item_id}",
        "GET /api/orders/{id}/history",
        "GET /api/orders/track/{order_number}",
        "GET /api/orders/{id}/events",
        "POST /api/orders/{id}/reorder",
        "GET /api/customers/{id}",
        "PUT /api/customers/{id}",
        "GET /api/customers/{id}/orders",
        "POST /api/kitchen/orders",
        "GET /api/kitchen/orders",
        "GET /api/kitchen/orders/{id}",
        "PUT /api/kitchen/orders/{id}/status",
        "GET /api/kitchen/stream",
        "GET /api/kitchen/stats",
        "GET /health",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
    ];
    for route in expected {
        assert!(
            documented.contains(route),
            "{route} missing from {documented:?}"
        );
    }
    let create = &doc["paths"]["/api/restaurants"]["post"];
    assert!(create["requestBody"]["content"]["application/json"]["schema"].is_object());
    assert!(create["security"].is_array());
    assert_eq!(
        doc["components"]["responses"]["ValidationFailed"]["content"]["application/problem+json"]["schema"]
            ["$ref"],
        "#/components/schemas/ProblemDetails"
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["type"],
        "http"
    );
    assert!(doc["components"]["schemas"]["NewRestaurant"]["example"].is_object());
    for schema in [
        "NewOrder",
        "OrderView",
        "CreatedOrderView",
        "LineInput",
        "StatusChangeInput",
        "CustomerView",
        "TicketView",
        "NewTicket",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "{schema} missing"
        );
    }
    let create_order = &doc["paths"]["/api/orders"]["post"];
    for code in [
        "201", "400", "401", "403", "409", "413", "415", "422", "503",
    ] {
        assert!(
            create_order["responses"][code].is_object(),
            "{code}: {create_order}"
        );
    }
    let events = &doc["paths"]["/api/orders/{id}/events"]["get"];
    assert!(events["responses"]["200"]["content"]["text/event-stream"].is_object());
    assert!(events["responses"]["404"].is_object());
    assert_eq!(
        doc["components"]["securitySchemes"]["order_token"]["name"],
        "X-Order-Token"
    );
}

#[tokio::test]
async fn the_docs_page_serves_swagger_ui_from_the_gateway_alone() {
    let mesh = Mesh::start().await;

    let page = mesh.get("/docs/", None).await;

    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.header("content-type").starts_with("text/html"));
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "unpkg",
        "cdn",
    ] {
        assert!(!page.text.contains(external), "{external} in {}", page.text);
    }
    let redirected = mesh.get("/docs", None).await;
    assert_eq!(redirected.status, 200, "{}", redirected.text);
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
        "/docs/swagger-ui.css",
    ] {
        let reply = mesh.get(asset, None).await;
        assert_eq!(reply.status, 200, "{asset}");
    }
    let initializer = mesh.get("/docs/swagger-initializer.js", None).await;
    assert!(
        initializer.text.contains("/openapi.json"),
        "{}",
        initializer.text
    );
}

#[tokio::test]
async fn metrics_count_http_requests_by_route_and_grpc_calls_by_method() {
    let mesh = Mesh::start().await;
    let id = mesh.restaurant("Counted").await;
    assert_eq!(
        mesh.get(&format!("/api/restaurants/{id}"), None)
            .await
            .status,
        200
    );

    // A refusal: the service answered, and said no.
    assert_eq!(mesh.get("/api/restaurants/999999", None).await.status, 404);

    let reply = mesh.get("/metrics", None).await;

    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(reply.header("content-type").starts_with("text/plain"));
    let has = |needle: &str| reply.text.lines().any(|l| l.contains(needle));
    let undescribed: Vec<&str> = reply
        .text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| !reply.text.contains(&format!("# HELP {name} ")))
        .collect();
    assert!(
        undescribed.is_empty(),
        "metrics without a # HELP line: {undescribed:?}"
    );
    assert!(has("http_requests_total{"), "{}", reply.text);
    assert!(has(r#"route="/api/restaurants/{id}""#), "{}", reply.text);
    assert!(
        has("http_request_duration_seconds_bucket{"),
        "{}",
        reply.text
    );
    assert!(
        has(
            r#"grpc_client_requests_total{grpc_service="foodmesh.restaurant.v1.RestaurantService",grpc_method="GetRestaurant",grpc_code="OK",outcome="ok"}"#
        ),
        "{}",
        reply.text
    );
    assert!(
        has("grpc_client_request_duration_seconds_bucket{"),
        "{}",
        reply.text
    );
    // Counted as refused on both sides, never as an error.
    assert!(
        has(
            r#"grpc_client_requests_total{grpc_service="foodmesh.restaurant.v1.RestaurantService",grpc_method="GetRestaurant",grpc_code="NOT_FOUND",outcome="refused"}"#
        ),
        "{}",
        reply.text
    );
    assert!(
        has(
            r#"grpc_server_requests_total{grpc_service="foodmesh.restaurant.v1.RestaurantService",grpc_method="GetRestaurant",grpc_code="NOT_FOUND",outcome="refused"}"#
        ),
        "{}",
        reply.text
    );
    assert!(!has(r#"outcome="error""#), "{}", reply.text);
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problem_json() {
    let mesh = Mesh::start().await;

    let missing = mesh.get("/api/nothing-here", None).await;
    assert_eq!(missing.problem(404, None)["instance"], "/api/nothing-here");
    let wrong = mesh
        .raw(
            Method::PUT,
            "/api/restaurants",
            None,
            Some("application/json"),
            "{}",
        )
        .await;
    assert_eq!(wrong.problem(405, None)["code"], "method_not_allowed");
    assert!(wrong.header("allow").contains("GET"), "{:?}", wrong.headers);
}

#[tokio::test]
async fn the_request_id_is_echoed_or_generated_and_named_in_problems() {
    let mesh = Mesh::start().await;

    let given = mesh
        .raw(
            Method::GET,
            "/api/restaurants/404404",
            None,
            None,
            Vec::new(),
        )
        .await;
    let generated = given.header("x-request-id").to_owned();
    assert!(!generated.is_empty());
    assert_eq!(given.problem(404, None)["request_id"], generated.as_str());

    let client = reqwest::Client::new();
    let base = mesh.get("/healthz", None).await;
    assert_eq!(base.status, 200);
    let echoed = client
        .get(format!("{}/api/restaurants/404404", mesh.base()))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .expect("answers");
    assert_eq!(echoed.headers()["x-request-id"], "trace-me-42");
    let body: serde_json::Value = echoed.json().await.expect("json");
    assert_eq!(body["request_id"], "trace-me-42");
}

#[tokio::test]
async fn through_consul_the_gateway_finds_restaurant_svc_and_registers_itself_until_it_stops() {
    let consul = foodmesh_shared::testing::consul::ConsulDouble::start().await;
    let discovery = foodmesh_shared::config::DiscoveryConfig::Consul {
        addr: consul.url(),
        token: None,
    };
    let db = foodmesh_shared::testing::TestDb::new("e2e_consul").await;
    let mut service_config =
        foodmesh_shared::testing::service_config(foodmesh_shared::ServiceName::Restaurant, &db);
    service_config.discovery = discovery.clone();
    let service = restaurant_svc::build(service_config).await.expect("builds");
    let (stop_service, service_stopped) = tokio::sync::oneshot::channel::<()>();
    let service = tokio::spawn(service.run(async move {
        let _ = service_stopped.await;
    }));
    let mut config = gateway::GatewayConfig::from_lookup(&|_| None).expect("defaults");
    config.listen_addr = "127.0.0.1:0".parse().expect("address");
    config.discovery = discovery;
    let gateway = gateway::build(config).await.expect("builds");
    let base = format!("http://{}", gateway.local_addr());
    let (stop_gateway, gateway_stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(gateway.run(async move {
        let _ = gateway_stopped.await;
    }));

    let registered = consul
        .wait_for(|services| {
            services.values().any(|s| s["Service"] == "gateway")
                && services.values().any(|s| s["Service"] == "restaurant-svc")
        })
        .await;
    assert!(registered, "{:?}", consul.services());
    let check = consul
        .requests()
        .into_iter()
        .filter_map(|r| r.body)
        .find(|body| body["Name"] == "gateway")
        .map(|body| body["Check"]["HTTP"].clone())
        .expect("the gateway's registration");
    assert_eq!(check, format!("{base}/healthz"));
    let listed = reqwest::get(format!("{base}/api/restaurants"))
        .await
        .expect("answers");
    assert_eq!(listed.status(), 200);

    let _ = stop_gateway.send(());
    gateway.await.expect("stops cleanly");
    assert!(
        consul
            .wait_for(|services| services.values().all(|s| s["Service"] != "gateway"))
            .await,
        "{:?}",
        consul.services()
    );
    let _ = stop_service.send(());
    service.await.expect("joins").expect("stops cleanly");
}
