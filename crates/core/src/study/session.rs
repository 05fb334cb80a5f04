//! Active study time in one lesson: a pure state machine, fed the monotonic time (ms) of the
//! injected clock and what the window reports. No I/O: the caller records what it returns.
//!
//! Rules:
//!
//! - Time counts only between two observations while the window had focus, no "are you still
//!   here?" check was showing, and the learner's last input was less than [`IDLE_AFTER_MS`] ago
//!   (time after `last input + IDLE_AFTER_MS` never counts).
//! - A gap between observations longer than [`MAX_GAP_MS`] counts nothing: the app was asleep or
//!   the machine suspended, and nobody can say the learner was there.
//! - [`IDLE_AFTER_MS`] without input opens the presence check; from then on nothing counts until
//!   [`StudySession::confirm_presence`]. Input alone does not close the check: the learner must
//!   answer it.
//! - Counted time is handed out as flushes (each becomes one `active_study` receipt): whenever
//!   [`FLUSH_EVERY_MS`] have gathered, and whenever counting stops (blur, presence check, leave).
//! - Every counted millisecond lies inside a distinct interval of real monotonic time since the
//!   session opened, so the total can never exceed the real elapsed time.

use serde::Serialize;

/// No input for this long opens the "are you still here?" check (the default; see
/// [`StudySession::open_with_idle`]).
pub const IDLE_AFTER_MS: u64 = 5 * 60_000;
/// The shortest idle limit a session accepts: anything shorter would interrupt reading.
pub const MIN_IDLE_AFTER_MS: u64 = 1_000;
/// Counted time is flushed into a receipt once this much has gathered.
pub const FLUSH_EVERY_MS: u64 = 30_000;
/// A longer silence between two observations counts nothing (suspend, frozen UI).
pub const MAX_GAP_MS: u64 = 90_000;

/// What the session is doing now, for the player.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionState {
    /// Focused and recently active: time counts.
    Active,
    /// The window does not have focus: time does not count.
    Unfocused,
    /// "Are you still here?" is showing: nothing counts until it is answered.
    AwaitingPresence,
    /// The learner left the lesson.
    Closed,
}

/// One learner in one lesson, from opening to leaving.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StudySession {
    opened_ms: u64,
    last_obs_ms: u64,
    last_input_ms: u64,
    focused: bool,
    /// Monotonic time at which the presence check opened.
    prompt_since: Option<u64>,
    /// Counted and not yet flushed.
    pending_ms: u64,
    /// Counted and flushed.
    flushed_ms: u64,
    closed: bool,
    /// No input for this long opens the presence check.
    idle_after_ms: u64,
}

impl StudySession {
    /// A session opened at `now_ms`, focused, with the opening counting as input.
    pub fn open(now_ms: u64) -> Self {
        Self::open_with_idle(now_ms, IDLE_AFTER_MS)
    }

    /// Like [`open`](Self::open), with the presence check after `idle_after_ms` without input
    /// instead of [`IDLE_AFTER_MS`] (at least [`MIN_IDLE_AFTER_MS`]). An institution may be told
    /// to check more often; tests use a short limit to see the check in the real window.
    pub fn open_with_idle(now_ms: u64, idle_after_ms: u64) -> Self {
        Self {
            idle_after_ms: idle_after_ms.max(MIN_IDLE_AFTER_MS),
            opened_ms: now_ms,
            last_obs_ms: now_ms,
            last_input_ms: now_ms,
            focused: true,
            prompt_since: None,
            pending_ms: 0,
            flushed_ms: 0,
            closed: false,
        }
    }

    pub fn state(&self) -> SessionState {
        if self.closed {
            SessionState::Closed
        } else if self.prompt_since.is_some() {
            SessionState::AwaitingPresence
        } else if !self.focused {
            SessionState::Unfocused
        } else {
            SessionState::Active
        }
    }

    /// Time counted in this session (flushed or not).
    pub fn counted_ms(&self) -> u64 {
        self.flushed_ms + self.pending_ms
    }

    pub fn pending_ms(&self) -> u64 {
        self.pending_ms
    }

    pub fn opened_ms(&self) -> u64 {
        self.opened_ms
    }

    /// When the presence check opened, if it is showing.
    pub fn prompt_since(&self) -> Option<u64> {
        self.prompt_since
    }

    /// Milliseconds until the presence check opens without new input (0 when it shows).
    pub fn idle_in_ms(&self, now_ms: u64) -> u64 {
        if self.prompt_since.is_some() {
            return 0;
        }
        (self.last_input_ms + self.idle_after_ms).saturating_sub(now_ms)
    }

