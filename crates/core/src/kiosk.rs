//! Kiosk mode: one shared machine in a training room, many learners a day, often offline.
//!
//! The roster this kiosk may sign in (names, roles, PIN verifiers: the learners of the classes it
//! serves and their trainers, issue #16) came from the service at enrollment
//! and with every sync, so sign-in is checked here with no network. A [`Kiosk`] holds who is
//! signed in now and the open class session; it lives in memory for one app run (a restart signs
//! everyone out, which is what a shared machine should do). Every study event on a kiosk is
//! recorded for the person signed in and nobody else (the session, `crate::session`, names them
//! to [`Hearth::record`]), so no learner is credited for another's study.
//!
//! Rules:
//!
//! - A PIN opens only its own person (the verifier binds the learner id: `hearth_protocol::pin`).
//! - After [`KioskPolicy::max_pin_failures`] wrong PINs for one person, that person is locked out
//!   for [`KioskPolicy::lockout_ms`], twice as long after each further lock-out (up to
//!   [`MAX_LOCKOUT_MS`]) until their right PIN is entered: four-digit PINs must not be guessable
//!   at the keyboard. The count is kept in the store, so restarting the app resets nothing.
//! - A learner may sign in with their card instead (issue #17 item 3): a USB scanner types the
//!   card's text (`HEARTH-CARD/1/…`, `hearth_protocol::card`), checked here against the roster's
//!   card verifier; the sign-in receipt carries the card's proof for its own chain position
//!   (`learner_signed_in { method: card_proved }`), which the service checks before crediting
//!   what follows, and the card's secret is then forgotten. A card that names a roster person but
//!   does not match counts as a wrong PIN for that person (the same lock-out).
//! - After [`KioskPolicy::idle_sign_out_ms`] without input, [`Hearth::kiosk_tick`] signs the
//!   learner out (`learner_signed_out { reason: idle }`); ending a class signs out with
//!   `class_ended`. Signing in while someone else is signed in signs them out first. Signing
//!   out leaves the lesson the person had open (its active time so far is recorded for them).
//! - Trainer actions (opening a class, attesting attendance, assigning, starting an exam, ending
//!   it) need a trainer signed in; a trainer opens only a class the roster says they run. An
//!   attestation is a receipt in the trainer's name naming the class and who was present; an
//!   assignment is a `class_assigned` receipt in the trainer's name, kept as an assignment here at
//!   once (offline) and created on the service when the receipt arrives there.

use std::collections::HashMap;

use hearth_protocol::card::{Card, CardTextError, card_matches};
use hearth_protocol::pin::pin_matches;
use hearth_protocol::receipt::class_assignment_id;
use hearth_protocol::{
    AttendanceCheck, ClassId, CourseId, Event, ExamId, LearnerId, LessonId, SignInMethod,
    SignOutReason,
};
use serde::Serialize;

pub use crate::error::KioskError;
use crate::{Assignment, CoreError, Hearth, RecordedReceipt, Result};

/// A class as the roster names it (the protocol's type: `{id, name}`, camelCase).
pub use hearth_protocol::wire::ClassRef;

/// Most learners one attestation can name: the protocol's own limit, so that an attestation the
/// kiosk accepts also signs.
pub const MAX_ATTESTED: usize = hearth_protocol::receipt::MAX_PRESENT;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KioskPolicy {
    /// Sign a learner out after this long without input.
    pub idle_sign_out_ms: u64,
    /// Wrong PINs in a row before a person is locked out.
    pub max_pin_failures: u32,
    /// How long a lock-out lasts.
    pub lockout_ms: u64,
}

impl Default for KioskPolicy {
    fn default() -> Self {
        Self {
            // Longer than the study player's "are you still here?" check (5 minutes), so a
            // learner who answers it stays signed in.
            idle_sign_out_ms: 10 * 60_000,
            max_pin_failures: 5,
            lockout_ms: 5 * 60_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum KioskRole {
    Learner,
    Trainer,
}

/// Who is at the kiosk now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    pub person: LearnerId,
    pub name: String,
    pub role: KioskRole,
}

/// One person on the kiosk's sign-in list. The PIN verifier never leaves core: only whether
/// there is one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KioskPerson {
    pub id: LearnerId,
    pub name: String,
    pub role: KioskRole,
    pub has_pin: bool,
    /// A learner's class (none or one), or the classes a trainer runs.
    pub classes: Vec<ClassRef>,
}

/// What the trainer asked the class to do now (the exam learners are sent to when they sign in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassExam {
    pub course: CourseId,
    pub version: u32,
    pub exam: ExamId,
}

