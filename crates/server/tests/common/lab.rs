//! A service with one organisation, its trainer and class, the fixture course published, and
//! devices whose every clock a test sets: the bench where honest learners and a modified client
//! (a genuine key signing whatever it likes) are played against the credit rules, in-process
//! and without HTTP (the HTTP path is covered by tests/http.rs).

use std::sync::Arc;

use hearth_protocol::wire::LearnerRecord;
use hearth_protocol::{
    AnchorRef, ContentHash, CourseId, DeviceId, Event, ExamId, ItemAnswer, LearnerId, LessonId,
    MonoStamp, ReceiptBody, ReceiptId,
};
use hearth_server::Service;
use hearth_server::domain::IngestOutcome;
use hearth_server::env::ManualClock;
use hearth_server::store::Device;
use ring::signature::Ed25519KeyPair;
use uuid::Uuid;

use super::{T0, fixture_course, open_service, public};

pub const MINUTE: u64 = 60_000;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: i64 = 24 * HOUR as i64;

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub clock: Arc<ManualClock>,
    pub svc: Service,
    pub org: Uuid,
    pub trainer: Uuid,
    pub class: Uuid,
    pub learners: Vec<LearnerId>,
    /// The fixture course's audio (60 s, lesson l2).
    pub media: ContentHash,
}

impl Lab {
    /// `learners` learners in the trainer's class, the fixture course published at `T0`.
    pub fn new(learners: usize) -> Self {
        Self::with(learners, |dir, clock| open_service(dir, clock, 11))
    }

    /// As [`Lab::new`], on a real SQLite data folder opened as `hearth-server` opens it (its
    /// own key files and `hearth.db`), whatever backend the run selects.
    pub fn in_data_folder(learners: usize) -> Self {
        Self::with(learners, |dir, clock| {
            Service::open(
                dir,
                clock,
                Arc::new(hearth_server::env::SeededRandom::new(11)),
            )
            .unwrap()
        })
    }

    fn with(
        learners: usize,
        open: impl FnOnce(&std::path::Path, Arc<ManualClock>) -> Service,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(T0));
        let svc = open(dir.path(), clock.clone());
        let org = svc.create_org("Lab centre").unwrap().id;
        let (t, _) = svc
            .add_user(org, hearth_server::store::Role::Trainer, "王老师")
            .unwrap();
        let class = svc.add_class(t.id, "电工一班").unwrap().id;
        let learners = (0..learners)
            .map(|i| {
                let id = format!("1101051949123100{:02}", 10 + i);
                svc.add_learner(org, &format!("学员{i}"), &id, Some(class), None)
                    .unwrap()
                    .id
            })
            .collect();
        svc.publish(&fixture_course()).unwrap();
        svc.publish(&fixture_course().with_file_name("long-course"))
            .unwrap();
        let m = svc.latest_manifest("electrician-safety").unwrap().unwrap();
        let media = m.manifest.file("media/intro.mp3").unwrap().sha256;
        Lab {
            dir,
            clock,
            svc,
            org,
            trainer: t.id,
            class,
            learners,
            media,
        }
    }

    pub fn now(&self) -> i64 {
        self.svc.now()
    }

    pub fn advance(&self, ms: u64) {
        self.clock.advance(ms as i64);
    }

    fn enroll(&self, seed: u8, learner: Option<LearnerId>) -> Dev {
        self.enroll_in(self.org, seed, learner)
    }

    fn enroll_in(&self, org: Uuid, seed: u8, learner: Option<LearnerId>) -> Dev {
        let key = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
        let pk = public(&key);
        let code = match learner {
            Some(_) => self.svc.issue_enrollment_code(org, learner, None).unwrap(),
            // A kiosk of the lab's centre serves its class (issue #16).
            None if org == self.org => {
                self.svc
                    .issue_kiosk_code(org, &[self.class], None)
                    .unwrap()
                    .code
            }
            None => self.svc.issue_enrollment_code(org, None, None).unwrap(),
        };
        let e = self
            .svc
            .enroll(&code, pk, DeviceId::for_key(&pk), None)
            .unwrap();
        Dev {
            key,
            seed,
            credential: e.credential,
            device: e.device,
            seq: 0,
            prev: ReceiptId::ZERO,
            learner: learner.unwrap_or(LearnerId(Uuid::nil())),
            run: 1,
            elapsed: 0,
            wall: self.now(),
            anchor: None,
        }
    }

    /// A learner's own PC.
    pub fn personal(&self, seed: u8, learner: LearnerId) -> Dev {
        self.enroll(seed, Some(learner))
    }

    /// The own PC of a learner of another organisation than the lab's.
    pub fn personal_in(&self, org: Uuid, seed: u8, learner: LearnerId) -> Dev {
        self.enroll_in(org, seed, Some(learner))
    }

    /// A classroom kiosk.
    pub fn kiosk(&self, seed: u8) -> Dev {
        self.enroll(seed, None)
    }

    pub fn send(&self, dev: &Dev, envelopes: Vec<Vec<u8>>) -> IngestOutcome {
        self.svc.ingest(&dev.device, envelopes).unwrap()
    }

    pub fn record(&self, learner: LearnerId) -> LearnerRecord {
        let l = self.svc.store.learner(learner).unwrap().unwrap();
        self.svc.learner_record(&l).unwrap()
    }

    /// The record's withheld time under `code`.
    pub fn withheld(&self, learner: LearnerId, code: &str) -> u64 {
        self.record(learner)
            .withheld
            .iter()
            .find(|w| w.code == code)
            .map_or(0, |w| w.ms)
    }
}

