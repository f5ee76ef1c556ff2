//! Requests to create and edit an order, parsed into values that can only
//! be valid: who orders, how it reaches them, its lines, and item edits.

use foodmesh_shared::values::limits;

use super::{
    Actor, ActorKind, Contact, Order, OrderLine, OrderSource, OrderStatus, OrderType, PaymentMethod,
};
use crate::domain::{
    Address, Coordinates, CouponCode, DomainError, Email, Location, Name, Phone, PostalAddress,
    Text, Violations,
};

pub use foodmesh_shared::values::{
    MAX_LINES, MAX_OPTIONS_PER_LINE, check_line_count, check_options, parse_quantity,
};

/// Who places an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerRef {
    /// A registered customer by their auth id (positive).
    Registered(i64),
    /// A guest, by their contact.
    Guest(GuestContact),
    /// Nobody named: a dine-in or takeout order staff take at the counter
    /// or the table. It has no profile and no contact.
    WalkIn,
}

impl CustomerRef {
    /// A registered customer's id.
    ///
    /// # Errors
    /// Not positive: registered ids are, guest profiles are not.
    pub fn registered(id: i64) -> Result<Self, String> {
        if id <= 0 {
            return Err("must be a registered customer's (positive) id".to_owned());
        }
        Ok(Self::Registered(id))
    }

    /// The customer's reference for coupon limits: the customer id, the
    /// guest's phone, or for a walk-in the order itself (`order_number`):
    /// nobody can be told apart, so a per-customer limit cannot hold.
    pub fn coupon_ref(&self, order_number: &str) -> String {
        match self {
            CustomerRef::Registered(id) => format!("customer:{id}"),
            CustomerRef::Guest(guest) => format!("phone:{}", guest.phone.as_str()),
            CustomerRef::WalkIn => format!("walk-in:{order_number}"),
        }
    }

    /// The actor that places the order when the request names none.
    pub fn default_actor(&self) -> Actor {
        match self {
            CustomerRef::Registered(id) => Actor {
                kind: ActorKind::Customer,
                id: id.to_string(),
            },
            CustomerRef::Guest(_) => Actor {
                kind: ActorKind::Guest,
                id: String::new(),
            },
            // Only staff and admins place walk-in orders, and they always
            // name themselves; an unnamed one is refused as a guest would be.
            CustomerRef::WalkIn => Actor {
                kind: ActorKind::Guest,
                id: String::new(),
            },
        }
    }
}

/// A guest's contact, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestContact {
    pub name: Name<{ limits::PERSON_NAME }>,
    /// Their phone: the profile's key.
    pub phone: Phone,
    /// Optional email.
    pub email: Email,
}

impl GuestContact {
    /// Violations name the guest's own fields (`phone`).
    ///
    /// # Errors
    /// A missing name, a phone that is not E.164, or a malformed email.
    pub fn parse(name: &str, phone: &str, email: &str) -> Result<Self, Violations> {
        let mut v = Violations::default();
        let name = v.check("name", Name::parse(name));
        let phone = v.check("phone", Phone::parse(phone));
        let email = v.check("email", Email::parse(email));
        v.finish_with(|| {
            Some(Self {
                name: name?,
                phone: phone?,
                email: email?,
            })
        })
    }

    /// The contact as orders keep it.
    pub fn contact(&self) -> Contact {
        Contact {
            name: self.name.as_str().to_owned(),
            phone: self.phone.as_str().to_owned(),
            email: self.email.as_str().to_owned(),
        }
    }
}

/// How an order reaches the customer, with what that way needs: a table
/// for dine-in, an address for delivery. Other combinations cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fulfilment {
    /// Served at this table.
    DineIn {
        table: Name<{ limits::TABLE_NUMBER }>,
    },
    /// Collected.
    Takeout,
    /// Delivered here.
    Delivery {
        /// The drop-off address.
        address: Address,
        /// The drop-off point, when the customer gave it.
        location: Option<Location>,
    },
}

