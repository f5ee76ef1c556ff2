//! Decimal amounts at the REST edge. Inside the mesh money is an integer
//! count of minor units; clients send and read decimals (`12.99`).
//!
//! Neither direction ever goes through a float. An incoming amount keeps the
//! exact text the client sent (a JSON number's digits, or a string) and is
//! parsed into minor units for the restaurant's currency; an outgoing amount
//! is written as a JSON number whose text has exactly the currency's places
//! (`12.50`, never `12.5` or `12.4999999`).

use std::borrow::Cow;
use std::fmt;

use foodmesh_shared::money::{self, MoneyError};
use serde::de::{self, Deserializer, Unexpected};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

/// A decimal amount exactly as the client wrote it: a JSON number (`12.99`)
/// or a string (`"12.99"`). What it means depends on the currency, so it
/// stays text until [`DecimalText::minor_units`] is told which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecimalText(String);

impl DecimalText {
    /// Wraps text (for building requests in code and tests).
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The amount in minor units of `currency`, refusing negative amounts
    /// and amounts finer than the currency's minor unit (a sub-cent price).
    ///
    /// # Errors
    /// The message to show beside the field.
    pub fn minor_units(&self, currency: &str) -> Result<i64, String> {
        let exponent = money::exponent(currency).map_err(|e| e.to_string())?;
        let minor = money::parse_decimal(&self.0, exponent).map_err(|e| match e {
            MoneyError::TooPrecise(0) => format!("must be a whole number of {currency}"),
            MoneyError::TooPrecise(places) => {
                format!("has more than {places} decimal places for {currency}")
            }
            other => other.to_string(),
        })?;
        if minor < 0 {
            return Err("must not be negative".to_owned());
        }
        Ok(minor)
    }

    /// Like [`DecimalText::minor_units`] but allowing a negative amount, for
    /// option price changes ("small size −1.00").
    ///
    /// # Errors
    /// The message to show beside the field.
    pub fn signed_minor_units(&self, currency: &str) -> Result<i64, String> {
        match self.0.strip_prefix('-') {
            Some(magnitude) => DecimalText::new(magnitude)
                .minor_units(currency)
                .map(|m| -m),
            None => self.minor_units(currency),
        }
    }

    /// A percentage with at most two decimals (`8.75`, `12.5`, `10`) as
    /// basis points (875, 1250, 1000), within 0..=100 %.
    ///
    /// # Errors
    /// The message to show beside the field.
    pub fn basis_points(&self) -> Result<u32, String> {
        self.percent_in(2)
    }

    /// A percentage with at most four decimals (New York City's `8.875`) as
    /// millionths (88,750), within 0..=100 %: tax rates need more precision
    /// than money.
    ///
    /// # Errors
    /// The message to show beside the field.
    pub fn millionths(&self) -> Result<u32, String> {
        self.percent_in(4)
    }

    /// A percentage as hundredths to the power `places`.
    fn percent_in(&self, places: u32) -> Result<u32, String> {
        let scaled = money::parse_decimal(&self.0, places).map_err(|e| match e {
            MoneyError::TooPrecise(_) => format!("must have at most {places} decimal places"),
            other => other.to_string(),
        })?;
        let whole = 100 * 10_i64.pow(places);
        u32::try_from(scaled)
            .ok()
            .filter(|b| i64::from(*b) <= whole)
            .ok_or_else(|| "must be a percentage between 0 and 100".to_owned())
    }
}

impl fmt::Display for DecimalText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DecimalText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // The raw JSON text of the value: a number's digits exactly as sent,
        // before any conversion to f64 could round them.
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get();
        if text.starts_with('"') {
            let unquoted: String = serde_json::from_str(text).map_err(de::Error::custom)?;
            return Ok(DecimalText(unquoted));
        }
        if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Ok(DecimalText(text.to_owned()));
        }
        let unexpected = match text {
            "true" => Unexpected::Bool(true),
            "false" => Unexpected::Bool(false),
            "null" => Unexpected::Unit,
            t if t.starts_with('[') => Unexpected::Seq,
            _ => Unexpected::Map,
        };
        Err(de::Error::invalid_type(
            unexpected,
            &"a decimal amount such as 12.99",
        ))
    }
}

