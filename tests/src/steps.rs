//! What a user does in the app's window, as WebDriver steps shared by the GUI tests: click,
//! type, wait for an attribute, take a screenshot, study a lesson.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::json;

use crate::gui;
use crate::webdriver::{Session, png_size};

/// How long a step waits for what it expects on screen.
pub const WAIT: Duration = Duration::from_secs(20);

/// WebKitWebDriver takes a screenshot at the page's next paint; on a page where nothing changes,
/// that paint may not come. A 1-pixel, nearly transparent mark in a corner flickers for a few
/// seconds so there always is one (invisible in the picture).
pub const NUDGE_PAINT: &str = "let m = document.getElementById('wd-paint'); if (!m) { m = document.createElement('div'); m.id = 'wd-paint'; m.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none;z-index:99'; document.body.appendChild(m); } let i = 0; const t = setInterval(() => { m.style.background = 'rgba(0,0,0,' + (i % 2 ? 0.01 : 0.02) + ')'; if (++i > 40) { clearInterval(t); m.remove(); } }, 100);";

/// Saves a screenshot of the window to docs/screenshots/`name` after letting the page paint. A
/// screenshot that does not come within 20 s is skipped with a note (WebKitWebDriver sometimes
/// waits for a paint that never comes); one that comes must be a real window's size.
pub async fn screenshot(session: &Session, name: &str) -> Result<()> {
    tokio::time::sleep(Duration::from_millis(600)).await;
    session.execute(NUDGE_PAINT, serde_json::json!([])).await?;
    let state = session
        .execute(
            "return [document.visibilityState, document.hasFocus()].join(' ');",
            json!([]),
        )
        .await?;
    let png = match tokio::time::timeout(Duration::from_secs(20), session.screenshot()).await {
        Ok(png) => png?,
        Err(_) => {
            eprintln!("screenshot {name} timed out (page {state}); going on without it");
            return Ok(());
        }
    };
    let (w, h) = png_size(&png).context("screenshot has no PNG header")?;
    ensure!(w >= 600 && h >= 400, "screenshot {name} is only {w}x{h}");
    let path = gui::save_screenshot(name, &png)?;
    eprintln!("screenshot: {} ({w}x{h})", path.display());
    Ok(())
}

/// Clicks the first element matching `css`, waiting for it to appear.
pub async fn click(session: &Session, css: &str) -> Result<()> {
    let (el, _) = session
        .wait_for(css, WAIT, |_| true)
        .await
        .with_context(|| format!("no {css} to click"))?;
    session.click(&el).await
}

/// An attribute of the first element matching `css` (None when there is none).
pub async fn attr(session: &Session, css: &str, name: &str) -> Result<Option<String>> {
    let v = session
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            json!([css, name]),
        )
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

