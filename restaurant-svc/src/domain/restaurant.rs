//! A restaurant's own facts: contact, address, location, currency, opening
//! hours and the figures orders are priced with.

use chrono::{DateTime, NaiveTime, Utc};
use foodmesh_shared::validate;
use foodmesh_shared::values::limits;

pub use foodmesh_shared::values::{Address, Coordinates, Email, Location, PostalAddress};

use super::{Amount, Name, Text, UpTo, Violations};

/// A restaurant as stored and shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Restaurant {
    pub id: i64,
    pub name: String,
    /// Free text shown under the name.
    pub description: String,
    /// E.164, or empty.
    pub phone: String,
    /// Contact address, or empty.
    pub email: String,
    /// Free-form cuisine ("Italian"), used as a listing filter.
    pub cuisine_type: String,
    /// Where it is; deliveries are picked up here.
    pub address: PostalAddress,
    /// Where it is on the map, when known.
    pub location: Option<Coordinates>,
    /// ISO 4217 code of every price of this restaurant.
    pub currency: String,
    /// When it is open, in `timezone`.
    pub opening_hours: Vec<OpeningHours>,
    /// IANA zone the opening hours are read in.
    pub timezone: String,
    /// Charged once per delivery order, in minor units.
    pub delivery_fee_minor: i64,
    /// How long an order usually takes to prepare.
    pub avg_prep_minutes: u32,
    /// Sales tax in millionths of the discounted subtotal.
    pub tax_rate_ppm: u32,
    /// Whether it takes orders.
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One opening span. A span that closes at or before it opens runs past
/// midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningHours {
    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    pub day_of_week: u32,
    /// Local opening time.
    pub opens: NaiveTime,
    /// Local closing time.
    pub closes: NaiveTime,
}

/// Everything needed to create a restaurant, each part valid.
#[derive(Debug, Clone)]
pub struct RestaurantDetails {
    pub name: Name<{ limits::RESTAURANT_NAME }>,
    /// Free text.
    pub description: Text<{ limits::DESCRIPTION }>,
    /// E.164 or empty.
    pub phone: Phone,
    /// Contact address or empty.
    pub email: Email,
    /// Free-form cuisine.
    pub cuisine_type: Text<{ limits::CUISINE }>,
    pub address: Address,
    /// Where it is on the map, when known.
    pub location: Option<Location>,
    /// The currency of every price.
    pub currency: Currency,
    pub opening_hours: Vec<OpeningSpan>,
    /// The zone opening hours are read in.
    pub timezone: TimeZone,
    /// Charged per delivery order.
    pub delivery_fee: Amount,
    pub avg_prep_minutes: PrepMinutes,
    pub tax_rate_ppm: TaxRatePpm,
    /// Whether it takes orders.
    pub active: bool,
}

/// The parts of a restaurant an update changes; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct RestaurantPatch {
    pub name: Option<Name<{ limits::RESTAURANT_NAME }>>,
    pub description: Option<Text<{ limits::DESCRIPTION }>>,
    /// New phone; empty clears it.
    pub phone: Option<Phone>,
    /// New email; empty clears it.
    pub email: Option<Email>,
    pub cuisine_type: Option<Text<{ limits::CUISINE }>>,
    /// New address, replacing the whole address.
    pub address: Option<Address>,
    pub location: Option<Location>,
    pub currency: Option<Currency>,
    /// New opening hours, replacing every span.
    pub opening_hours: Option<Vec<OpeningSpan>>,
    pub timezone: Option<TimeZone>,
    pub delivery_fee: Option<Amount>,
    pub avg_prep_minutes: Option<PrepMinutes>,
    pub tax_rate_ppm: Option<TaxRatePpm>,
    /// Opens or closes the restaurant for orders.
    pub active: Option<bool>,
}

/// What a listing shows: filters compare case-insensitively, empty means
/// any.
#[derive(Debug, Clone, Default)]
pub struct RestaurantFilter {
    /// Exact cuisine, any case.
    pub cuisine_type: String,
    /// Exact city, any case.
    pub city: String,
    /// Show restaurants that take no orders (staff views).
    pub include_inactive: bool,
}

/// Usual preparation time: at most ten hours.
pub type PrepMinutes = UpTo<600>;

