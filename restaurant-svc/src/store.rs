//! Every SQL statement of restaurant-svc, and the transactions that make
//! its writes atomic. Takes domain values, returns domain values; the one
//! rule it applies itself is that a deleted restaurant (and all it holds)
//! is not found.

use chrono::{DateTime, NaiveTime, Utc};
use foodmesh_shared::db::unsigned;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Row};

use crate::domain::coupon::{
    Coupon, CouponPatch, Discount, DiscountKind, NewCoupon, RedeemRequest, Redemption, Usage,
};
use crate::domain::menu::{
    self, Category, CategoryPatch, Menu, MenuItem, MenuItemPatch, MenuOption, NewCategory,
    NewMenuItem, NewOptionGroup, OptionDraft, OptionGroup, OptionGroupIds, OptionGroupPatch,
};
use crate::domain::pricing::PricingInputs;
use crate::domain::restaurant::{
    Coordinates, Location, OpeningHours, OpeningSpan, PostalAddress, Restaurant, RestaurantDetails,
    RestaurantFilter, RestaurantPatch,
};
use crate::domain::{DomainError, Page};

/// The channel the schema's triggers notify (migration 0002) with the id
/// of each restaurant whose menu, currency, active or deleted state a
/// committed change touched; Postgres delivers it to every instance's
/// listener, which is what keeps each replica's menu cache correct.
pub const MENU_CHANNEL: &str = "foodmesh_menu";

impl From<sqlx::Error> for DomainError {
    fn from(error: sqlx::Error) -> Self {
        DomainError::Unexpected(anyhow::Error::new(error).context("database"))
    }
}

/// Postgres access for the service; cheap to clone (it is a pool).
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
}

// Each SELECT is written once here and narrowed by its callers.
macro_rules! select_restaurants {
    () => {
        "SELECT id, name, description, phone, email, cuisine_type, street, city, state,
                zip_code, country, latitude, longitude, currency, timezone,
                delivery_fee_minor, avg_prep_minutes, tax_rate_bps, active, created_at, updated_at
         FROM restaurants WHERE deleted_at IS NULL"
    };
}

macro_rules! select_coupons {
    () => {
        "SELECT c.id, c.restaurant_id, c.code, c.description, c.kind, c.value, c.valid_from,
                c.valid_until, c.min_order_minor, r.currency, c.max_redemptions,
                c.max_per_customer, c.first_n_customers, c.active,
                (SELECT count(*) FROM coupon_redemptions cr
                 WHERE cr.coupon_id = c.id AND cr.released_at IS NULL) AS redemptions
         FROM coupons c JOIN restaurants r ON r.id = c.restaurant_id"
    };
}

const SELECT_REDEMPTION: &str = "
    SELECT cr.id, cr.coupon_id, c.code, cr.order_ref, cr.customer_ref, cr.discount_minor,
           r.currency, cr.released_at IS NOT NULL AS released, cr.redeemed_at
    FROM coupon_redemptions cr
    JOIN coupons c ON c.id = cr.coupon_id
    JOIN restaurants r ON r.id = cr.restaurant_id
    WHERE cr.restaurant_id = $1 AND cr.order_ref = $2";

impl Store {
    /// Wraps a migrated pool.
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The pool, for the menu change feed's listener.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    // ----- restaurants -------------------------------------------------

    /// Stores a new restaurant with its opening hours.
    ///
    /// # Errors
    /// Only unexpected database failures.
    pub async fn create_restaurant(
        &self,
        d: &RestaurantDetails,
    ) -> Result<Restaurant, DomainError> {
        let mut tx = self.pool.begin().await?;
        let address = d.address.parts();
        let location = d.location.map(Location::coordinates);
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO restaurants (name, description, phone, email, cuisine_type, street, city,
                 state, zip_code, country, latitude, longitude, currency, timezone,
                 delivery_fee_minor, avg_prep_minutes, tax_rate_bps, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
             RETURNING id",
        )
        .bind(d.name.as_str())
        .bind(d.description.as_str())
        .bind(d.phone.as_str())
        .bind(d.email.as_str())
        .bind(d.cuisine_type.as_str())
        .bind(&address.street)
        .bind(&address.city)
        .bind(&address.state)
        .bind(&address.zip_code)
        .bind(&address.country)
        .bind(location.map(|l| l.latitude))
        .bind(location.map(|l| l.longitude))
        .bind(d.currency.as_str())
        .bind(d.timezone.as_str())
        .bind(d.delivery_fee.minor())
        .bind(i64::from(d.avg_prep_minutes.get()))
        .bind(i64::from(d.tax_rate_bps.get()))
        .bind(d.active)
        .fetch_one(&mut *tx)
        .await?;
        replace_opening_hours(&mut tx, id, &d.opening_hours).await?;
        let restaurant = restaurant(&mut tx, id).await?;
        tx.commit().await?;
        Ok(restaurant)
    }

