//! Two `hearth-server serve` processes on one PostgreSQL database and one shared data folder
//! (issue #13), for the two-process test (tests/pg_instances.rs) and the benchmarks.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::service::binaries;

/// The PostgreSQL server of this run (`HEARTH_TEST_DATABASE`, or `HEARTH_BENCH_DATABASE`).
pub fn database() -> Option<String> {
    ["HEARTH_TEST_DATABASE", "HEARTH_BENCH_DATABASE"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

/// A fresh schema of its own in the run's database; the address that uses it.
pub fn fresh_schema(url: &str) -> String {
    let url = url.to_string();
    std::thread::spawn(move || {
        let name = format!("e2e_{}", rand::random::<u64>());
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
        format!("{url} options=-csearch_path={name}")
    })
    .join()
    .unwrap()
}

pub fn query_i64(url: &str, sql: &str) -> i64 {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        c.query_one(&sql, &[]).unwrap().get(0)
    })
    .join()
    .unwrap()
}

/// Two service processes on one database and one shared data folder.
#[derive(Debug)]
pub struct Pair {
    data: tempfile::TempDir,
    db: String,
    pub addrs: [SocketAddr; 2],
    procs: [Option<Child>; 2],
    /// The organisation created at the start.
    pub org: String,
}

impl Pair {
    /// Two processes on `db` (an address from [`fresh_schema`]), with one organisation.
    pub fn new(db: String) -> Self {
        let data = tempfile::tempdir().unwrap();
        let port = || {
            StdListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        };
        let mut p = Pair {
            data,
            db,
            addrs: [port(), port()],
            procs: [None, None],
            org: String::new(),
        };
        // The first command creates the shared key files and the schema, before any process
        // serves.
        p.org = p.admin(&["create-org", "城关镇职业技能培训中心"]);
        p.start(0);
        p.start(1);
        p
    }

    /// Runs an admin subcommand on the shared folder and database; its trimmed output.
    pub fn admin(&self, args: &[&str]) -> String {
        let out = Command::new(&binaries().server)
            .arg("--data")
            .arg(self.data.path())
            .args(["--database", &self.db])
            .args(args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "hearth-server {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// (Re)starts process `i` and waits until it answers.
    pub fn start(&mut self, i: usize) {
        self.kill(i);
        let child = Command::new(&binaries().server)
            .arg("--data")
            .arg(self.data.path())
            .args(["--database", &self.db])
            .args(["serve", "--listen", &self.addrs[i].to_string()])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.procs[i] = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if TcpStream::connect(self.addrs[i]).is_ok() {
                return;
            }
            if let Some(status) = self.procs[i]
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("hearth-server {i} exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("hearth-server {i} did not start");
    }

    /// SIGKILL: no graceful shutdown.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.procs[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.kill(0);
        self.kill(1);
    }
}

impl Pair {
    /// Process `i`'s address as a URL.
    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.addrs[i])
    }
}
