//! Credited study time, media watched, exam results and completion, derived from receipts under
//! rules that hold against a modified client signing whatever it likes (docs/credit.md).
//!
//! Signatures prove who signed and that nothing changed; they prove nothing about when or what
//! happened. So every rule here is bounded by times the service itself observed:
//!
//! - **Provable time.** A device can have been in use only from the earliest time anchor it has
//!   shown (the service signed that time) to the arrival of each receipt at the service. Study a
//!   receipt claims is placed in real time where the device says (anchor + monotonic time, or its
//!   wall clock after a restart), never before the previous span of the same chain (the chain is
//!   in real-time order), and clipped to that window. Holding many anchors gains nothing: only
//!   the earliest counts, and only as a lower bound.
//! - **Once per moment.** One person's study is a set of real-time intervals across all their
//!   devices: a moment is credited once, and time claimed on two devices at once is reported.
//! - **Daily cap.** At most `daily_cap_ms` a day (policy day in `day_offset_ms` time zone; China
//!   Standard Time by default), per person.
//! - **Media** counts at most at real-time speed: each moment of real time plays one segment.
//! - **Kiosks** credit only the person signed in; **flagged devices** credit nothing from the
//!   flag until an administrator resolves it.
//! - **Exams** need `exam_started` on the same device, a submission within the time limit as far
//!   as the monotonic record and the anchors show, at most the allowed attempts, and are graded
//!   against the version published when the attempt started; a result never changes after.
//! - **Completion** needs each lesson's declared time credited, its media watched and its
//!   completion recorded, the course's declared hours, and every exam passed.
//!
//! Every rule that withholds something counts it under a [`Withhold`] code, shown in the
//! learner record and the flags report.

pub mod book;
pub mod evidence;
pub mod exam_key;
pub mod facts;
pub mod intervals;
pub mod record;

pub use exam_key::ExamKey;
pub use facts::{
    Arrival, CourseBook, DeviceFacts, ExamFact, ExamSheet, ExamStatus, LearnerFacts, apply,
};

pub const DAY_MS: i64 = 24 * 3600 * 1000;

/// The rules' numbers. One organisation may set its own daily cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Most study credited to one person in one day.
    pub daily_cap_ms: u64,
    /// Offset of the policy's days from UTC (China Standard Time, UTC+8, has no daylight
    /// saving).
    pub day_offset_ms: i64,
    /// How far a receipt's earliest possible real time may lie after its arrival before it is
    /// impossible (covers the service's own clock steps).
    pub clock_skew_ms: i64,
    /// Added to an exam's time limit for the trip of the anchors and clock granularity.
    pub exam_grace_ms: u64,
    /// Attempts allowed when the exam does not say.
    pub default_max_attempts: u32,
    /// Share of each media file that must be watched for its lesson to be complete.
    pub watched_percent: u8,
    /// Overlap between two devices shorter than this is credited once but not reported.
    pub overlap_report_ms: u64,
    /// An attention check answered later than this after it showed is missed.
    pub check_answer_ms: u64,
    /// In a course with attention checks, the most active study one device's stretch credits
    /// before a check closes it (the app asks every 10-20 minutes of active study).
    pub check_stretch_ms: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            daily_cap_ms: 8 * 3600 * 1000,
            day_offset_ms: 8 * 3600 * 1000,
            clock_skew_ms: 120_000,
            exam_grace_ms: 120_000,
            default_max_attempts: 3,
            watched_percent: 90,
            overlap_report_ms: 60_000,
            check_answer_ms: 60_000,
            check_stretch_ms: 25 * 60_000,
        }
    }
}

/// A rule that withheld credit, with a stable code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Withhold {
    /// Study without a time anchor: nothing places it in real time.
    NoAnchor,
    /// Claimed time outside the real time the service can prove the device was in use.
    OutsideProvableTime,
    /// A span reaching back before the previous span of the same app run.
    RunOverlap,
    /// Time already credited on another device of the same person.
    Overlap,
    /// Time already counted on the same device.
    AlreadyCounted,
    /// Over the daily cap.
    DailyCap,
    /// Media claimed faster than it plays.
    MediaTooFast,
    /// Recorded on a kiosk for someone not signed in on it.
    KioskNotSignedIn,
    /// Recorded on a device with an unresolved flag (a copied key or restored database).
    DeviceFlagged,
    /// A time claim that cannot be true (monotonic clock back, or after the arrival).
    ImpossibleTime,
    /// An attendance attestation not from a kiosk of the class's organisation with its
    /// trainer signed in.
    AttestationNotCounted,
    /// Study or completion of a lesson, or an exam event, the service does not publish.
    UnknownLesson,
    /// An exam attempt past what is kept of refused attempts (the allowed attempts and a few
    /// more are listed; the rest only counted).
    AttemptsExceeded,
    /// A stretch of study whose attention check was not answered within the time (or never
    /// asked within the longest stretch).
    CheckMissed,
    /// A stretch of study whose attention check was answered wrongly.
    CheckWrong,
    /// Study after a card sign-in whose proof is missing or wrong, or made with a card that
    /// was already replaced (issue #17 item 3, `domain::cards`).
    CardUnverified,
}

