//! Studying on the device: the lesson player's active-time accounting, first viewing of media,
//! practice quizzes with immediate feedback, timed exams, and the learner's progress page.
//!
//! Every step is a signed receipt written through [`Hearth::record`]; the state kept beside the
//! ledger (media positions, practice answers, exam attempts) is written in the same transaction
//! as the receipt it follows from, so a crash never leaves one without the other.
//!
//! One lesson is open at a time per [`Hearth`] (one window). The front end calls
//! [`Hearth::study_activity`] every few seconds while the player shows, with whether the window
//! has focus and whether the learner gave input since the last call; the pure
//! [`session::StudySession`] decides what counts, and each flush becomes an `active_study`
//! receipt. Media playback is not input: without input for [`session::IDLE_AFTER_MS`] the
//! "are you still here?" check opens (the player should pause) and nothing counts until
//! [`Hearth::confirm_presence`].
//!
//! Exams: [`Hearth::start_exam`] records `exam_started` with the next attempt number and returns
//! the items (no keys exist on the device) and a deadline from the exam's duration. Within one
//! app run the time left is measured on the monotonic clock; after a restart, on the wall clock
//! from the start but never less than what the record proves: the length of each run since the
//! start (every receipt and the exam screen's ticks, [`Hearth::mark_time`], keep a run's
//! monotonic mark) plus this run's, and the real time the latest service anchor proves. A clock
//! set back across a restart therefore does not give an earlier run's exam time back. Calling [`Hearth::start_exam`] again while time is left resumes
//! the attempt (after a crash too) without a new receipt. [`Hearth::submit_exam`] records
//! `exam_submitted` until the deadline plus [`EXAM_GRACE_MS`]; later it refuses with
//! `exam.time_up` and closes the attempt as expired, recording nothing: the front end submits
//! what was answered when its countdown reaches zero, and answers never submitted in time are
//! not sent. A submitted attempt shows "waiting for grading" until a sync pulls the service's
//! graded result, with the service's status (an attempt graded but not counted, e.g. submitted
//! over time, is not a fail). No attempt is started beyond the exam's `maxAttempts`, counting
//! this device's attempts and those of the pulled record (`exam.no_attempts_left`).

pub mod media;
pub mod session;

use hearth_protocol::wire::{ExamResult, LearnerRecord};
use hearth_protocol::{
    Answer, AttendanceCheck, ContentHash, CourseId, Event, ExamId, ItemAnswer, ItemId, LearnerId,
    LessonId, QuizId, ReceiptBody,
};
use serde::{Deserialize, Serialize};

pub use media::{MediaProgress, SkipAhead};
pub use session::{FLUSH_EVERY_MS, IDLE_AFTER_MS, MAX_GAP_MS, SessionState, StudySession};

use crate::content::{ExamItemView, FileRow, LessonText};
pub use crate::error::StudyError;
use crate::store::{AttemptRow, AttemptState};
use crate::{CoreError, Hearth, Result};

/// How long after an exam's deadline a submission is still accepted (the front end's timer tick
/// and a slow disk).
pub const EXAM_GRACE_MS: u64 = 30_000;

/// Attempts a learner may make at an exam whose manifest sets no `maxAttempts` (the service's
/// default).
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// The service's status of an attempt it graded and counts.
pub const EXAM_GRADED: &str = "exam.graded";
/// The service's status of an attempt started but not (yet) submitted.
const EXAM_STARTED: &str = "exam.started";
/// The service's status of a submission with no start: not an attempt used.
const EXAM_NOT_STARTED: &str = "exam.not_started";

/// The open lesson, in memory for this app run.
#[derive(Debug)]
struct OpenLesson {
    learner: LearnerId,
    course: CourseId,
    version: u32,
    lesson: LessonId,
    media: Vec<FileRow>,
    /// Monotonic time of the last segment accepted per media file.
    media_clock: std::collections::HashMap<ContentHash, u64>,
    session: StudySession,
}

/// The study state a [`Hearth`] holds for this app run.
#[derive(Debug, Default)]
pub(crate) struct Study {
    open: Option<OpenLesson>,
    /// The presence check's idle limit for lessons opened from now on (None: the default).
    idle_after_ms: Option<u64>,
}

/// The player's view of the open session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub learner: LearnerId,
    pub course: CourseId,
    pub version: u32,
    pub lesson: LessonId,
    pub state: SessionState,
    /// Active time counted in this session (recorded or about to be).
    pub counted_ms: u64,
    /// Milliseconds until "are you still here?" opens without input (0 while it shows).
    pub idle_in_ms: u64,
    /// Active time recorded as receipts by this call.
    pub recorded_ms: u64,
}

/// A media file of the lesson with the learner's first-viewing position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonMedia {
    pub file: FileRow,
    pub progress: MediaProgress,
    /// The furthest position the player may seek to (`None`: anywhere, and for pictures).
    pub seek_limit_ms: Option<u64>,
}

/// A practice item as the player shows it (the key stays in core).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PracticeItem {
    pub quiz: QuizId,
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    /// More than one option is right.
    pub multiple: bool,
}

/// What opening a lesson gives the player.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenedLesson {
    pub lesson: LessonText,
    pub media: Vec<LessonMedia>,
    pub practice: Vec<PracticeItem>,
    pub session: SessionView,
}

/// Whether a seek is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeekCheck {
    pub allowed: bool,
    /// The furthest allowed position (`None`: anywhere).
    pub limit_ms: Option<u64>,
}

/// Immediate feedback on a practice answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizFeedback {
    pub correct: bool,
    /// The right options (indices into the item's options).
    pub correct_options: Vec<u8>,
    /// The chain position of the `quiz_answered` receipt.
    pub seq: u64,
}

/// A started (or resumed) exam attempt, for the exam screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamSession {
    pub course: CourseId,
    pub version: u32,
    pub exam: ExamId,
    pub title: String,
    pub attempt: u32,
    pub pass_percent: u8,
    pub items: Vec<ExamItemView>,
    pub duration_ms: u64,
    pub started_wall_ms: i64,
    /// Wall time of the deadline, for display; the time left is authoritative.
    pub deadline_wall_ms: i64,
    pub remaining_ms: u64,
    /// False when an attempt already in progress was resumed (no new receipt).
    pub new_attempt: bool,
}

