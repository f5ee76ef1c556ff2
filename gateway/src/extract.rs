//! Getting a request's parts into typed values, or a problem that names what
//! is wrong: JSON bodies, path ids and query parameters. axum's own
//! extractors answer in plain text and with less precise statuses; these
//! answer in problem+json with the field at fault.
//!
//! Statuses: a body not declared as JSON is 415, one over the limit 413,
//! text that is not JSON 400, JSON of the wrong shape (a wrong type, a
//! missing field) 422 naming the field path; path and query parameters that
//! do not parse are 400 naming the parameter.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;

use crate::problem::{FieldError, Problem};

/// A JSON request body parsed into `T` by [`parse_json`]'s rules.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !declares_json(request.headers()) {
            return Err(Problem::unsupported_media_type());
        }
        // `Bytes` honours the `DefaultBodyLimit` layer and stops reading at
        // the limit, so an oversized body is never buffered whole.
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::payload_too_large()
                } else if stopped_arriving(&rejection) {
                    Problem::body_timeout()
                } else {
                    Problem::malformed_json(format!(
                        "The request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// True when the body paused longer than the body read timeout.
fn stopped_arriving(rejection: &axum::extract::rejection::BytesRejection) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// True for `application/json` and `application/<anything>+json`, with or
/// without parameters (`; charset=utf-8`).
fn declares_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses `bytes` as `T`: text that is not JSON is a 400; JSON that does not
/// fit `T` is a 422 naming the field by its path (`address.zip_code`,
/// `options[0].price_delta`), including a missing field's own name, a field
/// `T` does not have (a typo must not pass for an absent field), and a text
/// holding a NUL character (which no database column stores).
///
/// # Errors
/// The problem to answer with.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut unknown = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(serde_ignored::Deserializer::new(
        &mut deserializer,
        &mut |path| unknown.push(rest_path(&path)),
    ))
    .map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_problem(&path, &inner)
    })?;
    deserializer.end().map_err(|e| {
        Problem::malformed_json(format!(
            "The body is not valid JSON: {}",
            without_position(&e)
        ))
    })?;
    let mut errors: Vec<FieldError> = unknown
        .into_iter()
        .map(|field| FieldError::new(field, "is not a field of this request"))
        .collect();
    errors.extend(
        texts_with_nul(bytes)
            .into_iter()
            .map(|field| FieldError::new(field, "must not contain a NUL character")),
    );
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(Problem::validation(errors))
    }
}

/// `items[0].extra` for serde_ignored's path of an unknown field.
fn rest_path(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => format!("{}[{index}]", rest_path(parent)),
        Path::Map { parent, key } => join_path(&rest_path(parent), key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => rest_path(parent),
    }
}

/// The paths of the strings (values or keys) in a JSON document that hold
/// a NUL. JSON can only carry one escaped (`\u0000`), so a body without that
/// sequence is not parsed a second time.
fn texts_with_nul(bytes: &[u8]) -> Vec<String> {
    if !bytes.windows(6).any(|w| w == br"\u0000") {
        return Vec::new();
    }
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk_for_nul(&document, String::new(), &mut found);
    found
}

fn walk_for_nul(value: &serde_json::Value, path: String, found: &mut Vec<String>) {
    match value {
        serde_json::Value::String(text) if text.contains('\0') => found.push(join_path(&path, "")),
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                walk_for_nul(item, format!("{path}[{index}]"), found);
            }
        }
        serde_json::Value::Object(fields) => {
            for (name, item) in fields {
                let field = join_path(&path, name);
                if name.contains('\0') {
                    found.push(field);
                } else {
                    walk_for_nul(item, field, found);
                }
            }
        }
        _ => {}
    }
}

fn json_problem(path: &str, error: &serde_json::Error) -> Problem {
    use serde_json::error::Category;
    let message = without_position(error);
    match error.classify() {
        Category::Data => {
            let (field, message) = match missing_field(&message) {
                Some(name) => (join_path(path, name), "is required".to_owned()),
                None => (join_path(path, ""), message),
            };
            Problem::field(field, message)
        }
        Category::Io | Category::Syntax | Category::Eof => {
            Problem::malformed_json(format!("The body is not valid JSON: {message}"))
        }
    }
}

/// serde's message with the ` at line L column C` suffix removed: the
/// position means little to a client that sent one line.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The field name in serde's "missing field `name`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
}

/// `address` + `zip_code` → `address.zip_code`; the root path is `.`.
fn join_path(path: &str, name: &str) -> String {
    match (path, name) {
        ("." | "", "") => "body".to_owned(),
        ("." | "", name) => name.to_owned(),
        (path, "") => path.to_owned(),
        (path, name) => format!("{path}.{name}"),
    }
}

