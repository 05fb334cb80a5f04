//! Course package files as untrusted input: a corpus of malicious and broken packages, built
//! here, each refused with its own code, leaving no course visible, no file added or changed
//! anywhere under the test's folder (data folder and "USB stick" alike) and no temporary file
//! behind. And the good path: a package imports, exports again byte for byte, and a second
//! device imports that copy to identical lessons, quizzes, exams and media.

use std::collections::BTreeMap;
use std::path::Path;

use hearth_core::{Enrollment, Env, Hearth};
use hearth_protocol::manifest::{
    Exam, ExamItem, FileEntry, Lesson, MANIFEST_DOMAIN, MANIFEST_VERSION, Manifest, Quiz, QuizItem,
};
use hearth_protocol::package::{
    ENTRY_HEADER_LEN, MAX_LESSON_TEXT, PACKAGE_HEADER_LEN, PACKAGE_MAGIC,
};
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

/// A device enrolled with `key(1)` as its pinned publisher.
fn device(dir: &Path) -> Hearth {
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

/// A course: its manifest and the bytes of each file by path.
#[derive(Clone)]
struct Course {
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
}

fn entry(path: &str, bytes: &[u8], media_type: &str) -> FileEntry {
    FileEntry {
        path: path.into(),
        sha256: ContentHash::of(bytes),
        size: bytes.len() as u64,
        media_type: media_type.into(),
        duration_ms: None,
    }
}

/// Two lessons, a video, an audio file and a picture shared by both lessons, a quiz, an exam.
fn course(id: &str, seed: u64) -> Course {
    let l1_text = format!("# {id} 第一课\n\n断电后再检修。\n");
    let l2_text = "# 第二课\n\n先断电，再施救。\n".to_owned();
    let video = noise(seed, 300_000);
    let audio = noise(seed + 1, 120_000);
    let picture = noise(seed + 2, 20_000);
    let mut files = BTreeMap::new();
    files.insert("lessons/l1.md".to_owned(), l1_text.clone().into_bytes());
    files.insert("lessons/l2.md".to_owned(), l2_text.clone().into_bytes());
    files.insert("media/intro.mp4".to_owned(), video.clone());
    files.insert("media/talk.mp3".to_owned(), audio.clone());
    files.insert("media/sign.png".to_owned(), picture.clone());
    let l1 = LessonId::new("l1").unwrap();
    let manifest = Manifest {
        still_valid: Vec::new(),
        checks: Vec::new(),
        course: CourseId::new(id).unwrap(),
        version: 1,
        title: format!("课程 {id}"),
        description: "安全基础".into(),
        language: "zh-CN".into(),
        published_ms: 1,
        credit_ms: None,
        occupation: None,
        occupation_level: None,
        lessons: vec![
            Lesson {
                id: l1.clone(),
                title: "第一课".into(),
                body: "lessons/l1.md".into(),
                media: vec!["media/intro.mp4".into(), "media/sign.png".into()],
                credit_ms: 600_000,
            },
            Lesson {
                id: LessonId::new("l2").unwrap(),
                title: "第二课".into(),
                body: "lessons/l2.md".into(),
                media: vec!["media/talk.mp3".into(), "media/sign.png".into()],
                credit_ms: 600_000,
            },
        ],
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
        files: vec![
            entry("lessons/l1.md", l1_text.as_bytes(), "text/markdown"),
            entry("lessons/l2.md", l2_text.as_bytes(), "text/markdown"),
            entry("media/intro.mp4", &video, "video/mp4"),
            entry("media/talk.mp3", &audio, "audio/mpeg"),
            entry("media/sign.png", &picture, "image/png"),
        ],
    };
    Course { manifest, files }
}

/// Signs any manifest body, without the rule checks `Manifest::sign` makes (a publisher key
/// that signs whatever it is given: the worst case for the client's own checks).
fn sign_raw(k: &Ed25519KeyPair, body: &[u8]) -> Vec<u8> {
    let mut msg = MANIFEST_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    let mut out = vec![MANIFEST_VERSION];
    out.extend_from_slice(k.public_key().as_ref());
    out.extend_from_slice(key_sign(k, &msg).as_ref());
    out.extend_from_slice(body);
    out
}

fn key_sign(k: &Ed25519KeyPair, msg: &[u8]) -> Vec<u8> {
    k.sign(msg).as_ref().to_vec()
}

fn header(manifest_len: usize) -> Vec<u8> {
    let mut h = PACKAGE_MAGIC.to_vec();
    h.push(1);
    h.push(0);
    h.extend_from_slice(&(manifest_len as u32).to_le_bytes());
    h
}

fn entry_bytes(sha: &ContentHash, size: u64, data: &[u8]) -> Vec<u8> {
    let mut out = sha.0.to_vec();
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// The package of `c` with `signed` as its manifest, entries as the format wants them.
fn package_with(c: &Course, signed: &[u8]) -> Vec<u8> {
    let mut out = header(signed.len());
    out.extend_from_slice(signed);
    let mut seen = std::collections::HashSet::new();
    for f in &c.manifest.files {
        if seen.insert(f.sha256) {
            out.extend(entry_bytes(&f.sha256, f.size, &c.files[&f.path]));
        }
    }
    out
}

/// The package of `c`, signed by `k` through the checked path.
fn package(c: &Course, k: &Ed25519KeyPair) -> Vec<u8> {
    package_with(c, &c.manifest.sign(k).unwrap())
}

fn raw_package(c: &Course) -> Vec<u8> {
    package_with(
        c,
        &sign_raw(&key(1), &serde_json::to_vec(&c.manifest).unwrap()),
    )
}

/// Offset of entry `i` in a package of `c` (entries as in `package_with`).
fn entry_offset(c: &Course, signed_len: usize, i: usize) -> usize {
    let mut off = PACKAGE_HEADER_LEN + signed_len;
    for f in c.manifest.files.iter().take(i) {
        off += ENTRY_HEADER_LEN + f.size as usize;
    }
    off
}

/// Every file under `root` except the SQLite database and its WAL files: path, size, SHA-256.
fn snapshot(root: &Path) -> Vec<(String, u64, ContentHash)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64, ContentHash)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(root, &p, out);
                continue;
            }
            let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if name.contains("hearth.db") {
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            out.push((name, bytes.len() as u64, ContentHash::of(&bytes)));
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// What the course tables say: every installed course with its lessons, texts, quizzes, exams.
fn tables(h: &Hearth) -> String {
    let mut out = String::new();
    for mut c in h.installed_courses().unwrap() {
        // When it was installed differs between devices; everything else must not.
        c.installed_ms = 0;
        out += &serde_json::to_string(&c).unwrap();
        for l in &c.lessons {
            out += &serde_json::to_string(&h.lesson(&c.course, c.version, &l.id).unwrap()).unwrap();
            out += &serde_json::to_string(&h.quiz_items(&c.course, c.version, &l.id).unwrap())
                .unwrap();
        }
        out += &serde_json::to_string(&h.exams(&c.course, c.version).unwrap()).unwrap();
    }
    out
}

#[test]
fn the_malicious_and_broken_corpus_is_refused_each_with_its_code_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let usb = root.path().join("usb");
    std::fs::create_dir_all(&usb).unwrap();
    let mut h = device(&data);
    // A good course already installed: it must come through every refusal untouched.
    let good = course("electrician-safety", 1);
    let good_file = usb.join("good.hcp");
    std::fs::write(&good_file, package(&good, &key(1))).unwrap();
    h.import_course(&good_file).unwrap();

    let b = course("construction-site-safety", 100);
    let signed = b.manifest.sign(&key(1)).unwrap();
    let valid = package(&b, &key(1));
    let mut corpus: Vec<(&str, Vec<u8>, &str)> = Vec::new();

    corpus.push(("empty file", vec![], "package.truncated"));
    corpus.push((
        "a zip file",
        b"PK\x03\x04\x14\x00\x00\x00".to_vec(),
        "package.bad_magic",
    ));
    let mut v = valid.clone();
    v[4] = 2;
    corpus.push(("format version 2", v, "package.unsupported_version"));
    let mut v = valid.clone();
    v[5] = 1;
    corpus.push((
        "a compression flag this version does not know",
        v,
        "package.unsupported_flags",
    ));
    // A decompression bomb: 64 MiB of zeros in a 2 KB zstd frame. Nothing is decompressed, so
    // it is only a file without the package magic.
    let bomb = zstd::bulk::compress(&vec![0u8; 64 << 20], 3).unwrap();
    assert!(bomb.len() < 20_000);
    corpus.push(("a zstd decompression bomb", bomb, "package.bad_magic"));
    let mut v = header(2 << 20);
    v.extend(vec![b'{'; 4096]);
    corpus.push((
        "a manifest length over the limit",
        v,
        "package.manifest_too_large",
    ));
    corpus.push((
        "a publisher this device does not trust",
        package(&b, &key(2)),
        "manifest.unknown_publisher",
    ));
    let mut v = valid.clone();
    v[PACKAGE_HEADER_LEN + 200] ^= 0x01;
    corpus.push(("a flipped manifest byte", v, "manifest.bad_signature"));
    let mut bad = signed.clone();
    bad[0] = 9;
    corpus.push((
        "a manifest of format 9",
        package_with(&b, &bad),
        "manifest.unsupported_version",
    ));
    corpus.push((
        "a signed manifest that is not JSON",
        package_with(&b, &sign_raw(&key(1), b"{not json")),
        "manifest.malformed",
    ));
    for (label, path) in [
        ("path ../x", "../x"),
        ("path media/../../x", "media/../../x"),
        ("absolute path", "/etc/passwd"),
        ("backslash path", "media\\..\\x"),
        ("drive letter path", "c:x"),
    ] {
        let mut c = b.clone();
        let bytes = c.files.remove("media/sign.png").unwrap();
        c.files.insert(path.to_owned(), bytes);
        c.manifest.files[4].path = path.to_owned();
        for l in &mut c.manifest.lessons {
            l.media.retain(|m| m != "media/sign.png");
        }
        corpus.push((label, raw_package(&c), "package.unsafe_path"));
    }
    let mut c = b.clone();
    c.manifest.files.push(c.manifest.files[2].clone());
    corpus.push((
        "one path twice in the manifest",
        raw_package(&c),
        "package.duplicate_entry",
    ));
    // The data section repeats entry 2 where entry 3 belongs.
    let mut v = valid[..entry_offset(&b, signed.len(), 3)].to_vec();
    let f2 = &b.manifest.files[2];
    v.extend(entry_bytes(&f2.sha256, f2.size, &b.files[&f2.path]));
    v.extend_from_slice(&valid[entry_offset(&b, signed.len(), 4)..]);
    corpus.push((
        "an entry repeated in the data",
        v,
        "package.duplicate_entry",
    ));
    // Entries 2 and 3 swapped.
    let mut v = valid[..entry_offset(&b, signed.len(), 2)].to_vec();
    let f3 = &b.manifest.files[3];
    v.extend(entry_bytes(&f3.sha256, f3.size, &b.files[&f3.path]));
    v.extend(entry_bytes(&f2.sha256, f2.size, &b.files[&f2.path]));
    v.extend_from_slice(&valid[entry_offset(&b, signed.len(), 4)..]);
    corpus.push((
        "entries out of manifest order",
        v,
        "package.unexpected_entry",
    ));
    let mut c = b.clone();
    for i in 0..2_001 {
        let bytes = format!("{i}").into_bytes();
        c.manifest
            .files
            .push(entry(&format!("x/f{i}"), &bytes, "text/plain"));
        c.files.insert(format!("x/f{i}"), bytes);
    }
    corpus.push(("2,001 files", raw_package(&c), "package.too_many_files"));
    let mut c = b.clone();
    c.manifest.files[2].size = 3 << 30;
    corpus.push((
        "a 3 GiB file",
        package_with(
            &c,
            &sign_raw(&key(1), &serde_json::to_vec(&c.manifest).unwrap()),
        ),
        "package.file_too_large",
    ));
    let mut c = b.clone();
    for i in 0..5u8 {
        c.manifest.files.push(FileEntry {
            path: format!("big/f{i}"),
            sha256: ContentHash([i; 32]),
            size: (2 << 30) - 1,
            media_type: "video/mp4".into(),
            duration_ms: None,
        });
    }
    corpus.push((
        "five files of 2 GiB",
        package_with(
            &b,
            &sign_raw(&key(1), &serde_json::to_vec(&c.manifest).unwrap()),
        ),
        "package.too_large",
    ));
    let mut c = b.clone();
    c.manifest.files[0].size = MAX_LESSON_TEXT + 1;
    corpus.push((
        "a 8 MiB lesson text",
        package_with(
            &b,
            &sign_raw(&key(1), &serde_json::to_vec(&c.manifest).unwrap()),
        ),
        "package.file_too_large",
    ));
    let mut v = valid.clone();
    let mid = entry_offset(&b, signed.len(), 2) + ENTRY_HEADER_LEN + 150_000;
    v[mid] ^= 0x80;
    corpus.push(("a flipped byte in the video", v, "package.hash_mismatch"));
    // The video's entry header claims one byte less, and one more byte follows it.
    let mut v = valid.clone();
    let at = entry_offset(&b, signed.len(), 2) + 32;
    v[at..at + 8].copy_from_slice(&(f2.size - 1).to_le_bytes());
    corpus.push((
        "an entry size that differs from the manifest",
        v,
        "package.size_mismatch",
    ));
    // A signed manifest with the wrong size for the audio: its bytes cannot hash right.
    let mut c = b.clone();
    c.manifest.files[3].size -= 10;
    let short = sign_raw(&key(1), &serde_json::to_vec(&c.manifest).unwrap());
    let mut v = header(short.len());
    v.extend_from_slice(&short);
    for f in &c.manifest.files {
        let bytes = &b.files[&f.path][..f.size as usize];
        v.extend(entry_bytes(&f.sha256, f.size, bytes));
    }
    corpus.push((
        "a manifest size that the file's bytes do not have",
        v,
        "package.hash_mismatch",
    ));
    let mut c = b.clone();
    let latin1 = vec![0xb0u8, 0xb2, 0xc8, 0xab, 0xff];
    c.files.insert("lessons/l2.md".into(), latin1.clone());
    c.manifest.files[1] = entry("lessons/l2.md", &latin1, "text/markdown");
    corpus.push((
        "a lesson text that is not UTF-8",
        package(&c, &key(1)),
        "content.file_mismatch",
    ));
    for (label, cut) in [
        ("cut in the header", 7),
        ("cut in the manifest", PACKAGE_HEADER_LEN + 100),
        (
            "cut in an entry header",
            entry_offset(&b, signed.len(), 1) + 20,
        ),
        (
            "cut in the video",
            entry_offset(&b, signed.len(), 2) + 100_000,
        ),
        ("cut one byte short", valid.len() - 1),
    ] {
        corpus.push((label, valid[..cut].to_vec(), "package.truncated"));
    }
    let mut v = valid.clone();
    v.extend_from_slice(b"garbage");
    corpus.push(("trailing garbage", v, "package.trailing_data"));

    assert!(corpus.len() >= 15);
    let before_files = snapshot(root.path());
    let before_tables = tables(&h);
    let partial = data.join("media").join("partial");
    for (i, (label, bytes, code)) in corpus.iter().enumerate() {
        let file = usb.join(format!("bad-{i}.hcp"));
        std::fs::write(&file, bytes).unwrap();
        let snap = snapshot(root.path());
        let err = h
            .import_course(&file)
            .expect_err(&format!("{label} must be refused"));
        assert_eq!(err.code(), *code, "{label}: {err}");
        assert_eq!(snapshot(root.path()), snap, "{label}: files changed");
        assert_eq!(tables(&h), before_tables, "{label}: course tables changed");
        assert_eq!(
            std::fs::read_dir(&partial).unwrap().count(),
            0,
            "{label}: temporary files left"
        );
        std::fs::remove_file(&file).unwrap();
    }
    assert_eq!(snapshot(root.path()), before_files);
    assert_eq!(h.installed_courses().unwrap().len(), 1);

    // After all that, the valid package of the same course imports.
    let file = usb.join("b.hcp");
    std::fs::write(&file, &valid).unwrap();
    let summary = h.import_course(&file).unwrap();
    assert_eq!(summary.course.as_str(), "construction-site-safety");
    assert_eq!(h.installed_courses().unwrap().len(), 2);
}

