//! Course downloads and the course cache against an in-memory source: planning, verification,
//! resume, budget, corruption, removal and the catalog's conditional fetch.

use std::sync::{Arc, Mutex};

use hearth_core::content::{DownloadOptions, MediaCache, MemorySource, Progress};
use hearth_core::{Enrollment, Env, Hearth};
use hearth_protocol::manifest::{Exam, ExamItem, FileEntry, Lesson, Manifest, Quiz, QuizItem};
use hearth_protocol::wire::{Catalog, CatalogEntry};
use hearth_protocol::{ContentHash, CourseId, DeviceId, ItemId, LessonId, PublicKey, TimeAnchor};
use rand::{Rng, SeedableRng};
use ring::signature::{Ed25519KeyPair, KeyPair};

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

fn pk(k: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(k.public_key().as_ref()).unwrap()
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random()).collect()
}

/// An enrolled device whose pinned publisher is `key(1)`.
fn device(dir: &std::path::Path) -> Hearth {
    let mut h = Hearth::open(dir, Env::system()).unwrap();
    let anchor_key = key(9);
    let enrollment = Enrollment {
        service_url: "http://127.0.0.1:1".into(),
        credential: "hd1_test".into(),
        credential_expires_ms: i64::MAX,
        org_id: "org".into(),
        org_name: "培训中心".into(),
        owner: None,
        anchor_key: pk(&anchor_key),
        publisher_keys: vec![pk(&key(1))],
        enrolled_ms: 1,
    };
    let anchor = TimeAnchor::issue(
        &anchor_key,
        DeviceId::for_key(&h.device().public_key),
        1_790_000_000_000,
    );
    h.apply_enrollment(&enrollment, &[], anchor).unwrap();
    h
}

struct Course {
    id: CourseId,
    version: u32,
    video: Vec<u8>,
    shared: Vec<u8>,
    body: String,
}

/// Publishes a course into the source: one lesson text, a video of `video_len` bytes unique to
/// this course, a picture shared by every course, a quiz and an exam.
fn publish(src: &MemorySource, signer: &Ed25519KeyPair, course: &str, video_len: usize) -> Course {
    let id = CourseId::new(course).unwrap();
    let body = format!("# {course}\n\n断电后再检修。\n");
    let video = noise(video_len as u64 ^ 0x5eed, video_len);
    let shared = noise(7, 40_000);
    let entry = |path: &str, bytes: &[u8], media_type: &str| FileEntry {
        path: path.into(),
        sha256: ContentHash::of(bytes),
        size: bytes.len() as u64,
        media_type: media_type.into(),
        duration_ms: None,
    };
    let files = vec![
        entry("lessons/l1.md", body.as_bytes(), "text/markdown"),
        entry("media/intro.mp4", &video, "video/mp4"),
        entry("media/sign.png", &shared, "image/png"),
    ];
    let l1 = LessonId::new("l1").unwrap();
    let m = Manifest {
        still_valid: Vec::new(),
        checks: Vec::new(),
        course: id.clone(),
        version: 1,
        title: format!("课程 {course}"),
        description: "安全基础".into(),
        language: "zh-CN".into(),
        published_ms: 1,
        credit_ms: None,
        occupation: None,
        occupation_level: None,
        lessons: vec![Lesson {
            id: l1.clone(),
            title: "第一课".into(),
            body: "lessons/l1.md".into(),
            media: vec!["media/intro.mp4".into(), "media/sign.png".into()],
            credit_ms: 600_000,
        }],
        quizzes: vec![Quiz {
            id: "q1".parse().unwrap(),
            lesson: l1,
            items: vec![QuizItem {
                id: ItemId::new("i1").unwrap(),
                prompt: "检修前要做什么？".into(),
                options: vec!["断电".into(), "唱歌".into()],
                correct: vec![0],
            }],
        }],
        exams: vec![Exam {
            id: "final".parse().unwrap(),
            title: "结业考试".into(),
            duration_min: 30,
            pass_percent: 60,
            max_attempts: None,
            items: vec![ExamItem {
                id: ItemId::new("e1").unwrap(),
                prompt: "验电用什么？".into(),
                options: vec!["验电笔".into(), "手指".into()],
                multiple: false,
                points: 10,
            }],
        }],
        files,
    };
    src.add_manifest(&id, 1, m.sign(signer).unwrap());
    src.add_file(body.clone().into_bytes());
    src.add_file(video.clone());
    src.add_file(shared.clone());
    Course {
        id,
        version: 1,
        video,
        shared,
        body,
    }
}

