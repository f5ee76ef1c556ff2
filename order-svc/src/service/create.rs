//! Placing an order, in the steps a reader can follow top to bottom in
//! [`Orders::create`]:
//!
//! 1. claim the idempotency key (its own short statement), or answer with
//!    the order an earlier request with the key made;
//! 2. price the lines through restaurant-svc, hold the client to any price
//!    it stated, and read the coupon's terms;
//! 3. decide the order ([`placing::place`]) — nothing is written yet;
//! 4. for a coupon, hold a free order number and redeem the coupon under
//!    it;
//! 5. write the order, its history, its events and the key's binding in
//!    one unit of work, and announce it after the commit.
//!
//! Steps 2 and 4 call restaurant-svc and hold no connection meanwhile.
//!
//! # Idempotency
//! A key is unique per caller ([`Actor::scope`]): the request's actor, or
//! the customer placing the order when no actor is named — for a guest,
//! their phone ([`NewOrder::idempotency_scope`]), so two guests never meet
//! and a replay's access token goes only to a request naming the same
//! guest. Within a scope the fingerprint of the request body keeps
//! requests apart: the same key with another body is refused
//! (`IDEMPOTENCY_KEY_REUSED`), never answered with another order.
//!
//! The key is claimed before any work, for a [`KEY_LEASE`] its holder
//! renews while it works. From the claim on, the request runs to its end
//! even when its caller goes away (a client cut off, a gateway gone), so it
//! leaves either its order bound to the key or the key free. A twin request
//! racing the first waits up to [`KEY_WAIT`] for its outcome and returns
//! its order, else is told to retry (`IDEMPOTENCY_KEY_IN_PROGRESS`); a
//! holder that died stops renewing, and its key is free once the lease
//! runs out. Keys are kept [`KEY_RETENTION`]. A replayed guest order comes
//! with a further access token, since only hashes of tokens are stored.
//!
//! # Coupons
//! A redemption is preceded by a hold ([`COUPON_HOLD`]) that the order's
//! unit of work removes, so a redemption whose order was never written (a
//! crash, a failed insert) is released by the coupon releaser.

use std::time::Duration;

use foodmesh_shared::grpc::REQUEST_ID;
use foodmesh_shared::work::Work;
use tracing::Instrument;

use super::{Caller, Orders, ReorderChoices, SERVICE};
use crate::domain::number::{self, AccessToken, OrderNumber};
use crate::domain::order::{
    Actor, ActorKind, AppliedCoupon, Contact, CustomerRef, DraftLine, LineInput, NewOrder, Order,
    OrderStatus, OrderType,
};
use crate::domain::placing::{self, Placement, Placing};
use crate::domain::pricing::{Quote, check_stated_prices};
use crate::domain::{CouponCode, DomainError, IdempotencyKey};
use crate::restaurant::Naming;
use crate::store::{self, Claim, KeyClaim, KeyUse, NewOrderRows, NewOrderWrite};

/// Order numbers drawn before giving up (a collision is a one-in-millions
/// event; several in a row mean something else is wrong).
const NUMBER_DRAWS: usize = 8;

/// How long a coupon hold waits for its order before the redemption is
/// released: far longer than a create takes, short enough to free the
/// coupon soon after a crash.
const COUPON_HOLD: Duration = Duration::from_secs(120);

/// How long a claim on an idempotency key lasts unless its holder renews
/// it: how soon the key of a request that died (its process killed) is
/// free for a retry.
pub const KEY_LEASE: Duration = Duration::from_secs(5);

/// How often a request still at work renews its claim: often enough that
/// a slow database or a late timer does not let the lease run out.
const KEY_RENEW: Duration = Duration::from_secs(1);

/// How long a request waits for a twin with the same key to finish before
/// it is told to retry: far longer than a create takes, well inside the
/// gateway's deadline.
const KEY_WAIT: Duration = Duration::from_secs(1);

/// How often a waiting twin looks again.
const KEY_POLL: Duration = Duration::from_millis(50);

/// How long an idempotency key is remembered.
pub(super) const KEY_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// A create's idempotency: the caller's scope, their key, and the
/// fingerprint of the request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// One per caller ([`Actor::scope`]).
    pub scope: String,
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

/// A claimed idempotency key: what the order's unit of work binds.
#[derive(Debug, Clone, Copy)]
struct Held<'a> {
    idempotency: &'a Idempotency,
    claim: i64,
}

