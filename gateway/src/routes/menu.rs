//! A restaurant's menu: `/menu` (the whole menu, and its items),
//! `/categories` and `/option-groups`. Reads are public; writes need an
//! admin or the restaurant's staff. Prices are decimals in the restaurant's
//! currency, read exactly (`12.99` stays 12.99).
//!
//! The public menu is served from the gateway's menu cache
//! ([`crate::menu_cache`]) as the JSON rendered when it was read, so a
//! cached answer is byte for byte what a fresh read sends.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use foodmesh_proto::restaurant::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AppState, Created, amount, created, from_timestamp};
use crate::auth::{Manager, MaybeCaller};
use crate::extract::{JsonBody, NestedId, QueryParams, RestaurantId};
use crate::money::{Decimal, DecimalText};
use crate::problem::Problem;
use crate::validate::{DESCRIPTION_MAX, NAME_MAX, URL_MAX, Violations, nullable};

// ---------------------------------------------------------------- views --

/// A dish or drink on the menu.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": 3, "restaurant_id": 1, "name": "Margherita", "description": "Tomato, mozzarella, basil",
    "price": 12.99, "currency": "USD", "category_id": 2, "available": true,
    "image_url": "", "option_group_ids": [1], "position": 0, "updated_at": "2026-11-23T12:00:00Z"
}))]
pub struct MenuItemView {
    /// The item's id.
    pub id: i64,
    /// Its restaurant.
    pub restaurant_id: i64,
    /// Name.
    pub name: String,
    /// Description.
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
    /// When it last changed.
    pub updated_at: Option<DateTime<Utc>>,
}

impl MenuItemView {
    fn from_proto(item: pb::MenuItem, currency: &str) -> Result<Self, Problem> {
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
    /// The category's id.
    pub id: i64,
    /// Its restaurant.
    pub restaurant_id: i64,
    /// Name.
    pub name: String,
    /// Description.
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
    /// Name.
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
    /// The group's id.
    pub id: i64,
    /// Its restaurant.
    pub restaurant_id: i64,
    /// Name.
    pub name: String,
    /// Fewest options a customer must choose.
    pub min_select: u32,
    /// Most options a customer may choose; 0 means no limit.
    pub max_select: u32,
    /// The options.
    pub options: Vec<OptionView>,
}

impl OptionGroupView {
    fn from_proto(group: pb::OptionGroup, currency: &str) -> Result<Self, Problem> {
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
    /// Its restaurant.
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
    fn render(menu: pb::Menu) -> Result<Bytes, Problem> {
        let view = Self::from_proto(menu)?;
        serde_json::to_vec(&view)
            .map(Bytes::from)
            .map_err(|e| Problem::internal(&format_args!("menu JSON: {e}")))
    }
}

/// A 200 with `json` as an `application/json` body, as axum's `Json` sends.
fn json_response(json: Bytes) -> Response {
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
    /// The groups.
    pub items: Vec<OptionGroupView>,
}

// --------------------------------------------------------------- bodies --

/// The body of `POST /api/restaurants/{id}/menu`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Margherita", "description": "Tomato, mozzarella, basil", "price": 12.99,
    "category_id": 2, "option_group_ids": [1]
}))]
pub struct NewMenuItem {
    /// Name.
    #[schema(max_length = 200)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Price in the restaurant's currency, not negative, no finer than its
    /// minor unit.
    pub price: DecimalText,
    /// Category to put it in.
    #[serde(default)]
    pub category_id: Option<i64>,
    /// Default true.
    #[serde(default)]
    pub available: Option<bool>,
    /// Picture.
    #[serde(default)]
    pub image_url: String,
    /// Option groups offered with it.
    #[serde(default)]
    pub option_group_ids: Vec<i64>,
    /// Order within its category; default last.
    #[serde(default)]
    pub position: Option<i32>,
}

