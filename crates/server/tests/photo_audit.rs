//! Issue #17 item 2, the service's side of photo checkpoints through a real socket: the policy
//! and key a device fetches, an auditor's request (administrator of the learner's organisation,
//! supervisor of its region; a trainer 403, anyone else 404, CSRF with a session), and a modified
//! client's uploads: a photo is kept only when it opens with the service's key and hashes to a
//! `photo_taken` receipt of that learner's acknowledged chain.

mod common;

use common::lab::*;
use hearth_protocol::photo;
use hearth_protocol::{ContentHash, Envelope, Event, PhotoMoment, ReceiptId};
use hearth_server::Limits;
use hearth_server::domain::audit::Actor;
use hearth_server::store::Role;
use serde_json::{Value, json};

fn jpeg(tag: u8) -> Vec<u8> {
    let mut j = vec![0xff, 0xd8, 0xff, 0xe0];
    j.extend((0..500u32).map(|i| (i as u8).wrapping_mul(tag)));
    j.extend([0xff, 0xd9]);
    j
}

fn id_of(dev: &Dev, envelope: &[u8]) -> ReceiptId {
    Envelope::from_bytes(envelope.to_vec())
        .verify(&dev.device.public_key)
        .unwrap()
        .id()
}

async fn send(
    http: &reqwest::Client,
    method: &str,
    url: String,
    bearer: &str,
    body: Option<reqwest::Body>,
    json_body: Option<Value>,
) -> (u16, Value) {
    let mut req = http
        .request(method.parse().unwrap(), url)
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.body(b);
    }
    if let Some(j) = json_body {
        req = req.json(&j);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let bytes = res.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_audit_keeps_only_photos_that_match_the_chain_and_only_auditors_may_ask() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let lab = Lab::new(2);
    let svc = &lab.svc;
    let (learner, other_learner) = (lab.learners[0], lab.learners[1]);
    let (admin, admin_token) = svc.add_user(lab.org, Role::Admin, "管理员").unwrap();
    let (_, trainer_token) = svc.add_user(lab.org, Role::Trainer, "李老师").unwrap();
    let org_b = svc.create_org("Town school B").unwrap().id;
    let (_, admin_b_token) = svc.add_user(org_b, Role::Admin, "Admin B").unwrap();
    svc.create_region("440000", "广东省", None).unwrap();
    svc.create_region("440300", "深圳市", Some("440000"))
        .unwrap();
    svc.create_region("440100", "广州市", Some("440000"))
        .unwrap();
    svc.put_org_in_region(lab.org, "440300").unwrap();
    let (_, sz_token) = svc.add_supervisor("440300", "深圳督导").unwrap();
    let (_, gz_token) = svc.add_supervisor("440100", "广州督导").unwrap();
    svc.set_password(admin.id, "admin-a", "correct horse battery")
        .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = hearth_server::spawn(listener, svc.clone(), Limits::default()).unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| server.url(p);

    // Off by default; the device learns the policy and the key with GET /v1/photos.
    let mut pc = lab.personal(1, learner);
    pc.fetch_anchor(&lab);
    let (s, state) = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    assert_eq!((s, &state["enabled"]), (200, &json!(false)));
    svc.set_org_photos(lab.org, true, Actor::Cli).unwrap();
    let (_, state) = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    assert_eq!(state["enabled"], true);
    assert_eq!(state["requests"], json!([]));
    let key = photo::parse_key(state["publicKey"].as_str().unwrap()).unwrap();

    // The PC records a photo at sign-in and one at a random moment; the second is held back
    // (a gap after it keeps it pending, not in the acknowledged chain).
    let (shot, withheld_shot) = (jpeg(3), jpeg(5));
    let consent = pc.receipt(Event::ConsentRecorded {
        purpose: hearth_protocol::ConsentPurpose::PhotoCheckpoint,
        granted: true,
        text_sha256: photo::consent_text_sha256(),
    });
    let taken = pc.receipt(Event::PhotoTaken {
        sha256: ContentHash::of(&shot),
        moment: PhotoMoment::SignIn,
    });
    let study_receipt = pc.receipt(long_study(60_000));
    let (taken_id, study_id) = (id_of(&pc, &taken), id_of(&pc, &study_receipt));
    let out = lab.send(&pc, vec![consent, taken, study_receipt]);
    assert_eq!(out.head.seq, 3);
    let _missing = pc.receipt(long_study(1_000));
    let withheld = pc.receipt(Event::PhotoTaken {
        sha256: ContentHash::of(&withheld_shot),
        moment: PhotoMoment::Random,
    });
    let withheld_id = id_of(&pc, &withheld);
    lab.send(&pc, vec![withheld]);

    // Who may ask.
    let photos = url(&format!("/console/api/learners/{learner}/photos"));
    let reason = json!({"reason": "核查学习记录"});
    for (token, status, code) in [
        (&trainer_token, 403, "auth.forbidden"),
        (&admin_b_token, 404, "learner.not_found"),
        (&gz_token, 404, "learner.not_found"),
        (&pc.credential, 403, "auth.forbidden"),
    ] {
        let (s, b) = send(
            &http,
            "POST",
            photos.clone(),
            token,
            None,
            Some(reason.clone()),
        )
        .await;
        assert_eq!((s, b["code"].as_str().unwrap()), (status, code));
        let (s, _) = send(&http, "GET", photos.clone(), token, None, None).await;
        assert_eq!(s, status);
    }
    let (s, b) = send(
        &http,
        "POST",
        photos.clone(),
        &admin_token,
        None,
        Some(json!({"reason": "  "})),
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (400, "photo.invalid_reason")
    );
    // With a console session, a change needs the anti-forgery token.
    let res = http
        .post(url("/console/api/sign-in"))
        .json(&json!({"login": "admin-a", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let res = http
        .post(photos.clone())
        .header("cookie", &cookie)
        .json(&reason)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "console.csrf");
    // The region's supervisor may ask; so may the administrator.
    let (s, _) = send(
        &http,
        "POST",
        photos.clone(),
        &sz_token,
        None,
        Some(reason.clone()),
    )
    .await;
    assert_eq!(s, 201);
    let (s, made) = send(
        &http,
        "POST",
        photos.clone(),
        &admin_token,
        None,
        Some(reason),
    )
    .await;
    assert_eq!(s, 201);
    let request = made["id"].as_str().unwrap().to_owned();
    let audit = svc.store.audit_entries(lab.org, 0, 1000).unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.action == "photos.request" && e.detail.contains("核查学习记录"))
    );

    // The learner's PC sees the requests; another learner's PC neither sees nor answers them.
    let (_, state) = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    let open = state["requests"].as_array().unwrap();
    assert_eq!(open.len(), 2);
    assert!(
        open.iter()
            .any(|r| r["id"] == request.as_str() && r["learnerId"] == learner.to_string())
    );
    let stranger = lab.personal(2, other_learner);
    let (_, st) = send(
        &http,
        "GET",
        url("/v1/photos"),
        &stranger.credential,
        None,
        None,
    )
    .await;
    assert_eq!(st["requests"], json!([]));
    let upload = |receipt: String| url(&format!("/v1/photos/{request}/{receipt}"));
    let sealed = photo::seal(&key, [1; 32], &shot);
    let (s, b) = send(
        &http,
        "POST",
        upload(taken_id.to_string()),
        &stranger.credential,
        Some(sealed.clone().into()),
        None,
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (404, "photo.request_not_found")
    );

    // A modified client's uploads, each refused with its code, nothing kept.
    for (receipt, body, code) in [
        (
            taken_id,
            photo::seal(&key, [2; 32], &jpeg(9)),
            "photo.hash_mismatch",
        ),
        (study_id, sealed.clone(), "photo.not_in_chain"),
        (
            withheld_id,
            photo::seal(&key, [3; 32], &withheld_shot),
            "photo.not_in_chain",
        ),
        (ReceiptId([7; 32]), sealed.clone(), "photo.not_in_chain"),
        (
            taken_id,
            photo::seal(&[9; 32], [4; 32], &shot),
            "photo.undecryptable",
        ),
        (taken_id, vec![1, 2, 3], "photo.bad_size"),
    ] {
        let (s, b) = send(
            &http,
            "POST",
            upload(receipt.to_string()),
            &pc.credential,
            Some(body.into()),
            None,
        )
        .await;
        assert_eq!((s, b["code"].as_str().unwrap()), (400, code), "{receipt}");
    }
    let (s, b) = send(
        &http,
        "POST",
        upload("nonsense".into()),
        &pc.credential,
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (400, "request.invalid_path")
    );

    // The genuine photo is kept, once.
    for new in [true, false] {
        let (s, b) = send(
            &http,
            "POST",
            upload(taken_id.to_string()),
            &pc.credential,
            Some(sealed.clone().into()),
            None,
        )
        .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["new"], new);
        assert_eq!(b["sha256"], ContentHash::of(&shot).to_string());
    }
    let (s, _) = send(
        &http,
        "POST",
        upload("done".into()),
        &pc.credential,
        None,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let (_, state) = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    assert_eq!(state["requests"].as_array().unwrap().len(), 1, "answered");

    // The auditor sees the photo next to its receipt's times.
    let (s, view) = send(&http, "GET", photos.clone(), &admin_token, None, None).await;
    assert_eq!(s, 200);
    let answered = view
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == request.as_str())
        .unwrap();
    assert!(answered["fulfilledMs"].is_i64());
    let kept = answered["photos"].as_array().unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["receiptId"], taken_id.to_string());
    assert_eq!(kept[0]["takenWallMs"], pc.wall);
    // The supervisor of the region sees it too; another region's does not.
    let (s, _) = send(&http, "GET", photos.clone(), &sz_token, None, None).await;
    assert_eq!(s, 200);
    let audit = svc.store.audit_entries(lab.org, 0, 1000).unwrap();
    assert!(audit.iter().any(|e| e.action == "photos.received"));
    assert!(svc.verify_audit(lab.org).unwrap().intact);

    // Past the retention, the next device sync deletes the kept photo although nobody looked.
    let request_id = uuid::Uuid::parse_str(&request).unwrap();
    lab.clock
        .advance(hearth_server::domain::photos::AUDIT_RETENTION_MS - 60_000);
    let _ = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    assert_eq!(
        svc.store.audit_photos(request_id).unwrap().len(),
        1,
        "not yet"
    );
    lab.clock.advance(120_000);
    let (s, _) = send(&http, "GET", url("/v1/photos"), &pc.credential, None, None).await;
    assert_eq!(s, 200);
    assert!(
        svc.store.audit_photos(request_id).unwrap().is_empty(),
        "deleted at the first sync past 180 days"
    );
    server.stop().await.unwrap();
}
