//! Server-Sent Events, as far as the gateway's live streams need: bytes in
//! any chunking → [`Event`]s ([`Parser`]), and the kitchen's ticket events
//! → the order they belong to ([`ticket_order_id`]).
//!
//! The parser follows the WHATWG event-stream rules the gateway writes to:
//! lines end in `\n` or `\r\n`, a blank line ends an event, `:` starts a
//! comment (the keep-alive), `data:` lines join with `\n`, one space after
//! the colon is dropped, and an event without data is not dispatched.
//! A chunk may end anywhere, even inside a UTF-8 character, so bytes are
//! kept until their line is whole.

use serde::Deserialize;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `event:`, or `message` when it had none.
    pub name: String,
    /// `id:`, when it had one.
    pub id: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

/// Turns the bytes of a stream into events, chunk by chunk.
#[derive(Debug, Default)]
pub struct Parser {
    line: Vec<u8>,
    name: Option<String>,
    id: Option<String>,
    data: Option<String>,
}

impl Parser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next chunk and returns the events it completed, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut events = Vec::new();
        for &byte in chunk {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if let Some(event) = self.line_done(&String::from_utf8_lossy(&line)) {
                    events.push(event);
                }
            } else {
                self.line.push(byte);
            }
        }
        events
    }

    fn line_done(&mut self, line: &str) -> Option<Event> {
        if line.is_empty() {
            let name = self.name.take();
            let data = self.data.take()?;
            return Some(Event {
                name: name.unwrap_or_else(|| "message".to_owned()),
                id: self.id.clone(),
                data,
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "event" => self.name = Some(value.to_owned()),
            // The last event id carries over to later events, as in a browser.
            "id" => self.id = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
        None
    }
}

/// The order a kitchen ticket event is about: a `snapshot` (a ticket open
/// when the stream started) or a `changed` (a ticket created or moved).
/// Other events (`synced`, `problem`) and data that is not a ticket give
/// `None`.
pub fn ticket_order_id(event: &Event) -> Option<i64> {
    #[derive(Deserialize)]
    struct Ticket {
        order_id: i64,
    }
    if !matches!(event.name.as_str(), "snapshot" | "changed") {
        return None;
    }
    serde_json::from_str::<Ticket>(&event.data)
        .ok()
        .map(|t| t.order_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KITCHEN: &str = "event: snapshot\nid: 1\ndata: {\"id\":7,\"order_id\":42,\"status\":\"queued\"}\n\n\
        : keep-alive\n\n\
        event: synced\nid: 2\ndata: {\"restaurant_id\":1}\n\n\
        event: changed\nid: 3\ndata: {\"id\":8,\"order_id\":43,\"status\":\"queued\"}\n\n";

    #[test]
    fn the_kitchen_stream_gives_its_events_in_order_and_skips_comments() {
        let events = Parser::new().feed(KITCHEN.as_bytes());

        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["snapshot", "synced", "changed"]);
        assert_eq!(events[2].id.as_deref(), Some("3"));
        assert_eq!(events[1].data, r#"{"restaurant_id":1}"#);
    }

    #[test]
    fn events_come_out_the_same_whatever_the_chunking() {
        let whole = Parser::new().feed(KITCHEN.as_bytes());
        for size in [1, 2, 3, 7, 64] {
            let mut parser = Parser::new();
            let mut events = Vec::new();
            for chunk in KITCHEN.as_bytes().chunks(size) {
                events.extend(parser.feed(chunk));
            }
            assert_eq!(events, whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_chunk_may_split_a_utf8_character() {
        let text = "event: changed\ndata: {\"notes\":\"crème brûlée\"}\n\n".as_bytes();
        let split = text.iter().position(|&b| b >= 0x80).expect("non-ASCII") + 1;
        let mut parser = Parser::new();

        let mut events = parser.feed(&text[..split]);
        events.extend(parser.feed(&text[split..]));

        assert_eq!(events.len(), 1);
        assert!(events[0].data.contains("crème brûlée"), "{:?}", events[0]);
    }

    #[test]
    fn crlf_lines_multi_line_data_and_defaults_follow_the_standard() {
        let events = Parser::new().feed(b"data:first\r\ndata: second\r\n\r\nevent: lonely\n\n");

        assert_eq!(
            events,
            [Event {
                name: "message".to_owned(),
                id: None,
                data: "first\nsecond".to_owned(),
            }],
            "an event without data is not dispatched"
        );
    }

    #[test]
    fn an_unfinished_event_waits_for_its_blank_line() {
        let mut parser = Parser::new();

        assert!(parser.feed(b"event: changed\ndata: {}\n").is_empty());
        assert_eq!(parser.feed(b"\n").len(), 1);
    }

    #[test]
    fn ticket_events_name_their_order_and_others_do_not() {
        let events = Parser::new().feed(KITCHEN.as_bytes());

        let orders: Vec<Option<i64>> = events.iter().map(ticket_order_id).collect();

        assert_eq!(orders, [Some(42), None, Some(43)]);
        let problem = Event {
            name: "problem".to_owned(),
            id: None,
            data: r#"{"order_id":1}"#.to_owned(),
        };
        assert_eq!(ticket_order_id(&problem), None);
    }
}
