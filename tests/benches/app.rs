//! Desktop app start-up and idle memory, on the release build in a real (virtual) X display.
//!
//! For each of several launches with a fresh data folder, through tauri-driver + WebKitWebDriver:
//!
//! - **launch to interactive**: from the moment the kernel started the `hearth-desktop` process
//!   (its start time in /proc/PID/stat) to the moment the first screen shows its data (the UI
//!   sets `data-app-ready` on its root once its first load finished), read on the same clock
//!   (/proc/uptime; both have 10 ms resolution);
//! - **idle memory**: after 5 s of idling, the proportional set size (PSS, /proc/PID/smaps_rollup)
//!   of the app and its WebKit processes (web content and network), summed. PSS shares libraries
//!   fairly between processes, so the sum is what the app really costs the machine.
//!
//! Targets (issue #6): at most 0.5 s and at most 300 MB.
//!
//! Run: `xvfb-run -a cargo bench -p hearth-e2e --bench app` (`make bench` does, after building
//! the UI). Needs tauri-driver and WebKitWebDriver (`make test` installs them).
//! `HEARTH_BENCH_LAUNCHES` sets the number of launches (default 5).

use std::path::Path;
use std::time::{Duration, Instant};

use hearth_e2e::gui::{self, Driver};

const READY: &str = "[data-app-ready]";
/// The kernel's clock tick for /proc/PID/stat start times (USER_HZ, 100 on every Linux this runs
/// on; `getconf CLK_TCK` confirms it).
const TICKS_PER_S: f64 = 100.0;

fn uptime_s() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .expect("/proc/uptime")
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Seconds after boot at which `pid` started.
fn start_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let ticks: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
    Some(ticks / TICKS_PER_S)
}

fn pss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The app's own processes (not the drivers that share its environment).
fn app_pids(driver: &Driver) -> Vec<(u32, String)> {
    driver
        .app_processes()
        .into_iter()
        .map(|p| (p, comm(p)))
        .filter(|(_, c)| c == "hearth-desktop" || c.starts_with("WebKit") && c != "WebKitWebDriver")
        .collect()
}

struct Launch {
    ready_s: f64,
    pss_mb: f64,
    processes: usize,
}

async fn launch_once(app: &Path) -> anyhow::Result<Launch> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    let mut driver = Driver::start(&data, &dir.path().join("driver.log"))?;
    let session = driver.launch(app).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let ready_at = loop {
        if !session.find_all(READY).await?.is_empty() {
            break uptime_s();
        }
        anyhow::ensure!(Instant::now() < deadline, "the app never set {READY}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let app_pid = app_pids(&driver)
        .into_iter()
        .find(|(_, c)| c == "hearth-desktop")
        .map(|(p, _)| p)
        .ok_or_else(|| anyhow::anyhow!("no hearth-desktop process"))?;
    let started = start_s(app_pid).ok_or_else(|| anyhow::anyhow!("no start time"))?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pids = app_pids(&driver);
    let pss: u64 = pids.iter().map(|(p, _)| pss_kb(*p)).sum();
    session.close().await?;
    driver.stop();
    Ok(Launch {
        ready_s: ready_at - started,
        pss_mb: pss as f64 / 1024.0,
        processes: pids.len(),
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("HEARTH_BENCH_LAUNCHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    if std::env::var_os("DISPLAY").is_none() {
        println!("app benchmark skipped: no DISPLAY (run it under xvfb-run; make bench does)");
        return Ok(());
    }
    let app = gui::desktop_binary()?;
    println!(
        "app benchmark: {} ({n} launches, fresh data folder each)",
        app.display()
    );
    let mut runs = Vec::new();
    for i in 0..n {
        let r = launch_once(&app).await?;
        println!(
            "launch {}: interactive after {:.2} s; idle PSS {:.0} MB in {} processes",
            i + 1,
            r.ready_s,
            r.pss_mb,
            r.processes
        );
        runs.push(r);
    }
    let mut ready: Vec<f64> = runs.iter().map(|r| r.ready_s).collect();
    let mut pss: Vec<f64> = runs.iter().map(|r| r.pss_mb).collect();
    ready.sort_by(f64::total_cmp);
    pss.sort_by(f64::total_cmp);
    println!(
        "launch to interactive: median {:.2} s, worst {:.2} s (target <= 0.5 s)",
        ready[ready.len() / 2],
        ready[ready.len() - 1]
    );
    println!(
        "idle memory (PSS, app + WebKit): median {:.0} MB, worst {:.0} MB (target <= 300 MB)",
        pss[pss.len() / 2],
        pss[pss.len() - 1]
    );
    Ok(())
}
