//! The desktop app in a real window, driven through WebDriver: it opens a fresh data folder,
//! shows this device in Chinese, adds a learner, signs them in and shows the signed receipt; the
//! store on disk then holds exactly that. Screenshots go to docs/screenshots/ (README shows them).
//!
//! Needs Xvfb, tauri-driver and WebKitWebDriver, so it is ignored by plain `cargo test`;
//! `make test` runs it under one `xvfb-run` with `-- --ignored`.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hearth_core::{Env, Hearth};
use hearth_e2e::gui::{self, Driver};
use hearth_e2e::steps::screenshot;
use hearth_e2e::webdriver::Session;

const WAIT: Duration = Duration::from_secs(15);
const LEARNER: &str = "王小明";
/// WebDriver's code for the Enter key.
const ENTER: char = '\u{E007}';

async fn drive(session: &Session) -> Result<String> {
    // A fresh PC first offers enrollment or starting offline: start offline, which leads to the
    // learners-and-records screen.
    let (start, _) = session
        .wait_for("[data-testid=start-offline]", WAIT, |_| true)
        .await
        .context("the first-run screen never appeared")?;
    session.click(&start).await?;
    // The learners-and-records screen, in Chinese, with this device's id.
    let (_, device_id) = session
        .wait_for("[data-testid=device-id]", WAIT, |t| t.len() == 36)
        .await
        .context("the device id never appeared")?;
    let (_, title) = session.wait_for("h1", WAIT, |t| !t.is_empty()).await?;
    ensure!(
        title == "Hearth 职业技能学习",
        "title not in Chinese: {title:?}"
    );
    let (_, heading) = session.wait_for("#device-title", WAIT, |_| true).await?;
    ensure!(heading == "本机设备", "device heading: {heading:?}");
    let (_, fp) = session
        .wait_for("[data-testid=device-fingerprint]", WAIT, |_| true)
        .await?;
    ensure!(fp.len() == 19, "fingerprint `XXXX XXXX XXXX XXXX`: {fp:?}");
    let (_, status) = session
        .wait_for("[data-testid=ledger-status]", WAIT, |_| true)
        .await?;
    ensure!(
        status.starts_with("共 0 条记录"),
        "empty ledger: {status:?}"
    );
    screenshot(session, "01-first-run.png").await?;

    // Add a learner with the keyboard alone: type the name, press Enter.
    let input = session
        .find_all("[data-testid=learner-name-input]")
        .await?
        .pop()
        .context("no name input")?;
    session
        .send_keys(&input, &format!("{LEARNER}{ENTER}"))
        .await?;
    let (row, _) = session
        .wait_for("[data-testid=learner-row]", WAIT, |t| t.contains(LEARNER))
        .await
        .context("the learner never appeared")?;
    session
        .wait_for("[data-testid=notice]", WAIT, |t| t.contains("已添加学员"))
        .await?;

    // Sign them in: a receipt is recorded and listed, waiting to sync.
    let sign_in = session
        .find_in(&row, "[data-testid=sign-in]")
        .await?
        .pop()
        .context("no sign-in button in the learner's row")?;
    session.click(&sign_in).await?;
    let (_, receipt) = session
        .wait_for("[data-testid=receipt-row]", WAIT, |t| {
            t.contains("学员登录")
        })
        .await
        .context("the sign-in receipt never appeared")?;
    ensure!(receipt.starts_with('1'), "receipt 1 first: {receipt:?}");
    ensure!(
        receipt.contains(LEARNER) && receipt.contains("待同步"),
        "receipt row: {receipt:?}"
    );
    session
        .wait_for("[data-testid=ledger-status]", WAIT, |t| {
            t.starts_with("共 1 条记录")
        })
        .await?;
    session
        .wait_for("[data-testid=current-learner]", WAIT, |t| {
            t.contains(LEARNER)
        })
        .await?;
    screenshot(session, "02-signed-in.png").await?;

    // English is one click away.
    let switch = session
        .find_all("[data-testid=switch-language]")
        .await?
        .pop()
        .context("no language switch")?;
    session.click(&switch).await?;
    session
        .wait_for("h1", WAIT, |t| t == "Hearth vocational learning")
        .await?;
    session
        .wait_for("[data-testid=receipt-kind]", WAIT, |t| t == "Signed in")
        .await?;
    session
        .wait_for("[data-testid=notice]", WAIT, |t| {
            t == format!("{LEARNER} signed in; recorded receipt 1")
        })
        .await?;
    screenshot(session, "03-english.png").await?;
    Ok(device_id)
}

/// The folder after the app quit: the same device, the learner, and one verified receipt.
fn check_store(data_dir: &Path, device_id: &str) -> Result<()> {
    let hearth = Hearth::open(data_dir, Env::system())?;
    ensure!(
        hearth.device().id.to_string() == device_id,
        "the window showed another device"
    );
    let learners = hearth.learners()?;
    ensure!(
        learners.len() == 1 && learners[0].display_name == LEARNER,
        "{learners:?}"
    );
    let receipts = hearth.recent_receipts(10)?;
    ensure!(receipts.len() == 1, "{receipts:?}");
    ensure!(receipts[0].kind == "learner_signed_in" && receipts[0].learner == learners[0].id);
    ensure!(!receipts[0].acknowledged);
    let head = hearth.verify_ledger()?;
    ensure!(head.seq == 1, "the chain verifies to receipt 1: {head:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run by make test"]
async fn the_window_shows_the_device_and_records_a_sign_in() -> Result<()> {
    let app = gui::desktop_binary()?;
    let tmp = tempfile::tempdir()?;
    let data_dir = tmp.path().join("data");
    let mut driver = Driver::start(&data_dir, &tmp.path().join("driver.log"))?;

    let started = Instant::now();
    let session = driver.launch(&app).await?;
    eprintln!("app launched in {:?}", started.elapsed());
    let outcome = drive(&session).await;
    eprintln!("driven in {:?}", started.elapsed());
    let closed = session.close().await;
    eprintln!("session closed at {:?}", started.elapsed());
    if outcome.is_err() {
        eprintln!("driver and app output:\n{}", driver.log_text());
    }
    let device_id = outcome?;
    closed.context("closing the session")?;

    // Closing the session quits the app; then stop the driver and check nothing is left.
    let deadline = Instant::now() + Duration::from_secs(10);
    driver.stop();
    while !driver.app_processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("driver stopped at {:?}", started.elapsed());
    let left = driver.app_processes();
    ensure!(left.is_empty(), "processes left running: {left:?}");

    check_store(&data_dir, &device_id)
}
