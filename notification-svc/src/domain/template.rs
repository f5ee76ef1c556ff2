//! Templates: a subject and a body per kind and channel, with
//! placeholders in braces (`{order_number}`) filled when a message is
//! written. A placeholder this service cannot fill is refused when the
//! template is saved, so a message never goes out with a hole in it.
//! `{{` and `}}` write a brace.

use std::collections::HashMap;

use super::Violations;
use super::channel::Channel;
use super::step::Step;

/// Every placeholder a template may use, and what fills it.
pub const PLACEHOLDERS: [&str; 8] = [
    // The recipient's name.
    "name",
    "order_number",
    // The order's total, with its currency.
    "amount",
    // When the food is expected.
    "eta",
    // Where the customer follows the order (or its delivery).
    "link",
    "restaurant",
    // Why an order was cancelled.
    "reason",
    // What happens to a cancelled order's payment.
    "refund",
];

/// Twilio's ceiling for one message's body, split into segments.
pub const MAX_BODY: usize = 1600;
pub const MAX_SUBJECT: usize = 200;
pub const MAX_KIND: usize = 64;

/// A template as saved: every placeholder known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub kind: String,
    pub channel: Channel,
    pub subject: String,
    pub body: String,
    pub active: bool,
}

impl Template {
    /// # Errors
    /// A kind that is not 1 to 64 of `a-z`, `0-9` and `_`; a subject or
    /// body too long, an empty body, or either naming a placeholder not in
    /// [`PLACEHOLDERS`] or leaving a brace open — each named by field.
    pub fn parse(
        kind: &str,
        channel: Channel,
        subject: &str,
        body: &str,
        active: bool,
    ) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if let Err(why) = check_kind(kind) {
            v.add("kind", why);
        }
        if subject.chars().count() > MAX_SUBJECT {
            v.add(
                "subject",
                format!("must be at most {MAX_SUBJECT} characters"),
            );
        } else if subject.chars().any(char::is_control) {
            v.add("subject", "must be a single line of text");
        } else if let Err(why) = placeholders(subject) {
            v.add("subject", why);
        }
        if body.trim().is_empty() {
            v.add("body", "must not be empty");
        } else if body.chars().count() > MAX_BODY {
            v.add("body", format!("must be at most {MAX_BODY} characters"));
        } else if body.contains('\0') {
            v.add("body", "must not contain NUL characters");
        } else if let Err(why) = placeholders(body) {
            v.add("body", why);
        }
        if let Some(step) = Step::of_kind(kind) {
            for (field, text) in [("subject", subject), ("body", body)] {
                let unfilled = pieces(text)
                    .unwrap_or_default()
                    .into_iter()
                    .find_map(|p| match p {
                        Piece::Placeholder(name) if !step.fills().contains(&name) => Some(name),
                        _ => None,
                    });
                if let Some(name) = unfilled {
                    v.add(
                        field,
                        format!("uses {{{name}}}, which a message of {kind} has no value for"),
                    );
                }
            }
        }
        v.finish_with(|| {
            Some(Self {
                kind: kind.to_owned(),
                channel,
                subject: subject.to_owned(),
                body: body.to_owned(),
                active,
            })
        })
    }

    /// Every placeholder the subject and body use, each once.
    pub fn placeholders(&self) -> Vec<&str> {
        let mut used = Vec::new();
        for text in [self.subject.as_str(), self.body.as_str()] {
            for piece in pieces(text).unwrap_or_default() {
                if let Piece::Placeholder(name) = piece
                    && !used.contains(&name)
                {
                    used.push(name);
                }
            }
        }
        used
    }

    /// [`Template::render`], refusing a message its values make longer
    /// than a subject or a body may be.
    ///
    /// # Errors
    /// `values` names the fault: the message would pass [`MAX_SUBJECT`] or
    /// [`MAX_BODY`] characters.
    pub fn render_within_limits(
        &self,
        values: &HashMap<&str, String>,
    ) -> Result<(String, String), Violations> {
        let (subject, body) = self.render(values);
        if subject.chars().count() > MAX_SUBJECT || body.chars().count() > MAX_BODY {
            return Err(Violations::one(
                "values",
                format!(
                    "make the message longer than a subject ({MAX_SUBJECT}) or a body \
                     ({MAX_BODY} characters) may be"
                ),
            ));
        }
        Ok((subject, body))
    }

    /// # Errors
    /// A placeholder this template uses that `values` has no value for,
    /// named `values.<placeholder>`: a message by hand or in bulk must not
    /// go out with a hole in it.
    pub fn check_values(&self, values: &HashMap<&str, String>) -> Result<(), Violations> {
        let mut v = Violations::default();
        for name in self.placeholders() {
            if values.get(name).is_none_or(|value| value.trim().is_empty()) {
                v.add(
                    format!("values.{name}"),
                    "is used by the template: give its value",
                );
            }
        }
        v.finish_with(|| Some(()))
    }

    /// The subject and body with every placeholder filled from `values`
    /// (an absent value writes nothing).
    pub fn render(&self, values: &HashMap<&str, String>) -> (String, String) {
        (fill(&self.subject, values), fill(&self.body, values))
    }
}

