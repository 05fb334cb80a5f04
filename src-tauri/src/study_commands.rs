//! The study commands: lesson player, practice quiz, timed exam, "my progress". Each a few lines
//! over hearth-core's study API (`hearth_core::study`), which records for the person core's
//! session says is at the keyboard (nobody: `session.none`); every receipt recorded here also
//! asks the sync engine for a round soon.

use hearth_core::study::MediaProgress;
use hearth_core::study::{
    ExamAttemptView, ExamSession, LearnerProgress, OpenedLesson, QuizFeedback, SeekCheck,
    SessionView,
};
use hearth_core::sync::schedule::Trigger;
use hearth_protocol::{Answer, ContentHash, ItemAnswer};
use serde::Deserialize;
use tauri::State;

use crate::error::parse;
use crate::{CommandError, HearthState, SyncEngine};

#[tauri::command]
pub fn open_lesson(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    version: u32,
    lesson: String,
) -> Result<OpenedLesson, CommandError> {
    let (course, lesson) = (parse(&course, "course id")?, parse(&lesson, "lesson id")?);
    let opened = hearth.with(|h| h.open_lesson(&course, version, &lesson))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(opened)
}

/// The player reports every few seconds: window focus, and input since the last report.
#[tauri::command]
pub fn study_activity(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    focused: bool,
    input: bool,
) -> Result<SessionView, CommandError> {
    let view = hearth.with(|h| h.study_activity(focused, input))?;
    if view.recorded_ms > 0 {
        engine.trigger(Trigger::NewReceipt);
    }
    Ok(view)
}

/// "Are you still here?" answered.
#[tauri::command]
pub fn confirm_presence(hearth: State<'_, HearthState>) -> Result<SessionView, CommandError> {
    hearth.with(|h| h.confirm_presence())
}

/// An attention check answered with option `choice` (its index).
#[tauri::command]
pub fn answer_check(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    choice: u8,
) -> Result<SessionView, CommandError> {
    let view = hearth.with(|h| h.answer_check(choice))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(view)
}

#[tauri::command]
pub fn leave_lesson(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
) -> Result<Option<SessionView>, CommandError> {
    let view = hearth.with(|h| h.leave_lesson())?;
    engine.trigger(Trigger::NewReceipt);
    Ok(view)
}

#[tauri::command]
pub fn complete_lesson(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
) -> Result<SessionView, CommandError> {
    let view = hearth.with(|h| h.complete_lesson())?;
    engine.trigger(Trigger::NewReceipt);
    Ok(view)
}

#[tauri::command]
pub fn check_seek(
    hearth: State<'_, HearthState>,
    media: String,
    target_ms: u64,
) -> Result<SeekCheck, CommandError> {
    let media: ContentHash = parse(&media, "media hash")?;
    hearth.with(|h| h.check_seek(&media, target_ms))
}

#[tauri::command]
pub fn media_watched(
    hearth: State<'_, HearthState>,
    media: String,
    from_ms: u64,
    to_ms: u64,
) -> Result<MediaProgress, CommandError> {
    let media: ContentHash = parse(&media, "media hash")?;
    hearth.with(|h| h.media_watched(&media, from_ms, to_ms))
}

#[tauri::command]
#[allow(clippy::too_many_arguments)] // one argument per field of the answer, as the UI sends it
pub fn answer_practice(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    version: u32,
    quiz: String,
    item: String,
    choices: Vec<u8>,
) -> Result<QuizFeedback, CommandError> {
    let (course, quiz, item) = (
        parse(&course, "course id")?,
        parse(&quiz, "quiz id")?,
        parse(&item, "item id")?,
    );
    let feedback = hearth
        .with(|h| h.answer_practice(&course, version, &quiz, &item, Answer::Choices(choices)))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(feedback)
}

#[tauri::command]
pub fn start_exam(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    version: u32,
    exam: String,
) -> Result<ExamSession, CommandError> {
    let (course, exam) = (parse(&course, "course id")?, parse(&exam, "exam id")?);
    let started = hearth.with(|h| h.start_exam(&course, version, &exam))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(started)
}

/// One exam answer as the UI sends it.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamAnswer {
    pub item: String,
    pub choices: Vec<u8>,
}

#[tauri::command]
pub fn submit_exam(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    exam: String,
    attempt: u32,
    answers: Vec<ExamAnswer>,
) -> Result<ExamAttemptView, CommandError> {
    let (course, exam) = (parse(&course, "course id")?, parse(&exam, "exam id")?);
    let answers = answers
        .into_iter()
        .map(|a| {
            Ok(ItemAnswer {
                item: parse(&a.item, "item id")?,
                answer: Answer::Choices(a.choices),
            })
        })
        .collect::<Result<Vec<_>, CommandError>>()?;
    let view = hearth.with(|h| h.submit_exam(&course, &exam, attempt, answers))?;
    // The grade comes back with the next sync: ask for it now.
    engine.trigger(Trigger::Demand);
    Ok(view)
}

#[tauri::command]
pub fn exam_attempts(hearth: State<'_, HearthState>) -> Result<Vec<ExamAttemptView>, CommandError> {
    hearth.with(|h| h.exam_attempts(h.require_at_keyboard()?))
}

/// The exam screen's countdown ticks (every few seconds): the store keeps how long this app
/// run has lasted, so a restart with the clock set back does not give the time back.
#[tauri::command]
pub fn exam_tick(hearth: State<'_, HearthState>) -> Result<(), CommandError> {
    hearth.with(|h| h.mark_time())
}

/// "My progress"; `utc_offset_min` is the UI's time zone (minutes east of UTC) for the days.
#[tauri::command]
pub fn my_progress(
    hearth: State<'_, HearthState>,
    utc_offset_min: i32,
) -> Result<LearnerProgress, CommandError> {
    hearth.with(|h| h.learner_progress(h.require_at_keyboard()?, utc_offset_min))
}
