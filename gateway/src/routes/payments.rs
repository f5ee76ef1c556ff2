//! `/api/payments`: paying an order, confirming, capturing and voiding a
//! payment, refunds, invoices, and providers calling back.
//!
//! Who sees what: a payment or invoice is visible to whoever may see its
//! order (its customer, a guest with the order's access token, the
//! restaurant's staff, admins); anyone else gets 404, as if it did not
//! exist. Capturing, voiding and refunding are for the restaurant's staff
//! and admins. A declined payment is answered 402 `payment_declined` with
//! the provider's `decline_reason` and the `payment_id`: the order stays
//! PENDING, to be paid again another way.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason;
use foodmesh_shared::values::pages;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tonic_types::StatusExt;
use utoipa::{IntoParams, ToSchema};

use super::orders::{OrderParty, Party, idempotency_key, open_order};
use super::{AppState, amount, created, from_timestamp, to_timestamp};
use crate::extract::{JsonBody, QueryParams, ResourceId};
use crate::money::{Decimal, DecimalText};
use crate::problem::{FieldError, Problem, ProblemDetails};
use crate::upstream::UpstreamError;

wire_enum!(
    /// Where a payment stands: `created → authorized → captured`, or
    /// `declined` / `voided`, then `partially_refunded` / `refunded`.
    PaymentStatus: pb::PaymentStatus {
        /// Waiting for the customer's confirmation (3-D Secure, approval
        /// on the phone).
        Created = "created" => Created,
        /// The money is held for the order.
        Authorized = "authorized" => Authorized,
        /// The money is taken (when the order completed).
        Captured = "captured" => Captured,
        /// The provider refused; pay again another way.
        Declined = "declined" => Declined,
        /// The hold was released (the order was cancelled first).
        Voided = "voided" => Voided,
        /// Some of it was given back.
        PartiallyRefunded = "partially_refunded" => PartiallyRefunded,
        /// All of it was given back.
        Refunded = "refunded" => Refunded,
    }
);

wire_enum!(
    /// How the customer pays.
    Method: pb::PaymentMethod {
        Card = "card" => Card,
        Cash = "cash" => Cash,
        MobileMoney = "mobile_money" => MobileMoney,
    }
);

/// A payment as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 12, "order_id": 42, "payment_method": "card", "status": "authorized",
    "amount": 25.98, "captured": 0.00, "refunded": 0.00, "refundable": 0.00, "currency": "USD",
    "provider": "sandbox_card", "provider_reference": null, "decline_reason": null,
    "created_at": "2026-11-23T18:00:00Z", "updated_at": "2026-11-23T18:00:00Z"
}))]
pub struct PaymentView {
    pub id: i64,
    pub order_id: i64,
    pub payment_method: Method,
    pub status: PaymentStatus,
    /// The order's total.
    pub amount: Decimal,
    /// What was taken.
    pub captured: Decimal,
    /// What was given back.
    pub refunded: Decimal,
    /// What a refund may still give back: captured less refunded.
    pub refundable: Decimal,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// Who decides: `sandbox_card`, `cash`, `sandbox_mobile_money`.
    pub provider: String,
    /// The provider's id of the payment (mobile money's calls back name it).
    pub provider_reference: Option<String>,
    /// Why the provider declined.
    pub decline_reason: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
}

impl PaymentView {
    /// The JSON view of a payment from accounting-svc.
    ///
    /// # Errors
    /// accounting-svc sent an unknown status or method.
    pub fn from_proto(p: pb::Payment) -> Result<Self, Problem> {
        let unknown =
            |what: &str| Problem::internal(&format_args!("accounting-svc sent an unknown {what}"));
        let currency = p
            .amount
            .as_ref()
            .map(|m| m.currency.clone())
            .unwrap_or_default();
        let minor = |m: &Option<common::Money>| m.as_ref().map_or(0, |m| m.amount_minor);
        let refundable = common::Money {
            amount_minor: (minor(&p.captured) - minor(&p.refunded)).max(0),
            currency: currency.clone(),
        };
        Ok(Self {
            id: p.id,
            order_id: p.order_id,
            payment_method: Method::from_proto(p.method).ok_or_else(|| unknown("method"))?,
            status: PaymentStatus::from_proto(p.status).ok_or_else(|| unknown("status"))?,
            amount: amount(p.amount.as_ref(), &currency)?.0,
            captured: amount(p.captured.as_ref(), &currency)?.0,
            refunded: amount(p.refunded.as_ref(), &currency)?.0,
            refundable: amount(Some(&refundable), &currency)?.0,
            currency,
            provider: p.provider,
            provider_reference: Some(p.provider_reference).filter(|r| !r.is_empty()),
            decline_reason: Some(p.decline_reason).filter(|r| !r.is_empty()),
            created_at: from_timestamp(p.created_at.as_ref()),
            updated_at: from_timestamp(p.updated_at.as_ref()),
        })
    }
}

