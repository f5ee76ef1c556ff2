//! A new ticket: what a request or an order event states (the inputs),
//! the limits it must meet, and [`NewTicket::parse`], which turns the one
//! into a ticket ready to queue or names every field at fault.

use chrono::{DateTime, Duration, Utc};

use super::ticket::{Fulfilment, FulfilmentKind, TicketItem};
use super::{DomainError, Finish, Name, Text, Violations, parse_id};

/// How long the kitchen expects to need, in minutes: 0 in a request means
/// the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrepMinutes(u32);

impl PrepMinutes {
    /// Used when an order names no preparation time.
    pub const DEFAULT: u32 = 15;
    /// Ten hours: the most a restaurant may state (restaurant-svc's bound).
    pub const MAX: u32 = 600;

    /// # Errors
    /// Above [`Self::MAX`].
    pub fn parse(raw: u32) -> Result<Self, String> {
        match raw {
            0 => Ok(Self(Self::DEFAULT)),
            n if n <= Self::MAX => Ok(Self(n)),
            _ => Err(format!("must be at most {}", Self::MAX)),
        }
    }

    /// As [`parse`](Self::parse), but an estimate above the maximum is cut
    /// to it: for orders another service accepted, which the kitchen must
    /// take whatever their estimate.
    pub fn clamped(raw: u32) -> Self {
        Self::parse(raw.min(Self::MAX)).unwrap_or(Self(Self::MAX))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// When a ticket queued at `queued_at` should be ready.
    pub fn ready_by(self, queued_at: DateTime<Utc>) -> DateTime<Utc> {
        queued_at + Duration::minutes(i64::from(self.0))
    }
}

/// How many of one item: 1 to 999.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity(u32);

impl Quantity {
    /// The largest quantity on one line (order-svc allows up to 99).
    pub const MAX: u32 = 999;

    /// # Errors
    /// Zero or above [`Self::MAX`].
    pub fn parse(raw: u32) -> Result<Self, String> {
        if (1..=Self::MAX).contains(&raw) {
            Ok(Self(raw))
        } else {
            Err(format!("must be between 1 and {}", Self::MAX))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Most lines on one ticket (order-svc allows 50).
pub const MAX_ITEMS: usize = 100;
/// Most modifiers on one line.
pub const MAX_MODIFIERS: usize = 50;
/// Longest special instructions of one line, in characters.
pub const MAX_INSTRUCTIONS: usize = 1000;
/// Longest notes of one ticket, in characters.
pub const MAX_NOTES: usize = 2000;

/// One line of a ticket as a request states it, before parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemInput {
    /// What to make.
    pub name: String,
    pub quantity: u32,
    /// Chosen options by name.
    pub modifiers: Vec<String>,
    /// Free text from the customer.
    pub special_instructions: String,
}

/// A ticket as a request (or an order event) states it, before parsing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketInput {
    /// The order the ticket is for.
    pub order_id: i64,
    /// The order's human number.
    pub order_number: String,
    /// The kitchen it goes to.
    pub restaurant_id: i64,
    /// How the food leaves; `None` when the request named none or an
    /// unknown one.
    pub fulfilment: Option<FulfilmentKind>,
    /// The table, for table service.
    pub table_number: String,
    pub items: Vec<ItemInput>,
    /// Expected minutes; 0 for the default.
    pub prep_minutes: u32,
    /// Notes on the whole order.
    pub notes: String,
}

/// What a caller who receives an order by hand sets over the ticket the
/// order makes; `None` keeps what the order says, and `Some("")` is a
/// value like any other (no table, no notes). Each value set is held to
/// the ticket's limits by [`NewTicket::parse`]: unlike the order's own
/// text, which the mapping from the order cuts to fit, it is refused when
/// too long.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    pub(crate) order_number: Option<String>,
    pub(crate) fulfilment: Option<FulfilmentKind>,
    pub(crate) table_number: Option<String>,
    pub(crate) prep_minutes: Option<u32>,
    pub(crate) notes: Option<String>,
}

impl TicketInput {
    /// This input with what `overrides` sets in place of its own.
    #[must_use]
    pub(crate) fn overridden(self, overrides: Overrides) -> Self {
        Self {
            order_number: overrides.order_number.unwrap_or(self.order_number),
            fulfilment: overrides.fulfilment.or(self.fulfilment),
            table_number: overrides.table_number.unwrap_or(self.table_number),
            prep_minutes: overrides.prep_minutes.unwrap_or(self.prep_minutes),
            notes: overrides.notes.unwrap_or(self.notes),
            ..self
        }
    }
}

/// One line of a new ticket, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    /// What to make.
    pub name: Name<200>,
    pub quantity: Quantity,
    /// Chosen options by name.
    pub modifiers: Vec<Name<200>>,
    /// Free text from the customer.
    pub special_instructions: Text<MAX_INSTRUCTIONS>,
}

