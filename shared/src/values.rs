//! The value types and limits the gateway and the services hold each other
//! to, each defined once so they cannot drift apart: postal addresses and
//! map points, email addresses, order numbers, coupon codes, and the lines
//! of an order.
//! The gateway checks a request with the same parser the service that owns
//! the value uses, so a refusal reads the same whichever of them makes it.

use std::collections::HashSet;
use std::ops::RangeInclusive;

use crate::validate::{self, Name, Text, Violations};

/// The longest text, in characters, of each field that the gateway and
/// the service owning it both check.
pub mod limits {
    pub const RESTAURANT_NAME: usize = 200;
    /// A restaurant's or a menu item's description.
    pub const DESCRIPTION: usize = 2000;
    pub const CUISINE: usize = 100;
    /// An IANA time zone name.
    pub const TIMEZONE: usize = 64;
    pub const MENU_ITEM_NAME: usize = 200;
    pub const IMAGE_URL: usize = 2048;
    pub const CATEGORY_NAME: usize = 100;
    pub const CATEGORY_DESCRIPTION: usize = 500;
    /// An option group's or an option's name.
    pub const OPTION_NAME: usize = 100;
    pub const COUPON_DESCRIPTION: usize = 500;
    /// A customer's or a guest's name.
    pub const PERSON_NAME: usize = 100;
    pub const TABLE_NUMBER: usize = 20;
    /// A line's special instructions for the kitchen.
    pub const INSTRUCTIONS: usize = 500;
    pub const NOTES: usize = 1000;
    /// Why a status changed.
    pub const REASON: usize = 500;
    /// The most addresses a customer profile keeps.
    pub const SAVED_ADDRESSES: usize = 10;
}

/// The largest page each listing gives.
pub mod pages {
    pub const RESTAURANTS: u32 = 100;
    pub const ORDERS: u32 = 100;
    /// A kitchen's tickets: a whole busy evening's queue in one page.
    pub const TICKETS: u32 = 500;
    pub const INVOICES: u32 = 100;
}

/// The longest window a kitchen's statistics cover: a week, in minutes.
pub const STATS_WINDOW_MINUTES: u32 = 7 * 24 * 60;

/// A postal address as given and as shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PostalAddress {
    /// Street and number.
    pub street: String,
    pub city: String,
    /// State or region, when the country has them.
    pub state: String,
    /// Postal code, when the country has them.
    pub zip_code: String,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
}

/// A complete postal address: street, city and a two-letter country.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address(PostalAddress);

impl Address {
    /// Violations name the address's own fields (`zip_code`).
    ///
    /// # Errors
    /// Any required part missing or too long, or a country that is not two
    /// letters.
    pub fn parse(raw: &PostalAddress) -> Result<Self, Violations> {
        let mut v = Violations::default();
        let street = v.check("street", Name::<200>::parse(&raw.street));
        let city = v.check("city", Name::<200>::parse(&raw.city));
        let state = v.check("state", Text::<100>::parse(&raw.state));
        let zip_code = v.check("zip_code", Text::<20>::parse(&raw.zip_code));
        let country = v.check("country", validate::country_code(&raw.country));
        v.finish_with(|| {
            Some(Self(PostalAddress {
                street: street?.into_string(),
                city: city?.into_string(),
                state: state?.into_string(),
                zip_code: zip_code?.into_string(),
                country: country?,
            }))
        })
    }

    pub fn parts(&self) -> &PostalAddress {
        &self.0
    }
}

/// A point on the earth in WGS 84 degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coordinates {
    /// −90 to 90.
    pub latitude: f64,
    /// −180 to 180.
    pub longitude: f64,
}

/// A point on the earth with both coordinates in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location(Coordinates);

// `parse` admits finite numbers only, so every value equals itself.
impl Eq for Location {}

impl Location {
    /// Violations name `latitude` and `longitude`.
    ///
    /// # Errors
    /// A coordinate out of range or not a number.
    pub fn parse(raw: Coordinates) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if !(raw.latitude.is_finite() && (-90.0..=90.0).contains(&raw.latitude)) {
            v.add("latitude", "must be between -90 and 90");
        }
        if !(raw.longitude.is_finite() && (-180.0..=180.0).contains(&raw.longitude)) {
            v.add("longitude", "must be between -180 and 180");
        }
        v.finish_with(|| Some(Self(raw)))
    }

    pub fn coordinates(self) -> Coordinates {
        self.0
    }
}

