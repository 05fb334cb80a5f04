//! A class on a shared kiosk, in the real window, against the real service: the kiosk enrolls
//! without an owner and turns into the sign-in list; the trainer signs in with a PIN, downloads
//! the course and opens the class; two learners sign in one after another (one learner's PIN does
//! not open the other; Bo signs in with his printed card, typed as a USB scanner types it) and
//! study; the trainer attests who was present and starts the class exam;
//! a learner who signs in lands in the exam and takes it; after sync, the trainer's class view
//! from the service shows both learners credited, the graded exam and the signed attestation.
//!
//! Needs Xvfb, tauri-driver and WebKitWebDriver: ignored by plain `cargo test`, run by `make
//! test` under one `xvfb-run` with `-- --ignored` like gui_learning.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hearth_e2e::gui::{self, Driver};
use hearth_e2e::native_dialog::{self, DialogKind};
use hearth_e2e::service::Service;
use hearth_e2e::steps::{
    WAIT, assert_readable, attr, click, finish, ms, screenshot, set_value, study_lesson, wait_attr,
};
use hearth_e2e::webdriver::Session;
use serde_json::json;

const COURSE: &str = "electrician-safety";
/// The save dialog's title for exporting receipts, as the UI names it in Chinese.
const EXPORT_DIALOG: &str = "把学习记录导出到";

/// The people of the class, as the service knows them.
struct Class {
    trainer: String,
    ana: String,
    bo: String,
    /// The text of Bo's sign-in card's QR code (`hearth-server issue-cards`).
    bo_card: String,
}

/// Types `text` and Enter into the focused element, as a USB barcode scanner (a keyboard) does:
/// the card field must already have the focus when the sign-in list shows.
async fn scan(session: &Session, text: &str) -> Result<()> {
    let focused = session
        .execute(
            "const e = document.activeElement; return e ? e.getAttribute('data-testid') : null;",
            json!([]),
        )
        .await?;
    ensure!(
        focused == json!("kiosk-card"),
        "the card field must have the focus for a scanner, not {focused}"
    );
    let (el, _) = session
        .wait_for("[data-testid=kiosk-card]", WAIT, |_| true)
        .await?;
    // U+E007 is WebDriver's Enter key.
    session.send_keys(&el, &format!("{text}\u{E007}")).await
}

/// Signs `person` in from the sign-in list. `pad` types the PIN on the on-screen number pad
/// (a touch screen), else on the keyboard.
async fn sign_in(session: &Session, person: &str, pin: &str, pad: bool) -> Result<()> {
    click(
        session,
        &format!("[data-testid=kiosk-person][data-person-id='{person}']"),
    )
    .await?;
    if pad {
        for digit in pin.chars() {
            click(session, &format!("[data-testid=pin-key-{digit}]")).await?;
        }
    } else {
        set_value(session, "[data-testid=kiosk-pin]", pin).await?;
    }
    click(session, "[data-testid=kiosk-sign-in]").await
}

async fn sign_out(session: &Session) -> Result<()> {
    click(session, "[data-testid=kiosk-sign-out]").await?;
    session
        .wait_for("[data-testid=kiosk-person]", WAIT, |_| true)
        .await
        .context("the sign-in list did not come back after signing out")?;
    Ok(())
}

async fn current(session: &Session, name: &str) -> Result<()> {
    session
        .wait_for("[data-testid=current-learner]", WAIT, |t| t.contains(name))
        .await
        .with_context(|| format!("{name} is not shown as signed in"))?;
    Ok(())
}

/// A learner opens `lesson` of the course, studies it for a few seconds and leaves it.
async fn study_from_library(session: &Session, lesson: &str) -> Result<()> {
    click(session, &format!("[data-testid=open-{COURSE}]")).await?;
    study_lesson(session, lesson, 6).await?;
    click(session, "[data-testid=back]").await
}

