//! Course content benchmark over loopback, against plain copies of the same bytes.
//!
//! A 200 MB course (four 50 MB videos of random bytes, so nothing compresses, plus lesson texts)
//! is generated at bench time in a temporary folder and published to the release
//! `hearth-server` binary, which serves it on 127.0.0.1. Then:
//!
//! - (a) **download**: hearth-core's downloader (`Hearth::download_course` over `HttpSource`:
//!   manifest verified, every file hashed as it is written, fsynced, renamed, the course
//!   installed; up to three files at a time) against a plain HTTP copy of the same files from
//!   the same server with the same client library (reqwest streaming GET of each file into a
//!   file, one after the other, as `curl -o` would). Because the downloader fetches several
//!   files at once, the plain copy is also measured three files at a time, and that ratio is
//!   printed too: it says how much of the download's speed is its concurrency;
//! - (b) **import**: `hearth import-course` of the package written by `hearth-server
//!   export-package` (release CLI: signature, limits, every file hashed and fsynced, installed)
//!   against `cp` of the same package file. The import's peak memory (VmHWM) is reported too:
//!   the package is streamed, never held.
//!
//! Hearth makes what it writes durable (each file fsynced before the course is installed), a
//! plain copy does not: its bytes may still be only in the page cache when it ends. So each
//! plain sequential copy is measured twice, as is and with an fsync of what it wrote, and both
//! ratios are printed; the target is against the copy as is. Each side runs `HEARTH_BENCH_ROUNDS`
//! times (default 8, alternating) after one warm-up run; on a shared machine a single round of
//! the plain copy varies by 2x, and eight rounds give a stable best for both sides. The table
//! shows the best run of each. Ratios are throughput of Hearth / throughput of the plain copy
//! (target for the download: at least 0.8).
//!
//! Run: `cargo bench -p hearth-e2e --bench content` (part of `make bench`).
//! `HEARTH_BENCH_CONTENT_MB` sets the course size (default 200).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use hearth_core::content::{ContentSource, DownloadOptions, HttpSource};
use hearth_core::sync::http::enroll;
use hearth_core::{Enrollment, Env, Hearth};
use hearth_e2e::service::{Service, binaries, run_measured};
use hearth_protocol::CourseId;
use rand::{RngCore, SeedableRng};

const COURSE: &str = "bench-course";
const VIDEOS: usize = 4;
/// Files hearth-core's downloader fetches at once (`LANES` in crates/core/src/content/mod.rs).
const LANES: usize = 3;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Writes the course source; returns its total size in bytes.
fn course_source(dir: &Path, total_mb: u64) -> u64 {
    std::fs::create_dir_all(dir.join("lessons")).unwrap();
    std::fs::create_dir_all(dir.join("media")).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(200);
    let per = (total_mb * 1_000_000) / VIDEOS as u64;
    let mut total = 0;
    let mut toml = format!("id = \"{COURSE}\"\nversion = 1\ntitle = \"基准课程\"\n");
    let mut buf = vec![0u8; 1 << 20];
    for i in 0..VIDEOS {
        let text = format!("# 第{i}课\n\n视频课。\n");
        std::fs::write(dir.join(format!("lessons/l{i}.md")), &text).unwrap();
        total += text.len() as u64;
        let mut f = std::fs::File::create(dir.join(format!("media/v{i}.mp4"))).unwrap();
        let mut left = per;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            rng.fill_bytes(&mut buf[..n]);
            f.write_all(&buf[..n]).unwrap();
            left -= n as u64;
        }
        total += per;
        toml += &format!(
            "\n[[lessons]]\nid = \"l{i}\"\ntitle = \"第{i}课\"\nbody = \"lessons/l{i}.md\"\nmedia = [\"media/v{i}.mp4\"]\ncredit_minutes = 10\n"
        );
    }
    std::fs::write(dir.join("course.toml"), toml).unwrap();
    total
}

async fn enrolled(svc: &Service, dir: &Path) -> (Hearth, Enrollment) {
    let mut h = Hearth::open(dir, Env::system()).unwrap();
    let code = svc.enrollment_code(None).unwrap();
    let answer = enroll(&svc.url(), &code, h.device().public_key, None, 0)
        .await
        .unwrap();
    h.apply_enrollment(&answer.enrollment, &answer.roster, answer.anchor)
        .unwrap();
    (h, answer.enrollment)
}

/// Hearth's download of the course into a fresh device; seconds.
async fn hearth_download(svc: &Service) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, e) = enrolled(svc, dir.path()).await;
    let src = HttpSource::new(&e).unwrap();
    let id = CourseId::new(COURSE).unwrap();
    let started = Instant::now();
    h.download_course(&src, &id, 1, DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    started.elapsed().as_secs_f64()
}

