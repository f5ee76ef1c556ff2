//! Menus: ordered categories, items with prices, and option groups whose
//! options change an item's price within min/max selection rules.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use foodmesh_shared::money::MAX_MINOR;
use foodmesh_shared::values::{self, limits};

use super::{Amount, DomainError, Finish, Name, Text, Violations};

/// A restaurant's whole menu, read at once.
#[derive(Debug, Clone, PartialEq)]
pub struct Menu {
    pub restaurant_id: i64,
    /// The currency of every price on it.
    pub currency: String,
    /// In display order.
    pub categories: Vec<Category>,
    /// By category position, then item position, then id; uncategorised last.
    pub items: Vec<MenuItem>,
    /// Every option group, with its options in display order.
    pub option_groups: Vec<OptionGroup>,
}

/// A heading of the menu ("Pizzas").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Category {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    /// Free text.
    pub description: String,
    /// Smaller comes first.
    pub position: i32,
}

/// Something on the menu with its current price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuItem {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    /// Free text.
    pub description: String,
    /// The price in minor units of `currency`.
    pub price_minor: i64,
    /// The restaurant's currency.
    pub currency: String,
    /// The heading it is listed under, if any.
    pub category_id: Option<i64>,
    /// Whether it can be ordered now.
    pub available: bool,
    /// A picture, or empty.
    pub image_url: String,
    /// The option groups offered with it, in display order.
    pub option_group_ids: Vec<i64>,
    /// Smaller comes first within its category.
    pub position: i32,
    pub updated_at: DateTime<Utc>,
}

/// A set of modifiers ("Toppings") and how many may be chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionGroup {
    pub id: i64,
    pub restaurant_id: i64,
    pub name: String,
    /// At least this many options must be chosen.
    pub min_select: u32,
    /// At most this many; 0 means no upper bound.
    pub max_select: u32,
    /// The currency of the options' price changes.
    pub currency: String,
    /// In display order.
    pub options: Vec<MenuOption>,
}

/// One modifier and its price change ("extra cheese" +150).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MenuOption {
    /// The option's id, stable across group updates.
    pub id: i64,
    pub name: String,
    /// Added to the item's price; may be negative or zero.
    pub price_delta_minor: i64,
    /// Whether it can be chosen now.
    pub available: bool,
}

/// A new category.
#[derive(Debug, Clone)]
pub struct NewCategory {
    pub name: Name<{ limits::CATEGORY_NAME }>,
    /// Free text.
    pub description: Text<{ limits::CATEGORY_DESCRIPTION }>,
    /// `None` puts it after the last category.
    pub position: Option<i32>,
}

/// The parts of a category an update changes.
#[derive(Debug, Clone, Default)]
pub struct CategoryPatch {
    pub name: Option<Name<{ limits::CATEGORY_NAME }>>,
    pub description: Option<Text<{ limits::CATEGORY_DESCRIPTION }>>,
    pub position: Option<i32>,
}

/// A new menu item. Its category and option groups are checked against
/// the restaurant's menu by [`check_references`] before it is stored.
#[derive(Debug, Clone)]
pub struct NewMenuItem {
    pub name: Name<{ limits::MENU_ITEM_NAME }>,
    /// Free text.
    pub description: Text<{ limits::DESCRIPTION }>,
    pub price: Amount,
    /// The heading it goes under, if any.
    pub category_id: Option<i64>,
    /// Whether it can be ordered.
    pub available: bool,
    /// A picture, or empty.
    pub image_url: ImageUrl,
    /// The groups offered with it.
    pub option_group_ids: OptionGroupIds,
    /// `None` puts it after the last item.
    pub position: Option<i32>,
}

