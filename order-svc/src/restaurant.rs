//! The client side of restaurant-svc: pricing, coupon terms, redemptions
//! and their release. Its refusals become [`DomainError`]s that keep
//! restaurant-svc's reason and name the field of *this* service's request
//! (`items[2].option_ids[0]` rather than `lines[2].option_ids[0]`), so a
//! client learns which of its own fields is at fault.

use std::future::Future;
use std::time::Duration;

use foodmesh_proto::common::v1::ErrorReason;
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::grpc::Propagate;
use pb::restaurant_service_client::RestaurantServiceClient;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_types::StatusExt;
use tracing::Instrument;

use crate::domain::order::{DraftLine, LineOption};
use crate::domain::pricing::{PricedLine, PricedOrder};
use crate::domain::totals::{CouponTerms, DiscountKind};
use crate::domain::{Coordinates, CouponCode, DomainError, PostalAddress, Violations};

/// How long one call may take before the peer counts as unavailable.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// What a peer is called in refusals.
const PEER: &str = "restaurant-svc";

/// How restaurant-svc's field paths read in the request being served.
pub enum Naming<'a> {
    /// Lines: `lines` becomes `list`, `lines[i]…` becomes `line(i)…`.
    Lines {
        /// The request's list of lines, e.g. `items`.
        list: &'a str,
        /// The request's path of line `i`, e.g. `items[2]` or `item`.
        line: &'a (dyn Fn(usize) -> String + Sync),
    },
    /// Every field is this one, e.g. `coupon_code`.
    Field(&'a str),
}

impl Naming<'_> {
    fn rename(&self, upstream: &str) -> String {
        match self {
            Naming::Field(field) => (*field).to_owned(),
            Naming::Lines { list, line } => {
                let Some(rest) = upstream.strip_prefix("lines") else {
                    return upstream.to_owned();
                };
                let indexed = rest
                    .strip_prefix('[')
                    .and_then(|r| r.split_once(']'))
                    .and_then(|(i, tail)| Some((i.parse::<usize>().ok()?, tail)));
                match indexed {
                    Some((i, tail)) => format!("{}{tail}", line(i)),
                    None => format!("{list}{rest}"),
                }
            }
        }
    }
}

/// restaurant-svc over gRPC, carrying the trace context of each call.
#[derive(Debug, Clone)]
pub struct RestaurantClient {
    inner: RestaurantServiceClient<InterceptedService<Channel, Propagate>>,
}

impl RestaurantClient {
    /// A client over `channel` (from discovery; it connects lazily).
    pub fn new(channel: Channel) -> Self {
        Self {
            inner: RestaurantServiceClient::new(InterceptedService::new(channel, Propagate)),
        }
    }

    /// Prices `lines` from the restaurant's current menu.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], [`DomainError::RestaurantRefused`]
    /// naming the line at fault, or [`DomainError::Unavailable`].
    pub async fn price(
        &self,
        restaurant_id: i64,
        lines: &[DraftLine],
        naming: &Naming<'_>,
    ) -> Result<PricedOrder, DomainError> {
        let request = pb::PriceOrderRequest {
            restaurant_id,
            lines: lines
                .iter()
                .map(|l| pb::PriceLineRequest {
                    menu_item_id: l.menu_item_id,
                    quantity: l.quantity,
                    option_ids: l.option_ids.clone(),
                })
                .collect(),
        };
        let mut client = self.inner.clone();
        let priced = call("PriceOrder", client.price_order(request))
            .await
            .map_err(|s| refusal(s, restaurant_id, naming))?;
        Ok(priced_from_pb(priced))
    }

    /// The terms of the restaurant's coupon with this code, so the
    /// discount can follow the subtotal when items change later.
    ///
    /// # Errors
    /// [`DomainError::RestaurantRefused`] (`COUPON_NOT_FOUND`) when the
    /// restaurant has no such coupon, [`DomainError::RestaurantNotFound`],
    /// or [`DomainError::Unavailable`].
    pub async fn coupon_terms(
        &self,
        restaurant_id: i64,
        code: &CouponCode,
    ) -> Result<CouponTerms, DomainError> {
        let naming = Naming::Field("coupon_code");
        let mut client = self.inner.clone();
        let listed = call(
            "ListCoupons",
            client.list_coupons(pb::ListCouponsRequest { restaurant_id }),
        )
        .await
        .map_err(|s| refusal(s, restaurant_id, &naming))?;
        let coupon = listed
            .coupons
            .into_iter()
            .find(|c| c.code.eq_ignore_ascii_case(code.as_str()))
            .ok_or_else(|| coupon_not_found(code))?;
        terms_from_pb(&coupon).ok_or_else(|| coupon_not_found(code))
    }

