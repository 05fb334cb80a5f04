//! Issue #15: the console's API through a real socket — sign-in with argon2id passwords, the
//! session cookie, CSRF, lock-out (persisted across a restart), every route across roles and
//! organisations, the hash-chained audit log (editing or deleting an entry in the database is
//! found), roster import all or nothing, and enrollment codes for the printed sheet.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use hearth_protocol::wire::EnrollRequest;
use hearth_server::store::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A signed-in browser: its session cookie and anti-forgery token.
#[derive(Clone, Debug)]
struct Session {
    cookie: String,
    csrf: String,
}

fn user_id(w: &World, org: Uuid, role: Role) -> Uuid {
    w.svc
        .store
        .users_of_org(org)
        .unwrap()
        .into_iter()
        .find(|u| u.role == role)
        .unwrap()
        .id
}

/// Gives the administrators of both organisations and trainer 王老师 a console login.
fn passwords(w: &World) {
    let admin_a = user_id(w, w.org_a, Role::Admin);
    let admin_b = user_id(w, w.org_b, Role::Admin);
    w.svc.set_password(admin_a, "admin-a", PASSWORD).unwrap();
    w.svc.set_password(admin_b, "admin-b", PASSWORD).unwrap();
    w.svc
        .set_password(w.trainer_a_id, "wang", PASSWORD)
        .unwrap();
}

async fn sign_in_from(
    w: &World,
    http: &reqwest::Client,
    login: &str,
    password: &str,
) -> (u16, Value, Option<String>) {
    let res = http
        .post(w.url("/console/api/sign-in"))
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let cookie = res
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap_or(Value::Null), cookie)
}

