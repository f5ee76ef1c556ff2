//! What the scenarios need from the mesh before they start, made through
//! the gateway like any client would: bearer tokens, restaurants with a
//! small menu, and the order body.
//!
//! Everything is created fresh by each run (the restaurants are named
//! with the run's id), so a run needs no demo data and never depends on
//! what an earlier run left.

use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use gateway::auth::Role;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{Bearer, Conn, Reply};

/// How long the tool's tokens live: far longer than any run.
const TOKEN_TTL: Duration = Duration::from_secs(6 * 3600);

/// The menu every benchmark restaurant gets: name, price as the decimal
/// text the API takes, and the same price in cents for the database write.
/// An order takes its first lines from the top.
pub const MENU: [(&str, &str, i64); 6] = [
    ("Margherita", "12.99", 1299),
    ("Marinara", "10.50", 1050),
    ("Diavola", "13.75", 1375),
    ("Quattro Formaggi", "14.25", 1425),
    ("Tiramisu", "6.25", 625),
    ("Lemonade", "3.25", 325),
];

/// Signs bearer tokens the gateway accepts, with its own signing function
/// so the claims cannot drift from what it verifies.
#[derive(Debug, Clone)]
pub struct Tokens {
    secret: String,
}

impl Tokens {
    /// Tokens signed with `secret` (the gateway's `JWT_SECRET`).
    pub fn new(secret: String) -> Self {
        Self { secret }
    }

    /// An admin's: creates the restaurants and their menus.
    ///
    /// # Errors
    /// Signing failed.
    pub fn admin(&self) -> anyhow::Result<Bearer> {
        self.issue(Role::Admin, "bench-admin", None)
    }

    /// Staff of `restaurant`: the only role that may watch its kitchen.
    ///
    /// # Errors
    /// Signing failed.
    pub fn staff(&self, restaurant: i64) -> anyhow::Result<Bearer> {
        self.issue(Role::Staff, "bench-staff", Some(restaurant))
    }

    /// Customer `id`'s: a customer orders only as themselves.
    ///
    /// # Errors
    /// Signing failed.
    pub fn customer(&self, id: i64) -> anyhow::Result<Bearer> {
        self.issue(Role::Customer, &id.to_string(), None)
    }

    /// Driver `id`'s: a driver reports only their own position.
    ///
    /// # Errors
    /// Signing failed.
    pub fn driver(&self, id: i64) -> anyhow::Result<Bearer> {
        self.issue(Role::Driver, &id.to_string(), None)
    }

    fn issue(&self, role: Role, subject: &str, restaurant: Option<i64>) -> anyhow::Result<Bearer> {
        let token =
            gateway::auth::issue(self.secret.as_bytes(), role, subject, restaurant, TOKEN_TTL)?;
        Bearer::new(&token)
    }
}

/// A benchmark restaurant and the ids of its menu items, in [`MENU`]'s
/// order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restaurant {
    pub id: i64,
    pub items: Vec<i64>,
}

/// Answers whether the gateway is up, so a run fails at once and says so
/// rather than after a warm-up of connection errors.
///
/// # Errors
/// No answer, or not 200.
pub async fn check_gateway(conn: &mut Conn) -> anyhow::Result<()> {
    let request = conn
        .gateway()
        .request(Method::GET, "/healthz", None, None)?;
    let reply = conn
        .send(request)
        .await
        .context("the gateway is not answering: is the mesh up (bench/run.sh starts one)?")?;
    if reply.status != StatusCode::OK {
        bail!(
            "GET /healthz answered {}: {}",
            reply.status,
            reply.excerpt()
        );
    }
    Ok(())
}

