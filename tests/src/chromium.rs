//! Headless Chromium through chromedriver, both from Debian's packages (`chromium`,
//! `chromium-driver`; scripts/install-deps.sh --e2e installs them), for the console's browser
//! test. No display is needed.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::webdriver::Session;

/// Chromium's flags: headless, no sandbox (tests run as root in CI), one fixed window size.
pub const ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--window-size=1366,768",
    "--lang=zh-CN",
];

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// A running chromedriver; stopped when dropped.
#[derive(Debug)]
pub struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    /// Starts chromedriver on a free loopback port; its output goes to `log`.
    pub fn start(log: &Path) -> Result<ChromeDriver> {
        let exe = which("chromedriver").context(
            "chromedriver not found: apt-get install chromium chromium-driver (make test does)",
        )?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let out = std::fs::File::create(log)?;
        let child = Command::new(exe)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting chromedriver")?;
        let mut d = ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = d.child.try_wait()? {
                bail!(
                    "chromedriver exited ({status}) at start:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("chromedriver did not listen on {port} within 20 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(d)
    }

    /// A new headless browser session.
    pub async fn session(&self) -> Result<Session> {
        Session::start_chromium(&self.url, ARGS).await
    }

    /// A new headless browser session that saves downloads into `dir` without asking.
    pub async fn session_downloading_to(&self, dir: &Path) -> Result<Session> {
        Session::start_chromium_with_prefs(
            &self.url,
            ARGS,
            serde_json::json!({
                "download.default_directory": dir.display().to_string(),
                "download.prompt_for_download": false,
                "download.directory_upgrade": true,
            }),
        )
        .await
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