impl Fulfilment {
    /// Builds the fulfilment from the request's type, table and address.
    /// Without a type, an address means delivery and no address takeout.
    ///
    /// # Errors
    /// A dine-in order without a table, a delivery without an address, or
    /// a table or address the type has no use for.
    pub fn parse(
        kind: Option<OrderType>,
        table_number: &str,
        delivery_address: Option<&PostalAddress>,
        delivery_location: Option<Coordinates>,
    ) -> Result<Self, Violations> {
        let kind = kind.unwrap_or(match delivery_address {
            Some(_) => OrderType::Delivery,
            None => OrderType::Takeout,
        });
        let mut v = Violations::default();
        let has_table = !table_number.trim().is_empty();
        if kind != OrderType::DineIn && has_table {
            v.add("table_number", "is only for dine-in orders");
        }
        if kind != OrderType::Delivery && delivery_address.is_some() {
            v.add("delivery_address", "is only for delivery orders");
        }
        if kind != OrderType::Delivery && delivery_location.is_some() {
            v.add("delivery_location", "is only for delivery orders");
        }
        let fulfilment = match kind {
            OrderType::DineIn => {
                let table = if has_table {
                    v.check("table_number", Name::parse(table_number))
                } else {
                    v.add("table_number", "is required for dine-in orders");
                    None
                };
                table.map(|table| Fulfilment::DineIn { table })
            }
            OrderType::Takeout => Some(Fulfilment::Takeout),
            OrderType::Delivery => match delivery_address {
                Some(raw) => {
                    let address = v.nested("delivery_address", Address::parse(raw));
                    let location = match delivery_location {
                        Some(at) => v.nested("delivery_location", Location::parse(at)).map(Some),
                        None => Some(None),
                    };
                    address
                        .zip(location)
                        .map(|(address, location)| Fulfilment::Delivery { address, location })
                }
                None => {
                    v.add("delivery_address", "is required for delivery orders");
                    None
                }
            },
        };
        v.finish_with(|| fulfilment)
    }

    pub fn order_type(&self) -> OrderType {
        match self {
            Fulfilment::DineIn { .. } => OrderType::DineIn,
            Fulfilment::Takeout => OrderType::Takeout,
            Fulfilment::Delivery { .. } => OrderType::Delivery,
        }
    }

    /// The table, for dine-in.
    pub fn table_number(&self) -> Option<&str> {
        match self {
            Fulfilment::DineIn { table } => Some(table.as_str()),
            _ => None,
        }
    }

    /// The drop-off address, for delivery.
    pub fn delivery_address(&self) -> Option<&PostalAddress> {
        match self {
            Fulfilment::Delivery { address, .. } => Some(address.parts()),
            _ => None,
        }
    }

    /// The drop-off point, for a delivery that gave one.
    pub fn delivery_location(&self) -> Option<Coordinates> {
        match self {
            Fulfilment::Delivery { location, .. } => location.map(Location::coordinates),
            _ => None,
        }
    }
}

/// A line as the client asks for it, each part valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInput {
    pub menu_item_id: i64,
    /// 1 to 99.
    pub quantity: u32,
    /// The options chosen, each once.
    pub option_ids: Vec<i64>,
    /// For the kitchen.
    pub special_instructions: Text<{ limits::INSTRUCTIONS }>,
    /// What the client believes the unit price is.
    pub stated_unit_price_minor: Option<i64>,
}

