//! Photo checkpoints in the real window (issue #17 item 2, docs/privacy.md), against the real
//! service, with WebKitGTK's fake camera (`HEARTH_FAKE_CAMERA=1`): the organisation turns photos
//! on; a learner enrolls, the consent screen shows the text whose hash is recorded, they agree,
//! and the fake camera's JPEG is taken at once and again at a random moment (every few seconds
//! here, `HEARTH_PHOTO_EVERY_MS`). On disk each photo is sealed (not a JPEG, opened only by the
//! service's key); an administrator asks for the photos, the app's next sync uploads them and
//! the service keeps them only as they match the `photo_taken` hashes of the learner's verified
//! chain. A second learner declines: no photo, Settings offers to agree later, and the app
//! syncs as usual. Needs Xvfb, tauri-driver and WebKitWebDriver: ignored by plain `cargo test`.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine as _;
use hearth_e2e::camera::FAKE_CAMERA;
use hearth_e2e::gui::{self, Driver};
use hearth_e2e::service::Service;
use hearth_e2e::steps::{WAIT, click, finish, screenshot, set_value, sync_until_done};
use hearth_e2e::webdriver::Session;
use hearth_protocol::ContentHash;
use hearth_protocol::photo;
use serde_json::{Value, json};

fn sealed_files(data: &Path, learner: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data.join("photos").join(learner))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "sealed"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

async fn enroll(session: &Session, url: &str, code: &str) -> Result<()> {
    set_value(session, "[data-testid=enroll-url]", url).await?;
    set_value(session, "[data-testid=enroll-code]", code).await?;
    click(session, "[data-testid=enroll-submit]").await?;
    // The first sync brings the photo policy; the consent screen then shows.
    session
        .wait_for("[data-testid=photo-consent-text]", WAIT, |t| {
            t.contains("拍照核验") && t.contains("Photo checkpoints")
        })
        .await
        .context("no consent screen")?;
    Ok(())
}

async fn consents(
    session: &Session,
    service: &Service,
    url: &str,
    code: &str,
    learner: &str,
    data: &Path,
    admin: &str,
) -> Result<()> {
    enroll(session, url, code).await?;
    screenshot(session, "40-photo-consent.png").await?;
    click(session, "[data-testid=photo-agree]").await?;
    // A photo at once, and one at a random moment a few seconds later.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sealed_files(data, learner).len() < 2 {
        ensure!(
            Instant::now() < deadline,
            "photos taken: {:?}",
            sealed_files(data, learner)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let secret = photo::parse_key(&std::fs::read_to_string(
        service.data_dir().join("photo.key"),
    )?)?;
    let mut hashes = Vec::new();
    for f in sealed_files(data, learner) {
        let sealed = std::fs::read(&f)?;
        ensure!(
            !sealed.starts_with(&[0xff, 0xd8]),
            "{} is a plain JPEG",
            f.display()
        );
        ensure!(
            photo::open(&[1; 32], &sealed).is_err(),
            "opened without the service key"
        );
        let jpeg = photo::open(&secret, &sealed).context("the service key opens it")?;
        ensure!(
            jpeg.starts_with(&[0xff, 0xd8, 0xff]) && jpeg.len() > 4096,
            "a real camera JPEG"
        );
        hashes.push(ContentHash::of(&jpeg).to_string());
    }
    // The receipts go up; then an administrator asks, and the next round answers.
    sync_until_done(session).await?;
    let http = reqwest::Client::new();
    let photos_url = format!("{}/console/api/learners/{learner}/photos", service.url());
    let res = http
        .post(&photos_url)
        .bearer_auth(admin)
        .json(&json!({"reason": "GUI test audit"}))
        .send()
        .await?;
    ensure!(res.status() == 201, "request: {}", res.status());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        sync_until_done(session).await?;
        let view: Value = http
            .get(&photos_url)
            .bearer_auth(admin)
            .send()
            .await?
            .json()
            .await?;
        let kept: Vec<String> = view[0]["photos"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["sha256"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if view[0]["fulfilledMs"].is_i64() {
            ensure!(
                hashes.iter().take(2).all(|h| kept.contains(h)),
                "kept {kept:?}, taken {hashes:?}"
            );
            let first = view[0]["photos"][0]["dataUrl"].as_str().unwrap_or_default();
            let jpeg = base64::engine::general_purpose::STANDARD
                .decode(first.trim_start_matches("data:image/jpeg;base64,"))?;
            ensure!(jpeg.starts_with(&[0xff, 0xd8]), "the auditor sees a JPEG");
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("the request was never answered: {view}");
        }
    }
}

async fn declines(
    session: &Session,
    url: &str,
    code: &str,
    data: &Path,
    learner: &str,
) -> Result<()> {
    enroll(session, url, code).await?;
    click(session, "[data-testid=photo-decline]").await?;
    click(session, "[data-testid=nav-settings]").await?;
    session
        .wait_for("[data-testid=photo-give]", WAIT, |_| true)
        .await
        .context("Settings offers to agree later")?;
    ensure!(
        session
            .find_all("[data-testid=photo-consent]")
            .await?
            .is_empty(),
        "asked again"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    ensure!(
        sealed_files(data, learner).is_empty(),
        "a photo of a learner who declined"
    );
    sync_until_done(session).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run by make test"]
async fn photo_checkpoints_with_consent_and_without() -> Result<()> {
    let app = gui::desktop_binary()?;
    let service = Service::start()?;
    let org = service.org.clone();
    service.admin(&["set-photos", "--org", &org, "--photos", "on"])?;
    let admin = service.admin(&["add-admin", "--org", &org, "--name", "王主任"])?;
    let admin = admin
        .lines()
        .find_map(|l| l.strip_prefix("token "))
        .context("admin token")?
        .to_owned();
    let url = service.url();
    let env = [FAKE_CAMERA, ("HEARTH_PHOTO_EVERY_MS", "3000")];
    for (name, id_no, agree) in [
        ("陈静", "110101199003071234", true),
        ("赵磊", "110101199204081234", false),
    ] {
        let learner = service.add_learner(name, id_no)?;
        let code = service.enrollment_code(Some(&learner))?;
        let tmp = tempfile::tempdir()?;
        let data = tmp.path().join("data");
        let mut driver = Driver::start_with_env(&data, &tmp.path().join("driver.log"), &env)?;
        let session = driver.launch(&app).await?;
        let outcome = if agree {
            consents(&session, &service, &url, &code, &learner, &data, &admin).await
        } else {
            declines(&session, &url, &code, &data, &learner).await
        };
        finish(&mut driver, session, outcome, "hearth-gui-photo").await?;
    }
    Ok(())
}
