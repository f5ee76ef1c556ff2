//! Pricing order lines from the current menu. This is the only place a
//! price is computed: order-svc trusts these figures and no client's.

use std::fmt;

use foodmesh_shared::money::MAX_MINOR;
use foodmesh_shared::values;

use super::menu::{MenuItem, OptionGroup};
use super::restaurant::Restaurant;
use super::{DomainError, Violations};

pub use foodmesh_shared::values::{MAX_LINES, MAX_OPTIONS_PER_LINE, check_line_count};

/// One line to price: an item, how many, and the options chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    menu_item_id: i64,
    quantity: u32,
    option_ids: Vec<i64>,
}

impl OrderLine {
    /// Violations name the line's own fields (`quantity`, `option_ids[1]`).
    ///
    /// # Errors
    /// No item, a quantity outside 1..=99, or an option that is not an
    /// option id or is chosen twice.
    pub fn parse(menu_item_id: i64, quantity: u32, option_ids: &[i64]) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if menu_item_id <= 0 {
            v.add("menu_item_id", "is required");
        }
        let quantity = v.check("quantity", values::parse_quantity(quantity));
        let option_ids = values::check_options(&mut v, option_ids);
        v.finish_with(|| {
            Some(Self {
                menu_item_id,
                quantity: quantity?,
                option_ids: option_ids?,
            })
        })
    }

    pub fn menu_item_id(&self) -> i64 {
        self.menu_item_id
    }
}

/// Why a line cannot be priced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineProblem {
    /// The restaurant has no such item.
    UnknownItem,
    /// The item is off the menu for now.
    ItemUnavailable,
    /// The item does not offer this option.
    OptionNotOffered,
    /// The option is off the menu for now.
    OptionUnavailable,
    /// Fewer options of a group than it requires.
    TooFewOptions {
        /// The group's name.
        group: String,
        min: u32,
    },
    /// More options of a group than it allows.
    TooManyOptions {
        /// The group's name.
        group: String,
        max: u32,
    },
    /// The options' deltas take the price below zero.
    NegativePrice,
    /// The amount is beyond what the platform stores.
    TooLarge,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownItem => f.write_str("is not an item of this restaurant"),
            Self::ItemUnavailable => f.write_str("is not available now"),
            Self::OptionNotOffered => f.write_str("is not offered with this item"),
            Self::OptionUnavailable => f.write_str("is not available now"),
            Self::TooFewOptions { group, min } => {
                write!(f, "must choose at least {min} from {group}")
            }
            Self::TooManyOptions { group, max } => {
                write!(f, "may choose at most {max} from {group}")
            }
            Self::NegativePrice => f.write_str("the options bring the price below zero"),
            Self::TooLarge => f.write_str("the amount is too large"),
        }
    }
}

/// One priced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLine {
    pub menu_item_id: i64,
    /// Its name now, for the order's record.
    pub name: String,
    pub quantity: u32,
    /// The item's price alone.
    pub base_price_minor: i64,
    /// The options chosen, in the order given.
    pub options: Vec<PricedOption>,
    /// Base price plus every option's delta.
    pub unit_price_minor: i64,
    /// Unit price × quantity.
    pub line_total_minor: i64,
}

/// One chosen option with its price change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedOption {
    pub option_id: i64,
    pub option_group_id: i64,
    /// Its name now.
    pub name: String,
    /// Its price change now.
    pub price_delta_minor: i64,
}

/// Every line priced, and their sum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedLines {
    /// In the order given.
    pub lines: Vec<PricedLine>,
    /// Sum of line totals.
    pub subtotal_minor: i64,
}

/// What pricing reads of one restaurant, from one snapshot: the restaurant
/// and its whole menu, unavailable items and options included. Read once
/// and kept in memory ([`crate::cache`]), one copy prices every order of the
/// restaurant until its menu changes.
#[derive(Debug, Clone)]
pub struct PricingInputs {
    /// Whether it takes orders, and its name, currency, fee, tax rate and
    /// address for the answer.
    pub restaurant: Restaurant,
    /// Every item of the restaurant, available or not.
    pub items: Vec<MenuItem>,
    /// Every option group of the restaurant, with all its options.
    pub option_groups: Vec<OptionGroup>,
}

impl PricingInputs {
    /// Prices `lines`: [`price`] over the whole menu.
    ///
    /// # Errors
    /// As [`price`].
    pub fn price(&self, lines: &[OrderLine]) -> Result<PricedLines, DomainError> {
        price(&self.restaurant, &self.items, &self.option_groups, lines)
    }
}

