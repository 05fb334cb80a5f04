//! What a sync round pulls after its upload: pure decisions over what the store says, so a
//! round with nothing new costs no request.
//!
//! A learner known to the service (on the roster, with receipts on this device, or the owner of
//! a personal device) is pulled when:
//!
//! - no record of theirs was ever pulled;
//! - the service acknowledged receipts of theirs that the stored record cannot reflect (their
//!   last receipt is after the position the record reflects, and the acknowledged position has
//!   moved past it too): new credit, a grade or a certificate may be waiting;
//! - the stored record is older than [`REFRESH_MS`] (study on another device, a course
//!   republished), or dated in the future (the wall clock was set back).
//!
//! The roster (new learners, changed kiosk PINs) is fetched at most once per [`ROSTER_EVERY_MS`]:
//! it has no conditional request, and a kiosk's roster is some kilobytes that a round with
//! nothing to do must not spend each time.

use hearth_protocol::LearnerId;

/// Pull a record again at least this often even with nothing new on this device.
pub const REFRESH_MS: i64 = 24 * 60 * 60 * 1000;

/// Fetch the roster at most this often.
pub const ROSTER_EVERY_MS: i64 = 60 * 60 * 1000;

/// Whether a round fetches the roster, given when it was last fetched (device wall time).
pub fn roster_due(last_ms: Option<i64>, now_ms: i64) -> bool {
    last_ms.is_none_or(|last| now_ms.saturating_sub(last) >= ROSTER_EVERY_MS || now_ms < last)
}

/// Where one learner's stored record stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PullCandidate {
    pub learner: LearnerId,
    /// The learner's last receipt on this device (0: none).
    pub last_seq: u64,
    /// `(reflects_seq, pulled_wall_ms)` of the stored record, if any.
    pub pulled: Option<(u64, i64)>,
}

/// The learners to pull, in the order given.
pub fn plan_pulls(candidates: &[PullCandidate], acked_seq: u64, now_ms: i64) -> Vec<LearnerId> {
    candidates
        .iter()
        .filter(|c| match c.pulled {
            None => true,
            Some((reflects, pulled_ms)) => {
                (c.last_seq > reflects && acked_seq > reflects)
                    || now_ms.saturating_sub(pulled_ms) >= REFRESH_MS
                    || now_ms < pulled_ms
            }
        })
        .map(|c| c.learner)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster() {
        let now = 1_800_000_000_000;
        assert!(roster_due(None, now));
        assert!(!roster_due(Some(now - 60_000), now));
        assert!(roster_due(Some(now - ROSTER_EVERY_MS), now));
        assert!(roster_due(Some(now + 60_000), now), "clock set back");
    }

    #[test]
    fn cases() {
        let l = |n: u8| LearnerId::from_random_bytes([n; 16]);
        let now = 1_800_000_000_000;
        let c = |n: u8, last_seq: u64, pulled: Option<(u64, i64)>| PullCandidate {
            learner: l(n),
            last_seq,
            pulled,
        };
        // (candidate, acked_seq, pulled?)
        let cases = [
            (c(1, 0, None), 0, true),                          // never pulled (an owner)
            (c(2, 10, None), 5, true),                         // never pulled
            (c(3, 10, Some((10, now - 1_000))), 10, false),    // reflects everything
            (c(4, 12, Some((10, now - 1_000))), 10, false),    // new receipts not acked yet
            (c(5, 12, Some((10, now - 1_000))), 11, true),     // new receipts acked
            (c(6, 8, Some((10, now - 1_000))), 20, false),     // others' receipts acked
            (c(7, 8, Some((10, now - REFRESH_MS))), 10, true), // stale
            (c(8, 8, Some((10, now + 60_000))), 10, true),     // clock set back
        ];
        for (i, (cand, acked, want)) in cases.into_iter().enumerate() {
            let got = plan_pulls(&[cand], acked, now);
            assert_eq!(!got.is_empty(), want, "case {i}");
        }
    }
}
