//! First viewing of a video or audio file: how far the learner has watched, and where they may
//! seek. Pure rules; the facade stores the position and records the segments.
//!
//! - Until a media file has been watched to its end once, the learner may seek anywhere up to
//!   the furthest point watched (plus [`SEEK_SLACK_MS`], for the player's own reporting delay),
//!   never beyond. Afterwards seeking is free.
//! - A reported segment `[from, to)` extends the furthest point only when it starts at or before
//!   it (plus the slack): a segment starting beyond it is a skip and is refused.
//! - The end counts as reached within [`END_SLACK_MS`] of the duration (players stop a little
//!   short of it).
//! - A segment cannot be longer than the real time since the previous one (or since the lesson
//!   opened) allows at [`MAX_PLAYBACK_RATE`] (plus [`SEEK_SLACK_MS`]): a player cannot claim a
//!   whole video watched in a moment.

/// Tolerance for seeking past the furthest recorded point, and for a segment's start.
pub const SEEK_SLACK_MS: u64 = 2_000;
/// A position this close to the end counts as the end.
pub const END_SLACK_MS: u64 = 1_000;

/// The fastest playback a player offers (2x).
pub const MAX_PLAYBACK_RATE: u64 = 2;

/// Whether a segment of `len_ms` can have been played in `elapsed_ms` of real time.
pub fn segment_plausible(len_ms: u64, elapsed_ms: u64) -> bool {
    len_ms <= elapsed_ms.saturating_mul(MAX_PLAYBACK_RATE) + SEEK_SLACK_MS
}

pub use crate::store::MediaProgress;

/// The first-viewing rules over the stored record (`store::study` keeps it beside its SQL).
impl MediaProgress {
    /// Where the learner may seek to: anywhere up to this position (`None`: anywhere).
    pub fn seek_limit_ms(&self) -> Option<u64> {
        (!self.finished).then_some(self.furthest_ms + SEEK_SLACK_MS)
    }

    /// Whether seeking to `target_ms` is allowed.
    pub fn may_seek(&self, target_ms: u64) -> bool {
        self.seek_limit_ms().is_none_or(|limit| target_ms <= limit)
    }

    /// Applies a watched segment. `Err(())` when it skips ahead of the furthest point on first
    /// viewing (nothing changes then). The segment is clipped to the duration.
    pub fn watch(&mut self, from_ms: u64, to_ms: u64) -> Result<(), SkipAhead> {
        if !self.finished && from_ms > self.furthest_ms + SEEK_SLACK_MS {
            return Err(SkipAhead {
                furthest_ms: self.furthest_ms,
            });
        }
        let to = self.duration_ms.map_or(to_ms, |d| to_ms.min(d));
        self.furthest_ms = self.furthest_ms.max(to);
        if let Some(d) = self.duration_ms
            && self.furthest_ms + END_SLACK_MS >= d
        {
            self.finished = true;
        }
        Ok(())
    }
}

/// A segment that starts beyond the furthest point watched, on first viewing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SkipAhead {
    pub furthest_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeking_on_first_viewing_and_after() {
        let fresh = MediaProgress {
            furthest_ms: 0,
            duration_ms: Some(60_000),
            finished: false,
        };
        // (progress, target, allowed)
        let watched_half = MediaProgress {
            furthest_ms: 30_000,
            ..fresh
        };
        let done = MediaProgress {
            furthest_ms: 60_000,
            finished: true,
            ..fresh
        };
        let cases = [
            (fresh, 0, true),
            (fresh, SEEK_SLACK_MS, true),
            (fresh, SEEK_SLACK_MS + 1, false),
            (watched_half, 10_000, true),
            (watched_half, 32_000, true),
            (watched_half, 45_000, false),
            (done, 59_000, true),
            (done, 0, true),
        ];
        for (i, (p, target, allowed)) in cases.into_iter().enumerate() {
            assert_eq!(p.may_seek(target), allowed, "case {i}");
        }
        assert_eq!(done.seek_limit_ms(), None);
        assert_eq!(watched_half.seek_limit_ms(), Some(32_000));
    }

    #[test]
    fn segments_extend_the_furthest_point_and_skips_are_refused() {
        let mut p = MediaProgress {
            duration_ms: Some(60_000),
            ..MediaProgress::default()
        };
        p.watch(0, 10_000).unwrap();
        p.watch(11_000, 20_000).unwrap(); // within the slack
        assert_eq!(
            p.watch(40_000, 50_000),
            Err(SkipAhead {
                furthest_ms: 20_000
            })
        );
        assert_eq!(p.furthest_ms, 20_000);
        p.watch(5_000, 8_000).unwrap(); // rewatching does not move it back
        assert_eq!(p.furthest_ms, 20_000);
        p.watch(20_000, 59_500).unwrap();
        assert!(p.finished, "within a second of the end counts as the end");
        p.watch(0, 1_000).unwrap();
        p.watch(50_000, 90_000).unwrap(); // free after the end; clipped to the duration
        assert_eq!(p.furthest_ms, 60_000);
    }

    #[test]
    fn segments_cannot_outrun_real_time() {
        // (segment length, real time since the previous one, plausible)
        let cases = [
            (10_000, 10_000, true),
            (20_000, 10_000, true),
            (22_000, 10_000, true),
            (22_001, 10_000, false),
            (60_000, 0, false),
            (2_000, 0, true),
        ];
        for (i, (len, elapsed, ok)) in cases.into_iter().enumerate() {
            assert_eq!(segment_plausible(len, elapsed), ok, "case {i}");
        }
    }

    #[test]
    fn media_without_a_duration_is_never_finished() {
        let mut p = MediaProgress::default();
        p.watch(0, 5_000).unwrap();
        assert!(!p.finished);
        assert!(p.may_seek(6_000));
        assert!(!p.may_seek(8_000));
    }
}
