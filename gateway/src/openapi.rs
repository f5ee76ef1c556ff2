//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations and the body and view types' `ToSchema` derives, so it cannot
//! drift from the code. Served at `/openapi.json`, browsed at `/docs`.
//!
//! Error responses are added here rather than on each handler: which ones
//! an operation can answer follows from its shape (a body can be malformed,
//! too large or invalid; a path id can be unknown; a protected route can
//! refuse), and writing that once keeps every operation honest.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi as Document, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::problem::{FieldError, PROBLEM_JSON, ProblemDetails};

/// The media type of the live streams.
const EVENT_STREAM: &str = "text/event-stream";

/// The document's fixed parts: info, tags, shared schemas and the bearer
/// security scheme. Routes, and the schemas only they know of, are added
/// by [`crate::routes::router`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "FoodMesh API",
        description = "Order food from restaurants: restaurants, menus and coupons; orders, \
            their tracking and live updates; customers; the kitchen's ticket queue; drivers and \
            deliveries; payments, refunds and invoices; notifications to customers by email, SMS \
            and push, with their delivery log, preferences, templates and bulk sends. \
            Reads of restaurants and menus are public; guests order without an account and \
            get an order access token (`X-Order-Token`); everything else needs a bearer JWT \
            (`customer`, `staff` of a restaurant, `admin`). Amounts are decimals in the \
            restaurant's currency, read and written exactly. Live updates are Server-Sent \
            Events. Errors are `application/problem+json` with a stable `code` and \
            per-field `errors`."
    ),
    tags(
        (name = "restaurants", description = "Restaurants and their details."),
        (name = "menu", description = "Menu items, categories and option groups."),
        (name = "coupons", description = "A restaurant's discount codes."),
        (name = "orders", description = "Placing, tracking and moving orders; live updates."),
        (name = "customers", description = "Customer profiles and their orders."),
        (name = "kitchen", description = "A restaurant's ticket queue, live."),
        (name = "deliveries", description = "Drivers, deliveries to the door, and public \
            tracking."),
        (name = "payments", description = "Paying orders (sandbox cards: `tok_visa` approves, \
            `tok_chargeDeclined` declines), refunds, invoices, providers calling back."),
        (name = "notifications", description = "Messages to customers by email, SMS and push: \
            the delivery log, messages by hand and bulk sends, customers' preferences per \
            channel, and the templates messages are written from."),
        (name = "platform", description = "Liveness, readiness and metrics."),
    ),
    components(schemas(ProblemDetails, FieldError, crate::auth::Role)),
    modifiers(&BearerScheme)
)]
pub struct ApiDoc;

/// Declares the security schemes operations name: `bearer` (a JWT) and
/// `order_token` (a guest order's access token).
struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT with `role` (customer, staff, driver, admin) and, for \
                         staff, `restaurant_id`. Issue one with `foodmesh token --role admin`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "order_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Order-Token",
                "The access token a guest order came with: alone it reads, tracks, watches \
                 and cancels that order. Clients that cannot set headers (EventSource) pass \
                 it as `?token=`.",
            ))),
        );
    }
}

/// The shared problem responses: name, description, example.
const PROBLEMS: &[(&str, u16, &str, &str, &str)] = &[
    (
        "BadRequest",
        400,
        "invalid_parameter",
        "A path or query parameter does not parse, or the body is not JSON.",
        "id",
    ),
    (
        "Unauthorized",
        401,
        "unauthorized",
        "No valid bearer token (see `WWW-Authenticate`), or, where one is accepted, no order access token.",
        "",
    ),
    (
        "Forbidden",
        403,
        "forbidden",
        "The token's role or restaurant may not do this.",
        "",
    ),
    (
        "NotFound",
        404,
        "restaurant_not_found",
        "The resource (a restaurant or its parts, an order, a ticket, a customer, a delivery, a payment, a bulk send, a template) does not exist, or is not the caller's to see.",
        "",
    ),
    (
        "Conflict",
        409,
        "coupon_code_taken",
        "The change conflicts with the current state (a taken code, a move the lifecycle does not allow, a stated price that differs from the menu, a reused idempotency key).",
        "",
    ),
    (
        "PayloadTooLarge",
        413,
        "payload_too_large",
        "The body is over the gateway's limit.",
        "",
    ),
    (
        "UnsupportedMediaType",
        415,
        "unsupported_media_type",
        "The body is not declared as `application/json`.",
        "",
    ),
    (
        "ValidationFailed",
        422,
        "validation_failed",
        "Fields of the body are missing or invalid; `errors` names each.",
        "price",
    ),
    (
        "TooManyRequests",
        429,
        "rate_limited",
        "The client has spent its budget for this class of route (reads, writes, order changes, guest orders per address, order-token requests per address, webhooks): `rate_limited`; or, on a live stream, has as many streams open as one client may: `too_many_streams`. `Retry-After` says when to come back; every limited response carries `RateLimit-Policy` and `RateLimit` (IETF draft) to pace by.",
        "",
    ),
    (
        "InternalError",
        500,
        "internal_error",
        "Unexpected; quote `request_id`.",
        "",
    ),
    (
        "ServiceUnavailable",
        503,
        "service_unavailable",
        "A service behind the gateway is unavailable (`service_unavailable`; while its circuit breaker is open, with `Retry-After`), or the gateway is at its limit of requests in flight or live streams and sheds this one (`overloaded`, with `Retry-After`).",
        "",
    ),
    (
        "GatewayTimeout",
        504,
        "upstream_timeout",
        "A service behind the gateway did not answer in time.",
        "",
    ),
];