/// Paying an order.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"order_id": 42, "amount": 25.98, "payment_method": "card", "source": "tok_visa"}))]
pub struct NewPayment {
    pub order_id: i64,
    /// The order's total, if you state it: a different amount is refused
    /// (409 `amount_mismatch`) rather than charged.
    #[serde(default)]
    pub amount: Option<DecimalText>,
    /// `card` (also written `credit_card`, `debit_card`), `cash` or
    /// `mobile_money`.
    pub payment_method: String,
    /// For cards, the provider's token or, in the sandbox, a test card
    /// number: `tok_visa` / `4242 4242 4242 4242` approve,
    /// `tok_chargeDeclined` / `4000 0000 0000 0002` decline
    /// (`card_declined`), `tok_chargeDeclinedInsufficientFunds` /
    /// `4000 0000 0000 9995` decline (`insufficient_funds`),
    /// `tok_threeDSecure2Required` / `4000 0027 6000 3184` wait for the
    /// customer's confirmation. Without one, the sandbox approves.
    #[serde(default)]
    pub source: Option<String>,
}

/// What to do with a payment.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"action": "capture"}))]
pub struct ProcessInput {
    /// `authorize` (the customer confirmed a card waiting for 3-D
    /// Secure), `capture` or `void` (staff and admins).
    pub action: String,
}

/// A refund to make.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"payment_id": 12, "amount": 5.00, "reason": "cold fries"}))]
pub struct RefundInput {
    pub payment_id: i64,
    /// At most what is left to refund.
    pub amount: DecimalText,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: String,
}

/// A refund made.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub id: i64,
    pub payment_id: i64,
    pub amount: Decimal,
    pub currency: String,
    pub reason: String,
    pub created_at: Option<DateTime<Utc>>,
    /// The payment after the refund.
    pub payment: PaymentView,
}

/// One line of an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceLineView {
    pub description: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    pub total: Decimal,
}

/// An order's invoice.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 3, "number": "R1-000003", "order_id": 42, "restaurant_id": 1, "customer_id": 7,
    "lines": [{"description": "Margherita (extra basil)", "quantity": 2, "unit_price": 9.00, "total": 18.00}],
    "subtotal": 18.00, "discount": 0.00, "delivery_fee": 2.99, "tax": 1.60,
    "total": 22.59, "currency": "USD", "status": "paid", "issued_at": "2026-11-23T18:00:00Z"
}))]
pub struct InvoiceView {
    pub id: i64,
    /// Sequential within the restaurant: `R<restaurant>-<number>`.
    pub number: String,
    pub order_id: i64,
    pub restaurant_id: i64,
    /// The customer's id; null for a guest.
    pub customer_id: Option<i64>,
    pub lines: Vec<InvoiceLineView>,
    pub subtotal: Decimal,
    pub discount: Decimal,
    pub delivery_fee: Decimal,
    pub tax: Decimal,
    pub total: Decimal,
    pub currency: String,
    /// `open`, `paid`, `refunded` or `void`.
    pub status: String,
    pub issued_at: Option<DateTime<Utc>>,
}

