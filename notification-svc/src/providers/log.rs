//! The default provider: it sends nothing and writes what it would send
//! to the service's log, so a mesh without providers still shows every
//! message. The delivery log records it as delivered.

use futures::future::BoxFuture;

use super::{Outgoing, Provider};
use crate::domain::message::Outcome;

#[derive(Debug, Clone, Copy)]
pub struct Log;

impl Provider for Log {
    fn name(&self) -> &'static str {
        "log"
    }

    fn resends_safely(&self) -> bool {
        true
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            tracing::info!(
                target: "notifications",
                key = %message.key,
                channel = %message.channel,
                recipient = %message.recipient,
                subject = %message.subject,
                body = %message.body,
                "notification"
            );
            Outcome::Delivered {
                response: "written to the log".to_owned(),
            }
        })
    }
}
