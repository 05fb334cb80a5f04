//! Kiosk mode on a real store: PIN sign-in checked offline against the roster, lock-out, idle
//! sign-out, study recorded only for the person signed in, and trainer attestations.

use std::sync::Arc;

use hearth_core::kiosk::{ClassRef, Kiosk, KioskPolicy, KioskRole};
use hearth_core::{Enrollment, Env, Hearth, ManualClock, RosterClasses, RosterPerson};
use hearth_protocol::pin::pin_verifier;
use hearth_protocol::{
    AttendanceCheck, ClassId, CourseId, Envelope, Event, LearnerId, LessonId, PublicKey,
    ReceiptBody, TimeAnchor,
};
use ring::rand::SystemRandom;
use ring::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;

const T0: i64 = 1_790_000_000_000;

struct Room {
    _dir: tempfile::TempDir,
    hearth: Hearth,
    clock: Arc<ManualClock>,
    kiosk: Kiosk,
    ana: LearnerId,
    bo: LearnerId,
    nopin: LearnerId,
    trainer: LearnerId,
    /// Another trainer of the organisation, running another class.
    other: LearnerId,
}

/// The class the room's trainer runs (Ana and Bo are in it), another class of theirs, and the
/// other trainer's class.
const CLASS: u128 = 50;
const CLASS_2: u128 = 51;
const FOREIGN_CLASS: u128 = 60;

fn class_ref(n: u128, name: &str) -> ClassRef {
    ClassRef {
        id: ClassId(Uuid::from_u128(n)),
        name: name.into(),
    }
}

fn person(id: LearnerId, name: &str, role: &str, pin: Option<&str>) -> RosterPerson {
    RosterPerson {
        id,
        name: name.into(),
        role: role.into(),
        pin_hash: pin.map(|p| pin_verifier(id, p)),
    }
}

fn enroll(h: &mut Hearth, owner: Option<LearnerId>, roster: &[RosterPerson]) {
    let service = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let anchor_key = PublicKey::from_slice(service.public_key().as_ref()).unwrap();
    let e = Enrollment {
        service_url: "http://127.0.0.1:9".into(),
        credential: "c".into(),
        credential_expires_ms: T0 + 1_000_000_000,
        org_id: Uuid::from_u128(9).to_string(),
        org_name: "培训中心".into(),
        owner,
        anchor_key,
        publisher_keys: vec![],
        enrolled_ms: T0,
    };
    let anchor = TimeAnchor::issue(&service, h.device().id, T0);
    h.apply_enrollment(&e, roster, anchor).unwrap();
}

fn room(policy: KioskPolicy) -> Room {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = Env::deterministic(T0, 3);
    let mut hearth = Hearth::open(dir.path(), env).unwrap();
    let (ana, bo, nopin, trainer, other) = (
        LearnerId(Uuid::from_u128(1)),
        LearnerId(Uuid::from_u128(2)),
        LearnerId(Uuid::from_u128(3)),
        LearnerId(Uuid::from_u128(4)),
        LearnerId(Uuid::from_u128(5)),
    );
    enroll(
        &mut hearth,
        None,
        &[
            person(ana, "安娜", "learner", Some("1111")),
            person(bo, "博", "learner", Some("2222")),
            person(nopin, "无密码", "learner", None),
            person(trainer, "王老师", "trainer", Some("9999")),
            person(other, "李老师", "trainer", Some("8888")),
        ],
    );
    let in_class = |person| RosterClasses {
        person,
        classes: vec![class_ref(CLASS, "电工一班")],
    };
    hearth
        .apply_roster_classes(&[
            in_class(ana),
            in_class(bo),
            RosterClasses {
                person: trainer,
                classes: vec![class_ref(CLASS, "电工一班"), class_ref(CLASS_2, "焊工班")],
            },
            RosterClasses {
                person: other,
                classes: vec![class_ref(FOREIGN_CLASS, "李老师的班")],
            },
        ])
        .unwrap();
    let kiosk = Kiosk::start(&hearth, policy).unwrap();
    Room {
        _dir: dir,
        hearth,
        clock,
        kiosk,
        ana,
        bo,
        nopin,
        trainer,
        other,
    }
}

fn code(e: hearth_core::CoreError) -> &'static str {
    e.code()
}

fn study(ms: u32) -> Event {
    Event::ActiveStudy {
        course: CourseId::new("electrician-safety").unwrap(),
        lesson: LessonId::new("l1").unwrap(),
        active_ms: ms,
    }
}

