//! Studying on a real temporary store with a manual clock: the lesson player's active time,
//! first viewing of media, practice feedback, timed exams, the progress page, and the sync
//! round's pull of the learner's record (against an in-memory service).

use std::sync::{Arc, Mutex};

use hearth_core::study::{AttemptStatus, EXAM_GRACE_MS, IDLE_AFTER_MS, SessionState};
use hearth_core::sync::{ReceiptOutcome, SyncTransport, TransportError, UploadOutcome, sync_round};
use hearth_core::{Clock, Env, Hearth, ManualClock, RosterPerson};
use hearth_protocol::wire::{
    CertificateJson, CourseProgress, ExamResult, LearnerRecord, WithheldCredit,
};
use hearth_protocol::{
    Answer, ChainHead, ContentHash, DeviceId, Envelope, Event, ItemAnswer, ItemId, LearnerId,
    PublicKey, QuizId, ReceiptBody, TimeAnchor,
};
use ring::signature::Ed25519KeyPair;

mod common;

use common::{course, exam_id, key, l1, pk};

const T0: i64 = 1_795_939_200_000; // 2026-11-29T08:00:00Z

struct Fixture {
    _dir: tempfile::TempDir,
    dir: std::path::PathBuf,
    h: Hearth,
    clock: Arc<ManualClock>,
    learner: LearnerId,
    video: ContentHash,
}

/// A personal device enrolled for one roster learner, with a course installed: one lesson with
/// a 60 s video, a practice quiz (one single-choice, one multiple-choice item) and a 30-minute
/// exam.
async fn fixture() -> Fixture {
    fixture_with(None).await
}

/// [`fixture`] with the exam's `maxAttempts` set.
async fn fixture_with(max_attempts: Option<u32>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let (env, clock) = Env::deterministic(T0, 11);
    let mut h = Hearth::open(&path, env).unwrap();
    let learner = LearnerId::from_random_bytes([7; 16]);
    let roster = [RosterPerson {
        id: learner,
        name: "李娜".into(),
        role: "learner".into(),
        pin_hash: None,
        card: None,
    }];
    common::enroll(&mut h, Some(learner), &roster, T0);
    let video = common::install_small_course(&mut h, max_attempts).await;
    Fixture {
        _dir: dir,
        dir: path,
        h,
        clock,
        learner,
        video,
    }
}

/// Every receipt on the device, decoded: (seq, event).
fn events(h: &Hearth) -> Vec<(u64, Event)> {
    let key = h.device().public_key;
    h.outbox(0, 10_000)
        .unwrap()
        .into_iter()
        .map(|o| {
            let r = Envelope::from_bytes(o.envelope).verify(&key).unwrap();
            let body: &ReceiptBody = r.body();
            (o.seq, body.event.clone())
        })
        .collect()
}

fn active_total(h: &Hearth) -> u64 {
    events(h)
        .into_iter()
        .map(|(_, e)| match e {
            Event::ActiveStudy { active_ms, .. } => u64::from(active_ms),
            _ => 0,
        })
        .sum()
}