impl InvoiceView {
    fn from_proto(i: pb::Invoice) -> Result<Self, Problem> {
        let currency = i
            .total
            .as_ref()
            .map(|m| m.currency.clone())
            .unwrap_or_default();
        let money = |m: Option<&common::Money>| amount(m, &currency).map(|(d, _)| d);
        Ok(Self {
            id: i.id,
            number: i.number,
            order_id: i.order_id,
            restaurant_id: i.restaurant_id,
            customer_id: Some(i.customer_id).filter(|id| *id > 0),
            lines: i
                .lines
                .into_iter()
                .map(|l| {
                    Ok(InvoiceLineView {
                        description: l.description,
                        quantity: l.quantity,
                        unit_price: money(l.unit_price.as_ref())?,
                        total: money(l.total.as_ref())?,
                    })
                })
                .collect::<Result<_, Problem>>()?,
            subtotal: money(i.subtotal.as_ref())?,
            discount: money(i.discount.as_ref())?,
            delivery_fee: money(i.delivery_fee.as_ref())?,
            tax: money(i.tax.as_ref())?,
            total: money(i.total.as_ref())?,
            currency,
            status: i.status,
            issued_at: from_timestamp(i.issued_at.as_ref()),
        })
    }
}

/// One page of invoices.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    pub items: Vec<InvoiceView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// The filters of the invoice listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the query; read through `QueryParams`
pub struct InvoiceQuery {
    /// Admins only; staff always see their own restaurant's.
    restaurant_id: Option<i64>,
    order_id: Option<i64>,
    /// `open`, `paid`, `refunded` or `void`.
    status: Option<String>,
    /// Issued at or after (RFC 3339 time or a date).
    from: Option<String>,
    /// Issued before (a date means the end of that day).
    to: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The 404 of a payment the caller may not see, whether or not it exists.
fn payment_not_found(id: i64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "payment_not_found",
        format!("There is no payment {id} that you may see."),
    )
}

/// The reason of an accounting refusal and its metadata.
fn refusal(e: &UpstreamError) -> Option<(ErrorReason, std::collections::HashMap<String, String>)> {
    let info = e.status.get_details_error_info()?;
    Some((ErrorReason::from_str_name(&info.reason)?, info.metadata))
}

/// An amount as a JSON number, written exactly as the views write it.
fn number(amount: &Decimal) -> serde_json::Value {
    serde_json::from_str(amount.as_str()).unwrap_or(serde_json::Value::Null)
}

/// accounting-svc's refusal as the client needs it: amounts in decimals
/// beside the problem's code.
fn accounting_problem(e: UpstreamError) -> Problem {
    let decimal = |meta: &std::collections::HashMap<String, String>, key: &str| {
        let minor = meta.get(key)?.parse::<i64>().ok()?;
        let currency = meta.get("currency")?;
        Some((Decimal::from_minor(minor, currency).ok()?, currency.clone()))
    };
    match refusal(&e) {
        Some((ErrorReason::RefundTooLarge, meta)) => match decimal(&meta, "refundable_minor") {
            Some((left, currency)) => Problem::new(
                StatusCode::CONFLICT,
                "refund_too_large",
                format!("Only {} {currency} is left to refund.", left.as_str()),
            )
            .with_extension("refundable", number(&left))
            .with_errors(vec![FieldError::new(
                "amount",
                format!("must be at most {}", left.as_str()),
            )]),
            None => e.into(),
        },
        Some((ErrorReason::AmountMismatch, meta)) => match decimal(&meta, "total_minor") {
            Some((total, currency)) => Problem::new(
                StatusCode::CONFLICT,
                "amount_mismatch",
                format!("The order's total is {} {currency}.", total.as_str()),
            )
            .with_extension("total", number(&total))
            .with_errors(vec![FieldError::new(
                "amount",
                format!("must be the order's total, {}", total.as_str()),
            )]),
            None => e.into(),
        },
        Some((ErrorReason::PaymentNotFound, _)) => Problem::new(
            StatusCode::NOT_FOUND,
            "payment_not_found",
            "There is no such payment that you may see.",
        ),
        _ => e.into(),
    }
}

/// 201 with the payment, or 402 `payment_declined` when the provider
/// refused it.
fn paid(payment: pb::Payment) -> Result<Response, Problem> {
    let view = PaymentView::from_proto(payment)?;
    if view.status == PaymentStatus::Declined {
        let reason = view.decline_reason.clone().unwrap_or_default();
        return Err(Problem::new(
            StatusCode::PAYMENT_REQUIRED,
            "payment_declined",
            format!(
                "The payment was declined ({reason}); the order still waits for a payment \
                 by another card or method."
            ),
        )
        .with_extension("decline_reason", json!(reason))
        .with_extension("payment_id", json!(view.id)));
    }
    let location = format!("/api/payments/{}", view.id);
    Ok(created(&location, view).into_response())
}

