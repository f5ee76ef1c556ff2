//! SMS through Twilio's Programmable Messaging API, or any service of its
//! shape: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`
//! with HTTP Basic auth (`AccountSid:AuthToken`) and a form of `To`,
//! `From` and `Body`. A `201` is a message Twilio queued (`sent` in the
//! log, with its `sid`); `429` and `503` (not taken) are worth another
//! attempt; any other error is not — an invalid number, a bad credential,
//! or another `5xx`, after which the message may exist. Twilio
//! accepts no idempotency key on this call, so an attempt whose answer
//! was lost is not made again.

use base64::Engine;
use futures::future::BoxFuture;
use hyper::http::{HeaderValue, header};

use super::http::{CallError, HttpClient};
use super::{Outgoing, Provider};
use crate::domain::message::Outcome;

/// Where and as whom to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioSettings {
    /// `https://api.twilio.com`, or a service of the same shape.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The sending number (E.164) or a Messaging Service SID (`MG…`).
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct Twilio {
    settings: TwilioSettings,
    url: String,
    authorization: HeaderValue,
    http: HttpClient,
}

impl Twilio {
    /// # Errors
    /// Credentials that cannot be written in a header.
    pub fn new(settings: TwilioSettings, http: HttpClient) -> anyhow::Result<Self> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            settings.base_url.trim_end_matches('/'),
            settings.account_sid
        );
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", settings.account_sid, settings.auth_token));
        let mut authorization = HeaderValue::from_str(&format!("Basic {credentials}"))?;
        authorization.set_sensitive(true);
        Ok(Self {
            settings,
            url,
            authorization,
            http,
        })
    }

    fn form(&self, message: &Outgoing) -> Vec<u8> {
        let from_field = if self.settings.from.starts_with("MG") {
            "MessagingServiceSid"
        } else {
            "From"
        };
        form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &message.recipient)
            .append_pair(from_field, &self.settings.from)
            .append_pair("Body", &message.body)
            .finish()
            .into_bytes()
    }
}

impl Provider for Twilio {
    fn name(&self) -> &'static str {
        "twilio"
    }

    fn resends_safely(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let headers = [
                (header::AUTHORIZATION, self.authorization.clone()),
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/x-www-form-urlencoded"),
                ),
                (header::ACCEPT, HeaderValue::from_static("application/json")),
            ];
            match self
                .http
                .post(&self.url, &headers, self.form(message))
                .await
            {
                Ok((status, body)) => read_answer(status.as_u16(), &body),
                Err(e @ CallError::NotSent(_)) => Outcome::Transient {
                    response: e.to_string(),
                },
                Err(e @ CallError::NoAnswer(_)) => Outcome::Permanent {
                    response: format!("{e}; not sent again, as it may have arrived"),
                },
            }
        })
    }
}

/// What Twilio's answer means, with what the log keeps of it: the
/// message's `sid` and `status`, or the error's `code` and `message`.
fn read_answer(status: u16, body: &str) -> Outcome {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = |key: &str| {
        json.get(key)
            .map(|v| v.to_string().trim_matches('"').to_owned())
    };
    if (200..300).contains(&status) {
        return Outcome::Sent {
            response: format!(
                "{status} sid={} status={}",
                text("sid").unwrap_or_default(),
                text("status").unwrap_or_default()
            ),
        };
    }
    let response = match (text("code"), text("message")) {
        (Some(code), Some(message)) => format!("{status} code={code}: {message}"),
        _ => format!("{status}: {body}"),
    };
    // 429 and 503 say the message was not taken; another 5xx may come
    // after Twilio created it.
    if status == 429 || status == 503 {
        Outcome::Transient { response }
    } else if status >= 500 {
        Outcome::Permanent {
            response: format!("{response}; not sent again, as it may have been taken"),
        }
    } else {
        Outcome::Permanent { response }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_answers_read_as_sent_worth_retrying_or_refused() {
        let queued = read_answer(201, r#"{"sid":"SM123","status":"queued"}"#);
        assert_eq!(
            queued,
            Outcome::Sent {
                response: "201 sid=SM123 status=queued".to_owned()
            }
        );
        let busy = read_answer(429, r#"{"code":20429,"message":"Too Many Requests"}"#);
        assert!(matches!(busy, Outcome::Transient { .. }), "{busy:?}");
        let down = read_answer(503, "<html>");
        assert_eq!(
            down,
            Outcome::Transient {
                response: "503: <html>".to_owned()
            }
        );
        let broken = read_answer(500, r#"{"code":20500,"message":"Internal Server Error"}"#);
        assert!(matches!(broken, Outcome::Permanent { .. }), "{broken:?}");
        let invalid = read_answer(
            400,
            r#"{"code":21211,"message":"Invalid 'To' Phone Number"}"#,
        );
        assert_eq!(
            invalid,
            Outcome::Permanent {
                response: "400 code=21211: Invalid 'To' Phone Number".to_owned()
            }
        );
    }
}
