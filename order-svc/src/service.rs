//! The use cases of order-svc, each one transaction over the store, the
//! domain rules and the outbox: a change, its history entry, its event and
//! its change notification commit together or not at all. The gRPC layer,
//! the event consumer and the background tasks all come through here, so
//! an order changes the same way whoever asks.
//!
//! Calls to restaurant-svc (pricing, coupons) happen outside transactions:
//! no row is locked while the network is waited on. Item edits therefore
//! compare the order's version when they write, and try again if it moved.

use std::sync::Arc;
use std::time::Duration;

use foodmesh_shared::work::Work;
use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::OrderConfig;
use crate::domain::customer::{Customer, CustomerPatch};
use crate::domain::lifecycle::{self, Situation};
use crate::domain::number::{AccessToken, OrderNumber, TokenHash};
use crate::domain::order::{
    Actor, ActorKind, AppliedCoupon, CustomerRef, DraftLine, ItemEdit, NewOrder, Order,
    OrderFilter, OrderSource, OrderStatus, OrderType, PaymentMethod, StatusChange,
};
use crate::domain::pricing::{PricedOrder, check_stated_prices};
use crate::domain::totals::Totals;
use crate::domain::{CouponCode, DomainError, IdempotencyKey, Page, Violations};
use crate::events;
use crate::restaurant::{Naming, RestaurantClient};
use crate::store::{self, Claim, KeyUse, OrderRow, Store};

/// The actor id this service records for what it does on its own.
pub const SERVICE: &str = "order-svc";

/// Order numbers drawn before giving up (a collision is a one-in-millions
/// event; several in a row mean something else is wrong).
const NUMBER_DRAWS: usize = 8;
/// The history's reason for confirming a cash order on creation.
const CASH_REASON: &str = "cash payment";

/// Item edits retried when the order changed between reading and writing.
const EDIT_ATTEMPTS: usize = 3;

/// How long a coupon hold waits for its order before the redemption is
/// released: far longer than a create takes, short enough to free the
/// coupon soon after a crash.
const COUPON_HOLD: Duration = Duration::from_secs(120);

/// How long a leased release is skipped by other instances.
const RELEASE_LEASE: Duration = Duration::from_secs(30);

/// Coupon releases attempted per round.
pub const RELEASE_BATCH: i64 = 20;

/// Orders cancelled per sweep of the payment timeout.
const SWEEP_BATCH: i64 = 100;

/// How long a claimed idempotency key stays claimed without an order; a
/// request that died holding it frees it after this.
const KEY_LEASE: Duration = Duration::from_secs(60);

/// How long a request waits for a twin with the same key to finish.
const KEY_WAIT: Duration = Duration::from_secs(20);

/// How often a waiting twin looks again.
const KEY_POLL: Duration = Duration::from_millis(50);

/// How long an idempotency key is remembered.
pub const KEY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// A create's idempotency: the caller's scope, their key, and the
/// fingerprint of the request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// One per caller ([`Actor::scope`]).
    pub scope: String,
    /// The client's key.
    pub key: IdempotencyKey,
    /// SHA-256 of the request without key and actor.
    pub fingerprint: Vec<u8>,
}

/// What a create answers.
#[derive(Debug, Clone)]
pub struct Created {
    /// The order as it is now.
    pub order: Order,
    /// For guest orders: the token that opens it, shown this once.
    pub access_token: Option<AccessToken>,
    /// True when an earlier request with the same key made the order.
    pub replayed: bool,
}

/// Who is asking, for the access checks this service makes on top of the
/// gateway's (see `authorize`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The actor, when the request names one.
    pub actor: Option<&'a Actor>,
    /// The access token presented, when one was.
    pub token: Option<&'a TokenHash>,
}

/// Overrides for a reorder.
#[derive(Debug, Clone, Default)]
pub struct ReorderChoices {
    /// A different source.
    pub source: Option<OrderSource>,
    /// A different payment method.
    pub payment_method: Option<PaymentMethod>,
    /// A coupon for the new order.
    pub coupon_code: Option<CouponCode>,
}