/// Pay an order
///
/// Pays the order's total; `amount`, when given, must equal it (409 `amount_mismatch`). A card
/// is decided at once by the provider (the sandbox by default, see `source`): authorized,
/// declined (402 `payment_declined`, the order stays payable), or `created` to wait for the
/// customer's confirmation; cash is held until the order completes; mobile money waits for the
/// customer's approval, which the provider reports to `/api/payments/webhooks/{provider}`. An
/// authorized payment confirms the order and sends it to the kitchen. With an
/// `Idempotency-Key`, a retry answers the first payment again.
///
/// Who may call: the order's customer; a guest with the order's `X-Order-Token`; staff of the
/// order's restaurant; admins.
///
/// Events: `payment.authorized` (order-svc then publishes `order.confirmed`, and the kitchen
/// queues the ticket), `payment.declined` when declined, or none while it waits.
#[utoipa::path(
    post,
    path = "/api/payments",
    tag = "payments",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry: the same key from the same caller \
                answers the first payment again; the same key with another body is 409 \
                `idempotency_key_reused`."),
    ),
    request_body(content = NewPayment, examples(
        ("card" = (summary = "A card, approved by the sandbox",
            value = json!({"order_id": 42, "payment_method": "card", "source": "tok_visa"}))),
        ("declined" = (summary = "A card the sandbox declines (402)",
            value = json!({"order_id": 42, "payment_method": "card", "source": "4000 0000 0000 0002"}))),
        ("seed" = (summary = "As the first documents wrote it",
            value = json!({"order_id": 1, "amount": 25.98, "payment_method": "credit_card"}))),
        ("mobile_money" = (summary = "Mobile money, waiting for the phone",
            value = json!({"order_id": 42, "payment_method": "mobile_money"}))),
    )),
    responses(
        (status = 201, description = "Authorized, or waiting for the customer's confirmation \
            (`created`).", body = PaymentView,
            headers(("Location" = String, description = "Path of the payment"))),
        (status = 402, description = "Declined (`payment_declined`): the problem carries \
            `decline_reason` (`card_declined`, `insufficient_funds`, …) and `payment_id`; the \
            order stays payable.", body = ProblemDetails, content_type = "application/problem+json",
            example = json!({"type": "urn:foodmesh:problem:payment_declined", "title": "Payment Required",
                "status": 402, "code": "payment_declined", "detail": "The payment was declined \
                (insufficient_funds); the order still waits for a payment by another card or method.",
                "decline_reason": "insufficient_funds", "payment_id": 12, "errors": []})),
        (status = 404, description = "No order `order_id` that you may see (`order_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`amount_mismatch` (with the order's `total`), \
            `order_already_paid`, `order_not_payable` (cancelled or past paying), \
            `idempotency_key_reused`.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn create_payment(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    headers: HeaderMap,
    JsonBody(body): JsonBody<NewPayment>,
) -> Result<Response, Problem> {
    let key = idempotency_key(&headers)?;
    let method = parse_method(&body.payment_method);
    let order = open_order(&state, &party, body.order_id).await?;
    let method = method?;
    let stated = match &body.amount {
        Some(text) => Some(
            text.minor_units(&order.currency)
                .map_err(|why| Problem::field("amount", why))?,
        ),
        None => None,
    };
    let request = pb::CreatePaymentRequest {
        order_id: order.id,
        method: method.to_proto(),
        amount: stated.map(|amount_minor| common::Money {
            amount_minor,
            currency: order.currency.clone(),
        }),
        source: body.source.unwrap_or_default(),
        idempotency_key: key,
        actor: Some(party.actor()),
        order: Some(order),
    };
    let payment = state
        .upstreams
        .accounting
        .create_payment(request)
        .await
        .map_err(accounting_problem)?;
    paid(payment)
}

fn parse_method(raw: &str) -> Result<Method, Problem> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "card" | "credit_card" | "debit_card" => Ok(Method::Card),
        "cash" => Ok(Method::Cash),
        "mobile_money" => Ok(Method::MobileMoney),
        _ => Err(Problem::field(
            "payment_method",
            "must be card (or credit_card, debit_card), cash or mobile_money",
        )),
    }
}

