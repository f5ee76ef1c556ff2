//! Email over SMTP (RFC 5321) to a configured server, with lettre:
//! `smtp://host:port` (plain, for a relay on the same host),
//! `smtp://host:port?tls=required` (STARTTLS) or `smtps://user:pass@host`
//! (implicit TLS), connections pooled. A `2xx` after the message is a
//! server that took it (`sent` in the log: where it goes next is the mail
//! system's). A `4xx` reply, or a server that could not be reached, is
//! worth another attempt; a `5xx` is not, nor is a connection that broke
//! once open (the server may have taken the message). The message's key is
//! its `Message-ID`, but mail servers do not drop a resend by it, so an
//! attempt whose answer was lost is not made again.

use futures::future::BoxFuture;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use super::{Outgoing, Provider};
use crate::domain::message::Outcome;

#[derive(Debug, Clone)]
pub struct Smtp {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Smtp {
    /// # Errors
    /// A server URL lettre cannot read, or a sender that is not an address
    /// (`FoodMesh <orders@example.com>` or `orders@example.com`).
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        Ok(Self {
            transport,
            from: from.parse()?,
        })
    }

    fn message(&self, message: &Outgoing) -> Result<Message, String> {
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|e| format!("the recipient is not an address: {e}"))?;
        // `:` may not appear in a Message-ID's left part.
        let id = format!("<{}@foodmesh>", message.key.replace(':', "."));
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(id))
            .header(ContentType::TEXT_PLAIN)
            .body(message.body.clone())
            .map_err(|e| format!("the message cannot be built: {e}"))
    }
}

impl Provider for Smtp {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn resends_safely(&self) -> bool {
        false
    }

    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let email = match self.message(message) {
                Ok(email) => email,
                Err(response) => return Outcome::Permanent { response },
            };
            match self.transport.send(email).await {
                Ok(answer) => Outcome::Sent {
                    response: format!(
                        "{} {}",
                        answer.code(),
                        answer.message().collect::<Vec<_>>().join(" ")
                    ),
                },
                // A 4xx reply: the server did not take the message.
                Err(e) if e.is_transient() => Outcome::Transient {
                    response: e.to_string(),
                },
                Err(e) if e.is_permanent() || e.is_client() => Outcome::Permanent {
                    response: e.to_string(),
                },
                Err(e) if never_connected(&e) => Outcome::Transient {
                    response: e.to_string(),
                },
                // The connection broke or went quiet once open, perhaps after
                // the server took the message.
                Err(e) => Outcome::Permanent {
                    response: format!("{e}; not sent again, as it may have arrived"),
                },
            }
        })
    }
}

/// Whether `error` came before any conversation: no server answered the
/// connection, or its TLS handshake failed (before any command).
fn never_connected(error: &lettre::transport::smtp::Error) -> bool {
    use std::io::ErrorKind as K;
    if error.is_tls() {
        return true;
    }
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::AddrNotAvailable
                    | K::HostUnreachable
                    | K::NetworkUnreachable
            ) || (io.kind() == K::TimedOut
                && error.to_string().starts_with("Connection error"));
        }
        source = cause.source();
    }
    false
}
