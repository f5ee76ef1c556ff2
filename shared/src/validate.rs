//! Parsing request input into values that can only hold valid data, and
//! collecting every field that did not parse, so a refusal names all of
//! them at once by their path in the request (`address.zip_code`,
//! `items[2].quantity`).
//!
//! These are mechanics: which fields a request has, how long a
//! restaurant's name may be and whether a phone is required stay in each
//! service's `domain` (or, for values several parts must agree on, in
//! [`crate::values`]). Like a service's domain, this module knows neither
//! sqlx nor tonic; the gRPC layer turns [`Violations`] into a status with
//! [`crate::status::refusal`].

use std::fmt;

/// One field that broke a rule, named by its path in the request
/// (`address.zip_code`, `opening_hours[1].opens`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The field's path, relative to the request's input fields.
    pub field: String,
    /// What is wrong, readable by whoever typed it.
    pub description: String,
}

/// The violations found while parsing one request, collected so the reply
/// names every bad field at once rather than one per attempt.
///
/// A parser records a violation per bad field with [`check`](Self::check)
/// and friends, keeps the parts that did parse as `Option`s, and ends with
/// [`finish_with`](Self::finish_with), which assembles the value only when
/// nothing was wrong.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Violations of one field, for rules that need stored data to decide
    /// and so are checked outside a parser.
    pub fn one(field: impl fmt::Display, description: impl Into<String>) -> Self {
        let mut violations = Self::default();
        violations.add(field, description);
        violations
    }

    /// Records that `field` breaks a rule.
    pub fn add(&mut self, field: impl fmt::Display, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.to_string(),
            description: description.into(),
        });
    }

    /// Keeps a parsed value, or records why `field` did not parse.
    pub fn check<T>(&mut self, field: impl fmt::Display, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|why| self.add(field, why)).ok()
    }

    /// Like [`check`](Self::check) for a field the request may leave out.
    pub fn check_opt<T>(
        &mut self,
        field: impl fmt::Display,
        parsed: Option<Result<T, String>>,
    ) -> Option<T> {
        parsed.and_then(|p| self.check(field, p))
    }

    /// Keeps a parsed composite value, or records its violations under
    /// `prefix` (`address` + `zip_code` → `address.zip_code`).
    pub fn nested<T>(
        &mut self,
        prefix: impl fmt::Display,
        parsed: Result<T, Violations>,
    ) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(inner) => {
                for v in inner.0 {
                    self.add(format_args!("{prefix}.{}", v.field), v.description);
                }
                None
            }
        }
    }

    /// Keeps a parsed value whose violations already carry full paths.
    pub fn merge<T>(&mut self, parsed: Result<T, Violations>) -> Option<T> {
        parsed.map_err(|inner| self.append(inner)).ok()
    }

    /// Adds `other`'s violations, whose fields already carry full paths,
    /// after these.
    pub fn append(&mut self, other: Violations) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The violations in the order they were found, for the gRPC layer's
    /// field list.
    pub fn iter(&self) -> impl Iterator<Item = &FieldViolation> {
        self.0.iter()
    }

    /// The value `build` assembles from the parsed parts when nothing was
    /// wrong. `build` returns `None` only when a part failed to parse, which
    /// recorded a violation.
    ///
    /// Each service's `finish` ([`refusals!`](crate::refusals)) answers
    /// with its own `DomainError` instead, so a handler's `?` reaches its
    /// status mapping.
    ///
    /// # Errors
    /// These violations, when any was recorded.
    pub fn finish_with<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, Violations> {
        if !self.is_empty() {
            return Err(self);
        }
        build().ok_or(self)
    }
}

impl fmt::Display for Violations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", v.field, v.description)?;
        }
        Ok(())
    }
}

/// Gives a service's `DomainError` — which must have an
/// `Invalid(Violations)` variant — the two ways every domain refuses
/// input: `DomainError::invalid(field, why)` for one field, and a
/// `Finish` trait whose `violations.finish(build)` ends a parse with the
/// service's own error, so `?` in a handler reaches its one mapping of
/// errors to statuses.
///
/// ```ignore
/// foodmesh_shared::refusals!(DomainError);
/// ```
#[macro_export]
macro_rules! refusals {
    ($error:ident) => {
        impl $error {
            /// One bad field, for rules that need stored data to decide.
            pub fn invalid(
                field: impl ::std::fmt::Display,
                description: impl Into<String>,
            ) -> Self {
                Self::Invalid($crate::validate::Violations::one(field, description))
            }
        }

        /// Ends a parse with this service's error.
        pub trait Finish {
            /// The value `build` assembles from the parsed parts when
            /// nothing was wrong.
            ///
            /// # Errors
            /// `Invalid` with every violation recorded.
            fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, $error>;
        }

        impl Finish for $crate::validate::Violations {
            fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, $error> {
                self.finish_with(build).map_err($error::Invalid)
            }
        }
    };
}

/// A name: trimmed, 1 to `MAX` characters, on one line. `MAX` is the
/// service's choice for each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name<const MAX: usize>(String);

impl<const MAX: usize> Name<MAX> {
    /// # Errors
    /// Empty after trimming, longer than `MAX`, or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be empty".to_owned());
        }
        if text.chars().any(char::is_control) {
            return Err("must be a single line of text".to_owned());
        }
        check_length(text, MAX)?;
        Ok(Self(text.to_owned()))
    }

    /// The name as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Free text (a description, instructions, a reason): trimmed, at most
