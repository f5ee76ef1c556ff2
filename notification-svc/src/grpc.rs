//! The gRPC face of notification-svc. Each method turns its request into
//! domain values (naming every bad field by its path in the request),
//! calls a use case ([`crate::service`]) and turns the result back into
//! the contract's messages ([`crate::convert`]).

use std::collections::HashMap;

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_proto::notification::v1 as pb;
use foodmesh_shared::status;
use pb::notification_service_server::NotificationService;
use tonic::{Code, Request, Response, Status};

use crate::convert;
use crate::domain::bulk::BulkRequest;
use crate::domain::channel::{Category, Channel};
use crate::domain::template::Template;
use crate::domain::{DomainError, Finish, Page, Violations};
use crate::service::Notifications;
use crate::service::direct::{Content, DirectMessage};
use crate::service::preferences::ChoicePatch;
use crate::service::templates::{TemplatePatch, kind_filter};
use crate::store::LogFilter;

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.notification";

/// The most characters of an idempotency key.
const MAX_KEY: usize = 255;

type Reply<T> = Result<Response<T>, Status>;

/// The `NotificationService` implementation.
#[derive(Debug, Clone)]
pub struct NotificationApi {
    notifications: Notifications,
}

impl NotificationApi {
    pub fn new(notifications: Notifications) -> Self {
        Self { notifications }
    }
}

fn page_of(v: &mut Violations, page: Option<&common::PageRequest>) -> Option<Page> {
    let page = page.cloned().unwrap_or_default();
    v.nested("page", Page::parse(page.page_size, &page.page_token))
}

fn required_channel(v: &mut Violations, field: &str, raw: i32) -> Option<Channel> {
    match convert::channel_from_pb(raw) {
        Ok(Some(channel)) => Some(channel),
        Ok(None) => {
            v.add(field, "is required: sms, email or push");
            None
        }
        Err(why) => {
            v.add(field, why);
            None
        }
    }
}

fn positive(v: &mut Violations, field: &str, id: i64) {
    if id <= 0 {
        v.add(field, "must be positive");
    }
}

/// A recipient's parts: a customer id, and whatever address is given,
/// each valid.
fn recipient_of(
    v: &mut Violations,
    field: &str,
    r: Option<&pb::Recipient>,
) -> Option<crate::domain::preference::Recipient> {
    let Some(r) = r else {
        v.add(field, "is required");
        return None;
    };
    let recipient = convert::recipient_from_pb(r);
    if recipient.customer_id == 0 {
        v.add(format!("{field}.customer_id"), "is required");
    }
    if !recipient.email.is_empty() {
        v.check(
            format!("{field}.email"),
            foodmesh_shared::values::Email::parse(&recipient.email),
        );
    }
    if !recipient.phone.is_empty() {
        v.check(
            format!("{field}.phone"),
            foodmesh_shared::validate::Phone::parse(&recipient.phone),
        );
    }
    if recipient.name.chars().count() > 200 {
        v.add(format!("{field}.name"), "must be at most 200 characters");
    }
    Some(recipient)
}

fn check_key(v: &mut Violations, key: &str) {
    let key = key.trim();
    if key.chars().count() > MAX_KEY || key.chars().any(char::is_control) {
        v.add(
            "idempotency_key",
            "must be at most 255 printable characters",
        );
    }
}

/// Names the first bad email and the first bad phone among a bulk send's
/// recipients: one of each says enough, thousands would not.
fn check_addresses(v: &mut Violations, recipients: &[crate::domain::preference::Recipient]) {
    let bad_email = recipients.iter().position(|r| {
        !r.email.is_empty() && foodmesh_shared::values::Email::parse(&r.email).is_err()
    });
    if let Some(i) = bad_email {
        v.add(format!("recipients[{i}].email"), "is not an email address");
    }
    let bad_phone = recipients.iter().position(|r| {
        !r.phone.is_empty() && foodmesh_shared::validate::Phone::parse(&r.phone).is_err()
    });
    if let Some(i) = bad_phone {
        v.add(
            format!("recipients[{i}].phone"),
            "must be an E.164 number (+ and 8 to 15 digits)",
        );
    }
}

fn values_of(v: &mut Violations, values: &HashMap<String, String>) -> HashMap<String, String> {
    for (key, value) in values {
        if !crate::domain::template::PLACEHOLDERS.contains(&key.as_str()) {
            v.add(format!("values.{key}"), "is not a placeholder");
        } else if value.chars().count() > 500 {
            v.add(format!("values.{key}"), "must be at most 500 characters");
        }
    }
    values.clone()
}

