//! Signed progress receipts: the body, its events, and the envelope that carries the exact signed
//! bytes.
//!
//! The states are types: a [`ReceiptBody`] can only be turned into bytes by signing it
//! ([`ReceiptBody::sign`] gives a [`VerifiedReceipt`] of the bytes it signed), and received bytes
//! ([`Envelope`]) can only be read after their signature is checked ([`Envelope::verify`]). A
//! verified receipt keeps the original bytes; nothing ever re-serializes a signed body.
//!
//! Format (version 1), documented with test vectors in `docs/receipt-format.md`:
//!
//! ```text
//! envelope  = version:u8 (=1) || signature:[u8; 64] || body
//! signature = Ed25519(device key, "HEARTH/receipt/1\0" || body)
//! id        = SHA-256("HEARTH/receipt-id/1\0" || body)
//! body      = postcard(ReceiptBody)
//! ```

use ring::digest;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::RejectReason;
use crate::anchor::{AnchorRef, MonoStamp};
use crate::ids::{
    ClassId, ContentHash, CourseId, DeviceId, ExamId, ItemId, LearnerId, LessonId, PublicKey,
    QuizId, ReceiptId,
};

/// The only envelope format version this crate writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Prefix of every signed receipt message, so a receipt signature can never be mistaken for (or
/// replayed as) a signature over anything else.
pub const SIGNING_DOMAIN: &[u8] = b"HEARTH/receipt/1\0";
/// Prefix of the receipt id hash.
pub const ID_DOMAIN: &[u8] = b"HEARTH/receipt-id/1\0";
/// Bytes before the body: version and signature.
pub const HEADER_LEN: usize = 1 + 64;
/// Largest envelope accepted (a full exam submission fits easily).
pub const MAX_ENVELOPE_LEN: usize = 16 * 1024;

/// Limits on variable-length event fields, checked on signing and on verification.
pub const MAX_CHOICES: usize = 16;
pub const MAX_TEXT_ANSWER: usize = 2_000;
pub const MAX_EXAM_ANSWERS: usize = 500;
pub const MAX_PRESENT: usize = 200;

/// How a learner was identified when signing in. FROZEN: variants are encoded by position; only
/// append new ones at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    /// The single learner of a personal device (no PIN).
    SoleLearner,
    /// A PIN checked locally against the roster from the service.
    Pin,
    /// A card claimed with no proof. Never written by Hearth; the service credits nothing
    /// studied after it (`credit.card_unverified`).
    Card,
    /// A sign-in card (`crate::card`) checked locally against the roster's verifier, with the
    /// proof that the card's secret was at hand, bound to this receipt's chain position.
    CardProved {
        serial: u32,
        #[serde(with = "serde_bytes")]
        proof: [u8; 32],
    },
}

/// Why a learner was signed out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignOutReason {
    Requested,
    Idle,
    ClassEnded,
}

/// A learner's answer to one item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// Indices of the chosen options, in the order shown in the manifest.
    Choices(Vec<u8>),
    /// A short free-text answer.
    Text(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemAnswer {
    pub item: ItemId,
    pub answer: Answer,
}

/// An attendance check passed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceCheck {
    /// The learner answered an "are you still here?" prompt after `waited_ms` of it showing.
    PresencePrompt {
        course: CourseId,
        lesson: LessonId,
        waited_ms: u32,
    },
    /// A trainer (the receipt's learner) attests who is present in a class session.
    TrainerAttested {
        class: ClassId,
        present: Vec<LearnerId>,
    },
}

