//! Currencies and exact decimal amounts. Inside the mesh money is an integer
//! count of minor units; only at the REST edge does it become a decimal
//! string, and that conversion must never round. These are ISO 4217 facts
//! and text conversions, not business rules.

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal number (`12.99`, `-0.5`, `7`).
    #[error("must be a decimal number such as 12.99")]
    NotADecimal,
    /// More fractional digits than the currency has (a sub-cent amount).
    #[error("has more than {0} decimal places for its currency")]
    TooPrecise(u32),
    /// Outside the range the platform stores.
    #[error("is too large")]
    TooLarge,
    /// Not an ISO 4217 code the platform knows.
    #[error("`{0}` is not a supported ISO 4217 currency code")]
    UnknownCurrency(String),
}

/// Currencies whose minor unit is not 1/100, from ISO 4217.
const EXPONENTS: &[(&str, u32)] = &[
    ("BHD", 3),
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("IQD", 3),
    ("ISK", 0),
    ("JOD", 3),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("PYG", 0),
    ("RWF", 0),
    ("TND", 3),
    ("UGX", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
];

/// Two-decimal currencies the platform accepts.
const TWO_DECIMAL: &[&str] = &[
    "AED", "ARS", "AUD", "BDT", "BGN", "BRL", "CAD", "CHF", "CNY", "COP", "CZK", "DKK", "EGP",
    "ETB", "EUR", "GBP", "GHS", "HKD", "HUF", "IDR", "ILS", "INR", "KES", "MAD", "MXN", "MYR",
    "NGN", "NOK", "NZD", "PEN", "PHP", "PKR", "PLN", "QAR", "RON", "RUB", "SAR", "SEK", "SGD",
    "THB", "TRY", "TWD", "TZS", "UAH", "USD", "UYU", "ZAR", "ZMW",
];

/// The number of decimal places of `code`'s minor unit.
///
/// # Errors
/// `code` is not a supported ISO 4217 code (upper case).
pub fn exponent(code: &str) -> Result<u32, MoneyError> {
    if let Some((_, e)) = EXPONENTS.iter().find(|(c, _)| *c == code) {
        return Ok(*e);
    }
    if TWO_DECIMAL.contains(&code) {
        return Ok(2);
    }
    Err(MoneyError::UnknownCurrency(code.to_owned()))
}

/// The largest amount stored, in minor units: 10^13, far above any order and
/// far below `i64::MAX`, so sums of many amounts cannot overflow.
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// Parses decimal text into minor units with exactly `exponent` places:
/// `"12.99"` → 1299 for two. Extra trailing zeros are fine (`"12.990"`),
/// extra digits are not (`"12.999"`).
///
/// # Errors
/// Text that is not a plain decimal, too precise, or too large.
pub fn parse_decimal(text: &str, exponent: u32) -> Result<i64, MoneyError> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac_part) = match digits.split_once('.') {
        Some((i, f)) => (i, f),
        None => (digits, ""),
    };
    let plain = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() || !plain(int_part) || !plain(frac_part) || digits.ends_with('.') {
        return Err(MoneyError::NotADecimal);
    }
    let frac_trimmed = frac_part.trim_end_matches('0');
    let places = u32::try_from(frac_trimmed.len()).map_err(|_| MoneyError::TooPrecise(exponent))?;
    if places > exponent {
        return Err(MoneyError::TooPrecise(exponent));
    }
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > 15 {
        return Err(MoneyError::TooLarge);
    }
    let whole: i64 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().map_err(|_| MoneyError::TooLarge)?
    };
    let scale = 10_i64.pow(exponent);
    let mut frac: i64 = if frac_trimmed.is_empty() {
        0
    } else {
        frac_trimmed.parse().map_err(|_| MoneyError::NotADecimal)?
    };
    frac *= 10_i64.pow(exponent - places);
    let minor = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac))
        .filter(|m| *m <= MAX_MINOR)
        .ok_or(MoneyError::TooLarge)?;
    Ok(if negative { -minor } else { minor })
}

/// Formats minor units as decimal text with exactly `exponent` places:
/// 1299 → `"12.99"`, 5 → `"0.05"`, -150 → `"-1.50"`.
pub fn format_minor(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10_u64.pow(exponent);
    let abs = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_parse_exactly() {
        assert_eq!(parse_decimal("12.99", 2), Ok(1299));
        assert_eq!(parse_decimal("0.1", 2), Ok(10));
        assert_eq!(parse_decimal("7", 2), Ok(700));
        assert_eq!(parse_decimal("12.990", 2), Ok(1299));
        assert_eq!(parse_decimal("-1.5", 2), Ok(-150));
        assert_eq!(parse_decimal("1500", 0), Ok(1500));
        assert_eq!(parse_decimal("1.234", 3), Ok(1234));
    }

    #[test]
    fn sub_unit_and_malformed_amounts_are_refused() {
        assert_eq!(parse_decimal("12.999", 2), Err(MoneyError::TooPrecise(2)));
        assert_eq!(parse_decimal("1.5", 0), Err(MoneyError::TooPrecise(0)));
        for bad in ["", ".5", "5.", "1e3", "12,99", "+1", "--1", "1.2.3", " 1"] {
            assert_eq!(
                parse_decimal(bad, 2),
                Err(MoneyError::NotADecimal),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_decimal("99999999999999999999", 2),
            Err(MoneyError::TooLarge)
        );
    }

    #[test]
    fn minor_units_format_with_the_currency_places() {
        assert_eq!(format_minor(1299, 2), "12.99");
        assert_eq!(format_minor(5, 2), "0.05");
        assert_eq!(format_minor(-150, 2), "-1.50");
        assert_eq!(format_minor(1500, 0), "1500");
        assert_eq!(format_minor(1234, 3), "1.234");
    }

    #[test]
    fn currencies_know_their_minor_unit() {
        assert_eq!(exponent("USD"), Ok(2));
        assert_eq!(exponent("JPY"), Ok(0));
        assert_eq!(exponent("KWD"), Ok(3));
        assert!(exponent("usd").is_err());
        assert!(exponent("XYZ").is_err());
    }
}
