//! Photo checkpoints end to end without a window (issue #17 item 2, docs/privacy.md): the real
//! service binary, two learners' personal PCs (hearth-core over HTTP).
//!
//! The organisation turns photo checkpoints on; one learner consents (a signed
//! `consent_recorded` receipt), a photo is taken: it is on disk sealed (not a JPEG, opens only
//! with the service's photo key) and only its SHA-256 is in the signed `photo_taken` receipt of
//! the chain. An administrator asks for the learner's photos; a modified client's uploads (a
//! photo whose hash is not its receipt's, a receipt not in the chain, bytes sealed to no key)
//! are refused with their codes; the PC's next sync round answers the request and the service
//! keeps the photo, checked against the chain. The other learner declines, is not asked again,
//! no photo can be taken for them and they study on (attention checks only).

use std::sync::Mutex;

use anyhow::Context;
use base64::Engine as _;
use hearth_core::photos::Consent;
use hearth_core::sync::http::{HttpTransport, enroll};
use hearth_core::sync::sync_round;
use hearth_core::{Env, Hearth};
use hearth_e2e::service::Service;
use hearth_protocol::photo::{self, CONSENT_TEXT};
use hearth_protocol::{ContentHash, Envelope, Event, LearnerId, PhotoMoment, ReceiptId};
use serde_json::{Value, json};

/// A small stand-in for a webcam JPEG (the app checks the JPEG markers; the GUI test uses the
/// fake camera's real frames).
fn jpeg(tag: u8) -> Vec<u8> {
    let mut j = vec![
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0,
    ];
    j.extend((0..2000u32).map(|i| (i as u8) ^ tag));
    j.extend([0xff, 0xd9]);
    j
}

struct Pc {
    h: Mutex<Hearth>,
    transport: HttpTransport,
    key: hearth_protocol::PublicKey,
    credential: String,
    _dir: tempfile::TempDir,
}

async fn personal_pc(service: &Service, learner: LearnerId) -> anyhow::Result<Pc> {
    let dir = tempfile::tempdir()?;
    let mut h = Hearth::open(dir.path(), Env::system())?;
    let code = service.enrollment_code(Some(&learner.to_string()))?;
    let answer = enroll(&service.url(), &code, h.device().public_key, None, 0).await?;
    h.apply_enrollment(&answer.enrollment, &answer.roster, answer.anchor)?;
    assert_eq!(h.at_keyboard(), Some(learner));
    Ok(Pc {
        h: Mutex::new(h),
        transport: HttpTransport::new(&answer.enrollment)?,
        key: answer.enrollment.anchor_key,
        credential: answer.enrollment.credential.clone(),
        _dir: dir,
    })
}

impl Pc {
    async fn sync(&self) -> hearth_core::sync::RoundReport {
        sync_round(&self.h, &self.transport, &self.key, 500)
            .await
            .unwrap()
    }

    /// The receipts of this PC's ledger not yet sent (its outbox), in chain order, each
    /// verified under the device key, after the whole ledger's chain is verified.
    fn unsent_chain(&self) -> Vec<(ReceiptId, Event)> {
        let h = self.h.lock().unwrap();
        let key = h.device().public_key;
        h.verify_ledger().unwrap();
        h.outbox(0, 10_000)
            .unwrap()
            .into_iter()
            .map(|item| {
                let v = Envelope::from_bytes(item.envelope).verify(&key).unwrap();
                (v.id(), v.body().event.clone())
            })
            .collect()
    }
}

