//! The facts kept per learner and per device, and the fold that adds one receipt to them.
//!
//! [`apply`] is a pure function of the receipt, the facts so far, the published courses
//! ([`CourseBook`]) and the [`Policy`]; ingest calls it once for each receipt as it joins its
//! chain, inside the chain transaction, and a rebuild calls it for every stored receipt in the
//! order they arrived. So what a record shows never needs the receipts again, and its size grows
//! with study sessions, days and exam attempts, not with receipts.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use hearth_protocol::{
    Answer, AttendanceCheck, ContentHash, DeviceId, Event, ItemAnswer, LearnerId, ReceiptBody,
    ReceiptId,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::intervals::{IntervalSet, merge_positions};
use super::{Policy, Withhold};

/// Stored with the facts; facts of another version are rebuilt from the receipts.
pub const FACTS_VERSION: u32 = 4;

/// Refused exam attempts listed per exam (beyond them, only counted).
const KEPT_REFUSED_ATTEMPTS: usize = 5;

/// Neighbouring study of one device closer than this is kept as one interval.
const JOIN_MS: i64 = 1_000;

/// What the chain of one device has shown so far, whoever studied on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceFacts {
    /// Where the last study span was placed in real time: the chain is in real-time order, so
    /// each span is placed after the previous one.
    pub frontier_ms: i64,
    /// The earliest anchor this device has shown: study on it is possible from then on.
    pub first_anchor_ms: Option<i64>,
    /// The latest anchor this device has shown so far in its chain: it has heard from the
    /// service at least that late (a card replaced before then is known to it).
    pub last_anchor_ms: Option<i64>,
    /// The last monotonic reading in chain order (run, elapsed).
    pub last_mono: Option<(u32, u64)>,
    /// Where the last study span of the run ended (run, elapsed).
    pub span_end: Option<(u32, u64)>,
    /// Who is signed in on a kiosk.
    pub signed_in: Option<LearnerId>,
    /// The sign-in was by card and the card's proof did not hold (`credit.card_unverified`).
    pub card_unverified: bool,
    /// What the anomaly flags read (`domain::flags`).
    pub evidence: super::evidence::DeviceEvidence,
}

impl Default for DeviceFacts {
    fn default() -> Self {
        Self {
            frontier_ms: i64::MIN,
            first_anchor_ms: None,
            last_anchor_ms: None,
            last_mono: None,
            span_end: None,
            signed_in: None,
            card_unverified: false,
            evidence: Default::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonFacts {
    /// Real time credited to this lesson (before the lesson's own cap, applied on reading).
    pub credited_ms: u64,
    /// What the device said was studied.
    pub claimed_ms: u64,
    /// A `lesson_completed` receipt was seen.
    pub completed_claim: bool,
}

/// Why an exam attempt was not graded, or graded as failed whatever its score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExamStatus {
    /// Started, not submitted yet.
    Started,
    Graded,
    /// Submitted later than the time limit allows, as far as the record shows.
    OverTime,
    /// Submitted with no `exam_started` for that attempt on that device.
    NotStarted,
    /// More attempts than the exam allows.
    AttemptsExceeded,
    /// The course or exam is not published.
    UnknownExam,
}

impl ExamStatus {
    pub fn code(self) -> &'static str {
        match self {
            ExamStatus::Started => "exam.started",
            ExamStatus::Graded => "exam.graded",
            ExamStatus::OverTime => "exam.over_time",
            ExamStatus::NotStarted => "exam.not_started",
            ExamStatus::AttemptsExceeded => "exam.attempts_exceeded",
            ExamStatus::UnknownExam => "exam.unknown",
        }
    }
}

/// Where an exam attempt started, as the record shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamStart {
    pub received_ms: i64,
    pub run: u32,
    pub elapsed_ms: u64,
    pub wall_ms: i64,
    /// The version of the course the attempt is graded against.
    pub version: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamFact {
    pub course: String,
    pub exam: String,
    pub device: DeviceId,
    pub attempt: u32,
    pub start: Option<ExamStart>,
    pub status: ExamStatus,
    pub score: u32,
    pub max_score: u32,
    pub passed: bool,
    /// When the submission reached the service.
    pub submitted_ms: Option<i64>,
    /// The least time the attempt took, as the record shows it (set when graded).
    pub took_ms: Option<u64>,
}

/// A trainer's attendance attestation that counted (from a kiosk of the class's organisation
/// with that trainer signed in).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationFact {
    pub receipt: ReceiptId,
    pub device: DeviceId,
    pub class: Uuid,
    pub present: Vec<LearnerId>,
    pub wall_ms: i64,
    pub received_ms: i64,
    /// Its place in real time (clipped to what the service can prove).
    pub placed_ms: i64,
}

