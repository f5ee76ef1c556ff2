//! `db_ceiling`: the database's own limit for the order write, with nothing
//! of the mesh in the way — the figure `order_create` is held against.
//!
//! Each call is one transaction on order-svc's database doing what the
//! write of a new order does at its core: insert the order row (every
//! column order-svc writes), its lines, and one outbox row — in the
//! statements order-svc itself uses, so three between BEGIN and COMMIT —
//! then, after the commit, the relay's wake-up notice as order-svc sends
//! it (`foodmesh_shared::work`). The rest of order-svc's transaction — the
//! idempotency key, status history, customer profile and the second
//! outbox row of a cash order — is left out on purpose: the ceiling is the
//! bare write, and what `order_create` loses against it is what the
//! service adds.
//!
//! The rows go to a scratch copy of the real tables, not to the tables
//! themselves: `CREATE TABLE … (LIKE … INCLUDING ALL)` in a schema of its
//! own keeps the columns, defaults, checks, identities and indexes (the
//! foreign keys are added back), so the write costs the same while the
//! order history stays clean and order-svc's relay never sees a benchmark
//! event. The schema is dropped at the end. The notification goes to a
//! channel of its own for the same reason.

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use uuid::Uuid;

use crate::load::{self, Call, Plan};
use crate::mesh::{self, MENU};
use crate::stats::{Outcome, Summary};

/// The scratch schema; dropped and made anew by every run.
const SCHEMA: &str = "bench_ceiling";
/// Envelope size when order-svc has written no `order.created` yet: about
/// what it writes for a three-line order.
const DEFAULT_ENVELOPE_BYTES: usize = 600;

/// Makes the scratch tables: copies of order-svc's own, with the foreign
/// keys `LIKE` does not copy put back, so each insert checks them too.
const SCRATCH_DDL: &str = "
    DROP SCHEMA IF EXISTS bench_ceiling CASCADE;
    CREATE SCHEMA bench_ceiling;
    CREATE TABLE bench_ceiling.customers (LIKE public.customers INCLUDING ALL);
    CREATE TABLE bench_ceiling.orders (LIKE public.orders INCLUDING ALL);
    CREATE TABLE bench_ceiling.order_lines (LIKE public.order_lines INCLUDING ALL);
    CREATE TABLE bench_ceiling.outbox (LIKE public.outbox INCLUDING ALL);
    ALTER TABLE bench_ceiling.orders
        ADD FOREIGN KEY (customer_id) REFERENCES bench_ceiling.customers (id);
    ALTER TABLE bench_ceiling.order_lines
        ADD FOREIGN KEY (order_id) REFERENCES bench_ceiling.orders (id) ON DELETE CASCADE;
";

/// order-svc's own `INSERT INTO orders`, column for column, into the copy.
const INSERT_ORDER: &str = "
    INSERT INTO bench_ceiling.orders (order_number, restaurant_id, restaurant_name, customer_id,
        guest, contact_name, contact_phone, contact_email, order_type, source, status,
        table_number, delivery_street, delivery_city, delivery_state, delivery_zip_code,
        delivery_country, currency, subtotal_minor, discount_minor, delivery_fee_minor,
        tax_minor, total_minor, tax_rate_ppm, coupon_code, coupon_kind, coupon_value,
        coupon_min_order_minor, payment_method, notes, pickup_street, pickup_city, pickup_state,
        pickup_zip_code, pickup_country, pickup_latitude, pickup_longitude, prep_minutes)
    VALUES ($1, $2, 'Bench Pizza', $3, false, '', '', '', 'delivery', 'web', 'PENDING', NULL,
        '456 Oak Ave', 'New York', 'NY', '10002', 'US', 'USD', $4, 0, 0, 0, $4, 0, NULL, NULL,
        NULL, NULL, 'cash', '', '123 Main St', 'New York', 'NY', '10001', 'US', 40.7128,
        -74.006, 20)
    ON CONFLICT (order_number) DO NOTHING
    RETURNING id";

/// All of an order's lines in one statement, as order-svc inserts a new
/// order's lines.
const INSERT_LINES: &str = "
    INSERT INTO bench_ceiling.order_lines (order_id, menu_item_id, name, quantity,
        unit_price_minor, line_total_minor, option_ids, option_names, option_deltas_minor,
        special_instructions)
    SELECT $1, l.menu_item_id, l.name, l.quantity, l.unit_price_minor, l.line_total_minor,
        '{}', '{}', '{}', ''
    FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
        AS l (menu_item_id, name, quantity, unit_price_minor, line_total_minor)";

/// The outbox row, as the shared `outbox::enqueue_all` writes it.
const INSERT_OUTBOX: &str = "
    INSERT INTO bench_ceiling.outbox (id, stream, event_type, envelope)
    VALUES ($1, $2, $3, $4)";

/// The relay's wake-up after the commit, as `Committed::announce` sends
/// it: a transaction of its own that does not wait for the disk.
const WAKE: &str = "
    SELECT set_config('synchronous_commit', 'off', true), pg_notify('bench_ceiling', $1)";

/// The scratch tables and a pool with one connection per worker.
#[derive(Debug)]
pub struct Scratch {
    pool: PgPool,
    envelope: Vec<u8>,
}

