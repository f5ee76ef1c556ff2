//! notification-svc spawned on port 0 with its own database and event
//! streams, its providers pointed at doubles on loopback (a real SMTP
//! listener, Twilio's API, a push gateway), fed order and delivery events
//! through the real Redis and called over real gRPC.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as delivery;
use foodmesh_proto::events::v1::{DeliveryEvent, OrderEvent};
use foodmesh_proto::notification::v1 as pb;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::testing::SpawnedService;
use foodmesh_shared::testing::push::PushReceiver;
use foodmesh_shared::testing::smtp::SmtpSink;
use foodmesh_shared::testing::twilio::TwilioDouble;
use foodmesh_shared::{ServiceConfig, ServiceName};
use notification_svc::service::{ChannelRates, Settings};
use pb::notification_service_client::NotificationServiceClient;
use sqlx::PgPool;
use tonic::transport::Channel;

pub type Client = NotificationServiceClient<Channel>;

pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-test-token";
pub const TWILIO_FROM: &str = "+15005550006";
pub const PUSH_SECRET: &str = "whsec_push_test";

/// How long anything a test waits for may take.
pub const EVENTUAL: Duration = Duration::from_secs(15);

/// The doubles every provider talks to.
pub struct Doubles {
    pub smtp: SmtpSink,
    pub twilio: TwilioDouble,
    pub push: PushReceiver,
}

impl Doubles {
    pub async fn start() -> Self {
        Self {
            smtp: SmtpSink::start().await,
            twilio: TwilioDouble::start(TWILIO_SID, TWILIO_TOKEN).await,
            push: PushReceiver::start(PUSH_SECRET).await,
        }
    }

    /// The environment that points each channel's provider at its double.
    fn environment(&self) -> HashMap<&'static str, String> {
        HashMap::from([
            ("NOTIFY_EMAIL_PROVIDER", "smtp".to_owned()),
            ("SMTP_URL", self.smtp.url()),
            ("SMTP_FROM", "FoodMesh <orders@foodmesh.test>".to_owned()),
            ("NOTIFY_SMS_PROVIDER", "twilio".to_owned()),
            ("TWILIO_BASE_URL", self.twilio.url()),
            ("TWILIO_ACCOUNT_SID", TWILIO_SID.to_owned()),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN.to_owned()),
            ("TWILIO_FROM", TWILIO_FROM.to_owned()),
            ("NOTIFY_PUSH_PROVIDER", "webhook".to_owned()),
            ("PUSH_WEBHOOK_URL", self.push.url()),
            ("PUSH_WEBHOOK_SECRET", PUSH_SECRET.to_owned()),
        ])
    }
}

/// Sending as the tests want it: retries within a second, a short lease,
/// no pacing to speak of.
pub fn quick() -> Settings {
    let mut settings = Settings::default();
    settings.backoff.base = Duration::from_millis(100);
    settings.backoff.max_attempts = 4;
    settings.lease = Duration::from_secs(2);
    settings.rate = ChannelRates {
        email: 1000,
        sms: 1000,
        push: 1000,
    };
    settings
}

pub struct TestApp {
    /// `None` only while crashed.
    service: Option<SpawnedService>,
    /// While crashed: the database and event prefix to start again on.
    crashed: Option<(foodmesh_shared::testing::TestDb, String)>,
    settings: Settings,
    pub doubles: Doubles,
    pub pool: PgPool,
    client: Client,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(quick()).await
}

pub async fn spawn_with(settings: Settings) -> TestApp {
    foodmesh_shared::telemetry::prometheus();
    let doubles = Doubles::start().await;
    let service = start(&doubles, &settings, None, None).await;
    let pool = PgPool::connect(service.db().url())
        .await
        .expect("test pool connects");
    let client = NotificationServiceClient::new(service.channel().await);
    TestApp {
        service: Some(service),
        crashed: None,
        settings,
        doubles,
        pool,
        client,
    }
}

/// The service's providers, pointed at `doubles`.
fn providers_of(doubles: &Doubles) -> notification_svc::providers::Providers {
    let environment = doubles.environment();
    notification_svc::providers(&|k| environment.get(k).cloned())
        .expect("the doubles' settings are whole")
}

