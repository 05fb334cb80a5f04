//! Certificates (issue #14): the service issues each certificate as a signed Verifiable
//! Credential that the shared verifier accepts offline, revokes it through the status list,
//! prints it as a PDF whose QR code (read back by zbar from a pdftoppm rendering) verifies
//! offline, shows it on the public verification page, and packs a class's claim.

mod common;

use std::process::Command;

use common::lab::*;
use hearth_protocol::LearnerId;
use hearth_protocol::credential::{self, CertificateFacts};
use hearth_server::Limits;
use hearth_server::store::Role;
use serde_json::{Value, json};

fn issuer_key(lab: &Lab) -> [u8; 32] {
    *lab.svc.keys.issuer_public().as_bytes()
}

fn serial_of(lab: &Lab, l: LearnerId) -> String {
    let rec = lab.record(l);
    assert_eq!(rec.certificates.len(), 1, "{rec:?}");
    rec.certificates[0].serial.clone()
}

#[test]
fn the_service_issues_a_credential_the_offline_verifier_accepts() {
    let lab = certified_lab(1, 1);
    let l = lab.learners[0];
    let serial = serial_of(&lab, l);
    let issued = lab.svc.issued_certificate(&serial).unwrap();
    let facts = credential::verify_certificate(&issued.credential, &issuer_key(&lab)).unwrap();
    assert_eq!(facts.serial, serial);
    assert_eq!(facts.name, "学员0");
    assert_eq!(facts.national_id_masked, "**************0010");
    assert!(facts.national_id_hash.starts_with("hmac-sha256:"));
    assert!(
        !facts.national_id_hash.contains("110105"),
        "no clear ID number"
    );
    assert_eq!(facts.course, "electrician-safety");
    // The course source declares its occupation; the catalogue names it.
    assert_eq!(facts.occupation_code, "6-31-01-03");
    assert_eq!(facts.occupation_name, "电工");
    assert_eq!(facts.occupation_level, 5);
    // 11 minutes credited: 0.18 h, printed to a tenth.
    assert_eq!(facts.hours_tenths, 1);
    assert!(facts.exam.as_ref().is_some_and(|e| e.passed));
    assert_eq!(facts.institution, "Lab centre");
    // The evidence is the head of the device's receipt chain.
    assert_eq!(facts.evidence.len(), 1);
    let dev = &facts.evidence[0];
    let state = lab
        .svc
        .store
        .chain_state(dev.device.parse().unwrap())
        .unwrap();
    assert_eq!(dev.seq, state.head.seq);
    assert_eq!(dev.receipt, state.head.id.to_string());
    // Open Badges 3.0 shape.
    let vc = &issued.credential;
    assert_eq!(
        vc["type"],
        json!(["VerifiableCredential", "OpenBadgeCredential"])
    );
    assert_eq!(
        vc["credentialSubject"]["achievement"]["achievementType"],
        "Certificate"
    );
    assert_eq!(vc["proof"]["cryptosuite"], "eddsa-jcs-2022");
    assert_eq!(vc["issuer"]["id"], lab.svc.issuer_id());
    // Kept: the same certificate answers the same bytes, even after more study.
    let before = lab.record(l).credited_ms;
    let mut pc = lab.personal(9, l);
    pc.fetch_anchor(&lab);
    let more = honest(&lab, &mut pc, 5, long_study);
    assert!(!lab.send(&pc, more).flagged);
    assert!(lab.record(l).credited_ms > before);
    let again = lab.svc.issued_certificate(&serial).unwrap();
    assert_eq!(again.credential, issued.credential);
    // The QR form states the same facts.
    let qr = lab.svc.certificate_qr(&issued);
    assert_eq!(
        credential::decode_qr(&qr, &issuer_key(&lab)).unwrap(),
        facts.compact()
    );
}

#[test]
fn revocation_is_published_in_the_signed_status_list() {
    let lab = certified_lab(2, 2);
    let s0 = serial_of(&lab, lab.learners[0]);
    let s1 = serial_of(&lab, lab.learners[1]);
    let c0 = lab.svc.issued_certificate(&s0).unwrap().facts;
    let c1 = lab.svc.issued_certificate(&s1).unwrap().facts;
    let (e0, e1) = (c0.status.unwrap(), c1.status.unwrap());
    assert_ne!(e0.index, e1.index);
    let key = issuer_key(&lab);
    assert!(!credential::revoked_in(&lab.svc.status_list().unwrap(), &key, &e1).unwrap());

    let err = lab.svc.revoke_certificate(&s1, "  ").unwrap_err();
    assert_eq!(err.code(), "certificate.invalid_reason");
    lab.svc.revoke_certificate(&s1, "培训记录造假").unwrap();
    let err = lab.svc.revoke_certificate(&s1, "again").unwrap_err();
    assert_eq!(err.code(), "certificate.already_revoked");
    let err = lab.svc.revoke_certificate("HC-NOSUCH", "x").unwrap_err();
    assert_eq!(err.code(), "certificate.not_found");

    let list = lab.svc.status_list().unwrap();
    assert!(credential::revoked_in(&list, &key, &e1).unwrap());
    assert!(!credential::revoked_in(&list, &key, &e0).unwrap());
    let issued = lab.svc.issued_certificate(&s1).unwrap();
    assert_eq!(issued.revoked.unwrap().1, "培训记录造假");
}