impl NewMenuItem {
    fn into_proto(
        self,
        restaurant_id: i64,
        currency: &str,
    ) -> Result<pb::CreateMenuItemRequest, Problem> {
        let mut v = Violations::new();
        v.required("name", &self.name, NAME_MAX);
        v.at_most("description", &self.description, DESCRIPTION_MAX);
        let price_minor = v.amount("price", &self.price, currency);
        if let Some(category) = self.category_id {
            v.id("category_id", category);
        }
        v.at_most("image_url", &self.image_url, URL_MAX);
        for (i, id) in self.option_group_ids.iter().enumerate() {
            v.id(&format!("option_group_ids[{i}]"), *id);
        }
        v.finish()?;
        Ok(pb::CreateMenuItemRequest {
            restaurant_id,
            name: self.name,
            description: self.description,
            price_minor,
            category_id: self.category_id,
            available: self.available,
            image_url: self.image_url,
            option_group_ids: self.option_group_ids,
            position: self.position,
        })
    }
}

/// The body of `PATCH /api/restaurants/{id}/menu/{item_id}`: only the
/// fields sent change. `category_id: null` takes the item out of its
/// category; `option_group_ids` replaces the list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"price": "13.49", "available": false}))]
pub struct MenuItemPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New price; applies to orders placed from now on.
    pub price: Option<DecimalText>,
    /// New category, or null for none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub category_id: Option<Option<i64>>,
    /// Mark sold out (false) or back (true).
    pub available: Option<bool>,
    /// New picture.
    pub image_url: Option<String>,
    /// Replaces the option groups.
    pub option_group_ids: Option<Vec<i64>>,
    /// New position.
    pub position: Option<i32>,
}

impl MenuItemPatch {
    fn into_proto(
        self,
        ids: NestedId,
        currency: &str,
    ) -> Result<pb::UpdateMenuItemRequest, Problem> {
        let mut v = Violations::new();
        v.required_if_some("name", self.name.as_deref(), NAME_MAX);
        v.at_most_if_some("description", self.description.as_deref(), DESCRIPTION_MAX);
        v.at_most_if_some("image_url", self.image_url.as_deref(), URL_MAX);
        let price_minor = self.price.as_ref().map(|p| v.amount("price", p, currency));
        if let Some(Some(category)) = self.category_id {
            v.id("category_id", category);
        }
        for (i, id) in self.option_group_ids.iter().flatten().enumerate() {
            v.id(&format!("option_group_ids[{i}]"), *id);
        }
        v.finish()?;
        Ok(pb::UpdateMenuItemRequest {
            restaurant_id: ids.restaurant_id,
            item_id: ids.id,
            name: self.name,
            description: self.description,
            price_minor,
            category_id: self.category_id.flatten(),
            clear_category: matches!(self.category_id, Some(None)),
            available: self.available,
            image_url: self.image_url,
            replace_option_groups: self.option_group_ids.is_some(),
            option_group_ids: self.option_group_ids.unwrap_or_default(),
            position: self.position,
        })
    }
}

/// The body of `POST /api/restaurants/{id}/categories`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Pizzas", "description": "Wood-fired", "position": 0}))]
pub struct NewCategory {
    /// Name.
    #[schema(max_length = 200)]
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Display order; default last.
    #[serde(default)]
    pub position: Option<i32>,
}

/// The body of `PATCH /api/restaurants/{id}/categories/{category_id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"position": 1}))]
pub struct CategoryPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New display order.
    pub position: Option<i32>,
}

/// One option in a group body. On create, leave `id` out; on update, an
/// option with an `id` keeps that option (orders refer to it), one without
/// is added, and options left out are removed.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"name": "Extra cheese", "price_delta": 1.50}))]
pub struct OptionInput {
    /// An existing option's id (updates only).
    #[serde(default)]
    pub id: Option<i64>,
    /// Name.
    pub name: String,
    /// Price change in the restaurant's currency; default 0, may be negative.
    #[serde(default)]
    pub price_delta: Option<DecimalText>,
    /// Default true.
    #[serde(default)]
    pub available: Option<bool>,
}

fn options_into_proto(
    options: Vec<OptionInput>,
    currency: &str,
    creating: bool,
    v: &mut Violations,
) -> Vec<pb::OptionInput> {
    options
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            match o.id {
                Some(_) if creating => {
                    v.add(format!("options[{i}].id"), "must not be set on a new group");
                }
                Some(id) => v.id(&format!("options[{i}].id"), id),
                None => {}
            }
            v.required(&format!("options[{i}].name"), &o.name, NAME_MAX);
            let price_delta_minor = o.price_delta.as_ref().map_or(0, |d| {
                v.signed_amount(&format!("options[{i}].price_delta"), d, currency)
            });
            pb::OptionInput {
                id: o.id,
                name: o.name,
                price_delta_minor,
                available: o.available,
            }
        })
        .collect()
}

