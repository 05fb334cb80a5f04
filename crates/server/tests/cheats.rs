//! The audit's findings against the credit rules (issue #12), one case each: a modified client
//! with a genuine enrolled key signs whatever it likes, and the service must credit no more than
//! the rules allow, say why, and still credit honest study. Every case failed on the service as
//! it was before the rules were rebuilt around service-observed time.

mod common;

use common::lab::*;
use hearth_protocol::{AnchorRef, AttendanceCheck, ClassId, Event, MonoStamp};

/// A little slack for the anchors' trip and rounding.
const SLACK: u64 = 1_000;

type Case = fn(&Lab);

fn run(cases: &[(&str, Case)]) {
    for (name, case) in cases {
        eprintln!("case: {name}");
        case(&Lab::new(3));
    }
}

#[test]
fn findings_of_the_audit() {
    run(&[
        ("1 many anchors, many budgets", many_anchors),
        ("2 device-chosen arrival time", device_chosen_arrival),
        (
            "3 two devices, second in a later run",
            two_devices_later_run,
        ),
        ("4 media at any speed", media_at_any_speed),
        ("5 completion without study", completion_without_study),
        ("6a exam over its time limit", exam_over_time),
        ("6b exam without exam_started", exam_not_started),
        ("6c unlimited attempts", exam_attempts),
        (
            "7a attestation from a personal device",
            attestation_from_personal_device,
        ),
        (
            "7b attested while studying elsewhere",
            attested_while_elsewhere,
        ),
        (
            "7c kiosk study with nobody signed in",
            kiosk_nobody_signed_in,
        ),
        ("8 offline week, hours invented", offline_week_invented),
        (
            "9 flagged devices keep earning",
            flagged_device_earns_nothing,
        ),
        ("10 unbounded storage from junk", bounded_evidence),
        ("11 regrading by republishing", no_regrading_by_republishing),
    ]);
}

/// Ten anchors fetched at once, each used in its own app run to claim the same two minutes:
/// holding many anchors gains nothing.
fn many_anchors(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    let mut anchors = Vec::new();
    for _ in 0..10 {
        anchors.push(lab.svc.anchor_for(d.id()));
        lab.advance(1);
    }
    let mut batch = Vec::new();
    for a in anchors {
        d.restart();
        d.anchor = Some(AnchorRef {
            anchor: a,
            received: d.mono(),
        });
        for _ in 0..2 {
            d.wait(MINUTE);
            batch.push(d.receipt(long_study(MINUTE)));
        }
    }
    lab.advance(2 * MINUTE);
    lab.send(&d, batch);
    let credited = lab.long_credit(l);
    assert!(
        credited <= 2 * MINUTE + SLACK,
        "credited {credited} ms in 2 minutes of real time"
    );
    assert!(credited >= 2 * MINUTE - SLACK, "the real two minutes count");
}

/// A second device of the same learner claims it received its anchor much later than it did,
/// placing its spans before the anchor existed, beside the first device's honest study.
fn device_chosen_arrival(lab: &Lab) {
    let l = lab.learners[0];
    let (mut a, mut b) = (lab.personal(1, l), lab.personal(2, l));
    a.fetch_anchor(lab);
    b.fetch_anchor(lab);
    let mut honest_batch = Vec::new();
    let mut cheat = Vec::new();
    for _ in 0..3 {
        lab.advance(MINUTE);
        a.wait(MINUTE);
        b.wait(MINUTE);
        honest_batch.push(a.receipt(long_study(MINUTE)));
        // "I got the anchor 10 minutes after this moment."
        let mut anchor = b.anchor.unwrap();
        anchor.received = MonoStamp {
            run: b.run,
            elapsed_ms: b.elapsed + 10 * MINUTE,
        };
        let keep = b.anchor.replace(anchor);
        b.elapsed += 10 * MINUTE;
        cheat.push(b.receipt(long_study(MINUTE)));
        b.elapsed -= 10 * MINUTE;
        b.anchor = keep;
    }
    lab.send(&a, honest_batch);
    lab.send(&b, cheat);
    let credited = lab.long_credit(l);
    assert!(
        credited <= 3 * MINUTE + SLACK,
        "credited {credited} ms in 3 minutes of real time"
    );
}