/// A plain streaming GET of one file into a file (with `durable`, fsynced at its end, as the
/// downloader does); bytes.
async fn get_into(
    client: &reqwest::Client,
    url: &str,
    credential: &str,
    to: &Path,
    durable: bool,
) -> u64 {
    let mut resp = client
        .get(url)
        .bearer_auth(credential)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let mut out = std::io::BufWriter::new(std::fs::File::create(to).unwrap());
    let mut bytes = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        out.write_all(&chunk).unwrap();
        bytes += chunk.len() as u64;
    }
    let file = out.into_inner().unwrap();
    if durable {
        file.sync_all().unwrap();
    }
    bytes
}

/// A plain streaming GET of each file of the course into a file, one after the other, as
/// `curl -o` would (with `durable`, each file fsynced at its end); seconds and bytes.
async fn plain_download(svc: &Service, files: &[String], durable: bool) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (_, e) = enrolled(svc, dir.path()).await;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut bytes = 0;
    for (i, sha) in files.iter().enumerate() {
        let url = format!("{}/v1/files/{sha}", svc.url());
        let to = dir.path().join(i.to_string());
        bytes += get_into(&client, &url, &e.credential, &to, durable).await;
    }
    (started.elapsed().as_secs_f64(), bytes)
}

/// The same plain GETs (not fsynced), [`LANES`] files at a time, each lane a task on its own
/// connection: the plain copy given the concurrency the downloader uses; seconds and bytes.
async fn plain_download_parallel(svc: &Service, files: &[String]) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let (_, e) = enrolled(svc, dir.path()).await;
    let client = reqwest::Client::new();
    let next = Arc::new(AtomicUsize::new(0));
    let urls: Arc<Vec<String>> = Arc::new(
        files
            .iter()
            .map(|sha| format!("{}/v1/files/{sha}", svc.url()))
            .collect(),
    );
    let started = Instant::now();
    let lanes: Vec<_> = (0..LANES)
        .map(|_| {
            let (client, next, urls) = (client.clone(), next.clone(), urls.clone());
            let (credential, dir) = (e.credential.clone(), dir.path().to_owned());
            tokio::spawn(async move {
                let mut bytes = 0;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(url) = urls.get(i) else {
                        return bytes;
                    };
                    let to = dir.join(i.to_string());
                    bytes += get_into(&client, url, &credential, &to, false).await;
                }
            })
        })
        .collect();
    let mut bytes = 0;
    for lane in lanes {
        bytes += lane.await.unwrap();
    }
    (started.elapsed().as_secs_f64(), bytes)
}

/// `hearth import-course` of the package into a fresh enrolled device; seconds and peak kB.
async fn hearth_import(svc: &Service, package: &Path) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    drop(enrolled(svc, dir.path()).await);
    let package = package.to_str().expect("a UTF-8 temporary path");
    run_measured(&binaries().client, dir.path(), &["import-course", package])
        .expect("hearth import-course")
}

