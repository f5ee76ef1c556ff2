//! notification-svc: the customer hears of every step of their order, once,
//! on the channels they chose. Order and delivery events are written as
//! messages (intents, unique per event, recipient and channel) in the
//! consumer's unit of work; a sender per channel hands them to that
//! channel's provider — the log, SMTP, Twilio's SMS API, a signed push
//! webhook — retrying with backoff, and records every answer in the
//! delivery log. Admins manage templates and send by hand or in bulk;
//! customers choose their channels.
//!
//! # Layout
//! Lowest first: a module uses only modules listed before it.
//! - [`domain`] — channels, templates, preferences, a message's lifecycle
//!   and its retry schedule, bulk sends.
//! - [`store`] — every SQL statement.
//! - [`providers`] — the ways messages leave, behind one interface.
//! - [`observe`] — the business metrics.
//! - [`service`] — each use, in one unit of work.
//! - [`convert`] — domain ↔ protobuf, and what the events carry.
//! - [`events`] — the consumer of order-svc's and delivery-svc's events.
//! - [`tasks`] — the senders, one per channel.
//! - [`grpc`] — the `NotificationService` implementation.
//! - [`build`] — what `main` and the tests call.
//! - `migrations/` — the service's own schema.
//!
//! # Configuration
//! Besides the variables every service reads ([`ServiceConfig`]):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `NOTIFY_EMAIL_PROVIDER` | `log` | `log` or `smtp` |
//! | `SMTP_URL` | — | the SMTP server: `smtp://host:port`, `smtp://host:port?tls=required` or `smtps://user:pass@host` |
//! | `SMTP_FROM` | `FoodMesh <orders@foodmesh.local>` | the sender |
//! | `NOTIFY_SMS_PROVIDER` | `log` | `log` or `twilio` |
//! | `TWILIO_BASE_URL` | `https://api.twilio.com` | Twilio, or a service of its shape |
//! | `TWILIO_ACCOUNT_SID`, `TWILIO_AUTH_TOKEN`, `TWILIO_FROM` | — | the account, and the sending number or Messaging Service SID |
//! | `NOTIFY_PUSH_PROVIDER` | `log` | `log` or `webhook` |
//! | `PUSH_WEBHOOK_URL`, `PUSH_WEBHOOK_SECRET` | — | the push gateway, and the secret its calls are signed with |
//! | `NOTIFY_RATE_EMAIL`, `NOTIFY_RATE_SMS`, `NOTIFY_RATE_PUSH` | `50`, `10`, `200` | messages per second each process gives a channel's provider at most (replicas each take the rate) |
//! | `NOTIFY_BATCH` | `64` | messages a sender claims at once |
//! | `NOTIFY_MAX_ATTEMPTS` | `6` | attempts before a message fails |
//! | `NOTIFY_RETRY_BASE_MS` | `2000` | the first retry's ceiling; each doubles, up to five minutes, with full jitter |
//! | `NOTIFY_LEASE_SECONDS` | `120` | how long a claimed message may stay unanswered before it counts as interrupted |
//! | `PUBLIC_URL` | `http://localhost:8000` | where the links in messages point: the storefront's order page (`/#/order/{id}`) and the public delivery tracking |

pub mod convert;
pub mod domain;
pub mod events;
pub mod grpc;
pub mod observe;
pub mod providers;
pub mod service;
pub mod store;
pub mod tasks;

use std::sync::Arc;
use std::time::Duration;

use foodmesh_proto::notification::v1::notification_service_server::NotificationServiceServer;
use foodmesh_shared::config::{ConfigError, parse_var};
use foodmesh_shared::discovery::Discovery;
use foodmesh_shared::events::EventBus;
use foodmesh_shared::grpc::GrpcServer;
use foodmesh_shared::{Application, ServiceConfig, ServiceName, db};

use crate::domain::channel::Channel;
use crate::domain::message::Backoff;
use crate::providers::http::HttpClient;
use crate::providers::push::PushWebhook;
use crate::providers::smtp::Smtp;
use crate::providers::twilio::{Twilio, TwilioSettings};
use crate::providers::{Provider, Providers, log::Log};
use crate::service::{ChannelRates, Settings};

/// The largest request the API reads: room for a bulk send's most
/// recipients.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// The service's schema, embedded so the binary migrates its own database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!();

/// Reads how messages are sent through `lookup`.
///
/// # Errors
/// A variable that is set but not a number in range, named in the error.
pub fn settings(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
    let defaults = Settings::default();
    let rate = |var: &str, default: u32| -> Result<u32, ConfigError> {
        let n: u32 = parse_var(lookup, var, default.to_string())?;
        Ok(n.clamp(1, 100_000))
    };
    let max_attempts: u32 = parse_var(lookup, "NOTIFY_MAX_ATTEMPTS", "6".to_owned())?;
    let base_ms: u64 = parse_var(lookup, "NOTIFY_RETRY_BASE_MS", "2000".to_owned())?;
    let lease: u64 = parse_var(lookup, "NOTIFY_LEASE_SECONDS", "120".to_owned())?;
    let batch: u32 = parse_var(lookup, "NOTIFY_BATCH", "64".to_owned())?;
    Ok(Settings {
        backoff: Backoff {
            base: Duration::from_millis(base_ms.clamp(1, 3_600_000)),
            cap: defaults.backoff.cap,
            max_attempts: max_attempts.clamp(1, 50),
        },
        lease: Duration::from_secs(lease.clamp(1, 3600)),
        rate: ChannelRates {
            email: rate("NOTIFY_RATE_EMAIL", defaults.rate.email)?,
            sms: rate("NOTIFY_RATE_SMS", defaults.rate.sms)?,
            push: rate("NOTIFY_RATE_PUSH", defaults.rate.push)?,
        },
        batch: batch.clamp(1, 1000),
        public_url: lookup("PUBLIC_URL")
            .filter(|u| !u.trim().is_empty())
            .unwrap_or(defaults.public_url),
    })
}