/// A second PC of the same learner, restarted offline with an old anchor, claims the same time
/// the first PC was used: counted once, and the overlap is reported.
fn two_devices_later_run(lab: &Lab) {
    let l = lab.learners[0];
    let (mut a, mut b) = (lab.personal(1, l), lab.personal(2, l));
    a.fetch_anchor(lab);
    b.fetch_anchor(lab);
    b.restart();
    let mut ba = Vec::new();
    let mut bb = Vec::new();
    for _ in 0..5 {
        lab.advance(MINUTE);
        a.wait(MINUTE);
        b.wait(MINUTE);
        ba.push(a.receipt(long_study(MINUTE)));
        bb.push(b.receipt(long_study(MINUTE)));
    }
    lab.send(&a, ba);
    lab.send(&b, bb);
    let rec = lab.record(l);
    let credited = lab.long_credit(l);
    assert!(
        credited <= 5 * MINUTE + SLACK,
        "credited {credited} ms in 5 minutes"
    );
    assert!(
        credited >= 5 * MINUTE - SLACK,
        "the real five minutes count"
    );
    assert_eq!(rec.overlaps.len(), 1, "the overlap is reported: {rec:?}");
    assert!(rec.overlaps[0].overlap_ms >= 4 * MINUTE);
    assert!(lab.withheld(l, "credit.overlap") >= 4 * MINUTE);
}

/// The 60 s audio "watched" at 16× (and skipped ahead), then the lesson claimed complete.
fn media_at_any_speed(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let mut batch = Vec::new();
    // Four seconds of real time, each claiming 16 s of the audio.
    for i in 0..4u64 {
        lab.advance(1_000);
        d.wait(1_000);
        batch.push(d.receipt(watched(lab.media, i * 16_000, (i + 1) * 16_000)));
    }
    // Then enough study of the lesson (1 minute) and the completion claim.
    batch.extend(honest(lab, &mut d, 1, |ms| study("l2", ms)));
    batch.push(d.receipt(completed("l2")));
    lab.send(&d, batch);
    let rec = lab.record(l);
    let l2 = &rec.courses[0].lessons[1];
    assert_eq!(l2.lesson, "l2");
    assert!(!l2.media_watched, "{l2:?}");
    assert!(!l2.completed);
    assert!(lab.withheld(l, "media.too_fast") >= 60_000 - 4_000 - SLACK);
}

/// Every lesson claimed complete with no study, the media "watched", the exam passed: no
/// certificate without the declared hours.
fn completion_without_study(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    lab.advance(2 * MINUTE);
    d.wait(2 * MINUTE);
    let batch = vec![
        d.receipt(watched(lab.media, 0, 60_000)),
        d.receipt(completed("l1")),
        d.receipt(completed("l2")),
        d.receipt(exam_started(1)),
        d.receipt(exam_submitted(1, true)),
    ];
    lab.send(&d, batch);
    let rec = lab.record(l);
    let c = &rec.courses[0];
    assert!(c.exams[0].passed, "the exam itself was fine: {c:?}");
    assert!(!c.completed, "{c:?}");
    assert!(c.missing.contains(&"completion.hours".to_owned()));
    assert!(rec.certificates.is_empty());
}

/// Submitted three hours after `exam_started`, with a 20-minute limit.
fn exam_over_time(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let mut batch = vec![d.receipt(exam_started(1))];
    lab.advance(3 * HOUR);
    d.wait(3 * HOUR);
    batch.push(d.receipt(exam_submitted(1, true)));
    lab.send(&d, batch);
    let e = &lab.record(l).courses[0].exams[0];
    assert!(!e.passed, "{e:?}");
    assert_eq!(e.status, "exam.over_time");
    // The service's own times show it too, whatever the device's clocks say: the start reached
    // the service, and the submission carries an anchor issued three hours later.
    let mut d2 = lab.personal(2, lab.learners[1]);
    d2.fetch_anchor(lab);
    let r = d2.receipt(exam_started(1));
    lab.send(&d2, vec![r]);
    lab.advance(3 * HOUR);
    d2.fetch_anchor(lab);
    d2.restart();
    d2.wall -= 3 * HOUR as i64; // a clock set back as well
    let r = d2.receipt(exam_submitted(1, true));
    lab.send(&d2, vec![r]);
    let e = &lab.record(lab.learners[1]).courses[0].exams[0];
    assert!(!e.passed && e.status == "exam.over_time", "{e:?}");
}