impl PartialSchema for DecimalText {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::Number))
                    .examples([serde_json::json!(12.99)]),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .pattern(Some(r"^-?[0-9]+(\.[0-9]+)?$"))
                    .examples([serde_json::json!("12.99")]),
            )
            .description(Some(
                "A decimal amount, as a JSON number or a string; parsed exactly, never as a float.",
            ))
            .into()
    }
}

impl ToSchema for DecimalText {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("DecimalInput")
    }
}

/// A decimal for JSON output: a number written with exactly the places it
/// should show (`12.99`, `12.50`, `1500` for yen), never through a float.
#[derive(Debug, Clone)]
pub struct Decimal(Box<RawValue>);

impl Decimal {
    /// `minor` units of `currency`: 1299 USD → `12.99`.
    ///
    /// # Errors
    /// The currency is unknown, which means a service sent something the
    /// platform does not support.
    pub fn from_minor(minor: i64, currency: &str) -> Result<Self, MoneyError> {
        let exponent = money::exponent(currency)?;
        Ok(Self::from_text(money::format_minor(minor, exponent)))
    }

    /// Basis points as a percentage without trailing zeros: 875 → `8.75`,
    /// 1250 → `12.5`, 1000 → `10`.
    pub fn percent_from_bps(bps: i64) -> Self {
        Self::percent_in(bps, 2)
    }

    /// A percentage from millionths (88,750 is `8.875`), as
    /// [`Decimal::percent_from_bps`] writes it.
    pub fn percent_from_millionths(millionths: i64) -> Self {
        Self::percent_in(millionths, 4)
    }

    fn percent_in(scaled: i64, places: u32) -> Self {
        let text = money::format_minor(scaled, places);
        let text = match text.split_once('.') {
            Some((whole, fraction)) => match fraction.trim_end_matches('0') {
                "" => whole.to_owned(),
                fraction => format!("{whole}.{fraction}"),
            },
            None => text,
        };
        Self::from_text(text)
    }

    fn from_text(text: String) -> Self {
        // `format_minor` only writes an optional sign, digits and one dot:
        // always a JSON number, so the fallback is never taken.
        Self(RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl Serialize for Decimal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl PartialSchema for Decimal {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::Number))
            .description(Some(
                "A decimal written with exactly its currency's places (12.99, 12.50).",
            ))
            .examples([serde_json::json!(12.99)])
            .into()
    }
}