#[test]
fn refusals_that_depend_on_the_device() {
    let root = tempfile::tempdir().unwrap();
    let c = course("elderly-care-basics", 7);
    let file = root.path().join("c.hcp");
    std::fs::write(&file, package(&c, &key(1))).unwrap();

    // Not enrolled: no publisher is trusted yet.
    let mut fresh = Hearth::open(&root.path().join("fresh"), Env::system()).unwrap();
    let err = fresh.import_course(&file).unwrap_err();
    assert_eq!(err.code(), "content.not_enrolled");
    assert!(fresh.installed_courses().unwrap().is_empty());

    // A budget too small for the course: refused before any file is written.
    let data = root.path().join("data");
    let mut h = device(&data);
    h.set_content_budget(100_000).unwrap();
    let err = h.import_course(&file).unwrap_err();
    assert_eq!(err.code(), "content.budget_exceeded");
    assert_eq!(h.content_usage().unwrap(), 0);
    assert!(h.installed_courses().unwrap().is_empty());

    // A file that does not exist.
    let err = h.import_course(&root.path().join("nope.hcp")).unwrap_err();
    assert_eq!(err.code(), "io");
}

#[test]
fn a_package_round_trips_between_devices_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let c = course("hygiene-basics", 21);
    let original = package(&c, &key(1));
    let file = root.path().join("hygiene.hcp");
    std::fs::write(&file, &original).unwrap();

    let mut a = device(&root.path().join("a"));
    let summary = a.import_course(&file).unwrap();
    assert_eq!(summary.lessons.len(), 2);
    // Importing again changes nothing.
    assert_eq!(a.import_course(&file).unwrap(), summary);

    let exported = root.path().join("usb").join("copy.hcp");
    std::fs::create_dir_all(exported.parent().unwrap()).unwrap();
    let out = a.export_course(&summary.course, 1, &exported).unwrap();
    assert_eq!(out.files, 5);
    assert_eq!(out.bytes, original.len() as u64);
    assert_eq!(std::fs::read(&exported).unwrap(), original, "same bytes");
    assert!(!root.path().join("usb").join("copy.hcp.partial").exists());

    let mut b = device(&root.path().join("b"));
    b.import_course(&exported).unwrap();
    assert_eq!(tables(&a), tables(&b));
    for f in &c.manifest.files {
        let bytes = std::fs::read(b.media_path(&f.sha256).unwrap()).unwrap();
        assert_eq!(bytes, c.files[&f.path], "{}", f.path);
    }

    // A damaged cache file is caught on export, removed, and no package is left behind.
    let video = &c.manifest.files[2];
    let cached = a.media_path(&video.sha256).unwrap();
    let mut bytes = std::fs::read(&cached).unwrap();
    bytes[1000] ^= 1;
    std::fs::write(&cached, &bytes).unwrap();
    let again = root.path().join("usb").join("again.hcp");
    let err = a.export_course(&summary.course, 1, &again).unwrap_err();
    assert_eq!(err.code(), "content.corrupt_media");
    assert!(!again.exists());
    assert!(!root.path().join("usb").join("again.hcp.partial").exists());
    assert!(!cached.exists());

    // Importing the package again repairs the cache, and the export works again.
    a.import_course(&file).unwrap();
    a.export_course(&summary.course, 1, &again).unwrap();
    assert_eq!(std::fs::read(&again).unwrap(), original);
    let err = a
        .export_course(&CourseId::new("nope").unwrap(), 1, &again)
        .unwrap_err();
    assert_eq!(err.code(), "content.not_installed");
}

