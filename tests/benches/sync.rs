//! End-to-end sync benchmark over loopback: the release `hearth-server` binary, the release
//! `hearth` CLI syncing through a counting proxy.
//!
//! For 10,000 and 100,000 receipts recorded offline on one device, it reports: receipts per
//! second end to end, bytes on the wire per receipt (both directions, HTTP headers included),
//! a sync round with nothing to do (bytes and seconds), and the peak memory (max RSS) of the
//! client process and of the service.
//!
//! Run: `cargo bench -p hearth-e2e --bench sync` (part of `make bench`). Set
//! `HEARTH_BENCH_SIZES=10000` to run fewer sizes.

use std::process::Command;
use std::time::Instant;

use hearth_core::{Env, Hearth};
use hearth_e2e::proxy::FaultProxy;
use hearth_e2e::service::{Service, binaries};
use hearth_protocol::{CourseId, Event, LessonId};

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the `hearth` CLI; returns its run time and its peak memory (VmHWM, kB), sampled from
/// /proc while it runs (the high-water mark only grows, so the last sample is the peak up to a
/// millisecond before exit).
fn hearth(data: &std::path::Path, args: &[&str]) -> (f64, u64) {
    let started = Instant::now();
    let mut child = Command::new(&binaries().client)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    };
    let secs = started.elapsed().as_secs_f64();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(status.success(), "hearth {args:?}: {err}");
    (secs, peak)
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
        "{:>8} {:>10} {:>12} {:>10} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "receipts",
        "record s",
        "sync s",
        "rcpt/s",
        "B/rcpt",
        "no-op bytes",
        "no-op s",
        "client MB",
        "service MB"
    );
    for n in sizes {
        let service = Service::start().unwrap();
        let learner = service
            .add_learner("基准学员", "110101199003071234")
            .unwrap();
        let code = service.enrollment_code(Some(&learner)).unwrap();
        let proxy = FaultProxy::start(service.addr()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("http://{}", proxy.addr());
        hearth(dir.path(), &["enroll", "--service", &url, "--code", &code]);

        let started = Instant::now();
        {
            let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
            let me = h.enrollment().unwrap().unwrap().owner.unwrap();
            let course = CourseId::new("electrician-safety").unwrap();
            for i in 0..n {
                let lesson = LessonId::new(format!("lesson-{}", i % 5 + 1)).unwrap();
                h.record(
                    me,
                    Event::ActiveStudy {
                        course: course.clone(),
                        lesson,
                        active_ms: 30_000,
                    },
                )
                .unwrap();
            }
        }
        let record_s = started.elapsed().as_secs_f64();

        let before = proxy.stats();
        let (sync_s, client_kb) = hearth(dir.path(), &["sync", "--batch", "500"]);
        let after = proxy.stats();
        let wire = (after.bytes_up + after.bytes_down) - (before.bytes_up + before.bytes_down);
        let (noop_s, _) = hearth(dir.path(), &["sync"]);
        let noop = proxy.stats();
        let noop_bytes = (noop.bytes_up + noop.bytes_down) - (after.bytes_up + after.bytes_down);
        let client_mb = client_kb as f64 / 1024.0;
        let service_mb = service.pid().and_then(vm_hwm_kb).unwrap_or(0) as f64 / 1024.0;
        println!(
            "{n:>8} {record_s:>10.1} {sync_s:>12.2} {:>10.0} {:>10.1} {noop_bytes:>12} {noop_s:>12.3} {client_mb:>12.1} {service_mb:>12.1}",
            n as f64 / sync_s,
            wire as f64 / n as f64,
        );
    }
    println!("(client MB: peak RSS of the `hearth sync` process; sync s includes its start-up)");
}
