//! A change feed across replicas over Postgres `LISTEN/NOTIFY`: how a
//! service's live streams (`WatchOrder`, `WatchQueue`) hear of a change
//! whichever instance made it.
//!
//! The service asks for a notice on its channel in the unit of work of every
//! change ([`Work::notify`](crate::work::Work::notify)), which sends it once
//! the change has committed, and Postgres delivers it to every instance on
//! the database. Each instance keeps one listening connection ([`FeedTasks`])
//! and fans the notices out through a broadcast channel to its watchers,
//! each of which holds a [`Subscription`] and reads what changed itself.
//!
//! What this module guarantees, and what each watcher builds on:
//! - a watcher that subscribes before its first read hears of every change
//!   committed after that read;
//! - when notices may have been lost — the listening connection dropped,
//!   or the watcher fell more than [`BUFFER`] notices behind — it hears
//!   [`Heard::Gap`] and must read everything again;
//! - when the instance starts to shut down — the moment its server reports
//!   NOT_SERVING — it hears [`Heard::Stopping`], so draining does not wait
//!   for watchers that never hang up;
//! - [`ChangeFeed::listening`] says whether notices arrive now, and on which
//!   connection: it turns to `None` the moment a lost connection is noticed
//!   (before listening again) and to a new number once listening resumes —
//!   right after the [`Heard::Gap`] is sent — so a cache can stop serving
//!   while notices may be lost instead of waiting for the gap, and a
//!   watcher that subscribes once it sees a connection hears every change
//!   committed from then on, and no gap from before.
//!
//! What a notice's payload says and what a watcher sends are the
//! service's own (`watch.rs`).

use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::{PgListener, PgPool};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_server::Health;
use tonic_health::server::{HealthReporter, HealthService};

/// Notices kept for a watcher that is busy sending; one that falls further
/// behind hears [`Heard::Gap`] instead.
pub const BUFFER: usize = 1024;

/// How long to wait before listening again after the connection failed.
const RETRY: Duration = Duration::from_secs(1);

/// What the listening connection tells watchers.
#[derive(Debug, Clone, Copy)]
enum Notice<N> {
    /// A change was committed.
    Changed(N),
    /// Notices may have been lost.
    Gap,
}

/// What a watcher hears next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Heard<N> {
    /// A change was committed; the payload says which.
    Changed(N),
    /// Notices may have been lost: read everything again.
    Gap,
    /// The instance is shutting down: end the watch.
    Stopping,
    /// The feed is gone (every sender dropped); nothing more will come.
    Closed,
}

/// Whether a feed hears notices now: `Some(n)` while it listens on its
/// `n`-th connection (1 for the first, counting every reconnection),
/// `None` while notices may be lost (not listening yet, or the connection
/// was lost and is being replaced).
pub type Listening = Option<u64>;

/// Hands out subscriptions to one channel's changes; cheap to clone.
#[derive(Debug)]
pub struct ChangeFeed<N> {
    changes: broadcast::Sender<Notice<N>>,
    stopping: watch::Receiver<bool>,
    listening: watch::Receiver<Listening>,
}

impl<N> Clone for ChangeFeed<N> {
    fn clone(&self) -> Self {
        Self {
            changes: self.changes.clone(),
            stopping: self.stopping.clone(),
            listening: self.listening.clone(),
        }
    }
}

/// The background work behind a [`ChangeFeed`]: the listening connection
/// and the watch on the server's health. The service runs it as a
/// background task ([`Application::background`](crate::app::Application::background)).
pub struct FeedTasks<N> {
    listener: PgListener,
    channel: &'static str,
    parse: fn(&str) -> Option<N>,
    changes: broadcast::Sender<Notice<N>>,
    health: HealthReporter,
    stopping: watch::Sender<bool>,
    listening: watch::Sender<Listening>,
}

impl<N: Clone + Send + 'static> ChangeFeed<N> {
    /// A feed of `channel` on `pool`'s database: listens at once, so
    /// notices committed from now on wait until the returned tasks run;
    /// otherwise as [`ChangeFeed::new`].
    ///
    /// # Errors
    /// Postgres is unreachable.
    pub async fn connect(
        pool: &PgPool,
        channel: &'static str,
        parse: fn(&str) -> Option<N>,
        health: HealthReporter,
    ) -> sqlx::Result<(Self, FeedTasks<N>)> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok(Self::new(listener, channel, parse, health))
    }

    /// A feed of `listener`, which already listens on `channel` so notices
    /// committed from now on wait until the returned tasks run. `parse`
    /// reads a notice's payload (`None`: not one of ours, logged and
    /// skipped); `health` is the server's, whose NOT_SERVING ends every
    /// watch.
    pub fn new(
        listener: PgListener,
        channel: &'static str,
        parse: fn(&str) -> Option<N>,
        health: HealthReporter,
    ) -> (Self, FeedTasks<N>) {
        let (changes, _) = broadcast::channel(BUFFER);
        let (stopping_tx, stopping) = watch::channel(false);
        // Not listening until the tasks run: nothing is delivered before.
        let (listening_tx, listening) = watch::channel(None);
        let feed = Self {
            changes: changes.clone(),
            stopping,
            listening,
        };
        let tasks = FeedTasks {
            listener,
            channel,
            parse,
            changes,
            health,
            stopping: stopping_tx,
            listening: listening_tx,
        };
        (feed, tasks)
    }

    /// Every change from now on. Subscribe before the first read, so a
    /// change committed meanwhile is heard afterwards.
    pub fn subscribe(&self) -> Subscription<N> {
        Subscription {
            changes: self.changes.subscribe(),
            stopping: self.stopping.clone(),
        }
    }

    /// Whether notices arrive now (see [`Listening`]), and its changes:
    /// what a cache consults to serve only while it cannot miss an
    /// invalidation. The value stays as it was once the feed's tasks are
    /// gone, which subscribers hear as [`Heard::Stopping`].
    pub fn listening(&self) -> watch::Receiver<Listening> {
        self.listening.clone()
    }
}

