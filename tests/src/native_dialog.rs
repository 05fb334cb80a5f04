//! The system's file dialog (GTK's file chooser) answered the way a person does it, with the
//! keyboard, through `xdotool` on the test's X display: WebDriver reaches only the web view, and
//! the dialog is a native window outside it.
//!
//! The dialog is found by its title (the one the app gave it), focused, and the path typed into
//! its location field (Ctrl+L in an open dialog; the name field of a save dialog takes a whole
//! path too), then Enter.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// Whether the dialog opens a file or saves one: where the typed path goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    Open,
    Save,
}

fn xdotool(args: &[&str]) -> Result<String> {
    let out = Command::new("xdotool")
        .args(args)
        .output()
        .context("xdotool could not be run (apt package xdotool)")?;
    ensure!(
        out.status.success(),
        "xdotool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The X window id of the only visible window titled exactly `title`, waiting up to `wait` for
/// it to appear.
pub fn wait_for_window(title: &str, wait: Duration) -> Result<String> {
    let pattern = format!("^{}$", regex_escape(title));
    let start = Instant::now();
    loop {
        // `search` exits 1 when nothing matches yet.
        let found = Command::new("xdotool")
            .args(["search", "--onlyvisible", "--name", &pattern])
            .output()
            .context("xdotool could not be run (apt package xdotool)")?;
        let ids: Vec<String> = String::from_utf8_lossy(&found.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
        if let Some(id) = ids.last() {
            return Ok(id.clone());
        }
        if start.elapsed() > wait {
            bail!("no window titled {title:?} appeared within {wait:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Answers the dialog titled `title` with `path`, as typed on the keyboard.
pub fn choose(title: &str, kind: DialogKind, path: &Path) -> Result<()> {
    let window = wait_for_window(title, Duration::from_secs(30))?;
    let path = path.to_str().context("a path the keyboard can type")?;
    // No window manager runs under Xvfb: focus the dialog directly.
    xdotool(&["windowfocus", "--sync", &window])?;
    // GTK builds the dialog's widgets after it maps; give it a moment to take keys.
    std::thread::sleep(Duration::from_millis(500));
    match kind {
        DialogKind::Open => xdotool(&["key", "--window", &window, "ctrl+l"])?,
        DialogKind::Save => xdotool(&["key", "--window", &window, "ctrl+a"])?,
    };
    xdotool(&["type", "--delay", "30", path])?;
    std::thread::sleep(Duration::from_millis(300));
    xdotool(&["key", "Return"])?;
    // The dialog closes once it has its answer.
    let start = Instant::now();
    while wait_for_window(title, Duration::ZERO).is_ok() {
        if start.elapsed() > Duration::from_secs(15) {
            bail!("the dialog {title:?} did not close after the path was entered");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// `text` with the characters xdotool's (POSIX extended) regular expressions treat specially
/// escaped.
fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.^$|?*+()[]{}".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::regex_escape;

    #[test]
    fn titles_are_matched_literally() {
        assert_eq!(regex_escape("选择要导入的课程包"), "选择要导入的课程包");
        assert_eq!(regex_escape("a.b (1)"), r"a\.b \(1\)");
    }
}