/// One study event. FROZEN: variants are encoded by position; only append new ones at the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    LessonOpened {
        course: CourseId,
        lesson: LessonId,
    },
    /// A span of active study ending at this receipt's monotonic time.
    ActiveStudy {
        course: CourseId,
        lesson: LessonId,
        active_ms: u32,
    },
    /// A segment `[from_ms, to_ms)` of a media file watched or listened to.
    MediaWatched {
        course: CourseId,
        lesson: LessonId,
        media: ContentHash,
        from_ms: u32,
        to_ms: u32,
    },
    LessonCompleted {
        course: CourseId,
        lesson: LessonId,
    },
    QuizAnswered {
        course: CourseId,
        lesson: LessonId,
        quiz: QuizId,
        item: ItemId,
        answer: Answer,
    },
    ExamStarted {
        course: CourseId,
        exam: ExamId,
        attempt: u32,
    },
    ExamSubmitted {
        course: CourseId,
        exam: ExamId,
        attempt: u32,
        answers: Vec<ItemAnswer>,
    },
    LearnerSignedIn {
        method: SignInMethod,
    },
    LearnerSignedOut {
        reason: SignOutReason,
    },
    AttendanceCheck(AttendanceCheck),
    /// A trainer (the receipt's learner) assigns work to a class from a kiosk, offline: a lesson,
    /// an exam, or the whole course (neither), maybe with a due date (wall ms; a past one is
    /// allowed: "sit this exam now"). The service creates the assignment only when the receipt's
    /// learner is the class's trainer; its id is [`class_assignment_id`] of this receipt.
    ClassAssigned {
        class: ClassId,
        course: CourseId,
        lesson: Option<LessonId>,
        exam: Option<ExamId>,
        due_wall_ms: Option<i64>,
    },
    /// The learner was asked an attention check question of the course (from the lesson being
    /// studied) and chose option `choice`, or let the time run out (`None`), `shown_ms` after it
    /// appeared. The receipt's clocks are the moment of the answer (or of the timeout). The
    /// answer key is kept on the service, which grades it (docs/credit.md).
    CheckAnswered {
        course: CourseId,
        lesson: LessonId,
        check: ItemId,
        choice: Option<u8>,
        shown_ms: u32,
    },
    /// The learner gave (`granted`) or refused/withdrew (`!granted`) a separate consent for
    /// `purpose`, after being shown the consent text whose UTF-8 bytes hash to `text_sha256`
    /// (docs/privacy.md). The latest such receipt of the learner decides.
    ConsentRecorded {
        purpose: ConsentPurpose,
        granted: bool,
        text_sha256: ContentHash,
    },
    /// A photo checkpoint: the device took a webcam photo, encrypted it to the service's photo
    /// key and kept it in its data folder. Only the SHA-256 of the plaintext JPEG is here; the
    /// service checks an audited upload against it (docs/privacy.md).
    PhotoTaken {
        sha256: ContentHash,
        moment: PhotoMoment,
    },
}

/// What a recorded consent is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// Webcam photos at sign-in and at random moments of study (PIPL Art. 28–29).
    PhotoCheckpoint,
}

/// When a photo checkpoint was taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoMoment {
    /// At sign-in (or when studying starts on a personal device).
    SignIn,
    /// At a random moment of active study.
    Random,
}

impl Event {
    /// A stable short name, for storage columns, logs and reports.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LessonOpened { .. } => "lesson_opened",
            Event::ActiveStudy { .. } => "active_study",
            Event::MediaWatched { .. } => "media_watched",
            Event::LessonCompleted { .. } => "lesson_completed",
            Event::QuizAnswered { .. } => "quiz_answered",
            Event::ExamStarted { .. } => "exam_started",
            Event::ExamSubmitted { .. } => "exam_submitted",
            Event::LearnerSignedIn { .. } => "learner_signed_in",
            Event::LearnerSignedOut { .. } => "learner_signed_out",
            Event::AttendanceCheck(_) => "attendance_check",
            Event::ClassAssigned { .. } => "class_assigned",
            Event::CheckAnswered { .. } => "check_answered",
            Event::ConsentRecorded { .. } => "consent_recorded",
            Event::PhotoTaken { .. } => "photo_taken",
        }
    }

    fn check(&self) -> Result<(), RejectReason> {
        let check_answer = |a: &Answer| match a {
            Answer::Choices(c) if c.len() > MAX_CHOICES => {
                Err(RejectReason::InvalidEvent("too many choices"))
            }
            Answer::Text(t) if t.len() > MAX_TEXT_ANSWER => {
                Err(RejectReason::InvalidEvent("answer text too long"))
            }
            _ => Ok(()),
        };
        match self {
            Event::ActiveStudy { active_ms: 0, .. } => {
                Err(RejectReason::InvalidEvent("empty study span"))
            }
            Event::MediaWatched { from_ms, to_ms, .. } if to_ms <= from_ms => Err(
                RejectReason::InvalidEvent("media segment ends before it starts"),
            ),
            Event::QuizAnswered { answer, .. } => check_answer(answer),
            Event::ExamSubmitted { answers, .. } => {
                if answers.len() > MAX_EXAM_ANSWERS {
                    return Err(RejectReason::InvalidEvent("too many exam answers"));
                }
                answers.iter().try_for_each(|a| check_answer(&a.answer))
            }
            Event::AttendanceCheck(AttendanceCheck::TrainerAttested { present, .. })
                if present.is_empty() || present.len() > MAX_PRESENT =>
            {
                Err(RejectReason::InvalidEvent(
                    "attendance list empty or too long",
                ))
            }
            // The same rule as an assignment made over HTTP: one lesson, one exam, or neither
            // (the whole course), never both.
            Event::ClassAssigned {
                lesson: Some(_),
                exam: Some(_),
                ..
            } => Err(RejectReason::InvalidEvent(
                "an assignment names a lesson or an exam, not both",
            )),
            _ => Ok(()),
        }
    }
}

