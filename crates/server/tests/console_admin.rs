//! Issue #15, items 3 and 4: the administrator's and trainer's console pages' API through a real
//! socket, on a service where learners really studied (a certificate issued from a whole course
//! done honestly, a device forked from a copied data folder): published courses, class progress
//! and assignments, certificates (list, PDF, revoke with a reason), flags with a resolution that
//! stays visible and changes no credit; every route across roles and organisations, CSRF, and
//! the audit log of every action.

mod common;

use std::time::Duration;

use common::T0;
use common::console::Session;
use common::lab::*;
use hearth_protocol::LearnerId;
use hearth_server::Limits;
use hearth_server::store::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

/// The lab (one organisation: 王老师's class of three, learner 0 certified, learner 1's PC
/// forked), its administrator, a second trainer, a second organisation with its administrator
/// and a class, and the service on a socket.
struct Site {
    lab: Lab,
    server: hearth_server::Running,
    http: reqwest::Client,
    class_b: Uuid,
    admin_a: Uuid,
}

impl Site {
    async fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let lab = certified_lab(3, 1);
        // Learner 1's PC is copied (a restored backup) and both copies record: a fork.
        let l = lab.learners[1];
        let mut d = forked_personal_pc(&lab, 2, l);
        // What the device records while flagged is withheld.
        lab.advance(10);
        d.wait(10);
        let later = honest(&lab, &mut d, 3, long_study);
        lab.send(&d, later);