/// Creates a restaurant named `name` with no delivery fee and no tax (so
/// the totals are the lines alone) and the whole [`MENU`].
///
/// # Errors
/// The gateway refused any step; the answer is in the error.
pub async fn create_restaurant(
    conn: &mut Conn,
    admin: &Bearer,
    name: &str,
) -> anyhow::Result<Restaurant> {
    let body = json!({
        "name": name,
        "description": "Created by foodmesh-bench",
        "phone": "+1234567890",
        "email": "bench@example.com",
        "cuisine_type": "Italian",
        "address": {"street": "123 Main St", "city": "New York", "state": "NY",
                    "zip_code": "10001", "country": "US"},
        "location": {"latitude": 40.7128, "longitude": -74.0060},
        "delivery_fee": "0.00",
        "tax_rate": "0",
    });
    let id = post_created(conn, admin, "/api/restaurants", &body).await?;
    let mut items = Vec::with_capacity(MENU.len());
    for (position, (name, price, _)) in MENU.iter().enumerate() {
        let item = json!({"name": name, "price": price, "position": position});
        items.push(post_created(conn, admin, &format!("/api/restaurants/{id}/menu"), &item).await?);
    }
    Ok(Restaurant { id, items })
}

/// The code of the coupon [`create_coupon`] gives the main restaurant.
pub const COUPON: &str = "BENCH10";

/// Gives `restaurant` the [`COUPON`]: 10 % off, no limits.
///
/// # Errors
/// The gateway refused it; the answer is in the error.
pub async fn create_coupon(
    conn: &mut Conn,
    admin: &Bearer,
    restaurant: &Restaurant,
) -> anyhow::Result<i64> {
    let body = json!({"code": COUPON, "discount_type": "percent", "value": 10});
    let path = format!("/api/restaurants/{}/coupons", restaurant.id);
    post_created(conn, admin, &path, &body).await
}

/// A cart as a storefront prices it: the body it will place, with the
/// [`COUPON`].
///
/// # Errors
/// As [`order_body_paid_by`].
pub fn quote_body(restaurant: &Restaurant, lines: usize) -> anyhow::Result<Bytes> {
    let order = order_body_paid_by(restaurant, lines, 1, "card")?;
    let mut body: Value = serde_json::from_slice(&order)?;
    body["coupon_code"] = json!(COUPON);
    if let Some(fields) = body.as_object_mut() {
        // A guest's cart: no customer is named before checkout.
        fields.remove("customer_id");
    }
    Ok(Bytes::from(serde_json::to_vec(&body)?))
}

async fn post_created(
    conn: &mut Conn,
    bearer: &Bearer,
    path: &str,
    body: &Value,
) -> anyhow::Result<i64> {
    let request = conn.gateway().request(
        Method::POST,
        path,
        Some(bearer),
        Some(Bytes::from(serde_json::to_vec(body)?)),
    )?;
    let reply = conn
        .send(request)
        .await
        .with_context(|| format!("POST {path}"))?;
    if reply.status != StatusCode::CREATED {
        bail!("POST {path} answered {}: {}", reply.status, reply.excerpt());
    }
    created_id(&reply).with_context(|| format!("POST {path} answered without an id"))
}

/// The `id` of a 201's body.
pub fn created_id(reply: &Reply) -> Option<i64> {
    #[derive(Deserialize)]
    struct Created {
        id: i64,
    }
    serde_json::from_slice::<Created>(&reply.body)
        .ok()
        .map(|c| c.id)
}

/// The order body of seed 002's "Creating an Order" — customer, restaurant,
/// items with their stated `unit_price`, the delivery address — with
/// `lines` lines from [`MENU`] (two of the first, one of each other) and
/// cash payment, so the order is confirmed, and its ticket made, at once.
///
/// # Errors
/// `lines` is 0 or more than the menu has.
pub fn order_body(
    restaurant: &Restaurant,
    lines: usize,
    customer_id: i64,
) -> anyhow::Result<Bytes> {
    order_body_paid_by(restaurant, lines, customer_id, "cash")
}

