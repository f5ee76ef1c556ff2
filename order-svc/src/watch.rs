//! Live order updates, correct across replicas.
//!
//! Every change of an order notifies the Postgres channel
//! [`store::CHANGES_CHANNEL`] with the order's id once it has committed
//! ([`store::notify_change`]); the shared change feed
//! ([`foodmesh_shared::changes`]) brings the notice to every instance's
//! watchers, and a watcher then reads the order itself and sends what
//! changed.
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

use foodmesh_shared::changes::{self, Heard, Subscription};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic_health::server::HealthReporter;

use crate::domain::DomainError;
use crate::domain::number::TokenHash;
use crate::domain::order::{Order, StatusChange};
use crate::store::{self, Store};

/// Updates waiting for a slow client before the watcher waits too.
const CLIENT_BUFFER: usize = 16;
/// How often a watcher reads its order even without a notice.
const RECHECK: Duration = Duration::from_secs(5);

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
    pub kind: UpdateKind,
}

/// The stream a watch answers with: updates, then possibly one error.
pub type Updates = ReceiverStream<Result<Update, DomainError>>;

/// Hands out live orders; cheap to clone.
#[derive(Debug, Clone)]
pub struct ChangeFeed {
    store: Store,
    changes: changes::ChangeFeed<i64>,
}

/// The background work behind a [`ChangeFeed`]: the listening connection
/// and the watch on the service's health, run as one of the service's
/// background tasks.
pub type FeedTasks = changes::FeedTasks<i64>;

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
        let (changes, tasks) = changes::ChangeFeed::connect(
            store.pool(),
            store::CHANGES_CHANNEL,
            |payload| payload.parse().ok(),
            health,
        )
        .await?;
        Ok((Self { store, changes }, tasks))
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
            out,
            version: order.version,
            last_history,
        };
        tokio::spawn(watcher.run(order));
        Ok(ReceiverStream::new(updates))
    }
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
    changes: Subscription<i64>,
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
        if self.changes.is_stopping() {
            return Ended::Failed(shutting_down());
        }
        loop {
            let read = tokio::select! {
                () = self.out.closed() => return Ended::Done,
                heard = self.changes.next() => match heard {
                    Heard::Changed(id) => id == self.order_id,
                    Heard::Gap => true,
                    Heard::Stopping => return Ended::Failed(shutting_down()),
                    Heard::Closed => {
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

/// Ends a watch when the instance stops: the client should watch again,
/// which reaches another instance.
fn shutting_down() -> DomainError {
    DomainError::Unavailable("order-svc (shutting down; watch again)".to_owned())
}