/// The body of `POST /api/restaurants/{id}/option-groups`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "Toppings", "min_select": 0, "max_select": 3,
    "options": [{"name": "Extra cheese", "price_delta": 1.50}, {"name": "No onions"}]
}))]
pub struct NewOptionGroup {
    /// Name.
    #[schema(max_length = 200)]
    pub name: String,
    /// Fewest options to choose; default 0.
    #[serde(default)]
    pub min_select: u32,
    /// Most options to choose; default 0, meaning no limit.
    #[serde(default)]
    pub max_select: u32,
    /// The options.
    #[serde(default)]
    pub options: Vec<OptionInput>,
}

/// The body of `PATCH /api/restaurants/{id}/option-groups/{group_id}`;
/// `options`, when sent, replaces the group's options.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"max_select": 2, "options": [{"id": 5, "name": "Extra cheese", "price_delta": "1.75"}]}))]
pub struct OptionGroupPatch {
    /// New name.
    pub name: Option<String>,
    /// New minimum.
    pub min_select: Option<u32>,
    /// New maximum.
    pub max_select: Option<u32>,
    /// Replaces the options.
    pub options: Option<Vec<OptionInput>>,
}

/// The `include_unavailable` query of menu reads.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MenuQuery {
    /// Also show unavailable items and options (staff and admins only).
    pub include_unavailable: Option<bool>,
}

impl MenuQuery {
    /// Whether unavailable entries are wanted; only the restaurant's
    /// managers may ask.
    fn include_unavailable(
        query: &QueryParams,
        caller: MaybeCaller,
        restaurant_id: i64,
    ) -> Result<bool, Problem> {
        let wanted = query.flag("include_unavailable")?;
        if wanted {
            match caller.0 {
                None => {
                    return Err(Problem::unauthorized(
                        "Unavailable items are shown to the restaurant's staff; send a token.",
                        false,
                    ));
                }
                Some(claims) if !claims.manages(restaurant_id) => {
                    return Err(Problem::forbidden(
                        "Only an admin or this restaurant's staff may see unavailable items.",
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(wanted)
    }
}

// ------------------------------------------------------------- handlers --

/// The whole menu: categories, items and option groups. Public.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/menu",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1), MenuQuery),
    responses((status = 200, description = "The menu.", body = MenuView)),
    security((), ("bearer" = []))
)]
pub async fn get_menu(
    State(state): State<AppState>,
    caller: MaybeCaller,
    RestaurantId(id): RestaurantId,
    query: QueryParams,
) -> Result<Response, Problem> {
    let include_unavailable = MenuQuery::include_unavailable(&query, caller, id)?;
    let restaurants = &state.upstreams.restaurants;
    let read = |fresh: bool| async move {
        let request = pb::GetMenuRequest {
            restaurant_id: id,
            include_unavailable,
        };
        let menu = if fresh {
            restaurants.get_fresh_menu(request).await?
        } else {
            restaurants.get_menu(request).await?
        };
        let currency = menu.currency.clone();
        Ok::<_, Problem>((MenuView::render(menu)?, currency))
    };
    let json = if include_unavailable {
        // Staff views are not cached: few ask, and they must see at once
        // what they just changed.
        read(false).await?.0
    } else {
        restaurants.menus().public_menu(id, read).await?
    };
    Ok(json_response(json))
}

/// Adds an item to the menu. Admins, or the restaurant's staff.
#[utoipa::path(
    post,
    path = "/api/restaurants/{id}/menu",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    request_body = NewMenuItem,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = MenuItemView,
            headers(("Location" = String, description = "Path of the new item"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_menu_item(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
    JsonBody(body): JsonBody<NewMenuItem>,
) -> Result<Created<MenuItemView>, Problem> {
    let id = manager.path.0;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(id).await?;
    let request = body.into_proto(id, &currency)?;
    let item = restaurants.create_menu_item(request).await?;
    let view = MenuItemView::from_proto(item, &currency)?;
    Ok(created(
        &format!("/api/restaurants/{id}/menu/{}", view.id),
        view,
    ))
}

/// One menu item. Public.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/menu/{item_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("item_id" = i64, Path, description = "Menu item id", minimum = 1),
    ),
    responses((status = 200, description = "The item.", body = MenuItemView))
)]
pub async fn get_menu_item(
    State(state): State<AppState>,
    ids: NestedId,
) -> Result<Json<MenuItemView>, Problem> {
    let restaurants = &state.upstreams.restaurants;
    let item = restaurants
        .get_menu_item(pb::GetMenuItemRequest {
            restaurant_id: ids.restaurant_id,
            item_id: ids.id,
        })
        .await?;
    let currency = match item.price.as_ref().map(|p| p.currency.clone()) {
        Some(c) if !c.is_empty() => c,
        _ => restaurants.currency_of(ids.restaurant_id).await?,
    };
    Ok(Json(MenuItemView::from_proto(item, &currency)?))
}

/// Changes a menu item; a new price applies to orders placed from now on.
/// Admins, or the restaurant's staff.
#[utoipa::path(
    patch,
    path = "/api/restaurants/{id}/menu/{item_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("item_id" = i64, Path, description = "Menu item id", minimum = 1),
    ),
    request_body = MenuItemPatch,
    responses((status = 200, description = "The changed item.", body = MenuItemView)),
    security(("bearer" = []))
)]
pub async fn update_menu_item(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
    JsonBody(body): JsonBody<MenuItemPatch>,
) -> Result<Json<MenuItemView>, Problem> {
    let ids = manager.path;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(ids.restaurant_id).await?;
    let request = body.into_proto(ids, &currency)?;
    let item = restaurants.update_menu_item(request).await?;
    Ok(Json(MenuItemView::from_proto(item, &currency)?))
}

