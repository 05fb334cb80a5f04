//! The PostgreSQL backend of [`Store`] (issue #13): any number of `hearth-server` processes on
//! one database.
//!
//! - A pool of connections (`r2d2`) of the synchronous `postgres` client; every trait call takes
//!   one connection for one short transaction.
//! - [`Store::chain_txn`] locks the device's row (`SELECT ... FOR UPDATE`) before anything else,
//!   so batches of one device are placed one after the other whichever process received them;
//!   the facts of a person are locked when first read in a transaction (a transaction-scoped
//!   advisory lock on the person, which also covers a person who has no facts row yet), so two
//!   devices of one learner ingesting on two processes do not lose an update. A deadlock or
//!   serialisation failure between such transactions rolls one back and runs it again (the domain's
//!   closure starts from the state it reads).
//! - A commit returns once it is durable (`synchronous_commit` is left at its default, `on`).
//! - Migrations in `sql/postgres/`, numbered as SQLite's, applied under an advisory lock so that
//!   processes starting together apply them once.

use std::time::Duration;

use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{GenericClient, NoTls, Row, Transaction};
use hearth_protocol::{ChainHead, DeviceId, LearnerId, PublicKey, ReceiptId};
use r2d2_postgres::PostgresConnectionManager;
use uuid::Uuid;

use super::*;

/// The migrations, by version (the same numbers as the SQLite ones).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("sql/postgres/001_init.sql")),
    (2, include_str!("sql/postgres/002_trainer_pins.sql")),
    (3, include_str!("sql/postgres/003_assignments.sql")),
    (4, include_str!("sql/postgres/004_compact_receipts.sql")),
    (5, include_str!("sql/postgres/005_facts.sql")),
    (6, include_str!("sql/postgres/006_revocation.sql")),
    (7, include_str!("sql/postgres/007_certificates.sql")),
    (8, include_str!("sql/postgres/008_roster_stamps.sql")),
    (9, include_str!("sql/postgres/009_kiosk_classes.sql")),
    (10, include_str!("sql/postgres/010_console.sql")),
    (12, include_str!("sql/postgres/012_supervision.sql")),
    (13, include_str!("sql/postgres/013_flag_resolutions.sql")),
    (14, include_str!("sql/postgres/014_claims.sql")),
    (15, include_str!("sql/postgres/015_learner_cards.sql")),
    (16, include_str!("sql/postgres/016_photo_checkpoints.sql")),
];

/// The advisory lock key under which migrations run (any fixed number: "hearth" + 1).
const MIGRATION_LOCK: i64 = 0x6865_6172_7468_0001;

/// How many times a chain or rebuild transaction is run again after a deadlock or a
/// serialisation failure before the error is returned.
const RETRIES: u32 = 8;

type Pool = r2d2::Pool<PostgresConnectionManager<NoTls>>;

/// See the module documentation.
pub struct PostgresStore {
    /// Always `Some` until dropped.
    pool: Option<Pool>,
}

impl Drop for PostgresStore {
    /// Closing a connection blocks on the client's runtime, which must not happen on an async
    /// task's thread: the pool is dropped on a thread of its own.
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool().state().connections)
            .finish()
    }
}

fn be(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

impl From<::postgres::Error> for StoreError {
    fn from(e: ::postgres::Error) -> Self {
        match e.code() {
            Some(c)
                if *c == SqlState::UNIQUE_VIOLATION
                    || *c == SqlState::FOREIGN_KEY_VIOLATION
                    || *c == SqlState::CHECK_VIOLATION
                    || *c == SqlState::NOT_NULL_VIOLATION =>
            {
                StoreError::Conflict(Conflict::Constraint)
            }
            _ => be(match e.as_db_error() {
                Some(db) => format!("{}: {}", db.code().code(), db.message()),
                None => e.to_string(),
            }),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        be(format!("no database connection: {e}"))
    }
}

/// Whether running the transaction again may succeed.
fn retryable(e: &::postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE
    })
}

/// Runs `f`, a blocking call of the `postgres` client, where it may block: the client drives
/// its own small runtime, which must not be started from inside another runtime's task. Called
/// from `spawn_blocking` (the HTTP layer) or outside any runtime (the CLI), `f` runs at once; on
/// a multi-thread runtime's task it runs in `block_in_place`. A current-thread runtime's task
/// cannot block: calling the store there is a bug of the caller, and panics with this message.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Err(_) => f(),
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread => {
            // spawn_blocking threads of a current-thread runtime have its handle too and may
            // block; only its own task may not, and block_in_place tells them apart by panicking.
            let mut f = Some(f);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                tokio::task::block_in_place(|| ())
            })) {
                Ok(()) => (f.take().expect("called once"))(),
                Err(_) => panic!(
                    "PostgresStore called on a current-thread runtime's task: \
                     call it from spawn_blocking or a multi-thread runtime"
                ),
            }
        }
        Ok(_) => tokio::task::block_in_place(f),
    }
}

/// A person's advisory lock key: the UUID folded to 64 bits.
fn person_key(person: LearnerId) -> i64 {
    let b = person.0.as_u64_pair();
    (b.0 ^ b.1) as i64
}

