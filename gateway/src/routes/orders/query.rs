//! The query of an order listing, parsed into an [`OrderFilter`] and
//! narrowed to what the caller may list, and the listing of one page.

use chrono::{DateTime, Utc};
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::order::v1 as pb;
use foodmesh_shared::values::{OrderNumber, pages};
use utoipa::IntoParams;

use super::access::Party;
use super::names::{OrderStatus, OrderType};
use super::view::{OrderPage, OrderView};
use crate::extract::QueryParams;
use crate::problem::Problem;
use crate::routes::{AppState, to_timestamp};

/// The query of `GET /api/orders` (and `GET /api/customers/{id}/orders`).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only these statuses: repeat the parameter or separate with commas
    /// (`status=confirmed,preparing`).
    pub status: Option<Vec<OrderStatus>>,
    /// Only this restaurant's orders (staff: their own, always).
    pub restaurant_id: Option<i64>,
    /// Only this customer's orders (customers: their own, always).
    pub customer_id: Option<i64>,
    /// Only these types: `dine_in`, `takeout`, `delivery` (repeat the
    /// parameter or separate with commas).
    pub order_type: Option<Vec<OrderType>>,
    /// Only the order with this number, in any case (`K7M2QX`).
    pub order_number: Option<String>,
    /// Created at or after: `2026-11-23` (start of the day, UTC) or an RFC
    /// 3339 time.
    pub from: Option<String>,
    /// Created before: an RFC 3339 time, or a date (that whole day
    /// included).
    pub to: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// The filters of an order listing, parsed.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    statuses: Vec<OrderStatus>,
    restaurant_id: Option<i64>,
    customer_id: Option<i64>,
    order_types: Vec<OrderType>,
    order_number: Option<OrderNumber>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    cursor: String,
    limit: u32,
}

impl OrderFilter {
    /// Reads the query.
    ///
    /// # Errors
    /// 400 naming the first parameter that does not parse.
    pub fn parse(query: &QueryParams) -> Result<Self, Problem> {
        let mut statuses = Vec::new();
        for name in query.values("status") {
            let status = OrderStatus::parse(&name).ok_or_else(|| {
                Problem::invalid_parameter(
                    "status",
                    format!("`{name}` is not a status: use {}", OrderStatus::names()),
                )
            })?;
            if !statuses.contains(&status) {
                statuses.push(status);
            }
        }
        let mut order_types = Vec::new();
        for name in query.values("order_type") {
            let kind = OrderType::parse(&name).ok_or_else(|| {
                Problem::invalid_parameter(
                    "order_type",
                    format!("`{name}` is not an order type: use {}", OrderType::names()),
                )
            })?;
            if !order_types.contains(&kind) {
                order_types.push(kind);
            }
        }
        let order_number = match query.text("order_number") {
            Some(raw) => Some(
                OrderNumber::parse(&raw)
                    .map_err(|why| Problem::invalid_parameter("order_number", why))?,
            ),
            None => None,
        };
        let limit = query.positive("limit")?.unwrap_or(0);
        if limit > pages::ORDERS {
            return Err(Problem::invalid_parameter(
                "limit",
                format!("must be at most {}", pages::ORDERS),
            ));
        }
        let from = query.time("from", false)?;
        let to = query.time("to", true)?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(Problem::invalid_parameter("to", "must be after `from`"));
        }
        Ok(Self {
            statuses,
            restaurant_id: query.id("restaurant_id")?,
            customer_id: query.nonzero_id("customer_id")?,
            order_types,
            order_number,
            from,
            to,
            cursor: query.text("cursor").unwrap_or_default(),
            limit,
        })
    }

    /// Narrows the filter to what `party` may list.
    ///
    /// # Errors
    /// 403 when staff ask for another restaurant or a customer for another
    /// customer; 401 for guests.
    pub fn scoped(mut self, party: &Party) -> Result<Self, Problem> {
        match party {
            Party::Admin { .. } => {}
            Party::Staff { restaurant_id, .. } => {
                if self.restaurant_id.is_some_and(|r| r != *restaurant_id) {
                    return Err(Problem::forbidden(
                        "Staff list only their own restaurant's orders.",
                    ));
                }
                self.restaurant_id = Some(*restaurant_id);
            }
            Party::Customer { id } => {
                if self.customer_id.is_some_and(|c| c != *id) {
                    return Err(Problem::forbidden(
                        "A customer lists only their own orders.",
                    ));
                }
                self.customer_id = Some(*id);
            }
            Party::Guest { .. } => {
                return Err(Problem::unauthorized(
                    "Listing orders needs a bearer token.",
                    false,
                ));
            }
        }
        Ok(self)
    }

    #[must_use]
    pub fn for_customer(mut self, customer_id: i64) -> Self {
        self.customer_id = Some(customer_id);
        self
    }

    fn into_proto(self) -> pb::ListOrdersRequest {
        pb::ListOrdersRequest {
            page: Some(common::PageRequest {
                page_size: self.limit,
                page_token: self.cursor,
            }),
            statuses: self
                .statuses
                .into_iter()
                .map(OrderStatus::to_proto)
                .collect(),
            restaurant_id: self.restaurant_id.unwrap_or(0),
            customer_id: self.customer_id.unwrap_or(0),
            created_from: self.from.map(to_timestamp),
            created_to: self.to.map(to_timestamp),
            order_types: self
                .order_types
                .into_iter()
                .map(OrderType::to_proto)
                .collect(),
            order_number: self
                .order_number
                .map(|n| n.as_str().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// One page of orders matching `filter`.
///
/// # Errors
/// The service's failure.
pub async fn list_page(state: &AppState, filter: OrderFilter) -> Result<OrderPage, Problem> {
    let answer = state
        .upstreams
        .orders
        .list_orders(filter.into_proto())
        .await?;
    let items = answer
        .orders
        .into_iter()
        .map(OrderView::from_proto)
        .collect::<Result<_, _>>()?;
    let next_cursor = answer
        .page
        .map(|p| p.next_page_token)
        .filter(|t| !t.is_empty());
    Ok(OrderPage { items, next_cursor })
}
