//! Circuit breakers, one per upstream service. After `BREAKER_FAILURES`
//! calls in a row fail for want of the service (UNAVAILABLE, or no answer
//! within the deadline), the breaker opens: for `BREAKER_OPEN_MS` every
//! call to that service is refused at once, so callers get a 503 with
//! `Retry-After` straight away instead of each waiting out a deadline. Then
//! one call is let through as a probe (half-open): its success closes the
//! breaker, its failure opens it again. A service's own answers (not
//! found, invalid, conflict) are successes here: it is up and talking.
//!
//! State is exported as `gateway_circuit_state{upstream}` (0 closed, 1 open,
//! 2 half-open), with `gateway_circuit_opened_total{upstream}` and
//! `gateway_circuit_refused_total{upstream}`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// When a breaker opens and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Failures in a row that open it.
    pub failures: u32,
    /// How long it stays open before a probe.
    pub open_for: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

impl State {
    fn gauge(self) -> f64 {
        match self {
            State::Closed { .. } => 0.0,
            State::Open { .. } => 1.0,
            State::HalfOpen { .. } => 2.0,
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    upstream: &'static str,
    config: BreakerConfig,
    state: Mutex<State>,
}

/// What a refused call is told: how long until the breaker lets a probe
/// through (at least a second, as `Retry-After` counts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub retry_after: Duration,
}

impl Breaker {
    /// A closed breaker for `upstream` (its service id, the metric label).
    pub fn new(upstream: &'static str, config: BreakerConfig) -> Arc<Self> {
        metrics::gauge!("gateway_circuit_state", "upstream" => upstream).set(0.0);
        // From zero, so the dashboards show none rather than no data.
        metrics::counter!("gateway_circuit_opened_total", "upstream" => upstream).increment(0);
        metrics::counter!("gateway_circuit_refused_total", "upstream" => upstream).increment(0);
        Arc::new(Self {
            upstream,
            config,
            state: Mutex::new(State::Closed { failures: 0 }),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value, valid whatever panicked while the
        // lock was held.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets a call through, with the ticket its outcome is reported on, or
    /// refuses it.
    ///
    /// # Errors
    /// [`Refused`] while the breaker is open, or half-open with its probe
    /// still out.
    pub fn admit(self: &Arc<Self>) -> Result<Ticket, Refused> {
        let mut state = self.state();
        let now = Instant::now();
        let probe = match *state {
            State::Closed { .. } => false,
            State::Open { until } if now >= until => {
                self.enter(&mut state, State::HalfOpen { probing: true });
                true
            }
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                true
            }
            State::Open { until } => return Err(self.refuse(until - now)),
            State::HalfOpen { probing: true } => return Err(self.refuse(Duration::ZERO)),
        };
        Ok(Ticket {
            breaker: self.clone(),
            probe,
            settled: false,
        })
    }

    fn refuse(&self, remaining: Duration) -> Refused {
        metrics::counter!("gateway_circuit_refused_total", "upstream" => self.upstream)
            .increment(1);
        Refused {
            retry_after: remaining.max(Duration::from_secs(1)),
        }
    }

    fn enter(&self, state: &mut State, next: State) {
        *state = next;
        metrics::gauge!("gateway_circuit_state", "upstream" => self.upstream).set(next.gauge());
    }

    fn settle(&self, probe: bool, failed: bool) {
        let mut state = self.state();
        match (*state, probe, failed) {
            (State::Closed { .. }, false, false) => *state = State::Closed { failures: 0 },
            (State::Closed { failures }, false, true) => {
                let failures = failures + 1;
                if failures >= self.config.failures {
                    tracing::warn!(
                        upstream = self.upstream,
                        failures,
                        open_ms = self.config.open_for.as_millis(),
                        "circuit open: calls to the service fail fast until a probe succeeds"
                    );
                    metrics::counter!("gateway_circuit_opened_total", "upstream" => self.upstream)
                        .increment(1);
                    let until = Instant::now() + self.config.open_for;
                    self.enter(&mut state, State::Open { until });
                } else {
                    *state = State::Closed { failures };
                }
            }
            (State::HalfOpen { .. }, true, false) => {
                tracing::info!(
                    upstream = self.upstream,
                    "circuit closed: the probe succeeded"
                );
                self.enter(&mut state, State::Closed { failures: 0 });
            }
            (State::HalfOpen { .. }, true, true) => {
                metrics::counter!("gateway_circuit_opened_total", "upstream" => self.upstream)
                    .increment(1);
                let until = Instant::now() + self.config.open_for;
                self.enter(&mut state, State::Open { until });
            }
            // A call let through before the breaker opened, ending after:
            // the probe decides, not it.
            _ => {}
        }
    }

    fn abandon_probe(&self) {
        let mut state = self.state();
        if *state == (State::HalfOpen { probing: true }) {
            *state = State::HalfOpen { probing: false };
        }
    }
}

/// One admitted call; report how it went. A ticket dropped unreported (the
/// caller went away mid-call) counts as neither, and frees the probe slot.
#[derive(Debug)]
pub struct Ticket {
    breaker: Arc<Breaker>,
    probe: bool,
    settled: bool,
}

impl Ticket {
    /// The service answered (whatever it answered).
    pub fn succeeded(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, false);
    }

    /// The service was not there or did not answer in time.
    pub fn failed(mut self) {
        self.settled = true;
        self.breaker.settle(self.probe, true);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.abandon_probe();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(open_for: Duration) -> Arc<Breaker> {
        Breaker::new(
            "restaurant-svc",
            BreakerConfig {
                failures: 3,
                open_for,
            },
        )
    }

    fn fail(breaker: &Arc<Breaker>, times: usize) {
        for _ in 0..times {
            breaker.admit().expect("admitted").failed();
        }
    }

    #[test]
    fn a_run_of_failures_opens_it_and_a_success_breaks_the_run() {
        let breaker = breaker(Duration::from_secs(60));
        fail(&breaker, 2);
        breaker.admit().expect("admitted").succeeded();
        fail(&breaker, 2);
        assert!(breaker.admit().is_ok(), "two in a row do not open it");
        fail(&breaker, 1);
        let refused = breaker.admit().expect_err("open after three in a row");
        assert!(refused.retry_after > Duration::from_secs(59), "{refused:?}");
    }

    #[test]
    fn after_the_open_time_one_probe_goes_through_and_its_success_closes_it() {
        let breaker = breaker(Duration::ZERO);
        fail(&breaker, 3);
        let probe = breaker.admit().expect("the probe");
        let waiting = breaker.admit().expect_err("one probe at a time");
        assert_eq!(waiting.retry_after, Duration::from_secs(1));
        probe.succeeded();
        for _ in 0..5 {
            breaker.admit().expect("closed").succeeded();
        }
    }

    #[test]
    fn a_failed_probe_opens_it_again() {
        let breaker = breaker(Duration::ZERO);
        fail(&breaker, 3);
        breaker.admit().expect("the probe").failed();
        assert!(
            matches!(*breaker.state(), State::Open { .. }),
            "open again: {:?}",
            *breaker.state()
        );
    }

    #[test]
    fn a_probe_whose_caller_went_away_frees_the_slot() {
        let breaker = breaker(Duration::ZERO);
        fail(&breaker, 3);
        drop(breaker.admit().expect("the probe"));
        breaker.admit().expect("another probe").succeeded();
        assert!(breaker.admit().is_ok());
    }
}