/// Sales tax in millionths (8.875 % is 88,750): at most 100 %.
pub type TaxRatePpm = UpTo<1_000_000>;

/// The most opening spans a restaurant keeps (several per day is plenty).
pub const MAX_OPENING_SPANS: usize = 50;

/// A phone number in E.164 form (`+` then 7–15 digits, no leading 0), or
/// empty when the restaurant gives none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// # Errors
    /// Not empty and not E.164.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim().is_empty() {
            return Ok(Self(String::new()));
        }
        validate::Phone::parse(raw).map(|phone| Self(phone.into_string()))
    }

    /// The number, or empty.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ISO 4217 code the platform knows the minor unit of; empty means USD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// # Errors
    /// A code the platform does not support.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = match raw.trim() {
            "" => "USD".to_owned(),
            code => code.to_ascii_uppercase(),
        };
        foodmesh_shared::money::exponent(&code).map_err(|e| e.to_string())?;
        Ok(Self(code))
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An IANA time zone name; empty means UTC. Only its shape is checked: the
/// zone database belongs to whoever reads the hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeZone(String);

impl TimeZone {
    /// # Errors
    /// Longer than [`limits::TIMEZONE`] characters or holding characters no
    /// zone name has.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = match raw.trim() {
            "" => "UTC",
            name => name,
        };
        let shaped = name.len() <= limits::TIMEZONE
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_+-".contains(&b));
        if !shaped {
            return Err("must be an IANA time zone such as Europe/Paris".to_owned());
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid opening span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpeningSpan(OpeningHours);

impl OpeningSpan {
    /// Violations name the span's own fields (`opens`).
    ///
    /// # Errors
    /// A weekday outside 1..=7 or a time that is not `HH:MM`.
    pub fn parse(day_of_week: u32, opens: &str, closes: &str) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if !(1..=7).contains(&day_of_week) {
            v.add("day_of_week", "must be 1 (Monday) to 7 (Sunday)");
        }
        let opens = v.check("opens", clock_time(opens));
        let closes = v.check("closes", clock_time(closes));
        v.finish_with(|| {
            Some(Self(OpeningHours {
                day_of_week,
                opens: opens?,
                closes: closes?,
            }))
        })
    }

    pub fn hours(self) -> OpeningHours {
        self.0
    }
}

/// `HH:MM` on the 24-hour clock, exactly five characters.
fn clock_time(raw: &str) -> Result<NaiveTime, String> {
    let parsed = match raw.as_bytes() {
        [h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|b| b.is_ascii_digit()) => {
            let hours = u32::from(h1 - b'0') * 10 + u32::from(h2 - b'0');
            let minutes = u32::from(m1 - b'0') * 10 + u32::from(m2 - b'0');
            NaiveTime::from_hms_opt(hours, minutes, 0)
        }
        _ => None,
    };
    parsed.ok_or_else(|| "must be a time of day as HH:MM, such as 09:30".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_must_be_e164_or_empty() {
        assert!(Phone::parse("+12125550100").is_ok());
        assert!(Phone::parse("").is_ok());
        for bad in [
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
    fn currencies_default_to_usd_and_must_be_known() {
        assert_eq!(Currency::parse("").map(|c| c.0), Ok("USD".to_owned()));
        assert_eq!(Currency::parse("kes").map(|c| c.0), Ok("KES".to_owned()));
        assert!(Currency::parse("XYZ").is_err());
    }

    #[test]
    fn opening_spans_need_a_weekday_and_clock_times() {
        let span = OpeningSpan::parse(1, "09:00", "00:30").expect("valid");
        assert_eq!(
            span.hours().closes,
            NaiveTime::from_hms_opt(0, 30, 0).expect("time")
        );
        let Err(v) = OpeningSpan::parse(8, "9:00", "24:00") else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["day_of_week", "opens", "closes"]);
    }

    #[test]
    fn time_zones_default_to_utc() {
        assert_eq!(TimeZone::parse("").map(|z| z.0), Ok("UTC".to_owned()));
        assert!(TimeZone::parse("America/New_York").is_ok());
        assert!(TimeZone::parse("Mars/Olympus Mons").is_err());
        assert!(TimeZone::parse(&"A".repeat(65)).is_err());
    }
}
