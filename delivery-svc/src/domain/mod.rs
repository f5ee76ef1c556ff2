//! The rules of drivers and deliveries. This layer knows neither SQL,
//! Redis nor gRPC: [`driver`] checks who drives, [`delivery`] holds the
//! lifecycle of a delivery and its one transition table, [`eta`] the
//! arithmetic of distances and arrival times.

pub mod delivery;
pub mod driver;
pub mod eta;

pub use foodmesh_shared::validate::Violations;

use delivery::DeliveryStatus;

/// Everything a request can be refused for, so the gRPC layer has one type
/// to turn into a status and every refusal has a stable meaning.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input that breaks a rule of its own, naming each bad field.
    #[error("invalid request: {0}")]
    Invalid(Violations),
    #[error("driver {0} not found")]
    DriverNotFound(i64),
    #[error("delivery {0} not found")]
    DeliveryNotFound(i64),
    /// Another driver already has this phone number.
    #[error("a driver with this phone number exists")]
    PhoneTaken,
    /// The transition table does not allow this move.
    #[error("a {from} delivery cannot become {to}")]
    InvalidTransition {
        from: DeliveryStatus,
        to: DeliveryStatus,
    },
    /// The driver named cannot take the delivery (unavailable, or holding
    /// as many deliveries as a driver may).
    #[error("driver {0} cannot take another delivery now")]
    DriverBusy(i64),
    /// The driver cannot pick up food the kitchen has not made ready.
    #[error("the food of delivery {0} is not ready yet")]
    FoodNotReady(i64),
    /// No free driver is near enough to take the delivery now; it stays
    /// waiting and is assigned as soon as one is.
    #[error("no driver is free near the restaurant now; the delivery waits for one")]
    NoDriverFree,
    /// This instance is stopping; a long-lived call should be made again
    /// (it reaches another instance).
    #[error("the delivery service is shutting down; call again")]
    ShuttingDown,
    /// A failure no client can fix (the database is down, a bug); logged
    /// with its cause chain and answered opaquely.
    #[error("unexpected failure")]
    Unexpected(#[source] anyhow::Error),
}

foodmesh_shared::refusals!(DomainError);

/// A page of a listing: its size and the id where the previous page ended
/// (deliveries come newest first, drivers by id). The page token is opaque
/// to clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    size: u32,
    cursor: Option<i64>,
}

impl Page {
    /// The `v1.` prefix marks tokens of this service's own making.
    const PAGING: foodmesh_shared::paging::Paging = foodmesh_shared::paging::Paging {
        default_size: 20,
        max_size: 100,
        token_prefix: "v1.",
    };

    /// # Errors
    /// `page_size` above the maximum, or a `page_token` this service did
    /// not issue.
    pub fn parse(page_size: u32, page_token: &str) -> Result<Self, Violations> {
        let start =
            Self::PAGING.parse(page_size, page_token, foodmesh_shared::paging::decode_id)?;
        Ok(Self {
            size: start.size,
            cursor: start.cursor,
        })
    }

    pub fn size(self) -> u32 {
        self.size
    }

    /// The last id of the previous page; `None` on the first page.
    pub fn cursor(self) -> Option<i64> {
        self.cursor
    }

    /// The token of the page after `last_id`, when `found` filled this one.
    pub fn next(self, found: usize, last_id: Option<i64>) -> Option<String> {
        (found == self.size as usize)
            .then_some(last_id)
            .flatten()
            .map(|id| Self::PAGING.token(foodmesh_shared::paging::encode_id(id)))
    }
}