/// Reads payment `id` and its order for `party`: 404 when either is not
/// theirs to see.
async fn open_payment(
    state: &AppState,
    party: &Party,
    id: i64,
) -> Result<(pb::Payment, foodmesh_proto::order::v1::Order), Problem> {
    let payment = state
        .upstreams
        .accounting
        .get_payment(pb::GetPaymentRequest { id })
        .await
        .map_err(|e| match refusal(&e) {
            Some((ErrorReason::PaymentNotFound, _)) => payment_not_found(id),
            _ => e.into(),
        })?;
    let order = open_order(state, party, payment.order_id)
        .await
        .map_err(|p| {
            if p.status == 404 {
                payment_not_found(id)
            } else {
                p
            }
        })?;
    Ok((payment, order))
}

/// Read a payment
///
/// Answers one payment: method, status, amount, what was captured and refunded, and the
/// provider's reference or decline reason. A payment the caller may not see is 404
/// `payment_not_found`.
///
/// Who may call: whoever may see its order: its customer; a guest with the order's
/// `X-Order-Token`; staff of its restaurant; admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/payments/{id}",
    tag = "payments",
    params(("id" = i64, Path, description = "Payment id", minimum = 1)),
    responses(
        (status = 200, description = "The payment.", body = PaymentView),
        (status = 404, description = "No payment `id` that you may see (`payment_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn get_payment(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
) -> Result<Json<PaymentView>, Problem> {
    let (payment, _) = open_payment(&state, &party, id).await?;
    Ok(Json(PaymentView::from_proto(payment)?))
}

/// List an order's payments
///
/// Answers every payment of one order, newest first (at most 50): the live one, if any, and
/// the declined or voided attempts before it. How staff find the payment to refund.
///
/// Who may call: whoever may see the order: its customer; a guest with the order's
/// `X-Order-Token`; staff of its restaurant; admins. Anyone else gets 404 `order_not_found`.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/orders/{id}/payments",
    tag = "payments",
    params(("id" = i64, Path, description = "Order id", minimum = 1)),
    responses(
        (status = 200, description = "The order's payments, newest first.", body = PaymentList),
        (status = 404, description = "No order `id` that you may see (`order_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn list_order_payments(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(order_id): ResourceId,
) -> Result<Json<PaymentList>, Problem> {
    open_order(&state, &party, order_id).await?;
    let listed = state
        .upstreams
        .accounting
        .list_payments(pb::ListPaymentsRequest { order_id })
        .await
        .map_err(accounting_problem)?;
    let items = listed
        .payments
        .into_iter()
        .map(PaymentView::from_proto)
        .collect::<Result<_, _>>()?;
    Ok(Json(PaymentList { items }))
}

/// An order's payments, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentList {
    pub items: Vec<PaymentView>,
}

/// Authorize, capture or void a payment
///
/// Moves a payment on: `authorize` confirms a card payment that waited for the customer (3-D
/// Secure; only cards are authorized by request); `capture` takes the held money and `void`
/// releases it, both of which also happen by themselves when the order completes or is
/// cancelled. A move the payment's status does not allow is 409 `invalid_transition`.
///
/// Who may call: `authorize`: whoever may pay the order (its customer, a guest with its
/// `X-Order-Token`, staff of its restaurant, admins); `capture` and `void`: staff of its
/// restaurant and admins.
///
/// Events: `payment.authorized` (order-svc then publishes `order.confirmed`),
/// `payment.captured` or `payment.voided`.
#[utoipa::path(
    put,
    path = "/api/payments/{id}/process",
    tag = "payments",
    params(("id" = i64, Path, description = "Payment id", minimum = 1)),
    request_body = ProcessInput,
    responses(
        (status = 200, description = "The payment after the change.", body = PaymentView),
        (status = 403, description = "Capturing or voiding as a customer or guest.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Not allowed from the payment's status \
            (`invalid_transition`).",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn process_payment(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    ResourceId(id): ResourceId,
    JsonBody(body): JsonBody<ProcessInput>,
) -> Result<Json<PaymentView>, Problem> {
    let action = match body.action.trim().to_ascii_lowercase().as_str() {
        "authorize" | "confirm" => pb::PaymentAction::Authorize,
        "capture" => pb::PaymentAction::Capture,
        "void" => pb::PaymentAction::Void,
        _ => {
            return Err(Problem::field(
                "action",
                "must be authorize, capture or void",
            ));
        }
    };
    open_payment(&state, &party, id).await?;
    let staff = matches!(party, Party::Admin { .. } | Party::Staff { .. });
    if action != pb::PaymentAction::Authorize && !staff {
        return Err(Problem::forbidden(
            "Only the restaurant's staff and admins capture or void payments.",
        ));
    }
    let payment = state
        .upstreams
        .accounting
        .process_payment(pb::ProcessPaymentRequest {
            id,
            action: action.into(),
        })
        .await
        .map_err(accounting_problem)?;
    Ok(Json(PaymentView::from_proto(payment)?))
}

/// Refund a payment
///
/// Gives back part or all of a captured payment and answers 201 with the refund and the payment
/// after it. Refunds of one payment never add up to more than was taken, however many arrive at
/// once: one that would is 409 `refund_too_large`, with the amount still `refundable`. With an
/// `Idempotency-Key`, a retry answers the first refund again.
///
/// Who may call: staff of the order's restaurant; admins.
///
/// Events: `payment.refunded`.
#[utoipa::path(
    post,
    path = "/api/payments/refund",
    tag = "payments",
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Makes the request safe to retry (as for payments)."),
    ),
    request_body = RefundInput,
    responses(
        (status = 201, description = "Refunded.", body = RefundView),
        (status = 403, description = "Not the restaurant's staff or an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No payment `payment_id` that you may see.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`refund_too_large` (with `refundable`), \
            `invalid_transition` (nothing was taken yet), `idempotency_key_reused`.",
            body = ProblemDetails, content_type = "application/problem+json",
            example = json!({"type": "urn:foodmesh:problem:refund_too_large", "title": "Conflict",
                "status": 409, "code": "refund_too_large", "detail": "Only 3.50 USD is left to refund.",
                "refundable": 3.50, "errors": [{"field": "amount", "message": "must be at most 3.50"}]})),
    ),
    security(("bearer" = []))
)]
pub async fn refund_payment(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefundInput>,
) -> Result<(StatusCode, Json<RefundView>), Problem> {
    let key = idempotency_key(&headers)?;
    if !matches!(party, Party::Admin { .. } | Party::Staff { .. }) {
        return Err(Problem::forbidden(
            "Only the restaurant's staff and admins refund payments.",
        ));
    }
    let (payment, _) = open_payment(&state, &party, body.payment_id).await?;
    let currency = payment
        .amount
        .as_ref()
        .map(|m| m.currency.clone())
        .unwrap_or_default();
    let amount_minor = body
        .amount
        .minor_units(&currency)
        .map_err(|why| Problem::field("amount", why))?;
    if amount_minor <= 0 {
        return Err(Problem::field("amount", "must be more than zero"));
    }
    if body.reason.chars().count() > 500 {
        return Err(Problem::field("reason", "must be at most 500 characters"));
    }
    let refund = state
        .upstreams
        .accounting
        .refund_payment(pb::RefundPaymentRequest {
            payment_id: body.payment_id,
            amount: Some(common::Money {
                amount_minor,
                currency: currency.clone(),
            }),
            reason: body.reason,
            idempotency_key: key,
            actor: Some(party.actor()),
        })
        .await
        .map_err(accounting_problem)?;
    let payment = refund
        .payment
        .ok_or_else(|| Problem::internal(&"accounting-svc refunded but sent no payment"))?;
    Ok((
        StatusCode::CREATED,
        Json(RefundView {
            id: refund.id,
            payment_id: refund.payment_id,
            amount: amount(refund.amount.as_ref(), &currency)?.0,
            currency,
            reason: refund.reason,
            created_at: from_timestamp(refund.created_at.as_ref()),
            payment: PaymentView::from_proto(payment)?,
        }),
    ))
}

