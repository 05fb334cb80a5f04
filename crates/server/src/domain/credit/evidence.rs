//! What the fold keeps of each device's and learner's receipts for the anomaly flags
//! ([`crate::domain::flags`]), compact and bounded: a kiosk's study sessions, the receipts a
//! personal device signed for others, the delays between a learner's practice answers. Kept here,
//! with the facts they are part of; the flags read them, and never the other way round.

use std::collections::BTreeMap;

use hearth_protocol::{DeviceId, LearnerId, MonoStamp};
use serde::{Deserialize, Serialize};

/// Kiosk sessions kept per kiosk (the newest).
pub const KEPT_SESSIONS: usize = 128;
/// Other learners listed per personal device (beyond them, only counted).
pub const KEPT_OTHERS: usize = 16;
/// Answer delays kept per learner (the newest).
pub const KEPT_DELAYS: usize = 64;
/// Attention-check delays (showing to answer) kept per learner and per kiosk (the newest).
pub const KEPT_CHECKS: usize = 64;

/// Delays between answers longer than this are a break, not an answer, and not kept.
pub const DELAY_MAX_MS: u64 = 5 * 60_000;

/// One learner's stretch of study on a kiosk, from the first study after they became the one
/// studying to the next sign-in, sign-out or another learner's study.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KioskSession {
    pub learner: LearnerId,
    /// Where its first span was placed in real time.
    pub start_ms: i64,
    /// Study time the receipts of the session claim (after the same-run overlap rule).
    pub study_ms: u64,
}

/// What a device's chain shows for the anomaly flags.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEvidence {
    /// Kiosk: the session open now.
    pub open: Option<KioskSession>,
    /// Kiosk: closed sessions, oldest first, the last [`KEPT_SESSIONS`].
    pub sessions: Vec<KioskSession>,
    /// Personal device: receipts it signed for learners other than its own (at most
    /// [`KEPT_OTHERS`] listed).
    pub others: BTreeMap<LearnerId, u64>,
    /// Receipts for other learners past those listed.
    pub others_unlisted: u64,
    /// Kiosk: the attention checks answered on it, (learner, delay from showing to answer as
    /// the client states it), the last [`KEPT_CHECKS`], oldest first.
    pub checks: Vec<(LearnerId, u32)>,
}

impl DeviceEvidence {
    /// Ends the open kiosk session (a sign-in or sign-out).
    pub fn close_session(&mut self) {
        if let Some(s) = self.open.take() {
            self.sessions.push(s);
            if self.sessions.len() > KEPT_SESSIONS {
                let extra = self.sessions.len() - KEPT_SESSIONS;
                self.sessions.drain(..extra);
            }
        }
    }

    /// A span of `learner`'s study on a kiosk, placed at `start_ms`.
    pub fn kiosk_study(&mut self, learner: LearnerId, start_ms: i64, active_ms: u64) {
        if self.open.as_ref().is_some_and(|s| s.learner != learner) {
            self.close_session();
        }
        let s = self.open.get_or_insert(KioskSession {
            learner,
            start_ms,
            study_ms: 0,
        });
        s.study_ms = s.study_ms.saturating_add(active_ms);
    }

    /// An attention check answered on a kiosk by `learner`, `shown_ms` after it showed.
    pub fn kiosk_check(&mut self, learner: LearnerId, shown_ms: u32) {
        keep_last(&mut self.checks, (learner, shown_ms), KEPT_CHECKS);
    }

    /// A personal device signed a receipt for `learner`, who is not its own.
    pub fn other_learner(&mut self, learner: LearnerId) {
        if let Some(n) = self.others.get_mut(&learner) {
            *n += 1;
        } else if self.others.len() < KEPT_OTHERS {
            self.others.insert(learner, 1);
        } else {
            self.others_unlisted += 1;
        }
    }
}

/// Devices whose previous answer is remembered per learner (a new one past these starts the
/// list again, losing one delay per device at most).
const KEPT_ANSWER_DEVICES: usize = 8;

/// Delays between consecutive practice answers of one learner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerTiming {
    /// The previous answer on each device: its monotonic reading (run, elapsed). Per device, so
    /// the delays are the same whichever order the devices' chains are folded in.
    pub last: BTreeMap<DeviceId, (u32, u64)>,
    /// The last [`KEPT_DELAYS`] delays (ms), oldest first.
    pub delays: Vec<u32>,
    /// Attention checks answered (not missed): the delay from showing to answer the client
    /// states (`CheckAnswered.shown_ms`), the last [`KEPT_CHECKS`], oldest first.
    pub checks: Vec<u32>,
    /// Checks whose stated delay the device's own clock contradicts: how many, and the latest
    /// as (stated delay, monotonic ms since the device's previous study span ended).
    pub contradicted: u32,
    pub last_contradiction: Option<(u32, u64)>,
}

/// Pushes `x`, dropping the oldest past `max`.
fn keep_last<T>(v: &mut Vec<T>, x: T, max: usize) {
    v.push(x);
    if v.len() > max {
        let extra = v.len() - max;
        v.drain(..extra);
    }
}

/// A stated check delay may exceed the device's own measure of it by this much (the app holds
/// the study span and records it just before it shows the check; writing it takes a moment).
pub const CHECK_GAP_SLACK_MS: u64 = 2_000;

impl AnswerTiming {
    /// A practice answer recorded on `device` at `mono`.
    pub fn answered(&mut self, device: DeviceId, mono: MonoStamp) {
        if let Some(&(run, at)) = self.last.get(&device)
            && run == mono.run
            && mono.elapsed_ms >= at
        {
            let delay = mono.elapsed_ms - at;
            if delay <= DELAY_MAX_MS {
                self.delays.push(delay as u32);
                if self.delays.len() > KEPT_DELAYS {
                    self.delays.remove(0);
                }
            }
        }
        if self.last.len() >= KEPT_ANSWER_DEVICES && !self.last.contains_key(&device) {
            self.last.clear();
        }
        self.last.insert(device, (mono.run, mono.elapsed_ms));
    }

    /// An attention check answered (`answered`: an option chosen, not a timeout) `shown_ms`
    /// after it showed, as the client states; `since_study` is the device's own monotonic time
    /// from the end of its previous study span in the same app run to this answer, when there
    /// is one. The app counts no study while a check shows, so the check cannot have shown
    /// before that span ended: a stated delay longer than `since_study` (beyond
    /// [`CHECK_GAP_SLACK_MS`]) is contradicted by the device's own clock.
    pub fn check(&mut self, shown_ms: u32, answered: bool, since_study: Option<u64>) {
        if answered {
            keep_last(&mut self.checks, shown_ms, KEPT_CHECKS);
        }
        if let Some(gap) = since_study
            && u64::from(shown_ms) > gap.saturating_add(CHECK_GAP_SLACK_MS)
        {
            self.contradicted = self.contradicted.saturating_add(1);
            self.last_contradiction = Some((shown_ms, gap));
        }
    }
}