#[tonic::async_trait]
impl NotificationService for NotificationApi {
    async fn send_notification(
        &self,
        request: Request<pb::SendNotificationRequest>,
    ) -> Reply<pb::Notification> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let recipient = recipient_of(&mut v, "recipient", req.recipient.as_ref());
        let channel = required_channel(&mut v, "channel", req.channel);
        let category = v
            .check("category", convert::category_from_pb(req.category))
            .map(|c| c.unwrap_or(Category::OrderUpdates));
        let values = values_of(&mut v, &req.values);
        let content = match (req.template_kind.is_empty(), req.message.trim().is_empty()) {
            (false, true) => {
                if let Err(why) = crate::domain::template::check_kind(&req.template_kind) {
                    v.add("template_kind", why);
                }
                Some(Content::Template {
                    kind: req.template_kind.clone(),
                    values,
                })
            }
            (true, false) => channel.and_then(|channel| {
                v.merge(convert::text_template(channel, &req.subject, &req.message))
                    .map(|t| Content::Text(t, values))
            }),
            (false, false) => {
                v.add("message", "give a template_kind or a message, not both");
                None
            }
            (true, true) => {
                v.add("message", "is required when no template_kind is given");
                None
            }
        };
        check_key(&mut v, &req.idempotency_key);
        let key = req.idempotency_key.trim();
        let message = v.finish(|| {
            Some(DirectMessage {
                recipient: recipient?,
                channel: channel?,
                category: category?,
                content: content?,
                key: Some(key.to_owned()).filter(|k| !k.is_empty()),
                sender: req.sender.clone(),
            })
        })?;
        let sent = self.notifications.send_direct(message).await?;
        Ok(Response::new(convert::notification_to_pb(&sent)))
    }

    async fn list_notifications(
        &self,
        request: Request<pb::ListNotificationsRequest>,
    ) -> Reply<pb::ListNotificationsResponse> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let channel = v.check("channel", convert::channel_from_pb(req.channel));
        let status = v.check("status", convert::status_from_pb(req.status));
        let kind = v.merge(kind_filter(&req.kind)).flatten();
        let page = page_of(&mut v, req.page.as_ref());
        if req.recipient.chars().count() > 320 {
            v.add("recipient", "must be at most 320 characters");
        }
        let (filter, page) = v.finish(|| {
            Some((
                LogFilter {
                    customer_id: Some(req.customer_id).filter(|id| *id != 0),
                    order_id: Some(req.order_id).filter(|id| *id != 0),
                    recipient: Some(req.recipient.trim().to_owned()).filter(|r| !r.is_empty()),
                    channel: channel?,
                    status: status?,
                    kind: kind.map(str::to_owned),
                    bulk_job_id: Some(req.bulk_job_id).filter(|id| *id != 0),
                },
                page?,
            ))
        })?;
        let (found, next) = self.notifications.log(&filter, page).await?;
        Ok(Response::new(pb::ListNotificationsResponse {
            notifications: found.iter().map(convert::notification_to_pb).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn start_bulk(&self, request: Request<pb::StartBulkRequest>) -> Reply<pb::BulkJob> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let channel = required_channel(&mut v, "channel", req.channel);
        let category = v
            .check("category", convert::category_from_pb(req.category))
            .map(|c| c.unwrap_or(Category::Marketing));
        let recipients: Vec<_> = req
            .recipients
            .iter()
            .map(convert::recipient_from_pb)
            .collect();
        check_addresses(&mut v, &recipients);
        check_key(&mut v, &req.idempotency_key);
        let values = values_of(&mut v, &req.values);
        let request =
            v.finish(|| Some((channel?, category?)))
                .and_then(|(channel, category)| {
                    BulkRequest::parse(&req.template_kind, channel, category, recipients, values)
                        .map_err(DomainError::Invalid)
                })?;
        let key = Some(req.idempotency_key.trim()).filter(|k| !k.is_empty());
        let job = self
            .notifications
            .start_bulk(request, &req.created_by, key)
            .await?;
        Ok(Response::new(convert::bulk_to_pb(&job)))
    }

    async fn get_bulk(&self, request: Request<pb::GetBulkRequest>) -> Reply<pb::BulkJob> {
        let id = request.into_inner().id;
        let mut v = Violations::default();
        positive(&mut v, "id", id);
        v.finish(|| Some(()))?;
        let job = self.notifications.bulk(id).await?;
        Ok(Response::new(convert::bulk_to_pb(&job)))
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Reply<pb::Preferences> {
        let customer = request.into_inner().customer_id;
        let mut v = Violations::default();
        if customer == 0 {
            v.add("customer_id", "is required");
        }
        v.finish(|| Some(()))?;
        let choices = self.notifications.preferences(customer).await?;
        Ok(Response::new(convert::preferences_to_pb(
            customer, &choices,
        )))
    }

    async fn set_preferences(
        &self,
        request: Request<pb::SetPreferencesRequest>,
    ) -> Reply<pb::Preferences> {
        let req = request.into_inner();
        let mut v = Violations::default();
        if req.customer_id == 0 {
            v.add("customer_id", "is required");
        }
        if req.changes.is_empty() {
            v.add("changes", "must change at least one channel");
        }
        let mut patches = Vec::with_capacity(req.changes.len());
        for (i, change) in req.changes.iter().enumerate() {
            let channel =
                required_channel(&mut v, &format!("changes[{i}].channel"), change.channel);
            if change.order_updates.is_none() && change.marketing.is_none() {
                v.add(
                    format!("changes[{i}]"),
                    "must set order_updates, marketing or both",
                );
            }
            if let Some(channel) = channel {
                if patches.iter().any(|p: &ChoicePatch| p.channel == channel) {
                    v.add(format!("changes[{i}].channel"), "is changed twice");
                }
                patches.push(ChoicePatch {
                    channel,
                    order_updates: change.order_updates,
                    marketing: change.marketing,
                });
            }
        }
        v.finish(|| Some(()))?;
        let choices = self
            .notifications
            .set_preferences(req.customer_id, &patches)
            .await?;
        Ok(Response::new(convert::preferences_to_pb(
            req.customer_id,
            &choices,
        )))
    }

    async fn create_template(
        &self,
        request: Request<pb::CreateTemplateRequest>,
    ) -> Reply<pb::Template> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let Some(t) = req.template else {
            v.add("template", "is required");
            return Err(DomainError::Invalid(v).into());
        };
        let channel = required_channel(&mut v, "template.channel", t.channel);
        let template = channel.and_then(|channel| {
            v.nested(
                "template",
                Template::parse(&t.kind, channel, &t.subject, &t.body, t.active),
            )
        });
        let template = v.finish(|| template)?;
        let created = self.notifications.create_template(&template).await?;
        Ok(Response::new(convert::template_to_pb(&created)))
    }

    async fn get_template(&self, request: Request<pb::GetTemplateRequest>) -> Reply<pb::Template> {
        let id = request.into_inner().id;
        let mut v = Violations::default();
        positive(&mut v, "id", id);
        v.finish(|| Some(()))?;
        let found = self.notifications.template(id).await?;
        Ok(Response::new(convert::template_to_pb(&found)))
    }

    async fn update_template(
        &self,
        request: Request<pb::UpdateTemplateRequest>,
    ) -> Reply<pb::Template> {
        let req = request.into_inner();
        let mut v = Violations::default();
        positive(&mut v, "id", req.id);
        let channel = v.check("channel", convert::channel_from_pb(req.channel));
        let patch = v.finish(|| {
            Some(TemplatePatch {
                kind: req.kind.clone(),
                channel: channel?,
                subject: req.subject.clone(),
                body: req.body.clone(),
                active: req.active,
            })
        })?;
        let updated = self.notifications.update_template(req.id, patch).await?;
        Ok(Response::new(convert::template_to_pb(&updated)))
    }

    async fn list_templates(
        &self,
        request: Request<pb::ListTemplatesRequest>,
    ) -> Reply<pb::ListTemplatesResponse> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let channel = v.check("channel", convert::channel_from_pb(req.channel));
        let kind = v.merge(kind_filter(&req.kind)).flatten();
        let channel = v.finish(|| channel)?;
        let found = self.notifications.templates(kind, channel).await?;
        Ok(Response::new(pb::ListTemplatesResponse {
            templates: found.iter().map(convert::template_to_pb).collect(),
        }))
    }
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::TemplateNotFound(_) => (Code::NotFound, R::TemplateNotFound),
            E::TemplateTaken { .. } => (Code::AlreadyExists, R::TemplateTaken),
            E::NoTemplate { .. } => (Code::FailedPrecondition, R::NoTemplate),
            E::BulkNotFound(_) => (Code::NotFound, R::BulkNotFound),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let metadata = match &error {
            E::NoTemplate { kind, channel } | E::TemplateTaken { kind, channel } => {
                HashMap::from([
                    ("kind".to_owned(), kind.clone()),
                    ("channel".to_owned(), channel.clone()),
                ])
            }
            _ => HashMap::new(),
        };
        let message = error.to_string();
        let fields = match error {
            E::Invalid(violations) => violations,
            _ => Violations::default(),
        };
        status::refusal(code, message, ERROR_DOMAIN, reason, metadata, &fields)
    }
}