/// The parts of a menu item an update changes.
#[derive(Debug, Clone, Default)]
pub struct MenuItemPatch {
    pub name: Option<Name<{ limits::MENU_ITEM_NAME }>>,
    pub description: Option<Text<{ limits::DESCRIPTION }>>,
    /// New price, effective for the next order priced.
    pub price: Option<Amount>,
    /// `Some(None)` takes the item out of its category.
    pub category_id: Option<Option<i64>>,
    /// Takes the item off or back on the menu.
    pub available: Option<bool>,
    pub image_url: Option<ImageUrl>,
    /// Replaces the item's option groups.
    pub option_group_ids: Option<OptionGroupIds>,
    pub position: Option<i32>,
}

/// An item's picture: empty, or an http(s) URL of at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUrl(String);

impl ImageUrl {
    /// # Errors
    /// Not empty and not an http(s) URL with a host.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = raw.trim();
        if url.is_empty() {
            return Ok(Self(String::new()));
        }
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .and_then(|rest| rest.split(['/', '?', '#']).next())
            .unwrap_or("");
        if host.is_empty()
            || url.len() > limits::IMAGE_URL
            || url.chars().any(|c| c.is_whitespace())
        {
            return Err(format!(
                "must be an http(s) URL of at most {} characters",
                limits::IMAGE_URL
            ));
        }
        Ok(Self(url.to_owned()))
    }

    /// The URL, or empty.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The option groups offered with an item, each at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionGroupIds(Vec<i64>);

impl OptionGroupIds {
    /// # Errors
    /// A group listed twice, or more groups than any item needs.
    pub fn parse(ids: &[i64]) -> Result<Self, String> {
        if ids.len() > MAX_OPTION_GROUPS_PER_ITEM {
            return Err(format!(
                "must list at most {MAX_OPTION_GROUPS_PER_ITEM} groups"
            ));
        }
        let mut seen = HashSet::new();
        if let Some(twice) = ids.iter().find(|id| !seen.insert(**id)) {
            return Err(format!("lists group {twice} twice"));
        }
        Ok(Self(ids.to_vec()))
    }

    /// The ids in display order.
    pub fn ids(&self) -> &[i64] {
        &self.0
    }
}

/// The most option groups one item offers.
pub const MAX_OPTION_GROUPS_PER_ITEM: usize = 20;

/// Refuses an item that points at a category or option group the
/// restaurant does not have. The caller looks up which of them exist.
///
/// # Errors
/// [`DomainError::Invalid`] naming `category_id` or `option_group_ids[i]`.
pub fn check_references(
    category_id: Option<i64>,
    category_found: bool,
    groups: &OptionGroupIds,
    found_groups: &[i64],
) -> Result<(), DomainError> {
    let mut v = Violations::default();
    if category_id.is_some() && !category_found {
        v.add("category_id", "is not a category of this restaurant");
    }
    for (i, id) in groups.ids().iter().enumerate() {
        if !found_groups.contains(id) {
            v.add(
                format_args!("option_group_ids[{i}]"),
                "is not an option group of this restaurant",
            );
        }
    }
    v.finish(|| Some(()))
}

/// The most options one group holds.
pub const MAX_OPTIONS: usize = 50;

/// How many options of a group may be chosen: `min` ≤ `max` unless `max` is
/// 0 (no bound), and `min` no more than the group has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionRules {
    min: u32,
    max: u32,
}

impl SelectionRules {
    /// Violations name `min_select` and `max_select`.
    ///
    /// # Errors
    /// `min` above `max`, or more than `option_count`.
    pub fn parse(min: u32, max: u32, option_count: usize) -> Result<Self, Violations> {
        let mut v = Violations::default();
        v.check("min_select", values::select_count(min));
        v.check("max_select", values::select_count(max));
        if max != 0 && min > max {
            v.add("min_select", "must not exceed max_select");
        } else if usize::try_from(min).map_or(true, |min| min > option_count) {
            v.add("min_select", "must not exceed the number of options");
        }
        v.finish_with(|| Some(Self { min, max }))
    }

    pub fn min(self) -> u32 {
        self.min
    }

    /// At most this many; 0 means no bound.
    pub fn max(self) -> u32 {
        self.max
    }
}

/// How far an option may move an item's price, either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceDelta(i64);

