//! Storage: one trait, [`Store`], that the domain layer uses, and its two implementations:
//! [`SqliteStore`] (one file, the embedded default) and [`PostgresStore`] (many stateless
//! service processes sharing one database, issue #13).
//!
//! Nothing above this module knows SQL, and no rule of the service lives in SQL: the backends
//! store, look up and serialise; the domain decides (an enrollment code's expiry and single use,
//! for example, are checked by the domain inside the store's transaction). Both backends pass one
//! test suite (`tests/store_suite.rs`).
//!
//! - every call is a short unit of work that a backend runs in one transaction;
//! - [`Store::chain_txn`] is the only read-modify-write: the backend must serialise it per
//!   device (SQLite: `BEGIN IMMEDIATE`; PostgreSQL: `SELECT ... FOR UPDATE` on the device row)
//!   and make it durable before it returns; the facts it reads and writes for a person are
//!   locked too (PostgreSQL: `FOR UPDATE` on the person's facts row), so two devices of one
//!   learner folding receipts on two service processes do not lose an update;
//! - uniqueness (one use of an enrollment code, one certificate per learner and course, one
//!   receipt per chain position) is enforced by the backend's constraints, not by the caller.
//!
//! The trait is synchronous; the HTTP layer calls it from blocking tasks.

pub mod migrate;
pub mod postgres;
pub mod sqlite;

use std::borrow::Cow;