/// The order use cases; cheap to clone.
#[derive(Debug, Clone)]
pub struct Orders {
    store: Store,
    restaurant: RestaurantClient,
    stream: String,
    config: OrderConfig,
    releases: Arc<Notify>,
}

/// How a create's transaction ended.
enum Written {
    Order(Box<Created>),
    NumberTaken,
}

/// A claimed idempotency key: what the order's transaction binds.
#[derive(Debug, Clone, Copy)]
struct Held<'a> {
    idempotency: &'a Idempotency,
    token: i64,
}

impl Orders {
    /// Use cases over `store`, pricing through `restaurant`, publishing to
    /// `stream`.
    pub fn new(
        store: Store,
        restaurant: RestaurantClient,
        stream: String,
        config: OrderConfig,
    ) -> Self {
        Self {
            store,
            restaurant,
            stream,
            config,
            releases: Arc::new(Notify::new()),
        }
    }

    /// The store, for readers outside the use cases (the watch feed).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration.
    pub fn config(&self) -> &OrderConfig {
        &self.config
    }

    /// Woken whenever a coupon release is queued, so it goes out at once.
    pub fn releases_queued(&self) -> Arc<Notify> {
        self.releases.clone()
    }

    // ----- create -------------------------------------------------------

    /// Creates an order: prices it from the menu, holds the client to any
    /// price it stated, redeems its coupon under the order number, and
    /// writes it with its `order.created` event (and `order.confirmed` for
    /// cash). With `idempotency`, a retry returns the first order.
    ///
    /// # Errors
    /// Refusals of the menu or coupon, [`DomainError::PriceMismatch`],
    /// [`DomainError::IdempotencyKeyReused`], [`DomainError::Unavailable`],
    /// or [`DomainError::AccessDenied`] when a CUSTOMER orders as another
    /// customer.
    pub async fn create(
        &self,
        new: NewOrder,
        actor: Option<Actor>,
        idempotency: Option<Idempotency>,
    ) -> Result<Created, DomainError> {
        let actor = actor.unwrap_or_else(|| new.customer.default_actor());
        if let CustomerRef::Registered(id) = new.customer
            && actor.kind == ActorKind::Customer
            && actor.id != id.to_string()
        {
            return Err(DomainError::AccessDenied(format!(
                "a customer orders as themselves, not as customer {id}"
            )));
        }
        // One connection from the key's claim to the notices after the
        // commit: each checkout from the pool costs a round trip.
        let mut conn = self.store.conn().await?;
        let Some(idem) = &idempotency else {
            return self.create_fresh(&mut conn, &new, &actor, None).await;
        };
        let token = match self.claim(&mut conn, idem).await? {
            Ok(token) => token,
            Err(replay) => return Ok(*replay),
        };
        let held = Held {
            idempotency: idem,
            token,
        };
        let created = self.create_fresh(&mut conn, &new, &actor, Some(held)).await;
        if created.is_err() {
            // Failed: a retry with the key may try afresh.
            let released =
                store::release_key(&mut conn, &idem.scope, idem.key.as_str(), token).await;
            if let Err(e) = released {
                tracing::warn!(error = %e, "idempotency claim left to expire");
            }
        }
        created
    }

    /// Claims the key for this request (`Ok`), or answers with the order
    /// an earlier request with the key made (`Err`). A twin request still
    /// at work is waited for.
    async fn claim(
        &self,
        conn: &mut PgConnection,
        idem: &Idempotency,
    ) -> Result<Result<i64, Box<Created>>, DomainError> {
        let token: i64 = rand::random();
        let deadline = tokio::time::Instant::now() + KEY_WAIT;
        loop {
            let claim = store::claim_key(
                conn,
                &idem.scope,
                idem.key.as_str(),
                &idem.fingerprint,
                token,
                KEY_LEASE,
            )
            .await?;
            match claim {
                Claim::Claimed(token) => return Ok(Ok(token)),
                Claim::Taken(used) if used.fingerprint != idem.fingerprint => {
                    return Err(DomainError::IdempotencyKeyReused);
                }
                Claim::Taken(KeyUse {
                    order_id: Some(order_id),
                    ..
                }) => return Ok(Err(Box::new(self.replay(conn, order_id).await?))),
                Claim::Taken(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(DomainError::Concurrent);
                }
                Claim::Taken(_) => tokio::time::sleep(KEY_POLL).await,
            }
        }
    }

