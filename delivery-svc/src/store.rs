//! Every SQL statement of delivery-svc. Each function takes a connection,
//! so the caller decides what shares a transaction (a [`Work`] of
//! [`foodmesh_shared::work`]). Every use that locks both locks the
//! delivery before the driver.
//!
//! [`Work`]: foodmesh_shared::work::Work

use chrono::{DateTime, Utc};
use foodmesh_shared::values::{Coordinates, Location, PostalAddress};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::domain::DomainError;
use crate::domain::delivery::{Delivery, DeliveryStatus, Move, NewDelivery};
use crate::domain::driver::{Driver, NewDriver};

foodmesh_shared::database_failures!(DomainError);

fn driver_of(row: &PgRow) -> sqlx::Result<Driver> {
    let latitude: Option<f64> = row.try_get("latitude")?;
    let longitude: Option<f64> = row.try_get("longitude")?;
    let seen: Option<DateTime<Utc>> = row.try_get("location_at")?;
    let location = match (latitude, longitude, seen) {
        (Some(latitude), Some(longitude), Some(at)) => Location::parse(Coordinates {
            latitude,
            longitude,
        })
        .ok()
        .map(|l| (l, at)),
        _ => None,
    };
    Ok(Driver {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        phone: row.try_get("phone")?,
        vehicle: row.try_get("vehicle")?,
        available: row.try_get("available")?,
        location,
        active: row.try_get("active")?,
    })
}

/// Records `driver` at `at`.
///
/// # Errors
/// [`DomainError::PhoneTaken`], or the database failed.
pub async fn insert_driver(
    conn: &mut PgConnection,
    driver: &NewDriver,
    at: DateTime<Utc>,
) -> Result<Driver, DomainError> {
    let point = driver.location.map(Location::coordinates);
    let row = sqlx::query(
        "INSERT INTO drivers (name, phone, vehicle, latitude, longitude, location_at,
                              created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, CASE WHEN $4::DOUBLE PRECISION IS NULL THEN NULL ELSE $6 END,
                 $6, $6)
         RETURNING id, name, phone, vehicle, available, latitude, longitude, location_at, active",
    )
    .bind(driver.name.as_str())
    .bind(driver.phone.as_str())
    .bind(driver.vehicle.as_str())
    .bind(point.map(|p| p.latitude))
    .bind(point.map(|p| p.longitude))
    .bind(at)
    .fetch_one(conn)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(db) if db.constraint() == Some("drivers_phone_key") => {
            DomainError::PhoneTaken
        }
        other => other.into(),
    })?;
    Ok(driver_of(&row)?)
}