/// A device: its key, chain, and clocks, all set by the test.
pub struct Dev {
    key: Ed25519KeyPair,
    seed: u8,
    /// The bearer credential enrollment gave (for uploads over HTTP).
    pub credential: String,
    pub device: Device,
    pub seq: u64,
    pub prev: ReceiptId,
    /// Whose receipts it writes next.
    pub learner: LearnerId,
    pub run: u32,
    pub elapsed: u64,
    pub wall: i64,
    pub anchor: Option<AnchorRef>,
}

impl Dev {
    pub fn id(&self) -> DeviceId {
        self.device.id
    }

    /// Takes an anchor the service issues now, received at the current monotonic time.
    pub fn fetch_anchor(&mut self, lab: &Lab) {
        self.anchor = Some(AnchorRef {
            anchor: lab.svc.anchor_for(self.device.id),
            received: self.mono(),
        });
    }

    pub fn mono(&self) -> MonoStamp {
        MonoStamp {
            run: self.run,
            elapsed_ms: self.elapsed,
        }
    }

    /// The app restarts: a new run, monotonic time from 0.
    pub fn restart(&mut self) {
        self.run += 1;
        self.elapsed = 0;
    }

    /// The device's clocks move on (the service's does not: see [`Lab::advance`]).
    pub fn wait(&mut self, ms: u64) {
        self.elapsed += ms;
        self.wall += ms as i64;
    }

    /// A receipt signed now, with whatever the fields say.
    pub fn receipt(&mut self, event: Event) -> Vec<u8> {
        self.seq += 1;
        let r = ReceiptBody {
            device: self.device.id,
            seq: self.seq,
            prev: self.prev,
            learner: self.learner,
            wall_ms: self.wall,
            mono: self.mono(),
            anchor: self.anchor,
            event,
        }
        .sign(&self.key)
        .unwrap();
        self.prev = r.id();
        r.into_envelope_bytes()
    }

    /// A copy of this device as it is now (a cloned data folder): same key, same chain.
    pub fn fork(&self) -> Dev {
        Dev {
            key: Ed25519KeyPair::from_seed_unchecked(&[self.seed; 32]).unwrap(),
            seed: self.seed,
            credential: self.credential.clone(),
            device: self.device.clone(),
            seq: self.seq,
            prev: self.prev,
            learner: self.learner,
            run: self.run,
            elapsed: self.elapsed,
            wall: self.wall,
            anchor: self.anchor,
        }
    }
}

pub fn course() -> CourseId {
    CourseId::new("electrician-safety").unwrap()
}

pub fn lesson(id: &str) -> LessonId {
    LessonId::new(id).unwrap()
}

pub fn study(lesson_id: &str, active_ms: u64) -> Event {
    Event::ActiveStudy {
        course: course(),
        lesson: lesson(lesson_id),
        active_ms: active_ms as u32,
    }
}

/// The course with long lessons (200 h each), where hours are not hidden by a lesson's cap.
pub fn long_course() -> CourseId {
    CourseId::new("long-course").unwrap()
}

/// Study of the long course's lesson l1.
pub fn long_study(active_ms: u64) -> Event {
    Event::ActiveStudy {
        course: long_course(),
        lesson: lesson("l1"),
        active_ms: active_ms as u32,
    }
}

pub fn completed(lesson_id: &str) -> Event {
    Event::LessonCompleted {
        course: course(),
        lesson: lesson(lesson_id),
    }
}

pub fn watched(media: ContentHash, from_ms: u64, to_ms: u64) -> Event {
    Event::MediaWatched {
        course: course(),
        lesson: lesson("l2"),
        media,
        from_ms: from_ms as u32,
        to_ms: to_ms as u32,
    }
}