impl Withhold {
    pub const ALL: [Withhold; 16] = [
        Withhold::NoAnchor,
        Withhold::OutsideProvableTime,
        Withhold::RunOverlap,
        Withhold::Overlap,
        Withhold::AlreadyCounted,
        Withhold::DailyCap,
        Withhold::MediaTooFast,
        Withhold::KioskNotSignedIn,
        Withhold::DeviceFlagged,
        Withhold::ImpossibleTime,
        Withhold::AttestationNotCounted,
        Withhold::UnknownLesson,
        Withhold::AttemptsExceeded,
        Withhold::CheckMissed,
        Withhold::CheckWrong,
        Withhold::CardUnverified,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Withhold::NoAnchor => "credit.no_anchor",
            Withhold::OutsideProvableTime => "credit.outside_provable_time",
            Withhold::RunOverlap => "credit.run_overlap",
            Withhold::Overlap => "credit.overlap",
            Withhold::AlreadyCounted => "credit.already_counted",
            Withhold::DailyCap => "credit.daily_cap",
            Withhold::MediaTooFast => "media.too_fast",
            Withhold::KioskNotSignedIn => "kiosk.not_signed_in",
            Withhold::DeviceFlagged => "device.flagged",
            Withhold::ImpossibleTime => "time.impossible",
            Withhold::AttestationNotCounted => "attestation.not_counted",
            Withhold::UnknownLesson => "credit.unknown_lesson",
            Withhold::AttemptsExceeded => "exam.attempts_exceeded",
            Withhold::CheckMissed => "credit.check_missed",
            Withhold::CheckWrong => "credit.check_wrong",
            Withhold::CardUnverified => "credit.card_unverified",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.code() == code)
    }

    /// What a learner or administrator is told (English; the app and console translate by
    /// code).
    pub fn message(self) -> &'static str {
        match self {
            Withhold::NoAnchor => {
                "study recorded before the device first synced is not placed in time and not credited"
            }
            Withhold::OutsideProvableTime => {
                "study claimed outside the time the service can prove the device was in use"
            }
            Withhold::RunOverlap => "study claimed twice for the same minutes of one app run",
            Withhold::Overlap => "the same time was already credited on another device",
            Withhold::AlreadyCounted => "the same time was already counted on this device",
            Withhold::DailyCap => "over the daily limit of credited study",
            Withhold::MediaTooFast => "media counted only at normal playing speed",
            Withhold::KioskNotSignedIn => {
                "recorded on a classroom computer for someone who was not signed in on it"
            }
            Withhold::DeviceFlagged => {
                "recorded on a device flagged for a copied key or restored data, until an administrator resolves it"
            }
            Withhold::ImpossibleTime => "the receipt's times cannot be true",
            Withhold::AttestationNotCounted => {
                "an attendance record not made on a classroom computer of the class with its trainer signed in"
            }
            Withhold::UnknownLesson => {
                "study of a lesson or exam the training service does not publish"
            }
            Withhold::AttemptsExceeded => "exam attempts beyond the number allowed",
            Withhold::CheckMissed => {
                "study whose attention check was not answered within a minute: re-watch that part"
            }
            Withhold::CheckWrong => {
                "study whose attention check was answered wrongly: re-watch that part"
            }
            Withhold::CardUnverified => {
                "study after a card sign-in the card could not have made (a copied, replaced or forged card): sign in again with your current card"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app shows each code's text (ui/src/api.ts `WITHHELD_CODES`, whose messages its own
    /// tests check): the two lists are the same, so no rule withholds credit without the
    /// learner being told why in their language.
    #[test]
    fn the_app_knows_every_withheld_code() {
        let api = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api.ts"),
        )
        .unwrap();
        let start = api.find("export const WITHHELD_CODES = [").unwrap();
        let list = &api[start..start + api[start..].find("] as const").unwrap()];
        let ui: Vec<&str> = list.split('"').skip(1).step_by(2).collect();
        let ours: Vec<&str> = Withhold::ALL.iter().map(|w| w.code()).collect();
        assert_eq!(ui, ours);
        for w in Withhold::ALL {
            assert_eq!(Withhold::from_code(w.code()), Some(w));
            assert!(!w.message().is_empty());
        }
    }
}