    /// Creates the order, holding its key if it has one.
    async fn create_fresh(
        &self,
        conn: &mut PgConnection,
        new: &NewOrder,
        actor: &Actor,
        key: Option<Held<'_>>,
    ) -> Result<Created, DomainError> {
        let drafts: Vec<DraftLine> = new.lines.iter().map(DraftLine::from_input).collect();
        let line = |i: usize| format!("items[{i}]");
        let naming = Naming::Lines {
            list: "items",
            line: &line,
        };
        let priced = self
            .restaurant
            .price(new.restaurant_id, &drafts, &naming)
            .await?;
        check_stated_prices(&drafts, &priced, |i| {
            format!("items[{i}].stated_unit_price_minor")
        })?;
        let coupon = match &new.coupon_code {
            Some(code) => Some(AppliedCoupon {
                code: code.as_str().to_owned(),
                terms: self
                    .restaurant
                    .coupon_terms(new.restaurant_id, code)
                    .await?,
            }),
            None => None,
        };

        for _ in 0..NUMBER_DRAWS {
            let number = OrderNumber::generate(&mut rand::rng());
            // A coupon is redeemed under the number before the order is
            // written, so the number must be free and held first; without
            // one, the insert itself tells a taken number.
            if coupon.is_some()
                && (store::number_taken(conn, number.as_str()).await?
                    || !store::hold_coupon(conn, new.restaurant_id, number.as_str(), COUPON_HOLD)
                        .await?)
            {
                continue;
            }
            let attempt = self
                .attempt_create(conn, new, actor, key, &number, &priced, &coupon, &drafts)
                .await;
            if coupon.is_some() && !matches!(attempt, Ok(Written::Order(_))) {
                self.give_back_hold(conn, new.restaurant_id, &number).await;
            }
            match attempt? {
                Written::Order(created) => return Ok(*created),
                Written::NumberTaken => continue,
            }
        }
        Err(DomainError::Unexpected(anyhow::anyhow!(
            "no free order number in {NUMBER_DRAWS} draws"
        )))
    }

