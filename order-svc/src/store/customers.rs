//! Customer profiles: guests by phone, registered customers by id, and
//! the choices remembered from their orders.

use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};

use crate::domain::customer::{Customer, CustomerPatch, MAX_SAVED_ADDRESSES};
use crate::domain::order::{Contact, PaymentMethod};
use crate::domain::{DomainError, PostalAddress};

use super::rows::spelled_opt;

/// Finds the guest profile with this phone, or makes one; its name (and
/// email, when given) become the latest ones. Returns its (negative) id.
///
/// # Errors
/// Only unexpected database failures.
pub async fn upsert_guest(conn: &mut PgConnection, contact: &Contact) -> Result<i64, DomainError> {
    Ok(sqlx::query_scalar(
        "INSERT INTO customers (id, phone, name, email)
         VALUES (nextval('guest_customer_ids'), $1, $2, $3)
         ON CONFLICT (phone) WHERE id < 0 DO UPDATE SET
             name = EXCLUDED.name,
             email = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE customers.email END,
             updated_at = now()
         RETURNING id",
    )
    .bind(&contact.phone)
    .bind(&contact.name)
    .bind(&contact.email)
    .fetch_one(conn)
    .await?)
}

/// Makes a registered customer's (empty) profile on first use.
///
/// # Errors
/// Only unexpected database failures.
pub async fn ensure_registered(conn: &mut PgConnection, id: i64) -> Result<(), DomainError> {
    sqlx::query("INSERT INTO customers (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// What placing an order needs of a profile: who to contact and the
/// choices an order may update.
#[derive(Debug, Clone)]
pub struct Orderer {
    /// Name, phone and email as the profile has them.
    pub contact: Contact,
    /// The payment preference, if one is set.
    pub preferred_payment_method: Option<PaymentMethod>,
    /// The first of the saved addresses.
    pub first_address: Option<PostalAddress>,
}

/// A profile as an order placed from it reads it, in one statement.
///
/// # Errors
/// Only unexpected database failures.
pub async fn orderer(conn: &mut PgConnection, id: i64) -> Result<Option<Orderer>, DomainError> {
    sqlx::query(
        "SELECT c.name, c.phone, c.email, c.preferred_payment_method,
                a.street, a.city, a.state, a.zip_code, a.country
         FROM customers c
         LEFT JOIN LATERAL (
             SELECT street, city, state, zip_code, country FROM customer_addresses
             WHERE customer_id = c.id ORDER BY position, id LIMIT 1
         ) a ON true
         WHERE c.id = $1",
    )
    .bind(id)
    .try_map(|row: PgRow| {
        let street: Option<String> = row.try_get("street")?;
        let first_address = match street {
            Some(street) => Some(PostalAddress {
                street,
                city: row.try_get("city")?,
                state: row.try_get("state")?,
                zip_code: row.try_get("zip_code")?,
                country: row.try_get("country")?,
            }),
            None => None,
        };
        let phone: Option<String> = row.try_get("phone")?;
        Ok(Orderer {
            contact: Contact {
                name: row.try_get("name")?,
                phone: phone.unwrap_or_default(),
                email: row.try_get("email")?,
            },
            preferred_payment_method: spelled_opt(
                &row,
                "preferred_payment_method",
                PaymentMethod::from_db,
            )?,
            first_address,
        })
    })
    .fetch_optional(conn)
    .await
    .map_err(DomainError::from)
}

/// Keeps an order's choices on its profile: its payment method as the
/// preference when none is set, its delivery address first among the
/// saved ones. Writes (and locks the profile) only when `known`, read
/// earlier in the transaction, says something changes — a customer
/// ordering again as before touches no shared row, so their orders never
/// queue behind each other. How many orders a profile has placed, and
/// when the last, are read from the orders themselves.
///
/// # Errors
/// Only unexpected database failures.
pub async fn remember_choices(
    conn: &mut PgConnection,
    customer_id: i64,
    known: &Orderer,
    payment_method: Option<PaymentMethod>,
    delivery_address: Option<&PostalAddress>,
) -> Result<(), DomainError> {
    let new_preference = known.preferred_payment_method.is_none() && payment_method.is_some();
    let new_address = delivery_address.filter(|a| known.first_address.as_ref() != Some(*a));
    if !new_preference && new_address.is_none() {
        return Ok(());
    }
    // The profile row's lock orders concurrent orders' address moves.
    sqlx::query(
        "UPDATE customers SET
             preferred_payment_method = COALESCE(preferred_payment_method, $2),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(customer_id)
    .bind(payment_method.map(PaymentMethod::as_str))
    .execute(&mut *conn)
    .await?;
    if let Some(address) = new_address {
        save_address(conn, customer_id, address).await?;
    }
    Ok(())
}

async fn save_address(
    conn: &mut PgConnection,
    customer_id: i64,
    a: &PostalAddress,
) -> Result<(), DomainError> {
    sqlx::query(
        "DELETE FROM customer_addresses WHERE customer_id = $1 AND street = $2 AND city = $3
             AND state = $4 AND zip_code = $5 AND country = $6",
    )
    .bind(customer_id)
    .bind(&a.street)
    .bind(&a.city)
    .bind(&a.state)
    .bind(&a.zip_code)
    .bind(&a.country)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO customer_addresses (customer_id, position, street, city, state, zip_code,
             country)
         SELECT $1, COALESCE(min(position), 0) - 1, $2, $3, $4, $5, $6
         FROM customer_addresses WHERE customer_id = $1",
    )
    .bind(customer_id)
    .bind(&a.street)
    .bind(&a.city)
    .bind(&a.state)
    .bind(&a.zip_code)
    .bind(&a.country)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM customer_addresses WHERE customer_id = $1 AND id NOT IN (
             SELECT id FROM customer_addresses WHERE customer_id = $1
             ORDER BY position, id LIMIT $2)",
    )
    .bind(customer_id)
    .bind(i64::try_from(MAX_SAVED_ADDRESSES).unwrap_or(i64::MAX))
    .execute(conn)
    .await?;
    Ok(())
}

/// A customer profile.
///
/// # Errors
/// Only unexpected database failures.
pub async fn customer(conn: &mut PgConnection, id: i64) -> Result<Option<Customer>, DomainError> {
    let found: Option<Customer> = sqlx::query_as(
        "SELECT c.id, c.name, c.phone, c.email, c.preferred_payment_method,
                (SELECT count(*)::int4 FROM orders o WHERE o.customer_id = c.id) AS order_count,
                (SELECT o.created_at FROM orders o WHERE o.customer_id = c.id
                 ORDER BY o.id DESC LIMIT 1) AS last_order_at,
                c.created_at
         FROM customers c WHERE c.id = $1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(mut found) = found else {
        return Ok(None);
    };
    found.saved_addresses = sqlx::query(
        "SELECT street, city, state, zip_code, country FROM customer_addresses
         WHERE customer_id = $1 ORDER BY position, id",
    )
    .bind(id)
    .try_map(|row: PgRow| {
        Ok(PostalAddress {
            street: row.try_get("street")?,
            city: row.try_get("city")?,
            state: row.try_get("state")?,
            zip_code: row.try_get("zip_code")?,
            country: row.try_get("country")?,
        })
    })
    .fetch_all(conn)
    .await?;
    Ok(Some(found))
}

/// Applies the parts of `patch` that are set. A registered customer's
/// profile is made on first use; a guest profile must exist.
///
/// # Errors
/// [`DomainError::CustomerNotFound`], or [`DomainError::PhoneTaken`] when
/// another profile of the same kind has the phone.
pub async fn update_customer(
    conn: &mut PgConnection,
    id: i64,
    patch: &CustomerPatch,
) -> Result<Customer, DomainError> {
    if id > 0 {
        ensure_registered(conn, id).await?;
    }
    let phone = patch.phone.as_ref().map(|p| p.as_str().to_owned());
    let updated = sqlx::query(
        "UPDATE customers SET name = COALESCE($2, name), phone = COALESCE($3, phone),
             email = COALESCE($4, email),
             preferred_payment_method = COALESCE($5, preferred_payment_method),
             updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(patch.name.as_ref().map(|n| n.as_str()))
    .bind(&phone)
    .bind(patch.email.as_ref().map(|e| e.as_str()))
    .bind(patch.preferred_payment_method.map(PaymentMethod::as_str))
    .execute(&mut *conn)
    .await;
    match updated {
        Ok(done) if done.rows_affected() == 0 => return Err(DomainError::CustomerNotFound(id)),
        Ok(_) => {}
        Err(sqlx::Error::Database(e))
            if matches!(
                e.constraint(),
                Some("customers_guest_phone" | "customers_registered_phone")
            ) =>
        {
            return Err(DomainError::PhoneTaken(phone.unwrap_or_default()));
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(addresses) = &patch.saved_addresses {
        sqlx::query("DELETE FROM customer_addresses WHERE customer_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        for (position, address) in (0_i32..).zip(addresses) {
            let a = address.parts();
            sqlx::query(
                "INSERT INTO customer_addresses (customer_id, position, street, city, state,
                     zip_code, country)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(position)
            .bind(&a.street)
            .bind(&a.city)
            .bind(&a.state)
            .bind(&a.zip_code)
            .bind(&a.country)
            .execute(&mut *conn)
            .await?;
        }
    }
    customer(conn, id)
        .await?
        .ok_or(DomainError::CustomerNotFound(id))
}
