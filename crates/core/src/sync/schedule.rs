//! When to sync: a pure state machine over triggers and round outcomes, with exponential backoff
//! and full jitter. No clock or randomness of its own: callers pass the time and a random
//! number, so every case is a line in a table test.

use std::time::Duration;

/// Why a sync round may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// The app started.
    Start,
    /// The network came back.
    ConnectivityRestored,
    /// The learner or a trainer asked for it ("sync now").
    Demand,
    /// A new receipt was recorded.
    NewReceipt,
}

/// How a round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoundOutcome {
    /// Everything sent was acknowledged and the outbox is empty.
    Complete,
    /// The service answered, but not everything could be settled (a gap, a rejection): retry
    /// later, backing off, since sending again at once cannot help.
    Partial,
    /// The service could not be reached or failed (offline, reset, 5xx).
    Failed,
}

/// Tunables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScheduleConfig {
    /// Sync this often when all is well.
    pub period: Duration,
    /// First retry delay cap after a failure; doubles per failure.
    pub backoff_base: Duration,
    /// The longest wait between attempts.
    pub backoff_max: Duration,
    /// After a new receipt, wait this long to batch it with the next ones.
    pub debounce: Duration,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            period: Duration::from_secs(15 * 60),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(30 * 60),
            debounce: Duration::from_secs(10),
        }
    }
}

/// The scheduler's state: when the next round is due, and how many rounds failed in a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub config: ScheduleConfig,
    /// Milliseconds (on the caller's monotonic clock) at which the next round is due.
    pub due_ms: u64,
    /// Failed or partial rounds in a row.
    pub failures: u32,
}

impl Schedule {
    /// A schedule with nothing due until a trigger arrives.
    pub fn new(config: ScheduleConfig) -> Self {
        Self {
            config,
            due_ms: u64::MAX,
            failures: 0,
        }
    }

    /// A trigger arrived at `now_ms`. Start, connectivity and demand mean "now" (they also end
    /// a backoff: the reason to wait may be gone); a new receipt means "soon", unless a retry is
    /// already due sooner, and never cuts a backoff short.
    pub fn trigger(&mut self, trigger: Trigger, now_ms: u64) {
        let due = match trigger {
            Trigger::Start | Trigger::ConnectivityRestored | Trigger::Demand => now_ms,
            Trigger::NewReceipt if self.failures > 0 => return,
            Trigger::NewReceipt => now_ms.saturating_add(ms(self.config.debounce)),
        };
        self.due_ms = self.due_ms.min(due);
    }

    /// A round ended at `now_ms`; `random` is a uniform random number in [0, 1) for the jitter.
    pub fn finished(&mut self, outcome: RoundOutcome, now_ms: u64, random: f64) {
        match outcome {
            RoundOutcome::Complete => {
                self.failures = 0;
                self.due_ms = now_ms.saturating_add(ms(self.config.period));
            }
            RoundOutcome::Partial | RoundOutcome::Failed => {
                self.failures = self.failures.saturating_add(1);
                self.due_ms = now_ms.saturating_add(self.backoff_ms(random));
            }
        }
    }

    /// "Full jitter": a uniform delay in [0, min(max, base * 2^(failures-1))], at least 1 s so a
    /// dead link is not hammered.
    fn backoff_ms(&self, random: f64) -> u64 {
        let exp = self.failures.saturating_sub(1).min(30);
        let cap = ms(self.config.backoff_base)
            .saturating_mul(1u64 << exp)
            .min(ms(self.config.backoff_max));
        let random = random.clamp(0.0, 1.0);
        // `cap` is at most 30 minutes in ms, far inside f64's exact integer range.
        ((cap as f64 * random) as u64).max(1_000)
    }

    /// How long from `now_ms` until the next round (zero if due).
    pub fn wait(&self, now_ms: u64) -> Option<Duration> {
        (self.due_ms != u64::MAX).then(|| Duration::from_millis(self.due_ms.saturating_sub(now_ms)))
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ScheduleConfig {
        ScheduleConfig {
            period: Duration::from_secs(900),
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(60),
            debounce: Duration::from_secs(10),
        }
    }

    #[test]
    fn triggers_case_table() {
        let idle = Schedule::new(config());
        let backing_off = Schedule {
            config: config(),
            due_ms: 50_000,
            failures: 3,
        };
        let cases = [
            ("start syncs at once", idle, Trigger::Start, 1_000, 1_000),
            ("demand syncs at once", idle, Trigger::Demand, 1_000, 1_000),
            (
                "connectivity syncs at once",
                idle,
                Trigger::ConnectivityRestored,
                1_000,
                1_000,
            ),
            (
                "a new receipt waits for company",
                idle,
                Trigger::NewReceipt,
                1_000,
                11_000,
            ),
            (
                "demand ends a backoff",
                backing_off,
                Trigger::Demand,
                1_000,
                1_000,
            ),
            (
                "connectivity ends a backoff",
                backing_off,
                Trigger::ConnectivityRestored,
                1_000,
                1_000,
            ),
            (
                "a new receipt does not end a backoff",
                backing_off,
                Trigger::NewReceipt,
                1_000,
                50_000,
            ),
        ];
        for (why, mut s, t, now, due) in cases {
            s.trigger(t, now);
            assert_eq!(s.due_ms, due, "{why}");
        }
    }

    #[test]
    fn backoff_doubles_with_full_jitter_and_is_capped() {
        let mut s = Schedule::new(config());
        let mut caps = Vec::new();
        for _ in 0..8 {
            // With random = 1 the delay is the cap itself.
            s.finished(RoundOutcome::Failed, 0, 1.0);
            caps.push(s.due_ms);
        }
        assert_eq!(
            caps,
            [2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]
        );
        s.finished(RoundOutcome::Failed, 0, 0.5);
        assert_eq!(s.due_ms, 30_000, "jitter scales the capped delay");
        s.finished(RoundOutcome::Failed, 0, 0.0);
        assert_eq!(s.due_ms, 1_000, "never retries sooner than a second");
        s.finished(RoundOutcome::Complete, 5_000, 0.3);
        assert_eq!(
            (s.failures, s.due_ms),
            (0, 905_000),
            "success resets the backoff and waits a period"
        );
        s.finished(RoundOutcome::Partial, 0, 1.0);
        assert_eq!(s.due_ms, 2_000, "a partial round backs off like a failure");
    }
}
