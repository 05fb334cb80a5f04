//! The credit rules as properties (issue #12), against adversarial generators: a modified client
//! with up to three devices of one learner (personal PCs or kiosks), anchors fetched at any
//! moment, any signed spans, media claims, exam events, sign-ins, restarts, lies about when an
//! anchor arrived and clock games. Whatever it does, credit, completion and grades stay within
//! bounds the test computes on its own from what the service observed. And an honest learner's
//! study — offline stretches, restarts, two PCs — is credited in full.
//!
//! Cases: `PROPTEST_CASES` (default 40 here; `PROPTEST_CASES=1000` for a long run).

mod common;

use std::collections::BTreeMap;

use common::lab::*;
use hearth_protocol::Event;
use proptest::prelude::*;

const CAP: u64 = 8 * HOUR;
const OFFSET: i64 = 8 * HOUR as i64;
const EXAM_LIMIT: u64 = 20 * MINUTE + 2 * MINUTE;

#[derive(Clone, Debug)]
enum Act {
    /// Real time passes.
    Advance(u64),
    FetchAnchor(usize),
    Restart(usize),
    /// The device's clocks move, whatever real time does.
    Wait(usize, u64),
    /// The wall clock jumps.
    SetWall(usize, i64),
    /// "I received my anchor `delta` ms later than I did."
    LieReceived(usize, i64),
    Study(usize, u64, bool),
    Media(usize, u64, u64),
    Complete(usize, bool),
    ExamStart(usize, u32),
    ExamSubmit(usize, u32, bool),
    SignIn(usize),
    SignOut(usize),
    /// The trainer signs in (or not) and attests the learner present.
    Attest(usize, bool),
    Upload(usize),
}

fn act() -> impl Strategy<Value = Act> {
    let d = 0..3usize;
    prop_oneof![
        3 => (0..4 * HOUR).prop_map(Act::Advance),
        2 => d.clone().prop_map(Act::FetchAnchor),
        1 => d.clone().prop_map(Act::Restart),
        3 => (d.clone(), 0..6 * HOUR).prop_map(|(d, ms)| Act::Wait(d, ms)),
        1 => (d.clone(), -30 * DAY..30 * DAY).prop_map(|(d, ms)| Act::SetWall(d, ms)),
        1 => (d.clone(), -10 * HOUR as i64..10 * HOUR as i64).prop_map(|(d, ms)| Act::LieReceived(d, ms)),
        6 => (d.clone(), 1..3 * HOUR, any::<bool>()).prop_map(|(d, ms, long)| Act::Study(d, ms, long)),
        2 => (d.clone(), 0..60_000u64, 0..60_000u64).prop_map(|(d, a, b)| Act::Media(d, a.min(b), a.max(b) + 1)),
        1 => (d.clone(), any::<bool>()).prop_map(|(d, l1)| Act::Complete(d, l1)),
        1 => (d.clone(), 1..6u32).prop_map(|(d, a)| Act::ExamStart(d, a)),
        1 => (d.clone(), 1..6u32, any::<bool>()).prop_map(|(d, a, r)| Act::ExamSubmit(d, a, r)),
        1 => d.clone().prop_map(Act::SignIn),
        1 => d.clone().prop_map(Act::SignOut),
        1 => (d.clone(), any::<bool>()).prop_map(|(d, s)| Act::Attest(d, s)),
        2 => d.prop_map(Act::Upload),
    ]
}

/// What the test itself knows of one device: the receipts not sent yet, and what the service
/// observed of the ones sent.
#[derive(Default)]
struct Seen {
    unsent: Vec<(Vec<u8>, Sent)>,
    /// Earliest anchor carried by a receipt the service received.
    lo: Option<i64>,
    /// Latest arrival of its receipts.
    hi: Option<i64>,
}

#[derive(Clone, Debug)]
struct Sent {
    anchor_issued: Option<i64>,
    run: u32,
    elapsed: u64,
    event: Event,
}

