//! The scenarios that go through the mesh: one [`Call`] each, and the
//! function that sets it up, drives it and tears it down.
//!
//! - `menu_read` — `GET /api/restaurants/{id}/menu` through the gateway.
//! - `menu_read_grpc` — `RestaurantService/GetMenu` straight to
//!   restaurant-svc: the same read without the gateway.
//! - `cart_quote` — `POST /api/orders/quote`: a cart with a coupon priced
//!   as its order would be, nothing written.
//! - `order_create` — `POST /api/orders`, cash, a fresh idempotency key
//!   each time; every 2xx counts.
//! - `order_to_kitchen` — an order placed, then the time from its 201 to
//!   its ticket on the kitchen's event stream.
//! - `card_order_to_kitchen` — an order placed and paid with the sandbox's
//!   approving card: the time from sending the order to its ticket on the
//!   kitchen's stream.
//! - `overload_base`, `overload` — `order_create` through a gateway held to
//!   a few requests in flight, by one worker and by many more than it
//!   admits: the latency of what it admits, and what it sheds.
//!
//! The database's own limit (`db_ceiling`) is in [`crate::ceiling`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use foodmesh_proto::restaurant::v1::GetMenuRequest;
use foodmesh_proto::restaurant::v1::restaurant_service_client::RestaurantServiceClient;
use http::{HeaderValue, Method};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::http::{Bearer, Conn, Gateway, HttpError, Reply, Stream};
use crate::load::{self, Call, Plan};
use crate::mesh::{self, Restaurant, Tokens};
use crate::sse::{self, Parser};
use crate::stats::{Outcome, Summary};

/// What every scenario through the mesh shares.
#[derive(Debug, Clone)]
pub struct Context {
    pub gateway: Gateway,
    /// Time allowed to any one call.
    pub timeout: Duration,
    /// Workers, warm-up and window.
    pub plan: Plan,
    /// Unique per run, so idempotency keys never repeat across runs.
    pub run_id: String,
    pub tokens: Tokens,
    /// Lines per order.
    pub lines: usize,
    /// Customers the order workers are spread over (worker `w` orders as
    /// customer `1 + w % customers`).
    pub customers: usize,
}

impl Context {
    pub(crate) fn conn(&self) -> Conn {
        Conn::new(self.gateway.clone(), self.timeout)
    }

    fn customer_of(&self, worker: usize) -> i64 {
        i64::try_from(1 + worker % self.customers.max(1)).unwrap_or(1)
    }
}

/// What a call through the gateway came to: any 2xx is a success, any
/// other status a failure under that status.
pub(crate) fn http_outcome(result: Result<Reply, HttpError>) -> Outcome {
    match result {
        Ok(reply) if reply.status.is_success() => Outcome::Ok,
        Ok(reply) => Outcome::failed(reply.status.as_u16().to_string(), reply.excerpt()),
        Err(e) => Outcome::failed(e.key(), e.to_string()),
    }
}

// ----------------------------------------------------------- cart_quote --

struct CartQuote {
    conn: Conn,
    body: Bytes,
}

impl Call for CartQuote {
    async fn call(&mut self) -> Outcome {
        let request = match self.conn.gateway().request(
            Method::POST,
            "/api/orders/quote",
            None,
            Some(self.body.clone()),
        ) {
            Ok(request) => request,
            Err(e) => return Outcome::failed("request", e.to_string()),
        };
        http_outcome(self.conn.send(request).await)
    }
}

/// `cart_quote`: a guest's cart priced through the gateway, as a storefront
/// asks on every change to it: the lines priced by restaurant-svc, the
/// coupon checked there, the figures worked out, nothing written.
///
/// # Errors
/// The body could not be made, or the run failed.
pub async fn cart_quote(ctx: &Context, restaurant: &Restaurant) -> anyhow::Result<Summary> {
    let body = mesh::quote_body(restaurant, ctx.lines)?;
    let calls = (0..ctx.plan.concurrency)
        .map(|_| CartQuote {
            conn: ctx.conn(),
            body: body.clone(),
        })
        .collect();
    Ok(load::drive(&ctx.plan, calls).await?.summary())
}

// ------------------------------------------------------------ menu_read --

struct MenuRead {
    conn: Conn,
    path: String,
}

