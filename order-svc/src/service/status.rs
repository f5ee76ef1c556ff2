//! Status changes: the one path every move of an order takes, whether a
//! caller asks for it, another service's event causes it, or the payment
//! timeout does.

use foodmesh_shared::work::Work;

use super::{Caller, Orders, authorize};
use crate::domain::DomainError;
use crate::domain::lifecycle::{self, Situation};
use crate::domain::number::TokenHash;
use crate::domain::order::{Actor, Order, OrderStatus, StatusChange};
use crate::domain::placing::Announcement;
use crate::store;

/// What a transition must find besides the table's approval.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Guard<'a> {
    /// Only from this status (a compare-and-set for timers).
    pub(super) expect_from: Option<OrderStatus>,
    /// Who asks, for the access checks.
    pub(super) caller: Caller<'a>,
}

impl Orders {
    /// Moves an order along the transition table on a caller's request.
    ///
    /// # Errors
    /// [`DomainError::InvalidTransition`], [`DomainError::CancelWindowClosed`],
    /// [`DomainError::AccessDenied`], [`DomainError::OrderNotFound`], or a
    /// missing reason.
    pub async fn change_status(
        &self,
        id: i64,
        to: OrderStatus,
        actor: &Actor,
        reason: &str,
        token: Option<&TokenHash>,
    ) -> Result<Order, DomainError> {
        let guard = Guard {
            expect_from: None,
            caller: Caller {
                actor: Some(actor),
                token,
            },
        };
        let mut conn = self.store.conn().await?;
        let mut work = Work::begin(&mut conn).await?;
        let order = self.locked(&mut work, id).await?;
        let (order, _) = self
            .transition(&mut work, order, to, actor, reason, guard)
            .await?;
        work.commit().await?.announce(&mut conn).await;
        if to == OrderStatus::Cancelled {
            self.releases.notify_one();
        }
        Ok(order)
    }

    /// Applies the move another service's event asks for (actor SYSTEM on
    /// behalf of `source`) as part of the consumer's `work`, if the order
    /// is one `applies_to` accepts. `Ok(None)` when it is not, or the move
    /// does not fit the order's state: such an event is logged and
    /// dropped, never retried.
    ///
    /// # Errors
    /// Only failures worth retrying (the database).
    pub async fn apply_event(
        &self,
        work: &mut Work<'_>,
        order_id: i64,
        to: OrderStatus,
        source: &str,
        reason: &str,
        applies_to: &(dyn Fn(&Order) -> bool + Send + Sync),
    ) -> Result<Option<Order>, DomainError> {
        let actor = Actor::system(source);
        // Locked before it is looked at, so what is checked here is what
        // the move applies to.
        let order = match self.locked(work, order_id).await {
            Ok(order) if applies_to(&order) => order,
            Ok(_) | Err(DomainError::OrderNotFound(_)) => {
                tracing::info!(order_id, to = %to, "event is not for an order it applies to; ignored");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        match self
            .transition(work, order, to, &actor, reason, Guard::default())
            .await
        {
            Ok((order, _)) => Ok(Some(order)),
            Err(
                e @ (DomainError::InvalidTransition { .. }
                | DomainError::Invalid(_)
                | DomainError::CancelWindowClosed { .. }),
            ) => {
                tracing::info!(order_id, to = %to, reason = %e, "event does not fit the order; ignored");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Locks order `id` until `work` ends and reads it.
    pub(super) async fn locked(&self, work: &mut Work<'_>, id: i64) -> Result<Order, DomainError> {
        if !store::lock_order(work.conn(), id).await? {
            return Err(DomainError::OrderNotFound(id.to_string()));
        }
        store::existing_order(work.conn(), id).await
    }

    /// Moves `order`, which `work` holds locked, to `to`: checks the caller
    /// and the transition table, then writes the status, its history entry,
    /// the coupon release of a cancellation, the event and the change
    /// notice.
    pub(super) async fn transition(
        &self,
        work: &mut Work<'_>,
        order: Order,
        to: OrderStatus,
        actor: &Actor,
        reason: &str,
        guard: Guard<'_>,
    ) -> Result<(Order, StatusChange), DomainError> {
        authorize(work.conn(), &order, guard.caller).await?;
        if guard.expect_from.is_some_and(|s| s != order.status) {
            return Err(DomainError::InvalidTransition {
                from: order.status,
                to,
                actor: actor.kind,
            });
        }
        let now = self.clock.now();
        let situation = Situation {
            order_type: order.order_type,
            status: order.status,
            confirmed_at: order.confirmed_at,
            now,
            cancel_window: self.config.cancel_window,
        };
        lifecycle::check(&situation, to, actor.kind, reason)?;
        let id = order.id;
        store::set_status(work.conn(), id, to, now).await?;
        let entry = StatusChange {
            id: 0,
            from: Some(order.status),
            to,
            actor: actor.clone(),
            reason: reason.to_owned(),
            at: now,
        };
        let change = store::insert_history(work.conn(), id, &[entry])
            .await?
            .pop()
            .ok_or_else(|| {
                DomainError::Unexpected(anyhow::anyhow!("a history insert kept no row"))
            })?;
        if to == OrderStatus::Cancelled && order.coupon.is_some() {
            store::queue_release(work.conn(), order.restaurant_id, &order.order_number, now)
                .await?;
        }
        let order = store::existing_order(work.conn(), id).await?;
        let event = Announcement {
            event_type: to.event_type(),
            order: order.clone(),
            change: Some(change.clone()),
        };
        self.publish(work, std::slice::from_ref(&event)).await?;
        store::notify_change(work, id);
        // Counted once the change commits: an event's handler may run in a
        // group that rolls back before the event is applied alone.
        let kind = actor.kind;
        work.on_commit(move || {
            metrics::counter!(
                "order_transitions_total",
                "to" => to.as_str(),
                "actor" => kind.as_str()
            )
            .increment(1);
        });
        Ok((order, change))
    }
}