async fn drive(
    session: &Session,
    service: &Service,
    class: &Class,
    code: &str,
    export: &Path,
) -> Result<()> {
    // Enrolled without an owner, the PC becomes a kiosk: the sign-in list, no tabs.
    set_value(session, "[data-testid=enroll-url]", &service.url()).await?;
    set_value(session, "[data-testid=enroll-code]", code).await?;
    click(session, "[data-testid=enroll-submit]").await?;
    session
        .wait_for(
            &format!("[data-testid=kiosk-person][data-person-id='{}']", class.ana),
            WAIT,
            |t| t.contains("安娜"),
        )
        .await
        .context("the kiosk's sign-in list does not show the class")?;
    let tabs = session.find_all("nav button").await?;
    ensure!(
        tabs.is_empty(),
        "nobody signed in: no tabs, got {}",
        tabs.len()
    );
    // The kiosk window covers the whole screen (Xvfb's 1920x1080 under `make test`).
    let screen = session
        .execute("return [screen.width, screen.height];", json!([]))
        .await?;
    let (w, h) = session.window_size().await?;
    ensure!(
        json!([w, h]) == screen,
        "the kiosk window is {w}x{h}, the screen {screen}"
    );
    assert_readable(session, "kiosk sign-in").await?;
    screenshot(session, "30-kiosk-sign-in.png").await?;

    // The trainer signs in on the number pad, downloads the course and opens the class.
    click(
        session,
        &format!(
            "[data-testid=kiosk-person][data-person-id='{}']",
            class.trainer
        ),
    )
    .await?;
    for digit in "2468".chars() {
        click(session, &format!("[data-testid=pin-key-{digit}]")).await?;
    }
    screenshot(session, "31-kiosk-pin.png").await?;
    click(session, "[data-testid=kiosk-sign-in]").await?;
    current(session, "王老师").await?;
    click(session, "[data-testid=nav-library]").await?;
    click(session, &format!("[data-testid=download-{COURSE}]")).await?;
    session
        .wait_for(
            &format!("[data-testid=installed-{COURSE}]"),
            Duration::from_secs(60),
            |_| true,
        )
        .await
        .context("the kiosk never installed the course")?;
    click(session, "[data-testid=nav-trainer]").await?;
    click(session, "[data-testid=open-class]").await?;
    session
        .wait_for("[data-testid=trainer-class-open]", WAIT, |t| {
            t.contains("电工一班")
        })
        .await
        .context("the class did not open")?;
    sign_out(session).await?;

    // Ana studies; Bo's PIN is refused for Ana's name first (a PIN opens only its own person).
    sign_in(session, &class.ana, "2222", false).await?;
    let (_, refused) = session
        .wait_for("[data-testid=error]", WAIT, |_| true)
        .await
        .context("a wrong PIN was not refused")?;
    ensure!(refused.contains("密码不对"), "wrong-PIN message: {refused}");
    ensure!(
        text(session, "[data-testid=current-learner]")
            .await?
            .is_none(),
        "nobody may be signed in after a wrong PIN"
    );
    set_value(session, "[data-testid=kiosk-pin]", "1111").await?;
    click(session, "[data-testid=kiosk-sign-in]").await?;
    current(session, "安娜").await?;
    study_from_library(session, "shock-dangers").await?;
    sign_out(session).await?;

    // Bo scans his card: a misread first (refused with its own message), then the card.
    let cut = &class.bo_card[..class.bo_card.len() - 5];
    scan(session, cut).await?;
    let (_, refused) = session
        .wait_for("[data-testid=error]", WAIT, |t| t.contains("卡没有读完整"))
        .await
        .context("a misread card was not refused with card.malformed")?;
    eprintln!("misread card: {refused}");
    scan(session, &class.bo_card).await?;
    current(session, "博文").await?;
    study_from_library(session, "lockout-tagout").await?;
    sign_out(session).await?;

    // The trainer attests both present (a signed receipt) and starts the class exam.
    sign_in(session, &class.trainer, "2468", false).await?;
    current(session, "王老师").await?;
    session
        .wait_for("[data-testid=trainer-class-open]", WAIT, |_| true)
        .await?;
    for person in [&class.ana, &class.bo] {
        click(
            session,
            &format!("[data-testid=attend][data-person-id='{person}']"),
        )
        .await?;
    }
    click(session, "[data-testid=attest]").await?;
    session
        .wait_for("[data-testid=notice]", WAIT, |t| t.contains("2 名学员在场"))
        .await
        .context("the attestation was not recorded")?;
    // Each learner's study on this kiosk is shown to the trainer, offline, before any sync.
    for person in [&class.ana, &class.bo] {
        let row = format!("[data-testid=here-row][data-person-id='{person}']");
        session
            .wait_for(&row, WAIT, |t| !t.is_empty())
            .await
            .with_context(|| format!("no progress row for {person}"))?;
    }
    // Assign the next lesson to the class, due in a week (a signed receipt, shown at once).
    choose(
        session,
        "assign-work",
        &format!("{COURSE}/1/lesson:lockout-tagout"),
    )
    .await?;
    click(session, "[data-testid=assign-submit]").await?;
    session
        .wait_for("[data-testid=notice]", WAIT, |t| t.contains("已布置"))
        .await
        .context("the assignment was not recorded")?;
    choose(session, "exam-choice", &format!("{COURSE}/1/final")).await?;
    click(session, "[data-testid=start-class-exam]").await?;
    session
        .wait_for("[data-testid=trainer-exam-running]", WAIT, |_| true)
        .await
        .context("the class exam did not start")?;
    assert_readable(session, "trainer mode").await?;
    session
        .execute("document.querySelector('main').scrollTo(0, 0);", json!([]))
        .await?;
    screenshot(session, "32-trainer.png").await?;
    sign_out(session).await?;

    // Ana signs in and lands in the exam the trainer started; all answers right.
    sign_in(session, &class.ana, "1111", false).await?;
    click(session, "[data-testid=exam-start]").await?;
    for (item, options) in hearth_e2e::service::demo_exam_key()? {
        for o in options {
            click(session, &format!("[data-testid=exam-option-{item}-{o}]")).await?;
        }
    }
    click(session, "[data-testid=exam-submit]").await?;
    wait_attr(
        session,
        "[data-testid=exam-status]",
        "data-status",
        WAIT,
        |s| s == "waitingForGrading" || s == "graded",
    )
    .await
    .context("the exam was not recorded")?;
    sign_out(session).await?;

    // After sync, the trainer's view from the service: both credited, Ana's exam graded, the
    // attestation reported.
    sign_in(session, &class.trainer, "2468", false).await?;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        click(session, "[data-testid=fetch-across]").await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let row = |person: &str, cell: &str| {
            format!("[data-testid=across-row][data-person-id='{person}'] [data-testid={cell}]")
        };
        let ana_exams = text(session, &row(&class.ana, "across-exams")).await?;
        let ana_ms = attr(session, &row(&class.ana, "across-credited"), "data-ms").await?;
        let bo_ms = attr(session, &row(&class.bo, "across-credited"), "data-ms").await?;
        let attested = attr(session, "[data-testid=across-attestations]", "data-count").await?;
        eprintln!(
            "class view: ana {ana_ms:?} ms {ana_exams:?}, bo {bo_ms:?} ms, attestations {attested:?}"
        );
        let positive = |v: &Option<String>| v.as_deref().is_some_and(|v| ms(v) > 0);
        if ana_exams.as_deref().is_some_and(|t| t.contains("12/12"))
            && positive(&ana_ms)
            && positive(&bo_ms)
            && attested.as_deref() == Some("1")
        {
            break;
        }
        if Instant::now() > deadline {
            bail!("the class view never showed the synced results");
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    session
        .execute(
            "document.querySelector('[data-testid=progress-across]').scrollIntoView();",
            json!([]),
        )
        .await?;
    screenshot(session, "33-class-progress.png").await?;

    // The trainer exports the kiosk's receipts to a place chosen in the system's save dialog
    // (GTK's, answered on the keyboard); the service reads the file back.
    click(session, "[data-testid=export-choose]").await?;
    let target = export.to_path_buf();
    tokio::task::spawn_blocking(move || {
        native_dialog::choose(EXPORT_DIALOG, DialogKind::Save, &target)
    })
    .await??;
    session
        .wait_for("[data-testid=notice]", WAIT, |t| t.contains("导出"))
        .await
        .context("the export to the chosen file was not reported")?;
    ensure!(
        std::fs::metadata(export).map(|m| m.len()).unwrap_or(0) > 0,
        "nothing was written to {}",
        export.display()
    );
    let imported = service.admin(&["import-receipts", export.to_str().context("path")?])?;
    eprintln!("the service read the exported file: {imported}");
    Ok(())
}

/// Picks `value` in the list `testid`, as choosing the option with the mouse would.
async fn choose(session: &Session, testid: &str, value: &str) -> Result<()> {
    let css = format!("[data-testid={testid}] option[value='{value}']");
    session.wait_for(&css, WAIT, |_| true).await?;
    session
        .execute(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; s.dispatchEvent(new Event('change', {bubbles: true}));",
            json!([format!("[data-testid={testid}]"), value]),
        )
        .await?;
    Ok(())
}

/// The text of the first element matching `css` (None when there is none).
async fn text(session: &Session, css: &str) -> Result<Option<String>> {
    let v = session
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
            json!([css]),
        )
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run by make test"]
async fn a_class_on_a_kiosk_in_the_real_window() -> Result<()> {
    let app = gui::desktop_binary()?;
    let service = Service::start()?;
    let course = gui::workspace_root().join("assets/courses").join(COURSE);
    service.admin(&["publish", course.to_str().context("path")?])?;
    let (trainer, _token) = service.add_trainer("王老师", "2468")?;
    let class_id = service.admin(&["add-class", "--trainer", &trainer, "--name", "电工一班"])?;
    let ana =
        service.add_learner_in("安娜", "110101199001011234", Some(&class_id), Some("1111"))?;
    let bo = service.add_learner_in("博文", "110101199202023456", Some(&class_id), Some("2222"))?;
    let code = service.kiosk_code(&[&class_id])?;
    let tmp = tempfile::tempdir()?;
    let cards = tmp.path().join("cards.txt");
    service.admin(&[
        "issue-cards",
        "--learner",
        &bo,
        "--out",
        cards.to_str().context("path")?,
        "--format",
        "text",
    ])?;
    let bo_card = std::fs::read_to_string(&cards)?
        .lines()
        .next()
        .and_then(|l| l.split('\t').nth(2))
        .context("issue-cards wrote no card")?
        .to_owned();
    let class = Class {
        trainer,
        ana,
        bo,
        bo_card,
    };

    let mut driver = Driver::start(&tmp.path().join("data"), &tmp.path().join("driver.log"))?;
    let started = Instant::now();
    let session = driver.launch(&app).await?;
    let export = tmp.path().join("usb").join("kiosk-receipts.hrb");
    std::fs::create_dir_all(export.parent().context("parent")?)?;
    let outcome = drive(&session, &service, &class, &code, &export).await;
    eprintln!("driven in {:?}", started.elapsed());
    finish(&mut driver, session, outcome, "hearth-gui-kiosk").await
}