/// # Errors
/// Why `kind` cannot name a template.
pub fn check_kind(kind: &str) -> Result<(), String> {
    let fine = !kind.is_empty()
        && kind.len() <= MAX_KIND
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if fine {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_KIND} of a-z, 0-9 and _ (order steps are order_received, \
             order_confirmed, order_ready, order_out_for_delivery, order_delivered and \
             order_cancelled)"
        ))
    }
}

/// A text's pieces: literal text and placeholder names.
enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Placeholder(&'a str),
}

fn pieces(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['{', '}']) {
        out.push(Piece::Text(&rest[..at]));
        let after = &rest[at + 1..];
        if rest[at..].starts_with("{{") {
            out.push(Piece::Brace('{'));
            rest = &after[1..];
        } else if rest[at..].starts_with("}}") {
            out.push(Piece::Brace('}'));
            rest = &after[1..];
        } else if rest[at..].starts_with('}') {
            return Err("has a } without its { (write }} for a brace)".to_owned());
        } else {
            let Some(end) = after.find('}') else {
                return Err("has a { that is never closed (write {{ for a brace)".to_owned());
            };
            out.push(Piece::Placeholder(&after[..end]));
            rest = &after[end + 1..];
        }
    }
    out.push(Piece::Text(rest));
    Ok(out)
}

/// # Errors
/// The first unknown placeholder, or a brace left open, in words.
fn placeholders(text: &str) -> Result<(), String> {
    for piece in pieces(text)? {
        if let Piece::Placeholder(name) = piece
            && !PLACEHOLDERS.contains(&name)
        {
            return Err(format!(
                "names the unknown placeholder {{{name}}}; known ones are {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

fn fill(text: &str, values: &HashMap<&str, String>) -> String {
    // A saved template always splits; one that does not is sent as written.
    let Ok(pieces) = pieces(text) else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(text.len() + 32);
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Brace(c) => out.push(c),
            Piece::Placeholder(name) => {
                out.push_str(values.get(name).map_or("", String::as_str));
            }
        }
    }
    out.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Violations) -> Vec<String> {
        v.iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn a_template_fills_its_placeholders_and_writes_doubled_braces() {
        let t = Template::parse(
            "weekly_news",
            Channel::Email,
            "Order {order_number}",
            "Hi {name}, {{ours}} by {eta}. {refund}",
            true,
        )
        .expect("valid");
        let values = HashMap::from([
            ("name", "Ana".to_owned()),
            ("order_number", "K7M2QX".to_owned()),
            ("eta", "18:40".to_owned()),
        ]);
        let (subject, body) = t.render(&values);
        assert_eq!(subject, "Order K7M2QX");
        assert_eq!(body, "Hi Ana, {ours} by 18:40.");
    }

    #[test]
    fn an_unknown_placeholder_or_an_open_brace_is_refused_when_saved() {
        let Err(v) = Template::parse("Promo!", Channel::Sms, "{oops", "Hi {nmae}", true) else {
            panic!("refused");
        };
        assert_eq!(fields(&v), ["kind", "subject", "body"]);
        let body = v.iter().find(|f| f.field == "body").expect("body");
        assert!(body.description.contains("{nmae}"), "{}", body.description);
        let Err(v) = Template::parse("promo", Channel::Sms, "", "a } b", true) else {
            panic!("refused");
        };
        assert_eq!(fields(&v), ["body"]);
        let Err(v) = Template::parse("promo", Channel::Sms, "", "  ", true) else {
            panic!("refused");
        };
        assert_eq!(fields(&v), ["body"]);
    }

    #[test]
    fn a_template_names_the_values_it_needs() {
        let t = Template::parse(
            "news",
            Channel::Email,
            "{name}",
            "Hi {name}, see {link} {link}",
            true,
        )
        .expect("valid");
        assert_eq!(t.placeholders(), ["name", "link"]);
        let given = HashMap::from([("name", "Ana".to_owned())]);
        let Err(v) = t.check_values(&given) else {
            panic!("link is missing");
        };
        assert_eq!(fields(&v), ["values.link"]);
    }

    #[test]
    fn an_order_step_s_template_may_use_only_what_the_step_fills() {
        let Err(v) = Template::parse("order_confirmed", Channel::Sms, "", "{refund}", true) else {
            panic!("a confirmation has no refund");
        };
        assert_eq!(fields(&v), ["body"]);
        Template::parse(
            "order_cancelled",
            Channel::Sms,
            "",
            "{reason} {refund}",
            true,
        )
        .expect("a cancellation has both");
        Template::parse("menu_news", Channel::Sms, "", "{refund}", true)
            .expect("a kind of one's own is filled from the send's values");
    }

    #[test]
    fn every_order_step_is_a_valid_kind() {
        for step in Step::ALL {
            assert_eq!(check_kind(step.kind()), Ok(()));
        }
        assert!(check_kind(&"a".repeat(65)).is_err());
    }
}
