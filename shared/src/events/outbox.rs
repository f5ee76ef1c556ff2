//! Writing an event: one row in the service's outbox, inside the caller's
//! transaction, so the event exists if and only if the change committed.

use std::time::SystemTime;

use uuid::Uuid;

use super::Envelope;
use crate::work::Work;

/// The Postgres channel the relay listens on. The wake-up is sent once the
/// work has committed ([`Work::notify`]), so the relay never wakes before
/// the rows it is woken for are visible.
pub const CHANNEL: &str = "foodmesh_outbox";

/// One event to write with [`enqueue_all`].
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a, P> {
    pub stream: &'a str,
    /// Its type, e.g. `order.created`.
    pub event_type: &'a str,
    /// The id of what it is about.
    pub aggregate_id: &'a str,
    pub payload: &'a P,
}

/// Adds an event to the outbox in `work`'s transaction and returns its id.
/// The current span's trace context travels with it.
///
/// # Errors
/// The insert fails (the work should then roll back).
pub async fn enqueue(
    work: &mut Work<'_>,
    stream: &str,
    event_type: &str,
    aggregate_id: &str,
    payload: &impl prost::Message,
) -> Result<Uuid, sqlx::Error> {
    let ids = enqueue_all(
        work,
        &[Outgoing {
            stream,
            event_type,
            aggregate_id,
            payload,
        }],
    )
    .await?;
    ids.into_iter().next().ok_or(sqlx::Error::RowNotFound)
}

/// Adds events to the outbox in `work`'s transaction, in order, and returns
/// their ids: one statement for the rows, since every round trip inside a
/// write transaction holds its locks longer. The relay's wake-up goes out
/// after the commit ([`Work::notify`]).
///
/// # Errors
/// The insert fails (the work should then roll back).
pub async fn enqueue_all<P: prost::Message>(
    work: &mut Work<'_>,
    events: &[Outgoing<'_, P>],
) -> Result<Vec<Uuid>, sqlx::Error> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let occurred_at = prost_types::Timestamp::from(SystemTime::now());
    let trace_context = crate::telemetry::current_trace_context();
    let request_id = crate::grpc::REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_default();
    let mut ids = Vec::with_capacity(events.len());
    let mut streams = Vec::with_capacity(events.len());
    let mut types = Vec::with_capacity(events.len());
    let mut envelopes = Vec::with_capacity(events.len());
    for event in events {
        let id = Uuid::new_v4();
        let envelope = Envelope {
            id: id.to_string(),
            r#type: event.event_type.to_owned(),
            aggregate_id: event.aggregate_id.to_owned(),
            occurred_at: Some(occurred_at),
            trace_context: trace_context.clone(),
            payload: event.payload.encode_to_vec(),
            request_id: request_id.clone(),
        };
        ids.push(id);
        streams.push(event.stream);
        types.push(event.event_type);
        envelopes.push(prost::Message::encode_to_vec(&envelope));
    }
    // `WITH ORDINALITY` keeps the rows' sequence numbers in the callers'
    // order.
    let seq: i64 = sqlx::query_scalar(
        "WITH written AS (
             INSERT INTO outbox (id, stream, event_type, envelope)
             SELECT e.id, e.stream, e.event_type, e.envelope
             FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bytea[])
                  WITH ORDINALITY AS e (id, stream, event_type, envelope, n)
             ORDER BY e.n
             RETURNING seq)
         SELECT max(seq) FROM written",
    )
    .bind(&ids)
    .bind(&streams)
    .bind(&types)
    .bind(&envelopes)
    .fetch_one(work.conn())
    .await?;
    // The relay's wake-up, naming one of the rows: the relay reads every
    // stream, and a row it has already published tells it the rest of this
    // transaction's went with it (see the relay).
    work.notify(CHANNEL, seq.to_string());
    Ok(ids)
}