/// Removes an item from the menu. Admins, or the restaurant's staff.
#[utoipa::path(
    delete,
    path = "/api/restaurants/{id}/menu/{item_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("item_id" = i64, Path, description = "Menu item id", minimum = 1),
    ),
    responses((status = 204, description = "Removed.")),
    security(("bearer" = []))
)]
pub async fn delete_menu_item(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
) -> Result<StatusCode, Problem> {
    let ids = manager.path;
    state
        .upstreams
        .restaurants
        .delete_menu_item(pb::DeleteMenuItemRequest {
            restaurant_id: ids.restaurant_id,
            item_id: ids.id,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The menu's categories in display order. Public.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/categories",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    responses((status = 200, description = "The categories.", body = CategoryList))
)]
pub async fn list_categories(
    State(state): State<AppState>,
    RestaurantId(id): RestaurantId,
) -> Result<Json<CategoryList>, Problem> {
    let menu = state
        .upstreams
        .restaurants
        .get_menu(pb::GetMenuRequest {
            restaurant_id: id,
            include_unavailable: false,
        })
        .await?;
    Ok(Json(CategoryList {
        items: menu
            .categories
            .into_iter()
            .map(CategoryView::from)
            .collect(),
    }))
}

/// Adds a category. Admins, or the restaurant's staff.
#[utoipa::path(
    post,
    path = "/api/restaurants/{id}/categories",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    request_body = NewCategory,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = CategoryView,
            headers(("Location" = String, description = "Path of the new category"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_category(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
    JsonBody(body): JsonBody<NewCategory>,
) -> Result<Created<CategoryView>, Problem> {
    let id = manager.path.0;
    let mut v = Violations::new();
    v.required("name", &body.name, NAME_MAX);
    v.at_most("description", &body.description, DESCRIPTION_MAX);
    v.finish()?;
    let category = state
        .upstreams
        .restaurants
        .create_category(pb::CreateCategoryRequest {
            restaurant_id: id,
            name: body.name,
            description: body.description,
            position: body.position,
        })
        .await?;
    let view = CategoryView::from(category);
    Ok(created(
        &format!("/api/restaurants/{id}/categories/{}", view.id),
        view,
    ))
}

/// Changes a category. Admins, or the restaurant's staff.
#[utoipa::path(
    patch,
    path = "/api/restaurants/{id}/categories/{category_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("category_id" = i64, Path, description = "Category id", minimum = 1),
    ),
    request_body = CategoryPatch,
    responses((status = 200, description = "The changed category.", body = CategoryView)),
    security(("bearer" = []))
)]
pub async fn update_category(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
    JsonBody(body): JsonBody<CategoryPatch>,
) -> Result<Json<CategoryView>, Problem> {
    let ids = manager.path;
    let mut v = Violations::new();
    v.required_if_some("name", body.name.as_deref(), NAME_MAX);
    v.at_most_if_some("description", body.description.as_deref(), DESCRIPTION_MAX);
    v.finish()?;
    let category = state
        .upstreams
        .restaurants
        .update_category(pb::UpdateCategoryRequest {
            restaurant_id: ids.restaurant_id,
            category_id: ids.id,
            name: body.name,
            description: body.description,
            position: body.position,
        })
        .await?;
    Ok(Json(CategoryView::from(category)))
}

