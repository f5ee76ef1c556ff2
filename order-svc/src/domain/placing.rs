//! Placing an order, decided before anything is written: from the request,
//! the menu's prices, the coupon's terms and the time, what the order is —
//! its lines, figures and status — what its history starts with, and which
//! events announce it. Nothing here waits on the network or the database,
//! so the whole decision is tested without either.
//!
//! What the decision cannot know is filled in when the order is written:
//! its number (drawn until one is free), its customer's profile id (a
//! guest's is found or made by phone) and a registered customer's contact
//! (read from their profile) — see [`Placement::order`].

use chrono::{DateTime, Utc};

use super::DomainError;
use super::lifecycle::{self, Situation};
use super::order::{
    Actor, ActorKind, AppliedCoupon, Contact, CustomerRef, DraftLine, NewOrder, Order, OrderStatus,
    PaymentMethod, Pickup, StatusChange,
};
use super::pricing::{self, PricedOrder};
use super::totals::Totals;

/// The history's reason for confirming a cash order as it is placed.
pub const CASH_REASON: &str = "cash payment";

/// What placing an order is decided from.
#[derive(Debug, Clone, Copy)]
pub struct Placing<'a> {
    /// The request, each part valid.
    pub order: &'a NewOrder,
    pub actor: &'a Actor,
    /// The service itself, which confirms a cash order.
    pub system: &'a Actor,
    /// The menu's prices for the request's lines, in their order.
    pub priced: &'a PricedOrder,
    /// The coupon to redeem, with its terms.
    pub coupon: Option<&'a AppliedCoupon>,
    /// The time of placing.
    pub now: DateTime<Utc>,
}

/// The decision: the order as it will be stored (but for what only the
/// write knows) and the first entries of its history.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    draft: Order,
    /// PENDING; for cash, then CONFIRMED by the service. Their ids are
    /// given when they are written.
    pub history: Vec<StatusChange>,
}

/// An event to publish: its type, and the order and status change it
/// carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement {
    /// `order.created`, `order.confirmed`, …
    pub event_type: &'static str,
    /// The order as of the event.
    pub order: Order,
    /// The change the event announces, for a status change.
    pub change: Option<StatusChange>,
}

/// Refuses an order a CUSTOMER places for another customer, and a walk-in
/// order anyone but staff or an admin places.
///
/// # Errors
/// [`DomainError::AccessDenied`].
pub fn check_orderer(customer: &CustomerRef, actor: &Actor) -> Result<(), DomainError> {
    if *customer == CustomerRef::WalkIn
        && !matches!(actor.kind, ActorKind::Staff | ActorKind::Admin)
    {
        return Err(DomainError::AccessDenied(
            "only the restaurant's staff take walk-in orders".to_owned(),
        ));
    }
    if let CustomerRef::Registered(id) = customer
        && actor.kind == ActorKind::Customer
        && actor.id != id.to_string()
    {
        return Err(DomainError::AccessDenied(format!(
            "a customer orders as themselves, not as customer {id}"
        )));
    }
    Ok(())
}

/// Decides the order `placing` asks for. The coupon's discount follows its
/// terms on the menu's subtotal (the restaurant's own rule, which its
/// redemption then confirms); delivery orders pay the delivery fee; a cash
/// order is confirmed as it is placed, since nothing is left to wait for.
///
/// # Errors
/// [`DomainError::TotalTooLarge`] when a figure leaves the platform's
/// range; [`DomainError::Unexpected`] when the menu priced other lines
/// than asked.
pub fn place(placing: &Placing<'_>) -> Result<Placement, DomainError> {
    let Placing {
        order: new,
        actor,
        system,
        priced,
        coupon,
        now,
    } = *placing;
    if priced.lines.len() != new.lines.len() {
        return Err(DomainError::Unexpected(anyhow::anyhow!(
            "asked to price {} lines, got {}",
            new.lines.len(),
            priced.lines.len()
        )));
    }
    let order_type = new.fulfilment.order_type();
    let totals = pricing::figures(priced, order_type, coupon)?;

    let mut history = vec![StatusChange {
        id: 0,
        from: None,
        to: OrderStatus::Pending,
        actor: actor.clone(),
        reason: String::new(),
        at: now,
    }];
    let cash = new.payment_method == Some(PaymentMethod::Cash);
    if cash {
        let placed = Situation {
            order_type,
            status: OrderStatus::Pending,
            confirmed_at: None,
            now,
            cancel_window: std::time::Duration::ZERO,
        };
        lifecycle::check(&placed, OrderStatus::Confirmed, system.kind, CASH_REASON)?;
        history.push(StatusChange {
            id: 0,
            from: Some(OrderStatus::Pending),
            to: OrderStatus::Confirmed,
            actor: system.clone(),
            reason: CASH_REASON.to_owned(),
            at: now,
        });
    }

    let lines = new
        .lines
        .iter()
        .zip(&priced.lines)
        .map(|(asked, line)| DraftLine::from_input(asked).priced(line))
        .collect();
    let guest = match &new.customer {
        CustomerRef::Guest(guest) => Some(guest.contact()),
        CustomerRef::Registered(_) | CustomerRef::WalkIn => None,
    };
    let draft = Order {
        id: 0,
        order_number: String::new(),
        restaurant_id: new.restaurant_id,
        customer_id: 0,
        guest: guest.is_some(),
        contact: guest.unwrap_or_default(),
        order_type,
        source: new.source,
        // An order confirmed as it is placed is at its second version.
        status: if cash {
            OrderStatus::Confirmed
        } else {
            OrderStatus::Pending
        },
        table_number: new.fulfilment.table_number().map(str::to_owned),
        delivery_address: new.fulfilment.delivery_address().cloned(),
        delivery_location: new.fulfilment.delivery_location(),
        lines,
        currency: priced.currency.clone(),
        totals,
        tax_rate_ppm: priced.tax_rate_ppm,
        coupon: coupon.cloned(),
        payment_method: new.payment_method,
        notes: new.notes.as_str().to_owned(),
        pickup: Pickup {
            restaurant_name: priced.restaurant_name.clone(),
            address: priced.address.clone(),
            location: priced.location,
            prep_minutes: priced.prep_minutes,
        },
        version: if cash { 2 } else { 1 },
        created_at: now,
        updated_at: now,
        confirmed_at: cash.then_some(now),
    };
    Ok(Placement { draft, history })
}