/// Adds the problem responses to the components and to every operation
/// according to its shape, and returns the finished document.
pub fn complete(mut openapi: Document) -> Document {
    let components = openapi.components.get_or_insert_with(Default::default);
    for (name, status, code, description, field) in PROBLEMS {
        let errors = if field.is_empty() {
            serde_json::json!([])
        } else {
            serde_json::json!([{"field": field, "message": "must be a positive integer"}])
        };
        let example = serde_json::json!({
            "type": format!("urn:foodmesh:problem:{code}"),
            "title": axum::http::StatusCode::from_u16(*status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error"),
            "status": status,
            "detail": description,
            "code": code,
            "instance": "/api/restaurants/1",
            "request_id": "5f0c6a1e-8d1b-4c47-a3a4-2f7f6f0c9b11",
            "errors": errors,
        });
        let mut response = ResponseBuilder::new().description(*description);
        if *status == 429 {
            response = rate_limit_headers(response);
        }
        let response = response
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemDetails")))
                    .example(Some(example))
                    .build(),
            )
            .build();
        components
            .responses
            .insert((*name).to_owned(), RefOr::T(response));
    }
    for (path, item) in &mut openapi.paths.paths {
        let api = path.starts_with("/api/");
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, writes) in operations {
            if let Some(operation) = operation.as_mut()
                && api
            {
                add_problems(operation, writes);
            }
        }
    }
    openapi
}

fn add_problems(operation: &mut Operation, writes: bool) {
    let params = operation.parameters.as_deref().unwrap_or_default();
    let param = |place: ParameterIn, name: Option<&str>| {
        params.iter().any(|p| match p {
            RefOr::T(p) => p.parameter_in == place && name.is_none_or(|n| p.name.starts_with(n)),
            RefOr::Ref(_) => false,
        })
    };
    let has_path = param(ParameterIn::Path, None);
    let has_query = param(ParameterIn::Query, None);
    let asks_more = param(ParameterIn::Query, Some("include_"));
    let has_body = operation.request_body.is_some();
    let secured = operation.security.is_some();
    let mut wanted = vec![
        ("429", "TooManyRequests"),
        ("500", "InternalError"),
        ("503", "ServiceUnavailable"),
        ("504", "GatewayTimeout"),
    ];
    if has_path || has_query || has_body {
        wanted.push(("400", "BadRequest"));
    }
    if secured || asks_more {
        wanted.push(("401", "Unauthorized"));
        wanted.push(("403", "Forbidden"));
    }
    if has_path {
        wanted.push(("404", "NotFound"));
    }
    if writes {
        wanted.push(("409", "Conflict"));
    }
    if has_body {
        wanted.push(("413", "PayloadTooLarge"));
        wanted.push(("415", "UnsupportedMediaType"));
    }
    if (has_body || has_query || writes) && !streams(operation) {
        wanted.push(("422", "ValidationFailed"));
    }
    for (status, name) in wanted {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
}

/// The headers a refusal for rate comes with.
fn rate_limit_headers(response: ResponseBuilder) -> ResponseBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let header = |schema_type: Type, description: &str| {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(schema_type)))
            .description(Some(description))
            .build()
    };
    response
        .header(
            "Retry-After",
            header(
                Type::Integer,
                "Seconds until a request of this class is allowed again.",
            ),
        )
        .header(
            "RateLimit-Policy",
            header(
                Type::String,
                "The quota: `\"<class>\";q=<requests>;w=<window seconds>`.",
            ),
        )
        .header(
            "RateLimit",
            header(
                Type::String,
                "What is left: `\"<class>\";r=<remaining>;t=<seconds until the quota is whole>`.",
            ),
        )
}

/// Whether `operation` answers with a live stream (Server-Sent Events). Its
/// query only names what to watch and is refused like a path (400), and it
/// has no body: it never answers 422.
fn streams(operation: &Operation) -> bool {
    operation
        .responses
        .responses
        .get("200")
        .is_some_and(|response| match response {
            RefOr::T(response) => response.content.contains_key(EVENT_STREAM),
            RefOr::Ref(_) => false,
        })
}

#[cfg(test)]
mod tests {
    use utoipa::openapi::path::{OperationBuilder, ParameterBuilder};
    use utoipa::openapi::{ContentBuilder, ResponseBuilder};

    use super::*;

    fn get_with_query(content_type: &str) -> Operation {
        OperationBuilder::new()
            .parameter(
                ParameterBuilder::new()
                    .name("restaurant_id")
                    .parameter_in(ParameterIn::Query),
            )
            .response(
                "200",
                ResponseBuilder::new()
                    .description("ok")
                    .content(content_type, ContentBuilder::new().build()),
            )
            .build()
    }

    #[test]
    fn a_live_stream_is_documented_without_a_422_it_never_answers() {
        let mut stream = get_with_query(EVENT_STREAM);
        let mut list = get_with_query("application/json");

        add_problems(&mut stream, false);
        add_problems(&mut list, false);

        let statuses =
            |op: &Operation| -> Vec<String> { op.responses.responses.keys().cloned().collect() };
        assert_eq!(
            statuses(&stream),
            ["200", "400", "429", "500", "503", "504"]
        );
        assert!(statuses(&list).contains(&"422".to_owned()));
    }
}
