//! `hearth import-course` against packages that are validly signed but wrong for this device:
//! they must be refused with their own code, leave every installed course and file as it was,
//! and leave nothing behind; what a killed import left behind is cleaned before the next one;
//! text from a package reaches the terminal without its control characters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hearth_core::{Enrollment, Env, Hearth};
use hearth_protocol::manifest::{FileEntry, Lesson, Manifest};
use hearth_protocol::package::PACKAGE_MAGIC;
use hearth_protocol::{ContentHash, CourseId, DeviceId, LessonId, PublicKey, TimeAnchor};
use ring::signature::{Ed25519KeyPair, KeyPair};

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

fn pk(k: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(k.public_key().as_ref()).unwrap()
}

fn noise(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// A device folder enrolled with `key(1)` as its pinned publisher.
fn device(dir: &Path) {
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
}

/// A course: its manifest and the bytes of each file by path.
#[derive(Clone)]
struct Course {
    manifest: Manifest,
    files: BTreeMap<String, Vec<u8>>,
}

impl Course {
    fn new(id: &str, version: u32, seed: u8) -> Self {
        let text = format!("# {id} 第一课\n\n断电后再检修。\n").into_bytes();
        let video = noise(seed, 200_000);
        let mut c = Course {
            manifest: Manifest {
                still_valid: Vec::new(),
                checks: Vec::new(),
                course: CourseId::new(id).unwrap(),
                version,
                title: format!("课程 {id}"),
                description: "安全基础".into(),
                language: "zh-CN".into(),
                published_ms: 1,
                credit_ms: None,
                occupation: None,
                occupation_level: None,
                lessons: vec![Lesson {
                    id: LessonId::new("l1").unwrap(),
                    title: "第一课".into(),
                    body: "lessons/l1.md".into(),
                    media: vec!["media/intro.mp4".into()],
                    credit_ms: 600_000,
                }],
                quizzes: vec![],
                exams: vec![],
                files: vec![],
            },
            files: BTreeMap::new(),
        };
        c.set("lessons/l1.md", text, "text/markdown");
        c.set("media/intro.mp4", video, "video/mp4");
        c
    }

    /// Sets a file's bytes and its manifest entry.
    fn set(&mut self, path: &str, bytes: Vec<u8>, media_type: &str) {
        self.manifest.files.retain(|f| f.path != path);
        self.manifest.files.push(FileEntry {
            path: path.into(),
            sha256: ContentHash::of(&bytes),
            size: bytes.len() as u64,
            media_type: media_type.into(),
            duration_ms: None,
        });
        self.files.insert(path.into(), bytes);
    }

    fn entry(&self, path: &str) -> &FileEntry {
        self.manifest.files.iter().find(|f| f.path == path).unwrap()
    }

    /// The package file, signed by `key(1)` (entries as the manifest lists them, each with the
    /// size the manifest gives it and that many bytes of the file).
    fn package(&self, dir: &Path, name: &str) -> PathBuf {
        let signed = self.manifest.sign(&key(1)).unwrap();
        let mut out = PACKAGE_MAGIC.to_vec();
        out.push(1);
        out.push(0);
        out.extend_from_slice(&(signed.len() as u32).to_le_bytes());
        out.extend_from_slice(&signed);
        for f in &self.manifest.files {
            out.extend_from_slice(&f.sha256.0);
            out.extend_from_slice(&f.size.to_le_bytes());
            let bytes = &self.files[&f.path];
            let mut data = bytes[..bytes.len().min(f.size as usize)].to_vec();
            data.resize(f.size as usize, 0);
            out.extend_from_slice(&data);
        }
        let path = dir.join(name);
        std::fs::write(&path, out).unwrap();
        path
    }
}

fn hearth(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env("HEARTH_LOG", "error")
        .output()
        .unwrap()
}

fn import(data: &Path, pkg: &Path) -> Output {
    hearth(data, &["import-course", pkg.to_str().unwrap()])
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn imported(out: &Output) {
    assert!(out.status.success(), "{}", stderr(out));
}

/// A refusal with exit code 1 and this code; gives the message.
fn refused(out: &Output, code: &str) -> String {
    assert_eq!(out.status.code(), Some(1), "{}", stdout(out));
    let err = stderr(out);
    let prefix = format!("error[{code}]: ");
    assert!(err.starts_with(&prefix), "{err}");
    err[prefix.len()..].trim_end().to_owned()
}

/// Every file under `dir` (none if it does not exist): name and bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let name = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The installed courses: (course, version, title).
fn installed(data: &Path) -> Vec<(String, u32, String)> {
    let h = Hearth::open(data, Env::system()).unwrap();
    h.installed_courses()
        .unwrap()
        .into_iter()
        .map(|c| (c.course.to_string(), c.version, c.title))
        .collect()
}

#[test]
fn a_manifest_that_gives_an_installed_file_a_wrong_size_is_refused_and_the_file_kept() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let a = Course::new("electrician-safety", 1, 1);
    imported(&import(&data, &a.package(root.path(), "a.hcp")));
    let media = data.join("media");
    let before = files(&media);

    // Another course, validly signed, names A's video by its hash with one byte less.
    let mut b = Course::new("first-aid", 1, 2);
    let video = a.entry("media/intro.mp4").clone();
    b.set(
        "media/intro.mp4",
        a.files["media/intro.mp4"].clone(),
        "video/mp4",
    );
    b.manifest.files.iter_mut().for_each(|f| {
        if f.sha256 == video.sha256 {
            f.size = video.size - 1;
        }
    });
    let msg = refused(
        &import(&data, &b.package(root.path(), "b.hcp")),
        "content.size_conflict",
    );
    assert!(msg.contains(&video.sha256.to_hex()), "{msg}");
    assert_eq!(
        files(&media),
        before,
        "the installed course's files changed"
    );
    assert_eq!(
        installed(&data),
        vec![(
            "electrician-safety".into(),
            1,
            "课程 electrician-safety".into()
        )]
    );
    let h = Hearth::open(&data, Env::system()).unwrap();
    h.media_path(&video.sha256).unwrap();
}

#[test]
fn the_same_version_with_other_content_is_refused_and_leaves_nothing() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let a = Course::new("electrician-safety", 1, 1);
    imported(&import(&data, &a.package(root.path(), "a.hcp")));
    let before = files(&data.join("media"));

    let mut changed = a.clone();
    changed.manifest.title = "换了标题".into();
    changed.set("media/intro.mp4", noise(7, 150_000), "video/mp4");
    let out = import(&data, &changed.package(root.path(), "changed.hcp"));
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    refused(&out, "content.version_conflict");
    assert_eq!(files(&data.join("media")), before, "a stray file was left");
    assert_eq!(
        installed(&data),
        vec![(
            "electrician-safety".into(),
            1,
            "课程 electrician-safety".into()
        )]
    );

    // The very same package again is fine and changes nothing.
    imported(&import(&data, &a.package(root.path(), "a.hcp")));
    assert_eq!(files(&data.join("media")), before);
}