impl Placement {
    /// The order as it will be written under `number` for the profile
    /// `customer_id`, whose `contact` a registered customer's profile
    /// gives (a guest's is the one they gave, which the profile now holds).
    pub fn order(&self, number: &str, customer_id: i64, contact: Contact) -> Order {
        Order {
            order_number: number.to_owned(),
            customer_id,
            contact,
            ..self.draft.clone()
        }
    }

    /// The figures, for the coupon's redemption to confirm.
    pub fn totals(&self) -> Totals {
        self.draft.totals
    }
}

/// The events that announce a placed order, as written with its history:
/// `order.created` with the order as it stood when placed, and for an
/// order confirmed as it was placed, `order.confirmed` too — the same two
/// steps readers see of any order.
pub fn announcements(order: &Order, history: &[StatusChange]) -> Vec<Announcement> {
    let mut events = vec![Announcement {
        event_type: OrderStatus::Pending.event_type(),
        order: if order.status == OrderStatus::Pending {
            order.clone()
        } else {
            order.as_placed()
        },
        change: None,
    }];
    if order.status == OrderStatus::Confirmed {
        events.push(Announcement {
            event_type: OrderStatus::Confirmed.event_type(),
            order: order.clone(),
            change: history.last().cloned(),
        });
    }
    events
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::order::{Fulfilment, GuestContact, LineInput, OrderSource};
    use crate::domain::pricing::PricedLine;
    use crate::domain::totals::{CouponTerms, DiscountKind};
    use crate::domain::{PostalAddress, Text};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0)
            .single()
            .expect("a valid time")
    }

    fn customer() -> Actor {
        Actor {
            kind: ActorKind::Customer,
            id: "7".to_owned(),
        }
    }

    fn system() -> Actor {
        Actor::system("order-svc")
    }

    fn address() -> PostalAddress {
        PostalAddress {
            street: "456 Oak Ave".to_owned(),
            city: "New York".to_owned(),
            state: "NY".to_owned(),
            zip_code: "10002".to_owned(),
            country: "US".to_owned(),
        }
    }

    /// Two pizzas at 12.99 for delivery, paid by card.
    fn request() -> NewOrder {
        NewOrder {
            restaurant_id: 1,
            customer: CustomerRef::Registered(7),
            fulfilment: Fulfilment::parse(None, "", Some(&address()), None).expect("delivery"),
            source: OrderSource::App,
            lines: vec![
                LineInput::parse(11, 2, &[], "well done", Some(1299)).expect("a valid line"),
            ],
            coupon_code: None,
            payment_method: Some(PaymentMethod::Card),
            notes: Text::parse("ring twice").expect("valid notes"),
        }
    }

    fn priced() -> PricedOrder {
        PricedOrder {
            restaurant_name: "Pizza Palace".to_owned(),
            currency: "USD".to_owned(),
            lines: vec![PricedLine {
                menu_item_id: 11,
                name: "Margherita".to_owned(),
                quantity: 2,
                unit_price_minor: 1299,
                line_total_minor: 2598,
                options: Vec::new(),
            }],
            subtotal_minor: 2598,
            delivery_fee_minor: 299,
            tax_rate_ppm: 88_800,
            prep_minutes: 20,
            address: address(),
            location: None,
        }
    }

    fn decide(new: &NewOrder, coupon: Option<&AppliedCoupon>) -> Placement {
        let (actor, system, priced) = (customer(), system(), priced());
        place(&Placing {
            order: new,
            actor: &actor,
            system: &system,
            priced: &priced,
            coupon,
            now: now(),
        })
        .expect("placed")
    }

    #[test]
    fn a_card_order_waits_for_its_payment_with_the_seed_totals() {
        let placement = decide(&request(), None);
        let order = placement.order("K7M2QX", 7, Contact::default());

        assert_eq!(order.status, OrderStatus::Pending);
        assert_eq!(order.version, 1);
        assert_eq!(order.confirmed_at, None);
        assert_eq!(order.totals.subtotal_minor, 2598);
        assert_eq!(order.totals.delivery_fee_minor, 299);
        assert_eq!(order.totals.tax_minor, 231);
        assert_eq!(order.totals.total_minor, 3128);
        assert_eq!(order.lines[0].special_instructions, "well done");
        assert_eq!(order.lines[0].name, "Margherita");
        assert_eq!(order.pickup.prep_minutes, 20);
        assert_eq!(
            (order.order_number.as_str(), order.customer_id),
            ("K7M2QX", 7)
        );
        assert_eq!(placement.history.len(), 1);
        assert_eq!(placement.history[0].actor, customer());
        assert_eq!(placement.history[0].at, now());
    }

    #[test]
    fn a_cash_order_is_confirmed_as_it_is_placed_in_two_steps() {
        let new = NewOrder {
            payment_method: Some(PaymentMethod::Cash),
            ..request()
        };
        let placement = decide(&new, None);
        let order = placement.order("K7M2QX", 7, Contact::default());

        assert_eq!(order.status, OrderStatus::Confirmed);
        assert_eq!(order.version, 2);
        assert_eq!(order.confirmed_at, Some(now()));
        let steps: Vec<_> = placement
            .history
            .iter()
            .map(|c| (c.from, c.to, c.actor.kind, c.reason.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (None, OrderStatus::Pending, ActorKind::Customer, ""),
                (
                    Some(OrderStatus::Pending),
                    OrderStatus::Confirmed,
                    ActorKind::System,
                    CASH_REASON
                ),
            ]
        );
    }

    #[test]
    fn a_confirmed_placement_is_announced_as_created_then_confirmed() {
        let new = NewOrder {
            payment_method: Some(PaymentMethod::Cash),
            ..request()
        };
        let placement = decide(&new, None);
        let order = placement.order("K7M2QX", 7, Contact::default());

        let events = announcements(&order, &placement.history);

        let kinds: Vec<_> = events.iter().map(|e| e.event_type).collect();
        assert_eq!(kinds, ["order.created", "order.confirmed"]);
        assert_eq!(events[0].order.status, OrderStatus::Pending);
        assert_eq!(events[0].order.version, 1);
        assert_eq!(events[0].change, None);
        assert_eq!(events[1].order, order);
        assert_eq!(
            events[1].change.as_ref().map(|c| c.to),
            Some(OrderStatus::Confirmed)
        );

        let pending = decide(&request(), None).order("K7M2QX", 7, Contact::default());
        let events = announcements(&pending, &[]);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].order, pending);
    }

    #[test]
    fn a_coupon_takes_its_terms_off_the_subtotal_before_tax() {
        let coupon = AppliedCoupon {
            code: "SAVE10".to_owned(),
            terms: CouponTerms {
                kind: DiscountKind::Percent,
                value: 1000,
                min_order_minor: 0,
            },
        };
        let placement = decide(&request(), Some(&coupon));

        let totals = placement.totals();
        assert_eq!(totals.discount_minor, 259);
        assert_eq!(totals.tax_minor, 208);
        assert_eq!(totals.total_minor, 2598 - 259 + 299 + 208);
        let order = placement.order("K7M2QX", 7, Contact::default());
        assert_eq!(order.coupon, Some(coupon));
    }

    #[test]
    fn only_delivery_orders_pay_the_delivery_fee_and_a_guest_keeps_their_contact() {
        let guest = GuestContact::parse("Ana", "+12125550100", "").expect("a valid guest");
        let new = NewOrder {
            customer: CustomerRef::Guest(guest.clone()),
            fulfilment: Fulfilment::Takeout,
            ..request()
        };
        let placement = decide(&new, None);
        let order = placement.order("K7M2QX", -3, guest.contact());

        assert_eq!(order.totals.delivery_fee_minor, 0);
        assert!(order.guest);
        assert_eq!(order.contact, guest.contact());
        assert_eq!(order.delivery_address, None);
    }

    #[test]
    fn figures_beyond_the_platform_maximum_refuse_the_order() {
        let (actor, system) = (customer(), system());
        let mut priced = priced();
        priced.subtotal_minor = i64::MAX;
        let placed = place(&Placing {
            order: &request(),
            actor: &actor,
            system: &system,
            priced: &priced,
            coupon: None,
            now: now(),
        });
        assert!(matches!(placed, Err(DomainError::TotalTooLarge)));
    }

    #[test]
    fn a_customer_places_orders_only_as_themselves() {
        let other = Actor {
            kind: ActorKind::Customer,
            id: "8".to_owned(),
        };
        assert!(check_orderer(&CustomerRef::Registered(7), &customer()).is_ok());
        assert!(matches!(
            check_orderer(&CustomerRef::Registered(7), &other),
            Err(DomainError::AccessDenied(_))
        ));
        let staff = Actor {
            kind: ActorKind::Staff,
            id: "1".to_owned(),
        };
        assert!(check_orderer(&CustomerRef::Registered(7), &staff).is_ok());
    }
}