/// What a receipt says. FROZEN: these are the bytes devices sign (postcard, fields in this
/// order). Changing, reordering or removing a field breaks every stored receipt; a change needs a
/// new [`FORMAT_VERSION`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptBody {
    /// The device whose key signs this receipt.
    pub device: DeviceId,
    /// Position in the device's chain, from 1 without holes.
    pub seq: u64,
    /// Id of receipt `seq - 1`; [`ReceiptId::ZERO`] for `seq == 1`.
    pub prev: ReceiptId,
    /// Who studied (or, for trainer actions, the trainer).
    pub learner: LearnerId,
    /// The device's wall clock, Unix milliseconds. May be wrong; see `mono` and `anchor`.
    pub wall_ms: i64,
    /// The device's monotonic clock.
    pub mono: MonoStamp,
    /// The latest service-signed time anchor the device held, and when it got it.
    pub anchor: Option<AnchorRef>,
    pub event: Event,
}

impl ReceiptBody {
    /// Structural checks that do not need any state: chain position well-formed, event fields
    /// within limits.
    pub fn check(&self) -> Result<(), RejectReason> {
        if self.seq == 0 {
            return Err(RejectReason::BadSequence);
        }
        if (self.seq == 1) != (self.prev == ReceiptId::ZERO) {
            return Err(RejectReason::BadGenesis);
        }
        self.event.check()
    }

    /// Encodes and signs the body with the device key. The key must be the one the body's
    /// `device` id was derived from.
    pub fn sign(&self, key: &Ed25519KeyPair) -> Result<VerifiedReceipt, RejectReason> {
        let public =
            PublicKey::from_slice(key.public_key().as_ref()).expect("Ed25519 key is 32 bytes");
        if DeviceId::for_key(&public) != self.device {
            return Err(RejectReason::WrongDevice);
        }
        self.check()?;
        let body = postcard::to_allocvec(self).map_err(|_| RejectReason::Malformed)?;
        let mut msg = Vec::with_capacity(SIGNING_DOMAIN.len() + body.len());
        msg.extend_from_slice(SIGNING_DOMAIN);
        msg.extend_from_slice(&body);
        let sig = key.sign(&msg);
        let mut bytes = Vec::with_capacity(HEADER_LEN + body.len());
        bytes.push(FORMAT_VERSION);
        bytes.extend_from_slice(sig.as_ref());
        bytes.extend_from_slice(&body);
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(RejectReason::TooLarge);
        }
        Ok(VerifiedReceipt {
            id: receipt_id(&body),
            body: self.clone(),
            bytes,
        })
    }
}

/// Prefix of the hash that names the assignment a `class_assigned` receipt creates.
pub const ASSIGNMENT_ID_DOMAIN: &[u8] = b"HEARTH/class-assignment/1\0";