use hearth_protocol::{ChainHead, DeviceId, LearnerId, PublicKey, ReceiptId};
use uuid::Uuid;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Which uniqueness rule a write would break (the caller maps it to a domain answer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    /// An organisation with this name exists.
    OrgExists,
    /// A learner of the organisation has this national ID number.
    LearnerExists,
    /// This course version is published.
    PackageExists,
    /// A device with this id or public key is enrolled.
    DeviceExists,
    /// Another uniqueness or reference rule of the schema (a row with this id exists, a row it
    /// names does not).
    Constraint,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Conflict::OrgExists => "org_exists",
            Conflict::LearnerExists => "learner_exists",
            Conflict::PackageExists => "package_exists",
            Conflict::DeviceExists => "device_exists",
            Conflict::Constraint => "constraint",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule would be broken (the caller maps it to a domain answer).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    #[error("not found")]
    NotFound,
    /// The database refused or failed; the text is for logs only.
    #[error("storage failure: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Admin,
    Trainer,
    /// A region's supervisor (人社部门, issue #15): a person of the region's office who sees the
    /// statistics of the region's institutions and nothing of any one institution's own pages.
    Supervisor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Trainer => "trainer",
            Role::Supervisor => "supervisor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "trainer" => Some(Role::Trainer),
            "supervisor" => Some(Role::Supervisor),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Org {
    pub id: Uuid,
    pub name: String,
    pub created_ms: i64,
}

/// A trainer's assignment to a class: a lesson, a whole course (neither lesson nor exam), or an
/// exam.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    pub id: Uuid,
    pub org: Uuid,
    pub class: Uuid,
    pub course: String,
    pub lesson: Option<String>,
    pub exam: Option<String>,
    pub due_ms: Option<i64>,
    pub created_by: Uuid,
    pub created_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    pub org: Uuid,
    pub role: Role,
    pub name: String,
    pub created_ms: i64,
    /// Kiosk PIN verifier (trainers), as for learners.
    pub pin_hash: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Class {
    pub id: Uuid,
    pub org: Uuid,
    pub trainer: Uuid,
    pub name: String,
    pub created_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learner {
    pub id: LearnerId,
    pub org: Uuid,
    pub name: String,
    /// Keyed hash (HMAC-SHA-256 under the service's secret) of the normalised ID number.
    pub national_id_mac: [u8; 32],
    /// The last four characters of the ID number.
    pub national_id_tail: String,
    pub class: Option<Uuid>,
    pub pin_hash: Option<String>,
    pub created_ms: i64,
}

/// A learner's sign-in card (issue #17 item 3): its secret is what the card's QR code holds.
#[derive(Clone, PartialEq, Eq)]
pub struct CardRecord {
    pub learner: LearnerId,
    pub serial: u32,
    pub secret: [u8; 32],
    pub issued_ms: i64,
    /// When a newer card replaced it.
    pub replaced_ms: Option<i64>,
}

impl std::fmt::Debug for CardRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardRecord")
            .field("learner", &self.learner)
            .field("serial", &self.serial)
            .field("issued_ms", &self.issued_ms)
            .field("replaced_ms", &self.replaced_ms)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    User(Uuid),
    Device(DeviceId),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// SHA-256 of the bearer token.
    pub hash: [u8; 32],
    pub subject: Subject,
    pub org: Uuid,
    pub created_ms: i64,
    pub expires_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnrollmentCode {
    pub hash: [u8; 32],
    pub org: Uuid,
    /// Set for a personal device: the learner it belongs to.
    pub learner: Option<LearnerId>,
    /// For a kiosk: the classes it will serve (linked to the device when the code is redeemed).
    pub classes: Vec<Uuid>,
    pub created_ms: i64,
    pub expires_ms: i64,
    /// When it was redeemed (`None`: not yet).
    pub used_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub org: Uuid,
    pub public_key: PublicKey,
    pub learner: Option<LearnerId>,
    pub label: Option<String>,
    pub enrolled_ms: i64,
}

/// A device's chain state on the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainState {
    pub head: ChainHead,
    pub flag: Option<DeviceFlag>,
    pub pending: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceFlag {
    pub code: String,
    pub detail: String,
    pub flagged_ms: i64,
    /// Set when an administrator resolved it; the device earns credit again.
    pub resolved: Option<FlagResolution>,
}

impl DeviceFlag {
    /// Unresolved: the device earns nothing from `flagged_ms` on.
    pub fn is_active(&self) -> bool {
        self.resolved.is_none()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlagResolution {
    pub by: String,
    pub reason: String,
    pub resolved_ms: i64,
}

/// A verified receipt as the store keeps it: the envelope byte for byte, plus the columns needed
/// to find it. `prev` is the id of the receipt before it in its device's chain (read back from
/// the chain itself: the acknowledged chain has no gaps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredReceipt {
    pub device: DeviceId,
    pub seq: u64,
    pub id: ReceiptId,
    pub prev: ReceiptId,
    pub learner: LearnerId,
    /// The event kind (`Event::kind`): borrowed when ingesting, so storing allocates nothing.
    pub kind: Cow<'static, str>,
    pub received_ms: i64,
    pub envelope: Vec<u8>,
}

/// A refused envelope, kept for audit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectionRecord {
    pub device: DeviceId,
    pub org: Uuid,
    pub code: String,
    pub seq: Option<u64>,
    pub received_ms: i64,
    pub envelope: Vec<u8>,
}

/// Reads and writes of derived facts (`domain::credit`), inside a transaction that also
/// appends the receipts they come from, or that rebuilds them.
pub trait FactsTxn {
    fn learner(&mut self, id: LearnerId) -> StoreResult<Option<Learner>>;
    /// The encoded facts of a person (learner, or trainer), if any.
    fn learner_facts(&mut self, person: LearnerId) -> StoreResult<Option<Vec<u8>>>;
    /// `flagged`: the facts hold withheld credit or overlaps (listed in the flags report).
    fn put_learner_facts(
        &mut self,
        person: LearnerId,
        org: Uuid,
        facts: &[u8],
        flagged: bool,
    ) -> StoreResult<()>;
    fn device_facts(&mut self, device: DeviceId) -> StoreResult<Option<Vec<u8>>>;
    fn put_device_facts(&mut self, device: DeviceId, facts: &[u8]) -> StoreResult<()>;
    /// Inserts the certificate unless the learner has one for the course; returns the one kept.
    fn issue_certificate(&mut self, cert: &Certificate) -> StoreResult<Certificate>;
}

/// Rebuilding every derived fact (of one organisation, or all) from the stored receipts, in one
/// serialised transaction.
pub trait RebuildTxn: FactsTxn {
    /// Devices (of `org`, or all), in enrollment order, with their flags.
    fn devices(&mut self, org: Option<Uuid>) -> StoreResult<Vec<(Device, Option<DeviceFlag>)>>;
    /// Acknowledged receipts of one device from `from_seq` on, in chain order.
    fn chain_page(
        &mut self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>>;
    /// Forgets the facts (of `org`'s people and devices, or all).
    fn clear_facts(&mut self, org: Option<Uuid>) -> StoreResult<()>;
    fn set_facts_version(&mut self, version: u32) -> StoreResult<()>;
}

/// Reads and writes on one device's chain inside one serialised, durable transaction.
pub trait ChainTxn: FactsTxn {
    fn state(&mut self) -> StoreResult<ChainState>;
    /// The id of the acknowledged receipt at `seq`.
    fn held_at(&mut self, seq: u64) -> StoreResult<Option<ReceiptId>>;
    /// Appends an acknowledged receipt (the caller moves the head with [`ChainTxn::set_head`]
    /// before the transaction ends).
    fn append(&mut self, r: &StoredReceipt) -> StoreResult<()>;
    fn set_head(&mut self, head: ChainHead) -> StoreResult<()>;
    fn has_pending(&mut self, seq: u64, id: ReceiptId) -> StoreResult<bool>;
    fn add_pending(&mut self, r: &StoredReceipt) -> StoreResult<()>;
    /// Removes and returns the pending receipts at `seq`.
    fn take_pending(&mut self, seq: u64) -> StoreResult<Vec<StoredReceipt>>;
    /// Counts a rejection; `keep` also stores its envelope byte for byte.
    fn reject(&mut self, r: &RejectionRecord, keep: bool) -> StoreResult<()>;
    /// How many rejected envelopes of this device are kept.
    fn rejections_kept(&mut self) -> StoreResult<u64>;
    /// Flags the device (an unresolved flag is kept as it is; a resolved one is replaced).
    fn flag(&mut self, flag: &DeviceFlag) -> StoreResult<()>;
    /// A class, read inside the transaction (receipts that act on a class are checked here).
    fn class(&mut self, id: Uuid) -> StoreResult<Option<Class>>;
    /// Stores an assignment unless one with its id exists; true when it was stored.
    fn put_assignment(&mut self, a: &Assignment) -> StoreResult<bool>;
}

/// A published package's catalog row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRecord {
    pub course: String,
    pub version: u32,
    pub title: String,
    pub manifest: Vec<u8>,
    pub manifest_sha: String,
    pub total_size: u64,
    pub published_ms: i64,
}

/// One exam item's answer key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExamKeyItem {
    pub exam: String,
    pub item: String,
    /// Correct choices as indices, or accepted text answers, as stored JSON.
    pub correct: String,
    pub points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    pub serial: String,
    pub learner: LearnerId,
    pub course: String,
    pub issued_ms: i64,
}

/// A certificate's signed credential and revocation (issue #14).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateCredential {
    pub status_index: u64,
    /// The signed credential JSON, once issued.
    pub credential: Option<String>,
    /// (revoked at, reason).
    pub revoked: Option<(i64, String)>,
}