#[test]
fn an_older_version_is_not_reinstated_beside_a_newer_one() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let v1 = Course::new("electrician-safety", 1, 1);
    let mut v2 = Course::new("electrician-safety", 2, 1);
    v2.set("media/intro.mp4", noise(5, 100_000), "video/mp4");
    imported(&import(&data, &v2.package(root.path(), "v2.hcp")));
    let before = files(&data.join("media"));

    let msg = refused(
        &import(&data, &v1.package(root.path(), "v1.hcp")),
        "content.downgrade",
    );
    assert!(msg.contains("version 2"), "{msg}");
    assert_eq!(files(&data.join("media")), before);
    assert_eq!(
        installed(&data),
        vec![(
            "electrician-safety".into(),
            2,
            "课程 electrician-safety".into()
        )]
    );
}

/// Issue #16: an older version is installed beside a newer one only when the newer one's signed
/// manifest marks it as still valid (`stillValid`); a version it does not name is still refused.
#[test]
fn an_older_version_the_publisher_marked_still_valid_is_installed_beside_the_newer() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let v1 = Course::new("electrician-safety", 1, 1);
    let mut v2 = Course::new("electrician-safety", 2, 1);
    v2.set("media/intro.mp4", noise(6, 100_000), "video/mp4");
    let mut v3 = Course::new("electrician-safety", 3, 1);
    v3.manifest.still_valid = vec![1];
    v3.set("media/intro.mp4", noise(7, 100_000), "video/mp4");
    imported(&import(&data, &v3.package(root.path(), "v3.hcp")));

    // Version 2 is not named: a downgrade.
    let msg = refused(
        &import(&data, &v2.package(root.path(), "v2.hcp")),
        "content.downgrade",
    );
    assert!(msg.contains("version 3"), "{msg}");
    // Version 1 is: installed beside version 3.
    imported(&import(&data, &v1.package(root.path(), "v1.hcp")));
    let mut have = installed(&data);
    have.sort();
    assert_eq!(
        have.iter()
            .map(|(c, v, _)| (c.as_str(), *v))
            .collect::<Vec<_>>(),
        vec![("electrician-safety", 1), ("electrician-safety", 3)]
    );
}