#[tokio::test]
async fn a_consented_photo_is_sealed_hashed_in_the_chain_and_checked_on_audit() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let service = Service::start().unwrap();
    let org = service.org.clone();
    service
        .admin(&["set-photos", "--org", &org, "--photos", "on"])
        .unwrap();
    let admin = service
        .admin(&["add-admin", "--org", &org, "--name", "王主任"])
        .unwrap();
    let admin_token = admin
        .lines()
        .find_map(|l| l.strip_prefix("token "))
        .unwrap()
        .to_owned();
    let consents: LearnerId = service
        .add_learner("陈静", "110101199003071234")
        .unwrap()
        .parse()
        .unwrap();
    let declines: LearnerId = service
        .add_learner("赵磊", "110101199204081234")
        .unwrap()
        .parse()
        .unwrap();

    // The first learner's PC learns the policy at its first sync and asks for consent.
    let a = personal_pc(&service, consents).await.unwrap();
    a.sync().await;
    let status = a.h.lock().unwrap().photo_status().unwrap();
    assert!(status.enabled && status.ask && !status.active, "{status:?}");
    assert_eq!(status.consent_text, CONSENT_TEXT);
    a.h.lock().unwrap().record_photo_consent(true).unwrap();
    let status = a.h.lock().unwrap().photo_status().unwrap();
    assert!(!status.ask && status.active && status.consent == Consent::Granted);

    // A photo at sign-in: sealed on disk, only its hash in the signed receipt.
    let shot = jpeg(1);
    let taken =
        a.h.lock()
            .unwrap()
            .take_photo(&shot, PhotoMoment::SignIn)
            .unwrap();
    assert_eq!(taken.kind, "photo_taken");
    let chain = a.unsent_chain();
    assert!(chain.iter().any(|(_, e)| matches!(e,
        Event::ConsentRecorded { granted: true, text_sha256, .. }
            if *text_sha256 == photo::consent_text_sha256())));
    let in_chain: Vec<_> = chain
        .iter()
        .filter_map(|(id, e)| match e {
            Event::PhotoTaken { sha256, moment } => Some((*id, *sha256, *moment)),
            _ => None,
        })
        .collect();
    assert_eq!(
        in_chain,
        vec![(taken.id, ContentHash::of(&shot), PhotoMoment::SignIn)]
    );
    let files = a.h.lock().unwrap().sealed_photos(consents).unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].receipt, taken.id);
    let sealed = std::fs::read(&files[0].path).unwrap();
    assert!(!sealed.starts_with(&[0xff, 0xd8]), "not a JPEG on disk");
    assert!(!sealed.windows(64).any(|w| shot.windows(64).any(|s| s == w)));
    let service_secret =
        photo::parse_key(&std::fs::read_to_string(service.data_dir().join("photo.key")).unwrap())
            .unwrap();
    assert_eq!(photo::open(&service_secret, &sealed).unwrap(), shot);
    assert_eq!(
        photo::open(&[0x42; 32], &sealed),
        Err(photo::PhotoError::Undecryptable),
        "nothing but the service's key opens it"
    );

    // The receipts go up; no photo leaves the PC without a request.
    let r = a.sync().await;
    assert_eq!(r.left, 0);
    assert_eq!(r.photos_uploaded, 0);

    // An administrator asks for the learner's photos, with a reason.
    let http = reqwest::Client::new();
    let photos_url = service.url() + &format!("/console/api/learners/{consents}/photos");
    let resp = http
        .post(&photos_url)
        .bearer_auth(&admin_token)
        .json(&json!({"reason": "核查 3 月 12 日的学习记录"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let request = resp.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A modified client tries its own uploads with the PC's genuine credential.
    let public = photo::photo_public_key(&service_secret);
    let upload = |receipt: ReceiptId, body: Vec<u8>| {
        http.post(service.url() + &format!("/v1/photos/{request}/{receipt}"))
            .bearer_auth(&a.credential)
            .body(body)
            .send()
    };
    let code = |resp: reqwest::Response| async move {
        let status = resp.status().as_u16();
        let v = resp.json::<Value>().await.unwrap();
        (status, v["code"].as_str().unwrap_or_default().to_owned())
    };
    let other = photo::seal(&public, [7; 32], &jpeg(2));
    assert_eq!(
        code(upload(taken.id, other.clone()).await.unwrap()).await,
        (400, "photo.hash_mismatch".into()),
        "another photo under the real receipt"
    );
    assert_eq!(
        code(upload(ReceiptId([9; 32]), other).await.unwrap()).await,
        (400, "photo.not_in_chain".into()),
        "a receipt the chain does not hold"
    );
    let mut bent = sealed.clone();
    bent[40] ^= 1;
    assert_eq!(
        code(upload(taken.id, bent).await.unwrap()).await,
        (400, "photo.undecryptable".into()),
        "a sealed photo changed on disk"
    );

    // The PC's next round answers the request; the service keeps the photo it checked.
    let r = a.sync().await;
    assert_eq!((r.photos_uploaded, r.photos_refused), (1, 0));
    let view: Value = http
        .get(&photos_url)
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = &view[0];
    assert_eq!(req["id"], request.as_str());
    assert!(req["fulfilledMs"].is_i64(), "{view}");
    let photos = req["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1, "only the genuine photo is kept: {view}");
    assert_eq!(photos[0]["receiptId"], taken.id.to_string());
    assert_eq!(photos[0]["sha256"], ContentHash::of(&shot).to_string());
    assert_eq!(photos[0]["takenWallMs"], taken.wall_ms);
    let data = photos[0]["dataUrl"]
        .as_str()
        .unwrap()
        .strip_prefix("data:image/jpeg;base64,")
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
        shot
    );
    let audit: Value = http
        .get(service.url() + "/console/api/audit")
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let actions = audit.to_string();
    for action in ["photos.policy", "photos.request", "photos.received"] {
        assert!(
            actions.contains(action),
            "{action} in the audit log: {actions}"
        );
    }

    // The second learner declines: never asked again, no photo, study goes on.
    let b = personal_pc(&service, declines).await.unwrap();
    b.sync().await;
    assert!(b.h.lock().unwrap().photo_status().unwrap().ask);
    b.h.lock().unwrap().record_photo_consent(false).unwrap();
    let status = b.h.lock().unwrap().photo_status().unwrap();
    assert!(!status.ask && !status.active && status.consent == Consent::Declined);
    let refused =
        b.h.lock()
            .unwrap()
            .take_photo(&jpeg(3), PhotoMoment::Random)
            .unwrap_err();
    assert_eq!(refused.code(), "photo.no_consent");
    assert!(!b.h.lock().unwrap().photo_due().unwrap());
    assert!(
        b.h.lock()
            .unwrap()
            .sealed_photos(declines)
            .unwrap()
            .is_empty()
    );
    let chain = b.unsent_chain();
    assert!(
        chain
            .iter()
            .all(|(_, e)| !matches!(e, Event::PhotoTaken { .. }))
    );
    assert!(
        chain
            .iter()
            .any(|(_, e)| matches!(e, Event::ConsentRecorded { granted: false, .. }))
    );
    let r = b.sync().await;
    assert_eq!(r.left, 0, "the refusal is a receipt like any other");
}

#[test]
fn the_consent_text_is_bilingual_and_names_what_the_docs_promise() -> anyhow::Result<()> {
    let docs = std::fs::read_to_string(hearth_e2e::gui::workspace_root().join("docs/privacy.md"))
        .context("docs/privacy.md")?;
    // The docs quote the exact text whose hash the consent receipts name.
    for line in CONSENT_TEXT.lines().filter(|l| !l.trim().is_empty()) {
        assert!(docs.contains(line.trim()), "docs/privacy.md quotes: {line}");
    }
    Ok(())
}