impl Call for MenuRead {
    async fn call(&mut self) -> Outcome {
        let request = match self
            .conn
            .gateway()
            .request(Method::GET, &self.path, None, None)
        {
            Ok(request) => request,
            Err(e) => return Outcome::failed("request", e.to_string()),
        };
        http_outcome(self.conn.send(request).await)
    }
}

/// `menu_read`: the public menu through the gateway, as a customer's app
/// reads it.
///
/// # Errors
/// The run itself failed (a worker panicked); failed calls are counted,
/// not returned.
pub async fn menu_read(ctx: &Context, restaurant: &Restaurant) -> anyhow::Result<Summary> {
    let path = format!("/api/restaurants/{}/menu", restaurant.id);
    let calls = (0..ctx.plan.concurrency)
        .map(|_| MenuRead {
            conn: ctx.conn(),
            path: path.clone(),
        })
        .collect();
    let finished = load::drive(&ctx.plan, calls).await?;
    Ok(finished.summary())
}

// ------------------------------------------------------- menu_read_grpc --

struct MenuReadGrpc {
    client: RestaurantServiceClient<Channel>,
    restaurant_id: i64,
    timeout: Duration,
}

impl Call for MenuReadGrpc {
    async fn call(&mut self) -> Outcome {
        let mut request = tonic::Request::new(GetMenuRequest {
            restaurant_id: self.restaurant_id,
            include_unavailable: false,
        });
        request.set_timeout(self.timeout);
        match tokio::time::timeout(self.timeout, self.client.get_menu(request)).await {
            Ok(Ok(_)) => Outcome::Ok,
            Ok(Err(status)) => Outcome::failed(
                format!("grpc {:?}", status.code()),
                status.message().to_owned(),
            ),
            Err(_) => Outcome::failed("timeout", format!("no answer within {:?}", self.timeout)),
        }
    }
}

/// `menu_read_grpc`: the same read as `menu_read`, straight to
/// restaurant-svc at `url`, one HTTP/2 connection per worker as the HTTP
/// side has one HTTP/1.1 connection per worker. The gap between the two is
/// what the gateway adds.
///
/// # Errors
/// restaurant-svc is not reachable at `url`, or the run failed.
pub async fn menu_read_grpc(
    ctx: &Context,
    url: &str,
    restaurant: &Restaurant,
) -> anyhow::Result<Summary> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("bad restaurant-svc address {url}"))?
        .tcp_nodelay(true)
        .connect_timeout(ctx.timeout);
    let mut calls = Vec::with_capacity(ctx.plan.concurrency);
    for _ in 0..ctx.plan.concurrency {
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("restaurant-svc is not answering at {url}"))?;
        calls.push(MenuReadGrpc {
            client: RestaurantServiceClient::new(channel),
            restaurant_id: restaurant.id,
            timeout: ctx.timeout,
        });
    }
    let finished = load::drive(&ctx.plan, calls).await?;
    Ok(finished.summary())
}

// --------------------------------------------------------- order_create --

/// Places orders as one customer, each under a fresh idempotency key.
struct Placer {
    conn: Conn,
    bearer: Bearer,
    body: Bytes,
    key_prefix: String,
    seq: u64,
    /// The last refusal's `Retry-After`.
    retry_after: Option<Duration>,
}

impl Placer {
    fn new(
        ctx: &Context,
        restaurant: &Restaurant,
        worker: usize,
        tag: &str,
    ) -> anyhow::Result<Self> {
        Self::paying_by(ctx, restaurant, worker, tag, "cash")
    }

    /// A placer of orders to be paid by `method`.
    fn paying_by(
        ctx: &Context,
        restaurant: &Restaurant,
        worker: usize,
        tag: &str,
        method: &str,
    ) -> anyhow::Result<Self> {
        let customer = ctx.customer_of(worker);
        Ok(Self {
            conn: ctx.conn(),
            bearer: ctx.tokens.customer(customer)?,
            body: mesh::order_body_paid_by(restaurant, ctx.lines, customer, method)?,
            key_prefix: format!("bench-{}-{tag}-{worker}", ctx.run_id),
            seq: 0,
            retry_after: None,
        })
    }

