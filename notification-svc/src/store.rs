//! Every SQL statement of notification-svc. Each function takes a
//! connection, so the caller decides what shares a transaction (a
//! [`Work`] of [`foodmesh_shared::work`]).
//!
//! [`Work`]: foodmesh_shared::work::Work

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::domain::DomainError;
use crate::domain::bulk::{BulkJob, Progress};
use crate::domain::channel::{Category, Channel};
use crate::domain::message::{Intent, Notification, Status};
use crate::domain::preference::{Recipient, Stored};
use crate::domain::step::OrderFacts;
use crate::domain::template::Template;

foodmesh_shared::database_failures!(DomainError);

fn spelled<T>(row: &PgRow, column: &str, parse: fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let raw: &str = row.try_get(column)?;
    parse(raw).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown value {raw:?}").into(),
    })
}

fn unsigned(row: &PgRow, column: &str) -> sqlx::Result<u32> {
    let n: i32 = row.try_get(column)?;
    u32::try_from(n).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.into(),
    })
}

// ---- templates ------------------------------------------------------------

/// A template with its id, as stored.
pub type StoredTemplate = (i64, Template, DateTime<Utc>);

fn template_of(row: &PgRow) -> sqlx::Result<StoredTemplate> {
    Ok((
        row.try_get("id")?,
        Template {
            kind: row.try_get("kind")?,
            channel: spelled(row, "channel", Channel::from_db)?,
            subject: row.try_get("subject")?,
            body: row.try_get("body")?,
            active: row.try_get("active")?,
        },
        row.try_get("updated_at")?,
    ))
}

fn taken(template: &Template) -> impl Fn(sqlx::Error) -> DomainError + '_ {
    move |e| match e {
        sqlx::Error::Database(db) if db.constraint() == Some("templates_kind_channel_key") => {
            DomainError::TemplateTaken {
                kind: template.kind.clone(),
                channel: template.channel.to_string(),
            }
        }
        other => other.into(),
    }
}

/// # Errors
/// [`DomainError::TemplateTaken`], or the database failed.
pub async fn insert_template(
    conn: &mut PgConnection,
    template: &Template,
    at: DateTime<Utc>,
) -> Result<StoredTemplate, DomainError> {
    let row = sqlx::query(
        "INSERT INTO templates (kind, channel, subject, body, active, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, kind, channel, subject, body, active, updated_at",
    )
    .bind(&template.kind)
    .bind(template.channel.as_str())
    .bind(&template.subject)
    .bind(&template.body)
    .bind(template.active)
    .bind(at)
    .fetch_one(conn)
    .await
    .map_err(taken(template))?;
    Ok(template_of(&row)?)
}

/// # Errors
/// [`DomainError::TemplateNotFound`], [`DomainError::TemplateTaken`], or
/// the database failed.
pub async fn update_template(
    conn: &mut PgConnection,
    id: i64,
    template: &Template,
    at: DateTime<Utc>,
) -> Result<StoredTemplate, DomainError> {
    let row = sqlx::query(
        "UPDATE templates SET kind = $2, channel = $3, subject = $4, body = $5, active = $6,
                              updated_at = $7
         WHERE id = $1
         RETURNING id, kind, channel, subject, body, active, updated_at",
    )
    .bind(id)
    .bind(&template.kind)
    .bind(template.channel.as_str())
    .bind(&template.subject)
    .bind(&template.body)
    .bind(template.active)
    .bind(at)
    .fetch_optional(conn)
    .await
    .map_err(taken(template))?
    .ok_or(DomainError::TemplateNotFound(id))?;
    Ok(template_of(&row)?)
}

/// The columns of a template, by id.
macro_rules! select_template {
    () => {
        "SELECT id, kind, channel, subject, body, active, updated_at FROM templates WHERE id = $1"
    };
}

/// # Errors
/// [`DomainError::TemplateNotFound`], or the database failed.
pub async fn template(conn: &mut PgConnection, id: i64) -> Result<StoredTemplate, DomainError> {
    template_by(conn, id, select_template!()).await
}