/// Most pieces (a day and a lesson) one attention-check stretch keeps; study beyond that in
/// the same stretch is not credited (`credit.check_missed`). Honest study switches lessons a
/// few times in twenty minutes.
const STRETCH_PIECES: usize = 64;

/// Study of one device in a course with attention checks since its last check: credited for
/// now, taken back if the check that closes it is missed or wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stretch {
    /// Active study placed in this stretch (credited or not).
    pub active_ms: u64,
    /// What it credited: (day, lesson, ms), neighbours of one day and lesson merged.
    pub pieces: Vec<(i64, String, u64)>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    pub receipts: u64,
    pub ms: u64,
}

/// Everything derived from one person's receipts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LearnerFacts {
    pub version: u32,
    /// Real time counted for study (credited or over the daily cap), by device.
    pub study: IntervalSet<DeviceId>,
    /// Real time counted for watching media (one moment plays one media segment).
    pub media_time: IntervalSet<u8>,
    /// Credited study per policy day (day number since the epoch in the policy's time zone).
    pub days: BTreeMap<i64, u64>,
    /// course → lesson → facts.
    pub lessons: BTreeMap<String, BTreeMap<String, LessonFacts>>,
    /// course → media hash (hex) → positions watched at real-time speed, merged.
    pub media: BTreeMap<String, BTreeMap<String, Vec<(u64, u64)>>>,
    /// course → quiz → item → latest answer right.
    pub quizzes: BTreeMap<String, BTreeMap<String, BTreeMap<String, bool>>>,
    pub exams: Vec<ExamFact>,
    /// Rule code → what it withheld.
    pub withheld: BTreeMap<String, Withheld>,
    /// (device, other device) → (overlap ms, first overlap start).
    pub overlaps: BTreeMap<(DeviceId, DeviceId), (u64, i64)>,
    /// Receipts whose time claims cannot be true.
    pub impossible: u64,
    /// Attestations this person made as a trainer.
    pub attestations: Vec<AttestationFact>,
    /// Courses this person has any receipt of.
    pub courses: BTreeSet<String>,
    /// Delays between consecutive practice answers (anomaly flags, `domain::flags`).
    pub answer_timing: super::evidence::AnswerTiming,
    /// course → device → the open attention-check stretch.
    pub stretches: BTreeMap<String, BTreeMap<DeviceId, Stretch>>,
}

impl Default for LearnerFacts {
    fn default() -> Self {
        Self {
            version: FACTS_VERSION,
            study: IntervalSet::default(),
            media_time: IntervalSet::default(),
            days: BTreeMap::new(),
            lessons: BTreeMap::new(),
            media: BTreeMap::new(),
            quizzes: BTreeMap::new(),
            exams: Vec::new(),
            withheld: BTreeMap::new(),
            overlaps: BTreeMap::new(),
            impossible: 0,
            attestations: Vec::new(),
            courses: BTreeSet::new(),
            answer_timing: Default::default(),
            stretches: BTreeMap::new(),
        }
    }
}

impl LearnerFacts {
    fn withhold(&mut self, why: Withhold, ms: u64) {
        let w = self.withheld.entry(why.code().to_owned()).or_default();
        w.receipts += 1;
        w.ms += ms;
    }

    fn lesson(&mut self, course: &str, lesson: &str) -> &mut LessonFacts {
        self.lessons
            .entry(course.to_owned())
            .or_default()
            .entry(lesson.to_owned())
            .or_default()
    }

    /// Credited study in total, before lesson caps.
    pub fn credited_raw_ms(&self) -> u64 {
        self.days.values().sum()
    }