    /// Places one order: when its 2xx arrived and its id, or the failure.
    async fn place(&mut self) -> Result<(Instant, i64), Outcome> {
        self.seq += 1;
        let key = format!("{}-{}", self.key_prefix, self.seq);
        let mut request = self
            .conn
            .gateway()
            .request(
                Method::POST,
                "/api/orders",
                Some(&self.bearer),
                Some(self.body.clone()),
            )
            .map_err(|e| Outcome::failed("request", e.to_string()))?;
        let key =
            HeaderValue::from_str(&key).map_err(|e| Outcome::failed("request", e.to_string()))?;
        request.headers_mut().insert("idempotency-key", key);
        let result = self.conn.send(request).await;
        let answered = Instant::now();
        self.retry_after = result.as_ref().ok().and_then(|r| r.retry_after);
        match result {
            Ok(reply) if reply.status.is_success() => match mesh::created_id(&reply) {
                Some(id) => Ok((answered, id)),
                None => Err(Outcome::failed("no_id", reply.excerpt())),
            },
            other => Err(http_outcome(other)),
        }
    }
}

struct OrderCreate {
    placer: Placer,
    created: Vec<i64>,
}

impl Call for OrderCreate {
    async fn call(&mut self) -> Outcome {
        match self.placer.place().await {
            Ok((_, id)) => {
                self.created.push(id);
                Outcome::Ok
            }
            Err(failed) => failed,
        }
    }
}

