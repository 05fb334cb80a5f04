//! `hearth-server migrate --from DIR --to postgres://…`: moves a SQLite service into PostgreSQL.
//!
//! The SQLite database is first brought to this build's schema (as the service does on start),
//! then every table is copied in the order its references need, each row converted column by
//! column (text UUIDs to UUIDs, 0/1 to booleans) and nothing else: receipts, pending receipts and
//! rejected envelopes are copied byte for byte, with their device numbers and their rejection and
//! relay ids (the flags report's cursors stay valid). The target must be empty. Afterwards every
//! table's row count is compared and every receipt is read back from PostgreSQL and compared
//! with SQLite's, column by column and byte for byte; any difference is an error.

use std::path::Path;

use ::postgres::types::ToSql;
use rusqlite::types::Value;
use serde::Serialize;
use uuid::Uuid;

use super::{PostgresStore, SqliteStore, StoreError, StoreResult};

/// How one column is carried over.
#[derive(Clone, Copy, Debug)]
enum Col {
    /// A UUID as text in SQLite (may be NULL).
    Uuid,
    /// A UUID as its 16 raw bytes in SQLite.
    UuidBlob,
    /// Bytes (may be NULL).
    Bytes,
    /// An integer (may be NULL).
    Int,
    /// Text (may be NULL).
    Text,
    /// 0 or 1.
    Bool,
}

struct Table {
    name: &'static str,
    /// The SQLite query: columns in the order of `cols`, rows in a stable order.
    select: &'static str,
    /// The PostgreSQL insert, with `$1…` for the columns.
    insert: &'static str,
    cols: &'static [Col],
}

use Col::*;