/// A ticket about to be queued, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// The order it is for; unique among tickets.
    pub order_id: i64,
    /// The order's human number.
    pub order_number: Name<32>,
    /// The kitchen it goes to.
    pub restaurant_id: i64,
    /// How the food leaves.
    pub fulfilment: Fulfilment,
    /// At least one line.
    pub items: Vec<NewItem>,
    /// Expected preparation time.
    pub prep: PrepMinutes,
    /// Notes on the whole order.
    pub notes: Text<MAX_NOTES>,
}

impl NewTicket {
    /// # Errors
    /// [`DomainError::Invalid`] naming every bad field by its path
    /// (`items[1].modifiers[0]`).
    pub fn parse(input: &TicketInput) -> Result<Self, DomainError> {
        let mut v = Violations::default();
        let order_id = v.check("order_id", parse_id(input.order_id));
        let order_number = v.check("order_number", Name::parse(&input.order_number));
        let restaurant_id = v.check("restaurant_id", parse_id(input.restaurant_id));
        let fulfilment = v.merge(Fulfilment::parse(input.fulfilment, &input.table_number));
        if input.items.is_empty() {
            v.add("items", "must hold at least one item");
        } else if input.items.len() > MAX_ITEMS {
            v.add("items", format!("must hold at most {MAX_ITEMS} items"));
        }
        let items: Vec<Option<NewItem>> = input
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_item(&mut v, i, item))
            .collect();
        let prep = v.check("prep_minutes", PrepMinutes::parse(input.prep_minutes));
        let notes = v.check("notes", Text::parse(&input.notes));
        v.finish(|| {
            Some(Self {
                order_id: order_id?,
                order_number: order_number?,
                restaurant_id: restaurant_id?,
                fulfilment: fulfilment?,
                items: items.into_iter().collect::<Option<Vec<_>>>()?,
                prep: prep?,
                notes: notes?,
            })
        })
    }
}

fn parse_item(v: &mut Violations, i: usize, item: &ItemInput) -> Option<NewItem> {
    let name = v.check(format_args!("items[{i}].name"), Name::parse(&item.name));
    let quantity = v.check(
        format_args!("items[{i}].quantity"),
        Quantity::parse(item.quantity),
    );
    if item.modifiers.len() > MAX_MODIFIERS {
        v.add(
            format_args!("items[{i}].modifiers"),
            format!("must hold at most {MAX_MODIFIERS} modifiers"),
        );
    }
    let modifiers: Vec<Option<Name<200>>> = item
        .modifiers
        .iter()
        .enumerate()
        .map(|(j, m)| v.check(format_args!("items[{i}].modifiers[{j}]"), Name::parse(m)))
        .collect();
    let special_instructions = v.check(
        format_args!("items[{i}].special_instructions"),
        Text::parse(&item.special_instructions),
    );
    Some(NewItem {
        name: name?,
        quantity: quantity?,
        modifiers: modifiers.into_iter().collect::<Option<Vec<_>>>()?,
        special_instructions: special_instructions?,
    })
}

impl From<&NewItem> for TicketItem {
    /// A new line as it is stored: what the ticket shows once queued.
    fn from(item: &NewItem) -> Self {
        Self {
            name: item.name.as_str().to_owned(),
            quantity: item.quantity.get(),
            modifiers: item
                .modifiers
                .iter()
                .map(|m| m.as_str().to_owned())
                .collect(),
            special_instructions: item.special_instructions.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + seconds, 0).expect("valid time")
    }

