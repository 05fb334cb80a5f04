//! Classroom load benchmark: many kiosks that were offline for a week come online at once.
//!
//! 40 kiosks (hearth-core stores in temporary folders, each enrolled as a shared kiosk of one
//! organisation), each holding 1,000 receipts of several learners, run a sync round at the same
//! moment against one release `hearth-server` on loopback. It reports the total time until every
//! kiosk has converged (its outbox empty, the service's acknowledged head equal to its chain),
//! the receipts per second overall, and the p50 / p99 / max latency of one upload batch as the
//! kiosks saw it.
//!
//! With `HEARTH_BENCH_DATABASE` (or `HEARTH_TEST_DATABASE`) naming a PostgreSQL server, it then
//! runs the same load against two `hearth-server` processes on one PostgreSQL database (a fresh
//! schema; src/pg.rs), the kiosks enrolled on and syncing to either process, half each
//! (`make bench` starts a throwaway cluster, fsync on, for it).
//!
//! Run: `cargo bench -p hearth-e2e --bench kiosks` (part of `make bench`).
//! `HEARTH_BENCH_KIOSKS` (default 40), `HEARTH_BENCH_RECEIPTS` (per kiosk, default 1000) and
//! `HEARTH_BENCH_BATCH` (default 100) change the load.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hearth_core::sync::http::HttpTransport;
use hearth_core::sync::{SyncTransport, TransportError, UploadOutcome, sync_round};
use hearth_core::{Env, Hearth};
use hearth_e2e::pg::{Pair, fresh_schema};
use hearth_e2e::service::{Service, binaries, hearth_cli};
use hearth_protocol::{CourseId, Event, LearnerId, LessonId, TimeAnchor};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The real HTTP transport, timing each upload as the kiosk sees it.
struct TimedTransport {
    inner: HttpTransport,
    latencies: Arc<Mutex<Vec<Duration>>>,
}

