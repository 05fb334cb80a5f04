//! `hearth verify-certificate`: offline, from a PDF, the QR text or the credential JSON, with
//! a clear error code for each refusal.

use std::process::{Command, Output};

use hearth_protocol::credential::{
    self, CertificateFacts, ChainEvidence, ExamOutcome, ProofOptions, StatusEntry,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn hearth(args: &[&str]) -> Output {
    // No data folder exists: verification must not need one.
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--data")
        .arg(dir.path().join("absent"))
        .args(args)
        .env_remove("HEARTH_ISSUER_KEY")
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn key() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[3; 32]).unwrap()
}

fn multikey(k: &Ed25519KeyPair) -> String {
    credential::multikey(&k.public_key().as_ref().try_into().unwrap())
}

fn facts() -> CertificateFacts {
    CertificateFacts {
        serial: "HC-TESTSERIAL23".into(),
        name: "李四".into(),
        national_id_masked: "**************0037".into(),
        national_id_hash: "hmac-sha256:00".into(),
        course: "electrician-safety".into(),
        project: "用电安全基础".into(),
        occupation_code: String::new(),
        occupation_name: String::new(),
        occupation_level: 0,
        hours_tenths: 120,
        exam: Some(ExamOutcome {
            score: 9,
            max_score: 10,
            passed: true,
        }),
        start_date: "2026-03-01".into(),
        end_date: "2026-03-20".into(),
        issued_date: "2026-03-20".into(),
        institution: "县职业技能培训学校".into(),
        evidence: vec![ChainEvidence {
            device: "ab".repeat(16),
            seq: 9,
            receipt: "cd".repeat(32),
        }],
        status: Some(StatusEntry {
            list: "http://127.0.0.1:8470/v1/certificates/status/revocation".into(),
            index: 3,
        }),
    }
}

fn sign(doc: Value, k: &Ed25519KeyPair) -> Value {
    let mk = multikey(k);
    let options = ProofOptions {
        verification_method: format!("did:key:{mk}#{mk}"),
        created: "2026-03-20T02:00:00Z".into(),
    };
    credential::add_proof(doc, k, &options).unwrap()
}

#[test]
fn a_credential_file_and_its_qr_text_verify_and_tampering_is_refused() {
    let k = key();
    let vc = sign(
        facts().to_credential(&format!("did:key:{}", multikey(&k))),
        &k,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cert.json");
    std::fs::write(&file, vc.to_string()).unwrap();
    let mk = multikey(&k);

    let out = hearth(&["verify-certificate", file.to_str().unwrap(), "--key", &mk]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("valid: 培训合格证明 HC-TESTSERIAL23"),
        "{text}"
    );
    assert!(text.contains("李四") && text.contains("12.0"), "{text}");

    let qr = credential::encode_qr(&facts().compact(), &k);
    let out = hearth(&["--json", "verify-certificate", &qr, "--key", &mk]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["form"], "qr");
    assert_eq!(report["certificate"]["serial"], "HC-TESTSERIAL23");

    // Tampered credential: the hours raised.
    let mut bad = vc.clone();
    bad["hearth"]["hoursTenths"] = json!(1200);
    std::fs::write(&file, bad.to_string()).unwrap();
    let out = hearth(&["verify-certificate", file.to_str().unwrap(), "--key", &mk]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[credential.bad_signature]"),
        "{}",
        stderr(&out)
    );

    // Another key.
    let other = Ed25519KeyPair::from_seed_unchecked(&[4; 32]).unwrap();
    let out = hearth(&["verify-certificate", &qr, "--key", &multikey(&other)]);
    assert!(
        stderr(&out).starts_with("error[credential.wrong_key]"),
        "{}",
        stderr(&out)
    );
    // A QR text with one character changed.
    let mut chars: Vec<char> = qr.chars().collect();
    let i = chars.len() - 3;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let changed: String = chars.into_iter().collect();
    let out = hearth(&["verify-certificate", &changed, "--key", &mk]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[credential."),
        "{}",
        stderr(&out)
    );
    // Not a certificate at all; a malformed key.
    let out = hearth(&["verify-certificate", "hello", "--key", &mk]);
    assert!(
        stderr(&out).starts_with("error[credential.malformed]"),
        "{}",
        stderr(&out)
    );
    let out = hearth(&["verify-certificate", &qr, "--key", "z6Mkbad"]);
    assert!(
        stderr(&out).starts_with("error[credential.key]"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_saved_status_list_reports_revocation() {
    let k = key();
    let vc = sign(
        facts().to_credential(&format!("did:key:{}", multikey(&k))),
        &k,
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cert.json");
    std::fs::write(&file, vc.to_string()).unwrap();
    let entry = facts().status.unwrap();
    let list = |revoked: &[u64]| {
        sign(
            credential::status_list_credential(
                &entry.list,
                &format!("did:key:{}", multikey(&k)),
                &credential::encode_status_list(revoked, 0),
                "2026-03-21T00:00:00Z",
            ),
            &k,
        )
    };
    let status = dir.path().join("status.json");
    let mk = multikey(&k);
    let args = |s: &std::path::Path| {
        vec![
            "verify-certificate".to_owned(),
            file.to_str().unwrap().to_owned(),
            "--key".into(),
            mk.clone(),
            "--status-list".into(),
            s.to_str().unwrap().to_owned(),
        ]
    };
    std::fs::write(&status, list(&[1, 2]).to_string()).unwrap();
    let a = args(&status);
    let out = hearth(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::write(&status, list(&[3]).to_string()).unwrap();
    let out = hearth(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[credential.revoked]"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_certificate_pdf_from_the_service_verifies() {
    let pdf = format!("{FIXTURES}/certificate.pdf");
    let key = std::fs::read_to_string(format!("{FIXTURES}/certificate.issuer-key")).unwrap();
    let out = hearth(&["--json", "verify-certificate", &pdf, "--key", key.trim()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["form"], "credential");
    assert_eq!(report["certificate"]["serial"], "HC-4ET7H3ZFGBEK");

    // The same PDF with one byte of the embedded credential changed.
    let mut bytes = std::fs::read(&pdf).unwrap();
    let needle = "Lab centre".as_bytes();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap();
    bytes[at] = b'X';
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pdf");
    std::fs::write(&bad, bytes).unwrap();
    let out = hearth(&[
        "verify-certificate",
        bad.to_str().unwrap(),
        "--key",
        key.trim(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[credential.bad_signature]"),
        "{}",
        stderr(&out)
    );
}