/// The ids in a route's path. Every id is a positive integer; anything else
/// is a 400 naming the parameter, before any service is asked.
pub trait PathIds: Sized {
    /// The restaurant the path is under, for authorization.
    fn restaurant_id(&self) -> i64;

    /// Parses the ids out of the request's matched path.
    fn from_parts(parts: &mut Parts) -> impl Future<Output = Result<Self, Problem>> + Send;
}

/// `/api/restaurants/{id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestaurantId(pub i64);

/// `/api/restaurants/{id}/<things>/{thing_id}`: the restaurant and one of
/// its menu items, categories, option groups or coupons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestedId {
    /// `{id}`.
    pub restaurant_id: i64,
    /// The second parameter (`{item_id}`, `{category_id}`, ...).
    pub id: i64,
}

async fn path_ids(parts: &mut Parts) -> Result<Vec<(String, i64)>, Problem> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| Problem::invalid_parameter("path", e.body_text()))?;
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    for (name, value) in &params {
        let is_id = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
        match value.parse::<i64>().ok().filter(|id| is_id && *id > 0) {
            Some(id) => ids.push((name.to_owned(), id)),
            None => errors.push(FieldError::new(name, "must be a positive integer")),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(Problem::invalid_parameters(errors))
    }
}

fn id_named(ids: &[(String, i64)], wanted: impl Fn(&str) -> bool) -> Result<i64, Problem> {
    ids.iter()
        .find(|(name, _)| wanted(name))
        .map(|(_, id)| *id)
        .ok_or_else(|| Problem::internal(&"route has no such path parameter"))
}

impl PathIds for RestaurantId {
    fn restaurant_id(&self) -> i64 {
        self.0
    }

    async fn from_parts(parts: &mut Parts) -> Result<Self, Problem> {
        let ids = path_ids(parts).await?;
        id_named(&ids, |n| n == "id").map(RestaurantId)
    }
}

impl PathIds for NestedId {
    fn restaurant_id(&self) -> i64 {
        self.restaurant_id
    }

    async fn from_parts(parts: &mut Parts) -> Result<Self, Problem> {
        let ids = path_ids(parts).await?;
        Ok(NestedId {
            restaurant_id: id_named(&ids, |n| n == "id")?,
            id: id_named(&ids, |n| n != "id")?,
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RestaurantId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts).await
    }
}

impl<S: Send + Sync> FromRequestParts<S> for NestedId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_parts(parts).await
    }
}

/// `/api/orders/{id}`, `/api/kitchen/orders/{id}`: one resource that is
/// not under a restaurant in the path (an order, a kitchen ticket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ids = path_ids(parts).await?;
        id_named(&ids, |n| n == "id").map(ResourceId)
    }
}

/// `/api/orders/{id}/items/{item_id}`: one line of an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLineId {
    /// `{id}`, the order.
    pub order_id: i64,
    /// `{item_id}`, the line (the `id` of one of the order's `items`).
    pub item_id: i64,
}

impl<S: Send + Sync> FromRequestParts<S> for OrderLineId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ids = path_ids(parts).await?;
        Ok(OrderLineId {
            order_id: id_named(&ids, |n| n == "id")?,
            item_id: id_named(&ids, |n| n == "item_id")?,
        })
    }
}

/// `/api/customers/{id}`: a customer profile. Registered customers have
/// positive ids (their token's subject) and guest profiles negative ones,
/// so any non-zero integer is an id here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for CustomerId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let params = RawPathParams::from_request_parts(parts, &())
            .await
            .map_err(|e| Problem::invalid_parameter("path", e.body_text()))?;
        let raw = params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value)
            .ok_or_else(|| Problem::internal(&"route has no `id` path parameter"))?;
        parse_nonzero_id(raw)
            .map(CustomerId)
            .ok_or_else(|| Problem::invalid_parameter("id", "must be a non-zero integer"))
    }
}

/// A non-zero integer written in plain digits with an optional `-`.
fn parse_nonzero_id(raw: &str) -> Option<i64> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|id| *id != 0)
}

