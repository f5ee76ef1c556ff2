//! [`SmtpSink`]: a minimal SMTP server (RFC 5321) that keeps every message
//! it is given, enough for `lettre`'s client over plain TCP. It speaks
//! `EHLO`/`HELO` (advertising `8BITMIME`, `SMTPUTF8` and `PIPELINING`, but
//! neither `STARTTLS` nor `AUTH`, so a client sends in the clear without
//! logging in), `MAIL FROM`, `RCPT TO`, `DATA`, `RSET`, `NOOP` and `QUIT`;
//! anything else gets 502. Each message taken is a [`Received`]: its
//! envelope and the raw message with dot-stuffing undone.
//! [`SmtpSink::set_failing`] makes `MAIL FROM` refuse, as a relay that is
//! out of space or greylisting does.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::io::{self, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

/// The name the sink gives in its greeting; `lettre` reads the first word
/// of the `EHLO` answer as the server's name and refuses an answer without.
const HOSTNAME: &str = "foodmesh-smtp-sink";

/// One message as the sink took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The `MAIL FROM` path, empty for the null path `<>`.
    pub from: String,
    /// The `RCPT TO` paths, in order.
    pub to: Vec<String>,
    /// Headers, blank line and body, every line ended by CRLF.
    pub data: String,
}

impl Received {
    /// The first header called `name` (any case), continuation lines
    /// unfolded and the value trimmed.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in self.data.split("\r\n").take_while(|l| !l.is_empty()) {
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = headers.last_mut() {
                    value.push_str(line);
                }
            } else if let Some((field, value)) = line.split_once(':') {
                headers.push((field.trim().to_owned(), value.to_owned()));
            }
        }
        headers
            .into_iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().to_owned())
    }

    /// The body after the first blank line, with its line ends (compare
    /// with `trim_end`), decoded when `Content-Transfer-Encoding` is
    /// `quoted-printable` or `base64`. A multipart message is returned
    /// whole: its parts carry their own encodings.
    pub fn body(&self) -> String {
        let raw = self
            .data
            .split_once("\r\n\r\n")
            .map_or("", |(_, body)| body);
        let encoding = self
            .header("Content-Transfer-Encoding")
            .map(|e| e.to_ascii_lowercase());
        let decoded = match encoding.as_deref() {
            Some("quoted-printable") => Some(decode_quoted_printable(raw)),
            Some("base64") => decode_base64(raw),
            _ => None,
        };
        decoded.map_or_else(
            || raw.to_owned(),
            |bytes| String::from_utf8_lossy(&bytes).into_owned(),
        )
    }
}

#[derive(Default)]
struct Inner {
    messages: Vec<Received>,
    failing: Option<u16>,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    /// How many messages are kept, so waiters wake on each one.
    count: Arc<watch::Sender<usize>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn failing(&self) -> Option<u16> {
        self.lock().failing
    }

    fn keep(&self, message: Received) {
        let count = {
            let mut inner = self.lock();
            inner.messages.push(message);
            inner.messages.len()
        };
        self.count.send_replace(count);
    }
}

/// A running sink on a free local port; dropping it closes every
/// connection.
pub struct SmtpSink {
    addr: SocketAddr,
    shared: Shared,
    task: JoinHandle<()>,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SmtpSink {
    /// Starts the sink on 127.0.0.1 with a free port.
    ///
    /// # Panics
    /// No local port can be bound.
    pub async fn start() -> Self {
        let (count, _) = watch::channel(0_usize);
        let shared = Shared {
            inner: Arc::default(),
            count: Arc::new(count),
        };
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("bound address");
        let sessions_shared = shared.clone();
        let task = tokio::spawn(async move {
            // Held by the accept loop, so aborting it ends every session.
            let mut sessions = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                while sessions.try_join_next().is_some() {}
                sessions.spawn(session(stream, sessions_shared.clone()));
            }
        });
        Self { addr, shared, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `smtp://addr`, for a client configured by URL.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Every message taken so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        self.shared.lock().messages.clone()
    }

    /// Waits until at least `n` messages are taken and returns them all.
    ///
    /// # Panics
    /// Fewer than `n` arrive within `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut count = self.shared.count.subscribe();
        let reached = tokio::time::timeout(timeout, count.wait_for(|c| *c >= n))
            .await
            .is_ok_and(|r| r.is_ok());
        let messages = self.messages();
        assert!(
            reached,
            "SmtpSink: {} of {n} messages arrived within {timeout:?}",
            messages.len()
        );
        messages
    }

    /// From now on, answers `MAIL FROM` with `code` (451 is a transient
    /// failure a client should retry, 550 a permanent one), or accepts
    /// again with `None`.
    pub fn set_failing(&self, code: Option<u16>) {
        self.shared.lock().failing = code;
    }
}

/// What the session does after a command.
enum Step {
    Reply(String),
    ReadData,
    Close(String),
}

/// One connection's state: whether it has greeted, and the transaction in
/// progress.
#[derive(Default)]
struct Session {
    greeted: bool,
    from: Option<String>,
    to: Vec<String>,
}

