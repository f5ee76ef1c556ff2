//! The request being served on this task — its id and path — for code
//! deep inside a request that is not handed them: problem bodies and the
//! problem events of live streams. [`crate::middleware::request_scope`]
//! opens the scope; nothing here knows HTTP or problems, so both can
//! depend on it.

use std::future::Future;

/// What code deep inside a request needs to know about it without being
/// handed it: its id and path, for problem bodies.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The `x-request-id` (the client's, or one generated for it).
    pub request_id: String,
    /// The request path, the problem's `instance`.
    pub path: String,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The request being served on this task, if any.
pub fn current_request() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` as the serving of the request `context` describes:
/// [`current_request`] answers with it until `work` completes.
pub fn scope<F: Future>(context: RequestContext, work: F) -> impl Future<Output = F::Output> {
    CURRENT.scope(context, work)
}
