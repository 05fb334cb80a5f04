//! The embedded SQLite backend of [`Store`]: one file, WAL, `synchronous=FULL` (a commit is on
//! disk before it returns, so an acknowledged receipt survives a power cut), versioned migrations
//! in `sql/`.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use hearth_protocol::{ChainHead, DeviceId, LearnerId, PublicKey, ReceiptId};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use rusqlite_migration::{M, Migrations};
use uuid::Uuid;

use super::*;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("sql/001_init.sql")),
        M::up(include_str!("sql/002_trainer_pins.sql")),
        M::up(include_str!("sql/003_assignments.sql")),
        M::up(include_str!("sql/004_compact_receipts.sql")),
        M::up(include_str!("sql/005_facts.sql")),
        M::up(include_str!("sql/006_revocation.sql")),
        M::up(include_str!("sql/007_certificates.sql")),
        M::up(include_str!("sql/008_roster_stamps.sql")),
        M::up(include_str!("sql/009_kiosk_classes.sql")),
        M::up(include_str!("sql/010_console.sql")),
        // Slot 011 is unused (the anomaly flags needed no table). 012 makes the users table again
        // (a new role), which needs foreign keys off while it runs; it ends with a foreign key
        // check.
        M::up(include_str!("sql/012_supervision.sql")).foreign_key_check(),
        M::up(include_str!("sql/013_flag_resolutions.sql")),
        M::up(include_str!("sql/014_claims.sql")),
        M::up(include_str!("sql/015_learner_cards.sql")),
        M::up(include_str!("sql/016_photo_checkpoints.sql")),
    ])
}

/// Highest schema version this build knows.
pub const SCHEMA_VERSION: i64 = 15;

#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(f, _) = &e
            && f.code == rusqlite::ErrorCode::ConstraintViolation
        {
            return StoreError::Conflict(Conflict::Constraint);
        }
        be(e)
    }
}

fn uuid_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let s: String = row.get(i)?;
    Uuid::parse_str(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn opt_uuid_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Option<Uuid>> {
    let s: Option<String> = row.get(i)?;
    s.map(|s| {
        Uuid::parse_str(&s).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
        })
    })
    .transpose()
}

fn b32_col(row: &Row<'_>, i: usize) -> rusqlite::Result<[u8; 32]> {
    let v: Vec<u8> = row.get(i)?;
    v.try_into().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            i,
            rusqlite::types::Type::Blob,
            "expected 32 bytes".into(),
        )
    })
}

/// A UUID kept as its 16 raw bytes.
fn uuid_blob_col(row: &Row<'_>, i: usize) -> rusqlite::Result<Uuid> {
    let v: [u8; 16] = row.get(i)?;
    Ok(Uuid::from_bytes(v))
}

fn seq_col(row: &Row<'_>, i: usize) -> rusqlite::Result<u64> {
    let v: i64 = row.get(i)?;
    Ok(v as u64)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let found: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Backend(format!(
                "database schema {found} is newer than this build ({SCHEMA_VERSION})"
            )));
        }
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "WAL not available (got {mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Migrations run with foreign keys off (SQLite's way to make a table again, as 012
        // does), each checked by `foreign_key_check` where it needs it; then they are on.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        migrations().to_latest(&mut conn).map_err(be)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The connection itself (for `hearth-server migrate`, which reads every table).
    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite itself consistent (any open transaction
        // is rolled back when its guard drops), so a poisoned lock is safe to reuse.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }
}

const LEARNER_COLS: &str =
    "id, org_id, name, national_id_mac, national_id_tail, class_id, pin_hash, created_ms";

fn learner_row(row: &Row<'_>) -> rusqlite::Result<Learner> {
    Ok(Learner {
        id: LearnerId(uuid_col(row, 0)?),
        org: uuid_col(row, 1)?,
        name: row.get(2)?,
        national_id_mac: b32_col(row, 3)?,
        national_id_tail: row.get(4)?,
        class: opt_uuid_col(row, 5)?,
        pin_hash: row.get(6)?,
        created_ms: row.get(7)?,
    })
}

fn user_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let role: String = row.get(2)?;
    Ok(User {
        id: uuid_col(row, 0)?,
        org: uuid_col(row, 1)?,
        role: Role::parse(&role).unwrap_or(Role::Trainer),
        name: row.get(3)?,
        created_ms: row.get(4)?,
        pin_hash: row.get(5)?,
    })
}

const DEVICE_COLS: &str = "id, org_id, public_key, learner_id, label, enrolled_ms";

fn class_row(r: &Row<'_>) -> rusqlite::Result<Class> {
    Ok(Class {
        id: uuid_col(r, 0)?,
        org: uuid_col(r, 1)?,
        trainer: uuid_col(r, 2)?,
        name: r.get(3)?,
        created_ms: r.get(4)?,
    })
}

fn device_row(row: &Row<'_>) -> rusqlite::Result<Device> {
    Ok(Device {
        id: DeviceId(uuid_col(row, 0)?),
        org: uuid_col(row, 1)?,
        public_key: PublicKey(b32_col(row, 2)?),
        learner: opt_uuid_col(row, 3)?.map(LearnerId),
        label: row.get(4)?,
        enrolled_ms: row.get(5)?,
    })
}

/// Columns of `receipts r JOIN devices d ON d.num = r.device` [`PREV_JOIN`], in the order
/// [`receipt_row`] reads.
const RECEIPT_COLS: &str = "d.id, r.seq, r.id, r.learner, r.kind, r.received_ms, r.envelope, p.id";

/// The receipt before `r` in its chain (none for the first): the acknowledged chain has no gaps,
/// so its id is the `prev` link of `r`.
const PREV_JOIN: &str = "LEFT JOIN receipts p ON p.device = r.device AND p.seq = r.seq - 1";

fn receipt_row(row: &Row<'_>) -> rusqlite::Result<StoredReceipt> {
    Ok(StoredReceipt {
        device: DeviceId(uuid_col(row, 0)?),
        seq: seq_col(row, 1)?,
        id: ReceiptId(b32_col(row, 2)?),
        prev: match row.get::<_, Option<Vec<u8>>>(7)? {
            None => ReceiptId::ZERO,
            Some(_) => ReceiptId(b32_col(row, 7)?),
        },
        learner: LearnerId(uuid_blob_col(row, 3)?),
        kind: row.get::<_, String>(4)?.into(),
        received_ms: row.get(5)?,
        envelope: row.get(6)?,
    })
}

/// A row of `pending` (ids as text, and the `prev` link).
fn pending_row(row: &Row<'_>) -> rusqlite::Result<StoredReceipt> {
    Ok(StoredReceipt {
        device: DeviceId(uuid_col(row, 0)?),
        seq: seq_col(row, 1)?,
        id: ReceiptId(b32_col(row, 2)?),
        prev: ReceiptId(b32_col(row, 7)?),
        learner: LearnerId(uuid_col(row, 3)?),
        kind: row.get::<_, String>(4)?.into(),
        received_ms: row.get(5)?,
        envelope: row.get(6)?,
    })
}

/// The device's integer key (`devices.num`), which the receipts table is keyed by.
fn device_num(conn: &Connection, device: DeviceId) -> StoreResult<Option<i64>> {
    let mut st = conn.prepare_cached("SELECT num FROM devices WHERE id = ?1")?;
    Ok(st
        .query_row([device.to_string()], |r| r.get(0))
        .optional()?)
}

fn package_row(row: &Row<'_>) -> rusqlite::Result<PackageRecord> {
    Ok(PackageRecord {
        course: row.get(0)?,
        version: row.get(1)?,
        title: row.get(2)?,
        manifest: row.get(3)?,
        manifest_sha: row.get(4)?,
        total_size: seq_col(row, 5)?,
        published_ms: row.get(6)?,
    })
}

const PACKAGE_COLS: &str =
    "course, version, title, manifest, manifest_sha, total_size, published_ms";

const FLAG_COLS: &str =
    "flag_code, flag_detail, flagged_ms, flag_resolved_ms, flag_resolved_by, flag_resolved_reason";

/// Reads the six [`FLAG_COLS`] from column `i` on.
fn flag_row(r: &Row<'_>, i: usize) -> rusqlite::Result<Option<DeviceFlag>> {
    let code: Option<String> = r.get(i)?;
    let Some(code) = code else { return Ok(None) };
    let resolved_ms: Option<i64> = r.get(i + 3)?;
    Ok(Some(DeviceFlag {
        code,
        detail: r.get::<_, Option<String>>(i + 1)?.unwrap_or_default(),
        flagged_ms: r.get::<_, Option<i64>>(i + 2)?.unwrap_or_default(),
        resolved: match resolved_ms {
            Some(resolved_ms) => Some(FlagResolution {
                by: r.get::<_, Option<String>>(i + 4)?.unwrap_or_default(),
                reason: r.get::<_, Option<String>>(i + 5)?.unwrap_or_default(),
                resolved_ms,
            }),
            None => None,
        },
    }))
}