    /// Redeems the coupon (if any) under `number` and writes the order.
    #[allow(clippy::too_many_arguments)]
    async fn attempt_create(
        &self,
        conn: &mut PgConnection,
        new: &NewOrder,
        actor: &Actor,
        key: Option<Held<'_>>,
        number: &OrderNumber,
        priced: &PricedOrder,
        coupon: &Option<AppliedCoupon>,
        drafts: &[DraftLine],
    ) -> Result<Written, DomainError> {
        let discount = match (coupon, &new.coupon_code) {
            (Some(_), Some(code)) => {
                self.restaurant
                    .redeem(
                        new.restaurant_id,
                        code,
                        number.as_str(),
                        &new.customer.coupon_ref(),
                        priced.subtotal_minor,
                    )
                    .await?
            }
            _ => 0,
        };
        let delivery_fee = match new.fulfilment.order_type() {
            OrderType::Delivery => priced.delivery_fee_minor,
            _ => 0,
        };
        let totals = Totals::compute(
            priced.subtotal_minor,
            discount,
            delivery_fee,
            priced.tax_rate_bps,
        )?;

        let mut work = Work::begin(conn).await?;
        if coupon.is_some()
            && !store::drop_hold(work.conn(), new.restaurant_id, number.as_str()).await?
        {
            // The releaser took the hold: the redemption is being given back.
            return Err(DomainError::Unavailable("coupon redemption".to_owned()));
        }
        let (customer_id, contact) = match &new.customer {
            CustomerRef::Registered(id) => (*id, None),
            CustomerRef::Guest(guest) => {
                let contact = guest.contact();
                (
                    store::upsert_guest(work.conn(), &contact).await?,
                    Some(contact),
                )
            }
        };
        let orderer = match store::orderer(work.conn(), customer_id).await? {
            Some(orderer) => orderer,
            // A registered customer's first order makes their profile.
            None if customer_id > 0 => {
                store::ensure_registered(work.conn(), customer_id).await?;
                store::orderer(work.conn(), customer_id)
                    .await?
                    .ok_or(DomainError::CustomerNotFound(customer_id))?
            }
            None => return Err(DomainError::CustomerNotFound(customer_id)),
        };
        store::remember_choices(
            work.conn(),
            customer_id,
            &orderer,
            new.payment_method,
            new.fulfilment.delivery_address(),
        )
        .await?;
        let contact = contact.unwrap_or(orderer.contact);
        let guest = matches!(new.customer, CustomerRef::Guest(_));
        // Cash is paid on handover: nothing to wait for, so the order is
        // confirmed as it is made — one history entry and one event for
        // each step, as if it had been two.
        let system = Actor::system(SERVICE);
        let cash = new.payment_method == Some(PaymentMethod::Cash);
        if cash {
            let placed = Situation {
                order_type: new.fulfilment.order_type(),
                status: OrderStatus::Pending,
                confirmed_at: None,
                now: chrono::Utc::now(),
                cancel_window: self.config.cancel_window,
            };
            lifecycle::check(&placed, OrderStatus::Confirmed, system.kind, CASH_REASON)?;
        }
        let row = OrderRow {
            order_number: number.as_str(),
            restaurant_id: new.restaurant_id,
            customer_id,
            guest,
            contact: &contact,
            order_type: new.fulfilment.order_type(),
            table_number: new.fulfilment.table_number(),
            delivery_address: new.fulfilment.delivery_address(),
            source: new.source,
            status: if cash {
                OrderStatus::Confirmed
            } else {
                OrderStatus::Pending
            },
            priced,
            totals,
            coupon: coupon.as_ref(),
            payment_method: new.payment_method,
            notes: new.notes.as_str(),
        };
        let mut history = vec![store::HistoryEntry {
            from: None,
            to: OrderStatus::Pending,
            actor,
            reason: "",
        }];
        if cash {
            history.push(store::HistoryEntry {
                from: Some(OrderStatus::Pending),
                to: OrderStatus::Confirmed,
                actor: &system,
                reason: CASH_REASON,
            });
        }
        let access_token = guest.then(AccessToken::generate);
        let token_hash = access_token.as_ref().map(AccessToken::hash);
        // One statement writes it all, and the order is returned as
        // written, not read back.
        let rows = store::NewOrderRows {
            row: &row,
            lines: drafts.iter().zip(&priced.lines).collect(),
            history: &history,
            access_token: token_hash.as_ref(),
            key: key.map(|held| store::KeyClaim {
                scope: &held.idempotency.scope,
                key: held.idempotency.key.as_str(),
                claim: held.token,
            }),
        };
        let (order, changes) = match store::insert_new_order(work.conn(), &rows).await? {
            store::NewOrderWrite::Written(order, changes) => (*order, changes),
            store::NewOrderWrite::NumberTaken => return Ok(Written::NumberTaken),
            // The claim ran out and another request took the key: it makes
            // the order, not this one (the transaction rolls back).
            store::NewOrderWrite::KeyLost => return Err(DomainError::Concurrent),
        };
        let order_id = order.id;
        if cash {
            let placed = order.as_placed();
            events::publish_all(
                &mut work,
                &self.stream,
                &[
                    ("order.created", &placed, None),
                    (OrderStatus::Confirmed.event_type(), &order, changes.last()),
                ],
            )
            .await?;
        } else {
            events::publish(&mut work, &self.stream, "order.created", &order, None).await?;
        }
        store::notify_change(&mut work, order_id);
        if cash {
            work.on_commit(move || {
                metrics::counter!(
                    "order_transitions_total",
                    "to" => OrderStatus::Confirmed.as_str(),
                    "actor" => system.kind.as_str()
                )
                .increment(1);
            });
        }
        let (source, order_type) = (new.source.as_str(), new.fulfilment.order_type().as_str());
        work.on_commit(move || {
            metrics::counter!(
                "orders_created_total",
                "source" => source,
                "order_type" => order_type
            )
            .increment(1);
        });
        work.commit().await?.announce(conn).await;
        Ok(Written::Order(Box::new(Created {
            order,
            access_token,
            replayed: false,
        })))
    }