fn no_retries() -> DownloadOptions {
    DownloadOptions {
        retries: 0,
        ..DownloadOptions::default()
    }
}

fn ignore(_: &Progress) {}

#[tokio::test]
async fn a_download_installs_the_course_and_the_cache_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 300_000);
    let seen = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let log = seen.clone();
    let mut report = move |p: &Progress| log.lock().unwrap().push(*p);
    let summary = h
        .download_course(&src, &c.id, 1, DownloadOptions::default(), &mut report)
        .await
        .unwrap();
    let total = (c.body.len() + c.video.len() + c.shared.len()) as u64;
    assert_eq!(summary.total_size, total);
    assert_eq!(summary.lessons.len(), 1);
    assert_eq!(h.installed_courses().unwrap(), vec![summary]);

    let seen = seen.lock().unwrap().clone();
    let last = seen.last().unwrap();
    assert_eq!((last.bytes_done, last.bytes_total), (total, total));
    assert_eq!((last.files_done, last.files_total), (3, 3));
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));

    let l1 = LessonId::new("l1").unwrap();
    let lesson = h.lesson(&c.id, 1, &l1).unwrap();
    assert_eq!(lesson.body, c.body);
    assert_eq!(lesson.body_type, "text/markdown");
    assert_eq!(lesson.media.len(), 2);
    let video = &lesson.media[0];
    assert_eq!(
        std::fs::read(h.media_path(&video.sha256).unwrap()).unwrap(),
        c.video
    );

    let quiz = h.quiz_items(&c.id, 1, &l1).unwrap();
    assert_eq!(quiz.len(), 1);
    assert_eq!(quiz[0].correct, vec![0]);
    let exams = h.exams(&c.id, 1).unwrap();
    assert_eq!(exams[0].items[0].points, 10);
    // No answer key for exams anywhere in what the device keeps for the item.
    let json = serde_json::to_string(&exams).unwrap();
    assert!(!json.contains("correct"), "{json}");

    // A second download is a no-op that fetches no file.
    let before = src.stats().file_requests;
    h.download_course(&src, &c.id, 1, DownloadOptions::default(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(src.stats().file_requests, before);
    assert!(
        !MediaCache::new(dir.path())
            .partial_path(&ContentHash::of(&c.video))
            .exists()
    );
}

#[tokio::test]
async fn cuts_at_random_offsets_resume_without_fetching_any_byte_twice() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let mut h = device(dir.path());
        let src = MemorySource::new();
        let c = publish(
            &src,
            &key(1),
            "construction-site-safety",
            500_000 + round * 977,
        );
        let cuts: Vec<u64> = (0..6).map(|_| rng.random_range(0..120_000)).collect();
        src.push_cuts(cuts.clone());
        let mut failures = 0;
        loop {
            match h
                .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
                .await
            {
                Ok(_) => break,
                Err(e) => {
                    assert_eq!(e.code(), "content.network", "{e}");
                    assert!(
                        h.installed_courses().unwrap().is_empty(),
                        "visible half-done"
                    );
                    failures += 1;
                    assert!(failures <= cuts.len());
                }
            }
        }
        assert!(failures > 0);
        let total = (c.body.len() + c.video.len() + c.shared.len()) as u64;
        assert_eq!(
            src.stats().file_bytes,
            total,
            "round {round} cuts {cuts:?}: every byte fetched exactly once"
        );
        let sha = ContentHash::of(&c.video);
        assert_eq!(std::fs::read(h.media_path(&sha).unwrap()).unwrap(), c.video);
    }
}

#[tokio::test]
async fn built_in_retries_resume_within_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "elderly-care-basics", 200_000);
    src.push_cuts([10, 70_000, 3]);
    let opts = DownloadOptions {
        retries: 3,
        retry_pause: std::time::Duration::from_millis(1),
    };
    h.download_course(&src, &c.id, 1, opts, &mut ignore)
        .await
        .unwrap();
    let total = (c.body.len() + c.video.len() + c.shared.len()) as u64;
    assert_eq!(src.stats().file_bytes, total);
}