/// Driver `id`.
///
/// # Errors
/// The database failed.
pub async fn driver(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Driver>> {
    let row = sqlx::query(
        "SELECT id, name, phone, vehicle, available, latitude, longitude, location_at, active
         FROM drivers WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(driver_of).transpose()
}

/// Drivers by id, `available_only` or all, after id `after`, at most
/// `limit`.
///
/// # Errors
/// The database failed.
pub async fn drivers(
    conn: &mut PgConnection,
    available_only: bool,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<Driver>> {
    let rows = sqlx::query(
        "SELECT id, name, phone, vehicle, available, latitude, longitude, location_at, active
         FROM drivers WHERE (NOT $1 OR available) AND id > $2 ORDER BY id LIMIT $3",
    )
    .bind(available_only)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.iter().map(driver_of).collect()
}

/// Sets whether driver `id` takes deliveries; the driver after it.
///
/// # Errors
/// The database failed.
pub async fn set_available(
    conn: &mut PgConnection,
    id: i64,
    available: bool,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Driver>> {
    let row = sqlx::query(
        "UPDATE drivers SET available = $2, updated_at = $3 WHERE id = $1
         RETURNING id, name, phone, vehicle, available, latitude, longitude, location_at, active",
    )
    .bind(id)
    .bind(available)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(driver_of).transpose()
}

/// Keeps driver `id`'s position `point`, reported at `at`, unless a later
/// one is kept already; the driver as it now stands.
///
/// # Errors
/// The database failed.
pub async fn save_location(
    conn: &mut PgConnection,
    id: i64,
    point: Coordinates,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Driver>> {
    let row = sqlx::query(
        "UPDATE drivers SET
             latitude = CASE WHEN location_at IS NULL OR location_at < $4 THEN $2 ELSE latitude END,
             longitude = CASE WHEN location_at IS NULL OR location_at < $4 THEN $3 ELSE longitude END,
             location_at = greatest(location_at, $4)
         WHERE id = $1
         RETURNING id, name, phone, vehicle, available, latitude, longitude, location_at, active",
    )
    .bind(id)
    .bind(point.latitude)
    .bind(point.longitude)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(driver_of).transpose()
}

/// Gives driver `id` one more delivery if they are available and hold
/// fewer than `max_active`; whether they took it. The row's lock makes
/// two claims of one driver go one after another.
///
/// # Errors
/// The database failed.
pub async fn claim_driver(
    conn: &mut PgConnection,
    id: i64,
    max_active: i32,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Driver>> {
    let row = sqlx::query(
        "UPDATE drivers SET active = active + 1, updated_at = $3
         WHERE id = $1 AND available AND active < $2
         RETURNING id, name, phone, vehicle, available, latitude, longitude, location_at, active",
    )
    .bind(id)
    .bind(max_active)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(driver_of).transpose()
}

/// Takes one delivery off driver `id`; the driver after it.
///
/// # Errors
/// The database failed.
pub async fn release_driver(
    conn: &mut PgConnection,
    id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Driver>> {
    let row = sqlx::query(
        "UPDATE drivers SET active = active - 1, updated_at = $2 WHERE id = $1 AND active > 0
         RETURNING id, name, phone, vehicle, available, latitude, longitude, location_at, active",
    )
    .bind(id)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(driver_of).transpose()
}

/// Every driver who is available with room for another delivery and a
/// known position: what the live search index should hold.
///
/// # Errors
/// The database failed.
pub async fn free_drivers(conn: &mut PgConnection, max_active: i32) -> sqlx::Result<Vec<Driver>> {
    let rows = sqlx::query(
        "SELECT id, name, phone, vehicle, available, latitude, longitude, location_at, active
         FROM drivers WHERE available AND active < $1 AND latitude IS NOT NULL",
    )
    .bind(max_active)
    .fetch_all(conn)
    .await?;
    rows.iter().map(driver_of).collect()
}

fn address(row: &PgRow, side: &str) -> sqlx::Result<PostalAddress> {
    let column = |name: &str| format!("{side}_{name}");
    Ok(PostalAddress {
        street: row.try_get(column("street").as_str())?,
        city: row.try_get(column("city").as_str())?,
        state: row.try_get(column("state").as_str())?,
        zip_code: row.try_get(column("zip_code").as_str())?,
        country: row.try_get(column("country").as_str())?,
    })
}

fn point(row: &PgRow, side: &str) -> sqlx::Result<Option<Coordinates>> {
    let latitude: Option<f64> = row.try_get(format!("{side}_latitude").as_str())?;
    let longitude: Option<f64> = row.try_get(format!("{side}_longitude").as_str())?;
    Ok(latitude
        .zip(longitude)
        .map(|(latitude, longitude)| Coordinates {
            latitude,
            longitude,
        }))
}

fn delivery_of(row: &PgRow) -> sqlx::Result<Delivery> {
    let status: String = row.try_get("status")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        order_id: row.try_get("order_id")?,
        restaurant_id: row.try_get("restaurant_id")?,
        tracking_id: row.try_get("tracking_id")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown delivery status `{status}`").into())
        })?,
        pickup_address: address(row, "pickup")?,
        pickup_location: point(row, "pickup")?,
        dropoff_address: address(row, "dropoff")?,
        dropoff_location: point(row, "dropoff")?,
        ready_by: row.try_get("ready_by")?,
        food_ready_at: row.try_get("food_ready_at")?,
        driver_id: row.try_get("driver_id")?,
        eta: row.try_get("eta")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        picked_up_at: row.try_get("picked_up_at")?,
        delivered_at: row.try_get("delivered_at")?,
    })
}

/// Opens `delivery` with `tracking_id` at `at`; `None` when its order has
/// one already.
///
/// # Errors
/// The database failed.
pub async fn insert_delivery(
    conn: &mut PgConnection,
    delivery: &NewDelivery,
    tracking_id: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<Delivery>> {
    let (p, d) = (&delivery.pickup_address, &delivery.dropoff_address);
    let row = sqlx::query(
        "INSERT INTO deliveries (order_id, restaurant_id, tracking_id, status,
             pickup_street, pickup_city, pickup_state, pickup_zip_code, pickup_country,
             pickup_latitude, pickup_longitude,
             dropoff_street, dropoff_city, dropoff_state, dropoff_zip_code, dropoff_country,
             dropoff_latitude, dropoff_longitude, ready_by, created_at, updated_at)
         VALUES ($1, $2, $3, 'pending', $4, $5, $6, $7, $8, $9, $10,
                 $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)
         ON CONFLICT (order_id) DO NOTHING
         RETURNING *",
    )
    .bind(delivery.order_id)
    .bind(delivery.restaurant_id)
    .bind(tracking_id)
    .bind(&p.street)
    .bind(&p.city)
    .bind(&p.state)
    .bind(&p.zip_code)
    .bind(&p.country)
    .bind(delivery.pickup_location.map(|c| c.latitude))
    .bind(delivery.pickup_location.map(|c| c.longitude))
    .bind(&d.street)
    .bind(&d.city)
    .bind(&d.state)
    .bind(&d.zip_code)
    .bind(&d.country)
    .bind(delivery.dropoff_location.map(|c| c.latitude))
    .bind(delivery.dropoff_location.map(|c| c.longitude))
    .bind(delivery.ready_by)
    .bind(at)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// Delivery `id`, locked until the transaction ends.
///
/// # Errors
/// The database failed.
pub async fn lock_delivery(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Delivery>> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// The delivery of order `order_id`.
///
/// # Errors
/// The database failed.
pub async fn delivery_of_order(
    conn: &mut PgConnection,
    order_id: i64,
) -> sqlx::Result<Option<Delivery>> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE order_id = $1")
        .bind(order_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// The delivery of order `order_id`, locked until the transaction ends.
///
/// # Errors
/// The database failed.
pub async fn lock_delivery_of_order(
    conn: &mut PgConnection,
    order_id: i64,
) -> sqlx::Result<Option<Delivery>> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE order_id = $1 FOR UPDATE")
        .bind(order_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// Delivery `id`.
///
/// # Errors
/// The database failed.
pub async fn delivery(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Delivery>> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE id = $1")
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// The delivery followed by `tracking_id`.
///
/// # Errors
/// The database failed.
pub async fn delivery_by_tracking(
    conn: &mut PgConnection,
    tracking_id: &str,
) -> sqlx::Result<Option<Delivery>> {
    let row = sqlx::query("SELECT * FROM deliveries WHERE tracking_id = $1")
        .bind(tracking_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(delivery_of).transpose()
}

/// Writes `delivery`'s status, driver, arrival and reason, and stamps
/// the time of its status.
///
/// # Errors
/// The database failed.
pub async fn save_delivery(
    conn: &mut PgConnection,
    delivery: &Delivery,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE deliveries SET status = $2, driver_id = $3, eta = $4, reason = $5, updated_at = $6,
             assigned_at = CASE WHEN $2 = 'assigned' THEN $6 ELSE assigned_at END,
             picked_up_at = CASE WHEN $2 = 'picked_up' THEN $6 ELSE picked_up_at END,
             delivered_at = CASE WHEN $2 = 'delivered' THEN $6 ELSE delivered_at END
         WHERE id = $1",
    )
    .bind(delivery.id)
    .bind(delivery.status.as_str())
    .bind(delivery.driver_id)
    .bind(delivery.eta)
    .bind(&delivery.reason)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Notes that the food of order `order_id`'s delivery is ready at `at`;
/// the delivery, if the order has one.
///
/// # Errors
/// The database failed.
pub async fn mark_food_ready(
    conn: &mut PgConnection,
    order_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "UPDATE deliveries SET food_ready_at = coalesce(food_ready_at, $2), updated_at = $2
         WHERE order_id = $1 RETURNING id",
    )
    .bind(order_id)
    .bind(at)
    .fetch_optional(conn)
    .await
}

/// What was heard of order `order_id` before its delivery opened.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderNote {
    pub food_ready_at: Option<DateTime<Utc>>,
    pub cancelled_reason: Option<String>,
}

/// Keeps that order `order_id`'s food was ready at `at`.
///
/// # Errors
/// The database failed.
pub async fn note_ready(
    conn: &mut PgConnection,
    order_id: i64,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_notes (order_id, food_ready_at, noted_at) VALUES ($1, $2, $2)
         ON CONFLICT (order_id) DO UPDATE
         SET food_ready_at = coalesce(order_notes.food_ready_at, EXCLUDED.food_ready_at)",
    )
    .bind(order_id)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Keeps that order `order_id` was cancelled, for `reason`.
///
/// # Errors
/// The database failed.
pub async fn note_cancelled(
    conn: &mut PgConnection,
    order_id: i64,
    reason: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO order_notes (order_id, cancelled_reason, noted_at) VALUES ($1, $2, $3)
         ON CONFLICT (order_id) DO UPDATE SET cancelled_reason = EXCLUDED.cancelled_reason",
    )
    .bind(order_id)
    .bind(reason)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What was heard of order `order_id` before its delivery opened.
///
/// # Errors
/// The database failed.
pub async fn order_note(conn: &mut PgConnection, order_id: i64) -> sqlx::Result<OrderNote> {
    let row: Option<(Option<DateTime<Utc>>, Option<String>)> = sqlx::query_as(
        "SELECT food_ready_at, cancelled_reason FROM order_notes WHERE order_id = $1",
    )
    .bind(order_id)
    .fetch_optional(conn)
    .await?;
    Ok(row
        .map(|(food_ready_at, cancelled_reason)| OrderNote {
            food_ready_at,
            cancelled_reason,
        })
        .unwrap_or_default())
}

/// Writes a new arrival estimate of delivery `id`.
///
/// # Errors
/// The database failed.
pub async fn save_eta(conn: &mut PgConnection, id: i64, eta: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query("UPDATE deliveries SET eta = $2 WHERE id = $1")
        .bind(id)
        .bind(eta)
        .execute(conn)
        .await?;
    Ok(())
}

/// Records a move of delivery `id`.
///
/// # Errors
/// The database failed.
pub async fn record_move(
    conn: &mut PgConnection,
    id: i64,
    from: Option<DeliveryStatus>,
    to: DeliveryStatus,
    actor: &str,
    reason: &str,
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO delivery_history (delivery_id, from_status, to_status, actor, reason, at)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(from.map(DeliveryStatus::as_str))
    .bind(to.as_str())
    .bind(actor)
    .bind(reason)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A row of `delivery_history`: from, to, actor, reason, at.
type HistoryRow = (Option<String>, String, String, String, DateTime<Utc>);

/// Every move of delivery `id`, oldest first.
///
/// # Errors
/// The database failed.
pub async fn history(conn: &mut PgConnection, id: i64) -> sqlx::Result<Vec<Move>> {
    let rows: Vec<HistoryRow> = sqlx::query_as(
        "SELECT from_status, to_status, actor, reason, at FROM delivery_history
         WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|(from, to, actor, reason, at)| {
            let status = |raw: &str| {
                DeliveryStatus::parse(raw).ok_or_else(|| {
                    sqlx::Error::Decode(format!("unknown delivery status `{raw}`").into())
                })
            };
            Ok(Move {
                from: from.as_deref().map(status).transpose()?,
                to: status(&to)?,
                actor,
                reason,
                at,
            })
        })
        .collect()
}

/// The deliveries waiting for a driver, oldest first, after `after` (the
/// opening time and id where the previous page ended), at most `limit`:
/// their ids and opening times.
///
/// # Errors
/// The database failed.
pub async fn waiting(
    conn: &mut PgConnection,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, DateTime<Utc>)>> {
    let (at, id) = after.map_or((None, 0), |(at, id)| (Some(at), id));
    sqlx::query_as(
        "SELECT id, created_at FROM deliveries
         WHERE status = 'pending' AND ($1::TIMESTAMPTZ IS NULL OR (created_at, id) > ($1, $2))
         ORDER BY created_at, id LIMIT $3",
    )
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The deliveries driver `driver_id` holds (assigned or picked up).
///
/// # Errors
/// The database failed.
pub async fn held_by(conn: &mut PgConnection, driver_id: i64) -> sqlx::Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT * FROM deliveries WHERE driver_id = $1 AND status IN ('assigned', 'picked_up')
         ORDER BY id",
    )
    .bind(driver_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(delivery_of).collect()
}

/// Which deliveries a listing asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub order_id: Option<i64>,
    pub restaurant_id: Option<i64>,
    pub status: Option<DeliveryStatus>,
    pub driver_id: Option<i64>,
}

/// Deliveries `filter` asks for, newest first, before id `before` (all
/// when `None`), at most `limit`.
///
/// # Errors
/// The database failed.
pub async fn deliveries(
    conn: &mut PgConnection,
    filter: &DeliveryFilter,
    before: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT * FROM deliveries
         WHERE ($1::BIGINT IS NULL OR order_id = $1)
           AND ($2::TEXT IS NULL OR status = $2)
           AND ($3::BIGINT IS NULL OR driver_id = $3)
           AND ($4::BIGINT IS NULL OR id < $4)
           AND ($6::BIGINT IS NULL OR restaurant_id = $6)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(filter.order_id)
    .bind(filter.status.map(DeliveryStatus::as_str))
    .bind(filter.driver_id)
    .bind(before)
    .bind(limit)
    .bind(filter.restaurant_id)
    .fetch_all(conn)
    .await?;
    rows.iter().map(delivery_of).collect()
}
