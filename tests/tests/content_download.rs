//! Course downloads end to end: the real `hearth-server` binary publishes a demo course from
//! assets/, and a hearth-core client downloads it through a fault proxy that closes the
//! connection at random byte offsets. The download resumes to content identical to a clean
//! download, without fetching completed parts again; a flipped byte in the cache is caught
//! before it is served; a budget that is too small refuses before any file is fetched.
//!
//! `HEARTH_CONTENT_SEED` changes the seed of the cut offsets.

use std::path::Path;

use hearth_core::content::{DownloadOptions, HttpSource, MediaCache, Progress};
use hearth_core::sync::http::enroll;
use hearth_core::{Enrollment, Env, Hearth};
use hearth_e2e::proxy::{Direction, Fault, FaultProxy};
use hearth_e2e::service::Service;
use hearth_protocol::wire::CatalogEntry;
use hearth_protocol::{ContentHash, CourseId};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COURSE: &str = "electrician-safety";

/// Writes a course source folder in the `hearth-server publish` format
/// (docs/course-source-format.md): two lessons, a video, an audio file and a picture of random
/// bytes (so no file compresses and every byte counts), a practice quiz and an exam.
fn course_source(dir: &Path) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut noise = |len: usize| -> Vec<u8> { (0..len).map(|_| rng.random()).collect() };
    std::fs::create_dir_all(dir.join("lessons")).unwrap();
    std::fs::create_dir_all(dir.join("media")).unwrap();
    std::fs::write(
        dir.join("lessons/l1.md"),
        "# 触电的危险\n\n![标志](media/sign.png)\n\n检修前先断电、验电、挂牌上锁。\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("lessons/l2.md"),
        "# 触电急救\n\n先断电，再施救。\n",
    )
    .unwrap();
    std::fs::write(dir.join("media/intro.mp4"), noise(600_000)).unwrap();
    std::fs::write(dir.join("media/narration.mp3"), noise(300_000)).unwrap();
    std::fs::write(dir.join("media/sign.png"), noise(50_000)).unwrap();
    std::fs::write(
        dir.join("course.toml"),
        format!(
            r#"id = "{COURSE}"
version = 1
title = "电工安全基础"
description = "停电挂牌上锁、防护用品、触电急救。"

[durations]
"media/intro.mp4" = 60
"media/narration.mp3" = 45

[[lessons]]
id = "l1"
title = "第一课：触电的危险"
body = "lessons/l1.md"
media = ["media/intro.mp4", "media/sign.png"]
credit_minutes = 10

[[lessons]]
id = "l2"
title = "第二课：触电急救"
body = "lessons/l2.md"
media = ["media/narration.mp3"]
credit_minutes = 10

[[quizzes]]
id = "l1-quiz"
lesson = "l1"
  [[quizzes.items]]
  id = "q1"
  prompt = "检修电路前应先做什么？"
  options = ["断开电源", "戴手表", "洒水降温"]
  correct = [0]

[[exams]]
id = "final"
title = "结业考试"
duration_minutes = 20
pass_percent = 60
  [[exams.items]]
  id = "e1"
  prompt = "我国家用电压是多少伏？"
  options = ["36", "220", "380"]
  correct = [1]
"#
        ),
    )
    .unwrap();
}

/// A service with the course published.
fn service() -> Service {
    let svc = Service::start().unwrap();
    let src = tempfile::tempdir().unwrap();
    course_source(src.path());
    let out = svc
        .admin(&["publish", src.path().to_str().unwrap()])
        .unwrap();
    assert!(out.starts_with("published"), "{out}");
    svc
}

/// A new enrolled device; its content source goes to `content_url` (the proxy).
async fn device(svc: &Service, dir: &Path, content_url: &str) -> (Hearth, HttpSource) {
    let mut h = Hearth::open(dir, Env::system()).unwrap();
    let code = svc.enrollment_code(None).unwrap();
    let answer = enroll(&svc.url(), &code, h.device().public_key, None, 0)
        .await
        .unwrap();
    h.apply_enrollment(&answer.enrollment, &answer.roster, answer.anchor)
        .unwrap();
    let via = Enrollment {
        service_url: content_url.to_owned(),
        ..answer.enrollment
    };
    (h, HttpSource::new(&via).unwrap())
}

async fn entry(h: &mut Hearth, src: &HttpSource) -> CatalogEntry {
    let refresh = h.refresh_catalog(src).await.unwrap();
    refresh
        .catalog
        .courses
        .into_iter()
        .find(|c| c.course.as_str() == COURSE)
        .expect("the published course is in the catalog")
}

fn ignore(_: &Progress) {}

fn no_retries() -> DownloadOptions {
    DownloadOptions {
        retries: 0,
        ..DownloadOptions::default()
    }
}