/// Submitted with no `exam_started`.
fn exam_not_started(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    d.wait(MINUTE);
    lab.advance(MINUTE);
    let r = d.receipt(exam_submitted(1, true));
    lab.send(&d, vec![r]);
    let e = &lab.record(l).courses[0].exams[0];
    assert!(!e.passed);
    assert_eq!(e.status, "exam.not_started");
    assert_eq!(e.score, 0, "nothing graded, nothing revealed");
}

/// One attempt after another: at most three count (the fixture exam does not set a limit), and
/// no attempt says which items were right.
fn exam_attempts(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let mut batch = Vec::new();
    for attempt in 1..=5 {
        lab.advance(MINUTE);
        d.wait(MINUTE);
        batch.push(d.receipt(exam_started(attempt)));
        batch.push(d.receipt(exam_submitted(attempt, attempt == 5)));
    }
    lab.send(&d, batch);
    let rec = lab.record(l);
    let exams = &rec.courses[0].exams;
    assert_eq!(exams.len(), 5);
    assert!(exams[..3].iter().all(|e| e.status == "exam.graded"));
    assert!(
        exams[3..]
            .iter()
            .all(|e| e.status == "exam.attempts_exceeded" && !e.passed && e.score == 0),
        "{exams:?}"
    );
    let json = serde_json::to_string(&rec).unwrap();
    assert!(
        !json.contains("\"e1\"") && !json.contains("\"e2\""),
        "{json}"
    );
}

fn attest(lab: &Lab, present: Vec<hearth_protocol::LearnerId>) -> Event {
    Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
        class: ClassId(lab.class),
        present,
    })
}

/// A learner's own PC signs an attendance attestation in the trainer's name.
fn attestation_from_personal_device(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    d.learner = hearth_protocol::LearnerId(lab.trainer);
    let r = d.receipt(attest(lab, vec![l]));
    lab.send(&d, vec![r]);
    let class = lab.svc.store.class(lab.class).unwrap().unwrap();
    let p = lab.svc.class_progress(&class).unwrap();
    assert!(p.attestations.is_empty(), "{:?}", p.attestations);
}

/// The trainer attests a learner present on a kiosk while the learner's own PC shows them
/// studying: the attestation is listed with the learner flagged as elsewhere.
fn attested_while_elsewhere(lab: &Lab) {
    let l = lab.learners[0];
    let mut pc = lab.personal(1, l);
    let mut kiosk = lab.kiosk(2);
    pc.fetch_anchor(lab);
    kiosk.fetch_anchor(lab);
    kiosk.learner = hearth_protocol::LearnerId(lab.trainer);
    let mut kb = vec![kiosk.receipt(signed_in())];
    let mut pb = Vec::new();
    for i in 0..6 {
        lab.advance(MINUTE);
        pc.wait(MINUTE);
        kiosk.wait(MINUTE);
        pb.push(pc.receipt(long_study(MINUTE)));
        if i == 3 {
            kb.push(kiosk.receipt(attest(lab, vec![l, lab.learners[1]])));
        }
    }
    lab.send(&pc, pb);
    lab.send(&kiosk, kb);
    let class = lab.svc.store.class(lab.class).unwrap().unwrap();
    let p = lab.svc.class_progress(&class).unwrap();
    assert_eq!(p.attestations.len(), 1);
    assert_eq!(p.attestations[0].studying_elsewhere, vec![l]);
    let flags = lab.svc.flags_report(lab.org, None, None).unwrap();
    assert_eq!(flags.attestations.len(), 1, "{flags:?}");
}

/// A kiosk records study for a learner nobody signed in, and after they signed out.
fn kiosk_nobody_signed_in(lab: &Lab) {
    let l = lab.learners[0];
    let mut k = lab.kiosk(2);
    k.fetch_anchor(lab);
    k.learner = l;
    let mut batch = honest(lab, &mut k, 3, long_study);
    batch.push(k.receipt(signed_in()));
    batch.extend(honest(lab, &mut k, 2, long_study));
    batch.push(k.receipt(signed_out()));
    batch.extend(honest(lab, &mut k, 3, long_study));
    lab.send(&k, batch);
    let credited = lab.long_credit(l);
    assert!(
        (2 * MINUTE - SLACK..=2 * MINUTE + SLACK).contains(&credited),
        "only the two signed-in minutes: {credited}"
    );
    assert!(lab.withheld(l, "kiosk.not_signed_in") >= 6 * MINUTE);
}