#[tokio::test]
async fn active_time_counts_only_while_focused_and_active_and_becomes_receipts() {
    let Fixture {
        mut h,
        clock,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    let opened = h.open_lesson(&course(), 1, &l1()).unwrap();
    assert_eq!(opened.lesson.title, "第一课");
    assert_eq!(opened.media.len(), 1);
    assert_eq!(opened.media[0].seek_limit_ms, Some(2_000));
    assert_eq!(opened.practice.len(), 2);
    assert!(opened.practice[1].multiple);
    assert_eq!(opened.session.state, SessionState::Active);
    assert!(matches!(
        events(&h).last().unwrap().1,
        Event::LessonOpened { .. }
    ));

    // 30 s focused with input: one active_study receipt of 30 s.
    for _ in 0..6 {
        clock.advance(5_000);
        h.study_activity(true, true).unwrap();
    }
    assert_eq!(active_total(&h), 30_000);
    // 10 s more, then the window loses focus: flushed at once.
    clock.advance(10_000);
    let v = h.study_activity(false, false).unwrap();
    assert_eq!((v.state, v.recorded_ms), (SessionState::Unfocused, 10_000));
    // A minute unfocused counts nothing.
    clock.advance(60_000);
    h.study_activity(false, true).unwrap();
    clock.advance(5_000);
    h.study_activity(true, true).unwrap();
    clock.advance(5_000);
    let left = h.leave_lesson().unwrap().unwrap();
    assert_eq!(left.state, SessionState::Closed);
    assert_eq!(left.counted_ms, 45_000);
    assert_eq!(active_total(&h), 45_000);
    assert!(h.study_session().is_none());
    assert_eq!(
        h.study_activity(true, true).unwrap_err().code(),
        "study.no_open_lesson"
    );

    let lessons = h.course_study(learner, &course(), 1).unwrap();
    assert_eq!(lessons.len(), 1);
    assert_eq!(lessons[0].studied_ms, 45_000);
    assert_eq!(lessons[0].credit_ms, 3_600_000);
    assert!(!lessons[0].completed_here);
    assert_eq!(lessons[0].credited_ms, None);

    let p = h.learner_progress(learner, 480).unwrap();
    assert_eq!((p.local_study_ms, p.waiting_ms), (45_000, 45_000));
    assert_eq!(p.credited_ms, None, "no record pulled yet");
    assert_eq!(p.days.len(), 1);
    assert_eq!(p.days[0].day, "2026-11-29");
    assert_eq!(p.days[0].active_ms, 45_000);
}

#[tokio::test]
async fn the_presence_check_stops_credit_until_answered_and_is_recorded() {
    let Fixture {
        mut h,
        clock,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    h.open_lesson(&course(), 1, &l1()).unwrap();
    // Focused, no input (a video playing): counted up to the idle limit, then the check opens.
    let mut state = SessionState::Active;
    for _ in 0..70 {
        clock.advance(5_000);
        state = h.study_activity(true, false).unwrap().state;
    }
    assert_eq!(state, SessionState::AwaitingPresence);
    assert_eq!(active_total(&h), IDLE_AFTER_MS);
    clock.advance(40_000);
    let v = h.confirm_presence().unwrap();
    assert_eq!(v.state, SessionState::Active);
    let checks: Vec<u32> = events(&h)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::AttendanceCheck(hearth_protocol::AttendanceCheck::PresencePrompt {
                waited_ms,
                ..
            }) => Some(waited_ms),
            _ => None,
        })
        .collect();
    assert_eq!(checks, vec![50_000 + 40_000]);
    clock.advance(10_000);
    h.study_activity(true, true).unwrap();
    let v = h.complete_lesson().unwrap();
    assert_eq!(v.recorded_ms, 10_000);
    assert!(matches!(
        events(&h).last().unwrap().1,
        Event::LessonCompleted { .. }
    ));
    assert_eq!(active_total(&h), IDLE_AFTER_MS + 10_000);
    assert!(h.course_study(learner, &course(), 1).unwrap()[0].completed_here);
    assert!(active_total(&h) <= clock.mono_ms());
}

