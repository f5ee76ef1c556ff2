//! Restaurants: creating, reading, listing, changing and soft-deleting
//! them, with their opening hours.

use chrono::NaiveTime;
use sqlx::PgConnection;

use super::Store;
use crate::domain::restaurant::{
    Location, OpeningHours, OpeningSpan, Restaurant, RestaurantDetails, RestaurantFilter,
    RestaurantPatch,
};
use crate::domain::{DomainError, Page};

// Written once here and narrowed by its callers.
macro_rules! select_restaurants {
    () => {
        "SELECT id, name, description, phone, email, cuisine_type, street, city, state,
                zip_code, country, latitude, longitude, currency, timezone,
                delivery_fee_minor, avg_prep_minutes, tax_rate_ppm, active, created_at, updated_at
         FROM restaurants WHERE deleted_at IS NULL"
    };
}

impl Store {
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
                 delivery_fee_minor, avg_prep_minutes, tax_rate_ppm, active)
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
        .bind(i64::from(d.tax_rate_ppm.get()))
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
                 tax_rate_ppm = COALESCE($18, tax_rate_ppm),
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
        .bind(patch.tax_rate_ppm.map(|t| i64::from(t.get())))
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
}

pub(super) async fn restaurant(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Restaurant, DomainError> {
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
