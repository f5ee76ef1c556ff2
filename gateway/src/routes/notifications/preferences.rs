//! Preferences (`/api/notifications/preferences`): a customer's choice,
//! per channel, of hearing of their orders' steps and of marketing.

use axum::Json;
use axum::extract::State;
use foodmesh_proto::notification::v1 as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::customer_scope;
use super::names::Channel;
use crate::auth::Caller;
use crate::extract::{JsonBody, QueryParams};
use crate::problem::{Problem, ProblemDetails};
use crate::routes::AppState;
use crate::validate::Violations;

/// A customer's choice on one channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"channel": "email", "order_updates": true, "marketing": false, "chosen": true}))]
pub struct ChannelPreferenceView {
    pub channel: Channel,
    /// Whether they hear of their orders' steps here.
    pub order_updates: bool,
    /// Whether they hear of news and offers here.
    pub marketing: bool,
    /// False when they never chose and the default holds: order updates
    /// by email (by SMS when no email is known), marketing nowhere.
    pub chosen: bool,
}

/// A customer's choices on every channel.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"customer_id": 7, "channels": [
    {"channel": "sms", "order_updates": false, "marketing": false, "chosen": true},
    {"channel": "email", "order_updates": true, "marketing": false, "chosen": false},
    {"channel": "push", "order_updates": false, "marketing": false, "chosen": false}
]}))]
pub struct PreferencesView {
    pub customer_id: i64,
    pub channels: Vec<ChannelPreferenceView>,
}

impl PreferencesView {
    /// The JSON view of a customer's preferences from notification-svc.
    ///
    /// # Errors
    /// notification-svc sent an unknown channel.
    pub fn from_proto(p: pb::Preferences) -> Result<Self, Problem> {
        Ok(Self {
            customer_id: p.customer_id,
            channels: p
                .channels
                .into_iter()
                .map(|c| {
                    Ok(ChannelPreferenceView {
                        channel: Channel::from_proto(c.channel).ok_or_else(|| {
                            Problem::internal(&"notification-svc sent an unknown channel")
                        })?,
                        order_updates: c.order_updates,
                        marketing: c.marketing,
                        chosen: c.chosen,
                    })
                })
                .collect::<Result<_, Problem>>()?,
        })
    }
}

/// A change of one channel's choice: what is given replaces what holds,
/// what is left out stays.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(example = json!({"order_updates": true, "marketing": false}))]
pub struct ChoiceInput {
    #[serde(default)]
    pub order_updates: Option<bool>,
    #[serde(default)]
    pub marketing: Option<bool>,
}

/// A change of a customer's choices, channel by channel: at least one
/// channel, each with `order_updates`, `marketing` or both. Every change
/// holds at once.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "customer_id": 7,
    "email": {"order_updates": true, "marketing": false},
    "sms": {"order_updates": false}
}))]
pub struct PreferencesInput {
    /// Whose: a customer may leave it out (it is their own, and another's
    /// is 403); an admin names the customer (negative for a guest's
    /// profile).
    #[serde(default)]
    pub customer_id: Option<i64>,
    #[serde(default)]
    pub sms: Option<ChoiceInput>,
    #[serde(default)]
    pub email: Option<ChoiceInput>,
    #[serde(default)]
    pub push: Option<ChoiceInput>,
}

impl PreferencesInput {
    /// The changes asked for, in the contract's order of channels, and the
    /// REST name of each (its channel).
    ///
    /// # Errors
    /// 422: no channel, or a channel changing nothing.
    fn changes(&self) -> Result<(Vec<pb::PreferenceChange>, Vec<&'static str>), Problem> {
        let mut v = Violations::new();
        let mut changes = Vec::new();
        let mut named = Vec::new();
        let given = [
            (Channel::Sms, &self.sms),
            (Channel::Email, &self.email),
            (Channel::Push, &self.push),
        ];
        for (channel, choice) in given {
            let Some(choice) = choice else {
                continue;
            };
            if choice.order_updates.is_none() && choice.marketing.is_none() {
                v.add(
                    channel.as_str(),
                    "must set order_updates, marketing or both",
                );
            }
            changes.push(pb::PreferenceChange {
                channel: channel.to_proto(),
                order_updates: choice.order_updates,
                marketing: choice.marketing,
            });
            named.push(channel.as_str());
        }
        if changes.is_empty() {
            v.add(
                "body",
                "must change at least one channel: sms, email or push",
            );
        }
        v.finish()?;
        Ok((changes, named))
    }
}

/// The REST name of a field of a `SetPreferences` request whose changes
/// are the body's channels `named`, in order: `changes[1].marketing` is
/// `email.marketing` when the second channel given was `email`.
fn preference_field(named: &[&str], path: &str) -> String {
    if let Some(rest) = path.strip_prefix("changes[")
        && let Some((index, tail)) = rest.split_once(']')
        && let Some(channel) = index.parse::<usize>().ok().and_then(|i| named.get(i))
    {
        return match tail.strip_prefix('.') {
            None | Some("channel") => (*channel).to_owned(),
            Some(field) => format!("{channel}.{field}"),
        };
    }
    let name = match path {
        "changes" => "body",
        other => other,
    };
    name.to_owned()
}