#[tokio::test]
async fn a_source_that_ignores_ranges_still_gives_the_right_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 100_000);
    src.push_cuts([u64::MAX, 50_000]); // the text whole, the video cut at 50 000
    assert!(
        h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
            .await
            .is_err()
    );
    src.set_ignore_ranges(true);
    h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap();
    // The video came again from byte 0: the kept prefix was dropped, not doubled.
    let total = (c.body.len() + c.video.len() + c.shared.len()) as u64;
    assert_eq!(src.stats().file_bytes, total + 50_000);
    let sha = ContentHash::of(&c.video);
    assert_eq!(std::fs::read(h.media_path(&sha).unwrap()).unwrap(), c.video);
}

#[tokio::test]
async fn an_unknown_publisher_is_refused_before_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(2), "electrician-safety", 10_000);
    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "manifest.unknown_publisher");
    assert_eq!(src.stats().file_requests, 0);
    assert!(h.installed_courses().unwrap().is_empty());
}

#[tokio::test]
async fn a_manifest_for_another_course_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 10_000);
    let other = CourseId::new("elderly-care-basics").unwrap();
    // The service answers the request for `other` with the signed manifest of `c`.
    let signed = {
        let s2 = MemorySource::new();
        publish(&s2, &key(1), "electrician-safety", 10_000);
        // Re-read through the public trait.
        use hearth_core::content::ContentSource;
        s2.manifest(&c.id, 1).await.unwrap()
    };
    src.add_manifest(&other, 1, signed);
    let err = h
        .download_course(&src, &other, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.manifest_mismatch");
}

#[tokio::test]
async fn a_device_that_is_not_enrolled_trusts_no_publisher() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 10_000);
    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.not_enrolled");
}

#[tokio::test]
async fn the_budget_is_checked_before_any_byte_is_fetched() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 300_000);
    let total = (c.body.len() + c.video.len() + c.shared.len()) as u64;
    h.set_content_budget(total - 1).unwrap();
    assert_eq!(h.content_budget().unwrap(), total - 1);
    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.budget_exceeded");
    match err {
        hearth_core::CoreError::BudgetExceeded { needed, available } => {
            assert_eq!((needed, available), (total, total - 1));
        }
        other => panic!("{other}"),
    }
    assert_eq!(src.stats().file_requests, 0);
    assert_eq!(src.stats().file_bytes, 0);
    assert!(h.installed_courses().unwrap().is_empty());
    assert_eq!(h.content_usage().unwrap(), 0);

    // Exactly enough room: it fits.
    h.set_content_budget(total).unwrap();
    h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(h.content_usage().unwrap(), total);
}

#[tokio::test]
async fn wrong_bytes_from_the_source_are_refused_and_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 50_000);
    let sha = ContentHash::of(&c.video);
    let mut evil = c.video.clone();
    evil[12_345] ^= 0x40;
    src.add_file_as(sha, evil);
    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.file_mismatch");
    let media = MediaCache::new(dir.path());
    assert!(!media.partial_path(&sha).exists());
    assert!(!media.path(&sha).exists());
    assert!(h.installed_courses().unwrap().is_empty());

    // Too long a file is refused as soon as it overruns.
    let mut long = c.video.clone();
    long.push(0);
    src.add_file_as(sha, long);
    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.file_mismatch");
    assert!(h.installed_courses().unwrap().is_empty());
}