async fn start(
    doubles: &Doubles,
    settings: &Settings,
    db: Option<foodmesh_shared::testing::TestDb>,
    prefix: Option<String>,
) -> SpawnedService {
    let providers = providers_of(doubles);
    let settings = settings.clone();
    let build = move |config| notification_svc::build_with(config, settings, providers);
    match db {
        None => SpawnedService::start_with(ServiceName::Notification, |_| {}, build).await,
        Some(db) => {
            SpawnedService::start_on(
                db,
                ServiceName::Notification,
                |config| config.event_prefix = prefix.unwrap_or_default(),
                build,
            )
            .await
        }
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The service's configuration: its event prefix and Redis.
    pub fn config(&self) -> &ServiceConfig {
        self.service
            .as_ref()
            .expect("the service runs outside a restart")
            .config()
    }

    /// Kills the service as a crashed process dies — its consumer and
    /// senders cut wherever they are — and starts it again on the same
    /// database and streams, with the same providers.
    pub async fn crash_and_restart(&mut self) {
        self.crash().await;
        self.restart().await;
    }

    /// Kills the service; [`TestApp::restart`] starts it again.
    pub async fn crash(&mut self) {
        let service = self.service.take().expect("a running service");
        let prefix = service.config().event_prefix.clone();
        self.crashed = Some((service.crash().await, prefix));
    }

    /// The service's use cases over its database and the doubles, outside
    /// any running process: to drive a sender by hand while crashed.
    pub fn notifications(&self) -> notification_svc::service::Notifications {
        notification_svc::service::Notifications::new(
            self.pool.clone(),
            providers_of(&self.doubles),
            self.settings.clone(),
            foodmesh_shared::clock::Clock::system(),
        )
    }

    pub async fn restart(&mut self) {
        let (db, prefix) = self.crashed.take().expect("a crashed service");
        let service = start(&self.doubles, &self.settings, Some(db), Some(prefix)).await;
        self.client = NotificationServiceClient::new(service.channel().await);
        self.service = Some(service);
    }

    /// Publishes `event_type` of `order` on order-svc's stream, as its
    /// relay would; the encoded envelope, to deliver again.
    pub async fn publish_order(&self, event_type: &str, order: &order::Order) -> Vec<u8> {
        let payload = OrderEvent {
            order: Some(order.clone()),
            contact: order.contact.clone(),
            change: Some(order::StatusChange {
                reason: if event_type == "order.cancelled" {
                    "the kitchen is closed".to_owned()
                } else {
                    String::new()
                },
                ..Default::default()
            }),
            prep_minutes: order.prep_minutes,
            ..Default::default()
        };
        let envelope =
            foodmesh_shared::testing::envelope(event_type, &order.id.to_string(), &payload);
        self.deliver(ServiceName::Order, &envelope).await;
        envelope
    }

    /// Publishes `event_type` of the delivery of order `order_id` on
    /// delivery-svc's stream, arriving in `eta_minutes`.
    pub async fn publish_delivery(
        &self,
        event_type: &str,
        order_id: i64,
        eta_minutes: u64,
    ) -> Vec<u8> {
        let eta = SystemTime::now() + Duration::from_secs(eta_minutes * 60 + 30);
        let payload = DeliveryEvent {
            delivery: Some(delivery::Delivery {
                id: order_id + 1000,
                order_id,
                tracking_id: format!("TRK{order_id}"),
                eta: Some(prost_types::Timestamp::from(eta)),
                ..Default::default()
            }),
        };
        let envelope = foodmesh_shared::testing::envelope(
            event_type,
            &(order_id + 1000).to_string(),
            &payload,
        );
        self.deliver(ServiceName::Delivery, &envelope).await;
        envelope
    }

    /// Adds an encoded envelope to `from`'s stream (again).
    pub async fn deliver(&self, from: ServiceName, envelope: &[u8]) {
        foodmesh_shared::testing::deliver(self.config(), from, envelope).await;
    }

    /// Customer `customer`'s choice on `channel`.
    pub async fn choose(
        &self,
        customer: i64,
        channel: pb::Channel,
        order_updates: bool,
        marketing: bool,
    ) {
        self.client()
            .set_preferences(pb::SetPreferencesRequest {
                customer_id: customer,
                changes: vec![pb::PreferenceChange {
                    channel: channel.into(),
                    order_updates: Some(order_updates),
                    marketing: Some(marketing),
                }],
            })
            .await
            .expect("preferences set");
    }

    /// The log as `filter` narrows it, newest first (one page of 100).
    pub async fn log(&self, filter: pb::ListNotificationsRequest) -> Vec<pb::Notification> {
        self.client()
            .list_notifications(pb::ListNotificationsRequest {
                page: Some(common::PageRequest {
                    page_size: 100,
                    page_token: String::new(),
                }),
                ..filter
            })
            .await
            .expect("listed")
            .into_inner()
            .notifications
    }

    /// The log of order `order_id` once `done` holds of it (at most
    /// [`EVENTUAL`]).
    pub async fn log_of_order(
        &self,
        order_id: i64,
        done: impl Fn(&[pb::Notification]) -> bool,
    ) -> Vec<pb::Notification> {
        let started = std::time::Instant::now();
        loop {
            let found = self
                .log(pb::ListNotificationsRequest {
                    order_id,
                    ..Default::default()
                })
                .await;
            if done(&found) {
                return found;
            }
            assert!(
                started.elapsed() < EVENTUAL,
                "order {order_id}'s log after {EVENTUAL:?}: {found:#?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Every message settled (sent, delivered or failed).
pub fn settled(log: &[pb::Notification]) -> bool {
    log.iter().all(|n| {
        !matches!(
            n.status(),
            pb::NotificationStatus::Queued | pb::NotificationStatus::Sending
        )
    })
}

/// An order as order-svc's events carry it: by customer `customer`, with
/// this contact, `order_type`, paid by `payment`, USD 25.98.
pub fn order_of(
    id: i64,
    customer: i64,
    contact: (&str, &str, &str),
    order_type: order::OrderType,
    payment: order::PaymentMethod,
) -> order::Order {
    let (name, email, phone) = contact;
    order::Order {
        id,
        order_number: format!("N{id:05}"),
        restaurant_id: 3,
        restaurant_name: "Pizza Palace".to_owned(),
        customer_id: customer,
        order_type: order_type.into(),
        payment_method: payment.into(),
        status: order::OrderStatus::Pending.into(),
        totals: Some(order::Totals {
            total: Some(common::Money {
                amount_minor: 2598,
                currency: "USD".to_owned(),
            }),
            ..Default::default()
        }),
        contact: Some(order::Guest {
            name: name.to_owned(),
            email: email.to_owned(),
            phone: phone.to_owned(),
        }),
        prep_minutes: 20,
        created_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        updated_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        confirmed_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        ..Default::default()
    }
}

/// The `ErrorInfo` reason of a refusal, which must be this service's.
pub fn reason(status: &tonic::Status) -> String {
    foodmesh_shared::testing::reason(status, "foodmesh.notification")
}
