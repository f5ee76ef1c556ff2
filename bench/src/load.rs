//! The closed loop: `concurrency` workers, each calling as fast as its
//! previous call returns, for a warm-up and then a measured window.
//!
//! Closed rather than open (a fixed arrival rate) because the question is
//! the most a path sustains at a given concurrency: a closed loop settles
//! at exactly that, where an open one past the limit only measures its own
//! queue.
//!
//! A call counts when it *completes* inside the measured window, as wrk
//! counts: calls still running at the start of the window or at its end
//! are cut the same way at both edges, so the count over the window is the
//! throughput. Each worker records into its own [`Recorder`]; they are
//! merged once all have stopped.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;

use crate::cpu;
use crate::stats::{Outcome, Recorder, Summary};

/// One worker's way of making a call; each worker owns one, with its own
/// connection, so workers never wait on each other inside the tool.
pub trait Call: Send + 'static {
    /// Makes one call and says how it went. A call bounds its own time
    /// (and says `timeout`), because only it knows how to leave its
    /// connection usable afterwards.
    fn call(&mut self) -> impl Future<Output = Outcome> + Send;
}

/// How long and how wide one scenario runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Workers calling at once.
    pub concurrency: usize,
    /// Calls made before the measured window and not counted: connections,
    /// pools, caches and the JIT-less-but-still-cold paths settle here.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
}

/// What a run of one scenario leaves behind.
#[derive(Debug)]
pub struct Finished<C> {
    /// Every worker's tally, merged.
    pub recorder: Recorder,
    /// The workers' calls, handed back for what they collected (the ids
    /// of the orders they created, say).
    pub calls: Vec<C>,
    /// The measured window.
    pub elapsed: Duration,
    /// The machine's CPU at the start and the end of the window.
    pub cpu: cpu::Window,
}

impl<C> Finished<C> {
    /// The scenario's figures, with the CPU spent per successful call.
    pub fn summary(&self) -> Summary {
        let mut summary = self.recorder.summary(self.elapsed);
        summary.cpu = self.cpu.per_call(summary.ok);
        summary
    }
}

/// Runs `calls` (one per worker, so `calls.len()` is the concurrency) for
/// `plan`'s warm-up and window.
///
/// # Errors
/// A worker panicked, or the tallies could not be merged.
pub async fn drive<C: Call>(plan: &Plan, calls: Vec<C>) -> anyhow::Result<Finished<C>> {
    let begin = Instant::now() + plan.warmup;
    let end = begin + plan.duration;
    let sampler = cpu::sample_window(begin, end);
    let workers: Vec<_> = calls
        .into_iter()
        .map(|call| tokio::spawn(work(call, begin, end)))
        .collect();
    let mut recorder = Recorder::new();
    let mut calls = Vec::with_capacity(workers.len());
    for worker in workers {
        let (call, tally) = worker.await.context("a load worker panicked")?;
        recorder
            .merge(&tally)
            .context("merging the workers' latencies")?;
        calls.push(call);
    }
    Ok(Finished {
        recorder,
        calls,
        elapsed: plan.duration,
        cpu: sampler.await.context("the CPU sampler panicked")?,
    })
}

async fn work<C: Call>(mut call: C, begin: Instant, end: Instant) -> (C, Recorder) {
    let mut tally = Recorder::new();
    while Instant::now() < end {
        let started = Instant::now();
        let outcome = call.call().await;
        let done = Instant::now();
        if done >= begin && done <= end {
            tally.record(outcome, done - started);
        }
    }
    (call, tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Succeeds every other call, taking a millisecond of (paused) time.
    struct Alternating {
        n: u64,
    }

    impl Call for Alternating {
        async fn call(&mut self) -> Outcome {
            tokio::time::sleep(Duration::from_millis(1)).await;
            self.n += 1;
            if self.n.is_multiple_of(2) {
                Outcome::Ok
            } else {
                Outcome::failed("500", "odd")
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn calls_finishing_during_the_warm_up_are_not_counted() {
        let plan = Plan {
            concurrency: 2,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(100),
        };
        let calls = vec![Alternating { n: 0 }, Alternating { n: 0 }];

        let finished = drive(&plan, calls).await.expect("drive");

        let made: u64 = finished.calls.iter().map(|c| c.n).sum();
        let summary = finished.summary();
        // Each worker made ~200 calls and ~100 of them fell in the window.
        assert!(made >= 398, "{made}");
        assert!((198..=202).contains(&summary.requests), "{summary:?}");
        assert_eq!(summary.ok + summary.error_count, summary.requests);
        assert_eq!(finished.calls.len(), 2);
    }
}