/// Merged length of intervals.
fn union(mut v: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    v.sort();
    let mut out: Vec<(i64, i64)> = Vec::new();
    for (a, b) in v {
        if b <= a {
            continue;
        }
        match out.last_mut() {
            Some(l) if a <= l.1 => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn measure(v: &[(i64, i64)], lo: i64, hi: i64) -> u64 {
    v.iter()
        .map(|&(a, b)| (b.min(hi) - a.max(lo)).max(0) as u64)
        .sum()
}

fn run_adversary(kiosks: [bool; 3], acts: Vec<Act>) -> Result<(), TestCaseError> {
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let mut devs: Vec<Dev> = (0..3)
        .map(|i| {
            let mut d = if kiosks[i] {
                lab.kiosk(40 + i as u8)
            } else {
                lab.personal(40 + i as u8, l)
            };
            d.learner = l;
            d
        })
        .collect();
    let mut seen: Vec<Seen> = (0..3).map(|_| Seen::default()).collect();
    // Attestations signed while the trainer was signed in on a kiosk: (device, receipt count).
    let mut may_count: Vec<usize> = Vec::new();
    let mut trainer_in = [false; 3];
    // (device, attempt) → (arrival of the start at the service, its run and elapsed)
    let mut starts: BTreeMap<(usize, u32), (i64, u32, u64)> = BTreeMap::new();
    // Submissions sent: (device, attempt, arrival, anchor issued, run, elapsed).
    let mut submits: Vec<(usize, u32, i64, Option<i64>, u32, u64)> = Vec::new();

    let upload = |i: usize,
                  devs: &mut Vec<Dev>,
                  seen: &mut Vec<Seen>,
                  starts: &mut BTreeMap<_, _>,
                  submits: &mut Vec<_>| {
        let batch: Vec<(Vec<u8>, Sent)> = std::mem::take(&mut seen[i].unsent);
        if batch.is_empty() {
            return;
        }
        let now = lab.now();
        for (_, s) in &batch {
            if let Some(a) = s.anchor_issued {
                seen[i].lo = Some(seen[i].lo.map_or(a, |lo: i64| lo.min(a)));
            }
            match &s.event {
                Event::ExamStarted { attempt, .. } => {
                    starts
                        .entry((i, *attempt))
                        .or_insert((now, s.run, s.elapsed));
                }
                Event::ExamSubmitted { attempt, .. } => {
                    submits.push((i, *attempt, now, s.anchor_issued, s.run, s.elapsed));
                }
                _ => {}
            }
        }
        seen[i].hi = Some(now);
        lab.send(&devs[i], batch.into_iter().map(|(b, _)| b).collect());
    };

    for a in acts {
        let sign = |i: usize, devs: &mut Vec<Dev>, seen: &mut Vec<Seen>, e: Event| {
            let d = &mut devs[i];
            let sent = Sent {
                anchor_issued: d.anchor.map(|a| a.anchor.issued_ms),
                run: d.run,
                elapsed: d.elapsed,
                event: e.clone(),
            };
            let bytes = d.receipt(e);
            seen[i].unsent.push((bytes, sent));
        };
        match a {
            Act::Advance(ms) => lab.advance(ms),
            Act::FetchAnchor(i) => devs[i].fetch_anchor(&lab),
            Act::Restart(i) => devs[i].restart(),
            Act::Wait(i, ms) => devs[i].wait(ms),
            Act::SetWall(i, ms) => devs[i].wall = lab.now() + ms,
            Act::LieReceived(i, delta) => {
                let d = &mut devs[i];
                if let Some(a) = d.anchor.as_mut() {
                    a.received.elapsed_ms = (a.received.elapsed_ms as i64 + delta).max(0) as u64;
                }
            }
            Act::Study(i, ms, long) => {
                let e = if long {
                    long_study(ms)
                } else {
                    study("l1", ms)
                };
                sign(i, &mut devs, &mut seen, e)
            }
            Act::Media(i, a, b) => sign(i, &mut devs, &mut seen, watched(lab.media, a, b)),
            Act::Complete(i, l1) => sign(
                i,
                &mut devs,
                &mut seen,
                completed(if l1 { "l1" } else { "l2" }),
            ),
            Act::ExamStart(i, n) => sign(i, &mut devs, &mut seen, exam_started(n)),
            Act::ExamSubmit(i, n, r) => sign(i, &mut devs, &mut seen, exam_submitted(n, r)),
            Act::SignIn(i) => {
                trainer_in[i] = false;
                sign(i, &mut devs, &mut seen, signed_in())
            }
            // The learner signing out leaves a trainer signed in as they were.
            Act::SignOut(i) => sign(i, &mut devs, &mut seen, signed_out()),
            Act::Attest(i, sign_in_first) => {
                devs[i].learner = hearth_protocol::LearnerId(lab.trainer);
                if sign_in_first {
                    sign(i, &mut devs, &mut seen, signed_in());
                    trainer_in[i] = true;
                }
                let e = Event::AttendanceCheck(hearth_protocol::AttendanceCheck::TrainerAttested {
                    class: hearth_protocol::ClassId(lab.class),
                    present: vec![l],
                });
                if kiosks[i] && trainer_in[i] {
                    may_count.push(i);
                }
                sign(i, &mut devs, &mut seen, e);
                devs[i].learner = l;
            }
            Act::Upload(i) => upload(i, &mut devs, &mut seen, &mut starts, &mut submits),
        }
    }
    for i in 0..3 {
        upload(i, &mut devs, &mut seen, &mut starts, &mut submits);
    }

    // The bound, from what the service observed: each device in use from the first anchor it
    // showed to the last arrival of its receipts.
    let windows = union(seen.iter().filter_map(|s| Some((s.lo?, s.hi?))).collect());
    let facts = lab.svc.facts_of(l).unwrap();
    let raw = facts.credited_raw_ms();
    let provable = measure(&windows, i64::MIN, i64::MAX);
    prop_assert!(
        raw <= provable,
        "credited {raw} > provable {provable} ({windows:?})"
    );
    for (&day, &ms) in &facts.days {
        let lo = day * DAY - OFFSET;
        let in_day = measure(&windows, lo, lo + DAY);
        prop_assert!(ms <= CAP, "day {day}: {ms} over the cap");
        prop_assert!(ms <= in_day, "day {day}: {ms} > provable {in_day}");
    }
    let rec = lab.record(l);
    let shown: u64 = rec.courses.iter().map(|c| c.credited_ms).sum();
    prop_assert!(shown <= raw, "the record shows {shown} > {raw} derived");
    prop_assert_eq!(rec.credited_ms, shown);
    // Media at most at real-time speed inside the same union.
    let media: u64 = facts
        .media
        .values()
        .flat_map(|m| m.values())
        .flatten()
        .map(|(a, b)| b - a)
        .sum();
    prop_assert!(media <= provable.min(60_000), "media {media}");

    for c in &rec.courses {
        let graded = c
            .exams
            .iter()
            .filter(|e| e.status != "exam.attempts_exceeded" && e.status != "exam.not_started")
            .count();
        prop_assert!(graded <= 3, "{} attempts counted", graded);
        for e in c.exams.iter().filter(|e| e.passed) {
            // A passed attempt was started, on a device, before it was submitted...
            let sub = submits.iter().find(|s| s.1 == e.attempt);
            prop_assert!(sub.is_some());
            let found =
                submits
                    .iter()
                    .filter(|s| s.1 == e.attempt)
                    .any(|&(i, n, arr, anchor, run, el)| {
                        let Some(&(start_arr, srun, sel)) = starts.get(&(i, n)) else {
                            return false;
                        };
                        // ...and nothing the service observed shows it took longer than the limit.
                        let service_took = anchor.map_or(0, |a| (a - start_arr).max(0) as u64);
                        let mono_took = if run == srun {
                            el.saturating_sub(sel)
                        } else {
                            0
                        };
                        arr >= start_arr && service_took <= EXAM_LIMIT && mono_took <= EXAM_LIMIT
                    });
            prop_assert!(
                found,
                "passed attempt {} has no valid start: {:?}",
                e.attempt,
                c.exams
            );
        }
        if c.completed {
            prop_assert!(c.credited_ms >= c.required_ms && c.required_ms > 0);
            prop_assert!(c.exams.iter().any(|e| e.passed) || c.course == "long-course");
        }
    }
    // Attestations count only from a kiosk with the trainer signed in.
    let class = lab.svc.store.class(lab.class).unwrap().unwrap();
    let listed = lab.svc.class_progress(&class).unwrap().attestations;
    prop_assert!(
        listed.len() <= may_count.len(),
        "{} listed, {} could count",
        listed.len(),
        may_count.len()
    );
    for a in &listed {
        prop_assert!(may_count.iter().any(|&i| devs[i].id() == a.device_id));
    }
    for cert in &rec.certificates {
        let c = rec.courses.iter().find(|c| c.course == cert.course);
        prop_assert!(
            c.is_some_and(|c| c.completed),
            "certificate without completion"
        );
    }
    Ok(())
}

fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        max_shrink_iters: 200,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(cases(40))]

    #[test]
    fn a_modified_client_earns_no_more_than_the_rules_allow(
        kiosks in any::<[bool; 3]>(),
        acts in proptest::collection::vec(act(), 1..60),
    ) {
        run_adversary(kiosks, acts)?;
    }

    /// An honest learner on two PCs: sessions of study at real speed, offline for days, the app
    /// restarted between sessions, syncing now and then. Every minute is credited.
    #[test]
    fn honest_study_is_credited_in_full(
        sessions in proptest::collection::vec(
            (0..2usize, 1..120u64, 0..3 * DAY as u64, any::<bool>(), any::<bool>()),
            1..12,
        ),
    ) {
        let lab = Lab::new(1);
        let l = lab.learners[0];
        let mut devs = [lab.personal(50, l), lab.personal(51, l)];
        for d in devs.iter_mut() {
            d.fetch_anchor(&lab);
        }
        let mut unsent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
        let mut studied = 0u64;
        let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
        for (i, minutes, gap, restart, sync) in sessions {
            // Time passes with the PCs off; the next session starts after a restart.
            lab.advance(gap);
            for d in devs.iter_mut() {
                d.wall = lab.now();
            }
            if restart {
                devs[i].restart();
            }
            for _ in 0..minutes {
                let day = (lab.now() + OFFSET).div_euclid(DAY);
                if per_day.get(&day).copied().unwrap_or(0) + MINUTE > 6 * HOUR {
                    break; // an honest learner studies at most six hours a day here
                }
                unsent[i].extend(honest(&lab, &mut devs[i], 1, long_study));
                let end_day = (lab.now() - 1 + OFFSET).div_euclid(DAY);
                *per_day.entry(end_day).or_insert(0) += MINUTE;
                studied += MINUTE;
            }
            if sync {
                lab.send(&devs[i], std::mem::take(&mut unsent[i]));
                devs[i].fetch_anchor(&lab);
            }
        }
        lab.advance(MINUTE);
        for i in 0..2 {
            let b = std::mem::take(&mut unsent[i]);
            lab.send(&devs[i], b);
        }
        let credited = lab.long_credit(l);
        prop_assert_eq!(credited, studied, "{:?}", lab.record(l).withheld);
        prop_assert!(lab.record(l).overlaps.is_empty());
    }
}

/// Guard against a vacuous property: a script of the generator's kind that earns credit and has
/// some withheld, checked by the same bounds.
#[test]
fn the_adversary_property_is_not_vacuous() {
    let acts = vec![
        Act::FetchAnchor(0),
        Act::Advance(5 * HOUR),
        Act::Wait(0, 5 * HOUR),
        Act::Study(0, 4 * HOUR, true),
        Act::Study(0, 4 * HOUR, true),
        Act::Upload(0),
    ];
    run_adversary([false; 3], acts).unwrap();
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let mut d = lab.personal(60, l);
    d.fetch_anchor(&lab);
    lab.advance(5 * HOUR);
    d.wait(5 * HOUR);
    let b = vec![
        d.receipt(long_study(4 * HOUR)),
        d.receipt(long_study(4 * HOUR)),
    ];
    lab.send(&d, b);
    assert_eq!(lab.long_credit(l), 4 * HOUR);
    assert_eq!(lab.withheld(l, "credit.run_overlap"), 4 * HOUR);
}
