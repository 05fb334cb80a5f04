//! The messages of the Hearth HTTP API (`/v1`), shared by the service and the client.
//!
//! JSON messages use camelCase field names (this file). Receipt uploads use a compact binary
//! batch (`wire::batch`: [`encode_batch`] / [`decode_batch`]), normally compressed with zstd by the HTTP layer; see
//! `docs/api.md` for the routes and the byte layout.
//!
//! Pure: encoding and decoding only, no I/O.

use serde::{Deserialize, Serialize};

use crate::anchor::{Signature, TimeAnchor};
use crate::chain::ChainHead;
use crate::ids::{ClassId, CourseId, DeviceId, LearnerId, PublicKey, ReceiptId};

pub(crate) mod batch;

pub use batch::{
    BATCH_CONTENT_TYPE, BATCH_MAGIC, BUNDLE_CONTENT_TYPE, BatchError, MAX_BATCH_ENTRY,
    MAX_BATCH_RECEIPTS, decode_batch, encode_batch,
};

/// A time anchor as JSON: the signature in hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnchorJson {
    pub issued_ms: i64,
    pub device: DeviceId,
    pub signature: String,
}

impl From<&TimeAnchor> for AnchorJson {
    fn from(a: &TimeAnchor) -> Self {
        Self {
            issued_ms: a.issued_ms,
            device: a.device,
            signature: hex::encode(a.signature.0),
        }
    }
}

impl AnchorJson {
    /// The anchor, if the signature is 64 bytes of hex (it still has to be verified).
    pub fn to_anchor(&self) -> Option<TimeAnchor> {
        let mut sig = [0u8; 64];
        hex::decode_to_slice(&self.signature, &mut sig).ok()?;
        Some(TimeAnchor {
            issued_ms: self.issued_ms,
            device: self.device,
            signature: Signature(sig),
        })
    }
}

/// A device's acknowledged chain position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadJson {
    pub seq: u64,
    pub id: ReceiptId,
}

impl From<ChainHead> for HeadJson {
    fn from(h: ChainHead) -> Self {
        Self {
            seq: h.seq,
            id: h.id,
        }
    }
}

impl From<HeadJson> for ChainHead {
    fn from(h: HeadJson) -> Self {
        Self {
            seq: h.seq,
            id: h.id,
        }
    }
}

/// `POST /v1/enroll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollRequest {
    /// The one-time enrollment code from a trainer or administrator.
    pub code: String,
    /// The device's Ed25519 public key (hex).
    pub public_key: PublicKey,
    /// The device id the client derived from its key; must equal `DeviceId::for_key(publicKey)`.
    pub device_id: DeviceId,
    /// A label for people ("Room 2 kiosk 3").
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrgJson {
    pub id: String,
    pub name: String,
}

/// One person a device may record receipts for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterEntry {
    pub learner_id: LearnerId,
    pub name: String,
    /// `learner` or `trainer`.
    pub role: String,
    /// For kiosk sign-in, when a PIN is set: the PIN's verifier (`pin/2`, PBKDF2; see
    /// `crate::pin` and docs/api.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_hash: Option<String>,
    /// For kiosk sign-in by card, when the learner has a card: its serial and verifier
    /// (`crate::card`). Absent when none, and read as absent from an older service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardVerifier>,
    /// A learner's class (none or one), or the classes a trainer runs. Absent when empty, and
    /// read as empty from an older service.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<ClassRef>,
}

/// The verifier of a learner's current sign-in card, as a kiosk's roster carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CardVerifier {
    pub serial: u32,
    /// hex SHA-256 (`crate::card::card_verifier`).
    pub verifier: String,
}

/// A class as a roster names it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassRef {
    pub id: ClassId,
    pub name: String,
}

/// Answer to `POST /v1/enroll`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollResponse {
    pub device_id: DeviceId,
    /// Bearer credential for every later call. Shown once; the service keeps only its hash.
    pub credential: String,
    pub credential_expires_ms: i64,
    pub org: OrgJson,
    /// The learner a personal device belongs to (absent for a kiosk).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learner_id: Option<LearnerId>,
    pub roster: Vec<RosterEntry>,
    /// Publisher keys the client must pin for course packages.
    pub publisher_keys: Vec<PublicKey>,
    /// The key the service signs time anchors with.
    pub anchor_key: PublicKey,
    /// A first time anchor.
    pub anchor: AnchorJson,
}

