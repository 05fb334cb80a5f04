//! The real `hearth-server` binary as a test fixture: an organisation with learners, enrollment
//! codes, and a service process on a loopback port that tests can kill and restart. Everything
//! it starts is stopped when it is dropped.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The workspace's target folder, found from this test binary's own path
/// (`target/<profile>/deps/<test>`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .to_owned()
}

/// Builds the binaries the end-to-end tests run (once per test process), so `cargo test -p
/// hearth-e2e` works on its own; with `HEARTH_E2E_PREBUILT` set (by `make`, whose test build
/// has just built them, see scripts/workspace-test.sh) it only checks that they are there.
pub fn binaries() -> &'static Binaries {
    static BUILT: OnceLock<Binaries> = OnceLock::new();
    BUILT.get_or_init(|| {
        if !crate::workspace_build::prebuilt() {
            let release = bin_dir().ends_with("release");
            let mut cmd = crate::workspace_build::cargo_build();
            cmd.args(["--quiet", "-p", "hearth-server", "-p", "hearth-cli"]);
            if release {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("running cargo build");
            assert!(status.success(), "building hearth-server and hearth failed");
        }
        let built = Binaries {
            server: bin_dir().join(exe("hearth-server")),
            client: bin_dir().join(exe("hearth")),
        };
        for path in [&built.server, &built.client] {
            assert!(
                path.is_file(),
                "{} is missing: build it first",
                path.display()
            );
        }
        built
    })
}

/// The console's built pages in the workspace (`console/dist`, made by `make console`).
pub fn console_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/dist")
}

fn exe(name: &str) -> String {
    format!("{name}{}", std::env::consts::EXE_SUFFIX)
}

#[derive(Debug)]
pub struct Binaries {
    pub server: PathBuf,
    pub client: PathBuf,
}

/// A service data folder and, while running, its process.
#[derive(Debug)]
pub struct Service {
    data: tempfile::TempDir,
    addr: SocketAddr,
    child: Option<Child>,
    pub org: String,
}

