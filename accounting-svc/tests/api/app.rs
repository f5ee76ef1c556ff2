//! accounting-svc spawned on port 0 with its own database and event
//! streams, fed order events through the real Redis and called over real
//! gRPC.

use std::time::{Duration, SystemTime};

use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::events::v1::OrderEvent;
use foodmesh_proto::order::v1 as order;
use foodmesh_shared::ServiceName;
use foodmesh_shared::testing::SpawnedService;
use pb::accounting_service_client::AccountingServiceClient;
use sqlx::PgPool;
use tonic::transport::Channel;

pub type Client = AccountingServiceClient<Channel>;

/// A running accounting-svc on a fresh database with streams of its own;
/// they go when it drops.
pub struct TestApp {
    service: SpawnedService,
    pub pool: PgPool,
    client: Client,
}

pub async fn spawn_app() -> TestApp {
    foodmesh_shared::telemetry::prometheus();
    let secrets = std::collections::HashMap::from([(
        accounting_svc::providers::mobile_money::NAME.to_owned(),
        accounting_svc::SANDBOX_WEBHOOK_SECRET.as_bytes().to_vec(),
    )]);
    let service = SpawnedService::start_with(
        ServiceName::Accounting,
        |_| {},
        |config| accounting_svc::build_with(config, secrets),
    )
    .await;
    let pool = PgPool::connect(service.db().url())
        .await
        .expect("test pool connects");
    let client = AccountingServiceClient::new(service.channel().await);
    TestApp {
        service,
        pool,
        client,
    }
}

impl TestApp {
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// Publishes an order event on order-svc's stream, as its relay would;
    /// returns the encoded envelope so a test can deliver it again.
    pub async fn publish(&self, event_type: &str, order: &order::Order) -> Vec<u8> {
        let payload = OrderEvent {
            order: Some(order.clone()),
            ..Default::default()
        };
        let envelope =
            foodmesh_shared::testing::envelope(event_type, &order.id.to_string(), &payload);
        self.deliver(&envelope).await;
        envelope
    }

    /// Adds an encoded envelope to order-svc's stream (again).
    pub async fn deliver(&self, envelope: &[u8]) {
        foodmesh_shared::testing::deliver(self.service.config(), ServiceName::Order, envelope)
            .await;
    }

    /// Waits (at most 10 s) until `count` events of the consumer have been
    /// handled, counted where it records them.
    pub async fn wait_for_handled(&self, count: i64) {
        let mut handled = 0;
        for _ in 0..500 {
            handled = sqlx::query_scalar("SELECT count(*) FROM processed_events")
                .fetch_one(&self.pool)
                .await
                .expect("processed events");
            if handled >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{handled} events handled, not {count}, after 10 s");
    }

    /// The payment event types in the outbox, oldest first.
    pub async fn events(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT event_type FROM outbox ORDER BY seq")
            .fetch_all(&self.pool)
            .await
            .expect("the outbox")
    }

    /// The order's invoices (one, if all is well).
    pub async fn invoices_of(&self, order_id: i64) -> Vec<pb::Invoice> {
        self.client()
            .list_invoices(pb::ListInvoicesRequest {
                order_id: Some(order_id),
                ..Default::default()
            })
            .await
            .expect("listed")
            .into_inner()
            .invoices
    }

    /// The order's live payment's status, read from the database.
    pub async fn payment_status(&self, order_id: i64) -> Option<String> {
        sqlx::query_scalar(
            "SELECT status FROM payments WHERE order_id = $1
             ORDER BY id DESC LIMIT 1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await
        .expect("payments")
    }

    /// Ledger transactions of `kind` recorded for the order.
    pub async fn ledger(&self, order_id: i64, kind: &str) -> i64 {
        sqlx::query_scalar(
            "SELECT count(*) FROM ledger_transactions WHERE order_id = $1 AND kind = $2",
        )
        .bind(order_id)
        .bind(kind)
        .fetch_one(&self.pool)
        .await
        .expect("the ledger")
    }
}

/// A PENDING order of 25.99 USD at restaurant 7, as order-svc shows it:
/// two lines, a discount, a fee and tax that add up.
pub fn pending_order(id: i64, method: order::PaymentMethod) -> order::Order {
    let usd = |amount_minor| {
        Some(common::Money {
            amount_minor,
            currency: "USD".to_owned(),
        })
    };
    order::Order {
        id,
        order_number: format!("A{id:05}"),
        restaurant_id: 7,
        customer_id: 11,
        status: order::OrderStatus::Pending.into(),
        payment_method: method.into(),
        currency: "USD".to_owned(),
        items: vec![
            order::OrderLine {
                id: 1,
                name: "Margherita".to_owned(),
                quantity: 2,
                unit_price: usd(900),
                line_total: usd(1_800),
                options: vec![order::OrderLineOption {
                    option_id: 3,
                    name: "extra basil".to_owned(),
                    price_delta: usd(0),
                }],
                ..Default::default()
            },
            order::OrderLine {
                id: 2,
                name: "Tiramisu".to_owned(),
                quantity: 1,
                unit_price: usd(600),
                line_total: usd(600),
                ..Default::default()
            },
        ],
        totals: Some(order::Totals {
            subtotal: usd(2_400),
            discount: usd(200),
            delivery_fee: usd(199),
            tax: usd(200),
            total: usd(2_599),
        }),
        updated_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        ..Default::default()
    }
}

/// The order after a status change order-svc made.
pub fn with_status(order: &order::Order, status: order::OrderStatus) -> order::Order {
    order::Order {
        status: status.into(),
        updated_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        ..order.clone()
    }
}

/// A card payment request for `order` from customer 11.
pub fn card_payment(order: &order::Order, source: &str, key: &str) -> pb::CreatePaymentRequest {
    pb::CreatePaymentRequest {
        order_id: order.id,
        method: pb::PaymentMethod::Card.into(),
        source: source.to_owned(),
        idempotency_key: key.to_owned(),
        order: Some(order.clone()),
        actor: Some(common::Actor {
            kind: common::ActorKind::Customer.into(),
            id: "11".to_owned(),
        }),
        ..Default::default()
    }
}

/// The `ErrorInfo` reason of a refusal, which must be this service's.
pub fn reason(status: &tonic::Status) -> String {
    foodmesh_shared::testing::reason(status, "foodmesh.accounting")
}