#[tokio::test]
async fn a_video_cannot_be_skipped_ahead_on_first_viewing() {
    let Fixture {
        mut h,
        clock,
        learner,
        video,
        dir,
        _dir: _keep,
        ..
    } = fixture().await;
    assert_eq!(
        h.media_watched(&video, 0, 10_000).unwrap_err().code(),
        "study.no_open_lesson"
    );
    h.open_lesson(&course(), 1, &l1()).unwrap();
    clock.advance(10_000);
    let p = h.media_watched(&video, 0, 10_000).unwrap();
    assert_eq!((p.furthest_ms, p.finished), (10_000, false));
    let before = events(&h).len();
    let err = h.media_watched(&video, 30_000, 40_000).unwrap_err();
    assert_eq!(err.code(), "study.skip_ahead");
    assert_eq!(
        events(&h).len(),
        before,
        "a refused segment records nothing"
    );
    assert!(!h.check_seek(&video, 40_000).unwrap().allowed);
    assert!(h.check_seek(&video, 5_000).unwrap().allowed);
    assert_eq!(h.check_seek(&video, 0).unwrap().limit_ms, Some(12_000));
    assert_eq!(
        h.media_watched(&ContentHash::of(b"other"), 0, 1)
            .unwrap_err()
            .code(),
        "study.unknown_media"
    );
    assert_eq!(
        h.media_watched(&video, 5_000, 5_000).unwrap_err().code(),
        "study.bad_segment"
    );
    clock.advance(1_000);
    assert_eq!(
        h.media_watched(&video, 10_000, 20_000).unwrap_err().code(),
        "study.segment_too_fast",
        "10 s of video in 1 s of real time"
    );
    clock.advance(50_000);
    let p = h.media_watched(&video, 10_000, 60_000).unwrap();
    assert!(p.finished);
    assert!(h.check_seek(&video, 50_000).unwrap().allowed);
    let segments: Vec<(u32, u32)> = events(&h)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::MediaWatched { from_ms, to_ms, .. } => Some((from_ms, to_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(segments, vec![(0, 10_000), (10_000, 60_000)]);
    h.leave_lesson().unwrap();
    drop(h);

    // The position is stored: after a restart the video is still free to seek.
    let mut h = Hearth::open(&dir, Env::deterministic(T0 + 100_000, 12).0).unwrap();
    assert!(h.media_progress(learner, &video).unwrap().finished);
    let opened = h.open_lesson(&course(), 1, &l1()).unwrap();
    assert_eq!(opened.media[0].seek_limit_ms, None);
}

#[tokio::test]
async fn practice_answers_get_immediate_feedback_and_are_recorded() {
    let Fixture {
        mut h,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    let q1: QuizId = "q1".parse().unwrap();
    let i1 = ItemId::new("i1").unwrap();
    let i2 = ItemId::new("i2").unwrap();
    let wrong = h
        .answer_practice(&course(), 1, &q1, &i1, Answer::Choices(vec![1]))
        .unwrap();
    assert!(!wrong.correct);
    assert_eq!(wrong.correct_options, vec![0]);
    let right = h
        .answer_practice(&course(), 1, &q1, &i1, Answer::Choices(vec![0]))
        .unwrap();
    assert!(right.correct);
    let multi = h
        .answer_practice(&course(), 1, &q1, &i2, Answer::Choices(vec![2, 0]))
        .unwrap();
    assert!(multi.correct);
    let recorded: Vec<Answer> = events(&h)
        .into_iter()
        .filter_map(|(_, e)| match e {
            Event::QuizAnswered { answer, lesson, .. } => {
                assert_eq!(lesson, l1());
                Some(answer)
            }
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 3);

    let mut bad = |item: &ItemId, a: Answer| {
        h.answer_practice(&course(), 1, &q1, item, a)
            .unwrap_err()
            .code()
    };
    assert_eq!(bad(&i1, Answer::Choices(vec![5])), "study.bad_answer");
    assert_eq!(bad(&i1, Answer::Choices(vec![0, 1])), "study.bad_answer");
    assert_eq!(bad(&i1, Answer::Text("断电".into())), "study.bad_answer");
    assert_eq!(
        bad(&ItemId::new("nope").unwrap(), Answer::Choices(vec![0])),
        "study.unknown_item"
    );

    let p = h.learner_progress(learner, 0).unwrap();
    assert_eq!(p.quizzes.len(), 1);
    assert_eq!((p.quizzes[0].answered, p.quizzes[0].correct), (2, 2));
}

fn answers() -> Vec<ItemAnswer> {
    vec![
        ItemAnswer {
            item: ItemId::new("e1").unwrap(),
            answer: Answer::Choices(vec![0]),
        },
        ItemAnswer {
            item: ItemId::new("e2").unwrap(),
            answer: Answer::Choices(vec![1]),
        },
    ]
}

#[tokio::test]
async fn a_timed_exam_is_started_submitted_and_waits_for_grading() {
    let Fixture {
        mut h,
        clock,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    h.open_lesson(&course(), 1, &l1()).unwrap();
    clock.advance(3_000);
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert!(
        h.study_session().is_none(),
        "starting an exam leaves the lesson"
    );
    assert_eq!(active_total(&h), 3_000);
    assert_eq!((s.attempt, s.new_attempt), (1, true));
    assert_eq!(s.duration_ms, 30 * 60_000);
    assert_eq!(s.started_wall_ms, T0 + 3_000);
    assert_eq!(s.deadline_wall_ms, T0 + 3_000 + 30 * 60_000);
    assert_eq!(s.items.len(), 2);
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"deadlineWallMs\""), "camelCase: {json}");
    assert!(!json.contains("correct"), "no keys on the device: {json}");

    clock.advance(60_000);
    let again = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((again.attempt, again.new_attempt), (1, false));
    assert_eq!(again.remaining_ms, 29 * 60_000);
    let started = events(&h)
        .iter()
        .filter(|(_, e)| matches!(e, Event::ExamStarted { .. }))
        .count();
    assert_eq!(started, 1, "resuming records nothing");

    // Bad answers are refused before anything is recorded.
    let dup = vec![answers()[0].clone(), answers()[0].clone()];
    assert_eq!(
        h.submit_exam(&course(), &exam_id(), 1, dup)
            .unwrap_err()
            .code(),
        "study.bad_answer"
    );
    assert_eq!(
        h.submit_exam(&course(), &exam_id(), 2, answers())
            .unwrap_err()
            .code(),
        "exam.not_open"
    );
    let v = h.submit_exam(&course(), &exam_id(), 1, answers()).unwrap();
    assert_eq!(v.status, AttemptStatus::WaitingForGrading);
    assert_eq!(v.answered, 2);
    assert!(matches!(
        events(&h).last().unwrap().1,
        Event::ExamSubmitted { attempt: 1, .. }
    ));
    assert_eq!(
        h.submit_exam(&course(), &exam_id(), 1, answers())
            .unwrap_err()
            .code(),
        "exam.already_submitted"
    );

    // A second attempt runs out of time: within the grace it is accepted, after it refused.
    let s2 = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!(s2.attempt, 2);
    clock.advance(30 * 60_000 + EXAM_GRACE_MS + 1);
    let err = h
        .submit_exam(&course(), &exam_id(), 2, answers())
        .unwrap_err();
    assert_eq!(err.code(), "exam.time_up");
    let attempts = h.exam_attempts(learner).unwrap();
    let statuses: Vec<_> = attempts.iter().map(|a| (a.attempt, a.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (1, AttemptStatus::WaitingForGrading),
            (2, AttemptStatus::Expired)
        ]
    );
    let s3 = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!(s3.attempt, 3);
    clock.advance(30 * 60_000 + EXAM_GRACE_MS - 1);
    h.submit_exam(&course(), &exam_id(), 3, answers()).unwrap();
    assert_eq!(
        h.start_exam(&course(), 1, &"nope".parse().unwrap())
            .unwrap_err()
            .code(),
        "exam.not_found"
    );
}

#[tokio::test]
async fn an_exam_in_progress_survives_a_restart_on_the_wall_clock() {
    let Fixture {
        h,
        clock,
        learner,
        dir,
        _dir: _keep,
        ..
    } = fixture().await;
    let mut h = h;
    h.start_exam(&course(), 1, &exam_id()).unwrap();
    clock.advance(5 * 60_000);
    drop(h);
    // The app restarts 10 minutes after the start: a new run, the monotonic clock from 0.
    let mut h = Hearth::open(&dir, Env::deterministic(T0 + 10 * 60_000, 13).0).unwrap();
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (1, false));
    assert_eq!(s.remaining_ms, 20 * 60_000);
    let views = h.exam_attempts(learner).unwrap();
    assert_eq!(views[0].status, AttemptStatus::InProgress);
    assert_eq!(views[0].remaining_ms, Some(20 * 60_000));
}

/// Issue #16: a clock set back across a restart does not give an earlier run's exam time back.
/// The first run ran 25 of the 30 minutes (the exam screen's ticks keep the run's length); the
/// app restarts with the clock set back to the start. Before the fix the wall clock said no time
/// had passed and the attempt resumed with all 30 minutes.
#[tokio::test]
async fn a_clock_set_back_across_a_restart_does_not_regain_exam_time() {
    let Fixture {
        h,
        clock,
        learner,
        dir,
        _dir: _keep,
        ..
    } = fixture().await;
    let mut h = h;
    h.start_exam(&course(), 1, &exam_id()).unwrap();
    clock.advance(25 * 60_000);
    h.mark_time().unwrap();
    drop(h);
    // Restarted with the wall clock back at the start.
    let mut h = Hearth::open(&dir, Env::deterministic(T0, 13).0).unwrap();
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (1, false));
    assert_eq!(
        s.remaining_ms,
        5 * 60_000,
        "only the 5 minutes the first run left"
    );
    drop(h);
    // A second restart, 1 minute into a run that recorded nothing after 3 minutes of it: the
    // runs in between count too (25 + 3 = 28 minutes, plus this run's 1).
    let (env, clock) = Env::deterministic(T0, 14);
    let mut h = Hearth::open(&dir, env).unwrap();
    clock.advance(3 * 60_000);
    h.mark_time().unwrap();
    drop(h);
    let (env, clock) = Env::deterministic(T0, 15);
    let mut h = Hearth::open(&dir, env).unwrap();
    clock.advance(60_000);
    let views = h.exam_attempts(learner).unwrap();
    assert_eq!(views[0].remaining_ms, Some(60_000), "{views:?}");
    // Past the deadline and the grace: the submission is refused.
    clock.advance(2 * 60_000);
    let e = h
        .submit_exam(&course(), &exam_id(), 1, answers())
        .unwrap_err();
    assert_eq!(e.code(), "exam.time_up");
}

/// The service's time anchors bound it too: a run with no record of its own length (killed
/// before any tick) still cannot hide time a later anchor proves has passed.
#[tokio::test]
async fn a_fresh_anchor_bounds_exam_time_after_a_restart() {
    let Fixture {
        h,

        dir,
        _dir: _keep,
        ..
    } = fixture().await;
    let mut h = h;
    h.start_exam(&course(), 1, &exam_id()).unwrap();
    drop(h);
    let (env, clock) = Env::deterministic(T0, 13);
    let mut h = Hearth::open(&dir, env).unwrap();
    let device = DeviceId::for_key(&h.device().public_key);
    // The service says it is 27 minutes after the start; 30 s later (this run's clock) the
    // attempt has 2.5 minutes left, whatever the wall clock says.
    h.store_anchor(
        TimeAnchor::issue(&key(9), device, T0 + 27 * 60_000),
        &pk(&key(9)),
    )
    .unwrap();
    clock.advance(30_000);
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (1, false));
    assert_eq!(s.remaining_ms, 150_000);
}