impl ToSchema for Decimal {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Decimal")
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Deserialize)]
    struct Priced {
        price: DecimalText,
        #[serde(default)]
        fee: Option<DecimalText>,
    }

    fn text_of(json: &str) -> String {
        let p: Priced = crate::extract::parse_json(json.as_bytes()).expect("parses");
        p.price.as_str().to_owned()
    }

    #[test]
    fn numbers_and_strings_keep_their_exact_text() {
        assert_eq!(text_of(r#"{"price": 12.99}"#), "12.99");
        assert_eq!(text_of(r#"{"price": "12.99"}"#), "12.99");
        assert_eq!(text_of(r#"{"price": 0.1}"#), "0.1");
        assert_eq!(
            text_of(r#"{"price": 12345678901234.99}"#),
            "12345678901234.99"
        );
    }

    #[test]
    fn an_optional_amount_may_be_absent_or_null() {
        let p: Priced =
            crate::extract::parse_json(br#"{"price": 1, "fee": null}"#).expect("parses");
        assert!(p.fee.is_none());
        let p: Priced =
            crate::extract::parse_json(br#"{"price": 1, "fee": "2.50"}"#).expect("parses");
        assert_eq!(
            p.fee.map(|f| f.as_str().to_owned()),
            Some("2.50".to_owned())
        );
    }

    #[test]
    fn a_non_numeric_amount_is_a_422_naming_the_field() {
        let problem = crate::extract::parse_json::<Priced>(br#"{"price": true}"#)
            .err()
            .expect("must fail");
        assert_eq!(problem.status, 422);
        assert_eq!(problem.errors[0].field, "price");
    }

    #[test]
    fn amounts_parse_exactly_for_their_currency() {
        assert_eq!(DecimalText::new("12.99").minor_units("USD"), Ok(1299));
        assert_eq!(DecimalText::new("0.10").minor_units("USD"), Ok(10));
        assert_eq!(DecimalText::new("1500").minor_units("JPY"), Ok(1500));
        assert_eq!(DecimalText::new("1.234").minor_units("KWD"), Ok(1234));
    }

    #[test]
    fn negative_sub_cent_and_malformed_amounts_are_refused() {
        assert_eq!(
            DecimalText::new("-1.00").minor_units("USD"),
            Err("must not be negative".to_owned())
        );
        assert_eq!(
            DecimalText::new("12.999").minor_units("USD"),
            Err("has more than 2 decimal places for USD".to_owned())
        );
        assert_eq!(
            DecimalText::new("1.5").minor_units("JPY"),
            Err("must be a whole number of JPY".to_owned())
        );
        assert!(DecimalText::new("1e3").minor_units("USD").is_err());
        assert!(DecimalText::new("12,99").minor_units("USD").is_err());
        assert!(DecimalText::new("1").minor_units("XYZ").is_err());
    }

    #[test]
    fn option_price_changes_may_be_negative() {
        assert_eq!(
            DecimalText::new("-1.50").signed_minor_units("USD"),
            Ok(-150)
        );
        assert_eq!(DecimalText::new("1.50").signed_minor_units("USD"), Ok(150));
        assert!(
            DecimalText::new("-1.505")
                .signed_minor_units("USD")
                .is_err()
        );
    }

    #[test]
    fn percentages_become_basis_points() {
        assert_eq!(DecimalText::new("8.75").basis_points(), Ok(875));
        assert_eq!(DecimalText::new("12.5").basis_points(), Ok(1250));
        assert_eq!(DecimalText::new("100").basis_points(), Ok(10_000));
        assert!(DecimalText::new("100.01").basis_points().is_err());
        assert!(DecimalText::new("-1").basis_points().is_err());
        assert!(DecimalText::new("8.755").basis_points().is_err());
        assert_eq!(DecimalText::new("8.875").millionths(), Ok(88_750));
        assert_eq!(DecimalText::new("100").millionths(), Ok(1_000_000));
        assert!(DecimalText::new("100.0001").millionths().is_err());
        assert!(DecimalText::new("8.87501").millionths().is_err());
    }

    #[test]
    fn output_amounts_have_exactly_the_currency_places() {
        let json = |d: Decimal| serde_json::to_string(&d).expect("serializes");
        assert_eq!(
            json(Decimal::from_minor(1299, "USD").expect("usd")),
            "12.99"
        );
        assert_eq!(
            json(Decimal::from_minor(1250, "USD").expect("usd")),
            "12.50"
        );
        assert_eq!(json(Decimal::from_minor(5, "USD").expect("usd")), "0.05");
        assert_eq!(json(Decimal::from_minor(1500, "JPY").expect("jpy")), "1500");
        assert_eq!(json(Decimal::percent_from_bps(875)), "8.75");
        assert_eq!(json(Decimal::percent_from_bps(1250)), "12.5");
        assert_eq!(json(Decimal::percent_from_bps(1000)), "10");
        assert_eq!(json(Decimal::percent_from_bps(0)), "0");
        assert_eq!(json(Decimal::percent_from_millionths(88_750)), "8.875");
        assert_eq!(json(Decimal::percent_from_millionths(1_000_000)), "100");
    }

    #[test]
    fn twelve_ninety_nine_survives_a_round_trip() {
        let minor = DecimalText::new("12.99")
            .minor_units("USD")
            .expect("parses");
        let out = Decimal::from_minor(minor, "USD").expect("usd");
        assert_eq!(out.as_str(), "12.99");
    }
}