fn chain_state_in(conn: &Connection, device: DeviceId) -> StoreResult<ChainState> {
    let row = conn
        .query_row(
            &format!("SELECT head_seq, head_id, {FLAG_COLS} FROM devices WHERE id = ?1"),
            [device.to_string()],
            |r| Ok((seq_col(r, 0)?, ReceiptId(b32_col(r, 1)?), flag_row(r, 2)?)),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    let pending: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pending WHERE device_id = ?1",
        [device.to_string()],
        |r| r.get(0),
    )?;
    Ok(ChainState {
        head: ChainHead {
            seq: row.0,
            id: row.1,
        },
        flag: row.2,
        pending: pending as u64,
    })
}

struct SqliteChainTxn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    /// The device id as text (the key of `devices`, `pending` and `rejections`).
    device: String,
    /// The device's integer key in `receipts`.
    num: i64,
}

/// The SQL of [`FactsTxn`], shared by the chain and rebuild transactions.
mod facts_sql {
    use super::*;

    pub fn learner(tx: &Connection, id: LearnerId) -> StoreResult<Option<Learner>> {
        let mut st = tx.prepare_cached(&format!(
            "SELECT {LEARNER_COLS} FROM learners WHERE id = ?1"
        ))?;
        Ok(st.query_row([id.to_string()], learner_row).optional()?)
    }

    pub fn learner_facts(tx: &Connection, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
        let mut st = tx.prepare_cached("SELECT facts FROM learner_facts WHERE learner = ?1")?;
        Ok(st
            .query_row([&person.0.as_bytes()[..]], |r| r.get(0))
            .optional()?)
    }

    pub fn put_learner_facts(
        tx: &Connection,
        person: LearnerId,
        org: Uuid,
        facts: &[u8],
        flagged: bool,
    ) -> StoreResult<()> {
        let mut st = tx.prepare_cached(
            "INSERT INTO learner_facts (learner, org_id, facts, flagged) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (learner) DO UPDATE SET facts = excluded.facts, flagged = excluded.flagged",
        )?;
        st.execute(params![
            &person.0.as_bytes()[..],
            org.to_string(),
            facts,
            i64::from(flagged)
        ])?;
        Ok(())
    }

    pub fn device_facts(tx: &Connection, device: DeviceId) -> StoreResult<Option<Vec<u8>>> {
        let mut st = tx.prepare_cached(
            "SELECT f.facts FROM device_facts f JOIN devices d ON d.num = f.device WHERE d.id = ?1",
        )?;
        Ok(st
            .query_row([device.to_string()], |r| r.get(0))
            .optional()?)
    }

    pub fn put_device_facts(tx: &Connection, device: DeviceId, facts: &[u8]) -> StoreResult<()> {
        let num = device_num(tx, device)?.ok_or(StoreError::NotFound)?;
        let mut st = tx.prepare_cached(
            "INSERT INTO device_facts (device, facts) VALUES (?1, ?2)
             ON CONFLICT (device) DO UPDATE SET facts = excluded.facts",
        )?;
        st.execute(params![num, facts])?;
        Ok(())
    }

    pub fn issue_certificate(tx: &Connection, c: &Certificate) -> StoreResult<Certificate> {
        tx.prepare_cached(
            "INSERT OR IGNORE INTO certificates (serial, learner_id, course, issued_ms)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![
            c.serial,
            c.learner.to_string(),
            c.course,
            c.issued_ms
        ])?;
        Ok(tx
            .prepare_cached(
                "SELECT serial, learner_id, course, issued_ms FROM certificates
                 WHERE learner_id = ?1 AND course = ?2",
            )?
            .query_row(params![c.learner.to_string(), c.course], cert_row)?)
    }
}

macro_rules! facts_txn_impl {
    ($t:ty) => {
        impl FactsTxn for $t {
            fn learner(&mut self, id: LearnerId) -> StoreResult<Option<Learner>> {
                facts_sql::learner(self.tx, id)
            }
            fn learner_facts(&mut self, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
                facts_sql::learner_facts(self.tx, person)
            }
            fn put_learner_facts(
                &mut self,
                person: LearnerId,
                org: Uuid,
                facts: &[u8],
                flagged: bool,
            ) -> StoreResult<()> {
                facts_sql::put_learner_facts(self.tx, person, org, facts, flagged)
            }
            fn device_facts(&mut self, device: DeviceId) -> StoreResult<Option<Vec<u8>>> {
                facts_sql::device_facts(self.tx, device)
            }
            fn put_device_facts(&mut self, device: DeviceId, facts: &[u8]) -> StoreResult<()> {
                facts_sql::put_device_facts(self.tx, device, facts)
            }
            fn issue_certificate(&mut self, cert: &Certificate) -> StoreResult<Certificate> {
                facts_sql::issue_certificate(self.tx, cert)
            }
        }
    };
}