/// The id of the assignment created by the `class_assigned` receipt `receipt`: the first 16
/// bytes of SHA-256(domain || receipt id), stamped as a version-8 UUID. The kiosk that recorded
/// the receipt and the service derive the same id, so the kiosk's local copy is replaced by the
/// service's, and ingesting the receipt again creates nothing new.
pub fn class_assignment_id(receipt: ReceiptId) -> uuid::Uuid {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(ASSIGNMENT_ID_DOMAIN);
    ctx.update(&receipt.0);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&ctx.finish().as_ref()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

fn receipt_id(body: &[u8]) -> ReceiptId {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(ID_DOMAIN);
    ctx.update(body);
    ReceiptId(
        ctx.finish()
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes"),
    )
}

/// Whether `bytes` is exactly postcard's encoding of `body`. The encoding is compared byte by byte
/// as it is produced and never kept: the stored and sent bytes are always the received ones.
fn is_canonical(body: &ReceiptBody, bytes: &[u8]) -> bool {
    postcard::serialize_with_flavor(body, SameBytes(bytes)).is_ok()
}

/// A postcard output that checks each byte against the expected bytes instead of storing it.
struct SameBytes<'a>(&'a [u8]);

impl postcard::ser_flavors::Flavor for SameBytes<'_> {
    type Output = ();

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        let rest = self
            .0
            .strip_prefix(data)
            .ok_or(postcard::Error::SerializeBufferFull)?;
        self.0 = rest;
        Ok(())
    }

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.try_extend(&[data])
    }

    fn finalize(self) -> postcard::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(postcard::Error::SerializeBufferFull)
        }
    }
}

/// Received envelope bytes whose signature has not been checked yet. The body cannot be read
/// from this type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope(Vec<u8>);

impl Envelope {
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Checks, in this order: framing, version, size, the signature under `key` over the exact
    /// body bytes, and only then decodes the body (which must be its canonical encoding) and
    /// checks it belongs to `key`'s device.
    pub fn verify(self, key: &PublicKey) -> Result<VerifiedReceipt, RejectReason> {
        let bytes = self.0;
        if bytes.len() <= HEADER_LEN {
            return Err(RejectReason::Truncated);
        }
        if bytes[0] != FORMAT_VERSION {
            return Err(RejectReason::UnsupportedVersion(bytes[0]));
        }
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(RejectReason::TooLarge);
        }
        let (sig, body) = bytes[1..].split_at(64);
        let mut msg = Vec::with_capacity(SIGNING_DOMAIN.len() + body.len());
        msg.extend_from_slice(SIGNING_DOMAIN);
        msg.extend_from_slice(body);
        UnparsedPublicKey::new(&ED25519, key.as_bytes())
            .verify(&msg, sig)
            .map_err(|_| RejectReason::BadSignature)?;
        crate::ids::take_slug_refused();
        let (parsed, rest): (ReceiptBody, &[u8]) =
            postcard::take_from_bytes(body).map_err(|_| {
                // A string that breaks the slug rule is an event field out of bounds, as on signing;
                // anything else that does not decode is not a receipt body.
                if crate::ids::take_slug_refused() {
                    RejectReason::InvalidEvent("slug")
                } else {
                    RejectReason::Malformed
                }
            })?;
        // One receipt has one byte form (and so one id): the body must be exactly the canonical
        // encoding of what it decodes to (no non-minimal varint, no bytes left over).
        if !rest.is_empty() || !is_canonical(&parsed, body) {
            return Err(RejectReason::Malformed);
        }
        if parsed.device != DeviceId::for_key(key) {
            return Err(RejectReason::WrongDevice);
        }
        parsed.check()?;
        let id = receipt_id(body);
        Ok(VerifiedReceipt {
            id,
            body: parsed,
            bytes,
        })
    }
}

/// A receipt whose signature has been checked (or that was just signed here), with its original
/// bytes and decoded body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReceipt {
    id: ReceiptId,
    body: ReceiptBody,
    bytes: Vec<u8>,
}

impl VerifiedReceipt {
    pub fn id(&self) -> ReceiptId {
        self.id
    }

    pub fn body(&self) -> &ReceiptBody {
        &self.body
    }

    /// The envelope exactly as signed: store and send these bytes, never a re-encoding.
    pub fn envelope_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_envelope_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn link(&self) -> crate::chain::ChainLink {
        crate::chain::ChainLink {
            seq: self.body.seq,
            id: self.id,
            prev: self.body.prev,
        }
    }
}
