//! Issue #15 item 5, the supervisor (人社部门), through a real socket: regions with a hierarchy,
//! statistics across a region's institutions from the facts real signed receipts left at ingest,
//! every number drilling down to its learners and a learner to their receipts (paged), exports
//! to XLSX and CSV read back and compared cell for cell with the JSON of the same table, and the
//! authorization: another region's institution and learners are invisible by id, in lists, in
//! drill-downs and in exports; administrators cannot call supervisor routes, supervisors cannot
//! call administrators'; sessions follow the console's cookie and CSRF rules.

mod common;

use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use common::console::Session;
use common::lab::*;
use hearth_protocol::{Answer, Event, LearnerId};
use hearth_server::store::Role;
use hearth_server::{Limits, Running};
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

struct Region {
    lab: Lab,
    server: Running,
    http: reqwest::Client,
    org_b: Uuid,
    learner_b: LearnerId,
    /// Receipts sent for each learner of the lab's organisation.
    sent: Vec<usize>,
    admin_token: String,
    sz_token: String,
    office_sz: Uuid,
}

/// Two institutions in two cities of one province: the lab's centre in Shenzhen (440300, three
/// learners: two complete the course and are certified, one studies five minutes) and a school
/// in Guangzhou (440100, one learner who completes it). Supervisors of both cities and of the
/// province; an administrator of the centre. All with console passwords.
async fn region() -> Region {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let lab = Lab::new(3);
    let svc = &lab.svc;
    let mut sent = Vec::new();
    for (i, &l) in lab.learners.iter().enumerate() {
        let mut pc = lab.personal(u8::try_from(i + 1).unwrap(), l);
        pc.fetch_anchor(&lab);
        let b = if i < 2 {
            whole_course(&lab, &mut pc)
        } else {
            honest(&lab, &mut pc, 5, |ms| study("l1", ms))
        };
        sent.push(b.len());
        assert!(!lab.send(&pc, b).flagged);
    }
    let org_b = svc.create_org("广州市技工学校").unwrap().id;
    let learner_b = svc
        .add_learner(org_b, "王五", "110105194912310045", None, None)
        .unwrap()
        .id;
    let mut pc = lab.personal_in(org_b, 9, learner_b);
    pc.fetch_anchor(&lab);
    let b = whole_course(&lab, &mut pc);
    assert!(!lab.send(&pc, b).flagged);

    svc.create_region("440000", "广东省", None).unwrap();
    let sz = svc
        .create_region("440300", "深圳市", Some("440000"))
        .unwrap();
    svc.create_region("440100", "广州市", Some("440000"))
        .unwrap();
    svc.put_org_in_region(lab.org, "440300").unwrap();
    svc.put_org_in_region(org_b, "440100").unwrap();
    let (u, sz_token) = svc.add_supervisor("440300", "深圳督导").unwrap();
    svc.set_password(u.id, "sz-sup", PASSWORD).unwrap();
    let (u, _) = svc.add_supervisor("440100", "广州督导").unwrap();
    svc.set_password(u.id, "gz-sup", PASSWORD).unwrap();
    let (u, _) = svc.add_supervisor("440000", "广东督导").unwrap();
    svc.set_password(u.id, "gd-sup", PASSWORD).unwrap();
    let (admin, admin_token) = svc.add_user(lab.org, Role::Admin, "Admin").unwrap();
    svc.set_password(admin.id, "admin", PASSWORD).unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = hearth_server::spawn(listener, lab.svc.clone(), Limits::default()).unwrap();
    Region {
        lab,
        server,
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        org_b,
        learner_b,
        sent,
        admin_token,
        sz_token,
        office_sz: sz.office,
    }
}

