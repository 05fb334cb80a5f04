//! Trainer mode on kiosks, as the service sees it: rosters name each person's classes (and the
//! classroom tag follows them), a trainer's `class_assigned` receipt becomes the class's
//! assignment exactly once, anyone else's does not, and a kiosk may watch a class's progress
//! while a personal device may not.

mod common;

use common::*;
use hearth_protocol::receipt::class_assignment_id;
use hearth_protocol::wire::{AnchorJson, AssignmentJson, RosterEntry, UploadResponse};
use hearth_protocol::{ClassId, CourseId, Event, ExamId, LearnerId, LessonId};
use uuid::Uuid;

/// A kiosk (or device) with key `seed` writing in `learner`'s name, anchored by its enrollment.
fn device(seed: u8, learner: LearnerId, anchor: &AnchorJson) -> ReceiptWriter {
    let mut d = ReceiptWriter::new(seed, learner);
    d.take_anchor(anchor);
    d
}

fn assigned(class: Uuid, lesson: Option<&str>, exam: Option<&str>, due: Option<i64>) -> Event {
    Event::ClassAssigned {
        class: ClassId(class),
        course: CourseId::new("electrician-safety").unwrap(),
        lesson: lesson.map(|l| LessonId::new(l).unwrap()),
        exam: exam.map(|e| ExamId::new(e).unwrap()),
        due_wall_ms: due,
    }
}

fn results(body: serde_json::Value) -> String {
    serde_json::from_value::<UploadResponse>(body)
        .unwrap()
        .results
}

async fn class_assignments(w: &World, class: Uuid) -> Vec<AssignmentJson> {
    let (s, list) = w
        .get(&format!("/v1/classes/{class}/assignments"), &w.trainer_a)
        .await;
    assert_eq!(s, 200, "{list}");
    serde_json::from_value(list).unwrap()
}

