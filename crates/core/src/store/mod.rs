//! The local SQLite store. Private to hearth-core: everything else goes through [`crate::Hearth`].
//!
//! - Versioned schema (`sql/NNN_*.sql`, applied in order by `rusqlite_migration`, version in
//!   `user_version`); a store from a newer Hearth is refused, not downgraded.
//! - WAL with `synchronous = FULL`: a committed transaction survives a power cut.
//! - Opening an existing file never modifies it before it has passed every check: the SQLite
//!   header is read by hand first (magic, our application id, length), then `quick_check` runs on
//!   a read-only connection. A bad file is reported and left as it was; it is never recreated.
//! - A new store is built under a temporary name and renamed into place, so a crash during
//!   creation never leaves a half-made store behind.
//! - All writes go through [`Store::write`], one immediate transaction that reports what changed.

mod assignments;
mod content;
mod device;
mod enrollment;
mod kiosk;
mod learners;
mod ledger;
mod study;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use rusqlite_migration::{M, Migrations};
use serde::Serialize;

use crate::error::{CoreError, Result};
use crate::identity::sync_dir;

pub use assignments::Assignment;
pub use content::{
    CourseSummary, ExamItemView, ExamView, FileRow, LessonSummary, LessonText, QuizItemView,
};
pub use enrollment::{Enrollment, RosterPerson};
pub use kiosk::RosterClasses;
pub use learners::Learner;
pub use ledger::{LedgerStatus, OutboxItem, ReceiptSummary};
pub use study::MediaProgress;
pub(crate) use study::{AttemptRow, AttemptState};

/// `PRAGMA application_id` of a Hearth store: "HRTH".
const APPLICATION_ID: u32 = 0x4852_5448;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("sql/001_init.sql")),
        M::up(include_str!("sql/002_enrollment.sql")),
        M::up(include_str!("sql/003_content.sql")),
        M::up(include_str!("sql/004_assignments.sql")),
        M::up(include_str!("sql/005_study.sql")),
        M::up(include_str!("sql/006_kiosk.sql")),
        M::up(include_str!("sql/007_run_marks.sql")),
        M::up(include_str!("sql/008_cards.sql")),
    ])
}

/// The schema version this build writes.
fn schema_version() -> i64 {
    8
}

/// What a write changed, so a front end knows what to refresh.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    pub device: bool,
    pub learners: bool,
    pub receipts: bool,
    pub assignments: bool,
}

/// An open write transaction; its methods (in the submodules) record what they change.
pub(crate) struct Tx<'a> {
    tx: rusqlite::Transaction<'a>,
    changes: Changes,
}

#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
}

/// Creates an empty file at `path` that only its owner may read or write (Unix: mode 0600).
fn create_owner_only(path: &Path) -> std::io::Result<()> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path).map(drop)
}