/// One letter per receipt of an upload, in batch order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptStatus {
    /// `A`: stored now, part of the acknowledged chain.
    Accepted,
    /// `D`: already held (stored or pending); counted once.
    Duplicate,
    /// `P`: verified and kept, waiting for missing receipts before it.
    Pending,
    /// `R`: refused; see the rejection with the same index.
    Rejected,
}

impl ReceiptStatus {
    pub fn letter(self) -> char {
        match self {
            ReceiptStatus::Accepted => 'A',
            ReceiptStatus::Duplicate => 'D',
            ReceiptStatus::Pending => 'P',
            ReceiptStatus::Rejected => 'R',
        }
    }

    pub fn from_letter(c: char) -> Option<Self> {
        Some(match c {
            'A' => ReceiptStatus::Accepted,
            'D' => ReceiptStatus::Duplicate,
            'P' => ReceiptStatus::Pending,
            'R' => ReceiptStatus::Rejected,
            _ => return None,
        })
    }
}

/// Why one receipt of an upload was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rejection {
    /// Position in the batch (from 0).
    pub index: u32,
    /// A `receipt.*` code (see `RejectReason`) or `chain.fork`.
    pub code: String,
    /// The receipt's position in its chain, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

/// Answer to `POST /v1/sync/receipts`: a result for every receipt, compactly.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadResponse {
    /// One [`ReceiptStatus`] letter per receipt, in batch order (`"AAAAPPD"`).
    pub results: String,
    /// The refused receipts, by index.
    pub rejections: Vec<Rejection>,
    /// The end of the device's acknowledged chain: everything up to here is durable on the
    /// service and may leave the client's outbox.
    pub head: HeadJson,
    /// A fresh time anchor.
    pub anchor: AnchorJson,
    /// True when the service has flagged this device (for example after a fork).
    pub flagged: bool,
}

impl UploadResponse {
    pub fn statuses(&self) -> Vec<Option<ReceiptStatus>> {
        self.results
            .chars()
            .map(ReceiptStatus::from_letter)
            .collect()
    }
}

/// One device's part of the answer to `POST /v1/sync/bundle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleSectionResult {
    pub device_id: DeviceId,
    /// Why the whole section was refused (`device.unknown`, `auth.wrong_org`); then the fields
    /// below are empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One [`ReceiptStatus`] letter per receipt of the section.
    pub results: String,
    pub rejections: Vec<Rejection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadJson>,
}

/// Answer to `POST /v1/sync/bundle`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleResponse {
    pub sections: Vec<BundleSectionResult>,
}

/// Answer to `GET /v1/sync/state`: what a sync round with nothing to upload needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    pub device_id: DeviceId,
    pub head: HeadJson,
    pub anchor: AnchorJson,
    pub flagged: bool,
    /// Receipts held pending a gap.
    pub pending: u64,
    /// A digest of this device's roster and assignments: when it differs from the one the
    /// device kept, the round pulls them again (`GET /v1/roster`, `GET /v1/assignments`), so a
    /// round with nothing new costs no more than this field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classroom_tag: Option<String>,
}

/// One course in the catalog (`GET /v1/catalog`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CatalogEntry {
    pub course: CourseId,
    pub version: u32,
    pub title: String,
    /// SHA-256 of the signed manifest bytes.
    pub manifest_sha256: String,
    pub manifest_size: u64,
    /// Total bytes of all files of the package.
    pub total_size: u64,
    pub published_ms: i64,
    /// The occupation code the course trains for (2022 classification), its name, and the
    /// skill level (1-5), when the course declares them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation_level: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Catalog {
    pub courses: Vec<CatalogEntry>,
}