/// The learner and event of every receipt on the device, oldest first.
fn ledger(h: &Hearth) -> Vec<(LearnerId, Event)> {
    let mut all = h.recent_receipts(1000).unwrap();
    all.reverse();
    let out = h.outbox(0, 1000).unwrap();
    assert_eq!(all.len(), out.len(), "nothing acknowledged in these tests");
    out.into_iter()
        .map(|item| {
            let v = Envelope::from_bytes(item.envelope)
                .verify(&h.device().public_key)
                .expect("every kiosk receipt verifies under the device key");
            let body: &ReceiptBody = v.body();
            (body.learner, body.event.clone())
        })
        .collect()
}

#[test]
fn a_pin_opens_only_its_own_learner_and_wrong_pins_lock_out() {
    let mut r = room(KioskPolicy::default());
    // Ana's PIN on Bo's name does not open Bo.
    let e = r
        .hearth
        .kiosk_sign_in(&mut r.kiosk, r.bo, "1111")
        .unwrap_err();
    assert_eq!(code(e), "kiosk.wrong_pin");
    assert!(r.kiosk.signed_in().is_none());
    // Unknown people and people without a PIN are refused with their own codes.
    let stranger = LearnerId(Uuid::from_u128(77));
    assert_eq!(
        code(
            r.hearth
                .kiosk_sign_in(&mut r.kiosk, stranger, "1111")
                .unwrap_err()
        ),
        "kiosk.not_on_roster"
    );
    assert_eq!(
        code(
            r.hearth
                .kiosk_sign_in(&mut r.kiosk, r.nopin, "")
                .unwrap_err()
        ),
        "kiosk.no_pin"
    );
    // Four more wrong tries lock Bo out (five in a row), even with the right PIN...
    for _ in 0..3 {
        assert_eq!(
            code(
                r.hearth
                    .kiosk_sign_in(&mut r.kiosk, r.bo, "0000")
                    .unwrap_err()
            ),
            "kiosk.wrong_pin"
        );
    }
    assert_eq!(
        code(
            r.hearth
                .kiosk_sign_in(&mut r.kiosk, r.bo, "0000")
                .unwrap_err()
        ),
        "kiosk.locked_out"
    );
    assert_eq!(
        code(
            r.hearth
                .kiosk_sign_in(&mut r.kiosk, r.bo, "2222")
                .unwrap_err()
        ),
        "kiosk.locked_out"
    );
    // ...but not Ana, whose lock-out is her own.
    let s = r.hearth.kiosk_sign_in(&mut r.kiosk, r.ana, "1111").unwrap();
    assert_eq!((s.person, s.role), (r.ana, KioskRole::Learner));
    // After the lock-out, Bo's PIN works again.
    r.clock.advance(KioskPolicy::default().lockout_ms);
    let s = r.hearth.kiosk_sign_in(&mut r.kiosk, r.bo, "2222").unwrap();
    assert_eq!(s.person, r.bo);
    // Failed tries wrote nothing; Ana was signed out when Bo signed in.
    let kinds: Vec<(LearnerId, &str)> = ledger(&r.hearth)
        .iter()
        .map(|(l, e)| (*l, e.kind()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (r.ana, "learner_signed_in"),
            (r.ana, "learner_signed_out"),
            (r.bo, "learner_signed_in"),
        ]
    );
}

#[test]
fn idle_sign_out_happens_and_input_postpones_it() {
    let policy = KioskPolicy {
        idle_sign_out_ms: 60_000,
        ..KioskPolicy::default()
    };
    let mut r = room(policy);
    r.hearth.kiosk_sign_in(&mut r.kiosk, r.ana, "1111").unwrap();
    r.clock.advance(50_000);
    assert!(r.hearth.kiosk_tick(&mut r.kiosk).unwrap().is_none());
    r.hearth.kiosk_input(&mut r.kiosk);
    r.clock.advance(50_000);
    assert!(
        r.hearth.kiosk_tick(&mut r.kiosk).unwrap().is_none(),
        "input 50 s ago: still signed in"
    );
    r.clock.advance(10_000);
    let out = r
        .hearth
        .kiosk_tick(&mut r.kiosk)
        .unwrap()
        .expect("signed out");
    assert_eq!(out.kind, "learner_signed_out");
    assert!(r.kiosk.signed_in().is_none());
    let last = ledger(&r.hearth).pop().unwrap();
    assert_eq!(
        last,
        (
            r.ana,
            Event::LearnerSignedOut {
                reason: hearth_protocol::SignOutReason::Idle
            }
        )
    );
    // Nobody signed in: study cannot be recorded for anyone.
    assert_eq!(
        code(
            r.hearth
                .kiosk_record(&mut r.kiosk, study(1000))
                .unwrap_err()
        ),
        "kiosk.not_signed_in"
    );
}

