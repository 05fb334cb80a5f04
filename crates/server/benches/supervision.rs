//! The supervisor's statistics (issue #15) over 10,000 learners and 1,000,000 receipts: the time
//! to the first page (the region's statistics by institution, and by course) and to a full
//! drill-down (statistics → the learners behind one institution's row → one learner's receipts),
//! plus the export of one institution's learners to XLSX.
//!
//! `cargo bench -p hearth-server --bench supervision` (SQLite; `SUPERVISION_LEARNERS` to change
//! the size, 10,000 by default, with 100 receipts each).
//!
//! Seeding a million real receipts through ingest would take most of an hour here, so the
//! store's tables are seeded directly with what ingest would have left, and that is what the
//! statistics read:
//! - 10 institutions of one region, 1,000 learners each (imported through the store);
//! - per learner, facts as the credit fold derives them for a term of study of the published
//!   demo course: 60 days with 40 minutes each, 60 study intervals, both lessons credited and
//!   claimed complete, the audio watched, and a graded exam (passed by 3 in 4); completed
//!   learners (the same 3 in 4) hold a certificate;
//! - 1 learner in 20 with credit withheld over the daily cap (marked flagged, as ingest marks
//!   it), so that the flag columns read the administrator's flag list across its pages;
//! - per learner one device and 100 acknowledged receipts in its chain: real signed envelopes
//!   (each device's key signs one receipt, whose bytes stand for the 100; the drill-down reads the
//!   columns and passes the bytes on, it never verifies them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hearth_protocol::{
    CourseId, DeviceId, Event, LearnerId, LessonId, MonoStamp, PublicKey, ReceiptBody, ReceiptId,
};
use hearth_server::Service;
use hearth_server::domain::credit::facts::{
    ExamFact, ExamStart, ExamStatus, LessonFacts, Withheld,
};
use hearth_server::domain::credit::{DAY_MS, LearnerFacts};
use hearth_server::domain::supervision::{GroupBy, to_xlsx};
use hearth_server::env::{ManualClock, SeededRandom};
use hearth_server::keys::Keys;
use hearth_server::store::{Learner, SqliteStore};
use ring::signature::{Ed25519KeyPair, KeyPair};
use rusqlite::params;
use uuid::Uuid;

const T0: i64 = 1_790_000_000_000;
const ORGS: usize = 10;
const RECEIPTS_PER_LEARNER: u64 = 100;
const RUNS: usize = 5;

fn facts(device: DeviceId, media_hex: &str, passed: bool, start: i64) -> LearnerFacts {
    let mut f = LearnerFacts::default();
    let course = "electrician-safety".to_owned();
    for d in 0..60 {
        let day_start = start + d * DAY_MS + 19 * 3_600_000;
        f.study
            .insert_free(day_start, day_start + 40 * 60_000, device, 1_000);
        f.days.insert(day_start / DAY_MS, 40 * 60_000);
    }
    let lessons = f.lessons.entry(course.clone()).or_default();
    lessons.insert(
        "l1".into(),
        LessonFacts {
            credited_ms: 600_000,
            claimed_ms: 600_000,
            completed_claim: true,
        },
    );
    lessons.insert(
        "l2".into(),
        LessonFacts {
            credited_ms: 60_000,
            claimed_ms: 60_000,
            completed_claim: true,
        },
    );
    f.media
        .entry(course.clone())
        .or_default()
        .insert(media_hex.to_owned(), vec![(0, 60_000)]);
    f.exams.push(ExamFact {
        course: course.clone(),
        exam: "final".into(),
        device,
        attempt: 1,
        start: Some(ExamStart {
            received_ms: start,
            run: 1,
            elapsed_ms: 0,
            wall_ms: start,
            version: 1,
        }),
        status: ExamStatus::Graded,
        score: if passed { 3 } else { 1 },
        max_score: 3,
        passed,
        submitted_ms: Some(start + 12 * 60_000),
        took_ms: Some(12 * 60_000),
    });
    f.courses.insert(course);
    f
}

struct Seeded {
    _dir: tempfile::TempDir,
    svc: Service,
    supervisor: hearth_server::store::User,
    db_bytes: u64,
}