/// Every table of schema 9 (kiosk classes), the console's (010, 013), the supervisor's (012) and
/// the photo checkpoints' (016),
/// parents first (roster_stamps is not copied: the triggers make it).
const TABLES: &[Table] = &[
    Table {
        name: "orgs",
        select: "SELECT id, name, created_ms FROM orgs ORDER BY id",
        insert: "INSERT INTO orgs (id, name, created_ms) VALUES ($1, $2, $3)",
        cols: &[Uuid, Text, Int],
    },
    Table {
        name: "users",
        select: "SELECT id, org_id, role, name, created_ms, pin_hash FROM users ORDER BY id",
        insert: "INSERT INTO users (id, org_id, role, name, created_ms, pin_hash)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Uuid, Uuid, Text, Text, Int, Text],
    },
    Table {
        name: "classes",
        select: "SELECT id, org_id, trainer_id, name, created_ms FROM classes ORDER BY id",
        insert: "INSERT INTO classes (id, org_id, trainer_id, name, created_ms)
                 VALUES ($1, $2, $3, $4, $5)",
        cols: &[Uuid, Uuid, Uuid, Text, Int],
    },
    Table {
        name: "learners",
        select: "SELECT id, org_id, name, national_id_mac, national_id_tail, class_id, pin_hash,
                        created_ms FROM learners ORDER BY id",
        insert: "INSERT INTO learners (id, org_id, name, national_id_mac, national_id_tail,
                                       class_id, pin_hash, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        cols: &[Uuid, Uuid, Text, Bytes, Text, Uuid, Text, Int],
    },
    Table {
        name: "tokens",
        select: "SELECT hash, subject_kind, subject_id, org_id, created_ms, expires_ms
                 FROM tokens ORDER BY hash",
        insert:
            "INSERT INTO tokens (hash, subject_kind, subject_id, org_id, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Bytes, Text, Uuid, Uuid, Int, Int],
    },
    Table {
        name: "enrollment_codes",
        select: "SELECT hash, org_id, learner_id, created_ms, expires_ms, used_ms, device_id
                 FROM enrollment_codes ORDER BY hash",
        insert: "INSERT INTO enrollment_codes (hash, org_id, learner_id, created_ms, expires_ms,
                                               used_ms, device_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
        cols: &[Bytes, Uuid, Uuid, Int, Int, Int, Uuid],
    },
    Table {
        name: "devices",
        select: "SELECT id, num, org_id, public_key, learner_id, label, enrolled_ms, head_seq,
                        head_id, flag_code, flag_detail, flagged_ms, flag_resolved_ms,
                        flag_resolved_by, flag_resolved_reason FROM devices ORDER BY num",
        insert: "INSERT INTO devices (id, num, org_id, public_key, learner_id, label, enrolled_ms,
                                      head_seq, head_id, flag_code, flag_detail, flagged_ms,
                                      flag_resolved_ms, flag_resolved_by, flag_resolved_reason)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        cols: &[
            Uuid, Int, Uuid, Bytes, Uuid, Text, Int, Int, Bytes, Text, Text, Int, Int, Text, Text,
        ],
    },
    Table {
        name: "enrollment_code_classes",
        select: "SELECT code_hash, class_id, org_id FROM enrollment_code_classes
                 ORDER BY code_hash, class_id",
        insert: "INSERT INTO enrollment_code_classes (code_hash, class_id, org_id)
                 VALUES ($1, $2, $3)",
        cols: &[Bytes, Uuid, Uuid],
    },
    Table {
        name: "kiosk_classes",
        select: "SELECT device_id, class_id, org_id FROM kiosk_classes ORDER BY device_id, class_id",
        insert: "INSERT INTO kiosk_classes (device_id, class_id, org_id) VALUES ($1, $2, $3)",
        cols: &[Uuid, Uuid, Uuid],
    },
    Table {
        name: "receipts",
        select: "SELECT d.org_id, r.device, r.seq, r.id, r.learner, r.kind, r.received_ms,
                        r.envelope
                 FROM receipts r LEFT JOIN devices d ON d.num = r.device ORDER BY r.device, r.seq",
        insert:
            "INSERT INTO receipts (org_id, device, seq, id, learner, kind, received_ms, envelope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        cols: &[Uuid, Int, Int, Bytes, UuidBlob, Text, Int, Bytes],
    },
    Table {
        name: "pending",
        select: "SELECT d.org_id, p.device_id, p.seq, p.id, p.prev, p.learner_id, p.kind,
                        p.received_ms, p.envelope
                 FROM pending p LEFT JOIN devices d ON d.id = p.device_id
                 ORDER BY p.device_id, p.seq, p.id",
        insert: "INSERT INTO pending (org_id, device_id, seq, id, prev, learner_id, kind,
                                      received_ms, envelope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        cols: &[Uuid, Uuid, Int, Bytes, Bytes, Uuid, Text, Int, Bytes],
    },
    Table {
        name: "rejections",
        select: "SELECT rowid, device_id, org_id, code, seq, received_ms, envelope
                 FROM rejections ORDER BY rowid",
        insert: "INSERT INTO rejections (id, device_id, org_id, code, seq, received_ms, envelope)
                 OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7)",
        cols: &[Int, Uuid, Uuid, Text, Int, Int, Bytes],
    },
    Table {
        name: "packages",
        select: "SELECT course, version, title, manifest, manifest_sha, total_size, published_ms
                 FROM packages ORDER BY course, version",
        insert: "INSERT INTO packages (course, version, title, manifest, manifest_sha, total_size,
                                       published_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
        cols: &[Text, Int, Text, Bytes, Text, Int, Int],
    },
    Table {
        name: "exam_keys",
        select: "SELECT course, version, exam, item, correct, points FROM exam_keys
                 ORDER BY course, version, exam, item",
        insert: "INSERT INTO exam_keys (course, version, exam, item, correct, points)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Text, Int, Text, Text, Text, Int],
    },
    Table {
        name: "certificates",
        select: "SELECT c.serial, l.org_id, c.learner_id, c.course, c.issued_ms
                 FROM certificates c LEFT JOIN learners l ON l.id = c.learner_id ORDER BY c.serial",
        insert: "INSERT INTO certificates (serial, org_id, learner_id, course, issued_ms)
                 VALUES ($1, $2, $3, $4, $5)",
        cols: &[Text, Uuid, Uuid, Text, Int],
    },
    Table {
        name: "certificate_credentials",
        select: "SELECT cc.serial, l.org_id, cc.status_index, cc.credential, cc.revoked_ms,
                        cc.revoked_reason
                 FROM certificate_credentials cc
                 JOIN certificates c ON c.serial = cc.serial
                 LEFT JOIN learners l ON l.id = c.learner_id ORDER BY cc.serial",
        insert: "INSERT INTO certificate_credentials (serial, org_id, status_index, credential,
                                                     revoked_ms, revoked_reason)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Text, Uuid, Int, Text, Int, Text],
    },
    Table {
        name: "assignments",
        select: "SELECT id, org_id, class_id, course, lesson, exam, due_ms, created_by, created_ms
                 FROM assignments ORDER BY id",
        insert: "INSERT INTO assignments (id, org_id, class_id, course, lesson, exam, due_ms,
                                          created_by, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        cols: &[Uuid, Uuid, Uuid, Text, Text, Text, Int, Uuid, Int],
    },
    Table {
        name: "learner_facts",
        select: "SELECT learner, org_id, facts, flagged FROM learner_facts ORDER BY learner",
        insert: "INSERT INTO learner_facts (learner, org_id, facts, flagged)
                 VALUES ($1, $2, $3, $4)",
        cols: &[UuidBlob, Uuid, Bytes, Bool],
    },
    Table {
        name: "device_facts",
        select: "SELECT f.device, d.org_id, f.facts
                 FROM device_facts f LEFT JOIN devices d ON d.num = f.device ORDER BY f.device",
        insert: "INSERT INTO device_facts (device, org_id, facts) VALUES ($1, $2, $3)",
        cols: &[Int, Uuid, Bytes],
    },
    Table {
        name: "rejection_counts",
        select: "SELECT device_id, org_id, code, count, kept FROM rejection_counts
                 ORDER BY device_id, code",
        insert: "INSERT INTO rejection_counts (device_id, org_id, code, count, kept)
                 VALUES ($1, $2, $3, $4, $5)",
        cols: &[Uuid, Uuid, Text, Int, Int],
    },
    Table {
        name: "org_policy",
        select: "SELECT org_id, daily_cap_ms FROM org_policy ORDER BY org_id",
        insert: "INSERT INTO org_policy (org_id, daily_cap_ms) VALUES ($1, $2)",
        cols: &[Uuid, Int],
    },
    Table {
        name: "relays",
        select: "SELECT id, org_id, device_id, carrier_kind, carrier_id, received_ms, receipts,
                        accepted FROM relays ORDER BY id",
        insert: "INSERT INTO relays (id, org_id, device_id, carrier_kind, carrier_id, received_ms,
                                     receipts, accepted)
                 OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        cols: &[Int, Uuid, Uuid, Text, Uuid, Int, Int, Int],
    },
    Table {
        name: "console_accounts",
        select: "SELECT user_id, org_id, login, password_phc, set_ms, last_ok_ms
                 FROM console_accounts ORDER BY user_id",
        insert: "INSERT INTO console_accounts (user_id, org_id, login, password_phc, set_ms,
                                               last_ok_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Uuid, Uuid, Text, Text, Int, Int],
    },
    Table {
        name: "sign_in_failures",
        select: "SELECT id, org_id, user_id, login, address, at_ms FROM sign_in_failures
                 ORDER BY id",
        insert: "INSERT INTO sign_in_failures (id, org_id, user_id, login, address, at_ms)
                 OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Int, Uuid, Uuid, Text, Text, Int],
    },
    Table {
        name: "console_sessions",
        select: "SELECT hash, org_id, user_id, csrf, created_ms, expires_ms
                 FROM console_sessions ORDER BY hash",
        insert: "INSERT INTO console_sessions (hash, org_id, user_id, csrf, created_ms,
                                               expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Bytes, Uuid, Uuid, Bytes, Int, Int],
    },
    Table {
        name: "audit_log",
        select: "SELECT org_id, seq, at_ms, actor, action, detail, prev_hash, hash
                 FROM audit_log ORDER BY org_id, seq",
        insert: "INSERT INTO audit_log (org_id, seq, at_ms, actor, action, detail, prev_hash,
                                        hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        cols: &[Uuid, Int, Int, Text, Text, Text, Bytes, Bytes],
    },
    Table {
        name: "flag_resolutions",
        select: "SELECT org_id, flag_key, note, user_id, resolved_ms FROM flag_resolutions
                 ORDER BY org_id, flag_key",
        insert: "INSERT INTO flag_resolutions (org_id, flag_key, note, user_id, resolved_ms)
                 VALUES ($1, $2, $3, $4, $5)",
        cols: &[Uuid, Text, Text, Uuid, Int],
    },
    // Sign-in cards (015), after the learners they belong to.
    Table {
        name: "learner_cards",
        select: "SELECT learner_id, org_id, serial, secret, issued_ms, replaced_ms
                 FROM learner_cards ORDER BY learner_id, serial",
        insert: "INSERT INTO learner_cards
                 (learner_id, org_id, serial, secret, issued_ms, replaced_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
        cols: &[Uuid, Uuid, Int, Bytes, Int, Int],
    },
    // The supervisor's (012): a region is made after its parent, so creation order copies
    // parents first.
    Table {
        name: "regions",
        select: "SELECT code, name, parent, office_org_id, created_ms FROM regions
                 ORDER BY created_ms, code",
        insert: "INSERT INTO regions (code, name, parent, office_org_id, created_ms)
                 VALUES ($1, $2, $3, $4, $5)",
        cols: &[Text, Text, Text, Uuid, Int],
    },
    Table {
        name: "org_regions",
        select: "SELECT org_id, region_code, set_ms FROM org_regions ORDER BY org_id",
        insert: "INSERT INTO org_regions (org_id, region_code, set_ms) VALUES ($1, $2, $3)",
        cols: &[Uuid, Text, Int],
    },
    Table {
        name: "supervisors",
        select: "SELECT user_id, org_id, region_code FROM supervisors ORDER BY user_id",
        insert: "INSERT INTO supervisors (user_id, org_id, region_code) VALUES ($1, $2, $3)",
        cols: &[Uuid, Uuid, Text],
    },
    // Subsidy claims (014), after the classes, users and orgs they name.
    Table {
        name: "claims",
        select: "SELECT id, org_id, class_id, class_name, submitted_by, submitted_ms, pack,
                        pack_sha256, learners, credited_ms, certificates, open_flags, decision,
                        reason, decided_by, decided_ms
                 FROM claims ORDER BY submitted_ms, id",
        insert: "INSERT INTO claims (id, org_id, class_id, class_name, submitted_by,
                                     submitted_ms, pack, pack_sha256, learners, credited_ms,
                                     certificates, open_flags, decision, reason, decided_by,
                                     decided_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        cols: &[
            Uuid, Uuid, Uuid, Text, Uuid, Int, Bytes, Bytes, Int, Int, Int, Int, Text, Text, Uuid,
            Int,
        ],
    },
    // Photo checkpoints (016, issue #17).
    Table {
        name: "org_photo_policy",
        select: "SELECT org_id, enabled, set_ms FROM org_photo_policy ORDER BY org_id",
        insert: "INSERT INTO org_photo_policy (org_id, enabled, set_ms) VALUES ($1, $2, $3)",
        cols: &[Uuid, Bool, Int],
    },
    Table {
        name: "photo_requests",
        select: "SELECT id, org_id, learner_id, requested_by, reason, requested_ms, fulfilled_ms
                 FROM photo_requests ORDER BY id",
        insert: "INSERT INTO photo_requests (id, org_id, learner_id, requested_by, reason,
                                            requested_ms, fulfilled_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
        cols: &[Uuid, Uuid, Uuid, Uuid, Text, Int, Int],
    },
    Table {
        name: "audit_photos",
        select: "SELECT request_id, receipt_id, learner_id, sha256, taken_wall_ms, received_ms,
                        jpeg, stored_ms FROM audit_photos ORDER BY request_id, receipt_id",
        insert: "INSERT INTO audit_photos (request_id, receipt_id, learner_id, sha256,
                                          taken_wall_ms, received_ms, jpeg, stored_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        cols: &[Uuid, Bytes, Uuid, Bytes, Int, Int, Bytes, Int],
    },
];

