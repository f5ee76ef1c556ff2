//! Writing an event: one row in the service's outbox, inside the caller's
//! transaction, so the event exists if and only if the change committed.

use std::time::SystemTime;

use sqlx::PgConnection;
use uuid::Uuid;

use super::Envelope;

/// The Postgres channel the relay listens on; `NOTIFY` is delivered at
/// commit, so the relay wakes exactly when there is something to publish.
pub const CHANNEL: &str = "foodmesh_outbox";

/// Adds an event to the outbox in the caller's transaction and returns its
/// id. The caller's current span's trace context travels with it.
///
/// # Errors
/// The insert fails (the caller's transaction should then roll back).
pub async fn enqueue(
    conn: &mut PgConnection,
    stream: &str,
    event_type: &str,
    aggregate_id: &str,
    payload: &impl prost::Message,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::new_v4();
    let envelope = Envelope {
        id: id.to_string(),
        r#type: event_type.to_owned(),
        aggregate_id: aggregate_id.to_owned(),
        occurred_at: Some(prost_types::Timestamp::from(SystemTime::now())),
        trace_context: crate::telemetry::current_trace_context(),
        payload: payload.encode_to_vec(),
    };
    sqlx::query("INSERT INTO outbox (id, stream, event_type, envelope) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(stream)
        .bind(event_type)
        .bind(prost::Message::encode_to_vec(&envelope))
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(stream)
        .execute(&mut *conn)
        .await?;
    Ok(id)
}
