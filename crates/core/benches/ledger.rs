//! Ledger benchmarks, all in one run so the ratios are fair on a noisy machine:
//!
//! - `append_durable`: `Hearth::record` — build, sign, chain and commit one receipt with WAL and
//!   synchronous=FULL (what a learner's click costs);
//! - `bare_insert_durable`: the same row (same columns, an envelope-sized blob) inserted into a
//!   plain SQLite table with the same settings: the floor any durable ledger pays;
//! - `sign_only`: building and signing the receipt with no database;
//! - `verify`: verifying one envelope (signature, decoding, checks).
//!
//! Criterion measures each one after the other, so on a machine shared with other work the ratio
//! of append to bare insert moves with the load (1.34x in a quiet run, 1.81x with other builds
//! running). The figure of record is therefore the *paired* table printed at the end, made like
//! the service's ingest bench: every round times a few bare durable inserts and then as many
//! `Hearth::record` calls, alternating, so both see the same load; the ratio is of the summed
//! times. `HEARTH_PAIRED_SECS` sets its length (default 8 s; `-- --test` runs three rounds).
//!
//! Run: `cargo bench -p hearth-core --bench ledger` (or `make bench`; `-- none` skips criterion's
//! part and runs only the paired table). Target: append at most 1.5x the bare durable insert.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use hearth_core::{Env, Hearth};
use hearth_protocol::{CourseId, Envelope, Event, LessonId, MonoStamp, ReceiptBody, ReceiptId};
use ring::signature::{Ed25519KeyPair, KeyPair};

fn event() -> Event {
    Event::ActiveStudy {
        course: CourseId::new("electrician-safety").unwrap(),
        lesson: LessonId::new("lesson-3").unwrap(),
        active_ms: 60_000,
    }
}

fn ledger(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger");

    let dir = tempfile::tempdir().unwrap();
    let mut hearth = Hearth::open(dir.path(), Env::system()).unwrap();
    let learner = hearth.add_learner("基准").unwrap().id;
    hearth.sign_in(learner).unwrap();
    let sample = hearth.record(event()).unwrap();
    let envelope = hearth.outbox(sample.seq - 1, 1).unwrap().remove(0).envelope;
    group.bench_function("append_durable", |b| {
        b.iter(|| hearth.record(event()).unwrap())
    });

    let bare_dir = tempfile::tempdir().unwrap();
    let mut bare = BareLedger::open(bare_dir.path(), envelope.len());
    group.bench_function("bare_insert_durable", |b| b.iter(|| bare.insert()));

    let key = Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let public = hearth_protocol::PublicKey::from_slice(key.public_key().as_ref()).unwrap();
    let body = ReceiptBody {
        device: hearth_protocol::DeviceId::for_key(&public),
        seq: 2,
        prev: ReceiptId([3; 32]),
        learner,
        wall_ms: 1_790_000_000_000,
        mono: MonoStamp {
            run: 1,
            elapsed_ms: 1_000,
        },
        anchor: None,
        event: event(),
    };
    group.bench_function("sign_only", |b| {
        b.iter(|| black_box(&body).sign(&key).unwrap())
    });

    let signed = body.sign(&key).unwrap().into_envelope_bytes();
    group.bench_function("verify", |b| {
        b.iter(|| {
            Envelope::from_bytes(black_box(signed.clone()))
                .verify(&public)
                .unwrap()
        })
    });
    group.finish();
    eprintln!(
        "envelope size in these benchmarks: {} bytes",
        envelope.len()
    );
}

/// A plain SQLite table with the ledger's columns and pragmas: the floor any durable ledger pays.
struct BareLedger {
    conn: rusqlite::Connection,
    blob: Vec<u8>,
    seq: i64,
}

impl BareLedger {
    fn open(dir: &Path, envelope_len: usize) -> Self {
        let conn = rusqlite::Connection::open(dir.join("bare.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        conn.execute_batch(
            "CREATE TABLE receipts (seq INTEGER PRIMARY KEY, id BLOB NOT NULL, learner BLOB NOT NULL,
             kind TEXT NOT NULL, wall_ms INTEGER NOT NULL, envelope BLOB NOT NULL) STRICT",
        )
        .unwrap();
        BareLedger {
            conn,
            blob: vec![0x5au8; envelope_len],
            seq: 0,
        }
    }

    fn insert(&mut self) -> usize {
        self.seq += 1;
        self.conn
            .prepare_cached("INSERT INTO receipts VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            .unwrap()
            .execute(rusqlite::params![
                self.seq,
                &[7u8; 32][..],
                &[1u8; 16][..],
                "active_study",
                self.seq,
                &self.blob
            ])
            .unwrap()
    }
}

/// The paired measurement (see the module documentation): rounds of `PER_ROUND` bare durable
/// inserts, then as many receipts recorded, for about `HEARTH_PAIRED_SECS` seconds.
fn paired() {
    const PER_ROUND: u32 = 20;
    let secs: f64 = if std::env::args().any(|a| a == "--test") {
        0.0
    } else {
        std::env::var("HEARTH_PAIRED_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(8.0)
    };
    let dir = tempfile::tempdir().unwrap();
    let mut hearth = Hearth::open(dir.path(), Env::system()).unwrap();
    let learner = hearth.add_learner("基准").unwrap().id;
    hearth.sign_in(learner).unwrap();
    let first = hearth.record(event()).unwrap();
    let envelope = hearth.outbox(first.seq - 1, 1).unwrap().remove(0).envelope;
    let bare_dir = tempfile::tempdir().unwrap();
    let mut bare = BareLedger::open(bare_dir.path(), envelope.len());
    // Warm up both files' first pages.
    for _ in 0..PER_ROUND {
        bare.insert();
        hearth.record(event()).unwrap();
    }
    let (mut bare_time, mut record_time, mut rounds) = (Duration::ZERO, Duration::ZERO, 0u32);
    let started = Instant::now();
    while started.elapsed().as_secs_f64() < secs || rounds < 3 {
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            black_box(bare.insert());
        }
        bare_time += t.elapsed();
        let t = Instant::now();
        for _ in 0..PER_ROUND {
            black_box(hearth.record(event()).unwrap());
        }
        record_time += t.elapsed();
        rounds += 1;
    }
    let n = f64::from(rounds * PER_ROUND);
    let us = |d: Duration| d.as_secs_f64() * 1e6 / n;
    println!();
    println!("paired (bare durable insert and Hearth::record, alternating rounds of {PER_ROUND}):");
    println!(
        "{:>8} {:>10} {:>10} {:>10} {:>7}",
        "rounds", "receipts", "bare µs", "record µs", "ratio"
    );
    println!(
        "{rounds:>8} {:>10} {:>10.0} {:>10.0} {:>6.2}x",
        rounds * PER_ROUND,
        us(bare_time),
        us(record_time),
        record_time.as_secs_f64() / bare_time.as_secs_f64()
    );
}

fn all(c: &mut Criterion) {
    ledger(c);
    paired();
}

criterion_group!(benches, all);
criterion_main!(benches);
