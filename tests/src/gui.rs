//! The desktop app as a test fixture: tauri-driver (which starts WebKitWebDriver, which starts
//! `hearth-desktop`) on free loopback ports, with the app's data in a folder the test owns.
//! Everything started here runs in one process group that is stopped when the fixture is dropped,
//! also when the test fails. Linux only (WebKitWebDriver); run under Xvfb by `make test`.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::webdriver::Session;

/// The environment variable through which the app finds its data folder.
pub const DATA_DIR_ENV: &str = "HEARTH_DATA_DIR";
/// The exact start-up failure that is retried once (see shared/notes/tauri-on-debian.md).
pub const GTK_INIT_FAILURE: &str = "Failed to initialize GTK";
/// What tauri-driver prints when WebKitWebDriver is not accepting connections yet; retried once.
const NATIVE_DRIVER_NOT_UP: &str = "client error (Connect)";

/// The workspace root (this crate is `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The `hearth-desktop` binary: `HEARTH_DESKTOP_BIN` if set, else the one in this test's target
/// folder, built now with cargo (a no-op when it is up to date) unless `HEARTH_E2E_PREBUILT` says
/// make's test build has just built it.
pub fn desktop_binary() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("HEARTH_DESKTOP_BIN") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary is not in target/<profile>/deps")?;
    if !crate::workspace_build::prebuilt() {
        let mut cmd = crate::workspace_build::cargo_build();
        cmd.current_dir(workspace_root())
            .args(["--quiet", "-p", "hearth-desktop"]);
        if profile_dir.ends_with("release") {
            cmd.arg("--release");
        }
        let status = cmd
            .status()
            .context("running cargo build -p hearth-desktop")?;
        if !status.success() {
            bail!("cargo build -p hearth-desktop failed (is ui/dist built? `make ui`)");
        }
    }
    let path = profile_dir.join("hearth-desktop");
    if !path.is_file() {
        bail!("{} is missing: build it first", path.display());
    }
    Ok(path)
}

/// Finds a program on PATH or in ~/.cargo/bin.
fn which(program: &str) -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin"));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// tauri-driver and everything it starts.
#[derive(Debug)]
pub struct Driver {
    child: Option<Child>,
    url: String,
    log: PathBuf,
    data_dir: PathBuf,
}

impl Driver {
    /// Starts tauri-driver with the app's data folder set to `data_dir`; its output (and the
    /// app's, which inherits it) goes to `log`.
    pub fn start(data_dir: &Path, log: &Path) -> Result<Driver> {
        Self::start_with_env(data_dir, log, &[])
    }

    /// Like [`start`](Self::start), with more environment for the app (tauri-driver passes its
    /// own environment on), e.g. a short presence-check limit.
    pub fn start_with_env(data_dir: &Path, log: &Path, env: &[(&str, &str)]) -> Result<Driver> {
        let tauri_driver = which("tauri-driver").context(
            "tauri-driver not found: `cargo install tauri-driver --locked` (make test does)",
        )?;
        let native = which("WebKitWebDriver").context(
            "WebKitWebDriver not found: apt-get install webkit2gtk-driver (make test does)",
        )?;
        if std::env::var_os("DISPLAY").is_none() {
            bail!("no DISPLAY: run under xvfb-run (make test does)");
        }
        let (port, native_port) = (free_port()?, free_port()?);
        let out = File::create(log)?;
        let child = Command::new(&tauri_driver)
            .args([
                "--port",
                &port.to_string(),
                "--native-port",
                &native_port.to_string(),
            ])
            .arg("--native-driver")
            .arg(&native)
            .env(DATA_DIR_ENV, data_dir)
            // WebKit keeps the web view's storage (the UI's language choice) under the XDG
            // folders: give every run fresh ones, next to its data folder.
            .env("XDG_DATA_HOME", data_dir.join("xdg-data"))
            .env("XDG_CACHE_HOME", data_dir.join("xdg-cache"))
            .env("XDG_CONFIG_HOME", data_dir.join("xdg-config"))
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Its own process group, so that the driver, WebKitWebDriver and the app can be
            // stopped together.
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", tauri_driver.display()))?;
        let mut driver = Driver {
            child: Some(child),
            url: format!("http://127.0.0.1:{port}"),
            log: log.to_owned(),
            data_dir: data_dir.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = driver
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "tauri-driver exited ({status}) at start:\n{}",
                    driver.log_text()
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "tauri-driver did not listen on {port} within 20 s:\n{}",
                    driver.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(driver)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Everything the driver and the app printed so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts a session (launches the app). Retries once when, and only when, the app died
    /// with GTK failing to initialize — a rare start-up race of GTK under Xvfb — or tauri-driver
    /// could not reach WebKitWebDriver yet (it starts it in the background and does not wait).
    pub async fn launch(&self, app: &Path) -> Result<Session> {
        let before = self.log_text().len();
        match Session::start(&self.url, app).await {
            Ok(session) => Ok(session),
            Err(first) => {
                let output = self.log_text();
                let new = output.get(before..).unwrap_or("");
                let Some(why) = [GTK_INIT_FAILURE, NATIVE_DRIVER_NOT_UP]
                    .into_iter()
                    .find(|w| new.contains(w))
                else {
                    return Err(first.context(format!("launching the app; driver log:\n{output}")));
                };
                eprintln!("the launch failed with `{why}`; retrying it once");
                tokio::time::sleep(Duration::from_millis(500)).await;
                Session::start(&self.url, app)
                    .await
                    .with_context(|| format!("second launch; driver log:\n{}", self.log_text()))
            }
        }
    }

    /// Processes that run with this fixture's data folder: the app and its helpers.
    pub fn app_processes(&self) -> Vec<u32> {
        processes_with_env(DATA_DIR_ENV, &self.data_dir.to_string_lossy())
    }

    /// Stops the driver's process group and anything left with our data folder; idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        signal("TERM", &group);
        let deadline = Instant::now() + Duration::from_secs(5);
        while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("KILL", &group);
        let _ = child.wait();
        // Anything that left the group (WebKit helpers may) but still has our data folder.
        for pid in self.app_processes() {
            signal("KILL", &pid.to_string());
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends a signal with kill(1): to a process, or to a group as `-PGID`.
fn signal(name: &str, target: &str) {
    let _ = Command::new("kill")
        .args(["-s", name, "--", target])
        .stderr(Stdio::null())
        .status();
}

/// Ids of the processes whose environment has `key=value` (Linux /proc).
pub fn processes_with_env(key: &str, value: &str) -> Vec<u32> {
    let needle = format!("{key}={value}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

/// Saves a screenshot under docs/screenshots/ (written whole, then renamed into place).
pub fn save_screenshot(name: &str, png: &[u8]) -> Result<PathBuf> {
    let dir = workspace_root().join("docs/screenshots");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, png)?;
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
