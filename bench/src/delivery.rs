//! The delivery scenarios: drivers' live positions through the gateway,
//! and the nearest-driver assignment with many drivers online.
//!
//! - `driver_location` — `PUT /api/drivers/{id}/location`, each worker as
//!   its own driver moving about the city;
//! - `nearest_driver` — with `--drivers` (10,000) drivers online around
//!   the city, straight to delivery-svc: a delivery opened at a random
//!   restaurant (`CreateDelivery`, not timed), then `AssignDriver` with no
//!   driver named (the nearest free one), timed. The service's own
//!   assigner, woken by the opening, races the call: when it assigns the
//!   delivery first, the call is counted under `assigner_first`, not
//!   timed, since it did no search.

use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use foodmesh_proto::common::v1 as common;
use foodmesh_proto::delivery::v1 as pb;
use foodmesh_proto::delivery::v1::delivery_service_client::DeliveryServiceClient;
use foodmesh_proto::order::v1 as order_pb;
use http::Method;
use tokio::time::Instant;
use tonic::transport::{Channel, Endpoint};

use crate::http::{Bearer, Conn};
use crate::load::{self, Call};
use crate::scenarios::{Context, http_outcome};
use crate::stats::{Outcome, Summary};

/// Where the city is: lower Manhattan, about 10 km across.
const CITY: (f64, f64) = (40.73, -73.99);
const SPAN: f64 = 0.09;

/// A small, fast, seeded generator: positions need spread, not secrecy.
struct Walk(u64);

impl Walk {
    fn next(&mut self) -> f64 {
        // xorshift64*.
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let bits = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        bits as f64 / (1u64 << 53) as f64
    }

    fn point(&mut self) -> (f64, f64) {
        (
            CITY.0 + (self.next() - 0.5) * SPAN,
            CITY.1 + (self.next() - 0.5) * SPAN,
        )
    }
}

async fn delivery_client(
    url: &str,
    ctx: &Context,
) -> anyhow::Result<DeliveryServiceClient<Channel>> {
    let channel = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("bad delivery-svc address {url}"))?
        .tcp_nodelay(true)
        .connect_timeout(ctx.timeout)
        .connect()
        .await
        .with_context(|| format!("delivery-svc is not answering at {url}"))?;
    Ok(DeliveryServiceClient::new(channel))
}

/// Adds `count` available drivers at random points of the city, `workers`
/// at a time; their ids.
async fn add_drivers(
    client: &DeliveryServiceClient<Channel>,
    run_id: &str,
    count: usize,
    workers: usize,
) -> anyhow::Result<Vec<i64>> {
    let digits: u64 = run_id
        .bytes()
        .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers.max(1) {
        let mut client = client.clone();
        tasks.spawn(async move {
            let mut walk = Walk(digits ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9));
            let mut ids = Vec::new();
            for n in (worker..count).step_by(workers.max(1)) {
                let (latitude, longitude) = walk.point();
                // Unique per run and driver: +1 555 then 8 digits.
                let phone = format!("+1555{:08}", (digits % 10_000) * 10_000 + n as u64 % 10_000);
                let driver = client
                    .create_driver(pb::CreateDriverRequest {
                        name: format!("Bench Driver {n}"),
                        phone,
                        vehicle: "scooter".to_owned(),
                        location: Some(common::GeoPoint {
                            latitude,
                            longitude,
                        }),
                    })
                    .await?
                    .into_inner();
                client
                    .update_driver(pb::UpdateDriverRequest {
                        driver_id: driver.id,
                        available: Some(true),
                    })
                    .await?;
                ids.push(driver.id);
            }
            Ok::<_, tonic::Status>(ids)
        });
    }
    let mut all = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        all.extend(
            done.context("a driver-adding task")?
                .context("adding drivers")?,
        );
    }
    Ok(all)
}

// ------------------------------------------------------ driver_location --

struct DriverLocation {
    conn: Conn,
    bearer: Bearer,
    path: String,
    walk: Walk,
}

impl Call for DriverLocation {
    async fn call(&mut self) -> Outcome {
        let (latitude, longitude) = self.walk.point();
        let body = Bytes::from(format!(
            r#"{{"latitude":{latitude:.6},"longitude":{longitude:.6}}}"#
        ));
        let request = match self.conn.gateway().request(
            Method::PUT,
            &self.path,
            Some(&self.bearer),
            Some(body),
        ) {
            Ok(request) => request,
            Err(e) => return Outcome::failed("request", e.to_string()),
        };
        match self.conn.send(request).await {
            Ok(reply) if reply.status.is_success() => Outcome::Ok,
            other => http_outcome(other),
        }
    }
}