/// `MAX` characters, possibly empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<const MAX: usize>(String);

impl<const MAX: usize> Text<MAX> {
    /// # Errors
    /// Longer than `MAX` characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        check_length(text, MAX)?;
        Ok(Self(text.to_owned()))
    }

    /// The text cut to `MAX` characters: for text another service already
    /// accepted, which must not be refused over its length here.
    pub fn truncated(raw: &str) -> Self {
        Self(raw.trim().chars().take(MAX).collect())
    }

    /// The text as stored and shown.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Lengths count characters, not bytes: `é` is one.
fn check_length(text: &str, max: usize) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    Ok(())
}

/// A phone number in E.164 form: `+` then 7–15 digits, no leading 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// # Errors
    /// Not E.164 (an empty phone is refused too; a service whose phone is
    /// optional checks for empty first).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        let e164 = text.strip_prefix('+').is_some_and(|digits| {
            (7..=15).contains(&digits.len())
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
        });
        if !e164 {
            return Err("must be an E.164 number such as +12125550100".to_owned());
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// `raw` trimmed, when it is empty or a plausible email address (one `@`, a
/// dotted domain, no whitespace, at most 254 characters). Whether it
/// receives mail is not for a parser to know. `example` is the address the
/// refusal offers as a model, which each service words for its own users.
///
/// # Errors
/// Not empty and not shaped like an email address.
pub fn email(raw: &str, example: &str) -> Result<String, String> {
    let text = raw.trim();
    if text.is_empty() {
        return Ok(String::new());
    }
    let plausible = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        }
        None => false,
    };
    if !plausible || text.len() > 254 || text.chars().any(char::is_whitespace) {
        return Err(format!("must be an email address such as {example}"));
    }
    Ok(text.to_owned())
}

/// `raw` as an ISO 3166-1 alpha-2 country code, upper case.
///
/// # Errors
/// Not two ASCII letters after trimming.
pub fn country_code(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err("must be an ISO 3166-1 alpha-2 code such as US".to_owned());
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(
            Name::<5>::parse("  Pizza ").map(Name::into_string),
            Ok("Pizza".to_owned())
        );
        assert!(Name::<5>::parse("   ").is_err());
        assert!(Name::<5>::parse("Pizzas").is_err());
        assert!(Name::<20>::parse("two\nlines").is_err());
        assert_eq!(
            Name::<2>::parse("éé").map(Name::into_string),
            Ok("éé".to_owned())
        );
    }

    #[test]
    fn texts_may_be_empty_and_truncation_counts_characters() {
        assert!(Text::<3>::parse("").is_ok_and(|t| t.is_empty()));
        assert!(Text::<3>::parse("abcd").is_err());
        assert_eq!(Text::<2>::truncated(" éèà ").as_str(), "éè");
    }

    #[test]
    fn phones_must_be_e164() {
        assert_eq!(
            Phone::parse(" +12125550100 ").map(Phone::into_string),
            Ok("+12125550100".to_owned())
        );
        for bad in [
            "",
            "12125550100",
            "+0212555",
            "+123456",
            "+1234567890123456",
            "+1 212 555",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_may_be_empty_but_must_be_plausible() {
        assert_eq!(email(" ", "x@example.com"), Ok(String::new()));
        assert!(email("ana@example.com", "x@example.com").is_ok());
        for bad in [
            "ana",
            "a@b",
            "a@@b.com",
            "@b.com",
            "a@.com",
            "a@b.",
            "a b@c.com",
        ] {
            assert_eq!(
                email(bad, "x@example.com"),
                Err("must be an email address such as x@example.com".to_owned()),
                "{bad}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(email(&long, "x@example.com").is_err());
    }

    #[test]
    fn country_codes_are_two_letters_upper_cased() {
        assert_eq!(country_code(" fr "), Ok("FR".to_owned()));
        assert!(country_code("FRA").is_err());
        assert!(country_code("F1").is_err());
    }

    #[test]
    fn nested_violations_are_prefixed() {
        let mut inner = Violations::default();
        inner.add("zip_code", "too long");
        let mut outer = Violations::default();
        assert_eq!(outer.nested::<()>("address", Err(inner)), None);
        assert_eq!(outer.to_string(), "address.zip_code: too long");
    }

    #[test]
    fn every_violation_is_kept_in_order_and_nothing_is_built() {
        let mut v = Violations::one("name", "must not be empty");
        let price: Option<u32> = v.check("price", Err("must be positive".to_owned()));
        let note = v.check_opt("note", None::<Result<String, String>>);
        v.merge::<()>(Err(Violations::one("items[0].quantity", "must be 1 to 99")));
        assert_eq!((price, note), (None, None));
        let Err(all) = v.finish_with(|| Some(())) else {
            panic!("expected violations");
        };
        assert_eq!(
            all.to_string(),
            "name: must not be empty; price: must be positive; \
             items[0].quantity: must be 1 to 99"
        );
    }

    #[test]
    fn nothing_wrong_builds_the_value() {
        let mut v = Violations::default();
        let name = v.check("name", Name::<10>::parse("Ana"));
        assert_eq!(
            v.finish_with(|| name.map(Name::into_string)),
            Ok("Ana".to_owned())
        );
    }
}