/// Rows copied per PostgreSQL transaction.
const CHUNK: usize = 2000;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrateReport {
    /// Rows copied, per table (each equal on both sides).
    pub tables: Vec<(String, u64)>,
    /// Receipts read back from PostgreSQL and found identical to SQLite's.
    pub receipts_verified: u64,
    /// Envelope bytes among them.
    pub envelope_bytes: u64,
}

fn bad(table: &str, msg: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("migrate {table}: {msg}"))
}

fn convert(table: &str, col: Col, v: Value) -> StoreResult<Box<dyn ToSql + Sync>> {
    Ok(match (col, v) {
        (Uuid, Value::Null) => Box::new(None::<uuid::Uuid>),
        (Uuid, Value::Text(t)) => {
            Box::new(Some(uuid::Uuid::parse_str(&t).map_err(|e| bad(table, e))?))
        }
        (UuidBlob, Value::Blob(b)) => Box::new(
            uuid::Uuid::from_slice(&b).map_err(|e| bad(table, format!("learner key: {e}")))?,
        ),
        (Bytes, Value::Null) => Box::new(None::<Vec<u8>>),
        (Bytes, Value::Blob(b)) => Box::new(Some(b)),
        (Int, Value::Null) => Box::new(None::<i64>),
        (Int, Value::Integer(i)) => Box::new(Some(i)),
        (Text, Value::Null) => Box::new(None::<String>),
        (Text, Value::Text(t)) => Box::new(Some(t)),
        (Bool, Value::Integer(i)) => Box::new(i != 0),
        (c, v) => {
            return Err(bad(
                table,
                format!("unexpected value {v:?} for a {c:?} column"),
            ));
        }
    })
}