/// Per-lesson credited study.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonProgress {
    pub lesson: String,
    /// Credited study time, at most `required_ms`.
    pub credited_ms: u64,
    pub claimed_ms: u64,
    pub completed: bool,
    /// The lesson's declared study time (its `creditMs`): credited in full for completion.
    #[serde(default)]
    pub required_ms: u64,
    /// Every media file of the lesson watched far enough, at real-time speed.
    #[serde(default)]
    pub media_watched: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizResult {
    pub quiz: String,
    pub answered: u32,
    pub correct: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamResult {
    pub exam: String,
    pub attempt: u32,
    pub score: u32,
    pub max_score: u32,
    pub passed: bool,
    /// `exam.graded`, or why the attempt does not count: `exam.over_time`, `exam.not_started`,
    /// `exam.attempts_exceeded`, `exam.unknown`; `exam.started` while it is open.
    #[serde(default = "graded")]
    pub status: String,
    /// The course version it was graded against.
    #[serde(default)]
    pub version: u32,
}

fn graded() -> String {
    "exam.graded".into()
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseProgress {
    pub course: String,
    pub credited_ms: u64,
    pub lessons: Vec<LessonProgress>,
    pub quizzes: Vec<QuizResult>,
    pub exams: Vec<ExamResult>,
    pub completed: bool,
    /// The course's declared study hours, in ms.
    #[serde(default)]
    pub required_ms: u64,
    /// Why the course is not complete yet: `completion.hours`, `completion.lessons`,
    /// `completion.media`, `completion.exam`, `completion.not_published`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateJson {
    pub serial: String,
    pub course: String,
    pub learner_id: LearnerId,
    pub issued_ms: i64,
}

/// `GET /v1/learners/{id}/record`: one learner's derived record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnerRecord {
    pub learner_id: LearnerId,
    pub name: String,
    /// Only the last four characters of the national ID number, e.g. `"**************1234"`.
    pub national_id_masked: String,
    pub credited_ms: u64,
    pub courses: Vec<CourseProgress>,
    pub certificates: Vec<CertificateJson>,
    /// Receipts of this learner whose time claims cannot be true.
    pub flagged_receipts: u64,
    /// Study credited on two devices at once: the overlapping time is credited once and flagged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overlaps: Vec<StudyOverlap>,
    /// Credited study per day (China Standard Time unless the policy says otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub days: Vec<DayCredit>,
    /// What the rules withheld, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<WithheldCredit>,
    /// Anomaly flags raised by this learner's own record (`flag.exam_too_fast`,
    /// `flag.answer_delay_constant`); they never withhold credit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<AnomalyFlag>,
}

/// An anomaly flag: a stable code (`flag.*`), a message, the device and learners it is about,
/// and what was measured against which threshold (English). It never withholds credit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnomalyFlag {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<DeviceId>,
    #[serde(default)]
    pub learner_ids: Vec<LearnerId>,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DayCredit {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub credited_ms: u64,
}

/// Credit a rule did not give: its stable code (`credit.daily_cap`, `media.too_fast`, ...), a
/// message, how many receipts it applied to and how much time it withheld.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WithheldCredit {
    pub code: String,
    pub message: String,
    pub receipts: u64,
    pub ms: u64,
}

/// Study spans of one learner on two devices that overlap in real time (one person cannot study
/// on two machines at once). The overlap is credited once; the pair is reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StudyOverlap {
    /// The device whose span came second (in real time).
    pub device_id: DeviceId,
    /// The device already credited for that time.
    pub other_device_id: DeviceId,
    /// Total overlapping time not credited again.
    pub overlap_ms: u64,
    /// Service time (Unix ms) where the first overlap starts.
    pub first_ms: i64,
}

/// `POST /v1/classes/{id}/assignments`: what a trainer asks the class to do. With neither
/// `lesson` nor `exam`, the whole course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAssignment {
    pub course: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam: Option<String>,
    /// Due date, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<i64>,
}

/// An assignment as devices and trainers see it (`GET /v1/assignments`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentJson {
    pub id: String,
    pub class_id: String,
    pub course: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exam: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_ms: Option<i64>,
    pub created_ms: i64,
}

/// A trainer's signed attendance attestation for a class session, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestationJson {
    /// The receipt that carries it (hex id), kept byte for byte on the service.
    pub receipt_id: String,
    pub device_id: DeviceId,
    /// The trainer who signed in on the device and attested.
    pub trainer_id: LearnerId,
    /// The device's wall clock when attesting (Unix ms; may be wrong).
    pub wall_ms: i64,
    pub received_ms: i64,
    pub present: Vec<LearnerId>,
    /// Learners named present whose own receipts show them studying on another device at that
    /// moment (flagged, never silently dropped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub studying_elsewhere: Vec<LearnerId>,
}

