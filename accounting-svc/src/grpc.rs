//! The gRPC face of accounting-svc. Each method turns its request into
//! domain values (naming every bad field by its path in the request),
//! calls a use case ([`crate::service`]) and turns the result back into
//! the contract's messages ([`crate::convert`]).

use std::collections::HashMap;

use foodmesh_proto::accounting::v1 as pb;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::common::v1::ErrorReason as R;
use foodmesh_shared::status;
use pb::accounting_service_server::AccountingService;
use sha2::{Digest, Sha256};
use tonic::{Code, Request, Response, Status};

use crate::convert;
use crate::domain::invoice::{InvoiceFilter, InvoiceStatus};
use crate::domain::payment::Change;
use crate::domain::{DomainError, Finish, Page, Violations};
use crate::service::pay::PaymentRequest;
use crate::service::{Accounting, Idempotency};

/// The `ErrorInfo.domain` of every error this service returns.
const ERROR_DOMAIN: &str = "foodmesh.accounting";

/// The longest idempotency key taken.
const MAX_KEY_LEN: usize = 255;

type Reply<T> = Result<Response<T>, Status>;

/// The `AccountingService` implementation.
#[derive(Debug, Clone)]
pub struct AccountingApi {
    accounting: Accounting,
}

impl AccountingApi {
    pub fn new(accounting: Accounting) -> Self {
        Self { accounting }
    }
}

