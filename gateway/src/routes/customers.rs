//! `/api/customers/{id}`: customer profiles (kept by order-svc) and a
//! customer's orders.
//!
//! A profile belongs to its customer: they read and change it (their id is
//! their token's subject), and admins may. Staff do not read profiles —
//! a profile spans every restaurant the customer orders from — but they
//! see the contact on their own restaurant's orders, and may list one
//! customer's orders at their restaurant. Guest profiles (negative ids,
//! made at guest checkout) are reachable by admins only.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::validate::Phone;
use foodmesh_shared::values::{Email, limits};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::from_timestamp;
use super::orders::{
    OrderFilter, OrderListQuery, OrderPage, Party, PaymentMethod, customer_id_of, list_page,
};
use super::restaurants::Address;
use crate::auth::{Caller, Claims, Role};
use crate::extract::{CustomerId, JsonBody, QueryParams};
use crate::problem::Problem;
use crate::validate::Violations;

/// A customer profile.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 42, "name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com",
    "saved_addresses": [{"street": "456 Oak Ave", "city": "New York", "state": "NY",
                         "zip_code": "10002", "country": "US"}],
    "preferred_payment_method": "card", "order_count": 7,
    "last_order_at": "2026-11-23T18:00:00Z", "registered": true,
    "created_at": "2026-10-01T12:00:00Z"
}))]
pub struct CustomerView {
    /// Positive for a registered customer, negative for a guest profile.
    pub id: i64,
    pub name: String,
    /// E.164 phone; null when none is known.
    pub phone: Option<String>,
    /// Email; may be empty.
    pub email: String,
    /// Addresses to deliver to.
    pub saved_addresses: Vec<Address>,
    /// Offered first at checkout; null when none.
    pub preferred_payment_method: Option<PaymentMethod>,
    pub order_count: u32,
    pub last_order_at: Option<DateTime<Utc>>,
    pub registered: bool,
    pub created_at: Option<DateTime<Utc>>,
}

impl CustomerView {
    fn from_proto(c: pb::Customer) -> Self {
        Self {
            id: c.id,
            name: c.name,
            phone: Some(c.phone).filter(|p| !p.is_empty()),
            email: c.email,
            saved_addresses: c
                .saved_addresses
                .into_iter()
                .map(Address::from_proto)
                .collect(),
            preferred_payment_method: PaymentMethod::from_proto(c.preferred_payment_method),
            order_count: c.order_count,
            last_order_at: from_timestamp(c.last_order_at.as_ref()),
            registered: c.registered,
            created_at: from_timestamp(c.created_at.as_ref()),
        }
    }
}

