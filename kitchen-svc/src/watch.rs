//! Live queues for kitchen displays, correct across replicas.
//!
//! Every ticket change notifies the Postgres channel
//! [`store::CHANNEL`] in its own transaction, so every instance on the
//! database hears of every change at commit, whichever instance made it.
//! Each instance keeps one listening connection ([`FeedTasks`]) and fans
//! the notices out to its watchers through a broadcast channel; a watcher
//! then reads the changed ticket itself and sends it on.
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
use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::PgListener;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::server::{HealthReporter, HealthService};

use crate::domain::DomainError;
use crate::domain::queue::QueueUpdate;
use crate::store::{ChangeNotice, Store};

/// Notices kept for a watcher that is busy sending; one that falls further
/// behind resends the whole queue instead.
const BUFFER: usize = 1024;
/// Updates waiting for a slow client before the watcher waits too.
const CLIENT_BUFFER: usize = 64;

/// What the listening connection tells watchers.
#[derive(Debug, Clone, Copy)]
enum FeedEvent {
    /// A ticket changed.
    Changed(ChangeNotice),
    /// Notices may have been lost: read everything again.
    Gap,
}

/// The stream a watch answers with: updates, then possibly one error.
pub type Updates = ReceiverStream<Result<QueueUpdate, DomainError>>;

/// Hands out live queues; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    store: Store,
    changes: broadcast::Sender<FeedEvent>,
    stopping: watch::Receiver<bool>,
}

/// The background work behind a [`ChangeFeed`]: the listening connection
/// and the watch on the service's health. Spawn it once the service is
/// bound.
pub struct FeedTasks {
    listener: PgListener,
    changes: broadcast::Sender<FeedEvent>,
    health: HealthReporter,
    stopping: watch::Sender<bool>,
}

impl ChangeFeed {
    /// Starts listening on the change channel, so notices committed from
    /// now on are buffered until the returned tasks run; `health` is the
    /// server's, whose NOT_SERVING ends every watch.
    ///
    /// # Errors
    /// Postgres is unreachable.
    pub async fn connect(
        store: Store,
        health: HealthReporter,
    ) -> Result<(Self, FeedTasks), DomainError> {
        let listener = store.listen_changes().await?;
        let (changes, _) = broadcast::channel(BUFFER);
        let (stopping_tx, stopping) = watch::channel(false);
        let feed = Self {
            store,
            changes: changes.clone(),
            stopping,
        };
        let tasks = FeedTasks {
            listener,
            changes,
            health,
            stopping: stopping_tx,
        };
        Ok((feed, tasks))
    }

    /// The live queue of `restaurant_id`: its open tickets, a synced
    /// marker, then every change.
    pub fn watch(&self, restaurant_id: i64) -> Updates {
        let (out, updates) = mpsc::channel(CLIENT_BUFFER);
        let watcher = Watcher {
            restaurant_id,
            store: self.store.clone(),
            // Subscribed before the first read of the queue: see the module
            // documentation.
            changes: self.changes.subscribe(),
            stopping: self.stopping.clone(),
            out,
            sent: HashMap::new(),
        };
        tokio::spawn(watcher.run());
        ReceiverStream::new(updates)
    }
}

impl FeedTasks {
    /// Runs the listener and the health watch until aborted.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            tokio::join!(
                pump(self.listener, self.changes),
                watch_health(self.health, self.stopping)
            );
        })
    }
}

/// Forwards every notification to the watchers; reports a gap whenever
/// the connection was lost, once it listens again.
async fn pump(mut listener: PgListener, changes: broadcast::Sender<FeedEvent>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match ChangeNotice::parse(notification.payload()) {
                Some(notice) => {
                    // No receivers is fine: nobody is watching.
                    let _ = changes.send(FeedEvent::Changed(notice));
                }
                None => tracing::warn!(payload = notification.payload(), "unknown change notice"),
            },
            // Reconnected (and listening again) after a lost connection.
            Ok(None) => {
                tracing::warn!("change feed reconnected; watchers read their queues again");
                let _ = changes.send(FeedEvent::Gap);
            }
            // The service is stopping; nothing more will be heard.
            Err(sqlx::Error::PoolClosed) => return,
            Err(e) => {
                tracing::warn!(error = %e, "change feed failed; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                // Listening again reconnects; only then is a re-read
                // guaranteed to see what the lost notices announced.
                if listener.listen(crate::store::CHANNEL).await.is_ok() {
                    let _ = changes.send(FeedEvent::Gap);
                }
            }
        }
    }
}

/// Sets `stopping` once the server reports NOT_SERVING, which the shared
/// application does right before it drains in-flight calls.
async fn watch_health(health: HealthReporter, stopping: watch::Sender<bool>) {
    let service = HealthService::from_health_reporter(health);
    let request = tonic::Request::new(HealthCheckRequest {
        service: String::new(),
    });
    match service.watch(request).await {
        Ok(response) => {
            let mut statuses = response.into_inner();
            while let Some(Ok(status)) = statuses.next().await {
                if status.status == ServingStatus::NotServing as i32 {
                    let _ = stopping.send(true);
                    break;
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot watch the server's health"),
    }
    // Keeps the sender alive: a dropped sender would read as "stop" to
    // every watcher.
    std::future::pending::<()>().await;
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
    store: Store,
    changes: broadcast::Receiver<FeedEvent>,
    stopping: watch::Receiver<bool>,
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
            let event = tokio::select! {
                () = self.out.closed() => return Err(Stop::ClientGone),
                _ = self.stopping.wait_for(|stopping| *stopping) => {
                    return Err(DomainError::ShuttingDown.into());
                }
                event = self.changes.recv() => event,
            };
            match event {
                Ok(FeedEvent::Changed(notice)) if notice.restaurant_id == self.restaurant_id => {
                    self.changed(notice).await?;
                }
                Ok(FeedEvent::Changed(_)) => {}
                Ok(FeedEvent::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.snapshot().await?;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(DomainError::ShuttingDown.into());
                }
            }
        }
    }

    /// Sends the open queue and the synced marker.
    async fn snapshot(&mut self) -> Result<(), Stop> {
        let tickets = self.store.open_queue(self.restaurant_id).await?;
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
        let Some(ticket) = self.store.find_ticket(notice.ticket_id).await? else {
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
        let mut stopping = self.stopping.clone();
        tokio::select! {
            sent = self.out.send(Ok(update)) => sent.map_err(|_| Stop::ClientGone),
            _ = stopping.wait_for(|stopping| *stopping) => Err(DomainError::ShuttingDown.into()),
        }
    }
}