/// An open class session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassSession {
    pub class: ClassId,
    /// The class's name, from the roster.
    pub name: String,
    pub trainer: LearnerId,
    pub opened_wall_ms: i64,
    /// The exam the trainer started for the class, if any.
    pub exam: Option<ClassExam>,
}

/// The longest a lock-out lasts, however many came before.
pub const MAX_LOCKOUT_MS: u64 = 24 * 60 * 60_000;

/// One person's wrong PINs on this kiosk, kept in the store (`kiosk_pin/<person>`) so that a
/// restart of the app does not hand out new tries.
#[derive(Clone, Copy, Debug, Default, Serialize, serde::Deserialize)]
struct Failures {
    /// Wrong PINs since the last lock-out or right PIN.
    count: u32,
    /// Lock-outs since the last right PIN (each doubles the next one).
    lockouts: u32,
    /// The current lock-out's end on the wall clock (survives a restart).
    locked_until_wall_ms: i64,
}

fn failures_key(person: LearnerId) -> String {
    format!("kiosk_pin/{}", person.0)
}

/// The kiosk's state for one app run.
#[derive(Debug)]
pub struct Kiosk {
    policy: KioskPolicy,
    current: Option<SignedIn>,
    last_input_mono: u64,
    /// The current lock-outs on the monotonic clock (survive a change of the wall clock).
    locked_until_mono: HashMap<LearnerId, u64>,
    class: Option<ClassSession>,
}

impl Kiosk {
    /// Kiosk mode with `policy`, nobody signed in (the session makes it for a PC enrolled
    /// without a learner: `crate::session`).
    pub(crate) fn new(policy: KioskPolicy) -> Self {
        Self {
            policy,
            current: None,
            last_input_mono: 0,
            locked_until_mono: HashMap::new(),
            class: None,
        }
    }

    pub(crate) fn set_policy(&mut self, policy: KioskPolicy) {
        self.policy = policy;
    }

    pub fn policy(&self) -> KioskPolicy {
        self.policy
    }

    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.current.as_ref()
    }

    pub fn class(&self) -> Option<&ClassSession> {
        self.class.as_ref()
    }

    fn require_trainer(&self) -> Result<LearnerId> {
        match &self.current {
            Some(s) if s.role == KioskRole::Trainer => Ok(s.person),
            Some(_) => Err(KioskError::NotTrainer.into()),
            None => Err(KioskError::NotSignedIn.into()),
        }
    }
}

impl Hearth {
    fn pin_failures(&self, person: LearnerId) -> Result<Failures> {
        Ok(self
            .store
            .content_meta(&failures_key(person))?
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default())
    }

    fn set_pin_failures(&mut self, person: LearnerId, failures: &Failures) -> Result<()> {
        let json =
            serde_json::to_vec(failures).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        self.store
            .write(|tx| tx.set_content_meta(&failures_key(person), &json))?;
        Ok(())
    }
}

impl Hearth {
    /// Signs `person` in with their PIN, checked against the roster on this machine. Whoever was
    /// signed in before is signed out first. Records `learner_signed_in { method: pin }`.
    fn kiosk_sign_in_in(
        &mut self,
        kiosk: &mut Kiosk,
        person: LearnerId,
        pin: &str,
    ) -> Result<SignedIn> {
        let failures = self.check_not_locked(kiosk, person)?;
        let Some(p) = self.store.roster_person(person)? else {
            return Err(KioskError::NotOnRoster.into());
        };
        let Some(verifier) = p.pin_hash.as_deref() else {
            return Err(KioskError::NoPin.into());
        };
        if !pin_matches(verifier, person, pin) {
            return Err(self.sign_in_failed(kiosk, person, failures, |left| {
                KioskError::WrongPin { left }
            })?);
        }
        self.sign_in_succeeded(kiosk, p, failures, |_, _| SignInMethod::Pin)
    }