fn seed(learners: usize) -> Seeded {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hearth.db");
    let svc = Service::with_parts(
        Arc::new(SqliteStore::open(&db).unwrap()),
        Arc::new(ManualClock::new(T0)),
        Arc::new(SeededRandom::new(1)),
        Keys::from_seeds([0x22; 32], [0x44; 32], [0x55; 32]),
        dir.path().join("blobs"),
    );
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    svc.publish(&fixtures.join("demo-course")).unwrap();
    let media = svc
        .latest_manifest("electrician-safety")
        .unwrap()
        .unwrap()
        .manifest
        .file("media/intro.mp3")
        .unwrap()
        .sha256
        .to_hex();
    svc.create_region("440300", "深圳市", None).unwrap();
    let (supervisor, _) = svc.add_supervisor("440300", "督导").unwrap();

    let per_org = learners / ORGS;
    let mut conn = rusqlite::Connection::open(&db).unwrap();
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let started = Instant::now();
    let mut num = 1_000_000i64;
    for o in 0..ORGS {
        let org = svc
            .create_org(&format!("第{o}职业技能培训学校"))
            .unwrap()
            .id;
        svc.put_org_in_region(org, "440300").unwrap();
        let people: Vec<Learner> = (0..per_org)
            .map(|i| {
                let n = (o * per_org + i) as u128;
                let mut mac = [0u8; 32];
                mac[..16].copy_from_slice(&n.to_be_bytes());
                Learner {
                    id: LearnerId(Uuid::from_u128(0x5eed_0000_0000 + n)),
                    org,
                    name: format!("学员{n}"),
                    national_id_mac: mac,
                    national_id_tail: format!("{:04}", n % 10_000),
                    class: None,
                    pin_hash: None,
                    created_ms: T0,
                }
            })
            .collect();
        svc.store.import_learners(&people).unwrap();
        let tx = conn.transaction().unwrap();
        {
            let mut dev = tx
                .prepare(
                    "INSERT INTO devices (id, org_id, public_key, learner_id, label, enrolled_ms,
                                          head_seq, head_id, num)
                     VALUES (?1, ?2, ?3, ?4, NULL, ?5, ?6, ?7, ?8)",
                )
                .unwrap();
            let mut rec = tx
                .prepare(
                    "INSERT INTO receipts (device, seq, id, learner, kind, received_ms, envelope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .unwrap();
            let mut fact = tx
                .prepare(
                    "INSERT INTO learner_facts (learner, org_id, facts, flagged)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .unwrap();
            let mut cert = tx
                .prepare(
                    "INSERT INTO certificates (serial, learner_id, course, issued_ms)
                     VALUES (?1, ?2, 'electrician-safety', ?3)",
                )
                .unwrap();
            for (i, l) in people.iter().enumerate() {
                num += 1;
                let mut seed = [0u8; 32];
                seed[..8].copy_from_slice(&num.to_be_bytes());
                let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
                let pk = PublicKey::from_slice(key.public_key().as_ref()).unwrap();
                let device = DeviceId::for_key(&pk);
                let envelope = ReceiptBody {
                    device,
                    seq: 1,
                    prev: ReceiptId::ZERO,
                    learner: l.id,
                    wall_ms: T0,
                    mono: MonoStamp {
                        run: 1,
                        elapsed_ms: 60_000,
                    },
                    anchor: None,
                    event: Event::ActiveStudy {
                        course: CourseId::new("electrician-safety").unwrap(),
                        lesson: LessonId::new("l1").unwrap(),
                        active_ms: 60_000,
                    },
                }
                .sign(&key)
                .unwrap()
                .into_envelope_bytes();
                dev.execute(params![
                    device.to_string(),
                    org.to_string(),
                    pk.as_bytes().as_slice(),
                    l.id.to_string(),
                    T0,
                    RECEIPTS_PER_LEARNER as i64,
                    [0u8; 32].as_slice(),
                    num
                ])
                .unwrap();
                for seq in 1..=RECEIPTS_PER_LEARNER {
                    let mut id = [0u8; 32];
                    id[..8].copy_from_slice(&num.to_be_bytes());
                    id[8..16].copy_from_slice(&seq.to_be_bytes());
                    rec.execute(params![
                        num,
                        seq as i64,
                        id.as_slice(),
                        l.id.0.as_bytes().as_slice(),
                        if seq % 10 == 0 {
                            "lesson_opened"
                        } else {
                            "active_study"
                        },
                        T0 + seq as i64 * 60_000,
                        envelope.as_slice()
                    ])
                    .unwrap();
                }
                let passed = i % 4 != 0;
                let mut f = facts(device, &media, passed, T0 - 90 * DAY_MS);
                let flagged = (o * per_org + i).is_multiple_of(20);
                if flagged {
                    f.withheld.insert(
                        "credit.daily_cap".into(),
                        Withheld {
                            receipts: 3,
                            ms: 600_000,
                        },
                    );
                }
                fact.execute(params![
                    l.id.0.as_bytes().as_slice(),
                    org.to_string(),
                    f.encode(),
                    flagged
                ])
                .unwrap();
                if passed {
                    cert.execute(params![format!("HC-{num}"), l.id.to_string(), T0])
                        .unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let db_bytes = std::fs::metadata(&db).map_or(0, |m| m.len());
    println!(
        "seeded {learners} learners, {} receipts in {:.1} s ({:.0} MB database)",
        learners as u64 * RECEIPTS_PER_LEARNER,
        started.elapsed().as_secs_f64(),
        db_bytes as f64 / 1e6
    );
    Seeded {
        _dir: dir,
        svc,
        supervisor,
        db_bytes,
    }
}

/// The median of `RUNS` timings of `f` (after one warm-up run).
fn median<T>(mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut out = f();
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        out = f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[RUNS / 2], out)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this with a small size.
    let learners: usize = std::env::var("SUPERVISION_LEARNERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if std::env::args().any(|a| a == "--bench") {
            10_000
        } else {
            100
        });
    let s = seed(learners);
    let svc = &s.svc;
    let (t_scope, scope) = median(|| svc.supervisor_scope(&s.supervisor).unwrap());
    let (t_inst, stats) = median(|| {
        let scope = svc.supervisor_scope(&s.supervisor).unwrap();
        svc.supervision_stats(&scope, GroupBy::Institution, None)
            .unwrap()
    });
    assert_eq!(stats.rows.len(), ORGS);
    let completed: i64 = stats
        .rows
        .iter()
        .map(|r| match r[5] {
            hearth_server::domain::supervision::Cell::Int(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(
        completed as usize,
        learners - learners.div_ceil(4),
        "3 in 4 complete"
    );
    let col = |key: &str| stats.columns.iter().position(|c| c.key == key).unwrap();
    let open: i64 = stats
        .rows
        .iter()
        .map(|r| match r[col("flags.open")] {
            hearth_server::domain::supervision::Cell::Int(n) => n,
            _ => 0,
        })
        .sum();
    assert_eq!(open as usize, learners.div_ceil(20), "1 in 20 flagged");
    let (t_course, _) = median(|| {
        let scope = svc.supervisor_scope(&s.supervisor).unwrap();
        svc.supervision_stats(&scope, GroupBy::Course, None)
            .unwrap()
    });
    let org_key = scope.orgs[0].id.to_string();
    let (t_drill, receipts) = median(|| {
        let scope = svc.supervisor_scope(&s.supervisor).unwrap();
        let stats = svc
            .supervision_stats(&scope, GroupBy::Institution, None)
            .unwrap();
        let key = match &stats.rows[0][1] {
            hearth_server::domain::supervision::Cell::Text(k) => k.clone(),
            _ => unreachable!(),
        };
        let learners = svc
            .supervision_learners(&scope, GroupBy::Institution, &key, None, None, Some(100))
            .unwrap();
        let first = match &learners.rows[0][1] {
            hearth_server::domain::supervision::Cell::Text(k) => {
                LearnerId(Uuid::parse_str(k).unwrap())
            }
            _ => unreachable!(),
        };
        svc.supervision_receipts(&scope, first, None, Some(100))
            .unwrap()
    });
    assert_eq!(receipts.rows.len(), 100);
    let (t_learners, _) = median(|| {
        svc.supervision_learners(
            &scope,
            GroupBy::Institution,
            &org_key,
            None,
            None,
            Some(100),
        )
        .unwrap()
    });
    let (t_export, bytes) = median(|| {
        let t = svc
            .supervision_learners(&scope, GroupBy::Institution, &org_key, None, None, None)
            .unwrap();
        to_xlsx(&t).unwrap()
    });
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "supervision over {learners} learners, {} receipts ({:.0} MB), median of {RUNS}:",
        learners as u64 * RECEIPTS_PER_LEARNER,
        s.db_bytes as f64 / 1e6
    );
    println!(
        "  scope (regions, institutions)              {:>9.1} ms",
        ms(t_scope)
    );
    println!(
        "  first page: statistics by institution      {:>9.1} ms",
        ms(t_inst)
    );
    println!(
        "  statistics by course                       {:>9.1} ms",
        ms(t_course)
    );
    println!(
        "  learners of one institution (page of 100)  {:>9.1} ms",
        ms(t_learners)
    );
    println!(
        "  full drill-down: stats → learners → receipts {:>7.1} ms",
        ms(t_drill)
    );
    println!(
        "  XLSX of one institution's {} learners       {:>9.1} ms ({} KB)",
        learners / ORGS,
        ms(t_export),
        bytes.len() / 1024
    );
}
