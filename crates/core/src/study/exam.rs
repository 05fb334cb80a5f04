//! Timed exams on the device: starting, resuming and submitting an attempt, the time left
//! (bounded by the monotonic record of each app run and the latest anchor, so a clock set back
//! gains nothing), the attempts allowed, and every attempt with the service's grade.

use super::*;

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

    /// Every exam attempt of the learner: this device's, each with the service's grade once
    /// pulled, then graded attempts known only from the service (made on another device).
    pub fn exam_attempts(&self, learner: LearnerId) -> Result<Vec<ExamAttemptView>> {
        let record = self.learner_record(learner)?;
        self.attempt_views(learner, record.as_ref())
    }

    pub(super) fn attempt_views(
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
