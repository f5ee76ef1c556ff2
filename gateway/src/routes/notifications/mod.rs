//! `/api/notifications`: the messages notification-svc sends customers
//! over email, SMS and push — the steps of their orders, messages by
//! hand, bulk sends — with the log of every one, customers' choices of
//! what they hear of where, and the templates the messages are written
//! from.
//!
//! Who may do what:
//!
//! - an admin: everything — the whole log, sending by hand and in bulk,
//!   templates, and any customer's preferences;
//! - a customer (token subject = customer id): their own log and their
//!   own preferences; naming another customer is 403, as in the order
//!   listing;
//! - staff and drivers: nothing here (403).
//!
//! notification-svc names a refused field by its path in the gRPC request
//! (`template.body`, `recipient.email`, `changes[0].channel`), which is
//! not the REST body less a wrapper, so each route names its fields
//! itself through [`crate::upstream::UpstreamError::naming`] (a template's
//! `body`, a message's `recipient`, the preferences body's `email`).
//! What needs no service (the names of channels, categories and statuses,
//! ids, addresses, one of `template` or `message`) is checked here first,
//! so a refused request costs no call.
//!
//! # Parts
//! - `names.rs` — channel, category and status, as the JSON spells them.
//! - `messages.rs` — the delivery log and one message by hand.
//! - `bulk.rs` — one template to many, and how far it has come.
//! - `preferences.rs` — a customer's choice per channel.
//! - `templates.rs` — what messages are written from.
//!
//! Everything public of the parts is re-exported here, so the rest of the
//! gateway names it `routes::notifications::…` whichever file holds it.

mod bulk;
mod messages;
mod names;
mod preferences;
mod templates;

pub use bulk::*;
pub use messages::*;
pub use names::*;
pub use preferences::*;
pub use templates::*;

use crate::auth::{Claims, Role};
use crate::extract::QueryParams;
use crate::problem::Problem;
use crate::routes::orders::customer_id_of;

/// The customer whose notifications or preferences the caller may reach,
/// given the one they `asked` for: an admin's choice (`None` for every
/// customer), a customer's own id whatever they asked.
///
/// # Errors
/// 403 for a customer asking for another customer (`doing` says what a
/// customer does with only their own: "reads only their own
/// notifications"), for a customer token whose subject is not a customer
/// id, and for staff and drivers.
fn customer_scope(
    claims: &Claims,
    asked: Option<i64>,
    doing: &str,
) -> Result<Option<i64>, Problem> {
    match claims.role {
        Role::Admin => Ok(asked),
        Role::Customer => {
            let own = customer_id_of(claims)?;
            if asked.is_some_and(|id| id != own) {
                return Err(Problem::forbidden(format!("A customer {doing}.")));
            }
            Ok(Some(own))
        }
        Role::Staff | Role::Driver => Err(Problem::forbidden(
            "Notifications are for the customers themselves and admins.",
        )),
    }
}

/// The `channel` query parameter as the contract's number; 0 (any) when
/// absent.
///
/// # Errors
/// 400 for a name that is no channel.
fn channel_param(query: &QueryParams) -> Result<i32, Problem> {
    match query.text("channel") {
        None => Ok(0),
        Some(name) => Channel::parse(&name).map(Channel::to_proto).ok_or_else(|| {
            Problem::invalid_parameter(
                "channel",
                format!("`{name}` is not a channel: use {}", Channel::names()),
            )
        }),
    }
}

/// A listing's refusal: every field the service found wrong came from the
/// query string, and a bad query parameter is a 400 wherever it is caught.
fn query_problem(problem: Problem) -> Problem {
    if problem.status == 422 && !problem.errors.is_empty() {
        Problem::invalid_parameters(problem.errors.clone())
    } else {
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Role, sub: &str) -> Claims {
        Claims {
            sub: sub.to_owned(),
            role,
            restaurant_id: (role == Role::Staff).then_some(1),
            exp: 0,
            iat: 0,
            iss: crate::auth::ISSUER.to_owned(),
        }
    }

    #[test]
    fn a_customer_reaches_only_their_own_and_an_admin_anyone() {
        let ana = claims(Role::Customer, "7");
        assert_eq!(customer_scope(&ana, None, "x").ok(), Some(Some(7)));
        assert_eq!(customer_scope(&ana, Some(7), "x").ok(), Some(Some(7)));
        let other = customer_scope(&ana, Some(8), "reads only their own notifications")
            .expect_err("another customer's");
        assert_eq!(other.status, 403);
        assert_eq!(
            other.detail,
            "A customer reads only their own notifications."
        );

        let admin = claims(Role::Admin, "root");
        assert_eq!(customer_scope(&admin, None, "x").ok(), Some(None));
        assert_eq!(customer_scope(&admin, Some(-3), "x").ok(), Some(Some(-3)));

        for role in [Role::Staff, Role::Driver] {
            let refused = customer_scope(&claims(role, "5"), Some(5), "x").expect_err("refused");
            assert_eq!(refused.status, 403);
        }
    }

    #[test]
    fn a_listing_refusal_of_its_fields_is_a_400() {
        let problem = query_problem(Problem::field("event", "must be 1 to 64 of a-z"));
        assert_eq!(problem.status, 400);
        assert_eq!(problem.code, "invalid_parameter");
        assert_eq!(problem.errors[0].field, "event");
        let missing = query_problem(Problem::new(
            axum::http::StatusCode::NOT_FOUND,
            "bulk_not_found",
            "bulk send 3 not found",
        ));
        assert_eq!(missing.status, 404);
    }
}