    /// A live restaurant.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] when it does not exist or was
    /// deleted.
    pub async fn restaurant(&self, id: i64) -> Result<Restaurant, DomainError> {
        let mut conn = self.pool.acquire().await?;
        restaurant(&mut conn, id).await
    }

    /// One page of live restaurants in id order, and the token of the next
    /// page if there is one.
    ///
    /// # Errors
    /// Only unexpected database failures.
    pub async fn list_restaurants(
        &self,
        filter: &RestaurantFilter,
        page: Page,
    ) -> Result<(Vec<Restaurant>, Option<String>), DomainError> {
        let mut conn = self.pool.acquire().await?;
        let mut rows: Vec<Restaurant> = sqlx::query_as(concat!(
            select_restaurants!(),
            " AND id > $1 AND ($2 OR active)
              AND ($3 = '' OR lower(cuisine_type) = lower($3))
              AND ($4 = '' OR lower(city) = lower($4))
              ORDER BY id LIMIT $5"
        ))
        .bind(page.after_id())
        .bind(filter.include_inactive)
        .bind(filter.cuisine_type.trim())
        .bind(filter.city.trim())
        // One more than the page, to learn whether another page follows.
        .bind(i64::from(page.size()) + 1)
        .fetch_all(&mut *conn)
        .await?;
        let size = page.size() as usize;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|r| Page::token_after(r.id))
        } else {
            None
        };
        load_opening_hours(&mut conn, &mut rows).await?;
        Ok((rows, next))
    }

    /// Applies the parts of `patch` that are set.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn update_restaurant(
        &self,
        id: i64,
        patch: &RestaurantPatch,
    ) -> Result<Restaurant, DomainError> {
        let mut tx = self.pool.begin().await?;
        let address = patch.address.as_ref().map(|a| a.parts());
        let location = patch.location.map(Location::coordinates);
        let updated = sqlx::query(
            "UPDATE restaurants SET
                 name = COALESCE($2, name),
                 description = COALESCE($3, description),
                 phone = COALESCE($4, phone),
                 email = COALESCE($5, email),
                 cuisine_type = COALESCE($6, cuisine_type),
                 street = COALESCE($7, street),
                 city = COALESCE($8, city),
                 state = COALESCE($9, state),
                 zip_code = COALESCE($10, zip_code),
                 country = COALESCE($11, country),
                 latitude = COALESCE($12, latitude),
                 longitude = COALESCE($13, longitude),
                 currency = COALESCE($14, currency),
                 timezone = COALESCE($15, timezone),
                 delivery_fee_minor = COALESCE($16, delivery_fee_minor),
                 avg_prep_minutes = COALESCE($17, avg_prep_minutes),
                 tax_rate_bps = COALESCE($18, tax_rate_bps),
                 active = COALESCE($19, active),
                 updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .bind(patch.name.as_ref().map(|n| n.as_str()))
        .bind(patch.description.as_ref().map(|t| t.as_str()))
        .bind(patch.phone.as_ref().map(|p| p.as_str()))
        .bind(patch.email.as_ref().map(|e| e.as_str()))
        .bind(patch.cuisine_type.as_ref().map(|t| t.as_str()))
        .bind(address.map(|a| a.street.as_str()))
        .bind(address.map(|a| a.city.as_str()))
        .bind(address.map(|a| a.state.as_str()))
        .bind(address.map(|a| a.zip_code.as_str()))
        .bind(address.map(|a| a.country.as_str()))
        .bind(location.map(|l| l.latitude))
        .bind(location.map(|l| l.longitude))
        .bind(patch.currency.as_ref().map(|c| c.as_str()))
        .bind(patch.timezone.as_ref().map(|z| z.as_str()))
        .bind(patch.delivery_fee.map(|a| a.minor()))
        .bind(patch.avg_prep_minutes.map(|m| i64::from(m.get())))
        .bind(patch.tax_rate_bps.map(|t| i64::from(t.get())))
        .bind(patch.active)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(DomainError::RestaurantNotFound(id));
        }
        if let Some(spans) = &patch.opening_hours {
            replace_opening_hours(&mut tx, id, spans).await?;
        }
        let restaurant = restaurant(&mut tx, id).await?;
        tx.commit().await?;
        Ok(restaurant)
    }

    /// Soft-deletes a restaurant: its rows stay for the orders that refer
    /// to them, but nothing finds it any more.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], also for a second delete.
    pub async fn delete_restaurant(&self, id: i64) -> Result<(), DomainError> {
        let deleted = sqlx::query(
            "UPDATE restaurants SET deleted_at = now(), updated_at = now()
             WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(DomainError::RestaurantNotFound(id));
        }
        Ok(())
    }

    // ----- menu --------------------------------------------------------

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

    /// Everything pricing any order of the restaurant reads — the
    /// restaurant, and every item and option group with every option,
    /// unavailable ones included — from one snapshot, so it is
    /// self-consistent and can be kept for the next orders.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn pricing_inputs(&self, restaurant_id: i64) -> Result<PricingInputs, DomainError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await?;
        let restaurant = restaurant(&mut tx, restaurant_id).await?;
        let items = menu_items(&mut tx, restaurant_id, None, true).await?;
        let option_groups = option_groups(&mut tx, restaurant_id, None, true).await?;
        tx.commit().await?;
        Ok(PricingInputs {
            restaurant,
            items,
            option_groups,
        })
    }

    // ----- coupons -----------------------------------------------------

    /// Stores a new coupon.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or [`DomainError::CouponCodeTaken`].
    pub async fn create_coupon(
        &self,
        restaurant_id: i64,
        new: &NewCoupon,
    ) -> Result<Coupon, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        let inserted = sqlx::query_scalar(
            "INSERT INTO coupons (restaurant_id, code, description, kind, value, valid_from,
                 valid_until, min_order_minor, max_redemptions, max_per_customer, first_n_customers)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             RETURNING id",
        )
        .bind(restaurant_id)
        .bind(new.code.as_str())
        .bind(new.description.as_str())
        .bind(kind_to_db(new.discount.kind()))
        .bind(new.discount.value())
        .bind(new.window.starts())
        .bind(new.window.ends())
        .bind(new.min_order.minor())
        .bind(i64::from(new.max_redemptions))
        .bind(i64::from(new.max_per_customer))
        .bind(i64::from(new.first_n_customers))
        .fetch_one(&mut *conn)
        .await;
        let id: i64 = match inserted {
            Err(sqlx::Error::Database(e)) if e.constraint() == Some("coupons_code_unique") => {
                return Err(DomainError::CouponCodeTaken(new.code.as_str().to_owned()));
            }
            other => other?,
        };
        coupon(&mut conn, restaurant_id, id).await
    }

    /// Every coupon of a restaurant with the redemptions each holds.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`].
    pub async fn coupons(&self, restaurant_id: i64) -> Result<Vec<Coupon>, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        let coupons = sqlx::query_as(concat!(
            select_coupons!(),
            " WHERE c.restaurant_id = $1 ORDER BY c.id"
        ))
        .bind(restaurant_id)
        .fetch_all(&mut *conn)
        .await?;
        Ok(coupons)
    }

    /// Applies the parts of `patch` that are set.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], [`DomainError::CouponNotFound`],
    /// or [`DomainError::Invalid`] for an end before the start.
    pub async fn update_coupon(
        &self,
        restaurant_id: i64,
        coupon_id: i64,
        patch: &CouponPatch,
    ) -> Result<Coupon, DomainError> {
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        let stored: Coupon = sqlx::query_as(concat!(
            select_coupons!(),
            " WHERE c.restaurant_id = $1 AND c.id = $2 FOR UPDATE OF c"
        ))
        .bind(restaurant_id)
        .bind(coupon_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DomainError::CouponNotFound(coupon_id.to_string()))?;
        let window = patch.window(&stored)?;
        sqlx::query(
            "UPDATE coupons SET active = COALESCE($2, active),
                 description = COALESCE($3, description), valid_until = $4,
                 max_redemptions = COALESCE($5, max_redemptions), updated_at = now()
             WHERE id = $1",
        )
        .bind(coupon_id)
        .bind(patch.active)
        .bind(patch.description.as_ref().map(|t| t.as_str()))
        .bind(window.ends())
        .bind(patch.max_redemptions.map(i64::from))
        .execute(&mut *tx)
        .await?;
        let coupon = coupon(&mut tx, restaurant_id, coupon_id).await?;
        tx.commit().await?;
        Ok(coupon)
    }

    /// Takes one redemption of a coupon for an order, atomically: the
    /// coupon's row lock serialises every redemption of it, so the counts
    /// [`Coupon::redeem`] judges cannot change before the new row commits.
    /// A retry for the same order returns the redemption it already holds.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], [`DomainError::CouponNotFound`],
    /// [`DomainError::CouponRefused`], or
    /// [`DomainError::OrderAlreadyRedeemed`] when the order holds another
    /// coupon.
    pub async fn redeem_coupon(
        &self,
        restaurant_id: i64,
        request: &RedeemRequest,
        now: DateTime<Utc>,
    ) -> Result<Redemption, DomainError> {
        let order_ref = request.order_ref.as_str();
        let customer_ref = request.customer_ref.as_str();
        let mut tx = self.pool.begin().await?;
        live_restaurant_currency(&mut tx, restaurant_id).await?;
        let coupon: Coupon = sqlx::query_as(concat!(
            select_coupons!(),
            " WHERE c.restaurant_id = $1 AND c.code = $2 FOR UPDATE OF c"
        ))
        .bind(restaurant_id)
        .bind(request.code.as_str())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| DomainError::CouponNotFound(request.code.as_str().to_owned()))?;

        if let Some(held) = redemption(&mut tx, restaurant_id, order_ref).await? {
            return if held.coupon_id == coupon.id {
                Ok(held)
            } else {
                Err(DomainError::OrderAlreadyRedeemed(order_ref.to_owned()))
            };
        }

        let row = sqlx::query(
            "SELECT count(*) FILTER (WHERE released_at IS NULL) AS held,
                    count(*) FILTER (WHERE released_at IS NULL AND customer_ref = $2)
                        AS held_by_customer,
                    count(DISTINCT customer_ref) AS customers,
                    COALESCE(bool_or(customer_ref = $2), FALSE) AS customer_seen
             FROM coupon_redemptions WHERE coupon_id = $1",
        )
        .bind(coupon.id)
        .bind(customer_ref)
        .fetch_one(&mut *tx)
        .await?;
        let usage = Usage {
            held: row.try_get("held")?,
            held_by_customer: row.try_get("held_by_customer")?,
            customers: row.try_get("customers")?,
            customer_seen: row.try_get("customer_seen")?,
        };
        let discount = coupon.redeem(now, request.subtotal, usage)?;

        // The order is unique per restaurant: a conflict here is another
        // coupon redeemed for the same order at the same moment.
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO coupon_redemptions (restaurant_id, coupon_id, order_ref, customer_ref,
                 discount_minor, redeemed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (restaurant_id, order_ref) DO NOTHING
             RETURNING id",
        )
        .bind(restaurant_id)
        .bind(coupon.id)
        .bind(order_ref)
        .bind(customer_ref)
        .bind(discount)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_none() {
            return Err(DomainError::OrderAlreadyRedeemed(order_ref.to_owned()));
        }
        let redemption = redemption(&mut tx, restaurant_id, order_ref)
            .await?
            .ok_or_else(|| DomainError::RedemptionNotFound(order_ref.to_owned()))?;
        tx.commit().await?;
        Ok(redemption)
    }

    /// Gives an order's redemption back, freeing its slot. Releasing twice
    /// changes nothing.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`] or
    /// [`DomainError::RedemptionNotFound`].
    pub async fn release_coupon(
        &self,
        restaurant_id: i64,
        order_ref: &str,
    ) -> Result<Redemption, DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        sqlx::query(
            "UPDATE coupon_redemptions SET released_at = COALESCE(released_at, now())
             WHERE restaurant_id = $1 AND order_ref = $2",
        )
        .bind(restaurant_id)
        .bind(order_ref)
        .execute(&mut *conn)
        .await?;
        redemption(&mut conn, restaurant_id, order_ref)
            .await?
            .ok_or_else(|| DomainError::RedemptionNotFound(order_ref.to_owned()))
    }
}

