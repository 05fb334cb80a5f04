//! Kiosk mode on a real store: PIN sign-in checked offline against the roster, lock-out, idle
//! sign-out, study recorded only for the person signed in, trainer attestations, and trainer
//! mode: the roster's classes, assigning work and starting an exam offline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hearth_core::kiosk::{ClassExam, ClassRef, KioskError, KioskPolicy, KioskRole};
use hearth_core::sync::{
    ReceiptOutcome, Roster, SyncTransport, TransportError, UploadOutcome, sync_round,
};
use hearth_core::{Assignment, Enrollment, Env, Hearth, ManualClock, RosterClasses, RosterPerson};
use hearth_protocol::card::{Card, proof_matches};
use hearth_protocol::pin::pin_verifier;
use hearth_protocol::receipt::class_assignment_id;
use hearth_protocol::{
    AttendanceCheck, ClassId, CourseId, Envelope, Event, ExamId, LearnerId, LessonId, PublicKey,
    ReceiptBody, SignInMethod, TimeAnchor,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;

const T0: i64 = 1_790_000_000_000;

struct Room {
    _dir: tempfile::TempDir,
    hearth: Hearth,
    clock: Arc<ManualClock>,
    env: Env,
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
        pin_hash: pin.map(|p| pin_verifier(id, p, &[3; hearth_protocol::pin::SALT_LEN])),
        card: None,
    }
}

/// The service's anchor key (fixed, so a fake service can sign anchors for the kiosk).
fn service_key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x22; 32]).unwrap()
}

/// The course publisher pinned at enrollment.
fn publisher() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[0x01; 32]).unwrap()
}

fn enroll(h: &mut Hearth, owner: Option<LearnerId>, roster: &[RosterPerson]) {
    let service = service_key();
    let anchor_key = PublicKey::from_slice(service.public_key().as_ref()).unwrap();
    let e = Enrollment {
        service_url: "http://127.0.0.1:9".into(),
        credential: "c".into(),
        credential_expires_ms: T0 + 1_000_000_000,
        org_id: Uuid::from_u128(9).to_string(),
        org_name: "培训中心".into(),
        owner,
        anchor_key,
        publisher_keys: vec![PublicKey::from_slice(publisher().public_key().as_ref()).unwrap()],
        enrolled_ms: T0,
    };
    let anchor = TimeAnchor::issue(&service, h.device().id, T0);
    h.apply_enrollment(&e, roster, anchor).unwrap();
}

/// A room whose trainer is signed in with the class open.
fn class_in_session() -> Room {
    let mut r = room(KioskPolicy::default());
    r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    r.hearth
        .kiosk_open_class(ClassId(Uuid::from_u128(CLASS)))
        .unwrap();
    r
}

fn room(policy: KioskPolicy) -> Room {
    let dir = tempfile::tempdir().unwrap();
    let (env, clock) = Env::deterministic(T0, 3);
    let env_copy = env.clone();
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
            RosterPerson {
                card: Some(hearth_protocol::wire::CardVerifier {
                    serial: 2,
                    verifier: ana_card(2).verifier(),
                }),
                ..person(ana, "安娜", "learner", Some("1111"))
            },
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
    hearth.set_kiosk_policy(policy).unwrap();
    Room {
        _dir: dir,
        hearth,
        clock,
        env: env_copy,
        ana,
        bo,
        nopin,
        trainer,
        other,
    }
}

impl Room {
    /// The app restarts: the store is opened again (a new run, a new kiosk state in memory).
    fn restart(&mut self) {
        let dir = self._dir.path().to_owned();
        let placeholder = tempfile::tempdir().unwrap();
        let other = Hearth::open(placeholder.path(), self.env.clone()).unwrap();
        drop(std::mem::replace(&mut self.hearth, other));
        self.hearth = Hearth::open(&dir, self.env.clone()).unwrap();
    }
}