#[test]
fn two_learners_one_after_another_each_get_only_their_own_study() {
    let mut r = room(KioskPolicy::default());
    r.hearth.kiosk_sign_in(&mut r.kiosk, r.ana, "1111").unwrap();
    r.clock.advance(30_000);
    r.hearth.kiosk_record(&mut r.kiosk, study(30_000)).unwrap();
    r.hearth.kiosk_sign_in(&mut r.kiosk, r.bo, "2222").unwrap();
    r.clock.advance(20_000);
    r.hearth.kiosk_record(&mut r.kiosk, study(20_000)).unwrap();
    let study_of = |who: LearnerId| -> u32 {
        ledger(&r.hearth)
            .iter()
            .filter(|(l, _)| *l == who)
            .map(|(_, e)| match e {
                Event::ActiveStudy { active_ms, .. } => *active_ms,
                _ => 0,
            })
            .sum()
    };
    assert_eq!(study_of(r.ana), 30_000);
    assert_eq!(study_of(r.bo), 20_000);
}

#[test]
fn trainer_attests_attendance_in_an_open_class() {
    let mut r = room(KioskPolicy::default());
    let class = ClassId(Uuid::from_u128(CLASS));
    // A learner cannot open a class or attest.
    r.hearth.kiosk_sign_in(&mut r.kiosk, r.ana, "1111").unwrap();
    assert_eq!(
        code(r.hearth.kiosk_open_class(&mut r.kiosk, class).unwrap_err()),
        "kiosk.not_trainer"
    );
    let t = r
        .hearth
        .kiosk_sign_in(&mut r.kiosk, r.trainer, "9999")
        .unwrap();
    assert_eq!(t.role, KioskRole::Trainer);
    assert_eq!(
        code(
            r.hearth
                .kiosk_attest(&mut r.kiosk, vec![r.ana])
                .unwrap_err()
        ),
        "kiosk.no_class"
    );
    r.hearth.kiosk_open_class(&mut r.kiosk, class).unwrap();
    // Only learners of the roster can be named.
    for bad in [
        vec![],
        vec![LearnerId(Uuid::from_u128(77))],
        vec![r.trainer],
    ] {
        assert_eq!(
            code(r.hearth.kiosk_attest(&mut r.kiosk, bad).unwrap_err()),
            "kiosk.bad_attendance"
        );
    }
    r.hearth
        .kiosk_attest(&mut r.kiosk, vec![r.ana, r.bo])
        .unwrap();
    let out = r.hearth.kiosk_end_class(&mut r.kiosk).unwrap().unwrap();
    assert_eq!(out.learner, r.trainer);
    assert!(r.kiosk.class().is_none() && r.kiosk.signed_in().is_none());
    let l = ledger(&r.hearth);
    let attest = l
        .iter()
        .find(|(_, e)| e.kind() == "attendance_check")
        .expect("attestation recorded");
    assert_eq!(
        attest,
        &(
            r.trainer,
            Event::AttendanceCheck(AttendanceCheck::TrainerAttested {
                class,
                present: vec![r.ana, r.bo]
            })
        ),
        "signed in the trainer's name, naming the class and who was present"
    );
    r.hearth.verify_ledger().unwrap();
}

#[test]
fn a_personal_device_is_not_a_kiosk() {
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = Env::deterministic(T0, 4);
    let mut h = Hearth::open(dir.path(), env).unwrap();
    assert_eq!(
        code(Kiosk::start(&h, KioskPolicy::default()).unwrap_err()),
        "kiosk.not_a_kiosk",
        "not enrolled"
    );
    let me = LearnerId(Uuid::from_u128(1));
    enroll(&mut h, Some(me), &[person(me, "我", "learner", None)]);
    assert_eq!(
        code(Kiosk::start(&h, KioskPolicy::default()).unwrap_err()),
        "kiosk.not_a_kiosk",
        "enrolled to one learner"
    );
}