/// Removes a category. Admins, or the restaurant's staff.
#[utoipa::path(
    delete,
    path = "/api/restaurants/{id}/categories/{category_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("category_id" = i64, Path, description = "Category id", minimum = 1),
    ),
    responses((status = 204, description = "Removed.")),
    security(("bearer" = []))
)]
pub async fn delete_category(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
) -> Result<StatusCode, Problem> {
    let ids = manager.path;
    state
        .upstreams
        .restaurants
        .delete_category(pb::DeleteCategoryRequest {
            restaurant_id: ids.restaurant_id,
            category_id: ids.id,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The menu's option groups. Public.
#[utoipa::path(
    get,
    path = "/api/restaurants/{id}/option-groups",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1), MenuQuery),
    responses((status = 200, description = "The option groups.", body = OptionGroupList)),
    security((), ("bearer" = []))
)]
pub async fn list_option_groups(
    State(state): State<AppState>,
    caller: MaybeCaller,
    RestaurantId(id): RestaurantId,
    query: QueryParams,
) -> Result<Json<OptionGroupList>, Problem> {
    let include_unavailable = MenuQuery::include_unavailable(&query, caller, id)?;
    let menu = state
        .upstreams
        .restaurants
        .get_menu(pb::GetMenuRequest {
            restaurant_id: id,
            include_unavailable,
        })
        .await?;
    let items = menu
        .option_groups
        .into_iter()
        .map(|g| OptionGroupView::from_proto(g, &menu.currency))
        .collect::<Result<_, _>>()?;
    Ok(Json(OptionGroupList { items }))
}

/// Adds an option group. Admins, or the restaurant's staff.
#[utoipa::path(
    post,
    path = "/api/restaurants/{id}/option-groups",
    tag = "menu",
    params(("id" = i64, Path, description = "Restaurant id", minimum = 1)),
    request_body = NewOptionGroup,
    responses(
        (status = 201, description = "Created; `Location` names it.", body = OptionGroupView,
            headers(("Location" = String, description = "Path of the new group"))),
    ),
    security(("bearer" = []))
)]
pub async fn create_option_group(
    State(state): State<AppState>,
    manager: Manager<RestaurantId>,
    JsonBody(body): JsonBody<NewOptionGroup>,
) -> Result<Created<OptionGroupView>, Problem> {
    let id = manager.path.0;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(id).await?;
    let mut v = Violations::new();
    v.required("name", &body.name, NAME_MAX);
    if body.max_select != 0 && body.min_select > body.max_select {
        v.add("min_select", "must not exceed max_select");
    }
    let options = options_into_proto(body.options, &currency, true, &mut v);
    v.finish()?;
    let group = restaurants
        .create_option_group(pb::CreateOptionGroupRequest {
            restaurant_id: id,
            name: body.name,
            min_select: body.min_select,
            max_select: body.max_select,
            options,
        })
        .await?;
    let view = OptionGroupView::from_proto(group, &currency)?;
    Ok(created(
        &format!("/api/restaurants/{id}/option-groups/{}", view.id),
        view,
    ))
}

