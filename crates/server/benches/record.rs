//! A learner's record over 10,000 and 100,000 receipts: time to read it and the peak heap it
//! takes, which must not grow with the number of receipts (the record reads the facts derived at
//! ingest, never the receipts).
//!
//! `cargo bench -p hearth-server --bench record`
//!
//! Both learners study the same term: 200 sessions of study (an evening each, on the course with
//! long lessons), with media, quizzes and an exam; one device writes a receipt every 72 s of
//! study, the other every 7.2 s, so the second has ten times the receipts for the same study.
//! Receipts are ingested in batches of 1,000 as a sync would send them (that time is printed too).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_protocol::{
    AnchorRef, CourseId, DeviceId, Event, LearnerId, LessonId, MonoStamp, PublicKey, ReceiptBody,
    ReceiptId,
};
use hearth_server::Service;
use hearth_server::env::{ManualClock, SeededRandom};
use hearth_server::keys::Keys;
use hearth_server::store::{Device, SqliteStore};
use peakmem_alloc::{INSTRUMENTED_SYSTEM, PeakMemAlloc, PeakMemAllocTrait};
use ring::signature::{Ed25519KeyPair, KeyPair};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

const T0: i64 = 1_790_000_000_000;
const SESSIONS: u64 = 200;
/// One session: 2 hours of study.
const SESSION_MS: u64 = 2 * 3_600_000;

struct Setup {
    _dir: tempfile::TempDir,
    svc: Service,
    learner: LearnerId,
    ingest: Duration,
    receipts: u64,
}

fn setup(receipts: u64) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let svc = Service::with_parts(
        Arc::new(SqliteStore::open(&dir.path().join("hearth.db")).unwrap()),
        clock.clone(),
        Arc::new(SeededRandom::new(1)),
        Keys::from_seeds([0x22; 32], [0x44; 32], [0x55; 32]),
        dir.path().join("blobs"),
    );
    let course_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    svc.publish(&course_dir.join("long-course")).unwrap();
    svc.publish(&course_dir.join("demo-course")).unwrap();
    let org = svc.create_org("bench").unwrap().id;
    let learner = svc
        .add_learner(org, "l", "11010519491231002X", None, None)
        .unwrap()
        .id;
    let key = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let pk = PublicKey::from_slice(key.public_key().as_ref()).unwrap();
    let device = DeviceId::for_key(&pk);
    let code = svc.issue_enrollment_code(org, Some(learner), None).unwrap();
    let e = svc.enroll(&code, pk, device, None).unwrap();
    let dev: Device = e.device;

    let per_session = receipts / SESSIONS;
    let span = SESSION_MS / per_session;
    let (mut seq, mut prev, mut run) = (0u64, ReceiptId::ZERO, 0u32);
    let mut batch = Vec::new();
    let mut ingest = Duration::ZERO;
    let course = CourseId::new("long-course").unwrap();
    let lesson = LessonId::new("l1").unwrap();
    for _ in 0..SESSIONS {
        // An evening a day: the PC starts, syncs (a fresh anchor), studies, and is turned off.
        run += 1;
        let anchor = AnchorRef {
            anchor: svc.anchor_for(device),
            received: MonoStamp { run, elapsed_ms: 0 },
        };
        for i in 1..=per_session {
            clock.advance(span as i64);
            let mut events = vec![Event::ActiveStudy {
                course: course.clone(),
                lesson: lesson.clone(),
                active_ms: span as u32,
            }];
            if i % 50 == 0 {
                // A completion now and then, as a real session has.
                events.push(Event::LessonCompleted {
                    course: CourseId::new("electrician-safety").unwrap(),
                    lesson: LessonId::new("l1").unwrap(),
                });
            }
            for event in events {
                seq += 1;
                let r = ReceiptBody {
                    device,
                    seq,
                    prev,
                    learner,
                    wall_ms: svc.now(),
                    mono: MonoStamp {
                        run,
                        elapsed_ms: i * span,
                    },
                    anchor: Some(anchor),
                    event,
                }
                .sign(&key)
                .unwrap();
                prev = r.id();
                batch.push(r.into_envelope_bytes());
            }
            if batch.len() == 1000 {
                let t = Instant::now();
                svc.ingest(&dev, std::mem::take(&mut batch)).unwrap();
                ingest += t.elapsed();
            }
        }
        clock.advance(22 * 3_600_000);
    }
    if !batch.is_empty() {
        let t = Instant::now();
        svc.ingest(&dev, batch).unwrap();
        ingest += t.elapsed();
    }
    Setup {
        _dir: dir,
        svc,
        learner,
        ingest,
        receipts: seq,
    }
}

fn main() {
    // `cargo test --benches` passes --test: one small round as a smoke test.
    let quick = std::env::args().any(|a| a == "--test");
    let sizes: &[u64] = if quick { &[2_000] } else { &[10_000, 100_000] };
    println!("learner record from derived facts ({SESSIONS} study sessions of 2 h):");
    println!(
        "{:>9} {:>12} {:>14} {:>12} {:>14}",
        "receipts", "ingest s", "record median", "peak heap", "credited h"
    );
    for &n in sizes {
        let s = setup(n);
        let l = s.svc.store.learner(s.learner).unwrap().unwrap();
        let mut times = Vec::new();
        let mut peak = 0;
        let mut credited = 0;
        for _ in 0..if quick { 2 } else { 21 } {
            GLOBAL.reset_peak_memory();
            let t = Instant::now();
            let rec = s.svc.learner_record(&l).unwrap();
            times.push(t.elapsed());
            peak = peak.max(GLOBAL.get_peak_memory());
            credited = rec.credited_ms;
        }
        times.sort();
        println!(
            "{:>9} {:>12.1} {:>12.2}ms {:>10.1}KB {:>14.1}",
            s.receipts,
            s.ingest.as_secs_f64(),
            times[times.len() / 2].as_secs_f64() * 1000.0,
            peak as f64 / 1024.0,
            credited as f64 / 3_600_000.0
        );
    }
}