/// Every cached file (name, bytes), sorted.
fn media_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(MediaCache::new(dir).dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_downloads_resume_to_identical_content_without_refetching() {
    let svc = service();
    let id = CourseId::new(COURSE).unwrap();

    // A clean download straight from the service: the reference.
    let clean_dir = tempfile::tempdir().unwrap();
    let (mut clean, direct) = device(&svc, clean_dir.path(), &svc.url()).await;
    let e = entry(&mut clean, &direct).await;
    assert!(
        !clean.refresh_catalog(&direct).await.unwrap().changed,
        "the second catalog fetch is a 304"
    );
    clean
        .download_course(&direct, &id, e.version, no_retries(), &mut ignore)
        .await
        .unwrap();
    let reference = media_files(clean_dir.path());
    let reference_bytes: u64 = reference.iter().map(|(_, b)| b.len() as u64).sum();
    assert_eq!(reference_bytes, e.total_size);

    let seed = std::env::var("HEARTH_CONTENT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_251);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for round in 0..3 {
        let proxy = FaultProxy::start(svc.addr()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (mut h, src) = device(&svc, dir.path(), &format!("http://{}", proxy.addr())).await;
        // Up to 400 KB into a connection: within the larger media files of the course.
        let cuts: Vec<u64> = (0..8).map(|_| rng.random_range(0..400_000)).collect();
        proxy.push_faults(cuts.iter().map(|&after| Fault::Close {
            dir: Direction::Down,
            after,
        }));
        let mut attempts = 0u64;
        let mut last = Progress::default();
        let mut report = |p: &Progress| last = *p;
        loop {
            attempts += 1;
            match h
                .download_course(&src, &id, e.version, no_retries(), &mut report)
                .await
            {
                Ok(_) => break,
                Err(err) => {
                    assert_eq!(err.code(), "content.network", "round {round}: {err}");
                    assert!(h.installed_courses().unwrap().is_empty(), "half-installed");
                    assert!(attempts < 40, "round {round}: no progress, cuts {cuts:?}");
                }
            }
        }
        assert_eq!(last.bytes_done, e.total_size);
        assert_eq!(
            media_files(dir.path()),
            reference,
            "round {round}: identical"
        );
        let down = proxy.stats().bytes_down;
        // Every attempt fetches the manifest again and pays headers; the files themselves
        // are fetched once.
        let allowance = attempts * (e.manifest_size + 8 * 1024) + 64 * 1024;
        println!(
            "round {round}: {attempts} attempts, {down} bytes down for a {} byte package",
            e.total_size
        );
        assert!(
            down <= e.total_size + allowance,
            "round {round}: {down} bytes down for {} (cuts {cuts:?})",
            e.total_size
        );
        assert!(attempts > 1, "round {round}: the faults were applied");
        proxy.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_is_caught_and_only_that_file_is_fetched_again() {
    let svc = service();
    let id = CourseId::new(COURSE).unwrap();
    let proxy = FaultProxy::start(svc.addr()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut h, src) = device(&svc, dir.path(), &format!("http://{}", proxy.addr())).await;
    let e = entry(&mut h, &src).await;
    h.download_course(&src, &id, e.version, no_retries(), &mut ignore)
        .await
        .unwrap();
    // The largest media file of the course.
    let (name, bytes) = media_files(dir.path())
        .into_iter()
        .max_by_key(|(_, b)| b.len())
        .unwrap();
    let sha: ContentHash = name.parse().unwrap();
    let path = h.media_path(&sha).unwrap();
    let mut flipped = bytes.clone();
    let at = flipped.len() / 2;
    flipped[at] ^= 0x20;
    std::fs::write(&path, &flipped).unwrap();
    let err = h.media_path(&sha).unwrap_err();
    assert_eq!(err.code(), "content.corrupt_media");
    assert!(!path.exists());

    let before = proxy.stats().bytes_down;
    h.download_course(&src, &id, e.version, no_retries(), &mut ignore)
        .await
        .unwrap();
    let refetched = proxy.stats().bytes_down - before;
    assert!(
        refetched >= bytes.len() as u64
            && refetched < bytes.len() as u64 + e.manifest_size + 16 * 1024,
        "{refetched} bytes fetched to repair one {} byte file",
        bytes.len()
    );
    assert_eq!(std::fs::read(h.media_path(&sha).unwrap()).unwrap(), bytes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_too_small_refuses_before_any_file_and_shows_nothing() {
    let svc = service();
    let id = CourseId::new(COURSE).unwrap();
    let proxy = FaultProxy::start(svc.addr()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (mut h, src) = device(&svc, dir.path(), &format!("http://{}", proxy.addr())).await;
    let e = entry(&mut h, &src).await;
    h.set_content_budget(e.total_size / 2).unwrap();
    let before = proxy.stats().bytes_down;
    let err = h
        .download_course(&src, &id, e.version, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.budget_exceeded", "{err}");
    assert!(err.to_string().contains(&e.total_size.to_string()), "{err}");
    // Only the manifest came down.
    let down = proxy.stats().bytes_down - before;
    assert!(down < e.manifest_size + 4 * 1024, "{down} bytes down");
    assert!(h.installed_courses().unwrap().is_empty());
    assert!(media_files(dir.path()).is_empty());
    assert_eq!(h.content_usage().unwrap(), 0);
}