    /// The terms of the restaurant's coupon with this code once
    /// restaurant-svc has judged that it may be used on an order of
    /// `subtotal_minor` now, by anyone: nothing is redeemed, and the rules
    /// about one customer are left to the redemption.
    ///
    /// # Errors
    /// [`DomainError::RestaurantRefused`] with the coupon's reason
    /// (`COUPON_NOT_FOUND`, `COUPON_EXPIRED`, ...) naming `coupon_code`,
    /// [`DomainError::RestaurantNotFound`], or [`DomainError::Unavailable`].
    pub async fn check_coupon(
        &self,
        restaurant_id: i64,
        code: &CouponCode,
        subtotal_minor: i64,
    ) -> Result<CouponTerms, DomainError> {
        let naming = Naming::Field("coupon_code");
        let request = pb::CheckCouponRequest {
            restaurant_id,
            code: code.as_str().to_owned(),
            subtotal_minor,
        };
        let mut client = self.inner.clone();
        let checked = call("CheckCoupon", client.check_coupon(request))
            .await
            .map_err(|s| refusal(s, restaurant_id, &naming))?;
        checked
            .coupon
            .as_ref()
            .and_then(terms_from_pb)
            .ok_or_else(|| coupon_not_found(code))
    }

    /// Redeems a coupon for the order numbered `order_ref`; returns the
    /// discount. Idempotent per order number.
    ///
    /// # Errors
    /// [`DomainError::RestaurantRefused`] with the coupon's reason
    /// (`COUPON_EXPIRED`, `COUPON_EXHAUSTED`, ...) naming `coupon_code`, or
    /// [`DomainError::Unavailable`].
    pub async fn redeem(
        &self,
        restaurant_id: i64,
        code: &CouponCode,
        order_ref: &str,
        customer_ref: &str,
        subtotal_minor: i64,
    ) -> Result<i64, DomainError> {
        let request = pb::RedeemCouponRequest {
            restaurant_id,
            code: code.as_str().to_owned(),
            order_ref: order_ref.to_owned(),
            customer_ref: customer_ref.to_owned(),
            subtotal_minor,
        };
        let mut client = self.inner.clone();
        let redemption = call("RedeemCoupon", client.redeem_coupon(request))
            .await
            .map_err(|s| refusal(s, restaurant_id, &Naming::Field("coupon_code")))?;
        Ok(redemption.discount.map_or(0, |d| d.amount_minor))
    }