// ----- statements shared by several operations ---------------------------

/// The currency of a live restaurant; also how every write under a
/// restaurant learns that it still exists.
async fn live_restaurant_currency(
    conn: &mut PgConnection,
    restaurant_id: i64,
) -> Result<String, DomainError> {
    sqlx::query_scalar("SELECT currency FROM restaurants WHERE id = $1 AND deleted_at IS NULL")
        .bind(restaurant_id)
        .fetch_optional(conn)
        .await?
        .ok_or(DomainError::RestaurantNotFound(restaurant_id))
}

async fn restaurant(conn: &mut PgConnection, id: i64) -> Result<Restaurant, DomainError> {
    let mut found: Restaurant = sqlx::query_as(concat!(select_restaurants!(), " AND id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(DomainError::RestaurantNotFound(id))?;
    load_opening_hours(conn, std::slice::from_mut(&mut found)).await?;
    Ok(found)
}

async fn load_opening_hours(
    conn: &mut PgConnection,
    restaurants: &mut [Restaurant],
) -> Result<(), DomainError> {
    let ids: Vec<i64> = restaurants.iter().map(|r| r.id).collect();
    let spans: Vec<(i64, i16, NaiveTime, NaiveTime)> = sqlx::query_as(
        "SELECT restaurant_id, day_of_week, opens, closes FROM opening_hours
         WHERE restaurant_id = ANY($1) ORDER BY restaurant_id, position",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    for (restaurant_id, day, opens, closes) in spans {
        if let Some(r) = restaurants.iter_mut().find(|r| r.id == restaurant_id) {
            r.opening_hours.push(OpeningHours {
                day_of_week: u32::from(day.unsigned_abs()),
                opens,
                closes,
            });
        }
    }
    Ok(())
}

async fn replace_opening_hours(
    conn: &mut PgConnection,
    restaurant_id: i64,
    spans: &[OpeningSpan],
) -> Result<(), DomainError> {
    sqlx::query("DELETE FROM opening_hours WHERE restaurant_id = $1")
        .bind(restaurant_id)
        .execute(&mut *conn)
        .await?;
    let hours: Vec<OpeningHours> = spans.iter().map(|s| s.hours()).collect();
    sqlx::query(
        "INSERT INTO opening_hours (restaurant_id, position, day_of_week, opens, closes)
         SELECT $1, s.ord, s.day, s.opens, s.closes
         FROM UNNEST($2::bigint[], $3::time[], $4::time[]) WITH ORDINALITY AS s(day, opens, closes, ord)",
    )
    .bind(restaurant_id)
    .bind(hours.iter().map(|h| i64::from(h.day_of_week)).collect::<Vec<_>>())
    .bind(hours.iter().map(|h| h.opens).collect::<Vec<_>>())
    .bind(hours.iter().map(|h| h.closes).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Items of a restaurant in menu order: all of them, or those in `ids`.
async fn menu_items(
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
async fn option_groups(
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

async fn coupon(
    conn: &mut PgConnection,
    restaurant_id: i64,
    coupon_id: i64,
) -> Result<Coupon, DomainError> {
    sqlx::query_as(concat!(
        select_coupons!(),
        " WHERE c.restaurant_id = $1 AND c.id = $2"
    ))
    .bind(restaurant_id)
    .bind(coupon_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| DomainError::CouponNotFound(coupon_id.to_string()))
}

async fn redemption(
    conn: &mut PgConnection,
    restaurant_id: i64,
    order_ref: &str,
) -> Result<Option<Redemption>, DomainError> {
    let found = sqlx::query_as(SELECT_REDEMPTION)
        .bind(restaurant_id)
        .bind(order_ref)
        .fetch_optional(conn)
        .await?;
    Ok(found)
}

fn kind_to_db(kind: DiscountKind) -> &'static str {
    match kind {
        DiscountKind::Percent => "percent",
        DiscountKind::Fixed => "fixed",
    }
}

// ----- rows to domain values ----------------------------------------------

impl<'r> FromRow<'r, PgRow> for Restaurant {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let latitude: Option<f64> = row.try_get("latitude")?;
        let longitude: Option<f64> = row.try_get("longitude")?;
        Ok(Self {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            cuisine_type: row.try_get("cuisine_type")?,
            address: PostalAddress {
                street: row.try_get("street")?,
                city: row.try_get("city")?,
                state: row.try_get("state")?,
                zip_code: row.try_get("zip_code")?,
                country: row.try_get("country")?,
            },
            location: latitude
                .zip(longitude)
                .map(|(latitude, longitude)| Coordinates {
                    latitude,
                    longitude,
                }),
            currency: row.try_get("currency")?,
            opening_hours: Vec::new(),
            timezone: row.try_get("timezone")?,
            delivery_fee_minor: row.try_get("delivery_fee_minor")?,
            avg_prep_minutes: unsigned::<i32>(row, "avg_prep_minutes")?,
            tax_rate_bps: unsigned::<i32>(row, "tax_rate_bps")?,
            active: row.try_get("active")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Category {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            position: row.try_get("position")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for MenuItem {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            description: row.try_get("description")?,
            price_minor: row.try_get("price_minor")?,
            currency: row.try_get("currency")?,
            category_id: row.try_get("category_id")?,
            available: row.try_get("available")?,
            image_url: row.try_get("image_url")?,
            option_group_ids: row.try_get("option_group_ids")?,
            position: row.try_get("position")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for OptionGroup {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            name: row.try_get("name")?,
            min_select: unsigned::<i32>(row, "min_select")?,
            max_select: unsigned::<i32>(row, "max_select")?,
            currency: row.try_get("currency")?,
            options: Vec::new(),
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Coupon {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        let kind = match row.try_get::<&str, _>("kind")? {
            "percent" => DiscountKind::Percent,
            _ => DiscountKind::Fixed,
        };
        let discount = Discount::parse(kind, row.try_get("value")?).map_err(|why| {
            sqlx::Error::ColumnDecode {
                index: "value".to_owned(),
                source: why.into(),
            }
        })?;
        Ok(Self {
            id: row.try_get("id")?,
            restaurant_id: row.try_get("restaurant_id")?,
            code: row.try_get("code")?,
            description: row.try_get("description")?,
            discount,
            valid_from: row.try_get("valid_from")?,
            valid_until: row.try_get("valid_until")?,
            min_order_minor: row.try_get("min_order_minor")?,
            currency: row.try_get("currency")?,
            max_redemptions: unsigned::<i64>(row, "max_redemptions")?,
            max_per_customer: unsigned::<i64>(row, "max_per_customer")?,
            first_n_customers: unsigned::<i64>(row, "first_n_customers")?,
            redemptions: unsigned::<i64>(row, "redemptions")?,
            active: row.try_get("active")?,
        })
    }
}

impl<'r> FromRow<'r, PgRow> for Redemption {
    fn from_row(row: &'r PgRow) -> sqlx::Result<Self> {
        Ok(Self {
            id: row.try_get("id")?,
            coupon_id: row.try_get("coupon_id")?,
            code: row.try_get("code")?,
            order_ref: row.try_get("order_ref")?,
            customer_ref: row.try_get("customer_ref")?,
            discount_minor: row.try_get("discount_minor")?,
            currency: row.try_get("currency")?,
            released: row.try_get("released")?,
            redeemed_at: row.try_get("redeemed_at")?,
        })
    }
}