impl Service {
    /// A fresh service with one organisation, on a free loopback port, started.
    pub fn start() -> Result<Self> {
        let data = tempfile::tempdir()?;
        // Take a free port, then let it go for the service (the window for a clash is tiny and
        // this machine runs nothing else on loopback ports in this range).
        let addr = StdListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut svc = Self {
            data,
            addr,
            child: None,
            org: String::new(),
        };
        svc.org = svc.admin(&["create-org", "城关镇职业技能培训中心"])?;
        svc.restart()?;
        Ok(svc)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    /// Runs an administrative command against the data folder and returns its trimmed output.
    pub fn admin(&self, args: &[&str]) -> Result<String> {
        let out = Command::new(&binaries().server)
            .arg("--data")
            .arg(self.data.path())
            .args(args)
            .stderr(Stdio::piped())
            .output()
            .context("running hearth-server")?;
        if !out.status.success() {
            bail!(
                "hearth-server {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }

    /// Adds a learner to the organisation; returns their id.
    pub fn add_learner(&self, name: &str, national_id: &str) -> Result<String> {
        self.add_learner_in(name, national_id, None, None)
    }

    /// Adds a learner, in a class and with a kiosk PIN when given; returns their id.
    pub fn add_learner_in(
        &self,
        name: &str,
        national_id: &str,
        class: Option<&str>,
        pin: Option<&str>,
    ) -> Result<String> {
        let org = self.org.clone();
        let mut args = vec![
            "add-learner",
            "--org",
            &org,
            "--name",
            name,
            "--national-id",
            national_id,
        ];
        if let Some(c) = class {
            args.extend(["--class", c]);
        }
        if let Some(p) = pin {
            args.extend(["--pin", p]);
        }
        self.admin(&args)
    }

    /// Adds a trainer with a kiosk PIN; returns their user id and API token.
    pub fn add_trainer(&self, name: &str, pin: &str) -> Result<(String, String)> {
        let org = self.org.clone();
        let out = self.admin(&["add-trainer", "--org", &org, "--name", name, "--pin", pin])?;
        // The answer has one `label value` line per field: `user ID`, `token T`.
        let field = |label: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
                .map(|v| v.trim().to_owned())
                .with_context(|| format!("no {label} in {out:?}"))
        };
        Ok((field("user")?, field("token")?))
    }

    /// A one-time enrollment code, for a learner's own device or (None) a kiosk.
    pub fn enrollment_code(&self, learner: Option<&str>) -> Result<String> {
        let org = self.org.clone();
        let mut args = vec!["issue-code", "--org", &org];
        if let Some(l) = learner {
            args.extend(["--learner", l]);
        }
        self.admin(&args)
    }

    /// A one-time enrollment code for a kiosk serving `classes` (`issue-code --class …`).
    pub fn kiosk_code(&self, classes: &[&str]) -> Result<String> {
        let org = self.org.clone();
        let mut args = vec!["issue-code", "--org", &org];
        for c in classes {
            args.extend(["--class", c]);
        }
        self.admin(&args)
    }

    /// The running service's process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the service at once (SIGKILL: no graceful shutdown).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// (Re)starts the service on its port and waits until it answers.
    pub fn restart(&mut self) -> Result<()> {
        self.kill();
        let child = Command::new(&binaries().server)
            .arg("--data")
            .arg(self.data.path())
            .args(["serve", "--listen", &self.addr.to_string()])
            // The console's built pages (make console), wherever the test runs from.
            .env("HEARTH_CONSOLE_DIR", console_dir())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting hearth-server")?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(self.addr).is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!("hearth-server exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("hearth-server did not start listening on {}", self.addr)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs the `hearth` CLI on a data folder and returns its standard output; fails with its error
/// output when it exits non-zero.
pub fn hearth_cli(data: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(&binaries().client)
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .context("running hearth")?;
    if !out.status.success() {
        bail!(
            "hearth {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// The answer key of the electrician-safety demo course's final exam, read from the course source
/// (`assets/courses/electrician-safety/exam/final.key.toml`), in item order: tests that must pass
/// the exam answer with it, so the key lives in one place.
pub fn demo_exam_key() -> Result<Vec<(String, Vec<u8>)>> {
    let path =
        crate::gui::workspace_root().join("assets/courses/electrician-safety/exam/final.key.toml");
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    let doc: toml::Table = text.parse().context("the exam key is not TOML")?;
    let answers = doc
        .get("answers")
        .and_then(toml::Value::as_table)
        .context("the exam key has no [answers]")?;
    answers
        .iter()
        .map(|(item, v)| {
            let choices = v
                .as_array()
                .context("an answer is a list of option indices")?
                .iter()
                .map(|c| {
                    c.as_integer()
                        .and_then(|c| u8::try_from(c).ok())
                        .context("an option index is a small integer")
                })
                .collect::<Result<Vec<u8>>>()?;
            Ok((item.clone(), choices))
        })
        .collect()
}

/// The peak resident memory (VmHWM, kB) of a running process, from /proc.
pub fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs `exe --data DATA ARGS...` to completion (for benchmarks); returns its run time in seconds
/// and its peak memory in kB, sampled from /proc every millisecond while it runs (the
/// high-water mark only grows, so the last sample is the peak up to a millisecond before exit).
pub fn run_measured(exe: &Path, data: &Path, args: &[&str]) -> Result<(f64, u64)> {
    let started = Instant::now();
    let mut child = Command::new(exe)
        .arg("--data")
        .arg(data)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    let mut peak = 0;
    let status = loop {
        if let Some(kb) = peak_rss_kb(child.id()) {
            peak = peak.max(kb);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let secs = started.elapsed().as_secs_f64();
    let mut err = String::new();
    if let Some(e) = child.stderr.as_mut() {
        std::io::Read::read_to_string(e, &mut err)?;
    }
    if !status.success() {
        bail!("{} {args:?}: {err}", exe.display());
    }
    Ok((secs, peak))
}

/// Writes a one-lesson course source (`cert-mini`: one minute of text study, a one-item exam
/// whose answer is option 1, occupation 6-31-01-03 电工 level 5) under `dir` and returns its
/// folder. A learner completes it in about a minute of real study, so the certificate tests
/// can earn a real certificate from the real service.
pub fn certificate_course(dir: &Path) -> Result<PathBuf> {
    let root = dir.join("cert-mini");
    std::fs::create_dir_all(root.join("lessons"))?;
    std::fs::write(
        root.join("course.toml"),
        r#"id = "cert-mini"
version = 1
title = "安全用电常识"
language = "zh-CN"
occupation = "6-31-01-03"
occupation_level = 5

[[lessons]]
id = "l1"
title = "第一课：认识触电"
body = "lessons/l1.md"
credit_minutes = 1

[[exams]]
id = "final"
title = "结业考试"
duration_minutes = 20
pass_percent = 60

  [[exams.items]]
  id = "e1"
  prompt = "我国居民用电的额定电压是多少伏？"
  options = ["36", "220", "380"]
  correct = [1]
"#,
    )?;
    std::fs::write(
        root.join("lessons/l1.md"),
        "# 认识触电\n\n检修电路前先断开电源，验电后再动手。\n",
    )?;
    Ok(root)
}