/// Changes an option group. Admins, or the restaurant's staff.
#[utoipa::path(
    patch,
    path = "/api/restaurants/{id}/option-groups/{group_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("group_id" = i64, Path, description = "Option group id", minimum = 1),
    ),
    request_body = OptionGroupPatch,
    responses((status = 200, description = "The changed group.", body = OptionGroupView)),
    security(("bearer" = []))
)]
pub async fn update_option_group(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
    JsonBody(body): JsonBody<OptionGroupPatch>,
) -> Result<Json<OptionGroupView>, Problem> {
    let ids = manager.path;
    let restaurants = &state.upstreams.restaurants;
    let currency = restaurants.currency_of(ids.restaurant_id).await?;
    let mut v = Violations::new();
    v.required_if_some("name", body.name.as_deref(), NAME_MAX);
    if let (Some(min), Some(max)) = (body.min_select, body.max_select)
        && max != 0
        && min > max
    {
        v.add("min_select", "must not exceed max_select");
    }
    let replace_options = body.options.is_some();
    let options = options_into_proto(body.options.unwrap_or_default(), &currency, false, &mut v);
    v.finish()?;
    let group = restaurants
        .update_option_group(pb::UpdateOptionGroupRequest {
            restaurant_id: ids.restaurant_id,
            option_group_id: ids.id,
            name: body.name,
            min_select: body.min_select,
            max_select: body.max_select,
            options,
            replace_options,
        })
        .await?;
    Ok(Json(OptionGroupView::from_proto(group, &currency)?))
}

/// Removes an option group. Admins, or the restaurant's staff.
#[utoipa::path(
    delete,
    path = "/api/restaurants/{id}/option-groups/{group_id}",
    tag = "menu",
    params(
        ("id" = i64, Path, description = "Restaurant id", minimum = 1),
        ("group_id" = i64, Path, description = "Option group id", minimum = 1),
    ),
    responses((status = 204, description = "Removed.")),
    security(("bearer" = []))
)]
pub async fn delete_option_group(
    State(state): State<AppState>,
    manager: Manager<NestedId>,
) -> Result<StatusCode, Problem> {
    let ids = manager.path;
    state
        .upstreams
        .restaurants
        .delete_option_group(pb::DeleteOptionGroupRequest {
            restaurant_id: ids.restaurant_id,
            option_group_id: ids.id,
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    #[test]
    fn twelve_ninety_nine_is_sent_as_1299_cents() {
        let body: NewMenuItem =
            parse_json(br#"{"name": "Margherita", "price": 12.99}"#).expect("parses");
        let request = body.into_proto(1, "USD").expect("valid");
        assert_eq!(request.price_minor, 1299);
        assert_eq!(request.available, None);
    }

    #[test]
    fn negative_and_sub_cent_prices_are_refused_naming_price() {
        for price in ["-1.00", "12.999", "\"abc\""] {
            let json = format!(r#"{{"name": "Margherita", "price": {price}}}"#);
            let body: NewMenuItem = parse_json(json.as_bytes()).expect("parses");
            let problem = body.into_proto(1, "USD").expect_err("refused");
            assert_eq!(problem.status, 422, "{price}");
            assert_eq!(problem.errors[0].field, "price", "{price}");
        }
    }

    #[test]
    fn a_null_category_takes_the_item_out_of_its_category() {
        let ids = NestedId {
            restaurant_id: 1,
            id: 2,
        };
        let body: MenuItemPatch = parse_json(br#"{"category_id": null}"#).expect("parses");
        let request = body.into_proto(ids, "USD").expect("valid");
        assert!(request.clear_category);
        assert_eq!(request.category_id, None);

        let body: MenuItemPatch = parse_json(br#"{"available": false}"#).expect("parses");
        let request = body.into_proto(ids, "USD").expect("valid");
        assert!(!request.clear_category);
        assert!(!request.replace_option_groups);
        assert_eq!(request.available, Some(false));
    }

    #[test]
    fn option_errors_are_named_by_index() {
        let mut v = Violations::new();
        let options = vec![
            OptionInput {
                id: None,
                name: "Extra cheese".to_owned(),
                price_delta: Some(DecimalText::new("1.50")),
                available: None,
            },
            OptionInput {
                id: Some(3),
                name: String::new(),
                price_delta: Some(DecimalText::new("0.001")),
                available: None,
            },
        ];
        let proto = options_into_proto(options, "USD", true, &mut v);
        assert_eq!(proto[0].price_delta_minor, 150);
        let problem = v.finish().expect_err("invalid");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["options[1].id", "options[1].name", "options[1].price_delta"]
        );
    }
}