/// As [`template`], locking the row until the transaction ends.
///
/// # Errors
/// [`DomainError::TemplateNotFound`], or the database failed.
pub async fn template_for_update(
    conn: &mut PgConnection,
    id: i64,
) -> Result<StoredTemplate, DomainError> {
    template_by(conn, id, concat!(select_template!(), " FOR UPDATE")).await
}

async fn template_by(
    conn: &mut PgConnection,
    id: i64,
    sql: &'static str,
) -> Result<StoredTemplate, DomainError> {
    let row = sqlx::query(sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::TemplateNotFound(id))?;
    Ok(template_of(&row)?)
}

/// Every template, filtered by kind and channel when given, by kind then
/// channel.
///
/// # Errors
/// The database failed.
pub async fn templates(
    conn: &mut PgConnection,
    kind: Option<&str>,
    channel: Option<Channel>,
) -> Result<Vec<StoredTemplate>, DomainError> {
    let rows = sqlx::query(
        "SELECT id, kind, channel, subject, body, active, updated_at FROM templates
         WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR channel = $2)
         ORDER BY kind, channel",
    )
    .bind(kind)
    .bind(channel.map(Channel::as_str))
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(template_of).collect::<sqlx::Result<_>>()?)
}

/// The active templates of `kind`, by channel.
///
/// # Errors
/// The database failed.
pub async fn active_templates(
    conn: &mut PgConnection,
    kind: &str,
) -> Result<HashMap<Channel, Template>, DomainError> {
    let rows = sqlx::query(
        "SELECT id, kind, channel, subject, body, active, updated_at FROM templates
         WHERE kind = $1 AND active",
    )
    .bind(kind)
    .fetch_all(conn)
    .await?;
    let mut found = HashMap::new();
    for row in &rows {
        let (_, template, _) = template_of(row)?;
        found.insert(template.channel, template);
    }
    Ok(found)
}

// ---- what is known of orders --------------------------------------------

/// The contact an `orders` row keeps.
fn recipient_of(row: &PgRow) -> sqlx::Result<Recipient> {
    Ok(Recipient {
        customer_id: row.try_get("customer_id")?,
        name: row.try_get("name")?,
        email: row.try_get("email")?,
        phone: row.try_get("phone")?,
    })
}