/// Ana's sign-in card `serial` (the roster has her card 2).
fn ana_card(serial: u32) -> Card {
    Card {
        learner: LearnerId(Uuid::from_u128(1)),
        serial,
        secret: [0x41; 32],
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
    let e = r.hearth.kiosk_sign_in(r.bo, "1111").unwrap_err();
    assert_eq!(code(e), "kiosk.wrong_pin");
    assert!(r.hearth.kiosk().unwrap().signed_in().is_none());
    // Unknown people and people without a PIN are refused with their own codes.
    let stranger = LearnerId(Uuid::from_u128(77));
    assert_eq!(
        code(r.hearth.kiosk_sign_in(stranger, "1111").unwrap_err()),
        "kiosk.not_on_roster"
    );
    assert_eq!(
        code(r.hearth.kiosk_sign_in(r.nopin, "").unwrap_err()),
        "kiosk.no_pin"
    );
    // Four more wrong tries lock Bo out (five in a row), even with the right PIN...
    for _ in 0..3 {
        assert_eq!(
            code(r.hearth.kiosk_sign_in(r.bo, "0000").unwrap_err()),
            "kiosk.wrong_pin"
        );
    }
    assert_eq!(
        code(r.hearth.kiosk_sign_in(r.bo, "0000").unwrap_err()),
        "kiosk.locked_out"
    );
    assert_eq!(
        code(r.hearth.kiosk_sign_in(r.bo, "2222").unwrap_err()),
        "kiosk.locked_out"
    );
    // ...but not Ana, whose lock-out is her own.
    let s = r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    assert_eq!((s.person, s.role), (r.ana, KioskRole::Learner));
    // After the lock-out, Bo's PIN works again.
    r.clock.advance(KioskPolicy::default().lockout_ms);
    let s = r.hearth.kiosk_sign_in(r.bo, "2222").unwrap();
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
fn lock_outs_grow_until_the_right_pin_and_a_restart_resets_nothing() {
    let mut r = room(KioskPolicy::default());
    let lockout = KioskPolicy::default().lockout_ms;
    let wrong = |r: &mut Room| code(r.hearth.kiosk_sign_in(r.bo, "0000").unwrap_err());
    for _ in 0..4 {
        assert_eq!(wrong(&mut r), "kiosk.wrong_pin");
    }
    assert_eq!(wrong(&mut r), "kiosk.locked_out");
    // Restarting the app (a new kiosk state) does not hand out new tries.
    r.restart();
    assert_eq!(wrong(&mut r), "kiosk.locked_out");
    r.clock.advance(lockout);
    // Four wrong tries after a restart mid-count still lock at the fifth.
    for _ in 0..2 {
        assert_eq!(wrong(&mut r), "kiosk.wrong_pin");
    }
    r.restart();
    for _ in 0..2 {
        assert_eq!(wrong(&mut r), "kiosk.wrong_pin");
    }
    // The second lock-out lasts twice as long.
    let e = r.hearth.kiosk_sign_in(r.bo, "0000").unwrap_err();
    assert!(
        matches!(&e, hearth_core::CoreError::Kiosk(KioskError::LockedOut { retry_after_ms }) if *retry_after_ms == 2 * lockout),
        "{e:?}"
    );
    r.clock.advance(lockout);
    assert_eq!(
        code(r.hearth.kiosk_sign_in(r.bo, "2222").unwrap_err()),
        "kiosk.locked_out"
    );
    r.clock.advance(lockout);
    // The right PIN opens and forgets the failures: the next lock-out is short again.
    r.hearth.kiosk_sign_in(r.bo, "2222").unwrap();
    for _ in 0..4 {
        assert_eq!(wrong(&mut r), "kiosk.wrong_pin");
    }
    let e = r.hearth.kiosk_sign_in(r.bo, "0000").unwrap_err();
    assert!(
        matches!(&e, hearth_core::CoreError::Kiosk(KioskError::LockedOut { retry_after_ms }) if *retry_after_ms == lockout),
        "{e:?}"
    );
}

#[test]
fn idle_sign_out_happens_and_input_postpones_it() {
    let policy = KioskPolicy {
        idle_sign_out_ms: 60_000,
        ..KioskPolicy::default()
    };
    let mut r = room(policy);
    r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    r.clock.advance(50_000);
    assert!(r.hearth.kiosk_tick().unwrap().is_none());
    r.hearth.kiosk_input();
    r.clock.advance(50_000);
    assert!(
        r.hearth.kiosk_tick().unwrap().is_none(),
        "input 50 s ago: still signed in"
    );
    r.clock.advance(10_000);
    let out = r.hearth.kiosk_tick().unwrap().expect("signed out");
    assert_eq!(out.kind, "learner_signed_out");
    assert!(r.hearth.kiosk().unwrap().signed_in().is_none());
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
    // Nobody signed in: the session names nobody, and study cannot be recorded for anyone.
    assert_eq!(r.hearth.at_keyboard(), None);
    assert_eq!(
        code(r.hearth.record(study(1000)).unwrap_err()),
        "session.none"
    );
}

#[test]
fn two_learners_one_after_another_each_get_only_their_own_study() {
    let mut r = room(KioskPolicy::default());
    r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    r.clock.advance(30_000);
    r.hearth.record(study(30_000)).unwrap();
    r.hearth.kiosk_sign_in(r.bo, "2222").unwrap();
    r.clock.advance(20_000);
    r.hearth.record(study(20_000)).unwrap();
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
    r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    assert_eq!(
        code(r.hearth.kiosk_open_class(class).unwrap_err()),
        "kiosk.not_trainer"
    );
    let t = r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    assert_eq!(t.role, KioskRole::Trainer);
    assert_eq!(
        code(r.hearth.kiosk_attest(vec![r.ana]).unwrap_err()),
        "kiosk.no_class"
    );
    r.hearth.kiosk_open_class(class).unwrap();
    // Only learners of the roster can be named.
    for bad in [
        vec![],
        vec![LearnerId(Uuid::from_u128(77))],
        vec![r.trainer],
    ] {
        assert_eq!(
            code(r.hearth.kiosk_attest(bad).unwrap_err()),
            "kiosk.bad_attendance"
        );
    }
    r.hearth.kiosk_attest(vec![r.ana, r.bo]).unwrap();
    let out = r.hearth.kiosk_end_class().unwrap().unwrap();
    assert_eq!(out.learner, r.trainer);
    assert!(
        r.hearth.kiosk().unwrap().class().is_none()
            && r.hearth.kiosk().unwrap().signed_in().is_none()
    );
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
    assert!(!h.is_kiosk(), "not enrolled");
    assert_eq!(
        code(h.set_kiosk_policy(KioskPolicy::default()).unwrap_err()),
        "kiosk.not_a_kiosk",
        "not enrolled"
    );
    let me = LearnerId(Uuid::from_u128(1));
    enroll(&mut h, Some(me), &[person(me, "我", "learner", None)]);
    assert!(!h.is_kiosk(), "enrolled to one learner");
    assert_eq!(
        code(h.set_kiosk_policy(KioskPolicy::default()).unwrap_err()),
        "kiosk.not_a_kiosk",
        "enrolled to one learner"
    );
}

// ----- trainer mode: the roster's classes, assigning, starting an exam -----

fn course() -> CourseId {
    CourseId::new("electrician-safety").unwrap()
}

fn final_exam() -> ExamId {
    ExamId::new("final").unwrap()
}

/// Installs version 1 of a small course (one lesson, one exam) on the kiosk, as a download
/// from the service would.
async fn install_course(h: &mut Hearth) {
    use hearth_core::content::{DownloadOptions, MemorySource, Progress};
    use hearth_protocol::manifest::{Exam, ExamItem, FileEntry, Lesson, Manifest};
    use hearth_protocol::{ContentHash, ItemId};
    let body = b"# \xe5\xae\x89\xe5\x85\xa8\n".to_vec();
    let m = Manifest {
        still_valid: Vec::new(),
        checks: Vec::new(),
        course: course(),
        version: 1,
        title: "电工安全".into(),
        description: "安全基础".into(),
        language: "zh-CN".into(),
        published_ms: 1,
        credit_ms: None,
        occupation: None,
        occupation_level: None,
        lessons: vec![Lesson {
            id: LessonId::new("l1").unwrap(),
            title: "第一课".into(),
            body: "lessons/l1.md".into(),
            media: vec![],
            credit_ms: 600_000,
        }],
        quizzes: vec![],
        exams: vec![Exam {
            id: final_exam(),
            title: "结业考试".into(),
            duration_min: 20,
            pass_percent: 60,
            max_attempts: None,
            items: vec![ExamItem {
                id: ItemId::new("e1").unwrap(),
                prompt: "验电用什么？".into(),
                options: vec!["验电笔".into(), "手指".into()],
                multiple: false,
                points: 10,
            }],
        }],
        files: vec![FileEntry {
            path: "lessons/l1.md".into(),
            sha256: ContentHash::of(&body),
            size: body.len() as u64,
            media_type: "text/markdown".into(),
            duration_ms: None,
        }],
    };
    let src = MemorySource::new();
    src.add_manifest(&course(), 1, m.sign(&publisher()).unwrap());
    src.add_file(body);
    h.download_course(
        &src,
        &course(),
        1,
        DownloadOptions::default(),
        &mut |_: &Progress| {},
    )
    .await
    .unwrap();
}

#[test]
fn kiosk_roster_lists_everyone_by_name_with_pins_and_classes_but_no_verifiers() {
    let r = room(KioskPolicy::default());
    let people = r.hearth.kiosk_roster().unwrap();
    let names: Vec<&str> = people.iter().map(|p| p.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "sorted by name");
    assert_eq!(people.len(), 5);
    let find = |id| people.iter().find(|p| p.id == id).unwrap();
    let ana = find(r.ana);
    assert_eq!(ana.role, KioskRole::Learner);
    assert!(ana.has_pin);
    assert_eq!(ana.classes, vec![class_ref(CLASS, "电工一班")]);
    assert!(!find(r.nopin).has_pin);
    assert!(find(r.nopin).classes.is_empty());
    let t = find(r.trainer);
    assert_eq!(t.role, KioskRole::Trainer);
    // A trainer's classes, by name too.
    assert_eq!(
        t.classes,
        vec![class_ref(CLASS_2, "焊工班"), class_ref(CLASS, "电工一班")]
    );
    // Nothing that could check (or brute-force) a PIN leaves core.
    let json = serde_json::to_string(&people).unwrap();
    assert!(json.contains("\"hasPin\":true"), "{json}");
    for (id, pin) in [
        (r.ana, "1111"),
        (r.bo, "2222"),
        (r.trainer, "9999"),
        (r.other, "8888"),
    ] {
        let verifier = pin_verifier(id, pin, &[4; hearth_protocol::pin::SALT_LEN]);
        assert!(!json.contains(&verifier), "a PIN verifier leaked: {json}");
    }
    assert!(!json.to_lowercase().contains("pinhash"), "{json}");

    // A personal device has no kiosk roster.
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = Env::deterministic(T0, 5);
    let mut h = Hearth::open(dir.path(), env).unwrap();
    let me = LearnerId(Uuid::from_u128(1));
    enroll(
        &mut h,
        Some(me),
        &[person(me, "我", "learner", Some("1234"))],
    );
    assert_eq!(code(h.kiosk_roster().unwrap_err()), "kiosk.not_a_kiosk");
}

#[test]
fn a_trainer_opens_only_their_own_classes() {
    let mut r = room(KioskPolicy::default());
    r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    for foreign in [FOREIGN_CLASS, 77] {
        assert_eq!(
            code(
                r.hearth
                    .kiosk_open_class(ClassId(Uuid::from_u128(foreign)))
                    .unwrap_err()
            ),
            "kiosk.foreign_class",
            "class {foreign}"
        );
        assert!(r.hearth.kiosk().unwrap().class().is_none());
    }
    let s = r
        .hearth
        .kiosk_open_class(ClassId(Uuid::from_u128(CLASS_2)))
        .unwrap();
    assert_eq!(s.name, "焊工班");
    assert_eq!(s.trainer, r.trainer);
    assert_eq!(s.exam, None);
    assert_eq!(r.hearth.kiosk().unwrap().class(), Some(&s));
    // The other trainer runs only their own class.
    r.hearth.kiosk_sign_in(r.other, "8888").unwrap();
    assert_eq!(
        code(
            r.hearth
                .kiosk_open_class(ClassId(Uuid::from_u128(CLASS)))
                .unwrap_err()
        ),
        "kiosk.foreign_class"
    );
    r.hearth
        .kiosk_open_class(ClassId(Uuid::from_u128(FOREIGN_CLASS)))
        .unwrap();
}

#[test]
fn kiosk_assign_needs_a_trainer_and_an_open_class_and_shows_at_once() {
    let mut r = room(KioskPolicy::default());
    let class = ClassId(Uuid::from_u128(CLASS));
    let assign = |r: &mut Room, due| {
        r.hearth
            .kiosk_assign(course(), Some(LessonId::new("l1").unwrap()), None, due)
    };
    assert_eq!(
        code(assign(&mut r, None).unwrap_err()),
        "kiosk.not_signed_in"
    );
    r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    assert_eq!(code(assign(&mut r, None).unwrap_err()), "kiosk.not_trainer");
    r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    assert_eq!(code(assign(&mut r, None).unwrap_err()), "kiosk.no_class");
    r.hearth.kiosk_open_class(class).unwrap();
    assert_eq!(
        code(
            r.hearth
                .kiosk_assign(
                    course(),
                    Some(LessonId::new("l1").unwrap()),
                    Some(final_exam()),
                    None
                )
                .unwrap_err()
        ),
        "input.invalid",
        "a lesson or an exam, not both"
    );
    assert!(r.hearth.assignments().unwrap().is_empty());

    // Offline: recorded in the trainer's name and shown at once.
    let due = T0 + 7 * 86_400_000;
    let rec = assign(&mut r, Some(due)).unwrap();
    assert_eq!((rec.learner, rec.kind), (r.trainer, "class_assigned"));
    let kept = r.hearth.assignments().unwrap();
    assert_eq!(kept.len(), 1);
    let a = &kept[0];
    assert_eq!(a.id, class_assignment_id(rec.id).to_string());
    assert_eq!(a.class_id, class.to_string());
    assert_eq!(a.course, "electrician-safety");
    assert_eq!(a.lesson.as_deref(), Some("l1"));
    assert_eq!((a.exam.as_deref(), a.due_ms), (None, Some(due)));
    assert_eq!(a.created_ms, rec.wall_ms);
    let last = ledger(&r.hearth).pop().unwrap();
    assert_eq!(
        last,
        (
            r.trainer,
            Event::ClassAssigned {
                class,
                course: course(),
                lesson: Some(LessonId::new("l1").unwrap()),
                exam: None,
                due_wall_ms: Some(due),
            }
        )
    );
    r.hearth.verify_ledger().unwrap();
}

#[test]
fn a_kiosk_assignment_survives_pulls_until_its_receipt_is_acknowledged() {
    let mut r = class_in_session();
    let rec = r.hearth.kiosk_assign(course(), None, None, None).unwrap();
    let local = r.hearth.assignments().unwrap().remove(0);
    let from_service = |id: &str, created_ms| Assignment {
        id: id.into(),
        class_id: Uuid::from_u128(CLASS).to_string(),
        course: "electrician-safety".into(),
        lesson: Some("l2".into()),
        exam: None,
        due_ms: None,
        created_ms,
    };
    let other = from_service(&Uuid::from_u128(500).to_string(), T0 - 1);
    // A pull from before the service had the receipt: the local one stays.
    r.hearth
        .apply_assignments(std::slice::from_ref(&other))
        .unwrap();
    assert_eq!(
        r.hearth.assignments().unwrap(),
        vec![other.clone(), local.clone()]
    );
    r.hearth.apply_assignments(&[]).unwrap();
    assert_eq!(r.hearth.assignments().unwrap(), vec![local.clone()]);
    // The service's copy (same id) replaces it.
    let mut copy = local.clone();
    copy.lesson = None;
    r.hearth.apply_assignments(&[copy.clone()]).unwrap();
    assert_eq!(r.hearth.assignments().unwrap(), vec![copy]);
    // Once the receipt is acknowledged, the service's list is the truth.
    r.hearth
        .mark_acknowledged(hearth_protocol::ChainHead {
            seq: rec.seq,
            id: rec.id,
        })
        .unwrap();
    r.hearth
        .apply_assignments(std::slice::from_ref(&other))
        .unwrap();
    assert_eq!(r.hearth.assignments().unwrap(), vec![other]);
}

#[tokio::test]
async fn kiosk_start_exam_sets_the_class_exam_and_refuses_an_unknown_exam() {
    let mut r = room(KioskPolicy::default());
    install_course(&mut r.hearth).await;
    r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    let start = |r: &mut Room, version, exam: &str| {
        r.hearth
            .kiosk_start_exam(course(), version, ExamId::new(exam).unwrap())
    };
    assert_eq!(
        code(start(&mut r, 1, "final").unwrap_err()),
        "kiosk.no_class"
    );
    r.hearth
        .kiosk_open_class(ClassId(Uuid::from_u128(CLASS)))
        .unwrap();
    for (version, exam) in [(1, "midterm"), (2, "final")] {
        assert_eq!(
            code(start(&mut r, version, exam).unwrap_err()),
            "kiosk.unknown_exam",
            "{exam} v{version}"
        );
    }
    assert!(
        r.hearth.assignments().unwrap().is_empty(),
        "nothing recorded"
    );
    assert_eq!(r.hearth.kiosk().unwrap().class().unwrap().exam, None);

    let rec = start(&mut r, 1, "final").unwrap();
    assert_eq!(rec.kind, "class_assigned");
    assert_eq!(
        r.hearth.kiosk().unwrap().class().unwrap().exam,
        Some(ClassExam {
            course: course(),
            version: 1,
            exam: final_exam()
        })
    );
    let kept = r.hearth.assignments().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (
            kept[0].exam.as_deref(),
            kept[0].lesson.as_deref(),
            kept[0].due_ms
        ),
        (Some("final"), None, None)
    );
    // A learner cannot start one.
    r.hearth.kiosk_sign_in(r.ana, "1111").unwrap();
    assert_eq!(
        code(start(&mut r, 1, "final").unwrap_err()),
        "kiosk.not_trainer"
    );
    // Ending the class ends its exam.
    r.hearth.kiosk_sign_in(r.trainer, "9999").unwrap();
    r.hearth.kiosk_end_class().unwrap();
    assert!(r.hearth.kiosk().unwrap().class().is_none());
}

/// A fake service for sync rounds: answers a roster with classes and a list of assignments,
/// acknowledges uploads only when told to.
struct Classroom {
    device: PublicKey,
    tag: Mutex<String>,
    roster: Mutex<Roster>,
    assignments: Mutex<Vec<Assignment>>,
    accept: AtomicBool,
    head: Mutex<hearth_protocol::ChainHead>,
}

impl SyncTransport for Classroom {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        Ok(TimeAnchor::issue(
            &service_key(),
            hearth_protocol::DeviceId::for_key(&self.device),
            T0,
        ))
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let mut head = self.head.lock().unwrap();
        let mut results = Vec::new();
        for bytes in envelopes {
            if !self.accept.load(Ordering::SeqCst) {
                results.push(ReceiptOutcome::Pending);
                continue;
            }
            let r = Envelope::from_bytes(bytes).verify(&self.device).unwrap();
            if r.body().seq == head.seq + 1 {
                *head = head.advanced(&r.link());
            }
            results.push(ReceiptOutcome::Accepted);
        }
        Ok(UploadOutcome {
            results,
            acked: *head,
        })
    }

    fn classroom_tag(&self) -> Option<String> {
        Some(self.tag.lock().unwrap().clone())
    }

    async fn assignments(&self) -> Result<Option<Vec<Assignment>>, TransportError> {
        Ok(Some(self.assignments.lock().unwrap().clone()))
    }

    async fn roster_with_classes(&self) -> Result<Option<Roster>, TransportError> {
        Ok(Some(self.roster.lock().unwrap().clone()))
    }
}