/// A plausible email address (one `@`, a dotted domain, at most 254
/// characters), or empty when none is given. Whether it receives mail is
/// nobody's to know here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// # Errors
    /// Not empty and not shaped like an email address.
    pub fn parse(raw: &str) -> Result<Self, String> {
        validate::email(raw, "ana@example.com").map(Self)
    }

    /// The address, or empty.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The characters of an order number: digits and capitals without the ones
/// people confuse (0/O, 1/I/L).
pub const ORDER_NUMBER_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/// How many characters an order number has: 31⁶ ≈ 887 million numbers.
pub const ORDER_NUMBER_LENGTH: usize = 6;

/// A human order number, e.g. `K7M2QX`, read out at the counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderNumber(String);

impl OrderNumber {
    /// A number whose every character is `draw(n)`, an index below `n`
    /// into the alphabet: the caller brings the randomness.
    pub fn drawn(mut draw: impl FnMut(usize) -> usize) -> Self {
        let n = ORDER_NUMBER_ALPHABET.len();
        Self(
            (0..ORDER_NUMBER_LENGTH)
                .map(|_| char::from(ORDER_NUMBER_ALPHABET[draw(n) % n]))
                .collect(),
        )
    }

    /// A number as typed by a person: any case, surrounding spaces ignored.
    ///
    /// # Errors
    /// Not six characters of the alphabet.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().to_ascii_uppercase();
        let shaped = text.len() == ORDER_NUMBER_LENGTH
            && text.bytes().all(|b| ORDER_NUMBER_ALPHABET.contains(&b));
        if !shaped {
            return Err(format!(
                "must be {ORDER_NUMBER_LENGTH} characters of {}",
                String::from_utf8_lossy(ORDER_NUMBER_ALPHABET)
            ));
        }
        Ok(Self(text))
    }

    /// The number in capitals.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How long a coupon code is, in characters.
pub const COUPON_CODE_LENGTH: RangeInclusive<usize> = 3..=32;

/// A coupon's code: 3 to 32 of `A-Z 0-9 _ -`, matched case-insensitively
/// and kept upper case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponCode(String);

