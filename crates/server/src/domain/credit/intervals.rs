//! Half-open real-time intervals `[start, end)` in Unix milliseconds, kept sorted and disjoint.
//!
//! Written by hand: the operations needed (subtract a set from a span, report which owner held
//! the overlapping part, merge touching neighbours of the same owner) are a few lines each, and
//! the interval-tree crates on crates.io answer stabbing queries, not set subtraction with owners.

use serde::{Deserialize, Serialize};

/// One interval with the key of whoever it is attributed to (a device number, or 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece<K> {
    pub start: i64,
    pub end: i64,
    pub owner: K,
}

/// A sorted, disjoint set of intervals with owners. Neighbours of the same owner closer than
/// `join_ms` are stored as one, so a long study session is one entry however many receipts it
/// took; the gap joined is then treated as covered (later claims on it credit nothing), which
/// can only lower credit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntervalSet<K> {
    pieces: Vec<Piece<K>>,
}

impl<K> Default for IntervalSet<K> {
    fn default() -> Self {
        Self { pieces: Vec::new() }
    }
}

impl<K: Copy + Eq> IntervalSet<K> {
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    pub fn pieces(&self) -> &[Piece<K>] {
        &self.pieces
    }

    /// Total covered length.
    pub fn measure(&self) -> u64 {
        self.pieces
            .iter()
            .map(|p| u64::try_from(p.end - p.start).unwrap_or(0))
            .sum()
    }

    /// Index of the first piece that ends after `t`.
    fn first_ending_after(&self, t: i64) -> usize {
        self.pieces.partition_point(|p| p.end <= t)
    }

    /// The parts of `[start, end)` not covered yet, in order, and the covered parts with their
    /// owners.
    pub fn split(&self, start: i64, end: i64) -> (Vec<(i64, i64)>, Vec<Piece<K>>) {
        let mut free = Vec::new();
        let mut held = Vec::new();
        if end <= start {
            return (free, held);
        }
        let mut cursor = start;
        for p in &self.pieces[self.first_ending_after(start)..] {
            if p.start >= end {
                break;
            }
            if p.start > cursor {
                free.push((cursor, p.start));
            }
            let (a, b) = (p.start.max(start), p.end.min(end));
            if b > a {
                held.push(Piece {
                    start: a,
                    end: b,
                    owner: p.owner,
                });
            }
            cursor = cursor.max(p.end);
        }
        if cursor < end {
            free.push((cursor, end));
        }
        (free, held)
    }

    /// Adds `[start, end)` for `owner`; the span must not overlap what is held (use
    /// [`split`](Self::split) first). Touching or near neighbours of the same owner merge.
    pub fn insert_free(&mut self, start: i64, end: i64, owner: K, join_ms: i64) {
        if end <= start {
            return;
        }
        let i = self.pieces.partition_point(|p| p.start < start);
        let mut new = Piece { start, end, owner };
        let mut lo = i;
        if i > 0 {
            let prev = self.pieces[i - 1];
            if prev.owner == owner && new.start - prev.end <= join_ms {
                new.start = prev.start;
                new.end = new.end.max(prev.end);
                lo = i - 1;
            }
        }
        let mut hi = i;
        if let Some(next) = self.pieces.get(i)
            && next.owner == owner
            && next.start - new.end <= join_ms
        {
            new.end = new.end.max(next.end);
            hi = i + 1;
        }
        self.pieces.splice(lo..hi, std::iter::once(new));
    }

    /// Adds `[start, end)` and returns the parts that were not covered before.
    pub fn add(&mut self, start: i64, end: i64, owner: K, join_ms: i64) -> Vec<(i64, i64)> {
        let (free, _) = self.split(start, end);
        for &(a, b) in &free {
            self.insert_free(a, b, owner, join_ms);
        }
        free
    }
}

/// Merges position intervals (media positions in ms) in place and returns their covered length.
pub fn merge_positions(v: &mut Vec<(u64, u64)>) -> u64 {
    v.retain(|(a, b)| b > a);
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for &(a, b) in v.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *v = out;
    v.iter().map(|(a, b)| b - a).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_reports_free_and_held_parts() {
        let mut s: IntervalSet<u8> = IntervalSet::default();
        assert_eq!(s.add(10, 20, 1, 0), vec![(10, 20)]);
        assert_eq!(s.add(30, 40, 2, 0), vec![(30, 40)]);
        let (free, held) = s.split(5, 35);
        assert_eq!(free, vec![(5, 10), (20, 30)]);
        assert_eq!(
            held,
            vec![
                Piece {
                    start: 10,
                    end: 20,
                    owner: 1
                },
                Piece {
                    start: 30,
                    end: 35,
                    owner: 2
                }
            ]
        );
        assert_eq!(s.add(0, 50, 3, 0), vec![(0, 10), (20, 30), (40, 50)]);
        assert_eq!(s.measure(), 50);
    }

    #[test]
    fn neighbours_of_one_owner_merge_so_a_session_is_one_entry() {
        let mut s: IntervalSet<u8> = IntervalSet::default();
        for k in 0..1000 {
            s.add(k * 60_000, k * 60_000 + 59_500, 7, 1_000);
        }
        assert_eq!(s.len(), 1, "gaps under a second join");
        s.add(100_000_000, 100_000_010, 8, 1_000);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn positions_merge() {
        let mut v = vec![(5, 20), (0, 10), (30, 40), (40, 41), (7, 7)];
        assert_eq!(merge_positions(&mut v), 31);
        assert_eq!(v, vec![(0, 20), (30, 41)]);
    }
}