    /// Signs in the learner whose card text a scanner typed (or someone typed by hand), checked
    /// against the roster's card verifier; the receipt carries the card's proof for its own
    /// chain position. `card.not_a_card`, `card.malformed` (nothing counted: a scanner that
    /// misread), `card.replaced` (an older card of a known learner), `card.unknown` (a card of
    /// nobody here, or one that does not match: counted as a wrong PIN of the person it names),
    /// `kiosk.locked_out`.
    fn kiosk_sign_in_card_in(&mut self, kiosk: &mut Kiosk, text: &str) -> Result<SignedIn> {
        let card = Card::parse(text).map_err(|e| match e {
            CardTextError::NotACard => KioskError::NotACard,
            CardTextError::Malformed => KioskError::CardMalformed,
        })?;
        let person = card.learner;
        let max = kiosk.policy.max_pin_failures;
        let Some(p) = self
            .store
            .roster_person(person)?
            .filter(|p| role_of(&p.role) == KioskRole::Learner)
        else {
            return Err(KioskError::CardUnknown { left: max }.into());
        };
        let failures = self.check_not_locked(kiosk, person)?;
        let Some(v) = p.card.clone() else {
            return Err(KioskError::CardUnknown { left: max }.into());
        };
        if card.serial < v.serial {
            return Err(KioskError::CardReplaced.into());
        }
        if card.serial != v.serial || !card_matches(&v.verifier, &card) {
            return Err(self.sign_in_failed(kiosk, person, failures, |left| {
                KioskError::CardUnknown { left }
            })?);
        }
        let device = self.key.device_id();
        self.sign_in_succeeded(kiosk, p, failures, move |seq, prev| {
            SignInMethod::CardProved {
                serial: card.serial,
                proof: card.proof(device, seq, prev),
            }
        })
        // `card` (and its secret) is dropped here.
    }

    /// The person's failures so far, or `kiosk.locked_out` while a lock-out lasts.
    fn check_not_locked(&self, kiosk: &Kiosk, person: LearnerId) -> Result<Failures> {
        let now = self.env.clock.mono_ms();
        let wall = self.env.clock.wall_ms();
        let failures = self.pin_failures(person)?;
        let left_mono = kiosk
            .locked_until_mono
            .get(&person)
            .map_or(0, |until| until.saturating_sub(now));
        let left_wall =
            u64::try_from(failures.locked_until_wall_ms.saturating_sub(wall)).unwrap_or(0);
        let left = left_mono.max(left_wall);
        if left > 0 {
            return Err(KioskError::LockedOut {
                retry_after_ms: left,
            }
            .into());
        }
        Ok(failures)
    }

    /// Counts a wrong PIN or card for `person`: the error to return (`wrong`, with the tries
    /// left, or `kiosk.locked_out` when this one locks them out).
    fn sign_in_failed(
        &mut self,
        kiosk: &mut Kiosk,
        person: LearnerId,
        mut failures: Failures,
        wrong: impl FnOnce(u32) -> KioskError,
    ) -> Result<CoreError> {
        let now = self.env.clock.mono_ms();
        let wall = self.env.clock.wall_ms();
        failures.count += 1;
        let max = kiosk.policy.max_pin_failures;
        if failures.count >= max {
            let lockout = kiosk
                .policy
                .lockout_ms
                .saturating_mul(1u64 << failures.lockouts.min(16))
                .min(MAX_LOCKOUT_MS.max(kiosk.policy.lockout_ms));
            failures.count = 0;
            failures.lockouts = failures.lockouts.saturating_add(1);
            failures.locked_until_wall_ms =
                wall.saturating_add(i64::try_from(lockout).unwrap_or(i64::MAX));
            kiosk.locked_until_mono.insert(person, now + lockout);
            self.set_pin_failures(person, &failures)?;
            return Ok(KioskError::LockedOut {
                retry_after_ms: lockout,
            }
            .into());
        }
        self.set_pin_failures(person, &failures)?;
        Ok(wrong(max - failures.count).into())
    }