/// Where an exam attempt stands for the learner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttemptStatus {
    InProgress,
    /// Submitted; the service's grade has not been pulled yet.
    WaitingForGrading,
    Graded,
    /// Not submitted before the time ran out.
    Expired,
}

/// One exam attempt with its grade once the service's record has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamAttemptView {
    pub course: String,
    pub exam: String,
    pub attempt: u32,
    pub status: AttemptStatus,
    /// `None` for attempts made on another device (known only from the service).
    pub started_wall_ms: Option<i64>,
    pub submitted_wall_ms: Option<i64>,
    /// Items answered in the submission.
    pub answered: u32,
    /// Time left while in progress.
    pub remaining_ms: Option<u64>,
    pub score: Option<u32>,
    pub max_score: Option<u32>,
    pub passed: Option<bool>,
    /// The service's status of the attempt once pulled: `exam.graded` when it counts, else why
    /// not (`exam.over_time`, `exam.not_started`, `exam.attempts_exceeded`, `exam.unknown`), or
    /// `exam.started` while the service holds no submission. Only an `exam.graded` attempt
    /// passes or fails; the others did not count.
    pub service_status: Option<String>,
}

/// Active study on one local day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayStudy {
    /// `YYYY-MM-DD` in the offset the caller gave.
    pub day: String,
    pub active_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonCredit {
    pub lesson: String,
    pub credited_ms: u64,
    pub completed: bool,
}

/// A course's credit as the service derived it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseCredit {
    pub course: String,
    pub credited_ms: u64,
    pub completed: bool,
    pub lessons: Vec<LessonCredit>,
    /// The course's declared study time (0: the service did not say).
    pub required_ms: u64,
    /// What the course still needs: `completion.hours`, `completion.lessons`,
    /// `completion.media`, `completion.exam`, `completion.not_published`.
    pub missing: Vec<String>,
}

/// Study the service's rules did not credit, and why: a stable code (`credit.daily_cap`,
/// `media.too_fast`, ...), the service's English message, how many receipts and how much time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WithheldView {
    pub code: String,
    pub message: String,
    pub receipts: u64,
    pub ms: u64,
}

/// Practice results of one quiz.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizScore {
    pub course: String,
    pub quiz: String,
    pub answered: u32,
    pub correct: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    pub serial: String,
    pub course: String,
    pub issued_ms: i64,
}

/// One lesson on the course page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonStudy {
    pub lesson: LessonId,
    pub title: String,
    /// The most study time the lesson can be credited with.
    pub credit_ms: u64,
    /// Active study recorded on this device.
    pub studied_ms: u64,
    /// The learner marked the lesson done on this device.
    pub completed_here: bool,
    /// The service's credit (`None`: no record pulled yet).
    pub credited_ms: Option<u64>,
    /// The service counts the lesson complete.
    pub completed: bool,
}

/// The "my progress" page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LearnerProgress {
    pub learner: LearnerId,
    /// Credited study time from the service's last pulled record (`None`: never pulled).
    pub credited_ms: Option<u64>,
    /// When that record was pulled (device wall time).
    pub record_pulled_ms: Option<i64>,
    /// Active study recorded on this device that the pulled record cannot reflect yet (not
    /// acknowledged by the service when it was pulled). The service decides what it credits.
    pub waiting_ms: u64,
    /// All active study recorded on this device.
    pub local_study_ms: u64,
    /// Active study per day on this device, oldest first.
    pub days: Vec<DayStudy>,
    pub courses: Vec<CourseCredit>,
    /// Practice results: this device's answers, and the service's for quizzes not answered here.
    pub quizzes: Vec<QuizScore>,
    pub exams: Vec<ExamAttemptView>,
    pub certificates: Vec<CertificateView>,
    /// Receipts the service could not credit because their time claims cannot be true.
    pub flagged_receipts: u64,
    /// What the service's rules withheld, and why (empty: nothing, or never pulled).
    pub withheld: Vec<WithheldView>,
}

fn same_choices(a: &[u8], b: &[u8]) -> bool {
    let norm = |v: &[u8]| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.dedup();
        v
    };
    norm(a) == norm(b)
}

