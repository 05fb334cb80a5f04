//! Issue #15 item 5, review of subsidy claims (补贴申领审核), through a real socket on a service
//! where learners really studied (one certified, one whose PC was forked, so an open flag): an
//! administrator submits a class's claim, the signed pack is frozen (later study changes neither
//! the file nor its totals), the supervisor of the institution's city or province reviews it,
//! rejects it with a required reason, the administrator resubmits, a supervisor approves it; a
//! decision is final; the packs verify with the issuer key alone. Authorization: another
//! region's supervisor and another institution's administrator see nothing (404 by id, in lists,
//! on download), trainers get 403, writes need CSRF, bearer tokens work; every step is in the
//! audit log and every chain still verifies.

mod common;

use std::time::Duration;

use common::lab::*;
use hearth_protocol::credential;
use hearth_server::store::Role;
use serde_json::{Value, json};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery";

struct Site {
    lab: Lab,
    server: hearth_server::Running,
    http: reqwest::Client,
    admin_token: String,
    offices: [Uuid; 3],
}

#[derive(Clone, Copy)]
enum As<'a> {
    Browser(&'a (String, String)),
    CookieOnly(&'a (String, String)),
    Bearer(&'a str),
}

impl Site {
    /// certified_lab(3, 1) in Shenzhen (440300, under the province 440000) with learner 1's PC
    /// forked; a school in Guangzhou (440100) with its own administrator; supervisors of the
    /// three regions; the centre's administrator (with a token for scripts) and its trainer.
    async fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let lab = certified_lab(3, 1);
        forked_personal_pc(&lab, 2, lab.learners[1]);

        let svc = &lab.svc;
        let org_b = svc.create_org("广州市技工学校").unwrap().id;
        let (admin_b, _) = svc.add_user(org_b, Role::Admin, "Admin B").unwrap();
        svc.set_password(admin_b.id, "admin-b", PASSWORD).unwrap();
        let mut offices = [Uuid::nil(); 3];
        for (i, (code, name, parent, login)) in [
            ("440000", "广东省", None, "gd-sup"),
            ("440300", "深圳市", Some("440000"), "sz-sup"),
            ("440100", "广州市", Some("440000"), "gz-sup"),
        ]
        .into_iter()
        .enumerate()
        {
            offices[i] = svc.create_region(code, name, parent).unwrap().office;
            let (u, _) = svc.add_supervisor(code, &format!("{name}督导")).unwrap();
            svc.set_password(u.id, login, PASSWORD).unwrap();
        }
        svc.put_org_in_region(lab.org, "440300").unwrap();
        svc.put_org_in_region(org_b, "440100").unwrap();
        let (admin, admin_token) = svc.add_user(lab.org, Role::Admin, "管理员甲").unwrap();
        svc.set_password(admin.id, "admin", PASSWORD).unwrap();
        svc.set_password(lab.trainer, "wang", PASSWORD).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server =
            hearth_server::spawn(listener, svc.clone(), hearth_server::Limits::default()).unwrap();
        Site {
            lab,
            server,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            admin_token,
            offices,
        }
    }

    /// (cookie, CSRF token) of a signed-in person.
    async fn sign_in(&self, login: &str) -> (String, String) {
        let s = common::console::sign_in(
            &self.http,
            self.server.url("/console/api/sign-in"),
            login,
            PASSWORD,
        )
        .await;
        (s.cookie, s.csrf)
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        who: As<'_>,
        body: Option<Value>,
    ) -> (u16, Vec<u8>) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.server.url(path));
        req = match who {
            As::Browser((cookie, csrf)) => {
                req.header("cookie", cookie).header("x-csrf-token", csrf)
            }
            As::CookieOnly((cookie, _)) => req.header("cookie", cookie),
            As::Bearer(t) => req.bearer_auth(t),
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        who: As<'_>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (s, b) = self.raw(method, path, who, body).await;
        (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
    }

    fn actions(&self, org: Uuid) -> Vec<(String, Value)> {
        let svc = &self.lab.svc;
        assert!(
            svc.verify_audit(org).unwrap().intact,
            "the chain of {org} holds"
        );
        svc.store
            .audit_entries(org, 0, 1000)
            .unwrap()
            .into_iter()
            .filter(|e| e.action.starts_with("claim."))
            .map(|e| (e.action, serde_json::from_str(&e.detail).unwrap()))
            .collect()
    }
}

fn code(b: &Value) -> &str {
    b["code"].as_str().unwrap_or("")
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect()
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_is_frozen_reviewed_rejected_with_a_reason_resubmitted_and_approved() {
    let site = Site::new().await;
    let lab = &site.lab;
    let key = *lab.svc.keys.issuer_public().as_bytes();
    let admin = site.sign_in("admin").await;
    let (sz, gd) = (site.sign_in("sz-sup").await, site.sign_in("gd-sup").await);
    let submit = format!("/console/api/classes/{}/claims", lab.class);

    // The administrator submits: the totals are the pack's, the open flag is the fork.
    let (s, first) = site.call("POST", &submit, As::Browser(&admin), None).await;
    assert_eq!(s, 201, "{first}");
    assert_eq!(first["state"], "pending");
    assert_eq!(first["className"], "电工一班");
    assert_eq!(first["learners"], 3);
    assert_eq!(first["certificates"], 1);
    // The fork flag, and the credit withheld on the flagged device, both about learner 1.
    let open: Vec<_> = lab
        .svc
        .console_flags(lab.org)
        .unwrap()
        .into_iter()
        .filter(|f| f.resolution.is_none() && f.learner_ids.contains(&lab.learners[1]))
        .map(|f| f.kind)
        .collect();
    assert!(open.contains(&"fork"), "{open:?}");
    assert_eq!(first["openFlags"], open.len(), "{first}");
    let credited: u64 = lab
        .learners
        .iter()
        .map(|l| lab.record(*l).credited_ms)
        .sum();
    assert!(credited > 0);
    assert_eq!(first["creditedMs"], credited);
    let id = first["id"].as_str().unwrap().to_owned();
    let pack_url = format!("/console/api/claims/{id}/pack");
    let (s, pack) = site.raw("GET", &pack_url, As::Browser(&sz), None).await;
    assert_eq!(s, 200);
    assert_eq!(first["packSha256"], sha256_hex(&pack));
    let parsed: Value = serde_json::from_slice(&pack).unwrap();
    assert_eq!(credential::verify_claim_pack(&parsed, &key).unwrap(), 3);
    // A second claim while this one waits: refused.
    let (s, b) = site.call("POST", &submit, As::Browser(&admin), None).await;
    assert_eq!((s, code(&b)), (409, "claim.pending"));

    // Learner 2 studies after the submission: the frozen pack and its totals do not change.
    let mut pc = lab.personal(3, lab.learners[2]);
    pc.fetch_anchor(lab);
    let b = honest(lab, &mut pc, 5, |ms| study("l1", ms));
    assert!(!lab.send(&pc, b).flagged);
    assert!(lab.record(lab.learners[2]).credited_ms > 0);
    let (_, again) = site.raw("GET", &pack_url, As::Browser(&admin), None).await;
    assert_eq!(again, pack, "the pack is the one submitted, byte for byte");

    // The city's and the province's supervisors see it; the detail names the learners, their
    // hours and certificates and the fork flag, from the frozen pack.
    for who in [&sz, &gd] {
        let (s, list) = site
            .call("GET", "/console/api/claims", As::Browser(who), None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(ids(&list), [id.as_str()]);
        assert_eq!(
            list[0]["institution"],
            lab.svc.store.org(lab.org).unwrap().unwrap().name
        );
    }
    let (s, detail) = site
        .call(
            "GET",
            &format!("/console/api/claims/{id}"),
            As::Browser(&sz),
            None,
        )
        .await;
    assert_eq!(s, 200, "{detail}");
    let rows = detail["learnerRows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let row = |l: usize| {
        rows.iter()
            .find(|r| r["learnerId"] == json!(lab.learners[l]))
            .unwrap()
    };
    assert_eq!(row(0)["certificates"], 1);
    assert_eq!(
        row(0)["creditedMs"],
        lab.record(lab.learners[0]).credited_ms
    );
    assert_eq!(
        row(2)["creditedMs"],
        0,
        "as frozen, before learner 2 studied"
    );
    let kinds: Vec<&str> = row(1)["openFlags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, open);
    assert!(row(0)["openFlags"].as_array().unwrap().is_empty());
    assert!(
        row(0)["nationalIdMasked"]
            .as_str()
            .unwrap()
            .starts_with("****")
    );

    // A rejection needs a reason; the administrator cannot decide; writes need the CSRF token.
    let reject = format!("/console/api/claims/{id}/reject");
    let approve = format!("/console/api/claims/{id}/approve");
    for reason in ["", "   "] {
        let (s, b) = site
            .call(
                "POST",
                &reject,
                As::Browser(&sz),
                Some(json!({ "reason": reason })),
            )
            .await;
        assert_eq!((s, code(&b)), (400, "claim.invalid_reason"));
    }
    let (s, b) = site
        .call("POST", &reject, As::Browser(&sz), Some(json!({})))
        .await;
    assert_eq!(s, 400, "{b}");
    let (s, b) = site.call("POST", &approve, As::Browser(&admin), None).await;
    assert_eq!((s, code(&b)), (403, "auth.forbidden"));
    let (s, b) = site.call("POST", &approve, As::CookieOnly(&sz), None).await;
    assert_eq!((s, code(&b)), (403, "console.csrf"));
    let (_, list) = site
        .call("GET", "/console/api/claims", As::Browser(&sz), None)
        .await;
    assert_eq!(list[0]["state"], "pending", "nothing above changed it");

    // The city's supervisor rejects it; the decision is final.
    let (s, rejected) = site
        .call(
            "POST",
            &reject,
            As::Browser(&sz),
            Some(json!({ "reason": "缺少考勤签到表" })),
        )
        .await;
    assert_eq!(s, 200, "{rejected}");
    assert_eq!(rejected["state"], "rejected");
    assert_eq!(rejected["reason"], "缺少考勤签到表");
    assert_eq!(rejected["decidedByName"], "深圳市督导");
    for (path, who) in [(&approve, &sz), (&approve, &gd), (&reject, &gd)] {
        let (s, b) = site
            .call(
                "POST",
                path,
                As::Browser(who),
                Some(json!({ "reason": "again" })),
            )
            .await;
        assert_eq!((s, code(&b)), (409, "claim.already_decided"), "{path}");
    }

    // The administrator sees why, and resubmits from a script (bearer token, no CSRF).
    let (_, list) = site
        .call("GET", "/console/api/claims", As::Browser(&admin), None)
        .await;
    assert_eq!(list[0]["state"], "rejected");
    assert_eq!(list[0]["reason"], "缺少考勤签到表");
    let (s, second) = site
        .call("POST", &submit, As::Bearer(&site.admin_token), None)
        .await;
    assert_eq!(s, 201, "{second}");
    let id2 = second["id"].as_str().unwrap().to_owned();
    assert_ne!(id2, id);
    assert_eq!(
        second["creditedMs"],
        credited + lab.record(lab.learners[2]).credited_ms
    );
    // Pending first for the reviewer.
    let (_, list) = site
        .call("GET", "/console/api/claims", As::Browser(&gd), None)
        .await;
    assert_eq!(ids(&list), [id2.as_str(), id.as_str()]);

    // The province's supervisor approves it; the class may not claim again.
    let (s, approved) = site
        .call(
            "POST",
            &format!("/console/api/claims/{id2}/approve"),
            As::Browser(&gd),
            None,
        )
        .await;
    assert_eq!(s, 200, "{approved}");
    assert_eq!(approved["state"], "approved");
    let (s, b) = site.call("POST", &submit, As::Browser(&admin), None).await;
    assert_eq!((s, code(&b)), (409, "claim.approved"));
    // The approved pack stays downloadable and verifies; so does the rejected one.
    for (claim, who) in [(&id2, &admin), (&id2, &sz), (&id, &gd)] {
        let (s, pack) = site
            .raw(
                "GET",
                &format!("/console/api/claims/{claim}/pack"),
                As::Browser(who),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let parsed: Value = serde_json::from_slice(&pack).unwrap();
        assert_eq!(credential::verify_claim_pack(&parsed, &key).unwrap(), 3);
    }

    // The audit log: two submissions in the centre's, the rejection with its reason in
    // Shenzhen's office's, the approval in the province's; every chain holds.
    let centre = site.actions(lab.org);
    assert_eq!(
        centre
            .iter()
            .map(|(a, d)| (a.as_str(), d["claim"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            ("claim.submit", id.as_str()),
            ("claim.submit", id2.as_str())
        ]
    );
    assert_eq!(centre[0].1["packSha256"], first["packSha256"]);
    let [gd_office, sz_office, _] = site.offices;
    let sz_log = site.actions(sz_office);
    assert_eq!(sz_log.len(), 1);
    assert_eq!(sz_log[0].0, "claim.reject");
    assert_eq!(sz_log[0].1["reason"], "缺少考勤签到表");
    assert_eq!(sz_log[0].1["claim"], id.as_str());
    let gd_log = site.actions(gd_office);
    assert_eq!(gd_log.len(), 1);
    assert_eq!(
        (gd_log[0].0.as_str(), &gd_log[0].1["claim"]),
        ("claim.approve", &json!(id2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_keep_to_the_institution_and_the_region() {
    let site = Site::new().await;
    let lab = &site.lab;
    let admin = site.sign_in("admin").await;
    let (gz, admin_b, wang) = (
        site.sign_in("gz-sup").await,
        site.sign_in("admin-b").await,
        site.sign_in("wang").await,
    );
    let submit = format!("/console/api/classes/{}/claims", lab.class);

    // Only the class's own administrators submit: CSRF needed, another institution's reads the
    // class as absent, a trainer and a supervisor are refused.
    let (s, b) = site
        .call("POST", &submit, As::CookieOnly(&admin), None)
        .await;
    assert_eq!((s, code(&b)), (403, "console.csrf"));
    let (s, b) = site
        .call("POST", &submit, As::Browser(&admin_b), None)
        .await;
    assert_eq!((s, code(&b)), (404, "class.not_found"));
    for who in [&wang, &gz] {
        let (s, b) = site.call("POST", &submit, As::Browser(who), None).await;
        assert_eq!((s, code(&b)), (403, "auth.forbidden"));
    }
    let (s, b) = site
        .call(
            "POST",
            "/console/api/classes/not-a-uuid/claims",
            As::Browser(&admin),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (400, "class.invalid_id"));
    let (s, claim) = site.call("POST", &submit, As::Browser(&admin), None).await;
    assert_eq!(s, 201);
    let id = claim["id"].as_str().unwrap();

    // Guangzhou's supervisor and the school's administrator: nothing, by id, in lists, on
    // download, on decision; the trainer: refused; an unknown id: absent; a bad one: invalid.
    for who in [&gz, &admin_b] {
        let (s, list) = site
            .call("GET", "/console/api/claims", As::Browser(who), None)
            .await;
        assert_eq!((s, list), (200, json!([])));
        for path in [
            format!("/console/api/claims/{id}"),
            format!("/console/api/claims/{id}/pack"),
        ] {
            let (s, b) = site.call("GET", &path, As::Browser(who), None).await;
            assert_eq!((s, code(&b)), (404, "claim.not_found"), "{path}");
        }
    }
    let (s, b) = site
        .call(
            "POST",
            &format!("/console/api/claims/{id}/approve"),
            As::Browser(&gz),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "claim.not_found"));
    let (s, b) = site
        .call(
            "POST",
            &format!("/console/api/claims/{id}/reject"),
            As::Browser(&gz),
            Some(json!({ "reason": "不在辖区" })),
        )
        .await;
    assert_eq!((s, code(&b)), (404, "claim.not_found"));
    for path in [
        "/console/api/claims".to_owned(),
        format!("/console/api/claims/{id}"),
        format!("/console/api/claims/{id}/pack"),
    ] {
        let (s, b) = site.call("GET", &path, As::Browser(&wang), None).await;
        assert_eq!((s, code(&b)), (403, "auth.forbidden"), "{path}");
    }
    let (s, b) = site
        .call(
            "GET",
            &format!("/console/api/claims/{}", Uuid::nil()),
            As::Browser(&admin),
            None,
        )
        .await;
    assert_eq!((s, code(&b)), (404, "claim.not_found"));
    let (s, b) = site
        .call("GET", "/console/api/claims/nope", As::Browser(&admin), None)
        .await;
    assert_eq!((s, code(&b)), (400, "claim.invalid_id"));
    // Bearer tokens read too; with no credential at all, nothing.
    let (s, list) = site
        .call(
            "GET",
            "/console/api/claims",
            As::Bearer(&site.admin_token),
            None,
        )
        .await;
    assert_eq!((s, ids(&list)), (200, vec![id]));
    let res = site
        .http
        .get(site.server.url("/console/api/claims"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Nothing of the refused calls was decided or logged.
    let (_, list) = site
        .call("GET", "/console/api/claims", As::Browser(&admin), None)
        .await;
    assert_eq!(list[0]["state"], "pending");
    let [_, _, gz_office] = site.offices;
    assert!(site.actions(gz_office).is_empty());
    assert_eq!(site.actions(lab.org).len(), 1);
}