    /// Whether this person's study (on a device other than `device`) covers `[start, end)`.
    pub fn studied_elsewhere(&self, device: DeviceId, start: i64, end: i64) -> bool {
        let (_, held) = self.study.split(start, end);
        held.iter().any(|p| p.owner != device)
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).expect("facts always encode")
    }

    /// `None` when the bytes are of another version or do not decode (the caller rebuilds).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let f: Self = postcard::from_bytes(bytes).ok()?;
        (f.version == FACTS_VERSION).then_some(f)
    }
}

impl DeviceFacts {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(&(FACTS_VERSION, self)).expect("facts always encode")
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let (v, f): (u32, Self) = postcard::from_bytes(bytes).ok()?;
        (v == FACTS_VERSION).then_some(f)
    }
}

/// An exam as published in one version, with its key (kept on the service).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExamSheet {
    pub version: u32,
    pub duration_ms: u64,
    pub pass_percent: u8,
    pub max_attempts: u32,
    /// item → (key, points).
    pub items: Vec<(String, super::exam_key::ExamKey, u32)>,
}

impl ExamSheet {
    /// (score, max score, passed).
    pub fn grade(&self, answers: &[ItemAnswer]) -> (u32, u32, bool) {
        let mut score = 0u32;
        let mut max = 0u32;
        for (item, key, points) in &self.items {
            max = max.saturating_add(*points);
            if let Some(a) = answers.iter().find(|a| a.item.as_str() == item)
                && key.is_right(&a.answer)
            {
                score = score.saturating_add(*points);
            }
        }
        let passed =
            max > 0 && u64::from(score) * 100 >= u64::from(max) * u64::from(self.pass_percent);
        (score, max, passed)
    }
}

/// What the fold needs to know of published courses and classes.
pub trait CourseBook {
    /// Whether the course publishes the lesson (in any version).
    fn lesson_exists(&self, course: &str, lesson: &str) -> bool;
    /// Play length of a media file of the course, in any published version.
    fn media_len(&self, course: &str, media: &ContentHash) -> Option<u64>;
    /// Whether a practice answer is right (`None`: no such item).
    fn quiz_right(&self, course: &str, quiz: &str, item: &str, answer: &Answer) -> Option<bool>;
    /// The exam as published in the newest version at `at_ms` (or the oldest version when none
    /// was published by then).
    fn exam_at(&self, course: &str, exam: &str, at_ms: i64) -> Option<Arc<ExamSheet>>;
    /// The exam in one version.
    fn exam_version(&self, course: &str, exam: &str, version: u32) -> Option<Arc<ExamSheet>>;
    /// A class's organisation and trainer.
    fn class(&self, id: Uuid) -> Option<(Uuid, Uuid)>;
    /// Whether the course (its newest version) has attention checks: its study is credited
    /// stretch by stretch as the checks closing them are answered.
    fn has_checks(&self, course: &str) -> bool;
    /// Whether `choice` is the right answer to the attention check `check` of `lesson` (`None`:
    /// no such check of that lesson in any published version).
    fn check_right(&self, course: &str, lesson: &str, check: &str, choice: u8) -> Option<bool>;
    /// The secret of `learner`'s card `serial`, and when a newer card replaced it (`None`: no
    /// such card).
    fn card(&self, learner: LearnerId, serial: u32) -> Option<([u8; 32], Option<i64>)>;
}

/// One receipt as it joins its chain.
#[derive(Clone, Copy, Debug)]
pub struct Arrival<'a> {
    pub body: &'a ReceiptBody,
    pub id: ReceiptId,
    pub device: DeviceId,
    pub org: Uuid,
    /// A shared classroom device (no learner of its own).
    pub kiosk: bool,
    /// When the service received it.
    pub received_ms: i64,
    /// The device has an unresolved flag raised before this receipt arrived.
    pub device_flagged: bool,
}

/// The day number of `t` in the policy's time zone.
pub fn day_of(t: i64, policy: &Policy) -> i64 {
    (t + policy.day_offset_ms).div_euclid(super::DAY_MS)
}

