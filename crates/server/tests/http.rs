//! The service over a real socket (127.0.0.1:0): enrollment, ingest with every reject reason of
//! the published test vectors, chain cases, bad input, restarts, reports, publishing.

mod common;

use common::*;
use hearth_protocol::wire::{
    AnchorJson, BATCH_CONTENT_TYPE, EnrollRequest, UploadResponse, encode_batch,
};
use hearth_protocol::{
    AnchorRef, CourseId, Event, LearnerId, LessonId, ReceiptId, RejectReason, TimeAnchor,
};
use ring::signature::Ed25519KeyPair;
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    envelopes: Vec<Case>,
    chains: Vec<Chain>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    public_key: String,
    envelope: String,
    expect: String,
}

#[derive(Deserialize)]
struct Chain {
    name: String,
    receipts: Vec<String>,
    expect: String,
}

fn vectors() -> Vectors {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/test-vectors/receipts.json"
    );
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn upload_response(v: serde_json::Value) -> UploadResponse {
    serde_json::from_value(v).unwrap()
}

fn course() -> CourseId {
    CourseId::new("electrician-safety").unwrap()
}

fn lesson(s: &str) -> LessonId {
    LessonId::new(s).unwrap()
}

fn sign_in() -> Event {
    Event::LearnerSignedIn {
        method: hearth_protocol::SignInMethod::Pin,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_envelope_gets_its_verdict_over_http() {
    let w = World::new().await;
    let v = vectors();
    // Vectors are verified under the device key 0x11 or 0x33: enroll both in org A.
    let mut tokens = std::collections::HashMap::new();
    for seed in [0x11u8, 0x33] {
        let e = w.enroll(w.org_a, None, &key(seed)).await;
        tokens.insert(public(&key(seed)).to_hex(), e.credential);
    }
    let dev11 = tokens[&public(&key(0x11)).to_hex()].clone();
    // The valid chain first, in order: every one accepted.
    let complete = v.chains.iter().find(|c| c.name == "complete").unwrap();
    let env = |name: &str| {
        hex::decode(
            &v.envelopes
                .iter()
                .find(|e| e.name == name)
                .unwrap()
                .envelope,
        )
        .unwrap()
    };
    let batch: Vec<Vec<u8>> = complete.receipts.iter().map(|n| env(n)).collect();
    let (s, body) = w.upload(&dev11, &batch).await;
    assert_eq!(s, 200, "{body}");
    let r = upload_response(body);
    assert_eq!(r.results, "A".repeat(batch.len()));
    assert_eq!(r.head.seq, batch.len() as u64);

    let mut seen_codes = std::collections::BTreeSet::new();
    for case in v.envelopes.iter().filter(|c| c.expect != "valid") {
        let token = &tokens[&case.public_key];
        let bytes = hex::decode(&case.envelope).unwrap();
        let (s, body) = w.upload(token, &[bytes]).await;
        assert_eq!(s, 200, "{}: {body}", case.name);
        let r = upload_response(body);
        assert_eq!(r.results, "R", "{}", case.name);
        assert_eq!(r.rejections[0].code, case.expect, "{}", case.name);
        seen_codes.insert(case.expect.clone());
    }
    // The one reason the vectors cannot show without the service: an anchor not signed by it.
    let mut d = ReceiptWriter::new(0x11, w.learner_a1);
    d.seq = 7;
    d.prev = ReceiptId::from_slice(&r.head.id.0).unwrap();
    d.anchor = Some(AnchorRef {
        anchor: TimeAnchor::issue(&key(0x99), device_of(&key(0x11)), T0),
        received: d.mono,
    });
    let forged = d.next(1000, sign_in());
    let (_, body) = w.upload(&dev11, &[forged]).await;
    let r2 = upload_response(body);
    assert_eq!(r2.results, "R");
    assert_eq!(r2.rejections[0].code, RejectReason::BadAnchor.code());
    seen_codes.insert(r2.rejections[0].code.clone());
    for code in RejectReason::ALL_CODES {
        assert!(
            seen_codes.contains(code),
            "{code} was not exercised over HTTP"
        );
    }
    // Nothing of that moved the chain.
    let (_, st) = w.get("/v1/sync/state", &dev11).await;
    assert_eq!(st["head"]["seq"], 7);
    // The fork vector (valid alone) is refused as a fork and flags the device.
    let (_, body) = w.upload(&dev11, &[env("fork-at-2")]).await;
    let r = upload_response(body);
    assert_eq!(r.results, "R");
    assert_eq!(r.rejections[0].code, "chain.fork");
    assert!(r.flagged);
    // Admin sees the flag and the rejected envelopes byte for byte.
    let (s, flags) = w.get("/v1/admin/flags", &w.admin_a).await;
    assert_eq!(s, 200);
    assert_eq!(flags["devices"][0]["code"], "chain.fork");
    let rejected: Vec<&str> = flags["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["envelope"].as_str().unwrap())
        .collect();
    assert!(rejected.contains(&hex::encode(env("fork-at-2")).as_str()));
    // The other organisation's admin sees none of it.
    let (_, flags_b) = w.get("/v1/admin/flags", &w.admin_b).await;
    assert_eq!(flags_b["devices"].as_array().unwrap().len(), 0);
    assert_eq!(flags_b["rejections"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_vectors_over_http() {
    let v = vectors();
    let env = |name: &str| {
        hex::decode(
            &v.envelopes
                .iter()
                .find(|e| e.name == name)
                .unwrap()
                .envelope,
        )
        .unwrap()
    };
    // What the service answers for each published chain case (each on a fresh service, because
    // the vector key can be enrolled once per service).
    let want = [
        ("complete", "AAAAAAA", 7, false),
        ("withheld-third", "AAPP", 2, false),
        ("reordered", "APA", 3, false),
        ("replayed", "AAD", 2, false),
        ("forked", "AAR", 2, true),
        ("fork-continued", "AAR", 2, true),
    ];
    for (name, results, head, flagged) in want {
        let chain = v.chains.iter().find(|c| c.name == name).unwrap();
        let mut w = World::new().await;
        let e = w.enroll(w.org_a, None, &key(0x11)).await;
        let batch: Vec<Vec<u8>> = chain.receipts.iter().map(|n| env(n)).collect();
        let (_, body) = w.upload(&e.credential, &batch).await;
        let r = upload_response(body);
        // "reordered": the receipt held pending is promoted as soon as the gap fills, in the
        // same batch, so the service reports it accepted.
        let results = if name == "reordered" { "AAA" } else { results };
        assert_eq!(
            r.results, results,
            "{name} (vector verdict {})",
            chain.expect
        );
        assert_eq!(r.head.seq, head, "{name}");
        assert_eq!(r.flagged, flagged, "{name}");
        // Blind retry of the same batch: nothing changes, nothing counts twice.
        let (_, body) = w.upload(&e.credential, &batch).await;
        let again = upload_response(body);
        assert_eq!(again.head, r.head, "{name} retried");
        assert!(
            !again.results.contains('A'),
            "{name} retried: {}",
            again.results
        );
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_stay_pending_until_filled_then_promote() {
    let w = World::new().await;
    let k = key(1);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let mut d = ReceiptWriter::new(1, w.learner_a1);
    d.take_anchor(&e.anchor);
    let all: Vec<Vec<u8>> = (0..10).map(|_| d.next(1000, sign_in())).collect();
    // Receipts 6..10 arrive first (receipts 1..5 are still on a USB stick).
    let (_, body) = w.upload(&e.credential, &all[5..]).await;
    let r = upload_response(body);
    assert_eq!(r.results, "PPPPP");
    assert_eq!(r.head.seq, 0);
    let (_, st) = w.get("/v1/sync/state", &e.credential).await;
    assert_eq!(st["pending"], 5);
    let (_, body) = w.upload(&e.credential, &all[..5]).await;
    let r = upload_response(body);
    assert_eq!(r.results, "AAAAA");
    assert_eq!(r.head.seq, 10, "the pending receipts were promoted");
    let (_, st) = w.get("/v1/sync/state", &e.credential).await;
    assert_eq!(st["pending"], 0);
    let (_, body) = w.upload(&e.credential, &all).await;
    assert_eq!(upload_response(body).results, "D".repeat(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enrollment_rules() {
    let w = World::new().await;
    let k = key(3);
    let code = w
        .svc
        .issue_enrollment_code(w.org_a, Some(w.learner_a1), None)
        .unwrap();
    let req = |code: &str, k: &Ed25519KeyPair, claimed| EnrollRequest {
        code: code.into(),
        public_key: public(k),
        device_id: claimed,
        label: None,
    };
    let post = |r: EnrollRequest| {
        let http = w.http.clone();
        let url = w.url("/v1/enroll");
        async move {
            let res = http.post(url).json(&r).send().await.unwrap();
            let s = res.status().as_u16();
            (s, res.json::<serde_json::Value>().await.unwrap())
        }
    };
    // A device id that is not derived from the key.
    let (s, b) = post(req(&code, &k, device_of(&key(4)))).await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (400, "enroll.device_id_mismatch")
    );
    // A code that was never issued.
    let (s, b) = post(req("AAAA-BBBB-CCCC", &k, device_of(&k))).await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (403, "enroll.invalid_code")
    );
    // The real code works once (lower case and without dashes too).
    let sloppy = code.replace('-', "").to_lowercase();
    let (s, b) = post(req(&sloppy, &k, device_of(&k))).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["deviceId"], device_of(&k).to_string());
    assert_eq!(b["learnerId"], w.learner_a1.to_string());
    assert_eq!(
        b["roster"].as_array().unwrap().len(),
        1,
        "a personal device gets its learner"
    );
    assert_eq!(b["anchorKey"], public(&key(0x22)).to_hex());
    assert_eq!(b["publisherKeys"][0], public(&key(0x44)).to_hex());
    let anchor: AnchorJson = serde_json::from_value(b["anchor"].clone()).unwrap();
    anchor
        .to_anchor()
        .unwrap()
        .verify(&public(&key(0x22)), device_of(&k))
        .unwrap();
    // Reused code, from another device: refused, nothing enrolled.
    let k5 = key(5);
    let (s, b) = post(req(&code, &k5, device_of(&k5))).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (409, "enroll.code_used"));
    assert!(w.svc.store.device(device_of(&k5)).unwrap().is_none());
    // Expired code.
    let late = w.svc.issue_enrollment_code(w.org_a, None, Some(1)).unwrap();
    w.clock.advance(2 * 3600 * 1000);
    let (s, b) = post(req(&late, &k5, device_of(&k5))).await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (410, "enroll.code_expired")
    );
    // A kiosk code gives the roster of the kiosk's classes: their learners with PIN verifiers
    // and the trainers who run them, nobody else of the organisation.
    let kiosk = w.enroll_kiosk(w.org_a, &[w.class_a], &key(6)).await;
    assert!(kiosk.learner_id.is_none());
    let mut on_roster: Vec<_> = kiosk.roster.iter().map(|p| p.learner_id).collect();
    on_roster.sort_by_key(|l| l.0);
    let mut want = vec![w.learner_a1, LearnerId(w.trainer_a_id)];
    want.sort_by_key(|l| l.0);
    assert_eq!(on_roster, want, "the class's learner and its trainer");
    assert!(kiosk.roster.iter().any(|p| p.pin_hash.is_some()));
    w.assert_serving().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_4xx_nothing_stored_and_still_serving() {
    let w = World::new().await;
    let k = key(8);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let tok = e.credential.clone();
    let mut d = ReceiptWriter::new(8, w.learner_a1);
    d.take_anchor(&e.anchor);
    let good: Vec<Vec<u8>> = (0..3).map(|_| d.next(1000, sign_in())).collect();
    let batch = encode_batch(&good);
    let rejections_before = w
        .svc
        .flags_report(w.org_a, None, None)
        .unwrap()
        .rejections
        .len();

    let check = |what: &str, got: (u16, serde_json::Value), status: u16, code: &str| {
        assert_eq!(got.0, status, "{what}: {}", got.1);
        assert_eq!(got.1["code"], code, "{what}");
        assert!(got.1["message"].is_string(), "{what} has a message");
    };
    // Malformed JSON, wrong content type, oversize body on the JSON route.
    let r = w
        .post_raw(
            "/v1/enroll",
            "",
            "application/json",
            None,
            b"{\"code\": ".to_vec(),
        )
        .await;
    check("malformed json", r, 400, "request.malformed_json");
    let r = w
        .post_raw(
            "/v1/enroll",
            "",
            "application/json",
            None,
            b"{\"code\": 5}".to_vec(),
        )
        .await;
    check("wrong json shape", r, 400, "request.malformed_json");
    let r = w
        .post_raw("/v1/enroll", "", "text/plain", None, b"{}".to_vec())
        .await;
    check(
        "wrong content type",
        r,
        415,
        "request.unsupported_media_type",
    );
    let big = format!("{{\"code\": \"{}\"}}", "A".repeat(100_000));
    let r = w
        .post_raw("/v1/enroll", "", "application/json", None, big.into_bytes())
        .await;
    check("oversize json", r, 413, "request.too_large");
    // Upload: wrong content type, truncated zstd, truncated gzip, a decompression bomb, an
    // unknown encoding, a batch that is not a batch.
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            "application/json",
            None,
            batch.clone(),
        )
        .await;
    check("batch as json", r, 415, "request.unsupported_media_type");
    let z = zstd::encode_all(&batch[..], 3).unwrap();
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            Some("zstd"),
            z[..z.len() - 5].to_vec(),
        )
        .await;
    check("truncated zstd", r, 400, "request.bad_encoding");
    let g = gzip(&batch);
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            Some("gzip"),
            g[..g.len() - 6].to_vec(),
        )
        .await;
    check("truncated gzip", r, 400, "request.bad_encoding");
    let bomb = zstd::encode_all(&vec![0u8; 64 * 1024 * 1024][..], 19).unwrap();
    assert!(bomb.len() < 64 * 1024, "the bomb is small on the wire");
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            Some("zstd"),
            bomb,
        )
        .await;
    check("decompression bomb", r, 413, "request.too_large");
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            Some("br"),
            batch.clone(),
        )
        .await;
    check("unknown encoding", r, 415, "request.unsupported_encoding");
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            None,
            b"nonsense".to_vec(),
        )
        .await;
    check("not a batch", r, 400, "batch.bad_magic");
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            &tok,
            BATCH_CONTENT_TYPE,
            None,
            batch[..batch.len() - 3].to_vec(),
        )
        .await;
    check("truncated batch", r, 400, "batch.truncated");
    let huge = vec![0u8; 5 * 1024 * 1024];
    let r = w
        .post_raw("/v1/sync/receipts", &tok, BATCH_CONTENT_TYPE, None, huge)
        .await;
    check("oversize batch", r, 413, "request.too_large");
    // Credentials: none, forged, an unknown device's, expired.
    let r = w
        .post_raw(
            "/v1/sync/receipts",
            "",
            BATCH_CONTENT_TYPE,
            None,
            batch.clone(),
        )
        .await;
    check("no credential", r, 401, "auth.missing_credential");
    let forged = format!("hd1_{}", "A".repeat(43));
    let r = w.upload(&forged, &good).await;
    check("forged credential", r, 401, "auth.invalid_credential");
    let mut tampered = tok.clone();
    tampered.pop();
    tampered.push(if tok.ends_with('A') { 'B' } else { 'A' });
    let r = w.upload(&tampered, &good).await;
    check("altered credential", r, 401, "auth.invalid_credential");
    // An unknown device: its receipts sent with another device's credential are refused one by
    // one (they are not signed by the enrolled key).
    let mut stranger = ReceiptWriter::new(9, w.learner_a1);
    let foreign = vec![stranger.next(1000, sign_in())];
    let (s, body) = w.upload(&tok, &foreign).await;
    assert_eq!(s, 200);
    let r = upload_response(body);
    assert_eq!(r.rejections[0].code, "receipt.bad_signature");
    // Cross-organisation read, and a trainer reading a learner outside their class.
    let r = w
        .get(&format!("/v1/learners/{}/record", w.learner_b1), &tok)
        .await;
    // Another organisation's learner is answered like one that does not exist.
    check("device reads another org", r, 404, "learner.not_found");
    let r = w
        .get(&format!("/v1/learners/{}/record", w.learner_a1), &w.admin_b)
        .await;
    check("admin reads another org", r, 404, "learner.not_found");
    let r = w
        .get(&format!("/v1/learners/{}/record", w.learner_a2), &tok)
        .await;
    check(
        "personal device reads another learner",
        r,
        403,
        "auth.forbidden",
    );
    let r = w
        .get(
            &format!("/v1/learners/{}/record", w.learner_a2),
            &w.trainer_a,
        )
        .await;
    check("trainer reads outside the class", r, 403, "auth.forbidden");
    let r = w
        .get(
            &format!("/v1/classes/{}/progress", w.class_a),
            &w.other_trainer_a,
        )
        .await;
    check("another trainer's class", r, 403, "auth.forbidden");
    let r = w.get("/v1/admin/flags", &w.trainer_a).await;
    check("trainer on the admin view", r, 403, "auth.forbidden");
    let r = w.get("/v1/admin/flags", &tok).await;
    check("device on the admin view", r, 403, "auth.forbidden");
    let r = w.get("/v1/learners/not-a-uuid/record", &tok).await;
    check("bad id", r, 400, "learner.invalid_id");
    let r = w.get("/v1/nowhere", &tok).await;
    check("unknown route", r, 404, "not_found");

    // Nothing of all that was stored.
    let st = w.svc.store.chain_state(device_of(&k)).unwrap();
    assert_eq!(st.head.seq, 0);
    assert_eq!(st.pending, 0);
    assert_eq!(
        w.svc
            .flags_report(w.org_a, None, None)
            .unwrap()
            .rejections
            .len(),
        rejections_before + 1,
        "only the foreign receipt is on the audit list"
    );
    // Expired credential: a year and a day later.
    w.clock.advance(366 * 24 * 3600 * 1000);
    let r = w.upload(&tok, &good).await;
    check("expired credential", r, 401, "auth.expired_credential");
    w.clock.advance(-(366 * 24 * 3600 * 1000));
    // And the service still works for the good batch.
    w.assert_serving().await;
    let (s, body) = w.upload(&tok, &good).await;
    assert_eq!(s, 200);
    assert_eq!(upload_response(body).results, "AAA");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_loses_nothing_acknowledged() {
    let mut w = World::new().await;
    let k = key(10);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let mut d = ReceiptWriter::new(10, w.learner_a1);
    d.take_anchor(&e.anchor);
    let all: Vec<Vec<u8>> = (0..200).map(|_| d.next(1000, sign_in())).collect();
    for chunk in all.chunks(50) {
        let (_, body) = w.upload(&e.credential, chunk).await;
        assert!(upload_response(body).results.chars().all(|c| c == 'A'));
    }
    w.stop().await;
    // A new service on the same folder: a new process in all but name.
    let reopened = open_service(w.dir.path(), w.clock.clone(), 99);
    w.svc = reopened;
    w.start().await;
    let (_, st) = w.get("/v1/sync/state", &e.credential).await;
    assert_eq!(st["head"]["seq"], 200);
    let stored = w
        .svc
        .store
        .receipts_of_device(device_of(&k), 1, 1000)
        .unwrap();
    assert_eq!(stored.len(), 200);
    for (s, sent) in stored.iter().zip(&all) {
        assert_eq!(&s.envelope, sent, "kept byte for byte");
    }
    let (_, body) = w.upload(&e.credential, &all).await;
    assert_eq!(upload_response(body).results, "D".repeat(200));
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credit_exams_certificates_and_reports() {
    let w = World::new().await;
    let published = w.svc.publish(&fixture_course()).unwrap();
    assert_eq!(published.course, "electrician-safety");
    let m = w
        .svc
        .latest_manifest("electrician-safety")
        .unwrap()
        .unwrap();
    let media = m.manifest.file("media/intro.mp3").unwrap().sha256;

    let k = key(12);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let mut d = ReceiptWriter::new(12, w.learner_a1);
    // Unanchored study is not credited.
    let mut batch = vec![d.next(
        1000,
        Event::ActiveStudy {
            course: course(),
            lesson: lesson("l1"),
            active_ms: 1000,
        },
    )];
    d.take_anchor(&e.anchor);
    // 10 minutes of real study on lesson 1 (its declared time), in 1-minute spans, and a span
    // that claims more than the monotonic time since the previous one (only the real part
    // counts).
    for _ in 0..10 {
        batch.push(d.next(
            60_000,
            Event::ActiveStudy {
                course: course(),
                lesson: lesson("l1"),
                active_ms: 60_000,
            },
        ));
    }
    batch.push(d.next(
        10_000,
        Event::ActiveStudy {
            course: course(),
            lesson: lesson("l1"),
            active_ms: 3_600_000,
        },
    ));
    batch.push(d.next(
        1000,
        Event::LessonCompleted {
            course: course(),
            lesson: lesson("l1"),
        },
    ));
    batch.push(d.next(
        1000,
        Event::QuizAnswered {
            course: course(),
            lesson: lesson("l1"),
            quiz: "l1-quiz".parse().unwrap(),
            item: "q1".parse().unwrap(),
            answer: hearth_protocol::Answer::Choices(vec![0]),
        },
    ));
    // Lesson 2: its audio is 60 s; watching "0-600 s" counts only up to its length.
    batch.push(d.next(
        60_000,
        Event::MediaWatched {
            course: course(),
            lesson: lesson("l2"),
            media,
            from_ms: 0,
            to_ms: 600_000,
        },
    ));
    batch.push(d.next(
        1000,
        Event::ActiveStudy {
            course: course(),
            lesson: lesson("l2"),
            active_ms: 61_000,
        },
    ));
    batch.push(d.next(
        1000,
        Event::LessonCompleted {
            course: course(),
            lesson: lesson("l2"),
        },
    ));
    // The exam: first attempt fails, the second passes. Keys never left the service.
    let exam = |attempt, a1: Vec<u8>, a2: &str| Event::ExamSubmitted {
        course: course(),
        exam: "final".parse().unwrap(),
        attempt,
        answers: vec![
            hearth_protocol::ItemAnswer {
                item: "e1".parse().unwrap(),
                answer: hearth_protocol::Answer::Choices(a1),
            },
            hearth_protocol::ItemAnswer {
                item: "e2".parse().unwrap(),
                answer: hearth_protocol::Answer::Text(a2.into()),
            },
        ],
    };
    let started = |attempt| Event::ExamStarted {
        course: course(),
        exam: "final".parse().unwrap(),
        attempt,
    };
    batch.push(d.next(1000, started(1)));
    batch.push(d.next(1000, exam(1, vec![0], "跑开")));
    batch.push(d.next(1000, started(2)));
    batch.push(d.next(1000, exam(2, vec![1], " 断电 ")));
    // The service receives it all 20 minutes after the anchor was issued.
    w.clock.advance(20 * 60_000);
    let (_, body) = w.upload(&e.credential, &batch).await;
    assert!(upload_response(body).results.chars().all(|c| c == 'A'));

    let (s, rec) = w
        .get(
            &format!("/v1/learners/{}/record", w.learner_a1),
            &e.credential,
        )
        .await;
    assert_eq!(s, 200, "{rec}");
    let c = &rec["courses"][0];
    let l1 = &c["lessons"][0];
    assert_eq!(l1["lesson"], "l1");
    // 10 spans of 60 s + the 10 s that really elapsed before the inflated claim, capped at the
    // lesson's declared 10 minutes.
    assert_eq!(l1["creditedMs"], 10 * 60_000);
    assert_eq!(l1["requiredMs"], 10 * 60_000);
    assert_eq!(l1["claimedMs"], 1000 + 10 * 60_000 + 3_600_000);
    assert_eq!(l1["completed"], true);
    let withheld = rec["withheld"].as_array().unwrap();
    let code_ms = |code: &str| {
        withheld
            .iter()
            .find(|w| w["code"] == code)
            .map(|w| w["ms"].as_u64().unwrap())
    };
    assert_eq!(code_ms("credit.no_anchor"), Some(1000), "{rec}");
    assert_eq!(
        code_ms("credit.run_overlap"),
        Some(3_600_000 - 10_000),
        "{rec}"
    );
    let l2 = &c["lessons"][1];
    assert_eq!(
        l2["creditedMs"], 60_000,
        "capped at the lesson's credit (its media length)"
    );
    assert_eq!(l2["completed"], true);
    assert_eq!(c["quizzes"][0]["correct"], 1);
    let exams = c["exams"].as_array().unwrap();
    assert_eq!(exams[0]["passed"], false);
    assert_eq!(exams[0]["score"], 0);
    assert_eq!(exams[1]["passed"], true);
    assert_eq!(exams[1]["score"], 3);
    assert_eq!(exams[1]["maxScore"], 3);
    assert_eq!(c["completed"], true);
    let serial = rec["certificates"][0]["serial"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(serial.starts_with("HC-"));
    assert_eq!(rec["nationalIdMasked"], "**************002X");
    assert!(
        !rec.to_string().contains("11010519491231002X"),
        "never the full ID number"
    );
    // The certificate is issued once: the same serial on every read.
    let (_, again) = w
        .get(&format!("/v1/learners/{}/record", w.learner_a1), &w.admin_a)
        .await;
    assert_eq!(again["certificates"][0]["serial"], serial.as_str());
    // The trainer sees the class.
    let (s, class) = w
        .get(&format!("/v1/classes/{}/progress", w.class_a), &w.trainer_a)
        .await;
    assert_eq!(s, 200);
    assert_eq!(class["learners"][0]["learnerId"], w.learner_a1.to_string());
    assert_eq!(class["learners"][0]["creditedMs"], rec["creditedMs"]);
    // The exam keys are nowhere in the published manifest.
    assert!(!String::from_utf8_lossy(&m.bytes).contains("断电\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_time_claims_are_flagged_and_not_credited() {
    let w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    let k = key(13);
    let e = w.enroll(w.org_a, Some(w.learner_a1), &k).await;
    let mut d = ReceiptWriter::new(13, w.learner_a1);
    d.take_anchor(&e.anchor);
    // Claims a span ending 5 hours after the anchor, but reaches the service 1 hour after it.
    let study = |ms| Event::ActiveStudy {
        course: course(),
        lesson: lesson("l1"),
        active_ms: ms,
    };
    let batch = vec![d.next(5 * 3_600_000, study(60_000))];
    w.clock.advance(3_600_000);
    let (_, body) = w.upload(&e.credential, &batch).await;
    assert_eq!(
        upload_response(body).results,
        "A",
        "authentic receipts are kept"
    );
    let (_, rec) = w
        .get(
            &format!("/v1/learners/{}/record", w.learner_a1),
            &e.credential,
        )
        .await;
    assert_eq!(rec["flaggedReceipts"], 1);
    assert_eq!(rec["creditedMs"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catalog_etag_and_ranges() {
    let w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    let e = w.enroll(w.org_a, None, &key(14)).await;
    let res = w
        .http
        .get(w.url("/v1/catalog"))
        .bearer_auth(&e.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let cat: hearth_protocol::wire::Catalog = res.json().await.unwrap();
    assert_eq!(cat.courses.len(), 1);
    let res = w
        .http
        .get(w.url("/v1/catalog"))
        .bearer_auth(&e.credential)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 304);
    assert!(res.bytes().await.unwrap().is_empty());
    // The manifest verifies under the pinned publisher key.
    let res = w
        .http
        .get(w.url("/v1/courses/electrician-safety/1/manifest"))
        .bearer_auth(&e.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    let m = hearth_protocol::manifest::verify(&bytes, &e.publisher_keys).unwrap();
    // A file, resumed from byte 1000.
    let f = m.manifest.file("media/intro.mp3").unwrap();
    let res = w
        .http
        .get(w.url(&format!("/v1/files/{}", f.sha256)))
        .bearer_auth(&e.credential)
        .header("range", "bytes=1000-")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    let tail = res.bytes().await.unwrap();
    let whole = std::fs::read(fixture_course().join("media/intro.mp3")).unwrap();
    assert_eq!(&tail[..], &whole[1000..]);
    // Files need a credential, and unknown ones are a clean 404.
    let res = w
        .http
        .get(w.url(&format!("/v1/files/{}", f.sha256)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let (s, b) = w
        .get(&format!("/v1/files/{}", "0".repeat(64)), &e.credential)
        .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (404, "file.not_found"));
    // Publishing the same version again is refused.
    let err = w.svc.publish(&fixture_course()).unwrap_err();
    assert_eq!(err.code(), "publish.version_exists");
}

/// One learner cannot study on two machines at once: when two kiosks claim the same real time for
/// them, that time is credited once and the pair of devices is flagged; a learner who moves from
/// one kiosk to the other is credited in full and not flagged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_study_on_two_devices_is_flagged_not_double_counted() {
    let w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    let (k1, k2) = (key(21), key(22));
    let e1 = w.enroll(w.org_a, None, &k1).await;
    let e2 = w.enroll(w.org_a, None, &k2).await;
    let mut d1 = ReceiptWriter::new(21, w.learner_a1);
    let mut d2 = ReceiptWriter::new(22, w.learner_a1);
    // Both kiosks hold an anchor issued at the same service time.
    d1.take_anchor(&e1.anchor);
    d2.take_anchor(&e2.anchor);
    let study = || Event::ActiveStudy {
        course: course(),
        lesson: lesson("l1"),
        active_ms: 60_000,
    };
    let sign_in = || Event::LearnerSignedIn {
        method: hearth_protocol::SignInMethod::Pin,
    };
    let (mut b1, mut b2) = (vec![d1.next(0, sign_in())], vec![d2.next(0, sign_in())]);
    // Learner 1: four minutes on each kiosk in the same four minutes.
    for _ in 0..4 {
        b1.push(d1.next(60_000, study()));
        b2.push(d2.next(60_000, study()));
    }
    // Learner 2: four minutes on kiosk 1, then four on kiosk 2.
    d1.learner = w.learner_a2;
    d2.learner = w.learner_a2;
    b1.push(d1.next(0, sign_in()));
    for _ in 0..4 {
        b1.push(d1.next(60_000, study()));
    }
    d2.mono.elapsed_ms = d1.mono.elapsed_ms;
    b2.push(d2.next(0, sign_in()));
    for _ in 0..4 {
        b2.push(d2.next(60_000, study()));
    }
    w.clock.advance(60 * 60_000);
    for (e, b) in [(&e1, &b1), (&e2, &b2)] {
        let (_, body) = w.upload(&e.credential, b).await;
        assert!(upload_response(body).results.chars().all(|c| c == 'A'));
    }

    let (_, rec) = w
        .get(&format!("/v1/learners/{}/record", w.learner_a1), &w.admin_a)
        .await;
    assert_eq!(
        rec["courses"][0]["lessons"][0]["creditedMs"], 240_000,
        "the same four minutes on two kiosks count once: {rec}"
    );
    assert_eq!(rec["courses"][0]["lessons"][0]["claimedMs"], 480_000);
    let overlaps = rec["overlaps"].as_array().expect("overlap reported");
    assert_eq!(overlaps.len(), 1, "{rec}");
    assert_eq!(overlaps[0]["overlapMs"], 240_000);
    let pair = [
        overlaps[0]["deviceId"].as_str().unwrap(),
        overlaps[0]["otherDeviceId"].as_str().unwrap(),
    ];
    let (id1, id2) = (device_of(&k1).to_string(), device_of(&k2).to_string());
    assert!(
        pair == [id1.as_str(), id2.as_str()] || pair == [id2.as_str(), id1.as_str()],
        "{pair:?}"
    );

    let (_, rec2) = w
        .get(&format!("/v1/learners/{}/record", w.learner_a2), &w.admin_a)
        .await;
    assert_eq!(
        rec2["courses"][0]["lessons"][0]["creditedMs"], 480_000,
        "moving between kiosks is no overlap: {rec2}"
    );
    assert!(rec2.get("overlaps").is_none(), "{rec2}");

    // The administrator's flags name learner 1 only.
    let (s, flags) = w.get("/v1/admin/flags", &w.admin_a).await;
    assert_eq!(s, 200);
    let flagged = flags["overlaps"].as_array().unwrap();
    assert_eq!(flagged.len(), 1, "{flags}");
    assert_eq!(flagged[0]["learnerId"], w.learner_a1.to_string());
}

/// A trainer's attendance attestation, signed on a kiosk in the trainer's name, verifies at
/// ingest and appears in the class report; one naming another class does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_attestation_shows_in_the_class_report() {
    let w = World::new().await;
    let k = key(23);
    let e = w.enroll(w.org_a, None, &k).await;
    let mut kiosk = ReceiptWriter::new(23, LearnerId(w.trainer_a_id));
    kiosk.take_anchor(&e.anchor);
    let attest = |class: uuid::Uuid, present: Vec<LearnerId>| {
        Event::AttendanceCheck(hearth_protocol::AttendanceCheck::TrainerAttested {
            class: hearth_protocol::ClassId(class),
            present,
        })
    };
    let batch = vec![
        kiosk.next(
            0,
            Event::LearnerSignedIn {
                method: hearth_protocol::SignInMethod::Pin,
            },
        ),
        kiosk.next(1000, attest(w.class_a, vec![w.learner_a1, w.learner_a2])),
        kiosk.next(1000, attest(uuid::Uuid::from_u128(7), vec![w.learner_a1])),
    ];
    let (_, body) = w.upload(&e.credential, &batch).await;
    assert_eq!(upload_response(body).results, "AAA");
    let (s, class) = w
        .get(&format!("/v1/classes/{}/progress", w.class_a), &w.trainer_a)
        .await;
    assert_eq!(s, 200, "{class}");
    let att = class["attestations"].as_array().unwrap();
    assert_eq!(att.len(), 1, "only this class's attestation: {class}");
    assert_eq!(att[0]["trainerId"], w.trainer_a_id.to_string());
    assert_eq!(att[0]["deviceId"], device_of(&k).to_string());
    assert_eq!(
        att[0]["present"],
        serde_json::json!([w.learner_a1.to_string(), w.learner_a2.to_string()])
    );
    // The receipt it names is the one stored byte for byte.
    let stored = w.svc.store.receipts_of_device(device_of(&k), 2, 1).unwrap();
    assert_eq!(att[0]["receiptId"], stored[0].id.to_hex());
    assert_eq!(stored[0].envelope, batch[1]);
}

/// Kiosks sign trainers in offline too: a trainer's PIN reaches the kiosk in the roster in the
/// same verifier form as learners', and a PIN set later arrives with the next roster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_and_learner_pins_reach_kiosk_rosters() {
    use hearth_protocol::pin::pin_matches;
    let w = World::new().await;
    let before = w.svc.store.users_of_org(w.org_a).unwrap().len();
    let bad = w
        .svc
        .add_trainer(w.org_a, "李老师", Some("12a4"))
        .unwrap_err();
    assert_eq!(bad.code(), "learner.invalid_pin");
    assert_eq!(
        w.svc.store.users_of_org(w.org_a).unwrap().len(),
        before,
        "a refused PIN stores no trainer"
    );
    let (t, _) = w.svc.add_trainer(w.org_a, "李老师", Some("2468")).unwrap();
    let welding = w.svc.add_class(t.id, "焊工班").unwrap().id;
    let a3 = w
        .svc
        .add_learner(w.org_a, "赵六", "110101199003076666", Some(welding), None)
        .unwrap()
        .id;
    let k = key(24);
    let e = w.enroll_kiosk(w.org_a, &[welding], &k).await;
    let entry = |roster: &[hearth_protocol::wire::RosterEntry], id: LearnerId| {
        roster
            .iter()
            .find(|p| p.learner_id == id)
            .cloned()
            .expect("on the roster")
    };
    let trainer = entry(&e.roster, LearnerId(t.id));
    assert_eq!(trainer.role, "trainer");
    assert!(pin_matches(
        trainer.pin_hash.as_deref().unwrap(),
        LearnerId(t.id),
        "2468"
    ));
    assert!(entry(&e.roster, a3).pin_hash.is_none());

    w.svc.set_pin(a3.0, "13579").unwrap();
    assert_eq!(
        w.svc
            .set_pin(uuid::Uuid::from_u128(5), "13579")
            .unwrap_err()
            .code(),
        "person.not_found"
    );
    let (s, roster) = w.get("/v1/roster", &e.credential).await;
    assert_eq!(s, 200);
    let roster: Vec<hearth_protocol::wire::RosterEntry> = serde_json::from_value(roster).unwrap();
    let a3_entry = entry(&roster, a3);
    assert!(pin_matches(
        a3_entry.pin_hash.as_deref().unwrap(),
        a3,
        "13579"
    ));
    assert!(!pin_matches(
        a3_entry.pin_hash.as_deref().unwrap(),
        LearnerId(t.id),
        "13579"
    ));
}

/// A trainer assigns a lesson and an exam to their class; the devices that concern the class see
/// them, others do not; bad assignments are refused with their codes and store nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trainer_assigns_work_and_devices_pull_it() {
    let w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    let path = format!("/v1/classes/{}/assignments", w.class_a);
    let post = |token: &str, body: serde_json::Value| {
        let token = token.to_owned();
        let path = path.clone();
        let w = &w;
        async move {
            w.post_raw(
                &path,
                &token,
                "application/json",
                None,
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    let day = 86_400_000;
    let now = w.svc.now();
    let (s, a) = post(
        &w.trainer_a,
        serde_json::json!({"course": "electrician-safety", "lesson": "l1", "dueMs": now + day}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["lesson"], "l1");
    let (s, _) = post(
        &w.trainer_a,
        serde_json::json!({"course": "electrician-safety", "exam": "final"}),
    )
    .await;
    assert_eq!(s, 201);

    for (token, body, status, code) in [
        (
            &w.trainer_a,
            serde_json::json!({"course": "electrician-safety", "lesson": "nope"}),
            400,
            "assignment.unknown_lesson",
        ),
        (
            &w.trainer_a,
            serde_json::json!({"course": "electrician-safety", "lesson": "l1", "exam": "final"}),
            400,
            "assignment.invalid",
        ),
        (
            &w.trainer_a,
            serde_json::json!({"course": "no-such-course"}),
            400,
            "assignment.unknown_course",
        ),
        (
            &w.trainer_a,
            serde_json::json!({"course": "electrician-safety", "dueMs": now - 1}),
            400,
            "assignment.due_in_past",
        ),
        (
            &w.trainer_a,
            serde_json::json!({"course": "electrician-safety", "points": 3}),
            400,
            "request.malformed_json",
        ),
        (
            &w.other_trainer_a,
            serde_json::json!({"course": "electrician-safety"}),
            403,
            "auth.forbidden",
        ),
        (
            &w.admin_b,
            serde_json::json!({"course": "electrician-safety"}),
            404,
            "class.not_found",
        ),
    ] {
        let (s, body) = post(token, body).await;
        assert_eq!(
            (s, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}"
        );
    }
    let (_, list) = w.get(&path, &w.trainer_a).await;
    assert_eq!(list.as_array().unwrap().len(), 2, "refusals stored nothing");

    // A kiosk of the organisation and the personal device of a learner in the class see both;
    // a learner outside any class sees none.
    let kiosk = w.enroll(w.org_a, None, &key(25)).await;
    let own = w.enroll(w.org_a, Some(w.learner_a1), &key(26)).await;
    let other = w.enroll(w.org_a, Some(w.learner_a2), &key(27)).await;
    for (e, n) in [(&kiosk, 2), (&own, 2), (&other, 0)] {
        let (s, list) = w.get("/v1/assignments", &e.credential).await;
        assert_eq!(s, 200);
        assert_eq!(list.as_array().unwrap().len(), n, "{list}");
    }
    let (s, body) = w.get("/v1/assignments", &w.trainer_a).await;
    assert_eq!(
        (s, body["code"].as_str().unwrap()),
        (403, "auth.forbidden"),
        "{body}"
    );
}

/// The sync state carries a digest of the device's roster and assignments: the same while
/// nothing changes, different after a new assignment or a new PIN, so devices pull only then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classroom_tag_changes_only_when_roster_or_assignments_do() {
    let w = World::new().await;
    w.svc.publish(&fixture_course()).unwrap();
    let kiosk = w.enroll_kiosk(w.org_a, &[w.class_a], &key(28)).await;
    let other_org = w.enroll(w.org_b, None, &key(29)).await;
    let tag = |e: &hearth_protocol::wire::EnrollResponse| {
        let token = e.credential.clone();
        let w = &w;
        async move {
            let (s, st) = w.get("/v1/sync/state", &token).await;
            assert_eq!(s, 200);
            st["classroomTag"].as_str().unwrap().to_owned()
        }
    };
    let t0 = tag(&kiosk).await;
    assert_eq!(t0.len(), 32);
    let computed = w.svc.classroom_tags_computed();
    for _ in 0..3 {
        assert_eq!(tag(&kiosk).await, t0, "nothing changed");
    }
    assert_eq!(
        w.svc.classroom_tags_computed(),
        computed,
        "idle rounds are answered from the cache: the roster is not hashed again"
    );
    let b0 = tag(&other_org).await;
    w.svc
        .assign_for_trainer(
            w.class_a,
            hearth_protocol::wire::NewAssignment {
                course: "electrician-safety".into(),
                lesson: Some("l1".into()),
                exam: None,
                due_ms: None,
            },
        )
        .unwrap();
    let t1 = tag(&kiosk).await;
    assert_ne!(t1, t0, "a new assignment");
    w.svc.set_pin(w.learner_a1.0, "8642").unwrap();
    let t2 = tag(&kiosk).await;
    assert_ne!(t2, t1, "a new PIN");
    let before = w.svc.classroom_tags_computed();
    w.svc
        .add_learner(
            w.org_a,
            "新学员",
            "110101199003077777",
            Some(w.class_a),
            None,
        )
        .unwrap();
    let t3 = tag(&kiosk).await;
    assert_ne!(t3, t2, "a new learner on the roster");
    assert_eq!(w.svc.classroom_tags_computed(), before + 1);
    // A PIN outside the kiosk's classes is none of its business: the tag is computed again
    // (the organisation's stamp moved) and comes out the same.
    w.svc.set_pin(w.learner_a2.0, "8642").unwrap();
    assert_eq!(
        tag(&kiosk).await,
        t3,
        "a PIN of a learner of no class of the kiosk"
    );
    assert_eq!(tag(&other_org).await, b0, "another organisation's changes");
}

/// The flags report reads a page at a time; a cursor that is not one is a clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_report_pages_and_refuses_a_bad_cursor() {
    let w = World::new().await;
    let (s, flags) = w.get("/v1/admin/flags", &w.admin_a).await;
    assert_eq!(s, 200, "{flags}");
    assert!(flags.get("nextBefore").is_none() && flags.get("nextAfter").is_none());
    let (s, body) = w.get("/v1/admin/flags?before=abc", &w.admin_a).await;
    assert_eq!(s, 400);
    assert_eq!(body["code"], "request.invalid_query");
    let (s, _) = w
        .get("/v1/admin/flags?before=5&after=not-a-uuid", &w.admin_a)
        .await;
    assert_eq!(s, 400);
    let (s, _) = w
        .get(
            &format!("/v1/admin/flags?before=5&after={}", w.learner_a1),
            &w.admin_a,
        )
        .await;
    assert_eq!(s, 200);
}
