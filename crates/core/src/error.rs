//! The one error type of hearth-core. Each variant has a stable code; front ends map codes to
//! localized messages once, at their boundary.

use std::path::PathBuf;

use hearth_protocol::receipt::MAX_PRESENT;
use hearth_protocol::{ErrorBody, LearnerId, RejectReason};

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{path} is not a Hearth database (not an SQLite file); it was left untouched")]
    NotADatabase { path: PathBuf },
    #[error("{path} is an SQLite database of another application; it was left untouched")]
    ForeignDatabase { path: PathBuf },
    #[error("{path} is shorter than its header says: the file was cut off (copy or disk problem)")]
    TruncatedDatabase { path: PathBuf },
    #[error("{path} failed its integrity check ({detail}); restore it from a backup")]
    CorruptDatabase { path: PathBuf, detail: String },
    #[error("the store was written by a newer Hearth (schema {found}, this one knows {supported})")]
    StoreTooNew { found: i64, supported: i64 },
    #[error(
        "the device key {path} can be read by other users (mode {mode:o}); make it owner-only (chmod 600)"
    )]
    KeyPermissions { path: PathBuf, mode: u32 },
    #[error("the device key {path} is damaged ({detail})")]
    KeyCorrupt { path: PathBuf, detail: &'static str },
    #[error("the device key {path} is missing but the store exists; restore the key from a backup")]
    KeyMissing { path: PathBuf },
    #[error("the device key does not belong to this store")]
    KeyMismatch,
    #[error("no learner {0} on this device")]
    UnknownLearner(LearnerId),
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("receipt refused: {0}")]
    Receipt(#[from] RejectReason),
    #[error("the service acknowledged receipt {seq} with an id this device never wrote")]
    AckMismatch { seq: u64 },
    #[error("the service acknowledged receipt {seq}, beyond this device's last receipt {head}")]
    AckBeyondHead { seq: u64, head: u64 },
    #[error("the ledger does not verify: {0}")]
    LedgerBroken(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("the system has no randomness available")]
    Entropy,
    #[error("the course manifest was refused: {0}")]
    Manifest(#[from] hearth_protocol::manifest::ManifestError),
    #[error("this device is not enrolled, so it trusts no course publisher yet")]
    ContentNotEnrolled,
    #[error(
        "not enough room for this course: it needs {needed} more bytes and {available} are available"
    )]
    BudgetExceeded { needed: u64, available: u64 },
    #[error(
        "not enough free disk space: the course needs {needed} bytes and the disk has {available} available"
    )]
    DiskFull { needed: u64, available: u64 },
    #[error("the course package was refused: {0}")]
    Package(#[from] hearth_protocol::package::PackageError),
    #[error(
        "the cached file {sha} is damaged (its bytes no longer match their hash); it was removed; download or import the course again"
    )]
    CorruptMedia { sha: String },
    #[error("the file {sha} is not in the course cache")]
    MediaMissing { sha: String },
    #[error("the course file {path} does not match the manifest: {detail}")]
    FileMismatch { path: String, detail: String },
    #[error(
        "the manifest gives the file {sha} a size of {manifest} bytes, but the verified copy on this device has {cached}; the course was refused and the installed file kept"
    )]
    SizeConflict {
        sha: String,
        cached: u64,
        manifest: u64,
    },
    #[error(
        "course {course} version {version} is already installed with different content; the publisher must give changed content a new version number"
    )]
    VersionConflict { course: String, version: u32 },
    #[error(
        "course {course} version {installed} is installed and does not mark the older version {version} as still valid"
    )]
    Downgrade {
        course: String,
        version: u32,
        installed: u32,
    },
    #[error("the service sent the manifest of another course or version")]
    ManifestMismatch,
    #[error("the content service cannot be reached: {0}")]
    ContentNetwork(String),
    #[error("the content service answered {status} ({code}): {message}")]
    ContentService {
        status: u16,
        code: String,
        message: String,
    },
    #[error("course {course} version {version} is not installed")]
    CourseNotInstalled { course: String, version: u32 },
    #[error("no lesson {lesson} in the installed course")]
    LessonNotFound { lesson: String },
    #[error(transparent)]
    Kiosk(KioskError),
    #[error(transparent)]
    Study(StudyError),
    #[error(transparent)]
    Session(SessionError),
    #[error(transparent)]
    Certificate(CertificateError),
    #[error(transparent)]
    Photo(PhotoError),
}

