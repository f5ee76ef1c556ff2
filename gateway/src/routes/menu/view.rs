//! The JSON the menu routes answer with, each view made from
//! restaurant-svc's message with its prices as exact decimals, and the
//! public menu rendered once as the bytes the menu cache keeps.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use foodmesh_proto::restaurant::v1 as pb;
use serde::Serialize;
use utoipa::ToSchema;

use crate::money::Decimal;
use crate::problem::Problem;
use crate::routes::{amount, from_timestamp};

/// A dish or drink on the menu.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 3, "restaurant_id": 1, "name": "Margherita", "description": "Tomato, mozzarella, basil",
    "price": 12.99, "currency": "USD", "category_id": 2, "available": true,
    "image_url": "", "option_group_ids": [1], "position": 0, "updated_at": "2026-11-23T12:00:00Z"
}))]
pub struct MenuItemView {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    pub description: String,
    /// Price in `currency`, with exactly its places.
    pub price: Decimal,
    /// ISO 4217 code of `price`.
    pub currency: String,
    /// Its category; null when it has none.
    pub category_id: Option<i64>,
    /// Whether it can be ordered now.
    pub available: bool,
    /// Picture, may be empty.
    pub image_url: String,
    /// Option groups offered with it, in display order.
    pub option_group_ids: Vec<i64>,
    /// Order within its category; smaller first.
    pub position: i32,
    pub updated_at: Option<DateTime<Utc>>,
}

impl MenuItemView {
    pub(super) fn from_proto(item: pb::MenuItem, currency: &str) -> Result<Self, Problem> {
        let (price, currency) = amount(item.price.as_ref(), currency)?;
        Ok(Self {
            id: item.id,
            restaurant_id: item.restaurant_id,
            name: item.name,
            description: item.description,
            price,
            currency,
            category_id: Some(item.category_id).filter(|c| *c > 0),
            available: item.available,
            image_url: item.image_url,
            option_group_ids: item.option_group_ids,
            position: item.position,
            updated_at: from_timestamp(item.updated_at.as_ref()),
        })
    }
}

/// A section of the menu ("Pizzas", "Drinks").
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 2, "restaurant_id": 1, "name": "Pizzas", "description": "", "position": 0}))]
pub struct CategoryView {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    pub description: String,
    /// Display order; smaller first.
    pub position: i32,
}

impl From<pb::Category> for CategoryView {
    fn from(c: pb::Category) -> Self {
        Self {
            id: c.id,
            restaurant_id: c.restaurant_id,
            name: c.name,
            description: c.description,
            position: c.position,
        }
    }
}

/// One modifier with its price change ("extra cheese" +1.50).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": 5, "name": "Extra cheese", "price_delta": 1.50, "currency": "USD", "available": true}))]
pub struct OptionView {
    /// The option's id, stable across edits of its group.
    pub id: i64,
    pub name: String,
    /// Added to the item's price when chosen (may be negative or 0).
    pub price_delta: Decimal,
    /// ISO 4217 code of `price_delta`.
    pub currency: String,
    /// Whether it can be chosen now.
    pub available: bool,
}

/// A set of modifiers with how many may be chosen ("Toppings", up to 3).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 1, "restaurant_id": 1, "name": "Toppings", "min_select": 0, "max_select": 3,
    "options": [{"id": 5, "name": "Extra cheese", "price_delta": 1.50, "currency": "USD", "available": true}]
}))]
pub struct OptionGroupView {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    /// Fewest options a customer must choose.
    pub min_select: u32,
    /// Most options a customer may choose; 0 means no limit.
    pub max_select: u32,
    pub options: Vec<OptionView>,
}

impl OptionGroupView {
    pub(super) fn from_proto(group: pb::OptionGroup, currency: &str) -> Result<Self, Problem> {
        let options = group
            .options
            .into_iter()
            .map(|o| {
                let (price_delta, currency) = amount(o.price_delta.as_ref(), currency)?;
                Ok(OptionView {
                    id: o.id,
                    name: o.name,
                    price_delta,
                    currency,
                    available: o.available,
                })
            })
            .collect::<Result<_, Problem>>()?;
        Ok(Self {
            id: group.id,
            restaurant_id: group.restaurant_id,
            name: group.name,
            min_select: group.min_select,
            max_select: group.max_select,
            options,
        })
    }
}

/// A restaurant's whole menu in one read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MenuView {
    pub restaurant_id: i64,
    /// ISO 4217 code of every price in it.
    pub currency: String,
    /// Categories in display order.
    pub categories: Vec<CategoryView>,
    /// Items by category position, then item position.
    pub items: Vec<MenuItemView>,
    /// Option groups the items refer to.
    pub option_groups: Vec<OptionGroupView>,
}

impl MenuView {
    fn from_proto(menu: pb::Menu) -> Result<Self, Problem> {
        let currency = menu.currency;
        Ok(Self {
            restaurant_id: menu.restaurant_id,
            categories: menu
                .categories
                .into_iter()
                .map(CategoryView::from)
                .collect(),
            items: menu
                .items
                .into_iter()
                .map(|i| MenuItemView::from_proto(i, &currency))
                .collect::<Result<_, _>>()?,
            option_groups: menu
                .option_groups
                .into_iter()
                .map(|g| OptionGroupView::from_proto(g, &currency))
                .collect::<Result<_, _>>()?,
            currency,
        })
    }

    /// The JSON of `menu` as `GET .../menu` sends it — what axum's `Json`
    /// would write — serialized once, so the cache can keep the bytes.
    pub(super) fn render(menu: pb::Menu) -> Result<Bytes, Problem> {
        let view = Self::from_proto(menu)?;
        serde_json::to_vec(&view)
            .map(Bytes::from)
            .map_err(|e| Problem::internal(&format_args!("menu JSON: {e}")))
    }
}

/// A 200 with `json` as an `application/json` body, as axum's `Json` sends.
pub(super) fn json_response(json: Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response()
}

/// A list of categories.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryList {
    /// In display order.
    pub items: Vec<CategoryView>,
}

/// A list of option groups.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptionGroupList {
    pub items: Vec<OptionGroupView>,
}