    /// Counts the time since the last observation under the state that held during it.
    fn advance(&mut self, now_ms: u64) {
        let now = now_ms.max(self.last_obs_ms);
        let from = self.last_obs_ms;
        self.last_obs_ms = now;
        if self.closed {
            return;
        }
        let counting = self.focused && self.prompt_since.is_none();
        if counting && now - from <= MAX_GAP_MS {
            let until = now.min(self.last_input_ms + self.idle_after_ms);
            self.pending_ms += until.saturating_sub(from);
        }
        if self.prompt_since.is_none() && now >= self.last_input_ms + self.idle_after_ms {
            self.prompt_since = Some(self.last_input_ms + self.idle_after_ms);
        }
    }

    fn take(&mut self) -> Option<u32> {
        if self.pending_ms == 0 {
            return None;
        }
        let ms = u32::try_from(self.pending_ms).unwrap_or(u32::MAX);
        self.pending_ms -= u64::from(ms);
        self.flushed_ms += u64::from(ms);
        Some(ms)
    }

    /// The window reports at `now_ms` whether it has focus and whether the learner gave input
    /// (a key, a click, a scroll, a touch) since the last report. Returns counted time to
    /// record now, if any.
    pub fn observe(&mut self, now_ms: u64, focused: bool, input: bool) -> Option<u32> {
        let was_prompt = self.prompt_since.is_some();
        self.advance(now_ms);
        if self.closed {
            return None;
        }
        let blurred = self.focused && !focused;
        self.focused = focused;
        if input && focused && self.prompt_since.is_none() {
            self.last_input_ms = self.last_obs_ms;
        }
        let prompt_opened = !was_prompt && self.prompt_since.is_some();
        if blurred || prompt_opened || self.pending_ms >= FLUSH_EVERY_MS {
            self.take()
        } else {
            None
        }
    }

    /// The learner answered "are you still here?" at `now_ms`. Returns how long the check was
    /// showing (`None` if it was not). Counting resumes from now.
    pub fn confirm_presence(&mut self, now_ms: u64) -> Option<u64> {
        self.advance(now_ms);
        let since = self.prompt_since.take()?;
        if self.closed {
            return None;
        }
        self.last_input_ms = self.last_obs_ms;
        self.focused = true;
        Some(self.last_obs_ms.saturating_sub(since))
    }

    /// An attention check opens at `now_ms`: counting stops as for "are you still here?" until
    /// [`confirm_presence`](Self::confirm_presence). Returns the counted time to record first.
    pub fn hold(&mut self, now_ms: u64) -> Option<u32> {
        self.advance(now_ms);
        if self.prompt_since.is_none() && !self.closed {
            self.prompt_since = Some(self.last_obs_ms);
        }
        self.take()
    }

    /// Counted time to record before something that must come after it (completion, a quiz
    /// answer), without changing the state.
    pub fn flush(&mut self, now_ms: u64) -> Option<u32> {
        self.advance(now_ms);
        self.take()
    }

    /// The learner leaves the lesson at `now_ms`: the last counted time, if any.
    pub fn leave(&mut self, now_ms: u64) -> Option<u32> {
        self.advance(now_ms);
        self.closed = true;
        self.take()
    }

