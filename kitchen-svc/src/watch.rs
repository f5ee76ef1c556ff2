//! Live queues for kitchen displays, correct across replicas.
//!
//! Every ticket change notifies the Postgres channel [`CHANNEL`] with its
//! restaurant, ticket and version once its unit of work commits; the
//! shared change feed ([`foodmesh_shared::changes`]) brings the notice to
//! every instance's watchers, and a watcher then reads the changed ticket
//! itself and sends it on.
//!
//! Nothing is missed and nothing goes backwards:
//! - a watcher subscribes before it reads the open queue, so a change
//!   committed meanwhile arrives as a notice afterwards;
//! - it remembers the version of each ticket it sent and drops older ones;
//! - when notices may have been lost (the listening connection dropped, or
//!   the watcher fell behind the broadcast buffer) it sends the whole open
//!   queue again.
//!
//! A watch ends when its client goes away (the response stream is dropped
//! and the send fails or `closed()` fires), and with `UNAVAILABLE` when the
//! instance starts to shut down — the moment it reports NOT_SERVING — so
//! that draining does not wait for displays that never hang up.

use std::collections::HashMap;

use foodmesh_shared::changes::{self, Heard, Subscription};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::server::HealthReporter;

use crate::domain::DomainError;
use crate::domain::queue::QueueUpdate;
use crate::service::{CHANNEL, ChangeNotice, Kitchen};

/// Updates waiting for a slow client before the watcher waits too.
const CLIENT_BUFFER: usize = 64;

/// The stream a watch answers with: updates, then possibly one error.
pub type Updates = ReceiverStream<Result<QueueUpdate, DomainError>>;

/// Hands out live queues; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    kitchen: Kitchen,
    changes: changes::ChangeFeed<ChangeNotice>,
}

/// The background work behind a [`ChangeFeed`]: the listening connection
/// and the watch on the service's health, run as one of the service's
/// background tasks.
pub type FeedTasks = changes::FeedTasks<ChangeNotice>;

impl ChangeFeed {
    /// Starts listening on the change channel through `pool`, so notices
    /// committed from now on are buffered until the returned tasks run;
    /// watchers read the tickets through `kitchen`; `health` is the
    /// server's, whose NOT_SERVING ends every watch.
    ///
    /// # Errors
    /// Postgres is unreachable.
    pub async fn connect(
        pool: &PgPool,
        kitchen: Kitchen,
        health: HealthReporter,
    ) -> Result<(Self, FeedTasks), DomainError> {
        let (changes, tasks) =
            changes::ChangeFeed::connect(pool, CHANNEL, ChangeNotice::parse, health).await?;
        Ok((Self { kitchen, changes }, tasks))
    }

    /// The live queue of `restaurant_id`: its open tickets, a synced
    /// marker, then every change.
    pub fn watch(&self, restaurant_id: i64) -> Updates {
        let (out, updates) = mpsc::channel(CLIENT_BUFFER);
        let watcher = Watcher {
            restaurant_id,
            kitchen: self.kitchen.clone(),
            // Subscribed before the first read of the queue: see the module
            // documentation.
            changes: self.changes.subscribe(),
            out,
            sent: HashMap::new(),
        };
        tokio::spawn(watcher.run());
        ReceiverStream::new(updates)
    }
}

/// Why a watch ends.
enum Stop {
    /// The client went away.
    ClientGone,
    /// The watch cannot go on; the client is told why.
    Failed(DomainError),
}

impl From<DomainError> for Stop {
    fn from(error: DomainError) -> Self {
        Self::Failed(error)
    }
}

struct Watcher {
    restaurant_id: i64,
    kitchen: Kitchen,
    changes: Subscription<ChangeNotice>,
    out: mpsc::Sender<Result<QueueUpdate, DomainError>>,
    /// The version of each ticket sent since the last snapshot.
    sent: HashMap<i64, i64>,
}

impl Watcher {
    async fn run(mut self) {
        if let Err(Stop::Failed(error)) = self.serve().await {
            // Only if there is room: the client may be gone or not reading.
            let _ = self.out.try_send(Err(error));
        }
    }

    /// Sends the queue, then its changes, until the watch must stop.
    async fn serve(&mut self) -> Result<(), Stop> {
        self.snapshot().await?;
        loop {
            let heard = tokio::select! {
                () = self.out.closed() => return Err(Stop::ClientGone),
                heard = self.changes.next() => heard,
            };
            match heard {
                Heard::Changed(notice) if notice.restaurant_id == self.restaurant_id => {
                    self.changed(notice).await?;
                }
                Heard::Changed(_) => {}
                Heard::Gap => self.snapshot().await?,
                Heard::Stopping | Heard::Closed => return Err(DomainError::ShuttingDown.into()),
            }
        }
    }

    /// Sends the open queue and the synced marker.
    async fn snapshot(&mut self) -> Result<(), Stop> {
        let tickets = self.kitchen.open_queue(self.restaurant_id).await?;
        self.sent.clear();
        for ticket in tickets {
            self.sent.insert(ticket.id, ticket.version);
            self.send(QueueUpdate::Snapshot(ticket)).await?;
        }
        self.send(QueueUpdate::Synced).await
    }

    /// Sends the ticket a notice names, unless this client has it already
    /// at that version or later.
    async fn changed(&mut self, notice: ChangeNotice) -> Result<(), Stop> {
        let known = |sent: &HashMap<i64, i64>, id: i64, version: i64| {
            sent.get(&id).is_some_and(|v| *v >= version)
        };
        if known(&self.sent, notice.ticket_id, notice.version) {
            return Ok(());
        }
        let Some(ticket) = self.kitchen.find_ticket(notice.ticket_id).await? else {
            return Ok(());
        };
        if ticket.restaurant_id != self.restaurant_id
            || known(&self.sent, ticket.id, ticket.version)
        {
            return Ok(());
        }
        self.sent.insert(ticket.id, ticket.version);
        self.send(QueueUpdate::Changed(ticket)).await
    }

    /// Waits for room in the client's buffer, but not past the start of a
    /// shutdown: a display that stopped reading must not hold up draining.
    async fn send(&self, update: QueueUpdate) -> Result<(), Stop> {
        tokio::select! {
            sent = self.out.send(Ok(update)) => sent.map_err(|_| Stop::ClientGone),
            () = self.changes.stopped() => Err(DomainError::ShuttingDown.into()),
        }
    }
}