/// A person's console sign-in (issue #15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleAccount {
    pub user: Uuid,
    pub org: Uuid,
    /// Unique in the service, lower case.
    pub login: String,
    /// The argon2id verifier as a PHC string.
    pub password_phc: String,
    pub set_ms: i64,
    /// The last successful sign-in.
    pub last_ok_ms: Option<i64>,
}

/// One failed console sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInFailure {
    /// The account the login named, if any: (user, org).
    pub account: Option<(Uuid, Uuid)>,
    /// The login as typed (lower case), whether it names somebody or not.
    pub login: String,
    pub address: String,
    pub at_ms: i64,
}

/// A console session, by SHA-256 of its cookie token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsoleSession {
    pub hash: [u8; 32],
    pub org: Uuid,
    pub user: Uuid,
    /// The session's random anti-forgery token (sent as base64url in `X-CSRF-Token`).
    pub csrf: [u8; 32],
    pub created_ms: i64,
    pub expires_ms: i64,
}

/// One entry of an organisation's audit log (the chain's rule is `domain::audit`'s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub org: Uuid,
    /// 1, 2, … per organisation.
    pub seq: u64,
    pub at_ms: i64,
    /// Who acted (`user:<id>`, `cli`, …).
    pub actor: String,
    /// What was done (`sign_in.ok`, `roster.import`, …).
    pub action: String,
    /// Details as JSON text.
    pub detail: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// Everything the service stores. See the module documentation for the rules a backend follows.