#[tokio::test]
async fn a_damaged_partial_file_is_caught_by_hashing_the_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 80_000);
    let sha = ContentHash::of(&c.video);
    src.push_cuts([u64::MAX, 30_000]); // the body text whole, then the video cut at 30 000
    assert!(
        h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
            .await
            .is_err()
    );
    let media = MediaCache::new(dir.path());
    let part = media.partial_path(&sha);
    let mut bytes = std::fs::read(&part).unwrap();
    assert_eq!(bytes.len(), 30_000);
    bytes[100] ^= 1;
    std::fs::write(&part, &bytes).unwrap();
    let plan = media.plan(&[FileEntry {
        path: "media/intro.mp4".into(),
        sha256: sha,
        size: c.video.len() as u64,
        media_type: "video/mp4".into(),
        duration_ms: None,
    }]);
    let plan = plan.unwrap();
    assert_eq!(plan.partial_bytes, 30_000);
    assert_eq!(plan.needed_bytes, c.video.len() as u64 - 30_000);

    let err = h
        .download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.file_mismatch");
    assert!(!part.exists(), "a bad partial download is discarded");
    h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap();
    assert_eq!(std::fs::read(media.path(&sha)).unwrap(), c.video);
}

#[tokio::test]
async fn a_flipped_byte_in_the_cache_is_caught_before_it_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 120_000);
    h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap();
    let sha = ContentHash::of(&c.video);
    let path = h.media_path(&sha).unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[99_999] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let err = h.media_path(&sha).unwrap_err();
    assert_eq!(err.code(), "content.corrupt_media");
    assert!(!path.exists(), "the damaged file is removed");
    assert_eq!(
        h.media_path(&sha).unwrap_err().code(),
        "content.media_missing"
    );

    // Downloading the course again repairs it, fetching only that file.
    let before = src.stats();
    h.download_course(&src, &c.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap();
    let after = src.stats();
    assert_eq!(after.file_requests - before.file_requests, 1);
    assert_eq!(after.file_bytes - before.file_bytes, c.video.len() as u64);
    assert_eq!(std::fs::read(h.media_path(&sha).unwrap()).unwrap(), c.video);

    // A hash no installed course uses is never served, even if such a file exists.
    let stray = ContentHash::of(b"stray");
    std::fs::write(MediaCache::new(dir.path()).path(&stray), b"stray").unwrap();
    assert_eq!(
        h.media_path(&stray).unwrap_err().code(),
        "content.media_missing"
    );
}

#[tokio::test]
async fn removing_a_course_keeps_files_another_course_uses() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let a = publish(&src, &key(1), "electrician-safety", 60_000);
    let b = publish(&src, &key(1), "elderly-care-basics", 70_000);
    for c in [&a, &b] {
        h.download_course(&src, &c.id, c.version, no_retries(), &mut ignore)
            .await
            .unwrap();
    }
    // The shared picture was fetched once.
    let total =
        (a.body.len() + a.video.len() + a.shared.len() + b.body.len() + b.video.len()) as u64;
    assert_eq!(src.stats().file_bytes, total);
    assert_eq!(h.installed_courses().unwrap().len(), 2);

    let removed = h.remove_course(&a.id, 1).unwrap();
    assert_eq!(removed.files, 2);
    assert_eq!(removed.bytes, (a.body.len() + a.video.len()) as u64);
    let shared = ContentHash::of(&a.shared);
    assert_eq!(
        std::fs::read(h.media_path(&shared).unwrap()).unwrap(),
        b.shared
    );
    assert_eq!(
        h.media_path(&ContentHash::of(&a.video)).unwrap_err().code(),
        "content.media_missing"
    );
    assert_eq!(
        h.lesson(&a.id, 1, &LessonId::new("l1").unwrap())
            .unwrap_err()
            .code(),
        "content.not_installed"
    );
    assert_eq!(
        h.remove_course(&a.id, 1).unwrap_err().code(),
        "content.not_installed"
    );

    h.remove_course(&b.id, 1).unwrap();
    assert!(h.installed_courses().unwrap().is_empty());
    assert_eq!(h.content_usage().unwrap(), 0);
}

