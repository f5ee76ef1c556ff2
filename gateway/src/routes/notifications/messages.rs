//! The delivery log (`GET /api/notifications`) and one message by hand
//! (`POST /api/notifications`).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::notification::v1 as pb;
use foodmesh_shared::validate::Phone;
use foodmesh_shared::values::Email;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::names::{Channel, NotificationCategory, NotificationStatus};
use super::{channel_param, customer_scope, query_problem};
use crate::auth::{Admin, Caller, Role};
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{Problem, ProblemDetails};
use crate::routes::orders::idempotency_key;
use crate::routes::{AppState, from_timestamp};
use crate::validate::Violations;

/// One message, as the delivery log keeps it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 311, "customer_id": 7, "order_id": 42, "bulk_job_id": null,
    "event": "order_confirmed", "channel": "sms", "recipient": "+12125550100",
    "subject": null, "message": "Ana, your order FM-1042 is confirmed: ready in about 20 minutes.",
    "provider": "twilio", "provider_response": "201 queued SM5f2c0e", "status": "delivered",
    "attempts": 1, "created_at": "2026-11-23T18:00:01Z", "sent_at": "2026-11-23T18:00:02Z",
    "delivered_at": "2026-11-23T18:00:05Z", "next_attempt_at": null
}))]
pub struct NotificationView {
    pub id: i64,
    /// The customer profile it was for (negative for a guest's).
    pub customer_id: i64,
    /// The order it is about; null when none.
    pub order_id: Option<i64>,
    /// The bulk send it is part of; null when none.
    pub bulk_job_id: Option<i64>,
    /// What it is: the kind of the template it was written from (an order
    /// step such as `order_confirmed`, or a bulk send's own kind), or
    /// `direct` for a message by hand with its own text.
    pub event: String,
    pub channel: Channel,
    /// Where it went: the email address, the E.164 phone number, or the
    /// push target (`customer:7`).
    pub recipient: String,
    /// The email's subject or the push's title; null when it has none (SMS).
    pub subject: Option<String>,
    pub message: String,
    /// Who carries it: `smtp`, `twilio`, `push_webhook` (or `log` where
    /// messages are only written to the log).
    pub provider: String,
    /// The provider's last answer, as it gave it; null before any, and
    /// for a customer reading their own log (it is the platform's to read).
    pub provider_response: Option<String>,
    pub status: NotificationStatus,
    /// Attempts made so far.
    pub attempts: u32,
    pub created_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// While `queued`: when the next attempt is due.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl NotificationView {
    /// The JSON view of a message from notification-svc.
    ///
    /// # Errors
    /// notification-svc sent an unknown channel or status.
    pub fn from_proto(n: pb::Notification) -> Result<Self, Problem> {
        let unknown = |what: &str| {
            Problem::internal(&format_args!("notification-svc sent an unknown {what}"))
        };
        Ok(Self {
            id: n.id,
            customer_id: n.customer_id,
            order_id: Some(n.order_id).filter(|id| *id != 0),
            bulk_job_id: Some(n.bulk_job_id).filter(|id| *id != 0),
            event: n.kind,
            channel: Channel::from_proto(n.channel).ok_or_else(|| unknown("channel"))?,
            recipient: n.recipient,
            subject: Some(n.subject).filter(|s| !s.is_empty()),
            message: n.message,
            provider: n.provider,
            provider_response: Some(n.provider_response).filter(|r| !r.is_empty()),
            status: NotificationStatus::from_proto(n.status).ok_or_else(|| unknown("status"))?,
            attempts: n.attempts,
            created_at: from_timestamp(n.created_at.as_ref()),
            sent_at: from_timestamp(n.sent_at.as_ref()),
            delivered_at: from_timestamp(n.delivered_at.as_ref()),
            next_attempt_at: from_timestamp(n.next_attempt_at.as_ref()),
        })
    }
}