impl Held<'_> {
    fn binding(&self) -> KeyClaim<'_> {
        KeyClaim {
            scope: &self.idempotency.scope,
            key: self.idempotency.key.as_str(),
            claim: self.claim,
        }
    }
}

/// What claiming a key came to.
enum Claimed {
    /// This request holds the key.
    Held(i64),
    /// An earlier request with the key made this order.
    Replay(Box<Created>),
}

impl Orders {
    /// Places an order: prices it from the menu, holds the client to any
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
        placing::check_orderer(&new.customer, &actor)?;
        let Some(idempotency) = idempotency else {
            return self.place(&new, &actor, None).await;
        };
        let claim = match self.claim(&idempotency).await? {
            Claimed::Held(claim) => claim,
            Claimed::Replay(created) => return Ok(*created),
        };
        // Run to the end whatever becomes of the caller, so the key is
        // never left claimed by a request nobody finishes.
        let orders = self.clone();
        // In the caller's span and under its request id, which a spawned
        // task would otherwise lose: the calls and events it makes belong
        // to the request's trace.
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        let placing = async move {
            let held = Held {
                idempotency: &idempotency,
                claim,
            };
            orders.place_holding(&new, &actor, held).await
        };
        tokio::spawn(
            REQUEST_ID
                .scope(request_id, placing)
                .instrument(tracing::Span::current()),
        )
        .await
        .map_err(|e| DomainError::Unexpected(anyhow::anyhow!("placing an order panicked: {e}")))?
    }

    /// Places the order under a claimed key, renewing the claim while it
    /// works, and frees the key when it fails so a retry may try afresh.
    async fn place_holding(
        &self,
        new: &NewOrder,
        actor: &Actor,
        held: Held<'_>,
    ) -> Result<Created, DomainError> {
        let placing = self.place(new, actor, Some(held));
        tokio::pin!(placing);
        let mut renewals =
            tokio::time::interval_at(tokio::time::Instant::now() + KEY_RENEW, KEY_RENEW);
        let created = loop {
            tokio::select! {
                created = &mut placing => break created,
                _ = renewals.tick() => self.renew_key(held).await,
            }
        };
        if created.is_err() {
            self.release_key(held).await;
        }
        created
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

    /// Claims the key for this request, or finds the order an earlier
    /// request with the key made. A twin request still at work is waited
    /// for, on a fresh connection for each look.
    async fn claim(&self, idem: &Idempotency) -> Result<Claimed, DomainError> {
        let claim: i64 = rand::random();
        let deadline = tokio::time::Instant::now() + KEY_WAIT;
        loop {
            let mut conn = self.store.conn().await?;
            let now = self.clock.now();
            let fingerprint = &idem.fingerprint;
            let key = idem.key.as_str();
            match store::claim_key(
                &mut conn,
                &idem.scope,
                key,
                fingerprint,
                claim,
                KEY_LEASE,
                now,
            )
            .await?
            {
                Claim::Claimed(claim) => return Ok(Claimed::Held(claim)),
                Claim::Taken(used) if used.fingerprint != idem.fingerprint => {
                    return Err(DomainError::IdempotencyKeyReused);
                }
                Claim::Taken(KeyUse {
                    order_id: Some(order_id),
                    ..
                }) => {
                    return Ok(Claimed::Replay(Box::new(
                        self.replay(&mut conn, order_id).await?,
                    )));
                }
                Claim::Taken(_) if tokio::time::Instant::now() >= deadline => {
                    return Err(DomainError::KeyInProgress {
                        retry_after: KEY_RENEW,
                    });
                }
                Claim::Taken(_) => {}
            }
            drop(conn);
            tokio::time::sleep(KEY_POLL).await;
        }
    }

    /// The order an earlier request with the same key made.
    async fn replay(
        &self,
        conn: &mut sqlx::PgConnection,
        order_id: i64,
    ) -> Result<Created, DomainError> {
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

    /// Extends the claim of a request still at work; a renewal that fails
    /// is tried again at the next tick, and the lease covers the gap.
    async fn renew_key(&self, held: Held<'_>) {
        let key = held.binding();
        let renewed = match self.store.conn().await {
            Ok(mut conn) => {
                store::renew_key(
                    &mut conn,
                    key.scope,
                    key.key,
                    key.claim,
                    KEY_LEASE,
                    self.clock.now(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = renewed {
            tracing::warn!(error = %e, "idempotency claim not renewed");
        }
    }

    /// Frees the key of a request that failed; left to expire if even this
    /// fails.
    async fn release_key(&self, held: Held<'_>) {
        let key = held.binding();
        let released = match self.store.conn().await {
            Ok(mut conn) => store::release_key(&mut conn, key.scope, key.key, key.claim).await,
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!(error = %e, "idempotency claim left to expire");
        }
    }

    /// What an order of `lines` would cost at `restaurant_id` now, priced
    /// and discounted exactly as [`Orders::create`] would, writing nothing
    /// and redeeming nothing.
    ///
    /// # Errors
    /// As placing the same lines would: [`DomainError::RestaurantNotFound`],
    /// [`DomainError::RestaurantRefused`] naming the line or the coupon, a
    /// stated price that differs, or [`DomainError::Unavailable`].
    pub async fn quote(
        &self,
        restaurant_id: i64,
        order_type: OrderType,
        lines: &[LineInput],
        coupon_code: Option<&CouponCode>,
    ) -> Result<Quote, DomainError> {
        let drafts: Vec<DraftLine> = lines.iter().map(DraftLine::from_input).collect();
        let line = |i: usize| format!("items[{i}]");
        let naming = Naming::Lines {
            list: "items",
            line: &line,
        };
        let priced = self
            .restaurant
            .price(restaurant_id, &drafts, &naming)
            .await?;
        check_stated_prices(&drafts, &priced, |i| {
            format!("items[{i}].stated_unit_price_minor")
        })?;
        let coupon = match coupon_code {
            Some(code) => Some(AppliedCoupon {
                code: code.as_str().to_owned(),
                terms: self
                    .restaurant
                    .check_coupon(restaurant_id, code, priced.subtotal_minor)
                    .await?,
            }),
            None => None,
        };
        let totals = crate::domain::pricing::figures(&priced, order_type, coupon.as_ref())?;
        Ok(Quote {
            priced,
            totals,
            coupon_code: coupon.map(|c| c.code),
        })
    }

    /// Steps 2 to 5 of the module's doc.
    async fn place(
        &self,
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
        let system = Actor::system(SERVICE);
        let placement = placing::place(&Placing {
            order: new,
            actor,
            system: &system,
            priced: &priced,
            coupon: coupon.as_ref(),
            now: self.clock.now(),
        })?;

        for _ in 0..NUMBER_DRAWS {
            let number = number::generate(&mut rand::rng());
            if coupon.is_some() {
                // A coupon is redeemed under the number before the order is
                // written, so the number must be free and held first;
                // without one, the write itself tells a taken number.
                if !self.hold_number(new.restaurant_id, &number).await? {
                    continue;
                }
                if let Err(e) = self.redeem(new, &number, &placement).await {
                    self.give_back_hold(new.restaurant_id, &number).await;
                    return Err(e);
                }
            }
            let written = self.write(new, &placement, &number, key).await;
            if coupon.is_some() && !matches!(written, Ok(Some(_))) {
                self.give_back_hold(new.restaurant_id, &number).await;
            }
            if let Some(created) = written? {
                return Ok(created);
            }
        }
        Err(DomainError::Unexpected(anyhow::anyhow!(
            "no free order number in {NUMBER_DRAWS} draws"
        )))
    }

    /// Holds `number` for a coupon's redemption; false when it is taken.
    async fn hold_number(
        &self,
        restaurant_id: i64,
        number: &OrderNumber,
    ) -> Result<bool, DomainError> {
        let mut conn = self.store.conn().await?;
        Ok(!store::number_taken(&mut conn, number.as_str()).await?
            && store::hold_coupon(
                &mut conn,
                restaurant_id,
                number.as_str(),
                COUPON_HOLD,
                self.clock.now(),
            )
            .await?)
    }

    /// Redeems the order's coupon under `number`. The restaurant's discount
    /// must be the one its terms gave the decision: one that differs means
    /// the coupon changed in between, and the order is refused for a retry
    /// rather than written with figures the redemption does not match.
    async fn redeem(
        &self,
        new: &NewOrder,
        number: &OrderNumber,
        placement: &Placement,
    ) -> Result<(), DomainError> {
        let Some(code) = &new.coupon_code else {
            return Ok(());
        };
        let totals = placement.totals();
        let discount = self
            .restaurant
            .redeem(
                new.restaurant_id,
                code,
                number.as_str(),
                &new.customer.coupon_ref(number.as_str()),
                totals.subtotal_minor,
            )
            .await?;
        if discount != totals.discount_minor {
            tracing::warn!(
                order_ref = number.as_str(),
                redeemed = discount,
                decided = totals.discount_minor,
                "the coupon changed between its terms and its redemption"
            );
            return Err(DomainError::Concurrent);
        }
        Ok(())
    }

    /// Step 5: the one unit of work that writes a placed order. `None`
    /// when `number` turns out to be taken (nothing written).
    async fn write(
        &self,
        new: &NewOrder,
        placement: &Placement,
        number: &OrderNumber,
        key: Option<Held<'_>>,
    ) -> Result<Option<Created>, DomainError> {
        let mut conn = self.store.conn().await?;
        let mut work = Work::begin(&mut conn).await?;
        if new.coupon_code.is_some()
            && !store::drop_hold(work.conn(), new.restaurant_id, number.as_str()).await?
        {
            // The releaser took the hold: the redemption is being given back.
            return Err(DomainError::Unavailable("coupon redemption".to_owned()));
        }
        let (customer_id, contact) = self.orderer(&mut work, new).await?;
        let order = placement.order(number.as_str(), customer_id, contact);
        let access_token = order.guest.then(AccessToken::generate);
        let token_hash = access_token.as_ref().map(AccessToken::hash);
        let rows = NewOrderRows {
            order: &order,
            history: &placement.history,
            access_token: token_hash.as_ref(),
            key: key.as_ref().map(Held::binding),
        };
        let (order, history) = match store::insert_new_order(work.conn(), &rows).await? {
            NewOrderWrite::Written(order, history) => (*order, history),
            NewOrderWrite::NumberTaken => return Ok(None),
            // The claim ran out and another request took the key: it makes
            // the order, not this one (the work rolls back).
            NewOrderWrite::KeyLost => return Err(DomainError::Concurrent),
        };
        self.publish(&mut work, &placing::announcements(&order, &history))
            .await?;
        store::notify_change(&mut work, order.id);
        count_placed(&mut work, &order);
        work.commit().await?.announce(&mut conn).await;
        Ok(Some(Created {
            order,
            access_token,
            replayed: false,
        }))
    }

    /// The profile the order is placed from, and who to contact: a guest's
    /// profile is found by phone or made, a registered customer's is made
    /// on their first order. The order's payment method and address are
    /// remembered on it. A walk-in order has neither (profile 0).
    async fn orderer(
        &self,
        work: &mut Work<'_>,
        new: &NewOrder,
    ) -> Result<(i64, Contact), DomainError> {
        let (customer_id, guest) = match &new.customer {
            CustomerRef::WalkIn => return Ok((0, Contact::default())),
            CustomerRef::Registered(id) => (*id, None),
            CustomerRef::Guest(guest) => {
                let contact = guest.contact();
                (
                    store::upsert_guest(work.conn(), &contact).await?,
                    Some(contact),
                )
            }
        };
        let known = match store::orderer(work.conn(), customer_id).await? {
            Some(known) => known,
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
            &known,
            new.payment_method,
            new.fulfilment.delivery_address(),
        )
        .await?;
        Ok((customer_id, guest.unwrap_or(known.contact)))
    }

    /// Makes a coupon hold due now, after its order was not written; the
    /// hold falls due by itself if even this fails.
    async fn give_back_hold(&self, restaurant_id: i64, number: &OrderNumber) {
        let expired = match self.store.conn().await {
            Ok(mut conn) => {
                store::expire_hold(&mut conn, restaurant_id, number.as_str(), self.clock.now())
                    .await
            }
            Err(e) => Err(e),
        };
        match expired {
            Ok(()) => self.releases.notify_one(),
            Err(e) => tracing::warn!(
                error = %e,
                order_ref = number.as_str(),
                "coupon hold left to fall due"
            ),
        }
    }
}

/// Counts a placed order once its unit of work commits, with the service's
/// confirmation of a cash order as a transition of its own.
fn count_placed(work: &mut Work<'_>, order: &Order) {
    let (source, order_type) = (order.source.as_str(), order.order_type.as_str());
    let confirmed = order.status == OrderStatus::Confirmed;
    work.on_commit(move || {
        metrics::counter!("orders_created_total", "source" => source, "order_type" => order_type)
            .increment(1);
        if confirmed {
            metrics::counter!(
                "order_transitions_total",
                "to" => OrderStatus::Confirmed.as_str(),
                "actor" => ActorKind::System.as_str()
            )
            .increment(1);
        }
    });
}
