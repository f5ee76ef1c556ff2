//! Bulk sends (`/api/notifications/bulk`): one template to many
//! customers, accepted at once and sent in the background at each
//! provider's pace, and how far one has come.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use foodmesh_proto::notification::v1 as pb;
use foodmesh_shared::validate::Phone;
use foodmesh_shared::values::Email;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::names::{Channel, NotificationCategory};
use crate::auth::Admin;
use crate::extract::{JsonBody, ResourceId};
use crate::problem::{FieldError, Problem, ProblemDetails};
use crate::routes::orders::idempotency_key;
use crate::routes::{Accepted, AppState, accepted, from_timestamp};
use crate::upstream::UpstreamError;
use crate::validate::Violations;

/// The largest body `POST /api/notifications/bulk` reads: a send names up
/// to 100,000 recipients, some 120 bytes of JSON each. Every other route
/// keeps the gateway's `BODY_LIMIT_BYTES`.
pub const BULK_BODY_LIMIT_BYTES: usize = 16 * 1024 * 1024;

/// How many recipients at fault a refusal names: one is enough to refuse
/// the send, and naming thousands helps nobody.
const NAMED_RECIPIENTS: usize = 10;

/// One recipient of a bulk send.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"customer_id": 7, "name": "Ana Diaz", "email": "ana@example.com", "phone": "+12125550100"}))]
pub struct BulkRecipient {
    /// The customer, whose choices hold (negative for a guest's profile).
    pub customer_id: i64,
    /// `{name}` in their message is its first word.
    #[serde(default)]
    pub name: String,
    /// Where an `email` send reaches them.
    #[serde(default)]
    pub email: String,
    /// Where an `sms` send reaches them (E.164).
    #[serde(default)]
    pub phone: String,
}

/// A bulk send.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "template": "menu_news", "channel": "email", "category": "marketing",
    "recipients": [{"customer_id": 7, "name": "Ana Diaz", "email": "ana@example.com"}],
    "values": {"link": "https://foodmesh.example/menu"}
}))]
pub struct NewBulkSend {
    /// The template kind to send: its active template on `channel`.
    pub template: String,
    pub channel: Channel,
    /// `marketing` (default) or `order_updates`.
    #[serde(default)]
    pub category: Option<NotificationCategory>,
    /// 1 to 100,000 recipients. Those who opted out of the category on
    /// the channel, or have no address there (no `email` for an email
    /// send, no `phone` for SMS, a guest for push), are skipped and
    /// counted, never sent.
    pub recipients: Vec<BulkRecipient>,
    /// Values every message shares (`{"link": "https://…"}`): `order_number`,
    /// `amount`, `eta`, `link`, `restaurant`, `reason`, `refund`. `{name}`
    /// is each recipient's own.
    #[serde(default)]
    pub values: HashMap<String, String>,
}

impl NewBulkSend {
    /// notification-svc's request, started by `created_by` with the
    /// idempotency `key` (empty for none).
    ///
    /// # Errors
    /// 422 naming the first recipients at fault: a customer id of 0, or a
    /// malformed email or phone.
    fn into_proto(self, key: String, created_by: &str) -> Result<pb::StartBulkRequest, Problem> {
        let mut v = Violations::new();
        let mut named = 0;
        for (i, r) in self.recipients.iter().enumerate() {
            if named == NAMED_RECIPIENTS {
                break;
            }
            let mut at_fault = false;
            if r.customer_id == 0 {
                v.add(
                    format!("recipients[{i}].customer_id"),
                    "must be a customer id, not 0",
                );
                at_fault = true;
            }
            // Every address given is checked, whatever the channel, as
            // notification-svc checks them: a list is whole before any of
            // it is sent.
            let email = r.email.trim();
            if !email.is_empty()
                && let Err(why) = Email::parse(email)
            {
                v.add(format!("recipients[{i}].email"), why);
                at_fault = true;
            }
            let phone = r.phone.trim();
            if !phone.is_empty()
                && let Err(why) = Phone::parse(phone)
            {
                v.add(format!("recipients[{i}].phone"), why);
                at_fault = true;
            }
            if at_fault {
                named += 1;
            }
        }
        v.finish()?;
        Ok(pb::StartBulkRequest {
            template_kind: self.template.trim().to_owned(),
            channel: self.channel.to_proto(),
            category: self.category.map_or(0, NotificationCategory::to_proto),
            recipients: self
                .recipients
                .into_iter()
                .map(|r| pb::Recipient {
                    customer_id: r.customer_id,
                    name: r.name,
                    email: r.email,
                    phone: r.phone,
                })
                .collect(),
            values: self.values,
            created_by: created_by.to_owned(),
            idempotency_key: key,
        })
    }
}

