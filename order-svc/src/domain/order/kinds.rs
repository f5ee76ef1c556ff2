//! The names an order is described by: its status, type, source and
//! payment method, and who acts on it — each with its stored spelling.

use std::fmt;

use crate::domain::Text;

/// Where an order is in its life; see [`crate::domain::lifecycle`] for the moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Placed, waiting for its payment.
    Pending,
    /// Paid (or cash): the kitchen may start.
    Confirmed,
    /// The kitchen is on it.
    Preparing,
    /// Waiting for pickup by the guest or a driver.
    Ready,
    /// A driver has it.
    OutForDelivery,
    /// Handed over. Final.
    Completed,
    /// Will not be fulfilled. Final.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [OrderStatus; 7] = [
        OrderStatus::Pending,
        OrderStatus::Confirmed,
        OrderStatus::Preparing,
        OrderStatus::Ready,
        OrderStatus::OutForDelivery,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Preparing => "PREPARING",
            OrderStatus::Ready => "READY",
            OrderStatus::OutForDelivery => "OUT_FOR_DELIVERY",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// True for the states an order never leaves.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Cancelled)
    }

    /// The type of the event a move into this status publishes.
    pub fn event_type(self) -> &'static str {
        match self {
            OrderStatus::Pending => "order.created",
            OrderStatus::Confirmed => "order.confirmed",
            OrderStatus::Preparing => "order.preparing",
            OrderStatus::Ready => "order.ready",
            OrderStatus::OutForDelivery => "order.out_for_delivery",
            OrderStatus::Completed => "order.completed",
            OrderStatus::Cancelled => "order.cancelled",
        }
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the order reaches the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    /// Served at a table.
    DineIn,
    /// Collected at the counter.
    Takeout,
    /// Brought by a driver.
    Delivery,
}

impl OrderType {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::DineIn => "dine_in",
            OrderType::Takeout => "takeout",
            OrderType::Delivery => "delivery",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        [OrderType::DineIn, OrderType::Takeout, OrderType::Delivery]
            .into_iter()
            .find(|t| t.as_str() == raw)
    }
}

/// Where the order was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderSource {
    /// The web page.
    Web,
    /// The mobile app.
    App,
    /// Staff at the front desk.
    Frontdesk,
    /// Staff taking a phone call.
    Phone,
    /// A chat channel.
    Chat,
}

impl OrderSource {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderSource::Web => "web",
            OrderSource::App => "app",
            OrderSource::Frontdesk => "frontdesk",
            OrderSource::Phone => "phone",
            OrderSource::Chat => "chat",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        [
            OrderSource::Web,
            OrderSource::App,
            OrderSource::Frontdesk,
            OrderSource::Phone,
            OrderSource::Chat,
        ]
        .into_iter()
        .find(|s| s.as_str() == raw)
    }
}

/// How the customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentMethod {
    /// Authorized by accounting before the order is confirmed.
    Card,
    /// Paid on handover: the order is confirmed at once.
    Cash,
    /// Authorized by accounting before the order is confirmed.
    MobileMoney,
}

impl PaymentMethod {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::Card => "card",
            PaymentMethod::Cash => "cash",
            PaymentMethod::MobileMoney => "mobile_money",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        [
            PaymentMethod::Card,
            PaymentMethod::Cash,
            PaymentMethod::MobileMoney,
        ]
        .into_iter()
        .find(|m| m.as_str() == raw)
    }
}

/// The kinds of caller the transition table tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A registered customer.
    Customer,
    /// Restaurant staff.
    Staff,
    /// A delivery driver.
    Driver,
    /// A platform administrator.
    Admin,
    /// A service acting on an event or a timer.
    System,
    /// Whoever holds a guest order's access token.
    Guest,
}

impl ActorKind {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Customer => "CUSTOMER",
            ActorKind::Staff => "STAFF",
            ActorKind::Driver => "DRIVER",
            ActorKind::Admin => "ADMIN",
            ActorKind::System => "SYSTEM",
            ActorKind::Guest => "GUEST",
        }
    }

    /// Reads the stored spelling.
    pub fn from_db(raw: &str) -> Option<Self> {
        [
            ActorKind::Customer,
            ActorKind::Staff,
            ActorKind::Driver,
            ActorKind::Admin,
            ActorKind::System,
            ActorKind::Guest,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }

    /// True for the ordering side (the customer or the guest).
    pub fn is_customer_side(self) -> bool {
        matches!(self, ActorKind::Customer | ActorKind::Guest)
    }
}

impl fmt::Display for ActorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who did something, kept in the status history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    /// Their token's subject, or the service's name for SYSTEM; may be
    /// empty (a guest).
    pub id: String,
}

impl Actor {
    /// A service acting on its own (`order-svc`) or on another's event.
    pub fn system(service: &str) -> Self {
        Self {
            kind: ActorKind::System,
            id: service.to_owned(),
        }
    }

    /// # Errors
    /// An id longer than 200 characters or on several lines.
    pub fn parse(kind: ActorKind, id: &str) -> Result<Self, String> {
        let id = Text::<200>::parse(id)?;
        if id.as_str().chars().any(char::is_control) {
            return Err("must be a single line of text".to_owned());
        }
        Ok(Self {
            kind,
            id: id.into_string(),
        })
    }

    /// A guest known only by what they present (an access token, their
    /// contact), not by an id.
    pub fn is_anonymous(&self) -> bool {
        self.kind == ActorKind::Guest && self.id.is_empty()
    }

    /// The scope idempotency keys are unique in: one per caller.
    pub fn scope(&self) -> String {
        format!("{}:{}", self.kind.as_str(), self.id)
    }
}