pub fn exam_started(attempt: u32) -> Event {
    Event::ExamStarted {
        course: course(),
        exam: ExamId::new("final").unwrap(),
        attempt,
    }
}

/// The fixture exam: e1 (choice, right answer 1, 2 points), e2 (text "断电", 1 point).
pub fn exam_submitted(attempt: u32, right: bool) -> Event {
    let (c, t) = if right { (1, "断电") } else { (0, "跑开") };
    Event::ExamSubmitted {
        course: course(),
        exam: ExamId::new("final").unwrap(),
        attempt,
        answers: vec![
            ItemAnswer {
                item: "e1".parse().unwrap(),
                answer: hearth_protocol::Answer::Choices(vec![c]),
            },
            ItemAnswer {
                item: "e2".parse().unwrap(),
                answer: hearth_protocol::Answer::Text(t.into()),
            },
        ],
    }
}

pub fn signed_in() -> Event {
    Event::LearnerSignedIn {
        method: hearth_protocol::SignInMethod::Pin,
    }
}

pub fn signed_out() -> Event {
    Event::LearnerSignedOut {
        reason: hearth_protocol::SignOutReason::Requested,
    }
}

/// An honest learner studies `minutes` on `dev` in one-minute spans (`event` makes each span's
/// receipt), the service's clock and the device's moving together.
pub fn honest(
    lab: &Lab,
    dev: &mut Dev,
    minutes: u64,
    event: impl Fn(u64) -> Event,
) -> Vec<Vec<u8>> {
    (0..minutes)
        .map(|_| {
            lab.advance(MINUTE);
            dev.wait(MINUTE);
            dev.receipt(event(MINUTE))
        })
        .collect()
}

impl Lab {
    /// Credited time before lesson caps (what the daily cap and the real-time bound limit).
    pub fn raw_credit(&self, learner: LearnerId) -> u64 {
        self.svc.facts_of(learner).unwrap().credited_raw_ms()
    }

    /// Credited time of the long course.
    pub fn long_credit(&self, learner: LearnerId) -> u64 {
        self.record(learner)
            .courses
            .iter()
            .find(|c| c.course == "long-course")
            .map_or(0, |c| c.credited_ms)
    }
}

/// The fixture course done honestly on `dev`: ten minutes of lesson 1, the 60 s audio of
/// lesson 2 played through while studying it, both lessons completed, the exam started and
/// passed twelve minutes later.
pub fn whole_course(lab: &Lab, dev: &mut Dev) -> Vec<Vec<u8>> {
    let mut b = honest(lab, dev, 10, |ms| study("l1", ms));
    b.push(dev.receipt(completed("l1")));
    for i in 0..6 {
        lab.advance(10_000);
        dev.wait(10_000);
        b.push(dev.receipt(watched(lab.media, i * 10_000, (i + 1) * 10_000)));
    }
    b.push(dev.receipt(study("l2", MINUTE)));
    b.push(dev.receipt(completed("l2")));
    b.push(dev.receipt(exam_started(1)));
    lab.advance(12 * MINUTE);
    dev.wait(12 * MINUTE);
    b.push(dev.receipt(exam_submitted(1, true)));
    b
}

/// A lab whose first `certified` learners completed the course.
pub fn certified_lab(learners: usize, certified: usize) -> Lab {
    let lab = Lab::new(learners);
    for (i, &l) in lab.learners.iter().take(certified).enumerate() {
        let mut pc = lab.personal(u8::try_from(i + 1).unwrap(), l);
        pc.fetch_anchor(&lab);
        let b = whole_course(&lab, &mut pc);
        assert!(!lab.send(&pc, b).flagged);
    }
    lab
}

/// Learner `learner`'s personal PC (seed `seed`) studies, is copied (a restored backup), and both
/// copies record: the service flags the device as forked. Returns the original PC, which goes on
/// recording on the flagged device.
pub fn forked_personal_pc(lab: &Lab, seed: u8, learner: LearnerId) -> Dev {
    let mut d = lab.personal(seed, learner);
    d.fetch_anchor(lab);
    let b = honest(lab, &mut d, 2, long_study);
    lab.send(&d, b);
    let mut copy = d.fork();
    let ours = honest(lab, &mut d, 1, long_study);
    copy.wait(1);
    let theirs = vec![copy.receipt(long_study(1_000))];
    lab.send(&d, ours);
    assert!(lab.send(&copy, theirs).flagged, "the fork flags the device");
    d
}