/// Waits until an attribute satisfies `ok`; returns its value.
pub async fn wait_attr(
    session: &Session,
    css: &str,
    name: &str,
    timeout: Duration,
    ok: impl Fn(&str) -> bool,
) -> Result<String> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    loop {
        let v = attr(session, css, name).await?;
        if let Some(v) = &v
            && ok(v)
        {
            return Ok(v.clone());
        }
        if v.is_some() {
            last = v;
        }
        if Instant::now() > deadline {
            bail!("waited {timeout:?} for {css}[{name}]; last value {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Empties the field matching `css`, then types `value` into it like a user.
pub async fn set_value(session: &Session, css: &str, value: &str) -> Result<()> {
    let (el, _) = session.wait_for(css, WAIT, |_| true).await?;
    // Clear what is there (the address field has a default), then type like a user.
    session
        .execute(
            "const e = document.querySelector(arguments[0]); e.value = ''; e.dispatchEvent(new Event('input', {bubbles: true}));",
            json!([css]),
        )
        .await?;
    session.send_keys(&el, value).await
}

/// Studies the open lesson for about `secs` seconds, with a click every second as a learner
/// scrolling and reading would give input.
pub async fn study(session: &Session, secs: u64) -> Result<()> {
    for _ in 0..secs {
        click(session, "[data-testid=lesson-title]").await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Opens `lesson` from the course page, studies it for about `secs` seconds and waits until
/// the player counts active time; returns the milliseconds counted.
pub async fn study_lesson(session: &Session, lesson: &str, secs: u64) -> Result<u64> {
    click(session, &format!("[data-testid=lesson-{lesson}]")).await?;
    session
        .wait_for("[data-testid=lesson-title]", WAIT, |t| !t.is_empty())
        .await?;
    study(session, secs).await?;
    let counted = wait_attr(
        session,
        "[data-testid=study-counted]",
        "data-ms",
        WAIT,
        |v| ms(v) > 0,
    )
    .await
    .with_context(|| format!("no active study time counted in {lesson}"))?;
    Ok(ms(&counted))
}

/// Presses 立即同步 (sync now) until the bar says everything is synced, as a learner would when
/// the service has just come back: up to six presses, 10 s apart.
pub async fn sync_until_done(session: &Session) -> Result<()> {
    for _ in 0..6 {
        click(session, "[data-testid=sync-now]").await?;
        if session
            .wait_for("[data-testid=sync-pending]", Duration::from_secs(10), |t| {
                t.contains("已全部同步")
            })
            .await
            .is_ok()
        {
            return Ok(());
        }
    }
    let state = attr(session, "[data-testid=sync-bar]", "data-state").await?;
    bail!("the sync never completed (sync bar: {state:?})")
}

/// An attribute parsed as a number (0 when it is not one).
pub fn ms(v: &str) -> u64 {
    v.parse().unwrap_or(0)
}

/// The screen sizes the app must be readable at: a cheap 1366×768 laptop and a 1920×1080 kiosk.
pub const SCREEN_SIZES: [(u32, u32); 2] = [(1366, 768), (1920, 1080)];

/// What is wrong with the layout as shown now: the page scrolls sideways, a control sticks out
/// of the window or is squeezed below a touch target's height, or the header or the sync bar is
/// out of view. Empty when the screen is readable.
const LAYOUT_PROBLEMS: &str = r#"
const w = window.innerWidth, h = window.innerHeight, out = [];
if (document.documentElement.scrollWidth > w + 1) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${w}`);
for (const e of document.querySelectorAll('button, input, select, a')) {
  const r = e.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  const name = e.dataset.testid || e.textContent.trim().slice(0, 20) || e.tagName;
  if (r.left < -1 || r.right > w + 1) out.push(`${name} outside the window: ${Math.round(r.left)}..${Math.round(r.right)} of ${w}`);
  if (e.type !== 'checkbox' && e.type !== 'radio' && r.height < 40) out.push(`${name} is ${Math.round(r.height)}px high`);
}
for (const sel of ['header', '[data-testid=sync-bar]']) {
  const e = document.querySelector(sel);
  if (!e) { out.push(`${sel} missing`); continue; }
  const r = e.getBoundingClientRect();
  if (r.top < 0 || r.bottom > h) out.push(`${sel} out of view: ${Math.round(r.top)}..${Math.round(r.bottom)} of ${h}`);
}
return out;
"#;

/// Fails when the screen as shown now has a layout problem (see `LAYOUT_PROBLEMS`).
pub async fn assert_readable(session: &Session, screen: &str) -> Result<()> {
    let problems = session.execute(LAYOUT_PROBLEMS, json!([])).await?;
    let problems: Vec<String> = serde_json::from_value(problems)?;
    let (w, h) = session.window_size().await?;
    ensure!(
        problems.is_empty(),
        "{screen} at {w}x{h} is not readable: {problems:#?}"
    );
    eprintln!("layout ok: {screen} at {w}x{h}");
    Ok(())
}

/// Shows the current screen at each of [`SCREEN_SIZES`] and fails on any layout problem; the
/// window gets its size back afterwards. Saves `<name>-1366.png` when `name` is given.
pub async fn check_layouts(session: &Session, screen: &str, name: Option<&str>) -> Result<()> {
    let before = session.window_size().await?;
    for (w, h) in SCREEN_SIZES {
        let got = session.set_window_size(w, h).await?;
        ensure!(
            got.0 >= u64::from(w) - 2 && got.1 >= u64::from(h) - 80,
            "the window did not take {w}x{h}: {got:?}"
        );
        // Let the layout settle (Svelte and WebKit reflow on resize).
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_readable(session, screen).await?;
        if let Some(name) = name
            && w == 1366
        {
            screenshot(session, &format!("{name}-1366.png")).await?;
        }
    }
    if before.0 > 0 && before.1 > 0 {
        session
            .set_window_size(before.0 as u32, before.1 as u32)
            .await?;
    }
    Ok(())
}

/// Ends a driven run: on failure saves a screenshot to the temp folder as `name`-failure.png
/// and prints the driver's and app's output; then closes the session (which quits the app) and
/// stops the driver. Returns the run's outcome first, then the close's.
pub async fn finish(
    driver: &mut gui::Driver,
    session: Session,
    outcome: Result<()>,
    name: &str,
) -> Result<()> {
    if outcome.is_err() {
        if let Ok(png) = session.screenshot().await {
            let path = std::env::temp_dir().join(format!("{name}-failure.png"));
            let _ = std::fs::write(&path, png);
            eprintln!("failure screenshot: {}", path.display());
        }
        eprintln!("driver and app output:\n{}", driver.log_text());
    }
    let closed = session.close().await;
    driver.stop();
    outcome?;
    closed.context("closing the session")
}