    /// Gives the redemption of order `order_ref` back. `Ok(false)` when
    /// there is nothing to give back (never redeemed, restaurant gone).
    ///
    /// # Errors
    /// The call failed in a way a later attempt may not (the message says
    /// why).
    pub async fn release(&self, restaurant_id: i64, order_ref: &str) -> Result<bool, String> {
        let request = pb::ReleaseCouponRequest {
            restaurant_id,
            order_ref: order_ref.to_owned(),
        };
        let mut client = self.inner.clone();
        match call("ReleaseCoupon", client.release_coupon(request)).await {
            Ok(_) => Ok(true),
            Err(status) if status.code() == Code::NotFound => Ok(false),
            Err(status) => Err(format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// Runs one call to `method` within [`CALL_TIMEOUT`], in a client span of
/// its own.
async fn call<T>(
    method: &'static str,
    request: impl Future<Output = Result<tonic::Response<T>, Status>>,
) -> Result<T, Status> {
    let span =
        foodmesh_shared::grpc::client_span(pb::restaurant_service_server::SERVICE_NAME, method);
    match tokio::time::timeout(CALL_TIMEOUT, request)
        .instrument(span)
        .await
    {
        Ok(reply) => reply.map(tonic::Response::into_inner),
        Err(_) => Err(Status::deadline_exceeded(
            "restaurant-svc did not answer in time",
        )),
    }
}

/// `None` for a kind this service does not know.
fn terms_from_pb(coupon: &pb::Coupon) -> Option<CouponTerms> {
    let kind = match coupon.kind() {
        pb::DiscountKind::Percent => DiscountKind::Percent,
        pb::DiscountKind::Fixed => DiscountKind::Fixed,
        pb::DiscountKind::Unspecified => return None,
    };
    Some(CouponTerms {
        kind,
        value: coupon.value,
        min_order_minor: coupon.min_order.as_ref().map_or(0, |m| m.amount_minor),
    })
}

fn coupon_not_found(code: &CouponCode) -> DomainError {
    let mut violations = Violations::default();
    violations.add("coupon_code", "is not a coupon of this restaurant");
    DomainError::RestaurantRefused {
        bad_input: false,
        reason: ErrorReason::CouponNotFound.as_str_name().to_owned(),
        message: format!("coupon {} not found", code.as_str()),
        violations,
    }
}

/// Turns restaurant-svc's refusal into this service's, renaming its
/// fields.
fn refusal(status: Status, restaurant_id: i64, naming: &Naming<'_>) -> DomainError {
    let reason = status.get_details_error_info().map(|info| info.reason);
    let transient = matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Unknown
            | Code::Internal
            | Code::Unimplemented
            | Code::Unauthenticated
            | Code::PermissionDenied
            | Code::DataLoss
    );
    if transient {
        tracing::warn!(code = ?status.code(), message = status.message(), "restaurant-svc failed");
        return DomainError::Unavailable(PEER.to_owned());
    }
    if reason.as_deref() == Some(ErrorReason::RestaurantNotFound.as_str_name()) {
        return DomainError::RestaurantNotFound(restaurant_id);
    }
    let mut violations = Violations::default();
    if let Some(bad) = status.get_details_bad_request() {
        for v in bad.field_violations {
            violations.add(naming.rename(&v.field), v.description);
        }
    }
    if violations.is_empty()
        && let Naming::Field(field) = naming
    {
        violations.add(*field, status.message());
    }
    DomainError::RestaurantRefused {
        bad_input: status.code() == Code::InvalidArgument,
        reason: reason.unwrap_or_else(|| ErrorReason::RestaurantRefused.as_str_name().to_owned()),
        message: status.message().to_owned(),
        violations,
    }
}

fn priced_from_pb(p: pb::PricedOrder) -> PricedOrder {
    let amount = |m: Option<foodmesh_proto::common::v1::Money>| m.map_or(0, |m| m.amount_minor);
    PricedOrder {
        restaurant_name: p.restaurant_name,
        currency: p.currency,
        lines: p
            .lines
            .into_iter()
            .map(|l| PricedLine {
                menu_item_id: l.menu_item_id,
                name: l.name,
                quantity: l.quantity,
                unit_price_minor: amount(l.unit_price),
                line_total_minor: amount(l.line_total),
                options: l
                    .options
                    .into_iter()
                    .map(|o| LineOption {
                        option_id: o.option_id,
                        name: o.name,
                        price_delta_minor: amount(o.price_delta),
                    })
                    .collect(),
            })
            .collect(),
        subtotal_minor: amount(p.subtotal),
        delivery_fee_minor: amount(p.delivery_fee),
        tax_rate_ppm: p.tax_rate_ppm,
        prep_minutes: p.avg_prep_minutes,
        address: p
            .address
            .map(|a| PostalAddress {
                street: a.street,
                city: a.city,
                state: a.state,
                zip_code: a.zip_code,
                country: a.country,
            })
            .unwrap_or_default(),
        location: p.location.map(|g| Coordinates {
            latitude: g.latitude,
            longitude: g.longitude,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_line_fields_are_renamed_to_the_requests_own() {
        let items = |i: usize| format!("items[{i}]");
        let naming = Naming::Lines {
            list: "items",
            line: &items,
        };
        assert_eq!(
            naming.rename("lines[2].option_ids[0]"),
            "items[2].option_ids[0]"
        );
        assert_eq!(naming.rename("lines[0]"), "items[0]");
        assert_eq!(naming.rename("lines"), "items");
        assert_eq!(naming.rename("restaurant_id"), "restaurant_id");
        let one = |_: usize| "item".to_owned();
        let naming = Naming::Lines {
            list: "item",
            line: &one,
        };
        assert_eq!(naming.rename("lines[3].menu_item_id"), "item.menu_item_id");
        assert_eq!(Naming::Field("coupon_code").rename("code"), "coupon_code");
    }
}
