//! Live order updates, correct across replicas.
//!
//! Every change of an order notifies the Postgres channel
//! [`store::CHANGES_CHANNEL`] in its own transaction, so every instance on
//! the database hears of every change at commit, whichever instance made
//! it. Each instance keeps one listening connection ([`FeedTasks`]) and
//! fans the notices out to its watchers through a broadcast channel; a
//! watcher then reads the order itself and sends what changed.
//!
//! Nothing is missed and nothing is sent twice:
//! - a watcher subscribes before it reads the order, so a change committed
//!   meanwhile arrives as a notice afterwards;
//! - the first read takes the order and the id of its newest history entry
//!   from one snapshot, and every later read sends the history entries
//!   after the last one sent (or, when only the version moved, the new
//!   items);
//! - when notices may have been lost (the listening connection dropped, or
//!   the watcher fell behind) it reads again, and it reads again every few
//!   seconds regardless.
//!
//! A watch ends after the order reaches COMPLETED or CANCELLED, when its
//! client goes away, and with `UNAVAILABLE` when the instance starts to
//! shut down — the moment it reports NOT_SERVING — so draining does not
//! wait for watchers that never hang up.

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
use crate::domain::number::TokenHash;
use crate::domain::order::{Order, StatusChange};
use crate::store::{self, Store};

/// Notices kept for a watcher that is busy sending; one that falls further
/// behind reads its order again instead.
const BUFFER: usize = 1024;
/// Updates waiting for a slow client before the watcher waits too.
const CLIENT_BUFFER: usize = 16;
/// How often a watcher reads its order even without a notice.
const RECHECK: Duration = Duration::from_secs(5);

/// What the listening connection tells watchers.
#[derive(Debug, Clone, Copy)]
enum Notice {
    /// This order changed.
    Changed(i64),
    /// Notices may have been lost: read again.
    Gap,
}

/// Why an update was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// The first update: the order as it is.
    Snapshot,
    /// The status moved.
    StatusChanged,
    /// Lines and totals changed.
    ItemsChanged,
}

/// One update of a watched order.
#[derive(Debug, Clone)]
pub struct Update {
    /// The order after the change.
    pub order: Order,
    /// The status change, for [`UpdateKind::StatusChanged`].
    pub change: Option<StatusChange>,
    /// Why it was sent.
    pub kind: UpdateKind,
}

/// The stream a watch answers with: updates, then possibly one error.
pub type Updates = ReceiverStream<Result<Update, DomainError>>;

/// Hands out live orders; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    store: Store,
    changes: broadcast::Sender<Notice>,
    stopping: watch::Receiver<bool>,
}

/// The background work behind a [`ChangeFeed`]: the listening connection
/// and the watch on the service's health. Spawn it once the service is
/// bound.
pub struct FeedTasks {
    listener: PgListener,
    changes: broadcast::Sender<Notice>,
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