#[tonic::async_trait]
impl AccountingService for AccountingApi {
    async fn create_payment(
        &self,
        request: Request<pb::CreatePaymentRequest>,
    ) -> Reply<pb::Payment> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let method = v.check(
            "method",
            convert::method_from_pb(req.method)
                .ok_or_else(|| "must be card, cash or mobile_money".to_owned()),
        );
        let order = match &req.order {
            None => {
                v.add("order", "is required: the order as order-svc shows it");
                None
            }
            Some(order) if order.id != req.order_id => {
                v.add("order_id", "must be the order's id");
                None
            }
            Some(order) => match convert::order_facts(order, "order") {
                Ok(facts) => Some(facts),
                Err(DomainError::Invalid(found)) => {
                    v.append(found);
                    None
                }
                Err(other) => return Err(other.into()),
            },
        };
        let stated_minor = match &req.amount {
            Some(amount)
                if order
                    .as_ref()
                    .is_some_and(|o| o.currency != amount.currency) =>
            {
                v.add("amount.currency", "must be the order's currency");
                None
            }
            Some(amount) => Some(amount.amount_minor),
            None => None,
        };
        let idempotency = idempotency(
            &mut v,
            &req.idempotency_key,
            req.actor.as_ref(),
            req.order_id,
            |hash| {
                hash.update(req.order_id.to_be_bytes());
                hash.update(req.method.to_be_bytes());
                hash.update(stated_minor.unwrap_or(-1).to_be_bytes());
                hash.update(req.source.as_bytes());
            },
        );
        let (order, method) = v.finish(|| Some((order?, method?)))?;
        let request = PaymentRequest {
            method,
            stated_minor,
            source: Some(req.source).filter(|s| !s.trim().is_empty()),
        };
        let record = self
            .accounting
            .pay(
                &order,
                &request,
                idempotency.as_ref(),
                self.accounting.now(),
            )
            .await?;
        Ok(Response::new(convert::payment_record(&record)))
    }

    async fn process_payment(
        &self,
        request: Request<pb::ProcessPaymentRequest>,
    ) -> Reply<pb::Payment> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let id = v.check("id", positive(req.id).map_err(str::to_owned));
        let change = v.check(
            "action",
            match pb::PaymentAction::try_from(req.action) {
                Ok(pb::PaymentAction::Authorize) => Ok(Change::Authorize),
                Ok(pb::PaymentAction::Capture) => Ok(Change::Capture),
                Ok(pb::PaymentAction::Void) => Ok(Change::Void),
                _ => Err("must be authorize, capture or void".to_owned()),
            },
        );
        let (id, change) = v.finish(|| Some((id?, change?)))?;
        let payment = self
            .accounting
            .process(id, &change, self.accounting.now())
            .await?;
        let record = self.accounting.payment(payment.id).await?;
        Ok(Response::new(convert::payment_record(&record)))
    }

    async fn refund_payment(
        &self,
        request: Request<pb::RefundPaymentRequest>,
    ) -> Reply<pb::Refund> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let payment_id = v.check(
            "payment_id",
            positive(req.payment_id).map_err(str::to_owned),
        );
        let amount = v.check(
            "amount",
            req.amount
                .as_ref()
                .map(|a| a.amount_minor)
                .filter(|a| *a > 0)
                .ok_or_else(|| "is required, more than zero".to_owned()),
        );
        let reason = req.reason.trim();
        if reason.chars().count() > 500 {
            v.add("reason", "must be at most 500 characters");
        }
        let idempotency = idempotency(
            &mut v,
            &req.idempotency_key,
            req.actor.as_ref(),
            0,
            |hash| {
                hash.update(req.payment_id.to_be_bytes());
                hash.update(amount.unwrap_or(0).to_be_bytes());
                hash.update(reason.as_bytes());
            },
        );
        let (payment_id, amount) = v.finish(|| Some((payment_id?, amount?)))?;
        let refunded = self
            .accounting
            .refund(
                payment_id,
                amount,
                reason,
                idempotency.as_ref(),
                self.accounting.now(),
            )
            .await?;
        let currency = refunded.payment.currency.clone();
        let record = self.accounting.payment(payment_id).await?;
        Ok(Response::new(pb::Refund {
            id: refunded.refund_id,
            payment_id,
            amount: Some(common::Money {
                amount_minor: refunded.amount_minor,
                currency,
            }),
            reason: refunded.reason,
            created_at: Some(convert::timestamp(refunded.created_at)),
            payment: Some(convert::payment_record(&record)),
        }))
    }

    async fn get_payment(&self, request: Request<pb::GetPaymentRequest>) -> Reply<pb::Payment> {
        let id = positive(request.into_inner().id).map_err(|e| DomainError::invalid("id", e))?;
        let record = self.accounting.payment(id).await?;
        Ok(Response::new(convert::payment_record(&record)))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Reply<pb::ListPaymentsResponse> {
        let order_id = positive(request.into_inner().order_id)
            .map_err(|e| DomainError::invalid("order_id", e))?;
        let records = self.accounting.payments_of_order(order_id).await?;
        Ok(Response::new(pb::ListPaymentsResponse {
            payments: records.iter().map(convert::payment_record).collect(),
        }))
    }

    async fn list_invoices(
        &self,
        request: Request<pb::ListInvoicesRequest>,
    ) -> Reply<pb::ListInvoicesResponse> {
        let req = request.into_inner();
        let mut v = Violations::default();
        let status = match req.status.trim() {
            "" => None,
            raw => v.check(
                "status",
                InvoiceStatus::parse(raw)
                    .ok_or_else(|| "must be open, paid, refunded or void".to_owned()),
            ),
        };
        let from = req.from.as_ref().map(convert::time_of);
        let to = req.to.as_ref().map(convert::time_of);
        if from.is_some_and(|t| t.is_none()) {
            v.add("from", "is not a time");
        }
        if to.is_some_and(|t| t.is_none()) {
            v.add("to", "is not a time");
        }
        let filter = InvoiceFilter {
            restaurant_id: req.restaurant_id,
            order_id: req.order_id,
            customer_id: req.customer_id,
            status,
            from: from.flatten(),
            to: to.flatten(),
        };
        let page_request = req.page.unwrap_or_default();
        let page = v.merge(Page::parse(
            page_request.page_size,
            &page_request.page_token,
        ));
        let page = v.finish(|| page)?;
        let (invoices, next) = self.accounting.invoices(&filter, page).await?;
        Ok(Response::new(pb::ListInvoicesResponse {
            invoices: invoices.iter().map(convert::invoice).collect(),
            page: Some(common::PageResponse {
                next_page_token: next.unwrap_or_default(),
            }),
        }))
    }

    async fn handle_webhook(
        &self,
        request: Request<pb::HandleWebhookRequest>,
    ) -> Reply<pb::HandleWebhookResponse> {
        let req = request.into_inner();
        let signature = Some(req.signature.as_str()).filter(|s| !s.is_empty());
        let payment = self
            .accounting
            .provider_called(&req.provider, &req.body, signature, self.accounting.now())
            .await?;
        let record = self.accounting.payment(payment.id).await?;
        Ok(Response::new(pb::HandleWebhookResponse {
            accepted: true,
            payment: Some(convert::payment_record(&record)),
        }))
    }
}

