//! Hostile or damaged files in the data folder: each gives a clear error with a stable code, and
//! nothing on disk changes (no file written, removed, or recreated).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use hearth_core::{Env, Hearth};
use hearth_protocol::{CourseId, Event, LessonId};

/// Every file in the folder with its length and SHA-256.
fn snapshot(dir: &Path) -> BTreeMap<String, (usize, String)> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let bytes = fs::read(e.path()).unwrap();
            let digest = hearth_protocol::ContentHash::of(&bytes).to_hex();
            (
                e.file_name().to_string_lossy().into_owned(),
                (bytes.len(), digest),
            )
        })
        .collect()
}

fn env() -> Env {
    Env::deterministic(1_790_000_000_000, 11).0
}

/// A healthy data folder with some receipts, closed cleanly.
fn healthy(dir: &Path, receipts: u32) {
    let mut h = Hearth::open(dir, env()).unwrap();
    let l = h.add_learner("刘洋").unwrap();
    if receipts > 0 {
        h.sign_in(l.id).unwrap();
    }
    for i in 1..receipts {
        let lesson = LessonId::new(format!("lesson-{i}")).unwrap();
        h.record(Event::LessonOpened {
            course: CourseId::new("c").unwrap(),
            lesson,
        })
        .unwrap();
    }
}

/// Opens `dir`, expects `code`, and checks the folder is byte-for-byte as before.
fn refused(dir: &Path, code: &str) {
    let before = snapshot(dir);
    let err = Hearth::open(dir, env()).expect_err("a damaged folder must not open");
    assert_eq!(err.code(), code, "{err}");
    assert!(!err.to_string().is_empty());
    assert_eq!(
        snapshot(dir),
        before,
        "opening a bad folder must change nothing on disk ({code})"
    );
}

#[test]
fn a_file_that_is_not_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    fs::write(
        dir.path().join("hearth.db"),
        "这不是数据库 — just some text a user saved by mistake\n".repeat(50),
    )
    .unwrap();
    refused(dir.path(), "store.not_a_database");
}

#[test]
fn an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    fs::write(dir.path().join("hearth.db"), b"").unwrap();
    refused(dir.path(), "store.not_a_database");
}

#[test]
fn another_applications_database() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    let path = dir.path().join("hearth.db");
    fs::remove_file(&path).unwrap();
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hello');")
        .unwrap();
    drop(other);
    refused(dir.path(), "store.foreign");
}

#[test]
fn a_truncated_database() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 300);
    let path = dir.path().join("hearth.db");
    let bytes = fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "the fixture must span several pages");
    fs::write(&path, &bytes[..bytes.len() / 2 + 100]).unwrap();
    refused(dir.path(), "store.truncated");
    // Cut exactly at a page boundary too: the length is a whole number of pages, but fewer than
    // the header says.
    fs::write(&path, &bytes[..4096 * 2]).unwrap();
    refused(dir.path(), "store.truncated");
}

#[test]
fn a_database_with_damaged_pages() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 300);
    let path = dir.path().join("hearth.db");
    let mut bytes = fs::read(&path).unwrap();
    // Overwrite the b-tree pages after the first with noise, keeping the header valid.
    for (i, b) in bytes[4096..].iter_mut().enumerate() {
        *b = (i * 7 + 3) as u8;
    }
    fs::write(&path, &bytes).unwrap();
    refused(dir.path(), "store.corrupt");
}

#[test]
fn a_store_from_a_newer_hearth() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    let conn = rusqlite::Connection::open(dir.path().join("hearth.db")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
    drop(conn);
    refused(dir.path(), "store.too_new");
}

#[cfg(unix)]
#[test]
fn a_key_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    let key = dir.path().join("device.key");
    fs::set_permissions(&key, fs::Permissions::from_mode(0o644)).unwrap();
    refused(dir.path(), "key.permissions");
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o644,
        "permissions left as found"
    );
}

#[test]
fn damaged_key_files() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    let key = dir.path().join("device.key");
    let good = fs::read(&key).unwrap();
    let mut flipped_seed = good.clone();
    flipped_seed[20] ^= 0x40;
    let mut bad_magic = good.clone();
    bad_magic[0] = b'X';
    for (why, bytes) in [
        ("empty", Vec::new()),
        ("short", good[..40].to_vec()),
        ("long", [good.clone(), vec![0]].concat()),
        ("wrong magic", bad_magic),
        ("seed does not give the stored public key", flipped_seed),
    ] {
        fs::write(&key, &bytes).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
        }
        let before = snapshot(dir.path());
        let err = Hearth::open(dir.path(), env()).expect_err(why);
        assert_eq!(err.code(), "key.corrupt", "{why}: {err}");
        assert_eq!(snapshot(dir.path()), before, "{why}: nothing changed");
    }
}

#[test]
fn a_missing_key_is_not_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    fs::remove_file(dir.path().join("device.key")).unwrap();
    refused(dir.path(), "key.missing");
}

#[test]
fn another_devices_key() {
    let dir = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();
    healthy(dir.path(), 1);
    Hearth::open(other.path(), Env::deterministic(0, 999).0).unwrap();
    fs::copy(
        other.path().join("device.key"),
        dir.path().join("device.key"),
    )
    .unwrap();
    refused(dir.path(), "key.mismatch");
}

#[test]
fn a_crash_during_first_run_leaves_no_half_made_store() {
    let dir = tempfile::tempdir().unwrap();
    // What a first run killed while building the store leaves: the key, and a temporary store.
    Hearth::open(dir.path(), env()).unwrap();
    let device = Hearth::open(dir.path(), env()).unwrap().device();
    fs::remove_file(dir.path().join("hearth.db")).unwrap();
    fs::write(dir.path().join("hearth.db.new"), b"half written").unwrap();
    let h = Hearth::open(dir.path(), env()).unwrap();
    assert_eq!(
        h.device().id,
        device.id,
        "the key made before the crash is kept"
    );
    assert!(
        !dir.path().join("hearth.db.new").exists(),
        "the temporary store is cleared"
    );
}