facts_txn_impl!(SqliteChainTxn<'_>);
facts_txn_impl!(SqliteRebuildTxn<'_>);

struct SqliteRebuildTxn<'a> {
    tx: &'a rusqlite::Transaction<'a>,
}

impl RebuildTxn for SqliteRebuildTxn<'_> {
    fn devices(&mut self, org: Option<Uuid>) -> StoreResult<Vec<(Device, Option<DeviceFlag>)>> {
        let mut st = self.tx.prepare(&format!(
            "SELECT {DEVICE_COLS}, {FLAG_COLS} FROM devices
             WHERE ?1 IS NULL OR org_id = ?1 ORDER BY num"
        ))?;
        let out = st
            .query_map([org.map(|o| o.to_string())], |r| {
                Ok((device_row(r)?, flag_row(r, 6)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn chain_page(
        &mut self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        receipts_of_device_in(self.tx, device, from_seq, limit)
    }

    fn clear_facts(&mut self, org: Option<Uuid>) -> StoreResult<()> {
        let org = org.map(|o| o.to_string());
        self.tx.execute(
            "DELETE FROM learner_facts WHERE ?1 IS NULL OR org_id = ?1",
            [&org],
        )?;
        self.tx.execute(
            "DELETE FROM device_facts
             WHERE ?1 IS NULL OR device IN (SELECT num FROM devices WHERE org_id = ?1)",
            [&org],
        )?;
        Ok(())
    }

    fn set_facts_version(&mut self, version: u32) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE facts_meta SET value = ?1 WHERE key = 'version'",
            [version],
        )?;
        Ok(())
    }
}

fn receipts_of_device_in(
    conn: &Connection,
    device: DeviceId,
    from_seq: u64,
    limit: u32,
) -> StoreResult<Vec<StoredReceipt>> {
    let Some(num) = device_num(conn, device)? else {
        return Ok(Vec::new());
    };
    let mut st = conn.prepare_cached(&format!(
        "SELECT {RECEIPT_COLS} FROM receipts r JOIN devices d ON d.num = r.device {PREV_JOIN}
         WHERE r.device = ?1 AND r.seq >= ?2 ORDER BY r.seq LIMIT ?3"
    ))?;
    let out = st
        .query_map(params![num, from_seq as i64, limit], receipt_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(out)
}

impl ChainTxn for SqliteChainTxn<'_> {
    fn state(&mut self) -> StoreResult<ChainState> {
        let id = DeviceId(Uuid::parse_str(&self.device).map_err(be)?);
        chain_state_in(self.tx, id)
    }

    fn held_at(&mut self, seq: u64) -> StoreResult<Option<ReceiptId>> {
        let mut st = self
            .tx
            .prepare_cached("SELECT id FROM receipts WHERE device = ?1 AND seq = ?2")?;
        Ok(st
            .query_row(params![self.num, seq as i64], |r| {
                Ok(ReceiptId(b32_col(r, 0)?))
            })
            .optional()?)
    }

    fn append(&mut self, r: &StoredReceipt) -> StoreResult<()> {
        let mut st = self.tx.prepare_cached(
            "INSERT INTO receipts (device, seq, id, learner, kind, received_ms, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        st.execute(params![
            self.num,
            r.seq as i64,
            &r.id.0[..],
            &r.learner.0.as_bytes()[..],
            &*r.kind,
            r.received_ms,
            r.envelope
        ])?;
        Ok(())
    }

    fn set_head(&mut self, head: ChainHead) -> StoreResult<()> {
        let mut st = self
            .tx
            .prepare_cached("UPDATE devices SET head_seq = ?2, head_id = ?3 WHERE id = ?1")?;
        st.execute(params![self.device, head.seq as i64, &head.id.0[..]])?;
        Ok(())
    }

    fn has_pending(&mut self, seq: u64, id: ReceiptId) -> StoreResult<bool> {
        let mut st = self.tx.prepare_cached(
            "SELECT 1 FROM pending WHERE device_id = ?1 AND seq = ?2 AND id = ?3",
        )?;
        Ok(st.exists(params![self.device, seq as i64, &id.0[..]])?)
    }

    fn add_pending(&mut self, r: &StoredReceipt) -> StoreResult<()> {
        let mut st = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO pending
             (device_id, seq, id, prev, learner_id, kind, received_ms, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        st.execute(params![
            self.device,
            r.seq as i64,
            &r.id.0[..],
            &r.prev.0[..],
            r.learner.to_string(),
            &*r.kind,
            r.received_ms,
            r.envelope
        ])?;
        Ok(())
    }

    fn take_pending(&mut self, seq: u64) -> StoreResult<Vec<StoredReceipt>> {
        let out = {
            let mut st = self.tx.prepare_cached(
                "SELECT device_id, seq, id, learner_id, kind, received_ms, envelope, prev
                 FROM pending WHERE device_id = ?1 AND seq = ?2",
            )?;
            st.query_map(params![self.device, seq as i64], pending_row)?
                .collect::<Result<Vec<_>, _>>()?
        };
        if !out.is_empty() {
            self.tx.execute(
                "DELETE FROM pending WHERE device_id = ?1 AND seq = ?2",
                params![self.device, seq as i64],
            )?;
        }
        Ok(out)
    }

    fn reject(&mut self, r: &RejectionRecord, keep: bool) -> StoreResult<()> {
        if keep {
            let mut st = self.tx.prepare_cached(
                "INSERT INTO rejections (device_id, org_id, code, seq, received_ms, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            st.execute(params![
                r.device.to_string(),
                r.org.to_string(),
                r.code,
                r.seq.map(|s| s as i64),
                r.received_ms,
                r.envelope
            ])?;
        }
        let mut st = self.tx.prepare_cached(
            "INSERT INTO rejection_counts (device_id, org_id, code, count, kept)
             VALUES (?1, ?2, ?3, 1, ?4)
             ON CONFLICT (device_id, code) DO UPDATE
             SET count = count + 1, kept = kept + excluded.kept",
        )?;
        st.execute(params![
            r.device.to_string(),
            r.org.to_string(),
            r.code,
            i64::from(keep)
        ])?;
        Ok(())
    }

    fn rejections_kept(&mut self) -> StoreResult<u64> {
        let mut st = self.tx.prepare_cached(
            "SELECT COALESCE(SUM(kept), 0) FROM rejection_counts WHERE device_id = ?1",
        )?;
        let n: i64 = st.query_row([&self.device], |r| r.get(0))?;
        Ok(n as u64)
    }

    fn flag(&mut self, flag: &DeviceFlag) -> StoreResult<()> {
        self.tx.execute(
            "UPDATE devices SET flag_code = ?2, flag_detail = ?3, flagged_ms = ?4,
                    flag_resolved_ms = NULL, flag_resolved_by = NULL, flag_resolved_reason = NULL
             WHERE id = ?1 AND (flag_code IS NULL OR flag_resolved_ms IS NOT NULL)",
            params![self.device, flag.code, flag.detail, flag.flagged_ms],
        )?;
        Ok(())
    }

    fn class(&mut self, id: Uuid) -> StoreResult<Option<Class>> {
        let mut st = self.tx.prepare_cached(
            "SELECT id, org_id, trainer_id, name, created_ms FROM classes WHERE id = ?1",
        )?;
        Ok(st.query_row([id.to_string()], class_row).optional()?)
    }

    fn put_assignment(&mut self, a: &Assignment) -> StoreResult<bool> {
        Ok(insert_assignment(self.tx, a, true)? > 0)
    }
}

/// Inserts an assignment; with `if_new`, an existing one with the same id is kept (the row is
/// then not written and 0 is returned).
fn insert_assignment(conn: &Connection, a: &Assignment, if_new: bool) -> StoreResult<usize> {
    let sql = if if_new {
        "INSERT INTO assignments (id, org_id, class_id, course, lesson, exam, due_ms,
                                  created_by, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING"
    } else {
        "INSERT INTO assignments (id, org_id, class_id, course, lesson, exam, due_ms,
                                  created_by, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    };
    Ok(conn.prepare_cached(sql)?.execute(params![
        a.id.to_string(),
        a.org.to_string(),
        a.class.to_string(),
        a.course,
        a.lesson,
        a.exam,
        a.due_ms,
        a.created_by.to_string(),
        a.created_ms
    ])?)
}

impl Store for SqliteStore {
    fn create_org(&self, org: &Org) -> StoreResult<()> {
        self.conn()
            .execute(
                "INSERT INTO orgs (id, name, created_ms) VALUES (?1, ?2, ?3)",
                params![org.id.to_string(), org.name, org.created_ms],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::OrgExists),
                other => other,
            })?;
        Ok(())
    }

    fn orgs(&self) -> StoreResult<Vec<Org>> {
        let conn = self.conn();
        let mut st =
            conn.prepare("SELECT id, name, created_ms FROM orgs ORDER BY created_ms, id")?;
        let out = st
            .query_map([], |r| {
                Ok(Org {
                    id: uuid_col(r, 0)?,
                    name: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn org(&self, id: Uuid) -> StoreResult<Option<Org>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, name, created_ms FROM orgs WHERE id = ?1",
                [id.to_string()],
                |r| {
                    Ok(Org {
                        id: uuid_col(r, 0)?,
                        name: r.get(1)?,
                        created_ms: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    fn create_user(&self, user: &User) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO users (id, org_id, role, name, created_ms, pin_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                user.id.to_string(),
                user.org.to_string(),
                user.role.as_str(),
                user.name,
                user.created_ms,
                user.pin_hash
            ],
        )?;
        Ok(())
    }

    fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, org_id, role, name, created_ms, pin_hash FROM users WHERE id = ?1",
                [id.to_string()],
                user_row,
            )
            .optional()?)
    }

    fn users_of_org(&self, org: Uuid) -> StoreResult<Vec<User>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT id, org_id, role, name, created_ms, pin_hash FROM users WHERE org_id = ?1\n             ORDER BY name",
        )?;
        let out = st
            .query_map([org.to_string()], user_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn set_pin(&self, person: Uuid, pin_hash: &str) -> StoreResult<bool> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = person.to_string();
        let n = tx.execute(
            "UPDATE learners SET pin_hash = ?2 WHERE id = ?1",
            params![id, pin_hash],
        )? + tx.execute(
            "UPDATE users SET pin_hash = ?2 WHERE id = ?1 AND role = 'trainer'",
            params![id, pin_hash],
        )?;
        tx.commit()?;
        Ok(n > 0)
    }

    fn create_assignment(&self, a: &Assignment) -> StoreResult<()> {
        insert_assignment(&self.conn(), a, false)?;
        Ok(())
    }

    fn assignments(&self, org: Uuid, class: Option<Uuid>) -> StoreResult<Vec<Assignment>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, org_id, class_id, course, lesson, exam, due_ms, created_by, created_ms
             FROM assignments WHERE org_id = ?1 AND (?2 IS NULL OR class_id = ?2)
             ORDER BY created_ms, id",
        )?;
        let out = st
            .query_map(
                params![org.to_string(), class.map(|c| c.to_string())],
                |r| {
                    Ok(Assignment {
                        id: uuid_col(r, 0)?,
                        org: uuid_col(r, 1)?,
                        class: uuid_col(r, 2)?,
                        course: r.get(3)?,
                        lesson: r.get(4)?,
                        exam: r.get(5)?,
                        due_ms: r.get(6)?,
                        created_by: uuid_col(r, 7)?,
                        created_ms: r.get(8)?,
                    })
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn create_class(&self, c: &Class) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO classes (id, org_id, trainer_id, name, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                c.id.to_string(),
                c.org.to_string(),
                c.trainer.to_string(),
                c.name,
                c.created_ms
            ],
        )?;
        Ok(())
    }

    fn class(&self, id: Uuid) -> StoreResult<Option<Class>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT id, org_id, trainer_id, name, created_ms FROM classes WHERE id = ?1",
                [id.to_string()],
                class_row,
            )
            .optional()?)
    }

    fn classes_of_org(&self, org: Uuid) -> StoreResult<Vec<Class>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT id, org_id, trainer_id, name, created_ms FROM classes WHERE org_id = ?1
             ORDER BY name, id",
        )?;
        let out = st
            .query_map([org.to_string()], class_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn create_learner(&self, l: &Learner) -> StoreResult<()> {
        let r = self.conn().execute(
            &format!(
                "INSERT INTO learners ({LEARNER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                l.id.to_string(),
                l.org.to_string(),
                l.name,
                &l.national_id_mac[..],
                l.national_id_tail,
                l.class.map(|c| c.to_string()),
                l.pin_hash,
                l.created_ms
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(e) => match StoreError::from(e) {
                StoreError::Conflict(_) => Err(StoreError::Conflict(Conflict::LearnerExists)),
                other => Err(other),
            },
        }
    }

    fn learner(&self, id: LearnerId) -> StoreResult<Option<Learner>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {LEARNER_COLS} FROM learners WHERE id = ?1"),
                [id.to_string()],
                learner_row,
            )
            .optional()?)
    }

    fn issue_card(
        &self,
        learner: LearnerId,
        secret: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<u32>> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = learner.to_string();
        let org: Option<String> = tx
            .query_row("SELECT org_id FROM learners WHERE id = ?1", [&id], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(org) = org else {
            return Ok(None);
        };
        let last: i64 = tx.query_row(
            "SELECT COALESCE(MAX(serial), 0) FROM learner_cards WHERE learner_id = ?1",
            [&id],
            |r| r.get(0),
        )?;
        let serial = u32::try_from(last + 1)
            .map_err(|_| StoreError::Backend("learner_cards: serial out of range".into()))?;
        tx.execute(
            "UPDATE learner_cards SET replaced_ms = ?2
             WHERE learner_id = ?1 AND replaced_ms IS NULL",
            params![id, now_ms],
        )?;
        tx.execute(
            "INSERT INTO learner_cards (learner_id, org_id, serial, secret, issued_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, org, serial, &secret[..], now_ms],
        )?;
        tx.commit()?;
        Ok(Some(serial))
    }

    fn cards_of(&self, learner: LearnerId) -> StoreResult<Vec<CardRecord>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT serial, secret, issued_ms, replaced_ms FROM learner_cards
             WHERE learner_id = ?1 ORDER BY serial",
        )?;
        let rows = st
            .query_map([learner.to_string()], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(serial, secret, issued_ms, replaced_ms)| {
                Ok(CardRecord {
                    learner,
                    serial: u32::try_from(serial)
                        .map_err(|_| StoreError::Backend("learner_cards: bad serial".into()))?,
                    secret: secret
                        .try_into()
                        .map_err(|_| StoreError::Backend("learner_cards: bad secret".into()))?,
                    issued_ms,
                    replaced_ms,
                })
            })
            .collect()
    }

    fn roster_stamp(&self, org: Uuid) -> StoreResult<i64> {
        Ok(self
            .conn()
            .query_row(
                "SELECT stamp FROM roster_stamps WHERE org_id = ?1",
                [org.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0))
    }

    fn learners_of_org(&self, org: Uuid) -> StoreResult<Vec<Learner>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {LEARNER_COLS} FROM learners WHERE org_id = ?1 ORDER BY name, id"
        ))?;
        let out = st
            .query_map([org.to_string()], learner_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn learners_of_class(&self, class: Uuid) -> StoreResult<Vec<Learner>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {LEARNER_COLS} FROM learners WHERE class_id = ?1 ORDER BY name, id"
        ))?;
        let out = st
            .query_map([class.to_string()], learner_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn put_token(&self, t: &TokenRecord) -> StoreResult<()> {
        put_token_in(&self.conn(), t)
    }

    fn token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT subject_kind, subject_id, org_id, created_ms, expires_ms FROM tokens WHERE hash = ?1",
        )?;
        Ok(st
            .query_row([&hash[..]], |r| {
                let kind: String = r.get(0)?;
                let id = uuid_col(r, 1)?;
                Ok(TokenRecord {
                    hash: *hash,
                    subject: if kind == "device" {
                        Subject::Device(DeviceId(id))
                    } else {
                        Subject::User(id)
                    },
                    org: uuid_col(r, 2)?,
                    created_ms: r.get(3)?,
                    expires_ms: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn put_enrollment_code(&self, c: &EnrollmentCode) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO enrollment_codes (hash, org_id, learner_id, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                &c.hash[..],
                c.org.to_string(),
                c.learner.map(|l| l.to_string()),
                c.created_ms,
                c.expires_ms
            ],
        )?;
        for class in &c.classes {
            tx.execute(
                "INSERT OR IGNORE INTO enrollment_code_classes (code_hash, class_id, org_id)
                 VALUES (?1, ?2, ?3)",
                params![&c.hash[..], class.to_string(), c.org.to_string()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn redeem_enrollment(
        &self,
        code_hash: &[u8; 32],
        now_ms: i64,
        make: &mut dyn FnMut(&EnrollmentCode) -> Option<(Device, TokenRecord)>,
    ) -> StoreResult<Option<(EnrollmentCode, Device)>> {
        let mut conn = self.conn();
        // BEGIN IMMEDIATE: the write lock is held from the read of the code on, so no other
        // redemption reads it unused in between.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let code = tx
            .query_row(
                "SELECT org_id, learner_id, created_ms, expires_ms, used_ms
                 FROM enrollment_codes WHERE hash = ?1",
                [&code_hash[..]],
                |r| {
                    Ok(EnrollmentCode {
                        hash: *code_hash,
                        org: uuid_col(r, 0)?,
                        learner: opt_uuid_col(r, 1)?.map(LearnerId),
                        classes: Vec::new(),
                        created_ms: r.get(2)?,
                        expires_ms: r.get(3)?,
                        used_ms: r.get(4)?,
                    })
                },
            )
            .optional()?
            .ok_or(StoreError::NotFound)?;
        let code = EnrollmentCode {
            classes: tx
                .prepare(
                    "SELECT class_id FROM enrollment_code_classes WHERE code_hash = ?1
                     ORDER BY class_id",
                )?
                .query_map([&code_hash[..]], |r| uuid_col(r, 0))?
                .collect::<Result<_, _>>()?,
            ..code
        };
        let Some((device, token)) = make(&code) else {
            return Ok(None);
        };
        let exists: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM devices WHERE id = ?1 OR public_key = ?2)",
            params![device.id.to_string(), &device.public_key.0[..]],
            |r| r.get(0),
        )?;
        if exists {
            return Err(StoreError::Conflict(Conflict::DeviceExists));
        }
        // The device number is the new row's rowid (devices are never deleted, so rowids only
        // grow), not MAX(num) + 1 computed beside the insert.
        tx.execute(
            &format!(
                "INSERT INTO devices ({DEVICE_COLS}, head_seq, head_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7)"
            ),
            params![
                device.id.to_string(),
                device.org.to_string(),
                &device.public_key.0[..],
                device.learner.map(|l| l.to_string()),
                device.label,
                device.enrolled_ms,
                &ReceiptId::ZERO.0[..]
            ],
        )?;
        tx.execute(
            "UPDATE devices SET num = rowid WHERE rowid = last_insert_rowid()",
            [],
        )?;
        let n = tx.execute(
            "UPDATE enrollment_codes SET used_ms = ?2, device_id = ?3
             WHERE hash = ?1 AND used_ms IS NULL",
            params![&code_hash[..], now_ms, device.id.to_string()],
        )?;
        if n != 1 {
            return Err(StoreError::Conflict(Conflict::Constraint));
        }
        for class in &code.classes {
            tx.execute(
                "INSERT INTO kiosk_classes (device_id, class_id, org_id) VALUES (?1, ?2, ?3)",
                params![
                    device.id.to_string(),
                    class.to_string(),
                    device.org.to_string()
                ],
            )?;
        }
        put_token_in(&tx, &token)?;
        tx.commit()?;
        let code = EnrollmentCode {
            used_ms: Some(now_ms),
            ..code
        };
        Ok(Some((code, device)))
    }

    fn device(&self, id: DeviceId) -> StoreResult<Option<Device>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached(&format!("SELECT {DEVICE_COLS} FROM devices WHERE id = ?1"))?;
        Ok(st.query_row([id.to_string()], device_row).optional()?)
    }

    fn kiosk_classes(&self, device: DeviceId) -> StoreResult<Vec<Uuid>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT class_id FROM kiosk_classes WHERE device_id = ?1 ORDER BY class_id",
        )?;
        let out = st
            .query_map([device.to_string()], |r| uuid_col(r, 0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn set_kiosk_classes(&self, device: DeviceId, classes: &[Uuid]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let org: String = tx
            .query_row(
                "SELECT org_id FROM devices WHERE id = ?1",
                [device.to_string()],
                |r| r.get(0),
            )
            .optional()?
            .ok_or(StoreError::NotFound)?;
        let keep: Vec<String> = classes.iter().map(Uuid::to_string).collect();
        let linked: Vec<String> = tx
            .prepare("SELECT class_id FROM kiosk_classes WHERE device_id = ?1")?
            .query_map([device.to_string()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for old in linked.iter().filter(|c| !keep.contains(c)) {
            tx.execute(
                "DELETE FROM kiosk_classes WHERE device_id = ?1 AND class_id = ?2",
                params![device.to_string(), old],
            )?;
        }
        for new in keep.iter().filter(|c| !linked.contains(c)) {
            tx.execute(
                "INSERT OR IGNORE INTO kiosk_classes (device_id, class_id, org_id)
                 VALUES (?1, ?2, ?3)",
                params![device.to_string(), new, org],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn chain_state(&self, device: DeviceId) -> StoreResult<ChainState> {
        chain_state_in(&self.conn(), device)
    }

    fn chain_txn(
        &self,
        device: DeviceId,
        f: &mut dyn FnMut(&mut dyn ChainTxn) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let num = device_num(&tx, device)?.ok_or(StoreError::NotFound)?;
            let mut t = SqliteChainTxn {
                tx: &tx,
                device: device.to_string(),
                num,
            };
            f(&mut t)?;
        }
        // One commit, so one fsync of the WAL, per batch; with synchronous=FULL it is on disk
        // before this returns and the batch is acknowledged. Do not relax this (NORMAL would
        // let a power cut lose acknowledged receipts).
        tx.commit()?;
        Ok(())
    }

    fn receipts_of_learner(
        &self,
        learner: LearnerId,
        after: Option<(DeviceId, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {RECEIPT_COLS} FROM receipts r JOIN devices d ON d.num = r.device {PREV_JOIN}
             WHERE r.learner = ?1 AND (d.id > ?2 OR (d.id = ?2 AND r.seq > ?3))
             ORDER BY d.id, r.seq LIMIT ?4"
        ))?;
        let (after_device, after_seq) =
            after.map_or((String::new(), 0), |(d, s)| (d.to_string(), s as i64));
        let out = st
            .query_map(
                params![&learner.0.as_bytes()[..], after_device, after_seq, limit],
                receipt_row,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn receipts_of_device(
        &self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        receipts_of_device_in(&self.conn(), device, from_seq, limit)
    }

    fn flagged_devices(&self, org: Uuid) -> StoreResult<Vec<(Device, DeviceFlag)>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {DEVICE_COLS}, {FLAG_COLS} FROM devices
             WHERE org_id = ?1 AND flag_code IS NOT NULL ORDER BY flagged_ms, num"
        ))?;
        let out = st
            .query_map([org.to_string()], |r| Ok((device_row(r)?, flag_row(r, 6)?)))?
            .filter_map(|r| match r {
                Ok((d, Some(f))) => Some(Ok((d, f))),
                Ok((_, None)) => None,
                Err(e) => Some(Err(e)),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn rejections(
        &self,
        org: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, RejectionRecord)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            // `rowid` here is the table's declared INTEGER PRIMARY KEY column (001_init.sql),
            // given in insertion order, not SQLite's hidden one.
            "SELECT rowid, device_id, org_id, code, seq, received_ms, envelope FROM rejections
             WHERE org_id = ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3",
        )?;
        let out = st
            .query_map(
                params![org.to_string(), before.unwrap_or(i64::MAX), limit],
                |r| {
                    Ok((
                        r.get(0)?,
                        RejectionRecord {
                            device: DeviceId(uuid_col(r, 1)?),
                            org: uuid_col(r, 2)?,
                            code: r.get(3)?,
                            seq: r.get::<_, Option<i64>>(4)?.map(|s| s as u64),
                            received_ms: r.get(5)?,
                            envelope: r.get(6)?,
                        },
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn rejection_counts(&self, org: Uuid) -> StoreResult<Vec<(DeviceId, String, u64, u64)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT device_id, code, count, kept FROM rejection_counts
             WHERE org_id = ?1 ORDER BY device_id, code",
        )?;
        let out = st
            .query_map([org.to_string()], |r| {
                Ok((
                    DeviceId(uuid_col(r, 0)?),
                    r.get(1)?,
                    r.get::<_, i64>(2)? as u64,
                    r.get::<_, i64>(3)? as u64,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn resolve_flag(&self, device: DeviceId, res: &FlagResolution) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE devices SET flag_resolved_ms = ?2, flag_resolved_by = ?3,
                    flag_resolved_reason = ?4
             WHERE id = ?1 AND flag_code IS NOT NULL AND flag_resolved_ms IS NULL",
            params![device.to_string(), res.resolved_ms, res.by, res.reason],
        )?;
        Ok(n > 0)
    }

    fn learner_facts(&self, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
        facts_sql::learner_facts(&self.conn(), person)
    }

    fn flagged_people(
        &self,
        org: Uuid,
        after: Option<LearnerId>,
        limit: u32,
    ) -> StoreResult<Vec<(LearnerId, Vec<u8>)>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT learner, facts FROM learner_facts
             WHERE org_id = ?1 AND flagged = 1 AND learner > ?2 ORDER BY learner LIMIT ?3",
        )?;
        let after = after.map_or([0u8; 16], |l| *l.0.as_bytes());
        let out = st
            .query_map(params![org.to_string(), &after[..], limit], |r| {
                Ok((LearnerId(uuid_blob_col(r, 0)?), r.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn device_facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(Device, Vec<u8>)>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {DEVICE_COLS}, f.facts FROM devices JOIN device_facts f ON f.device = devices.num
             WHERE devices.org_id = ?1 ORDER BY devices.num"
        ))?;
        let out = st
            .query_map([org.to_string()], |r| Ok((device_row(r)?, r.get(6)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn facts_version(&self) -> StoreResult<u32> {
        Ok(self.conn().query_row(
            "SELECT value FROM facts_meta WHERE key = 'version'",
            [],
            |r| r.get(0),
        )?)
    }

    fn rebuild_facts(
        &self,
        f: &mut dyn FnMut(&mut dyn RebuildTxn) -> StoreResult<()>,
    ) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        f(&mut SqliteRebuildTxn { tx: &tx })?;
        tx.commit()?;
        Ok(())
    }

    fn org_daily_cap(&self, org: Uuid) -> StoreResult<Option<u64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT daily_cap_ms FROM org_policy WHERE org_id = ?1",
                [org.to_string()],
                |r| r.get::<_, i64>(0),
            )
            .optional()?
            .map(|v| v as u64))
    }

    fn set_org_daily_cap(&self, org: Uuid, cap_ms: u64) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO org_policy (org_id, daily_cap_ms) VALUES (?1, ?2)
             ON CONFLICT (org_id) DO UPDATE SET daily_cap_ms = excluded.daily_cap_ms",
            params![org.to_string(), cap_ms as i64],
        )?;
        Ok(())
    }

    fn put_package(&self, p: &PackageRecord, keys: &[ExamKeyItem]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let r = tx.execute(
            &format!("INSERT INTO packages ({PACKAGE_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                p.course,
                p.version,
                p.title,
                p.manifest,
                p.manifest_sha,
                p.total_size as i64,
                p.published_ms
            ],
        );
        if let Err(e) = r {
            return Err(match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::PackageExists),
                other => other,
            });
        }
        for k in keys {
            tx.execute(
                "INSERT INTO exam_keys (course, version, exam, item, correct, points)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![p.course, p.version, k.exam, k.item, k.correct, k.points],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn packages(&self) -> StoreResult<Vec<PackageRecord>> {
        let conn = self.conn();
        let mut st = conn.prepare(&format!(
            "SELECT {PACKAGE_COLS} FROM packages ORDER BY course, version"
        ))?;
        let out = st
            .query_map([], package_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn package(&self, course: &str, version: u32) -> StoreResult<Option<PackageRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {PACKAGE_COLS} FROM packages WHERE course = ?1 AND version = ?2"),
                params![course, version],
                package_row,
            )
            .optional()?)
    }

    fn latest_package(&self, course: &str) -> StoreResult<Option<PackageRecord>> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {PACKAGE_COLS} FROM packages WHERE course = ?1 ORDER BY version DESC LIMIT 1"
                ),
                params![course],
                package_row,
            )
            .optional()?)
    }

    fn catalog_stamp(&self) -> StoreResult<(u64, i64)> {
        Ok(self.conn().query_row(
            "SELECT COUNT(*), COALESCE(MAX(published_ms), 0) FROM packages",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
        )?)
    }

    fn exam_keys(&self, course: &str, version: u32) -> StoreResult<Vec<ExamKeyItem>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT exam, item, correct, points FROM exam_keys
             WHERE course = ?1 AND version = ?2 ORDER BY exam, item",
        )?;
        let out = st
            .query_map(params![course, version], |r| {
                Ok(ExamKeyItem {
                    exam: r.get(0)?,
                    item: r.get(1)?,
                    correct: r.get(2)?,
                    points: r.get(3)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn issue_certificate(&self, c: &Certificate) -> StoreResult<Certificate> {
        facts_sql::issue_certificate(&self.conn(), c)
    }

    fn certificates_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<Certificate>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT serial, learner_id, course, issued_ms FROM certificates
             WHERE learner_id = ?1 ORDER BY course",
        )?;
        let out = st
            .query_map([learner.to_string()], cert_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    // ----- certificate credentials (issue #14) -----

    fn certificate(&self, serial: &str) -> StoreResult<Option<Certificate>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT serial, learner_id, course, issued_ms FROM certificates WHERE serial = ?1",
                [serial],
                cert_row,
            )
            .optional()?)
    }

    fn certificate_status_index(&self, serial: &str) -> StoreResult<u64> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR IGNORE INTO certificate_credentials (serial, status_index)
             SELECT ?1, COALESCE(MAX(status_index) + 1, 0) FROM certificate_credentials",
            [serial],
        )?;
        let i: i64 = conn.query_row(
            "SELECT status_index FROM certificate_credentials WHERE serial = ?1",
            [serial],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(i).unwrap_or(0))
    }

    fn save_certificate_credential(&self, serial: &str, credential: &str) -> StoreResult<String> {
        let conn = self.conn();
        conn.execute(
            "UPDATE certificate_credentials SET credential = ?2
             WHERE serial = ?1 AND credential IS NULL",
            params![serial, credential],
        )?;
        let kept: Option<String> = conn
            .query_row(
                "SELECT credential FROM certificate_credentials WHERE serial = ?1",
                [serial],
                |r| r.get(0),
            )
            .optional()?
            .flatten();
        kept.ok_or(StoreError::NotFound)
    }

    fn certificate_credential(&self, serial: &str) -> StoreResult<Option<CertificateCredential>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT status_index, credential, revoked_ms, revoked_reason
                 FROM certificate_credentials WHERE serial = ?1",
                [serial],
                |r| {
                    let revoked_ms: Option<i64> = r.get(2)?;
                    Ok(CertificateCredential {
                        status_index: u64::try_from(r.get::<_, i64>(0)?).unwrap_or(0),
                        credential: r.get(1)?,
                        revoked: revoked_ms
                            .map(|ms| Ok::<_, rusqlite::Error>((ms, r.get(3)?)))
                            .transpose()?,
                    })
                },
            )
            .optional()?)
    }

    fn revoke_certificate(&self, serial: &str, reason: &str, now_ms: i64) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE certificate_credentials SET revoked_ms = ?2, revoked_reason = ?3
             WHERE serial = ?1 AND revoked_ms IS NULL",
            params![serial, now_ms, reason],
        )?;
        Ok(n == 1)
    }

    fn revoked_status_indices(&self) -> StoreResult<Vec<u64>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT status_index FROM certificate_credentials WHERE revoked_ms IS NOT NULL",
        )?;
        let out = st
            .query_map([], |r| r.get::<_, i64>(0))?
            .map(|r| r.map(|i| u64::try_from(i).unwrap_or(0)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    // ----- revocation (issue #19) -----

    fn revoke_tokens_of(&self, subject: &Subject) -> StoreResult<u64> {
        let (kind, id) = match subject {
            Subject::Device(d) => ("device", d.to_string()),
            Subject::User(u) => ("user", u.to_string()),
        };
        let n = self.conn().execute(
            "DELETE FROM tokens WHERE subject_kind = ?1 AND subject_id = ?2",
            params![kind, id],
        )?;
        Ok(n as u64)
    }

    fn revoke_token(&self, hash: &[u8; 32]) -> StoreResult<bool> {
        let n = self
            .conn()
            .execute("DELETE FROM tokens WHERE hash = ?1", [&hash[..]])?;
        Ok(n > 0)
    }

    fn record_relays(&self, rows: &[RelayRecord]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO relays (org_id, device_id, carrier_kind, carrier_id, received_ms,
                                     receipts, accepted)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for r in rows {
                let (kind, id) = match &r.carrier {
                    Some(Subject::Device(d)) => ("device", Some(d.to_string())),
                    Some(Subject::User(u)) => ("user", Some(u.to_string())),
                    None => ("cli", None),
                };
                st.execute(params![
                    r.org.to_string(),
                    r.device.to_string(),
                    kind,
                    id,
                    r.received_ms,
                    r.receipts as i64,
                    r.accepted as i64
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn relays(&self, org: Uuid, limit: u32) -> StoreResult<Vec<RelayRecord>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT org_id, device_id, carrier_kind, carrier_id, received_ms, receipts, accepted
             FROM relays WHERE org_id = ?1 ORDER BY id DESC LIMIT ?2",
        )?;
        let out = st
            .query_map(params![org.to_string(), limit], |r| {
                let kind: String = r.get(2)?;
                let id = opt_uuid_col(r, 3)?;
                Ok(RelayRecord {
                    org: uuid_col(r, 0)?,
                    device: DeviceId(uuid_col(r, 1)?),
                    carrier: match (kind.as_str(), id) {
                        ("device", Some(i)) => Some(Subject::Device(DeviceId(i))),
                        ("user", Some(i)) => Some(Subject::User(i)),
                        _ => None,
                    },
                    received_ms: r.get(4)?,
                    receipts: r.get::<_, i64>(5)? as u64,
                    accepted: r.get::<_, i64>(6)? as u64,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    // ----- the console (issue #15) -----

    fn put_console_account(&self, a: &ConsoleAccount) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO console_accounts (user_id, org_id, login, password_phc, set_ms, last_ok_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (user_id) DO UPDATE SET login = excluded.login,
                 password_phc = excluded.password_phc, set_ms = excluded.set_ms,
                 last_ok_ms = excluded.last_ok_ms",
            params![
                a.user.to_string(),
                a.org.to_string(),
                a.login,
                a.password_phc,
                a.set_ms,
                a.last_ok_ms
            ],
        )?;
        Ok(())
    }

    fn console_account(&self, login: &str) -> StoreResult<Option<ConsoleAccount>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT user_id, org_id, login, password_phc, set_ms, last_ok_ms
                 FROM console_accounts WHERE login = ?1",
                [login],
                |r| {
                    Ok(ConsoleAccount {
                        user: uuid_col(r, 0)?,
                        org: uuid_col(r, 1)?,
                        login: r.get(2)?,
                        password_phc: r.get(3)?,
                        set_ms: r.get(4)?,
                        last_ok_ms: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn console_signed_in(&self, user: Uuid, at_ms: i64) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE console_accounts SET last_ok_ms = ?2 WHERE user_id = ?1",
            params![user.to_string(), at_ms],
        )?;
        Ok(())
    }

    fn add_sign_in_failure(&self, f: &SignInFailure) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO sign_in_failures (org_id, user_id, login, address, at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                f.account.map(|a| a.1.to_string()),
                f.account.map(|a| a.0.to_string()),
                f.login,
                f.address,
                f.at_ms
            ],
        )?;
        Ok(())
    }

    fn sign_in_failures_since(
        &self,
        login: Option<&str>,
        address: &str,
        since_ms: i64,
    ) -> StoreResult<(u64, u64)> {
        let conn = self.conn();
        let of_user: i64 = match login {
            Some(l) => conn.query_row(
                "SELECT COUNT(*) FROM sign_in_failures WHERE login = ?1 AND at_ms >= ?2",
                params![l, since_ms],
                |r| r.get(0),
            )?,
            None => 0,
        };
        let of_addr: i64 = conn.query_row(
            "SELECT COUNT(*) FROM sign_in_failures WHERE address = ?1 AND at_ms >= ?2",
            params![address, since_ms],
            |r| r.get(0),
        )?;
        Ok((of_user as u64, of_addr as u64))
    }

    fn prune_sign_in_failures(&self, before_ms: i64) -> StoreResult<u64> {
        let n = self
            .conn()
            .execute("DELETE FROM sign_in_failures WHERE at_ms < ?1", [before_ms])?;
        Ok(n as u64)
    }

    fn put_console_session(&self, s: &ConsoleSession) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO console_sessions (hash, org_id, user_id, csrf, created_ms, expires_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                &s.hash[..],
                s.org.to_string(),
                s.user.to_string(),
                &s.csrf[..],
                s.created_ms,
                s.expires_ms
            ],
        )?;
        Ok(())
    }

    fn console_session(&self, hash: &[u8; 32]) -> StoreResult<Option<ConsoleSession>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT org_id, user_id, csrf, created_ms, expires_ms
                 FROM console_sessions WHERE hash = ?1",
                [&hash[..]],
                |r| {
                    Ok(ConsoleSession {
                        hash: *hash,
                        org: uuid_col(r, 0)?,
                        user: uuid_col(r, 1)?,
                        csrf: b32_col(r, 2)?,
                        created_ms: r.get(3)?,
                        expires_ms: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    fn delete_console_session(&self, hash: &[u8; 32]) -> StoreResult<bool> {
        let n = self
            .conn()
            .execute("DELETE FROM console_sessions WHERE hash = ?1", [&hash[..]])?;
        Ok(n > 0)
    }

    fn delete_console_sessions_of(&self, user: Uuid) -> StoreResult<u64> {
        let n = self.conn().execute(
            "DELETE FROM console_sessions WHERE user_id = ?1",
            [user.to_string()],
        )?;
        Ok(n as u64)
    }

    fn append_audit(
        &self,
        org: Uuid,
        make: &mut dyn FnMut(Option<&AuditEntry>) -> AuditEntry,
    ) -> StoreResult<AuditEntry> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last = tx
            .query_row(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = ?1 ORDER BY seq DESC LIMIT 1"
                ),
                [org.to_string()],
                audit_row,
            )
            .optional()?;
        let e = make(last.as_ref());
        tx.execute(
            &format!(
                "INSERT INTO audit_log ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ),
            params![
                e.org.to_string(),
                e.seq as i64,
                e.at_ms,
                e.actor,
                e.action,
                e.detail,
                &e.prev_hash[..],
                &e.hash[..]
            ],
        )?;
        tx.commit()?;
        Ok(e)
    }

    fn audit_entries(&self, org: Uuid, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))?;
        let out = st
            .query_map(params![org.to_string(), after_seq as i64, limit], audit_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn import_learners(&self, learners: &[Learner]) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare_cached(&format!(
                "INSERT INTO learners ({LEARNER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))?;
            for l in learners {
                st.execute(params![
                    l.id.to_string(),
                    l.org.to_string(),
                    l.name,
                    &l.national_id_mac[..],
                    l.national_id_tail,
                    l.class.map(|c| c.to_string()),
                    l.pin_hash,
                    l.created_ms
                ])
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => StoreError::Conflict(Conflict::LearnerExists),
                    other => other,
                })?;
            }
        }
        tx.commit()?;
        Ok(())
    }
    fn put_flag_resolution(&self, r: &ResolvedFlag) -> StoreResult<bool> {
        let n = self.conn().execute(
            "INSERT INTO flag_resolutions (org_id, flag_key, note, user_id, resolved_ms)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org_id, flag_key) DO NOTHING",
            params![
                r.org.to_string(),
                r.key,
                r.note,
                r.by.to_string(),
                r.resolved_ms
            ],
        )?;
        Ok(n > 0)
    }

    fn flag_resolutions(&self, org: Uuid) -> StoreResult<Vec<ResolvedFlag>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT org_id, flag_key, note, user_id, resolved_ms FROM flag_resolutions
             WHERE org_id = ?1 ORDER BY resolved_ms, flag_key",
        )?;
        let out = st
            .query_map([org.to_string()], |r| {
                Ok(ResolvedFlag {
                    org: uuid_col(r, 0)?,
                    key: r.get(1)?,
                    note: r.get(2)?,
                    by: uuid_col(r, 3)?,
                    resolved_ms: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    // ----- photo checkpoints (issue #17) -----

    fn set_org_photos(&self, org: Uuid, enabled: bool, now_ms: i64) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO org_photo_policy (org_id, enabled, set_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (org_id) DO UPDATE SET enabled = excluded.enabled, set_ms = excluded.set_ms",
            params![org.to_string(), enabled, now_ms],
        )?;
        Ok(())
    }

    fn org_photos(&self, org: Uuid) -> StoreResult<bool> {
        Ok(self
            .conn()
            .query_row(
                "SELECT enabled FROM org_photo_policy WHERE org_id = ?1",
                [org.to_string()],
                |r| r.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
    }

    fn put_photo_request(&self, r: &PhotoRequest) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO photo_requests (id, org_id, learner_id, requested_by, reason,
                                         requested_ms, fulfilled_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.id.to_string(),
                r.org.to_string(),
                r.learner.0.to_string(),
                r.by.to_string(),
                r.reason,
                r.requested_ms,
                r.fulfilled_ms
            ],
        )?;
        Ok(())
    }

    fn photo_request(&self, id: Uuid) -> StoreResult<Option<PhotoRequest>> {
        Ok(self
            .conn()
            .query_row(
                &format!("SELECT {PHOTO_REQUEST_COLS} FROM photo_requests WHERE id = ?1"),
                [id.to_string()],
                photo_request_row,
            )
            .optional()?)
    }

    fn open_photo_requests(&self, org: Uuid) -> StoreResult<Vec<PhotoRequest>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {PHOTO_REQUEST_COLS} FROM photo_requests
             WHERE org_id = ?1 AND fulfilled_ms IS NULL ORDER BY requested_ms, id"
        ))?;
        let out = st
            .query_map([org.to_string()], photo_request_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn photo_requests_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<PhotoRequest>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {PHOTO_REQUEST_COLS} FROM photo_requests
             WHERE learner_id = ?1 ORDER BY requested_ms DESC, id"
        ))?;
        let out = st
            .query_map([learner.0.to_string()], photo_request_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn fulfil_photo_request(&self, id: Uuid, now_ms: i64) -> StoreResult<()> {
        self.conn().execute(
            "UPDATE photo_requests SET fulfilled_ms = ?2 WHERE id = ?1 AND fulfilled_ms IS NULL",
            params![id.to_string(), now_ms],
        )?;
        Ok(())
    }

    fn put_audit_photo(&self, p: &AuditPhoto) -> StoreResult<bool> {
        let n = self.conn().execute(
            "INSERT INTO audit_photos (request_id, receipt_id, learner_id, sha256, taken_wall_ms,
                                       received_ms, jpeg, stored_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (request_id, receipt_id) DO NOTHING",
            params![
                p.request.to_string(),
                &p.receipt.0[..],
                p.learner.0.to_string(),
                &p.sha256[..],
                p.taken_wall_ms,
                p.received_ms,
                p.jpeg,
                p.stored_ms
            ],
        )?;
        Ok(n > 0)
    }

    fn audit_photos(&self, request: Uuid) -> StoreResult<Vec<AuditPhoto>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT request_id, receipt_id, learner_id, sha256, taken_wall_ms, received_ms, jpeg,
                    stored_ms
             FROM audit_photos WHERE request_id = ?1 ORDER BY taken_wall_ms, receipt_id",
        )?;
        let out = st
            .query_map([request.to_string()], |r| {
                Ok(AuditPhoto {
                    request: uuid_col(r, 0)?,
                    receipt: ReceiptId(r.get(1)?),
                    learner: LearnerId(uuid_col(r, 2)?),
                    sha256: r.get(3)?,
                    taken_wall_ms: r.get(4)?,
                    received_ms: r.get(5)?,
                    jpeg: r.get(6)?,
                    stored_ms: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn delete_audit_photos_before(&self, before_ms: i64) -> StoreResult<u64> {
        let n = self
            .conn()
            .execute("DELETE FROM audit_photos WHERE stored_ms < ?1", [before_ms])?;
        Ok(n as u64)
    }

    // ----- supervision (issue #15, the supervisor) -----

    fn create_region(&self, region: &Region, office: &Org) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO orgs (id, name, created_ms) VALUES (?1, ?2, ?3)",
            params![office.id.to_string(), office.name, office.created_ms],
        )?;
        tx.execute(
            "INSERT INTO regions (code, name, parent, office_org_id, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                region.code,
                region.name,
                region.parent,
                region.office.to_string(),
                region.created_ms
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn regions(&self) -> StoreResult<Vec<Region>> {
        let conn = self.conn();
        let mut st = conn.prepare(
            "SELECT code, name, parent, office_org_id, created_ms FROM regions ORDER BY code",
        )?;
        let out = st
            .query_map([], |r| {
                Ok(Region {
                    code: r.get(0)?,
                    name: r.get(1)?,
                    parent: r.get(2)?,
                    office: uuid_col(r, 3)?,
                    created_ms: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn set_org_region(&self, org: Uuid, region: &str, now_ms: i64) -> StoreResult<()> {
        self.conn().execute(
            "INSERT INTO org_regions (org_id, region_code, set_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (org_id) DO UPDATE SET region_code = excluded.region_code,
                                                set_ms = excluded.set_ms",
            params![org.to_string(), region, now_ms],
        )?;
        Ok(())
    }

    fn org_region(&self, org: Uuid) -> StoreResult<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT region_code FROM org_regions WHERE org_id = ?1",
                [org.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn orgs_in_regions(&self, regions: &[String]) -> StoreResult<Vec<Org>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT o.id, o.name, o.created_ms FROM org_regions r JOIN orgs o ON o.id = r.org_id
             WHERE r.region_code = ?1",
        )?;
        let mut out = Vec::new();
        for code in regions {
            for org in st.query_map([code], |r| {
                Ok(Org {
                    id: uuid_col(r, 0)?,
                    name: r.get(1)?,
                    created_ms: r.get(2)?,
                })
            })? {
                out.push(org?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn create_supervisor(&self, user: &User, region: &str) -> StoreResult<()> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "INSERT INTO users (id, org_id, role, name, created_ms, pin_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
            params![
                user.id.to_string(),
                user.org.to_string(),
                user.role.as_str(),
                user.name,
                user.created_ms
            ],
        )?;
        tx.execute(
            "INSERT INTO supervisors (user_id, org_id, region_code) VALUES (?1, ?2, ?3)",
            params![user.id.to_string(), user.org.to_string(), region],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn supervisor_region(&self, user: Uuid) -> StoreResult<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT region_code FROM supervisors WHERE user_id = ?1",
                [user.to_string()],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(LearnerId, Vec<u8>)>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT learner, facts FROM learner_facts WHERE org_id = ?1 ORDER BY learner",
        )?;
        let out = st
            .query_map([org.to_string()], |r| {
                Ok((LearnerId(uuid_blob_col(r, 0)?), r.get(1)?))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    fn certificates_of_org(&self, org: Uuid) -> StoreResult<Vec<Certificate>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(
            "SELECT c.serial, c.learner_id, c.course, c.issued_ms
             FROM learners l JOIN certificates c ON c.learner_id = l.id
             WHERE l.org_id = ?1 ORDER BY c.serial",
        )?;
        let out = st
            .query_map([org.to_string()], cert_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(out)
    }

    // ----- subsidy claims (issue #15 item 5) -----

    fn put_claim(&self, c: &Claim, pack: &[u8]) -> StoreResult<()> {
        self.conn().execute(
            &format!(
                "INSERT INTO claims ({CLAIM_COLS}, pack)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, NULL, NULL, ?12)"
            ),
            params![
                c.id.to_string(),
                c.org.to_string(),
                c.class.to_string(),
                c.class_name,
                c.submitted_by.to_string(),
                c.submitted_ms,
                &c.pack_sha256[..],
                c.learners as i64,
                c.credited_ms as i64,
                c.certificates as i64,
                c.open_flags as i64,
                pack
            ],
        )?;
        Ok(())
    }

    fn claim(&self, id: Uuid) -> StoreResult<Option<Claim>> {
        let conn = self.conn();
        let mut st =
            conn.prepare_cached(&format!("SELECT {CLAIM_COLS} FROM claims WHERE id = ?1"))?;
        Ok(st.query_row([id.to_string()], claim_row).optional()?)
    }

    fn claim_pack(&self, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached("SELECT pack FROM claims WHERE id = ?1")?;
        Ok(st.query_row([id.to_string()], |r| r.get(0)).optional()?)
    }

    fn claims_of_orgs(&self, orgs: &[Uuid]) -> StoreResult<Vec<Claim>> {
        let conn = self.conn();
        let mut st = conn.prepare_cached(&format!(
            "SELECT {CLAIM_COLS} FROM claims WHERE org_id = ?1 ORDER BY submitted_ms DESC, id"
        ))?;
        let mut out = Vec::new();
        for org in orgs {
            for c in st.query_map([org.to_string()], claim_row)? {
                out.push(c?);
            }
        }
        out.sort_by(|a, b| b.submitted_ms.cmp(&a.submitted_ms).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    fn decide_claim(&self, id: Uuid, d: &ClaimDecision) -> StoreResult<bool> {
        let n = self.conn().execute(
            "UPDATE claims SET decision = ?2, reason = ?3, decided_by = ?4, decided_ms = ?5
             WHERE id = ?1 AND decision IS NULL",
            params![
                id.to_string(),
                if d.approved { "approved" } else { "rejected" },
                d.reason,
                d.by.to_string(),
                d.decided_ms
            ],
        )?;
        Ok(n > 0)
    }
}

const CLAIM_COLS: &str = "id, org_id, class_id, class_name, submitted_by, submitted_ms, \
    pack_sha256, learners, credited_ms, certificates, open_flags, decision, reason, decided_by, \
    decided_ms";

fn claim_row(r: &Row<'_>) -> rusqlite::Result<Claim> {
    let decision: Option<String> = r.get(11)?;
    let decided = match decision {
        Some(d) => Some(ClaimDecision {
            approved: d == "approved",
            reason: r.get(12)?,
            by: opt_uuid_col(r, 13)?.unwrap_or_default(),
            decided_ms: r.get::<_, Option<i64>>(14)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Claim {
        id: uuid_col(r, 0)?,
        org: uuid_col(r, 1)?,
        class: uuid_col(r, 2)?,
        class_name: r.get(3)?,
        submitted_by: uuid_col(r, 4)?,
        submitted_ms: r.get(5)?,
        pack_sha256: b32_col(r, 6)?,
        learners: seq_col(r, 7)?,
        credited_ms: seq_col(r, 8)?,
        certificates: seq_col(r, 9)?,
        open_flags: seq_col(r, 10)?,
        decision: decided,
    })
}

const AUDIT_COLS: &str = "org_id, seq, at_ms, actor, action, detail, prev_hash, hash";

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        org: uuid_col(r, 0)?,
        seq: seq_col(r, 1)?,
        at_ms: r.get(2)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        detail: r.get(5)?,
        prev_hash: b32_col(r, 6)?,
        hash: b32_col(r, 7)?,
    })
}

fn cert_row(r: &Row<'_>) -> rusqlite::Result<Certificate> {
    Ok(Certificate {
        serial: r.get(0)?,
        learner: LearnerId(uuid_col(r, 1)?),
        course: r.get(2)?,
        issued_ms: r.get(3)?,
    })
}

fn put_token_in(conn: &Connection, t: &TokenRecord) -> StoreResult<()> {
    let (kind, id) = match t.subject {
        Subject::User(u) => ("user", u.to_string()),
        Subject::Device(d) => ("device", d.to_string()),
    };
    conn.execute(
        "INSERT INTO tokens (hash, subject_kind, subject_id, org_id, created_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            &t.hash[..],
            kind,
            id,
            t.org.to_string(),
            t.created_ms,
            t.expires_ms
        ],
    )?;
    Ok(())
}

const PHOTO_REQUEST_COLS: &str =
    "id, org_id, learner_id, requested_by, reason, requested_ms, fulfilled_ms";

fn photo_request_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PhotoRequest> {
    Ok(PhotoRequest {
        id: uuid_col(r, 0)?,
        org: uuid_col(r, 1)?,
        learner: LearnerId(uuid_col(r, 2)?),
        by: uuid_col(r, 3)?,
        reason: r.get(4)?,
        requested_ms: r.get(5)?,
        fulfilled_ms: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database written by a build at schema 3 keeps every receipt, byte for byte and with its
    /// columns, when this build moves it to the compact receipts table of schema 4; devices
    /// enrolled afterwards get their own integer keys.
    #[test]
    fn schema_4_migration_keeps_every_receipt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hearth.db");
        let org = Uuid::from_u128(1);
        let devices = [DeviceId(Uuid::from_u128(10)), DeviceId(Uuid::from_u128(11))];
        let learners = [
            LearnerId(Uuid::from_u128(20)),
            LearnerId(Uuid::from_u128(21)),
        ];
        {
            let mut conn = Connection::open(&path).unwrap();
            Migrations::new(vec![
                M::up(include_str!("sql/001_init.sql")),
                M::up(include_str!("sql/002_trainer_pins.sql")),
                M::up(include_str!("sql/003_assignments.sql")),
            ])
            .to_latest(&mut conn)
            .unwrap();
            conn.execute(
                "INSERT INTO orgs (id, name, created_ms) VALUES (?1, 'o', 0)",
                [org.to_string()],
            )
            .unwrap();
            for (i, d) in devices.iter().enumerate() {
                conn.execute(
                    "INSERT INTO devices (id, org_id, public_key, enrolled_ms, head_seq, head_id)
                     VALUES (?1, ?2, ?3, 0, 3, ?4)",
                    params![
                        d.to_string(),
                        org.to_string(),
                        &[i as u8; 32][..],
                        &[0u8; 32][..]
                    ],
                )
                .unwrap();
                for seq in 1..=3u8 {
                    conn.execute(
                        "INSERT INTO receipts
                         (device_id, seq, id, learner_id, kind, received_ms, envelope)
                         VALUES (?1, ?2, ?3, ?4, 'active_study', ?5, ?6)",
                        params![
                            d.to_string(),
                            seq,
                            &[i as u8 * 10 + seq; 32][..],
                            learners[usize::from(seq == 3)].to_string(),
                            i64::from(seq) * 1000,
                            vec![i as u8, seq, 0xff, 0x00]
                        ],
                    )
                    .unwrap();
                }
            }
        }

        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .conn()
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        for (i, d) in devices.iter().enumerate() {
            let got = store.receipts_of_device(*d, 1, 10).unwrap();
            assert_eq!(got.len(), 3);
            for (r, seq) in got.iter().zip(1..=3u8) {
                assert_eq!(r.device, *d);
                assert_eq!(r.seq, u64::from(seq));
                assert_eq!(r.id, ReceiptId([i as u8 * 10 + seq; 32]));
                assert_eq!(r.learner, learners[usize::from(seq == 3)]);
                assert_eq!(r.kind, "active_study");
                assert_eq!(r.received_ms, i64::from(seq) * 1000);
                assert_eq!(r.envelope, vec![i as u8, seq, 0xff, 0x00]);
            }
            assert_eq!(store.chain_state(*d).unwrap().head.seq, 3);
        }
        let of_first = store.receipts_of_learner(learners[0], None, 100).unwrap();
        assert_eq!(
            of_first
                .iter()
                .map(|r| (r.device, r.seq))
                .collect::<Vec<_>>(),
            vec![
                (devices[0], 1),
                (devices[0], 2),
                (devices[1], 1),
                (devices[1], 2)
            ]
        );
        assert_eq!(
            store
                .receipts_of_learner(learners[1], None, 100)
                .unwrap()
                .len(),
            2
        );

        // A device enrolled after the migration gets a fresh key: its chain is its own.
        let code = [7u8; 32];
        store
            .put_enrollment_code(&EnrollmentCode {
                hash: code,
                org,
                learner: None,
                classes: Vec::new(),
                created_ms: 0,
                expires_ms: i64::MAX,
                used_ms: None,
            })
            .unwrap();
        let new = DeviceId(Uuid::from_u128(12));
        store
            .redeem_enrollment(&code, 1, &mut |c| {
                Some((
                    Device {
                        id: new,
                        org: c.org,
                        public_key: PublicKey([9; 32]),
                        learner: None,
                        label: None,
                        enrolled_ms: 1,
                    },
                    TokenRecord {
                        hash: [8; 32],
                        subject: Subject::Device(new),
                        org: c.org,
                        created_ms: 1,
                        expires_ms: i64::MAX,
                    },
                ))
            })
            .unwrap()
            .unwrap();
        store
            .chain_txn(new, &mut |tx| {
                assert_eq!(tx.held_at(1)?, None);
                tx.append(&StoredReceipt {
                    device: new,
                    seq: 1,
                    id: ReceiptId([99; 32]),
                    prev: ReceiptId::ZERO,
                    learner: learners[1],
                    kind: "lesson_opened".into(),
                    received_ms: 5,
                    envelope: vec![1, 2, 3],
                })?;
                tx.set_head(ChainHead {
                    seq: 1,
                    id: ReceiptId([99; 32]),
                })
            })
            .unwrap();
        assert_eq!(store.receipts_of_device(new, 1, 10).unwrap().len(), 1);
        assert_eq!(
            store.receipts_of_device(devices[0], 1, 10).unwrap().len(),
            3
        );
        assert_eq!(
            store
                .receipts_of_learner(learners[1], None, 100)
                .unwrap()
                .len(),
            3
        );
    }
}
