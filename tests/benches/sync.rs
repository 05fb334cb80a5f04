//! End-to-end sync benchmark over loopback: the release `hearth-server` binary, the release
//! `hearth` CLI syncing through a counting proxy.
//!
//! For 10,000 and 100,000 receipts recorded offline on one device, it reports: receipts per
//! second end to end, bytes on the wire per receipt (both directions, HTTP headers included),
//! a sync round with nothing to do (bytes and seconds), and the peak memory (max RSS) of the
//! client process and of the service.
//!
//! In the same run it measures the service's own ingest figure for the same receipts: before
//! the sync, the client's outbox is written as a receipt bundle in sections of 500 (the sync's
//! batch size) and the service's data folder is copied while the service is stopped; after the
//! sync, the same release `hearth-server` imports the file into that copy (`import-receipts`:
//! each section verified, placed and stored durably as one batch, as an upload is, with nothing
//! over the network). The ratio end to end / ingest is the target of issue #5 (at least 0.8).
//!
//! A second table syncs over slow links through the shaping proxy (`hearth_e2e::shaper`), with
//! the CLI's default settings (batches sized to the link): for 4, 9.6, 64 and 256 kbit/s each
//! way (100 ms latency), without faults and with a reset of every open connection every 20–60 s
//! (seeded), it reports the sync time, bytes on the wire per receipt, retries and the batch
//! size reached.
//!
//! With `HEARTH_BENCH_DATABASE` (or `HEARTH_TEST_DATABASE`) naming a PostgreSQL server, a third
//! table: two `hearth-server` processes on one PostgreSQL database (src/pg.rs), two devices with
//! `HEARTH_BENCH_PG_RECEIPTS` (default 10,000) receipts each, one enrolled on each process, run
//! `hearth sync` at the same time; it reports the time until both finished and the receipts per
//! second overall, next to one device alone on one of the processes.
//!
//! Run: `cargo bench -p hearth-e2e --bench sync` (part of `make bench`). Set
//! `HEARTH_BENCH_SIZES=10000` to run fewer sizes (empty: none), `HEARTH_BENCH_LINKS=4,64` to run
//! fewer link speeds (kbit/s; empty: none).

use std::process::Command;
use std::time::Instant;

use hearth_core::{Env, Hearth};
use hearth_e2e::pg::{Pair, fresh_schema};
use hearth_e2e::proxy::FaultProxy;
use hearth_e2e::service::{Service, binaries, peak_rss_kb, run_measured};
use hearth_e2e::shaper::{Shape, ShapingProxy};
use hearth_protocol::bundle::{Section, encode_bundle};
use hearth_protocol::{CourseId, Event, LessonId};

/// Receipts per upload batch (and per section of the file the service imports).
const BATCH: u32 = 500;

/// Runs the `hearth` CLI; returns its run time and its peak memory (kB).
fn hearth(data: &std::path::Path, args: &[&str]) -> (f64, u64) {
    timed(&binaries().client, data, args)
}

fn timed(exe: &std::path::Path, data: &std::path::Path, args: &[&str]) -> (f64, u64) {
    run_measured(exe, data, args).unwrap()
}