#[tokio::test]
async fn sync_rounds_keep_the_roster_classes_and_the_kiosk_assignment() {
    let mut r = class_in_session();
    let rec = r
        .hearth
        .kiosk_assign(course(), None, Some(final_exam()), None)
        .unwrap();
    let local = r.hearth.assignments().unwrap();
    // The service renamed the trainer's class and moved Ana to a new one; it does not have the
    // kiosk's receipt yet (uploads are held pending).
    let people = vec![
        person(r.ana, "安娜", "learner", Some("1111")),
        person(r.trainer, "王老师", "trainer", Some("9999")),
    ];
    let service = Classroom {
        device: r.hearth.device().public_key,
        tag: Mutex::new("t1".into()),
        roster: Mutex::new(Roster {
            people,
            classes: Some(vec![
                RosterClasses {
                    person: r.ana,
                    classes: vec![class_ref(70, "新班")],
                },
                RosterClasses {
                    person: r.trainer,
                    classes: vec![class_ref(CLASS, "电工一班（上午）"), class_ref(70, "新班")],
                },
            ]),
        }),
        assignments: Mutex::new(vec![]),
        accept: AtomicBool::new(false),
        head: Mutex::new(hearth_protocol::ChainHead::EMPTY),
    };
    let key = PublicKey::from_slice(service_key().public_key().as_ref()).unwrap();
    let h = Mutex::new(r.hearth);
    let report = sync_round(&h, &service, &key, 100).await.unwrap();
    assert!(report.roster_refreshed, "{report:?}");
    assert_eq!(report.acked_seq, 0);
    let mut hearth = h.into_inner().unwrap();
    assert_eq!(
        hearth.assignments().unwrap(),
        local,
        "not dropped before the service has its receipt"
    );
    let roster = hearth.kiosk_roster().unwrap();
    let classes = |id| roster.iter().find(|p| p.id == id).unwrap().classes.clone();
    assert_eq!(classes(r.ana), vec![class_ref(70, "新班")]);
    assert!(
        roster.iter().all(|p| p.id != r.bo),
        "the service sends Bo no more: he is gone from the kiosk, verifier and all (nothing of \
         his is recorded here)"
    );
    assert_eq!(
        classes(r.trainer),
        vec![class_ref(70, "新班"), class_ref(CLASS, "电工一班（上午）")]
    );
    assert_eq!(
        code(
            hearth
                .kiosk_open_class(ClassId(Uuid::from_u128(CLASS_2)))
                .unwrap_err()
        ),
        "kiosk.foreign_class",
        "a class the trainer no longer runs"
    );
    hearth
        .kiosk_open_class(ClassId(Uuid::from_u128(70)))
        .unwrap();

    // The service acknowledges the receipt and lists its copy of the assignment.
    service.accept.store(true, Ordering::SeqCst);
    *service.tag.lock().unwrap() = "t2".into();
    let copy = Assignment {
        id: class_assignment_id(rec.id).to_string(),
        ..local[0].clone()
    };
    *service.assignments.lock().unwrap() = vec![copy.clone()];
    let h = Mutex::new(hearth);
    let report = sync_round(&h, &service, &key, 100).await.unwrap();
    assert!(report.acked_seq >= rec.seq, "{report:?}");
    let mut hearth = h.into_inner().unwrap();
    assert_eq!(hearth.assignments().unwrap(), vec![copy]);
    // And when the service drops it, so does the kiosk.
    *service.tag.lock().unwrap() = "t3".into();
    service.assignments.lock().unwrap().clear();
    let h = Mutex::new(hearth);
    sync_round(&h, &service, &key, 100).await.unwrap();
    hearth = h.into_inner().unwrap();
    assert!(hearth.assignments().unwrap().is_empty());
}