fn ms(d: i64) -> u64 {
    u64::try_from(d).unwrap_or(0)
}

/// Where the receipt's moment lies in real time, as the device claims it: its wall clock, but
/// never before the anchor's time plus the monotonic time since the anchor arrived in this app
/// run (a lower bound when the device tells the truth). The later of the two, because an honest
/// PC's monotonic clock stops while it sleeps (so the anchor reckoning falls behind) and a PC
/// with a dead clock battery starts in the past (so its wall clock does). A claim only: every use
/// clips it to the real time the service can prove, so choosing it gains a cheater nothing that
/// setting its wall clock would not.
fn claimed_ms(b: &ReceiptBody) -> i64 {
    match &b.anchor {
        Some(a) if a.received.run == b.mono.run && b.mono.elapsed_ms >= a.received.elapsed_ms => {
            a.earliest_real_time(b.mono).max(b.wall_ms)
        }
        _ => b.wall_ms,
    }
}

/// Whether a sign-in stands as far as a card can show it: PIN and sole-learner sign-ins are not
/// card sign-ins (true); a card sign-in needs the proof of a card the service issued, made for
/// this receipt's place in its chain, with a card not yet replaced when the kiosk last heard from
/// the service (the latest anchor its chain has shown up to this receipt: before that, it could
/// not have known of the new card; citing an older anchor again gains nothing). A `card`
/// sign-in with no proof never stands.
fn card_sign_in_holds(
    method: &hearth_protocol::SignInMethod,
    b: &ReceiptBody,
    heard_ms: Option<i64>,
    book: &dyn CourseBook,
) -> bool {
    use hearth_protocol::SignInMethod;
    match method {
        SignInMethod::SoleLearner | SignInMethod::Pin => true,
        SignInMethod::Card => false,
        SignInMethod::CardProved { serial, proof } => {
            let Some((secret, replaced_ms)) = book.card(b.learner, *serial) else {
                return false;
            };
            if let Some(replaced) = replaced_ms
                && heard_ms.is_none_or(|t| t >= replaced)
            {
                return false;
            }
            hearth_protocol::card::proof_matches(
                &secret, b.device, b.learner, *serial, b.seq, b.prev, proof,
            )
        }
    }
}