/// A manifest may mark only older versions, each once: the publisher's signing refuses others.
#[test]
fn still_valid_names_only_older_versions() {
    let mut c = Course::new("electrician-safety", 2, 1);
    for bad in [vec![2], vec![3], vec![0], vec![1, 1]] {
        c.manifest.still_valid = bad.clone();
        let e = c.manifest.sign(&key(1)).unwrap_err();
        assert_eq!(e.code(), "manifest.invalid", "{bad:?}");
    }
    c.manifest.still_valid = vec![1];
    assert!(c.manifest.sign(&key(1)).is_ok());
}

#[test]
fn what_a_killed_import_left_is_cleaned_and_does_not_count_against_the_budget() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let c = Course::new("electrician-safety", 1, 1);
    let total: u64 = c.manifest.files.iter().map(|f| f.size).sum();
    let pkg = c.package(root.path(), "c.hcp");
    {
        let mut h = Hearth::open(&data, Env::system()).unwrap();
        h.set_content_budget(total + 1000).unwrap();
    }
    let partial = data.join("media").join("partial");
    std::fs::create_dir_all(&partial).unwrap();

    // Killed mid-stream: a lock file no process holds and a temporary file.
    std::fs::write(partial.join("import-dead1-0.lock"), b"").unwrap();
    std::fs::write(partial.join("import-dead1-0-1.tmp"), noise(3, 150_000)).unwrap();
    // Killed between moving a file into the cache and installing the course: the lock file
    // lists the file it was adding.
    let orphan = noise(4, 120_000);
    let orphan_sha = ContentHash::of(&orphan);
    std::fs::write(data.join("media").join(orphan_sha.to_hex()), &orphan).unwrap();
    std::fs::write(
        partial.join("import-dead2-3.lock"),
        format!("{}\n", orphan_sha.to_hex()),
    )
    .unwrap();
    // A running import (this test holds its lock): its files are its own.
    let live_lock = std::fs::File::create(partial.join("import-live-0.lock")).unwrap();
    live_lock.lock().unwrap();
    std::fs::write(partial.join("import-live-0-0.tmp"), b"in progress").unwrap();

    // Any command cleans up (the store's opening does), and the cache reports no leftovers.
    let out = hearth(&data, &["--json", "courses"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["cacheBytes"], 11,
        "only the running import's file is counted"
    );
    imported(&import(&data, &pkg));
    let left: Vec<String> = files(&partial).into_keys().collect();
    assert_eq!(left, vec!["import-live-0-0.tmp", "import-live-0.lock"]);
    assert!(!data.join("media").join(orphan_sha.to_hex()).exists());
    assert_eq!(installed(&data).len(), 1);
    drop(live_lock);
}