#[test]
fn enrolling_keeps_the_roster_classes_at_once() {
    use hearth_core::sync::http::EnrollAnswer;
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = Env::deterministic(T0, 6);
    let mut h = Hearth::open(dir.path(), env).unwrap();
    let trainer = LearnerId(Uuid::from_u128(4));
    let service = service_key();
    let answer = |anchor_key: &Ed25519KeyPair, h: &Hearth| EnrollAnswer {
        enrollment: Enrollment {
            service_url: "http://127.0.0.1:9".into(),
            credential: "c".into(),
            credential_expires_ms: T0 + 1_000_000_000,
            org_id: Uuid::from_u128(9).to_string(),
            org_name: "培训中心".into(),
            owner: None,
            anchor_key: PublicKey::from_slice(service.public_key().as_ref()).unwrap(),
            publisher_keys: vec![],
            enrolled_ms: T0,
        },
        roster: vec![person(trainer, "王老师", "trainer", Some("9999"))],
        classes: vec![RosterClasses {
            person: trainer,
            classes: vec![class_ref(CLASS, "电工一班")],
        }],
        anchor: TimeAnchor::issue(anchor_key, h.device().id, T0),
    };
    // An anchor the enrollment's key did not sign: nothing is kept.
    let forged = answer(&publisher(), &h);
    assert!(h.apply_enroll_answer(&forged).is_err());
    assert!(h.enrollment().unwrap().is_none());
    let good = answer(&service, &h);
    h.apply_enroll_answer(&good).unwrap();
    let people = h.kiosk_roster().unwrap();
    assert_eq!(people.len(), 1);
    assert_eq!(people[0].classes, vec![class_ref(CLASS, "电工一班")]);
    h.kiosk_sign_in(trainer, "9999").unwrap();
    let s = h.kiosk_open_class(ClassId(Uuid::from_u128(CLASS))).unwrap();
    assert_eq!(s.name, "电工一班");
}