fn check_choices(choices: &[u8], options: usize, multiple: bool) -> Result<(), StudyError> {
    if choices.is_empty() {
        return Err(StudyError::BadAnswer("no option chosen".into()));
    }
    if choices.iter().any(|&c| usize::from(c) >= options) {
        return Err(StudyError::BadAnswer("no such option".into()));
    }
    let mut seen = choices.to_vec();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != choices.len() {
        return Err(StudyError::BadAnswer("an option chosen twice".into()));
    }
    if !multiple && choices.len() > 1 {
        return Err(StudyError::BadAnswer(
            "only one option may be chosen".into(),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DD` of a Unix time in ms shifted by `offset_min` (days from civil, H. Hinnant).
pub fn local_day(wall_ms: i64, offset_min: i32) -> String {
    let days = (wall_ms + i64::from(offset_min) * 60_000).div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Time left in an attempt and how late it is: on the monotonic clock within the run that
/// started it; after a restart on the wall clock, but never less than this run has lasted (the
/// attempt started before it), so a clock set back gains at most the earlier runs' time.
fn remaining(a: &AttemptRow, now: &ExamNow) -> (u64, u64) {
    let elapsed = if a.started_run == now.run && now.mono_ms >= a.started_mono_ms {
        now.mono_ms - a.started_mono_ms
    } else {
        // After a restart the wall clock may have been set back: the attempt has lasted at least
        // what the monotonic record proves (the earlier runs' marks and this run's length) and
        // what the latest service anchor proves of real time since the start.
        let by_wall = u64::try_from(now.wall_ms - a.started_wall_ms).unwrap_or(0);
        let by_anchor = now
            .anchor_real_ms
            .and_then(|t| u64::try_from(t - a.started_wall_ms).ok())
            .unwrap_or(0);
        by_wall
            .max(now.earlier_runs_ms.saturating_add(now.mono_ms))
            .max(by_anchor)
    };
    (
        a.duration_ms.saturating_sub(elapsed),
        elapsed.saturating_sub(a.duration_ms),
    )
}

/// What an exam's time left is measured against: now on both clocks, and the time the record
/// proves has passed in the runs since the attempt's start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct ExamNow {
    run: u32,
    mono_ms: u64,
    wall_ms: i64,
    /// The attempt's own run after its start (that run's mark minus the start) plus the
    /// marks of every run between it and this one; 0 in the attempt's own run.
    earlier_runs_ms: u64,
    /// The earliest real time now as the latest service anchor proves it (its issue time plus
    /// this run's monotonic time since it arrived, when it arrived in this run).
    anchor_real_ms: Option<i64>,
}

impl Hearth {
    /// Now, for measuring attempt `a`'s time (see [`remaining`]).
    fn exam_now(&self, a: &AttemptRow) -> Result<ExamNow> {
        let (run, mono_ms, wall_ms) =
            (self.run, self.env.clock.mono_ms(), self.env.clock.wall_ms());
        let mut now = ExamNow {
            run,
            mono_ms,
            wall_ms,
            ..ExamNow::default()
        };
        if a.started_run == run {
            return Ok(now);
        }
        let own = self
            .store
            .run_mark(a.started_run)?
            .map_or(0, |m| m.saturating_sub(a.started_mono_ms));
        let between: u64 = self
            .store
            .run_marks_between(a.started_run, run)?
            .iter()
            .map(|(_, ms)| ms)
            .sum();
        now.earlier_runs_ms = own.saturating_add(between);
        now.anchor_real_ms = self.store.device()?.and_then(|d| d.anchor).map(|anchor| {
            anchor.earliest_real_time(hearth_protocol::MonoStamp {
                run,
                elapsed_ms: mono_ms,
            })
        });
        Ok(now)
    }

    /// Keeps this run's mark at the monotonic time now, so a restart knows how long this run
    /// lasted (see [`remaining`]). The exam screen calls it as its countdown ticks; every
    /// receipt does it too.
    pub fn mark_time(&mut self) -> Result<()> {
        let (run, mono) = (self.run, self.env.clock.mono_ms());
        self.store.write(|tx| tx.mark_run(run, mono))?;
        Ok(())
    }
}

impl Hearth {
    fn session_view(&self, recorded_ms: u64) -> Option<SessionView> {
        let o = self.study.open.as_ref()?;
        let now = self.env.clock.mono_ms();
        Some(SessionView {
            learner: o.learner,
            course: o.course.clone(),
            version: o.version,
            lesson: o.lesson.clone(),
            state: o.session.state(),
            counted_ms: o.session.counted_ms(),
            idle_in_ms: o.session.idle_in_ms(now),
            recorded_ms,
        })
    }

    /// Records a flush of the open session as `active_study`; on failure it goes back into the
    /// session so nothing counted is lost.
    fn record_flush(&mut self, ms: Option<u32>) -> Result<u64> {
        let (Some(ms), Some(o)) = (ms, self.study.open.as_ref()) else {
            return Ok(0);
        };
        let (learner, course, lesson) = (o.learner, o.course.clone(), o.lesson.clone());
        let event = Event::ActiveStudy {
            course,
            lesson,
            active_ms: ms,
        };
        match self.record_for(learner, event) {
            Ok(_) => Ok(u64::from(ms)),
            Err(e) => {
                if let Some(o) = self.study.open.as_mut() {
                    o.session.unflush(ms);
                }
                Err(e)
            }
        }
    }

    /// Sets how long without input opens the "are you still here?" check in lessons opened from
    /// now on ([`IDLE_AFTER_MS`] unless set; never below [`session::MIN_IDLE_AFTER_MS`]).
    pub fn set_presence_check_after(&mut self, idle_after_ms: u64) {
        self.study.idle_after_ms = Some(idle_after_ms);
    }

    /// Opens a lesson for the person at the keyboard (`session.none` when nobody is): records
    /// `lesson_opened` and starts counting active time. A lesson still open is left first.
    /// Returns the lesson's text, its media with the learner's first-viewing positions, and its
    /// practice items (without keys).
    pub fn open_lesson(
        &mut self,
        course: &CourseId,
        version: u32,
        lesson: &LessonId,
    ) -> Result<OpenedLesson> {
        let learner = self.require_at_keyboard()?;
        let text = self.lesson(course, version, lesson)?;
        let practice = self
            .store
            .quiz_items(course, version, lesson)?
            .into_iter()
            .map(|q| PracticeItem {
                multiple: q.correct.len() > 1,
                quiz: q.quiz,
                id: q.id,
                prompt: q.prompt,
                options: q.options,
            })
            .collect();
        self.leave_lesson()?;
        self.record_for(
            learner,
            Event::LessonOpened {
                course: course.clone(),
                lesson: lesson.clone(),
            },
        )?;
        let mut media = Vec::with_capacity(text.media.len());
        for f in &text.media {
            let mut progress = self.store.media_progress(learner, &f.sha256)?;
            progress.duration_ms = progress.duration_ms.or(f.duration_ms);
            let playable = f.media_type.starts_with("video/") || f.media_type.starts_with("audio/");
            media.push(LessonMedia {
                file: f.clone(),
                seek_limit_ms: progress.seek_limit_ms().filter(|_| playable),
                progress,
            });
        }
        self.study.open = Some(OpenLesson {
            learner,
            course: course.clone(),
            version,
            lesson: lesson.clone(),
            media: text.media.clone(),
            media_clock: std::collections::HashMap::new(),
            session: StudySession::open_with_idle(
                self.env.clock.mono_ms(),
                self.study.idle_after_ms.unwrap_or(IDLE_AFTER_MS),
            ),
        });
        let session = self.session_view(0).expect("just opened");
        Ok(OpenedLesson {
            lesson: text,
            media,
            practice,
            session,
        })
    }

    /// The open lesson's session, if one is open.
    pub fn study_session(&self) -> Option<SessionView> {
        self.session_view(0)
    }

    /// The player reports, every few seconds, whether the window has focus and whether the
    /// learner gave input since the last report. Records `active_study` when a flush is due.
    pub fn study_activity(&mut self, focused: bool, input: bool) -> Result<SessionView> {
        let now = self.env.clock.mono_ms();
        let o = self.study.open.as_mut().ok_or(StudyError::NoOpenLesson)?;
        let flush = o.session.observe(now, focused, input);
        let recorded = self.record_flush(flush)?;
        Ok(self.session_view(recorded).expect("open"))
    }

    /// The learner answered "are you still here?": records the attendance check (how long it
    /// showed) and counting resumes. A no-op when the check is not showing.
    pub fn confirm_presence(&mut self) -> Result<SessionView> {
        let now = self.env.clock.mono_ms();
        let o = self.study.open.as_mut().ok_or(StudyError::NoOpenLesson)?;
        if let Some(waited) = o.session.confirm_presence(now) {
            let (learner, course, lesson) = (o.learner, o.course.clone(), o.lesson.clone());
            self.record_for(
                learner,
                Event::AttendanceCheck(AttendanceCheck::PresencePrompt {
                    course,
                    lesson,
                    waited_ms: u32::try_from(waited).unwrap_or(u32::MAX),
                }),
            )?;
        }
        Ok(self.session_view(0).expect("open"))
    }

    /// Leaves the open lesson, recording the last active time. `None` when none was open.
    pub fn leave_lesson(&mut self) -> Result<Option<SessionView>> {
        let now = self.env.clock.mono_ms();
        let Some(o) = self.study.open.as_mut() else {
            return Ok(None);
        };
        let flush = o.session.leave(now);
        let recorded = self.record_flush(flush)?;
        let view = self.session_view(recorded);
        self.study.open = None;
        Ok(view)
    }

    /// The learner marks the open lesson done: records the active time so far, then
    /// `lesson_completed`. The lesson stays open. (The service decides completion: it also
    /// needs the lesson's media watched.)
    pub fn complete_lesson(&mut self) -> Result<SessionView> {
        let now = self.env.clock.mono_ms();
        let o = self.study.open.as_mut().ok_or(StudyError::NoOpenLesson)?;
        let flush = o.session.flush(now);
        let recorded = self.record_flush(flush)?;
        let o = self.study.open.as_ref().expect("open");
        let (learner, course, lesson) = (o.learner, o.course.clone(), o.lesson.clone());
        self.record_for(learner, Event::LessonCompleted { course, lesson })?;
        Ok(self.session_view(recorded).expect("open"))
    }

    /// The learner's first-viewing position in a media file.
    pub fn media_progress(&self, learner: LearnerId, media: &ContentHash) -> Result<MediaProgress> {
        self.store.media_progress(learner, media)
    }

    /// Whether the player may seek to `target_ms` in a media file of the open lesson.
    pub fn check_seek(&self, media: &ContentHash, target_ms: u64) -> Result<SeekCheck> {
        let o = self.study.open.as_ref().ok_or(StudyError::NoOpenLesson)?;
        let f = o
            .media
            .iter()
            .find(|f| f.sha256 == *media)
            .ok_or(StudyError::UnknownMedia)?;
        let mut p = self.store.media_progress(o.learner, media)?;
        p.duration_ms = p.duration_ms.or(f.duration_ms);
        Ok(SeekCheck {
            allowed: p.may_seek(target_ms),
            limit_ms: p.seek_limit_ms(),
        })
    }

    /// The player watched `[from_ms, to_ms)` of a media file of the open lesson: records
    /// `media_watched` and moves the first-viewing position. A segment starting beyond the
    /// furthest point watched, before the media was watched to its end once, is refused
    /// (`study.skip_ahead`), and so is one longer than the real time since the previous segment
    /// allows at 2x speed (`study.segment_too_fast`); nothing is recorded then. Report segments
    /// every few seconds while playing, and when playback pauses or seeks.
    pub fn media_watched(
        &mut self,
        media: &ContentHash,
        from_ms: u64,
        to_ms: u64,
    ) -> Result<MediaProgress> {
        let o = self.study.open.as_ref().ok_or(StudyError::NoOpenLesson)?;
        let f = o
            .media
            .iter()
            .find(|f| f.sha256 == *media)
            .ok_or(StudyError::UnknownMedia)?;
        let to_ms = f.duration_ms.map_or(to_ms, |d| to_ms.min(d));
        if to_ms <= from_ms {
            return Err(StudyError::BadSegment.into());
        }
        let mono = self.env.clock.mono_ms();
        let since = o
            .media_clock
            .get(media)
            .copied()
            .unwrap_or(o.session.opened_ms());
        let plausible = media::segment_plausible(to_ms - from_ms, mono.saturating_sub(since));
        let (learner, course, lesson, duration) =
            (o.learner, o.course.clone(), o.lesson.clone(), f.duration_ms);
        let clip = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let event = Event::MediaWatched {
            course,
            lesson,
            media: *media,
            from_ms: clip(from_ms),
            to_ms: clip(to_ms),
        };
        let now = self.env.clock.wall_ms();
        // Checked inside the receipt's transaction: a skip rolls it back, nothing is recorded.
        let mut progress = MediaProgress::default();
        self.record_with(learner, event, |tx, _| {
            let mut p = tx.media_progress(learner, media)?;
            p.duration_ms = p.duration_ms.or(duration);
            p.watch(from_ms, to_ms).map_err(|s| StudyError::SkipAhead {
                furthest_ms: s.furthest_ms,
            })?;
            if !plausible {
                return Err(StudyError::SegmentTooFast.into());
            }
            progress = p;
            tx.set_media_progress(learner, media, &p, now)
        })?;
        if let Some(o) = self.study.open.as_mut() {
            o.media_clock.insert(*media, mono);
        }
        Ok(progress)
    }

    /// Answers a practice item: records `quiz_answered` and says at once whether it was right,
    /// and which options are, from the cached course's answer key.
    pub fn answer_practice(
        &mut self,
        course: &CourseId,
        version: u32,
        quiz: &QuizId,
        item: &ItemId,
        answer: Answer,
    ) -> Result<QuizFeedback> {
        let learner = self.require_at_keyboard()?;
        if !self.store.course_installed(course, version)? {
            return Err(CoreError::CourseNotInstalled {
                course: course.to_string(),
                version,
            });
        }
        let Some((lesson, options, key)) = self.store.practice_item(course, version, quiz, item)?
        else {
            return Err(StudyError::UnknownItem {
                quiz: quiz.to_string(),
                item: item.to_string(),
            }
            .into());
        };
        let correct = match &answer {
            Answer::Choices(c) => {
                check_choices(c, options, key.len() > 1)?;
                same_choices(c, &key)
            }
            Answer::Text(_) => {
                return Err(StudyError::BadAnswer("practice items take options".into()).into());
            }
        };
        let event = Event::QuizAnswered {
            course: course.clone(),
            lesson,
            quiz: quiz.clone(),
            item: item.clone(),
            answer,
        };
        let r = self.record_with(learner, event, |tx, r| {
            tx.upsert_quiz_answer(
                learner,
                course,
                quiz.as_str(),
                item.as_str(),
                correct,
                r.seq,
                r.wall_ms,
            )
        })?;
        Ok(QuizFeedback {
            correct,
            correct_options: key,
            seq: r.seq,
        })
    }

    /// Starts an exam attempt: records `exam_started` with the next attempt number and returns
    /// the items (without keys) and the deadline. An attempt still in progress is resumed
    /// instead (no new receipt); one whose time ran out is closed as expired first. A lesson
    /// still open is left first (exam time is not lesson study). A new attempt is refused with
    /// `exam.no_attempts_left` once the attempts known here and from the pulled record reach
    /// the exam's `maxAttempts` ([`DEFAULT_MAX_ATTEMPTS`] when the manifest sets none).
    pub fn start_exam(
        &mut self,
        course: &CourseId,
        version: u32,
        exam: &ExamId,
    ) -> Result<ExamSession> {
        let learner = self.require_at_keyboard()?;
        let view = self
            .exams(course, version)?
            .into_iter()
            .find(|e| e.id == *exam)
            .ok_or_else(|| StudyError::UnknownExam(exam.to_string()))?;
        if !self.store.learner_exists(learner)? {
            return Err(CoreError::UnknownLearner(learner));
        }
        {
            // Refused before anything is recorded; an attempt in progress is still resumed.
            let last = self.store.last_attempt(learner, course, exam)?;
            let resumes = match &last {
                Some(a) if a.state == AttemptState::Open => {
                    let (left, late) = remaining(a, &self.exam_now(a)?);
                    late <= EXAM_GRACE_MS && left > 0
                }
                _ => false,
            };
            if !resumes {
                let max = self.max_attempts(course, version, exam)?;
                let used = self.attempts_used(learner, course, exam)?;
                if used >= max {
                    return Err(StudyError::NoAttemptsLeft { max, used }.into());
                }
            }
        }
        // Exam time is not lesson study: a lesson still open is left first.
        self.leave_lesson()?;
        let (run, mono) = (self.run, self.env.clock.mono_ms());
        let last = self.store.last_attempt(learner, course, exam)?;
        if let Some(a) = &last
            && a.state == AttemptState::Open
        {
            let (left, late) = remaining(a, &self.exam_now(a)?);
            if late <= EXAM_GRACE_MS && left > 0 {
                return Ok(ExamSession {
                    course: course.clone(),
                    version: a.version,
                    exam: exam.clone(),
                    title: view.title,
                    attempt: a.attempt,
                    pass_percent: view.pass_percent,
                    items: view.items,
                    duration_ms: a.duration_ms,
                    started_wall_ms: a.started_wall_ms,
                    deadline_wall_ms: a.started_wall_ms + a.duration_ms as i64,
                    remaining_ms: left,
                    new_attempt: false,
                });
            }
        }
        let attempt = last.as_ref().map_or(1, |a| a.attempt + 1);
        let duration_ms = u64::from(view.duration_min) * 60_000;
        let event = Event::ExamStarted {
            course: course.clone(),
            exam: exam.clone(),
            attempt,
        };
        let r = self.record_with(learner, event, |tx, r| {
            if let Some(a) = &last
                && a.state == AttemptState::Open
            {
                tx.close_attempt(a, AttemptState::Expired, None, 0)?;
            }
            tx.insert_attempt(&AttemptRow {
                learner,
                course: course.clone(),
                exam: exam.clone(),
                attempt,
                version,
                started_seq: r.seq,
                started_wall_ms: r.wall_ms,
                started_run: run,
                started_mono_ms: mono,
                duration_ms,
                state: AttemptState::Open,
                submitted_wall_ms: None,
                answered: 0,
            })
        })?;
        Ok(ExamSession {
            course: course.clone(),
            version,
            exam: exam.clone(),
            title: view.title,
            attempt,
            pass_percent: view.pass_percent,
            items: view.items,
            duration_ms,
            started_wall_ms: r.wall_ms,
            deadline_wall_ms: r.wall_ms + duration_ms as i64,
            remaining_ms: duration_ms,
            new_attempt: true,
        })
    }

    /// Attempts the installed version's manifest allows at an exam.
    fn max_attempts(&self, course: &CourseId, version: u32, exam: &ExamId) -> Result<u32> {
        /// Only what the limit needs from the stored (already verified) manifest.
        #[derive(Deserialize)]
        struct Limits {
            #[serde(default)]
            exams: Vec<Limit>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Limit {
            id: String,
            #[serde(default)]
            max_attempts: Option<u32>,
        }
        let set = self
            .store
            .course_manifest(course, version)?
            .and_then(|bytes| {
                let body = bytes.get(hearth_protocol::manifest::MANIFEST_HEADER_LEN..)?;
                serde_json::from_slice::<Limits>(body).ok()
            })
            .and_then(|l| l.exams.into_iter().find(|e| e.id == exam.as_str()))
            .and_then(|e| e.max_attempts);
        Ok(set.unwrap_or(DEFAULT_MAX_ATTEMPTS))
    }

    /// Attempts of the learner at an exam: every one started on this device, and those the
    /// pulled record holds beyond this device's (made on another device). A submission the
    /// service saw no start for (`exam.not_started`) is not an attempt used, as on the service.
    fn attempts_used(&self, learner: LearnerId, course: &CourseId, exam: &ExamId) -> Result<u32> {
        let here: Vec<AttemptRow> = self
            .store
            .attempts(learner)?
            .into_iter()
            .filter(|a| a.course == *course && a.exam == *exam)
            .collect();
        let stored = self.store.learner_record(learner)?;
        let reflects = stored.as_ref().map_or(0, |r| r.reflects_seq);
        let record: Option<LearnerRecord> = stored.and_then(|r| serde_json::from_str(&r.json).ok());
        let service = record.map_or(0, |r| {
            r.courses
                .iter()
                .filter(|c| c.course == course.as_str())
                .flat_map(|c| &c.exams)
                .filter(|e| e.exam == exam.as_str() && e.status != EXAM_NOT_STARTED)
                .count()
        });
        // This device's attempts the record already reflects are in `service` too.
        let reflected = here.iter().filter(|a| a.started_seq <= reflects).count();
        let used = here.len() + service.saturating_sub(reflected);
        Ok(u32::try_from(used).unwrap_or(u32::MAX))
    }

    /// Submits the open attempt's answers: records `exam_submitted`. Items left out are
    /// unanswered. Refused with `exam.time_up` after the deadline plus [`EXAM_GRACE_MS`] (the
    /// attempt is then closed as expired), and with `exam.already_submitted` or
    /// `exam.not_open` when this is not the attempt in progress.
    pub fn submit_exam(
        &mut self,
        course: &CourseId,
        exam: &ExamId,
        attempt: u32,
        answers: Vec<ItemAnswer>,
    ) -> Result<ExamAttemptView> {
        let learner = self.require_at_keyboard()?;
        let Some(a) = self.store.last_attempt(learner, course, exam)? else {
            return Err(StudyError::ExamNotOpen.into());
        };
        if a.attempt != attempt {
            return Err(StudyError::ExamNotOpen.into());
        }
        match a.state {
            AttemptState::Open => {}
            AttemptState::Submitted => return Err(StudyError::ExamAlreadySubmitted.into()),
            AttemptState::Expired => {
                return Err(StudyError::ExamTimeUp { late_ms: 0 }.into());
            }
        }
        let (_, late) = remaining(&a, &self.exam_now(&a)?);
        if late > EXAM_GRACE_MS {
            self.store
                .write(|tx| tx.close_attempt(&a, AttemptState::Expired, None, 0))?;
            return Err(StudyError::ExamTimeUp { late_ms: late }.into());
        }
        let view = self
            .store
            .exams(course, a.version)?
            .into_iter()
            .find(|e| e.id == *exam)
            .ok_or_else(|| StudyError::UnknownExam(exam.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for ans in &answers {
            let item = view
                .items
                .iter()
                .find(|i| i.id == ans.item)
                .ok_or_else(|| {
                    StudyError::BadAnswer(format!("no item {} in the exam", ans.item))
                })?;
            if !seen.insert(ans.item.clone()) {
                return Err(
                    StudyError::BadAnswer(format!("item {} answered twice", ans.item)).into(),
                );
            }
            match &ans.answer {
                Answer::Choices(c) => check_choices(c, item.options.len(), item.multiple)?,
                Answer::Text(t) if t.len() > hearth_protocol::receipt::MAX_TEXT_ANSWER => {
                    return Err(StudyError::BadAnswer("answer text too long".into()).into());
                }
                Answer::Text(_) => {}
            }
        }
        let answered = u32::try_from(answers.len()).unwrap_or(u32::MAX);
        let event = Event::ExamSubmitted {
            course: course.clone(),
            exam: exam.clone(),
            attempt,
            answers,
        };
        let r = self.record_with(learner, event, |tx, r| {
            tx.close_attempt(
                &a,
                AttemptState::Submitted,
                Some((r.seq, r.wall_ms)),
                answered,
            )
        })?;
        Ok(ExamAttemptView {
            course: course.to_string(),
            exam: exam.to_string(),
            attempt,
            status: AttemptStatus::WaitingForGrading,
            started_wall_ms: Some(a.started_wall_ms),
            submitted_wall_ms: Some(r.wall_ms),
            answered,
            remaining_ms: None,
            score: None,
            max_score: None,
            passed: None,
            service_status: None,
        })
    }

    /// The learner's record as last pulled from the service, if any.
    pub fn learner_record(&self, learner: LearnerId) -> Result<Option<LearnerRecord>> {
        Ok(self
            .store
            .learner_record(learner)?
            .and_then(|r| serde_json::from_str(&r.json).ok()))
    }

    /// Every exam attempt of the learner: this device's, each with the service's grade once
    /// pulled, then graded attempts known only from the service (made on another device).
    pub fn exam_attempts(&self, learner: LearnerId) -> Result<Vec<ExamAttemptView>> {
        let record = self.learner_record(learner)?;
        self.attempt_views(learner, record.as_ref())
    }

    fn attempt_views(
        &self,
        learner: LearnerId,
        record: Option<&LearnerRecord>,
    ) -> Result<Vec<ExamAttemptView>> {
        let graded: Vec<(&str, &ExamResult)> = record
            .map(|r| {
                r.courses
                    .iter()
                    .flat_map(|c| c.exams.iter().map(move |e| (c.course.as_str(), e)))
                    .collect()
            })
            .unwrap_or_default();
        let find = |course: &str, exam: &str, attempt: u32| {
            graded
                .iter()
                .find(|(c, e)| *c == course && e.exam == exam && e.attempt == attempt)
                .map(|(_, e)| *e)
        };
        // An attempt the service holds only as started has no grade yet.
        let judged = |e: &ExamResult| e.status != EXAM_STARTED;
        let mut out = Vec::new();
        for a in self.store.attempts(learner)? {
            let service = find(a.course.as_str(), a.exam.as_str(), a.attempt);
            let grade = service.filter(|e| judged(e));
            let (left, late) = remaining(&a, &self.exam_now(&a)?);
            let status = match (a.state, grade) {
                (_, Some(_)) => AttemptStatus::Graded,
                (AttemptState::Submitted, None) => AttemptStatus::WaitingForGrading,
                (AttemptState::Expired, None) => AttemptStatus::Expired,
                (AttemptState::Open, None) if late > EXAM_GRACE_MS => AttemptStatus::Expired,
                (AttemptState::Open, None) => AttemptStatus::InProgress,
            };
            out.push(ExamAttemptView {
                course: a.course.to_string(),
                exam: a.exam.to_string(),
                attempt: a.attempt,
                status,
                started_wall_ms: Some(a.started_wall_ms),
                submitted_wall_ms: a.submitted_wall_ms,
                answered: a.answered,
                remaining_ms: (status == AttemptStatus::InProgress).then_some(left),
                score: grade.map(|g| g.score),
                max_score: grade.map(|g| g.max_score),
                passed: grade.map(|g| g.passed && g.status == EXAM_GRADED),
                service_status: service.map(|g| g.status.clone()),
            });
        }
        for (course, g) in graded {
            if out
                .iter()
                .any(|v| v.course == course && v.exam == g.exam && v.attempt == g.attempt)
            {
                continue;
            }
            // Started on another device and not submitted there (yet): no grade to show.
            let graded = judged(g);
            out.push(ExamAttemptView {
                course: course.to_owned(),
                exam: g.exam.clone(),
                attempt: g.attempt,
                status: if graded {
                    AttemptStatus::Graded
                } else {
                    AttemptStatus::InProgress
                },
                started_wall_ms: None,
                submitted_wall_ms: None,
                answered: 0,
                remaining_ms: None,
                score: graded.then_some(g.score),
                max_score: graded.then_some(g.max_score),
                passed: graded.then_some(g.passed && g.status == EXAM_GRADED),
                service_status: Some(g.status.clone()),
            });
        }
        Ok(out)
    }

    /// The learner's progress page. `utc_offset_min` places study on local days (480 for
    /// China Standard Time).
    pub fn learner_progress(
        &self,
        learner: LearnerId,
        utc_offset_min: i32,
    ) -> Result<LearnerProgress> {
        if !self.store.learner_exists(learner)? {
            return Err(CoreError::UnknownLearner(learner));
        }
        let stored = self.store.learner_record(learner)?;
        let record: Option<LearnerRecord> = stored
            .as_ref()
            .and_then(|r| serde_json::from_str(&r.json).ok());
        let reflects = stored.as_ref().map_or(0, |r| r.reflects_seq);
        let mut waiting_ms = 0u64;
        let mut local_study_ms = 0u64;
        let mut days: std::collections::BTreeMap<String, u64> = Default::default();
        self.store
            .for_each_receipt_of(learner, "active_study", |seq, wall_ms, envelope| {
                let body = envelope
                    .get(hearth_protocol::receipt::HEADER_LEN..)
                    .and_then(|b| postcard::from_bytes::<ReceiptBody>(b).ok());
                if let Some(ReceiptBody {
                    event: Event::ActiveStudy { active_ms, .. },
                    ..
                }) = body
                {
                    let ms = u64::from(active_ms);
                    local_study_ms += ms;
                    if seq > reflects {
                        waiting_ms += ms;
                    }
                    *days.entry(local_day(wall_ms, utc_offset_min)).or_default() += ms;
                }
                Ok(())
            })?;
        let mut quizzes: Vec<QuizScore> = self
            .store
            .quiz_summary(learner)?
            .into_iter()
            .map(|(course, quiz, answered, correct)| QuizScore {
                course,
                quiz,
                answered,
                correct,
            })
            .collect();
        let mut courses = Vec::new();
        if let Some(r) = &record {
            for c in &r.courses {
                for q in &c.quizzes {
                    if !quizzes
                        .iter()
                        .any(|l| l.course == c.course && l.quiz == q.quiz)
                    {
                        quizzes.push(QuizScore {
                            course: c.course.clone(),
                            quiz: q.quiz.clone(),
                            answered: q.answered,
                            correct: q.correct,
                        });
                    }
                }
                courses.push(CourseCredit {
                    course: c.course.clone(),
                    credited_ms: c.credited_ms,
                    completed: c.completed,
                    lessons: c
                        .lessons
                        .iter()
                        .map(|l| LessonCredit {
                            lesson: l.lesson.clone(),
                            credited_ms: l.credited_ms,
                            completed: l.completed,
                        })
                        .collect(),
                    required_ms: c.required_ms,
                    missing: c.missing.clone(),
                });
            }
        }
        Ok(LearnerProgress {
            learner,
            credited_ms: record.as_ref().map(|r| r.credited_ms),
            record_pulled_ms: stored.as_ref().map(|r| r.pulled_ms),
            waiting_ms,
            local_study_ms,
            days: days
                .into_iter()
                .map(|(day, active_ms)| DayStudy { day, active_ms })
                .collect(),
            courses,
            quizzes,
            exams: self.attempt_views(learner, record.as_ref())?,
            certificates: record
                .as_ref()
                .map(|r| {
                    r.certificates
                        .iter()
                        .map(|c| CertificateView {
                            serial: c.serial.clone(),
                            course: c.course.clone(),
                            issued_ms: c.issued_ms,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            flagged_receipts: record.as_ref().map_or(0, |r| r.flagged_receipts),
            withheld: record
                .as_ref()
                .map(|r| {
                    r.withheld
                        .iter()
                        .map(|w| WithheldView {
                            code: w.code.clone(),
                            message: w.message.clone(),
                            receipts: w.receipts,
                            ms: w.ms,
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// Per-lesson progress in one course, for the course page: active study recorded on this
    /// device, whether the learner marked the lesson done here, and the service's credit and
    /// completion from the last pulled record. Lessons in the installed version's order.
    pub fn course_study(
        &self,
        learner: LearnerId,
        course: &CourseId,
        version: u32,
    ) -> Result<Vec<LessonStudy>> {
        let summary = self.installed_course(course, version)?;
        let record = self.learner_record(learner)?;
        let service = record
            .as_ref()
            .and_then(|r| r.courses.iter().find(|c| c.course == course.as_str()));
        let mut out: Vec<LessonStudy> = summary
            .lessons
            .iter()
            .map(|l| {
                let s = service.and_then(|c| c.lessons.iter().find(|x| x.lesson == l.id.as_str()));
                LessonStudy {
                    lesson: l.id.clone(),
                    title: l.title.clone(),
                    credit_ms: l.credit_ms,
                    studied_ms: 0,
                    completed_here: false,
                    credited_ms: s.map(|s| s.credited_ms),
                    completed: s.is_some_and(|s| s.completed),
                }
            })
            .collect();
        for kind in ["active_study", "lesson_completed"] {
            self.store
                .for_each_receipt_of(learner, kind, |_, _, envelope| {
                    let Some(body) = envelope
                        .get(hearth_protocol::receipt::HEADER_LEN..)
                        .and_then(|b| postcard::from_bytes::<ReceiptBody>(b).ok())
                    else {
                        return Ok(());
                    };
                    match body.event {
                        Event::ActiveStudy {
                            course: c,
                            lesson,
                            active_ms,
                        } if c == *course => {
                            if let Some(l) = out.iter_mut().find(|l| l.lesson == lesson) {
                                l.studied_ms += u64::from(active_ms);
                            }
                        }
                        Event::LessonCompleted { course: c, lesson } if c == *course => {
                            if let Some(l) = out.iter_mut().find(|l| l.lesson == lesson) {
                                l.completed_here = true;
                            }
                        }
                        _ => {}
                    }
                    Ok(())
                })?;
        }
        Ok(out)
    }

    /// Keeps a learner's record pulled from the service. `reflects_seq` is this device's
    /// acknowledged position read before the request was sent: every receipt up to it is in
    /// the record. Touches nothing about receipts.
    pub fn keep_learner_record(&mut self, record: &LearnerRecord, reflects_seq: u64) -> Result<()> {
        let json =
            serde_json::to_string(record).map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        let now = self.env.clock.wall_ms();
        let learner = record.learner_id;
        self.store.write(|tx| {
            if !tx.learner_exists(learner)? {
                return Err(CoreError::UnknownLearner(learner));
            }
            tx.save_learner_record(learner, &json, reflects_seq, now)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days() {
        assert_eq!(local_day(0, 0), "1970-01-01");
        // 2026-11-29 16:00 UTC is already the 30th in Beijing.
        let t = 1_795_968_000_000; // 2026-11-29T16:00:00Z
        assert_eq!(local_day(t, 0), "2026-11-29");
        assert_eq!(local_day(t, 480), "2026-11-30");
        assert_eq!(local_day(t - 1, 480), "2026-11-29");
        assert_eq!(local_day(951_782_400_000, 0), "2000-02-29");
        assert_eq!(local_day(-1, 0), "1969-12-31");
    }

    #[test]
    fn exam_time_left() {
        let a = AttemptRow {
            learner: LearnerId::from_random_bytes([1; 16]),
            course: CourseId::new("c").unwrap(),
            exam: "e".parse().unwrap(),
            attempt: 1,
            version: 1,
            started_seq: 1,
            started_wall_ms: 1_000_000,
            started_run: 3,
            started_mono_ms: 5_000,
            duration_ms: 60_000,
            state: AttemptState::Open,
            submitted_wall_ms: None,
            answered: 0,
        };
        // (run, mono, wall) -> (left, late)
        let cases = [
            ((3, 5_000, 1_000_000), (60_000, 0)),
            ((3, 35_000, 0), (30_000, 0)), // same run: the wall clock is ignored
            ((3, 70_000, 1_000_000), (0, 5_000)), // late by 5 s
            ((4, 1_000, 1_020_000), (40_000, 0)), // restarted: wall clock
            ((4, 50_000, 900_000), (10_000, 0)), // clock set back: this run's length
            ((4, 1_000, 1_100_000), (0, 40_000)), // restarted too late
        ];
        for (i, ((run, mono_ms, wall_ms), want)) in cases.into_iter().enumerate() {
            let now = ExamNow {
                run,
                mono_ms,
                wall_ms,
                ..ExamNow::default()
            };
            assert_eq!(remaining(&a, &now), want, "case {i}");
        }
        // Restarted with the clock set back to the start: the earlier runs' record (45 s) and
        // this run (10 s) leave 5 s; the anchor alone would prove 50 s (10 s left).
        let now = ExamNow {
            run: 5,
            mono_ms: 10_000,
            wall_ms: 1_000_000,
            earlier_runs_ms: 45_000,
            anchor_real_ms: None,
        };
        assert_eq!(remaining(&a, &now), (5_000, 0));
        let now = ExamNow {
            earlier_runs_ms: 0,
            anchor_real_ms: Some(1_050_000),
            ..now
        };
        assert_eq!(remaining(&a, &now), (10_000, 0));
    }

    #[test]
    fn choices_are_checked() {
        assert!(check_choices(&[0], 3, false).is_ok());
        assert!(check_choices(&[], 3, false).is_err());
        assert!(check_choices(&[3], 3, false).is_err());
        assert!(check_choices(&[0, 1], 3, false).is_err());
        assert!(check_choices(&[0, 1], 3, true).is_ok());
        assert!(check_choices(&[1, 1], 3, true).is_err());
        assert!(same_choices(&[2, 0], &[0, 2]));
        assert!(!same_choices(&[0], &[0, 2]));
    }
}
