//! The time a service decides by — when an unpaid order times out, whether
//! a cancellation window has closed, when a lease or a hold runs out —
//! passed in rather than read from the system, so a test can move it
//! instead of waiting for it.
//!
//! Statements that decide by time bind the clock's `now` instead of calling
//! Postgres's `now()`; timers sleep on [`Clock::sleep`], which a manual
//! clock wakes as it is advanced.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use tokio::sync::watch;

/// The system's clock, or one that moves only when told to.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<watch::Sender<DateTime<Utc>>>>);

impl Clock {
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock standing at `start` until [`advance`](Self::advance)d.
    pub fn manual(start: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(watch::Sender::new(start.trunc_subsecs(6)))))
    }

    /// Now, to the microsecond Postgres keeps, so a time written and read
    /// back compares equal.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => Utc::now().trunc_subsecs(6),
            Some(manual) => *manual.borrow(),
        }
    }

    /// The time `duration` before now (the earliest time there is, for a
    /// duration longer than history).
    pub fn ago(&self, duration: Duration) -> DateTime<Utc> {
        chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| self.now().checked_sub_signed(d))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Moves a manual clock forward, waking the sleepers it passes. The
    /// system's clock moves by itself: this does nothing to it.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.0 {
            let by = chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
            manual.send_modify(|now| *now = now.checked_add_signed(by).unwrap_or(*now));
        }
    }

    /// Waits until `duration` has passed on this clock.
    pub async fn sleep(&self, duration: Duration) {
        let Some(manual) = &self.0 else {
            tokio::time::sleep(duration).await;
            return;
        };
        // A duration past the end of time waits for ever.
        let until = chrono::Duration::from_std(duration)
            .ok()
            .and_then(|d| self.now().checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut moves = manual.subscribe();
        // Only an advance can end the wait; a clock that is never advanced
        // sleeps for ever, as a timer far in the future would.
        while *moves.borrow_and_update() < until {
            if moves.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_moves_and_wakes_only_when_advanced() {
        let start = Utc::now();
        let clock = Clock::manual(start);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep(Duration::from_secs(60)).await }
        });
        // The sleep starts when the sleeper first runs.
        tokio::task::yield_now().await;
        clock.advance(Duration::from_secs(59));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());

        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(10), sleeper)
            .await
            .expect("woken by the advance")
            .expect("the sleeper ends");
        assert_eq!(
            clock.now(),
            start.trunc_subsecs(6) + chrono::Duration::seconds(60)
        );
    }

    #[test]
    fn now_has_the_precision_postgres_keeps() {
        let now = Clock::system().now();
        assert_eq!(now, now.trunc_subsecs(6));
    }
}
