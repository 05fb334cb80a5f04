//! Chain rules: where a verified receipt stands in its device's chain.
//!
//! Pure functions over a device's known chain state, used by the service on ingest and by the
//! client to check its own ledger. A chain starts at seq 1 whose `prev` is [`ReceiptId::ZERO`];
//! receipt `n + 1` names receipt `n`'s id.

use crate::ids::ReceiptId;

/// The part of a receipt that places it in a chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLink {
    pub seq: u64,
    pub id: ReceiptId,
    pub prev: ReceiptId,
}

/// The end of a device's contiguous, verified chain prefix. `seq == 0` is the empty chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ChainHead {
    pub seq: u64,
    pub id: ReceiptId,
}

impl ChainHead {
    pub const EMPTY: Self = Self {
        seq: 0,
        id: ReceiptId::ZERO,
    };

    /// The head after `link`, which must [`Placement::Extends`] this head.
    pub fn advanced(self, link: &ChainLink) -> Self {
        Self {
            seq: link.seq,
            id: link.id,
        }
    }
}

/// Where one receipt stands relative to a device's chain head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The next receipt: it continues the chain.
    Extends,
    /// Already held at this position (same id): count it once.
    Duplicate,
    /// Receipts are missing before it; keep it pending until `expected` arrives.
    Gap { expected: u64 },
    /// A different receipt at a position that already holds one, or a next receipt that does
    /// not name the head as its predecessor: the device's history has split.
    Fork { seq: u64 },
}

/// Places `link` after `head`. `held_at(seq)` answers the id already held at a position at or
/// before the head (the caller's store), used to tell a duplicate from a fork.
pub fn place(
    head: ChainHead,
    link: &ChainLink,
    held_at: impl FnOnce(u64) -> Option<ReceiptId>,
) -> Placement {
    let expected = head.seq + 1;
    if link.seq == expected {
        if link.prev == head.id {
            Placement::Extends
        } else {
            Placement::Fork { seq: link.seq }
        }
    } else if link.seq < expected {
        match held_at(link.seq) {
            Some(id) if id == link.id => Placement::Duplicate,
            _ => Placement::Fork { seq: link.seq },
        }
    } else {
        Placement::Gap { expected }
    }
}

/// What is wrong with a sequence of receipts offered as one device's chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("receipt {expected} is missing (next present is {found})")]
    Gap { expected: u64, found: u64 },
    #[error("receipt {found} came before receipt {expected}")]
    OutOfOrder { expected: u64, found: u64 },
    #[error("receipt {seq} appears more than once")]
    Duplicate { seq: u64 },
    #[error("two different receipts claim position {seq}")]
    Fork { seq: u64 },
    #[error("receipt {seq} does not name receipt {} as its predecessor", seq - 1)]
    BrokenLink { seq: u64 },
    #[error("the chain ends at {found}, but {expected} receipts are known")]
    Truncated { expected: u64, found: u64 },
}

impl ChainError {
    /// Stable code for boundaries (HTTP, UI, test vectors).
    pub fn code(&self) -> &'static str {
        match self {
            ChainError::Gap { .. } => "chain.gap",
            ChainError::OutOfOrder { .. } => "chain.out_of_order",
            ChainError::Duplicate { .. } => "chain.duplicate",
            ChainError::Fork { .. } => "chain.fork",
            ChainError::BrokenLink { .. } => "chain.broken_link",
            ChainError::Truncated { .. } => "chain.truncated",
        }
    }
}

