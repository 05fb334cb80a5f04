//! Ingest (verify + place + durable store) in receipts per second on one core, at batch sizes 1,
//! 100 and 1000, measured in the same run as the bare Ed25519 verify rate.
//!
//! `cargo bench -p hearth-server --bench ingest`
//!
//! Each measured batch holds fresh receipts that continue the device's chain (signing them is
//! done outside the timed part), each carrying the service's time anchor, stored in a SQLite file
//! with WAL and synchronous=FULL (one fsync per batch). The service's clock moves on with the
//! receipts (30 s each), so every receipt is honest study that the credit rules place, merge and
//! credit: the facts derived at ingest are written in the same transaction, as in service.
//!
//! Criterion measures the bare verify rate and each batch size one after the other, so on a
//! machine shared with other work their ratio moves with the load. The figure of record is
//! therefore the *paired* table printed at the end: every round signs one batch (untimed), times
//! the bare Ed25519 verification of exactly those envelopes, then times `Service::ingest` of the
//! same envelopes, so both sides see the same load; the ratio is of the summed times.
//!
//! With `HEARTH_BENCH_DATABASE` (or `HEARTH_TEST_DATABASE`) naming a PostgreSQL server, the paired
//! table has a row for ingest on PostgreSQL at batch 1000 too (a fresh schema; `make bench` starts
//! a throwaway cluster with fsync on for it): the same envelopes, the same bare verify beside it.
//! Its CPU columns count this process only (the database server's work is not in them).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use hearth_protocol::receipt::SIGNING_DOMAIN;
use hearth_protocol::{
    AnchorRef, CourseId, DeviceId, Event, LearnerId, LessonId, MonoStamp, PublicKey, ReceiptBody,
    ReceiptId,
};
use hearth_server::Service;
use hearth_server::env::{ManualClock, SeededRandom};
use hearth_server::keys::Keys;
use hearth_server::store::{Device, PostgresStore, Role, SqliteStore, Store};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

struct Writer {
    key: Ed25519KeyPair,
    device: DeviceId,
    seq: u64,
    prev: ReceiptId,
    anchor: AnchorRef,
    learner: LearnerId,
    clock: Arc<ManualClock>,
}

impl Writer {
    fn batch(&mut self, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|_| {
                self.seq += 1;
                self.clock.advance(30_000);
                let r = ReceiptBody {
                    device: self.device,
                    seq: self.seq,
                    prev: self.prev,
                    learner: self.learner,
                    wall_ms: 1_790_000_000_000 + self.seq as i64 * 30_000,
                    mono: MonoStamp {
                        run: 1,
                        elapsed_ms: self.seq * 30_000,
                    },
                    anchor: Some(self.anchor),
                    event: Event::ActiveStudy {
                        course: CourseId::new("electrician-safety").unwrap(),
                        lesson: LessonId::new("lesson-1").unwrap(),
                        active_ms: 30_000,
                    },
                }
                .sign(&self.key)
                .unwrap();
                self.prev = r.id();
                r.into_envelope_bytes()
            })
            .collect()
    }
}

fn setup(dir: &std::path::Path, seed: u8) -> (Service, Device, Writer) {
    let store = Arc::new(SqliteStore::open(&dir.join("hearth.db")).unwrap());
    setup_on(store, dir, seed)
}