impl CoreError {
    /// The stable code of this error, for the UI, the CLI and logs.
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::NotADatabase { .. } => "store.not_a_database",
            CoreError::ForeignDatabase { .. } => "store.foreign",
            CoreError::TruncatedDatabase { .. } => "store.truncated",
            CoreError::CorruptDatabase { .. } => "store.corrupt",
            CoreError::StoreTooNew { .. } => "store.too_new",
            CoreError::KeyPermissions { .. } => "key.permissions",
            CoreError::KeyCorrupt { .. } => "key.corrupt",
            CoreError::KeyMissing { .. } => "key.missing",
            CoreError::KeyMismatch => "key.mismatch",
            CoreError::UnknownLearner(_) => "learner.unknown",
            CoreError::InvalidInput(_) => "input.invalid",
            CoreError::Receipt(r) => r.code(),
            CoreError::AckMismatch { .. } => "sync.ack_mismatch",
            CoreError::AckBeyondHead { .. } => "sync.ack_beyond_head",
            CoreError::LedgerBroken(_) => "ledger.broken",
            CoreError::Io { .. } => "io",
            CoreError::Sqlite(_) | CoreError::Migration(_) => "store.sqlite",
            CoreError::Entropy => "entropy.unavailable",
            CoreError::Manifest(m) => m.code(),
            CoreError::ContentNotEnrolled => "content.not_enrolled",
            CoreError::BudgetExceeded { .. } => "content.budget_exceeded",
            CoreError::DiskFull { .. } => "content.disk_full",
            CoreError::Package(p) => p.code(),
            CoreError::CorruptMedia { .. } => "content.corrupt_media",
            CoreError::MediaMissing { .. } => "content.media_missing",
            CoreError::FileMismatch { .. } => "content.file_mismatch",
            CoreError::SizeConflict { .. } => "content.size_conflict",
            CoreError::VersionConflict { .. } => "content.version_conflict",
            CoreError::Downgrade { .. } => "content.downgrade",
            CoreError::ManifestMismatch => "content.manifest_mismatch",
            CoreError::ContentNetwork(_) => "content.network",
            CoreError::ContentService { .. } => "content.service",
            CoreError::CourseNotInstalled { .. } => "content.not_installed",
            CoreError::LessonNotFound { .. } => "content.lesson_not_found",
            CoreError::Kiosk(k) => k.code(),
            CoreError::Study(s) => s.code(),
            CoreError::Session(s) => s.code(),
            CoreError::Certificate(c) => c.code(),
            CoreError::Photo(p) => p.code(),
        }
    }

    /// The boundary form `{code, message}`.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody::new(self.code(), self.to_string())
    }

    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> CoreError {
        let context = context.into();
        move |source| CoreError::Io { context, source }
    }
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// Why a study action was refused. Codes are stable (`study.*`, `exam.*`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StudyError {
    #[error("no lesson is open")]
    NoOpenLesson,
    #[error("this media file is not part of the open lesson")]
    UnknownMedia,
    #[error("a media segment must end after it starts")]
    BadSegment,
    #[error("this media segment is longer than the time that passed allows")]
    SegmentTooFast,
    #[error(
        "this video or audio cannot be skipped ahead on first viewing (watched up to {furthest_ms} ms)"
    )]
    SkipAhead { furthest_ms: u64 },
    #[error("no practice item {item} in quiz {quiz}")]
    UnknownItem { quiz: String, item: String },
    #[error("the answer does not fit the question: {0}")]
    BadAnswer(String),
    #[error("no exam {0} in the installed course")]
    UnknownExam(String),
    #[error("this exam attempt was not started on this device, or is not the open one")]
    ExamNotOpen,
    #[error("this exam attempt was already submitted")]
    ExamAlreadySubmitted,
    #[error("the time for this exam ran out {late_ms} ms ago; the attempt is closed")]
    ExamTimeUp { late_ms: u64 },
    #[error("all {max} attempts at this exam are used ({used} known)")]
    NoAttemptsLeft { max: u32, used: u32 },
    #[error("no attention check is showing")]
    NoCheck,
}

impl StudyError {
    pub fn code(&self) -> &'static str {
        match self {
            StudyError::NoOpenLesson => "study.no_open_lesson",
            StudyError::UnknownMedia => "study.unknown_media",
            StudyError::BadSegment => "study.bad_segment",
            StudyError::SegmentTooFast => "study.segment_too_fast",
            StudyError::SkipAhead { .. } => "study.skip_ahead",
            StudyError::UnknownItem { .. } => "study.unknown_item",
            StudyError::BadAnswer(_) => "study.bad_answer",
            StudyError::UnknownExam(_) => "exam.not_found",
            StudyError::ExamNotOpen => "exam.not_open",
            StudyError::ExamAlreadySubmitted => "exam.already_submitted",
            StudyError::ExamTimeUp { .. } => "exam.time_up",
            StudyError::NoAttemptsLeft { .. } => "exam.no_attempts_left",
            StudyError::NoCheck => "study.no_check",
        }
    }
}

impl From<StudyError> for CoreError {
    fn from(e: StudyError) -> Self {
        CoreError::Study(e)
    }
}

/// Why a kiosk action was refused. Codes are stable (`kiosk.*`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KioskError {
    #[error("this device is not enrolled as a shared kiosk")]
    NotAKiosk,
    #[error("this person is not on the kiosk's roster")]
    NotOnRoster,
    #[error("this person has no PIN; ask the trainer to set one on the service")]
    NoPin,
    #[error("wrong PIN ({left} tries left)")]
    WrongPin { left: u32 },
    #[error("too many wrong PINs; try again in {retry_after_ms} ms")]
    LockedOut { retry_after_ms: u64 },
    #[error("nobody is signed in")]
    NotSignedIn,
    #[error("a trainer must be signed in for this")]
    NotTrainer,
    #[error("no class session is open")]
    NoClass,
    #[error("an attestation names between 1 and {MAX_PRESENT} learners of the roster")]
    BadAttendance,
    #[error("the signed-in trainer does not run this class")]
    ForeignClass,
    #[error("no installed course version has this exam")]
    UnknownExam,
    #[error("this is not a Hearth sign-in card")]
    NotACard,
    #[error("the card could not be read completely; scan it again")]
    CardMalformed,
    #[error("this card is not valid on this kiosk ({left} tries left)")]
    CardUnknown { left: u32 },
    #[error("this card was replaced by a newer one; use the new card")]
    CardReplaced,
}