/// Keeps `facts` as the order's, unless what is kept came from a later
/// version of it (`updated_at`).
///
/// # Errors
/// The database failed.
pub async fn remember_order(
    conn: &mut PgConnection,
    facts: &OrderFacts,
    updated_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let r = &facts.recipient;
    sqlx::query(
        "INSERT INTO orders (order_id, customer_id, name, email, phone, order_number,
                             restaurant, amount, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (order_id) DO UPDATE
         SET customer_id = EXCLUDED.customer_id, name = EXCLUDED.name, email = EXCLUDED.email,
             phone = EXCLUDED.phone, order_number = EXCLUDED.order_number,
             restaurant = EXCLUDED.restaurant, amount = EXCLUDED.amount,
             updated_at = EXCLUDED.updated_at
         WHERE orders.updated_at <= EXCLUDED.updated_at",
    )
    .bind(facts.order_id)
    .bind(r.customer_id)
    .bind(&r.name)
    .bind(&r.email)
    .bind(&r.phone)
    .bind(&facts.order_number)
    .bind(&facts.restaurant)
    .bind(&facts.amount)
    .bind(updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What is known of order `order_id`, if any event of it has been seen.
///
/// # Errors
/// The database failed.
pub async fn order_facts(
    conn: &mut PgConnection,
    order_id: i64,
) -> Result<Option<OrderFacts>, DomainError> {
    let row = sqlx::query(
        "SELECT order_id, customer_id, name, email, phone, order_number, restaurant, amount
         FROM orders WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(OrderFacts {
        order_id: row.try_get("order_id")?,
        recipient: recipient_of(&row)?,
        order_number: row.try_get("order_number")?,
        restaurant: row.try_get("restaurant")?,
        amount: row.try_get("amount")?,
    }))
}

/// The contact customer `customer` gave with their latest order.
///
/// # Errors
/// The database failed.
pub async fn latest_contact(
    conn: &mut PgConnection,
    customer: i64,
) -> Result<Option<Recipient>, DomainError> {
    let row = sqlx::query(
        "SELECT customer_id, name, email, phone FROM orders WHERE customer_id = $1
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(customer)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(recipient_of).transpose()?)
}

// ---- preferences ----------------------------------------------------------

/// What each of `customers` set, by customer and channel.
///
/// # Errors
/// The database failed.
pub async fn choices(
    conn: &mut PgConnection,
    customers: &[i64],
) -> Result<HashMap<(i64, Channel), Stored>, DomainError> {
    let rows = sqlx::query(
        "SELECT customer_id, channel, order_updates, marketing FROM preferences
         WHERE customer_id = ANY($1)",
    )
    .bind(customers)
    .fetch_all(conn)
    .await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in &rows {
        found.insert(
            (
                row.try_get("customer_id")?,
                spelled(row, "channel", Channel::from_db)?,
            ),
            Stored {
                order_updates: row.try_get("order_updates")?,
                marketing: row.try_get("marketing")?,
            },
        );
    }
    Ok(found)
}

/// Records what `customer` set on `channel`: the flags `change` gives,
/// leaving the others as they were, in one statement.
///
/// # Errors
/// The database failed.
pub async fn set_choice(
    conn: &mut PgConnection,
    customer: i64,
    channel: Channel,
    change: Stored,
    at: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query(
        "INSERT INTO preferences (customer_id, channel, order_updates, marketing, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (customer_id, channel) DO UPDATE
         SET order_updates = COALESCE(EXCLUDED.order_updates, preferences.order_updates),
             marketing = COALESCE(EXCLUDED.marketing, preferences.marketing),
             updated_at = EXCLUDED.updated_at",
    )
    .bind(customer)
    .bind(channel.as_str())
    .bind(change.order_updates)
    .bind(change.marketing)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

// ---- the delivery log -----------------------------------------------------

// What a `Notification` is read from, whether selected or returned.
macro_rules! notification_columns {
    () => {
        "id, dedupe_key, customer_id, order_id, bulk_job_id, kind, channel, recipient, subject,
         message, provider, provider_response, status, attempts, next_attempt_at, created_at,
         sent_at, delivered_at"
    };
}

fn notification_of(row: &PgRow) -> sqlx::Result<Notification> {
    Ok(Notification {
        id: row.try_get("id")?,
        dedupe_key: row.try_get("dedupe_key")?,
        customer_id: row.try_get("customer_id")?,
        order_id: row.try_get("order_id")?,
        bulk_job_id: row.try_get("bulk_job_id")?,
        kind: row.try_get("kind")?,
        channel: spelled(row, "channel", Channel::from_db)?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        message: row.try_get("message")?,
        provider: row.try_get("provider")?,
        provider_response: row.try_get("provider_response")?,
        status: spelled(row, "status", Status::from_db)?,
        attempts: unsigned(row, "attempts")?,
        next_attempt_at: row.try_get("next_attempt_at")?,
        created_at: row.try_get("created_at")?,
        sent_at: row.try_get("sent_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Writes `intents`, queued and due at `at`, skipping any whose key is
/// already written; returns how many were new.
///
/// # Errors
/// The database failed.
pub async fn insert_intents(
    conn: &mut PgConnection,
    intents: &[Intent],
    at: DateTime<Utc>,
) -> Result<u64, DomainError> {
    if intents.is_empty() {
        return Ok(0);
    }
    let column = |f: fn(&Intent) -> &str| intents.iter().map(f).collect::<Vec<_>>();
    let written = sqlx::query(
        "INSERT INTO notifications (dedupe_key, customer_id, order_id, bulk_job_id, kind,
                                    channel, recipient, subject, message, provider, status,
                                    next_attempt_at, created_at)
         SELECT k, c, o, b, kind, ch, r, s, m, p, 'queued', $11, $11
         FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
              AS i (k, c, o, b, kind, ch, r, s, m, p)
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(column(|i| &i.dedupe_key))
    .bind(intents.iter().map(|i| i.customer_id).collect::<Vec<_>>())
    .bind(intents.iter().map(|i| i.order_id).collect::<Vec<_>>())
    .bind(intents.iter().map(|i| i.bulk_job_id).collect::<Vec<_>>())
    .bind(column(|i| &i.kind))
    .bind(column(|i| i.channel.as_str()))
    .bind(column(|i| &i.recipient))
    .bind(column(|i| &i.subject))
    .bind(column(|i| &i.message))
    .bind(column(|i| &i.provider))
    .bind(at)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(written)
}

/// Claims up to `limit` queued messages of `channel` due at `now`, oldest
/// due first: each becomes `sending`, its attempt counted, under a lease
/// of `lease`. Others claiming at once take other rows.
///
/// # Errors
/// The database failed.
pub async fn claim_due(
    conn: &mut PgConnection,
    channel: Channel,
    limit: u32,
    now: DateTime<Utc>,
    lease: Duration,
) -> Result<Vec<Notification>, DomainError> {
    let lease_until = now + chrono::Duration::from_std(lease).unwrap_or_default();
    let rows = sqlx::query(concat!(
        "UPDATE notifications SET status = 'sending', attempts = attempts + 1, lease_until = $4
         WHERE id IN (SELECT id FROM notifications
                      WHERE status = 'queued' AND channel = $1 AND next_attempt_at <= $2
                      ORDER BY next_attempt_at, id LIMIT $3
                      FOR UPDATE SKIP LOCKED)
         RETURNING ",
        notification_columns!()
    ))
    .bind(channel.as_str())
    .bind(now)
    .bind(i64::from(limit))
    .bind(lease_until)
    .fetch_all(conn)
    .await?;
    let mut claimed = rows
        .iter()
        .map(notification_of)
        .collect::<sqlx::Result<Vec<_>>>()?;
    claimed.sort_by_key(|n| (n.next_attempt_at, n.id));
    Ok(claimed)
}

/// The answer to one attempt, to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub id: i64,
    /// The attempt's number: its claim's, so the answer of a claim that
    /// lapsed and was taken again is not recorded over the newer one.
    pub attempt: u32,
    /// `Queued` (again), `Sent`, `Delivered` or `Failed`.
    pub status: Status,
    pub response: String,
    /// When a queued message is next due.
    pub next_attempt_at: DateTime<Utc>,
}

/// Records the answers of attempts made at `at`, each only while its
/// claim holds: the message still `sending` under the same attempt (one
/// whose lease ran out and was taken again is left to its new sender).
/// Returns the ids recorded.
///
/// # Errors
/// The database failed.
pub async fn settle(
    conn: &mut PgConnection,
    answers: &[Settled],
    at: DateTime<Utc>,
) -> Result<Vec<i64>, DomainError> {
    if answers.is_empty() {
        return Ok(Vec::new());
    }
    let ids = sqlx::query_scalar(
        "UPDATE notifications n
         SET status = a.status, provider_response = a.response, lease_until = NULL,
             next_attempt_at = a.next_at,
             sent_at = CASE WHEN a.status IN ('sent', 'delivered') THEN $5 ELSE n.sent_at END,
             delivered_at = CASE WHEN a.status = 'delivered' THEN $5 ELSE n.delivered_at END
         FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $6::int4[])
              AS a (id, status, response, next_at, attempt)
         WHERE n.id = a.id AND n.status = 'sending' AND n.attempts = a.attempt
         RETURNING n.id",
    )
    .bind(answers.iter().map(|a| a.id).collect::<Vec<_>>())
    .bind(
        answers
            .iter()
            .map(|a| a.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|a| a.response.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        answers
            .iter()
            .map(|a| a.next_attempt_at)
            .collect::<Vec<_>>(),
    )
    .bind(at)
    .bind(
        answers
            .iter()
            .map(|a| i32::try_from(a.attempt).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .fetch_all(conn)
    .await?;
    Ok(ids)
}

/// Puts claimed messages that were never tried back in the queue, as they
/// were before the claim (a stopping sender's).
///
/// # Errors
/// The database failed.
pub async fn release(
    conn: &mut PgConnection,
    untried: &[&Notification],
) -> Result<(), DomainError> {
    if untried.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE notifications n
         SET status = 'queued', attempts = n.attempts - 1, lease_until = NULL
         FROM unnest($1::int8[], $2::int4[]) AS u (id, attempt)
         WHERE n.id = u.id AND n.status = 'sending' AND n.attempts = u.attempt",
    )
    .bind(untried.iter().map(|n| n.id).collect::<Vec<_>>())
    .bind(
        untried
            .iter()
            .map(|n| i32::try_from(n.attempts).unwrap_or(i32::MAX))
            .collect::<Vec<_>>(),
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Messages of `channel` left `sending` by a sender that is gone (their
/// lease ran out before `now`): queued again when `resend` (the provider
/// drops a second copy), else failed, as the first attempt may have
/// reached the recipient. Returns how many of each.
///
/// # Errors
/// The database failed.
pub async fn recover_interrupted(
    conn: &mut PgConnection,
    channel: Channel,
    resend: bool,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let done = sqlx::query(
        "UPDATE notifications
         SET status = CASE WHEN $3 THEN 'queued' ELSE 'failed' END,
             next_attempt_at = $2, lease_until = NULL,
             provider_response = CASE WHEN $3
                 THEN 'interrupted; sent again with the same key'
                 ELSE 'interrupted while sending; not sent again, as it may have arrived' END
         WHERE status = 'sending' AND channel = $1 AND lease_until < $2",
    )
    .bind(channel.as_str())
    .bind(now)
    .bind(resend)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(done)
}

/// The message written under `key`.
///
/// # Errors
/// The database failed.
pub async fn by_key(
    conn: &mut PgConnection,
    key: &str,
) -> Result<Option<Notification>, DomainError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        notification_columns!(),
        " FROM notifications WHERE dedupe_key = $1"
    ))
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(notification_of).transpose()?)
}

/// What a listing of the log is narrowed to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub customer_id: Option<i64>,
    pub order_id: Option<i64>,
    pub recipient: Option<String>,
    pub channel: Option<Channel>,
    pub status: Option<Status>,
    /// The template kind (`order_confirmed`).
    pub kind: Option<String>,
    pub bulk_job_id: Option<i64>,
}

/// A page of the log, newest first: ids below `before`, at most `limit`.
/// Only the filters given are written into the statement, so each shape
/// of query is planned for the index that serves it.
///
/// # Errors
/// The database failed.
pub async fn notifications(
    conn: &mut PgConnection,
    filter: &LogFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Notification>, DomainError> {
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(concat!(
        "SELECT ",
        notification_columns!(),
        " FROM notifications WHERE true"
    ));
    if let Some(customer) = filter.customer_id {
        q.push(" AND customer_id = ").push_bind(customer);
    }
    if let Some(order) = filter.order_id {
        q.push(" AND order_id = ").push_bind(order);
    }
    if let Some(recipient) = &filter.recipient {
        q.push(" AND recipient = ").push_bind(recipient.clone());
    }
    if let Some(channel) = filter.channel {
        q.push(" AND channel = ").push_bind(channel.as_str());
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(kind) = &filter.kind {
        q.push(" AND kind = ").push_bind(kind.clone());
    }
    if let Some(job) = filter.bulk_job_id {
        q.push(" AND bulk_job_id = ").push_bind(job);
    }
    if let Some(before) = before {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ")
        .push_bind(i64::from(limit));
    let rows = q.build().fetch_all(conn).await?;
    Ok(rows
        .iter()
        .map(notification_of)
        .collect::<sqlx::Result<_>>()?)
}

// ---- bulk sends -----------------------------------------------------------

/// A bulk send to record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewBulkJob<'a> {
    pub kind: &'a str,
    pub channel: Channel,
    pub category: Category,
    pub recipients: u32,
    pub skipped: u32,
    pub created_by: &'a str,
    /// The sender's key, if any.
    pub idempotency_key: Option<&'a str>,
}

/// Records a bulk send; its id.
///
/// # Errors
/// The database failed.
pub async fn insert_bulk_job(
    conn: &mut PgConnection,
    job: &NewBulkJob<'_>,
    at: DateTime<Utc>,
) -> Result<i64, DomainError> {
    let id = sqlx::query_scalar(
        "INSERT INTO bulk_jobs (kind, channel, category, recipients, skipped, created_by,
                               idempotency_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(job.kind)
    .bind(job.channel.as_str())
    .bind(job.category.as_str())
    .bind(i32::try_from(job.recipients).unwrap_or(i32::MAX))
    .bind(i32::try_from(job.skipped).unwrap_or(i32::MAX))
    .bind(job.created_by)
    .bind(job.idempotency_key)
    .bind(at)
    .fetch_one(conn)
    .await?;
    Ok(id)
}

/// The bulk send `created_by` started with `key`, if any, read under a
/// transaction-scoped lock on the pair: a second start with the same key
/// waits for the first to commit, then finds it.
///
/// # Errors
/// The database failed.
pub async fn bulk_job_by_key(
    conn: &mut PgConnection,
    created_by: &str,
    key: &str,
) -> Result<Option<i64>, DomainError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || ':' || $2, 7))")
        .bind(created_by)
        .bind(key)
        .execute(&mut *conn)
        .await?;
    let id = sqlx::query_scalar(
        "SELECT id FROM bulk_jobs WHERE created_by = $1 AND idempotency_key = $2",
    )
    .bind(created_by)
    .bind(key)
    .fetch_optional(conn)
    .await?;
    Ok(id)
}

/// Bulk send `id` with its progress.
///
/// # Errors
/// [`DomainError::BulkNotFound`], or the database failed.
pub async fn bulk_job(conn: &mut PgConnection, id: i64) -> Result<BulkJob, DomainError> {
    let row = sqlx::query(
        "SELECT j.id, j.kind, j.channel, j.category, j.recipients, j.skipped, j.created_by,
                j.created_at,
                count(*) FILTER (WHERE n.status IN ('queued', 'sending'))::int4 AS pending,
                count(*) FILTER (WHERE n.status = 'sent')::int4 AS sent,
                count(*) FILTER (WHERE n.status = 'delivered')::int4 AS delivered,
                count(*) FILTER (WHERE n.status = 'failed')::int4 AS failed,
                coalesce(max(coalesce(n.delivered_at, n.sent_at, n.next_attempt_at)),
                         j.created_at) AS last_at
         FROM bulk_jobs j LEFT JOIN notifications n ON n.bulk_job_id = j.id
         WHERE j.id = $1
         GROUP BY j.id",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::BulkNotFound(id))?;
    let pending = unsigned(&row, "pending")?;
    Ok(BulkJob {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        channel: spelled(&row, "channel", Channel::from_db)?,
        category: spelled(&row, "category", Category::from_db)?,
        recipients: unsigned(&row, "recipients")?,
        skipped: unsigned(&row, "skipped")?,
        created_by: row.try_get("created_by")?,
        created_at: row.try_get("created_at")?,
        progress: Progress {
            pending,
            sent: unsigned(&row, "sent")?,
            delivered: unsigned(&row, "delivered")?,
            failed: unsigned(&row, "failed")?,
            finished_at: if pending == 0 {
                row.try_get("last_at")?
            } else {
                None
            },
        },
    })
}