#[derive(Clone, Copy)]
enum As<'a> {
    Nobody,
    Bearer(&'a str),
    Browser(&'a Session),
    CookieOnly(&'a Session),
}

impl Region {
    fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    async fn sign_in(&self, login: &str) -> Session {
        common::console::sign_in(
            &self.http,
            self.url("/console/api/sign-in"),
            login,
            PASSWORD,
        )
        .await
    }

    async fn raw(&self, method: &str, path: &str, who: As<'_>) -> reqwest::Response {
        let mut req = self.http.request(method.parse().unwrap(), self.url(path));
        match who {
            As::Nobody => {}
            As::Bearer(t) => req = req.bearer_auth(t),
            As::Browser(s) => {
                req = req
                    .header("cookie", &s.cookie)
                    .header("x-csrf-token", &s.csrf)
            }
            As::CookieOnly(s) => req = req.header("cookie", &s.cookie),
        }
        req.send().await.unwrap()
    }

    async fn get(&self, path: &str, who: As<'_>) -> (u16, Value) {
        self.call("GET", path, who).await
    }

    async fn call(&self, method: &str, path: &str, who: As<'_>) -> (u16, Value) {
        let res = self.raw(method, path, who).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn send_json(&self, method: &str, path: &str, body: &Value, who: As<'_>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .json(body);
        match who {
            As::Nobody => {}
            As::Bearer(t) => req = req.bearer_auth(t),
            As::Browser(s) => {
                req = req
                    .header("cookie", &s.cookie)
                    .header("x-csrf-token", &s.csrf)
            }
            As::CookieOnly(s) => req = req.header("cookie", &s.cookie),
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn table(&self, path: &str, who: As<'_>) -> Value {
        let (s, t) = self.get(path, who).await;
        assert_eq!(s, 200, "{path}: {t}");
        t
    }
}

/// The column `key` of every row of a table, as JSON values.
fn column(t: &Value, key: &str) -> Vec<Value> {
    let i = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no column {key}"));
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[i].clone())
        .collect()
}

fn row_by_key<'a>(t: &'a Value, key: &str) -> &'a Value {
    t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[1] == key)
        .unwrap_or_else(|| panic!("no row {key} in {t}"))
}

fn cell(t: &Value, row: &Value, key: &str) -> Value {
    let i = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["key"] == key)
        .unwrap();
    row[i].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statistics_count_what_ingest_derived_and_drill_down_to_receipts() {
    let r = region().await;
    let sz = r.sign_in("sz-sup").await;
    let me = As::Browser(&sz);

    // The scope: Shenzhen and its one institution.
    let scope = r.table("/console/api/supervisor/scope", me).await;
    assert_eq!(scope["code"], "440300");
    assert_eq!(scope["regions"], json!(["440300"]));
    assert_eq!(scope["institutions"].as_array().unwrap().len(), 1);
    assert_eq!(scope["institutions"][0]["id"], r.lab.org.to_string());

    // By institution: every number from the learners' records (the same derivation).
    let t = r
        .table("/console/api/supervisor/stats?by=institution", me)
        .await;
    assert_eq!(t["rows"].as_array().unwrap().len(), 1);
    let row = row_by_key(&t, &r.lab.org.to_string());
    let records: Vec<_> = r.lab.learners.iter().map(|&l| r.lab.record(l)).collect();
    let credited: u64 = records.iter().map(|x| x.credited_ms).sum();
    assert!(credited > 0);
    assert_eq!(
        cell(&t, row, "hours"),
        json!((credited as f64 / 36_000.0).round() / 100.0)
    );
    assert_eq!(cell(&t, row, "learners"), json!(3));
    assert_eq!(cell(&t, row, "enrolments"), json!(3));
    assert_eq!(cell(&t, row, "completed"), json!(2));
    assert_eq!(cell(&t, row, "completionRate"), json!(66.7));
    assert_eq!(cell(&t, row, "examined"), json!(2));
    assert_eq!(cell(&t, row, "passRate"), json!(100.0));
    let certs: usize = records.iter().map(|x| x.certificates.len()).sum();
    assert_eq!(certs, 2);
    assert_eq!(cell(&t, row, "certificates"), json!(2));

    // By course and by occupation: only this region's learners (Guangzhou's is not counted).
    let t = r.table("/console/api/supervisor/stats?by=course", me).await;
    let row = row_by_key(&t, "electrician-safety");
    assert_eq!(cell(&t, row, "learners"), json!(3));
    assert_eq!(cell(&t, row, "certificates"), json!(2));
    let occupation = r
        .lab
        .svc
        .latest_manifest("electrician-safety")
        .unwrap()
        .unwrap()
        .manifest
        .occupation
        .unwrap_or_else(|| "-".into());
    let t = r
        .table("/console/api/supervisor/stats?by=occupation", me)
        .await;
    assert_eq!(cell(&t, row_by_key(&t, &occupation), "learners"), json!(3));
    // By period: every learner started this month (the lab's clock).
    let t = r.table("/console/api/supervisor/stats?by=period", me).await;
    let learners: i64 = column(&t, "learners")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .sum();
    assert_eq!(learners, 3);

    // The province sees both cities' institutions.
    let gd = r.sign_in("gd-sup").await;
    let t = r
        .table(
            "/console/api/supervisor/stats?by=institution",
            As::Browser(&gd),
        )
        .await;
    assert_eq!(t["rows"].as_array().unwrap().len(), 2);
    let t = r
        .table("/console/api/supervisor/stats?by=course", As::Browser(&gd))
        .await;
    let row = row_by_key(&t, "electrician-safety");
    assert_eq!(cell(&t, row, "learners"), json!(4));
    assert_eq!(cell(&t, row, "certificates"), json!(3));

    // Drill-down: the learners behind the institution's row, paged by learner id.
    let path = format!(
        "/console/api/supervisor/learners?by=institution&key={}",
        r.lab.org
    );
    let all = r.table(&path, me).await;
    let mut ids: Vec<String> = r.lab.learners.iter().map(|l| l.to_string()).collect();
    ids.sort();
    let got: Vec<String> = column(&all, "learnerId")
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids);
    assert!(all["next"].is_null());
    let first = r.table(&format!("{path}&limit=2"), me).await;
    assert_eq!(first["rows"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap().to_owned();
    assert_eq!(next, ids[1]);
    let second = r.table(&format!("{path}&limit=2&after={next}"), me).await;
    assert_eq!(column(&second, "learnerId"), vec![json!(ids[2])]);
    // A learner's hours in the drill-down are their record's.
    for rec in &records {
        let row = row_by_key(&all, &rec.learner_id.to_string());
        assert_eq!(
            cell(&all, row, "hours"),
            json!((rec.credited_ms as f64 / 36_000.0).round() / 100.0)
        );
    }
    // The completion drill-down of the course row: the same three learners.
    let course = r
        .table(
            "/console/api/supervisor/learners?by=course&key=electrician-safety",
            me,
        )
        .await;
    assert_eq!(course["rows"].as_array().unwrap().len(), 3);

    // And a learner's receipts: every one sent, in chain order, paged.
    let l0 = r.lab.learners[0];
    let path = format!("/console/api/supervisor/learners/{l0}/receipts");
    let all = r.table(&format!("{path}?limit=1000"), me).await;
    assert_eq!(all["rows"].as_array().unwrap().len(), r.sent[0]);
    let seqs: Vec<i64> = column(&all, "seq")
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=r.sent[0] as i64).collect::<Vec<_>>());
    let kinds = column(&all, "kind");
    assert!(kinds.contains(&json!("active_study")), "{kinds:?}");
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let q = after.map_or_else(|| "?limit=7".to_owned(), |a| format!("?limit=7&after={a}"));
        let p = r.table(&format!("{path}{q}"), me).await;
        paged.extend(p["rows"].as_array().unwrap().iter().cloned());
        match p["next"].as_str() {
            Some(n) => after = Some(n.to_owned()),
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), all["rows"]);
}

