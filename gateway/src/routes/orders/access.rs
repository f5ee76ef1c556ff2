//! Who is asking, as the order routes see it ([`Party`]), the extractors
//! that make one from a request, and [`open_order`], where every route
//! about one order starts: an order the caller may not see is a 404, like
//! one that does not exist.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::order::v1 as pb;

use crate::auth::{Claims, MaybeCaller, OrderCaller, Role};
use crate::problem::{Problem, Subject};
use crate::routes::AppState;

/// Who is asking, as the order routes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Party {
    /// Every order.
    Admin {
        /// The token's subject.
        sub: String,
    },
    /// The orders of one restaurant.
    Staff {
        /// The token's subject.
        sub: String,
        restaurant_id: i64,
    },
    /// Their own orders.
    Customer {
        /// Their customer id (the token's subject).
        id: i64,
    },
    /// No account: the one order their access token opens (none yet when
    /// placing an order).
    Guest {
        /// The order access token presented.
        token: Option<String>,
    },
}

/// A customer token's subject as a customer id.
///
/// # Errors
/// 403: customer ids are positive integers, and this subject is not one.
pub fn customer_id_of(claims: &Claims) -> Result<i64, Problem> {
    claims
        .sub
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            Problem::forbidden(
                "This customer token's subject is not a customer id (a positive integer).",
            )
        })
}

impl Party {
    /// The party behind a bearer token's claims; without claims, a guest
    /// with `order_token`. A bearer token, when sent, decides: the order
    /// token is then not used.
    ///
    /// # Errors
    /// 403 for drivers (they follow orders through their deliveries), staff
    /// tokens without a restaurant, and customer tokens whose subject is
    /// not a customer id.
    pub fn of(claims: Option<&Claims>, order_token: Option<String>) -> Result<Self, Problem> {
        let Some(claims) = claims else {
            return Ok(Party::Guest { token: order_token });
        };
        match claims.role {
            Role::Admin => Ok(Party::Admin {
                sub: claims.sub.clone(),
            }),
            Role::Staff => claims
                .restaurant_id
                .map(|restaurant_id| Party::Staff {
                    sub: claims.sub.clone(),
                    restaurant_id,
                })
                .ok_or_else(|| Problem::forbidden("This staff token names no restaurant.")),
            Role::Customer => customer_id_of(claims).map(|id| Party::Customer { id }),
            Role::Driver => Err(Problem::forbidden(
                "Drivers follow orders through their deliveries, not the order routes.",
            )),
        }
    }

    /// The actor order-svc records for this caller.
    pub fn actor(&self) -> common::Actor {
        let (kind, id) = match self {
            Party::Admin { sub } => (common::ActorKind::Admin, sub.clone()),
            Party::Staff { sub, .. } => (common::ActorKind::Staff, sub.clone()),
            Party::Customer { id } => (common::ActorKind::Customer, id.to_string()),
            Party::Guest { .. } => (common::ActorKind::Guest, String::new()),
        };
        common::Actor {
            kind: kind.into(),
            id,
        }
    }

    /// The order access token to pass along (empty unless a guest).
    pub fn access_token(&self) -> String {
        match self {
            Party::Guest { token } => token.clone().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Whether this caller may see `order` (a guest's token is checked by
    /// order-svc when the order is read with it).
    pub fn may_see(&self, order: &pb::Order) -> bool {
        match self {
            Party::Admin { .. } => true,
            Party::Staff { restaurant_id, .. } => order.restaurant_id == *restaurant_id,
            Party::Customer { id } => order.customer_id == *id,
            Party::Guest { token } => token.is_some(),
        }
    }
}

/// The caller of a route about one order: a bearer token, or a guest's
/// order access token.
#[derive(Debug, Clone)]
pub struct OrderParty(pub Party);

impl FromRequestParts<AppState> for OrderParty {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let caller = OrderCaller::from_request_parts(parts, state).await?;
        Party::of(caller.claims.as_ref(), caller.order_token).map(OrderParty)
    }
}

/// The caller placing an order: anyone, with or without a bearer token
/// (without one, a guest).
#[derive(Debug, Clone)]
pub struct Orderer(pub Party);

impl FromRequestParts<AppState> for Orderer {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let MaybeCaller(claims) = MaybeCaller::from_request_parts(parts, state).await?;
        Party::of(claims.as_ref(), None).map(Orderer)
    }
}

/// Reads order `id` for `party`, or answers 404 when it does not exist or
/// the caller may not see it. Every route about one order starts here.
///
/// # Errors
/// The 404, or the service's failure.
pub async fn open_order(state: &AppState, party: &Party, id: i64) -> Result<pb::Order, Problem> {
    let order = state
        .upstreams
        .orders
        .get_order(pb::GetOrderRequest {
            id,
            access_token: party.access_token(),
        })
        .await
        .map_err(|e| e.about(Subject::order(id)))?;
    if party.may_see(&order) {
        Ok(order)
    } else {
        Err(Problem::order_not_found(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(id: i64) -> Party {
        Party::Customer { id }
    }

    #[test]
    fn parties_map_to_actors_and_order_visibility() {
        let order = pb::Order {
            restaurant_id: 3,
            customer_id: 8,
            ..Default::default()
        };
        assert!(
            Party::Admin {
                sub: "root".to_owned()
            }
            .may_see(&order)
        );
        assert!(
            Party::Staff {
                sub: "s".to_owned(),
                restaurant_id: 3
            }
            .may_see(&order)
        );
        assert!(
            !Party::Staff {
                sub: "s".to_owned(),
                restaurant_id: 4
            }
            .may_see(&order)
        );
        assert!(customer(8).may_see(&order));
        assert!(!customer(9).may_see(&order));
        assert!(!Party::Guest { token: None }.may_see(&order));
        let guest = Party::Guest {
            token: Some("t".to_owned()),
        };
        assert_eq!(guest.access_token(), "t");
        assert_eq!(guest.actor().kind, common::ActorKind::Guest as i32);
        assert_eq!(customer(8).actor().id, "8");
    }
}