/// A service in memory: accepts every receipt in order, and answers a learner's record with
/// the credit of the active study it holds, a grade for each submitted exam (the first in
/// time, later ones over time), the attempts started elsewhere in `elsewhere`, what the rules
/// withheld (`withheld`) and what the course still needs.
struct FakeService {
    anchor_key: Ed25519KeyPair,
    device_key: PublicKey,
    head: Mutex<ChainHead>,
    held: Mutex<Vec<ReceiptBody>>,
    records_offline: std::sync::atomic::AtomicBool,
    record_calls: std::sync::atomic::AtomicU32,
    elsewhere: Vec<ExamResult>,
    withheld: Vec<WithheldCredit>,
}

impl FakeService {
    fn new(device_key: PublicKey) -> Self {
        FakeService {
            anchor_key: key(9),
            device_key,
            head: Mutex::new(ChainHead::EMPTY),
            held: Mutex::new(Vec::new()),
            records_offline: false.into(),
            record_calls: 0.into(),
            elsewhere: vec![],
            withheld: vec![],
        }
    }
}

fn exam_result(attempt: u32, status: &str) -> ExamResult {
    ExamResult {
        exam: "final".into(),
        attempt,
        score: 10,
        max_score: 20,
        passed: false,
        status: status.into(),
        version: 1,
    }
}