#[tokio::test]
async fn the_catalog_is_fetched_conditionally_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let catalog = Catalog {
        courses: vec![CatalogEntry {
            course: CourseId::new("electrician-safety").unwrap(),
            version: 1,
            title: "用电安全".into(),
            manifest_sha256: "00".repeat(32),
            manifest_size: 1,
            total_size: 2,
            published_ms: 3,
            occupation: None,
            occupation_name: None,
            occupation_level: None,
        }],
    };
    src.set_catalog(catalog.clone(), "\"v1\"");
    assert_eq!(h.cached_catalog().unwrap(), None);
    let first = h.refresh_catalog(&src).await.unwrap();
    assert!(first.changed);
    assert_eq!(first.catalog, catalog);
    let second = h.refresh_catalog(&src).await.unwrap();
    assert!(!second.changed, "the stored ETag was sent and 304 answered");
    assert_eq!(second.catalog, catalog);
    assert_eq!(h.cached_catalog().unwrap(), Some(catalog.clone()));

    let mut newer = catalog.clone();
    newer.courses[0].version = 2;
    src.set_catalog(newer.clone(), "\"v2\"");
    let third = h.refresh_catalog(&src).await.unwrap();
    assert!(third.changed);
    assert_eq!(third.catalog, newer);
    assert_eq!(src.stats().catalog_requests, 3);
}

#[tokio::test]
async fn a_manifest_that_gives_a_cached_file_a_wrong_size_is_refused_and_the_file_kept() {
    use hearth_core::content::ContentSource;
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let a = publish(&src, &key(1), "electrician-safety", 60_000);
    h.download_course(&src, &a.id, a.version, no_retries(), &mut ignore)
        .await
        .unwrap();

    // Another course, validly signed, gives the picture A uses one byte less.
    let other = MemorySource::new();
    let b = publish(&other, &key(1), "elderly-care-basics", 70_000);
    let bytes = other.manifest(&b.id, 1).await.unwrap();
    let mut m = hearth_protocol::manifest::verify(&bytes, &[pk(&key(1))])
        .unwrap()
        .manifest;
    let shared = ContentHash::of(&a.shared);
    for f in &mut m.files {
        if f.sha256 == shared {
            f.size -= 1;
        }
    }
    src.add_manifest(&b.id, 1, m.sign(&key(1)).unwrap());
    src.add_file(b.body.clone().into_bytes());
    src.add_file(b.video.clone());
    let err = h
        .download_course(&src, &b.id, 1, no_retries(), &mut ignore)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "content.size_conflict");
    assert_eq!(
        std::fs::read(h.media_path(&shared).unwrap()).unwrap(),
        a.shared,
        "the installed course's file was kept"
    );
    assert_eq!(h.installed_courses().unwrap().len(), 1);
}

#[tokio::test]
async fn installed_courses_carry_the_occupation_the_catalog_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = device(dir.path());
    let src = MemorySource::new();
    let c = publish(&src, &key(1), "electrician-safety", 20_000);
    let other = publish(&src, &key(1), "elderly-care", 20_000);
    for course in [&c.id, &other.id] {
        h.download_course(&src, course, 1, no_retries(), &mut ignore)
            .await
            .unwrap();
    }
    // Before any catalog: no occupation known.
    assert!(
        h.installed_courses()
            .unwrap()
            .iter()
            .all(|s| s.occupation.is_none())
    );
    let entry = |course: &CourseId, occupation: Option<(&str, &str, u8)>| CatalogEntry {
        course: course.clone(),
        version: 1,
        title: "课".into(),
        manifest_sha256: "00".repeat(32),
        manifest_size: 1,
        total_size: 2,
        published_ms: 3,
        occupation: occupation.map(|o| o.0.to_owned()),
        occupation_name: occupation.map(|o| o.1.to_owned()),
        occupation_level: occupation.map(|o| o.2),
    };
    src.set_catalog(
        Catalog {
            courses: vec![
                entry(&c.id, Some(("6-31-01-03", "电工", 5))),
                entry(&other.id, None),
            ],
        },
        "\"v1\"",
    );
    h.refresh_catalog(&src).await.unwrap();
    let installed = h.installed_courses().unwrap();
    let of = |id: &CourseId| installed.iter().find(|s| s.course == *id).unwrap();
    assert_eq!(
        (
            of(&c.id).occupation.as_deref(),
            of(&c.id).occupation_name.as_deref(),
            of(&c.id).occupation_level
        ),
        (Some("6-31-01-03"), Some("电工"), Some(5))
    );
    assert_eq!(of(&other.id).occupation, None);
    // The library reads the kept catalog, so it shows the occupation offline too.
    drop(h);
    let h = device(dir.path());
    assert_eq!(
        h.installed_courses().unwrap()[1].occupation.as_deref(),
        Some("6-31-01-03")
    );
}