impl KioskError {
    pub fn code(&self) -> &'static str {
        match self {
            KioskError::NotAKiosk => "kiosk.not_a_kiosk",
            KioskError::NotOnRoster => "kiosk.not_on_roster",
            KioskError::NoPin => "kiosk.no_pin",
            KioskError::WrongPin { .. } => "kiosk.wrong_pin",
            KioskError::LockedOut { .. } => "kiosk.locked_out",
            KioskError::NotSignedIn => "kiosk.not_signed_in",
            KioskError::NotTrainer => "kiosk.not_trainer",
            KioskError::NoClass => "kiosk.no_class",
            KioskError::BadAttendance => "kiosk.bad_attendance",
            KioskError::ForeignClass => "kiosk.foreign_class",
            KioskError::UnknownExam => "kiosk.unknown_exam",
            KioskError::NotACard => "card.not_a_card",
            KioskError::CardMalformed => "card.malformed",
            KioskError::CardUnknown { .. } => "card.unknown",
            KioskError::CardReplaced => "card.replaced",
        }
    }
}

impl From<KioskError> for CoreError {
    fn from(e: KioskError) -> Self {
        CoreError::Kiosk(e)
    }
}

/// Why nobody, or not this person, may study here now. Codes are stable (`session.*`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("nobody is signed in")]
    NobodySignedIn,
    #[error("this PC is enrolled for another learner")]
    NotTheOwner,
    #[error("on a shared kiosk, people sign in with their PIN")]
    UsePin,
}

impl SessionError {
    pub fn code(&self) -> &'static str {
        match self {
            SessionError::NobodySignedIn => "session.none",
            SessionError::NotTheOwner => "session.not_owner",
            SessionError::UsePin => "session.use_pin",
        }
    }
}

impl From<SessionError> for CoreError {
    fn from(e: SessionError) -> Self {
        CoreError::Session(e)
    }
}

/// Why a certificate action was refused. Codes are stable (`certificate.*`).
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("the learner at the keyboard has no certificate {0} in the record last pulled")]
    NotInRecord(String),
    #[error("certificate {0} has not been downloaded to this PC yet")]
    NotSaved(String),
    #[error("the service's issuer key is not known yet; connect once to fetch it")]
    NoIssuerKey,
    #[error("the service sent a certificate that does not verify: {0}")]
    BadFromService(hearth_protocol::credential::CredentialError),
    #[error("a certificate serial number is letters, digits and '-'")]
    InvalidSerial,
    #[error("the PDF holds no Hearth certificate credential")]
    NoCredential,
    #[error("the file is larger than any certificate ({0} bytes)")]
    TooLarge(u64),
    /// A check's verdict rather than a refusal: genuine, but withdrawn by its issuer.
    #[error("certificate {0} is revoked by its issuer")]
    Revoked(String),
}

impl CertificateError {
    pub fn code(&self) -> &'static str {
        match self {
            CertificateError::NotInRecord(_) => "certificate.not_in_record",
            CertificateError::NotSaved(_) => "certificate.not_saved",
            CertificateError::NoIssuerKey => "certificate.no_issuer_key",
            CertificateError::BadFromService(_) => "certificate.bad_from_service",
            CertificateError::InvalidSerial => "certificate.invalid_serial",
            CertificateError::NoCredential => "certificate.no_credential",
            CertificateError::TooLarge(_) => "certificate.too_large",
            CertificateError::Revoked(_) => "credential.revoked",
        }
    }
}

impl From<CertificateError> for CoreError {
    fn from(e: CertificateError) -> Self {
        CoreError::Certificate(e)
    }
}

/// Why a photo action was refused. Codes are stable (`photo.*`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PhotoError {
    #[error("photo checkpoints are off for this organisation")]
    Off,
    #[error("the learner has not consented to photo checkpoints")]
    NoConsent,
    #[error("the photo is not a JPEG")]
    NotJpeg,
    #[error(
        "the photo is larger than {} bytes",
        hearth_protocol::photo::MAX_PHOTO_BYTES
    )]
    TooLarge,
    #[error("the service's photo key is not 32 bytes of hex")]
    BadKey,
}

impl PhotoError {
    pub fn code(&self) -> &'static str {
        match self {
            PhotoError::Off => "photo.off",
            PhotoError::NoConsent => "photo.no_consent",
            PhotoError::NotJpeg => "photo.not_jpeg",
            PhotoError::TooLarge => "photo.too_large",
            PhotoError::BadKey => "photo.bad_key",
        }
    }
}