/// `cp` of the package file to a new file in the same file system (with `durable`, then the
/// copy fsynced, as the import does with what it writes); seconds.
fn cp(package: &Path, scratch: &Path, durable: bool) -> f64 {
    let to: PathBuf = scratch.join("copy.hcp");
    let _ = std::fs::remove_file(&to);
    let started = Instant::now();
    let status = Command::new("cp").arg(package).arg(&to).status().unwrap();
    assert!(status.success());
    if durable {
        std::fs::File::open(&to).unwrap().sync_all().unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    std::fs::remove_file(&to).unwrap();
    secs
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

fn best(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; nothing else is expected.
    let total_mb = env_num("HEARTH_BENCH_CONTENT_MB", 200);
    let rounds = env_num("HEARTH_BENCH_ROUNDS", 8).max(1);
    let scratch = tempfile::tempdir().unwrap();
    let src = scratch.path().join("source");
    let total = course_source(&src, total_mb);

    let svc = Service::start().unwrap();
    let out = svc.admin(&["publish", src.to_str().unwrap()]).unwrap();
    assert!(out.starts_with("published"), "{out}");
    std::fs::remove_dir_all(&src).unwrap();
    let package = scratch.path().join("course.hcp");
    svc.admin(&["export-package", COURSE, "--out", package.to_str().unwrap()])
        .unwrap();
    let package_bytes = std::fs::metadata(&package).unwrap().len();

    // The files of the course, from the manifest of a device that downloaded it (warm-up).
    let warm = tempfile::tempdir().unwrap();
    let (mut h, e) = enrolled(&svc, warm.path()).await;
    let source = HttpSource::new(&e).unwrap();
    let id = CourseId::new(COURSE).unwrap();
    let summary = h
        .download_course(&source, &id, 1, DownloadOptions::default(), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(summary.total_size, total);
    let signed = source.manifest(&id, 1).await.unwrap();
    let manifest = hearth_protocol::manifest::verify(&signed, &e.publisher_keys).unwrap();
    let files: Vec<String> = manifest
        .manifest
        .files
        .iter()
        .map(|f| f.sha256.to_hex())
        .collect();
    drop(h);
    drop(warm);
    plain_download(&svc, &files, false).await;
    cp(&package, scratch.path(), false);

    let (mut down, mut plain, mut import, mut copy) = (vec![], vec![], vec![], vec![]);
    let (mut plain_sync, mut copy_sync, mut plain_par) = (vec![], vec![], vec![]);
    let mut plain_bytes = 0;
    let mut peak_kb = 0;
    for _ in 0..rounds {
        down.push(hearth_download(&svc).await);
        let (s, b) = plain_download(&svc, &files, false).await;
        plain.push(s);
        plain_bytes = b;
        plain_sync.push(plain_download(&svc, &files, true).await.0);
        let (s, b) = plain_download_parallel(&svc, &files).await;
        assert_eq!(b, total, "the parallel plain copy fetched the same bytes");
        plain_par.push(s);
        let (s, kb) = hearth_import(&svc, &package).await;
        import.push(s);
        peak_kb = peak_kb.max(kb);
        copy.push(cp(&package, scratch.path(), false));
        copy_sync.push(cp(&package, scratch.path(), true));
    }
    assert_eq!(plain_bytes, total, "the plain copy fetched the same bytes");
    let (d, p, i, c) = (best(&down), best(&plain), best(&import), best(&copy));
    let (ps, cs, pp) = (best(&plain_sync), best(&copy_sync), best(&plain_par));
    println!();
    println!(
        "course content, {:.0} MB course ({} files, {} bytes in all; package file {} bytes), best of {rounds}:",
        total as f64 / 1e6,
        files.len(),
        total,
        package_bytes
    );
    println!();
    println!("| what | bytes | time | MB/s |");
    println!("|---|---|---|---|");
    println!(
        "| hearth-core download (verify, hash, fsync, install) | {total} | {d:.2} s | {:.0} |",
        mbps(total, d)
    );
    println!(
        "| plain HTTP GET of the same files into files | {plain_bytes} | {p:.2} s | {:.0} |",
        mbps(plain_bytes, p)
    );
    println!(
        "| plain HTTP GET of the same files into files, each fsynced | {plain_bytes} | {ps:.2} s | {:.0} |",
        mbps(plain_bytes, ps)
    );
    println!(
        "| plain HTTP GET of the same files into files, {LANES} at a time | {total} | {pp:.2} s | {:.0} |",
        mbps(total, pp)
    );
    println!(
        "| **download ratio** (target ≥ 0.8): against the plain GET / the fsynced GET / the GET {LANES} at a time | | | **{:.2}** / **{:.2}** / {:.2} |",
        mbps(total, d) / mbps(plain_bytes, p),
        mbps(total, d) / mbps(plain_bytes, ps),
        mbps(total, d) / mbps(total, pp)
    );
    println!(
        "| `hearth import-course` of the package (verify, hash, fsync, install) | {package_bytes} | {i:.2} s | {:.0} |",
        mbps(package_bytes, i)
    );
    println!(
        "| `cp` of the same package file | {package_bytes} | {c:.2} s | {:.0} |",
        mbps(package_bytes, c)
    );
    println!(
        "| `cp` of the same package file, then fsync of the copy | {package_bytes} | {cs:.2} s | {:.0} |",
        mbps(package_bytes, cs)
    );
    println!(
        "| **import ratio**: against `cp` / `cp` + fsync | | | **{:.2}** / **{:.2}** |",
        c / i,
        cs / i
    );
    println!();
    println!(
        "import peak memory (VmHWM of the hearth process): {:.1} MB",
        peak_kb as f64 / 1024.0
    );
    println!(
        "all runs, seconds: download {down:.2?}, plain {plain:.2?}, plain+fsync {plain_sync:.2?}, plain {LANES} at a time {plain_par:.2?}, import {import:.2?}, cp {copy:.2?}, cp+fsync {copy_sync:.2?}"
    );
}