impl<N: Clone + Send + 'static> FeedTasks<N> {
    /// Runs the listener and the health watch until `stop` is cancelled.
    /// Watchers hear [`Heard::Stopping`] at NOT_SERVING, before this stops.
    pub async fn run(self, stop: CancellationToken) {
        let feed = Pump {
            channel: self.channel,
            parse: self.parse,
            changes: self.changes,
            listening: self.listening,
            connection: 0,
        };
        tokio::join!(
            stop.run_until_cancelled(feed.run(self.listener)),
            watch_health(self.health, self.stopping, &stop)
        );
    }
}

/// One watcher's view of a [`ChangeFeed`].
#[derive(Debug)]
pub struct Subscription<N> {
    changes: broadcast::Receiver<Notice<N>>,
    stopping: watch::Receiver<bool>,
}

impl<N: Clone> Subscription<N> {
    /// The next thing to act on. A shutdown is heard before any change
    /// still queued: the watch is ending anyway.
    pub async fn next(&mut self) -> Heard<N> {
        tokio::select! {
            biased;
            // A dropped sender means the feed's tasks are gone: stop too.
            _ = self.stopping.wait_for(|stopping| *stopping) => Heard::Stopping,
            notice = self.changes.recv() => match notice {
                Ok(Notice::Changed(change)) => Heard::Changed(change),
                Ok(Notice::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => Heard::Gap,
                Err(broadcast::error::RecvError::Closed) => Heard::Closed,
            },
        }
    }

    /// True once the instance has started to shut down.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Resolves once the instance starts to shut down: for a watcher that
    /// waits on something else (a slow client) and must not hold up
    /// draining.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }
}

/// The listening side of a feed: forwards every notification to the
/// watchers, and reports a gap whenever the connection was lost, once it
/// listens again.
struct Pump<N> {
    channel: &'static str,
    parse: fn(&str) -> Option<N>,
    changes: broadcast::Sender<Notice<N>>,
    listening: watch::Sender<Listening>,
    /// The number of the connection listened on; 0 before the first.
    connection: u64,
}

impl<N> Pump<N> {
    async fn run(mut self, mut listener: PgListener) {
        let channel = self.channel;
        // The listener reconnects when this loop asks it to, not inside
        // `try_recv`: so `listening` turns to None as soon as a loss is
        // known, rather than only once the new connection is up.
        listener.eager_reconnect(false);
        // It has listened since before the feed was built.
        self.listened_again();
        loop {
            if self.listening.borrow().is_none() {
                match relisten(&mut listener).await {
                    Ok(()) => self.listened_again(),
                    // The service is stopping; nothing more will be heard.
                    Err(sqlx::Error::PoolClosed) => return,
                    // A dead connection is dropped by `try_recv` below,
                    // which reconnects on its next call.
                    Err(e) => {
                        tracing::warn!(channel, error = %e, "change feed cannot listen again yet");
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            match listener.try_recv().await {
                Ok(Some(notification)) => {
                    // `try_recv` reconnected by itself after a failed
                    // attempt above: a notice proves it listens again.
                    if self.listening.borrow().is_none() {
                        self.listened_again();
                    }
                    self.forward(notification.payload());
                }
                Ok(None) => {
                    self.listening.send_replace(None);
                    tracing::warn!(channel, "change feed lost its connection; listening again");
                }
                Err(sqlx::Error::PoolClosed) => {
                    self.listening.send_replace(None);
                    return;
                }
                Err(e) => {
                    self.listening.send_replace(None);
                    tracing::warn!(channel, error = %e, "change feed failed; reconnecting");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    }

    fn forward(&self, payload: &str) {
        match (self.parse)(payload) {
            // No receivers is fine: nobody is watching.
            Some(change) => {
                let _ = self.changes.send(Notice::Changed(change));
            }
            None => {
                tracing::warn!(channel = self.channel, payload, "unknown change notice");
            }
        }
    }

    /// Records a new listening connection; after a lost one, tells the
    /// watchers to read again — only now is a re-read guaranteed to see
    /// what the lost notices announced.
    fn listened_again(&mut self) {
        self.connection += 1;
        if self.connection > 1 {
            tracing::info!(
                channel = self.channel,
                "change feed listens again; watchers read again"
            );
            let _ = self.changes.send(Notice::Gap);
        }
        // After the gap, so whoever subscribes once it sees this connection
        // is not told of a gap from before its time.
        self.listening.send_replace(Some(self.connection));
    }
}

/// Makes sure the listener has a connection that listens on its channels:
/// a new one issues `LISTEN` for each before it runs anything else.
async fn relisten(listener: &mut PgListener) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(&mut *listener).await?;
    Ok(())
}

/// Sets `stopping` once the server reports NOT_SERVING, which the shared
/// application does right before it drains in-flight calls.
async fn watch_health(
    health: HealthReporter,
    stopping: watch::Sender<bool>,
    stop: &CancellationToken,
) {
    let not_serving = async {
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
    };
    stop.run_until_cancelled(not_serving).await;
    // Keeps the sender alive until the feed stops: a dropped sender reads
    // as "stop" to every watcher.
    stop.cancelled().await;
}