/// One page of the delivery log.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<NotificationView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The filters of the delivery log.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; read through `QueryParams`
pub struct NotificationQuery {
    /// Only the messages about this order.
    order_id: Option<i64>,
    /// Only the messages to this address: an email address, an E.164
    /// phone number or a push target, as the log writes it.
    recipient: Option<String>,
    /// `sms`, `email` or `push`.
    channel: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered` or `failed`.
    status: Option<String>,
    /// Only messages written from this template kind (`order_confirmed`),
    /// or `direct` for messages by hand with their own text.
    event: Option<String>,
    /// Only this customer's messages: admins (negative for a guest's
    /// profile). A customer sees their own whatever they send; another's
    /// is 403.
    customer_id: Option<i64>,
    /// Only the messages of this bulk send.
    bulk_job_id: Option<i64>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The REST name of a field of a `ListNotifications` request: the query
/// parameter it came from.
fn log_field(path: &str) -> String {
    let name = match path {
        "kind" => "event",
        "page.page_size" | "page_size" => "limit",
        "page.page_token" | "page_token" => "cursor",
        other => other,
    };
    name.to_owned()
}

/// List sent notifications
///
/// Answers the delivery log, newest first, a page at a time: every message written, by hand, in
/// bulk or for an order's steps, with where it stands. `order_id`, `recipient`, `channel`,
/// `status`, `event` (a template kind, or `direct`), `customer_id` and `bulk_job_id` narrow it.
///
/// Who may call: admins (every customer's messages); customers (their own: naming another
/// customer is 403; `provider_response` is null for them). Staff and drivers are refused (403).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/notifications",
    tag = "notifications",
    params(NotificationQuery),
    responses(
        (status = 200, description = "One page of the log.", body = NotificationPage),
        (status = 403, description = "Staff or a driver, or a customer naming another \
            customer's `customer_id`.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<NotificationPage>, Problem> {
    let asked = query.nonzero_id("customer_id")?;
    let channel = channel_param(&query)?;
    let status = match query.text("status") {
        None => 0,
        Some(name) => NotificationStatus::parse(&name)
            .ok_or_else(|| {
                Problem::invalid_parameter(
                    "status",
                    format!(
                        "`{name}` is not a status: use {}",
                        NotificationStatus::names()
                    ),
                )
            })?
            .to_proto(),
    };
    let limit = query.positive("limit")?.unwrap_or(0);
    if limit > 100 {
        return Err(Problem::invalid_parameter("limit", "must be at most 100"));
    }
    let request = pb::ListNotificationsRequest {
        customer_id: 0,
        order_id: query.id("order_id")?.unwrap_or(0),
        recipient: query.text("recipient").unwrap_or_default(),
        channel,
        status,
        kind: query.text("event").unwrap_or_default(),
        bulk_job_id: query.id("bulk_job_id")?.unwrap_or(0),
        page: Some(common::PageRequest {
            page_size: limit,
            page_token: query.text("cursor").unwrap_or_default(),
        }),
    };
    let customer = customer_scope(&claims, asked, "reads only their own notifications")?;
    let answer = state
        .upstreams
        .notification
        .list_notifications(pb::ListNotificationsRequest {
            customer_id: customer.unwrap_or(0),
            ..request
        })
        .await
        .map_err(|e| query_problem(e.naming(&log_field)))?;
    let mut items = answer
        .notifications
        .into_iter()
        .map(NotificationView::from_proto)
        .collect::<Result<Vec<_>, _>>()?;
    if claims.role != Role::Admin {
        for view in &mut items {
            view.provider_response = None;
        }
    }
    Ok(Json(NotificationPage {
        items,
        next_cursor: answer
            .page
            .map(|p| p.next_page_token)
            .filter(|t| !t.is_empty()),
    }))
}

/// One message by hand.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "customer_id": 7, "channel": "sms", "recipient": "+12125550100", "name": "Ana Diaz",
    "message": "Your table is ready, {name}.", "category": "order_updates"
}))]
pub struct NewNotification {
    /// The customer it is for, whose choices hold (negative for a guest's
    /// profile).
    pub customer_id: i64,
    pub channel: Channel,
    /// The address on the channel: an email address for `email`, an
    /// E.164 phone number for `sms`. None for `push`, which goes to the
    /// customer's app (registered customers only).
    #[serde(default)]
    pub recipient: Option<String>,
    /// Their name: `{name}` is its first word unless `values` gives one.
    #[serde(default)]
    pub name: Option<String>,
    /// A template kind (`order_ready`, or one of your own): its active
    /// template on the channel is sent, filled from `values`. Give this or
    /// `message`, not both.
    #[serde(default)]
    pub template: Option<String>,
    /// With `message`: the email's subject or the push's title. A
    /// template has its own.
    #[serde(default)]
    pub subject: Option<String>,
    /// A text of its own (at most 1,600 characters), with the placeholders
    /// a template may use. Give this or `template`, not both.
    #[serde(default)]
    pub message: Option<String>,
    /// Values of placeholders (`{"link": "https://…"}`): `name`,
    /// `order_number`, `amount`, `eta`, `link`, `restaurant`, `reason`,
    /// `refund`; at most 500 characters each.
    #[serde(default)]
    pub values: HashMap<String, String>,
    /// `order_updates` (default) or `marketing`. A customer who has opted
    /// out of it on the channel is not sent it (422 naming `recipient`).
    #[serde(default)]
    pub category: Option<NotificationCategory>,
}

impl NewNotification {
    /// notification-svc's request, sent by `sender` with the client's
    /// idempotency `key` (empty for none).
    ///
    /// # Errors
    /// 422 naming each field at fault: the customer id 0, an address
    /// missing, malformed or not used on the channel, neither or both of
    /// `template` and `message`, a `subject` with a template.
    fn into_proto(self, key: String, sender: &str) -> Result<pb::SendNotificationRequest, Problem> {
        let Self {
            customer_id,
            channel,
            recipient,
            name,
            template,
            subject,
            message,
            values,
            category,
        } = self;
        let mut v = Violations::new();
        if customer_id == 0 {
            v.add("customer_id", "must be a customer id, not 0");
        }
        let address = recipient
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty());
        let mut email = String::new();
        let mut phone = String::new();
        match (channel, address) {
            (Channel::Email, Some(address)) => {
                if let Some(parsed) = v.parsed("recipient", Email::parse(&address)) {
                    email = parsed.as_str().to_owned();
                }
            }
            (Channel::Sms, Some(address)) => {
                if let Some(parsed) = v.parsed("recipient", Phone::parse(&address)) {
                    phone = parsed.into_string();
                }
            }
            (Channel::Push, Some(_)) => v.add(
                "recipient",
                "is not used for push: a push goes to the customer's app",
            ),
            (Channel::Email, None) => v.add("recipient", "is required for email: an email address"),
            (Channel::Sms, None) => v.add(
                "recipient",
                "is required for sms: an E.164 phone number such as +12125550100",
            ),
            (Channel::Push, None) => {}
        }
        let template = template
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        let message = message.filter(|m| !m.trim().is_empty());
        match (&template, &message) {
            (Some(_), Some(_)) => v.add("message", "give a template or a message, not both"),
            (None, None) => v.add("message", "is required when no template is given"),
            (Some(_), None) if subject.is_some() => v.add(
                "subject",
                "comes from the template: give one with a message only",
            ),
            _ => {}
        }
        v.finish()?;
        Ok(pb::SendNotificationRequest {
            recipient: Some(pb::Recipient {
                customer_id,
                name: name.unwrap_or_default(),
                email,
                phone,
            }),
            channel: channel.to_proto(),
            category: category.map_or(0, NotificationCategory::to_proto),
            template_kind: template.unwrap_or_default(),
            subject: subject.unwrap_or_default(),
            message: message.unwrap_or_default(),
            values,
            idempotency_key: key,
            sender: sender.to_owned(),
        })
    }
}

/// The REST name of a field of a `SendNotification` request on
/// `channel`.
fn send_field(channel: Channel, path: &str) -> String {
    let name = match path {
        "recipient.customer_id" => "customer_id",
        "recipient.name" => "name",
        "recipient.email" | "recipient.phone" => "recipient",
        // A push has no address of its own: the customer is what lacks one.
        "recipient" if channel == Channel::Push => "customer_id",
        "template_kind" => "template",
        "idempotency_key" => "Idempotency-Key",
        other => other,
    };
    name.to_owned()
}

/// Send a notification
///
/// Sends one message by hand: a template, or a text of its own, to a customer at an address on
/// one channel. It is written to the log `queued` and sent like any other, so the answer is 202
/// with the message as written; follow it in the log. The customer's choice for the category on
/// the channel holds (one who opted out is refused), and with an `Idempotency-Key` a retry
/// answers the first message again.
///
/// Who may call: admins.
///
/// Events: none (the message is queued in notification-svc's log and sent from there).
#[utoipa::path(
    post,
    path = "/api/notifications",
    tag = "notifications",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key from the same admin \
                sends once, and answers the message it sent."),
    ),
    request_body(content = NewNotification, examples(
        ("text" = (summary = "A text of its own, by SMS", value = json!({
            "customer_id": 7, "channel": "sms", "recipient": "+12125550100", "name": "Ana Diaz",
            "message": "Your table is ready, {name}."}))),
        ("template" = (summary = "A template, by email", value = json!({
            "customer_id": 7, "channel": "email", "recipient": "ana@example.com",
            "name": "Ana Diaz", "template": "order_ready",
            "values": {"order_number": "FM-1042", "link": "https://foodmesh.example/#/order/42"}}))),
    )),
    responses(
        (status = 202, description = "Written to the log, queued for sending.",
            body = NotificationView),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "No active template of this kind on the channel \
            (`no_template`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A field at fault, named: among others `recipient` when \
            the customer has opted out of the category on the channel, and `values.<name>` \
            for a value of no placeholder or for a placeholder the text uses and no value \
            fills.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn send_notification(
    State(state): State<AppState>,
    Admin(claims): Admin,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewNotification>,
) -> Result<(StatusCode, Json<NotificationView>), Problem> {
    let key = idempotency_key(&headers)?;
    let channel = body.channel;
    let request = body.into_proto(key, &claims.sub)?;
    let sent = state
        .upstreams
        .notification
        .send_notification(request)
        .await
        .map_err(|e| e.naming(&|path: &str| send_field(channel, path)))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(NotificationView::from_proto(sent)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    fn body(json: &str) -> NewNotification {
        parse_json(json.as_bytes()).expect("parses")
    }

    fn fields(problem: &Problem) -> Vec<&str> {
        problem.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn the_recipient_is_the_address_on_the_channel() {
        let sms = body(
            r#"{"customer_id": 7, "channel": "sms", "recipient": " +12125550100 ",
                "message": "Your table is ready, {name}", "name": "Ana"}"#,
        )
        .into_proto("k1".to_owned(), "root")
        .expect("valid");
        let to = sms.recipient.expect("a recipient");
        assert_eq!((to.phone.as_str(), to.email.as_str()), ("+12125550100", ""));
        assert_eq!(sms.channel, pb::Channel::Sms as i32);
        assert_eq!(sms.category, 0, "the service's default holds");
        assert_eq!(
            (sms.idempotency_key.as_str(), sms.sender.as_str()),
            ("k1", "root")
        );

        let email = body(
            r#"{"customer_id": 7, "channel": "email", "recipient": "ana@example.com",
                "template": "order_ready", "values": {"link": "https://x.example"},
                "category": "marketing"}"#,
        )
        .into_proto(String::new(), "root")
        .expect("valid");
        assert_eq!(
            email.recipient.expect("a recipient").email,
            "ana@example.com"
        );
        assert_eq!(email.template_kind, "order_ready");
        assert_eq!(email.category, pb::Category::Marketing as i32);
        assert_eq!(email.values["link"], "https://x.example");
    }

    #[test]
    fn a_message_names_every_field_at_fault_in_rest_terms() {
        let problem = body(
            r#"{"customer_id": 0, "channel": "sms", "recipient": "0212",
                "template": "order_ready", "message": "hi"}"#,
        )
        .into_proto(String::new(), "root")
        .expect_err("refused");
        assert_eq!(problem.status, 422);
        assert_eq!(fields(&problem), ["customer_id", "recipient", "message"]);

        let problem = body(r#"{"customer_id": 7, "channel": "push", "recipient": "x"}"#)
            .into_proto(String::new(), "root")
            .expect_err("refused");
        assert_eq!(fields(&problem), ["recipient", "message"]);

        let problem = body(
            r#"{"customer_id": 7, "channel": "email", "template": "order_ready", "subject": "Hi"}"#,
        )
        .into_proto(String::new(), "root")
        .expect_err("refused");
        assert_eq!(fields(&problem), ["recipient", "subject"]);

        let unknown = parse_json::<NewNotification>(br#"{"customer_id": 7, "channel": "fax"}"#)
            .expect_err("no such channel");
        assert_eq!(fields(&unknown), ["channel"]);
    }

    #[test]
    fn the_services_field_paths_become_the_bodys_names() {
        assert_eq!(send_field(Channel::Sms, "recipient.phone"), "recipient");
        assert_eq!(send_field(Channel::Email, "recipient.email"), "recipient");
        assert_eq!(send_field(Channel::Sms, "recipient"), "recipient");
        assert_eq!(send_field(Channel::Push, "recipient"), "customer_id");
        assert_eq!(
            send_field(Channel::Sms, "recipient.customer_id"),
            "customer_id"
        );
        assert_eq!(send_field(Channel::Sms, "template_kind"), "template");
        assert_eq!(send_field(Channel::Sms, "values.nope"), "values.nope");
        assert_eq!(
            send_field(Channel::Sms, "idempotency_key"),
            "Idempotency-Key"
        );
        assert_eq!(log_field("kind"), "event");
        assert_eq!(log_field("page.page_token"), "cursor");
        assert_eq!(log_field("recipient"), "recipient");
    }

    #[test]
    fn a_logged_message_shows_null_for_what_it_does_not_have() {
        let view = NotificationView::from_proto(pb::Notification {
            id: 3,
            customer_id: 7,
            kind: "direct".to_owned(),
            channel: pb::Channel::Sms as i32,
            status: pb::NotificationStatus::Queued as i32,
            ..Default::default()
        })
        .expect("view");
        let json = serde_json::to_value(&view).expect("serializes");
        assert_eq!(json["order_id"], serde_json::Value::Null);
        assert_eq!(json["bulk_job_id"], serde_json::Value::Null);
        assert_eq!(json["subject"], serde_json::Value::Null);
        assert_eq!(json["event"], "direct");
        assert_eq!(json["channel"], "sms");
        assert_eq!(json["status"], "queued");
    }
}
