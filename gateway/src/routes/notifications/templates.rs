//! Templates (`/api/notifications/templates`): what messages are written
//! from, one per kind and channel. Admins only.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foodmesh_proto::notification::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::names::Channel;
use super::{channel_param, query_problem};
use crate::auth::Admin;
use crate::extract::{JsonBody, QueryParams, ResourceId};
use crate::problem::{Problem, ProblemDetails};
use crate::routes::{AppState, Created, created, from_timestamp};

/// A template as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 4, "kind": "order_ready", "channel": "sms", "subject": "",
    "body": "{name}, your order {order_number} is ready at {restaurant}.",
    "active": true, "updated_at": "2026-11-23T09:00:00Z"
}))]
pub struct TemplateView {
    pub id: i64,
    /// An order step (`order_received`, `order_confirmed`, `order_ready`,
    /// `order_out_for_delivery`, `order_delivered`, `order_cancelled`) or a
    /// kind of one's own for bulk sends.
    pub kind: String,
    pub channel: Channel,
    /// The email's subject or the push's title; empty for SMS.
    pub subject: String,
    pub body: String,
    /// Whether messages are written from it.
    pub active: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

impl TemplateView {
    /// The JSON view of a template from notification-svc.
    ///
    /// # Errors
    /// notification-svc sent an unknown channel.
    pub fn from_proto(t: pb::Template) -> Result<Self, Problem> {
        Ok(Self {
            id: t.id,
            kind: t.kind,
            channel: Channel::from_proto(t.channel)
                .ok_or_else(|| Problem::internal(&"notification-svc sent an unknown channel"))?,
            subject: t.subject,
            body: t.body,
            active: t.active,
            updated_at: from_timestamp(t.updated_at.as_ref()),
        })
    }
}

/// The templates asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub items: Vec<TemplateView>,
}

/// A template to add.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "kind": "order_ready", "channel": "sms",
    "body": "{name}, your order {order_number} is ready at {restaurant}."
}))]
pub struct NewTemplate {
    /// An order step (`order_received`, `order_confirmed`, `order_ready`,
    /// `order_out_for_delivery`, `order_delivered`, `order_cancelled`) or a
    /// kind of one's own for bulk sends: 1 to 64 of `a-z`, `0-9` and `_`.
    /// One template per kind and channel (409 `template_taken`).
    pub kind: String,
    pub channel: Channel,
    /// The email's subject or the push's title: one line of at most 200
    /// characters, with placeholders as in `body`. SMS has none.
    #[serde(default)]
    pub subject: String,
    /// The text, at most 1,600 characters. Placeholders in braces are
    /// filled when a message is written: `{name}` (the recipient's first
    /// name), `{order_number}`, `{amount}` (the order's total with its
    /// currency), `{eta}`, `{link}` (where the customer follows the order),
    /// `{restaurant}`, `{reason}` (why an order was cancelled) and
    /// `{refund}` (what becomes of a cancelled order's payment); `{{` and
    /// `}}` write a brace. Any other placeholder, or a brace left open, is
    /// refused when the template is saved (422 naming `body`), so no
    /// message goes out with a hole in it.
    pub body: String,
    /// Whether messages are written from it (default true).
    #[serde(default)]
    pub active: Option<bool>,
}

/// A change of a template: what is given replaces what is there, what is
/// left out stays, and the result is checked whole as when it was added.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"body": "{name}, {order_number} is ready: {link}", "active": true}))]
pub struct TemplatePatch {
    /// As when added; another template's kind and channel is 409
    /// `template_taken`.
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub channel: Option<Channel>,
    #[serde(default)]
    pub subject: Option<String>,
    /// With the placeholders a new template's `body` may use; any other is
    /// refused (422 naming `body`).
    #[serde(default)]
    pub body: Option<String>,
    /// Switched off, it writes no more messages: an order step without an
    /// active template on a channel is not sent there, and a bulk send or
    /// message by hand naming its kind is refused (409 `no_template`).
    #[serde(default)]
    pub active: Option<bool>,
}

/// The REST name of a field of a `CreateTemplate` or `UpdateTemplate`
/// request: the template's own fields, unwrapped.
fn template_field(path: &str) -> String {
    match path.strip_prefix("template.") {
        Some(field) => field.to_owned(),
        None if path == "template" => "body".to_owned(),
        None => path.to_owned(),
    }
}