/// Copies the SQLite service in `from` (a data folder) into the empty PostgreSQL database at
/// `to`, then verifies it (see the module documentation).
pub fn sqlite_to_postgres(from: &Path, to: &str) -> StoreResult<MigrateReport> {
    let db = from.join("hearth.db");
    if !db.is_file() {
        return Err(StoreError::Backend(format!(
            "migrate: no service database at {}",
            db.display()
        )));
    }
    let src = SqliteStore::open(&db)?;
    let dst = PostgresStore::open(to, 2)?;
    let existing: i64 = dst
        .query(
            "SELECT (SELECT COUNT(*) FROM orgs) + (SELECT COUNT(*) FROM receipts)
                    + (SELECT COUNT(*) FROM packages)",
            &[],
        )?
        .first()
        .map_or(0, |r| r.get(0));
    if existing > 0 {
        return Err(StoreError::Backend(
            "migrate: the PostgreSQL database already holds a service; migrate into an empty one"
                .into(),
        ));
    }
    // Rows the schema migration seeded (the facts version) are replaced by the source's.
    dst.batch("DELETE FROM facts_meta")?;

    let mut tables = Vec::new();
    for t in TABLES {
        let n = copy_table(&src, &dst, t)?;
        tables.push((t.name.to_string(), n));
    }
    let meta = copy_table(
        &src,
        &dst,
        &Table {
            name: "facts_meta",
            select: "SELECT key, value FROM facts_meta ORDER BY key",
            insert: "INSERT INTO facts_meta (key, value) VALUES ($1, $2)",
            cols: &[Text, Int],
        },
    )?;
    tables.push(("facts_meta".into(), meta));
    // The identity columns go on after the copied numbers.
    dst.batch(
        "SELECT setval(pg_get_serial_sequence('devices', 'num'), COALESCE(MAX(num), 0) + 1, false)
           FROM devices;
         SELECT setval(pg_get_serial_sequence('rejections', 'id'), COALESCE(MAX(id), 0) + 1, false)
           FROM rejections;
         SELECT setval(pg_get_serial_sequence('relays', 'id'), COALESCE(MAX(id), 0) + 1, false)
           FROM relays;
         SELECT setval(pg_get_serial_sequence('sign_in_failures', 'id'),
                       COALESCE(MAX(id), 0) + 1, false)
           FROM sign_in_failures;",
    )?;

    // Verification: counts of every table, then every receipt.
    for (name, n) in &tables {
        let sql = format!("SELECT COUNT(*) FROM {name}");
        let theirs: i64 = src.conn().query_row(&sql, [], |r| r.get(0))?;
        let ours: i64 = dst.query(&sql, &[])?.first().map_or(0, |r| r.get(0));
        if theirs != ours || ours as u64 != *n {
            return Err(bad(
                name,
                format!("{theirs} rows in SQLite, {ours} in PostgreSQL after the copy"),
            ));
        }
    }
    let (receipts_verified, envelope_bytes) = verify_receipts(&src, &dst)?;
    Ok(MigrateReport {
        tables,
        receipts_verified,
        envelope_bytes,
    })
}

