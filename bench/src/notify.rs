//! The notification scenario: a bulk send through the gateway.
//!
//! - `bulk_send` — `--recipients` (10,000) customers, one in ten of whom
//!   has opted out of order updates by email, sent one template by email
//!   (`POST /api/notifications/bulk`); timed from the send being accepted
//!   to the last message settled, read from the job
//!   (`GET /api/notifications/bulk/{id}`). Its rate is messages settled
//!   per second; the mesh's email provider is the log provider, so this
//!   is what notification-svc itself sustains, at the pace
//!   `NOTIFY_RATE_EMAIL` allows (`bench/run.sh` raises it past the
//!   target).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::http::{Bearer, Conn};
use crate::scenarios::Context;
use crate::stats::Summary;

/// The template every run sends.
const KIND: &str = "bench_news";

/// One in this many recipients has opted out.
const OPTED_OUT_EVERY: usize = 10;

/// The longest a bulk send may take before the run gives up on it.
const GIVE_UP: Duration = Duration::from_secs(600);

#[derive(Debug, Deserialize)]
struct Job {
    id: i64,
    skipped: u64,
    pending: u64,
    sent: u64,
    delivered: u64,
    failed: u64,
}

async fn call(
    conn: &mut Conn,
    admin: &Bearer,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> anyhow::Result<(StatusCode, Bytes)> {
    let body = body.map(serde_json::to_vec).transpose()?.map(Bytes::from);
    let request = conn
        .gateway()
        .request(method.clone(), path, Some(admin), body)?;
    let reply = conn
        .send(request)
        .await
        .with_context(|| format!("{method} {path}"))?;
    Ok((reply.status, reply.body))
}

/// The bench template on email, made unless an earlier run made it.
async fn ensure_template(conn: &mut Conn, admin: &Bearer) -> anyhow::Result<()> {
    let template = json!({
        "kind": KIND, "channel": "email", "subject": "News from FoodMesh",
        "body": "Hi {name}, our new menu is out: {link}"
    });
    let (status, body) = call(
        conn,
        admin,
        Method::POST,
        "/api/notifications/templates",
        Some(&template),
    )
    .await?;
    if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
        bail!(
            "creating the bench template answered {status}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    Ok(())
}

/// `bulk_send`: `recipients` customers of this run sent one email each,
/// every tenth opted out beforehand.
///
/// # Errors
/// The gateway refused a step, or the send did not finish within ten
/// minutes.
pub async fn bulk_send(ctx: &Context, recipients: usize) -> anyhow::Result<Summary> {
    let admin = ctx.tokens.admin()?;
    let mut conn = ctx.conn();
    ensure_template(&mut conn, &admin).await?;
    // Customer ids of this run: far from any real customer's.
    let base = 2_000_000_000_i64
        + i64::from(u32::from_str_radix(&ctx.run_id[..ctx.run_id.len().min(6)], 16).unwrap_or(0))
            * 100_000;
    let opted_out: Vec<i64> = (0..recipients)
        .step_by(OPTED_OUT_EVERY)
        .map(|i| base + i as i64)
        .collect();
    let started = Instant::now();
    for customer in &opted_out {
        let body = json!({"customer_id": customer, "email": {"order_updates": false}});
        let (status, reply) = call(
            &mut conn,
            &admin,
            Method::POST,
            "/api/notifications/preferences",
            Some(&body),
        )
        .await?;
        if !status.is_success() {
            bail!(
                "opting customer {customer} out answered {status}: {}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    eprintln!(
        "foodmesh-bench: {} customers opted out in {:.1} s",
        opted_out.len(),
        started.elapsed().as_secs_f64()
    );
    let people: Vec<Value> = (0..recipients)
        .map(|i| {
            json!({"customer_id": base + i as i64, "name": format!("Bench Customer {i}"),
                   "email": format!("bench{i}@example.com")})
        })
        .collect();
    let send = json!({
        "template": KIND, "channel": "email", "category": "order_updates",
        "recipients": people, "values": {"link": "https://foodmesh.example/menu"}
    });
    let accepted_at = Instant::now();
    let (status, reply) = call(
        &mut conn,
        &admin,
        Method::POST,
        "/api/notifications/bulk",
        Some(&send),
    )
    .await?;
    let accepted = accepted_at.elapsed();
    if status != StatusCode::ACCEPTED {
        bail!(
            "the bulk send answered {status}: {}",
            String::from_utf8_lossy(&reply)
        );
    }
    let job: Job = serde_json::from_slice(&reply).context("the bulk send's job")?;
    let path = format!("/api/notifications/bulk/{}", job.id);
    let job = loop {
        let (status, reply) = call(&mut conn, &admin, Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            bail!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&reply)
            );
        }
        let job: Job = serde_json::from_slice(&reply).context("the bulk send's job")?;
        if job.pending == 0 {
            break job;
        }
        if accepted_at.elapsed() > GIVE_UP {
            bail!(
                "the bulk send still has {} messages pending after {GIVE_UP:?}",
                job.pending
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let seconds = accepted_at.elapsed().as_secs_f64();
    let settled = job.sent + job.delivered + job.failed;
    eprintln!(
        "foodmesh-bench: bulk send of {recipients} accepted in {} ms: {settled} settled, {} skipped, {} failed in {seconds:.2} s",
        accepted.as_millis(),
        job.skipped,
        job.failed
    );
    let mut errors = BTreeMap::new();
    if job.failed > 0 {
        errors.insert("failed".to_owned(), job.failed);
    }
    let expected_skips = opted_out.len() as u64;
    if job.skipped != expected_skips {
        bail!(
            "the bulk send skipped {} recipients, where {expected_skips} had opted out",
            job.skipped
        );
    }
    Ok(Summary {
        requests: settled,
        ok: job.sent + job.delivered,
        error_count: job.failed,
        rps: (job.sent + job.delivered) as f64 / seconds.max(f64::EPSILON),
        seconds,
        latency_ms: None,
        early: None,
        errors,
        error_samples: BTreeMap::new(),
        cpu: None,
    })
}