    /// Order `order_id` as it is, then every change. With `token`, the
    /// token must open the order.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`], [`DomainError::AccessDenied`].
    pub async fn watch(
        &self,
        order_id: i64,
        token: Option<&TokenHash>,
    ) -> Result<Updates, DomainError> {
        // Subscribed before the first read: see the module documentation.
        let changes = self.changes.subscribe();
        let (order, last_history) = {
            let mut tx = self.store.begin_snapshot().await?;
            let order = store::existing_order(&mut tx, order_id).await?;
            if let Some(token) = token
                && !store::token_opens(&mut tx, order_id, token).await?
            {
                return Err(DomainError::AccessDenied(format!("order {order_id}")));
            }
            let last = store::last_history_id(&mut tx, order_id).await?;
            tx.commit().await?;
            (order, last)
        };
        let (out, updates) = mpsc::channel(CLIENT_BUFFER);
        let watcher = Watcher {
            order_id,
            store: self.store.clone(),
            changes,
            stopping: self.stopping.clone(),
            out,
            version: order.version,
            last_history,
        };
        tokio::spawn(watcher.run(order));
        Ok(ReceiverStream::new(updates))
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

/// Forwards every notification to the watchers; reports a gap whenever the
/// connection was lost.
async fn pump(mut listener: PgListener, changes: broadcast::Sender<Notice>) {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match notification.payload().parse::<i64>() {
                // No receivers is fine: nobody is watching.
                Ok(id) => {
                    let _ = changes.send(Notice::Changed(id));
                }
                Err(_) => {
                    tracing::warn!(payload = notification.payload(), "unknown change notice");
                }
            },
            // The connection was lost; the next call reconnects.
            Ok(None) => {
                tracing::warn!("order change feed lost its connection; watchers read again");
                let _ = changes.send(Notice::Gap);
            }
            Err(e) => {
                tracing::warn!(error = %e, "order change feed failed; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
                if listener.listen(store::CHANGES_CHANNEL).await.is_ok() {
                    let _ = changes.send(Notice::Gap);
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

/// Why a watch ended.
enum Ended {
    /// The order is final, or the client left.
    Done,
    /// Something failed; the client is told.
    Failed(DomainError),
}

struct Watcher {
    order_id: i64,
    store: Store,
    changes: broadcast::Receiver<Notice>,
    stopping: watch::Receiver<bool>,
    out: mpsc::Sender<Result<Update, DomainError>>,
    /// The version of the order last sent.
    version: i64,
    /// The newest history entry sent (or covered by the snapshot).
    last_history: i64,
}

impl Watcher {
    async fn run(mut self, first: Order) {
        let outcome = self.follow(first).await;
        if let Ended::Failed(e) = outcome {
            let _ = self.out.send(Err(e)).await;
        }
    }

    async fn follow(&mut self, first: Order) -> Ended {
        let done = first.status.is_final();
        let snapshot = Update {
            order: first,
            change: None,
            kind: UpdateKind::Snapshot,
        };
        if self.out.send(Ok(snapshot)).await.is_err() || done {
            return Ended::Done;
        }
        if *self.stopping.borrow() {
            return Ended::Failed(DomainError::Unavailable(
                "order-svc (shutting down; watch again)".to_owned(),
            ));
        }
        loop {
            let read = tokio::select! {
                () = self.out.closed() => return Ended::Done,
                changed = self.stopping.changed() => {
                    if changed.is_err() || *self.stopping.borrow() {
                        return Ended::Failed(DomainError::Unavailable(
                            "order-svc (shutting down; watch again)".to_owned(),
                        ));
                    }
                    false
                }
                notice = self.changes.recv() => match notice {
                    Ok(Notice::Changed(id)) => id == self.order_id,
                    Ok(Notice::Gap) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => {
                        return Ended::Failed(DomainError::Unavailable(
                            "order-svc change feed".to_owned(),
                        ));
                    }
                },
                () = tokio::time::sleep(RECHECK) => true,
            };
            if !read {
                continue;
            }
            match self.catch_up().await {
                Ok(true) => return Ended::Done,
                Ok(false) => {}
                Err(e) => return Ended::Failed(e),
            }
        }
    }

    /// Sends what changed since the last update; true when the watch is
    /// over (the order is final or the client left).
    async fn catch_up(&mut self) -> Result<bool, DomainError> {
        let (order, changes) = {
            let mut tx = self.store.begin_snapshot().await?;
            let order = store::existing_order(&mut tx, self.order_id).await?;
            if order.version == self.version {
                return Ok(false);
            }
            let changes = store::history_after(&mut tx, self.order_id, self.last_history).await?;
            tx.commit().await?;
            (order, changes)
        };
        self.version = order.version;
        let done = order.status.is_final();
        let updates: Vec<Update> = if changes.is_empty() {
            vec![Update {
                order,
                change: None,
                kind: UpdateKind::ItemsChanged,
            }]
        } else {
            changes
                .into_iter()
                .map(|change| Update {
                    order: order.clone(),
                    change: Some(change),
                    kind: UpdateKind::StatusChanged,
                })
                .collect()
        };
        for update in updates {
            if let Some(change) = &update.change {
                self.last_history = change.id;
            }
            if self.out.send(Ok(update)).await.is_err() {
                return Ok(true);
            }
        }
        Ok(done)
    }
}
