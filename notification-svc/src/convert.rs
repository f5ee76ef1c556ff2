//! Domain values to contract messages and back: the gRPC API, and what
//! the order and delivery events carry.

use chrono::{DateTime, Utc};
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::notification::v1 as pb;
use foodmesh_proto::order::v1 as order_pb;

use crate::domain::bulk::BulkJob;
use crate::domain::channel::{Category, Channel};
use crate::domain::message::{Notification, Status};
use crate::domain::preference::Recipient;
use crate::domain::step::{OrderFacts, StepDetails, eta_in_words};
use crate::domain::template::Template;
use crate::service::preferences::ChannelChoice;
use crate::store::StoredTemplate;

pub(crate) use foodmesh_shared::timestamp::{from_pb as time_of, to_pb as timestamp};

pub fn channel_to_pb(c: Channel) -> pb::Channel {
    match c {
        Channel::Sms => pb::Channel::Sms,
        Channel::Email => pb::Channel::Email,
        Channel::Push => pb::Channel::Push,
    }
}

/// `None` for UNSPECIFIED; `Err` for a number no channel has.
///
/// # Errors
/// In words, for the field's violation.
pub fn channel_from_pb(raw: i32) -> Result<Option<Channel>, String> {
    match pb::Channel::try_from(raw) {
        Ok(pb::Channel::Unspecified) => Ok(None),
        Ok(pb::Channel::Sms) => Ok(Some(Channel::Sms)),
        Ok(pb::Channel::Email) => Ok(Some(Channel::Email)),
        Ok(pb::Channel::Push) => Ok(Some(Channel::Push)),
        Err(_) => Err("must be sms, email or push".to_owned()),
    }
}

pub fn category_to_pb(c: Category) -> pb::Category {
    match c {
        Category::OrderUpdates => pb::Category::OrderUpdates,
        Category::Marketing => pb::Category::Marketing,
    }
}

/// `None` for UNSPECIFIED.
///
/// # Errors
/// In words, for the field's violation.
pub fn category_from_pb(raw: i32) -> Result<Option<Category>, String> {
    match pb::Category::try_from(raw) {
        Ok(pb::Category::Unspecified) => Ok(None),
        Ok(pb::Category::OrderUpdates) => Ok(Some(Category::OrderUpdates)),
        Ok(pb::Category::Marketing) => Ok(Some(Category::Marketing)),
        Err(_) => Err("must be order_updates or marketing".to_owned()),
    }
}

pub fn status_to_pb(s: Status) -> pb::NotificationStatus {
    match s {
        Status::Queued => pb::NotificationStatus::Queued,
        Status::Sending => pb::NotificationStatus::Sending,
        Status::Sent => pb::NotificationStatus::Sent,
        Status::Delivered => pb::NotificationStatus::Delivered,
        Status::Failed => pb::NotificationStatus::Failed,
    }
}

/// `None` for UNSPECIFIED.
///
/// # Errors
/// In words, for the field's violation.
pub fn status_from_pb(raw: i32) -> Result<Option<Status>, String> {
    match pb::NotificationStatus::try_from(raw) {
        Ok(pb::NotificationStatus::Unspecified) => Ok(None),
        Ok(pb::NotificationStatus::Queued) => Ok(Some(Status::Queued)),
        Ok(pb::NotificationStatus::Sending) => Ok(Some(Status::Sending)),
        Ok(pb::NotificationStatus::Sent) => Ok(Some(Status::Sent)),
        Ok(pb::NotificationStatus::Delivered) => Ok(Some(Status::Delivered)),
        Ok(pb::NotificationStatus::Failed) => Ok(Some(Status::Failed)),
        Err(_) => Err("must be queued, sending, sent, delivered or failed".to_owned()),
    }
}

pub fn notification_to_pb(n: &Notification) -> pb::Notification {
    pb::Notification {
        id: n.id,
        customer_id: n.customer_id,
        order_id: n.order_id.unwrap_or_default(),
        bulk_job_id: n.bulk_job_id.unwrap_or_default(),
        kind: n.kind.clone(),
        channel: channel_to_pb(n.channel).into(),
        recipient: n.recipient.clone(),
        subject: n.subject.clone(),
        message: n.message.clone(),
        provider: n.provider.clone(),
        provider_response: n.provider_response.clone(),
        status: status_to_pb(n.status).into(),
        attempts: n.attempts,
        created_at: Some(timestamp(n.created_at)),
        sent_at: n.sent_at.map(timestamp),
        delivered_at: n.delivered_at.map(timestamp),
        next_attempt_at: (n.status == Status::Queued).then(|| timestamp(n.next_attempt_at)),
    }
}

pub fn template_to_pb((id, t, updated_at): &StoredTemplate) -> pb::Template {
    pb::Template {
        id: *id,
        kind: t.kind.clone(),
        channel: channel_to_pb(t.channel).into(),
        subject: t.subject.clone(),
        body: t.body.clone(),
        active: t.active,
        updated_at: Some(timestamp(*updated_at)),
    }
}

pub fn preferences_to_pb(customer_id: i64, choices: &[ChannelChoice]) -> pb::Preferences {
    pb::Preferences {
        customer_id,
        channels: choices
            .iter()
            .map(|c| pb::ChannelPreference {
                channel: channel_to_pb(c.channel).into(),
                order_updates: c.choice.order_updates,
                marketing: c.choice.marketing,
                chosen: c.stored.order_updates.is_some() || c.stored.marketing.is_some(),
            })
            .collect(),
    }
}