impl Store {
    /// Opens an existing store after checking it, and brings its schema up to date.
    pub fn open_existing(path: &Path) -> Result<Self> {
        check_header(path)?;
        quick_check(path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > schema_version() {
            return Err(CoreError::StoreTooNew {
                found,
                supported: schema_version(),
            });
        }
        configure(&conn)?;
        migrations().to_latest(&mut conn)?;
        Ok(Self { conn })
    }

    /// Creates a new store at `path` (which must not exist), running `init` in the same
    /// transaction as the schema, then renames it into place.
    pub fn create(path: &Path, init: impl FnOnce(&mut Tx<'_>) -> Result<()>) -> Result<Self> {
        let tmp = temp_path(path);
        for leftover in [
            tmp.clone(),
            with_suffix(&tmp, "-wal"),
            with_suffix(&tmp, "-shm"),
        ] {
            // A store under construction when a previous run died: never visible, safe to drop.
            let _ = fs::remove_file(leftover);
        }
        // The store holds the device credential: created readable by its owner only (SQLite
        // gives its -wal and -shm files the same mode). On Windows the file inherits the data
        // folder's ACL, which is the user's own profile.
        create_owner_only(&tmp).map_err(CoreError::io(format!("creating {}", tmp.display())))?;
        {
            let mut conn = Connection::open(&tmp)?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
            configure(&conn)?;
            migrations().to_latest(&mut conn)?;
            {
                let mut tx = Tx {
                    tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
                    changes: Changes::default(),
                };
                init(&mut tx)?;
                tx.tx.commit()?;
            }
            // Fold the WAL into the file so the rename moves one complete file.
            conn.pragma_update(None, "journal_mode", "DELETE")?;
        }
        fs::rename(&tmp, path).map_err(CoreError::io(format!("installing {}", path.display())))?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        Self::open_existing(path)
    }

    /// Runs `f` in one immediate transaction, committed durably, and reports what it changed.
    pub fn write<T>(&mut self, f: impl FnOnce(&mut Tx<'_>) -> Result<T>) -> Result<(T, Changes)> {
        let mut tx = Tx {
            tx: self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?,
            changes: Changes::default(),
        };
        let out = f(&mut tx)?;
        let changes = tx.changes;
        tx.tx.commit()?;
        Ok((out, changes))
    }
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(CoreError::InvalidInput(format!(
            "the store's folder does not support WAL (got {mode})"
        )));
    }
    // FULL: in WAL mode, every commit is fsynced before it returns, so a receipt shown as
    // recorded survives a power cut (NORMAL would only survive a crash of the app).
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

fn temp_path(path: &Path) -> PathBuf {
    with_suffix(path, ".new")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Reads the 100-byte SQLite header by hand, so a file that is not ours is refused before SQLite
/// opens (and might write to) it.
fn check_header(path: &Path) -> Result<()> {
    let mut file =
        fs::File::open(path).map_err(CoreError::io(format!("opening {}", path.display())))?;
    let len = file
        .metadata()
        .map_err(CoreError::io(format!("reading {}", path.display())))?
        .len();
    let mut header = [0u8; 100];
    let mut read = 0;
    while read < header.len() {
        match file.read(&mut header[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => return Err(CoreError::io(format!("reading {}", path.display()))(e)),
        }
    }
    if read < header.len() || &header[..16] != b"SQLite format 3\0" {
        return Err(CoreError::NotADatabase {
            path: path.to_owned(),
        });
    }
    let be32 = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().expect("4 bytes"));
    if be32(68) != APPLICATION_ID {
        return Err(CoreError::ForeignDatabase {
            path: path.to_owned(),
        });
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    // The page count in the header is valid when "version-valid-for" equals the change counter.
    // With a non-empty WAL beside the file (a crash, possibly in a checkpoint) the main file can
    // legitimately lag: SQLite's recovery and quick_check judge that case instead.
    let pages = u64::from(be32(28));
    let wal_pending = fs::metadata(with_suffix(path, "-wal")).is_ok_and(|m| m.len() > 0);
    if !wal_pending && be32(92) == be32(24) && (len < pages * page_size || len % page_size != 0) {
        return Err(CoreError::TruncatedDatabase {
            path: path.to_owned(),
        });
    }
    Ok(())
}

/// `PRAGMA quick_check` on a read-only connection that leaves no trace: with no pending WAL the
/// file is opened `immutable` (no -wal/-shm files are made). With a pending WAL (a crash) the
/// normal read-only open replays it in memory; the side files exist already in that case.
fn quick_check(path: &Path) -> Result<()> {
    let corrupt = |detail: String| CoreError::CorruptDatabase {
        path: path.to_owned(),
        detail,
    };
    let wal_pending = fs::metadata(with_suffix(path, "-wal")).is_ok_and(|m| m.len() > 0);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = if wal_pending {
        Connection::open_with_flags(path, flags - OpenFlags::SQLITE_OPEN_URI)
    } else {
        Connection::open_with_flags(format!("{}?immutable=1", file_uri(path)), flags)
    }
    .map_err(|e| corrupt(e.to_string()))?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
        .map_err(|e| corrupt(e.to_string()))?;
    if verdict != "ok" {
        return Err(corrupt(verdict));
    }
    Ok(())
}

/// An SQLite `file:` URI for a path: every byte outside the unreserved set percent-encoded,
/// Windows separators turned into `/` and a drive letter given its leading `/`.
fn file_uri(path: &Path) -> String {
    // Relative paths are made absolute first: a URI path is always read from the root.
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let raw = path.to_string_lossy().replace('\\', "/");
    let mut out = String::from("file:");
    if !raw.starts_with('/') {
        out.push('/');
    }
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')
            || (b == b':' && cfg!(windows))
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The store holds the device credential: readable by its owner only (issue #19).
    #[cfg(unix)]
    #[test]
    fn a_new_store_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        let store = Store::create(&path, |_| Ok(())).unwrap();
        drop(store);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn a_schema_1_store_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            Migrations::new(vec![M::up(include_str!("sql/001_init.sql"))])
                .to_latest(&mut conn)
                .unwrap();
            conn.execute(
                "INSERT INTO learners (id, display_name, created_ms) VALUES (x'01', '老用户', 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open_existing(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        let source: String = store
            .conn
            .query_row("SELECT source FROM learners", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            source, "local",
            "existing learners keep their data and get the new column's default"
        );
        assert_eq!(store.enrollment().unwrap(), None);
    }

    #[test]
    fn a_schema_5_store_is_migrated_to_6_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .unwrap();
            Migrations::new(migrations_up_to(5))
                .to_latest(&mut conn)
                .unwrap();
            let v: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(v, 5);
            conn.execute(
                "INSERT INTO learners (id, display_name, created_ms, source, role)
                 VALUES (x'00000000000000000000000000000004', '王老师', 1, 'roster', 'trainer')",
                [],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO assignments (id, class_id, course, lesson, exam, due_ms, created_ms)
                 VALUES ('a1', 'c1', 'electrician-safety', 'l1', NULL, 5, 1)",
                [],
            )
            .unwrap();
        }
        let mut store = Store::open_existing(&path).unwrap();
        let version: i64 = store
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, schema_version());
        // The pulled assignment is kept, as pulled (a pull may replace it).
        let kept = store.assignments().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].id, "a1");
        store.write(|tx| tx.replace_assignments(&[])).unwrap();
        assert!(store.assignments().unwrap().is_empty());
        // The trainer has no classes until the next roster names them.
        let trainer = hearth_protocol::LearnerId(uuid::Uuid::from_u128(4));
        assert!(store.person_classes(trainer).unwrap().is_empty());
        let class = hearth_protocol::wire::ClassRef {
            id: hearth_protocol::ClassId(uuid::Uuid::from_u128(50)),
            name: "电工一班".into(),
        };
        store
            .write(|tx| {
                tx.replace_roster_classes(&[RosterClasses {
                    person: trainer,
                    classes: vec![class.clone()],
                }])
            })
            .unwrap();
        assert_eq!(store.person_classes(trainer).unwrap(), vec![class]);
        let people = store.kiosk_people().unwrap();
        assert_eq!(people.len(), 1);
        assert!(!people[0].has_pin);
    }

    /// Issue #16: people the service no longer sends lose their PIN verifier and classes at
    /// once; their row goes too unless a receipt here names them.
    #[test]
    fn people_off_the_roster_lose_their_verifiers() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::create(&dir.path().join("hearth.db"), |_| Ok(())).unwrap();
        let person = |n: u128, name: &str| RosterPerson {
            id: hearth_protocol::LearnerId(uuid::Uuid::from_u128(n)),
            name: name.into(),
            role: "learner".into(),
            pin_hash: Some(format!("verifier-{n}")),
            card: None,
        };
        let (ana, bo, cai) = (person(1, "安娜"), person(2, "博文"), person(3, "蔡"));
        let class = |p: &RosterPerson| RosterClasses {
            person: p.id,
            classes: vec![hearth_protocol::wire::ClassRef {
                id: hearth_protocol::ClassId(uuid::Uuid::from_u128(50)),
                name: "电工一班".into(),
            }],
        };
        store
            .write(|tx| {
                tx.upsert_roster(&[ana.clone(), bo.clone(), cai.clone()], 1)?;
                tx.replace_roster_classes(&[class(&ana), class(&bo), class(&cai)])
            })
            .unwrap();
        store
            .conn
            .execute(
                "INSERT INTO receipts (seq, id, learner, kind, wall_ms, envelope)
                 VALUES (1, x'00', ?1, 'learner_signed_in', 1, x'00')",
                [ana.id.0.as_bytes()],
            )
            .unwrap();
        let (retired, _) = store
            .write(|tx| tx.retire_roster_people(std::slice::from_ref(&cai)))
            .unwrap();
        assert_eq!(retired, 2);
        let verifiers: Vec<(String, Option<String>)> = store
            .conn
            .prepare("SELECT display_name, pin_hash FROM learners ORDER BY display_name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            verifiers,
            vec![
                ("安娜".to_string(), None),
                ("蔡".to_string(), Some("verifier-3".to_string()))
            ],
            "Ana's receipts keep her row, without a verifier; Bo is gone"
        );
        assert!(store.person_classes(ana.id).unwrap().is_empty());
        assert_eq!(store.person_classes(cai.id).unwrap().len(), 1);
    }

    /// The migrations of schema versions 1 to `n`.
    fn migrations_up_to(n: usize) -> Vec<M<'static>> {
        let all = [
            include_str!("sql/001_init.sql"),
            include_str!("sql/002_enrollment.sql"),
            include_str!("sql/003_content.sql"),
            include_str!("sql/004_assignments.sql"),
            include_str!("sql/005_study.sql"),
            include_str!("sql/006_kiosk.sql"),
            include_str!("sql/007_run_marks.sql"),
            include_str!("sql/008_cards.sql"),
        ];
        all[..n].iter().map(|sql| M::up(sql)).collect()
    }

    #[test]
    #[cfg(unix)]
    fn file_uris_escape_everything_unusual() {
        let uri = super::file_uri(std::path::Path::new("/tmp/学习 100%?#/hearth.db"));
        assert_eq!(uri, "file:/tmp/%E5%AD%A6%E4%B9%A0%20100%25%3F%23/hearth.db");
    }
}