fn copy_table(src: &SqliteStore, dst: &PostgresStore, t: &Table) -> StoreResult<u64> {
    let conn = src.conn();
    let mut st = conn.prepare(t.select)?;
    let mut rows = st.query([])?;
    let mut chunk: Vec<Vec<Box<dyn ToSql + Sync>>> = Vec::with_capacity(CHUNK);
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let mut out = Vec::with_capacity(t.cols.len());
        for (i, col) in t.cols.iter().enumerate() {
            out.push(convert(t.name, *col, row.get::<_, Value>(i)?)?);
        }
        chunk.push(out);
        if chunk.len() == CHUNK {
            dst.copy_rows(t.insert, &chunk)?;
            n += chunk.len() as u64;
            chunk.clear();
        }
    }
    if !chunk.is_empty() {
        dst.copy_rows(t.insert, &chunk)?;
        n += chunk.len() as u64;
    }
    Ok(n)
}

/// A receipt as both sides keep it: (device number, seq, id, learner, kind, received_ms,
/// envelope).
type Row7 = (i64, i64, Vec<u8>, Uuid, String, i64, Vec<u8>);

/// Reads every receipt back from both databases in (device, seq) order, page by page, and
/// compares them; returns how many and their envelope bytes.
fn verify_receipts(src: &SqliteStore, dst: &PostgresStore) -> StoreResult<(u64, u64)> {
    let mut after = (-1i64, 0i64);
    let (mut count, mut bytes) = (0u64, 0u64);
    loop {
        let theirs: Vec<Row7> = {
            let conn = src.conn();
            let mut st = conn.prepare_cached(
                "SELECT device, seq, id, learner, kind, received_ms, envelope FROM receipts
                 WHERE device > ?1 OR (device = ?1 AND seq > ?2) ORDER BY device, seq LIMIT 1000",
            )?;
            st.query_map([after.0, after.1], |r| {
                let l: [u8; 16] = r.get(3)?;
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    Uuid::from_bytes(l),
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })?
            .collect::<Result<_, _>>()?
        };
        let ours: Vec<Row7> = dst
            .query(
                "SELECT device, seq, id, learner, kind, received_ms, envelope FROM receipts
                 WHERE device > $1 OR (device = $1 AND seq > $2) ORDER BY device, seq LIMIT 1000",
                &[&after.0, &after.1],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    r.get(2),
                    r.get(3),
                    r.get(4),
                    r.get(5),
                    r.get(6),
                )
            })
            .collect();
        if theirs.len() != ours.len() {
            return Err(bad(
                "receipts",
                format!(
                    "after device {} seq {}: the two sides differ in length",
                    after.0, after.1
                ),
            ));
        }
        for (a, b) in theirs.iter().zip(&ours) {
            if a != b {
                return Err(bad(
                    "receipts",
                    format!("device {} seq {} differs after the copy", a.0, a.1),
                ));
            }
            count += 1;
            bytes += a.6.len() as u64;
        }
        match theirs.last() {
            Some(last) => after = (last.0, last.1),
            None => return Ok((count, bytes)),
        }
    }
}