/// A JSON body that may also be left out entirely (`DELETE` with an
/// optional reason, a reorder without changes): no body at all reads as
/// `T::default()`. A body that is sent follows [`JsonBody`]'s rules.
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJsonBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = declares_json(request.headers());
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::payload_too_large()
                } else if stopped_arriving(&rejection) {
                    Problem::body_timeout()
                } else {
                    Problem::malformed_json(format!(
                        "The request body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        if !json {
            return Err(Problem::unsupported_media_type());
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

/// The query string as name/value pairs, read by name with typed getters
/// that name the parameter when its value does not parse.
#[derive(Debug, Clone, Default)]
pub struct QueryParams(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Query(pairs) = Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::invalid_parameter("query", e.body_text()))?;
        // Every value reaches a service as text; none may hold what no
        // database column stores.
        if let Some((name, _)) = pairs
            .iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'))
        {
            return Err(Problem::invalid_parameter(
                name.replace('\0', "\\0"),
                "must not contain a NUL character",
            ));
        }
        Ok(QueryParams(pairs))
    }
}

impl QueryParams {
    /// The last non-empty value of `name`.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(n, v)| n == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    }

    /// Every value of a parameter that may repeat (`status=a&status=b`)
    /// or list several values with commas (`status=a,b`), in order,
    /// without blanks.
    pub fn values(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// A positive id, if given.
    ///
    /// # Errors
    /// A value that is not a positive integer.
    pub fn id(&self, name: &str) -> Result<Option<i64>, Problem> {
        self.text(name)
            .map(|v| {
                v.parse::<i64>()
                    .ok()
                    .filter(|n| *n > 0 && v.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| Problem::invalid_parameter(name, "must be a positive integer"))
            })
            .transpose()
    }

    /// A non-zero id (customer profiles may be negative), if given.
    ///
    /// # Errors
    /// A value that is not a non-zero integer.
    pub fn nonzero_id(&self, name: &str) -> Result<Option<i64>, Problem> {
        self.text(name)
            .map(|v| {
                parse_nonzero_id(&v)
                    .ok_or_else(|| Problem::invalid_parameter(name, "must be a non-zero integer"))
            })
            .transpose()
    }

    /// A point in time, if given: RFC 3339 (`2026-11-23T18:00:00Z`) or a
    /// date (`2026-11-23`, UTC). A date means the start of that day, or —
    /// when `end_of_day` is set, for the end of a range — the start of the
    /// next, so `to=2026-11-23` includes the whole day.
    ///
    /// # Errors
    /// Neither form.
    pub fn time(&self, name: &str, end_of_day: bool) -> Result<Option<DateTime<Utc>>, Problem> {
        let Some(text) = self.text(name) else {
            return Ok(None);
        };
        if let Ok(at) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Some(at.with_timezone(&Utc)));
        }
        let day = NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .ok()
            .and_then(|d| if end_of_day { d.succ_opt() } else { Some(d) })
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc());
        day.map(Some).ok_or_else(|| {
            Problem::invalid_parameter(
                name,
                "must be a date (2026-11-23) or an RFC 3339 time (2026-11-23T18:00:00Z)",
            )
        })
    }

    /// `true`/`false` (absent is false).
    ///
    /// # Errors
    /// Any other value.
    pub fn flag(&self, name: &str) -> Result<bool, Problem> {
        match self.text(name).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(Problem::invalid_parameter(
                name,
                "must be `true` or `false`",
            )),
        }
    }

    /// A positive integer, if given.
    ///
    /// # Errors
    /// A value that is not a positive integer.
    pub fn positive(&self, name: &str) -> Result<Option<u32>, Problem> {
        self.text(name)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Problem::invalid_parameter(name, "must be a positive integer"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Body1 {
        name: String,
        #[allow(dead_code)]
        address: Address,
        #[serde(default)]
        items: Vec<Line>,
    }

    #[derive(Debug, Deserialize)]
    struct Address {
        #[allow(dead_code)]
        zip_code: String,
    }

    #[derive(Debug, Deserialize)]
    struct Line {
        #[allow(dead_code)]
        quantity: u32,
    }

    fn problem_of(json: &str) -> Problem {
        parse_json::<Body1>(json.as_bytes()).expect_err("must fail")
    }

    #[test]
    fn a_missing_nested_field_is_named_by_its_full_path() {
        let p = problem_of(r#"{"name": "x", "address": {}}"#);
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "address.zip_code");
        assert_eq!(p.errors[0].message, "is required");
    }

    #[test]
    fn a_missing_top_level_field_is_named_alone() {
        let p = problem_of(r#"{"address": {"zip_code": "1"}}"#);
        assert_eq!(p.errors[0].field, "name");
    }

    #[test]
    fn a_wrong_type_in_a_list_is_named_with_its_index() {
        let p = problem_of(
            r#"{"name": "x", "address": {"zip_code": "1"}, "items": [{"quantity": 1}, {"quantity": "two"}]}"#,
        );
        assert_eq!(p.status, 422);
        assert_eq!(p.errors[0].field, "items[1].quantity");
        assert!(
            p.errors[0].message.starts_with("invalid type"),
            "{:?}",
            p.errors
        );
        assert!(!p.errors[0].message.contains("line"), "{:?}", p.errors);
    }

    #[test]
    fn text_that_is_not_json_is_a_400() {
        for bad in [
            r#"{"name": "x", "#,
            "not json",
            "",
            r#"{"name":"x","address":{"zip_code":"1"}} trailing"#,
        ] {
            let p = problem_of(bad);
            assert_eq!(p.status, 400, "{bad:?}");
            assert_eq!(p.code, "malformed_json");
        }
    }

    #[test]
    fn unknown_fields_are_refused_by_their_path() {
        let p = problem_of(
            r#"{"name": "x", "address": {"zip_code": "1", "extra": 1}, "items": [{"quantity": 1, "qty": 2}], "payment_methd": "cash"}"#,
        );
        assert_eq!(p.status, 422);
        let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["address.extra", "items[0].qty", "payment_methd"]);
    }

    #[test]
    fn a_nul_in_any_text_is_refused_by_its_path() {
        let p =
            problem_of(r#"{"name": "a\u0000b", "address": {"zip_code": "\u0000"}, "items": []}"#);
        assert_eq!(p.status, 422);
        let fields: Vec<&str> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["address.zip_code", "name"]);
        assert!(p.errors[0].message.contains("NUL"), "{:?}", p.errors);
    }

    #[test]
    fn an_escaped_backslash_before_u0000_is_not_a_nul() {
        let body: Body1 =
            parse_json(br#"{"name": "C:\\u0000", "address": {"zip_code": "1"}}"#).expect("parses");
        assert_eq!(body.name, r"C:\u0000");
        assert!(body.items.is_empty());
    }

    #[test]
    fn json_content_types_are_recognized() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().expect("header"));
            declares_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("Application/JSON"));
        assert!(with("application/merge-patch+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!declares_json(&HeaderMap::new()));
    }

    #[test]
    fn customer_ids_may_be_negative_but_not_zero() {
        assert_eq!(parse_nonzero_id("42"), Some(42));
        assert_eq!(parse_nonzero_id("-7"), Some(-7));
        for bad in ["0", "-0", "", "-", "+3", "1e3", "abc", " 4"] {
            assert_eq!(parse_nonzero_id(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_nul_in_a_query_parameter_is_a_400_naming_it() {
        let request = Request::builder()
            .uri("/api/restaurants?limit=5&city=%00")
            .body(Body::empty())
            .expect("request");
        let (mut parts, _) = request.into_parts();
        let problem = QueryParams::from_request_parts(&mut parts, &())
            .await
            .expect_err("refused");
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "city");
    }

    #[test]
    fn repeated_and_comma_separated_values_are_one_list() {
        let query = QueryParams(vec![
            ("status".to_owned(), "pending, confirmed".to_owned()),
            ("other".to_owned(), "x".to_owned()),
            ("status".to_owned(), "ready".to_owned()),
            ("status".to_owned(), String::new()),
        ]);
        assert_eq!(query.values("status"), ["pending", "confirmed", "ready"]);
        assert!(query.values("missing").is_empty());
    }

    #[test]
    fn times_are_rfc_3339_or_whole_days() {
        let query = QueryParams(vec![
            ("from".to_owned(), "2026-11-23".to_owned()),
            ("to".to_owned(), "2026-11-23".to_owned()),
            ("at".to_owned(), "2026-11-23T18:30:00+01:00".to_owned()),
            ("bad".to_owned(), "yesterday".to_owned()),
        ]);
        let from = query.time("from", false).expect("date").expect("given");
        let to = query.time("to", true).expect("date").expect("given");
        assert_eq!(from.to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-11-24T00:00:00+00:00");
        let at = query.time("at", false).expect("time").expect("given");
        assert_eq!(at.to_rfc3339(), "2026-11-23T17:30:00+00:00");
        let problem = query.time("bad", false).expect_err("refused");
        assert_eq!(problem.status, 400);
        assert_eq!(problem.errors[0].field, "bad");
        assert!(query.time("none", false).expect("absent").is_none());
    }

    #[tokio::test]
    async fn an_absent_optional_body_is_the_default_and_a_sent_one_must_be_json() {
        let empty = Request::builder().body(Body::empty()).expect("request");
        let OptionalJsonBody(value) = OptionalJsonBody::<Option<u32>>::from_request(empty, &())
            .await
            .expect("empty is fine");
        assert_eq!(value, None);
        let text = Request::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .expect("request");
        let problem = OptionalJsonBody::<Option<u32>>::from_request(text, &())
            .await
            .expect_err("not JSON");
        assert_eq!(problem.status, 415);
    }

    #[tokio::test]
    async fn a_body_without_a_json_content_type_is_a_415() {
        let request = Request::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("{}"))
            .expect("request");
        let p = JsonBody::<serde_json::Value>::from_request(request, &())
            .await
            .expect_err("must fail");
        assert_eq!(p.status, 415);
    }
}
