//! Ledger benchmarks, all in one run so the ratios are fair on a noisy machine:
//!
//! - `append_durable`: `Hearth::record` — build, sign, chain and commit one receipt with WAL and
//!   synchronous=FULL (what a learner's click costs);
//! - `bare_insert_durable`: the same row (same columns, an envelope-sized blob) inserted into a
//!   plain SQLite table with the same settings: the floor any durable ledger pays;
//! - `sign_only`: building and signing the receipt with no database;
//! - `verify`: verifying one envelope (signature, decoding, checks).
//!
//! Run: `cargo bench -p hearth-core --bench ledger` (or `make bench`). Target: append at most
//! 1.5x the bare durable insert.

use std::hint::black_box;

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
    let sample = hearth.record(event()).unwrap();
    let envelope = hearth.outbox(sample.seq - 1, 1).unwrap().remove(0).envelope;
    group.bench_function("append_durable", |b| {
        b.iter(|| hearth.record(event()).unwrap())
    });

    let bare_dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(bare_dir.path().join("bare.db")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE receipts (seq INTEGER PRIMARY KEY, id BLOB NOT NULL, learner BLOB NOT NULL,
         kind TEXT NOT NULL, wall_ms INTEGER NOT NULL, envelope BLOB NOT NULL) STRICT",
    )
    .unwrap();
    let blob = vec![0x5au8; envelope.len()];
    let mut seq = 0i64;
    group.bench_function("bare_insert_durable", |b| {
        b.iter(|| {
            seq += 1;
            conn.prepare_cached("INSERT INTO receipts VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
                .unwrap()
                .execute(rusqlite::params![
                    seq,
                    &[7u8; 32][..],
                    &[1u8; 16][..],
                    "active_study",
                    seq,
                    &blob
                ])
                .unwrap()
        })
    });

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

criterion_group!(benches, ledger);
criterion_main!(benches);