impl CouponCode {
    /// # Errors
    /// Too short, too long, or holding other characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let code = raw.trim().to_ascii_uppercase();
        let shaped = COUPON_CODE_LENGTH.contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !shaped {
            return Err(format!(
                "must be {} to {} letters, digits, '_' or '-'",
                COUPON_CODE_LENGTH.start(),
                COUPON_CODE_LENGTH.end()
            ));
        }
        Ok(Self(code))
    }

    /// The upper-case code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's idempotency key: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// # Errors
    /// Empty, longer than 255, or holding other characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shaped = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        if !shaped {
            return Err("must be 1 to 255 printable ASCII characters".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most lines one order holds.
pub const MAX_LINES: usize = 50;

/// The most options chosen on one line.
pub const MAX_OPTIONS_PER_LINE: usize = 50;

/// Where a category or a menu item may be placed in its list. One added
/// without a position goes after the last, so the bound leaves room for
/// every later one in a column of 32-bit integers.
pub const POSITION: RangeInclusive<i32> = 0..=1_000_000;

/// A position a request gives.
///
/// # Errors
/// Outside [`POSITION`].
pub fn position(raw: i32) -> Result<i32, String> {
    if POSITION.contains(&raw) {
        Ok(raw)
    } else {
        Err(format!(
            "must be between {} and {}",
            POSITION.start(),
            POSITION.end()
        ))
    }
}

/// The most options an option group may require or allow on one line:
/// no line carries more than [`MAX_OPTIONS_PER_LINE`].
pub const MAX_SELECT: u32 = 50;

/// An option group's `min_select` or `max_select`.
///
/// # Errors
/// Above [`MAX_SELECT`].
pub fn select_count(raw: u32) -> Result<u32, String> {
    if raw <= MAX_SELECT {
        Ok(raw)
    } else {
        Err(format!("must be at most {MAX_SELECT}"))
    }
}

/// How many of an item one line may ask for.
pub const QUANTITY: RangeInclusive<u32> = 1..=99;

/// A quantity of one line.
///
/// # Errors
/// Outside [`QUANTITY`].
pub fn parse_quantity(quantity: u32) -> Result<u32, String> {
    if !QUANTITY.contains(&quantity) {
        return Err(format!(
            "must be between {} and {}",
            QUANTITY.start(),
            QUANTITY.end()
        ));
    }
    Ok(quantity)
}

/// Refuses a list of lines that is empty or longer than [`MAX_LINES`].
///
/// # Errors
/// The reason, for the list's field.
pub fn check_line_count(count: usize) -> Result<(), String> {
    match count {
        0 => Err("must hold at least one line".to_owned()),
        n if n > MAX_LINES => Err(format!("must hold at most {MAX_LINES} lines")),
        _ => Ok(()),
    }
}

/// Checks a line's option ids: at most [`MAX_OPTIONS_PER_LINE`], positive,
/// each once. Violations are recorded under `option_ids`.
pub fn check_options(v: &mut Violations, option_ids: &[i64]) -> Option<Vec<i64>> {
    let before = v.len();
    if option_ids.len() > MAX_OPTIONS_PER_LINE {
        v.add(
            "option_ids",
            format!("must list at most {MAX_OPTIONS_PER_LINE} options"),
        );
    }
    let mut seen = HashSet::new();
    for (j, id) in option_ids.iter().enumerate() {
        if *id <= 0 {
            v.add(format_args!("option_ids[{j}]"), "must be an option id");
        } else if !seen.insert(id) {
            v.add(format_args!("option_ids[{j}]"), "is chosen twice");
        }
    }
    (v.len() == before).then(|| option_ids.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Violations) -> Vec<&str> {
        v.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn typed_order_numbers_are_read_in_any_case() {
        assert_eq!(
            OrderNumber::parse(" k7m2qx ").map(|n| n.0),
            Ok("K7M2QX".to_owned())
        );
        for bad in ["", "K7M2Q", "K7M2QXX", "K7M2Q0", "K7-2QX"] {
            assert!(OrderNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_drawn_order_number_takes_each_character_from_the_alphabet() {
        let mut next = 0;
        let drawn = OrderNumber::drawn(|n| {
            next += 7;
            next % n
        });
        assert_eq!(drawn.as_str(), "9GQX6D");
        assert_eq!(OrderNumber::parse(drawn.as_str()), Ok(drawn));
    }

    #[test]
    fn addresses_name_each_bad_part() {
        let Err(v) = Address::parse(&PostalAddress {
            street: String::new(),
            city: "New York".to_owned(),
            state: String::new(),
            zip_code: "1".repeat(21),
            country: "USA".to_owned(),
        }) else {
            panic!("expected violations");
        };
        assert_eq!(fields(&v), ["street", "zip_code", "country"]);
    }

    #[test]
    fn a_country_is_upper_cased() {
        let raw = PostalAddress {
            street: "1 Rue".to_owned(),
            city: "Paris".to_owned(),
            country: "fr".to_owned(),
            ..PostalAddress::default()
        };
        assert_eq!(
            Address::parse(&raw).map(|a| a.parts().country.clone()),
            Ok("FR".to_owned())
        );
    }

    #[test]
    fn locations_must_be_on_the_earth() {
        assert!(
            Location::parse(Coordinates {
                latitude: 40.7,
                longitude: -74.0
            })
            .is_ok()
        );
        let Err(v) = Location::parse(Coordinates {
            latitude: f64::NAN,
            longitude: 181.0,
        }) else {
            panic!("expected violations");
        };
        assert_eq!(fields(&v), ["latitude", "longitude"]);
    }

    #[test]
    fn an_email_is_the_validated_text_or_empty() {
        // The rule itself is `validate::email`'s, tested there.
        assert_eq!(Email::parse(" ").map(|e| e.0), Ok(String::new()));
        assert!(Email::parse("ana@example.com").is_ok());
        assert!(Email::parse("a@b").is_err());
    }

    #[test]
    fn coupon_codes_are_upper_cased_and_shaped() {
        assert_eq!(
            CouponCode::parse(" save10 ").map(|c| c.0),
            Ok("SAVE10".to_owned())
        );
        for bad in ["AB", &"A".repeat(33), "SAVE 10", "SAVE!", "ÄBC"] {
            assert!(CouponCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lines_and_quantities_have_their_limits() {
        assert!(check_line_count(0).is_err());
        assert!(check_line_count(MAX_LINES).is_ok());
        assert!(check_line_count(MAX_LINES + 1).is_err());
        assert_eq!(parse_quantity(99), Ok(99));
        assert_eq!(
            parse_quantity(0),
            Err("must be between 1 and 99".to_owned())
        );
        let mut v = Violations::default();
        assert_eq!(check_options(&mut v, &[3, 4]), Some(vec![3, 4]));
        assert_eq!(check_options(&mut v, &[5, 5, -1]), None);
        assert_eq!(fields(&v), ["option_ids[1]", "option_ids[2]"]);
    }
}