impl PriceDelta {
    /// # Errors
    /// Beyond ±[`MAX_MINOR`].
    pub fn parse(minor: i64) -> Result<Self, String> {
        if !(-MAX_MINOR..=MAX_MINOR).contains(&minor) {
            return Err(format!("must be between -{MAX_MINOR} and {MAX_MINOR}"));
        }
        Ok(Self(minor))
    }

    /// The change in minor units.
    pub fn minor(self) -> i64 {
        self.0
    }
}

/// An option as a request gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionInput {
    /// Set to keep an existing option (its id stays stable for orders).
    pub id: Option<i64>,
    pub name: String,
    /// Price change in minor units.
    pub price_delta_minor: i64,
    /// `None` means available for a new option, unchanged for a kept one.
    pub available: Option<bool>,
}

/// A valid option to create or keep.
#[derive(Debug, Clone)]
pub struct OptionDraft {
    /// The existing option it updates, if any.
    pub id: Option<i64>,
    pub name: Name<{ limits::OPTION_NAME }>,
    pub price_delta: PriceDelta,
    /// `None` means available for a new option, unchanged for a kept one.
    pub available: Option<bool>,
}

/// Parses a group's options; violations name `options[i].name` and so on.
///
/// # Errors
/// More than [`MAX_OPTIONS`], an id listed twice, or a bad option.
pub fn parse_options(raw: &[OptionInput]) -> Result<Vec<OptionDraft>, Violations> {
    let mut v = Violations::default();
    if raw.len() > MAX_OPTIONS {
        v.add(
            "options",
            format!("must hold at most {MAX_OPTIONS} options"),
        );
    }
    let mut seen = HashSet::new();
    let mut drafts = Vec::with_capacity(raw.len());
    for (i, option) in raw.iter().enumerate() {
        if option.id.is_some_and(|id| !seen.insert(id)) {
            v.add(format_args!("options[{i}].id"), "is listed twice");
        }
        let name = v.check(format_args!("options[{i}].name"), Name::parse(&option.name));
        let delta = v.check(
            format_args!("options[{i}].price_delta_minor"),
            PriceDelta::parse(option.price_delta_minor),
        );
        if let (Some(name), Some(price_delta)) = (name, delta) {
            drafts.push(OptionDraft {
                id: option.id,
                name,
                price_delta,
                available: option.available,
            });
        }
    }
    v.finish_with(|| Some(drafts))
}

/// A new option group with its options.
#[derive(Debug, Clone)]
pub struct NewOptionGroup {
    pub name: Name<{ limits::OPTION_NAME }>,
    /// How many may be chosen.
    pub rules: SelectionRules,
    /// In display order; none of them has an id yet.
    pub options: Vec<OptionDraft>,
}

/// The parts of an option group an update changes. The selection rules are
/// checked against the stored group by [`OptionGroupPatch::rules`].
#[derive(Debug, Clone, Default)]
pub struct OptionGroupPatch {
    pub name: Option<Name<{ limits::OPTION_NAME }>>,
    pub min_select: Option<u32>,
    pub max_select: Option<u32>,
    /// Replaces the options: drafts with an id update that option, drafts
    /// without add one, and options left out are removed.
    pub options: Option<Vec<OptionDraft>>,
}

impl OptionGroupPatch {
    /// The rules after this update, given the stored group.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] when the merged rules break
    /// [`SelectionRules`].
    pub fn rules(&self, stored: &OptionGroup) -> Result<SelectionRules, DomainError> {
        let count = self.options.as_ref().map_or(stored.options.len(), Vec::len);
        SelectionRules::parse(
            self.min_select.unwrap_or(stored.min_select),
            self.max_select.unwrap_or(stored.max_select),
            count,
        )
        .map_err(DomainError::Invalid)
    }