pub trait Store: Send + Sync + 'static {
    fn create_org(&self, org: &Org) -> StoreResult<()>;
    fn org(&self, id: Uuid) -> StoreResult<Option<Org>>;
    fn orgs(&self) -> StoreResult<Vec<Org>>;
    fn create_user(&self, user: &User) -> StoreResult<()>;
    fn create_assignment(&self, a: &Assignment) -> StoreResult<()>;
    /// An organisation's assignments, or one class's, oldest first.
    fn assignments(&self, org: Uuid, class: Option<Uuid>) -> StoreResult<Vec<Assignment>>;
    /// Sets the kiosk PIN verifier of a learner or trainer, in one transaction; false when there
    /// is no such person.
    fn set_pin(&self, person: Uuid, pin_hash: &str) -> StoreResult<bool>;
    fn user(&self, id: Uuid) -> StoreResult<Option<User>>;
    fn users_of_org(&self, org: Uuid) -> StoreResult<Vec<User>>;
    fn create_class(&self, class: &Class) -> StoreResult<()>;
    fn class(&self, id: Uuid) -> StoreResult<Option<Class>>;
    /// An organisation's classes, by name.
    fn classes_of_org(&self, org: Uuid) -> StoreResult<Vec<Class>>;
    fn create_learner(&self, learner: &Learner) -> StoreResult<()>;
    fn learner(&self, id: LearnerId) -> StoreResult<Option<Learner>>;
    fn learners_of_org(&self, org: Uuid) -> StoreResult<Vec<Learner>>;
    /// Issues `learner` a new sign-in card with `secret`, in one transaction: the current card
    /// (if any) is marked replaced at `now_ms`, the new one gets the next serial (from 1), which
    /// is returned. `None` when there is no such learner.
    fn issue_card(
        &self,
        learner: LearnerId,
        secret: &[u8; 32],
        now_ms: i64,
    ) -> StoreResult<Option<u32>>;
    /// Every card issued to `learner`, oldest first.
    fn cards_of(&self, learner: LearnerId) -> StoreResult<Vec<CardRecord>>;
    /// A number that moves whenever the organisation's people, PINs, classes or assignments
    /// change (kept by the backend's triggers); 0 before the first change.
    fn roster_stamp(&self, org: Uuid) -> StoreResult<i64>;
    fn learners_of_class(&self, class: Uuid) -> StoreResult<Vec<Learner>>;

    fn put_token(&self, token: &TokenRecord) -> StoreResult<()>;
    fn token(&self, hash: &[u8; 32]) -> StoreResult<Option<TokenRecord>>;

    fn put_enrollment_code(&self, code: &EnrollmentCode) -> StoreResult<()>;
    /// Atomically, with the code locked against every other redemption: reads the code, asks
    /// `make` (the domain's rules: unused, unexpired) for the device and its credential, and when
    /// it gives them marks the code used at `now_ms`, registers the device (with a fresh device
    /// number) and stores the credential. `Ok(None)` when `make` refused, `NotFound` when there
    /// is no such code, `Conflict(DeviceExists)`; nothing is changed unless it returns `Some`.
    /// The classes the code names become the new device's ([`Store::kiosk_classes`]) in the
    /// same transaction.
    fn redeem_enrollment(
        &self,
        code_hash: &[u8; 32],
        now_ms: i64,
        make: &mut dyn FnMut(&EnrollmentCode) -> Option<(Device, TokenRecord)>,
    ) -> StoreResult<Option<(EnrollmentCode, Device)>>;
    fn device(&self, id: DeviceId) -> StoreResult<Option<Device>>;
    /// The classes a kiosk serves (issue #16), by id.
    fn kiosk_classes(&self, device: DeviceId) -> StoreResult<Vec<Uuid>>;
    /// Makes `classes` (of the device's organisation: the caller checks) the kiosk's classes, in
    /// one transaction: links missing ones, unlinks the others, so the roster stamp moves only
    /// when something changed. `NotFound` when there is no such device.
    fn set_kiosk_classes(&self, device: DeviceId, classes: &[Uuid]) -> StoreResult<()>;
    fn chain_state(&self, device: DeviceId) -> StoreResult<ChainState>;
    /// Runs `f` on the device's chain in one serialised transaction, committed durably when `f`
    /// returns `Ok`, rolled back otherwise.
    fn chain_txn(
        &self,
        device: DeviceId,
        f: &mut dyn FnMut(&mut dyn ChainTxn) -> StoreResult<()>,
    ) -> StoreResult<()>;

    /// Acknowledged receipts of a learner, by device id and then in chain order, after the
    /// position `after` (the last of a previous page), at most `limit`.
    fn receipts_of_learner(
        &self,
        learner: LearnerId,
        after: Option<(DeviceId, u64)>,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>>;
    /// Acknowledged receipts of one device from `from_seq` on, in chain order.
    fn receipts_of_device(
        &self,
        device: DeviceId,
        from_seq: u64,
        limit: u32,
    ) -> StoreResult<Vec<StoredReceipt>>;
    fn flagged_devices(&self, org: Uuid) -> StoreResult<Vec<(Device, DeviceFlag)>>;
    /// Kept rejected envelopes of `org`, newest first (by their `id` column, given in the order
    /// they were stored), before the cursor `before` (from a previous page); each with its
    /// cursor.
    fn rejections(
        &self,
        org: Uuid,
        before: Option<i64>,
        limit: u32,
    ) -> StoreResult<Vec<(i64, RejectionRecord)>>;
    /// Rejections of `org` per device and code: (device, code, count, kept).
    fn rejection_counts(&self, org: Uuid) -> StoreResult<Vec<(DeviceId, String, u64, u64)>>;
    /// Marks the device's flag resolved; false when it has no unresolved flag.
    fn resolve_flag(&self, device: DeviceId, resolution: &FlagResolution) -> StoreResult<bool>;

    /// The encoded facts of a person.
    fn learner_facts(&self, person: LearnerId) -> StoreResult<Option<Vec<u8>>>;
    /// People of `org` whose facts are flagged, after `after`, at most `limit`.
    fn flagged_people(
        &self,
        org: Uuid,
        after: Option<LearnerId>,
        limit: u32,
    ) -> StoreResult<Vec<(LearnerId, Vec<u8>)>>;
    /// The devices of `org` with derived facts, and those facts (for the anomaly flags).
    fn device_facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(Device, Vec<u8>)>>;
    /// The facts version the stored facts were derived with (0: rebuild them).
    fn facts_version(&self) -> StoreResult<u32>;
    fn rebuild_facts(
        &self,
        f: &mut dyn FnMut(&mut dyn RebuildTxn) -> StoreResult<()>,
    ) -> StoreResult<()>;
    /// An organisation's daily cap on credited study, when it set one.
    fn org_daily_cap(&self, org: Uuid) -> StoreResult<Option<u64>>;
    fn set_org_daily_cap(&self, org: Uuid, cap_ms: u64) -> StoreResult<()>;

    fn put_package(&self, pkg: &PackageRecord, keys: &[ExamKeyItem]) -> StoreResult<()>;
    fn packages(&self) -> StoreResult<Vec<PackageRecord>>;
    fn package(&self, course: &str, version: u32) -> StoreResult<Option<PackageRecord>>;
    fn latest_package(&self, course: &str) -> StoreResult<Option<PackageRecord>>;
    /// (number of packages, newest publish time): changes whenever something is published.
    fn catalog_stamp(&self) -> StoreResult<(u64, i64)>;
    fn exam_keys(&self, course: &str, version: u32) -> StoreResult<Vec<ExamKeyItem>>;

    /// Inserts the certificate unless the learner has one for the course; returns the one kept.
    fn issue_certificate(&self, cert: &Certificate) -> StoreResult<Certificate>;
    fn certificates_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<Certificate>>;

    // ----- certificate credentials (issue #14) -----

    fn certificate(&self, serial: &str) -> StoreResult<Option<Certificate>>;
    /// The certificate's index in the revocation status list, assigned (the next free one) on
    /// first call and the same ever after.
    fn certificate_status_index(&self, serial: &str) -> StoreResult<u64>;
    /// Keeps the signed credential unless one is kept already; returns the one kept. Call
    /// [`Store::certificate_status_index`] first.
    fn save_certificate_credential(&self, serial: &str, credential: &str) -> StoreResult<String>;
    fn certificate_credential(&self, serial: &str) -> StoreResult<Option<CertificateCredential>>;
    /// Marks the certificate revoked; false when it is already revoked or has no credential row.
    fn revoke_certificate(&self, serial: &str, reason: &str, now_ms: i64) -> StoreResult<bool>;
    fn revoked_status_indices(&self) -> StoreResult<Vec<u64>>;

    // ----- revocation (issue #19) -----

    /// Deletes every token of `subject` (a device's credentials, a user's tokens), so that the
    /// next request with any of them is refused; returns how many there were. Takes effect at
    /// once: every request looks its token up.
    fn revoke_tokens_of(&self, subject: &Subject) -> StoreResult<u64>;
    /// Deletes one token by its hash; whether it existed.
    fn revoke_token(&self, hash: &[u8; 32]) -> StoreResult<bool>;
    /// Records who carried relayed receipts, in one transaction.
    fn record_relays(&self, rows: &[RelayRecord]) -> StoreResult<()>;
    /// The latest relay records of an organisation, newest first.
    fn relays(&self, org: Uuid, limit: u32) -> StoreResult<Vec<RelayRecord>>;

    // ----- the console (issue #15) -----

    /// Sets a person's console sign-in (replacing the one they had); `Conflict(Constraint)` when
    /// another person has the login.
    fn put_console_account(&self, account: &ConsoleAccount) -> StoreResult<()>;
    /// The sign-in with this login (lower case).
    fn console_account(&self, login: &str) -> StoreResult<Option<ConsoleAccount>>;
    /// Records a successful sign-in at `at_ms`.
    fn console_signed_in(&self, user: Uuid, at_ms: i64) -> StoreResult<()>;
    fn add_sign_in_failure(&self, failure: &SignInFailure) -> StoreResult<()>;
    /// Failed sign-ins at or after `since_ms`: (with the login, from the address).
    fn sign_in_failures_since(
        &self,
        login: Option<&str>,
        address: &str,
        since_ms: i64,
    ) -> StoreResult<(u64, u64)>;
    /// Forgets failed sign-ins before `before_ms`; how many.
    fn prune_sign_in_failures(&self, before_ms: i64) -> StoreResult<u64>;
    fn put_console_session(&self, session: &ConsoleSession) -> StoreResult<()>;
    fn console_session(&self, hash: &[u8; 32]) -> StoreResult<Option<ConsoleSession>>;
    /// Ends one session; whether it existed.
    fn delete_console_session(&self, hash: &[u8; 32]) -> StoreResult<bool>;
    /// Ends every session of a person (their password changed); how many.
    fn delete_console_sessions_of(&self, user: Uuid) -> StoreResult<u64>;
    /// Appends to the organisation's audit log with its last entry locked against every other
    /// append: `make` gets the last entry (none for the first) and returns the new one, which
    /// must follow it (the next `seq`); returns the entry stored.
    fn append_audit(
        &self,
        org: Uuid,
        make: &mut dyn FnMut(Option<&AuditEntry>) -> AuditEntry,
    ) -> StoreResult<AuditEntry>;
    /// The organisation's audit entries after `after_seq`, in order, at most `limit`.
    fn audit_entries(&self, org: Uuid, after_seq: u64, limit: u32) -> StoreResult<Vec<AuditEntry>>;
    /// Adds learners all or nothing, in one transaction: `Conflict(LearnerExists)` (and nothing
    /// stored) when any of them is registered already.
    fn import_learners(&self, learners: &[Learner]) -> StoreResult<()>;
    /// Keeps an administrator's resolution of a flag unless the flag has one; true when it was
    /// kept (false: resolved already, nothing changed).
    fn put_flag_resolution(&self, r: &ResolvedFlag) -> StoreResult<bool>;
    /// The organisation's flag resolutions, oldest first.
    fn flag_resolutions(&self, org: Uuid) -> StoreResult<Vec<ResolvedFlag>>;

    // ----- supervision (issue #15, the supervisor) -----

    /// Stores a region and its office organisation in one transaction;
    /// `Conflict(Constraint)` when the code is taken, the parent is unknown, or an
    /// organisation has the office's name.
    fn create_region(&self, region: &Region, office: &Org) -> StoreResult<()>;
    /// Every region, by code.
    fn regions(&self) -> StoreResult<Vec<Region>>;
    /// Puts an institution in a region (replacing the region it was in);
    /// `Conflict(Constraint)` when the region or the organisation is unknown.
    fn set_org_region(&self, org: Uuid, region: &str, now_ms: i64) -> StoreResult<()>;
    /// The region an institution is in.
    fn org_region(&self, org: Uuid) -> StoreResult<Option<String>>;
    /// The institutions of these regions, by name.
    fn orgs_in_regions(&self, regions: &[String]) -> StoreResult<Vec<Org>>;
    /// Stores a supervisor and their region in one transaction (the user's `org` is the
    /// region's office).
    fn create_supervisor(&self, user: &User, region: &str) -> StoreResult<()>;
    /// A supervisor's region.
    fn supervisor_region(&self, user: Uuid) -> StoreResult<Option<String>>;
    /// The encoded facts of the learners of `org` (learners with none yet are left out).
    fn facts_of_org(&self, org: Uuid) -> StoreResult<Vec<(LearnerId, Vec<u8>)>>;
    /// Every certificate of the learners of `org`.
    fn certificates_of_org(&self, org: Uuid) -> StoreResult<Vec<Certificate>>;

    // ----- subsidy claims (issue #15 item 5) -----

    /// Stores a submitted claim with its frozen pack; `Conflict(Constraint)` when the class has
    /// a claim pending or approved already.
    fn put_claim(&self, claim: &Claim, pack: &[u8]) -> StoreResult<()>;
    fn claim(&self, id: Uuid) -> StoreResult<Option<Claim>>;
    /// The frozen pack's bytes of a claim.
    fn claim_pack(&self, id: Uuid) -> StoreResult<Option<Vec<u8>>>;
    /// The claims of these organisations, newest first.
    fn claims_of_orgs(&self, orgs: &[Uuid]) -> StoreResult<Vec<Claim>>;
    /// Records the decision of a pending claim; false when it was decided already (nothing
    /// changed) or there is no such claim.
    fn decide_claim(&self, id: Uuid, decision: &ClaimDecision) -> StoreResult<bool>;

    // ----- photo checkpoints (issue #17, docs/privacy.md) -----

    /// Turns the organisation's photo checkpoints on or off.
    fn set_org_photos(&self, org: Uuid, enabled: bool, now_ms: i64) -> StoreResult<()>;
    /// Whether the organisation has photo checkpoints on (off when never set).
    fn org_photos(&self, org: Uuid) -> StoreResult<bool>;
    fn put_photo_request(&self, r: &PhotoRequest) -> StoreResult<()>;
    fn photo_request(&self, id: Uuid) -> StoreResult<Option<PhotoRequest>>;
    /// Requests of `org` no upload has answered yet, oldest first.
    fn open_photo_requests(&self, org: Uuid) -> StoreResult<Vec<PhotoRequest>>;
    /// Every request for a learner's photos, newest first.
    fn photo_requests_of_learner(&self, learner: LearnerId) -> StoreResult<Vec<PhotoRequest>>;
    /// Marks a request answered (the first upload's time is kept).
    fn fulfil_photo_request(&self, id: Uuid, now_ms: i64) -> StoreResult<()>;
    /// Keeps a checked photo; false when the request holds it already.
    fn put_audit_photo(&self, p: &AuditPhoto) -> StoreResult<bool>;
    /// The photos kept for a request, in the order they were taken.
    fn audit_photos(&self, request: Uuid) -> StoreResult<Vec<AuditPhoto>>;
    /// Deletes photos stored before `before_ms` (the retention); how many.
    fn delete_audit_photos_before(&self, before_ms: i64) -> StoreResult<u64>;
}