/// The providers configuration names, through `lookup`.
///
/// # Errors
/// An unknown provider, or one whose settings are missing or unreadable,
/// named in the error.
pub fn providers(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Providers, ConfigError> {
    let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let required = |name: &str, for_what: &str| {
        var(name).ok_or_else(|| ConfigError::new(name, format!("is required by {for_what}")))
    };
    let http = HttpClient::new();
    let choice = |name: &str| var(name).unwrap_or_else(|| "log".to_owned());
    let email: Arc<dyn Provider> = match choice("NOTIFY_EMAIL_PROVIDER").as_str() {
        "log" => Arc::new(Log),
        "smtp" => {
            let url = required("SMTP_URL", "the smtp provider")?;
            let from =
                var("SMTP_FROM").unwrap_or_else(|| "FoodMesh <orders@foodmesh.local>".to_owned());
            Arc::new(
                Smtp::new(&url, &from)
                    .map_err(|e| ConfigError::new("SMTP_URL", format!("or SMTP_FROM: {e}")))?,
            )
        }
        other => {
            return Err(ConfigError::new(
                "NOTIFY_EMAIL_PROVIDER",
                format!("`{other}`: must be log or smtp"),
            ));
        }
    };
    let sms: Arc<dyn Provider> = match choice("NOTIFY_SMS_PROVIDER").as_str() {
        "log" => Arc::new(Log),
        "twilio" => {
            let settings = TwilioSettings {
                base_url: var("TWILIO_BASE_URL")
                    .unwrap_or_else(|| "https://api.twilio.com".to_owned()),
                account_sid: required("TWILIO_ACCOUNT_SID", "the twilio provider")?,
                auth_token: required("TWILIO_AUTH_TOKEN", "the twilio provider")?,
                from: required("TWILIO_FROM", "the twilio provider")?,
            };
            Arc::new(
                Twilio::new(settings, http.clone())
                    .map_err(|e| ConfigError::new("TWILIO_AUTH_TOKEN", e.to_string()))?,
            )
        }
        other => {
            return Err(ConfigError::new(
                "NOTIFY_SMS_PROVIDER",
                format!("`{other}`: must be log or twilio"),
            ));
        }
    };
    let push: Arc<dyn Provider> = match choice("NOTIFY_PUSH_PROVIDER").as_str() {
        "log" => Arc::new(Log),
        "webhook" => Arc::new(PushWebhook::new(
            required("PUSH_WEBHOOK_URL", "the webhook provider")?,
            required("PUSH_WEBHOOK_SECRET", "the webhook provider")?.into_bytes(),
            http,
        )),
        other => {
            return Err(ConfigError::new(
                "NOTIFY_PUSH_PROVIDER",
                format!("`{other}`: must be log or webhook"),
            ));
        }
    };
    Ok(Providers { email, sms, push })
}

/// Builds the service with its settings and providers from the
/// environment.
///
/// # Errors
/// A bad notification-svc variable, or as [`build_with`].
pub async fn build(config: ServiceConfig) -> anyhow::Result<Application> {
    let env = |k: &str| std::env::var(k).ok();
    build_with(config, settings(&env)?, providers(&env)?).await
}

/// Connects and migrates the database, binds the listener and returns the
/// service ready to run, with its consumer of order and delivery events
/// and a sender per channel as background tasks.
///
/// # Errors
/// Postgres or Redis is unreachable, a migration fails, or the address is
/// taken.
pub async fn build_with(
    config: ServiceConfig,
    settings: Settings,
    providers: Providers,
) -> anyhow::Result<Application> {
    let pool = db::connect(&config.database_url, config.db_max_connections, &MIGRATOR).await?;
    observe::describe();
    tracing::info!(?providers, rates = ?settings.rate, "notification providers");
    let notifications =
        service::Notifications::new(pool.clone(), providers, settings, config.clock.clone());
    // A bulk send of 100,000 recipients is some 6 MB on the wire.
    let api = NotificationServiceServer::new(grpc::NotificationApi::new(notifications.clone()))
        .max_decoding_message_size(MAX_REQUEST_BYTES);
    let server = GrpcServer::new().add_service(api);
    let discovery = Discovery::from_config(&config.discovery);
    let mut app = Application::bind(&config, server, pool.clone(), discovery).await?;
    let bus = EventBus::new(&config);
    // A delivery event may be read before the order events it follows (the
    // streams are read apart, and a backlog drains unevenly): it is retried
    // until they are, for some 13 minutes (200 ms doubling up to 205 s,
    // 14 attempts).
    let consumer = bus
        .consumer_with(
            pool,
            &[ServiceName::Order, ServiceName::Delivery],
            Arc::new(events::router(&notifications)),
            |config| config.max_attempts = 14,
        )
        .await?;
    app.background("event consumer", |stop| consumer.run(stop));
    for (channel, name) in [
        (Channel::Email, "email sender"),
        (Channel::Sms, "sms sender"),
        (Channel::Push, "push sender"),
    ] {
        let notifications = notifications.clone();
        app.background(name, move |stop| {
            tasks::sender(notifications, channel, stop)
        });
    }
    Ok(app)
}
