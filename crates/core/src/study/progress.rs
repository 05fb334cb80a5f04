//! "My progress" on the device: study per local day and per lesson, practice scores, the exam
//! attempts, and what the service's pulled record says was credited, withheld and still
//! missing, with certificates.

use super::*;

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

impl Hearth {
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
}