    /// A right PIN or card: clears the failures, signs out whoever was signed in, and records
    /// the sign-in (`method` made for the receipt's chain position).
    fn sign_in_succeeded(
        &mut self,
        kiosk: &mut Kiosk,
        p: crate::store::RosterPerson,
        failures: Failures,
        method: impl FnOnce(u64, hearth_protocol::ReceiptId) -> SignInMethod,
    ) -> Result<SignedIn> {
        let now = self.env.clock.mono_ms();
        let person = p.id;
        kiosk.locked_until_mono.remove(&person);
        if failures.count > 0 || failures.lockouts > 0 {
            self.set_pin_failures(person, &Failures::default())?;
        }
        if kiosk.current.is_some() {
            self.kiosk_sign_out_in(kiosk, SignOutReason::Requested)?;
        }
        self.record_at(
            person,
            |seq, prev| Event::LearnerSignedIn {
                method: method(seq, prev),
            },
            |_, _| Ok(()),
        )?;
        let role = role_of(&p.role);
        let signed = SignedIn {
            person,
            name: p.name,
            role,
        };
        kiosk.current = Some(signed.clone());
        kiosk.last_input_mono = now;
        Ok(signed)
    }

    /// Signs out whoever is signed in (recording why); `None` when nobody was. A lesson they
    /// had open is left first, so its last active time is recorded for them and nothing more
    /// is counted for them once they have gone.
    fn kiosk_sign_out_in(
        &mut self,
        kiosk: &mut Kiosk,
        reason: SignOutReason,
    ) -> Result<Option<RecordedReceipt>> {
        let Some(s) = kiosk.current.take() else {
            return Ok(None);
        };
        self.leave_lesson()?;
        self.record_for(s.person, Event::LearnerSignedOut { reason })
            .map(Some)
    }

    /// The person at the kiosk touched it: the idle clock starts again.
    pub fn kiosk_input(&mut self) {
        let now = self.env.clock.mono_ms();
        if let Some(k) = self.session.kiosk.as_mut() {
            k.last_input_mono = now;
        }
    }

    /// Called every few seconds by the app: signs the person out after the idle limit. Returns
    /// the sign-out receipt when it happened.
    fn kiosk_tick_in(&mut self, kiosk: &mut Kiosk) -> Result<Option<RecordedReceipt>> {
        let now = self.env.clock.mono_ms();
        if kiosk.current.is_some()
            && now.saturating_sub(kiosk.last_input_mono) >= kiosk.policy.idle_sign_out_ms
        {
            return self.kiosk_sign_out_in(kiosk, SignOutReason::Idle);
        }
        Ok(None)
    }

    /// Everyone on this kiosk's roster, sorted by name, for the sign-in list (no PIN verifiers
    /// leave core). `kiosk.not_a_kiosk` on a personal device.
    pub fn kiosk_roster(&self) -> Result<Vec<KioskPerson>> {
        match self.store.enrollment()? {
            Some(e) if e.owner.is_none() => {}
            _ => return Err(KioskError::NotAKiosk.into()),
        }
        Ok(self
            .store
            .kiosk_people()?
            .into_iter()
            .map(|p| KioskPerson {
                id: p.id,
                name: p.name,
                role: role_of(&p.role),
                has_pin: p.has_pin,
                classes: p.classes,
            })
            .collect())
    }

    /// The signed-in trainer opens a class session on this kiosk: one of the classes the roster
    /// says they run (`kiosk.foreign_class` otherwise).
    fn kiosk_open_class_in(&mut self, kiosk: &mut Kiosk, class: ClassId) -> Result<ClassSession> {
        let trainer = kiosk.require_trainer()?;
        let Some(name) = self.store.class_of_person(trainer, class)? else {
            return Err(KioskError::ForeignClass.into());
        };
        let session = ClassSession {
            class,
            name,
            trainer,
            opened_wall_ms: self.env.clock.wall_ms(),
            exam: None,
        };
        kiosk.last_input_mono = self.env.clock.mono_ms();
        kiosk.class = Some(session.clone());
        Ok(session)
    }