        let svc = &lab.svc;
        let (admin, _) = svc.add_user(lab.org, Role::Admin, "管理员甲").unwrap();
        let (other, _) = svc.add_user(lab.org, Role::Trainer, "李老师").unwrap();
        let org_b = svc.create_org("Town school B").unwrap().id;
        let (admin_b, _) = svc.add_user(org_b, Role::Admin, "Admin B").unwrap();
        let (trainer_b, _) = svc.add_user(org_b, Role::Trainer, "赵老师").unwrap();
        let class_b = svc.add_class(trainer_b.id, "焊工班").unwrap().id;
        svc.set_password(admin.id, "admin-a", PASSWORD).unwrap();
        svc.set_password(lab.trainer, "wang", PASSWORD).unwrap();
        svc.set_password(other.id, "li-laoshi", PASSWORD).unwrap();
        svc.set_password(admin_b.id, "admin-b", PASSWORD).unwrap();
        svc.set_password(trainer_b.id, "zhao", PASSWORD).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = hearth_server::spawn(listener, svc.clone(), Limits::default()).unwrap();
        Site {
            lab,
            server,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            class_b,
            admin_a: admin.id,
        }
    }

    async fn sign_in(&self, login: &str) -> Session {
        common::console::sign_in(
            &self.http,
            self.server.url("/console/api/sign-in"),
            login,
            PASSWORD,
        )
        .await
    }

    /// A request with the session's cookie; `csrf`: with its anti-forgery header.
    async fn call_raw(
        &self,
        method: &str,
        path: &str,
        who: Option<&Session>,
        csrf: bool,
        body: Option<Value>,
    ) -> (u16, String, Vec<u8>) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.server.url(path));
        if let Some(s) = who {
            req = req.header("cookie", &s.cookie);
            if csrf {
                req = req.header("x-csrf-token", &s.csrf);
            }
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let ct = res
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, res.bytes().await.unwrap().to_vec())
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: &Session,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, _, b) = self.call_raw(method, path, Some(who), true, body).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    fn serial(&self) -> String {
        self.lab
            .svc
            .store
            .certificates_of_learner(self.lab.learners[0])
            .unwrap()[0]
            .serial
            .clone()
    }

    fn audit_actions(&self) -> Vec<(String, String)> {
        self.lab
            .svc
            .store
            .audit_entries(self.lab.org, 0, 1000)
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.detail))
            .collect()
    }
}

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_new_route_keeps_to_the_role_the_class_and_the_organisation() {
    let site = Site::new().await;
    let admin = site.sign_in("admin-a").await;
    let trainer = site.sign_in("wang").await;
    let other_trainer = site.sign_in("li-laoshi").await;
    let admin_b = site.sign_in("admin-b").await;
    let trainer_b = site.sign_in("zhao").await;
    let class_a = site.lab.class;
    let serial = site.serial();
    let fork_key = {
        let (s, flags) = site.call("GET", "/console/api/flags", &admin, None).await;
        assert_eq!(s, 200, "{flags}");
        flags
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "fork")
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    // Reads: (path, admin A, trainer of the class, another trainer, admin B, trainer B).
    let progress = format!("/console/api/classes/{class_a}/progress");
    let assignments = format!("/console/api/classes/{class_a}/assignments");
    let pdf = format!("/console/api/certificates/{serial}/pdf");
    let reads: [(&str, [u16; 5]); 6] = [
        ("/console/api/courses", [200, 200, 200, 200, 200]),
        (&progress, [200, 200, 403, 404, 404]),
        (&assignments, [200, 200, 403, 404, 404]),
        ("/console/api/certificates", [200, 403, 403, 200, 403]),
        (&pdf, [200, 403, 403, 404, 403]),
        ("/console/api/flags", [200, 403, 403, 200, 403]),
    ];
    let people = [&admin, &trainer, &other_trainer, &admin_b, &trainer_b];
    for (path, want) in reads {
        for (who, want) in people.iter().zip(want) {
            let (s, _, body) = site.call_raw("GET", path, Some(who), false, None).await;
            assert_eq!(s, want, "GET {path}: {}", String::from_utf8_lossy(&body));
        }
        let (s, _, _) = site.call_raw("GET", path, None, false, None).await;
        assert_eq!(s, 401, "GET {path} without a session");
    }
    // Organisation B's lists hold nothing of A's.
    let (_, certs_b) = site
        .call("GET", "/console/api/certificates", &admin_b, None)
        .await;
    assert_eq!(certs_b, json!([]));
    let (_, flags_b) = site.call("GET", "/console/api/flags", &admin_b, None).await;
    assert_eq!(flags_b, json!([]));
    // B's trainer's own class is theirs to read; A's administrator cannot read it either.
    let progress_b = format!("/console/api/classes/{}/progress", site.class_b);
    assert_eq!(site.call("GET", &progress_b, &trainer_b, None).await.0, 200);
    assert_eq!(site.call("GET", &progress_b, &admin, None).await.0, 404);

    // Writes: nobody but A's administrator, and never without the session's CSRF token.
    let revoke = format!("/console/api/certificates/{serial}/revoke");
    let writes = [
        (revoke.as_str(), json!({ "reason": "证书信息有误" })),
        (
            "/console/api/flags/resolve",
            json!({ "key": fork_key, "note": "已当面核实" }),
        ),
    ];
    for (path, body) in &writes {
        for who in [&trainer, &other_trainer, &trainer_b] {
            let (s, b) = site.call("POST", path, who, Some(body.clone())).await;
            assert_eq!((s, code(&b)), (403, "auth.forbidden"), "POST {path}");
        }
        let (s, b) = site.call("POST", path, &admin_b, Some(body.clone())).await;
        assert_eq!(s, 404, "org B's administrator: POST {path}: {b}");
        let (s, _, b) = site
            .call_raw("POST", path, Some(&admin), false, Some(body.clone()))
            .await;
        let b: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            (s, code(&b)),
            (403, "console.csrf"),
            "POST {path} without CSRF"
        );
        // A's cookie with B's token: still refused.
        let forged = Session {
            cookie: admin.cookie.clone(),
            csrf: admin_b.csrf.clone(),
        };
        let (s, b) = site.call("POST", path, &forged, Some(body.clone())).await;
        assert_eq!(
            (s, code(&b)),
            (403, "console.csrf"),
            "POST {path} with B's token"
        );
        let (s, _, _) = site
            .call_raw("POST", path, None, false, Some(body.clone()))
            .await;
        assert_eq!(s, 401);
    }
    // Nothing of the above changed anything.
    assert!(
        site.lab
            .svc
            .store
            .flag_resolutions(site.lab.org)
            .unwrap()
            .is_empty()
    );
    let (_, certs) = site
        .call("GET", "/console/api/certificates", &admin, None)
        .await;
    assert!(certs[0].get("revokedMs").is_none(), "{certs}");
    // And A's administrator may.
    for (path, body) in writes {
        let (s, b) = site.call("POST", path, &admin, Some(body)).await;
        assert_eq!(s, 200, "POST {path}: {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_is_resolved_with_a_note_that_stays_visible_and_changes_no_credit() {
    let site = Site::new().await;
    let admin = site.sign_in("admin-a").await;
    let (s, flags) = site.call("GET", "/console/api/flags", &admin, None).await;
    assert_eq!(s, 200);
    let flags = flags.as_array().unwrap().clone();
    let kinds: Vec<&str> = flags.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"fork"), "{kinds:?}");
    assert!(kinds.contains(&"withheld"), "{kinds:?}");
    assert!(flags.iter().all(|f| f.get("resolution").is_none()));
    let fork = flags.iter().find(|f| f["kind"] == "fork").unwrap();
    let key = fork["key"].as_str().unwrap().to_owned();
    // The forked PC is learner 1's own: the flag names them.
    assert_eq!(fork["names"], json!(["学员1"]), "{fork}");
    let learner = site.lab.learners[1];
    let before = site.lab.record(learner);
    let withheld_before = site.lab.withheld(learner, "device.flagged");
    assert!(withheld_before > 0);

    // A note is needed, and the key must name one of the organisation's flags.
    let (s, b) = site
        .call(
            "POST",
            "/console/api/flags/resolve",
            &admin,
            Some(json!({ "key": key, "note": "  " })),
        )
        .await;
    assert_eq!((s, code(&b)), (400, "flag.invalid_note"));
    let (s, b) = site
        .call(
            "POST",
            "/console/api/flags/resolve",
            &admin,
            Some(json!({ "key": "fork:nothing", "note": "x" })),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "flag.not_found"));

    site.lab.advance(5_000);
    let (s, b) = site
        .call(
            "POST",
            "/console/api/flags/resolve",
            &admin,
            Some(json!({ "key": key, "note": "学员恢复了备份；已当面核实" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["resolution"]["note"], "学员恢复了备份；已当面核实");
    assert_eq!(b["resolution"]["byName"], "管理员甲");
    assert_eq!(b["resolution"]["by"], site.admin_a.to_string());
    let at = b["resolution"]["resolvedMs"].as_i64().unwrap();
    assert_eq!(at, site.lab.now());
    assert!(at > T0);

    // Still listed, now resolved; the others are not.
    let (_, after) = site.call("GET", "/console/api/flags", &admin, None).await;
    let after = after.as_array().unwrap();
    assert_eq!(after.len(), flags.len());
    for f in after {
        assert_eq!(
            f.get("resolution").is_some(),
            f["key"] == key.as_str(),
            "{f}"
        );
    }
    // Credit is what it was: the fork flag still withholds, nothing was derived again.
    assert_eq!(site.lab.record(learner), before);
    assert_eq!(
        site.lab.withheld(learner, "device.flagged"),
        withheld_before
    );
    assert!(
        site.lab
            .svc
            .flags_report(site.lab.org, None, None)
            .unwrap()
            .devices[0]
            .resolved
            .is_none()
    );
    // Once only.
    let (s, b) = site
        .call(
            "POST",
            "/console/api/flags/resolve",
            &admin,
            Some(json!({ "key": key, "note": "again" })),
        )
        .await;
    assert_eq!((s, code(&b)), (409, "flag.already_resolved"));
    // The audit log says who resolved what, and the chain holds.
    let audit = site.audit_actions();
    let resolves: Vec<_> = audit.iter().filter(|(a, _)| a == "flag.resolve").collect();
    assert_eq!(resolves.len(), 1, "{audit:?}");
    assert!(resolves[0].1.contains(&key));
    let (s, v) = site
        .call("GET", "/console/api/audit/verify", &admin, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["intact"], true, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_listed_printed_and_revoked_with_a_reason() {
    let site = Site::new().await;
    let admin = site.sign_in("admin-a").await;
    let serial = site.serial();
    let (s, certs) = site
        .call("GET", "/console/api/certificates", &admin, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(certs.as_array().unwrap().len(), 1, "{certs}");
    assert_eq!(certs[0]["serial"], serial.as_str());
    assert_eq!(certs[0]["name"], "学员0");
    assert_eq!(certs[0]["course"], "electrician-safety");

    let (s, ct, pdf) = site
        .call_raw(
            "GET",
            &format!("/console/api/certificates/{serial}/pdf"),
            Some(&admin),
            false,
            None,
        )
        .await;
    assert_eq!((s, ct.as_str()), (200, "application/pdf"));
    assert!(pdf.starts_with(b"%PDF-"), "a PDF");
    let (s, b) = site
        .call(
            "GET",
            "/console/api/certificates/HC-NOSUCHONE/pdf",
            &admin,
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "certificate.not_found"));
    let (s, b) = site
        .call(
            "GET",
            "/console/api/certificates/bad$serial/pdf",
            &admin,
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (400, "certificate.invalid_serial"));

    let revoke = format!("/console/api/certificates/{serial}/revoke");
    let (s, b) = site
        .call("POST", &revoke, &admin, Some(json!({ "reason": "" })))
        .await;
    assert_eq!((s, code(&b)), (400, "certificate.invalid_reason"));
    site.lab.advance(1_000);
    let (s, b) = site
        .call(
            "POST",
            &revoke,
            &admin,
            Some(json!({ "reason": "考试代考，已查实" })),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (_, certs) = site
        .call("GET", "/console/api/certificates", &admin, None)
        .await;
    assert_eq!(certs[0]["revokedReason"], "考试代考，已查实");
    assert_eq!(certs[0]["revokedMs"], site.lab.now());
    // The public status list says so too.
    let revoked = site.lab.svc.issued_certificate(&serial).unwrap().revoked;
    assert!(revoked.is_some());
    let (s, b) = site
        .call("POST", &revoke, &admin, Some(json!({ "reason": "again" })))
        .await;
    assert_eq!((s, code(&b)), (409, "certificate.already_revoked"));

    let audit = site.audit_actions();
    let actions: Vec<&str> = audit.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "certificate.revoke")
            .count(),
        1,
        "{actions:?}"
    );
    assert!(actions.contains(&"certificate.print"), "{actions:?}");
    let detail = &audit
        .iter()
        .find(|(a, _)| a == "certificate.revoke")
        .unwrap()
        .1;
    assert!(
        detail.contains(&serial) && detail.contains("考试代考"),
        "{detail}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trainer_sees_their_class_its_progress_attestations_and_assignments() {
    let site = Site::new().await;
    let trainer = site.sign_in("wang").await;
    let (s, classes) = site
        .call("GET", "/console/api/classes", &trainer, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(classes.as_array().unwrap().len(), 1);
    assert_eq!(classes[0]["id"], site.lab.class.to_string());

    let (s, p) = site
        .call(
            "GET",
            &format!("/console/api/classes/{}/progress", site.lab.class),
            &trainer,
            None,
        )
        .await;
    assert_eq!(s, 200, "{p}");
    let learners = p["learners"].as_array().unwrap();
    assert_eq!(learners.len(), 3);
    // The certified learner's hours and passed exam, as the service derived them.
    let l0 = LearnerId(site.lab.learners[0].0);
    let rec = site.lab.record(l0);
    let row = learners
        .iter()
        .find(|l| l["learnerId"] == l0.to_string())
        .unwrap();
    assert_eq!(row["creditedMs"], rec.credited_ms);
    assert!(rec.credited_ms > 0);
    assert_eq!(row["certificates"].as_array().unwrap().len(), 1);
    assert!(p["attestations"].is_array());

    let path = format!("/console/api/classes/{}/assignments", site.lab.class);
    let (s, a) = site.call("GET", &path, &trainer, None).await;
    assert_eq!((s, a), (200, json!([])));
    // The trainer assigns the exam; another trainer may not, nor anyone without CSRF.
    let due = site.lab.now() + 7 * DAY;
    let new = json!({ "course": "electrician-safety", "exam": "final", "dueMs": due });
    let other = site.sign_in("li-laoshi").await;
    assert_eq!(
        site.call("POST", &path, &other, Some(new.clone())).await.0,
        403
    );
    let (s, _, _) = site
        .call_raw("POST", &path, Some(&trainer), false, Some(new.clone()))
        .await;
    assert_eq!(s, 403);
    let (s, b) = site
        .call(
            "POST",
            &path,
            &trainer,
            Some(json!({ "course": "no-such-course" })),
        )
        .await;
    assert_eq!((s, code(&b)), (400, "assignment.unknown_course"));
    let (s, made) = site.call("POST", &path, &trainer, Some(new)).await;
    assert_eq!(s, 201, "{made}");
    let (_, list) = site.call("GET", &path, &trainer, None).await;
    assert_eq!(list, json!([made]));
    assert_eq!(list[0]["dueMs"], due);
    assert!(
        site.audit_actions()
            .iter()
            .any(|(a, d)| a == "assignment.add" && d.contains("final")),
        "the audit log has the assignment"
    );

    // Published courses, with the occupation they train for.
    let (s, courses) = site
        .call("GET", "/console/api/courses", &trainer, None)
        .await;
    assert_eq!(s, 200);
    let courses = courses.as_array().unwrap();
    let c = courses
        .iter()
        .find(|c| c["course"] == "electrician-safety")
        .unwrap();
    let catalog = site.lab.svc.catalog().unwrap().0;
    let want = catalog
        .courses
        .iter()
        .find(|e| e.course.as_str() == "electrician-safety")
        .unwrap();
    assert_eq!(c["title"], want.title.as_str());
    assert_eq!(c["occupation"].as_str(), want.occupation.as_deref());
    assert_eq!(courses.len(), catalog.courses.len());
}

/// Issue #17 item 3: the class's card sheet (name, masked ID, QR code and its text) is issued by
/// the organisation's administrator only, audited without the cards' secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_card_sheet_is_issued_by_the_administrator_of_the_class_only() {
    let site = Site::new().await;
    let admin = site.sign_in("admin-a").await;
    let trainer = site.sign_in("wang").await;
    let admin_b = site.sign_in("admin-b").await;
    let path = format!("/console/api/classes/{}/cards", site.lab.class);
    let (s, b) = site.call("POST", &path, &trainer, Some(json!({}))).await;
    assert_eq!((s, code(&b)), (403, "auth.forbidden"));
    let (s, b) = site.call("POST", &path, &admin_b, Some(json!({}))).await;
    assert_eq!((s, code(&b)), (404, "class.not_found"));
    let (s, _, _) = site
        .call_raw("POST", &path, Some(&admin), false, Some(json!({})))
        .await;
    assert_eq!(s, 403, "no card sheet without the CSRF token");
    assert!(
        site.lab
            .svc
            .store
            .cards_of(site.lab.learners[0])
            .unwrap()
            .is_empty(),
        "refused requests issued nothing"
    );

    let (s, sheet) = site.call("POST", &path, &admin, Some(json!({}))).await;
    assert_eq!(s, 200, "{sheet}");
    let sheet = sheet.as_array().unwrap();
    assert_eq!(sheet.len(), 3);
    let mut secrets = Vec::new();
    for c in sheet {
        let card = hearth_protocol::card::Card::parse(c["cardText"].as_str().unwrap()).unwrap();
        assert_eq!(c["learnerId"], json!(card.learner.to_string()));
        assert_eq!(c["serial"], json!(1));
        let kept = site.lab.svc.store.cards_of(card.learner).unwrap();
        assert_eq!(
            kept.last().unwrap().secret,
            card.secret,
            "the service keeps S"
        );
        let masked = c["nationalIdMasked"].as_str().unwrap();
        assert!(
            masked.starts_with("****") && !masked.ends_with('*'),
            "{masked}"
        );
        assert!(c["qrSvg"].as_str().unwrap().starts_with("<svg"));
        secrets.push(hex::encode(card.secret));
    }
    let audit = site.audit_actions();
    let (_, detail) = audit.iter().find(|(a, _)| a == "cards.issue").unwrap();
    for s in &secrets {
        assert!(
            !detail.to_lowercase().contains(s),
            "no secret in the audit log"
        );
    }
}
