//! The handlers of a restaurant's menu, each with its OpenAPI operation.
//! Writes read the restaurant's currency first (from the menu cache when
//! it holds it) to read the decimals the client sent.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use foodmesh_proto::restaurant::v1 as pb;
use foodmesh_shared::values::limits;

use super::body::{
    CategoryPatch, MenuItemPatch, NewCategory, NewMenuItem, NewOptionGroup, OptionGroupPatch,
    options_into_proto,
};
use super::query::MenuQuery;
use super::view::{
    CategoryList, CategoryView, MenuItemView, MenuView, OptionGroupList, OptionGroupView,
    json_response,
};
use crate::auth::{Manager, MaybeCaller};
use crate::extract::{JsonBody, NestedId, QueryParams, RestaurantId};
use crate::problem::Problem;
use crate::routes::{AppState, Created, created};
use crate::validate::Violations;

/// Read a restaurant's menu
///
/// Answers the whole menu: categories, items and option groups, with prices in the restaurant's
/// currency. The public menu is served from the gateway's cache, which restaurant-svc's change
/// stream keeps current. `include_unavailable=true` also shows unavailable items and options,
/// never from the cache, and needs a token of the restaurant's staff or an admin (401 without a
/// token, 403 with another).
///
/// Who may call: no token needed (public); `include_unavailable` is for staff of the restaurant
/// and admins.
///
/// Events: none.
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
        // Staff views are cached nowhere, neither here nor in the
        // restaurant-svc replica that answers: few ask, and they must see
        // at once what they just changed, whichever replica took the write.
        read(true).await?.0
    } else {
        restaurants.menus().public_menu(id, read).await?
    };
    Ok(json_response(json))
}

/// Add a menu item
///
/// Adds an item to the restaurant's menu and answers 201 with it; `Location` names it. `price`
/// is a decimal in the restaurant's currency, not negative and no finer than its minor unit;
/// the item is available unless `available` is false.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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

/// Read a menu item
///
/// Answers one item of the restaurant's menu, with its price in the restaurant's currency.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
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

/// Update a menu item
///
/// Changes only the fields sent: `available` false marks it sold out, `category_id: null` takes
/// it out of its category and `option_group_ids` replaces the list. A new price applies to
/// orders placed from now on.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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

/// Delete a menu item
///
/// Removes the item from the restaurant's menu and answers 204.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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

/// List a menu's categories
///
/// Answers the restaurant's menu categories in display order.
///
/// Who may call: anyone (public, no token).
///
/// Events: none.
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

/// Add a menu category
///
/// Adds a category (`name`, and optionally `description` and `position`, by default last) and
/// answers 201 with it; `Location` names it.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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
    v.required("name", &body.name, limits::CATEGORY_NAME);
    v.at_most(
        "description",
        &body.description,
        limits::CATEGORY_DESCRIPTION,
    );
    v.position("position", body.position);
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

/// Update a menu category
///
/// Changes only the fields sent: `name`, `description` or `position`.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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
    v.required_if_some("name", body.name.as_deref(), limits::CATEGORY_NAME);
    v.at_most_if_some(
        "description",
        body.description.as_deref(),
        limits::CATEGORY_DESCRIPTION,
    );
    v.position("position", body.position);
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

/// Delete a menu category
///
/// Removes the category and answers 204; its items stay on the menu, in no category.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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

/// List a menu's option groups
///
/// Answers the restaurant's option groups with their options and price deltas.
/// `include_unavailable=true` also shows unavailable options and needs a token of the
/// restaurant's staff or an admin (401 without a token, 403 with another).
///
/// Who may call: no token needed (public); `include_unavailable` is for staff of the restaurant
/// and admins.
///
/// Events: none.
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

/// Add an option group
///
/// Adds an option group and answers 201 with it; `Location` names it. `min_select` and
/// `max_select` (0 = no limit) bound how many options a customer chooses, `min_select` no more
/// than `max_select`; an option's `price_delta` is a decimal in the restaurant's currency and
/// may be negative.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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
    v.required("name", &body.name, limits::OPTION_NAME);
    v.select_count("min_select", Some(body.min_select));
    v.select_count("max_select", Some(body.max_select));
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

/// Update an option group
///
/// Changes only the fields sent; `options`, when sent, replaces the group's options: one with
/// an `id` keeps that option, one without is added, and those left out are removed.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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
    v.required_if_some("name", body.name.as_deref(), limits::OPTION_NAME);
    v.select_count("min_select", body.min_select);
    v.select_count("max_select", body.max_select);
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

/// Delete an option group
///
/// Removes the option group, with its options, from the menu and from every item that offered
/// it, and answers 204.
///
/// Who may call: staff of the restaurant; admins.
///
/// Events: none.
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