/// The REST name of a field of a `StartBulk` request.
fn bulk_field(path: &str) -> String {
    let name = match path {
        "kind" | "template_kind" => "template",
        other => other,
    };
    name.to_owned()
}

/// notification-svc's refusal of a bulk send, in the body's terms. It
/// reads a request of at most its gRPC message limit, and refuses a
/// larger one with OUT_OF_RANGE before any rule of its own (none of which
/// answers that code): the recipients are what made it too large.
fn bulk_problem(e: UpstreamError) -> Problem {
    if e.status.code() == tonic::Code::OutOfRange {
        return Problem::payload_too_large().with_errors(vec![FieldError::new(
            "recipients",
            "are more than notification-svc reads in one request: split them into smaller sends",
        )]);
    }
    e.naming(&bulk_field)
}

/// A bulk send and how far it has come.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 5, "template": "menu_news", "channel": "email", "category": "marketing",
    "recipients": 1200, "skipped": 180, "pending": 420, "sent": 560, "delivered": 35,
    "failed": 5, "created_by": "root", "created_at": "2026-11-23T09:00:00Z", "finished_at": null
}))]
pub struct BulkJobView {
    pub id: i64,
    /// The template kind sent.
    pub template: String,
    pub channel: Channel,
    pub category: NotificationCategory,
    /// Recipients named.
    pub recipients: u32,
    /// Opted out of the category on the channel, or without an address
    /// there: never written.
    pub skipped: u32,
    /// Written and not yet settled (queued or being sent).
    pub pending: u32,
    pub sent: u32,
    pub delivered: u32,
    pub failed: u32,
    /// The admin who started it (their token's subject).
    pub created_by: String,
    pub created_at: Option<DateTime<Utc>>,
    /// When the last message settled, once none is pending; null until
    /// then.
    pub finished_at: Option<DateTime<Utc>>,
}

impl BulkJobView {
    /// The JSON view of a bulk send from notification-svc.
    ///
    /// # Errors
    /// notification-svc sent an unknown channel or category.
    pub fn from_proto(job: pb::BulkJob) -> Result<Self, Problem> {
        let unknown = |what: &str| {
            Problem::internal(&format_args!("notification-svc sent an unknown {what}"))
        };
        Ok(Self {
            id: job.id,
            template: job.template_kind,
            channel: Channel::from_proto(job.channel).ok_or_else(|| unknown("channel"))?,
            category: NotificationCategory::from_proto(job.category)
                .ok_or_else(|| unknown("category"))?,
            recipients: job.recipients,
            skipped: job.skipped,
            pending: job.pending,
            sent: job.sent,
            delivered: job.delivered,
            failed: job.failed,
            created_by: job.created_by,
            created_at: from_timestamp(job.created_at.as_ref()),
            finished_at: from_timestamp(job.finished_at.as_ref()),
        })
    }
}