pub fn bulk_to_pb(job: &BulkJob) -> pb::BulkJob {
    pb::BulkJob {
        id: job.id,
        template_kind: job.kind.clone(),
        channel: channel_to_pb(job.channel).into(),
        category: category_to_pb(job.category).into(),
        recipients: job.recipients,
        skipped: job.skipped,
        pending: job.progress.pending,
        sent: job.progress.sent,
        delivered: job.progress.delivered,
        failed: job.progress.failed,
        created_by: job.created_by.clone(),
        created_at: Some(timestamp(job.created_at)),
        finished_at: job.progress.finished_at.map(timestamp),
    }
}

pub fn recipient_from_pb(r: &pb::Recipient) -> Recipient {
    Recipient {
        customer_id: r.customer_id,
        name: r.name.trim().to_owned(),
        email: r.email.trim().to_owned(),
        phone: r.phone.trim().to_owned(),
    }
}

/// The template a message of its own is checked as: its `subject` and
/// `message` fields.
///
/// # Errors
/// As [`Template::parse`], the body's faults named `message`.
pub fn text_template(
    channel: Channel,
    subject: &str,
    body: &str,
) -> Result<Template, crate::domain::Violations> {
    Template::parse("direct", channel, subject, body, true).map_err(|v| {
        let mut named = crate::domain::Violations::default();
        for f in v.iter() {
            let field = if f.field == "body" {
                "message"
            } else {
                f.field.as_str()
            };
            named.add(field, f.description.clone());
        }
        named
    })
}

/// An amount as a customer reads it: `USD 25.98`.
fn amount(money: Option<&foodmesh_proto::common::v1::Money>) -> String {
    let Some(money) = money else {
        return String::new();
    };
    let places = foodmesh_shared::money::exponent(&money.currency).unwrap_or(2);
    format!(
        "{} {}",
        money.currency,
        foodmesh_shared::money::format_minor(money.amount_minor, places)
    )
}

/// What the messages of the order in `event` need to know of it, and the
/// version of the order it is (`updated_at`).
pub fn order_facts(event: &OrderEvent) -> Option<(OrderFacts, DateTime<Utc>)> {
    let order = event.order.as_ref()?;
    let contact = event
        .contact
        .clone()
        .or_else(|| order.contact.clone())
        .unwrap_or_default();
    let updated_at = order.updated_at.as_ref().and_then(time_of)?;
    Some((
        OrderFacts {
            order_id: order.id,
            recipient: Recipient {
                customer_id: order.customer_id,
                name: contact.name,
                email: contact.email,
                phone: contact.phone,
            },
            order_number: order.order_number.clone(),
            restaurant: order.restaurant_name.clone(),
            amount: amount(order.totals.as_ref().and_then(|t| t.total.as_ref())),
        },
        updated_at,
    ))
}

/// What an order step's message says beyond the order: the arrival (for
/// a confirmation: when the kitchen expects it ready, `at` being when the
/// event happened), the link to the order's page, and why it was cancelled with
/// what becomes of the payment.
pub fn order_details(event: &OrderEvent, at: DateTime<Utc>, public_url: &str) -> StepDetails {
    let Some(order) = event.order.as_ref() else {
        return StepDetails::default();
    };
    let confirmed = order.confirmed_at.as_ref().and_then(time_of).unwrap_or(at);
    let ready_by = confirmed + chrono::Duration::minutes(i64::from(order.prep_minutes));
    let paid = matches!(
        order_pb::PaymentMethod::try_from(order.payment_method),
        Ok(order_pb::PaymentMethod::Card | order_pb::PaymentMethod::MobileMoney)
    );
    let total = amount(order.totals.as_ref().and_then(|t| t.total.as_ref()));
    StepDetails {
        eta: eta_in_words((ready_by - at).num_minutes()),
        // The storefront's order page: a signed-in customer sees it live,
        // and a guest on the device that placed it (which keeps its token).
        link: format!("{}/#/order/{}", public_url.trim_end_matches('/'), order.id),
        reason: event
            .change
            .as_ref()
            .map(|c| c.reason.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "no reason was given".to_owned()),
        refund: if paid {
            format!("Any payment of {total} is returned to you.")
        } else {
            "Nothing was charged.".to_owned()
        },
    }
}

/// What a delivery step's message says: the arrival and the public
/// tracking link.
pub fn delivery_details(
    delivery: &foodmesh_proto::delivery::v1::Delivery,
    at: DateTime<Utc>,
    public_url: &str,
) -> StepDetails {
    let eta = delivery
        .eta
        .as_ref()
        .and_then(time_of)
        .map(|eta| eta_in_words((eta - at).num_minutes()))
        .unwrap_or_default();
    StepDetails {
        eta,
        link: format!(
            "{}/api/deliveries/track/{}",
            public_url.trim_end_matches('/'),
            delivery.tracking_id
        ),
        ..StepDetails::default()
    }
}

/// Whether the order in `event` is delivered (its "ready" is for the
/// driver, not for the customer).
pub fn is_delivery(event: &OrderEvent) -> bool {
    event
        .order
        .as_ref()
        .is_some_and(|o| o.order_type == order_pb::OrderType::Delivery as i32)
}