/// List invoices
///
/// Answers invoices newest first, a page at a time, narrowed by `order_id`, `restaurant_id`,
/// `status` (`open`, `paid`, `refunded` or `void`), `from` and `to`.
///
/// Who may call: admins (all, with any filter); staff (their restaurant's); customers (their
/// own); a guest with an order's `X-Order-Token` (that order's, `order_id` required).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/payments/invoices",
    tag = "payments",
    params(InvoiceQuery),
    responses(
        (status = 200, description = "One page of invoices.", body = InvoicePage),
        (status = 404, description = "A guest's `order_id` is not their order.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []), ("order_token" = []))
)]
pub async fn list_invoices(
    State(state): State<AppState>,
    OrderParty(party): OrderParty,
    query: QueryParams,
) -> Result<Json<InvoicePage>, Problem> {
    let mut request = pb::ListInvoicesRequest {
        order_id: query.id("order_id")?,
        restaurant_id: query.id("restaurant_id")?,
        status: query.text("status").unwrap_or_default(),
        from: query.time("from", false)?.map(to_timestamp),
        to: query.time("to", true)?.map(to_timestamp),
        ..Default::default()
    };
    if !request.status.is_empty()
        && !matches!(
            request.status.as_str(),
            "open" | "paid" | "refunded" | "void"
        )
    {
        return Err(Problem::invalid_parameter(
            "status",
            "must be open, paid, refunded or void",
        ));
    }
    match &party {
        Party::Admin { .. } => {}
        Party::Staff { restaurant_id, .. } => {
            if request.restaurant_id.is_some_and(|id| id != *restaurant_id) {
                return Err(Problem::invalid_parameter(
                    "restaurant_id",
                    "staff see their own restaurant's invoices only",
                ));
            }
            request.restaurant_id = Some(*restaurant_id);
        }
        Party::Customer { id } => request.customer_id = Some(*id),
        Party::Guest { .. } => {
            let order_id = request.order_id.ok_or_else(|| {
                Problem::invalid_parameter("order_id", "is required with an order access token")
            })?;
            open_order(&state, &party, order_id).await?;
        }
    }
    let limit = query.positive("limit")?.unwrap_or(0);
    if limit > pages::INVOICES {
        return Err(Problem::invalid_parameter(
            "limit",
            format!("must be at most {}", pages::INVOICES),
        ));
    }
    request.page = Some(common::PageRequest {
        page_size: limit,
        page_token: query.text("cursor").unwrap_or_default(),
    });
    let answer = state.upstreams.accounting.list_invoices(request).await?;
    let items = answer
        .invoices
        .into_iter()
        .map(InvoiceView::from_proto)
        .collect::<Result<_, _>>()?;
    let next_cursor = answer
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(Json(InvoicePage { items, next_cursor }))
}