/// The PostgreSQL server to measure on, if any.
fn pg_url() -> Option<String> {
    ["HEARTH_BENCH_DATABASE", "HEARTH_TEST_DATABASE"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// A store in a fresh schema of the PostgreSQL server at `url`.
fn pg_store(url: &str) -> Arc<dyn Store> {
    let name = format!("bench_{}", rand::random::<u64>());
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    Arc::new(PostgresStore::open(&format!("{url} options=-csearch_path={name}"), 4).unwrap())
}

fn setup_on(store: Arc<dyn Store>, dir: &std::path::Path, seed: u8) -> (Service, Device, Writer) {
    let clock = Arc::new(ManualClock::new(1_790_000_000_000));
    let svc = Service::with_parts(
        store,
        clock.clone(),
        Arc::new(SeededRandom::new(1)),
        Keys::from_seeds([0x22; 32], [0x44; 32], [0x55; 32]),
        dir.join("blobs"),
    );
    let org = svc.create_org("bench").unwrap().id;
    let _ = svc.add_user(org, Role::Admin, "a").unwrap();
    let learner = svc
        .add_learner(org, "l", "11010519491231002X", None, None)
        .unwrap()
        .id;
    let key = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap();
    let pk = PublicKey::from_slice(key.public_key().as_ref()).unwrap();
    let device = DeviceId::for_key(&pk);
    let code = svc.issue_enrollment_code(org, Some(learner), None).unwrap();
    let e = svc.enroll(&code, pk, device, None).unwrap();
    let anchor = AnchorRef {
        anchor: e.anchor,
        received: MonoStamp {
            run: 1,
            elapsed_ms: 0,
        },
    };
    let w = Writer {
        key,
        device,
        seq: 0,
        prev: ReceiptId::ZERO,
        anchor,
        learner,
        clock,
    };
    (svc, e.device, w)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.warm_up_time(Duration::from_secs(1));

    // The bare rate: one Ed25519 verification of a receipt-sized message.
    {
        let dir = tempfile::tempdir().unwrap();
        let (_svc, device, mut w) = setup(dir.path(), 1);
        let env = w.batch(1).remove(0);
        let mut msg = SIGNING_DOMAIN.to_vec();
        msg.extend_from_slice(&env[65..]);
        let sig = env[1..65].to_vec();
        let pk = device.public_key;
        g.throughput(Throughput::Elements(1));
        g.bench_function("bare_ed25519_verify", |b| {
            b.iter(|| {
                UnparsedPublicKey::new(&ED25519, pk.as_bytes())
                    .verify(std::hint::black_box(&msg), &sig)
                    .unwrap()
            })
        });
    }

    for (i, batch) in [1usize, 100, 1000].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let (svc, device, mut w) = setup(dir.path(), 10 + i as u8);
        g.throughput(Throughput::Elements(batch as u64));
        g.bench_with_input(
            BenchmarkId::new("verify_and_store", batch),
            &batch,
            |b, &n| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let envs = w.batch(n);
                        let t = Instant::now();
                        let out = svc.ingest(&device, envs).unwrap();
                        total += t.elapsed();
                        assert_eq!(out.head.seq, w.seq, "every receipt accepted");
                    }
                    total
                })
            },
        );
    }
    g.finish();
    paired();
}

/// Bytes this process has caused to be written to storage so far (Linux: /proc/self/io), so the
/// table can show what a receipt costs on disk: WAL frames plus checkpoints into the database.
fn disk_written() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))?
        .trim()
        .parse()
        .ok()
}

/// Bare verification of `envs` (signature only, over the prefixed body, as the service checks
/// it), with the messages built before the clock starts. Returns the wall and CPU time taken.
fn bare_verify(pk: &PublicKey, envs: &[Vec<u8>]) -> (Duration, Duration) {
    let msgs: Vec<(Vec<u8>, &[u8])> = envs
        .iter()
        .map(|e| {
            let mut msg = SIGNING_DOMAIN.to_vec();
            msg.extend_from_slice(&e[65..]);
            (msg, &e[1..65])
        })
        .collect();
    let key = UnparsedPublicKey::new(&ED25519, pk.as_bytes());
    let cpu = thread_cpu();
    let t = Instant::now();
    for (msg, sig) in &msgs {
        key.verify(std::hint::black_box(msg), sig).unwrap();
    }
    (t.elapsed(), thread_cpu() - cpu)
}

