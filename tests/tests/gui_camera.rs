//! The webcam in the real window (issue #17, photo checkpoints): the app under Xvfb with
//! WebKitGTK's synthetic camera (`HEARTH_FAKE_CAMERA=1`), the UI's own `capturePhoto()` run in
//! the window through WebDriver. It answers a real JPEG of the asked size, twice in a row, and
//! the camera's tracks have ended when it answers.
//!
//! Not shown here: the shell's camera gate refusing a capture it did not ask for. WebKit grants
//! the mock camera, and any camera of a page under WebDriver, without asking the shell
//! (src-tauri/src/camera.rs says why and where the gate is tested).
//!
//! Needs Xvfb, tauri-driver and WebKitWebDriver, so it is ignored by plain `cargo test`;
//! `make test` runs it under one `xvfb-run` with `-- --ignored`.
#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hearth_e2e::camera::{self, FAKE_CAMERA};
use hearth_e2e::gui::{self, Driver};
use hearth_e2e::webdriver::Session;

const WAIT: Duration = Duration::from_secs(15);
/// The size capturePhoto() asks for by default, which the synthetic camera offers.
const SIZE: (u32, u32) = (640, 480);

async fn drive(session: &Session) -> Result<()> {
    // The UI is up (its first-run screen), so its camera module is loaded.
    session
        .wait_for("[data-testid=start-offline]", WAIT, |_| true)
        .await
        .context("the first-run screen never appeared")?;

    for round in 1..=2 {
        let started = Instant::now();
        let photo = camera::capture_photo(session).await?;
        let jpeg = photo
            .result
            .map_err(|code| anyhow::anyhow!("capture {round} failed: {code}"))?;
        eprintln!(
            "capture {round}: {} bytes in {:?}",
            jpeg.len(),
            started.elapsed()
        );
        ensure!(
            camera::jpeg_size(&jpeg) == Some(SIZE),
            "not a whole {SIZE:?} JPEG: size {:?}, {} bytes, starts {:02x?}",
            camera::jpeg_size(&jpeg),
            jpeg.len(),
            &jpeg[..jpeg.len().min(4)]
        );
        // A uniform 640×480 frame compresses to a few KB; the synthetic camera draws a pattern.
        ensure!(jpeg.len() > 8 * 1024, "a blank frame? {} bytes", jpeg.len());
        ensure!(
            photo.tracks_ended == Some(true),
            "the camera's tracks still live after capture {round}: {:?}",
            photo.tracks_ended
        );
        if let Ok(dir) = std::env::var("HEARTH_CAMERA_OUT") {
            std::fs::write(
                std::path::Path::new(&dir).join(format!("fake-camera-{round}.jpg")),
                &jpeg,
            )?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Xvfb + tauri-driver: run by make test"]
async fn the_window_takes_photos_from_the_fake_camera() -> Result<()> {
    let app = gui::desktop_binary()?;
    let tmp = tempfile::tempdir()?;
    let data_dir = tmp.path().join("data");
    let mut driver =
        Driver::start_with_env(&data_dir, &tmp.path().join("driver.log"), &[FAKE_CAMERA])?;

    let session = driver.launch(&app).await?;
    let outcome = drive(&session).await;
    let closed = session.close().await;
    if outcome.is_err() {
        eprintln!("driver and app output:\n{}", driver.log_text());
    }
    outcome?;
    closed.context("closing the session")?;

    let deadline = Instant::now() + Duration::from_secs(10);
    driver.stop();
    while !driver.app_processes().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = driver.app_processes();
    ensure!(left.is_empty(), "processes left running: {left:?}");
    Ok(())
}