#[test]
fn staging_reports_progress_and_a_dropped_staging_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let c = course("elderly-care-basics", 33);
    let file = root.path().join("c.hcp");
    std::fs::write(&file, package(&c, &key(1))).unwrap();
    let data = root.path().join("data");
    let mut h = device(&data);
    let importer = h.package_importer().unwrap();
    let before = snapshot(root.path());

    let mut seen = Vec::new();
    let staged = importer
        .stage(&file, &mut |p: &hearth_core::content::Progress| {
            seen.push(*p)
        })
        .unwrap();
    let total: u64 = c.manifest.files.iter().map(|f| f.size).sum();
    let last = seen.last().unwrap();
    assert_eq!((last.bytes_done, last.bytes_total), (total, total));
    assert_eq!((last.files_done, last.files_total), (5, 5));
    assert!(seen.windows(2).all(|w| w[0].bytes_done <= w[1].bytes_done));
    // Staged is not installed: the store, still usable meanwhile, shows no course.
    assert!(h.installed_courses().unwrap().is_empty());
    assert_eq!(staged.manifest().manifest.course, c.manifest.course);
    drop(staged);
    assert_eq!(
        snapshot(root.path()),
        before,
        "the dropped staging left files"
    );

    let staged = importer.stage(&file, &mut |_| {}).unwrap();
    let summary = h.install_staged(staged).unwrap();
    assert_eq!(summary.course, c.manifest.course);
    assert_eq!(
        std::fs::read_dir(data.join("media").join("partial"))
            .unwrap()
            .count(),
        0
    );
}