    /// Puts back a flush that could not be recorded (the store failed), so it is not lost from
    /// the session and is offered again with the next flush.
    pub fn unflush(&mut self, ms: u32) {
        self.flushed_ms = self.flushed_ms.saturating_sub(u64::from(ms));
        self.pending_ms += u64::from(ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One step of a case: (at ms, what happens, flush expected, state after).
    #[derive(Clone, Copy, Debug)]
    enum Do {
        Obs { focused: bool, input: bool },
        Confirm,
        Flush,
        Leave,
    }
    use Do::*;

    const F: Do = Obs {
        focused: true,
        input: false,
    };
    const FI: Do = Obs {
        focused: true,
        input: true,
    };
    const B: Do = Obs {
        focused: false,
        input: false,
    };

    fn run(case: &str, steps: &[(u64, Do, Option<u32>, SessionState)], total: u64) {
        let mut s = StudySession::open(0);
        let mut sum = 0u64;
        let mut latest = 0u64;
        for (i, &(at, what, want, state)) in steps.iter().enumerate() {
            latest = latest.max(at);
            let got = match what {
                Obs { focused, input } => s.observe(at, focused, input),
                Confirm => {
                    s.confirm_presence(at);
                    None
                }
                Flush => s.flush(at),
                Leave => s.leave(at),
            };
            assert_eq!(got, want, "{case}: step {i} ({what:?} at {at}) flush");
            assert_eq!(s.state(), state, "{case}: step {i} state");
            sum += u64::from(got.unwrap_or(0));
            assert!(
                s.counted_ms() <= latest,
                "{case}: counted {} in {latest} ms of real time",
                s.counted_ms()
            );
        }
        assert_eq!(sum, total, "{case}: total flushed");
        assert_eq!(s.counted_ms(), total + s.pending_ms(), "{case}: accounting");
    }

    use SessionState::*;

    #[test]
    fn cases() {
        run(
            "focused with input: every second counts, flushed every 30 s and on leave",
            &[
                (10_000, FI, None, Active),
                (20_000, FI, None, Active),
                (30_000, FI, Some(30_000), Active),
                (45_000, FI, None, Active),
                (50_000, Leave, Some(20_000), Closed),
                (60_000, FI, None, Closed),
            ],
            50_000,
        );
        run(
            "blur flushes, unfocused time does not count, focus resumes counting",
            &[
                (10_000, B, Some(10_000), Unfocused),
                (100_000, F, None, Active),
                (110_000, Leave, Some(10_000), Closed),
            ],
            20_000,
        );
        run(
            "idle: counts up to 5 min after the last input, then the check opens and flushes",
            &[
                (60_000, F, Some(60_000), Active),
                (150_000, F, Some(90_000), Active),
                (240_000, F, Some(90_000), Active),
                (290_000, F, Some(50_000), Active),
                (310_000, F, Some(10_000), AwaitingPresence),
                (400_000, FI, None, AwaitingPresence),
                (480_000, Confirm, None, Active),
                (490_000, F, None, Active),
                (500_000, Leave, Some(20_000), Closed),
            ],
            320_000,
        );
        run(
            "a long silence (suspend) counts nothing",
            &[
                (5_000, FI, None, Active),
                (200_000, FI, None, Active),
                (210_000, Leave, Some(15_000), Closed),
            ],
            15_000,
        );
        run(
            "input while unfocused does not keep the learner active",
            &[
                (
                    10_000,
                    Obs {
                        focused: false,
                        input: true,
                    },
                    Some(10_000),
                    Unfocused,
                ),
                (80_000, B, None, Unfocused),
                (160_000, B, None, Unfocused),
                (240_000, B, None, Unfocused),
                (300_000, B, None, AwaitingPresence),
                (301_000, FI, None, AwaitingPresence),
                (302_000, Leave, None, Closed),
            ],
            10_000,
        );
        run(
            "an explicit flush hands out what was counted so far",
            &[
                (12_000, FI, None, Active),
                (12_500, Flush, Some(12_500), Active),
                (12_500, Flush, None, Active),
            ],
            12_500,
        );
        run(
            "a clock reading from before the last one is taken as no time passing",
            &[
                (10_000, FI, None, Active),
                (5_000, FI, None, Active),
                (11_000, Leave, Some(11_000), Closed),
            ],
            11_000,
        );
    }

    #[test]
    fn presence_check_reports_how_long_it_showed() {
        let mut s = StudySession::open(1_000);
        let mut flushed = 0;
        for t in (61_000..=361_000).step_by(60_000) {
            flushed += s.observe(t, true, false).unwrap_or(0);
        }
        assert_eq!(flushed, 300_000, "counted up to the idle limit");
        assert_eq!(s.state(), SessionState::AwaitingPresence);
        assert_eq!(s.prompt_since(), Some(301_000));
        assert_eq!(s.idle_in_ms(361_000), 0);
        assert_eq!(s.confirm_presence(366_000), Some(65_000));
        assert_eq!(s.confirm_presence(367_000), None);
        assert_eq!(s.idle_in_ms(367_000), IDLE_AFTER_MS - 1_000);
    }

    #[test]
    fn an_unrecorded_flush_is_offered_again() {
        let mut s = StudySession::open(0);
        let ms = s.flush(8_000).unwrap();
        s.unflush(ms);
        assert_eq!(s.leave(9_000), Some(9_000));
    }

    #[test]
    fn counted_time_never_exceeds_real_time_under_random_use() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let mut s = StudySession::open(0);
            let mut now = 0u64;
            let mut flushed = 0u64;
            for _ in 0..300 {
                now += rng.random_range(0..120_000);
                let f = match rng.random_range(0..10) {
                    0 => {
                        s.confirm_presence(now);
                        None
                    }
                    1 => s.flush(now),
                    _ => s.observe(now, rng.random_bool(0.8), rng.random_bool(0.5)),
                };
                flushed += u64::from(f.unwrap_or(0));
                assert!(s.counted_ms() <= now);
            }
            flushed += u64::from(s.leave(now + 1).unwrap_or(0));
            assert_eq!(flushed, s.counted_ms());
            assert!(flushed <= now + 1);
        }
    }

    #[test]
    fn a_shorter_idle_limit_opens_the_check_sooner_and_caps_what_counts() {
        let mut s = StudySession::open_with_idle(0, 4_000);
        assert_eq!(s.idle_in_ms(1_000), 3_000);
        s.observe(3_000, true, false);
        assert_eq!(s.state(), SessionState::Active);
        s.observe(6_000, true, false);
        assert_eq!(
            s.state(),
            SessionState::AwaitingPresence,
            "4 s without input"
        );
        assert_eq!(s.counted_ms(), 4_000, "nothing counts after the limit");
        // Below the minimum, the minimum holds.
        let s = StudySession::open_with_idle(0, 10);
        assert_eq!(s.idle_in_ms(0), MIN_IDLE_AFTER_MS);
    }
}
