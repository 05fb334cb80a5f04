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

pub mod checks;
mod exam;
pub mod media;
mod progress;
pub mod session;

use hearth_protocol::wire::{ExamResult, LearnerRecord};
use hearth_protocol::{
    Answer, AttendanceCheck, ContentHash, CourseId, Event, ExamId, ItemAnswer, ItemId, LearnerId,
    LessonId, QuizId, ReceiptBody,
};
use serde::{Deserialize, Serialize};

pub use checks::{CHECK_ANSWER_MS, CheckPolicy, CheckView};
pub use exam::{AttemptStatus, ExamAttemptView, ExamSession};
pub use media::{MediaProgress, SkipAhead};
pub use progress::{
    CertificateView, CourseCredit, DayStudy, LearnerProgress, LessonCredit, LessonStudy, QuizScore,
    WithheldView, local_day,
};
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
    /// The lesson's attention check questions (none: only "are you still here?").
    checks: Vec<hearth_protocol::manifest::CheckQuestion>,
    /// The check showing now.
    check: Option<checks::PendingCheck>,
}

/// The study state a [`Hearth`] holds for this app run.
#[derive(Debug, Default)]
pub(crate) struct Study {
    open: Option<OpenLesson>,
    /// The presence check's idle limit for lessons opened from now on (None: the default).
    idle_after_ms: Option<u64>,
    /// How often attention checks are asked.
    check_policy: CheckPolicy,
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
    /// The attention check showing, if one is (the session is held meanwhile).
    pub check: Option<CheckView>,
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
            check: o.check.as_ref().map(|c| c.view(now)),
        })
    }

    /// Records a flush of the open session as `active_study`; on failure it goes back into the
    /// session so nothing counted is lost.
    fn record_flush(&mut self, ms: Option<u32>) -> Result<u64> {
        let (Some(ms), Some(o)) = (ms, self.study.open.as_ref()) else {
            return Ok(0);
        };
        let (learner, course, lesson) = (o.learner, o.course.clone(), o.lesson.clone());
        let checked = !o.checks.is_empty();
        let key = checks::stretch_key(learner, &course);
        let event = Event::ActiveStudy {
            course,
            lesson,
            active_ms: ms,
        };
        // In a course with checks, the study since the previous check grows in the receipt's
        // transaction.
        let result = self.record_with(learner, event, |tx, _| {
            if checked {
                let mut st = read_stretch(tx.content_meta(&key)?);
                st.active_ms += u64::from(ms);
                tx.set_content_meta(&key, &serde_json::to_vec(&st).expect("serialisable"))?;
            }
            Ok(())
        });
        match result {
            Ok(_) => Ok(u64::from(ms)),
            Err(e) => {
                if let Some(o) = self.study.open.as_mut() {
                    o.session.unflush(ms);
                }
                Err(e)
            }
        }
    }

    /// Sets how often attention checks are asked in lessons with check questions.
    pub fn set_check_policy(&mut self, policy: CheckPolicy) {
        self.study.check_policy = policy;
    }

    /// The learner's active study in a course since the previous attention check, and the
    /// amount at which the next is due (0: not drawn yet).
    pub fn check_stretch(&self, learner: LearnerId, course: &CourseId) -> Result<(u64, u64)> {
        let st = read_stretch(
            self.store
                .content_meta(&checks::stretch_key(learner, course))?,
        );
        Ok((st.active_ms, st.due_ms))
    }

    /// The attention check questions of a lesson of an installed course version.
    fn lesson_checks(
        &self,
        course: &CourseId,
        version: u32,
        lesson: &LessonId,
    ) -> Result<Vec<hearth_protocol::manifest::CheckQuestion>> {
        #[derive(Deserialize)]
        struct Checks {
            #[serde(default)]
            checks: Vec<hearth_protocol::manifest::CheckQuestion>,
        }
        Ok(self
            .store
            .course_manifest(course, version)?
            .and_then(|bytes| {
                let body = bytes.get(hearth_protocol::manifest::MANIFEST_HEADER_LEN..)?;
                serde_json::from_slice::<Checks>(body).ok()
            })
            .map(|c| c.checks)
            .unwrap_or_default()
            .into_iter()
            .filter(|q| q.lesson == *lesson)
            .collect())
    }

    /// Asks a check when the study since the previous one reached its due point, and records a
    /// check whose minute ran out as missed (the session then stays held: "are you still
    /// here?").
    fn attend(&mut self, now: u64) -> Result<u64> {
        let Some(o) = self.study.open.as_ref() else {
            return Ok(0);
        };
        if let Some(c) = &o.check {
            if now.saturating_sub(c.shown_at) > CHECK_ANSWER_MS {
                self.close_check(None, now)?;
            }
            return Ok(0);
        }
        if o.checks.is_empty() || o.session.state() != SessionState::Active {
            return Ok(0);
        }
        let key = checks::stretch_key(o.learner, &o.course);
        let mut st = read_stretch(self.store.content_meta(&key)?);
        if st.due_ms == 0 {
            st.due_ms = self
                .study
                .check_policy
                .draw(u64::from_le_bytes(self.env.random()?));
            let bytes = serde_json::to_vec(&st).expect("serialisable");
            self.store.write(|tx| tx.set_content_meta(&key, &bytes))?;
        }
        if st.active_ms + o.session.pending_ms() < st.due_ms {
            return Ok(0);
        }
        let pick = usize::try_from(u64::from_le_bytes(self.env.random()?) % o.checks.len() as u64)
            .unwrap_or(0);
        let o = self.study.open.as_mut().expect("open");
        let flush = o.session.hold(now);
        let recorded = self.record_flush(flush)?;
        let o = self.study.open.as_mut().expect("open");
        o.check = Some(checks::PendingCheck {
            question: o.checks[pick].clone(),
            shown_at: now,
        });
        Ok(recorded)
    }

    /// Records the showing check answered with `choice` (`None`: missed) and begins a new
    /// stretch with a new due point.
    fn close_check(&mut self, choice: Option<u8>, now: u64) -> Result<()> {
        let next = self
            .study
            .check_policy
            .draw(u64::from_le_bytes(self.env.random()?));
        let o = self.study.open.as_ref().expect("open");
        let Some(c) = o.check.clone() else {
            return Ok(());
        };
        let (learner, course, lesson) = (o.learner, o.course.clone(), o.lesson.clone());
        let key = checks::stretch_key(learner, &course);
        let event = Event::CheckAnswered {
            course,
            lesson,
            check: c.question.id.clone(),
            choice,
            shown_ms: u32::try_from(now.saturating_sub(c.shown_at)).unwrap_or(u32::MAX),
        };
        let st = checks::Stretch {
            active_ms: 0,
            due_ms: next,
        };
        self.record_with(learner, event, |tx, _| {
            tx.set_content_meta(&key, &serde_json::to_vec(&st).expect("serialisable"))
        })?;
        if let Some(o) = self.study.open.as_mut() {
            o.check = None;
        }
        Ok(())
    }

    /// The learner picked option `choice` of the attention check showing: records it and
    /// counting resumes. `study.no_check` when none shows, `study.bad_answer` for an option the
    /// question does not have. An answer after the minute is recorded as given (the service
    /// counts it as missed).
    pub fn answer_check(&mut self, choice: u8) -> Result<SessionView> {
        let now = self.env.clock.mono_ms();
        let o = self.study.open.as_ref().ok_or(StudyError::NoOpenLesson)?;
        let c = o.check.as_ref().ok_or(StudyError::NoCheck)?;
        if usize::from(choice) >= c.question.options.len() {
            return Err(StudyError::BadAnswer(format!("no option {choice}")).into());
        }
        self.close_check(Some(choice), now)?;
        if let Some(o) = self.study.open.as_mut() {
            o.session.confirm_presence(now);
        }
        Ok(self.session_view(0).expect("open"))
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
        let checks = self.lesson_checks(course, version, lesson)?;
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
            checks,
            check: None,
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
        let recorded = self.record_flush(flush)? + self.attend(now)?;
        Ok(self.session_view(recorded).expect("open"))
    }

    /// The learner answered "are you still here?": records the attendance check (how long it
    /// showed) and counting resumes. A no-op when the check is not showing.
    pub fn confirm_presence(&mut self) -> Result<SessionView> {
        let now = self.env.clock.mono_ms();
        let o = self.study.open.as_mut().ok_or(StudyError::NoOpenLesson)?;
        if o.check.is_some() {
            // An attention check is answered with an option, not with "I'm here".
            return Ok(self.session_view(0).expect("open"));
        }
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
        if self.study.open.as_ref().is_some_and(|o| o.check.is_some()) {
            // Leaving does not dodge a check: it is recorded as missed.
            self.close_check(None, now)?;
        }
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
}

/// The record of the learner pulled from the service.
impl Hearth {
    /// The learner's record as last pulled from the service, if any.
    pub fn learner_record(&self, learner: LearnerId) -> Result<Option<LearnerRecord>> {
        Ok(self
            .store
            .learner_record(learner)?
            .and_then(|r| serde_json::from_str(&r.json).ok()))
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

/// A stretch as kept (a missing or unreadable value is an empty one).
fn read_stretch(bytes: Option<Vec<u8>>) -> checks::Stretch {
    bytes
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