impl LineInput {
    /// Violations name the line's own fields (`quantity`, `option_ids[1]`).
    ///
    /// # Errors
    /// No item, a quantity outside 1..=99, an option chosen twice,
    /// instructions over 500 characters, or a negative stated price.
    pub fn parse(
        menu_item_id: i64,
        quantity: u32,
        option_ids: &[i64],
        special_instructions: &str,
        stated_unit_price_minor: Option<i64>,
    ) -> Result<Self, Violations> {
        let mut v = Violations::default();
        if menu_item_id <= 0 {
            v.add("menu_item_id", "is required");
        }
        let quantity = v.check("quantity", parse_quantity(quantity));
        let option_ids = check_options(&mut v, option_ids);
        let instructions = v.check("special_instructions", Text::parse(special_instructions));
        if stated_unit_price_minor.is_some_and(|p| p < 0) {
            v.add("stated_unit_price_minor", "must not be negative");
        }
        v.finish_with(|| {
            Some(Self {
                menu_item_id,
                quantity: quantity?,
                option_ids: option_ids?,
                special_instructions: instructions?,
                stated_unit_price_minor,
            })
        })
    }
}

/// A new order, each part valid; prices are not part of it (the menu gives
/// them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub restaurant_id: i64,
    pub customer: CustomerRef,
    pub fulfilment: Fulfilment,
    /// Where it was placed.
    pub source: OrderSource,
    /// 1 to 50 lines.
    pub lines: Vec<LineInput>,
    /// A coupon to redeem.
    pub coupon_code: Option<CouponCode>,
    /// How they pay, when chosen.
    pub payment_method: Option<PaymentMethod>,
    /// Free text.
    pub notes: Text<{ limits::NOTES }>,
}

impl NewOrder {
    /// The scope this order's idempotency key is unique in: the actor's,
    /// unless it is an anonymous guest — then the guest's own, by their
    /// phone, so two guests' keys never meet.
    pub fn idempotency_scope(&self, actor: &Actor) -> String {
        match &self.customer {
            CustomerRef::Guest(contact) if actor.is_anonymous() => {
                let phone = crate::domain::number::fingerprint(contact.phone.as_str().as_bytes());
                format!("GUEST:phone:{}", crate::domain::number::hex(&phone))
            }
            _ => actor.scope(),
        }
    }

    /// The lines of an earlier order, to order them again: same restaurant,
    /// customer and fulfilment, prices left to the menu.
    ///
    /// # Errors
    /// Stored data that no longer parses (it was valid when written, so
    /// this means a bug).
    pub fn reorder(
        earlier: &Order,
        source: Option<OrderSource>,
        payment_method: Option<PaymentMethod>,
        coupon_code: Option<CouponCode>,
    ) -> Result<Self, DomainError> {
        let corrupt = |what: &str, why: String| {
            DomainError::Unexpected(anyhow::anyhow!(
                "stored order {} has an invalid {what}: {why}",
                earlier.id
            ))
        };
        let customer = if earlier.guest {
            let c = &earlier.contact;
            CustomerRef::Guest(
                GuestContact::parse(&c.name, &c.phone, &c.email)
                    .map_err(|v| corrupt("contact", v.to_string()))?,
            )
        } else if earlier.customer_id == 0 {
            CustomerRef::WalkIn
        } else {
            CustomerRef::Registered(earlier.customer_id)
        };
        let fulfilment = Fulfilment::parse(
            Some(earlier.order_type),
            earlier.table_number.as_deref().unwrap_or_default(),
            earlier.delivery_address.as_ref(),
            earlier.delivery_location,
        )
        .map_err(|v| corrupt("fulfilment", v.to_string()))?;
        let lines = earlier
            .lines
            .iter()
            .map(|line| {
                LineInput::parse(
                    line.menu_item_id,
                    line.quantity,
                    &line.options.iter().map(|o| o.option_id).collect::<Vec<_>>(),
                    &line.special_instructions,
                    None,
                )
                .map_err(|v| corrupt("line", v.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            restaurant_id: earlier.restaurant_id,
            customer,
            fulfilment,
            source: source.unwrap_or(earlier.source),
            lines,
            coupon_code,
            payment_method: payment_method.or(earlier.payment_method),
            notes: Text::default(),
        })
    }
}

/// A line to price: an existing line (keeping its id) or a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    /// The stored line this continues, if any.
    pub line_id: Option<i64>,
    pub menu_item_id: i64,
    /// 1 to 99.
    pub quantity: u32,
    pub option_ids: Vec<i64>,
    /// For the kitchen.
    pub special_instructions: String,
    /// A price to hold the menu to, for the edited line only.
    pub stated_unit_price_minor: Option<i64>,
}

impl DraftLine {
    /// A stored line, to be priced again unchanged.
    pub fn from_stored(line: &OrderLine) -> Self {
        Self {
            line_id: Some(line.id),
            menu_item_id: line.menu_item_id,
            quantity: line.quantity,
            option_ids: line.options.iter().map(|o| o.option_id).collect(),
            special_instructions: line.special_instructions.clone(),
            stated_unit_price_minor: None,
        }
    }

