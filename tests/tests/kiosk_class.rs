//! A class on one kiosk, end to end with the real service: two learners sign in one after the
//! other with their PINs (checked offline against the roster) and study; the trainer signs in,
//! attests who was present and ends the class; one sync later the trainer's class report shows
//! each learner credited for their own study only, and the signed attestation. And what a copy
//! of a kiosk's database gives away: the PIN verifiers of its classes' people, nobody else's,
//! also after an administrator changes its classes (issue #16).

use std::sync::Mutex;
use std::time::Duration;

use hearth_core::content::{DownloadOptions, HttpSource, Progress};
use hearth_core::sync::http::HttpTransport;
use hearth_core::sync::sync_round;
use hearth_core::{Env, Hearth};
use hearth_e2e::gui::workspace_root;
use hearth_e2e::service::{Service, hearth_cli};
use hearth_protocol::{ClassId, CourseId, LearnerId, LessonId};

#[tokio::test]
async fn a_class_on_one_kiosk_credits_each_learner_and_reports_the_attestation() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = Service::start().unwrap();
    let course = workspace_root().join("assets/courses/electrician-safety");
    service
        .admin(&["publish", course.to_str().unwrap()])
        .unwrap();
    let (trainer_id, trainer_token) = service.add_trainer("王老师", "2468").unwrap();
    let class = service
        .admin(&["add-class", "--trainer", &trainer_id, "--name", "电工一班"])
        .unwrap();
    let learner = |name: &str, id: &str, pin: &str| -> LearnerId {
        service
            .add_learner_in(name, id, Some(&class), Some(pin))
            .unwrap()
            .parse()
            .unwrap()
    };
    // The trainer assigns the lesson (due in a week) and the final exam before the class.
    service
        .admin(&[
            "assign",
            "--class",
            &class,
            "--course",
            "electrician-safety",
            "--lesson",
            "shock-dangers",
            "--due-days",
            "7",
        ])
        .unwrap();
    service
        .admin(&[
            "assign",
            "--class",
            &class,
            "--course",
            "electrician-safety",
            "--exam",
            "final",
        ])
        .unwrap();
    let ana = learner("安娜", "110101199001011234", "1111");
    let bo = learner("博文", "110101199202023456", "2222");

    // The kiosk enrolls while online, then works from its roster.
    let dir = tempfile::tempdir().unwrap();
    let code = service.kiosk_code(&[&class]).unwrap();
    hearth_cli(
        dir.path(),
        &["enroll", "--service", &service.url(), "--code", &code],
    )
    .unwrap();
    let h = Hearth::open(dir.path(), Env::system()).unwrap();
    // A sync round before the class brings the class's assignments (the classroom tag is new to
    // the kiosk); the kiosk keeps them for the offline week, the dated one first.
    let enrollment = h.enrollment().unwrap().unwrap();
    let transport = HttpTransport::new(&enrollment).unwrap();
    let h = Mutex::new(h);
    let first = sync_round(&h, &transport, &enrollment.anchor_key, 100)
        .await
        .unwrap();
    assert!(
        first.roster_refreshed && first.assignments_pulled == 2 && first.catalog_changed,
        "{first:?}"
    );
    let catalog = h.lock().unwrap().cached_catalog().unwrap().expect("kept");
    assert_eq!(catalog.courses[0].course.as_str(), "electrician-safety");
    let again = sync_round(&h, &transport, &enrollment.anchor_key, 100)
        .await
        .unwrap();
    assert!(
        !again.roster_refreshed && again.assignments_pulled == 0 && !again.catalog_changed,
        "nothing changed, nothing pulled: {again:?}"
    );
    let mut h = h.into_inner().unwrap();
    let source = HttpSource::new(&enrollment).unwrap();
    h.download_course(
        &source,
        &CourseId::new("electrician-safety").unwrap(),
        1,
        DownloadOptions::default(),
        &mut |_: &Progress| {},
    )
    .await
    .unwrap();
    let kept = h.assignments().unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(kept[0].lesson.as_deref(), Some("shock-dangers"));
    assert!(kept[0].due_ms.is_some());
    assert_eq!(kept[1].exam.as_deref(), Some("final"));
    assert_eq!(kept[0].class_id, class);

    // Bo's PIN does not open Ana.
    assert_eq!(
        h.kiosk_sign_in(ana, "2222").unwrap_err().code(),
        "kiosk.wrong_pin"
    );
    // Ana studies the lesson in the player: 1.5 s of focused, active time.
    h.kiosk_sign_in(ana, "1111").unwrap();
    let course = CourseId::new("electrician-safety").unwrap();
    let lesson = LessonId::new("shock-dangers").unwrap();
    h.open_lesson(&course, 1, &lesson).unwrap();
    h.study_activity(true, true).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    h.study_activity(true, true).unwrap();
    // Bo signs in at the same kiosk: Ana is signed out and her open lesson left, so her time
    // is recorded for her and nothing after it.
    h.kiosk_sign_in(bo, "2222").unwrap();
    assert!(
        h.study_session().is_none(),
        "Ana's lesson closed with her sign-out"
    );
    h.open_lesson(&course, 1, &lesson).unwrap();
    h.study_activity(true, true).unwrap();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    h.study_activity(true, true).unwrap();
    let trainer: LearnerId = trainer_id.parse().unwrap();
    h.kiosk_sign_in(trainer, "2468").unwrap();
    let class_id = ClassId(class.parse().unwrap());
    h.kiosk_open_class(class_id).unwrap();
    h.kiosk_attest(vec![ana, bo]).unwrap();
    h.kiosk_end_class().unwrap();

    // One sync.
    let h = Mutex::new(h);
    let report = sync_round(&h, &transport, &enrollment.anchor_key, 100)
        .await
        .unwrap();
    assert_eq!((report.rejected, report.left), (0, 0), "{report:?}");

    // The trainer's view of the class.
    let progress: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/v1/classes/{class}/progress", service.url()))
        .bearer_auth(&trainer_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credited = |who: LearnerId| -> u64 {
        let l = progress["learners"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["learnerId"] == who.to_string())
            .unwrap_or_else(|| panic!("{who} in {progress}"));
        l["creditedMs"].as_u64().unwrap()
    };
    // Each is credited for their own span (real time, so give or take the scheduling of this
    // test): Ana about 1.5 s, Bo about 1 s, never the other's.
    let (a, b) = (credited(ana), credited(bo));
    assert!(
        (1400..2500).contains(&a),
        "Ana's own study: {a} ms in {progress}"
    );
    assert!(
        (900..1900).contains(&b),
        "Bo's own study: {b} ms in {progress}"
    );
    let att = progress["attestations"].as_array().unwrap();
    assert_eq!(att.len(), 1, "{progress}");
    assert_eq!(att[0]["trainerId"], trainer_id);
    assert_eq!(
        att[0]["present"],
        serde_json::json!([ana.to_string(), bo.to_string()])
    );
}

