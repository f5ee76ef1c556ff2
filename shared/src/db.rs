//! Postgres for one service: its own database, created if missing, migrated
//! with the service's embedded migrations, behind a pool whose use is
//! exported as metrics; and the one row-reading helper every store needs.

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{ConnectOptions, Connection, PgPool, Postgres, Row};

/// Why the database could not be made ready.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL does not parse or names no database.
    #[error("database url: {0}")]
    Url(String),
    /// Postgres refused or failed a statement.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How long a pooled connection may have sat idle and still be handed out
/// without a ping first.
const UNTESTED_IDLE: Duration = Duration::from_secs(5);

/// Creates the database named in `url` if it does not exist, runs
/// `migrator` together with the event tables every service has
/// ([`crate::events::MIGRATOR`]), and returns a pool of at most
/// `max_connections`.
///
/// # Errors
/// Postgres is unreachable, the role may not create databases, or a
/// migration fails.
pub async fn connect(
    url: &str,
    max_connections: u32,
    migrator: &Migrator,
) -> Result<PgPool, DbError> {
    let options = PgConnectOptions::from_str(url)
        .map_err(|e| DbError::Url(e.to_string()))?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(250));
    let name = options
        .get_database()
        .ok_or_else(|| DbError::Url("no database name in the url".to_owned()))?
        .to_owned();
    ensure_database(&options, &name).await?;
    let pool = pool_options(max_connections).connect_with(options).await?;
    crate::events::with_event_tables(migrator)
        .run(&pool)
        .await?;
    spawn_pool_metrics(pool.clone(), name);
    Ok(pool)
}

/// How every service pools its connections (at most `max_connections`),
/// and so how anything measured against the services should too.
pub fn pool_options(max_connections: u32) -> PgPoolOptions {
    pool_options_pinging_after(max_connections, UNTESTED_IDLE)
}

/// [`pool_options`], pinging a connection before it is handed out only
/// once it has sat idle longer than `untested_idle`.
pub fn pool_options_pinging_after(max_connections: u32, untested_idle: Duration) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection it hands out by default: one more
        // round trip per checkout, several per order. A connection back
        // from work moments ago is alive; one that sat idle is checked
        // first. One that died meanwhile fails its next statement, and the
        // pool drops it when it comes back (it is pinged on release).
        .test_before_acquire(false)
        .before_acquire(move |conn, meta| {
            Box::pin(async move {
                if meta.idle_for > untested_idle {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Creates `name` through the server's maintenance database. Two processes
/// racing to create it both succeed.
///
/// # Errors
/// Postgres is unreachable or refuses.
pub async fn ensure_database(options: &PgConnectOptions, name: &str) -> Result<(), DbError> {
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::Url(format!("unsafe database name `{name}`")));
    }
    let mut conn = options.clone().database("postgres").connect().await?;
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await;
        match created {
            Ok(_) => tracing::info!(database = name, "created database"),
            // 42P04 duplicate_database; 23505 when two CREATEs race on the catalog.
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("42P04") | Some("23505")) => {}
            Err(e) => return Err(e.into()),
        }
    }
    conn.close().await?;
    Ok(())
}

/// Reads `column`, stored as the signed integer `T` because Postgres has no
/// unsigned types, as the `u32` a domain type holds (a count, minutes,
/// basis points).
///
/// # Errors
/// The column is missing or of another type, or its value is negative or
/// too large: a decode error naming the column.
pub fn unsigned<'r, T>(row: &'r PgRow, column: &str) -> sqlx::Result<u32>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres> + TryInto<u32>,
    <T as TryInto<u32>>::Error: std::error::Error + Send + Sync + 'static,
{
    row.try_get::<T, _>(column)?
        .try_into()
        .map_err(|e| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: Box::new(e),
        })
}

/// Exports `db_pool_connections{database,state}` and
/// `db_pool_max_connections{database}` every few seconds, for the
/// "database pool" panel.
fn spawn_pool_metrics(pool: PgPool, database: String) {
    tokio::spawn(async move {
        let max = f64::from(pool.options().get_max_connections());
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        while !pool.is_closed() {
            tick.tick().await;
            let size = pool.size();
            let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX).min(size);
            metrics::gauge!("db_pool_max_connections", "database" => database.clone()).set(max);
            metrics::gauge!("db_pool_connections", "database" => database.clone(), "state" => "idle")
                .set(f64::from(idle));
            metrics::gauge!("db_pool_connections", "database" => database.clone(), "state" => "in_use")
                .set(f64::from(size - idle));
        }
    });
}

/// Gives a service's `DomainError` — which must have an
/// `Unexpected(anyhow::Error)` variant — `From<sqlx::Error>`: a failed
/// statement is a failure no client can fix, logged with its cause chain.
/// Called in the service's `store`, the only layer that knows sqlx.
#[macro_export]
macro_rules! database_failures {
    ($error:ty) => {
        impl From<::sqlx::Error> for $error {
            fn from(error: ::sqlx::Error) -> Self {
                Self::Unexpected($crate::db::failure(error))
            }
        }
    };
}

/// A failed statement as an unexpected failure with its cause.
pub fn failure(error: sqlx::Error) -> anyhow::Error {
    anyhow::Error::new(error).context("database")
}
