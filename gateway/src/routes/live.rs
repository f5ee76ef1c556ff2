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

use std::convert::Infallible;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream;
use tonic::Streaming;

use crate::problem::Problem;
use crate::request_context::{RequestContext, current_request};

/// How often an idle stream sends a comment line, so proxies and load
/// balancers do not close it as dead and clients notice a dead connection.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The event name of a failure after the stream opened. Not `error`, which
/// browsers' `EventSource` already uses for connection trouble.
pub const PROBLEM_EVENT: &str = "problem";

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