/// Adds one receipt of `learner` to the facts. `device` holds the facts of the device's chain
/// up to this receipt.
pub fn apply(
    learner: &mut LearnerFacts,
    device: &mut DeviceFacts,
    r: &Arrival<'_>,
    book: &dyn CourseBook,
    policy: &Policy,
) {
    let b = r.body;
    // Impossible claims: the monotonic clock going back within a run, or a moment after the
    // service received the receipt.
    if let Some((run, el)) = device.last_mono
        && run == b.mono.run
        && b.mono.elapsed_ms < el
    {
        learner.impossible += 1;
        learner.withhold(Withhold::ImpossibleTime, study_ms(&b.event));
        return;
    }
    if let Some(a) = &b.anchor
        && a.earliest_real_time(b.mono) > r.received_ms + policy.clock_skew_ms
    {
        learner.impossible += 1;
        learner.withhold(Withhold::ImpossibleTime, study_ms(&b.event));
        return;
    }
    device.last_mono = Some((b.mono.run, b.mono.elapsed_ms));
    if let Some(a) = &b.anchor {
        let t = a.anchor.issued_ms;
        device.first_anchor_ms = Some(device.first_anchor_ms.map_or(t, |f| f.min(t)));
        device.last_anchor_ms = Some(device.last_anchor_ms.map_or(t, |l| l.max(t)));
    }

    match &b.event {
        Event::LearnerSignedIn { method } => {
            device.signed_in = Some(b.learner);
            device.card_unverified = !card_sign_in_holds(method, b, device.last_anchor_ms, book);
            device.evidence.close_session();
            return;
        }
        Event::LearnerSignedOut { .. } => {
            if device.signed_in == Some(b.learner) {
                device.signed_in = None;
                device.card_unverified = false;
            }
            device.evidence.close_session();
            return;
        }
        Event::ClassAssigned { .. } => return,
        _ => {}
    }
    // Only lessons and exams the service publishes are kept: a modified client naming made-up
    // ones would otherwise grow the facts without bound.
    let known = match &b.event {
        Event::ActiveStudy { course, lesson, .. }
        | Event::LessonCompleted { course, lesson }
        | Event::MediaWatched { course, lesson, .. }
        | Event::QuizAnswered { course, lesson, .. }
        | Event::CheckAnswered { course, lesson, .. } => {
            book.lesson_exists(course.as_str(), lesson.as_str())
        }
        Event::ExamStarted { course, exam, .. } | Event::ExamSubmitted { course, exam, .. } => book
            .exam_at(course.as_str(), exam.as_str(), i64::MAX)
            .is_some(),
        _ => true,
    };
    if !known {
        learner.withhold(Withhold::UnknownLesson, study_ms(&b.event));
        return;
    }
    if let Some(course) = course_of(&b.event) {
        learner.courses.insert(course.to_owned());
    }
    if r.kiosk && device.signed_in != Some(b.learner) {
        learner.withhold(Withhold::KioskNotSignedIn, study_ms(&b.event));
        return;
    }
    if device.card_unverified && device.signed_in == Some(b.learner) {
        learner.withhold(Withhold::CardUnverified, study_ms(&b.event));
        return;
    }
    if r.device_flagged {
        learner.withhold(Withhold::DeviceFlagged, study_ms(&b.event));
        return;
    }
    // The real time this device can be shown to have been in use: from the first anchor it
    // showed to this receipt's arrival.
    let window = device.first_anchor_ms.map(|lo| (lo, r.received_ms));

    match &b.event {
        Event::ActiveStudy {
            course,
            lesson,
            active_ms,
        } => {
            let claimed = u64::from(*active_ms);
            learner.lesson(course.as_str(), lesson.as_str()).claimed_ms += claimed;
            let Some((lo, hi)) = window.filter(|_| b.anchor.is_some()) else {
                learner.withhold(Withhold::NoAnchor, claimed);
                return;
            };
            // Within one run, a span cannot reach back before the previous one ended.
            let mut active = claimed;
            if let Some((run, end)) = device.span_end
                && run == b.mono.run
            {
                active = active.min(b.mono.elapsed_ms.saturating_sub(end));
            }
            device.span_end = Some((b.mono.run, b.mono.elapsed_ms));
            if active < claimed {
                learner.withhold(Withhold::RunOverlap, claimed - active);
            }
            // In a course with attention checks, a stretch not closed by a check credits at
            // most `check_stretch_ms` of study: the app asks well before that.
            let checked = book.has_checks(course.as_str());
            let mut creditable = active;
            if checked {
                let st = learner
                    .stretches
                    .entry(course.to_string())
                    .or_default()
                    .entry(r.device)
                    .or_default();
                creditable = active.min(policy.check_stretch_ms.saturating_sub(st.active_ms));
                st.active_ms = st.active_ms.saturating_add(active);
                if creditable < active {
                    learner.withhold(Withhold::CheckMissed, active - creditable);
                }
            }
            let active = i64::try_from(active).unwrap_or(i64::MAX);
            let creditable = i64::try_from(creditable).unwrap_or(i64::MAX);
            let start = (claimed_ms(b).saturating_sub(active)).max(device.frontier_ms);
            let end = start.saturating_add(active);
            if r.kiosk {
                device.evidence.kiosk_study(b.learner, start, ms(active));
            }
            device.frontier_ms = device.frontier_ms.max(end);
            let end = start.saturating_add(creditable);
            let (s, e) = (start.max(lo), end.min(hi));
            let inside = ms(e - s);
            if ms(creditable) > inside {
                learner.withhold(Withhold::OutsideProvableTime, ms(creditable) - inside);
            }
            if e <= s {
                return;
            }
            let (free, held) = learner.study.split(s, e);
            for p in held {
                let len = ms(p.end - p.start);
                if p.owner != r.device {
                    let o = learner
                        .overlaps
                        .entry((r.device, p.owner))
                        .or_insert((0, p.start));
                    o.0 += len;
                    o.1 = o.1.min(p.start);
                    learner.withhold(Withhold::Overlap, len);
                } else {
                    learner.withhold(Withhold::AlreadyCounted, len);
                }
            }
            let mut credited = 0;
            for (a, z) in free {
                learner.study.insert_free(a, z, r.device, JOIN_MS);
                // Split at day boundaries; each day credits up to the cap.
                let mut t = a;
                while t < z {
                    let day = day_of(t, policy);
                    let day_end = (day + 1) * super::DAY_MS - policy.day_offset_ms;
                    let piece_end = z.min(day_end);
                    let len = ms(piece_end - t);
                    let used = learner.days.get(&day).copied().unwrap_or(0);
                    let mut c = len.min(policy.daily_cap_ms.saturating_sub(used));
                    if len > c {
                        learner.withhold(Withhold::DailyCap, len - c);
                    }
                    if checked
                        && c > 0
                        && !stretch_add(learner, course.as_str(), r.device, day, lesson.as_str(), c)
                    {
                        learner.withhold(Withhold::CheckMissed, c);
                        c = 0;
                    }
                    if c > 0 {
                        *learner.days.entry(day).or_insert(0) += c;
                    }
                    credited += c;
                    t = piece_end;
                }
            }
            learner.lesson(course.as_str(), lesson.as_str()).credited_ms += credited;
        }
        Event::MediaWatched {
            course,
            media,
            from_ms,
            to_ms,
            ..
        } => {
            let Some(len) = book.media_len(course.as_str(), media) else {
                return;
            };
            let (from, to) = (u64::from(*from_ms).min(len), u64::from(*to_ms).min(len));
            if to <= from {
                return;
            }
            let claimed = to - from;
            let Some((lo, hi)) = window.filter(|_| b.anchor.is_some()) else {
                learner.withhold(Withhold::NoAnchor, 0);
                return;
            };
            // The segment played in the real time before this receipt; each moment of real
            // time plays at most one segment, so no media counts faster than it plays.
            let end = claimed_ms(b).min(hi);
            let start = end.saturating_sub(i64::try_from(claimed).unwrap_or(i64::MAX));
            let (s, e) = (start.max(lo), end);
            let real = if e > s {
                learner
                    .media_time
                    .add(s, e, 0, 0)
                    .iter()
                    .map(|(a, z)| ms(z - a))
                    .sum::<u64>()
            } else {
                0
            };
            if real < claimed {
                learner.withhold(Withhold::MediaTooFast, claimed - real);
            }
            if real > 0 {
                let v = learner
                    .media
                    .entry(course.to_string())
                    .or_default()
                    .entry(media.to_hex())
                    .or_default();
                v.push((from, from + real));
                merge_positions(v);
            }
        }
        Event::LessonCompleted { course, lesson } => {
            learner
                .lesson(course.as_str(), lesson.as_str())
                .completed_claim = true;
        }
        Event::QuizAnswered {
            course,
            quiz,
            item,
            answer,
            ..
        } => {
            if let Some(right) =
                book.quiz_right(course.as_str(), quiz.as_str(), item.as_str(), answer)
            {
                learner
                    .quizzes
                    .entry(course.to_string())
                    .or_default()
                    .entry(quiz.to_string())
                    .or_default()
                    .insert(item.to_string(), right);
                learner.answer_timing.answered(r.device, b.mono);
            }
        }
        Event::ExamStarted {
            course,
            exam,
            attempt,
        } => exam_started(learner, r, course.as_str(), exam.as_str(), *attempt, book),
        Event::ExamSubmitted {
            course,
            exam,
            attempt,
            answers,
        } => exam_submitted(
            learner,
            r,
            course.as_str(),
            exam.as_str(),
            *attempt,
            answers,
            book,
            policy,
        ),
        Event::CheckAnswered {
            course,
            lesson,
            check,
            choice,
            shown_ms,
        } => {
            if !book.has_checks(course.as_str()) {
                return;
            }
            // The anomaly flags' evidence: the delay the client states, and the device's own
            // measure of the time since its previous study span ended (in this app run).
            let since_study = device
                .span_end
                .filter(|&(run, _)| run == b.mono.run)
                .map(|(_, end)| b.mono.elapsed_ms.saturating_sub(end));
            learner
                .answer_timing
                .check(*shown_ms, choice.is_some(), since_study);
            if r.kiosk && choice.is_some() {
                device.evidence.kiosk_check(b.learner, *shown_ms);
            }
            let right = choice.and_then(|c| {
                book.check_right(course.as_str(), lesson.as_str(), check.as_str(), c)
            });
            let verdict = if choice.is_none() || u64::from(*shown_ms) > policy.check_answer_ms {
                Some(Withhold::CheckMissed)
            } else if right == Some(true) {
                None
            } else {
                // A wrong answer, or a question that is not a check of that lesson.
                Some(Withhold::CheckWrong)
            };
            // The check closes the stretch of this device in this course either way.
            let st = learner
                .stretches
                .get_mut(course.as_str())
                .and_then(|m| m.remove(&r.device))
                .unwrap_or_default();
            if let Some(why) = verdict {
                let mut taken = 0;
                for (day, lesson, c) in st.pieces {
                    if let Some(d) = learner.days.get_mut(&day) {
                        *d = d.saturating_sub(c);
                    }
                    let l = learner.lesson(course.as_str(), &lesson);
                    l.credited_ms = l.credited_ms.saturating_sub(c);
                    taken += c;
                }
                learner.withhold(why, taken);
            }
        }
        Event::AttendanceCheck(AttendanceCheck::TrainerAttested { class, present }) => {
            let counts = r.kiosk
                && book
                    .class(class.0)
                    .is_some_and(|(org, trainer)| org == r.org && trainer == b.learner.0);
            if !counts {
                learner.withhold(Withhold::AttestationNotCounted, 0);
                return;
            }
            let placed = match window {
                Some((lo, hi)) if b.anchor.is_some() => claimed_ms(b).clamp(lo, hi),
                _ => r.received_ms,
            };
            if !learner.attestations.iter().any(|a| a.receipt == r.id) {
                learner.attestations.push(AttestationFact {
                    receipt: r.id,
                    device: r.device,
                    class: class.0,
                    present: present.clone(),
                    wall_ms: b.wall_ms,
                    received_ms: r.received_ms,
                    placed_ms: placed,
                });
            }
        }
        _ => {}
    }
}