    /// The order an earlier request with the same key made.
    async fn replay(&self, conn: &mut PgConnection, order_id: i64) -> Result<Created, DomainError> {
        let order = store::existing_order(conn, order_id).await?;
        // Only the hash of the first token was kept, and the client may
        // never have received it: a replay hands out a further token.
        let access_token = if order.guest {
            let token = AccessToken::generate();
            store::insert_access_token(conn, order_id, &token.hash()).await?;
            Some(token)
        } else {
            None
        };
        Ok(Created {
            order,
            access_token,
            replayed: true,
        })
    }

    /// Makes a coupon hold due now, after its order was not written; the
    /// hold falls due by itself if even this fails.
    async fn give_back_hold(
        &self,
        conn: &mut PgConnection,
        restaurant_id: i64,
        number: &OrderNumber,
    ) {
        match store::expire_hold(conn, restaurant_id, number.as_str()).await {
            Ok(()) => self.releases.notify_one(),
            Err(e) => tracing::warn!(
                error = %e,
                order_ref = number.as_str(),
                "coupon hold left to fall due"
            ),
        }
    }

    /// A new order with an earlier order's lines, customer and fulfilment,
    /// priced from today's menu.
    ///
    /// # Errors
    /// As [`create`](Self::create), plus [`DomainError::OrderNotFound`] and
    /// [`DomainError::AccessDenied`] for the earlier order.
    pub async fn reorder(
        &self,
        order_id: i64,
        caller: Caller<'_>,
        choices: ReorderChoices,
        idempotency: Option<Idempotency>,
    ) -> Result<Created, DomainError> {
        let earlier = self.get(order_id, caller).await?;
        let new = NewOrder::reorder(
            &earlier,
            choices.source,
            choices.payment_method,
            choices.coupon_code,
        )?;
        self.create(new, caller.actor.cloned(), idempotency).await
    }

    // ----- reads ----------------------------------------------------------

    /// One order, if the caller may see it.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`], [`DomainError::AccessDenied`].
    pub async fn get(&self, id: i64, caller: Caller<'_>) -> Result<Order, DomainError> {
        let mut conn = self.store.conn().await?;
        let order = store::existing_order(&mut conn, id).await?;
        authorize(&mut conn, &order, caller).await?;
        Ok(order)
    }

