//! Shape checks on parsed bodies, collected so one response names every
//! field at fault rather than the first.
//!
//! These are the checks a JSON Schema could state (required, non-blank,
//! length, range, exact decimals for the currency), made before any service
//! is called so a refused request writes nothing. Business rules (is this
//! time zone real, may this category be deleted) stay with the services.

use serde::{Deserialize, Deserializer};

use crate::money::DecimalText;
use crate::problem::{FieldError, Problem};

/// Longest name of a restaurant, item, category, group or option.
pub const NAME_MAX: usize = 200;
/// Longest description.
pub const DESCRIPTION_MAX: usize = 2000;
/// Longest short text (phone, email, address parts, time zone, cuisine).
pub const SHORT_MAX: usize = 200;
/// Longest image URL.
pub const URL_MAX: usize = 2048;
/// Longest coupon code.
pub const CODE_MAX: usize = 64;

/// The field violations found so far.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldError>);

impl Violations {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is wrong.
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

/// True for a phone number in E.164 form: `+`, then 7 to 15 digits not
/// starting with 0 (`+12125550100`). Guest profiles are keyed by it, so a
/// number written any other way would split one guest in two.
pub fn is_e164(text: &str) -> bool {
    text.strip_prefix('+').is_some_and(|digits| {
        (7..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0')
    })
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

    #[test]
    fn violations_collect_every_field_at_fault() {
        let mut v = Violations::new();
        v.required("name", "  ", NAME_MAX);
        v.at_most(
            "description",
            &"x".repeat(DESCRIPTION_MAX + 1),
            DESCRIPTION_MAX,
        );
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
        v.required("name", "Pizza Palace", NAME_MAX);
        assert_eq!(v.amount("price", &DecimalText::new("12.99"), "USD"), 1299);
        assert!(v.finish().is_ok());
    }

    #[test]
    fn phones_are_e164() {
        for good in ["+12125550100", "+4420794600", "+2348012345678"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "12125550100",
            "+0123456789",
            "+1 212 555",
            "+123",
            "",
            "+1234567890123456",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
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
