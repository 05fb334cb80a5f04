//! Honest study is never lost (issue #12): a week offline, two PCs used on different days, and a
//! kiosk class with no internet — all credited in full, courses completed, certificates issued.

mod common;

use common::lab::*;
use hearth_protocol::{AttendanceCheck, ClassId, Event, LearnerId};

fn assert_certified(lab: &Lab, l: LearnerId) {
    let rec = lab.record(l);
    let c = rec
        .courses
        .iter()
        .find(|c| c.course == "electrician-safety")
        .expect("the course");
    assert!(c.completed, "{c:?} withheld {:?}", rec.withheld);
    assert_eq!(c.credited_ms, 11 * MINUTE);
    assert_eq!(rec.certificates.len(), 1);
    assert_eq!(rec.certificates[0].course, "electrician-safety");
    assert!(rec.overlaps.is_empty());
}

#[test]
fn a_week_offline_is_credited_in_full() {
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let mut pc = lab.personal(1, l);
    pc.fetch_anchor(&lab);
    let mut unsent = Vec::new();
    // Seven evenings of two hours on the long course, the PC off in between (a new app run each
    // day, its clock right), and the short course done on the third day.
    for day in 0..7 {
        lab.advance(20 * HOUR);
        pc.restart();
        pc.wall = lab.now();
        unsent.extend(honest(&lab, &mut pc, 120, long_study));
        if day == 2 {
            unsent.extend(whole_course(&lab, &mut pc));
        }
        lab.advance(2 * HOUR);
    }
    // Back in town: one sync uploads the week.
    let out = lab.send(&pc, unsent);
    assert!(!out.flagged);
    assert_eq!(lab.long_credit(l), 14 * HOUR);
    let rec = lab.record(l);
    assert!(rec.days.len() >= 7, "{:?}", rec.days);
    assert!(rec.days.iter().all(|d| d.credited_ms <= 8 * HOUR));
    assert_certified(&lab, l);
}

#[test]
fn two_pcs_at_different_times_are_both_credited() {
    let lab = Lab::new(1);
    let l = lab.learners[0];
    let (mut home, mut cafe) = (lab.personal(1, l), lab.personal(2, l));
    home.fetch_anchor(&lab);
    cafe.fetch_anchor(&lab);
    lab.advance(2 * DAY as u64);
    // Monday at home: lesson 1 and an hour of the long course, then sync.
    home.restart();
    home.wall = lab.now();
    let mut b = honest(&lab, &mut home, 10, |ms| study("l1", ms));
    b.push(home.receipt(completed("l1")));
    b.extend(honest(&lab, &mut home, 60, long_study));
    lab.send(&home, b);
    home.fetch_anchor(&lab);
    // Tuesday at the internet cafe, offline, on an anchor two days old: lesson 2, the exam and
    // another hour.
    lab.advance(DAY as u64);
    cafe.restart();
    cafe.wall = lab.now();
    let mut b = Vec::new();
    for i in 0..6 {
        lab.advance(10_000);
        cafe.wait(10_000);
        b.push(cafe.receipt(watched(lab.media, i * 10_000, (i + 1) * 10_000)));
    }
    b.push(cafe.receipt(study("l2", MINUTE)));
    b.push(cafe.receipt(completed("l2")));
    b.extend(honest(&lab, &mut cafe, 60, long_study));
    b.push(cafe.receipt(exam_started(1)));
    lab.advance(15 * MINUTE);
    cafe.wait(15 * MINUTE);
    b.push(cafe.receipt(exam_submitted(1, true)));
    lab.advance(3 * HOUR);
    lab.send(&cafe, b);
    assert_eq!(lab.long_credit(l), 2 * HOUR);
    assert_certified(&lab, l);
}

#[test]
fn a_kiosk_class_offline_for_a_week_is_credited_in_full() {
    let lab = Lab::new(3);
    let mut kiosk = lab.kiosk(9);
    kiosk.fetch_anchor(&lab);
    lab.advance(3 * DAY as u64);
    kiosk.restart();
    kiosk.wall = lab.now();
    // The trainer opens the class and attests who is there.
    kiosk.learner = LearnerId(lab.trainer);
    let mut b = vec![
        kiosk.receipt(signed_in()),
        kiosk.receipt(Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
            class: ClassId(lab.class),
            present: lab.learners.clone(),
        })),
        kiosk.receipt(signed_out()),
    ];
    // Each learner in turn signs in, does the course and an hour of the long one, signs out.
    for &l in &lab.learners {
        kiosk.learner = l;
        b.push(kiosk.receipt(signed_in()));
        b.extend(whole_course(&lab, &mut kiosk));
        b.extend(honest(&lab, &mut kiosk, 60, long_study));
        b.push(kiosk.receipt(signed_out()));
    }
    // A week later the trainer carries the kiosk's receipts to the service.
    lab.advance(4 * DAY as u64);
    lab.send(&kiosk, b);
    for &l in &lab.learners {
        assert_eq!(lab.long_credit(l), HOUR);
        assert_certified(&lab, l);
    }
    let class = lab.svc.store.class(lab.class).unwrap().unwrap();
    let p = lab.svc.class_progress(&class).unwrap();
    assert_eq!(p.attestations.len(), 1);
    assert!(p.attestations[0].studying_elsewhere.is_empty());
}