/// Receive a payment provider's callback
///
/// Takes a payment provider's call back (mobile money's approval on the phone) and answers the
/// payment after it. The call must be signed with the provider's secret in
/// `FoodMesh-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, made within
/// five minutes, and not already handled (its `id`); anything else is refused and changes
/// nothing.
///
/// Who may call: anyone (public, no token); only a call signed with the provider's secret, in
/// practice the provider's own, is taken.
///
/// Events: `payment.authorized` for `payment.succeeded` (order-svc then publishes
/// `order.confirmed`), or `payment.declined` for `payment.failed`.
#[utoipa::path(
    post,
    path = "/api/payments/webhooks/{provider}",
    tag = "payments",
    params(
        ("provider" = String, Path, description = "`sandbox_mobile_money`"),
        ("FoodMesh-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC>`"),
    ),
    request_body(content = String, content_type = "application/json", example = json!(
        {"id": "evt_8f2c", "type": "payment.succeeded", "reference": "mm_5b1e0c…"})),
    responses(
        (status = 200, description = "Taken: the payment after it.", body = PaymentView),
        (status = 401, description = "Missing, wrong or stale signature \
            (`webhook_signature_invalid`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "No such provider (`provider_not_found`).",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "Already handled (`webhook_replayed`), or not allowed \
            from the payment's status.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
)]
pub async fn provider_webhook(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PaymentView>, Problem> {
    let signature = headers
        .get("foodmesh-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let answer = state
        .upstreams
        .accounting
        .handle_webhook(pb::HandleWebhookRequest {
            provider,
            body: body.to_vec(),
            signature,
        })
        .await
        .map_err(accounting_problem)?;
    let payment = answer
        .payment
        .ok_or_else(|| Problem::internal(&"accounting-svc took a call but sent no payment"))?;
    Ok(Json(PaymentView::from_proto(payment)?))
}
