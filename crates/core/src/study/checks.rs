//! Attention checks while a lesson is studied (issue #17; the service's rule: docs/credit.md
//! "Attention checks").
//!
//! A course may publish check questions per lesson (the manifest's `checks`, without answers).
//! While such a lesson is open, the app asks one of its questions, chosen at random, once the
//! learner's active study in the course since the previous check reaches a due point drawn at
//! random between [`CheckPolicy::every_min_ms`] and [`CheckPolicy::every_max_ms`] (10 and 20
//! minutes by default). Nothing counts while it shows; the learner has [`CHECK_ANSWER_MS`] to
//! pick an option. The answer (or none, when the minute runs out or the lesson is left) is
//! recorded as `check_answered` and graded later by the service: the app never knows whether it
//! was right, and works fully offline.
//!
//! The active study since the previous check and the next due point are kept per learner and
//! course beside the ledger (`content_meta`), updated in the transaction of the receipt they
//! follow from, so a restart neither forgets them nor asks twice. Lessons of courses without
//! checks keep only the "are you still here?" prompt.

use hearth_protocol::manifest::CheckQuestion;
use hearth_protocol::{CourseId, ItemId, LearnerId};
use serde::{Deserialize, Serialize};

/// How long a check waits for an answer.
pub const CHECK_ANSWER_MS: u64 = 60_000;
/// The shortest interval a policy accepts (tests use a few seconds; anything shorter would
/// interrupt reading all the time).
pub const MIN_CHECK_EVERY_MS: u64 = 1_000;

/// How often checks are asked, in active study.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckPolicy {
    pub every_min_ms: u64,
    pub every_max_ms: u64,
}

impl Default for CheckPolicy {
    fn default() -> Self {
        Self {
            every_min_ms: 10 * 60_000,
            every_max_ms: 20 * 60_000,
        }
    }
}

impl CheckPolicy {
    /// A policy asking every `min_ms`–`max_ms` of active study (swapped if given the wrong way
    /// round; at least [`MIN_CHECK_EVERY_MS`]).
    pub fn new(min_ms: u64, max_ms: u64) -> Self {
        let (a, b) = (min_ms.min(max_ms), min_ms.max(max_ms));
        Self {
            every_min_ms: a.max(MIN_CHECK_EVERY_MS),
            every_max_ms: b.max(MIN_CHECK_EVERY_MS),
        }
    }

    /// Reads `"MIN-MAX"` or `"MS"` (milliseconds), as `HEARTH_CHECK_EVERY_MS` gives it.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = match s.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let v = s.trim().parse().ok()?;
                (v, v)
            }
        };
        Some(Self::new(a, b))
    }

    /// The due point drawn from `random`: uniform in `[every_min_ms, every_max_ms]`.
    pub fn draw(&self, random: u64) -> u64 {
        let span = self.every_max_ms - self.every_min_ms + 1;
        self.every_min_ms + random % span
    }
}

/// Active study since the previous check of one learner in one course, and when the next is due.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Stretch {
    pub active_ms: u64,
    /// Active study at which the next check is due (0: not drawn yet).
    pub due_ms: u64,
}

/// Where a learner's stretch in a course is kept.
pub(crate) fn stretch_key(learner: LearnerId, course: &CourseId) -> String {
    format!("attention/{}/{}", learner.0, course.as_str())
}

/// A check showing now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PendingCheck {
    pub question: CheckQuestion,
    /// Monotonic time it appeared.
    pub shown_at: u64,
}

/// The question as the player shows it (no answer exists on the device).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckView {
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    /// Milliseconds left to answer.
    pub left_ms: u64,
}

impl PendingCheck {
    pub fn view(&self, now_ms: u64) -> CheckView {
        CheckView {
            id: self.question.id.clone(),
            prompt: self.question.prompt.clone(),
            options: self.question.options.clone(),
            left_ms: (self.shown_at + CHECK_ANSWER_MS).saturating_sub(now_ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_points_lie_in_the_policy_range() {
        let p = CheckPolicy::default();
        for r in [0, 1, 599_999, 600_000, u64::MAX] {
            let d = p.draw(r);
            assert!((600_000..=1_200_000).contains(&d), "{d}");
        }
        assert_eq!(p.draw(0), 600_000);
        assert_eq!(p.draw(600_000), 1_200_000);
        assert_eq!(
            CheckPolicy::parse("8000"),
            Some(CheckPolicy::new(8000, 8000))
        );
        assert_eq!(
            CheckPolicy::parse("9000-3000"),
            Some(CheckPolicy::new(3000, 9000))
        );
        assert_eq!(
            CheckPolicy::parse("5").unwrap().every_min_ms,
            MIN_CHECK_EVERY_MS
        );
        assert_eq!(CheckPolicy::parse("x"), None);
    }
}