/// A subsidy claim (补贴申领, issue #15 item 5): a class's signed claim pack frozen when an
/// administrator submitted it, the totals it showed, and the supervisor's decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub id: Uuid,
    pub org: Uuid,
    pub class: Uuid,
    pub class_name: String,
    pub submitted_by: Uuid,
    pub submitted_ms: i64,
    /// SHA-256 of the frozen pack's bytes.
    pub pack_sha256: [u8; 32],
    pub learners: u64,
    pub credited_ms: u64,
    pub certificates: u64,
    /// Unresolved flags of the class's learners when it was submitted.
    pub open_flags: u64,
    /// `None` while pending.
    pub decision: Option<ClaimDecision>,
}

/// A supervisor's decision on a claim, final once made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimDecision {
    pub approved: bool,
    /// Why it was rejected (required then); `None` for an approval.
    pub reason: Option<String>,
    pub by: Uuid,
    pub decided_ms: i64,
}

/// A request for a learner's photo checkpoints (issue #17): who asked, why, when, and when a
/// device answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhotoRequest {
    pub id: Uuid,
    pub org: Uuid,
    pub learner: LearnerId,
    pub by: Uuid,
    pub reason: String,
    pub requested_ms: i64,
    pub fulfilled_ms: Option<i64>,
}

