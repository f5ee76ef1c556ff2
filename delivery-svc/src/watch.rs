//! Live tracking, correct across replicas. Every move of a delivery
//! notifies the Postgres channel [`CHANNEL`] with its id once its unit of
//! work commits; the shared change feed ([`foodmesh_shared::changes`])
//! brings the notice to every instance's watchers, and a watcher reads
//! what the public sees of its delivery again and sends it when it
//! changed. While a driver holds the delivery, the watcher also looks
//! every [`RIDE_TICK`], so the driver's position and the arrival follow
//! the ride (positions are not notified: there are far too many).
//!
//! A watch ends after its delivery ends, when its client goes away, and
//! with `UNAVAILABLE` when the instance starts to shut down.

use std::time::Duration;

use foodmesh_shared::changes::{self, Heard, Subscription};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::server::HealthReporter;

use crate::domain::DomainError;
use crate::service::reads::Tracked;
use crate::service::{CHANNEL, Deliveries};

/// How often a watcher looks again while a driver rides.
pub const RIDE_TICK: Duration = Duration::from_secs(5);

/// Updates waiting for a slow client before the watcher waits too.
const CLIENT_BUFFER: usize = 16;

/// The stream a watch answers with: tracked views, then possibly one
/// error.
pub type Updates = ReceiverStream<Result<Tracked, DomainError>>;

/// Hands out live tracking; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    deliveries: Deliveries,
    changes: changes::ChangeFeed<i64>,
}

/// The listening connection and the watch on the service's health.
pub type FeedTasks = changes::FeedTasks<i64>;

fn parse(payload: &str) -> Option<i64> {
    payload.parse().ok()
}

impl ChangeFeed {
    /// Starts listening on [`CHANNEL`] through `pool`; watchers read
    /// through `deliveries`; `health` is the server's, whose NOT_SERVING
    /// ends every watch.
    ///
    /// # Errors
    /// Postgres is unreachable.
    pub async fn connect(
        pool: &PgPool,
        deliveries: Deliveries,
        health: HealthReporter,
    ) -> Result<(Self, FeedTasks), DomainError> {
        let (changes, tasks) = changes::ChangeFeed::connect(pool, CHANNEL, parse, health)
            .await
            .map_err(|e| DomainError::Unexpected(foodmesh_shared::db::failure(e)))?;
        Ok((
            Self {
                deliveries,
                changes,
            },
            tasks,
        ))
    }

    /// The live view of the delivery followed by `tracking_id`.
    pub fn watch(&self, tracking_id: String) -> Updates {
        let (out, updates) = mpsc::channel(CLIENT_BUFFER);
        let watcher = Watcher {
            tracking_id,
            deliveries: self.deliveries.clone(),
            // Subscribed before the first read: a move committed meanwhile
            // arrives as a notice afterwards.
            changes: self.changes.subscribe(),
            out,
            last: None,
        };
        tokio::spawn(watcher.run());
        ReceiverStream::new(updates)
    }
}

struct Watcher {
    tracking_id: String,
    deliveries: Deliveries,
    changes: Subscription<i64>,
    out: mpsc::Sender<Result<Tracked, DomainError>>,
    last: Option<Tracked>,
}

/// Why a watch ends.
enum Stop {
    ClientGone,
    Done,
    Failed(DomainError),
}

impl From<DomainError> for Stop {
    fn from(error: DomainError) -> Self {
        Self::Failed(error)
    }
}

impl Watcher {
    async fn run(mut self) {
        if let Err(Stop::Failed(error)) = self.serve().await {
            let _ = self.out.try_send(Err(error));
        }
    }

    async fn serve(&mut self) -> Result<(), Stop> {
        self.look().await?;
        loop {
            let riding = self
                .last
                .as_ref()
                .is_some_and(|t| t.delivery.status.holds_driver());
            let tick = async {
                if riding {
                    tokio::time::sleep(RIDE_TICK).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let heard = tokio::select! {
                () = self.out.closed() => return Err(Stop::ClientGone),
                () = tick => Heard::Gap,
                heard = self.changes.next() => heard,
            };
            match heard {
                Heard::Changed(id) if self.last.as_ref().is_some_and(|t| t.delivery.id == id) => {
                    self.look().await?;
                }
                Heard::Changed(_) => {}
                Heard::Gap => self.look().await?,
                Heard::Stopping | Heard::Closed => return Err(DomainError::ShuttingDown.into()),
            }
        }
    }

    /// Reads the delivery again and sends it when it changed; ends the
    /// watch once the delivery has ended.
    async fn look(&mut self) -> Result<(), Stop> {
        let now = self.deliveries.track(&self.tracking_id).await?;
        let changed = self.last.as_ref().is_none_or(|last| {
            last.delivery.status != now.delivery.status
                || last.delivery.updated_at != now.delivery.updated_at
                || last.driver_position != now.driver_position
        });
        let ended = now.delivery.status.is_final();
        if changed {
            self.last = Some(now.clone());
            tokio::select! {
                sent = self.out.send(Ok(now)) => sent.map_err(|_| Stop::ClientGone)?,
                () = self.changes.stopped() => return Err(DomainError::ShuttingDown.into()),
            }
        }
        if ended { Err(Stop::Done) } else { Ok(()) }
    }
}
