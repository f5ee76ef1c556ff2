//! Live updates as Server-Sent Events: a service's gRPC server stream
//! (an order's changes, a kitchen's queue) becomes one `text/event-stream`
//! response with one named event per update, an increasing `id:`, JSON
//! `data:` in the shapes the REST routes answer with, and a keep-alive
//! comment while nothing happens.
//!
//! Anything that goes wrong before the stream opens (no access, an unknown
//! order, the service down) is an ordinary problem+json response, because
//! the handler opens the upstream stream before it answers. A failure after
//! that can only travel inside the stream: it becomes a last `problem`
//! event (a problem+json body as data) and the response ends. When the
//! upstream stream ends (an order completed or cancelled) the response ends
//! cleanly; when the client goes away, the upstream call is dropped with it.
//! When the gateway starts draining, every stream ends cleanly too, so a
//! display connected for hours does not hold the shutdown open; clients
//! reconnect (to another replica) and start again from a snapshot.
//!
//! The OpenAPI document describes a stream by its events ([`EventDoc`],
//! [`stream_schema`]), one schema per event name with its `data` JSON's
//! schema, so client generators and validators see what each event holds.

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use tonic::Streaming;
use utoipa::openapi::schema::{Discriminator, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

use crate::problem::Problem;
use crate::request_context::{RequestContext, current_request};

/// How often an idle stream sends a comment line, so proxies and load
/// balancers do not close it as dead and clients notice a dead connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The event name of a failure after the stream opened. Not `error`, which
/// browsers' `EventSource` already uses for connection trouble.
pub const PROBLEM_EVENT: &str = "problem";

/// One kind of event a stream sends, as the OpenAPI document shows it.
#[derive(Debug, Clone, Copy)]
pub struct EventDoc {
    /// The `event:` name.
    pub name: &'static str,
    /// The component schema of the whole event (`OrderSnapshotEvent`).
    pub schema: &'static str,
    /// The component schema of its `data:` JSON.
    pub data: &'static str,
    /// When it comes and what it means.
    pub description: &'static str,
}

/// The [`PROBLEM_EVENT`] any stream may end with.
pub const PROBLEM_EVENT_DOC: EventDoc = EventDoc {
    name: PROBLEM_EVENT,
    schema: "ProblemEvent",
    data: "ProblemDetails",
    description: "The stream failed after it opened (a service restarting, say): this is \
        its last event, with a problem+json body as `data`. Connect again.",
};

/// The schema of one event of a stream that sends `events`, for its
/// `text/event-stream` response. In OpenAPI 3.1 a stream's schema
/// describes each event (3.2 names it `itemSchema`) as the wire format
/// reads: `event`, `id`, and `data` — a string holding JSON
/// (`contentMediaType`) whose `contentSchema` depends on the event. One
/// variant per event, told apart by `event` (the discriminator), so a
/// generator makes a tagged union and a validator checks each event's data.
pub fn stream_schema(events: &[EventDoc]) -> RefOr<Schema> {
    let mut union = OneOfBuilder::new().description(Some(
        "One event of the stream; `event` tells which. Comments (`: keep-alive`) are not events.",
    ));
    for event in events {
        union = union.item(Ref::from_schema_name(event.schema));
    }
    let mapping = events
        .iter()
        .map(|e| (e.name, format!("#/components/schemas/{}", e.schema)));
    union
        .discriminator(Some(Discriminator::with_mapping("event", mapping)))
        .into()
}

/// Adds `T` and every schema it refers to, as a `body = T` would: for a
/// stream's schema, which names its events' data only inside strings.
pub fn register<T: utoipa::ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}

/// Declares the OpenAPI schema of one event of a stream that sends
/// `$events` (a `&[EventDoc]`), registering its events' schemas and the
/// `$data` types their `data` holds, the problem included. The type is only
/// a schema: events are written by [`respond`].
macro_rules! event_stream_schema {
    ($(#[$doc:meta])* $name:ident, $events:expr, [$($data:ty),* $(,)?]) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::routes::live::stream_schema($events)
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }

            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                schemas.extend($crate::routes::live::event_schemas($events));
                $($crate::routes::live::register::<$data>(schemas);)*
                $crate::routes::live::register::<$crate::problem::ProblemDetails>(schemas);
            }
        }
    };
}
pub(crate) use event_stream_schema;

/// The components [`stream_schema`] refers to: one schema per event.
pub fn event_schemas(events: &[EventDoc]) -> Vec<(String, RefOr<Schema>)> {
    events
        .iter()
        .map(|event| (event.schema.to_owned(), event_schema(event)))
        .collect()
}

fn event_schema(event: &EventDoc) -> RefOr<Schema> {
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([event.name]));
    let id = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some("^[1-9][0-9]*$"))
        .description(Some(
            "Counts this connection's events from 1. A stream does not resume from \
             `Last-Event-ID`: a new connection starts again from a snapshot.",
        ));
    let data = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some("JSON, on one line."))
        .content_media_type("application/json")
        .content_schema(Some(Ref::from_schema_name(event.data)));
    ObjectBuilder::new()
        .title(Some(event.name))
        .description(Some(event.description))
        .property("event", name)
        .property("id", id)
        .property("data", data)
        .required("event")
        .required("data")
        .into()
}

