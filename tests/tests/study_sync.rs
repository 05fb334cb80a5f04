//! Studying against the real service: a learner's personal device downloads the demo course,
//! studies a lesson online and syncs; then the service goes away, the learner studies another
//! lesson and takes the timed exam offline (it shows "waiting for grading"); when the service is
//! back, one sync round uploads the receipts and pulls the learner's record, and the exam's grade
//! and the new credited study time appear on the device.

use std::sync::Mutex;
use std::time::Duration;

use hearth_core::content::{DownloadOptions, HttpSource, Progress};
use hearth_core::study::AttemptStatus;
use hearth_core::sync::http::{HttpTransport, enroll};
use hearth_core::sync::sync_round;
use hearth_core::{Env, Hearth};
use hearth_e2e::gui::workspace_root;
use hearth_e2e::service::Service;
use hearth_protocol::{Answer, CourseId, ExamId, ItemAnswer, ItemId, LearnerId, LessonId};

const COURSE: &str = "electrician-safety";

/// Studies the lesson for about `ms` of real time, focused and active, then leaves it.
async fn study(h: &Mutex<Hearth>, learner: LearnerId, lesson: &str, ms: u64) -> u64 {
    let course = CourseId::new(COURSE).unwrap();
    let lesson = LessonId::new(lesson).unwrap();
    {
        let mut guard = h.lock().unwrap();
        assert_eq!(
            guard.at_keyboard(),
            Some(learner),
            "the enrolled learner is at the keyboard"
        );
        guard.open_lesson(&course, 1, &lesson).unwrap();
    }
    let mut left = ms;
    while left > 0 {
        let step = left.min(250);
        tokio::time::sleep(Duration::from_millis(step)).await;
        left -= step;
        h.lock().unwrap().study_activity(true, true).unwrap();
    }
    h.lock()
        .unwrap()
        .leave_lesson()
        .unwrap()
        .unwrap()
        .counted_ms
}

#[tokio::test]
async fn an_exam_taken_offline_is_graded_after_sync_and_credited_time_appears() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut service = Service::start().unwrap();
    let course_dir = workspace_root().join("assets/courses").join(COURSE);
    service
        .admin(&["publish", course_dir.to_str().unwrap()])
        .unwrap();
    let learner: LearnerId = service
        .add_learner("刘洋", "110101199505051234")
        .unwrap()
        .parse()
        .unwrap();

    // A personal device enrolls for the learner and downloads the course.
    let dir = tempfile::tempdir().unwrap();
    let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
    let code = service.enrollment_code(Some(&learner.to_string())).unwrap();
    let answer = enroll(&service.url(), &code, h.device().public_key, None, 0)
        .await
        .unwrap();
    h.apply_enrollment(&answer.enrollment, &answer.roster, answer.anchor)
        .unwrap();
    let source = HttpSource::new(&answer.enrollment).unwrap();
    let course = CourseId::new(COURSE).unwrap();
    let mut ignore = |_: &Progress| {};
    h.download_course(&source, &course, 1, DownloadOptions::default(), &mut ignore)
        .await
        .unwrap();
    let transport = HttpTransport::new(&answer.enrollment).unwrap();
    let service_key = answer.enrollment.anchor_key;
    let h = Mutex::new(h);

    // Online: a lesson and a practice answer, then a sync round pulls the record.
    let first = study(&h, learner, "shock-dangers", 1_500).await;
    assert!(first >= 1_000, "counted {first} ms");
    {
        let mut g = h.lock().unwrap();
        let lesson = LessonId::new("shock-dangers").unwrap();
        let item = g.quiz_items(&course, 1, &lesson).unwrap().remove(0);
        let feedback = g
            .answer_practice(
                &course,
                1,
                &item.quiz,
                &item.id,
                Answer::Choices(item.correct.clone()),
            )
            .unwrap();
        assert!(feedback.correct);
    }
    let r = sync_round(&h, &transport, &service_key, 100).await.unwrap();
    assert_eq!((r.left, r.records_pulled, r.records_failed), (0, 1, 0));
    assert!(r.roster_refreshed);
    let online = h.lock().unwrap().learner_progress(learner, 480).unwrap();
    let credited_online = online.credited_ms.expect("the record was pulled");
    assert!(
        credited_online > 0 && credited_online <= first,
        "credited {credited_online} of {first} ms studied"
    );
    assert_eq!(online.waiting_ms, 0);
    assert_eq!(online.quizzes[0].correct, 1);

    // The service goes away: another lesson and the exam, offline.
    service.kill();
    let second = study(&h, learner, "lockout-tagout", 1_500).await;
    let exam: ExamId = "final".parse().unwrap();
    {
        let mut g = h.lock().unwrap();
        let started = g.start_exam(&course, 1, &exam).unwrap();
        let key = hearth_e2e::service::demo_exam_key().unwrap();
        assert_eq!((started.attempt, started.items.len()), (1, key.len()));
        assert_eq!(started.duration_ms, 20 * 60_000);
        let answers = key
            .iter()
            .map(|(item, choices)| ItemAnswer {
                item: ItemId::new(item).unwrap(),
                answer: Answer::Choices(choices.clone()),
            })
            .collect();
        let submitted = g
            .submit_exam(&course, &exam, started.attempt, answers)
            .unwrap();
        assert_eq!(submitted.status, AttemptStatus::WaitingForGrading);
    }
    let err = sync_round(&h, &transport, &service_key, 100)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "sync.offline");
    let offline = h.lock().unwrap().learner_progress(learner, 480).unwrap();
    assert_eq!(offline.credited_ms, Some(credited_online));
    assert_eq!(
        offline.waiting_ms, second,
        "the offline study waits to sync"
    );
    assert_eq!(offline.exams[0].status, AttemptStatus::WaitingForGrading);
    assert_eq!(offline.exams[0].score, None);

    // The service is back: one round uploads, the record is pulled, the grade appears.
    service.restart().unwrap();
    let r = sync_round(&h, &transport, &service_key, 100).await.unwrap();
    assert_eq!((r.left, r.records_pulled, r.records_failed), (0, 1, 0));
    let synced = h.lock().unwrap().learner_progress(learner, 480).unwrap();
    let e = &synced.exams[0];
    assert_eq!(e.status, AttemptStatus::Graded);
    assert_eq!(e.passed, Some(true));
    assert!(e.max_score.unwrap() > 0);
    assert_eq!(e.score, e.max_score);
    let credited = synced.credited_ms.unwrap();
    assert!(
        credited > credited_online && credited <= first + second,
        "credited {credited} ms after studying {first} + {second} ms"
    );
    assert_eq!(synced.waiting_ms, 0);
    assert_eq!(synced.local_study_ms, first + second);
    let c = synced
        .courses
        .iter()
        .find(|c| c.course == COURSE)
        .expect("the course is in the record");
    assert_eq!(c.credited_ms, credited);
    assert!(!c.completed, "two of four lessons studied");
    let lessons = h.lock().unwrap().course_study(learner, &course, 1).unwrap();
    assert_eq!(lessons.len(), 4);
    let studied: Vec<(&str, u64, bool)> = lessons
        .iter()
        .map(|l| {
            (
                l.lesson.as_str(),
                l.studied_ms,
                l.credited_ms.unwrap_or(0) > 0,
            )
        })
        .collect();
    assert_eq!(
        studied,
        vec![
            ("shock-dangers", first, true),
            ("lockout-tagout", second, true),
            ("ppe-and-tools", 0, false),
            ("shock-first-aid", 0, false),
        ]
    );
    assert!(synced.certificates.is_empty());
}
