//! Drivers: who they are, whether they take deliveries, and where they
//! were last seen.

use chrono::{DateTime, Utc};
use foodmesh_shared::validate::{Name, Phone, Violations};
use foodmesh_shared::values::Location;

use super::DomainError;

/// The farthest from the equator a live position may be: the live index
/// (Redis's geohash, web-mercator) holds no point past it.
pub const MAX_LATITUDE: f64 = 85.051_128_78;

/// `location`, when the live index can hold it.
///
/// # Errors
/// The violation, naming `latitude`.
pub fn trackable(location: Location) -> Result<Location, Violations> {
    if location.coordinates().latitude.abs() > MAX_LATITUDE {
        return Err(Violations::one(
            "latitude",
            format!("must be between -{MAX_LATITUDE} and {MAX_LATITUDE} for a driver"),
        ));
    }
    Ok(location)
}

/// A driver as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Driver {
    pub id: i64,
    pub name: String,
    /// E.164.
    pub phone: String,
    /// What they drive: "bicycle", "scooter", "car", …
    pub vehicle: String,
    /// Whether they take deliveries now.
    pub available: bool,
    /// Their last known position, and when it was reported.
    pub location: Option<(Location, DateTime<Utc>)>,
    /// Deliveries they hold now (assigned or picked up).
    pub active: i32,
}

impl Driver {
    /// The name a customer tracking a delivery sees: the first word.
    pub fn first_name(&self) -> &str {
        self.name.split_whitespace().next().unwrap_or("")
    }
}

/// A driver to add, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDriver {
    pub name: Name<100>,
    pub phone: Phone,
    pub vehicle: Name<50>,
    pub location: Option<Location>,
}

impl NewDriver {
    /// # Errors
    /// [`DomainError::Invalid`] naming every bad field.
    pub fn parse(
        name: &str,
        phone: &str,
        vehicle: &str,
        location: Option<foodmesh_shared::values::Coordinates>,
    ) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let name = v.check("name", Name::parse(name));
        let phone = v.check("phone", Phone::parse(phone));
        let vehicle = v.check("vehicle", Name::parse(vehicle));
        let location = match location {
            None => Some(None),
            Some(raw) => v
                .nested("location", Location::parse(raw).and_then(trackable))
                .map(Some),
        };
        v.finish_with(|| {
            Some(Self {
                name: name?,
                phone: phone?,
                vehicle: vehicle?,
                location: location?,
            })
        })
        .map_err(DomainError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use foodmesh_shared::values::Coordinates;

    use super::*;

    #[test]
    fn a_driver_needs_a_name_an_e164_phone_a_vehicle_and_a_place_on_the_globe() {
        let ok = NewDriver::parse("Ana Diaz", "+12125550100", "scooter", None);
        assert!(ok.is_ok(), "{ok:?}");
        let bad = NewDriver::parse(
            " ",
            "555",
            "",
            Some(Coordinates {
                latitude: 91.0,
                longitude: 0.0,
            }),
        );
        let Err(DomainError::Invalid(v)) = bad else {
            panic!("refused: {bad:?}");
        };
        let fields: Vec<String> = v.iter().map(|f| f.field.clone()).collect();
        assert_eq!(fields, ["name", "phone", "vehicle", "location.latitude"]);
    }

    #[test]
    fn the_first_name_is_the_first_word() {
        let driver = Driver {
            id: 1,
            name: "Ana  Maria Diaz".to_owned(),
            phone: "+12125550100".to_owned(),
            vehicle: "car".to_owned(),
            available: true,
            location: None,
            active: 0,
        };
        assert_eq!(driver.first_name(), "Ana");
    }
}
