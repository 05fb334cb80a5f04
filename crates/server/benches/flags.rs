//! The flags report with the anomaly flags computed on reading (docs/flags.md), over a training
//! centre: 400 learners each with their own PC, 40 classroom kiosks each holding the most kiosk
//! sessions the facts keep (128), and every learner with answer delays kept, half of them
//! flagged (a full page of people).
//!
//! `cargo bench -p hearth-server --bench flags` (`-- --test`: one small round as a smoke test).

use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use hearth_protocol::{
    AnchorRef, Answer, CourseId, DeviceId, Event, LearnerId, LessonId, MonoStamp, PublicKey,
    ReceiptBody, ReceiptId, SignInMethod, SignOutReason,
};
use hearth_server::Service;
use hearth_server::env::{ManualClock, SeededRandom};
use hearth_server::keys::Keys;
use hearth_server::store::{Device, SqliteStore};
use ring::signature::{Ed25519KeyPair, KeyPair};
use uuid::Uuid;

const T0: i64 = 1_790_000_000_000;

struct Chain {
    key: Ed25519KeyPair,
    dev: Device,
    seq: u64,
    prev: ReceiptId,
    elapsed: u64,
    anchor: AnchorRef,
    batch: Vec<Vec<u8>>,
}

impl Chain {
    fn new(svc: &Service, org: Uuid, learner: Option<LearnerId>, seed: u32) -> Self {
        let mut s = [0u8; 32];
        s[..4].copy_from_slice(&seed.to_be_bytes());
        let key = Ed25519KeyPair::from_seed_unchecked(&s).unwrap();
        let pk = PublicKey::from_slice(key.public_key().as_ref()).unwrap();
        let id = DeviceId::for_key(&pk);
        let code = svc.issue_enrollment_code(org, learner, None).unwrap();
        let dev = svc.enroll(&code, pk, id, None).unwrap().device;
        let anchor = AnchorRef {
            anchor: svc.anchor_for(id),
            received: MonoStamp {
                run: 1,
                elapsed_ms: 0,
            },
        };
        Chain {
            key,
            dev,
            seq: 0,
            prev: ReceiptId::ZERO,
            elapsed: 0,
            anchor,
            batch: Vec::new(),
        }
    }

    fn push(&mut self, learner: LearnerId, after_ms: u64, event: Event) {
        self.elapsed += after_ms;
        self.seq += 1;
        let r = ReceiptBody {
            device: self.dev.id,
            seq: self.seq,
            prev: self.prev,
            learner,
            wall_ms: T0 + self.elapsed as i64,
            mono: MonoStamp {
                run: 1,
                elapsed_ms: self.elapsed,
            },
            anchor: Some(self.anchor),
            event,
        }
        .sign(&self.key)
        .unwrap();
        self.prev = r.id();
        self.batch.push(r.into_envelope_bytes());
    }

    fn flush(&mut self, svc: &Service) {
        if !self.batch.is_empty() {
            svc.ingest(&self.dev, std::mem::take(&mut self.batch))
                .unwrap();
        }
    }
}

fn study(ms: u64) -> Event {
    Event::ActiveStudy {
        course: CourseId::new("long-course").unwrap(),
        lesson: LessonId::new("l1").unwrap(),
        active_ms: ms as u32,
    }
}

fn centre(learners: usize, kiosks: usize) -> (tempfile::TempDir, Service, Uuid) {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let svc = Service::with_parts(
        Arc::new(SqliteStore::open(&dir.path().join("hearth.db")).unwrap()),
        clock.clone(),
        Arc::new(SeededRandom::new(1)),
        Keys::from_seeds([0x22; 32], [0x44; 32], [0x55; 32]),
        dir.path().join("blobs"),
    );
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    svc.publish(&fixtures.join("long-course")).unwrap();
    svc.publish(&fixtures.join("demo-course")).unwrap();
    let org = svc.create_org("bench centre").unwrap().id;
    let people: Vec<LearnerId> = (0..learners)
        .map(|i| {
            svc.add_learner(
                org,
                &format!("学员{i}"),
                &format!("11010519491231{i:04}"),
                None,
                None,
            )
            .unwrap()
            .id
        })
        .collect();
    // Every device takes an anchor now; the receipts arrive four days later, so all of them lie
    // inside the provable window.
    let mut chains = Vec::new();
    let mut seed = 1;
    for (i, &l) in people.iter().enumerate() {
        let mut pc = Chain::new(&svc, org, Some(l), seed);
        seed += 1;
        pc.push(l, 60_000, study(60_000));
        // Practice answers: half at a person's pace, half a script's fixed 4 s.
        for n in 0..64u64 {
            let d = if i % 2 == 0 {
                4_000
            } else {
                3_000 + (n * 7_919 % 23) * 480
            };
            let event = Event::QuizAnswered {
                course: CourseId::new("electrician-safety").unwrap(),
                lesson: LessonId::new("l1").unwrap(),
                quiz: "l1-quiz".parse().unwrap(),
                item: "q1".parse().unwrap(),
                answer: Answer::Choices(vec![0]),
            };
            pc.push(l, d, event);
        }
        chains.push(pc);
    }
    for k in 0..kiosks {
        let mut kiosk = Chain::new(&svc, org, None, seed);
        seed += 1;
        for s in 0..128usize {
            let l = people[(k * 7 + s) % people.len()];
            let sign_in = Event::LearnerSignedIn {
                method: SignInMethod::Pin,
            };
            kiosk.push(l, 60_000, sign_in);
            for _ in 0..3 {
                kiosk.push(l, 600_000, study(600_000 - (s as u64 % 5) * 7_000));
            }
            let out = Event::LearnerSignedOut {
                reason: SignOutReason::Requested,
            };
            kiosk.push(l, 1_000, out);
        }
        chains.push(kiosk);
    }
    clock.advance(4 * 24 * 3_600_000);
    for c in &mut chains {
        c.flush(&svc);
    }
    (dir, svc, org)
}

fn all(c: &mut Criterion) {
    let quick = std::env::args().any(|a| a == "--test");
    let (learners, kiosks) = if quick { (20, 2) } else { (400, 40) };
    let t = Instant::now();
    let (_dir, svc, org) = centre(learners, kiosks);
    let r = svc.flags_report(org, None, None).unwrap();
    println!(
        "flags report: {learners} learners, {kiosks} kiosks × 128 sessions (built in {:.1} s): \
         {} anomaly flags, {} learners with withheld credit",
        t.elapsed().as_secs_f64(),
        r.anomalies.len(),
        r.withheld.len()
    );
    c.bench_function(
        &format!("flags_report/{learners}_learners_{kiosks}_kiosks"),
        |b| b.iter(|| svc.flags_report(org, None, None).unwrap()),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = all
}
criterion_main!(benches);
