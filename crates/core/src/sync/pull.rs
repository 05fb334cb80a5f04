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
//! The roster (new learners, changed kiosk PINs) and the assignments are fetched when the
//! classroom tag of the sync state changed (see [`classroom_due`]); from a service that sends no
//! tag, at most once per [`ROSTER_EVERY_MS`]:
//! it has no conditional request, and a kiosk's roster is some kilobytes that a round with
//! nothing to do must not spend each time.

use hearth_protocol::LearnerId;

/// Pull a record again at least this often even with nothing new on this device.
pub const REFRESH_MS: i64 = 24 * 60 * 60 * 1000;

/// Fetch the roster at most this often.
pub const ROSTER_EVERY_MS: i64 = 60 * 60 * 1000;

/// Whether a round fetches the roster and assignments. With a classroom tag from the service
/// (a digest of both): exactly when it differs from the one kept. Without one (an older
/// service): at most every [`ROSTER_EVERY_MS`] of device wall time.
pub fn classroom_due(
    tag: Option<&[u8]>,
    kept_tag: Option<&[u8]>,
    last_ms: Option<i64>,
    now_ms: i64,
) -> bool {
    match tag {
        Some(t) => kept_tag != Some(t),
        None => last_ms
            .is_none_or(|last| now_ms.saturating_sub(last) >= ROSTER_EVERY_MS || now_ms < last),
    }
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
    fn classroom() {
        let now = 1_800_000_000_000;
        let hour = ROSTER_EVERY_MS;
        // (tag from the service, tag kept, last refresh, due?)
        type Case<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<i64>, bool);
        let cases: [Case; 8] = [
            (Some(b"a"), None, None, true),                        // never fetched
            (Some(b"a"), Some(b"a"), Some(now - 2 * hour), false), // unchanged, however old
            (Some(b"b"), Some(b"a"), Some(now - 1000), true),      // changed a second ago
            (Some(b"a"), Some(b""), Some(now - 1000), true),       // kept without a tag
            (None, None, None, true),                              // old service, never fetched
            (None, Some(b"a"), Some(now - 60_000), false),         // old service, fetched recently
            (None, None, Some(now - hour), true),                  // old service, an hour ago
            (None, None, Some(now + 60_000), true),                // clock set back
        ];
        for (i, (tag, kept, last, want)) in cases.into_iter().enumerate() {
            assert_eq!(classroom_due(tag, kept, last, now), want, "case {i}");
        }
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