    /// A new line from the client.
    pub fn from_input(input: &LineInput) -> Self {
        Self {
            line_id: None,
            menu_item_id: input.menu_item_id,
            quantity: input.quantity,
            option_ids: input.option_ids.clone(),
            special_instructions: input.special_instructions.as_str().to_owned(),
            stated_unit_price_minor: input.stated_unit_price_minor,
        }
    }
}

/// A change to one line of a PENDING order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemEdit {
    /// A new line at the end.
    Add(LineInput),
    /// Changes parts of a line; `None` keeps a part.
    Update {
        line_id: i64,
        quantity: Option<u32>,
        special_instructions: Option<Text<{ limits::INSTRUCTIONS }>>,
        /// New options, replacing the old ones.
        option_ids: Option<Vec<i64>>,
        /// A price to hold the menu to.
        stated_unit_price_minor: Option<i64>,
    },
    /// Removes a line.
    Remove { line_id: i64 },
}

impl ItemEdit {
    /// The lines of `order` after this edit, ready to be priced again, and
    /// the index of the line the edit touched (for naming a refusal).
    ///
    /// # Errors
    /// The order is not PENDING, the line is unknown, the order would hold
    /// too many lines or none.
    pub fn apply(&self, order: &Order) -> Result<(Vec<DraftLine>, Option<usize>), DomainError> {
        if order.status != OrderStatus::Pending {
            return Err(DomainError::NotEditable(order.status));
        }
        let mut lines: Vec<DraftLine> = order.lines.iter().map(DraftLine::from_stored).collect();
        let find = |lines: &[DraftLine], line_id: i64| {
            lines
                .iter()
                .position(|l| l.line_id == Some(line_id))
                .ok_or(DomainError::LineNotFound(line_id))
        };
        match self {
            ItemEdit::Add(input) => {
                if lines.len() >= MAX_LINES {
                    return Err(DomainError::LineLimit(MAX_LINES));
                }
                lines.push(DraftLine::from_input(input));
                let at = lines.len() - 1;
                Ok((lines, Some(at)))
            }
            ItemEdit::Update {
                line_id,
                quantity,
                special_instructions,
                option_ids,
                stated_unit_price_minor,
            } => {
                let at = find(&lines, *line_id)?;
                let line = &mut lines[at];
                if let Some(quantity) = quantity {
                    line.quantity = *quantity;
                }
                if let Some(text) = special_instructions {
                    line.special_instructions = text.as_str().to_owned();
                }
                if let Some(options) = option_ids {
                    line.option_ids.clone_from(options);
                }
                line.stated_unit_price_minor = *stated_unit_price_minor;
                Ok((lines, Some(at)))
            }
            ItemEdit::Remove { line_id } => {
                let at = find(&lines, *line_id)?;
                if lines.len() == 1 {
                    return Err(DomainError::LastLine);
                }
                lines.remove(at);
                Ok((lines, None))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address() -> PostalAddress {
        PostalAddress {
            street: "456 Oak Ave".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10002".to_owned(),
            country: "US".to_owned(),
        }
    }

    fn fields(v: &Violations) -> Vec<&str> {
        v.iter().map(|f| f.field.as_str()).collect()
    }

    #[test]
    fn without_a_type_an_address_means_delivery_and_none_takeout() {
        let delivery = Fulfilment::parse(None, "", Some(&address()), None).expect("delivery");
        assert_eq!(delivery.order_type(), OrderType::Delivery);
        let takeout = Fulfilment::parse(None, "", None, None).expect("takeout");
        assert_eq!(takeout, Fulfilment::Takeout);
    }

    #[test]
    fn each_type_needs_its_own_details_and_no_others() {
        let Err(v) = Fulfilment::parse(Some(OrderType::DineIn), "", None, None) else {
            panic!("a table is required");
        };
        assert_eq!(fields(&v), ["table_number"]);
        let Err(v) = Fulfilment::parse(Some(OrderType::Delivery), "", None, None) else {
            panic!("an address is required");
        };
        assert_eq!(fields(&v), ["delivery_address"]);
        let Err(v) = Fulfilment::parse(
            Some(OrderType::Takeout),
            "7",
            Some(&address()),
            Some(at(40.7, -74.0)),
        ) else {
            panic!("a takeout has neither");
        };
        assert_eq!(
            fields(&v),
            ["table_number", "delivery_address", "delivery_location"]
        );
        let dine_in =
            Fulfilment::parse(Some(OrderType::DineIn), " 7 ", None, None).expect("dine-in");
        assert_eq!(dine_in.table_number(), Some("7"));
    }

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates {
            latitude,
            longitude,
        }
    }

    #[test]
    fn a_delivery_keeps_its_drop_off_point_and_refuses_one_off_the_globe() {
        let delivery = Fulfilment::parse(None, "", Some(&address()), Some(at(40.71, -73.99)))
            .expect("delivery");
        assert_eq!(delivery.delivery_location(), Some(at(40.71, -73.99)));
        let Err(v) = Fulfilment::parse(None, "", Some(&address()), Some(at(91.0, f64::NAN))) else {
            panic!("off the globe");
        };
        assert_eq!(
            fields(&v),
            ["delivery_location.latitude", "delivery_location.longitude"]
        );
    }

    #[test]
    fn a_bad_line_names_each_field() {
        let Err(v) = LineInput::parse(0, 100, &[5, 5, -1], &"x".repeat(501), Some(-1)) else {
            panic!("expected violations");
        };
        assert_eq!(
            fields(&v),
            [
                "menu_item_id",
                "quantity",
                "option_ids[1]",
                "option_ids[2]",
                "special_instructions",
                "stated_unit_price_minor"
            ]
        );
        assert!(LineInput::parse(1, 99, &[1, 2], "well done", Some(1299)).is_ok());
        assert!(check_line_count(0).is_err());
        assert!(check_line_count(MAX_LINES).is_ok());
        assert!(check_line_count(MAX_LINES + 1).is_err());
    }

    #[test]
    fn registered_customer_ids_are_positive() {
        assert!(CustomerRef::registered(1).is_ok());
        assert!(CustomerRef::registered(0).is_err());
        assert!(CustomerRef::registered(-4).is_err());
    }

    #[test]
    fn statuses_and_kinds_read_back_what_they_store() {
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::from_db(s.as_str()), Some(s));
        }
        assert_eq!(OrderType::from_db("delivery"), Some(OrderType::Delivery));
        assert_eq!(
            PaymentMethod::from_db("mobile_money"),
            Some(PaymentMethod::MobileMoney)
        );
        assert_eq!(OrderSource::from_db("chat"), Some(OrderSource::Chat));
        assert_eq!(ActorKind::from_db("SYSTEM"), Some(ActorKind::System));
        assert_eq!(OrderStatus::from_db("pending"), None);
    }
}