impl SyncTransport for TimedTransport {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        self.inner.time_anchor().await
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let started = Instant::now();
        let outcome = self.inner.upload(envelopes).await;
        self.latencies
            .lock()
            .expect("latency list")
            .push(started.elapsed());
        outcome
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

#[tokio::main]
async fn main() {
    binaries();
    {
        let service = Service::start().expect("service");
        let org = service.org.clone();
        run(
            "one process, SQLite",
            &[service.url()],
            &|args: &[&str]| service.admin(args).expect("admin"),
            &org,
        )
        .await;
    }
    match hearth_e2e::pg::database() {
        Some(url) => {
            let pair = Pair::new(fresh_schema(&url));
            let org = pair.org.clone();
            run(
                "two processes, PostgreSQL",
                &[pair.url(0), pair.url(1)],
                &|args: &[&str]| pair.admin(args),
                &org,
            )
            .await;
        }
        None => println!("(no HEARTH_BENCH_DATABASE: two processes on PostgreSQL not measured)"),
    }
}

/// The load against the service at `urls` (kiosk `k` enrolls on and syncs to `urls[k % n]`);
/// `admin` runs an admin subcommand on it.
async fn run(label: &str, urls: &[String], admin: &dyn Fn(&[&str]) -> String, org: &str) {
    let kiosks = env_or("HEARTH_BENCH_KIOSKS", 40);
    let per_kiosk = env_or("HEARTH_BENCH_RECEIPTS", 1000);
    let batch = env_or("HEARTH_BENCH_BATCH", 100) as u32;
    println!("{label}:");
    // The kiosks serve one class (a kiosk gets the PIN verifiers of its classes' people only).
    let trainer = admin(&["add-trainer", "--org", org, "--name", "王老师"]);
    let trainer = trainer
        .lines()
        .find_map(|l| l.strip_prefix("user "))
        .expect("trainer id")
        .trim()
        .to_owned();
    let class = admin(&["add-class", "--trainer", &trainer, "--name", "电工班"]);
    let learners: Vec<LearnerId> = (0..8)
        .map(|i| {
            let id = admin(&[
                "add-learner",
                "--org",
                org,
                "--name",
                &format!("学员{i}"),
                "--national-id",
                &format!("11010119900101{i:03}X"),
                "--class",
                &class,
                "--pin",
                "2468",
            ]);
            id.parse().expect("learner id")
        })
        .collect();

    // Set up: enroll each kiosk and record its week of study offline.
    let setup = Instant::now();
    let course = CourseId::new("electrician-safety").expect("course id");
    let mut stores = Vec::new();
    for k in 0..kiosks {
        let dir = tempfile::tempdir().expect("temp dir");
        let code = admin(&["issue-code", "--org", org, "--class", &class]);
        hearth_cli(
            dir.path(),
            &[
                "enroll",
                "--service",
                &urls[k % urls.len()],
                "--code",
                &code,
            ],
        )
        .expect("enroll");
        let mut h = Hearth::open(dir.path(), Env::system()).expect("open store");
        for i in 0..per_kiosk {
            // A learner signs in with their PIN (a new one every 250 receipts); what is recorded
            // is theirs, as the kiosk's session says.
            let learner = learners[(k + i / 250) % learners.len()];
            if h.at_keyboard() != Some(learner) {
                h.kiosk_sign_in(learner, "2468").expect("PIN sign-in");
            }
            let lesson = LessonId::new(format!("lesson-{}", i % 5 + 1)).expect("lesson id");
            h.record(Event::ActiveStudy {
                course: course.clone(),
                lesson,
                active_ms: 30_000,
            })
            .expect("record");
        }
        stores.push((dir, h));
    }
    println!(
        "set up {kiosks} kiosks x {per_kiosk} receipts in {:.1} s",
        setup.elapsed().as_secs_f64()
    );

    // All kiosks sync at once.
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (dir, h) in stores {
        let latencies = latencies.clone();
        tasks.push(tokio::spawn(async move {
            let enrollment = h.enrollment().expect("read").expect("enrolled");
            // The kiosk's whole chain: the study receipts and the sign-ins between them.
            let chain = h.ledger_status().expect("ledger").head_seq;
            let transport = TimedTransport {
                inner: HttpTransport::new(&enrollment).expect("transport"),
                latencies,
            };
            let h = Mutex::new(h);
            let report = sync_round(&h, &transport, &enrollment.anchor_key, batch)
                .await
                .expect("sync round");
            let done = started.elapsed();
            let state = transport.inner.state().await.expect("service state");
            (dir, report, state.head.seq, chain, done)
        }));
    }
    let mut converged = 0;
    let mut slowest = Duration::ZERO;
    let mut total_sent = 0;
    for t in tasks {
        let (_dir, report, service_head, chain, done) = t.await.expect("kiosk task");
        total_sent += report.sent;
        slowest = slowest.max(done);
        // Converged: nothing left on the kiosk, and the service holds its whole chain.
        if report.left == 0 && service_head == chain && report.accepted == report.sent {
            converged += 1;
        }
    }
    let total = started.elapsed();
    let mut lat = latencies.lock().expect("latencies").clone();
    lat.sort();
    println!(
        "{:>7} {:>9} {:>7} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "kiosks", "receipts", "batch", "total s", "rcpt/s", "batches", "p50 ms", "p99 ms", "max ms"
    );
    println!(
        "{kiosks:>7} {total_sent:>9} {batch:>7} {:>9.2} {:>10.0} {:>9} {:>9.1} {:>9.1} {:>9.1}",
        total.as_secs_f64(),
        total_sent as f64 / total.as_secs_f64(),
        lat.len(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    println!(
        "converged: {converged} of {kiosks} kiosks (outbox empty, service head = the kiosk's chain: {per_kiosk} study receipts and the sign-ins); slowest kiosk done after {:.2} s",
        slowest.as_secs_f64()
    );
    assert_eq!(converged, kiosks, "every kiosk must converge");
}