impl SyncTransport for FakeService {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        Ok(TimeAnchor::issue(
            &self.anchor_key,
            DeviceId::for_key(&self.device_key),
            T0,
        ))
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let mut head = self.head.lock().unwrap();
        let mut results = Vec::new();
        for bytes in envelopes {
            let r = Envelope::from_bytes(bytes)
                .verify(&self.device_key)
                .unwrap();
            if r.body().seq == head.seq + 1 {
                *head = head.advanced(&r.link());
                self.held.lock().unwrap().push(r.body().clone());
                results.push(ReceiptOutcome::Accepted);
            } else {
                results.push(ReceiptOutcome::Duplicate);
            }
        }
        Ok(UploadOutcome {
            results,
            acked: *head,
        })
    }

    async fn roster(&self) -> Result<Option<Vec<RosterPerson>>, TransportError> {
        Ok(Some(vec![RosterPerson {
            id: LearnerId::from_random_bytes([8; 16]),
            name: "新学员".into(),
            role: "learner".into(),
            pin_hash: None,
            card: None,
        }]))
    }

    async fn learner_record(
        &self,
        learner: LearnerId,
    ) -> Result<Option<LearnerRecord>, TransportError> {
        self.record_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if self
            .records_offline
            .load(std::sync::atomic::Ordering::SeqCst)
        {
            return Err(TransportError::Unreachable("connection reset".into()));
        }
        let held = self.held.lock().unwrap();
        let mut credited = 0;
        let mut exams = self.elsewhere.clone();
        for b in held.iter().filter(|b| b.learner == learner) {
            match &b.event {
                Event::ActiveStudy { active_ms, .. } => credited += u64::from(*active_ms),
                Event::ExamStarted { attempt, .. } => {
                    exams.push(exam_result(*attempt, "exam.started"))
                }
                Event::ExamSubmitted { attempt, .. } => {
                    let status = if *attempt == 1 {
                        "exam.graded"
                    } else {
                        "exam.over_time"
                    };
                    if let Some(e) = exams.iter_mut().rev().find(|e| e.attempt == *attempt) {
                        *e = exam_result(*attempt, status);
                    }
                }
                _ => {}
            }
        }
        Ok(Some(LearnerRecord {
            learner_id: learner,
            name: "李娜".into(),
            national_id_masked: "**************1234".into(),
            credited_ms: credited,
            courses: vec![CourseProgress {
                course: "electrician-safety".into(),
                credited_ms: credited,
                lessons: vec![],
                quizzes: vec![],
                exams,
                completed: false,
                required_ms: 3_600_000,
                missing: vec!["completion.hours".into(), "completion.exam".into()],
            }],
            certificates: vec![CertificateJson {
                serial: "HC-TEST".into(),
                course: "other-course".into(),
                learner_id: learner,
                issued_ms: T0,
            }],
            flagged_receipts: 0,
            overlaps: vec![],
            days: vec![],
            anomalies: vec![],
            withheld: self.withheld.clone(),
        }))
    }
}

