//! Issue #16 in the real window: a course imported through the system's file dialog (GTK's,
//! answered on the keyboard through xdotool: `hearth_e2e::native_dialog`), another by picking it
//! from the USB stick list (a folder made to look like `/media/$USER` with a stick in it, named by
//! `HEARTH_REMOVABLE_ROOTS`), then the service stalls behind the fault proxy (every connection
//! held for a minute without an answer) while the library asks it for the catalog: the lesson
//! page keeps counting study time and a practice answer is judged and recorded at once. Before
//! the fix the catalog request held the store for the whole stall and every command waited.
//!
//! Needs Xvfb, tauri-driver and WebKitWebDriver: run under `xvfb-run` with
//! `-- --ignored` like the other GUI tests.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hearth_e2e::gui::{self, Driver};
use hearth_e2e::native_dialog::{self, DialogKind};
use hearth_e2e::proxy::{Direction, Fault, FaultProxy};
use hearth_e2e::service::Service;
use hearth_e2e::steps::{WAIT, attr, click, finish, ms, set_value, study, wait_attr};
use hearth_e2e::webdriver::Session;

const COURSE: &str = "electrician-safety";
/// The course imported through the file dialog.
const CHOSEN: &str = "hygiene-epidemic-prevention";
/// The open dialog's title, as the UI names it in Chinese.
const IMPORT_DIALOG: &str = "选择要导入的课程包";
/// How long the service answers nothing.
const STALL: Duration = Duration::from_secs(60);
/// What "at once" allows for a command in a debug build under Xvfb on a busy machine: far
/// below the stall, so a command that waited for the stalled request fails the test.
const AT_ONCE: Duration = Duration::from_secs(10);

async fn drive(
    session: &Session,
    proxy: &FaultProxy,
    url: &str,
    code: &str,
    chosen: &Path,
) -> Result<()> {
    set_value(session, "[data-testid=enroll-url]", url).await?;
    set_value(session, "[data-testid=enroll-code]", code).await?;
    click(session, "[data-testid=enroll-submit]").await?;

    // A package in an ordinary folder, chosen in the system's file dialog.
    click(session, "[data-testid=import-choose]").await?;
    let chosen = chosen.to_path_buf();
    tokio::task::spawn_blocking(move || {
        native_dialog::choose(IMPORT_DIALOG, DialogKind::Open, &chosen)
    })
    .await??;
    session
        .wait_for(&format!("[data-testid=installed-{CHOSEN}]"), WAIT, |_| true)
        .await
        .context("the package chosen in the file dialog was not imported")?;

    // The stick is listed with its package; one press imports it.
    let listed = session
        .wait_for("[data-testid=usb-drive]", WAIT, |t| t.contains("KINGSTON"))
        .await
        .context("the USB stick is not listed")?;
    eprintln!("listed: {}", listed.1);
    click(session, "[data-testid=usb-package]").await?;
    session
        .wait_for(&format!("[data-testid=installed-{COURSE}]"), WAIT, |_| true)
        .await
        .context("the picked package was not imported")?;

    // The service stalls: every new connection is held for a minute, no answer.
    let before = proxy.stats().connections;
    proxy.push_faults(std::iter::repeat_n(
        Fault::Stall {
            dir: Direction::Down,
            after: 0,
            stall: STALL,
        },
        1_000,
    ));
    // The library asks for the catalog when it opens: that request now hangs.
    click(session, "[data-testid=nav-settings]").await?;
    click(session, "[data-testid=nav-library]").await?;
    let stalled = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    ensure!(
        proxy.stats().connections > before,
        "no request reached the stalled service"
    );

    // Study goes on at once.
    click(session, &format!("[data-testid=open-{COURSE}]")).await?;
    click(session, "[data-testid=lesson-shock-dangers]").await?;
    session
        .wait_for("[data-testid=lesson-title]", AT_ONCE, |t| !t.is_empty())
        .await
        .context("the lesson did not open while the service stalled")?;
    study(session, 6).await?;
    let first = wait_attr(
        session,
        "[data-testid=study-counted]",
        "data-ms",
        AT_ONCE,
        |v| ms(v) > 0,
    )
    .await
    .context("no study time counted while the service stalled")?;
    study(session, 4).await?;
    let later = attr(session, "[data-testid=study-counted]", "data-ms")
        .await?
        .unwrap_or_default();
    ensure!(
        ms(&later) > ms(&first),
        "the lesson stopped counting: {first} then {later}"
    );
    click(session, "[data-testid=option-safe-voltage-2]").await?;
    let asked = Instant::now();
    click(session, "[data-testid=check-safe-voltage]").await?;
    session
        .wait_for("[data-testid=feedback-safe-voltage]", AT_ONCE, |_| true)
        .await
        .context("the practice answer was not recorded at once")?;
    eprintln!(
        "answer judged in {:?}, {:?} into the stall",
        asked.elapsed(),
        stalled.elapsed()
    );
    ensure!(
        stalled.elapsed() < STALL,
        "the stall was over before the study was checked"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run by make test"]
async fn packages_chosen_in_the_file_dialog_and_on_a_usb_stick_import_and_study_answers_at_once_while_the_service_stalls()
-> Result<()> {
    let app = gui::desktop_binary()?;
    let service = Service::start()?;
    let course = gui::workspace_root().join("assets/courses").join(COURSE);
    let published = service.admin(&["publish", course.to_str().context("path")?])?;
    ensure!(published.starts_with("published"), "{published}");
    let other = gui::workspace_root().join("assets/courses").join(CHOSEN);
    let published = service.admin(&["publish", other.to_str().context("path")?])?;
    ensure!(published.starts_with("published"), "{published}");
    let learner = service.add_learner("王小明", "110101199003071234")?;
    let code = service.enrollment_code(Some(&learner))?;

    let tmp = tempfile::tempdir()?;
    // A folder that looks like /media/$USER with one stick in it, holding the course package.
    let media = tmp.path().join("media");
    let stick = media.join("KINGSTON");
    std::fs::create_dir_all(&stick)?;
    let pkg = stick.join(format!("{COURSE}.hcp"));
    service.admin(&[
        "export-package",
        COURSE,
        "--out",
        pkg.to_str().context("path")?,
    ])?;

    // The other package sits in an ordinary folder, reached only through the file dialog.
    let downloads = tmp.path().join("Downloads");
    std::fs::create_dir_all(&downloads)?;
    let chosen = downloads.join(format!("{CHOSEN}.hcp"));
    service.admin(&[
        "export-package",
        CHOSEN,
        "--out",
        chosen.to_str().context("path")?,
    ])?;

    let proxy = FaultProxy::start(service.addr()).await?;
    let url = format!("http://{}", proxy.addr());
    let data_dir = tmp.path().join("data");
    let mut driver = Driver::start_with_env(
        &data_dir,
        &tmp.path().join("driver.log"),
        &[("HEARTH_REMOVABLE_ROOTS", media.to_str().context("path")?)],
    )?;
    let session = driver.launch(&app).await?;
    let outcome = drive(&session, &proxy, &url, &code, &chosen).await;
    let finished = finish(&mut driver, session, outcome, "hearth-gui-no-freeze").await;
    proxy.stop().await;
    finished
}