/// The PIN verifiers in a kiosk's database file, by person id: what an attacker holding a copy
/// of the file reads, with nothing but SQLite.
fn verifiers_in_file(dir: &std::path::Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open_with_flags(
        dir.join("hearth.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = db
        .prepare(
            "SELECT display_name, hex(id) FROM learners WHERE pin_hash IS NOT NULL
             ORDER BY display_name",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn names(v: &[(String, String)]) -> Vec<&str> {
    v.iter().map(|(n, _)| n.as_str()).collect()
}

#[tokio::test]
async fn a_kiosk_database_holds_the_verifiers_of_its_classes_only() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = Service::start().unwrap();
    let (wang, _) = service.add_trainer("王老师", "2468").unwrap();
    let (li, _) = service.add_trainer("李老师", "1357").unwrap();
    let electric = service
        .admin(&["add-class", "--trainer", &wang, "--name", "电工一班"])
        .unwrap();
    let welding = service
        .admin(&["add-class", "--trainer", &li, "--name", "焊工班"])
        .unwrap();
    let ana: LearnerId = service
        .add_learner_in("安娜", "110101199001011234", Some(&electric), Some("1111"))
        .unwrap()
        .parse()
        .unwrap();
    service
        .add_learner_in("博文", "110101199202023456", Some(&electric), Some("2222"))
        .unwrap();
    service
        .add_learner_in("赵六", "110101199003076666", Some(&welding), Some("5555"))
        .unwrap();
    // A learner of no class, with a PIN: on no kiosk.
    service
        .add_learner_in("王五", "110105194912310045", None, Some("7777"))
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let code = service.kiosk_code(&[&electric]).unwrap();
    hearth_cli(
        dir.path(),
        &["enroll", "--service", &service.url(), "--code", &code],
    )
    .unwrap();
    assert_eq!(
        names(&verifiers_in_file(dir.path())),
        ["博文", "安娜", "王老师"],
        "the class's learners and its trainer, nobody else"
    );

    // Ana studies here before the kiosk moves to the welding class.
    let mut h = Hearth::open(dir.path(), Env::system()).unwrap();
    h.kiosk_sign_in(ana, "1111").unwrap();
    h.kiosk_sign_out(hearth_protocol::SignOutReason::Requested)
        .unwrap();
    let device = h.device().id;
    let enrollment = h.enrollment().unwrap().unwrap();
    let transport = HttpTransport::new(&enrollment).unwrap();
    let h = Mutex::new(h);
    let first = sync_round(&h, &transport, &enrollment.anchor_key, 100)
        .await
        .unwrap();
    assert_eq!(first.rejected, 0, "{first:?}");

    let out = service
        .admin(&[
            "set-kiosk-classes",
            "--device",
            &device.to_string(),
            "--class",
            &welding,
        ])
        .unwrap();
    assert!(out.contains(&welding), "{out}");
    let round = sync_round(&h, &transport, &enrollment.anchor_key, 100)
        .await
        .unwrap();
    assert!(round.roster_refreshed, "{round:?}");
    assert_eq!(
        names(&verifiers_in_file(dir.path())),
        ["李老师", "赵六"],
        "the removed class's verifiers are gone from the file"
    );
    // Ana's study stays on the kiosk (her receipts name her) but she cannot sign in here any
    // more; Bo, who recorded nothing here, is gone altogether.
    let mut h = h.into_inner().unwrap();
    assert_eq!(
        h.kiosk_sign_in(ana, "1111").unwrap_err().code(),
        "kiosk.no_pin"
    );
    let db = rusqlite::Connection::open_with_flags(
        dir.path().join("hearth.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let people: Vec<String> = db
        .prepare("SELECT display_name FROM learners ORDER BY display_name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(people.contains(&"安娜".to_string()), "{people:?}");
    assert!(!people.contains(&"博文".to_string()), "{people:?}");
}