/// A learner with overlapping study on two devices, in the administrator's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverlapFlag {
    pub learner_id: LearnerId,
    pub name: String,
    pub overlaps: Vec<StudyOverlap>,
}

/// `GET /v1/classes/{id}/progress`: a class's learners for its trainer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassProgress {
    pub class_id: String,
    pub name: String,
    pub learners: Vec<LearnerRecord>,
    /// The class's trainer attestations of who was present, oldest first.
    #[serde(default)]
    pub attestations: Vec<AttestationJson>,
}

/// A flagged device in the administrator's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlaggedDevice {
    pub device_id: DeviceId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub code: String,
    pub detail: String,
    pub flagged_ms: i64,
    /// Set once an administrator resolved the flag (`hearth-server resolve-flag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<FlagResolution>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagResolution {
    pub by: String,
    pub reason: String,
    pub resolved_ms: i64,
}

/// Rejected receipts of one device and code: how many arrived, though only the first few are
/// kept byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectionCount {
    pub device_id: DeviceId,
    pub code: String,
    pub count: u64,
    pub kept: u64,
}

/// A learner whose credit some rule withheld, in the administrator's report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WithheldFlag {
    pub learner_id: LearnerId,
    pub name: String,
    pub withheld: Vec<WithheldCredit>,
}

/// A refused receipt in the administrator's report; the envelope is kept byte for byte.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedReceipt {
    pub device_id: DeviceId,
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    pub received_ms: i64,
    /// The envelope as received (hex).
    pub envelope: String,
}

/// `GET /v1/admin/flags`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlagsReport {
    pub devices: Vec<FlaggedDevice>,
    /// One page of the rejected receipts kept (newest first).
    pub rejections: Vec<RejectedReceipt>,
    /// Learners credited on two devices for overlapping time.
    #[serde(default)]
    pub overlaps: Vec<OverlapFlag>,
    /// Rejections per device and code, including those not kept.
    #[serde(default)]
    pub rejection_counts: Vec<RejectionCount>,
    /// Learners with credit withheld by a rule, and why.
    #[serde(default)]
    pub withheld: Vec<WithheldFlag>,
    /// Attendance attestations naming learners who were studying elsewhere at that moment.
    #[serde(default)]
    pub attestations: Vec<AttestationJson>,
    /// Anomaly flags (`flag.*`, docs/flags.md): patterns worth a person's look. They never
    /// withhold credit. Device flags for every device of the organisation; learner flags for the
    /// learners of this page.
    #[serde(default)]
    pub anomalies: Vec<AnomalyFlag>,
    /// Pass as `before` to read the next page of rejections; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
    /// Pass as `after` to read the next page of learners (`withheld`, `overlaps`); absent on the
    /// last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<LearnerId>,
}

/// Answer to `GET /v1/photos` (a device): its organisation's photo-checkpoint policy, the key
/// photos are sealed to, and the audit requests open for people this device records for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoStateJson {
    /// Whether the organisation asks for photo checkpoints (off unless an administrator turns
    /// them on). Each learner still decides by consent.
    pub enabled: bool,
    /// The service's X25519 photo key (64 hex digits); photos are sealed to it.
    pub public_key: String,
    /// Open audit requests for learners of this device.
    #[serde(default)]
    pub requests: Vec<PhotoRequestJson>,
}

/// An administrator's or supervisor's request for a learner's photos.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoRequestJson {
    pub id: String,
    pub learner_id: LearnerId,
}

/// Answer to `POST /v1/photos/{request}/{receipt}` (the body is the sealed photo's bytes,
/// `application/octet-stream`): the photo opened, matched the `photo_taken` receipt and is kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoUploadAnswer {
    pub receipt_id: ReceiptId,
    /// Hex SHA-256 of the opened JPEG (the receipt's).
    pub sha256: String,
    /// False when this request held the photo already (an upload repeated).
    pub new: bool,
}