/// On a week-old anchor, 300 hours claimed in one run, and 40 hours claimed within one day.
fn offline_week_invented(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let mut batch = Vec::new();
    for _ in 0..300 {
        d.wait(HOUR);
        batch.push(d.receipt(long_study(HOUR)));
    }
    lab.advance(7 * DAY as u64);
    lab.send(&d, batch);
    let rec = lab.record(l);
    // The week spans at most 8 policy days (partial first and last); none over the cap.
    assert!(rec.days.len() <= 8, "{:?}", rec.days);
    assert!(rec.days.iter().all(|d| d.credited_ms <= 8 * HOUR));
    assert!(lab.raw_credit(l) <= 7 * 8 * HOUR + 8 * HOUR);
    let w = lab.withheld(l, "credit.daily_cap") + lab.withheld(l, "time.impossible");
    assert!(w > 200 * HOUR, "{:?} {:?}", rec.withheld, rec.days);

    // Another learner claims 40 hours within one day's real time.
    let l2 = lab.learners[1];
    let mut d2 = lab.personal(2, l2);
    d2.fetch_anchor(lab);
    let mut batch = Vec::new();
    for _ in 0..40 {
        d2.wait(HOUR);
        batch.push(d2.receipt(long_study(HOUR)));
    }
    lab.advance(20 * HOUR);
    lab.send(&d2, batch);
    let credited = lab.raw_credit(l2);
    assert!(
        credited <= 20 * HOUR,
        "at most the real 20 hours, and at most 8 a day: {credited}"
    );
    let rec = lab.record(l2);
    assert!(
        rec.days.iter().all(|d| d.credited_ms <= 8 * HOUR),
        "{:?}",
        rec.days
    );
}

/// A copied data folder forks the chain; the device then earns nothing until an administrator
/// resolves the flag, after which what it recorded is credited.
fn flagged_device_earns_nothing(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let b = honest(lab, &mut d, 2, long_study);
    lab.send(&d, b);
    let mut copy = d.fork();
    let ours = honest(lab, &mut d, 1, long_study);
    copy.wait(1);
    let theirs = vec![copy.receipt(long_study(1_000))];
    lab.send(&d, ours);
    let out = lab.send(&copy, theirs);
    assert!(out.flagged, "the fork flags the device");
    let before = lab.long_credit(l);
    lab.advance(10);
    d.wait(10);
    let later = honest(lab, &mut d, 5, long_study);
    lab.send(&d, later);
    assert_eq!(lab.long_credit(l), before, "nothing credited while flagged");
    assert!(lab.withheld(l, "device.flagged") >= 5 * MINUTE);
    let flags = lab.svc.flags_report(lab.org, None, None).unwrap();
    assert_eq!(flags.devices.len(), 1);
    assert!(flags.devices[0].resolved.is_none());

    lab.svc
        .resolve_flag(
            d.id(),
            "Admin A",
            "the learner restored a backup; checked in person",
        )
        .unwrap();
    assert!(lab.long_credit(l) >= before + 5 * MINUTE - SLACK);
    let flags = lab.svc.flags_report(lab.org, None, None).unwrap();
    let res = flags.devices[0]
        .resolved
        .as_ref()
        .expect("resolution recorded");
    assert_eq!(res.by, "Admin A");
}