fn positive(id: i64) -> Result<i64, &'static str> {
    if id > 0 {
        Ok(id)
    } else {
        Err("must be positive")
    }
}

/// The idempotency of a request with `key` from `actor` (a guest's key is
/// scoped to the order `order_id` they hold the token of), fingerprinted
/// by what `body` feeds the hash.
fn idempotency(
    v: &mut Violations,
    key: &str,
    actor: Option<&common::Actor>,
    order_id: i64,
    body: impl FnOnce(&mut Sha256),
) -> Option<Idempotency> {
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    if key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
        v.add(
            "idempotency_key",
            format!("must be at most {MAX_KEY_LEN} printable characters"),
        );
        return None;
    }
    let scope = match actor {
        Some(actor) if !actor.id.is_empty() => {
            format!("{}:{}", actor.kind().as_str_name(), actor.id)
        }
        _ if order_id > 0 => format!("guest:order:{order_id}"),
        _ => {
            v.add("actor", "is required with an idempotency key");
            return None;
        }
    };
    let mut hash = Sha256::new();
    body(&mut hash);
    Some(Idempotency {
        scope,
        key: key.to_owned(),
        fingerprint: hash.finalize().to_vec(),
    })
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Self {
        use DomainError as E;
        let (code, reason) = match &error {
            E::Invalid(_) => (Code::InvalidArgument, R::ValidationFailed),
            E::InvalidTransition { .. } => (Code::FailedPrecondition, R::InvalidTransition),
            E::AmountMismatch { .. } => (Code::FailedPrecondition, R::AmountMismatch),
            E::AlreadyPaid(_) => (Code::FailedPrecondition, R::OrderAlreadyPaid),
            E::PaymentNotFound(_) => (Code::NotFound, R::PaymentNotFound),
            E::OrderNotPayable(_) => (Code::FailedPrecondition, R::OrderNotPayable),
            E::RefundTooLarge { .. } => (Code::FailedPrecondition, R::RefundTooLarge),
            E::UnknownProvider(_) => (Code::NotFound, R::ProviderNotFound),
            E::WebhookSignature(_) => (Code::Unauthenticated, R::WebhookSignatureInvalid),
            E::WebhookReplayed(_) => (Code::AlreadyExists, R::WebhookReplayed),
            E::IdempotencyKeyReused => (Code::FailedPrecondition, R::IdempotencyKeyReused),
            E::Unexpected(cause) => return status::unexpected(cause),
        };
        let metadata = match &error {
            E::InvalidTransition { from, change } => HashMap::from([
                ("from".to_owned(), from.to_string()),
                ("change".to_owned(), (*change).to_owned()),
            ]),
            E::AmountMismatch {
                total_minor,
                currency,
                ..
            } => HashMap::from([
                ("total_minor".to_owned(), total_minor.to_string()),
                ("currency".to_owned(), currency.clone()),
            ]),
            E::RefundTooLarge {
                refundable_minor,
                currency,
                ..
            } => HashMap::from([
                ("refundable_minor".to_owned(), refundable_minor.to_string()),
                ("currency".to_owned(), currency.clone()),
            ]),
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
