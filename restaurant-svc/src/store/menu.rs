//! The menu: read whole from one snapshot, and its categories, items and
//! option groups written one at a time.

use sqlx::PgConnection;

use super::{Store, live_restaurant_currency};
use crate::domain::DomainError;
use crate::domain::menu::{
    self, Category, CategoryPatch, Menu, MenuItem, MenuItemPatch, MenuOption, NewCategory,
    NewMenuItem, NewOptionGroup, OptionDraft, OptionGroup, OptionGroupIds, OptionGroupPatch,
};

impl Store {
    /// The whole menu, read from one snapshot so it is self-consistent.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn menu(
        &self,
        restaurant_id: i64,
        include_unavailable: bool,
    ) -> Result<Menu, DomainError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let currency = live_restaurant_currency(&mut tx, restaurant_id).await?;
        let categories = sqlx::query_as(
            "SELECT id, restaurant_id, name, description, position FROM categories
             WHERE restaurant_id = $1 ORDER BY position, id",
        )
        .bind(restaurant_id)
        .fetch_all(&mut *tx)
        .await?;
        let items = menu_items(&mut tx, restaurant_id, None, include_unavailable).await?;
        let option_groups =
            option_groups(&mut tx, restaurant_id, None, include_unavailable).await?;
        tx.commit().await?;
        Ok(Menu {
            restaurant_id,
            currency,
            categories,
            items,
            option_groups,
        })
    }

    /// Adds a category, after the last one unless a position is given.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn create_category(
        &self,
        restaurant_id: i64,
        new: &NewCategory,
    ) -> Result<Category, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        let category = sqlx::query_as(
            "INSERT INTO categories (restaurant_id, name, description, position)
             VALUES ($1, $2, $3, COALESCE($4, (SELECT COALESCE(max(position) + 1, 0)
                                               FROM categories WHERE restaurant_id = $1)))
             RETURNING id, restaurant_id, name, description, position",
        )
        .bind(restaurant_id)
        .bind(new.name.as_str())
        .bind(new.description.as_str())
        .bind(new.position)
        .fetch_one(&mut *conn)
        .await?;
        Ok(category)
    }

    /// Applies the parts of `patch` that are set.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or [`DomainError::CategoryNotFound`].
    pub async fn update_category(
        &self,
        restaurant_id: i64,
        category_id: i64,
        patch: &CategoryPatch,
    ) -> Result<Category, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        sqlx::query_as(
            "UPDATE categories SET name = COALESCE($3, name),
                 description = COALESCE($4, description), position = COALESCE($5, position)
             WHERE restaurant_id = $1 AND id = $2
             RETURNING id, restaurant_id, name, description, position",
        )
        .bind(restaurant_id)
        .bind(category_id)
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(patch.description.as_ref().map(|t| t.as_str()))
        .bind(patch.position)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::CategoryNotFound(category_id))
    }

    /// Removes a category; its items stay on the menu, uncategorised.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or [`DomainError::CategoryNotFound`].
    pub async fn delete_category(
        &self,
        restaurant_id: i64,
        category_id: i64,
    ) -> Result<(), DomainError> {
        self.delete_owned(
            "DELETE FROM categories WHERE restaurant_id = $1 AND id = $2",
            restaurant_id,
            category_id,
        )
        .await?
        .then_some(())
        .ok_or(DomainError::CategoryNotFound(category_id))
    }

    /// Runs one of the fixed `DELETE ... WHERE restaurant_id = $1 AND id = $2`
    /// statements for a live restaurant; `false` when nothing matched.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], or a database failure.
    async fn delete_owned(
        &self,
        statement: &'static str,
        restaurant_id: i64,
        id: i64,
    ) -> Result<bool, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        let deleted = sqlx::query(statement)
            .bind(restaurant_id)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// Adds an item, after the last one unless a position is given.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], or [`DomainError::Invalid`] when
    /// its category or option groups are not the restaurant's.
    pub async fn create_menu_item(
        &self,
        restaurant_id: i64,
        new: &NewMenuItem,
    ) -> Result<MenuItem, DomainError> {
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        check_item_references(
            &mut tx,
            restaurant_id,
            new.category_id,
            &new.option_group_ids,
        )
        .await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO menu_items (restaurant_id, category_id, name, description, price_minor,
                 available, image_url, position)
             VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, (SELECT COALESCE(max(position) + 1, 0)
                                                           FROM menu_items WHERE restaurant_id = $1)))
             RETURNING id",
        )
        .bind(restaurant_id)
        .bind(new.category_id)
        .bind(new.name.as_str())
        .bind(new.description.as_str())
        .bind(new.price.minor())
        .bind(new.available)
        .bind(new.image_url.as_str())
        .bind(new.position)
        .fetch_one(&mut *tx)
        .await?;
        link_option_groups(&mut tx, id, &new.option_group_ids).await?;
        let item = menu_item(&mut tx, restaurant_id, id).await?;
        tx.commit().await?;
        Ok(item)
    }

    /// One item, available or not.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or [`DomainError::MenuItemNotFound`].
    pub async fn menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
    ) -> Result<MenuItem, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        menu_item(&mut conn, restaurant_id, item_id).await
    }

    /// Applies the parts of `patch` that are set; a new price or
    /// availability holds for the next order priced.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], [`DomainError::MenuItemNotFound`],
    /// or [`DomainError::Invalid`] for a category or group of another
    /// restaurant.
    pub async fn update_menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
        patch: &MenuItemPatch,
    ) -> Result<MenuItem, DomainError> {
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        sqlx::query("SELECT 1 FROM menu_items WHERE restaurant_id = $1 AND id = $2 FOR UPDATE")
            .bind(restaurant_id)
            .bind(item_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DomainError::MenuItemNotFound(item_id))?;
        let no_groups = OptionGroupIds::default();
        check_item_references(
            &mut tx,
            restaurant_id,
            patch.category_id.flatten(),
            patch.option_group_ids.as_ref().unwrap_or(&no_groups),
        )
        .await?;
        sqlx::query(
            "UPDATE menu_items SET
                 name = COALESCE($3, name),
                 description = COALESCE($4, description),
                 price_minor = COALESCE($5, price_minor),
                 category_id = CASE WHEN $6 THEN $7 ELSE category_id END,
                 available = COALESCE($8, available),
                 image_url = COALESCE($9, image_url),
                 position = COALESCE($10, position),
                 updated_at = now()
             WHERE restaurant_id = $1 AND id = $2",
        )
        .bind(restaurant_id)
        .bind(item_id)
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(patch.description.as_ref().map(|t| t.as_str()))
        .bind(patch.price.map(|p| p.minor()))
        .bind(patch.category_id.is_some())
        .bind(patch.category_id.flatten())
        .bind(patch.available)
        .bind(patch.image_url.as_ref().map(|u| u.as_str()))
        .bind(patch.position)
        .execute(&mut *tx)
        .await?;
        if let Some(groups) = &patch.option_group_ids {
            link_option_groups(&mut tx, item_id, groups).await?;
        }
        let item = menu_item(&mut tx, restaurant_id, item_id).await?;
        tx.commit().await?;
        Ok(item)
    }

    /// Removes an item from the menu. Orders keep their own copy of its
    /// name and price.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or [`DomainError::MenuItemNotFound`].
    pub async fn delete_menu_item(
        &self,
        restaurant_id: i64,
        item_id: i64,
    ) -> Result<(), DomainError> {
        self.delete_owned(
            "DELETE FROM menu_items WHERE restaurant_id = $1 AND id = $2",
            restaurant_id,
            item_id,
        )
        .await?
        .then_some(())
        .ok_or(DomainError::MenuItemNotFound(item_id))
    }

    /// Adds an option group with its options.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn create_option_group(
        &self,
        restaurant_id: i64,
        new: &NewOptionGroup,
    ) -> Result<OptionGroup, DomainError> {
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO option_groups (restaurant_id, name, min_select, max_select)
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(restaurant_id)
        .bind(new.name.as_str())
        .bind(i64::from(new.rules.min()))
        .bind(i64::from(new.rules.max()))
        .fetch_one(&mut *tx)
        .await?;
        write_options(&mut tx, id, &new.options).await?;
        let group = option_group(&mut tx, restaurant_id, id).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Applies the parts of `patch` that are set, checking the merged
    /// selection rules against the stored group under its row lock.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`],
    /// [`DomainError::OptionGroupNotFound`], or [`DomainError::Invalid`].
    pub async fn update_option_group(
        &self,
        restaurant_id: i64,
        group_id: i64,
        patch: &OptionGroupPatch,
    ) -> Result<OptionGroup, DomainError> {
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        sqlx::query("SELECT 1 FROM option_groups WHERE restaurant_id = $1 AND id = $2 FOR UPDATE")
            .bind(restaurant_id)
            .bind(group_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(DomainError::OptionGroupNotFound(group_id))?;
        let stored = option_group(&mut tx, restaurant_id, group_id).await?;
        patch.check_option_ids(&stored)?;
        let rules = patch.rules(&stored)?;
        sqlx::query(
            "UPDATE option_groups SET name = COALESCE($2, name), min_select = $3,
                 max_select = $4, updated_at = now()
             WHERE id = $1",
        )
        .bind(group_id)
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(i64::from(rules.min()))
        .bind(i64::from(rules.max()))
        .execute(&mut *tx)
        .await?;
        if let Some(options) = &patch.options {
            write_options(&mut tx, group_id, options).await?;
        }
        let group = option_group(&mut tx, restaurant_id, group_id).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Removes an option group; items stop offering it.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or
    /// [`DomainError::OptionGroupNotFound`].
    pub async fn delete_option_group(
        &self,
        restaurant_id: i64,
        group_id: i64,
    ) -> Result<(), DomainError> {
        self.delete_owned(
            "DELETE FROM option_groups WHERE restaurant_id = $1 AND id = $2",
            restaurant_id,
            group_id,
        )
        .await?
        .then_some(())
        .ok_or(DomainError::OptionGroupNotFound(group_id))
    }
}

/// Items of a restaurant in menu order: all of them, or those in `ids`.
pub(super) async fn menu_items(
    conn: &mut PgConnection,
    restaurant_id: i64,
    ids: Option<&[i64]>,
    include_unavailable: bool,
) -> Result<Vec<MenuItem>, DomainError> {
    let items = sqlx::query_as(
        "SELECT i.id, i.restaurant_id, i.category_id, i.name, i.description, i.price_minor,
                r.currency, i.available, i.image_url, i.position, i.updated_at,
                ARRAY(SELECT g.option_group_id FROM menu_item_option_groups g
                      WHERE g.menu_item_id = i.id ORDER BY g.position) AS option_group_ids
         FROM menu_items i
         JOIN restaurants r ON r.id = i.restaurant_id
         LEFT JOIN categories c ON c.id = i.category_id
         WHERE i.restaurant_id = $1
           AND ($2::bigint[] IS NULL OR i.id = ANY($2))
           AND ($3 OR i.available)
         ORDER BY c.position NULLS LAST, c.id NULLS LAST, i.position, i.id",
    )
    .bind(restaurant_id)
    .bind(ids)
    .bind(include_unavailable)
    .fetch_all(conn)
    .await?;
    Ok(items)
}

async fn menu_item(
    conn: &mut PgConnection,
    restaurant_id: i64,
    item_id: i64,
) -> Result<MenuItem, DomainError> {
    menu_items(conn, restaurant_id, Some(&[item_id]), true)
        .await?
        .pop()
        .ok_or(DomainError::MenuItemNotFound(item_id))
}

/// Refuses a category or option group that is not the restaurant's. The
/// rows found are locked against deletion until the transaction ends.
async fn check_item_references(
    conn: &mut PgConnection,
    restaurant_id: i64,
    category_id: Option<i64>,
    groups: &OptionGroupIds,
) -> Result<(), DomainError> {
    let category_found = match category_id {
        Some(id) => sqlx::query(
            "SELECT 1 FROM categories WHERE restaurant_id = $1 AND id = $2 FOR KEY SHARE",
        )
        .bind(restaurant_id)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .is_some(),
        None => false,
    };
    let found_groups: Vec<i64> = if groups.ids().is_empty() {
        Vec::new()
    } else {
        sqlx::query_scalar(
            "SELECT id FROM option_groups WHERE restaurant_id = $1 AND id = ANY($2) FOR KEY SHARE",
        )
        .bind(restaurant_id)
        .bind(groups.ids())
        .fetch_all(&mut *conn)
        .await?
    };
    menu::check_references(category_id, category_found, groups, &found_groups)
}

async fn link_option_groups(
    conn: &mut PgConnection,
    item_id: i64,
    groups: &OptionGroupIds,
) -> Result<(), DomainError> {
    sqlx::query("DELETE FROM menu_item_option_groups WHERE menu_item_id = $1")
        .bind(item_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO menu_item_option_groups (menu_item_id, option_group_id, position)
         SELECT $1, g.id, g.ord FROM UNNEST($2::bigint[]) WITH ORDINALITY AS g(id, ord)",
    )
    .bind(item_id)
    .bind(groups.ids())
    .execute(conn)
    .await?;
    Ok(())
}

/// Option groups of a restaurant with their options in display order: all
/// of them, or those in `ids`.
pub(super) async fn option_groups(
    conn: &mut PgConnection,
    restaurant_id: i64,
    ids: Option<&[i64]>,
    include_unavailable: bool,
) -> Result<Vec<OptionGroup>, DomainError> {
    let mut groups: Vec<OptionGroup> = sqlx::query_as(
        "SELECT g.id, g.restaurant_id, g.name, g.min_select, g.max_select, r.currency
         FROM option_groups g JOIN restaurants r ON r.id = g.restaurant_id
         WHERE g.restaurant_id = $1 AND ($2::bigint[] IS NULL OR g.id = ANY($2))
         ORDER BY g.id",
    )
    .bind(restaurant_id)
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?;
    let group_ids: Vec<i64> = groups.iter().map(|g| g.id).collect();
    let options: Vec<(i64, i64, String, i64, bool)> = sqlx::query_as(
        "SELECT option_group_id, id, name, price_delta_minor, available FROM options
         WHERE option_group_id = ANY($1) AND ($2 OR available)
         ORDER BY position, id",
    )
    .bind(&group_ids)
    .bind(include_unavailable)
    .fetch_all(conn)
    .await?;
    for (group_id, id, name, price_delta_minor, available) in options {
        if let Some(group) = groups.iter_mut().find(|g| g.id == group_id) {
            group.options.push(MenuOption {
                id,
                name,
                price_delta_minor,
                available,
            });
        }
    }
    Ok(groups)
}

async fn option_group(
    conn: &mut PgConnection,
    restaurant_id: i64,
    group_id: i64,
) -> Result<OptionGroup, DomainError> {
    option_groups(conn, restaurant_id, Some(&[group_id]), true)
        .await?
        .pop()
        .ok_or(DomainError::OptionGroupNotFound(group_id))
}

/// Makes a group's options exactly `drafts`, in that order: drafts with an
/// id update that option, drafts without add one, the rest are removed.
async fn write_options(
    conn: &mut PgConnection,
    group_id: i64,
    drafts: &[OptionDraft],
) -> Result<(), DomainError> {
    let kept: Vec<i64> = drafts.iter().filter_map(|d| d.id).collect();
    let ids: Vec<Option<i64>> = drafts.iter().map(|d| d.id).collect();
    let names: Vec<&str> = drafts.iter().map(|d| d.name.as_str()).collect();
    let deltas: Vec<i64> = drafts.iter().map(|d| d.price_delta.minor()).collect();
    let available: Vec<Option<bool>> = drafts.iter().map(|d| d.available).collect();
    sqlx::query("DELETE FROM options WHERE option_group_id = $1 AND id <> ALL($2)")
        .bind(group_id)
        .bind(&kept)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE options o SET name = d.name, price_delta_minor = d.delta,
             available = COALESCE(d.available, o.available), position = d.ord
         FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bool[])
              WITH ORDINALITY AS d(id, name, delta, available, ord)
         WHERE o.option_group_id = $1 AND o.id = d.id",
    )
    .bind(group_id)
    .bind(&ids)
    .bind(&names)
    .bind(&deltas)
    .bind(&available)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO options (option_group_id, name, price_delta_minor, available, position)
         SELECT $1, d.name, d.delta, COALESCE(d.available, TRUE), d.ord
         FROM UNNEST($2::bigint[], $3::text[], $4::bigint[], $5::bool[])
              WITH ORDINALITY AS d(id, name, delta, available, ord)
         WHERE d.id IS NULL",
    )
    .bind(group_id)
    .bind(&ids)
    .bind(&names)
    .bind(&deltas)
    .bind(&available)
    .execute(conn)
    .await?;
    Ok(())
}
