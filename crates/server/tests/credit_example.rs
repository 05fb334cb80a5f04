//! The worked example of docs/credit.md, step by step: every number the document states is
//! asserted here, so another implementation can reproduce the service's hours exactly.

mod common;

use common::T0;
use common::lab::*;

#[test]
fn the_worked_example_of_docs_credit_md() {
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let (mut a, mut b) = (lab.personal(1, l), lab.personal(2, l));
    assert_eq!(lab.now(), T0);

    // PC A: anchor issued at T0, received at (run 1, 0 ms).
    a.fetch_anchor(&lab);
    // A1: at (1, 600 000), wall T0+600 000: 600 000 ms of study.
    a.wait(600_000);
    let a1 = a.receipt(long_study(600_000));
    // A2: at (1, 1 200 000): claims 900 000 ms, only 600 000 since A1.
    a.wait(600_000);
    let a2 = a.receipt(long_study(900_000));

    // PC B: anchor issued at T0+300 000; the app restarts (run 2) before B studies.
    lab.advance(300_000);
    b.fetch_anchor(&lab);
    b.restart();
    // B1: wall T0+900 000: 600 000 ms (the minutes A was already credited for).
    b.wall = T0 + 900_000;
    b.elapsed = 600_000;
    let b1 = b.receipt(long_study(600_000));
    // B2: wall T0+9 000 000: 3 600 000 ms, across midnight in Beijing (T0+6 400 000).
    b.wall = T0 + 9_000_000;
    b.elapsed = 4_200_000;
    let b2 = b.receipt(long_study(3_600_000));
    // B3: wall T0+12 000 000: 600 000 ms claimed after B's receipts reached the service.
    b.wall = T0 + 12_000_000;
    b.elapsed = 4_800_000;
    let b3 = b.receipt(long_study(600_000));

    // A syncs at T0+3 600 000, B at T0+10 000 000.
    lab.advance(3_300_000);
    lab.send(&a, vec![a1, a2]);
    lab.advance(6_400_000);
    assert_eq!(lab.now(), T0 + 10_000_000);
    lab.send(&b, vec![b1, b2, b3]);

    let facts = lab.svc.facts_of(l).unwrap();
    let spans: Vec<(i64, i64)> = facts
        .study
        .pieces()
        .iter()
        .map(|p| (p.start - T0, p.end - T0))
        .collect();
    assert_eq!(spans, vec![(0, 1_200_000), (5_400_000, 9_000_000)]);

    let rec = lab.record(l);
    assert_eq!(rec.credited_ms, 4_800_000);
    let days: Vec<(&str, u64)> = rec
        .days
        .iter()
        .map(|d| (d.day.as_str(), d.credited_ms))
        .collect();
    assert_eq!(
        days,
        vec![("2026-09-21", 2_200_000), ("2026-09-22", 2_600_000)]
    );
    let withheld: Vec<(&str, u64, u64)> = rec
        .withheld
        .iter()
        .map(|w| (w.code.as_str(), w.receipts, w.ms))
        .collect();
    assert_eq!(
        withheld,
        vec![
            ("credit.outside_provable_time", 1, 600_000),
            ("credit.overlap", 1, 600_000),
            ("credit.run_overlap", 1, 300_000),
        ]
    );
    assert_eq!(rec.overlaps.len(), 1);
    assert_eq!(rec.overlaps[0].device_id, b.id());
    assert_eq!(rec.overlaps[0].other_device_id, a.id());
    assert_eq!(rec.overlaps[0].overlap_ms, 600_000);
    assert_eq!(rec.overlaps[0].first_ms, T0 + 300_000);
}