#[test]
fn package_text_reaches_the_terminal_without_control_characters() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let mut c = Course::new("electrician-safety", 1, 1);
    c.manifest.title = "安全\u{1b}[2J\u{1b}]0;owned\u{7}\r课程\u{202e}".into();
    let pkg = c.package(root.path(), "c.hcp");
    for args in [
        vec!["import-course", pkg.to_str().unwrap()],
        vec!["courses"],
    ] {
        let out = hearth(&data, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
            "{text:?}"
        );
        assert!(text.contains("安全\\u{1b}[2J"), "{text}");
    }
}

#[test]
fn a_refusal_states_its_cause_once_and_a_bad_lesson_is_not_called_downloaded() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let mut c = Course::new("electrician-safety", 1, 1);
    c.set(
        "lessons/l1.md",
        vec![b'#', b' ', 0xff, 0xfe, b'\n'],
        "text/markdown",
    );
    let msg = refused(
        &import(&data, &c.package(root.path(), "c.hcp")),
        "content.file_mismatch",
    );
    assert!(!msg.contains("download"), "{msg}");
    assert!(msg.contains("UTF-8"), "{msg}");

    // Signed by a key this device does not trust: the manifest error, said once.
    let other = Course::new("first-aid", 1, 2);
    let signed = other.manifest.sign(&key(2)).unwrap();
    let mut bytes = PACKAGE_MAGIC.to_vec();
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&(signed.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&signed);
    let pkg = root.path().join("untrusted.hcp");
    std::fs::write(&pkg, bytes).unwrap();
    let out = import(&data, &pkg);
    let err = stderr(&out);
    let msg = err.split_once("]: ").unwrap().1.trim_end();
    let parts: Vec<&str> = msg.split(": ").collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(
            !parts[i + 1..]
                .iter()
                .any(|q| q.contains(p) || p.contains(q)),
            "said twice: {msg}"
        );
    }
    assert!(installed(&data).is_empty());
}

/// A real `kill -9` of `hearth import-course` in the middle of a file: the package is a named
/// pipe the test writes into, so the import is certainly mid-stream when it is killed.
#[cfg(unix)]
#[test]
fn an_import_killed_mid_stream_leaves_nothing_that_blocks_the_next_one() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    device(&data);
    let c = Course::new("electrician-safety", 1, 1);
    let total: u64 = c.manifest.files.iter().map(|f| f.size).sum();
    let pkg = c.package(root.path(), "c.hcp");
    let bytes = std::fs::read(&pkg).unwrap();
    {
        let mut h = Hearth::open(&data, Env::system()).unwrap();
        h.set_content_budget(total + 1000).unwrap();
    }
    let fifo = root.path().join("stick.hcp");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--data")
        .arg(&data)
        .args(["import-course", fifo.to_str().unwrap()])
        .env("HEARTH_LOG", "error")
        .spawn()
        .unwrap();
    let mut pipe = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // All but the last 100 kB: the video is half written when the import is killed.
    pipe.write_all(&bytes[..bytes.len() - 100_000]).unwrap();
    pipe.flush().unwrap();
    let partial = data.join("media").join("partial");
    let started = Instant::now();
    let temp_bytes = || -> u64 {
        files(&partial)
            .iter()
            .filter(|(n, _)| n.ends_with(".tmp"))
            .map(|(_, b)| b.len() as u64)
            .sum()
    };
    while temp_bytes() < 50_000 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the import wrote nothing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    drop(pipe);
    assert!(
        temp_bytes() > 0,
        "the killed import left its temporary files"
    );

    imported(&import(&data, &pkg));
    assert_eq!(files(&partial), BTreeMap::new(), "leftovers remain");
    assert_eq!(installed(&data).len(), 1);
}