/// `driver_location`: each worker reports positions for a driver of its
/// own, through the gateway.
///
/// # Errors
/// The drivers could not be added, or the run failed.
pub async fn driver_location(ctx: &Context, delivery_grpc: &str) -> anyhow::Result<Summary> {
    let client = delivery_client(delivery_grpc, ctx).await?;
    let workers = ctx.plan.concurrency;
    let ids = add_drivers(&client, &format!("{}-loc", ctx.run_id), workers, workers).await?;
    let calls = ids
        .iter()
        .enumerate()
        .map(|(n, id)| {
            Ok(DriverLocation {
                conn: ctx.conn(),
                bearer: ctx.tokens.driver(*id)?,
                path: format!("/api/drivers/{id}/location"),
                walk: Walk(0x5EED ^ (n as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(load::drive(&ctx.plan, calls).await?.summary())
}

// ------------------------------------------------------- nearest_driver --

struct NearestDriver {
    client: DeliveryServiceClient<Channel>,
    walk: Walk,
    next_order: i64,
    timeout: Duration,
}

impl Call for NearestDriver {
    async fn call(&mut self) -> Outcome {
        self.next_order += 1;
        let (latitude, longitude) = self.walk.point();
        let order = order_pb::Order {
            id: self.next_order,
            restaurant_id: 1,
            order_type: order_pb::OrderType::Delivery.into(),
            status: order_pb::OrderStatus::Confirmed.into(),
            restaurant_location: Some(common::GeoPoint {
                latitude,
                longitude,
            }),
            ..Default::default()
        };
        let opened = tokio::time::timeout(
            self.timeout,
            self.client
                .create_delivery(pb::CreateDeliveryRequest { order: Some(order) }),
        )
        .await;
        let delivery = match opened {
            Ok(Ok(reply)) => reply.into_inner(),
            Ok(Err(status)) => {
                return Outcome::failed(format!("grpc {:?}", status.code()), status.message());
            }
            Err(_) => return Outcome::failed("timeout", "opening the delivery"),
        };
        let started = Instant::now();
        let assigned = tokio::time::timeout(
            self.timeout,
            self.client.assign_driver(pb::AssignDriverRequest {
                delivery_id: delivery.id,
                driver_id: 0,
                actor: None,
            }),
        )
        .await;
        let took = started.elapsed();
        match assigned {
            Ok(Ok(_)) => Outcome::OkAfter(took),
            // The assigner may have been first: the call then did no
            // search. Anything else is no driver found.
            Ok(Err(status)) if status.code() == tonic::Code::FailedPrecondition => {
                let now = self
                    .client
                    .get_delivery(pb::GetDeliveryRequest {
                        id: delivery.id,
                        as_driver_id: 0,
                    })
                    .await;
                match now {
                    Ok(d) if d.get_ref().driver_id > 0 => Outcome::failed(
                        "assigner_first",
                        "the service's assigner assigned it before the call",
                    ),
                    _ => Outcome::failed("no_driver", status.message()),
                }
            }
            Ok(Err(status)) => {
                Outcome::failed(format!("grpc {:?}", status.code()), status.message())
            }
            Err(_) => Outcome::failed("timeout", "assigning"),
        }
    }
}

/// `nearest_driver`: `drivers` drivers online around the city, then each
/// worker opens a delivery at a random point and assigns it to the
/// nearest free driver, straight to delivery-svc.
///
/// # Errors
/// The drivers could not be added, or the run failed.
pub async fn nearest_driver(
    ctx: &Context,
    delivery_grpc: &str,
    drivers: usize,
) -> anyhow::Result<Summary> {
    let client = delivery_client(delivery_grpc, ctx).await?;
    let added = Instant::now();
    add_drivers(&client, &format!("{}-near", ctx.run_id), drivers, 16).await?;
    eprintln!(
        "foodmesh-bench: {drivers} drivers online in {:.1} s",
        added.elapsed().as_secs_f64()
    );
    // Order ids of this run: far from any real order's.
    let base = 1_000_000_000_i64
        + i64::from(u32::from_str_radix(&ctx.run_id[..ctx.run_id.len().min(6)], 16).unwrap_or(0))
            * 1_000;
    let calls = (0..ctx.plan.concurrency)
        .map(|worker| NearestDriver {
            client: client.clone(),
            walk: Walk(0xD1CE ^ (worker as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            next_order: base * 100 + (worker as i64) * 10_000_000,
            timeout: ctx.timeout,
        })
        .collect();
    Ok(load::drive(&ctx.plan, calls).await?.summary())
}