    /// Trainer + open class: records `class_assigned` in the trainer's name for the open class
    /// and keeps the assignment here at once (in the receipt's transaction), so
    /// [`Hearth::assignments`] shows it offline. A later pull from the service replaces it with
    /// the service's copy (same id, derived from the receipt id); until its receipt is
    /// acknowledged, a pull does not drop it.
    fn kiosk_assign_in(
        &mut self,
        kiosk: &mut Kiosk,
        course: CourseId,
        lesson: Option<LessonId>,
        exam: Option<ExamId>,
        due_wall_ms: Option<i64>,
    ) -> Result<RecordedReceipt> {
        let (trainer, class) = self.trainer_of_open_class(kiosk)?;
        if lesson.is_some() && exam.is_some() {
            return Err(CoreError::InvalidInput(
                "an assignment names a lesson or an exam, not both".into(),
            ));
        }
        kiosk.last_input_mono = self.env.clock.mono_ms();
        let event = Event::ClassAssigned {
            class,
            course: course.clone(),
            lesson: lesson.clone(),
            exam: exam.clone(),
            due_wall_ms,
        };
        self.record_with(trainer, event, |tx, r| {
            let a = Assignment {
                id: class_assignment_id(r.id).to_string(),
                class_id: class.to_string(),
                course: course.as_str().to_owned(),
                lesson: lesson.map(|l| l.as_str().to_owned()),
                exam: exam.map(|e| e.as_str().to_owned()),
                due_ms: due_wall_ms,
                // The receipt's wall time, as the service records it: the copies are equal.
                created_ms: r.wall_ms,
            };
            tx.insert_local_assignment(&a, r.seq)
        })
    }

    /// Trainer + open class: starts a timed exam for the class. Records `class_assigned` for
    /// the exam (no due date: it is now) and sets `kiosk.class().exam`, so the app sends learners
    /// who sign in during the class to it. The exam must be in an installed course version
    /// (`kiosk.unknown_exam` otherwise: learners could not sit it on this kiosk).
    fn kiosk_start_exam_in(
        &mut self,
        kiosk: &mut Kiosk,
        course: CourseId,
        version: u32,
        exam: ExamId,
    ) -> Result<RecordedReceipt> {
        self.trainer_of_open_class(kiosk)?;
        if !self.store.exam_installed(&course, version, &exam)? {
            return Err(KioskError::UnknownExam.into());
        }
        let receipt =
            self.kiosk_assign_in(kiosk, course.clone(), None, Some(exam.clone()), None)?;
        if let Some(session) = kiosk.class.as_mut() {
            session.exam = Some(ClassExam {
                course,
                version,
                exam,
            });
        }
        Ok(receipt)
    }

    /// The signed-in trainer and the open class, which must be one they run (the service
    /// creates a class's assignments only from its own trainer's receipts).
    fn trainer_of_open_class(&self, kiosk: &Kiosk) -> Result<(LearnerId, ClassId)> {
        let trainer = kiosk.require_trainer()?;
        let class = kiosk.class.as_ref().ok_or(KioskError::NoClass)?.class;
        if self.store.class_of_person(trainer, class)?.is_none() {
            return Err(KioskError::ForeignClass.into());
        }
        Ok((trainer, class))
    }

    /// The signed-in trainer attests who is present in the open class: a signed receipt in the
    /// trainer's name, naming the class and the learners.
    fn kiosk_attest_in(
        &mut self,
        kiosk: &mut Kiosk,
        present: Vec<LearnerId>,
    ) -> Result<RecordedReceipt> {
        let trainer = kiosk.require_trainer()?;
        let class = kiosk.class.as_ref().ok_or(KioskError::NoClass)?.class;
        if present.is_empty() || present.len() > MAX_ATTESTED {
            return Err(KioskError::BadAttendance.into());
        }
        for p in &present {
            match self.store.roster_person(*p)? {
                Some(r) if r.role == "learner" => {}
                _ => return Err(KioskError::BadAttendance.into()),
            }
        }
        kiosk.last_input_mono = self.env.clock.mono_ms();
        self.record_for(
            trainer,
            Event::AttendanceCheck(AttendanceCheck::TrainerAttested { class, present }),
        )
    }

    /// Ends the class: whoever is signed in is signed out (`class_ended`).
    fn kiosk_end_class_in(&mut self, kiosk: &mut Kiosk) -> Result<Option<RecordedReceipt>> {
        if kiosk.class.is_none() {
            return Err(KioskError::NoClass.into());
        }
        kiosk.class = None;
        self.kiosk_sign_out_in(kiosk, SignOutReason::ClassEnded)
    }
}