/// Junk envelopes, a receipt at position 2⁶⁴−1 and a flood of receipts after a gap: what is
/// kept stays bounded, and counted.
fn bounded_evidence(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    let junk: Vec<Vec<u8>> = (0..1_040u32)
        .map(|i| {
            let mut v = vec![1u8; 70];
            v[1..5].copy_from_slice(&i.to_le_bytes());
            v
        })
        .collect();
    lab.send(&d, junk);
    let flags = lab.svc.flags_report(lab.org, None, None).unwrap();
    let counted: u64 = flags.rejection_counts.iter().map(|c| c.count).sum();
    let kept: u64 = flags.rejection_counts.iter().map(|c| c.kept).sum();
    assert_eq!(counted, 1_040);
    assert_eq!(kept, 100);
    assert!(flags.rejections.len() <= 200);

    // Study of a thousand made-up lessons, and a thousand attempts of the exam: the facts keep
    // what the rules need, the rest is counted.
    let mut made_up = Vec::new();
    for i in 0..1_000 {
        d.wait(1);
        made_up.push(d.receipt(Event::ActiveStudy {
            course: long_course(),
            lesson: lesson(&format!("made-up-{i}")),
            active_ms: 1,
        }));
        made_up.push(d.receipt(exam_started(i + 1)));
    }
    lab.advance(MINUTE);
    lab.send(&d, made_up);
    let facts = lab.svc.facts_of(l).unwrap();
    assert!(facts.lessons.values().map(|m| m.len()).sum::<usize>() <= 2);
    assert!(
        facts.exams.len() <= 3 + 5,
        "{} exam facts",
        facts.exams.len()
    );
    assert_eq!(facts.withheld["credit.unknown_lesson"].receipts, 1_000);
    assert!(
        facts.encode().len() < 4_096,
        "{} bytes",
        facts.encode().len()
    );

    // A receipt at the last position the sequence allows.
    let mut far = d.fork();
    far.seq = u64::MAX - 1;
    far.prev = hearth_protocol::ReceiptId([7; 32]);
    let r = far.receipt(long_study(1_000));
    let out = lab.send(&d, vec![r]);
    assert!(
        matches!(
            out.results[0],
            hearth_server::domain::ReceiptOutcome::Rejected {
                code: "chain.too_far_ahead",
                ..
            }
        ),
        "{:?}",
        out.results
    );
    // More receipts after a gap than a device may keep waiting.
    let mut gap = d.fork();
    gap.seq += 1; // position 1 is never sent
    gap.prev = hearth_protocol::ReceiptId([9; 32]);
    let flood: Vec<Vec<u8>> = (0..10_001)
        .map(|_| gap.receipt(long_study(1_000)))
        .collect();
    let out = lab.send(&d, flood);
    assert_eq!(
        lab.svc.store.chain_state(d.id()).unwrap().pending,
        10_000,
        "pending bounded"
    );
    assert!(matches!(
        out.results.last().unwrap(),
        hearth_server::domain::ReceiptOutcome::Rejected {
            code: "chain.pending_full",
            ..
        }
    ));
}

/// The learner passes on version 1; version 2 changes the key. The result stands.
fn no_regrading_by_republishing(lab: &Lab) {
    let l = lab.learners[0];
    let mut d = lab.personal(1, l);
    d.fetch_anchor(lab);
    lab.advance(MINUTE);
    d.wait(MINUTE);
    let b = vec![
        d.receipt(exam_started(1)),
        d.receipt(exam_submitted(1, true)),
    ];
    lab.send(&d, b);
    assert!(lab.record(l).courses[0].exams[0].passed);

    let v2 = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture_course(), v2.path());
    let toml = std::fs::read_to_string(v2.path().join("course.toml")).unwrap();
    let toml = toml
        .replace("version = 1", "version = 2")
        .replace("correct = [1]\n  points = 2", "correct = [0]\n  points = 2");
    std::fs::write(v2.path().join("course.toml"), toml).unwrap();
    lab.advance(MINUTE);
    lab.svc.publish(v2.path()).unwrap();
    let e = &lab.record(l).courses[0].exams[0];
    assert!(
        e.passed,
        "graded against version 1, where it started: {e:?}"
    );
    assert_eq!(e.version, 1);
    // A new attempt started after version 2 is graded against version 2.
    d.fetch_anchor(lab);
    lab.advance(MINUTE);
    d.wait(MINUTE);
    let b = vec![
        d.receipt(exam_started(2)),
        d.receipt(exam_submitted(2, true)),
    ];
    lab.send(&d, b);
    let rec = lab.record(l);
    let e2 = &rec.courses[0].exams[1];
    assert_eq!(e2.version, 2);
    assert!(
        !e2.passed,
        "the old right answer is wrong in version 2: {e2:?}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}