async fn sign_in(w: &World, login: &str) -> Session {
    let (s, body, cookie) = sign_in_from(w, &w.http, login, PASSWORD).await;
    assert_eq!(s, 200, "{body}");
    let cookie = cookie.unwrap();
    let value = cookie.split(';').next().unwrap().to_owned();
    Session {
        cookie: value,
        csrf: body["csrfToken"].as_str().unwrap().to_owned(),
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Bearer(&'a str),
    /// The cookie, with the anti-forgery header.
    Browser(&'a Session),
    /// The cookie alone (a forged cross-site request).
    CookieOnly(&'a Session),
    /// The cookie with someone else's anti-forgery token.
    WrongCsrf(&'a Session, &'a Session),
}

async fn call(w: &World, method: &str, path: &str, who: As<'_>, body: Body) -> (u16, Value) {
    let mut req = w
        .http
        .request(method.parse().unwrap(), w.url(path))
        .timeout(Duration::from_secs(20));
    match who {
        As::Nobody => {}
        As::Bearer(t) => req = req.bearer_auth(t),
        As::Browser(s) => {
            req = req
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &s.csrf)
        }
        As::CookieOnly(s) => req = req.header("cookie", &s.cookie),
        As::WrongCsrf(s, other) => {
            req = req
                .header("cookie", &s.cookie)
                .header("x-csrf-token", &other.csrf)
        }
    }
    if let Some((ct, b)) = body {
        req = req.header("content-type", ct).body(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn json_body(v: Value) -> Body {
    Some(("application/json", serde_json::to_vec(&v).unwrap()))
}

fn csv_body(text: &str) -> Body {
    Some(("text/csv", text.as_bytes().to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_sets_a_strict_http_only_cookie_that_sign_out_ends() {
    let w = World::new().await;
    passwords(&w);
    // Wrong password and unknown login: one answer for both.
    let (s, b, c) = sign_in_from(&w, &w.http, "admin-a", "wrong password!").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("console.bad_credentials"))
    );
    assert!(c.is_none());
    let (s, b, _) = sign_in_from(&w, &w.http, "nobody", PASSWORD).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (401, Some("console.bad_credentials"))
    );

    // The login is not case-sensitive.
    let (s, body, cookie) = sign_in_from(&w, &w.http, "Admin-A", PASSWORD).await;
    assert_eq!(s, 200, "{body}");
    let cookie = cookie.unwrap();
    for attr in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/console",
        "Max-Age=28800",
    ] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["orgName"], "Village centre A");
    let token = cookie
        .split(';')
        .next()
        .unwrap()
        .strip_prefix("hearth_console=")
        .unwrap()
        .to_owned();
    // Only the token's hash is stored.
    let hash: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .try_into()
        .unwrap();
    let stored = w.svc.store.console_session(&hash).unwrap().unwrap();
    assert_ne!(&stored.hash[..], token.as_bytes());
    assert_eq!(stored.expires_ms, T0 + 8 * 3600 * 1000);
    // The password is an argon2id verifier with the stated parameters.
    let account = w.svc.store.console_account("admin-a").unwrap().unwrap();
    assert!(
        account
            .password_phc
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        account.password_phc
    );

    let s = Session {
        cookie: format!("hearth_console={token}"),
        csrf: body["csrfToken"].as_str().unwrap().to_owned(),
    };
    let (st, me) = call(&w, "GET", "/console/api/session", As::Browser(&s), None).await;
    assert_eq!(st, 200, "{me}");
    assert_eq!(
        me["csrfToken"], body["csrfToken"],
        "a reloaded page gets it back"
    );

    // Signing out needs the anti-forgery token too, and ends the session.
    let (st, _) = call(
        &w,
        "POST",
        "/console/api/sign-out",
        As::CookieOnly(&s),
        None,
    )
    .await;
    assert_eq!(st, 403);
    let (st, _) = call(&w, "POST", "/console/api/sign-out", As::Browser(&s), None).await;
    assert_eq!(st, 204);
    let (st, b) = call(&w, "GET", "/console/api/session", As::Browser(&s), None).await;
    assert_eq!((st, b["code"].as_str()), (401, Some("console.no_session")));

    // A session ends by itself after 8 hours.
    let s2 = sign_in(&w, "admin-a").await;
    w.clock.advance(8 * 3600 * 1000);
    let (st, b) = call(&w, "GET", "/console/api/session", As::Browser(&s2), None).await;
    assert_eq!(
        (st, b["code"].as_str()),
        (401, Some("console.session_expired"))
    );

    // A new password ends every open session of the person.
    w.clock.advance(1000);
    let s3 = sign_in(&w, "admin-a").await;
    let admin_a = user_id(&w, w.org_a, Role::Admin);
    w.svc
        .set_password(admin_a, "admin-a", "another long password")
        .unwrap();
    let (st, _) = call(&w, "GET", "/console/api/session", As::Browser(&s3), None).await;
    assert_eq!(st, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_is_secure_when_the_service_is_https() {
    let mut w = World::new().await;
    passwords(&w);
    w.stop().await;
    w.svc.config.public_url = "https://hearth.example.cn".into();
    w.start().await;
    let (s, _, cookie) = sign_in_from(&w, &w.http, "admin-a", PASSWORD).await;
    assert_eq!(s, 200);
    assert!(cookie.unwrap().contains("; Secure"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weak_passwords_bad_logins_and_taken_logins_are_refused() {
    let w = World::new().await;
    passwords(&w);
    let admin_b = user_id(&w, w.org_b, Role::Admin);
    let e = w.svc.set_password(admin_b, "admin-b", "short").unwrap_err();
    assert_eq!(e.code(), "console.weak_password");
    let e = w.svc.set_password(admin_b, "a b", PASSWORD).unwrap_err();
    assert_eq!(e.code(), "console.invalid_login");
    let e = w
        .svc
        .set_password(admin_b, "ADMIN-A", PASSWORD)
        .unwrap_err();
    assert_eq!(e.code(), "console.login_taken");
    // Admin A's password is still the one that works.
    sign_in(&w, "admin-a").await;
}

/// Every state-changing console route, with a body that would succeed.
/// A request body: its content type and bytes.
type Body = Option<(&'static str, Vec<u8>)>;

fn writes(w: &World) -> Vec<(&'static str, Body)> {
    vec![
        (
            "/console/api/learners",
            json_body(json!({"name": "吴十", "nationalId": "110105194912310046"})),
        ),
        (
            "/console/api/roster/preview",
            csv_body("姓名,身份证号\n赵六,440524188001010014\n"),
        ),
        (
            "/console/api/roster/import",
            csv_body("姓名,身份证号\n赵六,440524188001010014\n"),
        ),
        (
            "/console/api/classes",
            json_body(json!({"name": "焊工班", "trainerId": w.trainer_a_id})),
        ),
        (
            "/console/api/codes",
            json_body(json!({"learnerIds": [w.learner_a1], "kiosks": 1})),
        ),
        ("/console/api/sign-out", None),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_changing_request_needs_the_sessions_csrf_token() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    let other = sign_in(&w, "admin-b").await;
    let learners_before = w.svc.store.learners_of_org(w.org_a).unwrap().len();
    let classes_before = w.svc.store.classes_of_org(w.org_a).unwrap().len();
    for (path, body) in writes(&w) {
        let (s, b) = call(&w, "POST", path, As::CookieOnly(&admin), body.clone()).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("console.csrf")),
            "{path}"
        );
        let (s, b) = call(&w, "POST", path, As::WrongCsrf(&admin, &other), body).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("console.csrf")),
            "{path}"
        );
    }
    // Nothing was done.
    assert_eq!(
        w.svc.store.learners_of_org(w.org_a).unwrap().len(),
        learners_before
    );
    assert_eq!(
        w.svc.store.classes_of_org(w.org_a).unwrap().len(),
        classes_before
    );
    let (s, _) = call(
        &w,
        "GET",
        "/console/api/session",
        As::CookieOnly(&admin),
        None,
    )
    .await;
    assert_eq!(
        s, 200,
        "a read needs no token and the session is still open"
    );
    // With the token each of them succeeds.
    for (path, body) in writes(&w) {
        let (s, b) = call(&w, "POST", path, As::Browser(&admin), body).await;
        assert!(s == 200 || s == 201 || s == 204, "{path}: {s} {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_role_and_keeps_to_the_callers_organisation() {
    let w = World::new().await;
    passwords(&w);
    let admin_a = sign_in(&w, "admin-a").await;
    let admin_b = sign_in(&w, "admin-b").await;
    let trainer = sign_in(&w, "wang").await;
    let k = key(9);
    let device = w.enroll(w.org_a, None, &k).await.credential;

    let admin_reads = [
        "/console/api/learners",
        "/console/api/trainers",
        "/console/api/audit",
        "/console/api/audit/verify",
    ];
    for path in admin_reads
        .iter()
        .chain(["/console/api/classes", "/console/api/session"].iter())
    {
        let (s, b) = call(&w, "GET", path, As::Nobody, None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (401, Some("console.no_session")),
            "{path}"
        );
        let (s, b) = call(&w, "GET", path, As::Bearer(&device), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("auth.forbidden")),
            "{path}"
        );
        let (s, _) = call(&w, "GET", path, As::Browser(&admin_a), None).await;
        assert_eq!(s, 200, "{path}");
        // Scripts keep their bearer tokens.
        let (s, _) = call(&w, "GET", path, As::Bearer(&w.admin_a), None).await;
        assert_eq!(s, 200, "{path} with a token");
    }
    for path in admin_reads {
        let (s, b) = call(&w, "GET", path, As::Browser(&trainer), None).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (403, Some("auth.forbidden")),
            "{path}"
        );
    }
    for (path, body) in writes(&w) {
        let (s, b) = call(&w, "POST", path, As::Nobody, body.clone()).await;
        assert_eq!(s, 401, "{path}: {b}");
        let (s, _) = call(&w, "POST", path, As::Bearer(&device), body.clone()).await;
        assert_eq!(s, 403, "{path}");
        if path != "/console/api/sign-out" {
            let (s, b) = call(&w, "POST", path, As::Browser(&trainer), body).await;
            assert_eq!(
                (s, b["code"].as_str()),
                (403, Some("auth.forbidden")),
                "{path}"
            );
        }
    }

    // A trainer sees their own classes only; a trainer with none sees none.
    let (_, classes) = call(
        &w,
        "GET",
        "/console/api/classes",
        As::Browser(&trainer),
        None,
    )
    .await;
    assert_eq!(classes.as_array().unwrap().len(), 1);
    assert_eq!(classes[0]["id"], json!(w.class_a));
    let (_, classes) = call(
        &w,
        "GET",
        "/console/api/classes",
        As::Bearer(&w.other_trainer_a),
        None,
    )
    .await;
    assert_eq!(classes, json!([]));

    // Organisation B's administrator, with a valid cookie of B, reads and changes only B.
    let (_, learners) = call(
        &w,
        "GET",
        "/console/api/learners",
        As::Browser(&admin_b),
        None,
    )
    .await;
    let ids: Vec<&Value> = learners
        .as_array()
        .unwrap()
        .iter()
        .map(|l| &l["id"])
        .collect();
    assert_eq!(ids, vec![&json!(w.learner_b1)]);
    let (_, classes) = call(
        &w,
        "GET",
        "/console/api/classes",
        As::Browser(&admin_b),
        None,
    )
    .await;
    assert_eq!(classes, json!([]));
    let (_, trainers) = call(
        &w,
        "GET",
        "/console/api/trainers",
        As::Browser(&admin_b),
        None,
    )
    .await;
    assert_eq!(trainers, json!([]));
    let (s, b) = call(
        &w,
        "POST",
        "/console/api/codes",
        As::Browser(&admin_b),
        json_body(json!({"learnerIds": [w.learner_a1]})),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("auth.wrong_org")));
    let (s, b) = call(
        &w,
        "POST",
        "/console/api/classes",
        As::Browser(&admin_b),
        json_body(json!({"name": "偷来的班", "trainerId": w.trainer_a_id})),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (404, Some("trainer.not_found")));
    let (s, b) = call(
        &w,
        "POST",
        &format!("/console/api/roster/import?classId={}", w.class_a),
        As::Browser(&admin_b),
        csv_body("姓名,身份证号\n赵六,440524188001010014\n"),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (403, Some("auth.wrong_org")));
    assert!(w.svc.store.learners_of_class(w.class_a).unwrap().len() == 1);
    // B's audit log holds B's actions only.
    let (_, audit) = call(&w, "GET", "/console/api/audit", As::Browser(&admin_b), None).await;
    for e in audit.as_array().unwrap() {
        assert!(!e.to_string().contains(&w.org_a.to_string()), "{e}");
        assert!(!e.to_string().contains(&w.class_a.to_string()), "{e}");
    }
    // A cookie of A sent to the routes reads A, whoever's it claims to be.
    let (_, learners) = call(
        &w,
        "GET",
        "/console/api/learners",
        As::Browser(&admin_a),
        None,
    )
    .await;
    assert!(!learners.to_string().contains(&w.learner_b1.to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_is_locked_after_five_failures_and_an_address_after_twenty_even_across_a_restart()
 {
    let mut w = World::new().await;
    passwords(&w);
    let from = client_from("127.0.0.3");
    for _ in 0..5 {
        let (s, _, _) = sign_in_from(&w, &from, "admin-a", "not the password").await;
        assert_eq!(s, 401);
    }
    // Locked: even the right password, from any address, is refused (and tells nothing).
    let (s, b, c) = sign_in_from(&w, &w.http, "admin-a", PASSWORD).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (429, Some("console.account_locked")),
        "{b}"
    );
    assert!(c.is_none());
    // Another account is not affected.
    sign_in(&w, "admin-b").await;
    // A login that names nobody is locked the same way: lock-out does not tell who exists.
    for _ in 0..5 {
        let (s, _, _) = sign_in_from(&w, &from, "no-such-person", "not the password").await;
        assert_eq!(s, 401);
    }
    let (s, b, _) = sign_in_from(&w, &from, "no-such-person", "not the password").await;
    assert_eq!(
        (s, b["code"].as_str()),
        (429, Some("console.account_locked"))
    );

    // The lock-out is in the database: a restarted service keeps it.
    w.stop().await;
    w.svc = open_service(w.dir.path(), w.clock.clone(), 8);
    w.start().await;
    let (s, _, _) = sign_in_from(&w, &w.http, "admin-a", PASSWORD).await;
    assert_eq!(s, 429);
    // Once the failures are more than 15 minutes old, the right password works again, and a
    // success clears the count.
    w.clock.advance(15 * 60 * 1000 + 1);
    sign_in(&w, "admin-a").await;
    let (s, _, _) = sign_in_from(&w, &from, "admin-a", "not the password").await;
    assert_eq!(s, 401);
    sign_in(&w, "admin-a").await;

    // An address that guesses many logins is refused whichever it names.
    let guesser = client_from("127.0.0.4");
    for i in 0..20 {
        let (s, _, _) = sign_in_from(&w, &guesser, &format!("guess{i}"), "password123").await;
        assert_eq!(s, 401);
    }
    let (s, b, _) = sign_in_from(&w, &guesser, "admin-b", PASSWORD).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (429, Some("console.address_locked"))
    );
    sign_in(&w, "admin-b").await;

    // The failures of a known account are in its organisation's audit log.
    let entries = w.svc.audit_page(w.org_a, 0, 500).unwrap();
    let failed = entries
        .iter()
        .filter(|e| e.action == "sign_in.failed")
        .count();
    assert_eq!(failed, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_chains_every_action_and_finds_an_edited_or_deleted_entry() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    let _ = sign_in_from(&w, &w.http, "admin-a", "not the password").await;
    for (path, body) in writes(&w) {
        let (s, b) = call(&w, "POST", path, As::Browser(&admin), body).await;
        assert!(s < 300, "{path}: {b}");
    }
    let (s, entries) = call(
        &w,
        "GET",
        "/console/api/audit",
        As::Bearer(&w.admin_a),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let actions: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "password.set",
            "password.set",
            "sign_in.ok",
            "sign_in.failed",
            "learner.add",
            "roster.import",
            "class.add",
            "codes.issue",
            "sign_out"
        ]
    );
    for pair in entries.as_array().unwrap().windows(2) {
        assert_eq!(pair[1]["prevHash"], pair[0]["hash"]);
    }
    let (s, report) = call(
        &w,
        "GET",
        "/console/api/audit/verify",
        As::Bearer(&w.admin_a),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(report["intact"], true, "{report}");
    assert_eq!(report["entries"], 9);

    // The table refuses changes.
    let dir = w.dir.path().to_owned();
    let refused = std::panic::catch_unwind(|| {
        common::db::operator_sql(
            &dir,
            "UPDATE audit_log SET detail = '{}' WHERE seq = 5",
            "UPDATE audit_log SET detail = '{}' WHERE seq = 5",
        )
    });
    assert!(refused.is_err(), "an UPDATE is refused by the trigger");

    // Someone with the database's owner rights goes round the triggers and edits an entry.
    common::db::operator_sql(
        &dir,
        "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;
         UPDATE audit_log SET detail = '{\"learner\":\"someone else\"}' WHERE seq = 5;",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
         UPDATE audit_log SET detail = '{\"learner\":\"someone else\"}' WHERE seq = 5;",
    );
    let r = w.svc.verify_audit(w.org_a).unwrap();
    assert!(!r.intact);
    assert_eq!(
        (r.broken_at, r.reason),
        (Some(5), Some("audit.hash_mismatch"))
    );
    // Editing and re-hashing the entry itself breaks the next one's link.
    let mut e5 = w.svc.audit_page(w.org_a, 4, 1).unwrap().remove(0);
    e5.hash = hearth_server::domain::audit::entry_hash(&e5);
    let h = hex::encode(e5.hash);
    common::db::operator_sql(
        &dir,
        &format!("UPDATE audit_log SET hash = X'{h}' WHERE seq = 5"),
        &format!("UPDATE audit_log SET hash = '\\x{h}' WHERE seq = 5"),
    );
    let r = w.svc.verify_audit(w.org_a).unwrap();
    assert_eq!(
        (r.broken_at, r.reason),
        (Some(6), Some("audit.link_broken"))
    );

    // Deleting an entry leaves a gap.
    let w2 = World::new().await;
    passwords(&w2);
    sign_in(&w2, "admin-a").await;
    sign_in(&w2, "admin-a").await;
    assert!(w2.svc.verify_audit(w2.org_a).unwrap().intact);
    common::db::operator_sql(
        w2.dir.path(),
        "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = 2;",
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change;
         DELETE FROM audit_log WHERE seq = 2;",
    );
    let r = w2.svc.verify_audit(w2.org_a).unwrap();
    assert_eq!((r.broken_at, r.reason), (Some(2), Some("audit.gap")));
    // Organisation B's chain is its own and still holds.
    assert!(w2.svc.verify_audit(w2.org_b).unwrap().intact);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roster_with_bad_rows_is_previewed_with_reasons_and_imports_nothing_until_fixed() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    // 11010519491231002X is 张三's, registered already; 440524188001010015 has a wrong check
    // digit (4 is right); line 5 repeats line 2; line 6 has no name; line 7 is too short.
    let bad = "姓名,身份证号\n\
               赵六,440524188001010014\n\
               钱七,440524188001010015\n\
               张三,11010519491231002X\n\
               赵六,4405 2418 8001 0100 14\n\
               ,110105194912310029\n\
               孙八,12345\n\
               周九,110105194912310038\n";
    let (s, p) = call(
        &w,
        "POST",
        "/console/api/roster/preview",
        As::Browser(&admin),
        csv_body(bad),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let reasons: Vec<(u64, Value)> = p["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].clone()))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (2, Value::Null),
            (3, json!("roster.bad_checksum")),
            (4, json!("roster.already_registered")),
            (5, json!("roster.duplicate_in_file")),
            (6, json!("roster.missing_name")),
            (7, json!("roster.invalid_id")),
            (8, Value::Null),
        ]
    );
    assert_eq!((p["good"].as_u64(), p["bad"].as_u64()), (Some(2), Some(5)));
    assert_eq!(p["rows"][0]["nationalId"], "**************0014");
    assert!(
        !p.to_string().contains("440524188001010014"),
        "the preview masks IDs"
    );

    let before = w.svc.store.learners_of_org(w.org_a).unwrap().len();
    let (s, b) = call(
        &w,
        "POST",
        "/console/api/roster/import",
        As::Browser(&admin),
        csv_body(bad),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("roster.has_bad_rows")));
    assert_eq!(w.svc.store.learners_of_org(w.org_a).unwrap().len(), before);

    let fixed = "姓名,身份证号\n赵六,440524188001010014\n钱七,440524188001010014X\n";
    let (s, _) = call(
        &w,
        "POST",
        "/console/api/roster/import",
        As::Browser(&admin),
        csv_body(fixed),
    )
    .await;
    assert_eq!(s, 400, "still a bad row (21 characters)");
    let fixed = "\u{feff}name,national_id\n赵六,440524188001010014\n周九,110105194912310038\n";
    let (s, b) = call(
        &w,
        "POST",
        &format!("/console/api/roster/import?classId={}", w.class_a),
        As::Browser(&admin),
        csv_body(fixed),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["imported"], 2);
    let in_class = w.svc.store.learners_of_class(w.class_a).unwrap();
    assert_eq!(in_class.len(), 3);
    // Importing the same file again: every row is registered already; nothing changes.
    let (s, b) = call(
        &w,
        "POST",
        "/console/api/roster/import",
        As::Browser(&admin),
        csv_body(fixed),
    )
    .await;
    assert_eq!((s, b["code"].as_str()), (400, Some("roster.has_bad_rows")));
    assert_eq!(
        w.svc.store.learners_of_org(w.org_a).unwrap().len(),
        before + 2
    );

    // Malformed input gets a clear code.
    for (body, code) in [
        (csv_body("a,b\n1,2\n"), "roster.no_header"),
        (csv_body(""), "roster.empty"),
        (
            Some(("text/csv", vec![0xff, 0xfe, 0x00])),
            "roster.not_utf8",
        ),
        (
            Some((
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                b"PK\x03\x04 not really a workbook".to_vec(),
            )),
            "roster.bad_xlsx",
        ),
        (json_body(json!({})), "request.unsupported_media_type"),
    ] {
        let (s, b) = call(
            &w,
            "POST",
            "/console/api/roster/preview",
            As::Browser(&admin),
            body,
        )
        .await;
        assert!(s == 400 || s == 415, "{code}: {s}");
        assert_eq!(b["code"], code);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_roster_is_read_and_ids_stored_as_numbers_are_refused() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.write_string(0, 0, "姓名").unwrap();
    sheet.write_string(0, 1, "身份证号").unwrap();
    sheet.write_string(1, 0, "赵六").unwrap();
    sheet.write_string(1, 1, "440524188001010014").unwrap();
    sheet.write_string(2, 0, "钱七").unwrap();
    sheet.write_number(2, 1, 440524188001010014.0).unwrap();
    let bytes = book.save_to_buffer().unwrap();
    const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let (s, p) = call(
        &w,
        "POST",
        "/console/api/roster/preview",
        As::Browser(&admin),
        Some((XLSX, bytes)),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["rows"][0]["reason"], Value::Null);
    assert_eq!(p["rows"][0]["name"], "赵六");
    assert_eq!(p["rows"][1]["reason"], "roster.id_as_number");
    assert_eq!(p["rows"][1]["line"], 3);
}

/// Enrolls a device of key `seed` with a code from the sheet; its enrollment answer.
async fn enroll_with(w: &World, code: &str, seed: u8) -> Value {
    let k = key(seed);
    let res = w
        .http
        .post(w.url("/v1/enroll"))
        .json(&EnrollRequest {
            code: code.into(),
            public_key: public(&k),
            device_id: device_of(&k),
            label: None,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "enrolling with {code}");
    res.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codes_for_the_printed_sheet_enroll_devices() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    let (s, codes) = call(
        &w,
        "POST",
        "/console/api/codes",
        As::Browser(&admin),
        json_body(json!({"learnerIds": [w.learner_a1, w.learner_a2], "kiosks": 2, "hours": 48})),
    )
    .await;
    assert_eq!(s, 200, "{codes}");
    let codes = codes.as_array().unwrap();
    assert_eq!(codes.len(), 4);
    assert_eq!(codes[0]["name"], "张三");
    assert_eq!(codes[2]["name"], Value::Null);
    assert_eq!(codes[0]["expiresMs"], T0 + 48 * 3600 * 1000);
    // A code from the sheet enrolls the learner's device.
    let e = enroll_with(&w, codes[0]["code"].as_str().unwrap(), 31).await;
    assert_eq!(e["learnerId"], json!(w.learner_a1));
    for (body, code) in [
        (json!({}), "codes.invalid_count"),
        (json!({"kiosks": 501}), "codes.invalid_count"),
        (json!({"kiosks": 1, "hours": 0}), "codes.invalid_hours"),
        (json!({"kiosks": 1, "extra": 1}), "request.malformed_json"),
    ] {
        let (s, b) = call(
            &w,
            "POST",
            "/console/api/codes",
            As::Browser(&admin),
            json_body(body),
        )
        .await;
        assert_eq!((s, b["code"].as_str()), (400, Some(code)));
    }
}

/// A kiosk code from the sheet names its class: the kiosk it enrolls gets that class's people
/// (张三 and the trainer 王老师), not 李四 of no class nor anyone of another organisation; a
/// class of another organisation is refused and no code is made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_code_from_the_sheet_serves_its_class_only() {
    let w = World::new().await;
    passwords(&w);
    let admin = sign_in(&w, "admin-a").await;
    let (s, codes) = call(
        &w,
        "POST",
        "/console/api/codes",
        As::Browser(&admin),
        json_body(json!({"kiosks": 1, "kioskClassIds": [w.class_a]})),
    )
    .await;
    assert_eq!(s, 200, "{codes}");
    let e = enroll_with(&w, codes[0]["code"].as_str().unwrap(), 32).await;
    let k = key(32);
    let mut names: Vec<&str> = e["roster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["张三", "王老师"], "{e}");
    assert_eq!(
        w.svc.store.kiosk_classes(device_of(&k)).unwrap(),
        vec![w.class_a]
    );

    let (trainer_b, _) = w.svc.add_user(w.org_b, Role::Trainer, "赵老师").unwrap();
    let foreign = w.svc.add_class(trainer_b.id, "别处的班").unwrap().id;
    let (s, b) = call(
        &w,
        "POST",
        "/console/api/codes",
        As::Browser(&admin),
        json_body(json!({"kiosks": 1, "kioskClassIds": [foreign]})),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (404, Some("class.not_found")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_are_served_at_console_and_unknown_api_paths_are_json_404s() {
    let mut w = World::new().await;
    let pages = tempfile::tempdir().unwrap();
    std::fs::write(
        pages.path().join("index.html"),
        "<!doctype html><title>控制台</title>",
    )
    .unwrap();
    std::fs::create_dir(pages.path().join("assets")).unwrap();
    std::fs::write(pages.path().join("assets/app.js"), "console.log(1)").unwrap();
    w.stop().await;
    w.svc.config.console_pages = Some(pages.path().to_owned());
    w.start().await;
    for (path, body) in [
        ("/console/", "控制台"),
        // A page's own address (the front end routes by #hash, but a bookmark may hold a path).
        ("/console/learners", "控制台"),
        ("/console/assets/app.js", "console.log(1)"),
    ] {
        let res = w.http.get(w.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let text = res.text().await.unwrap();
        assert!(text.contains(body), "{path}: {text}");
    }
    let (s, b) = call(&w, "GET", "/console/api/no-such-route", As::Nobody, None).await;
    assert_eq!((s, b["code"].as_str()), (404, Some("not_found")));
    // The API still answers next to the pages.
    let (s, _) = call(
        &w,
        "GET",
        "/console/api/session",
        As::Bearer(&w.admin_a),
        None,
    )
    .await;
    assert_eq!(s, 200);
}