/// A photo uploaded for a request, opened and matched to its `photo_taken` receipt.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditPhoto {
    pub request: Uuid,
    pub receipt: ReceiptId,
    pub learner: LearnerId,
    /// SHA-256 of `jpeg`, equal to the receipt's.
    pub sha256: [u8; 32],
    /// The receipt's device wall time, and when the service received the receipt.
    pub taken_wall_ms: i64,
    pub received_ms: i64,
    pub jpeg: Vec<u8>,
    pub stored_ms: i64,
}

impl std::fmt::Debug for AuditPhoto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditPhoto")
            .field("request", &self.request)
            .field("receipt", &self.receipt)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish_non_exhaustive()
    }
}

/// An administrator's resolution of one flag of the flags report (issue #15): a note, who,
/// when. A record of review only: it changes no credit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedFlag {
    pub org: Uuid,
    /// The flag as the console names it (`domain::flag_review`).
    pub key: String,
    pub note: String,
    pub by: Uuid,
    pub resolved_ms: i64,
}

/// A supervised region (issue #15): an administrative division, with its office.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// The administrative division code (six digits, GB/T 2260).
    pub code: String,
    pub name: String,
    /// The region it is part of, if any.
    pub parent: Option<String>,
    /// The region's human-resources office, the organisation its supervisors belong to.
    pub office: Uuid,
    pub created_ms: i64,
}

/// Who carried one device's relayed receipts in one request (issue #19).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayRecord {
    pub org: Uuid,
    pub device: DeviceId,
    /// The kiosk device or user whose credential carried them; `None`: the service's
    /// administrator on the command line.
    pub carrier: Option<Subject>,
    pub received_ms: i64,
    pub receipts: u64,
    pub accepted: u64,
}