/// Start a bulk send
///
/// Sends one template to many customers. The send is accepted at once: every recipient who
/// wants the category on the channel and has an address there is written to the log, the others
/// are counted as `skipped`, and the messages go out in the background at each provider's pace.
/// The answer is 202 with the send as it starts, `Location` being where to follow it; this
/// route alone reads bodies of up to 16 MiB (100,000 recipients), every other keeps the
/// gateway's limit.
///
/// Who may call: admins.
///
/// Events: none (the messages are queued in notification-svc's log and sent from there).
#[utoipa::path(
    post,
    path = "/api/notifications/bulk",
    tag = "notifications",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key from the same admin \
                starts one send, and answers with its job as it is now."),
    ),
    request_body = NewBulkSend,
    responses(
        (status = 202, description = "Accepted; the messages are on their way.",
            body = BulkJobView,
            headers(("Location" = String, description = "Path of the bulk send"))),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "No active template of this kind on the channel \
            (`no_template`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 413, description = "The body is over 16 MiB, or the recipients are more than \
            notification-svc reads in one request (`recipients`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "A field at fault, named: `template`, `recipients` (none, \
            or more than 100,000), `recipients[<i>].customer_id`, `recipients[<i>].email` or \
            `.phone` (the first few at fault), `values.<name>` for a value of no placeholder \
            (or `name`, which is each recipient's own) or for a placeholder the template uses \
            and no value fills.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn start_bulk(
    State(state): State<AppState>,
    Admin(claims): Admin,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewBulkSend>,
) -> Result<Accepted<BulkJobView>, Problem> {
    let request = body.into_proto(idempotency_key(&headers)?, &claims.sub)?;
    let job = state
        .upstreams
        .notification
        .start_bulk(request)
        .await
        .map_err(bulk_problem)?;
    let view = BulkJobView::from_proto(job)?;
    Ok(accepted(
        &format!("/api/notifications/bulk/{}", view.id),
        view,
    ))
}

/// Read a bulk send
///
/// Answers a bulk send and how far it has come: how many of its messages are pending, sent,
/// delivered and failed, and when the last settled. Its messages are in the log under
/// `?bulk_job_id=`.
///
/// Who may call: admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/notifications/bulk/{id}",
    tag = "notifications",
    params(("id" = i64, Path, description = "Bulk send id", minimum = 1)),
    responses(
        (status = 200, description = "The bulk send.", body = BulkJobView),
        (status = 403, description = "Not an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No bulk send `id` (`bulk_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_bulk(
    State(state): State<AppState>,
    _admin: Admin,
    ResourceId(id): ResourceId,
) -> Result<Json<BulkJobView>, Problem> {
    let job = state
        .upstreams
        .notification
        .get_bulk(pb::GetBulkRequest { id })
        .await?;
    Ok(Json(BulkJobView::from_proto(job)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    fn send(json: &str) -> Result<pb::StartBulkRequest, Problem> {
        parse_json::<NewBulkSend>(json.as_bytes())
            .expect("parses")
            .into_proto(String::new(), "root")
    }

    #[test]
    fn a_bulk_send_carries_every_recipient_and_its_sender() {
        let request = send(
            r#"{"template": "menu_news", "channel": "email",
                "recipients": [{"customer_id": 7, "name": "Ana", "email": "ana@example.com"},
                               {"customer_id": -3, "phone": "+12125550100"}],
                "values": {"link": "https://foodmesh.example/menu"}}"#,
        )
        .expect("valid: one without an email is skipped, not refused");
        assert_eq!(request.template_kind, "menu_news");
        assert_eq!(request.recipients.len(), 2);
        assert_eq!(request.recipients[0].email, "ana@example.com");
        assert_eq!(
            request.category, 0,
            "the service's default (marketing) holds"
        );
        assert_eq!(request.created_by, "root");
    }

    #[test]
    fn only_the_first_recipients_at_fault_are_named() {
        let recipients: Vec<String> = (0..50)
            .map(|_| r#"{"customer_id": 7, "phone": "0212"}"#.to_owned())
            .collect();
        let problem = send(&format!(
            r#"{{"template": "menu_news", "channel": "sms", "recipients": [{}]}}"#,
            recipients.join(",")
        ))
        .expect_err("bad phones");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors.len(), NAMED_RECIPIENTS);
        assert_eq!(problem.errors[0].field, "recipients[0].phone");
    }

    #[test]
    fn the_services_kind_is_the_bodys_template() {
        assert_eq!(bulk_field("kind"), "template");
        assert_eq!(
            bulk_field("recipients[3].customer_id"),
            "recipients[3].customer_id"
        );
        assert_eq!(bulk_field("values.name"), "values.name");
    }
}