fn exam_started(
    learner: &mut LearnerFacts,
    r: &Arrival<'_>,
    course: &str,
    exam: &str,
    attempt: u32,
    book: &dyn CourseBook,
) {
    let b = r.body;
    if learner.exams.iter().any(|e| {
        e.course == course && e.exam == exam && e.device == r.device && e.attempt == attempt
    }) {
        return;
    }
    // Graded against the version the learner could have had: the newest published when the
    // device last heard from the service.
    let at = b.anchor.map_or(r.received_ms, |a| a.anchor.issued_ms);
    let sheet = book.exam_at(course, exam, at);
    let used = learner
        .exams
        .iter()
        .filter(|e| e.course == course && e.exam == exam && e.status != ExamStatus::NotStarted)
        .count();
    let status = match &sheet {
        None => ExamStatus::UnknownExam,
        Some(s) if used >= s.max_attempts as usize => ExamStatus::AttemptsExceeded,
        Some(_) => ExamStatus::Started,
    };
    // The allowed attempts and a few refused ones are listed; past that they are only counted.
    let limit = sheet.as_ref().map_or(0, |s| s.max_attempts as usize) + KEPT_REFUSED_ATTEMPTS;
    if status != ExamStatus::Started && used >= limit {
        learner.withhold(Withhold::AttemptsExceeded, 0);
        return;
    }
    learner.exams.push(ExamFact {
        course: course.to_owned(),
        exam: exam.to_owned(),
        device: r.device,
        attempt,
        start: Some(ExamStart {
            received_ms: r.received_ms,
            run: b.mono.run,
            elapsed_ms: b.mono.elapsed_ms,
            wall_ms: b.wall_ms,
            version: sheet.map_or(0, |s| s.version),
        }),
        status,
        score: 0,
        max_score: 0,
        passed: false,
        submitted_ms: None,
        took_ms: None,
    });
}