/// CPU time this thread has run.
fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// The paired measurement (see the module documentation): rounds of bare verify then ingest of
/// the same batch, for about `HEARTH_PAIRED_SECS` (default 8) seconds per batch size.
fn paired() {
    // `cargo test --benches` runs this with --test: a few rounds only, as a smoke test.
    let secs: f64 = if std::env::args().any(|a| a == "--test") {
        0.0
    } else {
        std::env::var("HEARTH_PAIRED_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(8.0)
    };
    println!();
    println!("paired (bare verify and ingest of the same envelopes, alternating, one core):");
    println!(
        "{:>8} {:>6} {:>8} {:>10} {:>12} {:>7} {:>10} {:>12} {:>7} {:>9}",
        "store",
        "batch",
        "rounds",
        "bare k/s",
        "ingest k/s",
        "ratio",
        "bare CPU",
        "ingest CPU",
        "ratio",
        "disk B/r"
    );
    println!(
        "{:>8} {:>6} {:>8} {:>10} {:>12} {:>7} {:>10} {:>12} {:>7} {:>9}",
        "", "", "", "(wall)", "(wall)", "", "k/s", "k/s", "", "written"
    );
    let mut runs: Vec<(&str, usize)> = vec![("sqlite", 1), ("sqlite", 100), ("sqlite", 1000)];
    let pg = pg_url();
    if pg.is_some() {
        runs.push(("postgres", 1000));
    } else {
        println!("(no HEARTH_BENCH_DATABASE: PostgreSQL not measured)");
    }
    for (i, (backend, batch)) in runs.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let (svc, device, mut w) = match (backend, &pg) {
            ("postgres", Some(url)) => setup_on(pg_store(url), dir.path(), 40 + i as u8),
            _ => setup(dir.path(), 40 + i as u8),
        };
        // Warm up: the first batches create the tables' first pages.
        for _ in 0..3 {
            let envs = w.batch(batch);
            svc.ingest(&device, envs).unwrap();
        }
        let (mut bare, mut ingest, mut rounds, mut n) =
            (Duration::ZERO, Duration::ZERO, 0u32, 0u64);
        // CPU time of both (wall time less waits, for ingest mostly the fsync, and less time
        // other processes took the core): what one core can take when many devices upload at
        // once and one batch's fsync overlaps another's verification.
        let (mut bare_cpu, mut ingest_cpu) = (Duration::ZERO, Duration::ZERO);
        let written = disk_written();
        let started = Instant::now();
        while started.elapsed().as_secs_f64() < secs || rounds < 3 {
            let envs = w.batch(batch);
            let (wall, cpu) = bare_verify(&device.public_key, &envs);
            bare += wall;
            bare_cpu += cpu;
            let cpu0 = thread_cpu();
            let t = Instant::now();
            let out = svc.ingest(&device, envs).unwrap();
            ingest += t.elapsed();
            ingest_cpu += thread_cpu() - cpu0;
            assert_eq!(out.head.seq, w.seq, "every receipt accepted");
            rounds += 1;
            n += batch as u64;
        }
        let rate = |d: Duration| n as f64 / d.as_secs_f64() / 1000.0;
        let disk = match (written, disk_written()) {
            // The database server writes, not this process.
            _ if backend == "postgres" => "server".into(),
            (Some(a), Some(b)) => format!("{:.0}", b.saturating_sub(a) as f64 / n as f64),
            _ => "-".into(),
        };
        let pct = |a: Duration, b: Duration| 100.0 * a.as_secs_f64() / b.as_secs_f64();
        println!(
            "{backend:>8} {batch:>6} {rounds:>8} {:>10.1} {:>12.1} {:>6.0}% {:>10.1} {:>12.1} {:>6.0}% {disk:>9}",
            rate(bare),
            rate(ingest),
            pct(bare, ingest),
            rate(bare_cpu),
            rate(ingest_cpu),
            pct(bare_cpu, ingest_cpu),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