#[tokio::test]
async fn a_sync_round_pulls_the_record_and_progress_shows_credit_and_grades() {
    let Fixture {
        h,
        clock,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    let device_key = h.device().public_key;
    let hearth = Mutex::new(h);
    let service = FakeService::new(device_key);
    service
        .records_offline
        .store(true, std::sync::atomic::Ordering::SeqCst);
    {
        let mut h = hearth.lock().unwrap();
        h.open_lesson(&course(), 1, &l1()).unwrap();
        clock.advance(40_000);
        h.study_activity(true, true).unwrap();
        h.leave_lesson().unwrap();
        h.start_exam(&course(), 1, &exam_id()).unwrap();
        h.submit_exam(&course(), &exam_id(), 1, answers()).unwrap();
        assert_eq!(h.records_to_pull().unwrap(), vec![learner]);
    }

    // The pull fails: the upload still counts, nothing about receipts changes.
    let r = sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    assert_eq!((r.left, r.records_pulled, r.records_failed), (0, 0, 1));
    assert!(r.roster_refreshed, "the first round fetches the roster");
    assert!(
        hearth
            .lock()
            .unwrap()
            .learners()
            .unwrap()
            .iter()
            .any(|l| l.display_name == "新学员")
    );
    {
        let h = hearth.lock().unwrap();
        assert_eq!(h.ledger_status().unwrap().pending, 0);
        let p = h.learner_progress(learner, 480).unwrap();
        assert_eq!(p.credited_ms, None);
        assert_eq!(p.waiting_ms, 40_000);
        assert_eq!(p.exams[0].status, AttemptStatus::WaitingForGrading);
    }

    service
        .records_offline
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let r = sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    assert_eq!((r.sent, r.records_pulled, r.records_failed), (0, 1, 0));
    assert!(!r.roster_refreshed, "at most once an hour");
    {
        let h = hearth.lock().unwrap();
        let p = h.learner_progress(learner, 480).unwrap();
        assert_eq!(p.exams[0].service_status.as_deref(), Some("exam.graded"));
        assert!(p.withheld.is_empty());
        assert_eq!(p.credited_ms, Some(40_000));
        assert_eq!(p.waiting_ms, 0);
        assert_eq!(p.local_study_ms, 40_000);
        assert_eq!(p.exams[0].status, AttemptStatus::Graded);
        assert_eq!(
            (p.exams[0].score, p.exams[0].max_score, p.exams[0].passed),
            (Some(10), Some(20), Some(false))
        );
        assert_eq!(p.certificates[0].serial, "HC-TEST");
        assert_eq!(p.courses[0].credited_ms, 40_000);
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["creditedMs"], 40_000);
        assert_eq!(json["exams"][0]["status"], "graded");
        assert!(h.records_to_pull().unwrap().is_empty());
    }

    // Nothing new: the next round asks for no record.
    let calls = service
        .record_calls
        .load(std::sync::atomic::Ordering::SeqCst);
    let r = sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    assert_eq!(r.records_pulled, 0);
    assert_eq!(
        service
            .record_calls
            .load(std::sync::atomic::Ordering::SeqCst),
        calls
    );

    // New study: waiting until synced, then credited.
    {
        let mut h = hearth.lock().unwrap();
        h.open_lesson(&course(), 1, &l1()).unwrap();
        clock.advance(20_000);
        h.leave_lesson().unwrap();
        let p = h.learner_progress(learner, 480).unwrap();
        assert_eq!((p.credited_ms, p.waiting_ms), (Some(40_000), 20_000));
    }
    let r = sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    assert_eq!(r.records_pulled, 1);
    let p = hearth
        .lock()
        .unwrap()
        .learner_progress(learner, 480)
        .unwrap();
    assert_eq!((p.credited_ms, p.waiting_ms), (Some(60_000), 0));
}