fn tool(name: &str) -> bool {
    Command::new(name).arg("-v").output().is_ok()
}

/// The PDF rendered to PNG by pdftoppm, its QR code read back by zbarimg and verified offline.
#[test]
fn the_printed_qr_code_verifies_offline() {
    assert!(
        tool("pdftoppm") && tool("zbarimg"),
        "pdftoppm and zbarimg are needed (scripts/install-deps.sh installs poppler-utils and zbar-tools)"
    );
    let lab = certified_lab(1, 1);
    let serial = serial_of(&lab, lab.learners[0]);
    let issued = lab.svc.issued_certificate(&serial).unwrap();
    let pdf = lab.svc.certificate_pdf(&issued).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cert.pdf");
    std::fs::write(&file, &pdf).unwrap();
    if let Ok(out) = std::env::var("HEARTH_CERT_PDF") {
        std::fs::write(out, &pdf).unwrap();
    }

    // The font is embedded as a subset: the whole Noto Sans CJK face is ~16 MB.
    assert!(pdf.len() < 400_000, "PDF of {} bytes", pdf.len());
    let fonts = Command::new("pdffonts").arg(&file).output().unwrap();
    let fonts = String::from_utf8_lossy(&fonts.stdout);
    assert!(fonts.contains("NotoSansCJK"), "{fonts}");
    let font_line = fonts.lines().find(|l| l.contains("NotoSansCJK")).unwrap();
    assert!(
        font_line.contains('+'),
        "a subset font has a tag prefix: {font_line}"
    );
    // The text layer holds the Chinese text.
    let text = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for want in ["培训合格证明", "学员0", &serial, "Lab centre"] {
        assert!(text.contains(want), "{want} in {text}");
    }

    let png = dir.path().join("cert");
    let st = Command::new("pdftoppm")
        .args(["-png", "-r", "150", "-singlefile"])
        .arg(&file)
        .arg(&png)
        .status()
        .unwrap();
    assert!(st.success());
    let png = dir.path().join("cert.png");
    if let Ok(out) = std::env::var("HEARTH_CERT_SCREENSHOT") {
        std::fs::copy(&png, out).unwrap();
    }
    let out = Command::new("zbarimg")
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(&png)
        .output()
        .unwrap();
    assert!(out.status.success(), "zbarimg found no QR code");
    let read = String::from_utf8(out.stdout).unwrap();
    let read = read.trim();
    assert_eq!(read, lab.svc.certificate_qr(&issued));
    let c = credential::decode_qr(read, &issuer_key(&lab)).unwrap();
    assert_eq!(c, issued.facts.compact());
    // A QR code from another issuer's key is refused.
    let other = ring::signature::Ed25519KeyPair::from_seed_unchecked(&[9; 32]).unwrap();
    let other_pub: [u8; 32] = ring::signature::KeyPair::public_key(&other)
        .as_ref()
        .try_into()
        .unwrap();
    assert_eq!(
        credential::decode_qr(read, &other_pub).unwrap_err().code(),
        "credential.wrong_key"
    );

    // The embedded credential.
    let needle = b"{\"@context\"";
    let at = pdf.windows(needle.len()).position(|w| w == needle).unwrap();
    let vc: Value = serde_json::Deserializer::from_slice(&pdf[at..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let facts: CertificateFacts = credential::verify_certificate(&vc, &issuer_key(&lab)).unwrap();
    assert_eq!(facts, issued.facts);
}

#[test]
fn claim_pack_holds_the_class_and_verifies_offline() {
    let lab = certified_lab(3, 2);
    let pack = lab.svc.class_claim_pack(lab.class).unwrap();
    let key = issuer_key(&lab);
    assert_eq!(credential::verify_claim_pack(&pack, &key).unwrap(), 3);
    let learners = pack["learners"].as_array().unwrap();
    let with_cert = learners
        .iter()
        .filter(|l| l["certificates"].as_array().unwrap().len() == 1)
        .count();
    assert_eq!(with_cert, 2);
    for l in learners {
        assert!(l["nationalIdMasked"].as_str().unwrap().starts_with("****"));
        assert!(!l.to_string().contains("1101051949"), "no clear ID number");
    }
    assert_eq!(pack["class"]["name"], "电工一班");
    // Any change fails.
    let mut bad = pack.clone();
    bad["learners"][2]["creditedHours"] = json!("40.0");
    assert_eq!(
        credential::verify_claim_pack(&bad, &key)
            .unwrap_err()
            .code(),
        "credential.bad_signature"
    );
}

async fn get(http: &reqwest::Client, url: &str, token: Option<&str>) -> (u16, String) {
    let mut r = http.get(url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let res = r.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn routes_publish_the_key_the_credential_the_status_and_the_verify_page() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let lab = certified_lab(1, 1);
    let serial = serial_of(&lab, lab.learners[0]);
    let (_, admin) = lab.svc.add_user(lab.org, Role::Admin, "管理员").unwrap();
    let (_, trainer) = lab
        .svc
        .add_user(lab.org, Role::Trainer, "别班老师")
        .unwrap();
    let other_org = lab.svc.create_org("Other").unwrap().id;
    let (_, stranger) = lab.svc.add_user(other_org, Role::Admin, "外机构").unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = hearth_server::spawn(listener, lab.svc.clone(), Limits::default()).unwrap();
    let http = reqwest::Client::new();
    let url = |p: &str| server.url(p);

    let (st, body) = get(&http, &url("/.well-known/hearth-issuer.json"), None).await;
    assert_eq!(st, 200);
    let issuer: Value = serde_json::from_str(&body).unwrap();
    let key =
        credential::public_of_multikey(issuer["publicKeyMultibase"].as_str().unwrap()).unwrap();
    assert_eq!(key, issuer_key(&lab));

    let path = format!("/v1/certificates/{serial}");
    assert_eq!(get(&http, &url(&path), None).await.0, 401);
    assert_eq!(get(&http, &url(&path), Some(&stranger)).await.0, 404);
    assert_eq!(get(&http, &url(&path), Some(&trainer)).await.0, 403);
    let (st, body) = get(&http, &url(&path), Some(&admin)).await;
    assert_eq!(st, 200);
    let vc: Value = serde_json::from_str(&body).unwrap();
    credential::verify_certificate(&vc, &key).unwrap();
    assert_eq!(
        get(&http, &url("/v1/certificates/bad%20serial"), Some(&admin))
            .await
            .0,
        400
    );

    let (st, page) = get(&http, &url(&format!("/verify/{serial}")), None).await;
    assert_eq!(st, 200);
    assert!(page.contains("有效") && page.contains("学员0"), "{page}");
    assert_eq!(get(&http, &url("/verify/HC-NOSUCH"), None).await.0, 404);
    assert_eq!(get(&http, &url("/verify/%3Cscript%3E"), None).await.0, 400);

    // Revocation by an administrator, with a reason.
    let revoke = |token: &str| {
        http.post(url(&format!("/v1/certificates/{serial}/revoke")))
            .bearer_auth(token.to_owned())
            .json(&json!({"reason": "重复发证"}))
            .send()
    };
    assert_eq!(revoke(&trainer).await.unwrap().status().as_u16(), 403);
    assert_eq!(revoke(&admin).await.unwrap().status().as_u16(), 200);
    let again = revoke(&admin).await.unwrap();
    assert_eq!(again.status().as_u16(), 409);
    let err: Value = again.json().await.unwrap();
    assert_eq!(err["code"], "certificate.already_revoked");
    let (_, page) = get(&http, &url(&format!("/verify/{serial}")), None).await;
    assert!(
        page.contains("已撤销") && page.contains("重复发证"),
        "{page}"
    );

    let (st, body) = get(&http, &url("/v1/certificates/status/revocation"), None).await;
    assert_eq!(st, 200);
    let list: Value = serde_json::from_str(&body).unwrap();
    let facts = CertificateFacts::from_credential(&vc).unwrap();
    assert!(credential::revoked_in(&list, &key, &facts.status.unwrap()).unwrap());

    let (st, pdf) = get(&http, &url(&format!("{path}/pdf")), Some(&admin)).await;
    assert_eq!(st, 200);
    assert!(pdf.starts_with("%PDF-"));
    let (st, body) = get(
        &http,
        &url(&format!("/v1/classes/{}/claim-pack", lab.class)),
        Some(&admin),
    )
    .await;
    assert_eq!(st, 200);
    let pack: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(credential::verify_claim_pack(&pack, &key).unwrap(), 1);
    assert_eq!(
        get(
            &http,
            &url(&format!("/v1/classes/{}/claim-pack", lab.class)),
            Some(&stranger)
        )
        .await
        .0,
        404
    );
    server.stop().await.unwrap();
}

#[test]
fn courses_declare_an_occupation_of_the_2022_classification() {
    let lab = Lab::new(0);
    let (catalog, _) = lab.svc.catalog().unwrap();
    let e = catalog
        .courses
        .iter()
        .find(|c| c.course.as_str() == "electrician-safety")
        .unwrap();
    assert_eq!(e.occupation.as_deref(), Some("6-31-01-03"));
    assert_eq!(e.occupation_name.as_deref(), Some("电工"));
    assert_eq!(e.occupation_level, Some(5));

    // A code that is not an occupation of the classification is refused at publish.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("c");
    copy_dir(&common::fixture_course(), &src);
    let toml = std::fs::read_to_string(src.join("course.toml")).unwrap();
    let bad = toml
        .replace("6-31-01-03", "6-31-01-00")
        .replace("version = 1", "version = 2");
    std::fs::write(src.join("course.toml"), bad).unwrap();
    let err = lab.svc.publish(&src).unwrap_err();
    assert_eq!(err.code(), "course.unknown_occupation");
    let malformed = toml
        .replace("6-31-01-03", "electric")
        .replace("version = 1", "version = 2");
    std::fs::write(src.join("course.toml"), malformed).unwrap();
    assert!(lab.svc.publish(&src).is_err());
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn the_training_record_is_signed_and_printable() {
    let lab = certified_lab(1, 1);
    let l = lab.learners[0];
    let serial = serial_of(&lab, l);
    let key = issuer_key(&lab);
    let record = lab.svc.training_record(l).unwrap();
    credential::verify_training_record(&record, &key).unwrap();
    assert_eq!(record["learner"]["name"], "学员0");
    assert_eq!(
        record["learner"]["certificates"][0]["credential"]["hearth"]["serial"],
        serial.as_str()
    );
    assert!(
        !record["learner"]["record"]["days"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let mut bad = record.clone();
    bad["learner"]["record"]["credited_ms"] = json!(1);
    bad["learner"]["creditedHours"] = json!("99.0");
    assert_eq!(
        credential::verify_training_record(&bad, &key)
            .unwrap_err()
            .code(),
        "credential.bad_signature"
    );

    let pdf = lab.svc.training_record_pdf(l).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("record.pdf");
    std::fs::write(&file, &pdf).unwrap();
    let text = Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    for want in [
        "电子培训档案",
        "学员0",
        &serial,
        "electrician-safety",
        "每日核定学时",
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
}

fn server_cmd(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth-server"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("HEARTH_ISSUER_KEY")
        .output()
        .unwrap()
}

fn ok_stdout(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The administrator's commands: the issuer key, a class's claim pack, and `verify-claim`
/// offline (no data folder) refusing a changed pack.
#[test]
fn claim_pack_and_verify_claim_commands() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("srv");
    let org = ok_stdout(&server_cmd(&data, &["create-org", "县职业技能培训学校"]));
    let org = org.trim();
    let t = ok_stdout(&server_cmd(
        &data,
        &["add-trainer", "--org", org, "--name", "王老师"],
    ));
    let t = t
        .lines()
        .next()
        .unwrap()
        .trim_start_matches("user ")
        .to_owned();
    let class = ok_stdout(&server_cmd(
        &data,
        &["add-class", "--trainer", &t, "--name", "电工一班"],
    ));
    let class = class.trim();
    ok_stdout(&server_cmd(
        &data,
        &[
            "add-learner",
            "--org",
            org,
            "--name",
            "李四",
            "--national-id",
            "110105194912310037",
            "--class",
            class,
        ],
    ));
    let issuer: Value =
        serde_json::from_str(&ok_stdout(&server_cmd(&data, &["issuer-key"]))).unwrap();
    let key = issuer["publicKeyMultibase"].as_str().unwrap().to_owned();
    let pack = dir.path().join("class.claim.json");
    let out = ok_stdout(&server_cmd(
        &data,
        &[
            "claim-pack",
            "--class",
            class,
            "--out",
            pack.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("(1 learners)"), "{out}");

    // Offline: the data folder is not needed.
    let nowhere = dir.path().join("absent");
    let out = ok_stdout(&server_cmd(
        &nowhere,
        &["verify-claim", pack.to_str().unwrap(), "--key", &key],
    ));
    assert!(out.starts_with("valid: claim pack of 1 learners"), "{out}");
    assert!(!nowhere.exists());

    let text = std::fs::read_to_string(&pack).unwrap();
    std::fs::write(&pack, text.replace("李四", "李五")).unwrap();
    let out = server_cmd(
        &nowhere,
        &["verify-claim", pack.to_str().unwrap(), "--key", &key],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("credential.bad_signature"), "{err}");
    let out = server_cmd(&data, &["revoke-certificate", "HC-NOSUCH", "--reason", "x"]);
    assert!(!out.status.success());
}