/// Issue #17 item 3: a scanner types the card's text; the kiosk checks it against the roster's
/// verifier, signs the learner in with the card's proof for the receipt's own chain position,
/// and refuses other texts with their own codes; wrong cards are throttled with the PINs.
#[test]
fn a_card_signs_in_its_learner_with_a_proof_and_wrong_cards_lock_out_like_pins() {
    let mut r = room(KioskPolicy::default());
    let h = &mut r.hearth;
    let text = ana_card(2).text();
    assert_eq!(
        code(h.kiosk_sign_in_card("1111").unwrap_err()),
        "card.not_a_card"
    );
    assert_eq!(
        code(h.kiosk_sign_in_card(&text[..text.len() - 3]).unwrap_err()),
        "card.malformed"
    );
    assert_eq!(
        code(h.kiosk_sign_in_card(&ana_card(1).text()).unwrap_err()),
        "card.replaced"
    );
    let stranger = Card {
        learner: LearnerId(Uuid::from_u128(77)),
        ..ana_card(2)
    };
    assert_eq!(
        code(h.kiosk_sign_in_card(&stranger.text()).unwrap_err()),
        "card.unknown"
    );
    // Bo has no card: Ana's secret under his name opens nothing.
    let bo_forged = Card {
        learner: r.bo,
        ..ana_card(2)
    };
    assert_eq!(
        code(h.kiosk_sign_in_card(&bo_forged.text()).unwrap_err()),
        "card.unknown"
    );
    // A made-up card with Ana's id and serial: wrong secret. Five wrong tries (cards or PINs)
    // lock her out, even with the right card.
    let forged = Card {
        secret: [0x42; 32],
        ..ana_card(2)
    };
    assert_eq!(
        code(h.kiosk_sign_in_card(&forged.text()).unwrap_err()),
        "card.unknown"
    );
    for _ in 0..3 {
        assert_eq!(
            code(h.kiosk_sign_in(r.ana, "0000").unwrap_err()),
            "kiosk.wrong_pin"
        );
    }
    assert_eq!(
        code(h.kiosk_sign_in_card(&forged.text()).unwrap_err()),
        "kiosk.locked_out"
    );
    assert_eq!(
        code(h.kiosk_sign_in_card(&text).unwrap_err()),
        "kiosk.locked_out"
    );
    assert!(ledger(h).is_empty(), "refused tries record nothing");
    r.clock.advance(KioskPolicy::default().lockout_ms);
    // As a scanner types it: lower case is fine, and the Enter key's newline.
    let s = h
        .kiosk_sign_in_card(&format!("{}\n", text.to_lowercase()))
        .unwrap();
    assert_eq!((s.person, s.role), (r.ana, KioskRole::Learner));
    h.record(study(60_000)).unwrap();

    let out = h.outbox(0, 10).unwrap();
    let v = Envelope::from_bytes(out[0].envelope.clone())
        .verify(&h.device().public_key)
        .unwrap();
    let body: &ReceiptBody = v.body();
    let Event::LearnerSignedIn {
        method: SignInMethod::CardProved { serial, proof },
    } = body.event
    else {
        panic!("a card sign-in: {:?}", body.event);
    };
    assert_eq!(serial, 2);
    assert!(
        proof_matches(
            &ana_card(2).secret,
            h.device().id,
            r.ana,
            2,
            body.seq,
            body.prev,
            &proof
        ),
        "the proof is the card's, for this receipt's chain position"
    );
    assert_eq!(
        ledger(h).iter().map(|(l, _)| *l).collect::<Vec<_>>(),
        vec![r.ana, r.ana]
    );
}