impl Session {
    fn command(&mut self, line: &str, failing: Option<u16>) -> Step {
        let (verb, arg) = line.split_once(' ').unwrap_or((line, ""));
        let arg = arg.trim();
        let reply = match verb.to_ascii_uppercase().as_str() {
            "EHLO" | "HELO" if arg.is_empty() => "501 5.5.4 a domain is required".to_owned(),
            "EHLO" => {
                self.greet();
                format!(
                    "250-{HOSTNAME} greets {arg}\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING"
                )
            }
            "HELO" => {
                self.greet();
                format!("250 {HOSTNAME}")
            }
            "MAIL" if !self.greeted => "503 5.5.1 EHLO first".to_owned(),
            "MAIL" if self.from.is_some() => "503 5.5.1 nested MAIL command".to_owned(),
            "MAIL" => match (failing, path(arg, "FROM:")) {
                (Some(code), _) if code >= 500 => format!("{code} 5.3.0 message refused"),
                (Some(code), _) => format!("{code} 4.3.0 try again later"),
                (None, Some(from)) => {
                    self.from = Some(from.to_owned());
                    "250 2.1.0 OK".to_owned()
                }
                (None, None) => "501 5.5.4 syntax: MAIL FROM:<address>".to_owned(),
            },
            "RCPT" if self.from.is_none() => "503 5.5.1 need MAIL first".to_owned(),
            "RCPT" => match path(arg, "TO:").filter(|to| !to.is_empty()) {
                Some(to) => {
                    self.to.push(to.to_owned());
                    "250 2.1.5 OK".to_owned()
                }
                None => "501 5.5.4 syntax: RCPT TO:<address>".to_owned(),
            },
            "DATA" if self.to.is_empty() => "503 5.5.1 need RCPT first".to_owned(),
            "DATA" => return Step::ReadData,
            "RSET" => {
                self.reset();
                "250 2.0.0 OK".to_owned()
            }
            "NOOP" => "250 2.0.0 OK".to_owned(),
            "QUIT" => return Step::Close("221 2.0.0 bye".to_owned()),
            _ => "502 5.5.2 command not recognized".to_owned(),
        };
        Step::Reply(reply)
    }

    fn greet(&mut self) {
        self.greeted = true;
        self.reset();
    }

    fn reset(&mut self) {
        self.from = None;
        self.to.clear();
    }
}

/// The path of `MAIL FROM:<path> params` or `RCPT TO:<path>`; `keyword` is
/// matched in any case, and a space after the colon is tolerated.
fn path<'a>(arg: &'a str, keyword: &str) -> Option<&'a str> {
    let (head, rest) = arg.split_at_checked(keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = rest.trim_start();
    match rest.strip_prefix('<') {
        Some(inner) => inner.split_once('>').map(|(path, _)| path),
        None => rest.split_whitespace().next(),
    }
}

async fn session(stream: TcpStream, shared: Shared) -> io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    let mut state = Session::default();
    write
        .write_all(format!("220 {HOSTNAME} ESMTP ready\r\n").as_bytes())
        .await?;
    while let Some(line) = read_line(&mut reader, &mut buf).await? {
        let reply = match state.command(&line, shared.failing()) {
            Step::Reply(reply) => reply,
            Step::Close(reply) => {
                write.write_all(format!("{reply}\r\n").as_bytes()).await?;
                return Ok(());
            }
            Step::ReadData => {
                write
                    .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let Some(data) = read_data(&mut reader, &mut buf).await? else {
                    return Ok(());
                };
                shared.keep(Received {
                    from: state.from.take().unwrap_or_default(),
                    to: std::mem::take(&mut state.to),
                    data,
                });
                "250 2.0.0 OK: queued".to_owned()
            }
        };
        write.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
    Ok(())
}

/// The message up to the line that is only `.`, each line ended by CRLF
/// and a leading dot removed (RFC 5321 §4.5.2); `None` when the client
/// hangs up first, so a cut message is not kept.
async fn read_data(
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> io::Result<Option<String>> {
    let mut data = String::new();
    while let Some(line) = read_line(reader, buf).await? {
        if line == "." {
            return Ok(Some(data));
        }
        data.push_str(line.strip_prefix('.').unwrap_or(&line));
        data.push_str("\r\n");
    }
    Ok(None)
}

/// One line without its line end (CRLF, or a bare LF from a sloppy
/// client); `None` at end of stream. Bytes that are not UTF-8 are replaced
/// rather than refused: the sink records, it does not judge.
async fn read_line(
    reader: &mut BufReader<OwnedReadHalf>,
    buf: &mut Vec<u8>,
) -> io::Result<Option<String>> {
    buf.clear();
    if reader.read_until(b'\n', buf).await? == 0 {
        return Ok(None);
    }
    let line = buf.as_slice();
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(Some(String::from_utf8_lossy(line).into_owned()))
}

/// Quoted-printable (RFC 2045 §6.7): `=` at a line end is a soft break,
/// `=XX` a byte; an `=` followed by anything else is kept as it is.
fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"=\r\n") {
            i += 3;
        } else if rest.starts_with(b"=\n") {
            i += 2;
        } else if let [b'=', high, low, ..] = rest
            && let (Some(high), Some(low)) = (hex_digit(*high), hex_digit(*low))
        {
            out.push(high * 16 + low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

fn hex_digit(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Base64 (RFC 4648) with line breaks ignored; `None` for a character
/// outside the alphabet.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        buffer = (buffer << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from(buffer >> bits).ok()?);
            buffer &= (1 << bits) - 1;
        }
    }
    Some(out)
}
