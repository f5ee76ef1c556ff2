//! What a request the API does not serve most likely meant: the answer to a
//! 404 or 405 names the route that does exist, so a client written against
//! another spelling of this API (`/api/v1/...`, `POST .../cancel`, `PUT` on
//! an item) learns the right call from the error itself.

use axum::http::Method;
use utoipa::openapi::OpenApi;

/// The documented routes: path templates and the methods each answers.
#[derive(Debug, Default)]
pub struct RouteIndex {
    routes: Vec<Route>,
}

#[derive(Debug)]
struct Route {
    template: String,
    methods: Vec<Method>,
}

/// How an order is changed, for a `PUT` or `PATCH` on the order itself.
const ORDER_EDITS: &str = "An order is changed through its items (POST /api/orders/{id}/items, \
    PATCH or DELETE /api/orders/{id}/items/{item_id}) and its status (PUT /api/orders/{id}/status).";

/// Calls other APIs of this kind spell differently, with what this one
/// calls them. `{}` segments match any one segment.
const RENAMED: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/api/orders/{}/cancel",
        "An order is cancelled with DELETE /api/orders/{id} (an optional body gives the `reason`).",
    ),
    ("PUT", "/api/orders/{}", ORDER_EDITS),
    ("PATCH", "/api/orders/{}", ORDER_EDITS),
    (
        "PUT",
        "/api/orders/{}/items/{}",
        "An order's item is changed with PATCH /api/orders/{id}/items/{item_id}.",
    ),
    (
        "POST",
        "/api/kitchen/orders/{}/prepare",
        "A ticket is started with PUT /api/kitchen/orders/{id}/status and \
         {\"status\": \"preparing\"}; the id is the ticket's, listed with its order's by GET /api/kitchen/orders.",
    ),
    (
        "POST",
        "/api/kitchen/orders/{}/ready",
        "A ticket is marked ready with PUT /api/kitchen/orders/{id}/status and \
         {\"status\": \"ready\"}; the id is the ticket's, listed with its order's by GET /api/kitchen/orders.",
    ),
    (
        "PATCH",
        "/api/orders/{}/status",
        "An order's status is set with PUT /api/orders/{id}/status.",
    ),
    (
        "PATCH",
        "/api/kitchen/orders/{}/status",
        "A ticket's status is set with PUT /api/kitchen/orders/{id}/status.",
    ),
];

/// First path segments of the API's resources, for a path written without
/// its `/api` prefix.
const RESOURCES: &[&str] = &[
    "restaurants",
    "orders",
    "customers",
    "kitchen",
    "drivers",
    "deliveries",
    "payments",
    "notifications",
    "coupons",
];

impl RouteIndex {
    /// Every path and method in the OpenAPI document.
    pub fn from_openapi(doc: &OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let mut methods = Vec::new();
                for (method, op) in [
                    (Method::GET, &item.get),
                    (Method::POST, &item.post),
                    (Method::PUT, &item.put),
                    (Method::PATCH, &item.patch),
                    (Method::DELETE, &item.delete),
                ] {
                    if op.is_some() {
                        methods.push(method);
                    }
                }
                Route {
                    template: template.clone(),
                    methods,
                }
            })
            .collect();
        Self { routes }
    }

    fn find(&self, path: &str) -> Option<&Route> {
        // A literal segment beats a parameter: `/api/orders/track/{n}`
        // before `/api/orders/{id}/...`.
        self.routes
            .iter()
            .filter(|r| matches(&r.template, path))
            .min_by_key(|r| r.template.matches('{').count())
    }

    /// The detail for a request to `path` with `method` that no route
    /// serves, or `None` when nothing better than "no such route" is known.
    pub fn hint(&self, method: &Method, path: &str) -> Option<String> {
        if let Some(text) = renamed(method, path) {
            return Some(text.to_owned());
        }
        if let Some(route) = self.find(path) {
            return Some(format!(
                "{path} answers {}, not {method}.",
                names(&route.methods)
            ));
        }
        let respelled = respell(path)?;
        if let Some(text) = renamed(method, &respelled) {
            return Some(format!("The API's path is {respelled}. {text}"));
        }
        let route = self.find(&respelled)?;
        if route.methods.contains(method) {
            Some(format!("Did you mean {method} {respelled}?"))
        } else {
            Some(format!(
                "The API's path is {respelled}, which answers {}.",
                names(&route.methods)
            ))
        }
    }
}

