//! What a learner's facts add up to for one course: credit per lesson (capped at the lesson's
//! declared time), media watched, quiz and exam results, and whether the course is complete.
//! The same function decides completion on the write path (issuing the certificate) and on
//! reading, so the two never disagree.

use hearth_protocol::manifest::Manifest;
use hearth_protocol::wire::{CourseProgress, ExamResult, LessonProgress, QuizResult};

use super::Policy;
use super::facts::{ExamStatus, LearnerFacts};

/// Codes of what a course still needs for completion.
pub const MISSING_HOURS: &str = "completion.hours";
pub const MISSING_LESSONS: &str = "completion.lessons";
pub const MISSING_MEDIA: &str = "completion.media";
pub const MISSING_EXAM: &str = "completion.exam";
pub const NOT_PUBLISHED: &str = "completion.not_published";

/// The course's progress from `facts`; `manifest` is the newest published version (`None`: not
/// published, so nothing is credited or complete).
pub fn course_progress(
    course: &str,
    facts: &LearnerFacts,
    manifest: Option<&Manifest>,
    policy: &Policy,
) -> CourseProgress {
    let empty = Default::default();
    let lesson_facts = facts.lessons.get(course).unwrap_or(&empty);
    let empty_media = Default::default();
    let media = facts.media.get(course).unwrap_or(&empty_media);
    let mut lessons = Vec::new();
    let mut missing = Vec::new();
    let mut credited = 0u64;
    let mut required = 0u64;
    if let Some(m) = manifest {
        let mut lessons_done = true;
        let mut media_done = true;
        for l in &m.lessons {
            let f = lesson_facts.get(l.id.as_str()).cloned().unwrap_or_default();
            let c = f.credited_ms.min(l.credit_ms);
            let media_watched = l.media.iter().all(|p| {
                let Some(file) = m.file(p) else { return false };
                let len = file.duration_ms.unwrap_or(0);
                let seen: u64 = media
                    .get(&file.sha256.to_hex())
                    .map_or(0, |v| v.iter().map(|(a, b)| b - a).sum());
                len == 0 || seen * 100 >= len * u64::from(policy.watched_percent)
            });
            let completed = f.completed_claim && media_watched && c >= l.credit_ms;
            lessons_done &= f.completed_claim && c >= l.credit_ms;
            media_done &= media_watched;
            credited += c;
            lessons.push(LessonProgress {
                lesson: l.id.to_string(),
                credited_ms: c,
                claimed_ms: f.claimed_ms,
                completed,
                required_ms: l.credit_ms,
                media_watched,
            });
        }
        required = m
            .credit_ms
            .unwrap_or_else(|| m.lessons.iter().map(|l| l.credit_ms).sum());
        if credited < required {
            missing.push(MISSING_HOURS.to_owned());
        }
        if !lessons_done {
            missing.push(MISSING_LESSONS.to_owned());
        }
        if !media_done {
            missing.push(MISSING_MEDIA.to_owned());
        }
        let exams_passed = m.exams.iter().all(|e| {
            facts.exams.iter().any(|x| {
                x.course == course
                    && x.exam == e.id.as_str()
                    && x.status == ExamStatus::Graded
                    && x.passed
            })
        });
        if !exams_passed {
            missing.push(MISSING_EXAM.to_owned());
        }
        // Study of lessons the service does not publish is shown but never credited.
        for (id, f) in lesson_facts {
            if !m.lessons.iter().any(|l| l.id.as_str() == id) {
                lessons.push(LessonProgress {
                    lesson: id.clone(),
                    credited_ms: 0,
                    claimed_ms: f.claimed_ms,
                    completed: false,
                    required_ms: 0,
                    media_watched: false,
                });
            }
        }
    } else {
        missing.push(NOT_PUBLISHED.to_owned());
        for (id, f) in lesson_facts {
            lessons.push(LessonProgress {
                lesson: id.clone(),
                credited_ms: 0,
                claimed_ms: f.claimed_ms,
                completed: false,
                required_ms: 0,
                media_watched: false,
            });
        }
    }
    let quizzes = facts
        .quizzes
        .get(course)
        .map(|qs| {
            qs.iter()
                .map(|(quiz, items)| QuizResult {
                    quiz: quiz.clone(),
                    answered: items.len() as u32,
                    correct: items.values().filter(|&&c| c).count() as u32,
                })
                .collect()
        })
        .unwrap_or_default();
    let mut exams: Vec<ExamResult> = facts
        .exams
        .iter()
        .filter(|x| x.course == course)
        .map(|x| ExamResult {
            exam: x.exam.clone(),
            attempt: x.attempt,
            score: x.score,
            max_score: x.max_score,
            passed: x.passed && x.status == ExamStatus::Graded,
            status: x.status.code().to_owned(),
            version: x.start.as_ref().map_or(0, |s| s.version),
        })
        .collect();
    exams.sort_by(|a, b| (&a.exam, a.attempt).cmp(&(&b.exam, b.attempt)));
    CourseProgress {
        course: course.to_owned(),
        credited_ms: credited,
        lessons,
        quizzes,
        exams,
        completed: manifest.is_some() && missing.is_empty(),
        required_ms: required,
        missing,
    }
}
