//! Coupons and their redemptions: the atomic redeem, and the release that
//! frees a redemption's slot.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, Row};

use super::{Store, live_restaurant_currency};
use crate::domain::coupon::{
    Coupon, CouponCode, CouponPatch, DiscountKind, NewCoupon, RedeemRequest, Redemption, Usage,
};
use crate::domain::{Amount, DomainError};

// Written once here and narrowed by its callers.
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

    /// Whether the coupon with `code` may be used on an order of `subtotal`
    /// at `now`, by anyone ([`Usage::anyone`]), and the discount it would
    /// give. Reads only: the answer may change before a redemption.
    ///
    /// # Errors
    /// [`DomainError::RestaurantNotFound`], [`DomainError::CouponNotFound`]
    /// or [`DomainError::CouponRefused`].
    pub async fn check_coupon(
        &self,
        restaurant_id: i64,
        code: &CouponCode,
        subtotal: Amount,
        now: DateTime<Utc>,
    ) -> Result<(Coupon, i64), DomainError> {
        let mut conn = self.pool.acquire().await?;
        live_restaurant_currency(&mut conn, restaurant_id).await?;
        let coupon: Coupon = sqlx::query_as(concat!(
            select_coupons!(),
            " WHERE c.restaurant_id = $1 AND c.code = $2"
        ))
        .bind(restaurant_id)
        .bind(code.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| DomainError::CouponNotFound(code.as_str().to_owned()))?;
        let discount =
            coupon.redeem(now, subtotal, Usage::anyone(i64::from(coupon.redemptions)))?;
        Ok((coupon, discount))
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