/// The kiosk actions as front ends call them: each runs on the session's kiosk
/// (`kiosk.not_a_kiosk` on a personal PC), so who is signed in is kept in one place.
impl Hearth {
    /// The kiosk of this PC (who is signed in, the open class, the policy), if it is one.
    pub fn kiosk(&self) -> Option<&Kiosk> {
        self.session.kiosk.as_ref()
    }

    fn with_kiosk<T>(&mut self, f: impl FnOnce(&mut Hearth, &mut Kiosk) -> Result<T>) -> Result<T> {
        let mut kiosk = self.session.kiosk.take().ok_or(KioskError::NotAKiosk)?;
        let out = f(self, &mut kiosk);
        self.session.kiosk = Some(kiosk);
        out
    }

    /// Signs `person` in with their PIN, checked against the roster on this machine. Whoever was
    /// signed in before is signed out first. Records `learner_signed_in { method: pin }`; from
    /// then on everything recorded here is theirs.
    pub fn kiosk_sign_in(&mut self, person: LearnerId, pin: &str) -> Result<SignedIn> {
        self.with_kiosk(|h, k| h.kiosk_sign_in_in(k, person, pin))
    }

    /// Signs in the learner whose sign-in card this is (the text its QR code holds, as a USB
    /// scanner types it), checked against the roster on this machine; the sign-in receipt carries
    /// the card's proof. Whoever was signed in before is signed out first.
    pub fn kiosk_sign_in_card(&mut self, card_text: &str) -> Result<SignedIn> {
        self.with_kiosk(|h, k| h.kiosk_sign_in_card_in(k, card_text))
    }

    /// Signs out whoever is signed in (recording why); `None` when nobody was.
    pub fn kiosk_sign_out(&mut self, reason: SignOutReason) -> Result<Option<RecordedReceipt>> {
        self.with_kiosk(|h, k| h.kiosk_sign_out_in(k, reason))
    }

    /// Called every few seconds by the app: signs the person out after the idle limit. Returns
    /// the sign-out receipt when it happened; `Ok(None)` on a personal PC.
    pub fn kiosk_tick(&mut self) -> Result<Option<RecordedReceipt>> {
        if !self.is_kiosk() {
            return Ok(None);
        }
        self.with_kiosk(|h, k| h.kiosk_tick_in(k))
    }

    /// `kiosk_open_class`: the rules are on the kiosk's own method (`kiosk_open_class_in`) above.
    pub fn kiosk_open_class(&mut self, class: ClassId) -> Result<ClassSession> {
        self.with_kiosk(|h, k| h.kiosk_open_class_in(k, class))
    }

    /// `kiosk_assign`: the rules are on the kiosk's own method (`kiosk_assign_in`) above.
    pub fn kiosk_assign(
        &mut self,
        course: CourseId,
        lesson: Option<LessonId>,
        exam: Option<ExamId>,
        due_wall_ms: Option<i64>,
    ) -> Result<RecordedReceipt> {
        self.with_kiosk(|h, k| h.kiosk_assign_in(k, course, lesson, exam, due_wall_ms))
    }

    /// `kiosk_start_exam`: the rules are on the kiosk's own method (`kiosk_start_exam_in`) above.
    pub fn kiosk_start_exam(
        &mut self,
        course: CourseId,
        version: u32,
        exam: ExamId,
    ) -> Result<RecordedReceipt> {
        self.with_kiosk(|h, k| h.kiosk_start_exam_in(k, course, version, exam))
    }

    /// `kiosk_attest`: the rules are on the kiosk's own method (`kiosk_attest_in`) above.
    pub fn kiosk_attest(&mut self, present: Vec<LearnerId>) -> Result<RecordedReceipt> {
        self.with_kiosk(|h, k| h.kiosk_attest_in(k, present))
    }

    /// Ends the class: whoever is signed in is signed out (`class_ended`).
    pub fn kiosk_end_class(&mut self) -> Result<Option<RecordedReceipt>> {
        self.with_kiosk(|h, k| h.kiosk_end_class_in(k))
    }
}

fn role_of(role: &str) -> KioskRole {
    if role == "trainer" {
        KioskRole::Trainer
    } else {
        KioskRole::Learner
    }
}