#[tokio::test]
async fn progress_says_what_was_withheld_why_attempts_did_not_count_and_what_a_course_needs() {
    let Fixture {
        h,
        clock,
        learner,
        _dir: _keep,
        ..
    } = fixture().await;
    let device_key = h.device().public_key;
    let hearth = Mutex::new(h);
    let mut service = FakeService::new(device_key);
    service.withheld = vec![
        WithheldCredit {
            code: "credit.daily_cap".into(),
            message: "more than the daily limit of study".into(),
            receipts: 2,
            ms: 1_800_000,
        },
        WithheldCredit {
            code: "media.too_fast".into(),
            message: "media watched faster than real time".into(),
            receipts: 1,
            ms: 60_000,
        },
    ];
    {
        let mut h = hearth.lock().unwrap();
        for attempt in 1..=2 {
            h.start_exam(&course(), 1, &exam_id()).unwrap();
            h.submit_exam(&course(), &exam_id(), attempt, answers())
                .unwrap();
        }
        // The third is started and still open when the record is pulled.
        h.start_exam(&course(), 1, &exam_id()).unwrap();
    }
    let r = sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    assert_eq!(r.records_pulled, 1);
    let mut h = hearth.into_inner().unwrap();
    let p = h.learner_progress(learner, 480).unwrap();
    let w: Vec<_> = p
        .withheld
        .iter()
        .map(|w| (w.code.as_str(), w.receipts, w.ms))
        .collect();
    assert_eq!(
        w,
        vec![
            ("credit.daily_cap", 2, 1_800_000),
            ("media.too_fast", 1, 60_000)
        ]
    );
    assert_eq!(p.withheld[0].message, "more than the daily limit of study");
    let exams: Vec<_> = p
        .exams
        .iter()
        .map(|e| (e.attempt, e.status, e.service_status.as_deref(), e.score))
        .collect();
    assert_eq!(
        exams,
        vec![
            (1, AttemptStatus::Graded, Some("exam.graded"), Some(10)),
            // Graded by the service, but it did not count: not a plain fail.
            (2, AttemptStatus::Graded, Some("exam.over_time"), Some(10)),
            // Held by the service only as started: no grade yet.
            (3, AttemptStatus::InProgress, Some("exam.started"), None),
        ]
    );
    assert_eq!(p.courses[0].required_ms, 3_600_000);
    assert_eq!(
        p.courses[0].missing,
        vec!["completion.hours".to_owned(), "completion.exam".to_owned()]
    );
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["withheld"][1]["code"], "media.too_fast");
    assert_eq!(json["exams"][1]["serviceStatus"], "exam.over_time");
    assert_eq!(json["courses"][0]["requiredMs"], 3_600_000);
    assert_eq!(json["courses"][0]["missing"][0], "completion.hours");

    // The open third attempt is still resumed; once it ran out, no fourth is started.
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (3, false));
    clock.advance(30 * 60_000 + EXAM_GRACE_MS + 1);
    let before = events(&h).len();
    let err = h.start_exam(&course(), 1, &exam_id()).unwrap_err();
    assert_eq!(err.code(), "exam.no_attempts_left");
    assert_eq!(events(&h).len(), before, "a refusal records nothing");
}