#[tokio::main]
async fn main() {
    let sizes: Vec<u64> = std::env::var("HEARTH_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10_000, 100_000]);
    binaries();
    println!("sync benchmark (release binaries, loopback, one device, batch 500)");
    println!(
        "{:>8} {:>9} {:>8} {:>8} {:>10} {:>10} {:>7} {:>7} {:>11} {:>8} {:>10} {:>11}",
        "receipts",
        "record s",
        "sync s",
        "rcpt/s",
        "ingest/s",
        "e2e/ingest",
        "B/rcpt",
        "no-op B",
        "no-op s",
        "client MB",
        "service MB",
        "import MB"
    );
    for n in sizes {
        let mut service = Service::start().unwrap();
        let learner = service
            .add_learner("基准学员", "110101199003071234")
            .unwrap();
        let code = service.enrollment_code(Some(&learner)).unwrap();
        let proxy = FaultProxy::start(service.addr()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://{}", proxy.addr());
        hearth(dir.path(), &["enroll", "--service", &url, "--code", &code]);

        let started = Instant::now();
        let export = dir.path().join("receipts.hrx");
        {
            let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
            let me = h.enrollment().unwrap().unwrap().owner.unwrap();
            assert_eq!(h.at_keyboard(), Some(me), "enrolling signed the learner in");
            let course = CourseId::new("electrician-safety").unwrap();
            for i in 0..n {
                let lesson = LessonId::new(format!("lesson-{}", i % 5 + 1)).unwrap();
                h.record(Event::ActiveStudy {
                    course: course.clone(),
                    lesson,
                    active_ms: 30_000,
                })
                .unwrap();
            }
        }
        let record_s = started.elapsed().as_secs_f64();
        {
            // (`hearth export-receipts` writes one section, and a section holds at most
            // wire::MAX_BATCH_RECEIPTS.)
            let h = Hearth::open(dir.path(), Env::system()).unwrap();
            let mut sections = Vec::new();
            let mut cursor = 0;
            loop {
                let batch = h.outbox(cursor, BATCH).unwrap();
                let Some(last) = batch.last() else { break };
                cursor = last.seq;
                sections.push(Section {
                    device: h.device().id,
                    envelopes: batch.into_iter().map(|o| o.envelope).collect(),
                });
            }
            std::fs::write(&export, encode_bundle(&sections)).unwrap();
        }

        // For the service's own ingest figure: the service's data as it is now (the device
        // enrolled, none of its receipts yet), copied while the service is stopped. Restarting
        // also makes the service's peak memory below that of the sync alone.
        service.kill();
        let copy = tempfile::tempdir().unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", service.data_dir().display()))
            .arg(copy.path())
            .status()
            .unwrap();
        assert!(status.success(), "copying the service's data");
        service.restart().unwrap();

        let before = proxy.stats();
        let (sync_s, client_kb) = hearth(dir.path(), &["sync", "--batch", &BATCH.to_string()]);
        let after = proxy.stats();
        let wire = (after.bytes_up + after.bytes_down) - (before.bytes_up + before.bytes_down);
        let (noop_s, _) = hearth(dir.path(), &["sync"]);
        let noop = proxy.stats();
        let noop_bytes = (noop.bytes_up + noop.bytes_down) - (after.bytes_up + after.bytes_down);
        let client_mb = client_kb as f64 / 1024.0;
        let service_mb = service.pid().and_then(peak_rss_kb).unwrap_or(0) as f64 / 1024.0;
        drop(service);

        // The service's own ingest of the same receipts (process start-up included, as the
        // sync time includes the client's).
        let (import_s, import_kb) = timed(
            &binaries().server,
            copy.path(),
            &["import-receipts", export.to_str().unwrap()],
        );
        let sync_rate = n as f64 / sync_s;
        let ingest_rate = n as f64 / import_s;
        println!(
            "{n:>8} {record_s:>9.1} {sync_s:>8.2} {sync_rate:>8.0} {ingest_rate:>10.0} {:>10.2} {:>7.1} {noop_bytes:>7} {noop_s:>11.3} {client_mb:>8.1} {service_mb:>10.1} {:>11.1}",
            sync_rate / ingest_rate,
            wire as f64 / n as f64,
            import_kb as f64 / 1024.0,
        );
    }
    println!("(client MB: peak RSS of the `hearth sync` process; sync s includes its start-up)");
    println!(
        "(ingest/s: `hearth-server import-receipts` of the same receipts into a copy of the \
         service's data taken before the sync, start-up included; import MB: its peak RSS)"
    );
    slow_links().await;
    match hearth_e2e::pg::database() {
        Some(url) => two_processes(&url),
        None => println!("(no HEARTH_BENCH_DATABASE: two processes on PostgreSQL not measured)"),
    }
}

/// Receipts recorded for a link of `kbps`: enough for a minute or so of transfer.
fn receipts_for(kbps: f64) -> u64 {
    match kbps {
        k if k < 8.0 => 500,
        k if k < 32.0 => 1_000,
        k if k < 128.0 => 5_000,
        _ => 20_000,
    }
}

/// The slow-link table: one fresh service and device per row, the default `hearth sync`.
async fn slow_links() {
    let links: Vec<f64> = std::env::var("HEARTH_BENCH_LINKS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![4.0, 9.6, 64.0, 256.0]);
    if links.is_empty() {
        return;
    }
    println!();
    println!(
        "slow links (release binaries, default `hearth sync`, 100 ms latency each way, resets every 20-60 s seeded)"
    );
    println!(
        "{:>7} {:>8} {:>7} {:>8} {:>8} {:>8} {:>7} {:>8} {:>8} {:>6}",
        "kbit/s",
        "receipts",
        "resets",
        "sync s",
        "ms/rcpt",
        "B/rcpt",
        "retries",
        "resumed",
        "batch",
        "exit"
    );
    for kbps in links {
        let n = receipts_for(kbps);
        for with_resets in [false, true] {
            let service = Service::start().unwrap();
            let learner = service
                .add_learner("基准学员", "110101199003071234")
                .unwrap();
            let code = service.enrollment_code(Some(&learner)).unwrap();
            let unlimited = Shape {
                up_bps: 0,
                down_bps: 0,
                latency: std::time::Duration::ZERO,
                resets: None,
                stalls: None,
                seed: 0,
            };
            let proxy = ShapingProxy::start(service.addr(), unlimited)
                .await
                .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let url = format!("http://{}", proxy.addr());
            hearth(dir.path(), &["enroll", "--service", &url, "--code", &code]);
            {
                let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
                let me = h.enrollment().unwrap().unwrap().owner.unwrap();
                assert_eq!(h.at_keyboard(), Some(me), "enrolling signed the learner in");
                let course = CourseId::new("electrician-safety").unwrap();
                for i in 0..n {
                    let lesson = LessonId::new(format!("lesson-{}", i % 5 + 1)).unwrap();
                    h.record(Event::ActiveStudy {
                        course: course.clone(),
                        lesson,
                        active_ms: 30_000,
                    })
                    .unwrap();
                }
            }
            let bps = (kbps * 1000.0) as u64;
            let mut shape = Shape {
                latency: std::time::Duration::from_millis(100),
                ..Shape::symmetric(bps)
            };
            if with_resets {
                shape = shape.with_resets(
                    std::time::Duration::from_secs(20),
                    std::time::Duration::from_secs(60),
                    7,
                );
            }
            proxy.set_shape(shape);
            let before = proxy.stats();
            let started = Instant::now();
            let out = Command::new(&binaries().client)
                .arg("--data")
                .arg(dir.path())
                .args(["sync", "--json"])
                .output()
                .unwrap();
            let secs = started.elapsed().as_secs_f64();
            let after = proxy.stats();
            let bytes = (after.bytes_up + after.bytes_down) - (before.bytes_up + before.bytes_down);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
            println!(
                "{kbps:>7} {n:>8} {:>7} {secs:>8.1} {:>8.1} {:>8.1} {:>7} {:>8} {:>8} {:>6}",
                after.resets - before.resets,
                secs * 1000.0 / n as f64,
                bytes as f64 / n as f64,
                report["retries"].as_u64().unwrap_or(0),
                report["resumed"].as_u64().unwrap_or(0),
                report["batchSize"].as_u64().unwrap_or(0),
                out.status.code().unwrap_or(-1),
            );
            proxy.stop().await;
        }
    }
    println!(
        "(B/rcpt: both directions, HTTP headers included, the round's state, catalog, roster and record requests too; resets: those that broke an open connection during the run)"
    );
}

/// Devices recorded offline with `n` receipts each, enrolled on `urls[i]`.
fn offline_devices(pair: &Pair, urls: &[String], n: u64) -> Vec<tempfile::TempDir> {
    let course = CourseId::new("electrician-safety").unwrap();
    urls.iter()
        .enumerate()
        .map(|(i, url)| {
            let learner = pair.admin(&[
                "add-learner",
                "--org",
                &pair.org,
                "--name",
                &format!("基准学员{i}"),
                "--national-id",
                &format!("1101011990030712{:02}", 30 + urls.len() * 10 + i),
            ]);
            let code = pair.admin(&["issue-code", "--org", &pair.org, "--learner", &learner]);
            let dir = tempfile::tempdir().unwrap();
            hearth(dir.path(), &["enroll", "--service", url, "--code", &code]);
            let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
            let me = h.enrollment().unwrap().unwrap().owner.unwrap();
            assert_eq!(h.at_keyboard(), Some(me), "enrolling signed the learner in");
            for r in 0..n {
                let lesson = LessonId::new(format!("lesson-{}", r % 5 + 1)).unwrap();
                h.record(Event::ActiveStudy {
                    course: course.clone(),
                    lesson,
                    active_ms: 30_000,
                })
                .unwrap();
            }
            dir
        })
        .collect()
}

/// The third table (see the module documentation).
fn two_processes(url: &str) {
    let n: u64 = std::env::var("HEARTH_BENCH_PG_RECEIPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let pair = Pair::new(fresh_schema(url));
    println!();
    println!(
        "two hearth-server processes on one PostgreSQL database (release, loopback, batch 500)"
    );
    println!(
        "{:>8} {:>8} {:>10} {:>8} {:>10}",
        "devices", "receipts", "processes", "sync s", "rcpt/s"
    );
    for urls in [vec![pair.url(0)], vec![pair.url(0), pair.url(1)]] {
        let dirs = offline_devices(&pair, &urls, n);
        let started = Instant::now();
        let children: Vec<_> = dirs
            .iter()
            .map(|d| {
                Command::new(&binaries().client)
                    .arg("--data")
                    .arg(d.path())
                    .args(["sync", "--batch", &BATCH.to_string()])
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut c in children {
            assert!(c.wait().unwrap().success(), "hearth sync failed");
        }
        let secs = started.elapsed().as_secs_f64();
        let total = n * urls.len() as u64;
        println!(
            "{:>8} {total:>8} {:>10} {secs:>8.2} {:>10.0}",
            urls.len(),
            urls.len(),
            total as f64 / secs
        );
    }
}