/// Add a notification template
///
/// Adds a template for a kind and channel, one per pair (409 `template_taken`), and answers 201
/// with it; `Location` names it. Once it is active, messages of its kind on its channel are
/// written from it, order steps included; a placeholder it does not know is 422.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/notifications/templates",
    tag = "notifications",
    request_body = NewTemplate,
    responses(
        (status = 201, description = "Added; `Location` names it.", body = TemplateView,
            headers(("Location" = String, description = "Path of the template"))),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "A template of this kind on this channel exists \
            (`template_taken`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A field at fault, named: `kind`, `subject`, or `body` \
            (empty, too long, an unknown placeholder, a brace left open).",
            body = ProblemDetails, content_type = "application/problem+json",
            example = json!({"type": "urn:foodmesh:problem:validation_failed",
                "title": "Unprocessable Entity", "status": 422, "code": "validation_failed",
                "detail": "The request has invalid fields: body.",
                "errors": [{"field": "body", "message": "names the unknown placeholder {nope}; known \
                    ones are {name}, {order_number}, {amount}, {eta}, {link}, {restaurant}, \
                    {reason}, {refund}"}]})),
    ),
    security(("bearer" = []))
)]
pub async fn create_template(
    State(state): State<AppState>,
    _admin: Admin,
    JsonBody(body): JsonBody<NewTemplate>,
) -> Result<Created<TemplateView>, Problem> {
    let template = state
        .upstreams
        .notification
        .create_template(pb::CreateTemplateRequest {
            template: Some(pb::Template {
                id: 0,
                kind: body.kind.trim().to_owned(),
                channel: body.channel.to_proto(),
                subject: body.subject,
                body: body.body,
                active: body.active.unwrap_or(true),
                updated_at: None,
            }),
        })
        .await
        .map_err(|e| e.naming(&template_field))?;
    let view = TemplateView::from_proto(template)?;
    Ok(created(
        &format!("/api/notifications/templates/{}", view.id),
        view,
    ))
}

/// List notification templates
///
/// Answers the templates by kind and channel, active or not; `kind` and `channel` narrow them.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/notifications/templates",
    tag = "notifications",
    params(
        ("kind" = Option<String>, Query, description = "Only this kind (`order_ready`)"),
        ("channel" = Option<String>, Query, description = "`sms`, `email` or `push`"),
    ),
    responses(
        (status = 200, description = "The templates.", body = TemplateList),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_templates(
    State(state): State<AppState>,
    _admin: Admin,
    query: QueryParams,
) -> Result<Json<TemplateList>, Problem> {
    let channel = channel_param(&query)?;
    let answer = state
        .upstreams
        .notification
        .list_templates(pb::ListTemplatesRequest {
            kind: query.text("kind").unwrap_or_default(),
            channel,
        })
        .await
        .map_err(|e| query_problem(e.naming(&template_field)))?;
    Ok(Json(TemplateList {
        items: answer
            .templates
            .into_iter()
            .map(TemplateView::from_proto)
            .collect::<Result<_, _>>()?,
    }))
}

/// Read a notification template
///
/// Answers one template. An unknown id is 404 `template_not_found`.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/notifications/templates/{id}",
    tag = "notifications",
    params(("id" = i64, Path, description = "Template id", minimum = 1)),
    responses(
        (status = 200, description = "The template.", body = TemplateView),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No template `id` (`template_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_template(
    State(state): State<AppState>,
    _admin: Admin,
    ResourceId(id): ResourceId,
) -> Result<Json<TemplateView>, Problem> {
    let template = state
        .upstreams
        .notification
        .get_template(pb::GetTemplateRequest { id })
        .await?;
    Ok(Json(TemplateView::from_proto(template)?))
}

/// Update a notification template
///
/// Changes a template: what is given replaces what is there, and the result is checked whole. A
/// kind and channel that another template has is 409 `template_taken`.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    put,
    path = "/api/notifications/templates/{id}",
    tag = "notifications",
    params(("id" = i64, Path, description = "Template id", minimum = 1)),
    request_body = TemplatePatch,
    responses(
        (status = 200, description = "The template after the change.", body = TemplateView),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No template `id` (`template_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Another template has this kind and channel \
            (`template_taken`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A field at fault, named: `kind`, `subject`, or `body` \
            (an unknown placeholder, a brace left open).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn update_template(
    State(state): State<AppState>,
    _admin: Admin,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<TemplatePatch>,
) -> Result<Json<TemplateView>, Problem> {
    let template = state
        .upstreams
        .notification
        .update_template(pb::UpdateTemplateRequest {
            id,
            kind: body.kind.map(|k| k.trim().to_owned()),
            channel: body.channel.map_or(0, Channel::to_proto),
            subject: body.subject,
            body: body.body,
            active: body.active,
        })
        .await
        .map_err(|e| e.naming(&template_field))?;
    Ok(Json(TemplateView::from_proto(template)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_services_template_paths_are_the_bodys_fields() {
        assert_eq!(template_field("template.body"), "body");
        assert_eq!(template_field("template.kind"), "kind");
        assert_eq!(
            template_field("kind"),
            "kind",
            "not a coupon's discount_type"
        );
        assert_eq!(template_field("body"), "body");
        assert_eq!(template_field("template"), "body");
        assert_eq!(template_field("channel"), "channel");
    }

    #[test]
    fn a_template_shows_its_channel_by_name() {
        let view = TemplateView::from_proto(pb::Template {
            id: 4,
            kind: "order_ready".to_owned(),
            channel: pb::Channel::Push as i32,
            active: true,
            ..Default::default()
        })
        .expect("view");
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["channel"], "push");
        assert_eq!(json["kind"], "order_ready");
    }
}