/// `order_create`: the seed order body with cash payment, through the
/// gateway, each under a new idempotency key. Returns the figures and the
/// ids of every order created (warm-up included), whose tickets the
/// kitchen then has to catch up with.
///
/// # Errors
/// A token or body could not be made, or the run failed.
pub async fn order_create(
    ctx: &Context,
    restaurant: &Restaurant,
) -> anyhow::Result<(Summary, Vec<i64>)> {
    let calls = (0..ctx.plan.concurrency)
        .map(|worker| {
            Ok(OrderCreate {
                placer: Placer::new(ctx, restaurant, worker, "create")?,
                created: Vec::new(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let finished = load::drive(&ctx.plan, calls).await?;
    let summary = finished.summary();
    let created = finished.calls.into_iter().flat_map(|c| c.created).collect();
    Ok((summary, created))
}

/// A worker of `overload_base` or `overload`: places orders as
/// `order_create` does; when it is shed, it waits as `Retry-After` says
/// before its next call (inside the failed call, so no success's latency
/// holds the wait), unless it is told to ignore it.
struct Overloading {
    placer: Placer,
    honour_retry_after: bool,
}

impl Call for Overloading {
    async fn call(&mut self) -> Outcome {
        match self.placer.place().await {
            Ok(_) => Outcome::Ok,
            Err(failed) => {
                if let Some(wait) = self.placer.retry_after.filter(|_| self.honour_retry_after) {
                    tokio::time::sleep(wait).await;
                }
                failed
            }
        }
    }
}

/// `overload_base` (one worker) or `overload` (`workers`): orders placed
/// as in `order_create` through `gateway`, which runs with a small
/// `MAX_IN_FLIGHT`. What it sheds comes back at once as 503 (counted under
/// `"503"`) with `Retry-After`, which the worker honours unless
/// `honour_retry_after` is false (then it calls again at once, as a client
/// in a retry storm would).
///
/// # Errors
/// A token or body could not be made, or the run failed.
pub async fn overload(
    ctx: &Context,
    gateway: Gateway,
    restaurant: &Restaurant,
    workers: usize,
    honour_retry_after: bool,
) -> anyhow::Result<Summary> {
    let ctx = Context {
        gateway,
        plan: Plan {
            concurrency: workers,
            ..ctx.plan
        },
        ..ctx.clone()
    };
    let tag = format!("overload{workers}");
    let calls = (0..workers)
        .map(|worker| {
            Ok(Overloading {
                placer: Placer::new(&ctx, restaurant, worker, &tag)?,
                honour_retry_after,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let finished = load::drive(&ctx.plan, calls).await?;
    Ok(finished.summary())
}

// ----------------------------------------------------- order_to_kitchen --

/// Where each order's ticket was first seen on the kitchen stream, and who
/// is waiting for which: the stream reader and the order workers meet
/// here, in either order (a ticket can beat its 201 to the tool).
///
/// A std mutex: it is held for a map lookup and never across an await.
#[derive(Debug, Default)]
pub struct TicketBoard {
    inner: Mutex<Board>,
}

#[derive(Debug, Default)]
struct Board {
    slots: HashMap<i64, Slot>,
    closed: bool,
}

#[derive(Debug)]
enum Slot {
    Seen(Instant),
    Awaited(oneshot::Sender<Instant>),
}

/// An order's ticket: already seen, to be awaited, or never coming.
#[derive(Debug)]
pub enum Sighting {
    /// It was on the stream at this moment.
    Seen(Instant),
    /// It will be sent here when it comes (the sender is dropped if the
    /// stream ends first).
    Pending(oneshot::Receiver<Instant>),
    /// The stream has ended: no ticket will be seen.
    Closed,
}

impl TicketBoard {
    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        // Nothing panics while holding the lock, so a poisoned one still
        // holds a consistent map.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The stream showed a ticket for `order_id` at `at`; only the first
    /// sighting counts.
    pub fn seen(&self, order_id: i64, at: Instant) {
        let mut board = self.board();
        match board.slots.remove(&order_id) {
            Some(Slot::Awaited(waiter)) => {
                let _ = waiter.send(at);
            }
            Some(seen @ Slot::Seen(_)) => {
                board.slots.insert(order_id, seen);
            }
            None => {
                board.slots.insert(order_id, Slot::Seen(at));
            }
        }
    }

    /// The ticket of `order_id`: when it was seen, or a way to wait for it.
    pub fn sighting(&self, order_id: i64) -> Sighting {
        let mut board = self.board();
        match board.slots.remove(&order_id) {
            Some(Slot::Seen(at)) => Sighting::Seen(at),
            _ if board.closed => Sighting::Closed,
            _ => {
                let (tx, rx) = oneshot::channel();
                board.slots.insert(order_id, Slot::Awaited(tx));
                Sighting::Pending(rx)
            }
        }
    }

    /// Gives up waiting for `order_id`.
    pub fn forget(&self, order_id: i64) {
        self.board().slots.remove(&order_id);
    }

    /// The stream ended: every waiter is told, and later ones at once.
    pub fn close(&self) {
        let mut board = self.board();
        board.closed = true;
        board.slots.retain(|_, slot| matches!(slot, Slot::Seen(_)));
    }
}

/// Reads the kitchen stream into `board` until it ends; `synced` fires at
/// the stream's `synced` event, once the open tickets have been sent and
/// every later change will follow.
async fn read_kitchen(mut stream: Stream, board: Arc<TicketBoard>, synced: oneshot::Sender<()>) {
    let mut parser = Parser::new();
    let mut synced = Some(synced);
    while let Some(Ok(chunk)) = stream.chunk().await {
        let now = Instant::now();
        for event in parser.feed(&chunk) {
            if event.name == "synced"
                && let Some(synced) = synced.take()
            {
                let _ = synced.send(());
            }
            if let Some(order_id) = sse::ticket_order_id(&event) {
                board.seen(order_id, now);
            }
        }
    }
    board.close();
}

struct OrderToKitchen {
    placer: Placer,
    board: Arc<TicketBoard>,
    timeout: Duration,
}

impl TicketBoard {
    /// When order `order_id`'s ticket was seen on the stream, waiting for
    /// it at most `timeout`; the failure when it never came.
    async fn ticket_of(&self, order_id: i64, timeout: Duration) -> Result<Instant, Outcome> {
        match self.sighting(order_id) {
            Sighting::Seen(at) => Ok(at),
            Sighting::Closed => Err(Outcome::failed("stream_ended", "the kitchen stream ended")),
            Sighting::Pending(waiting) => match tokio::time::timeout(timeout, waiting).await {
                Ok(Ok(at)) => Ok(at),
                Ok(Err(_)) => Err(Outcome::failed("stream_ended", "the kitchen stream ended")),
                Err(_) => {
                    self.forget(order_id);
                    Err(Outcome::failed(
                        "no_ticket",
                        format!("no ticket for order {order_id} within {timeout:?}"),
                    ))
                }
            },
        }
    }
}

impl Call for OrderToKitchen {
    async fn call(&mut self) -> Outcome {
        let (answered, order_id) = match self.placer.place().await {
            Ok(placed) => placed,
            Err(failed) => return failed,
        };
        let seen = match self.board.ticket_of(order_id, self.timeout).await {
            Ok(at) => at,
            Err(failed) => return failed,
        };
        if seen < answered {
            Outcome::OkEarly(answered - seen)
        } else {
            Outcome::OkAfter(seen - answered)
        }
    }
}

/// `order_to_kitchen`: with the restaurant's kitchen stream open as its
/// staff, `concurrency` workers each place an order and wait for its ticket
/// to show on the stream; the latency is from the 201 to the ticket. Use
/// a restaurant of its own, so the stream carries only these tickets.
///
/// # Errors
/// The stream could not be opened or did not sync in time, or the run
/// failed.
pub async fn order_to_kitchen(
    ctx: &Context,
    restaurant: &Restaurant,
    concurrency: usize,
) -> anyhow::Result<Summary> {
    with_kitchen_stream(ctx, restaurant, concurrency, |worker, board| {
        Ok(OrderToKitchen {
            placer: Placer::new(ctx, restaurant, worker, "kitchen")?,
            board,
            timeout: ctx.timeout,
        })
    })
    .await
}

/// Opens `restaurant`'s kitchen stream as its staff, waits for it to sync,
/// then drives `concurrency` calls made by `call` (each given its worker
/// and the board the stream fills) for the plan's window.
///
/// # Errors
/// The stream could not be opened or did not sync in time, a call could
/// not be made, or the run failed.
async fn with_kitchen_stream<C: Call>(
    ctx: &Context,
    restaurant: &Restaurant,
    concurrency: usize,
    call: impl Fn(usize, Arc<TicketBoard>) -> anyhow::Result<C>,
) -> anyhow::Result<Summary> {
    let staff = ctx.tokens.staff(restaurant.id)?;
    let stream = Stream::open(&ctx.gateway, "/api/kitchen/stream", &staff, ctx.timeout)
        .await
        .context("opening the kitchen stream")?;
    let board = Arc::new(TicketBoard::default());
    let (synced_tx, synced) = oneshot::channel();
    let reader = tokio::spawn(read_kitchen(stream, board.clone(), synced_tx));
    let outcome = async {
        tokio::time::timeout(ctx.timeout, synced)
            .await
            .context("the kitchen stream did not sync in time")?
            .context("the kitchen stream ended before it synced")?;
        let calls = (0..concurrency)
            .map(|worker| call(worker, board.clone()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let plan = Plan {
            concurrency,
            ..ctx.plan
        };
        let finished = load::drive(&plan, calls).await?;
        Ok(finished.summary())
    }
    .await;
    reader.abort();
    outcome
}

// ------------------------------------------------ card_order_to_kitchen --

struct CardOrderToKitchen {
    placer: Placer,
    board: Arc<TicketBoard>,
    timeout: Duration,
}

impl CardOrderToKitchen {
    /// Pays order `order_id` with the sandbox's approving card, under a
    /// key of the order's.
    async fn pay(&mut self, order_id: i64) -> Result<(), Outcome> {
        let body = Bytes::from(format!(
            r#"{{"order_id":{order_id},"payment_method":"card","source":"tok_visa"}}"#
        ));
        let mut request = self
            .placer
            .conn
            .gateway()
            .request(
                Method::POST,
                "/api/payments",
                Some(&self.placer.bearer),
                Some(body),
            )
            .map_err(|e| Outcome::failed("request", e.to_string()))?;
        let key = HeaderValue::from_str(&format!("{}-pay-{order_id}", self.placer.key_prefix))
            .map_err(|e| Outcome::failed("request", e.to_string()))?;
        request.headers_mut().insert("idempotency-key", key);
        match self.placer.conn.send(request).await {
            Ok(reply) if reply.status.is_success() => Ok(()),
            other => Err(http_outcome(other)),
        }
    }
}

impl Call for CardOrderToKitchen {
    async fn call(&mut self) -> Outcome {
        let started = Instant::now();
        let order_id = match self.placer.place().await {
            Ok((_, id)) => id,
            Err(failed) => return failed,
        };
        if let Err(failed) = self.pay(order_id).await {
            return failed;
        }
        match self.board.ticket_of(order_id, self.timeout).await {
            Ok(seen) => Outcome::OkAfter(seen - started),
            Err(failed) => failed,
        }
    }
}

/// `card_order_to_kitchen`: with the restaurant's kitchen stream open as
/// its staff, `concurrency` workers each place an order to be paid by
/// card, pay it with the sandbox's approving card (`tok_visa`) and wait
/// for its ticket on the stream; the latency is from sending the order to
/// the ticket — the two calls, the authorization's event to order-svc,
/// the confirmation's to kitchen-svc, and the stream.
///
/// # Errors
/// The stream could not be opened or did not sync in time, or the run
/// failed.
pub async fn card_order_to_kitchen(
    ctx: &Context,
    restaurant: &Restaurant,
    concurrency: usize,
) -> anyhow::Result<Summary> {
    with_kitchen_stream(ctx, restaurant, concurrency, |worker, board| {
        Ok(CardOrderToKitchen {
            placer: Placer::paying_by(ctx, restaurant, worker, "card", "card")?,
            board,
            timeout: ctx.timeout,
        })
    })
    .await
}

// ---------------------------------------------------- kitchen catch-up --

/// How far the kitchen was behind the orders once `order_create` stopped:
/// the confirmed orders travel to it through the outbox, Redis and its
/// consumer, after their 201.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatchUp {
    /// Orders `order_create` created.
    pub orders: usize,
    /// Of those, the ones whose ticket the kitchen stream showed.
    pub tickets: usize,
    /// From the end of `order_create` until the kitchen stream had shown
    /// every ticket (or until the wait was given up).
    pub seconds: f64,
    /// Whether every ticket was seen.
    pub complete: bool,
}

/// Watches `restaurant`'s kitchen until it shows a ticket for every order
/// in `created`, or `give_up` has passed; `since` is when the orders
/// stopped. Also keeps the next scenario from running while the event
/// pipeline is still busy with this one's backlog.
///
/// # Errors
/// The stream could not be opened.
pub async fn kitchen_catch_up(
    ctx: &Context,
    restaurant: &Restaurant,
    created: Vec<i64>,
    since: Instant,
    give_up: Duration,
) -> anyhow::Result<CatchUp> {
    let deadline = Instant::now() + give_up;
    let mut pending: HashSet<i64> = created.into_iter().collect();
    let orders = pending.len();
    let staff = ctx.tokens.staff(restaurant.id)?;
    let mut stream = Stream::open(&ctx.gateway, "/api/kitchen/stream", &staff, ctx.timeout)
        .await
        .context("opening the kitchen stream")?;
    let mut parser = Parser::new();
    while !pending.is_empty() {
        let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(deadline, stream.chunk()).await else {
            break;
        };
        for event in parser.feed(&chunk) {
            if let Some(order_id) = sse::ticket_order_id(&event) {
                pending.remove(&order_id);
            }
        }
    }
    Ok(CatchUp {
        orders,
        tickets: orders - pending.len(),
        seconds: (Instant::now() - since).as_secs_f64(),
        complete: pending.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_ticket_seen_before_its_order_is_awaited_is_found_at_once() {
        let board = TicketBoard::default();
        let at = Instant::now();

        board.seen(7, at);

        assert!(matches!(board.sighting(7), Sighting::Seen(t) if t == at));
    }

    #[tokio::test]
    async fn a_waiter_gets_the_first_sighting_of_its_ticket() {
        let board = TicketBoard::default();
        let Sighting::Pending(waiting) = board.sighting(7) else {
            panic!("nothing seen yet");
        };
        let first = Instant::now();

        board.seen(7, first);
        board.seen(7, first + Duration::from_secs(1));

        assert_eq!(waiting.await.ok(), Some(first));
    }

    #[tokio::test]
    async fn when_the_stream_ends_waiters_and_latecomers_hear_of_it() {
        let board = TicketBoard::default();
        let Sighting::Pending(waiting) = board.sighting(7) else {
            panic!("nothing seen yet");
        };

        board.close();

        assert!(waiting.await.is_err());
        assert!(matches!(board.sighting(8), Sighting::Closed));
    }

    #[test]
    fn order_workers_are_spread_over_the_customers() {
        let ctx = Context {
            gateway: Gateway::parse("http://127.0.0.1:8000").expect("url"),
            timeout: Duration::from_secs(1),
            plan: Plan {
                concurrency: 4,
                warmup: Duration::ZERO,
                duration: Duration::from_secs(1),
            },
            run_id: "r".to_owned(),
            tokens: Tokens::new("secret".to_owned()),
            lines: 1,
            customers: 3,
        };

        let customers: Vec<i64> = (0..4).map(|w| ctx.customer_of(w)).collect();

        assert_eq!(customers, [1, 2, 3, 1]);
    }
}