#[tokio::test]
async fn attempts_made_on_another_device_count_toward_the_limit_once() {
    let Fixture { h, _dir: _keep, .. } = fixture().await;
    let device_key = h.device().public_key;
    let hearth = Mutex::new(h);
    let mut service = FakeService::new(device_key);
    // Another device: one graded attempt, and a submission with no start (no attempt used).
    service.elsewhere = vec![
        exam_result(1, "exam.graded"),
        exam_result(2, "exam.not_started"),
    ];
    {
        let mut h = hearth.lock().unwrap();
        h.start_exam(&course(), 1, &exam_id()).unwrap();
        h.submit_exam(&course(), &exam_id(), 1, answers()).unwrap();
    }
    sync_round(&hearth, &service, &pk(&key(9)), 100)
        .await
        .unwrap();
    let mut h = hearth.into_inner().unwrap();
    // Used: this device's first (also in the record) and the other device's: 2 of 3.
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (2, true));
    h.submit_exam(&course(), &exam_id(), 2, answers()).unwrap();
    // The record is not pulled again: this device's second is counted from here.
    let err = h.start_exam(&course(), 1, &exam_id()).unwrap_err();
    assert_eq!(err.code(), "exam.no_attempts_left");
    assert!(err.to_string().contains("all 3 attempts"), "{err}");
}

#[tokio::test]
async fn an_exam_allows_at_most_its_max_attempts() {
    let Fixture {
        mut h, _dir: _keep, ..
    } = fixture_with(Some(1)).await;
    h.start_exam(&course(), 1, &exam_id()).unwrap();
    // Resuming the one attempt is not a new one.
    let s = h.start_exam(&course(), 1, &exam_id()).unwrap();
    assert_eq!((s.attempt, s.new_attempt), (1, false));
    h.submit_exam(&course(), &exam_id(), 1, answers()).unwrap();
    let err = h.start_exam(&course(), 1, &exam_id()).unwrap_err();
    assert_eq!(err.code(), "exam.no_attempts_left");
    let started = events(&h)
        .iter()
        .filter(|(_, e)| matches!(e, Event::ExamStarted { .. }))
        .count();
    assert_eq!(started, 1);
}