/// Reads the first sheet of an XLSX workbook as JSON values (text as strings, numbers as
/// numbers, empty cells as null).
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<Value>> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec())).unwrap();
    let range = book.worksheet_range_at(0).unwrap().unwrap();
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => json!(s),
                    Data::Float(f) if f.fract() == 0.0 => json!(*f as i64),
                    Data::Float(f) => json!(f),
                    Data::Int(n) => json!(n),
                    Data::Empty => Value::Null,
                    other => panic!("unexpected cell {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// The JSON of a table as the rows of its export: the Chinese headings, then the cells. A
/// whole decimal (100.0) reads back from a spreadsheet as the whole number it is.
fn expected_rows(t: &Value) -> Vec<Vec<Value>> {
    let mut out = vec![
        t["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["zh"].clone())
            .collect::<Vec<_>>(),
    ];
    for r in t["rows"].as_array().unwrap() {
        out.push(
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| match v.as_f64() {
                    Some(f) if f.fract() == 0.0 => json!(f as i64),
                    _ => v.clone(),
                })
                .collect(),
        );
    }
    out
}

fn csv_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        // Numbers as Rust writes them: a whole decimal without its ".0".
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 => (f as i64).to_string(),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_hold_the_cells_the_json_routes_return() {
    let r = region().await;
    let sz = r.sign_in("sz-sup").await;
    let me = As::Browser(&sz);
    let l0 = r.lab.learners[0];
    let cases = [
        (
            "/console/api/supervisor/stats?by=institution".to_owned(),
            "table=stats&by=institution".to_owned(),
        ),
        (
            "/console/api/supervisor/stats?by=course".to_owned(),
            "table=stats&by=course".to_owned(),
        ),
        (
            format!(
                "/console/api/supervisor/learners?by=institution&key={}",
                r.lab.org
            ),
            format!("table=learners&by=institution&key={}", r.lab.org),
        ),
        (
            format!("/console/api/supervisor/learners/{l0}/receipts?limit=1000"),
            format!("table=receipts&learner={l0}"),
        ),
    ];
    for (json_path, export) in &cases {
        let t = r.table(json_path, me).await;
        assert!(!t["rows"].as_array().unwrap().is_empty(), "{json_path}");
        let expected = expected_rows(&t);

        let res = r
            .raw(
                "GET",
                &format!("/console/api/supervisor/export?{export}&format=xlsx"),
                me,
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-type"],
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        );
        assert!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename=\"hearth-")
        );
        let bytes = res.bytes().await.unwrap();
        assert_eq!(xlsx_rows(&bytes), expected, "{export}");

        let res = r
            .raw(
                "GET",
                &format!("/console/api/supervisor/export?{export}&format=csv"),
                me,
            )
            .await;
        assert_eq!(res.status(), 200);
        let bytes = res.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "a BOM for spreadsheets");
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&bytes[3..]);
        let got: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect();
        let mut want: Vec<Vec<String>> = vec![
            t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["zh"].as_str().unwrap().to_owned())
                .collect(),
        ];
        for row in t["rows"].as_array().unwrap() {
            want.push(row.as_array().unwrap().iter().map(csv_text).collect());
        }
        assert_eq!(got, want, "{export}");
    }

    // Each export is in the office's audit log.
    let exports = r
        .lab
        .svc
        .audit_page(r.office_sz, 0, 100)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "supervision.export")
        .count();
    assert_eq!(exports, cases.len() * 2);
    assert!(r.lab.svc.verify_audit(r.office_sz).unwrap().intact);

    // Bad exports are refused with their codes.
    for (q, code) in [
        ("table=stats&format=pdf", "export.invalid_format"),
        ("table=nothing&format=csv", "export.invalid_table"),
        ("table=learners&format=csv", "export.missing_key"),
        (
            "table=stats&by=planet&format=csv",
            "supervision.invalid_group",
        ),
    ] {
        let (s, b) = r
            .get(&format!("/console/api/supervisor/export?{q}"), me)
            .await;
        assert_eq!((s, b["code"].as_str()), (400, Some(code)), "{q}: {b}");
    }
}

