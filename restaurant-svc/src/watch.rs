//! Menu changes across replicas, for this instance's menu cache and for
//! the `WatchMenuChanges` stream the gateway keeps open.
//!
//! The schema's triggers (migration 0002) notify [`store::MENU_CHANNEL`]
//! with a restaurant's id in the transaction of every change to what its
//! menu, currency, active or deleted state is read from; the shared change
//! feed ([`foodmesh_shared::changes`]) brings the notice to every instance.
//! Since every replica listens to the one database, one stream from any
//! replica tells of every change, whichever replica (or hand-run SQL) made
//! it.
//!
//! A watch:
//! - waits until the feed listens, subscribes, and only then sends
//!   [`MenuChange::Subscribed`]: every change committed after that message
//!   is told (its notice reaches the feed after the subscription), and no
//!   gap from before it;
//! - sends [`MenuChange::Changed`] for each committed change (a restaurant
//!   may be told more than once);
//! - when notices may have been lost — the feed's connection dropped, or
//!   the watcher fell more than [`foodmesh_shared::changes::BUFFER`]
//!   notices behind — sends [`MenuChange::Gap`] and ends: the client drops
//!   what it cached and watches again;
//! - ends with [`DomainError::ShuttingDown`] (UNAVAILABLE) when the instance
//!   starts to shut down, so draining does not wait for it.

use foodmesh_shared::changes::{self, Heard, Listening, Subscription};
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::server::HealthReporter;

use crate::domain::DomainError;
use crate::store::{self, Store};

/// Messages waiting for a slow client before the watcher waits too (and,
/// past the feed's buffer, hears a gap).
const CLIENT_BUFFER: usize = 64;

/// One message of a menu watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuChange {
    /// The first message: the watch listens; every change committed from
    /// now on is told.
    Subscribed,
    /// Something a menu or a restaurant's state is read from changed for
    /// this restaurant, and was committed.
    Changed(i64),
    /// Changes may have been missed; the watch ends after this.
    Gap,
}

/// The stream a watch answers with: changes, then possibly one error.
pub type MenuChanges = ReceiverStream<Result<MenuChange, DomainError>>;

/// The background work behind a [`MenuFeed`]: the listening connection and
/// the watch on the service's health, run as one of the service's
/// background tasks.
pub type FeedTasks = changes::FeedTasks<i64>;

/// Menu change notices of this instance; cheap to clone.
#[derive(Debug, Clone)]
pub struct MenuFeed {
    changes: changes::ChangeFeed<i64>,
}

impl MenuFeed {
    /// Starts listening on the menu channel, so notices committed from now
    /// on are kept until the returned tasks run; `health` is the server's,
    /// whose NOT_SERVING ends every watch.
    ///
    /// # Errors
    /// Postgres is unreachable.
    pub async fn connect(
        store: &Store,
        health: HealthReporter,
    ) -> Result<(Self, FeedTasks), DomainError> {
        let (changes, tasks) = changes::ChangeFeed::connect(
            store.pool(),
            store::MENU_CHANNEL,
            |payload| payload.parse().ok(),
            health,
        )
        .await?;
        Ok((Self { changes }, tasks))
    }

    /// Every change from now on, by restaurant id.
    pub fn subscribe(&self) -> Subscription<i64> {
        self.changes.subscribe()
    }

    /// Whether notices arrive now (see [`changes::Listening`]).
    pub fn listening(&self) -> watch::Receiver<Listening> {
        self.changes.listening()
    }

    /// A watch of every menu change, as the module documentation says.
    pub fn watch(&self) -> MenuChanges {
        let (out, messages) = mpsc::channel(CLIENT_BUFFER);
        let watcher = Watcher {
            feed: self.clone(),
            changes: self.subscribe(),
            listening: self.listening(),
            out,
        };
        tokio::spawn(watcher.run());
        ReceiverStream::new(messages)
    }
}

/// Why a watch ended.
enum Ended {
    /// The client left, or was sent the gap.
    Done,
    /// The instance is stopping; the client is told.
    Stopping,
}

struct Watcher {
    feed: MenuFeed,
    /// Until the feed listens, only heard for the instance stopping.
    changes: Subscription<i64>,
    listening: watch::Receiver<Listening>,
    out: mpsc::Sender<Result<MenuChange, DomainError>>,
}

impl Watcher {
    async fn run(mut self) {
        if let Ended::Stopping = self.follow().await {
            let _ = self.out.send(Err(DomainError::ShuttingDown)).await;
        }
    }

    async fn follow(&mut self) -> Ended {
        // Until the feed listens, a change could be missed unannounced.
        let connection = loop {
            let connection = tokio::select! {
                () = self.out.closed() => return Ended::Done,
                () = self.changes.stopped() => return Ended::Stopping,
                listening = self.listening.wait_for(Option::is_some) => match listening {
                    Ok(connection) => *connection,
                    Err(_) => return Ended::Stopping,
                },
            };
            // Subscribed now, so a gap reported before this connection is
            // not heard; if the connection changed meanwhile, its gap may
            // have been missed: wait for the next one.
            self.changes = self.feed.subscribe();
            if *self.listening.borrow_and_update() == connection {
                break connection;
            }
        };
        if self.changes.is_stopping() {
            return Ended::Stopping;
        }
        if self.out.send(Ok(MenuChange::Subscribed)).await.is_err() {
            return Ended::Done;
        }
        loop {
            let message = tokio::select! {
                () = self.out.closed() => return Ended::Done,
                heard = self.changes.next() => match heard {
                    Heard::Changed(id) => MenuChange::Changed(id),
                    Heard::Gap => MenuChange::Gap,
                    Heard::Stopping | Heard::Closed => return Ended::Stopping,
                },
                // Told at once, before the feed listens again and reports
                // the gap itself.
                changed = self.listening.changed() => match changed {
                    Ok(()) if *self.listening.borrow_and_update() == connection => continue,
                    Ok(()) => MenuChange::Gap,
                    Err(_) => return Ended::Stopping,
                },
            };
            if self.out.send(Ok(message)).await.is_err() || message == MenuChange::Gap {
                return Ended::Done;
            }
        }
    }
}