    /// One page of orders, newest first.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn list(
        &self,
        filter: &OrderFilter,
        page: Page,
    ) -> Result<(Vec<Order>, Option<String>), DomainError> {
        let mut conn = self.store.conn().await?;
        store::orders(&mut conn, filter, page).await
    }

    /// An order's status history, if the caller may see the order.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`], [`DomainError::AccessDenied`].
    pub async fn history(
        &self,
        id: i64,
        caller: Caller<'_>,
    ) -> Result<Vec<StatusChange>, DomainError> {
        let mut conn = self.store.conn().await?;
        let order = store::existing_order(&mut conn, id).await?;
        authorize(&mut conn, &order, caller).await?;
        store::history(&mut conn, id).await
    }

    /// Public tracking: the order with this number, if the token opens it.
    ///
    /// # Errors
    /// [`DomainError::OrderNotFound`] for an unknown number and a wrong
    /// token alike, so tokens cannot be probed number by number.
    pub async fn track(
        &self,
        number: &OrderNumber,
        token: &TokenHash,
    ) -> Result<Order, DomainError> {
        let mut conn = self.store.conn().await?;
        store::tracked_order(&mut conn, number.as_str(), token)
            .await?
            .ok_or_else(|| DomainError::OrderNotFound(number.as_str().to_owned()))
    }

    // ----- status ---------------------------------------------------------

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
        let (order, _) = self
            .transition(&mut work, id, to, actor, reason, guard)
            .await?;
        work.commit().await?.announce(&mut conn).await;
        if to == OrderStatus::Cancelled {
            self.releases.notify_one();
        }
        Ok(order)
    }

    /// Applies a move another service's event asks for (actor SYSTEM), in
    /// the consumer's unit of work. `Ok(None)` when the event does not fit
    /// the order's state: such an event is logged and dropped, never
    /// retried.
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
    ) -> Result<Option<Order>, DomainError> {
        let actor = Actor::system(source);
        match self
            .transition(work, order_id, to, &actor, reason, Guard::default())
            .await
        {
            Ok((order, _)) => Ok(Some(order)),
            Err(
                e @ (DomainError::InvalidTransition { .. }
                | DomainError::OrderNotFound(_)
                | DomainError::Invalid(_)
                | DomainError::CancelWindowClosed { .. }),
            ) => {
                tracing::info!(order_id, to = %to, reason = %e, "event does not fit the order; ignored");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The one place an order's status changes: locks the order, checks
    /// the caller and the transition table, and writes the status, its
    /// history entry, the coupon release of a cancellation, the event and
    /// the change notification as part of `work`.
    async fn transition(
        &self,
        work: &mut Work<'_>,
        id: i64,
        to: OrderStatus,
        actor: &Actor,
        reason: &str,
        guard: Guard<'_>,
    ) -> Result<(Order, StatusChange), DomainError> {
        let now = store::lock_order(work.conn(), id)
            .await?
            .ok_or_else(|| DomainError::OrderNotFound(id.to_string()))?;
        let order = store::existing_order(work.conn(), id).await?;
        authorize(work.conn(), &order, guard.caller).await?;
        if guard.expect_from.is_some_and(|s| s != order.status) {
            return Err(DomainError::InvalidTransition {
                from: order.status,
                to,
                actor: actor.kind,
            });
        }
        let situation = Situation {
            order_type: order.order_type,
            status: order.status,
            confirmed_at: order.confirmed_at,
            now,
            cancel_window: self.config.cancel_window,
        };
        lifecycle::check(&situation, to, actor.kind, reason)?;
        store::set_status(work.conn(), id, to).await?;
        let entry = store::HistoryEntry {
            from: Some(order.status),
            to,
            actor,
            reason,
        };
        let change = store::insert_history(work.conn(), id, entry).await?;
        if to == OrderStatus::Cancelled && order.coupon.is_some() {
            store::queue_release(work.conn(), order.restaurant_id, &order.order_number).await?;
        }
        let order = store::existing_order(work.conn(), id).await?;
        events::publish(work, &self.stream, to.event_type(), &order, Some(&change)).await?;
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

    // ----- items ------------------------------------------------------------

    /// Adds, changes or removes a line of a PENDING order; every line is
    /// priced again from the menu and the totals follow. A coupon's
    /// discount is recomputed from its terms on the new subtotal (nothing
    /// while under its minimum order); its redemption stays held.
    ///
    /// # Errors
    /// [`DomainError::NotEditable`] once the order left PENDING,
    /// [`DomainError::LineNotFound`], [`DomainError::LineLimit`],
    /// [`DomainError::LastLine`], refusals of the menu,
    /// [`DomainError::PriceMismatch`], [`DomainError::Concurrent`].
    pub async fn edit_items(
        &self,
        id: i64,
        edit: &ItemEdit,
        token: Option<&TokenHash>,
    ) -> Result<Order, DomainError> {
        let caller = Caller { actor: None, token };
        let (list, touched_name) = match edit {
            ItemEdit::Add(_) => ("item", "item"),
            _ => ("items", ""),
        };
        for _ in 0..EDIT_ATTEMPTS {
            let order = self.get(id, caller).await?;
            let (drafts, touched) = edit.apply(&order)?;
            let line = |i: usize| {
                if Some(i) == touched {
                    touched_name.to_owned()
                } else {
                    format!("items[{i}]")
                }
            };
            let naming = Naming::Lines { list, line: &line };
            let priced = self
                .restaurant
                .price(order.restaurant_id, &drafts, &naming)
                .await
                .map_err(top_level_fields)?;
            if priced.currency != order.currency {
                return Err(DomainError::RestaurantRefused {
                    bad_input: false,
                    reason: "CURRENCY_CHANGED".to_owned(),
                    message: "the restaurant's currency changed since the order was placed"
                        .to_owned(),
                    violations: Violations::default(),
                });
            }
            check_stated_prices(&drafts, &priced, |i| {
                let prefix = line(i);
                if prefix.is_empty() {
                    "stated_unit_price_minor".to_owned()
                } else {
                    format!("{prefix}.stated_unit_price_minor")
                }
            })?;
            let discount = order
                .coupon
                .as_ref()
                .map_or(0, |c| c.terms.discount(priced.subtotal_minor));
            let delivery_fee = match order.order_type {
                OrderType::Delivery => priced.delivery_fee_minor,
                _ => 0,
            };
            let totals = Totals::compute(
                priced.subtotal_minor,
                discount,
                delivery_fee,
                priced.tax_rate_bps,
            )?;

            let mut conn = self.store.conn().await?;
            let mut work = Work::begin(&mut conn).await?;
            if !store::reprice_order(work.conn(), id, order.version, &priced, totals).await? {
                // Changed since it was read: read it again (and learn
                // whether it is still editable).
                continue;
            }
            store::write_lines(work.conn(), id, &drafts, &priced).await?;
            let updated = store::existing_order(work.conn(), id).await?;
            events::publish(&mut work, &self.stream, "order.updated", &updated, None).await?;
            store::notify_change(&mut work, id);
            work.commit().await?.announce(&mut conn).await;
            return Ok(updated);
        }
        Err(DomainError::Concurrent)
    }

    // ----- customers ----------------------------------------------------------

    /// A customer profile.
    ///
    /// # Errors
    /// [`DomainError::CustomerNotFound`].
    pub async fn customer(&self, id: i64) -> Result<Customer, DomainError> {
        let mut conn = self.store.conn().await?;
        store::customer(&mut conn, id)
            .await?
            .ok_or(DomainError::CustomerNotFound(id))
    }

    /// Changes a profile; a registered customer's is made on first use.
    ///
    /// # Errors
    /// [`DomainError::CustomerNotFound`], [`DomainError::PhoneTaken`].
    pub async fn update_customer(
        &self,
        id: i64,
        patch: &CustomerPatch,
    ) -> Result<Customer, DomainError> {
        if id == 0 {
            return Err(DomainError::invalid("id", "is required"));
        }
        let mut tx = self.store.begin().await?;
        let updated = store::update_customer(&mut tx, id, patch).await?;
        tx.commit().await?;
        Ok(updated)
    }

    // ----- background work -------------------------------------------------------

    /// Cancels PENDING orders unpaid for longer than the payment timeout
    /// (actor SYSTEM, reason "payment timeout"), releasing their coupons.
    /// Returns how many it cancelled.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn cancel_unpaid(&self) -> Result<usize, DomainError> {
        let expired = {
            let mut conn = self.store.conn().await?;
            store::expired_pending(&mut conn, self.config.order_timeout, SWEEP_BATCH).await?
        };
        let system = Actor::system(SERVICE);
        let mut cancelled = 0;
        for id in expired {
            let mut conn = self.store.conn().await?;
            let mut work = Work::begin(&mut conn).await?;
            // Only if still PENDING: a payment may have won the race.
            let guard = Guard {
                expect_from: Some(OrderStatus::Pending),
                ..Guard::default()
            };
            match self
                .transition(
                    &mut work,
                    id,
                    OrderStatus::Cancelled,
                    &system,
                    "payment timeout",
                    guard,
                )
                .await
            {
                Ok(_) => {
                    work.commit().await?.announce(&mut conn).await;
                    cancelled += 1;
                }
                Err(DomainError::InvalidTransition { .. } | DomainError::OrderNotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        if cancelled > 0 {
            tracing::info!(cancelled, "unpaid orders cancelled");
            self.releases.notify_one();
        }
        Ok(cancelled)
    }

    /// Gives due coupon redemptions back to restaurant-svc; a failure is
    /// recorded and retried later with a growing pause. Returns how many
    /// were attempted (a full batch means more may be due).
    ///
    /// # Errors
    /// Only unexpected failures of the database.
    pub async fn release_due_coupons(&self) -> Result<usize, DomainError> {
        let due = {
            let mut conn = self.store.conn().await?;
            store::lease_due_releases(&mut conn, RELEASE_BATCH, RELEASE_LEASE).await?
        };
        let attempted = due.len();
        for release in due {
            let outcome = self
                .restaurant
                .release(release.restaurant_id, &release.order_ref)
                .await;
            let mut conn = self.store.conn().await?;
            match outcome {
                Ok(released) => {
                    store::mark_released(&mut conn, release.restaurant_id, &release.order_ref)
                        .await?;
                    tracing::info!(
                        order_ref = %release.order_ref,
                        released,
                        "coupon redemption given back"
                    );
                }
                Err(why) => {
                    let pause = retry_pause(release.attempts);
                    tracing::warn!(
                        order_ref = %release.order_ref,
                        attempts = release.attempts,
                        error = %why,
                        "coupon release failed; will retry"
                    );
                    store::release_failed(
                        &mut conn,
                        release.restaurant_id,
                        &release.order_ref,
                        &why,
                        pause,
                    )
                    .await?;
                }
            }
        }
        Ok(attempted)
    }

    /// Forgets idempotency keys past their retention.
    ///
    /// # Errors
    /// Only unexpected failures.
    pub async fn prune_keys(&self) -> Result<u64, DomainError> {
        let mut conn = self.store.conn().await?;
        store::prune_keys(&mut conn, KEY_RETENTION).await
    }
}

/// What a transition must find besides the table's approval.
#[derive(Debug, Clone, Copy, Default)]
struct Guard<'a> {
    /// Only from this status (a compare-and-set for timers).
    expect_from: Option<OrderStatus>,
    /// Who asks, for the access checks.
    caller: Caller<'a>,
}

/// The checks this service makes of a caller on top of the gateway's: a
/// presented token must open the order, a GUEST must present one, and a
/// CUSTOMER must be the order's customer.
async fn authorize(
    conn: &mut PgConnection,
    order: &Order,
    caller: Caller<'_>,
) -> Result<(), DomainError> {
    let denied = || DomainError::AccessDenied(format!("order {}", order.id));
    if let Some(token) = caller.token
        && !store::token_opens(conn, order.id, token).await?
    {
        return Err(denied());
    }
    match caller.actor {
        Some(actor) if actor.kind == ActorKind::Guest && caller.token.is_none() => Err(denied()),
        Some(actor)
            if actor.kind == ActorKind::Customer && actor.id != order.customer_id.to_string() =>
        {
            Err(denied())
        }
        _ => Ok(()),
    }
}

/// An UpdateItem request names the edited line's fields at its top level
/// (`quantity`, `option_ids[0]`), not under a prefix.
fn top_level_fields(error: DomainError) -> DomainError {
    match error {
        DomainError::RestaurantRefused {
            bad_input,
            reason,
            message,
            violations,
        } => {
            let mut renamed = Violations::default();
            for v in violations.iter() {
                let field = v.field.trim_start_matches('.');
                renamed.add(
                    if field.is_empty() { "line_id" } else { field },
                    v.description.clone(),
                );
            }
            DomainError::RestaurantRefused {
                bad_input,
                reason,
                message,
                violations: renamed,
            }
        }
        other => other,
    }
}

/// The pause before the next release attempt: doubling from 1 s, at most
/// about four minutes.
fn retry_pause(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 9) - 1).unwrap_or(0);
    Duration::from_secs(2_u64.pow(exponent)).min(Duration::from_secs(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_retries_back_off_to_a_few_minutes() {
        assert_eq!(retry_pause(1), Duration::from_secs(1));
        assert_eq!(retry_pause(3), Duration::from_secs(4));
        assert_eq!(retry_pause(50), Duration::from_secs(256));
    }
}