/// Prices `lines` from `restaurant`'s current `items` and option `groups`.
///
/// Items and groups are looked up by id (an item also by restaurant), so
/// `items` and `groups` may hold more than the lines name — a whole menu —
/// and the answer is the one given from only the ordered items of this
/// restaurant and the groups those offer: an item missing from `items` is
/// [`LineProblem::UnknownItem`] either way, and a group an item names but
/// `groups` lacks is not offered (its options are
/// [`LineProblem::OptionNotOffered`], its limits unchecked) either way.
///
/// # Errors
/// The restaurant takes no orders, or a line cannot be priced
/// ([`DomainError::Line`] naming it, e.g. `lines[2].menu_item_id`).
pub fn price(
    restaurant: &Restaurant,
    items: &[MenuItem],
    groups: &[OptionGroup],
    lines: &[OrderLine],
) -> Result<PricedLines, DomainError> {
    if !restaurant.active {
        return Err(DomainError::RestaurantInactive(restaurant.id));
    }
    let mut priced = Vec::with_capacity(lines.len());
    let mut subtotal: i64 = 0;
    for (i, line) in lines.iter().enumerate() {
        let line = price_line(restaurant.id, items, groups, line).map_err(|(field, problem)| {
            DomainError::Line {
                field: format!("lines[{i}]{field}"),
                problem,
            }
        })?;
        subtotal = subtotal
            .checked_add(line.line_total_minor)
            .filter(|s| *s <= MAX_MINOR)
            .ok_or_else(|| DomainError::Line {
                field: "lines".to_owned(),
                problem: LineProblem::TooLarge,
            })?;
        priced.push(line);
    }
    Ok(PricedLines {
        lines: priced,
        subtotal_minor: subtotal,
    })
}

/// Prices one line; a refusal carries the field's path within the line.
fn price_line(
    restaurant_id: i64,
    items: &[MenuItem],
    groups: &[OptionGroup],
    line: &OrderLine,
) -> Result<PricedLine, (String, LineProblem)> {
    let at = |field: &str, problem| (field.to_owned(), problem);
    let item = items
        .iter()
        .find(|item| item.id == line.menu_item_id && item.restaurant_id == restaurant_id)
        .ok_or_else(|| at(".menu_item_id", LineProblem::UnknownItem))?;
    if !item.available {
        return Err(at(".menu_item_id", LineProblem::ItemUnavailable));
    }
    let offered: Vec<&OptionGroup> = item
        .option_group_ids
        .iter()
        .filter_map(|id| groups.iter().find(|g| g.id == *id))
        .collect();

    let mut chosen = Vec::with_capacity(line.option_ids.len());
    for (j, option_id) in line.option_ids.iter().enumerate() {
        let field = format!(".option_ids[{j}]");
        let (group, option) = offered
            .iter()
            .find_map(|g| {
                g.options
                    .iter()
                    .find(|o| o.id == *option_id)
                    .map(|o| (g, o))
            })
            .ok_or_else(|| at(&field, LineProblem::OptionNotOffered))?;
        if !option.available {
            return Err(at(&field, LineProblem::OptionUnavailable));
        }
        chosen.push(PricedOption {
            option_id: option.id,
            option_group_id: group.id,
            name: option.name.clone(),
            price_delta_minor: option.price_delta_minor,
        });
    }

    for group in &offered {
        let count = chosen
            .iter()
            .filter(|c| c.option_group_id == group.id)
            .count();
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        if count < group.min_select {
            let problem = LineProblem::TooFewOptions {
                group: group.name.clone(),
                min: group.min_select,
            };
            return Err(at(".option_ids", problem));
        }
        if group.max_select != 0 && count > group.max_select {
            let problem = LineProblem::TooManyOptions {
                group: group.name.clone(),
                max: group.max_select,
            };
            return Err(at(".option_ids", problem));
        }
    }

    let unit = chosen
        .iter()
        .try_fold(item.price_minor, |sum, o| {
            sum.checked_add(o.price_delta_minor)
        })
        .ok_or_else(|| at("", LineProblem::TooLarge))?;
    if unit < 0 {
        return Err(at("", LineProblem::NegativePrice));
    }
    let total = unit
        .checked_mul(i64::from(line.quantity))
        .filter(|t| *t <= MAX_MINOR)
        .ok_or_else(|| at(".quantity", LineProblem::TooLarge))?;
    Ok(PricedLine {
        menu_item_id: item.id,
        name: item.name.clone(),
        quantity: line.quantity,
        base_price_minor: item.price_minor,
        options: chosen,
        unit_price_minor: unit,
        line_total_minor: total,
    })
}

#[cfg(test)]
mod tests {
    use super::super::menu::MenuOption;
    use super::super::restaurant::PostalAddress;
    use std::collections::HashSet;

    use super::*;

