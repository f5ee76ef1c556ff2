//! Outcomes and latencies: what one call came to ([`Outcome`]), one
//! worker's tally of them ([`Recorder`]), the merged tally of a scenario
//! reduced to the figures a report shows ([`Summary`]), and the ratios
//! between two scenarios ([`ratio`]).
//!
//! Latencies are kept in microseconds in an HDR histogram per worker, so
//! recording costs no allocation and no lock on the hot path; the
//! histograms are added together once the run is over.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::cpu::CpuUse;

/// The slowest latency a histogram tells apart, in microseconds (one hour):
/// slower ones are counted at this value.
const MAX_MICROS: u64 = 3_600_000_000;
/// Significant decimal digits kept: 3 is 0.1 % resolution at every scale.
const SIGNIFICANT_DIGITS: u8 = 3;

/// What one call came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded; its latency is the time the call took.
    Ok,
    /// It succeeded; its latency is this, measured by the call itself
    /// because the interesting interval is not the whole call (from an
    /// order's 201 to its kitchen ticket, say).
    OkAfter(Duration),
    /// It succeeded, but what it waited for came this long *before* the
    /// moment its latency is measured from (a kitchen ticket on the stream
    /// before the tool had read its order's 201). Counted at latency 0 and
    /// tallied apart, so a report shows how often and by how much.
    OkEarly(Duration),
    /// It failed. `key` groups failures in the report: an HTTP status
    /// (`"409"`), a gRPC code (`"grpc Unavailable"`), `"timeout"`,
    /// `"transport"`, a SQLSTATE. `detail` is kept for the first failure of
    /// each key, so a report says what went wrong and not only how often.
    Failed {
        /// The group it is counted under.
        key: String,
        /// What it said.
        detail: String,
    },
}

impl Outcome {
    /// A failure under `key`, with what it said.
    pub fn failed(key: impl Into<String>, detail: impl Into<String>) -> Self {
        Outcome::Failed {
            key: key.into(),
            detail: detail.into(),
        }
    }
}

/// One worker's tally: successes with their latencies, failures by key.
#[derive(Debug, Clone)]
pub struct Recorder {
    latencies: Histogram<u64>,
    ok: u64,
    early: u64,
    max_lead: Duration,
    errors: BTreeMap<String, u64>,
    samples: BTreeMap<String, String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty tally.
    pub fn new() -> Self {
        Self {
            // The bounds are constants within what the histogram supports.
            latencies: Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS)
                .expect("constant histogram bounds are valid"),
            ok: 0,
            early: 0,
            max_lead: Duration::ZERO,
            errors: BTreeMap::new(),
            samples: BTreeMap::new(),
        }
    }

    /// Counts one call: `took` is its wall time, used unless the outcome
    /// carries its own latency.
    pub fn record(&mut self, outcome: Outcome, took: Duration) {
        match outcome {
            Outcome::Ok => self.ok(took),
            Outcome::OkAfter(latency) => self.ok(latency),
            Outcome::OkEarly(lead) => {
                self.ok(Duration::ZERO);
                self.early += 1;
                self.max_lead = self.max_lead.max(lead);
            }
            Outcome::Failed { key, detail } => {
                *self.errors.entry(key.clone()).or_insert(0) += 1;
                self.samples.entry(key).or_insert(detail);
            }
        }
    }

    fn ok(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        // A latency under 1 µs is still a latency: the histogram's floor is 1.
        self.latencies.saturating_record(micros.max(1));
        self.ok += 1;
    }

    /// Adds another worker's tally to this one.
    ///
    /// # Errors
    /// The other histogram holds values this one cannot; both are made by
    /// [`Recorder::new`] with the same bounds, so this does not happen.
    pub fn merge(&mut self, other: &Recorder) -> Result<(), hdrhistogram::AdditionError> {
        self.latencies.add(&other.latencies)?;
        self.ok += other.ok;
        self.early += other.early;
        self.max_lead = self.max_lead.max(other.max_lead);
        for (key, count) in &other.errors {
            *self.errors.entry(key.clone()).or_insert(0) += count;
        }
        for (key, detail) in &other.samples {
            self.samples
                .entry(key.clone())
                .or_insert_with(|| detail.clone());
        }
        Ok(())
    }

    /// Successful calls so far.
    pub fn ok_count(&self) -> u64 {
        self.ok
    }

    /// The figures of this tally over a measured window of `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> Summary {
        let seconds = elapsed.as_secs_f64();
        let ms = |micros: u64| round3(micros as f64 / 1000.0);
        let latency_ms = (self.ok > 0).then(|| Latency {
            p50: ms(self.latencies.value_at_quantile(0.50)),
            p90: ms(self.latencies.value_at_quantile(0.90)),
            p99: ms(self.latencies.value_at_quantile(0.99)),
            max: ms(self.latencies.max()),
        });
        let error_count: u64 = self.errors.values().sum();
        Summary {
            requests: self.ok + error_count,
            ok: self.ok,
            error_count,
            rps: if seconds > 0.0 {
                round3(self.ok as f64 / seconds)
            } else {
                0.0
            },
            seconds: round3(seconds),
            latency_ms,
            early: (self.early > 0).then(|| Early {
                count: self.early,
                max_lead_ms: round3(self.max_lead.as_secs_f64() * 1000.0),
            }),
            errors: self.errors.clone(),
            error_samples: self.samples.clone(),
            cpu: None,
        }
    }
}