#[allow(clippy::too_many_arguments)]
fn exam_submitted(
    learner: &mut LearnerFacts,
    r: &Arrival<'_>,
    course: &str,
    exam: &str,
    attempt: u32,
    answers: &[ItemAnswer],
    book: &dyn CourseBook,
    policy: &Policy,
) {
    let b = r.body;
    let found = learner.exams.iter_mut().find(|e| {
        e.course == course && e.exam == exam && e.device == r.device && e.attempt == attempt
    });
    let Some(fact) = found else {
        let unstarted = learner
            .exams
            .iter()
            .filter(|e| e.course == course && e.exam == exam && e.status == ExamStatus::NotStarted)
            .count();
        if unstarted >= KEPT_REFUSED_ATTEMPTS {
            learner.withhold(Withhold::AttemptsExceeded, 0);
            return;
        }
        learner.exams.push(ExamFact {
            course: course.to_owned(),
            exam: exam.to_owned(),
            device: r.device,
            attempt,
            start: None,
            status: ExamStatus::NotStarted,
            score: 0,
            max_score: 0,
            passed: false,
            submitted_ms: Some(r.received_ms),
            took_ms: None,
        });
        return;
    };
    if fact.status != ExamStatus::Started {
        // Already graded (a second submission of one attempt changes nothing), or refused.
        return;
    }
    let start = fact.start.clone().expect("a started attempt has its start");
    let Some(sheet) = book.exam_version(course, exam, start.version) else {
        fact.status = ExamStatus::UnknownExam;
        return;
    };
    // The least time the attempt can have taken, from what the record shows: the monotonic
    // clock within one run, the wall clock across a restart, and the service's own times (the
    // submission's anchor was issued after the start had reached the service).
    let mut took: i64 = 0;
    if b.mono.run == start.run {
        took = took.max(
            i64::try_from(b.mono.elapsed_ms.saturating_sub(start.elapsed_ms)).unwrap_or(i64::MAX),
        );
    } else {
        took = took.max(b.wall_ms - start.wall_ms);
    }
    if let Some(a) = &b.anchor {
        took = took.max(a.anchor.issued_ms - start.received_ms);
    }
    let (score, max, passed) = sheet.grade(answers);
    fact.score = score;
    fact.max_score = max;
    fact.submitted_ms = Some(r.received_ms);
    fact.took_ms = Some(ms(took));
    if ms(took) > sheet.duration_ms + policy.exam_grace_ms {
        fact.status = ExamStatus::OverTime;
        fact.passed = false;
    } else {
        fact.status = ExamStatus::Graded;
        fact.passed = passed;
    }
}