/// Read notification preferences
///
/// Answers a customer's choices on every channel: whether they hear of their orders' steps and
/// of marketing there. `customer_id` may be left out by a customer (their own) and is required
/// for an admin (negative for a guest's profile).
///
/// Who may call: customers (their own: another's is 403); admins, for any customer. Staff and
/// drivers are refused (403).
///
/// Events: none.
#[utoipa::path(
    get,
    path = "/api/notifications/preferences",
    tag = "notifications",
    params(
        ("customer_id" = Option<i64>, Query,
            description = "Whose: required for admins (negative for a guest's profile); a \
                customer's own when left out"),
    ),
    responses(
        (status = 200, description = "The choices, one per channel.", body = PreferencesView),
        (status = 403, description = "Staff or a driver, or a customer naming another customer.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_preferences(
    State(state): State<AppState>,
    Caller(claims): Caller,
    query: QueryParams,
) -> Result<Json<PreferencesView>, Problem> {
    let asked = query.nonzero_id("customer_id")?;
    let customer_id = customer_scope(&claims, asked, "reads only their own preferences")?
        .ok_or_else(|| Problem::invalid_parameter("customer_id", "is required for an admin"))?;
    let preferences = state
        .upstreams
        .notification
        .get_preferences(pb::GetPreferencesRequest { customer_id })
        .await?;
    Ok(Json(PreferencesView::from_proto(preferences)?))
}

/// Set notification preferences
///
/// Changes a customer's choices, channel by channel, all at once, and answers the choices then
/// in force on every channel. A choice made here holds over the default from then on;
/// `customer_id` may be left out by a customer and is required for an admin.
///
/// Who may call: customers (their own: another's is 403); admins, for any customer. Staff and
/// drivers are refused (403).
///
/// Events: none.
#[utoipa::path(
    post,
    path = "/api/notifications/preferences",
    tag = "notifications",
    request_body = PreferencesInput,
    responses(
        (status = 200, description = "The choices now in force, one per channel.",
            body = PreferencesView),
        (status = 403, description = "Staff or a driver, or a customer naming another customer.",
            body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "No channel (`body`), a channel changing nothing (`email`), \
            or no `customer_id` from an admin.",
            body = ProblemDetails, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn set_preferences(
    State(state): State<AppState>,
    Caller(claims): Caller,
    JsonBody(body): JsonBody<PreferencesInput>,
) -> Result<Json<PreferencesView>, Problem> {
    if body.customer_id == Some(0) {
        return Err(Problem::field(
            "customer_id",
            "must be a customer id, not 0",
        ));
    }
    let customer_id = customer_scope(&claims, body.customer_id, "sets only their own preferences")?
        .ok_or_else(|| Problem::field("customer_id", "is required for an admin"))?;
    let (changes, named) = body.changes()?;
    let preferences = state
        .upstreams
        .notification
        .set_preferences(pb::SetPreferencesRequest {
            customer_id,
            changes,
        })
        .await
        .map_err(|e| e.naming(&|path: &str| preference_field(&named, path)))?;
    Ok(Json(PreferencesView::from_proto(preferences)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::parse_json;

    fn input(json: &str) -> PreferencesInput {
        parse_json(json.as_bytes()).expect("parses")
    }

    #[test]
    fn each_channel_given_is_one_change_named_by_its_channel() {
        let (changes, named) = input(
            r#"{"customer_id": 7, "email": {"order_updates": true, "marketing": false},
                "sms": {"order_updates": false}}"#,
        )
        .changes()
        .expect("valid");
        assert_eq!(named, ["sms", "email"]);
        assert_eq!(changes[0].channel, pb::Channel::Sms as i32);
        assert_eq!(changes[0].order_updates, Some(false));
        assert_eq!(changes[0].marketing, None, "left as it is");
        assert_eq!(changes[1].marketing, Some(false));
    }

    #[test]
    fn a_change_of_nothing_is_refused_naming_the_channel_or_the_body() {
        let problem = input(r#"{"push": {}}"#)
            .changes()
            .expect_err("changes nothing");
        assert_eq!(problem.errors[0].field, "push");
        let problem = input(r#"{"customer_id": 7}"#)
            .changes()
            .expect_err("no channel");
        assert_eq!(problem.errors[0].field, "body");
        let typo = parse_json::<PreferencesInput>(br#"{"emial": {"marketing": true}}"#)
            .expect_err("no such field");
        assert_eq!(typo.errors[0].field, "emial");
    }

    #[test]
    fn the_services_changes_are_named_by_the_bodys_channels() {
        let named = ["sms", "email"];
        assert_eq!(preference_field(&named, "changes[1].channel"), "email");
        assert_eq!(preference_field(&named, "changes[0]"), "sms");
        assert_eq!(
            preference_field(&named, "changes[1].marketing"),
            "email.marketing"
        );
        assert_eq!(preference_field(&named, "changes"), "body");
        assert_eq!(preference_field(&named, "customer_id"), "customer_id");
    }
}
