//! What the core tests share: keys, and one small signed course — a lesson with a 60 s video, a
//! practice quiz of two items (one multiple choice) and a 30-minute exam of two items —
//! installed on a store from memory. The shell's mock-runtime tests use it too
//! (`src-tauri/tests/commands.rs`, through `#[path]`), so the course is written once.

#![allow(dead_code)] // each test file uses part of it

use hearth_core::content::{DownloadOptions, MemorySource, Progress};
use hearth_core::{Enrollment, Hearth, RosterPerson};
use hearth_protocol::manifest::{Exam, ExamItem, FileEntry, Lesson, Manifest, Quiz, QuizItem};
use hearth_protocol::{
    ContentHash, CourseId, DeviceId, ExamId, ItemId, LearnerId, LessonId, PublicKey, TimeAnchor,
};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A fixed Ed25519 key per seed.
pub fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

pub fn pk(k: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(k.public_key().as_ref()).unwrap()
}

/// The key that signs the test course.
pub fn publisher() -> Ed25519KeyPair {
    key(1)
}

/// The key of the test service's time anchors.
pub fn anchor_key() -> Ed25519KeyPair {
    key(9)
}

pub fn course() -> CourseId {
    CourseId::new("electrician-safety").unwrap()
}

pub fn l1() -> LessonId {
    LessonId::new("l1").unwrap()
}

pub fn exam_id() -> ExamId {
    "final".parse().unwrap()
}

pub const VIDEO: &[u8] = b"not really a video, but 60 seconds long";
pub const LESSON_BODY: &str = "# 安全用电\n\n断电后再检修。\n";

/// The test course's manifest (unsigned) with the exam's `maxAttempts`, and its files' bytes.
pub fn small_course(max_attempts: Option<u32>) -> (Manifest, Vec<Vec<u8>>) {
    let entry = |path: &str, bytes: &[u8], media_type: &str, duration_ms| FileEntry {
        path: path.into(),
        sha256: ContentHash::of(bytes),
        size: bytes.len() as u64,
        media_type: media_type.into(),
        duration_ms,
    };
    let m = Manifest {
        still_valid: Vec::new(),
        checks: Vec::new(),
        course: course(),
        version: 1,
        title: "电工安全".into(),
        description: "安全基础".into(),
        language: "zh-CN".into(),
        published_ms: 1,
        credit_ms: None,
        occupation: None,
        occupation_level: None,
        lessons: vec![Lesson {
            id: l1(),
            title: "第一课".into(),
            body: "lessons/l1.md".into(),
            media: vec!["media/intro.mp4".into()],
            credit_ms: 3_600_000,
        }],
        quizzes: vec![Quiz {
            id: "q1".parse().unwrap(),
            lesson: l1(),
            items: vec![
                QuizItem {
                    id: ItemId::new("i1").unwrap(),
                    prompt: "检修前要做什么？".into(),
                    options: vec!["断电".into(), "唱歌".into()],
                    correct: vec![0],
                },
                QuizItem {
                    id: ItemId::new("i2").unwrap(),
                    prompt: "哪些是绝缘工具？".into(),
                    options: vec!["绝缘手套".into(), "铁丝".into(), "绝缘鞋".into()],
                    correct: vec![0, 2],
                },
            ],
        }],
        exams: vec![Exam {
            id: exam_id(),
            title: "结业考试".into(),
            duration_min: 30,
            pass_percent: 60,
            max_attempts,
            items: vec![
                ExamItem {
                    id: ItemId::new("e1").unwrap(),
                    prompt: "验电用什么？".into(),
                    options: vec!["验电笔".into(), "手指".into()],
                    multiple: false,
                    points: 10,
                },
                ExamItem {
                    id: ItemId::new("e2").unwrap(),
                    prompt: "触电后先做什么？".into(),
                    options: vec!["切断电源".into(), "拉人".into()],
                    multiple: false,
                    points: 10,
                },
            ],
        }],
        files: vec![
            entry(
                "lessons/l1.md",
                LESSON_BODY.as_bytes(),
                "text/markdown",
                None,
            ),
            entry("media/intro.mp4", VIDEO, "video/mp4", Some(60_000)),
        ],
    };
    (m, vec![LESSON_BODY.as_bytes().to_vec(), VIDEO.to_vec()])
}

/// Enrolls `h` (its learner `owner`, or a kiosk when `None`) with `roster`, trusting the test
/// publisher; the anchor is issued at `t0`.
pub fn enroll(h: &mut Hearth, owner: Option<LearnerId>, roster: &[RosterPerson], t0: i64) {
    let enrollment = Enrollment {
        service_url: "http://127.0.0.1:1".into(),
        credential: "hd1_test".into(),
        credential_expires_ms: i64::MAX,
        org_id: "org".into(),
        org_name: "培训中心".into(),
        owner,
        anchor_key: pk(&anchor_key()),
        publisher_keys: vec![pk(&publisher())],
        enrolled_ms: t0,
    };
    let anchor = TimeAnchor::issue(&anchor_key(), DeviceId::for_key(&h.device().public_key), t0);
    h.apply_enrollment(&enrollment, roster, anchor).unwrap();
}

/// Installs the test course (signed by [`publisher`]) from memory; returns the video's hash.
pub async fn install_small_course(h: &mut Hearth, max_attempts: Option<u32>) -> ContentHash {
    let (m, files) = small_course(max_attempts);
    let src = MemorySource::new();
    src.add_manifest(&course(), 1, m.sign(&publisher()).unwrap());
    let mut video = ContentHash::of(VIDEO);
    for f in files {
        let hash = src.add_file(f);
        if hash == ContentHash::of(VIDEO) {
            video = hash;
        }
    }
    let mut ignore = |_: &Progress| {};
    h.download_course(&src, &course(), 1, DownloadOptions::default(), &mut ignore)
        .await
        .unwrap();
    video
}