/// Adds `c` ms credited on `day` to `lesson` to the device's open stretch in `course`. False
/// when the stretch keeps as many pieces as it may (the study is then not credited).
fn stretch_add(
    learner: &mut LearnerFacts,
    course: &str,
    device: DeviceId,
    day: i64,
    lesson: &str,
    c: u64,
) -> bool {
    let st = learner
        .stretches
        .entry(course.to_owned())
        .or_default()
        .entry(device)
        .or_default();
    let full = st.pieces.len() >= STRETCH_PIECES;
    match st.pieces.last_mut() {
        Some((d, l, m)) if *d == day && l == lesson => *m += c,
        _ if full => return false,
        _ => st.pieces.push((day, lesson.to_owned(), c)),
    }
    true
}

/// The course a receipt's event is about, if any.
pub(crate) fn course_of(e: &Event) -> Option<&str> {
    match e {
        Event::LessonOpened { course, .. }
        | Event::ActiveStudy { course, .. }
        | Event::MediaWatched { course, .. }
        | Event::LessonCompleted { course, .. }
        | Event::QuizAnswered { course, .. }
        | Event::ExamStarted { course, .. }
        | Event::ExamSubmitted { course, .. }
        | Event::CheckAnswered { course, .. } => Some(course.as_str()),
        _ => None,
    }
}

/// The study time a receipt claims (for reporting what a rule withheld).
fn study_ms(e: &Event) -> u64 {
    match e {
        Event::ActiveStudy { active_ms, .. } => u64::from(*active_ms),
        _ => 0,
    }
}