    fn restaurant() -> Restaurant {
        Restaurant {
            id: 1,
            name: "Pizza Palace".to_owned(),
            description: String::new(),
            phone: String::new(),
            email: String::new(),
            cuisine_type: String::new(),
            address: PostalAddress::default(),
            location: None,
            currency: "USD".to_owned(),
            opening_hours: Vec::new(),
            timezone: "UTC".to_owned(),
            delivery_fee_minor: 0,
            avg_prep_minutes: 0,
            tax_rate_ppm: 0,
            active: true,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn item(id: i64, price_minor: i64, groups: &[i64]) -> MenuItem {
        MenuItem {
            id,
            restaurant_id: 1,
            name: format!("item {id}"),
            description: String::new(),
            price_minor,
            currency: "USD".to_owned(),
            category_id: None,
            available: true,
            image_url: String::new(),
            option_group_ids: groups.to_vec(),
            position: 0,
            updated_at: chrono::DateTime::UNIX_EPOCH,
        }
    }

    fn option(id: i64, delta: i64) -> MenuOption {
        MenuOption {
            id,
            name: format!("option {id}"),
            price_delta_minor: delta,
            available: true,
        }
    }

    /// Size: exactly one of small (−100) or large (+200).
    /// Toppings: up to two of cheese (+150), olives (+50), onions (0).
    fn groups() -> Vec<OptionGroup> {
        vec![
            OptionGroup {
                id: 10,
                restaurant_id: 1,
                name: "Size".to_owned(),
                min_select: 1,
                max_select: 1,
                currency: "USD".to_owned(),
                options: vec![option(101, -100), option(102, 200)],
            },
            OptionGroup {
                id: 20,
                restaurant_id: 1,
                name: "Toppings".to_owned(),
                min_select: 0,
                max_select: 2,
                currency: "USD".to_owned(),
                options: vec![option(201, 150), option(202, 50), option(203, 0)],
            },
        ]
    }

    fn line(item: i64, quantity: u32, options: &[i64]) -> OrderLine {
        OrderLine::parse(item, quantity, options).expect("valid line")
    }

    fn refusal(lines: &[OrderLine], items: &[MenuItem]) -> (String, LineProblem) {
        match price(&restaurant(), items, &groups(), lines) {
            Err(DomainError::Line { field, problem }) => (field, problem),
            other => panic!("expected a line refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_line_costs_base_plus_deltas_times_quantity() {
        let items = [item(1, 1000, &[10, 20]), item(2, 300, &[])];
        let lines = [line(1, 2, &[102, 201, 203]), line(2, 3, &[])];
        let priced = price(&restaurant(), &items, &groups(), &lines).expect("priced");
        assert_eq!(priced.lines[0].unit_price_minor, 1000 + 200 + 150);
        assert_eq!(priced.lines[0].line_total_minor, 2 * 1350);
        assert_eq!(priced.lines[0].options[0].option_group_id, 10);
        assert_eq!(priced.lines[1].line_total_minor, 900);
        assert_eq!(priced.subtotal_minor, 2700 + 900);
    }

    #[test]
    fn unknown_and_unavailable_items_are_named_by_line() {
        let mut off = item(2, 300, &[]);
        off.available = false;
        let mut foreign = item(3, 300, &[]);
        foreign.restaurant_id = 2;
        let items = [item(1, 1000, &[10]), off, foreign];
        assert_eq!(
            refusal(&[line(1, 1, &[101]), line(9, 1, &[])], &items),
            ("lines[1].menu_item_id".to_owned(), LineProblem::UnknownItem)
        );
        assert_eq!(
            refusal(&[line(2, 1, &[])], &items),
            (
                "lines[0].menu_item_id".to_owned(),
                LineProblem::ItemUnavailable
            )
        );
        assert_eq!(
            refusal(&[line(3, 1, &[])], &items).1,
            LineProblem::UnknownItem
        );
    }

    #[test]
    fn options_must_be_offered_by_the_item_and_available() {
        let items = [item(1, 1000, &[10])];
        assert_eq!(
            refusal(&[line(1, 1, &[101, 201])], &items),
            (
                "lines[0].option_ids[1]".to_owned(),
                LineProblem::OptionNotOffered
            )
        );
        let mut groups = groups();
        groups[0].options[1].available = false;
        let refused = price(&restaurant(), &items, &groups, &[line(1, 1, &[102])]);
        assert!(matches!(
            refused,
            Err(DomainError::Line {
                problem: LineProblem::OptionUnavailable,
                ..
            })
        ));
    }

    #[test]
    fn selections_must_respect_each_groups_min_and_max() {
        let items = [item(1, 1000, &[10, 20])];
        let (field, problem) = refusal(&[line(1, 1, &[201])], &items);
        assert_eq!(field, "lines[0].option_ids");
        assert!(matches!(problem, LineProblem::TooFewOptions { min: 1, .. }));
        let (_, problem) = refusal(&[line(1, 1, &[101, 102])], &items);
        assert!(matches!(
            problem,
            LineProblem::TooManyOptions { max: 1, .. }
        ));
        let (_, problem) = refusal(&[line(1, 1, &[101, 201, 202, 203])], &items);
        assert!(matches!(
            problem,
            LineProblem::TooManyOptions { max: 2, .. }
        ));
    }

    #[test]
    fn a_unit_price_below_zero_is_refused() {
        let items = [item(1, 50, &[10])];
        assert_eq!(
            refusal(&[line(1, 1, &[101])], &items),
            ("lines[0]".to_owned(), LineProblem::NegativePrice)
        );
    }

    #[test]
    fn totals_beyond_the_platform_maximum_are_refused() {
        let items = [item(1, MAX_MINOR, &[])];
        assert_eq!(
            refusal(&[line(1, 2, &[])], &items),
            ("lines[0].quantity".to_owned(), LineProblem::TooLarge)
        );
        assert_eq!(
            refusal(&[line(1, 1, &[]), line(1, 1, &[])], &items).0,
            "lines"
        );
    }

    #[test]
    fn an_inactive_restaurant_prices_nothing() {
        let mut closed = restaurant();
        closed.active = false;
        let refused = price(&closed, &[item(1, 100, &[])], &[], &[line(1, 1, &[])]);
        assert!(matches!(refused, Err(DomainError::RestaurantInactive(1))));
    }

    /// What the lines name out of `items` and `groups`: the items of
    /// restaurant 1 among the lines' ids and the groups those offer, as
    /// pricing read them from Postgres before the whole menu was cached.
    fn narrowed(
        items: &[MenuItem],
        groups: &[OptionGroup],
        lines: &[OrderLine],
    ) -> (Vec<MenuItem>, Vec<OptionGroup>) {
        let ids: HashSet<i64> = lines.iter().map(OrderLine::menu_item_id).collect();
        let items: Vec<MenuItem> = items
            .iter()
            .filter(|i| i.restaurant_id == 1 && ids.contains(&i.id))
            .cloned()
            .collect();
        let offered: HashSet<i64> = items
            .iter()
            .flat_map(|i| i.option_group_ids.iter().copied())
            .collect();
        let groups = groups
            .iter()
            .filter(|g| offered.contains(&g.id))
            .cloned()
            .collect();
        (items, groups)
    }

    #[test]
    fn pricing_from_the_whole_menu_answers_as_from_what_the_lines_name() {
        let mut off = item(4, 300, &[]);
        off.available = false;
        // 30 is no group of this restaurant: the item's link is skipped.
        let mut groups = groups();
        groups[1].options[1].available = false;
        groups.push(OptionGroup {
            id: 40,
            restaurant_id: 1,
            name: "Sauce".to_owned(),
            min_select: 1,
            max_select: 1,
            currency: "USD".to_owned(),
            options: vec![option(401, 0)],
        });
        let items = [
            item(1, 1000, &[10, 20]),
            item(2, 300, &[]),
            item(3, 500, &[30, 20]),
            off,
            item(5, 700, &[40]),
            item(6, 50, &[10]),
        ];
        let orders: Vec<Vec<OrderLine>> = vec![
            vec![line(1, 2, &[102, 201]), line(2, 1, &[]), line(3, 1, &[203])],
            vec![line(1, 1, &[101]), line(9, 1, &[])],
            vec![line(4, 1, &[])],
            vec![line(2, 1, &[101])],
            vec![line(3, 1, &[401])],
            vec![line(1, 1, &[102, 202])],
            vec![line(1, 1, &[201])],
            vec![line(5, 1, &[])],
            vec![line(2, 1, &[]), line(5, 1, &[401]), line(1, 1, &[101, 102])],
            vec![line(6, 1, &[101])],
            vec![line(1, 99, &[102]), line(1, 99, &[102])],
        ];
        for lines in &orders {
            let (few_items, few_groups) = narrowed(&items, &groups, lines);
            let whole = price(&restaurant(), &items, &groups, lines);
            let named = price(&restaurant(), &few_items, &few_groups, lines);
            assert_eq!(format!("{whole:?}"), format!("{named:?}"), "{lines:?}");
        }
    }

    #[test]
    fn malformed_lines_name_each_field() {
        let Err(v) = OrderLine::parse(0, 100, &[5, 5]) else {
            panic!("expected violations");
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["menu_item_id", "quantity", "option_ids[1]"]);
        assert!(check_line_count(0).is_err());
        assert!(check_line_count(MAX_LINES).is_ok());
        assert!(check_line_count(MAX_LINES + 1).is_err());
    }
}