/// A stats row's flag columns as (open, resolved, open by kind in `FLAG_KINDS` order).
fn flag_cells(t: &Value, row: &Value) -> (i64, i64, Vec<i64>) {
    let n = |k: &str| cell(t, row, k).as_i64().unwrap();
    (
        n("flags.open"),
        n("flags.resolved"),
        [
            "fork",
            "rejected",
            "overlap",
            "withheld",
            "attestation",
            "anomaly",
        ]
        .iter()
        .map(|k| n(&format!("flags.{k}")))
        .collect(),
    )
}

/// Flags in the statistics: an administrator's open and resolved flags counted per row and per
/// kind, drilled down to the learners behind each number and from a learner to the flags with
/// their evidence, read only, and exported (the XLSX read back matches the JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_are_counted_in_the_statistics_and_drill_down_to_their_evidence() {
    let r = region().await;
    let sz = r.sign_in("sz-sup").await;
    let me = As::Browser(&sz);
    let org = r.lab.org.to_string();
    let stats = "/console/api/supervisor/stats?by=institution";
    // Honest study: nothing flagged.
    let t = r.table(stats, me).await;
    assert_eq!(
        flag_cells(&t, row_by_key(&t, &org)),
        (0, 0, vec![0; 6]),
        "{t}"
    );

    // Learner 2 studies ten minutes on a second PC that never fetched a time anchor: credit
    // withheld (`credit.no_anchor`). Learner 1 answers 25 practice questions exactly 4 s apart
    // on a third PC: `flag.answer_delay_constant`.
    let (l1, l2) = (r.lab.learners[1], r.lab.learners[2]);
    let mut pc = r.lab.personal(21, l2);
    let b = honest(&r.lab, &mut pc, 10, |ms| study("l1", ms));
    r.lab.send(&pc, b);
    let mut pc = r.lab.personal(22, l1);
    pc.fetch_anchor(&r.lab);
    let mut b = Vec::new();
    for i in 0..26u8 {
        r.lab.advance(4_000);
        pc.wait(4_000);
        b.push(pc.receipt(Event::QuizAnswered {
            course: course(),
            lesson: lesson("l1"),
            quiz: "l1-quiz".parse().unwrap(),
            item: "q1".parse().unwrap(),
            answer: Answer::Choices(vec![i % 2]),
        }));
    }
    r.lab.send(&pc, b);
    let t = r.table(stats, me).await;
    let (open, resolved, kinds) = flag_cells(&t, row_by_key(&t, &org));
    assert_eq!((open, resolved), (2, 0), "{t}");
    assert_eq!(kinds, [0, 0, 0, 1, 0, 1]);

    // The administrator resolves the anomaly (the supervisor cannot).
    let (s, list) = r
        .get("/console/api/flags", As::Bearer(&r.admin_token))
        .await;
    assert_eq!(s, 200, "{list}");
    let key = list
        .as_array()
        .or_else(|| list["flags"].as_array())
        .unwrap()
        .iter()
        .find(|f| f["code"] == "flag.answer_delay_constant")
        .unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({ "key": key, "note": "查看过：练习题由同事代答，已谈话" });
    let (s, b) = r
        .send_json("POST", "/console/api/flags/resolve", &body, me)
        .await;
    assert_eq!(
        (s, b["code"].as_str()),
        (403, Some("auth.forbidden")),
        "{b}"
    );
    let (s, b) = r
        .send_json(
            "POST",
            "/console/api/flags/resolve",
            &body,
            As::Bearer(&r.admin_token),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // By institution and by course: one learner with an open flag (withheld), one resolved.
    for (path, key) in [
        (stats.to_owned(), org.clone()),
        (
            "/console/api/supervisor/stats?by=course".to_owned(),
            "electrician-safety".to_owned(),
        ),
    ] {
        let t = r.table(&path, me).await;
        let (open, resolved, kinds) = flag_cells(&t, row_by_key(&t, &key));
        assert_eq!((open, resolved), (1, 1), "{path}: {t}");
        assert_eq!(kinds, [0, 0, 0, 1, 0, 0], "{path}");
    }

    // Each number drills down to its learners, each with their flag counts.
    let learners = |flags: &str| {
        format!("/console/api/supervisor/learners?by=institution&key={org}&flags={flags}")
    };
    for (filter, who) in [
        ("open", vec![l2]),
        ("resolved", vec![l1]),
        ("withheld", vec![l2]),
        ("anomaly", vec![]),
    ] {
        let t = r.table(&learners(filter), me).await;
        let ids: Vec<Value> = who.iter().map(|l| json!(l.to_string())).collect();
        assert_eq!(column(&t, "learnerId"), ids, "flags={filter}");
    }
    let t = r.table(&learners("open"), me).await;
    let row = row_by_key(&t, &l2.to_string());
    assert_eq!(cell(&t, row, "openFlags"), json!(1));
    assert_eq!(cell(&t, row, "resolvedFlags"), json!(0));
    let (s, b) = r.get(&learners("everything"), me).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (400, Some("supervision.invalid_flags"))
    );

    // A learner's flags, with their evidence and resolution.
    let t = r
        .table(&format!("/console/api/supervisor/learners/{l1}/flags"), me)
        .await;
    assert_eq!(column(&t, "code"), [json!("flag.answer_delay_constant")]);
    assert_eq!(column(&t, "status"), [json!("resolved")]);
    assert_eq!(column(&t, "resolvedBy"), [json!("Admin")]);
    assert_eq!(column(&t, "note"), [body["note"].clone()]);
    let detail = column(&t, "detail")[0].as_str().unwrap().to_owned();
    assert!(detail.contains("4000 ms apart"), "{detail}");
    let t = r
        .table(&format!("/console/api/supervisor/learners/{l2}/flags"), me)
        .await;
    assert_eq!(column(&t, "kind"), [json!("withheld")]);
    assert_eq!(column(&t, "code"), [json!("credit.no_anchor")]);
    assert_eq!(column(&t, "status"), [json!("open")]);
    // Read only: nothing but GET.
    let (s, _) = r
        .call(
            "POST",
            &format!("/console/api/supervisor/learners/{l2}/flags"),
            me,
        )
        .await;
    assert_eq!(s, 405);

    // The exports hold the same cells, the flag columns included.
    for (json_path, export) in [
        (stats.to_owned(), "table=stats&by=institution".to_owned()),
        (
            learners("open"),
            format!("table=learners&by=institution&key={org}&flags=open"),
        ),
        (
            format!("/console/api/supervisor/learners/{l1}/flags"),
            format!("table=flags&learner={l1}"),
        ),
    ] {
        let t = r.table(&json_path, me).await;
        let res = r
            .raw(
                "GET",
                &format!("/console/api/supervisor/export?{export}&format=xlsx"),
                me,
            )
            .await;
        assert_eq!(res.status(), 200, "{export}");
        let got = xlsx_rows(&res.bytes().await.unwrap());
        assert_eq!(got, expected_rows(&t), "{export}");
        assert!(
            got[0].contains(&json!("未处理标记学员"))
                || got[0].contains(&json!("未处理标记"))
                || got[0].contains(&json!("依据")),
            "{export}: {:?}",
            got[0]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisor_sees_only_their_region_and_only_supervisors_see_it() {
    let r = region().await;
    let sz = r.sign_in("sz-sup").await;
    let me = As::Browser(&sz);
    let b = r.org_b;
    let lb = r.learner_b;
    // Guangzhou's institution and learner do not exist for Shenzhen's supervisor: by id, in
    // drill-downs, in exports.
    for path in [
        format!("/console/api/supervisor/stats?org={b}"),
        format!("/console/api/supervisor/learners?by=institution&key={b}"),
        format!("/console/api/supervisor/learners/{lb}/receipts"),
        format!("/console/api/supervisor/export?table=stats&org={b}&format=xlsx"),
        format!("/console/api/supervisor/export?table=learners&by=institution&key={b}&format=csv"),
        format!("/console/api/supervisor/export?table=receipts&learner={lb}&format=xlsx"),
        format!("/console/api/supervisor/learners/{lb}/flags"),
        format!("/console/api/supervisor/learners?by=institution&key={b}&flags=open"),
        format!("/console/api/supervisor/export?table=flags&learner={lb}&format=xlsx"),
        format!(
            "/console/api/supervisor/export?table=learners&by=institution&key={b}&flags=open&format=csv"
        ),
    ] {
        let (s, body) = r.get(&path, me).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (404, Some("supervision.not_found")),
            "{path}: {body}"
        );
    }
    // In lists: neither the scope, nor any grouping, nor any drill-down names them.
    let lb_text = lb.to_string();
    let b_text = b.to_string();
    for path in [
        "/console/api/supervisor/scope".to_owned(),
        "/console/api/supervisor/stats?by=institution".to_owned(),
        "/console/api/supervisor/stats?by=course".to_owned(),
        "/console/api/supervisor/stats?by=occupation".to_owned(),
        "/console/api/supervisor/stats?by=period".to_owned(),
        "/console/api/supervisor/learners?by=course&key=electrician-safety".to_owned(),
        format!(
            "/console/api/supervisor/learners?by=institution&key={}",
            r.lab.org
        ),
    ] {
        let (s, body) = r.get(&path, me).await;
        assert_eq!(s, 200, "{path}");
        let text = body.to_string();
        assert!(
            !text.contains(&lb_text) && !text.contains(&b_text) && !text.contains("广州市技工学校"),
            "{path} shows another region: {text}"
        );
    }
    // The same with Guangzhou's supervisor the other way round.
    let gz = r.sign_in("gz-sup").await;
    let (s, _) = r
        .get(
            &format!(
                "/console/api/supervisor/learners/{}/receipts",
                r.lab.learners[0]
            ),
            As::Browser(&gz),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = r
        .get(
            &format!(
                "/console/api/supervisor/learners/{}/flags",
                r.lab.learners[0]
            ),
            As::Browser(&gz),
        )
        .await;
    assert_eq!(s, 404);
    let (s, body) = r
        .get(
            &format!("/console/api/supervisor/learners/{lb}/receipts"),
            As::Browser(&gz),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = r
        .get(
            &format!("/console/api/supervisor/learners/{lb}/flags"),
            As::Browser(&gz),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // A bearer token of the supervisor follows the same scope.
    let (s, _) = r
        .get(
            &format!("/console/api/supervisor/stats?org={b}"),
            As::Bearer(&r.sz_token),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = r
        .get("/console/api/supervisor/stats", As::Bearer(&r.sz_token))
        .await;
    assert_eq!(s, 200);

    // An institution's administrator (cookie or token) may not call a supervisor route.
    let admin = r.sign_in("admin").await;
    for who in [As::Browser(&admin), As::Bearer(&r.admin_token)] {
        for path in [
            "/console/api/supervisor/scope".to_owned(),
            "/console/api/supervisor/stats".to_owned(),
            format!(
                "/console/api/supervisor/learners?by=institution&key={}",
                r.lab.org
            ),
            format!(
                "/console/api/supervisor/learners/{}/receipts",
                r.lab.learners[0]
            ),
            format!(
                "/console/api/supervisor/learners/{}/flags",
                r.lab.learners[0]
            ),
            "/console/api/supervisor/export?table=stats&format=xlsx".to_owned(),
        ] {
            let (s, body) = r.get(&path, who).await;
            assert_eq!(
                (s, body["code"].as_str()),
                (403, Some("auth.forbidden")),
                "{path}"
            );
        }
    }
    // Nor may a supervisor call an institution's administrator's routes, or read a learner's
    // record through the devices' API.
    for path in [
        "/console/api/learners",
        "/console/api/trainers",
        "/console/api/audit",
    ] {
        let (s, body) = r.get(path, me).await;
        assert_eq!(
            (s, body["code"].as_str()),
            (403, Some("auth.forbidden")),
            "{path}"
        );
    }
    let (s, body) = r
        .get(
            &format!("/v1/learners/{}/record", r.lab.learners[0]),
            As::Bearer(&r.sz_token),
        )
        .await;
    // (another organisation's learner: answered as a missing one)
    assert_eq!((s, body["code"].as_str()), (404, Some("learner.not_found")));

    // Without a session: 401. The routes only read: anything else is refused as a method.
    let (s, body) = r.get("/console/api/supervisor/stats", As::Nobody).await;
    assert_eq!(
        (s, body["code"].as_str()),
        (401, Some("console.no_session"))
    );
    let (s, _) = r
        .call("POST", "/console/api/supervisor/stats", As::Browser(&sz))
        .await;
    assert_eq!(s, 405);
    // A supervisor's session changes nothing without its anti-forgery token (sign-out here).
    let (s, body) = r
        .call("POST", "/console/api/sign-out", As::CookieOnly(&sz))
        .await;
    assert_eq!((s, body["code"].as_str()), (403, Some("console.csrf")));
    let (s, _) = r
        .call("POST", "/console/api/sign-out", As::Browser(&sz))
        .await;
    assert_eq!(s, 204);
    let (s, _) = r.get("/console/api/supervisor/stats", me).await;
    assert_eq!(s, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_refuse_bad_codes_unknown_parents_and_offices_as_institutions() {
    let r = region().await;
    let svc = &r.lab.svc;
    let code = |e: hearth_server::ServiceError| e.code();
    assert_eq!(
        svc.create_region("44030", "x", None)
            .map_err(code)
            .unwrap_err(),
        "region.invalid_code"
    );
    assert_eq!(
        svc.create_region("440304", "福田区", Some("999999"))
            .map_err(code)
            .unwrap_err(),
        "region.not_found"
    );
    assert_eq!(
        svc.create_region("440300", "again", None)
            .map_err(code)
            .unwrap_err(),
        "region.exists"
    );
    assert_eq!(
        svc.put_org_in_region(r.lab.org, "123456")
            .map_err(code)
            .unwrap_err(),
        "region.not_found"
    );
    assert_eq!(
        svc.put_org_in_region(r.office_sz, "440300")
            .map_err(code)
            .unwrap_err(),
        "region.office_not_institution"
    );
    assert_eq!(
        svc.add_supervisor("123456", "x").map_err(code).unwrap_err(),
        "region.not_found"
    );
    // A district under Shenzhen: Shenzhen's supervisor sees an institution moved into it.
    svc.create_region("440304", "福田区", Some("440300"))
        .unwrap();
    svc.put_org_in_region(r.org_b, "440304").unwrap();
    let sz = r.sign_in("sz-sup").await;
    let scope = r
        .table("/console/api/supervisor/scope", As::Browser(&sz))
        .await;
    assert_eq!(scope["regions"], json!(["440300", "440304"]));
    assert_eq!(scope["institutions"].as_array().unwrap().len(), 2);
}

/// The commands: create-region, set-region, add-supervisor, and set-password for a supervisor.
#[test]
fn region_and_supervisor_commands() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_hearth-server"))
            .arg("--data")
            .arg(&data)
            .args(args)
            .env_remove("HEARTH_DATABASE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let org = run(&["create-org", "县职业技能培训学校"], None);
    let org = org.trim();
    let out = run(&["create-region", "440300", "--name", "深圳市"], None);
    assert!(out.starts_with("region 440300\noffice "), "{out}");
    run(&["set-region", "--org", org, "--region", "440300"], None);
    let out = run(
        &["add-supervisor", "--region", "440300", "--name", "督导"],
        None,
    );
    let user = out
        .lines()
        .next()
        .unwrap()
        .strip_prefix("user ")
        .unwrap()
        .to_owned();
    let out = run(
        &["set-password", "--user", &user, "--login", "sz-sup"],
        Some("a long password\n"),
    );
    assert_eq!(out.trim(), "password set for sz-sup");
    let svc = hearth_server::Service::open(
        &data,
        Arc::new(hearth_server::env::SystemClock),
        Arc::new(hearth_server::env::SystemRandom::default()),
    )
    .unwrap();
    let u = svc
        .store
        .user(Uuid::parse_str(&user).unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(u.role, Role::Supervisor);
    let scope = svc.supervisor_scope(&u).unwrap();
    assert_eq!(scope.orgs.len(), 1);
    assert_eq!(scope.orgs[0].id.to_string(), org);
    assert_eq!(
        svc.sign_in("sz-sup", "a long password", "127.0.0.1")
            .unwrap()
            .user
            .role,
        Role::Supervisor
    );
}