/// [`order_body`] with `method` as its payment method: `card` leaves the
/// order PENDING until it is paid.
pub fn order_body_paid_by(
    restaurant: &Restaurant,
    lines: usize,
    customer_id: i64,
    method: &str,
) -> anyhow::Result<Bytes> {
    if lines == 0 || lines > MENU.len() || lines > restaurant.items.len() {
        bail!("an order takes 1 to {} lines, not {lines}", MENU.len());
    }
    let items = restaurant
        .items
        .iter()
        .zip(MENU)
        .take(lines)
        .enumerate()
        .map(|(i, (item, (_, price, _)))| {
            // A JSON number, as the seed body sends it; the gateway reads
            // its exact text.
            let unit_price = serde_json::Number::from_str(price)?;
            Ok(json!({
                "menu_item_id": item,
                "quantity": quantity(i),
                "unit_price": unit_price,
            }))
        })
        .collect::<anyhow::Result<Vec<Value>>>()?;
    let body = json!({
        "customer_id": customer_id,
        "restaurant_id": restaurant.id,
        "items": items,
        "delivery_address": {"street": "456 Oak Ave", "city": "New York", "state": "NY",
                             "zip_code": "10002", "country": "US"},
        "payment_method": method,
    });
    Ok(Bytes::from(serde_json::to_vec(&body)?))
}

/// How many of line `i` an order of [`order_body`] asks for.
pub fn quantity(i: usize) -> i64 {
    if i == 0 { 2 } else { 1 }
}

/// The total, in cents, of an order of `lines` lines as [`order_body`]
/// makes it: what the database write of the same order stores.
pub fn order_total_minor(lines: usize) -> i64 {
    MENU.iter()
        .take(lines)
        .enumerate()
        .map(|(i, (_, _, cents))| cents * quantity(i))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn restaurant() -> Restaurant {
        Restaurant {
            id: 9,
            items: (101..=106).collect(),
        }
    }

    #[test]
    fn the_order_body_is_the_seed_body_with_cash_and_the_chosen_lines() {
        let body = order_body(&restaurant(), 3, 1).expect("body");
        let text = String::from_utf8(body.to_vec()).expect("utf-8");
        let order: Value = serde_json::from_str(&text).expect("json");

        assert_eq!(order["customer_id"], 1);
        assert_eq!(order["restaurant_id"], 9);
        assert_eq!(order["payment_method"], "cash");
        assert_eq!(order["delivery_address"]["zip_code"], "10002");
        let items = order["items"].as_array().expect("items");
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["menu_item_id"], 101);
        assert_eq!(items[0]["quantity"], 2);
        assert_eq!(items[2]["quantity"], 1);
        assert!(text.contains(r#""unit_price":12.99"#), "{text}");
    }

    #[test]
    fn a_quoted_cart_is_a_guest_s_order_body_with_the_coupon() {
        let body = quote_body(&restaurant(), 2).expect("body");
        let cart: Value = serde_json::from_slice(&body).expect("json");

        assert_eq!(cart["coupon_code"], COUPON);
        assert_eq!(cart.get("customer_id"), None);
        assert_eq!(cart["items"].as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn an_order_needs_between_one_line_and_the_whole_menu() {
        assert!(order_body(&restaurant(), 0, 1).is_err());
        assert!(order_body(&restaurant(), MENU.len() + 1, 1).is_err());
        assert!(order_body(&restaurant(), MENU.len(), 1).is_ok());
    }

    #[test]
    fn totals_follow_the_menu_in_cents() {
        for (_, text, cents) in MENU {
            assert_eq!(text.replace('.', "").parse::<i64>(), Ok(cents), "{text}");
        }
        assert_eq!(order_total_minor(1), 2598);
        assert_eq!(order_total_minor(3), 2598 + 1050 + 1375);
    }

    #[test]
    fn a_created_id_is_read_from_the_body() {
        let reply = Reply {
            retry_after: None,
            status: StatusCode::CREATED,
            body: Bytes::from_static(br#"{"id":17,"status":"confirmed"}"#),
        };
        assert_eq!(created_id(&reply), Some(17));
        let reply = Reply {
            retry_after: None,
            status: StatusCode::CREATED,
            body: Bytes::from_static(b"not json"),
        };
        assert_eq!(created_id(&reply), None);
    }
}
