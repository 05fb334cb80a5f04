//! The shared language of the Hearth client and service.
//!
//! Pure: no I/O, no database, no async runtime. Both sides depend on this crate and on nothing
//! else of each other's.
//!
//! - [`ids`]: identifiers (devices, learners, course content, receipt ids, keys);
//! - [`receipt`]: the signed receipt envelope, its body and events, signing and verification;
//! - [`anchor`]: service-signed time anchors;
//! - [`bundle`]: receipt files carried by USB stick or relayed by a kiosk;
//! - [`credential`]: certificates as W3C Verifiable Credentials with `eddsa-jcs-2022` proofs, their
//!   compact QR form, Bitstring Status Lists and claim packs, verified offline;
//! - [`chain`]: where a receipt stands in its device's chain (gap, fork, duplicate, ...);
//! - [`wire`]: the messages of the sync and enrollment API;
//! - [`manifest`]: the signed course-package manifest;
//! - [`package`]: one-file course packages for USB sticks and shared folders;
//! - [`pin`]: kiosk PIN verifiers, computed by the service and checked on the kiosk;
//! - [`error`]: the `{code, message}` body every boundary answers with, and receipt reject
//!   reasons with their stable codes.

pub mod anchor;
pub mod bundle;
pub mod card;
pub mod chain;
pub mod credential;
pub mod error;
pub mod ids;
pub mod manifest;
pub mod package;
pub mod photo;
pub mod pin;
pub mod receipt;
pub mod wire;

pub use anchor::{AnchorRef, MonoStamp, Signature, TimeAnchor};
pub use chain::{ChainError, ChainHead, ChainLink, Placement};
pub use error::{ErrorBody, RejectReason};
pub use ids::{
    ClassId, ContentHash, CourseId, DeviceId, ExamId, ItemId, LearnerId, LessonId, PublicKey,
    QuizId, ReceiptId,
};
pub use receipt::{
    Answer, AttendanceCheck, ConsentPurpose, Envelope, Event, ItemAnswer, PhotoMoment, ReceiptBody,
    SignInMethod, SignOutReason, VerifiedReceipt,
};
