//! Sync and course downloads over slow, flaky links: the real `hearth-server` binary, the `hearth`
//! CLI as a separate process with its default settings, and the shaping proxy between them
//! (bandwidth per direction, latency, seeded resets of every open connection).
//!
//! - 500 receipts converge at 4 kbit/s (a batch of 500 would take ~75 s, past the service's
//!   60 s limit: the batch size must adapt);
//! - at 64 kbit/s with a reset every 20–60 s, the bytes on the wire stay within 10 % of a
//!   fault-free run;
//! - one `hearth sync` run finishes through three resets;
//! - `hearth download` at 64 kbit/s through resets re-fetches at most one chunk per reset.
//!
//! Each test takes up to about 80 s (the links are slow on purpose); `HEARTH_SLOW_SEED` changes
//! the reset schedules.

use std::path::Path;
use std::time::{Duration, Instant};

use hearth_core::{Env, Hearth};
use hearth_e2e::service::{Service, binaries};
use hearth_e2e::shaper::{Shape, ShapingProxy};
use hearth_protocol::{CourseId, Event, LessonId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn seed() -> u64 {
    std::env::var("HEARTH_SLOW_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

/// No limits: what a fault-free run costs in bytes.
fn unlimited() -> Shape {
    Shape {
        up_bps: 0,
        down_bps: 0,
        latency: Duration::ZERO,
        resets: None,
        stalls: None,
        seed: 0,
    }
}

/// Runs the `hearth` CLI; returns (exit code, stdout, stderr).
async fn hearth(data: &Path, args: &[&str]) -> (i32, String, String) {
    let data = data.to_owned();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&binaries().client)
            .arg("--data")
            .arg(data)
            .args(args)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// National ids of the learners the tests add (one per device).
const IDS: [&str; 2] = ["110101199003071234", "110101199202023456"];

/// The `nth` learner's device enrolled through `proxy` (while it is unlimited), with `n` study
/// receipts waiting in its outbox.
async fn device_with(service: &Service, proxy: &ShapingProxy, dir: &Path, nth: usize, n: u64) {
    let learner = service.add_learner("王小明", IDS[nth]).unwrap();
    let code = service.enrollment_code(Some(&learner)).unwrap();
    let url = format!("http://{}", proxy.addr());
    let (status, _, err) = hearth(dir, &["enroll", "--service", &url, "--code", &code]).await;
    assert_eq!(status, 0, "{err}");
    let mut h = Hearth::open(dir, Env::system()).unwrap();
    let me = h.enrollment().unwrap().unwrap().owner.unwrap();
    assert_eq!(h.at_keyboard(), Some(me), "enrolling signed its learner in");
    let course = CourseId::new("electrician-safety").unwrap();
    // Enrolling recorded the sign-in: it is the first of the `n`.
    for i in 1..n {
        h.record(Event::ActiveStudy {
            course: course.clone(),
            lesson: LessonId::new(format!("lesson-{}", i % 5 + 1)).unwrap(),
            active_ms: 30_000,
        })
        .unwrap();
    }
}

/// Receipts acknowledged and waiting, from `hearth status --json`.
async fn ledger(dir: &Path) -> (u64, u64) {
    let (status, out, err) = hearth(dir, &["status", "--json"]).await;
    assert_eq!(status, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    (
        v["ledger"]["ackedSeq"].as_u64().unwrap(),
        v["ledger"]["pending"].as_u64().unwrap(),
    )
}

/// Syncs with the CLI's defaults through `proxy`; returns (exit code, seconds, wire bytes, the
/// JSON report or the error).
async fn sync(dir: &Path, proxy: &ShapingProxy) -> (i32, f64, u64, String) {
    let before = proxy.stats();
    let started = Instant::now();
    let (status, out, err) = hearth(dir, &["sync", "--json"]).await;
    let secs = started.elapsed().as_secs_f64();
    let after = proxy.stats();
    let bytes = (after.bytes_up + after.bytes_down) - (before.bytes_up + before.bytes_down);
    (status, secs, bytes, if status == 0 { out } else { err })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shaper_limits_bandwidth_and_resets_open_connections() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    // 8 kB each way at 64 kbit/s: about a second.
    let proxy = ShapingProxy::start(upstream, Shape::symmetric(64_000))
        .await
        .unwrap();
    let mut c = tokio::net::TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    c.write_all(&[7u8; 8_000]).await.unwrap();
    let mut got = vec![0u8; 8_000];
    c.read_exact(&mut got).await.unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(
        (0.9..2.5).contains(&secs),
        "8 kB at 64 kbit/s took {secs} s"
    );
    assert_eq!(
        (proxy.stats().bytes_up, proxy.stats().bytes_down),
        (8_000, 8_000)
    );

    // A stall holds everything for its length, then the link carries on.
    proxy.set_shape(Shape {
        stalls: Some((
            Duration::from_millis(300),
            Duration::from_millis(300),
            Duration::from_secs(1),
        )),
        ..unlimited()
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    c.write_all(b"held").await.unwrap();
    let mut held = [0u8; 4];
    c.read_exact(&mut held).await.unwrap();
    let waited = started.elapsed();
    assert_eq!(&held, b"held");
    assert!(
        waited >= Duration::from_millis(700),
        "a stall held the bytes: {waited:?}"
    );
    assert!(proxy.stats().stalls >= 1);

    proxy.set_shape(unlimited().with_resets(
        Duration::from_millis(200),
        Duration::from_millis(300),
        1,
    ));
    let mut buf = [0u8; 16];
    let err = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("the reset comes within the schedule");
    assert!(
        matches!(&err, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "{err:?}"
    );
    assert!(proxy.stats().resets >= 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_receipts_converge_at_4_kbits_with_default_settings() {
    let service = Service::start().unwrap();
    let proxy = ShapingProxy::start(service.addr(), unlimited())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, dir.path(), 0, 500).await;

    proxy.set_shape(Shape {
        latency: Duration::from_millis(100),
        ..Shape::symmetric(4_000)
    });
    let (status, secs, bytes, out) = sync(dir.path(), &proxy).await;
    assert_eq!(status, 0, "{out}");
    assert_eq!(ledger(dir.path()).await, (500, 0));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    eprintln!(
        "4 kbit/s: 500 receipts in {secs:.0} s, {bytes} bytes ({:.1} B/receipt), batch {} at the end, {} retries",
        bytes as f64 / 500.0,
        report["batchSize"],
        report["retries"]
    );
    assert_eq!(report["retries"], 0, "no 408 and no retry: {out}");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resets_at_64_kbits_cost_under_10_percent_more_bytes() {
    // The fault-free reference: the same receipts over an unlimited link (the batches grow to
    // the same sizes either way, so the bytes are the same as a fault-free run at 64 kbit/s).
    const N: u64 = 7_000;
    let service = Service::start().unwrap();
    let proxy = ShapingProxy::start(service.addr(), unlimited())
        .await
        .unwrap();
    let clean = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, clean.path(), 0, N).await;
    let (status, _, clean_bytes, out) = sync(clean.path(), &proxy).await;
    assert_eq!(status, 0, "{out}");

    let flaky = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, flaky.path(), 1, N).await;
    proxy.set_shape(Shape::symmetric(64_000).with_resets(
        Duration::from_secs(20),
        Duration::from_secs(60),
        seed(),
    ));
    let before = proxy.stats();
    let (status, secs, bytes, out) = sync(flaky.path(), &proxy).await;
    let resets = proxy.stats().resets - before.resets;
    assert_eq!(status, 0, "{out}");
    assert_eq!(ledger(flaky.path()).await, (N, 0));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let extra = bytes as f64 / clean_bytes as f64 - 1.0;
    eprintln!(
        "64 kbit/s, resets every 20-60 s: {N} receipts in {secs:.0} s, {resets} resets, {bytes} bytes vs {clean_bytes} fault-free ({:+.1} %), {} retries, {} resumed",
        extra * 100.0,
        report["retries"],
        report["resumed"]
    );
    assert!(resets >= 1, "the run saw a reset");
    assert!(extra < 0.10, "{:.1} % more bytes", extra * 100.0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_run_finishes_through_three_resets() {
    let service = Service::start().unwrap();
    let proxy = ShapingProxy::start(service.addr(), unlimited())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, dir.path(), 0, 3_000).await;
    proxy.set_shape(Shape::symmetric(64_000).with_resets(
        Duration::from_secs(4),
        Duration::from_secs(7),
        seed(),
    ));
    let before = proxy.stats();
    let (status, secs, _, out) = sync(dir.path(), &proxy).await;
    let resets = proxy.stats().resets - before.resets;
    assert_eq!(status, 0, "{out}");
    assert_eq!(ledger(dir.path()).await, (3_000, 0));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    eprintln!(
        "one run through resets: {secs:.0} s, {resets} resets, {} retries, {} resumed, {} duplicates",
        report["retries"], report["resumed"], report["duplicates"]
    );
    assert!(resets >= 3, "only {resets} resets hit the run");
    assert!(report["retries"].as_u64().unwrap() >= 3, "{out}");
    proxy.stop().await;
}

/// A course source folder (docs/course-source-format.md) with 250 kB of incompressible media.
fn small_course(dir: &Path) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut noise = |len: usize| -> Vec<u8> {
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    std::fs::create_dir_all(dir.join("lessons")).unwrap();
    std::fs::create_dir_all(dir.join("media")).unwrap();
    std::fs::write(dir.join("lessons/l1.md"), "# 触电的危险\n\n先断电。\n").unwrap();
    std::fs::write(dir.join("media/intro.mp4"), noise(170_000)).unwrap();
    std::fs::write(dir.join("media/narration.mp3"), noise(80_000)).unwrap();
    std::fs::write(
        dir.join("course.toml"),
        r#"id = "slow-course"
version = 1
title = "慢速网络课程"
description = "测试用。"

[durations]
"media/intro.mp4" = 60
"media/narration.mp3" = 45

[[lessons]]
id = "l1"
title = "第一课"
body = "lessons/l1.md"
media = ["media/intro.mp4", "media/narration.mp3"]
credit_minutes = 10
"#,
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_course_downloads_at_64_kbits_through_resets_refetching_at_most_a_chunk_each() {
    /// What a reset may cost: one chunk of the transfer (the client reads at most 16 KiB at a
    /// time) plus the new request and its answer's headers.
    const PER_RESET: u64 = 16 * 1024 + 1024;
    let service = Service::start().unwrap();
    let src = tempfile::tempdir().unwrap();
    small_course(src.path());
    let out = service
        .admin(&["publish", src.path().to_str().unwrap()])
        .unwrap();
    assert!(out.starts_with("published"), "{out}");
    let proxy = ShapingProxy::start(service.addr(), unlimited())
        .await
        .unwrap();

    let clean = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, clean.path(), 0, 0).await;
    let before = proxy.stats();
    let (status, _, err) = hearth(clean.path(), &["download", "slow-course"]).await;
    assert_eq!(status, 0, "{err}");
    let after = proxy.stats();
    let clean_bytes = after.bytes_down - before.bytes_down;

    let flaky = tempfile::tempdir().unwrap();
    device_with(&service, &proxy, flaky.path(), 1, 0).await;
    proxy.set_shape(Shape::symmetric(64_000).with_resets(
        Duration::from_secs(6),
        Duration::from_secs(12),
        seed(),
    ));
    let before = proxy.stats();
    let started = Instant::now();
    let (status, out, err) = hearth(flaky.path(), &["download", "slow-course"]).await;
    let secs = started.elapsed().as_secs_f64();
    let after = proxy.stats();
    assert_eq!(status, 0, "{err}");
    assert!(out.starts_with("downloaded slow-course version 1"), "{out}");
    let resets = after.resets - before.resets;
    let bytes = after.bytes_down - before.bytes_down;
    eprintln!(
        "download at 64 kbit/s: {secs:.0} s, {resets} resets, {bytes} bytes down vs {clean_bytes} fault-free"
    );
    assert!(resets >= 2, "only {resets} resets hit the download");
    assert!(
        bytes <= clean_bytes + resets * PER_RESET,
        "{} bytes more than a fault-free download for {resets} resets",
        bytes - clean_bytes
    );
    proxy.stop().await;
}