fn user_id(w: &World, name: &str) -> Uuid {
    w.svc
        .store
        .users_of_org(w.org_a)
        .unwrap()
        .into_iter()
        .find(|u| u.name == name)
        .unwrap()
        .id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trainers_class_assigned_receipt_creates_the_assignment_once() {
    let w = World::new().await;
    let e = w.enroll(w.org_a, None, &key(40)).await;
    let mut kiosk = device(40, LearnerId(w.trainer_a_id), &e.anchor);
    // A lesson due before the receipt arrives (allowed: the kiosk may have been offline), and
    // an exam started "now" (no due date).
    let (lesson_env, lesson_id) =
        kiosk.next_with_id(1_000, assigned(w.class_a, Some("l1"), None, Some(T0)));
    let (exam_env, exam_id) =
        kiosk.next_with_id(1_000, assigned(w.class_a, None, Some("final"), None));
    let batch = vec![lesson_env, exam_env];
    w.clock.advance(86_400_000);
    let (s, body) = w.upload(&e.credential, &batch).await;
    assert_eq!(s, 200);
    assert_eq!(results(body), "AA");

    let list = class_assignments(&w, w.class_a).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let lesson = list.iter().find(|a| a.lesson.is_some()).unwrap();
    assert_eq!(lesson.id, class_assignment_id(lesson_id).to_string());
    assert_eq!(lesson.class_id, w.class_a.to_string());
    assert_eq!(lesson.course, "electrician-safety");
    assert_eq!(lesson.lesson.as_deref(), Some("l1"));
    assert_eq!(lesson.due_ms, Some(T0), "a past due date is kept");
    assert_eq!(
        lesson.created_ms,
        T0 + 1_000,
        "the kiosk's time of the assignment"
    );
    let exam = list.iter().find(|a| a.exam.is_some()).unwrap();
    assert_eq!(exam.id, class_assignment_id(exam_id).to_string());
    assert_eq!(exam.exam.as_deref(), Some("final"));
    assert_eq!(exam.due_ms, None);

    // The kiosk (and the class's learners) pull them.
    let (s, pulled) = w.get("/v1/assignments", &e.credential).await;
    assert_eq!(s, 200);
    let pulled: Vec<AssignmentJson> = serde_json::from_value(pulled).unwrap();
    assert_eq!(pulled.len(), 2);

    // Sent again: duplicates, and no second assignment.
    let (_, body) = w.upload(&e.credential, &batch).await;
    assert_eq!(results(body), "DD");
    assert_eq!(class_assignments(&w, w.class_a).await, list);
}

/// A receipt held back by a gap creates its assignment when the gap is filled (the receipts are
/// applied when they join the chain, whichever way they join it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_assigned_receipt_after_a_gap_applies_when_the_gap_fills() {
    let w = World::new().await;
    let e = w.enroll(w.org_a, None, &key(41)).await;
    let mut kiosk = device(41, LearnerId(w.trainer_a_id), &e.anchor);
    let (first, _) = kiosk.next_with_id(
        1_000,
        Event::LearnerSignedIn {
            method: hearth_protocol::SignInMethod::Pin,
        },
    );
    let (second, id) = kiosk.next_with_id(1_000, assigned(w.class_a, Some("l2"), None, None));
    let (_, body) = w.upload(&e.credential, std::slice::from_ref(&second)).await;
    assert_eq!(results(body), "P");
    assert!(class_assignments(&w, w.class_a).await.is_empty());
    let (_, body) = w.upload(&e.credential, &[first]).await;
    assert_eq!(results(body), "A");
    let list = class_assignments(&w, w.class_a).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0].id, class_assignment_id(id).to_string());
    let (_, body) = w.upload(&e.credential, &[second]).await;
    assert_eq!(results(body), "D");
    assert_eq!(class_assignments(&w, w.class_a).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_assigned_receipt_of_anyone_but_the_classs_trainer_creates_nothing() {
    let w = World::new().await;
    let other_trainer = user_id(&w, "李老师");
    let e = w.enroll(w.org_a, None, &key(42)).await;
    // Another trainer of the organisation, and a learner, on a kiosk.
    for (seed, who) in [
        (42, LearnerId(other_trainer)),
        (43, w.learner_a1),
        (44, LearnerId(w.trainer_a_id)),
    ] {
        let (enrolled, learner) = match seed {
            42 => (e.clone(), who),
            // The class's trainer, but on a personal device (trainers sign in on kiosks only).
            44 => (w.enroll(w.org_a, Some(w.learner_a1), &key(seed)).await, who),
            _ => (w.enroll(w.org_a, None, &key(seed)).await, who),
        };
        let mut dev = device(seed, learner, &enrolled.anchor);
        let (env, _) = dev.next_with_id(1_000, assigned(w.class_a, Some("l1"), None, None));
        let (s, body) = w.upload(&enrolled.credential, &[env]).await;
        assert_eq!(s, 200);
        assert_eq!(
            results(body),
            "A",
            "a valid receipt is kept in the chain, whoever signed it"
        );
        assert!(
            class_assignments(&w, w.class_a).await.is_empty(),
            "no assignment from device {seed}"
        );
    }
    // The class's trainer on a kiosk of another organisation.
    let b = w.enroll(w.org_b, None, &key(45)).await;
    let mut dev = device(45, LearnerId(w.trainer_a_id), &b.anchor);
    let (env, _) = dev.next_with_id(1_000, assigned(w.class_a, Some("l1"), None, None));
    let (_, body) = w.upload(&b.credential, &[env]).await;
    assert_eq!(results(body), "A");
    assert!(class_assignments(&w, w.class_a).await.is_empty());
    // An unknown class.
    let unknown = w.enroll(w.org_a, None, &key(46)).await;
    let mut dev = device(46, LearnerId(w.trainer_a_id), &unknown.anchor);
    let (env, _) = dev.next_with_id(1_000, assigned(Uuid::from_u128(99), Some("l1"), None, None));
    let (_, body) = w.upload(&unknown.credential, &[env]).await;
    assert_eq!(results(body), "A");
    assert!(w.svc.store.assignments(w.org_a, None).unwrap().is_empty());
    assert!(w.svc.store.assignments(w.org_b, None).unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_reads_class_progress_a_personal_device_cannot() {
    let w = World::new().await;
    let path = format!("/v1/classes/{}/progress", w.class_a);
    let kiosk = w.enroll(w.org_a, None, &key(50)).await;
    let (s, progress) = w.get(&path, &kiosk.credential).await;
    assert_eq!(s, 200, "{progress}");
    let progress: hearth_protocol::wire::ClassProgress = serde_json::from_value(progress).unwrap();
    assert_eq!(progress.class_id, w.class_a.to_string());
    assert_eq!(progress.name, "电工一班");
    assert_eq!(progress.learners.len(), 1);
    assert_eq!(progress.learners[0].learner_id, w.learner_a1);

    let personal = w.enroll(w.org_a, Some(w.learner_a1), &key(51)).await;
    let (s, body) = w.get(&path, &personal.credential).await;
    assert_eq!((s, body["code"].as_str()), (403, Some("auth.forbidden")));
    let foreign = w.enroll(w.org_b, None, &key(52)).await;
    let (s, body) = w.get(&path, &foreign.credential).await;
    // Another organisation's class is answered like one that does not exist.
    assert_eq!((s, body["code"].as_str()), (404, Some("class.not_found")));
    // Reading is all a kiosk may do over HTTP: assigning stays with users.
    let res = w
        .http
        .post(w.url(&format!("/v1/classes/{}/assignments", w.class_a)))
        .bearer_auth(&kiosk.credential)
        .json(&serde_json::json!({"course": "electrician-safety"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let (s, _) = w
        .get(
            &format!("/v1/classes/{}/assignments", w.class_a),
            &kiosk.credential,
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rosters_name_classes_and_the_classroom_tag_follows_them() {
    let w = World::new().await;
    let kiosk = w.enroll_kiosk(w.org_a, &[w.class_a], &key(60)).await;
    let entry = |roster: &[RosterEntry], id: Uuid| {
        roster
            .iter()
            .find(|p| p.learner_id.0 == id)
            .cloned()
            .expect("on the roster")
    };
    let class_a = hearth_protocol::wire::ClassRef {
        id: ClassId(w.class_a),
        name: "电工一班".into(),
    };
    assert_eq!(
        entry(&kiosk.roster, w.trainer_a_id).classes,
        vec![class_a.clone()]
    );
    assert_eq!(
        entry(&kiosk.roster, w.learner_a1.0).classes,
        vec![class_a.clone()]
    );
    assert_eq!(kiosk.roster.len(), 2, "nobody outside the kiosk's class");
    // A personal device's roster names its learner's class; a learner of no class has none,
    // absent from the JSON, so older clients read the same bytes as before.
    let personal = w.enroll(w.org_a, Some(w.learner_a1), &key(61)).await;
    assert_eq!(personal.roster.len(), 1);
    assert_eq!(personal.roster[0].classes, vec![class_a.clone()]);
    let no_class = w.enroll(w.org_a, Some(w.learner_a2), &key(62)).await;
    let (_, raw) = w.get("/v1/roster", &no_class.credential).await;
    let a2 = &raw.as_array().unwrap()[0];
    assert_eq!(a2["learnerId"], w.learner_a2.to_string());
    assert!(a2.get("classes").is_none(), "{a2}");

    let tag = || async {
        let (s, st) = w.get("/v1/sync/state", &kiosk.credential).await;
        assert_eq!(s, 200);
        st["classroomTag"].as_str().unwrap().to_owned()
    };
    let t0 = tag().await;
    assert_eq!(tag().await, t0, "nothing changed");
    let new = w.svc.add_class(w.trainer_a_id, "焊工班").unwrap();
    assert_eq!(tag().await, t0, "a class the kiosk does not serve");
    let kiosk_id = kiosk.device_id;
    w.svc
        .set_kiosk_classes(None, kiosk_id, &[w.class_a, new.id])
        .unwrap();
    let t1 = tag().await;
    assert_ne!(t1, t0, "a class linked to the kiosk");
    let (_, roster) = w.get("/v1/roster", &kiosk.credential).await;
    let roster: Vec<RosterEntry> = serde_json::from_value(roster).unwrap();
    assert_eq!(entry(&roster, w.trainer_a_id).classes.len(), 2);
    // Renamed (there is no rename call yet; an operator's SQL does it).
    let sql = format!(
        "UPDATE classes SET name = '焊工二班' WHERE id = '{}'",
        new.id
    );
    common::db::operator_sql(w.dir.path(), &sql, &sql);
    let t2 = tag().await;
    assert_ne!(t2, t1, "a class renamed");
    let (_, roster) = w.get("/v1/roster", &kiosk.credential).await;
    let roster: Vec<RosterEntry> = serde_json::from_value(roster).unwrap();
    assert!(
        entry(&roster, w.trainer_a_id)
            .classes
            .iter()
            .any(|c| c.name == "焊工二班")
    );
}

/// Issue #16: a kiosk holds the PIN verifiers of its classes' learners and of the trainers who
/// run them, nobody else's; a kiosk of no class holds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_gets_the_verifiers_of_its_classes_only() {
    let w = World::new().await;
    let other_trainer = user_id(&w, "李老师");
    w.svc.set_pin(other_trainer, "9753").unwrap();
    w.svc.set_pin(w.trainer_a_id, "2468").unwrap();
    w.svc.set_pin(w.learner_a2.0, "4321").unwrap();
    let welding = w.svc.add_class(other_trainer, "焊工班").unwrap().id;
    let welder = w
        .svc
        .add_learner(
            w.org_a,
            "赵六",
            "110101199003076666",
            Some(welding),
            Some("5555"),
        )
        .unwrap()
        .id;
    let ids = |roster: &[RosterEntry]| {
        let mut v: Vec<Uuid> = roster.iter().map(|p| p.learner_id.0).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<Uuid>| {
        v.sort();
        v
    };
    let electric = w.enroll_kiosk(w.org_a, &[w.class_a], &key(70)).await;
    assert_eq!(
        ids(&electric.roster),
        sorted(vec![w.learner_a1.0, w.trainer_a_id])
    );
    assert!(electric.roster.iter().all(|p| p.pin_hash.is_some()));
    let both = w
        .enroll_kiosk(w.org_a, &[welding, w.class_a, welding], &key(71))
        .await;
    assert_eq!(
        ids(&both.roster),
        sorted(vec![
            w.learner_a1.0,
            w.trainer_a_id,
            welder.0,
            other_trainer
        ])
    );
    // A trainer is listed with the classes they run here, not their others.
    let bare = w.enroll(w.org_a, None, &key(72)).await;
    assert!(bare.roster.is_empty(), "a kiosk of no class gets nobody");
    let (s, roster) = w.get("/v1/roster", &bare.credential).await;
    assert_eq!((s, roster), (200, serde_json::json!([])));
    // Learner a2 (no class) and anyone of the other organisation are on no kiosk's roster.
    for e in [&electric, &both] {
        assert!(!e.roster.iter().any(|p| p.learner_id == w.learner_a2));
        assert!(!e.roster.iter().any(|p| p.learner_id == w.learner_b1));
    }
}

/// An administrator links a kiosk's classes over HTTP (and issues kiosk codes naming them), only
/// in their own organisation; the kiosk's next roster follows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn administrators_link_a_kiosks_classes_within_their_organisation() {
    let w = World::new().await;
    let send = |method: reqwest::Method, path: String, token: &str, body: serde_json::Value| {
        let req = w
            .http
            .request(method, w.url(&path))
            .bearer_auth(token)
            .json(&body);
        async move {
            let res = req.send().await.unwrap();
            let s = res.status().as_u16();
            (s, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    // A kiosk code naming a class, over HTTP.
    let (s, issued) = send(
        reqwest::Method::POST,
        "/v1/admin/enrollment-codes".into(),
        &w.admin_a,
        serde_json::json!({"classIds": [w.class_a], "hours": 2}),
    )
    .await;
    assert_eq!(s, 201, "{issued}");
    assert_eq!(issued["classIds"], serde_json::json!([w.class_a]));
    assert!(issued.get("warning").is_none());
    assert_eq!(issued["expiresMs"], T0 + 2 * 3_600_000);
    // Without classes: issued, with the warning.
    let (s, bare) = send(
        reqwest::Method::POST,
        "/v1/admin/enrollment-codes".into(),
        &w.admin_a,
        serde_json::json!({}),
    )
    .await;
    assert_eq!(
        (s, bare["warning"].as_str()),
        (201, Some("kiosk.no_classes"))
    );
    // Refused: a class of another organisation (answered like an unknown one), a learner and
    // classes together, a trainer's token, hours out of range.
    let b_trainer = w
        .svc
        .add_user(w.org_b, hearth_server::store::Role::Trainer, "B")
        .unwrap()
        .0;
    let class_b = w.svc.add_class(b_trainer.id, "B班").unwrap().id;
    for (token, body, status, code) in [
        (
            &w.admin_a,
            serde_json::json!({"classIds": [class_b]}),
            404,
            "class.not_found",
        ),
        (
            &w.admin_a,
            serde_json::json!({"classIds": [Uuid::from_u128(9)]}),
            404,
            "class.not_found",
        ),
        (
            &w.admin_a,
            serde_json::json!({"classIds": [w.class_a], "learnerId": w.learner_a1}),
            400,
            "enrollment.invalid",
        ),
        (
            &w.admin_a,
            serde_json::json!({"learnerId": w.learner_b1}),
            404,
            "learner.not_found",
        ),
        (
            &w.trainer_a,
            serde_json::json!({"classIds": [w.class_a]}),
            403,
            "auth.forbidden",
        ),
        (
            &w.admin_a,
            serde_json::json!({"hours": 0}),
            400,
            "enrollment.invalid_hours",
        ),
    ] {
        let (s, b) = send(
            reqwest::Method::POST,
            "/v1/admin/enrollment-codes".into(),
            token,
            body.clone(),
        )
        .await;
        assert_eq!((s, b["code"].as_str()), (status, Some(code)), "{body}");
    }
    assert_eq!(
        w.svc
            .issue_kiosk_code(w.org_a, &[class_b], None)
            .unwrap_err()
            .code(),
        "auth.wrong_org",
        "the domain (and the CLI) name the reason"
    );

    let code = issued["code"].as_str().unwrap().to_owned();
    let k = key(80);
    let res = w
        .http
        .post(w.url("/v1/enroll"))
        .json(&hearth_protocol::wire::EnrollRequest {
            code,
            public_key: public(&k),
            device_id: device_of(&k),
            label: None,
        })
        .send()
        .await
        .unwrap();
    let kiosk: hearth_protocol::wire::EnrollResponse = res.json().await.unwrap();
    assert_eq!(kiosk.roster.len(), 2, "the class's learner and trainer");
    let path = format!("/v1/admin/devices/{}/classes", kiosk.device_id);
    let (s, now) = w.get(&path, &w.admin_a).await;
    assert_eq!(
        (s, &now["classIds"]),
        (200, &serde_json::json!([w.class_a]))
    );

    // The administrator moves the kiosk to another class: its roster follows at once.
    let welding = w.svc.add_class(w.trainer_a_id, "焊工班").unwrap().id;
    let welder = w
        .svc
        .add_learner(
            w.org_a,
            "赵六",
            "110101199003076666",
            Some(welding),
            Some("5555"),
        )
        .unwrap()
        .id;
    let (s, set) = send(
        reqwest::Method::PUT,
        path.clone(),
        &w.admin_a,
        serde_json::json!({"classIds": [welding]}),
    )
    .await;
    assert_eq!(
        (s, &set["classIds"]),
        (200, &serde_json::json!([welding])),
        "{set}"
    );
    let (_, roster) = w.get("/v1/roster", &kiosk.credential).await;
    let roster: Vec<RosterEntry> = serde_json::from_value(roster).unwrap();
    let mut ids: Vec<Uuid> = roster.iter().map(|p| p.learner_id.0).collect();
    ids.sort();
    let mut want = vec![welder.0, w.trainer_a_id];
    want.sort();
    assert_eq!(ids, want, "the learner of the old class is gone");
    // None: an empty roster, with the warning.
    let (s, none) = send(
        reqwest::Method::PUT,
        path.clone(),
        &w.admin_a,
        serde_json::json!({"classIds": []}),
    )
    .await;
    assert_eq!(
        (s, none["warning"].as_str()),
        (200, Some("kiosk.no_classes"))
    );
    let (_, roster) = w.get("/v1/roster", &kiosk.credential).await;
    assert_eq!(roster, serde_json::json!([]));

    // Refused: another organisation's administrator (the kiosk is not found for them), a class
    // of another organisation, a trainer, a personal device, an unknown device.
    let personal = w.enroll(w.org_a, Some(w.learner_a1), &key(81)).await;
    for (token, path, body, status, code) in [
        (
            &w.admin_b,
            path.clone(),
            serde_json::json!({"classIds": [class_b]}),
            404,
            "device.not_found",
        ),
        (
            &w.admin_a,
            path.clone(),
            serde_json::json!({"classIds": [class_b]}),
            404,
            "class.not_found",
        ),
        (
            &w.trainer_a,
            path.clone(),
            serde_json::json!({"classIds": [w.class_a]}),
            403,
            "auth.forbidden",
        ),
        (
            &w.admin_a,
            format!("/v1/admin/devices/{}/classes", personal.device_id),
            serde_json::json!({"classIds": [w.class_a]}),
            409,
            "kiosk.personal_device",
        ),
        (
            &w.admin_a,
            format!("/v1/admin/devices/{}/classes", Uuid::from_u128(5)),
            serde_json::json!({"classIds": []}),
            404,
            "device.not_found",
        ),
        (
            &w.admin_a,
            "/v1/admin/devices/x/classes".into(),
            serde_json::json!({"classIds": []}),
            400,
            "kiosk.invalid_device_id",
        ),
    ] {
        let (s, b) = send(reqwest::Method::PUT, path.clone(), token, body.clone()).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (status, Some(code)),
            "{path} {body}"
        );
    }
    assert!(
        w.svc
            .store
            .kiosk_classes(kiosk.device_id)
            .unwrap()
            .is_empty(),
        "nothing refused was stored"
    );
    let too_many: Vec<Uuid> = (0..65).map(|_| welding).collect();
    let (s, b) = send(
        reqwest::Method::PUT,
        path.clone(),
        &w.admin_a,
        serde_json::json!({"classIds": too_many}),
    )
    .await;
    assert_eq!(
        (s, b["classIds"].clone()),
        (200, serde_json::json!([welding])),
        "repeats count once"
    );
}