/// The body of `PUT /api/customers/{id}`: the fields sent replace the
/// profile's (`saved_addresses` as a whole list); the others stay. A
/// registered customer's profile is made by the first one.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Ana Diaz", "phone": "+12125550100", "email": "ana@example.com",
    "saved_addresses": [{"street": "456 Oak Ave", "city": "New York", "state": "NY",
                         "zip_code": "10002", "country": "US"}],
    "preferred_payment_method": "card"
}))]
pub struct CustomerInput {
    /// Name, 1 to 100 characters.
    #[schema(max_length = 100)]
    pub name: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+12125550100`); another profile's number is 409
    /// `phone_taken`.
    pub phone: Option<String>,
    /// Replaces every saved address (at most 10).
    pub saved_addresses: Option<Vec<Address>>,
    /// `card`, `cash` or `mobile_money`.
    pub preferred_payment_method: Option<PaymentMethod>,
}

impl CustomerInput {
    fn into_proto(self, id: i64) -> Result<pb::UpdateCustomerRequest, Problem> {
        let mut v = Violations::new();
        v.required_if_some("name", self.name.as_deref(), limits::PERSON_NAME);
        if let Some(email) = &self.email {
            v.parsed("email", Email::parse(email));
        }
        if let Some(phone) = &self.phone {
            v.parsed("phone", Phone::parse(phone));
        }
        if let Some(addresses) = &self.saved_addresses {
            if addresses.len() > limits::SAVED_ADDRESSES {
                v.add(
                    "saved_addresses",
                    format!("must hold at most {} addresses", limits::SAVED_ADDRESSES),
                );
            }
            for (i, address) in addresses.iter().enumerate() {
                address.check(&format!("saved_addresses[{i}]"), &mut v);
            }
        }
        v.finish()?;
        let replace_saved_addresses = self.saved_addresses.is_some();
        Ok(pb::UpdateCustomerRequest {
            id,
            name: self.name,
            email: self.email,
            saved_addresses: self
                .saved_addresses
                .unwrap_or_default()
                .into_iter()
                .map(Address::into_proto)
                .collect(),
            replace_saved_addresses,
            preferred_payment_method: self
                .preferred_payment_method
                .map_or(0, PaymentMethod::to_proto),
            phone: self.phone.map(|p| p.trim().to_owned()),
        })
    }
}

/// Refuses anyone but customer `id` themselves and admins.
fn owner_or_admin(claims: &Claims, id: i64) -> Result<(), Problem> {
    match claims.role {
        Role::Admin => Ok(()),
        Role::Customer if customer_id_of(claims)? == id => Ok(()),
        Role::Customer => Err(Problem::forbidden(
            "A customer reads and changes only their own profile.",
        )),
        Role::Staff | Role::Driver => Err(Problem::forbidden(
            "Customer profiles are for the customer themselves and admins.",
        )),
    }
}

/// Read a customer profile
///
/// Answers the profile: name, contact, saved addresses, preferred payment method and order
/// count. Guest profiles, made at guest checkout, have negative ids.
///
/// Who may call: the customer themselves (token subject = customer id); admins, for any
/// profile, guest profiles included.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, description = "Customer id (negative for guest profiles)")),
    responses((status = 200, description = "The profile.", body = CustomerView)),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    Caller(claims): Caller,
    CustomerId(id): CustomerId,
) -> Result<Json<CustomerView>, Problem> {
    owner_or_admin(&claims, id)?;
    let customer = state
        .upstreams
        .orders
        .get_customer(pb::GetCustomerRequest { id })
        .await?;
    Ok(Json(CustomerView::from_proto(customer)))
}

/// Update a customer profile
///
/// Replaces the fields sent (`saved_addresses` as a whole list, at most 10) and keeps the
/// others; a registered customer's profile is made on first use. A phone number that is another
/// profile's is 409 `phone_taken`.
///
/// Who may call: the customer themselves; admins.
///
/// Events: none.
#[utoipa::path(
    put,
    path = "/api/customers/{id}",
    tag = "customers",
    params(("id" = i64, Path, description = "Customer id (negative for guest profiles)")),
    request_body = CustomerInput,
    responses((status = 200, description = "The profile after the change.", body = CustomerView)),
    security(("bearer" = []))
)]
pub async fn update_customer(
    State(state): State<AppState>,
    Caller(claims): Caller,
    CustomerId(id): CustomerId,
    JsonBody(body): JsonBody<CustomerInput>,
) -> Result<Json<CustomerView>, Problem> {
    owner_or_admin(&claims, id)?;
    let request = body.into_proto(id)?;
    let customer = state.upstreams.orders.update_customer(request).await?;
    Ok(Json(CustomerView::from_proto(customer)))
}

/// List a customer's orders
///
/// Answers the customer's orders, newest first, a page at a time, with the filters of
/// `GET /api/orders`; a `customer_id` parameter other than the path's is 400.
///
/// Who may call: the customer themselves; staff (only their restaurant's orders); admins.
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/customers/{id}/orders",
    tag = "customers",
    params(
        ("id" = i64, Path, description = "Customer id (negative for guest profiles)"),
        OrderListQuery
    ),
    responses((status = 200, description = "One page of the customer's orders.", body = OrderPage)),
    security(("bearer" = []))
)]
pub async fn list_customer_orders(
    State(state): State<AppState>,
    Caller(claims): Caller,
    CustomerId(id): CustomerId,
    query: QueryParams,
) -> Result<Json<OrderPage>, Problem> {
    let party = Party::of(Some(&claims), None)?;
    if let Party::Customer { id: own } = party
        && own != id
    {
        return Err(Problem::forbidden(
            "A customer lists only their own orders.",
        ));
    }
    let filter = OrderFilter::parse(&query)?;
    if let Some(other) = query.text("customer_id")
        && other != id.to_string()
    {
        return Err(Problem::invalid_parameter(
            "customer_id",
            "is the path's customer here",
        ));
    }
    let filter = filter.for_customer(id).scoped(&party)?;
    Ok(Json(list_page(&state, filter).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::ISSUER;
    use crate::extract::parse_json;

    fn claims(role: Role, sub: &str, restaurant_id: Option<i64>) -> Claims {
        Claims {
            sub: sub.to_owned(),
            role,
            restaurant_id,
            exp: 0,
            iat: 0,
            iss: ISSUER.to_owned(),
        }
    }

    #[test]
    fn profiles_are_for_their_customer_and_admins() {
        assert!(owner_or_admin(&claims(Role::Customer, "42", None), 42).is_ok());
        assert!(owner_or_admin(&claims(Role::Admin, "root", None), -3).is_ok());
        for (who, id) in [
            (claims(Role::Customer, "41", None), 42),
            (claims(Role::Customer, "bob", None), 42),
            (claims(Role::Staff, "s", Some(1)), 42),
            (claims(Role::Driver, "d", None), 42),
        ] {
            let problem = owner_or_admin(&who, id).expect_err("refused");
            assert_eq!(problem.status, 403, "{who:?}");
        }
    }

    #[test]
    fn a_profile_change_sends_only_what_it_names() {
        let body: CustomerInput =
            parse_json(br#"{"name": "Ana", "preferred_payment_method": "cash"}"#).expect("parses");
        let request = body.into_proto(42).expect("valid");
        assert_eq!(request.name.as_deref(), Some("Ana"));
        assert_eq!(request.phone, None);
        assert!(!request.replace_saved_addresses);
        assert_eq!(
            request.preferred_payment_method,
            pb::PaymentMethod::Cash as i32
        );
    }

    #[test]
    fn bad_profile_fields_are_named() {
        let body: CustomerInput = parse_json(
            br#"{"name": " ", "phone": "555", "saved_addresses": [{"street": "", "city": "NY",
                 "state": "", "zip_code": "", "country": "US"}]}"#,
        )
        .expect("parses");
        let problem = body.into_proto(42).expect_err("refused");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "phone", "saved_addresses[0].street"]);
    }
}