fn b32(v: Vec<u8>) -> StoreResult<[u8; 32]> {
    v.try_into()
        .map_err(|_| be("a stored hash or key is not 32 bytes"))
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…` or `host=… user=… dbname=…`), with a pool of at most
    /// `max_connections`, and brings the schema up to date.
    pub fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let store = Self::connect(url, max_connections)?;
        store.migrate()?;
        Ok(store)
    }

    /// Connects to a read replica (a hot standby streaming from the primary): no migrations
    /// (the primary's arrive by replication); refused unless the schema this build needs is
    /// there. Only reads are sent to it ([`crate::Service::for_reports`]); a write fails there
    /// with the standby's read-only error.
    pub fn open_replica(url: &str, max_connections: u32) -> StoreResult<Self> {
        let store = Self::connect(url, max_connections)?;
        let latest = MIGRATIONS.last().map_or(0, |m| m.0);
        let found: i64 = store.run(|c| {
            let exists: bool = c
                .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])?
                .get(0);
            if !exists {
                return Ok(0);
            }
            Ok(c.query_one(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )?
            .get(0))
        })?;
        if found != latest {
            return Err(be(format!(
                "the read replica has schema {found}, this build needs {latest}: start the primary \
                 with this build first"
            )));
        }
        Ok(store)
    }

    fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let config: ::postgres::Config = url
            .parse()
            .map_err(|e| be(format!("database address: {e}")))?;
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = off_runtime(|| {
            r2d2::Pool::builder()
                .max_size(max_connections.max(1))
                .min_idle(Some(1))
                .connection_timeout(Duration::from_secs(15))
                .build(manager)
        })
        .map_err(|e| be(format!("connecting to the database: {e}")))?;
        Ok(Self { pool: Some(pool) })
    }

    fn pool(&self) -> &Pool {
        self.pool
            .as_ref()
            .expect("the pool is there until the store is dropped")
    }

    /// The schema version of the database (0: empty).
    pub fn schema_version(&self) -> StoreResult<i64> {
        self.run(|c| {
            c.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            )?;
            let v: Option<i64> = c
                .query_one("SELECT MAX(version) FROM schema_migrations", &[])?
                .get(0);
            Ok(v.unwrap_or(0))
        })
    }

    fn migrate(&self) -> StoreResult<()> {
        self.run(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (
                     version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)",
            )?;
            let found: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                    &[],
                )?
                .get(0);
            let latest = MIGRATIONS.last().map_or(0, |m| m.0);
            if found > latest {
                return Err(be(format!(
                    "database schema {found} is newer than this build ({latest})"
                )));
            }
            for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
                tx.batch_execute(sql)
                    .map_err(|e| be(format!("migration {version}: {e}")))?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_ms)
                     VALUES ($1, (extract(epoch from now()) * 1000)::bigint)",
                    &[version],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Runs `f` on a pooled connection.
    fn run<T>(&self, f: impl FnOnce(&mut ::postgres::Client) -> StoreResult<T>) -> StoreResult<T> {
        off_runtime(|| {
            let mut c = self.pool().get()?;
            f(&mut c)
        })
    }

    /// Runs `f` in a transaction, again after a deadlock or serialisation failure.
    fn txn<T>(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<T, TxnError>,
    ) -> StoreResult<T> {
        self.run(|c| {
            let mut attempt = 0;
            loop {
                let mut tx = c.transaction()?;
                let r = f(&mut tx).and_then(|v| tx.commit().map(|()| v).map_err(TxnError::Pg));
                match r {
                    Ok(v) => return Ok(v),
                    Err(TxnError::Pg(e)) if retryable(&e) && attempt < RETRIES => {
                        attempt += 1;
                        tracing::debug!(attempt, error = %e, "transaction run again");
                        std::thread::sleep(Duration::from_millis(2 << attempt.min(6)));
                    }
                    Err(TxnError::Pg(e)) => return Err(e.into()),
                    Err(TxnError::Store(e)) => return Err(e),
                }
            }
        })
    }

    /// Copies rows into a table (for `hearth-server migrate`): one transaction per call.
    pub fn copy_rows(&self, sql: &str, rows: &[Vec<Box<dyn ToSql + Sync>>]) -> StoreResult<()> {
        self.txn(|tx| {
            let st = tx.prepare(sql)?;
            for r in rows {
                let params: Vec<&(dyn ToSql + Sync)> =
                    r.iter().map(|b| &**b as &(dyn ToSql + Sync)).collect();
                tx.execute(&st, &params)?;
            }
            Ok(())
        })
    }

    /// Runs SQL statements in one transaction (for `hearth-server migrate`).
    pub fn batch(&self, sql: &str) -> StoreResult<()> {
        self.txn(|tx| Ok(tx.batch_execute(sql)?))
    }

    /// One query's rows (for `hearth-server migrate`'s verification).
    pub fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Vec<Row>> {
        self.run(|c| Ok(c.query(sql, params)?))
    }
}

/// An error inside a transaction: the database's (maybe worth a retry) or the store's own.
#[derive(Debug)]
enum TxnError {
    Pg(::postgres::Error),
    Store(StoreError),
}

impl From<::postgres::Error> for TxnError {
    fn from(e: ::postgres::Error) -> Self {
        TxnError::Pg(e)
    }
}

impl From<StoreError> for TxnError {
    fn from(e: StoreError) -> Self {
        TxnError::Store(e)
    }
}

/// A store error that carries a retryable database error: kept apart so that a deadlock met
/// inside the domain's closure still runs the transaction again.
fn store_err(e: ::postgres::Error) -> StoreError {
    if retryable(&e) {
        StoreError::Backend(format!("{RETRY_MARK}{e}"))
    } else {
        e.into()
    }
}

const RETRY_MARK: &str = "retry: ";

fn is_retry(e: &StoreError) -> bool {
    matches!(e, StoreError::Backend(m) if m.starts_with(RETRY_MARK))
}

// ----- rows -----

const LEARNER_COLS: &str =
    "id, org_id, name, national_id_mac, national_id_tail, class_id, pin_hash, created_ms";

fn learner_row(r: &Row) -> StoreResult<Learner> {
    Ok(Learner {
        id: LearnerId(r.get(0)),
        org: r.get(1),
        name: r.get(2),
        national_id_mac: b32(r.get(3))?,
        national_id_tail: r.get(4),
        class: r.get(5),
        pin_hash: r.get(6),
        created_ms: r.get(7),
    })
}

const USER_COLS: &str = "id, org_id, role, name, created_ms, pin_hash";

fn user_row(r: &Row) -> User {
    let role: String = r.get(2);
    User {
        id: r.get(0),
        org: r.get(1),
        role: Role::parse(&role).unwrap_or(Role::Trainer),
        name: r.get(3),
        created_ms: r.get(4),
        pin_hash: r.get(5),
    }
}

const CLASS_COLS: &str = "id, org_id, trainer_id, name, created_ms";

fn class_row(r: &Row) -> Class {
    Class {
        id: r.get(0),
        org: r.get(1),
        trainer: r.get(2),
        name: r.get(3),
        created_ms: r.get(4),
    }
}

const DEVICE_COLS: &str = "id, org_id, public_key, learner_id, label, enrolled_ms";

fn device_row(r: &Row) -> StoreResult<Device> {
    Ok(Device {
        id: DeviceId(r.get(0)),
        org: r.get(1),
        public_key: PublicKey(b32(r.get(2))?),
        learner: r.get::<_, Option<Uuid>>(3).map(LearnerId),
        label: r.get(4),
        enrolled_ms: r.get(5),
    })
}

const FLAG_COLS: &str =
    "flag_code, flag_detail, flagged_ms, flag_resolved_ms, flag_resolved_by, flag_resolved_reason";

fn flag_row(r: &Row, i: usize) -> Option<DeviceFlag> {
    let code: Option<String> = r.get(i);
    let code = code?;
    let resolved_ms: Option<i64> = r.get(i + 3);
    Some(DeviceFlag {
        code,
        detail: r.get::<_, Option<String>>(i + 1).unwrap_or_default(),
        flagged_ms: r.get::<_, Option<i64>>(i + 2).unwrap_or_default(),
        resolved: resolved_ms.map(|resolved_ms| FlagResolution {
            by: r.get::<_, Option<String>>(i + 4).unwrap_or_default(),
            reason: r.get::<_, Option<String>>(i + 5).unwrap_or_default(),
            resolved_ms,
        }),
    })
}

/// Columns of `receipts r JOIN devices d ON d.num = r.device` [`PREV_JOIN`].
const RECEIPT_COLS: &str = "d.id, r.seq, r.id, r.learner, r.kind, r.received_ms, r.envelope, p.id";
const PREV_JOIN: &str = "LEFT JOIN receipts p ON p.device = r.device AND p.seq = r.seq - 1";

fn receipt_row(r: &Row) -> StoreResult<StoredReceipt> {
    Ok(StoredReceipt {
        device: DeviceId(r.get(0)),
        seq: r.get::<_, i64>(1) as u64,
        id: ReceiptId(b32(r.get(2))?),
        prev: match r.get::<_, Option<Vec<u8>>>(7) {
            None => ReceiptId::ZERO,
            Some(p) => ReceiptId(b32(p)?),
        },
        learner: LearnerId(r.get(3)),
        kind: r.get::<_, String>(4).into(),
        received_ms: r.get(5),
        envelope: r.get(6),
    })
}

const PACKAGE_COLS: &str =
    "course, version, title, manifest, manifest_sha, total_size, published_ms";

fn package_row(r: &Row) -> PackageRecord {
    PackageRecord {
        course: r.get(0),
        version: r.get::<_, i64>(1) as u32,
        title: r.get(2),
        manifest: r.get(3),
        manifest_sha: r.get(4),
        total_size: r.get::<_, i64>(5) as u64,
        published_ms: r.get(6),
    }
}

fn cert_row(r: &Row) -> Certificate {
    Certificate {
        serial: r.get(0),
        learner: LearnerId(r.get(1)),
        course: r.get(2),
        issued_ms: r.get(3),
    }
}

fn collect<T>(rows: Vec<Row>, f: impl Fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}

fn subject_parts(s: &Subject) -> (&'static str, Uuid) {
    match s {
        Subject::User(u) => ("user", *u),
        Subject::Device(d) => ("device", d.0),
    }
}

fn put_token_in(c: &mut impl GenericClient, t: &TokenRecord) -> Result<(), ::postgres::Error> {
    let (kind, id) = subject_parts(&t.subject);
    c.execute(
        "INSERT INTO tokens (hash, subject_kind, subject_id, org_id, created_ms, expires_ms)
         VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &&t.hash[..],
            &kind,
            &id,
            &t.org,
            &t.created_ms,
            &t.expires_ms,
        ],
    )?;
    Ok(())
}

fn receipts_of_device_in(
    c: &mut impl GenericClient,
    device: DeviceId,
    from_seq: u64,
    limit: u32,
) -> StoreResult<Vec<StoredReceipt>> {
    let rows = c
        .query(
            &format!(
                "SELECT {RECEIPT_COLS} FROM receipts r JOIN devices d ON d.num = r.device {PREV_JOIN}
                 WHERE d.id = $1 AND r.seq >= $2 ORDER BY r.seq LIMIT $3"
            ),
            &[&device.0, &(from_seq as i64), &i64::from(limit)],
        )
        .map_err(store_err)?;
    collect(rows, receipt_row)
}

fn chain_state_in(c: &mut impl GenericClient, device: DeviceId) -> StoreResult<ChainState> {
    let row = c
        .query_opt(
            &format!("SELECT head_seq, head_id, {FLAG_COLS} FROM devices WHERE id = $1"),
            &[&device.0],
        )
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
    let pending: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM pending WHERE device_id = $1",
            &[&device.0],
        )
        .map_err(store_err)?
        .get(0);
    Ok(ChainState {
        head: ChainHead {
            seq: row.get::<_, i64>(0) as u64,
            id: ReceiptId(b32(row.get(1))?),
        },
        flag: flag_row(&row, 2),
        pending: pending as u64,
    })
}

/// The SQL of [`FactsTxn`], shared by the chain and rebuild transactions.
struct PgFacts<'t, 'c> {
    tx: &'t mut Transaction<'c>,
    /// People whose facts this transaction has locked.
    locked: Vec<LearnerId>,
    /// Statements prepared in this transaction, by their SQL: a batch of a thousand receipts
    /// prepares each once (a statement given as text costs a second round trip every time).
    prepared: std::collections::HashMap<String, ::postgres::Statement>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl<'t, 'c> PgFacts<'t, 'c> {
    fn new(tx: &'t mut Transaction<'c>) -> Self {
        Self {
            tx,
            locked: Vec::new(),
            prepared: std::collections::HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<::postgres::Statement, ::postgres::Error> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.prepare(sql)?;
        self.prepared.insert(sql.to_string(), st.clone());
        Ok(st)
    }

    fn exec(&mut self, sql: &str, params: Params<'_>) -> Result<u64, ::postgres::Error> {
        let st = self.statement(sql)?;
        self.tx.execute(&st, params)
    }

    fn opt(&mut self, sql: &str, params: Params<'_>) -> Result<Option<Row>, ::postgres::Error> {
        let st = self.statement(sql)?;
        self.tx.query_opt(&st, params)
    }

    fn one(&mut self, sql: &str, params: Params<'_>) -> Result<Row, ::postgres::Error> {
        let st = self.statement(sql)?;
        self.tx.query_one(&st, params)
    }

    fn many(&mut self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, ::postgres::Error> {
        let st = self.statement(sql)?;
        self.tx.query(&st, params)
    }

    fn lock_person(&mut self, person: LearnerId) -> StoreResult<()> {
        if !self.locked.contains(&person) {
            self.tx
                .execute("SELECT pg_advisory_xact_lock($1)", &[&person_key(person)])
                .map_err(store_err)?;
            self.locked.push(person);
        }
        Ok(())
    }
}

impl FactsTxn for PgFacts<'_, '_> {
    fn learner(&mut self, id: LearnerId) -> StoreResult<Option<Learner>> {
        self.opt(
            &format!("SELECT {LEARNER_COLS} FROM learners WHERE id = $1"),
            &[&id.0],
        )
        .map_err(store_err)?
        .map(|r| learner_row(&r))
        .transpose()
    }

    fn learner_facts(&mut self, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
        self.lock_person(person)?;
        Ok(self
            .opt(
                "SELECT facts FROM learner_facts WHERE learner = $1 FOR UPDATE",
                &[&person.0],
            )
            .map_err(store_err)?
            .map(|r| r.get(0)))
    }

    fn put_learner_facts(
        &mut self,
        person: LearnerId,
        org: Uuid,
        facts: &[u8],
        flagged: bool,
    ) -> StoreResult<()> {
        self.lock_person(person)?;
        self.exec(
                "INSERT INTO learner_facts (learner, org_id, facts, flagged) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (learner) DO UPDATE SET facts = excluded.facts, flagged = excluded.flagged",
                &[&person.0, &org, &facts, &flagged],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn device_facts(&mut self, device: DeviceId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .opt(
                "SELECT f.facts FROM device_facts f JOIN devices d ON d.num = f.device WHERE d.id = $1",
                &[&device.0],
            )
            .map_err(store_err)?
            .map(|r| r.get(0)))
    }

    fn put_device_facts(&mut self, device: DeviceId, facts: &[u8]) -> StoreResult<()> {
        let n = self
            .exec(
                "INSERT INTO device_facts (device, org_id, facts)
                 SELECT num, org_id, $2 FROM devices WHERE id = $1
                 ON CONFLICT (device) DO UPDATE SET facts = excluded.facts",
                &[&device.0, &facts],
            )
            .map_err(store_err)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    fn issue_certificate(&mut self, c: &Certificate) -> StoreResult<Certificate> {
        issue_certificate_in(self.tx, c)
    }
}

fn issue_certificate_in(tx: &mut impl GenericClient, c: &Certificate) -> StoreResult<Certificate> {
    tx.execute(
        "INSERT INTO certificates (serial, org_id, learner_id, course, issued_ms)
         SELECT $1, org_id, $2, $3, $4 FROM learners WHERE id = $2
         ON CONFLICT DO NOTHING",
        &[&c.serial, &c.learner.0, &c.course, &c.issued_ms],
    )
    .map_err(store_err)?;
    let row = tx
        .query_opt(
            "SELECT serial, learner_id, course, issued_ms FROM certificates
             WHERE learner_id = $1 AND course = $2",
            &[&c.learner.0, &c.course],
        )
        .map_err(store_err)?
        .ok_or(StoreError::NotFound)?;
    Ok(cert_row(&row))
}

struct PgChainTxn<'t, 'c> {
    facts: PgFacts<'t, 'c>,
    device: DeviceId,
    org: Uuid,
    num: i64,
}

/// [`FactsTxn`] of a transaction that holds its [`PgFacts`] in `facts`.
macro_rules! delegate_facts {
    ($t:ident) => {
        impl FactsTxn for $t<'_, '_> {
            fn learner(&mut self, id: LearnerId) -> StoreResult<Option<Learner>> {
                self.facts.learner(id)
            }
            fn learner_facts(&mut self, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
                self.facts.learner_facts(person)
            }
            fn put_learner_facts(
                &mut self,
                person: LearnerId,
                org: Uuid,
                facts: &[u8],
                flagged: bool,
            ) -> StoreResult<()> {
                self.facts.put_learner_facts(person, org, facts, flagged)
            }
            fn device_facts(&mut self, device: DeviceId) -> StoreResult<Option<Vec<u8>>> {
                self.facts.device_facts(device)
            }
            fn put_device_facts(&mut self, device: DeviceId, facts: &[u8]) -> StoreResult<()> {
                self.facts.put_device_facts(device, facts)
            }
            fn issue_certificate(&mut self, cert: &Certificate) -> StoreResult<Certificate> {
                self.facts.issue_certificate(cert)
            }
        }
    };
}

delegate_facts!(PgChainTxn);
delegate_facts!(PgRebuildTxn);

impl ChainTxn for PgChainTxn<'_, '_> {
    fn state(&mut self) -> StoreResult<ChainState> {
        chain_state_in(self.facts.tx, self.device)
    }

    fn held_at(&mut self, seq: u64) -> StoreResult<Option<ReceiptId>> {
        self.facts
            .opt(
                "SELECT id FROM receipts WHERE device = $1 AND seq = $2",
                &[&self.num, &(seq as i64)],
            )
            .map_err(store_err)?
            .map(|r| b32(r.get(0)).map(ReceiptId))
            .transpose()
    }

    fn append(&mut self, r: &StoredReceipt) -> StoreResult<()> {
        self.facts.exec(
                "INSERT INTO receipts (org_id, device, seq, id, learner, kind, received_ms, envelope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &self.org,
                    &self.num,
                    &(r.seq as i64),
                    &&r.id.0[..],
                    &r.learner.0,
                    &&*r.kind,
                    &r.received_ms,
                    &r.envelope,
                ],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn set_head(&mut self, head: ChainHead) -> StoreResult<()> {
        self.facts
            .exec(
                "UPDATE devices SET head_seq = $2, head_id = $3 WHERE id = $1",
                &[&self.device.0, &(head.seq as i64), &&head.id.0[..]],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn has_pending(&mut self, seq: u64, id: ReceiptId) -> StoreResult<bool> {
        Ok(self
            .facts
            .opt(
                "SELECT 1 FROM pending WHERE device_id = $1 AND seq = $2 AND id = $3",
                &[&self.device.0, &(seq as i64), &&id.0[..]],
            )
            .map_err(store_err)?
            .is_some())
    }

    fn add_pending(&mut self, r: &StoredReceipt) -> StoreResult<()> {
        self.facts
            .exec(
                "INSERT INTO pending
                 (org_id, device_id, seq, id, prev, learner_id, kind, received_ms, envelope)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                &[
                    &self.org,
                    &self.device.0,
                    &(r.seq as i64),
                    &&r.id.0[..],
                    &&r.prev.0[..],
                    &r.learner.0,
                    &&*r.kind,
                    &r.received_ms,
                    &r.envelope,
                ],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn take_pending(&mut self, seq: u64) -> StoreResult<Vec<StoredReceipt>> {
        let rows = self
            .facts
            .many(
                "DELETE FROM pending WHERE device_id = $1 AND seq = $2
                 RETURNING device_id, seq, id, learner_id, kind, received_ms, envelope, prev",
                &[&self.device.0, &(seq as i64)],
            )
            .map_err(store_err)?;
        let mut out = collect(rows, |r| {
            Ok(StoredReceipt {
                device: DeviceId(r.get(0)),
                seq: r.get::<_, i64>(1) as u64,
                id: ReceiptId(b32(r.get(2))?),
                prev: ReceiptId(b32(r.get(7))?),
                learner: LearnerId(r.get(3)),
                kind: r.get::<_, String>(4).into(),
                received_ms: r.get(5),
                envelope: r.get(6),
            })
        })?;
        // The same order as SQLite's primary key (device, seq, id).
        out.sort_by_key(|r| r.id.0);
        Ok(out)
    }

    fn reject(&mut self, r: &RejectionRecord, keep: bool) -> StoreResult<()> {
        if keep {
            self.facts
                .exec(
                    "INSERT INTO rejections (device_id, org_id, code, seq, received_ms, envelope)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &r.device.0,
                        &r.org,
                        &r.code,
                        &r.seq.map(|s| s as i64),
                        &r.received_ms,
                        &r.envelope,
                    ],
                )
                .map_err(store_err)?;
        }
        self.facts
            .exec(
                "INSERT INTO rejection_counts (device_id, org_id, code, count, kept)
                 VALUES ($1, $2, $3, 1, $4)
                 ON CONFLICT (device_id, code) DO UPDATE
                 SET count = rejection_counts.count + 1,
                     kept = rejection_counts.kept + excluded.kept",
                &[&r.device.0, &r.org, &r.code, &i64::from(keep)],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn rejections_kept(&mut self) -> StoreResult<u64> {
        let n: i64 = self
            .facts
            .one(
                "SELECT COALESCE(SUM(kept), 0)::BIGINT FROM rejection_counts WHERE device_id = $1",
                &[&self.device.0],
            )
            .map_err(store_err)?
            .get(0);
        Ok(n as u64)
    }

    fn flag(&mut self, flag: &DeviceFlag) -> StoreResult<()> {
        self.facts.exec(
                "UPDATE devices SET flag_code = $2, flag_detail = $3, flagged_ms = $4,
                        flag_resolved_ms = NULL, flag_resolved_by = NULL, flag_resolved_reason = NULL
                 WHERE id = $1 AND (flag_code IS NULL OR flag_resolved_ms IS NOT NULL)",
                &[&self.device.0, &flag.code, &flag.detail, &flag.flagged_ms],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn class(&mut self, id: Uuid) -> StoreResult<Option<Class>> {
        Ok(self
            .facts
            .opt(
                &format!("SELECT {CLASS_COLS} FROM classes WHERE id = $1"),
                &[&id],
            )
            .map_err(store_err)?
            .map(|r| class_row(&r)))
    }

    fn put_assignment(&mut self, a: &Assignment) -> StoreResult<bool> {
        Ok(insert_assignment(self.facts.tx, a, true)? > 0)
    }
}

fn insert_assignment(c: &mut impl GenericClient, a: &Assignment, if_new: bool) -> StoreResult<u64> {
    let sql = format!(
        "INSERT INTO assignments (id, org_id, class_id, course, lesson, exam, due_ms,
                                  created_by, created_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9){}",
        if if_new {
            " ON CONFLICT (id) DO NOTHING"
        } else {
            ""
        }
    );
    c.execute(
        &sql,
        &[
            &a.id,
            &a.org,
            &a.class,
            &a.course,
            &a.lesson,
            &a.exam,
            &a.due_ms,
            &a.created_by,
            &a.created_ms,
        ],
    )
    .map_err(store_err)
}

struct PgRebuildTxn<'t, 'c> {
    facts: PgFacts<'t, 'c>,
}

impl RebuildTxn for PgRebuildTxn<'_, '_> {
    fn devices(&mut self, org: Option<Uuid>) -> StoreResult<Vec<(Device, Option<DeviceFlag>)>> {
        let rows = self
            .facts
            .tx
            .query(
                &format!(
                    "SELECT {DEVICE_COLS}, {FLAG_COLS} FROM devices
                     WHERE $1::UUID IS NULL OR org_id = $1 ORDER BY num"
                ),
                &[&org],
            )
            .map_err(store_err)?;
        collect(rows, |r| Ok((device_row(r)?, flag_row(r, 6))))
    }

    fn chain_page(
        &mut self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        receipts_of_device_in(self.facts.tx, device, from_seq, limit)
    }

    fn clear_facts(&mut self, org: Option<Uuid>) -> StoreResult<()> {
        self.facts
            .tx
            .execute(
                "DELETE FROM learner_facts WHERE $1::UUID IS NULL OR org_id = $1",
                &[&org],
            )
            .map_err(store_err)?;
        self.facts
            .tx
            .execute(
                "DELETE FROM device_facts WHERE $1::UUID IS NULL OR org_id = $1",
                &[&org],
            )
            .map_err(store_err)?;
        Ok(())
    }

    fn set_facts_version(&mut self, version: u32) -> StoreResult<()> {
        self.facts
            .tx
            .execute(
                "UPDATE facts_meta SET value = $1 WHERE key = 'version'",
                &[&i64::from(version)],
            )
            .map_err(store_err)?;
        Ok(())
    }
}

/// A store error from the domain's closure (a marked retryable one is run again by
/// [`PostgresStore::closure_txn`]).
fn from_closure(e: StoreError) -> TxnError {
    TxnError::Store(e)
}

impl PostgresStore {
    /// [`PostgresStore::txn`] for transactions that run the domain's closures: a deadlock met
    /// inside the closure comes back as a marked store error, and runs it again too.
    fn closure_txn(
        &self,
        mut f: impl FnMut(&mut Transaction<'_>) -> Result<(), TxnError>,
    ) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            match self.txn(&mut f) {
                Err(e) if is_retry(&e) && attempt < RETRIES => {
                    attempt += 1;
                    tracing::debug!(attempt, error = %e, "transaction run again");
                    std::thread::sleep(Duration::from_millis(2 << attempt.min(6)));
                }
                r => return r,
            }
        }
    }
}

impl Store for PostgresStore {
    fn create_org(&self, org: &Org) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO orgs (id, name, created_ms) VALUES ($1, $2, $3)",
                &[&org.id, &org.name, &org.created_ms],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::OrgExists),
                other => other,
            })?;
            Ok(())
        })
    }

    fn org(&self, id: Uuid) -> StoreResult<Option<Org>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT id, name, created_ms FROM orgs WHERE id = $1",
                &[&id],
            )?
            .map(|r| Org {
                id: r.get(0),
                name: r.get(1),
                created_ms: r.get(2),
            }))
        })
    }

    fn orgs(&self) -> StoreResult<Vec<Org>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT id, name, created_ms FROM orgs ORDER BY created_ms, id::TEXT",
                &[],
            )?;
            collect(rows, |r| {
                Ok(Org {
                    id: r.get(0),
                    name: r.get(1),
                    created_ms: r.get(2),
                })
            })
        })
    }

    fn create_user(&self, u: &User) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                &format!("INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &u.id,
                    &u.org,
                    &u.role.as_str(),
                    &u.name,
                    &u.created_ms,
                    &u.pin_hash,
                ],
            )?;
            Ok(())
        })
    }

    fn create_assignment(&self, a: &Assignment) -> StoreResult<()> {
        self.run(|c| insert_assignment(c, a, false).map(|_| ()))
    }

    fn assignments(&self, org: Uuid, class: Option<Uuid>) -> StoreResult<Vec<Assignment>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT id, org_id, class_id, course, lesson, exam, due_ms, created_by, created_ms
                 FROM assignments WHERE org_id = $1 AND ($2::UUID IS NULL OR class_id = $2)
                 ORDER BY created_ms, id::TEXT",
                &[&org, &class],
            )?;
            collect(rows, |r| {
                Ok(Assignment {
                    id: r.get(0),
                    org: r.get(1),
                    class: r.get(2),
                    course: r.get(3),
                    lesson: r.get(4),
                    exam: r.get(5),
                    due_ms: r.get(6),
                    created_by: r.get(7),
                    created_ms: r.get(8),
                })
            })
        })
    }

    fn set_pin(&self, person: Uuid, pin_hash: &str) -> StoreResult<bool> {
        self.txn(|tx| {
            let n = tx.execute(
                "UPDATE learners SET pin_hash = $2 WHERE id = $1",
                &[&person, &pin_hash],
            )? + tx.execute(
                "UPDATE users SET pin_hash = $2 WHERE id = $1 AND role = 'trainer'",
                &[&person, &pin_hash],
            )?;
            Ok(n > 0)
        })
    }

    fn user(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.run(|c| {
            Ok(c.query_opt(
                &format!("SELECT {USER_COLS} FROM users WHERE id = $1"),
                &[&id],
            )?
            .map(|r| user_row(&r)))
        })
    }

    fn users_of_org(&self, org: Uuid) -> StoreResult<Vec<User>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {USER_COLS} FROM users WHERE org_id = $1 ORDER BY name COLLATE \"C\""
                ),
                &[&org],
            )?;
            Ok(rows.iter().map(user_row).collect())
        })
    }

    fn create_class(&self, cl: &Class) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                &format!("INSERT INTO classes ({CLASS_COLS}) VALUES ($1, $2, $3, $4, $5)"),
                &[&cl.id, &cl.org, &cl.trainer, &cl.name, &cl.created_ms],
            )?;
            Ok(())
        })
    }

    fn class(&self, id: Uuid) -> StoreResult<Option<Class>> {
        self.run(|c| {
            Ok(c.query_opt(
                &format!("SELECT {CLASS_COLS} FROM classes WHERE id = $1"),
                &[&id],
            )?
            .map(|r| class_row(&r)))
        })
    }

    fn classes_of_org(&self, org: Uuid) -> StoreResult<Vec<Class>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {CLASS_COLS} FROM classes WHERE org_id = $1
                     ORDER BY name COLLATE \"C\", id::TEXT"
                ),
                &[&org],
            )?;
            Ok(rows.iter().map(class_row).collect())
        })
    }

    fn create_learner(&self, l: &Learner) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                &format!(
                    "INSERT INTO learners ({LEARNER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &l.id.0,
                    &l.org,
                    &l.name,
                    &&l.national_id_mac[..],
                    &l.national_id_tail,
                    &l.class,
                    &l.pin_hash,
                    &l.created_ms,
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::LearnerExists),
                other => other,
            })?;
            Ok(())
        })
    }

    fn learner(&self, id: LearnerId) -> StoreResult<Option<Learner>> {
        self.run(|c| {
            c.query_opt(
                &format!("SELECT {LEARNER_COLS} FROM learners WHERE id = $1"),
                &[&id.0],
            )?
            .map(|r| learner_row(&r))
            .transpose()
        })
    }

    fn issue_card(
        &self,
        learner: LearnerId,
        secret: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<u32>> {
        self.txn(|tx| {
            // Locks the learner's row: two issues at once give two serials in turn.
            let Some(row) = tx.query_opt(
                "SELECT org_id FROM learners WHERE id = $1 FOR UPDATE",
                &[&learner.0],
            )?
            else {
                return Ok(None);
            };
            let org: Uuid = row.get(0);
            let last: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(serial), 0) FROM learner_cards WHERE learner_id = $1",
                    &[&learner.0],
                )?
                .get(0);
            let serial = u32::try_from(last + 1)
                .map_err(|_| StoreError::Backend("learner_cards: serial out of range".into()))?;
            tx.execute(
                "UPDATE learner_cards SET replaced_ms = $2
                 WHERE learner_id = $1 AND replaced_ms IS NULL",
                &[&learner.0, &now_ms],
            )?;
            tx.execute(
                "INSERT INTO learner_cards (learner_id, org_id, serial, secret, issued_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&learner.0, &org, &i64::from(serial), &&secret[..], &now_ms],
            )?;
            Ok(Some(serial))
        })
    }

    fn cards_of(&self, learner: LearnerId) -> StoreResult<Vec<CardRecord>> {
        self.run(|c| {
            c.query(
                "SELECT serial, secret, issued_ms, replaced_ms FROM learner_cards
                 WHERE learner_id = $1 ORDER BY serial",
                &[&learner.0],
            )?
            .iter()
            .map(|r| {
                let secret: Vec<u8> = r.get(1);
                Ok(CardRecord {
                    learner,
                    serial: u32::try_from(r.get::<_, i64>(0))
                        .map_err(|_| StoreError::Backend("learner_cards: bad serial".into()))?,
                    secret: secret
                        .try_into()
                        .map_err(|_| StoreError::Backend("learner_cards: bad secret".into()))?,
                    issued_ms: r.get(2),
                    replaced_ms: r.get(3),
                })
            })
            .collect()
        })
    }

    fn roster_stamp(&self, org: Uuid) -> StoreResult<i64> {
        self.run(|c| {
            Ok(
                c.query_opt("SELECT stamp FROM roster_stamps WHERE org_id = $1", &[&org])?
                    .map_or(0, |r| r.get(0)),
            )
        })
    }

    fn learners_of_org(&self, org: Uuid) -> StoreResult<Vec<Learner>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {LEARNER_COLS} FROM learners WHERE org_id = $1
                     ORDER BY name COLLATE \"C\", id::TEXT"
                ),
                &[&org],
            )?;
            collect(rows, learner_row)
        })
    }

    fn learners_of_class(&self, class: Uuid) -> StoreResult<Vec<Learner>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {LEARNER_COLS} FROM learners WHERE class_id = $1
                     ORDER BY name COLLATE \"C\", id::TEXT"
                ),
                &[&class],
            )?;
            collect(rows, learner_row)
        })
    }

    fn put_token(&self, t: &TokenRecord) -> StoreResult<()> {
        self.run(|c| Ok(put_token_in(c, t)?))
    }

    fn token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT subject_kind, subject_id, org_id, created_ms, expires_ms
                     FROM tokens WHERE hash = $1",
                &[&&hash[..]],
            )?
            .map(|r| {
                let kind: String = r.get(0);
                let id: Uuid = r.get(1);
                TokenRecord {
                    hash: *hash,
                    subject: if kind == "device" {
                        Subject::Device(DeviceId(id))
                    } else {
                        Subject::User(id)
                    },
                    org: r.get(2),
                    created_ms: r.get(3),
                    expires_ms: r.get(4),
                }
            }))
        })
    }

    fn put_enrollment_code(&self, code: &EnrollmentCode) -> StoreResult<()> {
        self.txn(|tx| {
            tx.execute(
                "INSERT INTO enrollment_codes (hash, org_id, learner_id, created_ms, expires_ms, used_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&code.hash[..],
                    &code.org,
                    &code.learner.map(|l| l.0),
                    &code.created_ms,
                    &code.expires_ms,
                    &code.used_ms,
                ],
            )?;
            for class in &code.classes {
                tx.execute(
                    "INSERT INTO enrollment_code_classes (code_hash, class_id, org_id)
                     VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&&code.hash[..], class, &code.org],
                )?;
            }
            Ok(())
        })
    }

    fn redeem_enrollment(
        &self,
        code_hash: &[u8; 32],
        now_ms: i64,
        make: &mut dyn FnMut(&EnrollmentCode) -> Option<(Device, TokenRecord)>,
    ) -> StoreResult<Option<(EnrollmentCode, Device)>> {
        self.txn(|tx| {
            // FOR UPDATE: a second process redeeming the same code waits here, then reads it
            // used.
            let row = tx.query_opt(
                "SELECT org_id, learner_id, created_ms, expires_ms, used_ms
                 FROM enrollment_codes WHERE hash = $1 FOR UPDATE",
                &[&&code_hash[..]],
            )?;
            let Some(row) = row else {
                return Err(StoreError::NotFound.into());
            };
            let code = EnrollmentCode {
                hash: *code_hash,
                org: row.get(0),
                learner: row.get::<_, Option<Uuid>>(1).map(LearnerId),
                classes: tx
                    .query(
                        "SELECT class_id FROM enrollment_code_classes WHERE code_hash = $1
                         ORDER BY class_id::TEXT",
                        &[&&code_hash[..]],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect(),
                created_ms: row.get(2),
                expires_ms: row.get(3),
                used_ms: row.get(4),
            };
            let Some((device, token)) = make(&code) else {
                return Ok(None);
            };
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM devices WHERE id = $1 OR public_key = $2",
                    &[&device.id.0, &&device.public_key.0[..]],
                )?
                .is_some();
            if exists {
                return Err(StoreError::Conflict(Conflict::DeviceExists).into());
            }
            // The device number comes from the identity column's sequence.
            let inserted = tx.execute(
                &format!(
                    "INSERT INTO devices ({DEVICE_COLS}, head_seq, head_id)
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7) ON CONFLICT DO NOTHING"
                ),
                &[
                    &device.id.0,
                    &device.org,
                    &&device.public_key.0[..],
                    &device.learner.map(|l| l.0),
                    &device.label,
                    &device.enrolled_ms,
                    &&ReceiptId::ZERO.0[..],
                ],
            )?;
            if inserted != 1 {
                // Enrolled by another process between the check and the insert.
                return Err(StoreError::Conflict(Conflict::DeviceExists).into());
            }
            let n = tx.execute(
                "UPDATE enrollment_codes SET used_ms = $2, device_id = $3
                 WHERE hash = $1 AND used_ms IS NULL",
                &[&&code_hash[..], &now_ms, &device.id.0],
            )?;
            if n != 1 {
                return Err(StoreError::Conflict(Conflict::Constraint).into());
            }
            for class in &code.classes {
                tx.execute(
                    "INSERT INTO kiosk_classes (device_id, class_id, org_id) VALUES ($1, $2, $3)",
                    &[&device.id.0, class, &device.org],
                )?;
            }
            put_token_in(tx, &token)?;
            let code = EnrollmentCode {
                used_ms: Some(now_ms),
                ..code
            };
            Ok(Some((code, device)))
        })
    }

    fn device(&self, id: DeviceId) -> StoreResult<Option<Device>> {
        self.run(|c| {
            c.query_opt(
                &format!("SELECT {DEVICE_COLS} FROM devices WHERE id = $1"),
                &[&id.0],
            )?
            .map(|r| device_row(&r))
            .transpose()
        })
    }

    fn kiosk_classes(&self, device: DeviceId) -> StoreResult<Vec<Uuid>> {
        self.run(|c| {
            Ok(c.query(
                "SELECT class_id FROM kiosk_classes WHERE device_id = $1 ORDER BY class_id::TEXT",
                &[&device.0],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
        })
    }

    fn set_kiosk_classes(&self, device: DeviceId, classes: &[Uuid]) -> StoreResult<()> {
        self.txn(|tx| {
            // The device's row is locked, so two administrators changing one kiosk's classes at
            // once are applied one after the other.
            let Some(row) = tx.query_opt(
                "SELECT org_id FROM devices WHERE id = $1 FOR UPDATE",
                &[&device.0],
            )?
            else {
                return Err(StoreError::NotFound.into());
            };
            let org: Uuid = row.get(0);
            let keep: Vec<Uuid> = classes.to_vec();
            tx.execute(
                "DELETE FROM kiosk_classes WHERE device_id = $1 AND NOT (class_id = ANY($2))",
                &[&device.0, &keep],
            )?;
            tx.execute(
                "INSERT INTO kiosk_classes (device_id, class_id, org_id)
                 SELECT $1, c, $3 FROM UNNEST($2::UUID[]) AS c ON CONFLICT DO NOTHING",
                &[&device.0, &keep, &org],
            )?;
            Ok(())
        })
    }

    fn chain_state(&self, device: DeviceId) -> StoreResult<ChainState> {
        self.run(|c| chain_state_in(c, device))
    }

    fn chain_txn(
        &self,
        device: DeviceId,
        f: &mut dyn FnMut(&mut dyn ChainTxn) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.closure_txn(|tx| {
            // Serialises every batch of this device, whichever process placed it.
            let row = tx.query_opt(
                "SELECT num, org_id FROM devices WHERE id = $1 FOR UPDATE",
                &[&device.0],
            )?;
            let Some(row) = row else {
                return Err(StoreError::NotFound.into());
            };
            let mut t = PgChainTxn {
                facts: PgFacts::new(tx),
                device,
                org: row.get(1),
                num: row.get(0),
            };
            f(&mut t).map_err(from_closure)
        })
    }

    fn receipts_of_learner(
        &self,
        learner: LearnerId,
        after: Option<(DeviceId, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        self.run(|c| {
            let (after_device, after_seq) = after.map_or((None, 0i64), |(d, s)| (Some(d.0), s as i64));
            let rows = c.query(
                &format!(
                    "SELECT {RECEIPT_COLS} FROM receipts r JOIN devices d ON d.num = r.device {PREV_JOIN}
                     WHERE r.learner = $1
                       AND ($2::UUID IS NULL OR d.id > $2 OR (d.id = $2 AND r.seq > $3))
                     ORDER BY d.id, r.seq LIMIT $4"
                ),
                &[&learner.0, &after_device, &after_seq, &i64::from(limit)],
            )?;
            collect(rows, receipt_row)
        })
    }

    fn receipts_of_device(
        &self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>> {
        self.run(|c| receipts_of_device_in(c, device, from_seq, limit))
    }

    fn flagged_devices(&self, org: Uuid) -> StoreResult<Vec<(Device, DeviceFlag)>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {DEVICE_COLS}, {FLAG_COLS} FROM devices
                     WHERE org_id = $1 AND flag_code IS NOT NULL ORDER BY flagged_ms, num"
                ),
                &[&org],
            )?;
            let all = collect(rows, |r| Ok((device_row(r)?, flag_row(r, 6))))?;
            Ok(all
                .into_iter()
                .filter_map(|(d, f)| f.map(|f| (d, f)))
                .collect())
        })
    }

    fn rejections(
        &self,
        org: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, RejectionRecord)>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT id, device_id, org_id, code, seq, received_ms, envelope FROM rejections
                 WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                &[&org, &before.unwrap_or(i64::MAX), &i64::from(limit)],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        r.get(0),
                        RejectionRecord {
                            device: DeviceId(r.get(1)),
                            org: r.get(2),
                            code: r.get(3),
                            seq: r.get::<_, Option<i64>>(4).map(|s| s as u64),
                            received_ms: r.get(5),
                            envelope: r.get(6),
                        },
                    )
                })
                .collect())
        })
    }

    fn rejection_counts(&self, org: Uuid) -> StoreResult<Vec<(DeviceId, String, u64, u64)>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT device_id, code, count, kept FROM rejection_counts
                 WHERE org_id = $1 ORDER BY device_id::TEXT, code COLLATE \"C\"",
                &[&org],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    (
                        DeviceId(r.get(0)),
                        r.get(1),
                        r.get::<_, i64>(2) as u64,
                        r.get::<_, i64>(3) as u64,
                    )
                })
                .collect())
        })
    }

    fn resolve_flag(&self, device: DeviceId, res: &FlagResolution) -> StoreResult<bool> {
        self.run(|c| {
            let n = c.execute(
                "UPDATE devices SET flag_resolved_ms = $2, flag_resolved_by = $3,
                        flag_resolved_reason = $4
                 WHERE id = $1 AND flag_code IS NOT NULL AND flag_resolved_ms IS NULL",
                &[&device.0, &res.resolved_ms, &res.by, &res.reason],
            )?;
            Ok(n > 0)
        })
    }

    fn learner_facts(&self, person: LearnerId) -> StoreResult<Option<Vec<u8>>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT facts FROM learner_facts WHERE learner = $1",
                &[&person.0],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn flagged_people(
        &self,
        org: Uuid,
        after: Option<LearnerId>,
        limit: u32,
    ) -> StoreResult<Vec<(LearnerId, Vec<u8>)>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT learner, facts FROM learner_facts
                 WHERE org_id = $1 AND flagged AND learner > $2 ORDER BY learner LIMIT $3",
                &[&org, &after.map_or(Uuid::nil(), |l| l.0), &i64::from(limit)],
            )?;
            Ok(rows
                .iter()
                .map(|r| (LearnerId(r.get(0)), r.get(1)))
                .collect())
        })
    }

    fn device_facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(Device, Vec<u8>)>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {DEVICE_COLS}, (SELECT f.facts FROM device_facts f WHERE f.device = devices.num)
                     FROM devices WHERE org_id = $1
                       AND EXISTS (SELECT 1 FROM device_facts f WHERE f.device = devices.num)
                     ORDER BY num"
                ),
                &[&org],
            )?;
            collect(rows, |r| Ok((device_row(r)?, r.get(6))))
        })
    }

    fn facts_version(&self) -> StoreResult<u32> {
        self.run(|c| {
            let v: i64 = c
                .query_one("SELECT value FROM facts_meta WHERE key = 'version'", &[])?
                .get(0);
            Ok(v as u32)
        })
    }

    fn rebuild_facts(
        &self,
        f: &mut dyn FnMut(&mut dyn RebuildTxn) -> StoreResult<()>,
    ) -> StoreResult<()> {
        self.closure_txn(|tx| {
            // Every device row locked: no chain transaction runs while the facts are derived
            // again (as SQLite's one writer).
            tx.execute("SELECT 1 FROM devices FOR UPDATE", &[])?;
            tx.execute(
                "LOCK TABLE learner_facts, device_facts IN EXCLUSIVE MODE",
                &[],
            )?;
            let mut t = PgRebuildTxn {
                facts: PgFacts::new(tx),
            };
            f(&mut t).map_err(from_closure)
        })
    }

    fn org_daily_cap(&self, org: Uuid) -> StoreResult<Option<u64>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT daily_cap_ms FROM org_policy WHERE org_id = $1",
                &[&org],
            )?
            .map(|r| r.get::<_, i64>(0) as u64))
        })
    }

    fn set_org_daily_cap(&self, org: Uuid, cap_ms: u64) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO org_policy (org_id, daily_cap_ms) VALUES ($1, $2)
                 ON CONFLICT (org_id) DO UPDATE SET daily_cap_ms = excluded.daily_cap_ms",
                &[&org, &(cap_ms as i64)],
            )?;
            Ok(())
        })
    }

    fn put_package(&self, p: &PackageRecord, keys: &[ExamKeyItem]) -> StoreResult<()> {
        self.txn(|tx| {
            tx.execute(
                &format!(
                    "INSERT INTO packages ({PACKAGE_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ),
                &[
                    &p.course,
                    &i64::from(p.version),
                    &p.title,
                    &p.manifest,
                    &p.manifest_sha,
                    &(p.total_size as i64),
                    &p.published_ms,
                ],
            )
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => StoreError::Conflict(Conflict::PackageExists).into(),
                other => TxnError::Store(other),
            })?;
            let st = tx.prepare(
                "INSERT INTO exam_keys (course, version, exam, item, correct, points)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )?;
            for k in keys {
                tx.execute(
                    &st,
                    &[
                        &p.course,
                        &i64::from(p.version),
                        &k.exam,
                        &k.item,
                        &k.correct,
                        &i64::from(k.points),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn packages(&self) -> StoreResult<Vec<PackageRecord>> {
        self.run(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {PACKAGE_COLS} FROM packages ORDER BY course COLLATE \"C\", version"
                ),
                &[],
            )?;
            Ok(rows.iter().map(package_row).collect())
        })
    }

    fn package(&self, course: &str, version: u32) -> StoreResult<Option<PackageRecord>> {
        self.run(|c| {
            Ok(c.query_opt(
                &format!("SELECT {PACKAGE_COLS} FROM packages WHERE course = $1 AND version = $2"),
                &[&course, &i64::from(version)],
            )?
            .map(|r| package_row(&r)))
        })
    }

    fn latest_package(&self, course: &str) -> StoreResult<Option<PackageRecord>> {
        self.run(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {PACKAGE_COLS} FROM packages WHERE course = $1
                         ORDER BY version DESC LIMIT 1"
                ),
                &[&course],
            )?
            .map(|r| package_row(&r)))
        })
    }

    fn catalog_stamp(&self) -> StoreResult<(u64, i64)> {
        self.run(|c| {
            let r = c.query_one(
                "SELECT COUNT(*), COALESCE(MAX(published_ms), 0)::BIGINT FROM packages",
                &[],
            )?;
            Ok((r.get::<_, i64>(0) as u64, r.get(1)))
        })
    }

    fn exam_keys(&self, course: &str, version: u32) -> StoreResult<Vec<ExamKeyItem>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT exam, item, correct, points FROM exam_keys
                 WHERE course = $1 AND version = $2 ORDER BY exam COLLATE \"C\", item COLLATE \"C\"",
                &[&course, &i64::from(version)],
            )?;
            Ok(rows
                .iter()
                .map(|r| ExamKeyItem {
                    exam: r.get(0),
                    item: r.get(1),
                    correct: r.get(2),
                    points: r.get::<_, i64>(3) as u32,
                })
                .collect())
        })
    }

    fn issue_certificate(&self, cert: &Certificate) -> StoreResult<Certificate> {
        self.run(|c| issue_certificate_in(c, cert))
    }

    fn certificates_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<Certificate>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT serial, learner_id, course, issued_ms FROM certificates
                 WHERE learner_id = $1 ORDER BY course COLLATE \"C\"",
                &[&learner.0],
            )?;
            Ok(rows.iter().map(cert_row).collect())
        })
    }

    fn certificate(&self, serial: &str) -> StoreResult<Option<Certificate>> {
        self.run(|c| {
            let row = c.query_opt(
                "SELECT serial, learner_id, course, issued_ms FROM certificates WHERE serial = $1",
                &[&serial],
            )?;
            Ok(row.as_ref().map(cert_row))
        })
    }

    fn certificate_status_index(&self, serial: &str) -> StoreResult<u64> {
        self.txn(|tx| {
            // The next free index must be taken by one instance at a time: issuing is rare, so
            // the table is locked against other writers for the moment it takes.
            tx.batch_execute("LOCK TABLE certificate_credentials IN SHARE ROW EXCLUSIVE MODE")?;
            tx.execute(
                "INSERT INTO certificate_credentials (serial, org_id, status_index)
                 SELECT c.serial, c.org_id,
                        (SELECT COALESCE(MAX(status_index) + 1, 0) FROM certificate_credentials)
                 FROM certificates c WHERE c.serial = $1
                 ON CONFLICT (serial) DO NOTHING",
                &[&serial],
            )?;
            let row = tx.query_opt(
                "SELECT status_index FROM certificate_credentials WHERE serial = $1",
                &[&serial],
            )?;
            let row = row.ok_or(TxnError::Store(StoreError::NotFound))?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn save_certificate_credential(&self, serial: &str, credential: &str) -> StoreResult<String> {
        self.run(|c| {
            c.execute(
                "UPDATE certificate_credentials SET credential = $2
                 WHERE serial = $1 AND credential IS NULL",
                &[&serial, &credential],
            )?;
            let kept: Option<String> = c
                .query_opt(
                    "SELECT credential FROM certificate_credentials WHERE serial = $1",
                    &[&serial],
                )?
                .and_then(|r| r.get(0));
            kept.ok_or(StoreError::NotFound)
        })
    }

    fn certificate_credential(&self, serial: &str) -> StoreResult<Option<CertificateCredential>> {
        self.run(|c| {
            let row = c.query_opt(
                "SELECT status_index, credential, revoked_ms, revoked_reason
                 FROM certificate_credentials WHERE serial = $1",
                &[&serial],
            )?;
            Ok(row.map(|r| {
                let revoked_ms: Option<i64> = r.get(2);
                CertificateCredential {
                    status_index: u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                    credential: r.get(1),
                    revoked: revoked_ms
                        .map(|ms| (ms, r.get::<_, Option<String>>(3).unwrap_or_default())),
                }
            }))
        })
    }

    fn revoke_certificate(&self, serial: &str, reason: &str, now_ms: i64) -> StoreResult<bool> {
        self.run(|c| {
            let n = c.execute(
                "UPDATE certificate_credentials SET revoked_ms = $2, revoked_reason = $3
                 WHERE serial = $1 AND revoked_ms IS NULL",
                &[&serial, &now_ms, &reason],
            )?;
            Ok(n == 1)
        })
    }

    fn revoked_status_indices(&self) -> StoreResult<Vec<u64>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT status_index FROM certificate_credentials
                 WHERE revoked_ms IS NOT NULL ORDER BY status_index",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0))
                .collect())
        })
    }

    fn revoke_tokens_of(&self, subject: &Subject) -> StoreResult<u64> {
        let (kind, id) = subject_parts(subject);
        self.run(|c| {
            Ok(c.execute(
                "DELETE FROM tokens WHERE subject_kind = $1 AND subject_id = $2",
                &[&kind, &id],
            )?)
        })
    }

    fn revoke_token(&self, hash: &[u8; 32]) -> StoreResult<bool> {
        self.run(|c| Ok(c.execute("DELETE FROM tokens WHERE hash = $1", &[&&hash[..]])? > 0))
    }

    fn record_relays(&self, rows: &[RelayRecord]) -> StoreResult<()> {
        self.txn(|tx| {
            let st = tx.prepare(
                "INSERT INTO relays (org_id, device_id, carrier_kind, carrier_id, received_ms,
                                     receipts, accepted)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )?;
            for r in rows {
                let (kind, id) = match &r.carrier {
                    Some(s) => {
                        let (k, i) = subject_parts(s);
                        (k, Some(i))
                    }
                    None => ("cli", None),
                };
                tx.execute(
                    &st,
                    &[
                        &r.org,
                        &r.device.0,
                        &kind,
                        &id,
                        &r.received_ms,
                        &(r.receipts as i64),
                        &(r.accepted as i64),
                    ],
                )?;
            }
            Ok(())
        })
    }

    fn relays(&self, org: Uuid, limit: u32) -> StoreResult<Vec<RelayRecord>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT org_id, device_id, carrier_kind, carrier_id, received_ms, receipts, accepted
                 FROM relays WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
                &[&org, &i64::from(limit)],
            )?;
            Ok(rows
                .iter()
                .map(|r| {
                    let kind: String = r.get(2);
                    let id: Option<Uuid> = r.get(3);
                    RelayRecord {
                        org: r.get(0),
                        device: DeviceId(r.get(1)),
                        carrier: match (kind.as_str(), id) {
                            ("device", Some(i)) => Some(Subject::Device(DeviceId(i))),
                            ("user", Some(i)) => Some(Subject::User(i)),
                            _ => None,
                        },
                        received_ms: r.get(4),
                        receipts: r.get::<_, i64>(5) as u64,
                        accepted: r.get::<_, i64>(6) as u64,
                    }
                })
                .collect())
        })
    }

    // ----- the console (issue #15) -----

    fn put_console_account(&self, a: &ConsoleAccount) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO console_accounts (user_id, org_id, login, password_phc, set_ms, last_ok_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (user_id) DO UPDATE SET login = excluded.login,
                     password_phc = excluded.password_phc, set_ms = excluded.set_ms,
                     last_ok_ms = excluded.last_ok_ms",
                &[
                    &a.user,
                    &a.org,
                    &a.login,
                    &a.password_phc,
                    &a.set_ms,
                    &a.last_ok_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn console_account(&self, login: &str) -> StoreResult<Option<ConsoleAccount>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT user_id, org_id, login, password_phc, set_ms, last_ok_ms
                 FROM console_accounts WHERE login = $1",
                &[&login],
            )?
            .map(|r| ConsoleAccount {
                user: r.get(0),
                org: r.get(1),
                login: r.get(2),
                password_phc: r.get(3),
                set_ms: r.get(4),
                last_ok_ms: r.get(5),
            }))
        })
    }

    fn console_signed_in(&self, user: Uuid, at_ms: i64) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "UPDATE console_accounts SET last_ok_ms = $2 WHERE user_id = $1",
                &[&user, &at_ms],
            )?;
            Ok(())
        })
    }

    fn add_sign_in_failure(&self, f: &SignInFailure) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO sign_in_failures (org_id, user_id, login, address, at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &f.account.map(|a| a.1),
                    &f.account.map(|a| a.0),
                    &f.login,
                    &f.address,
                    &f.at_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn sign_in_failures_since(
        &self,
        login: Option<&str>,
        address: &str,
        since_ms: i64,
    ) -> StoreResult<(u64, u64)> {
        self.run(|c| {
            let r = c.query_one(
                "SELECT (SELECT COUNT(*) FROM sign_in_failures
                          WHERE $1::text IS NOT NULL AND login = $1 AND at_ms >= $3),
                        (SELECT COUNT(*) FROM sign_in_failures
                          WHERE address = $2 AND at_ms >= $3)",
                &[&login, &address, &since_ms],
            )?;
            Ok((r.get::<_, i64>(0) as u64, r.get::<_, i64>(1) as u64))
        })
    }

    fn prune_sign_in_failures(&self, before_ms: i64) -> StoreResult<u64> {
        self.run(|c| {
            Ok(c.execute(
                "DELETE FROM sign_in_failures WHERE at_ms < $1",
                &[&before_ms],
            )?)
        })
    }

    fn put_console_session(&self, s: &ConsoleSession) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO console_sessions (hash, org_id, user_id, csrf, created_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &&s.hash[..],
                    &s.org,
                    &s.user,
                    &&s.csrf[..],
                    &s.created_ms,
                    &s.expires_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn console_session(&self, hash: &[u8; 32]) -> StoreResult<Option<ConsoleSession>> {
        self.run(|c| {
            c.query_opt(
                "SELECT org_id, user_id, csrf, created_ms, expires_ms
                 FROM console_sessions WHERE hash = $1",
                &[&&hash[..]],
            )?
            .map(|r| {
                Ok(ConsoleSession {
                    hash: *hash,
                    org: r.get(0),
                    user: r.get(1),
                    csrf: b32(r.get(2))?,
                    created_ms: r.get(3),
                    expires_ms: r.get(4),
                })
            })
            .transpose()
        })
    }

    fn delete_console_session(&self, hash: &[u8; 32]) -> StoreResult<bool> {
        self.run(|c| {
            Ok(c.execute(
                "DELETE FROM console_sessions WHERE hash = $1",
                &[&&hash[..]],
            )? > 0)
        })
    }

    fn delete_console_sessions_of(&self, user: Uuid) -> StoreResult<u64> {
        self.run(|c| Ok(c.execute("DELETE FROM console_sessions WHERE user_id = $1", &[&user])?))
    }

    fn append_audit(
        &self,
        org: Uuid,
        make: &mut dyn FnMut(Option<&AuditEntry>) -> AuditEntry,
    ) -> StoreResult<AuditEntry> {
        self.txn(|tx| {
            // One appender per organisation at a time, on every process: the chain never forks.
            tx.execute(
                "SELECT pg_advisory_xact_lock($1)",
                &[&(person_key(LearnerId(org)) ^ AUDIT_LOCK)],
            )?;
            let last = tx
                .query_opt(
                    &format!(
                        "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = $1 ORDER BY seq DESC LIMIT 1"
                    ),
                    &[&org],
                )?
                .map(|r| audit_row(&r))
                .transpose()?;
            let e = make(last.as_ref());
            tx.execute(
                &format!(
                    "INSERT INTO audit_log ({AUDIT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ),
                &[
                    &e.org,
                    &(e.seq as i64),
                    &e.at_ms,
                    &e.actor,
                    &e.action,
                    &e.detail,
                    &&e.prev_hash[..],
                    &&e.hash[..],
                ],
            )?;
            Ok(e)
        })
    }

    fn audit_entries(&self, org: Uuid, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.run(|c| {
            c.query(
                &format!(
                    "SELECT {AUDIT_COLS} FROM audit_log WHERE org_id = $1 AND seq > $2
                     ORDER BY seq LIMIT $3"
                ),
                &[&org, &(after_seq as i64), &i64::from(limit)],
            )?
            .iter()
            .map(audit_row)
            .collect()
        })
    }

    fn import_learners(&self, learners: &[Learner]) -> StoreResult<()> {
        self.txn(|tx| {
            let st = tx.prepare(&format!(
                "INSERT INTO learners ({LEARNER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))?;
            for l in learners {
                tx.execute(
                    &st,
                    &[
                        &l.id.0,
                        &l.org,
                        &l.name,
                        &&l.national_id_mac[..],
                        &l.national_id_tail,
                        &l.class,
                        &l.pin_hash,
                        &l.created_ms,
                    ],
                )
                .map_err(|e| match StoreError::from(e) {
                    StoreError::Conflict(_) => {
                        TxnError::Store(StoreError::Conflict(Conflict::LearnerExists))
                    }
                    other => TxnError::Store(other),
                })?;
            }
            Ok(())
        })
    }
    fn put_flag_resolution(&self, r: &ResolvedFlag) -> StoreResult<bool> {
        self.run(|c| {
            let n = c.execute(
                "INSERT INTO flag_resolutions (org_id, flag_key, note, user_id, resolved_ms)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (org_id, flag_key) DO NOTHING",
                &[&r.org, &r.key, &r.note, &r.by, &r.resolved_ms],
            )?;
            Ok(n > 0)
        })
    }

    fn flag_resolutions(&self, org: Uuid) -> StoreResult<Vec<ResolvedFlag>> {
        self.run(|c| {
            Ok(c.query(
                "SELECT org_id, flag_key, note, user_id, resolved_ms FROM flag_resolutions
                 WHERE org_id = $1 ORDER BY resolved_ms, flag_key",
                &[&org],
            )?
            .iter()
            .map(|r| ResolvedFlag {
                org: r.get(0),
                key: r.get(1),
                note: r.get(2),
                by: r.get(3),
                resolved_ms: r.get(4),
            })
            .collect())
        })
    }

    // ----- photo checkpoints (issue #17) -----

    fn set_org_photos(&self, org: Uuid, enabled: bool, now_ms: i64) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO org_photo_policy (org_id, enabled, set_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id) DO UPDATE SET enabled = EXCLUDED.enabled,
                                                    set_ms = EXCLUDED.set_ms",
                &[&org, &enabled, &now_ms],
            )?;
            Ok(())
        })
    }

    fn org_photos(&self, org: Uuid) -> StoreResult<bool> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT enabled FROM org_photo_policy WHERE org_id = $1",
                &[&org],
            )?
            .is_some_and(|r| r.get::<_, bool>(0)))
        })
    }

    fn put_photo_request(&self, r: &PhotoRequest) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO photo_requests (id, org_id, learner_id, requested_by, reason,
                                             requested_ms, fulfilled_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &r.id,
                    &r.org,
                    &r.learner.0,
                    &r.by,
                    &r.reason,
                    &r.requested_ms,
                    &r.fulfilled_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn photo_request(&self, id: Uuid) -> StoreResult<Option<PhotoRequest>> {
        self.run(|c| {
            Ok(c.query_opt(
                &format!("SELECT {PHOTO_REQUEST_COLS} FROM photo_requests WHERE id = $1"),
                &[&id],
            )?
            .map(|r| photo_request_row(&r)))
        })
    }

    fn open_photo_requests(&self, org: Uuid) -> StoreResult<Vec<PhotoRequest>> {
        self.run(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {PHOTO_REQUEST_COLS} FROM photo_requests
                     WHERE org_id = $1 AND fulfilled_ms IS NULL ORDER BY requested_ms, id"
                ),
                &[&org],
            )?
            .iter()
            .map(photo_request_row)
            .collect())
        })
    }

    fn photo_requests_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<PhotoRequest>> {
        self.run(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {PHOTO_REQUEST_COLS} FROM photo_requests
                     WHERE learner_id = $1 ORDER BY requested_ms DESC, id"
                ),
                &[&learner.0],
            )?
            .iter()
            .map(photo_request_row)
            .collect())
        })
    }

    fn fulfil_photo_request(&self, id: Uuid, now_ms: i64) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "UPDATE photo_requests SET fulfilled_ms = $2 WHERE id = $1 AND fulfilled_ms IS NULL",
                &[&id, &now_ms],
            )?;
            Ok(())
        })
    }

    fn put_audit_photo(&self, p: &AuditPhoto) -> StoreResult<bool> {
        self.run(|c| {
            let n = c.execute(
                "INSERT INTO audit_photos (request_id, receipt_id, learner_id, sha256,
                                           taken_wall_ms, received_ms, jpeg, stored_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (request_id, receipt_id) DO NOTHING",
                &[
                    &p.request,
                    &&p.receipt.0[..],
                    &p.learner.0,
                    &&p.sha256[..],
                    &p.taken_wall_ms,
                    &p.received_ms,
                    &p.jpeg,
                    &p.stored_ms,
                ],
            )?;
            Ok(n > 0)
        })
    }

    fn audit_photos(&self, request: Uuid) -> StoreResult<Vec<AuditPhoto>> {
        self.run(|c| {
            c.query(
                "SELECT request_id, receipt_id, learner_id, sha256, taken_wall_ms, received_ms,
                        jpeg, stored_ms
                 FROM audit_photos WHERE request_id = $1 ORDER BY taken_wall_ms, receipt_id",
                &[&request],
            )?
            .iter()
            .map(|r| {
                let receipt: Vec<u8> = r.get(1);
                let sha: Vec<u8> = r.get(3);
                Ok(AuditPhoto {
                    request: r.get(0),
                    receipt: ReceiptId(
                        receipt
                            .try_into()
                            .map_err(|_| StoreError::Backend("receipt id not 32 bytes".into()))?,
                    ),
                    learner: LearnerId(r.get(2)),
                    sha256: sha
                        .try_into()
                        .map_err(|_| StoreError::Backend("photo hash not 32 bytes".into()))?,
                    taken_wall_ms: r.get(4),
                    received_ms: r.get(5),
                    jpeg: r.get(6),
                    stored_ms: r.get(7),
                })
            })
            .collect()
        })
    }

    fn delete_audit_photos_before(&self, before_ms: i64) -> StoreResult<u64> {
        self.run(|c| {
            Ok(c.execute(
                "DELETE FROM audit_photos WHERE stored_ms < $1",
                &[&before_ms],
            )?)
        })
    }

    // ----- supervision (issue #15, the supervisor) -----

    fn create_region(&self, region: &Region, office: &Org) -> StoreResult<()> {
        self.txn(|tx| {
            tx.execute(
                "INSERT INTO orgs (id, name, created_ms) VALUES ($1, $2, $3)",
                &[&office.id, &office.name, &office.created_ms],
            )?;
            tx.execute(
                "INSERT INTO regions (code, name, parent, office_org_id, created_ms)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    &region.code,
                    &region.name,
                    &region.parent,
                    &region.office,
                    &region.created_ms,
                ],
            )?;
            Ok(())
        })
    }

    fn regions(&self) -> StoreResult<Vec<Region>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT code, name, parent, office_org_id, created_ms FROM regions
                 ORDER BY code COLLATE \"C\"",
                &[],
            )?;
            collect(rows, |r| {
                Ok(Region {
                    code: r.get(0),
                    name: r.get(1),
                    parent: r.get(2),
                    office: r.get(3),
                    created_ms: r.get(4),
                })
            })
        })
    }

    fn set_org_region(&self, org: Uuid, region: &str, now_ms: i64) -> StoreResult<()> {
        self.run(|c| {
            c.execute(
                "INSERT INTO org_regions (org_id, region_code, set_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (org_id) DO UPDATE SET region_code = excluded.region_code,
                                                    set_ms = excluded.set_ms",
                &[&org, &region, &now_ms],
            )?;
            Ok(())
        })
    }

    fn org_region(&self, org: Uuid) -> StoreResult<Option<String>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT region_code FROM org_regions WHERE org_id = $1",
                &[&org],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn orgs_in_regions(&self, regions: &[String]) -> StoreResult<Vec<Org>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT o.id, o.name, o.created_ms FROM org_regions r JOIN orgs o ON o.id = r.org_id
                 WHERE r.region_code = ANY($1)",
                &[&regions],
            )?;
            let mut out = collect(rows, |r| {
                Ok(Org {
                    id: r.get(0),
                    name: r.get(1),
                    created_ms: r.get(2),
                })
            })?;
            out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            Ok(out)
        })
    }

    fn create_supervisor(&self, user: &User, region: &str) -> StoreResult<()> {
        self.txn(|tx| {
            tx.execute(
                &format!("INSERT INTO users ({USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6)"),
                &[
                    &user.id,
                    &user.org,
                    &user.role.as_str(),
                    &user.name,
                    &user.created_ms,
                    &user.pin_hash,
                ],
            )?;
            tx.execute(
                "INSERT INTO supervisors (user_id, org_id, region_code) VALUES ($1, $2, $3)",
                &[&user.id, &user.org, &region],
            )?;
            Ok(())
        })
    }

    fn supervisor_region(&self, user: Uuid) -> StoreResult<Option<String>> {
        self.run(|c| {
            Ok(c.query_opt(
                "SELECT region_code FROM supervisors WHERE user_id = $1",
                &[&user],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(LearnerId, Vec<u8>)>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT learner, facts FROM learner_facts WHERE org_id = $1 ORDER BY learner",
                &[&org],
            )?;
            Ok(rows
                .iter()
                .map(|r| (LearnerId(r.get(0)), r.get(1)))
                .collect())
        })
    }

    fn certificates_of_org(&self, org: Uuid) -> StoreResult<Vec<Certificate>> {
        self.run(|c| {
            let rows = c.query(
                "SELECT serial, learner_id, course, issued_ms FROM certificates
                 WHERE org_id = $1 ORDER BY serial COLLATE \"C\"",
                &[&org],
            )?;
            Ok(rows.iter().map(cert_row).collect())
        })
    }

    // ----- subsidy claims (issue #15 item 5) -----

    fn put_claim(&self, c: &Claim, pack: &[u8]) -> StoreResult<()> {
        let (learners, credited, certs, flags) = (
            c.learners as i64,
            c.credited_ms as i64,
            c.certificates as i64,
            c.open_flags as i64,
        );
        self.run(|k| {
            k.execute(
                &format!(
                    "INSERT INTO claims ({CLAIM_COLS}, pack)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                             NULL, NULL, NULL, NULL, $12)"
                ),
                &[
                    &c.id,
                    &c.org,
                    &c.class,
                    &c.class_name,
                    &c.submitted_by,
                    &c.submitted_ms,
                    &&c.pack_sha256[..],
                    &learners,
                    &credited,
                    &certs,
                    &flags,
                    &pack,
                ],
            )?;
            Ok(())
        })
    }

    fn claim(&self, id: Uuid) -> StoreResult<Option<Claim>> {
        self.run(|c| {
            c.query_opt(
                &format!("SELECT {CLAIM_COLS} FROM claims WHERE id = $1"),
                &[&id],
            )?
            .map(|r| claim_row(&r))
            .transpose()
        })
    }

    fn claim_pack(&self, id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.run(|c| {
            Ok(
                c.query_opt("SELECT pack FROM claims WHERE id = $1", &[&id])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn claims_of_orgs(&self, orgs: &[Uuid]) -> StoreResult<Vec<Claim>> {
        let orgs = orgs.to_vec();
        self.run(|c| {
            c.query(
                &format!(
                    "SELECT {CLAIM_COLS} FROM claims WHERE org_id = ANY($1)
                     ORDER BY submitted_ms DESC, id"
                ),
                &[&orgs],
            )?
            .iter()
            .map(claim_row)
            .collect()
        })
    }

    fn decide_claim(&self, id: Uuid, d: &ClaimDecision) -> StoreResult<bool> {
        let decision = if d.approved { "approved" } else { "rejected" };
        self.run(|c| {
            let n = c.execute(
                "UPDATE claims SET decision = $2, reason = $3, decided_by = $4, decided_ms = $5
                 WHERE id = $1 AND decision IS NULL",
                &[&id, &decision, &d.reason, &d.by, &d.decided_ms],
            )?;
            Ok(n > 0)
        })
    }
}

const CLAIM_COLS: &str = "id, org_id, class_id, class_name, submitted_by, submitted_ms, \
    pack_sha256, learners, credited_ms, certificates, open_flags, decision, reason, decided_by, \
    decided_ms";

fn claim_row(r: &Row) -> StoreResult<Claim> {
    let decision: Option<String> = r.get(11);
    Ok(Claim {
        id: r.get(0),
        org: r.get(1),
        class: r.get(2),
        class_name: r.get(3),
        submitted_by: r.get(4),
        submitted_ms: r.get(5),
        pack_sha256: b32(r.get(6))?,
        learners: r.get::<_, i64>(7) as u64,
        credited_ms: r.get::<_, i64>(8) as u64,
        certificates: r.get::<_, i64>(9) as u64,
        open_flags: r.get::<_, i64>(10) as u64,
        decision: decision.map(|d| ClaimDecision {
            approved: d == "approved",
            reason: r.get(12),
            by: r.get::<_, Option<Uuid>>(13).unwrap_or_default(),
            decided_ms: r.get::<_, Option<i64>>(14).unwrap_or_default(),
        }),
    })
}

/// Mixed into an organisation's advisory lock key for its audit log.
const AUDIT_LOCK: i64 = 0x6175_6469_7400_0001;

const AUDIT_COLS: &str = "org_id, seq, at_ms, actor, action, detail, prev_hash, hash";

fn audit_row(r: &Row) -> StoreResult<AuditEntry> {
    Ok(AuditEntry {
        org: r.get(0),
        seq: r.get::<_, i64>(1) as u64,
        at_ms: r.get(2),
        actor: r.get(3),
        action: r.get(4),
        detail: r.get(5),
        prev_hash: b32(r.get(6))?,
        hash: b32(r.get(7))?,
    })
}

const PHOTO_REQUEST_COLS: &str =
    "id, org_id, learner_id, requested_by, reason, requested_ms, fulfilled_ms";

fn photo_request_row(r: &::postgres::Row) -> PhotoRequest {
    PhotoRequest {
        id: r.get(0),
        org: r.get(1),
        learner: LearnerId(r.get(2)),
        by: r.get(3),
        reason: r.get(4),
        requested_ms: r.get(5),
        fulfilled_ms: r.get(6),
    }
}