fn renamed(method: &Method, path: &str) -> Option<&'static str> {
    RENAMED
        .iter()
        .find(|(m, template, _)| *m == method.as_str() && matches(template, path))
        .map(|(_, _, text)| *text)
}

/// `path` as this API spells it: without a version segment (`/api/v1`),
/// with the `/api` prefix, without a trailing slash. `None` when that
/// changes nothing.
fn respell(path: &str) -> Option<String> {
    let mut segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first() == Some(&"api") {
        segments.remove(0);
    }
    if segments.first().is_some_and(|s| is_version(s)) {
        segments.remove(0);
    }
    if !segments.first().is_some_and(|s| RESOURCES.contains(s)) {
        return None;
    }
    let respelled = format!("/api/{}", segments.join("/"));
    (respelled != path).then_some(respelled)
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `path` fits `template`, where `{...}` matches one segment.
fn matches(template: &str, path: &str) -> bool {
    let mut t = template.split('/');
    let mut p = path.split('/');
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(ts), Some(ps)) => {
                let param = ts.starts_with('{') && ts.ends_with('}');
                if (param && ps.is_empty()) || (!param && ts != ps) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

fn names(methods: &[Method]) -> String {
    let names: Vec<&str> = methods.iter().map(Method::as_str).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> RouteIndex {
        let route = |template: &str, methods: &[Method]| Route {
            template: template.to_owned(),
            methods: methods.to_vec(),
        };
        RouteIndex {
            routes: vec![
                route("/api/orders", &[Method::GET, Method::POST]),
                route("/api/orders/{id}", &[Method::GET, Method::DELETE]),
                route("/api/orders/track/{order_number}", &[Method::GET]),
                route(
                    "/api/orders/{id}/items/{item_id}",
                    &[Method::PATCH, Method::DELETE],
                ),
                route("/api/kitchen/orders", &[Method::GET, Method::POST]),
            ],
        }
    }

    #[test]
    fn another_api_s_spellings_are_told_the_route_that_exists() {
        let index = index();
        let hint = |m: Method, p: &str| index.hint(&m, p).unwrap_or_default();
        assert!(hint(Method::POST, "/api/orders/7/cancel").contains("DELETE /api/orders/{id}"));
        assert!(
            hint(Method::PUT, "/api/orders/7/items/3")
                .contains("PATCH /api/orders/{id}/items/{item_id}")
        );
        assert!(
            hint(Method::POST, "/api/v1/kitchen/orders/4/ready")
                .contains("{\"status\": \"ready\"}")
        );
        assert_eq!(
            hint(Method::GET, "/api/v1/orders"),
            "Did you mean GET /api/orders?"
        );
        assert_eq!(
            hint(Method::POST, "/orders"),
            "Did you mean POST /api/orders?"
        );
        assert_eq!(
            hint(Method::GET, "/api/orders/"),
            "Did you mean GET /api/orders?"
        );
        assert_eq!(
            hint(Method::PUT, "/api/v2/orders"),
            "The API's path is /api/orders, which answers GET or POST."
        );
        assert_eq!(
            hint(Method::POST, "/api/orders/track/K7M2QX"),
            "/api/orders/track/K7M2QX answers GET, not POST."
        );
        assert_eq!(
            hint(Method::PATCH, "/api/orders/7"),
            index
                .hint(&Method::PUT, "/api/orders/7")
                .unwrap_or_default()
        );
    }

    #[test]
    fn a_path_of_no_resource_gets_no_hint() {
        let index = index();
        assert_eq!(index.hint(&Method::GET, "/nowhere"), None);
        assert_eq!(index.hint(&Method::GET, "/api/v1/nothing"), None);
        assert_eq!(index.hint(&Method::GET, "/api/orders/7/nothing"), None);
    }
}