    /// Refuses drafts that name options of another group.
    ///
    /// # Errors
    /// [`DomainError::Invalid`] naming `options[i].id`.
    pub fn check_option_ids(&self, stored: &OptionGroup) -> Result<(), DomainError> {
        let mut v = Violations::default();
        for (i, draft) in self.options.iter().flatten().enumerate() {
            if draft
                .id
                .is_some_and(|id| !stored.options.iter().any(|o| o.id == id))
            {
                v.add(
                    format_args!("options[{i}].id"),
                    "is not an option of this group",
                );
            }
        }
        v.finish(|| Some(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(v: &Violations) -> Vec<&str> {
        v.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn image_urls_are_empty_or_http() {
        assert!(ImageUrl::parse("").is_ok());
        assert!(ImageUrl::parse("https://cdn.example/p.png").is_ok());
        assert!(ImageUrl::parse("http://cdn.example").is_ok());
        for bad in [
            "ftp://x/p.png",
            "https://",
            "cdn.example/p.png",
            "https://a b",
        ] {
            assert!(ImageUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://cdn.example/{}", "a".repeat(2048));
        assert!(ImageUrl::parse(&long).is_err());
    }

    #[test]
    fn an_item_lists_each_option_group_once() {
        assert!(OptionGroupIds::parse(&[1, 2]).is_ok());
        assert!(OptionGroupIds::parse(&[1, 2, 1]).is_err());
    }

    #[test]
    fn references_outside_the_restaurant_are_named() {
        let groups = OptionGroupIds::parse(&[4, 5, 6]).expect("distinct");
        let Err(DomainError::Invalid(v)) = check_references(Some(9), false, &groups, &[4, 6])
        else {
            panic!("expected violations");
        };
        assert_eq!(fields(&v), ["category_id", "option_group_ids[1]"]);
        assert!(check_references(None, false, &groups, &[4, 5, 6]).is_ok());
    }

    #[test]
    fn min_select_may_not_exceed_max_select_unless_unbounded() {
        assert!(SelectionRules::parse(1, 2, 3).is_ok());
        assert!(SelectionRules::parse(2, 0, 3).is_ok());
        assert!(SelectionRules::parse(0, 0, 0).is_ok());
        let Err(v) = SelectionRules::parse(3, 2, 5) else {
            panic!("expected a violation");
        };
        assert_eq!(fields(&v), ["min_select"]);
        assert!(SelectionRules::parse(4, 0, 3).is_err());
    }

    #[test]
    fn options_are_bounded_and_named_by_index() {
        let raw = vec![
            OptionInput {
                name: "Cheese".to_owned(),
                price_delta_minor: 150,
                ..OptionInput::default()
            },
            OptionInput {
                id: Some(3),
                name: String::new(),
                price_delta_minor: MAX_MINOR + 1,
                available: None,
            },
            OptionInput {
                id: Some(3),
                name: "x".repeat(101),
                price_delta_minor: -MAX_MINOR,
                available: Some(false),
            },
        ];
        let Err(v) = parse_options(&raw) else {
            panic!("expected violations");
        };
        assert_eq!(
            fields(&v),
            [
                "options[1].name",
                "options[1].price_delta_minor",
                "options[2].id",
                "options[2].name"
            ]
        );
        let many = vec![
            OptionInput {
                name: "o".to_owned(),
                ..OptionInput::default()
            };
            MAX_OPTIONS + 1
        ];
        assert!(parse_options(&many).is_err());
    }

    #[test]
    fn a_patch_is_checked_against_the_stored_group() {
        let stored = OptionGroup {
            id: 1,
            restaurant_id: 1,
            name: "Size".to_owned(),
            min_select: 1,
            max_select: 1,
            currency: "USD".to_owned(),
            options: vec![MenuOption {
                id: 10,
                name: "Large".to_owned(),
                price_delta_minor: 200,
                available: true,
            }],
        };
        let patch = OptionGroupPatch {
            min_select: Some(2),
            ..OptionGroupPatch::default()
        };
        assert!(patch.rules(&stored).is_err());
        let patch = OptionGroupPatch {
            max_select: Some(0),
            ..OptionGroupPatch::default()
        };
        assert!(patch.rules(&stored).is_ok());
    }
}