/// Checks that `links`, in the order given, continue the chain from `start` with no gap,
/// reordering, duplicate, fork or broken link, and returns the new head. Reports the first
/// problem found.
pub fn verify_chain(start: ChainHead, links: &[ChainLink]) -> Result<ChainHead, ChainError> {
    let mut head = start;
    // Ids seen in this run, by position, to tell a duplicate from a fork.
    let mut seen: std::collections::HashMap<u64, ReceiptId> = std::collections::HashMap::new();
    for (i, link) in links.iter().enumerate() {
        let expected = head.seq + 1;
        if link.seq == expected {
            if link.prev != head.id {
                return Err(ChainError::BrokenLink { seq: link.seq });
            }
            seen.insert(link.seq, link.id);
            head = head.advanced(link);
        } else if link.seq < expected {
            return Err(match seen.get(&link.seq) {
                Some(id) if *id == link.id => ChainError::Duplicate { seq: link.seq },
                Some(_) => ChainError::Fork { seq: link.seq },
                // Before `start`: nothing to compare with here; a position already settled.
                None if link.seq <= start.seq => ChainError::Duplicate { seq: link.seq },
                None => ChainError::Fork { seq: link.seq },
            });
        } else if links[i + 1..].iter().any(|l| l.seq == expected) {
            return Err(ChainError::OutOfOrder {
                expected,
                found: link.seq,
            });
        } else {
            return Err(ChainError::Gap {
                expected,
                found: link.seq,
            });
        }
    }
    Ok(head)
}

/// [`verify_chain`], and the chain must end exactly at `end` (which catches receipts deleted
/// from the tail, which no link can show).
pub fn verify_chain_to(
    start: ChainHead,
    links: &[ChainLink],
    end: ChainHead,
) -> Result<(), ChainError> {
    let head = verify_chain(start, links)?;
    if head.seq < end.seq {
        return Err(ChainError::Truncated {
            expected: end.seq,
            found: head.seq,
        });
    }
    if head != end {
        return Err(ChainError::Fork { seq: end.seq });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ReceiptId {
        ReceiptId([n; 32])
    }

    fn link(seq: u64, own: u8, prev: u8) -> ChainLink {
        ChainLink {
            seq,
            id: id(own),
            prev: if prev == 0 { ReceiptId::ZERO } else { id(prev) },
        }
    }

    #[test]
    fn placement_case_table() {
        let head = ChainHead { seq: 3, id: id(3) };
        let held = |seq: u64| (seq <= 3).then(|| id(seq as u8));
        let cases = [
            ("next, naming the head", link(4, 4, 3), Placement::Extends),
            (
                "next, naming another predecessor",
                link(4, 4, 9),
                Placement::Fork { seq: 4 },
            ),
            ("same receipt again", link(2, 2, 1), Placement::Duplicate),
            (
                "another receipt at a held position",
                link(2, 7, 1),
                Placement::Fork { seq: 2 },
            ),
            (
                "beyond the next",
                link(6, 6, 5),
                Placement::Gap { expected: 4 },
            ),
        ];
        for (why, l, want) in cases {
            assert_eq!(place(head, &l, held), want, "{why}");
        }
        assert_eq!(
            place(ChainHead::EMPTY, &link(1, 1, 0), |_| None),
            Placement::Extends,
            "the genesis receipt extends the empty chain"
        );
    }

    #[test]
    fn sequence_case_table() {
        let good = [link(1, 1, 0), link(2, 2, 1), link(3, 3, 2)];
        assert_eq!(
            verify_chain(ChainHead::EMPTY, &good),
            Ok(ChainHead { seq: 3, id: id(3) })
        );
        let cases: [(&str, Vec<ChainLink>, ChainError); 5] = [
            (
                "middle deleted",
                vec![good[0], good[2]],
                ChainError::Gap {
                    expected: 2,
                    found: 3,
                },
            ),
            (
                "swapped",
                vec![good[0], good[2], good[1]],
                ChainError::OutOfOrder {
                    expected: 2,
                    found: 3,
                },
            ),
            (
                "repeated",
                vec![good[0], good[1], good[1]],
                ChainError::Duplicate { seq: 2 },
            ),
            (
                "two at one place",
                vec![good[0], good[1], link(2, 8, 1)],
                ChainError::Fork { seq: 2 },
            ),
            (
                "wrong predecessor",
                vec![good[0], link(2, 2, 9)],
                ChainError::BrokenLink { seq: 2 },
            ),
        ];
        for (why, links, want) in cases {
            assert_eq!(verify_chain(ChainHead::EMPTY, &links), Err(want), "{why}");
        }
        assert_eq!(
            verify_chain_to(
                ChainHead::EMPTY,
                &good[..2],
                ChainHead { seq: 3, id: id(3) }
            ),
            Err(ChainError::Truncated {
                expected: 3,
                found: 2
            }),
            "a deleted tail is caught against the known head"
        );
    }
}