/// One scenario's figures, as the report shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Calls that completed within the measured window, either way.
    pub requests: u64,
    /// Of those, the successful ones.
    pub ok: u64,
    /// Of those, the failed ones (the sum of `errors`).
    pub error_count: u64,
    /// Successful calls per second of the measured window.
    pub rps: f64,
    /// Length of the measured window.
    pub seconds: f64,
    /// Latency of the successful calls, in milliseconds; absent when none
    /// succeeded.
    pub latency_ms: Option<Latency>,
    /// Successful calls whose awaited event came before their reference
    /// moment (counted in `latency_ms` at 0); absent when none did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early: Option<Early>,
    /// Failed calls by key (an HTTP status, a gRPC code, `timeout`, …).
    pub errors: BTreeMap<String, u64>,
    /// What the first failure of each key said.
    pub error_samples: BTreeMap<String, String>,
    /// The CPU the machine's processes spent per successful call in the
    /// measured window; `None` without `/proc` (or before it is read).
    pub cpu: Option<CpuUse>,
}

/// Percentiles of a latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// Calls whose awaited event beat their reference moment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Early {
    pub count: u64,
    /// The largest lead, in milliseconds.
    pub max_lead_ms: f64,
}

/// `numerator`'s throughput as a fraction of `denominator`'s: how much of
/// a limit a path reaches. `None` when the denominator did nothing, since a
/// ratio to zero says nothing.
pub fn ratio(numerator: &Summary, denominator: &Summary) -> Option<f64> {
    (denominator.rps > 0.0).then(|| round3(numerator.rps / denominator.rps))
}

/// Three decimals: finer than any of these figures are repeatable.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn an_empty_tally_has_no_latency_and_no_throughput() {
        let summary = Recorder::new().summary(Duration::from_secs(10));

        assert_eq!(summary.requests, 0);
        assert_eq!(summary.rps, 0.0);
        assert_eq!(summary.latency_ms, None);
    }

    #[test]
    fn percentiles_come_from_the_successful_calls_only() {
        let mut r = Recorder::new();
        for i in 1..=100 {
            r.record(Outcome::Ok, ms(i));
        }
        r.record(Outcome::failed("500", "boom"), ms(10_000));

        let s = r.summary(Duration::from_secs(10));

        let latency = s.latency_ms.expect("latency");
        // HDR histograms are exact to 3 significant digits.
        assert!((latency.p50 - 50.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p90 - 90.0).abs() < 0.1, "{latency:?}");
        assert!((latency.p99 - 99.0).abs() < 0.1, "{latency:?}");
        assert!((latency.max - 100.0).abs() < 0.1, "{latency:?}");
        assert_eq!(s.ok, 100);
        assert_eq!(s.error_count, 1);
        assert_eq!(s.requests, 101);
        assert_eq!(s.rps, 10.0);
    }

    #[test]
    fn a_self_measured_latency_replaces_the_wall_time() {
        let mut r = Recorder::new();
        r.record(Outcome::OkAfter(ms(7)), ms(500));

        let latency = r
            .summary(Duration::from_secs(1))
            .latency_ms
            .expect("latency");

        assert!((latency.max - 7.0).abs() < 0.01, "{latency:?}");
    }

    #[test]
    fn an_early_event_counts_at_zero_and_is_tallied_with_its_lead() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        a.record(Outcome::OkEarly(ms(3)), ms(500));
        b.record(Outcome::OkEarly(ms(9)), ms(500));
        b.record(Outcome::OkAfter(ms(4)), ms(500));

        a.merge(&b).expect("same bounds");
        let s = a.summary(Duration::from_secs(1));

        assert_eq!(s.ok, 3);
        assert_eq!(
            s.early,
            Some(Early {
                count: 2,
                max_lead_ms: 9.0
            })
        );
        let latency = s.latency_ms.expect("latency");
        assert!(latency.p50 < 0.01, "{latency:?}");
        assert_eq!(Recorder::new().summary(ms(1000)).early, None);
    }

    #[test]
    fn merging_adds_counts_latencies_and_errors_and_keeps_the_first_sample() {
        let mut a = Recorder::new();
        let mut b = Recorder::new();
        a.record(Outcome::Ok, ms(1));
        a.record(Outcome::failed("409", "first"), ms(1));
        b.record(Outcome::Ok, ms(300));
        b.record(Outcome::failed("409", "second"), ms(1));
        b.record(Outcome::failed("timeout", "slow"), ms(1));

        a.merge(&b).expect("same bounds");
        let s = a.summary(Duration::from_secs(2));

        assert_eq!(s.ok, 2);
        assert_eq!(s.rps, 1.0);
        assert_eq!(s.errors.get("409"), Some(&2));
        assert_eq!(s.errors.get("timeout"), Some(&1));
        assert_eq!(
            s.error_samples.get("409").map(String::as_str),
            Some("first")
        );
        let latency = s.latency_ms.expect("latency");
        assert!((latency.max - 300.0).abs() < 0.5, "{latency:?}");
        assert!((latency.p50 - 1.0).abs() < 0.01, "{latency:?}");
    }

    #[test]
    fn a_ratio_divides_throughputs_and_refuses_a_zero_denominator() {
        let mut fast = Recorder::new();
        let mut slow = Recorder::new();
        for _ in 0..300 {
            fast.record(Outcome::Ok, ms(1));
        }
        for _ in 0..100 {
            slow.record(Outcome::Ok, ms(1));
        }
        let second = Duration::from_secs(1);
        let (fast, slow) = (fast.summary(second), slow.summary(second));

        assert_eq!(ratio(&slow, &fast), Some(0.333));
        assert_eq!(ratio(&fast, &slow), Some(3.0));
        assert_eq!(ratio(&fast, &Recorder::new().summary(second)), None);
    }
}