/// One upstream message as the client sees it.
#[derive(Debug)]
pub struct Update {
    /// The SSE `event:` name (`snapshot`, `status_changed`, ...).
    pub name: &'static str,
    /// The JSON `data:`, on one line.
    pub data: String,
}

impl Update {
    /// Serializes `data` as the event's JSON.
    ///
    /// # Errors
    /// Serialization failed (it cannot for the gateway's views); the client
    /// gets an opaque problem event and the cause goes to the log.
    pub fn json(name: &'static str, data: &impl serde::Serialize) -> Result<Self, Problem> {
        serde_json::to_string(data)
            .map(|data| Update { name, data })
            .map_err(|e| Problem::internal(&format_args!("serializing a live update: {e}")))
    }
}

struct State<T, F> {
    upstream: Streaming<T>,
    draining: tokio::sync::watch::Receiver<bool>,
    render: F,
    service: &'static str,
    method: &'static str,
    context: Option<RequestContext>,
    last_id: u64,
    done: bool,
}

/// Streams `upstream` to the client as Server-Sent Events, each message
/// turned into an [`Update`] by `render` (`Ok(None)` skips a message),
/// until it ends or `draining` turns true. `service` and `method` name the
/// upstream call in problems and logs.
pub fn respond<T, F>(
    upstream: Streaming<T>,
    draining: tokio::sync::watch::Receiver<bool>,
    service: &'static str,
    method: &'static str,
    render: F,
) -> Response
where
    T: Send + 'static,
    F: FnMut(T) -> Result<Option<Update>, Problem> + Send + 'static,
{
    let state = State {
        upstream,
        draining,
        render,
        service,
        method,
        // The request's id and path, for problem events written after the
        // handler (and its task-local scope) has returned.
        context: current_request(),
        last_id: 0,
        done: false,
    };
    let events = stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            let next = tokio::select! {
                next = state.upstream.message() => next,
                // Ends the stream once the gateway drains (or its state is
                // gone, which means the same).
                _ = state.draining.wait_for(|draining| *draining) => return None,
            };
            let problem = match next {
                Ok(Some(message)) => match (state.render)(message) {
                    Ok(Some(update)) => {
                        state.last_id += 1;
                        let event = Event::default()
                            .event(update.name)
                            .id(state.last_id.to_string())
                            .data(update.data);
                        return Some((Ok::<_, Infallible>(event), state));
                    }
                    Ok(None) => continue,
                    Err(problem) => problem,
                },
                Ok(None) => return None,
                Err(status) => Problem::from_grpc(state.service, state.method, &status),
            };
            state.done = true;
            let event = problem_event(problem, state.context.as_ref());
            return Some((Ok(event), state));
        }
    });
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Proxies that buffer responses (nginx) would hold events back.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn problem_event(problem: Problem, context: Option<&RequestContext>) -> Event {
    let mut details = problem.into_details();
    if let Some(context) = context {
        details
            .request_id
            .get_or_insert_with(|| context.request_id.clone());
        details.instance.get_or_insert_with(|| context.path.clone());
    }
    let data = serde_json::to_string(&details).unwrap_or_else(|_| "{}".to_owned());
    Event::default().event(PROBLEM_EVENT).data(data)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Holds a stream's document to its events: every event has a variant
    /// in the union, found through the discriminator, and every schema an
    /// event refers to is among the components `T` registers.
    pub(crate) fn assert_documented<T: utoipa::ToSchema>(events: &[EventDoc]) {
        let union = serde_json::to_value(T::schema()).expect("serializes");
        let mut registered = Vec::new();
        T::schemas(&mut registered);
        let names: Vec<&str> = registered.iter().map(|(name, _)| name.as_str()).collect();
        for event in events {
            assert_eq!(
                union["discriminator"]["mapping"][event.name],
                format!("#/components/schemas/{}", event.schema),
                "{}",
                event.name
            );
            assert!(names.contains(&event.schema), "{} missing", event.schema);
            assert!(names.contains(&event.data), "{} missing", event.data);
        }
        let variants = union["oneOf"].as_array().map_or(0, Vec::len);
        assert_eq!(variants, events.len());
    }

    #[test]
    fn an_event_is_its_name_an_id_and_json_data_of_its_own_schema() {
        let event = EventDoc {
            name: "synced",
            schema: "KitchenSyncedEvent",
            data: "SyncedView",
            description: "",
        };

        let schemas = event_schemas(&[event]);

        let (name, schema) = &schemas[0];
        let schema = serde_json::to_value(schema).expect("serializes");
        assert_eq!(name, "KitchenSyncedEvent");
        assert_eq!(
            schema["properties"]["event"]["enum"],
            serde_json::json!(["synced"])
        );
        assert_eq!(schema["properties"]["id"]["type"], "string");
        let data = &schema["properties"]["data"];
        assert_eq!(data["type"], "string");
        assert_eq!(data["contentMediaType"], "application/json");
        assert_eq!(
            data["contentSchema"]["$ref"],
            "#/components/schemas/SyncedView"
        );
        assert_eq!(schema["required"], serde_json::json!(["event", "data"]));
    }
}