/// Connects to order-svc's database at `url` with `concurrency`
/// connections, makes the scratch tables and the `customers` profiles the
/// orders refer to.
///
/// # Errors
/// The database is not there (is the mesh up with the same
/// `--db-prefix`?) or refused the DDL.
pub async fn prepare(url: &str, concurrency: usize, customers: usize) -> anyhow::Result<Scratch> {
    let connections = u32::try_from(concurrency).unwrap_or(u32::MAX);
    // Pooled as order-svc pools, so the write costs the round trips it
    // costs there.
    let pool = foodmesh_shared::db::pool_options(connections)
        // Every worker's connection is opened before the clock starts.
        .min_connections(connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect(url)
        .await
        .with_context(|| format!("cannot connect to order-svc's database at {url}"))?;
    sqlx::raw_sql(SCRATCH_DDL)
        .execute(&pool)
        .await
        .with_context(|| format!("making the scratch tables in schema {SCHEMA}"))?;
    sqlx::query("INSERT INTO bench_ceiling.customers (id) SELECT generate_series(1, $1)")
        .bind(i64::try_from(customers.max(1)).unwrap_or(1))
        .execute(&pool)
        .await
        .context("making the scratch customers")?;
    // The same size as order-svc's real envelopes, when it has written any.
    let measured: Option<i64> = sqlx::query_scalar(
        "SELECT avg(octet_length(envelope))::bigint FROM public.outbox
         WHERE event_type = 'order.created'",
    )
    .fetch_one(&pool)
    .await
    .context("reading order-svc's outbox")?;
    let size = measured
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(DEFAULT_ENVELOPE_BYTES);
    // Varied bytes, not zeros, though under 2 kB Postgres compresses nothing.
    let envelope = (0..size).map(|i| (i % 251) as u8).collect();
    Ok(Scratch { pool, envelope })
}

impl Scratch {
    /// Drops the scratch schema and closes the pool.
    ///
    /// # Errors
    /// The database refused the drop; the schema is then left for the next
    /// run, which drops it first.
    pub async fn remove(self) -> anyhow::Result<()> {
        let dropped = sqlx::query("DROP SCHEMA IF EXISTS bench_ceiling CASCADE")
            .execute(&self.pool)
            .await;
        self.pool.close().await;
        dropped.context("dropping the scratch schema")?;
        Ok(())
    }
}

struct OrderWrite {
    pool: PgPool,
    envelope: Vec<u8>,
    restaurant_id: i64,
    customer_id: i64,
    lines: usize,
    worker: usize,
    seq: u64,
    timeout: Duration,
}

impl OrderWrite {
    async fn write(&self, order_number: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let order_id: Option<i64> = sqlx::query_scalar(INSERT_ORDER)
            .bind(order_number)
            .bind(self.restaurant_id)
            .bind(self.customer_id)
            .bind(mesh::order_total_minor(self.lines))
            .fetch_optional(&mut *tx)
            .await?;
        let Some(order_id) = order_id else {
            return Err(sqlx::Error::RowNotFound);
        };
        let mut ids = Vec::with_capacity(self.lines);
        let mut names = Vec::with_capacity(self.lines);
        let mut quantities = Vec::with_capacity(self.lines);
        let mut prices = Vec::with_capacity(self.lines);
        let mut totals = Vec::with_capacity(self.lines);
        for (i, (name, _, cents)) in MENU.iter().take(self.lines).enumerate() {
            let quantity = mesh::quantity(i);
            ids.push(i64::try_from(i + 1).unwrap_or(0));
            names.push(*name);
            quantities.push(quantity);
            prices.push(*cents);
            totals.push(cents * quantity);
        }
        sqlx::query(INSERT_LINES)
            .bind(order_id)
            .bind(&ids)
            .bind(&names)
            .bind(&quantities)
            .bind(&prices)
            .bind(&totals)
            .execute(&mut *tx)
            .await?;
        sqlx::query(INSERT_OUTBOX)
            .bind(Uuid::new_v4())
            .bind("bench:order")
            .bind("order.created")
            .bind(&self.envelope)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sqlx::query(WAKE)
            .bind("bench:order")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

impl Call for OrderWrite {
    async fn call(&mut self) -> Outcome {
        self.seq += 1;
        let number = format!("{}-{}", self.worker, self.seq);
        match tokio::time::timeout(self.timeout, self.write(&number)).await {
            Ok(Ok(())) => Outcome::Ok,
            Ok(Err(e)) => Outcome::failed(db_key(&e), e.to_string()),
            Err(_) => Outcome::failed("timeout", format!("no commit within {:?}", self.timeout)),
        }
    }
}

/// The key a database failure is counted under: its SQLSTATE when the
/// server gave one.
fn db_key(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::PoolTimedOut => "db pool timeout".to_owned(),
        sqlx::Error::RowNotFound => "db order number taken".to_owned(),
        e => match e.as_database_error().and_then(|d| d.code()) {
            Some(code) => format!("sqlstate {code}"),
            None => "db".to_owned(),
        },
    }
}

/// `db_ceiling`: the order write straight against Postgres, one
/// transaction per call, at `plan`'s concurrency.
///
/// # Errors
/// The run itself failed; failed writes are counted, not returned.
pub async fn db_ceiling(
    scratch: &Scratch,
    plan: &Plan,
    restaurant_id: i64,
    lines: usize,
    customers: usize,
    timeout: Duration,
) -> anyhow::Result<Summary> {
    let calls = (0..plan.concurrency)
        .map(|worker| OrderWrite {
            pool: scratch.pool.clone(),
            envelope: scratch.envelope.clone(),
            restaurant_id,
            customer_id: i64::try_from(1 + worker % customers.max(1)).unwrap_or(1),
            lines,
            worker,
            seq: 0,
            timeout,
        })
        .collect();
    let finished = load::drive(plan, calls).await?;
    Ok(finished.summary())
}
