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

/// What kind of failure a call to the service met, as far as retrying it is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No connection could be made (no route, refused, DNS).
    Offline,
    /// A connection broke in the middle of a request or its answer (reset, cut).
    Interrupted,
    /// The request took too long: the service answered 408, or the client gave up waiting.
    TimedOut,
    /// The service is busy or failing for now (5xx, 429).
    Busy,
    /// The service refused the request for a reason that sending it again cannot change
    /// (401, 403, 400, ...), or its answer made no sense.
    Refused,
}

/// Retries inside one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryConfig {
    /// Failures in a row, without any call succeeding in between, before the round gives up.
    pub attempts: u32,
    /// First delay cap; doubles per failure in a row.
    pub base: Duration,
    /// The longest wait between two attempts.
    pub max: Duration,
}

impl RetryConfig {
    /// No retry: the round ends at the first failure.
    pub const NONE: Self = Self {
        attempts: 0,
        base: Duration::ZERO,
        max: Duration::ZERO,
    };
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            attempts: 6,
            base: Duration::from_secs(1),
            max: Duration::from_secs(20),
        }
    }
}

/// Cuts in a row, before any call of the round reached the service, that are still retried.
pub const UNCONTACTED_CUTS: u32 = 1;

/// Whether to try a failed call again within the round, and after how long.
///
/// `failures` counts the failures in a row, this one included, since the last call that
/// succeeded; `contacted` says whether any call of this round reached the service; `random` is
/// uniform in [0, 1). A service that could not be reached at all is left to the schedule
/// between rounds (no point hammering a dead link), but a link that worked a moment ago and
/// then dropped is tried again. Delays are full jitter over `base * 2^(failures-1)`, capped at
/// `max`, and at least a fifth of a second.
pub fn retry_delay(
    config: &RetryConfig,
    failure: Failure,
    failures: u32,
    contacted: bool,
    random: f64,
) -> Option<Duration> {
    if failures == 0 || failures > config.attempts {
        return None;
    }
    match failure {
        Failure::Refused => return None,
        Failure::Offline if !contacted => return None,
        // Connections that break off before anything in this round reached the service: a
        // service that is down behind something that accepts connections (a proxy, a captive
        // portal). Tried once more, then left to the schedule as offline.
        Failure::Interrupted if !contacted && failures > UNCONTACTED_CUTS => return None,
        Failure::Offline | Failure::Interrupted | Failure::TimedOut | Failure::Busy => {}
    }
    let exp = (failures - 1).min(30);
    let cap = ms(config.base)
        .saturating_mul(1u64 << exp)
        .min(ms(config.max));
    let random = random.clamp(0.0, 1.0);
    Some(Duration::from_millis(
        ((cap as f64 * random) as u64).max(200),
    ))
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
    #[test]
    fn retries_within_a_round_case_table() {
        let c = RetryConfig {
            attempts: 4,
            base: Duration::from_secs(1),
            max: Duration::from_secs(5),
        };
        let s = |ms: u64| Some(Duration::from_millis(ms));
        // (why, failure, failures in a row, contacted, random, delay)
        let cases = [
            (
                "a reset is retried",
                Failure::Interrupted,
                1,
                true,
                1.0,
                s(1_000),
            ),
            (
                "a reset before any contact too",
                Failure::Interrupted,
                1,
                false,
                1.0,
                s(1_000),
            ),
            (
                "but not a second one: the service is not answering",
                Failure::Interrupted,
                2,
                false,
                1.0,
                None,
            ),
            (
                "a 408 is retried",
                Failure::TimedOut,
                2,
                true,
                1.0,
                s(2_000),
            ),
            ("a 503 is retried", Failure::Busy, 3, true, 1.0, s(4_000)),
            ("the delay is capped", Failure::Busy, 4, true, 1.0, s(5_000)),
            ("full jitter", Failure::Interrupted, 2, true, 0.25, s(500)),
            (
                "never sooner than 200 ms",
                Failure::Interrupted,
                1,
                true,
                0.0,
                s(200),
            ),
            (
                "a dead link is left to the schedule",
                Failure::Offline,
                1,
                false,
                1.0,
                None,
            ),
            (
                "a link that dropped is tried again",
                Failure::Offline,
                1,
                true,
                1.0,
                s(1_000),
            ),
            ("a refusal is final", Failure::Refused, 1, true, 1.0, None),
            (
                "too many in a row",
                Failure::Interrupted,
                5,
                true,
                1.0,
                None,
            ),
            ("no failure, no retry", Failure::Busy, 0, true, 1.0, None),
        ];
        for (why, failure, failures, contacted, random, want) in cases {
            assert_eq!(
                retry_delay(&c, failure, failures, contacted, random),
                want,
                "{why}"
            );
        }
        assert_eq!(
            retry_delay(&RetryConfig::NONE, Failure::Interrupted, 1, true, 1.0),
            None,
            "RetryConfig::NONE never retries"
        );
    }
}
