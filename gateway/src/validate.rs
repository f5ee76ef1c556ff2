//! Shape checks on parsed bodies, collected so one response names every
//! field at fault rather than the first.
//!
//! These are the checks a JSON Schema could state (required, non-blank,
//! length, range, exact decimals for the currency), made before any service
//! is called so a refused request writes nothing. Lengths and the values
//! several parts agree on (addresses, coupon codes, an order's lines) come
//! from [`foodmesh_shared::values`], the services' own definitions.
//! Business rules (is this time zone real, may this category be deleted)
//! stay with the services.

use serde::{Deserialize, Deserializer};

use crate::money::DecimalText;
use crate::problem::{FieldError, Problem};

/// The field violations found so far.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// True when `field` has already been refused, so a later check does
    /// not pile a second message on it.
    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// A text that must not be blank and has at most `max` characters.
    pub fn required(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        } else {
            self.at_most(field, value, max);
        }
    }

    /// A text of at most `max` characters (blank is fine).
    pub fn at_most(&mut self, field: &str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.add(field, format!("must be at most {max} characters"));
        }
    }

    /// [`Violations::required`] when present.
    pub fn required_if_some(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.required(field, value, max);
        }
    }

    /// [`Violations::at_most`] when present.
    pub fn at_most_if_some(&mut self, field: &str, value: Option<&str>, max: usize) {
        if let Some(value) = value {
            self.at_most(field, value, max);
        }
    }

    /// Keeps a value a shared parser accepted, or records why `field` did
    /// not parse.
    pub fn parsed<T>(&mut self, field: &str, parsed: Result<T, String>) -> Option<T> {
        parsed.map_err(|why| self.add(field, why)).ok()
    }

    /// Like [`Violations::parsed`] for a composite value, whose violations
    /// name its own fields: they are recorded under `prefix`.
    pub fn nested<T>(
        &mut self,
        prefix: &str,
        parsed: Result<T, foodmesh_shared::validate::Violations>,
    ) -> Option<T> {
        parsed
            .map_err(|inner| {
                for v in inner.iter() {
                    self.add(format!("{prefix}.{}", v.field), v.description.clone());
                }
            })
            .ok()
    }

    /// A non-negative amount of `currency` in minor units (0 when refused,
    /// which is never sent: [`Violations::finish`] fails first).
    pub fn amount(&mut self, field: &str, value: &DecimalText, currency: &str) -> i64 {
        value.minor_units(currency).unwrap_or_else(|message| {
            self.add(field, message);
            0
        })
    }

    /// An amount that may be negative (a price change).
    pub fn signed_amount(&mut self, field: &str, value: &DecimalText, currency: &str) -> i64 {
        value
            .signed_minor_units(currency)
            .unwrap_or_else(|message| {
                self.add(field, message);
                0
            })
    }

    /// A tax rate as millionths, or 0 with a violation.
    pub fn tax_rate(&mut self, field: &str, value: &DecimalText) -> u32 {
        value.millionths().unwrap_or_else(|message| {
            self.add(field, message);
            0
        })
    }

    /// A percentage as basis points.
    pub fn percent(&mut self, field: &str, value: &DecimalText) -> u32 {
        value.basis_points().unwrap_or_else(|message| {
            self.add(field, message);
            0
        })
    }

    /// A reference to another resource: a positive id.
    pub fn id(&mut self, field: &str, value: i64) {
        if value <= 0 {
            self.add(field, "must be a positive id");
        }
    }

    /// A place in a list of categories or items, when given.
    pub fn position(&mut self, field: &str, value: Option<i32>) {
        if let Some(value) = value {
            self.parsed(field, foodmesh_shared::values::position(value));
        }
    }

    /// An option group's `min_select` or `max_select`, when given.
    pub fn select_count(&mut self, field: &str, value: Option<u32>) {
        if let Some(value) = value {
            self.parsed(field, foodmesh_shared::values::select_count(value));
        }
    }

    /// `Ok` when nothing was found, else the 422 naming every field.
    ///
    /// # Errors
    /// The problem listing the violations.
    pub fn finish(self) -> Result<(), Problem> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(self.0))
        }
    }
}

/// For PATCH fields where `null` means "clear" and absence means "leave":
/// use with `#[serde(default, deserialize_with = "nullable")]` on an
/// `Option<Option<T>>`.
///
/// # Errors
/// The value is neither `null` nor a `T`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For a name people often write as a number (a table's `5`): a string, or
/// a whole number read as its digits. Use with
/// `#[serde(default, deserialize_with = "name_or_number")]` on an
/// `Option<String>`.
///
/// # Errors
/// Anything else (a fraction, a negative number, an object).
pub fn name_or_number<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Text(String),
        Number(u64),
    }
    let written = Option::<Written>::deserialize(deserializer)
        .map_err(|_| serde::de::Error::custom("must be a string or a whole number (\"5\" or 5)"))?;
    Ok(written.map(|w| match w {
        Written::Text(text) => text,
        Written::Number(n) => n.to_string(),
    }))
}

/// True for a 24-hour `HH:MM` time (`00:00` to `23:59`).
pub fn is_clock_time(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return false;
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let (Some(hours), Some(minutes)) = (text.get(0..2), text.get(3..5)) else {
        return false;
    };
    digits(hours)
        && digits(minutes)
        && hours.parse::<u8>().is_ok_and(|h| h < 24)
        && minutes.parse::<u8>().is_ok_and(|m| m < 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Table {
        #[serde(default, deserialize_with = "name_or_number")]
        table_number: Option<String>,
    }

    #[test]
    fn a_table_is_read_as_written_or_as_a_whole_number_s_digits() {
        let read = |json: &str| serde_json::from_str::<Table>(json).map(|t| t.table_number);
        assert_eq!(
            read(r#"{"table_number": "5A"}"#).ok(),
            Some(Some("5A".to_owned()))
        );
        assert_eq!(
            read(r#"{"table_number": 5}"#).ok(),
            Some(Some("5".to_owned()))
        );
        assert_eq!(read(r#"{"table_number": null}"#).ok(), Some(None));
        assert_eq!(read("{}").ok(), Some(None));
        assert!(read(r#"{"table_number": 5.5}"#).is_err());
        assert!(read(r#"{"table_number": -5}"#).is_err());
    }

    #[test]
    fn violations_collect_every_field_at_fault() {
        let mut v = Violations::new();
        v.required("name", "  ", 200);
        v.at_most("description", &"x".repeat(2001), 2000);
        v.amount("price", &DecimalText::new("-1"), "USD");
        v.id("category_id", 0);
        let problem = v.finish().expect_err("four violations");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "description", "price", "category_id"]);
        assert_eq!(problem.status, 422);
    }

    #[test]
    fn no_violations_is_ok() {
        let mut v = Violations::new();
        v.required("name", "Pizza Palace", 200);
        assert_eq!(v.amount("price", &DecimalText::new("12.99"), "USD"), 1299);
        assert!(v.finish().is_ok());
    }

    #[test]
    fn clock_times_are_24_hour_hh_mm() {
        for good in ["00:00", "09:30", "23:59"] {
            assert!(is_clock_time(good), "{good}");
        }
        for bad in ["24:00", "9:30", "09:60", "0930", "ab:cd", "09:3a", ""] {
            assert!(!is_clock_time(bad), "{bad}");
        }
    }
}