    #[test]
    fn the_ready_by_estimate_defaults_to_15_minutes() {
        let prep = PrepMinutes::parse(0).expect("default");
        assert_eq!(prep.get(), 15);
        assert_eq!(prep.ready_by(at(0)), at(15 * 60));
        assert_eq!(
            PrepMinutes::parse(40).expect("40").ready_by(at(0)),
            at(2400)
        );
        assert!(PrepMinutes::parse(601).is_err());
        assert_eq!(PrepMinutes::clamped(10_000).get(), PrepMinutes::MAX);
        assert_eq!(PrepMinutes::clamped(0).get(), PrepMinutes::DEFAULT);
    }

    fn input() -> TicketInput {
        TicketInput {
            order_id: 7,
            order_number: "K7P2QX".to_owned(),
            restaurant_id: 3,
            fulfilment: Some(FulfilmentKind::Table),
            table_number: "4".to_owned(),
            items: vec![ItemInput {
                name: "Margherita".to_owned(),
                quantity: 2,
                modifiers: vec!["extra cheese".to_owned()],
                special_instructions: "well done".to_owned(),
            }],
            prep_minutes: 0,
            notes: String::new(),
        }
    }

    #[test]
    fn a_valid_ticket_parses_with_its_items() {
        let ticket = NewTicket::parse(&input()).expect("valid");
        assert_eq!(ticket.items.len(), 1);
        assert_eq!(ticket.items[0].modifiers[0].as_str(), "extra cheese");
        assert_eq!(ticket.prep.get(), PrepMinutes::DEFAULT);
    }

    #[test]
    fn every_bad_field_of_a_ticket_is_named_by_its_path() {
        let bad = TicketInput {
            order_id: 0,
            order_number: " ".to_owned(),
            restaurant_id: -1,
            fulfilment: Some(FulfilmentKind::Pickup),
            items: vec![
                input().items[0].clone(),
                ItemInput {
                    name: String::new(),
                    quantity: 0,
                    modifiers: vec!["ok".to_owned(), "\n".to_owned()],
                    special_instructions: "x".repeat(MAX_INSTRUCTIONS + 1),
                },
            ],
            prep_minutes: 601,
            ..input()
        };
        let Err(DomainError::Invalid(v)) = NewTicket::parse(&bad) else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "order_id",
                "order_number",
                "restaurant_id",
                "table_number",
                "items[1].name",
                "items[1].quantity",
                "items[1].modifiers[1]",
                "items[1].special_instructions",
                "prep_minutes",
            ]
        );
    }

    #[test]
    fn overrides_replace_only_what_they_set_and_an_empty_one_counts() {
        let kept = input().overridden(Overrides::default());
        assert_eq!(kept, input());

        let changed = input().overridden(Overrides {
            order_number: Some("K7P2QY".to_owned()),
            fulfilment: Some(FulfilmentKind::Pickup),
            table_number: Some(String::new()),
            prep_minutes: Some(0),
            notes: Some("no nuts".to_owned()),
        });
        assert_eq!(
            changed,
            TicketInput {
                order_number: "K7P2QY".to_owned(),
                fulfilment: Some(FulfilmentKind::Pickup),
                table_number: String::new(),
                prep_minutes: 0,
                notes: "no nuts".to_owned(),
                ..input()
            }
        );
    }

    #[test]
    fn an_override_beyond_the_limits_is_refused_not_cut() {
        let long = input().overridden(Overrides {
            notes: Some("n".repeat(MAX_NOTES + 1)),
            prep_minutes: Some(PrepMinutes::MAX + 1),
            ..Overrides::default()
        });
        let Err(DomainError::Invalid(v)) = NewTicket::parse(&long) else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["prep_minutes", "notes"]);
    }

    #[test]
    fn a_ticket_needs_items_but_not_too_many() {
        for (items, ok) in [
            (0, false),
            (1, true),
            (MAX_ITEMS, true),
            (MAX_ITEMS + 1, false),
        ] {
            let many = TicketInput {
                items: vec![input().items[0].clone(); items],
                ..input()
            };
            assert_eq!(NewTicket::parse(&many).is_ok(), ok, "{items} items");
        }
    }
}
