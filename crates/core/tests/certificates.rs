//! The app's certificate check (`hearth_core::certificates`), as a case table: a certificate as
//! credential JSON, as a PDF with the credential embedded, or as its QR text is valid under the
//! issuer's key; a changed field, a changed QR character or another issuer's key is tampered; a
//! bit set in the signed status list is revoked (for the QR form too, when the credential of its
//! serial is kept); anything else is unreadable. Each verdict carries the reason's code.
//! Also: the data folder's checks need the issuer key kept first, and refuse an empty path.

use hearth_core::certificates::{CertificateFolder, CheckStatus, check_certificate};
use hearth_protocol::credential::{
    self, CertificateFacts, ChainEvidence, ExamOutcome, ProofOptions, StatusEntry,
};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

const LIST: &str = "http://127.0.0.1:8470/v1/certificates/status/revocation";

fn key(seed: u8) -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
}

fn public(k: &Ed25519KeyPair) -> [u8; 32] {
    k.public_key().as_ref().try_into().unwrap()
}

fn sign(doc: Value, k: &Ed25519KeyPair) -> Value {
    let mk = credential::multikey(&public(k));
    let options = ProofOptions {
        verification_method: format!("did:key:{mk}#{mk}"),
        created: "2026-03-20T02:00:00Z".into(),
    };
    credential::add_proof(doc, k, &options).unwrap()
}

fn facts() -> CertificateFacts {
    CertificateFacts {
        serial: "HC-APPCHECK0001".into(),
        name: "王小明".into(),
        national_id_masked: "**************1234".into(),
        national_id_hash: "hmac-sha256:00".into(),
        course: "electrician-safety".into(),
        project: "电工安全基础".into(),
        occupation_code: "6-31-01-03".into(),
        occupation_name: "电工".into(),
        occupation_level: 5,
        hours_tenths: 2,
        exam: Some(ExamOutcome {
            score: 12,
            max_score: 12,
            passed: true,
        }),
        start_date: "2026-03-01".into(),
        end_date: "2026-03-20".into(),
        issued_date: "2026-03-20".into(),
        institution: "城关镇职业技能培训中心".into(),
        evidence: vec![ChainEvidence {
            device: "ab".repeat(16),
            seq: 9,
            receipt: "cd".repeat(32),
        }],
        status: Some(StatusEntry {
            list: LIST.into(),
            index: 7,
        }),
    }
}

fn credential_of(k: &Ed25519KeyPair) -> Value {
    let issuer = format!("did:key:{}", credential::multikey(&public(k)));
    sign(facts().to_credential(&issuer), k)
}

fn status_list(k: &Ed25519KeyPair, revoked: &[u64]) -> Value {
    let issuer = format!("did:key:{}", credential::multikey(&public(k)));
    sign(
        credential::status_list_credential(
            LIST,
            &issuer,
            &credential::encode_status_list(revoked, 0),
            "2026-03-21T00:00:00Z",
        ),
        k,
    )
}

/// A stand-in for the service's PDF: what matters to the check is the embedded credential.
fn pdf_with(vc: &Value) -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\x80\x80\n1 0 obj\n<</Type/EmbeddedFile>>\nstream\n".to_vec();
    pdf.extend_from_slice(vc.to_string().as_bytes());
    pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF");
    pdf
}

#[test]
fn every_form_is_checked_valid_tampered_revoked_or_unreadable() {
    let k = key(3);
    let other = key(4);
    let vc = credential_of(&k);
    let qr = credential::encode_qr(&facts().compact(), &k);
    let mut changed_name = vc.clone();
    changed_name["credentialSubject"]["name"] = json!("李四");
    let mut changed_hours = vc.clone();
    changed_hours["hearth"]["hoursTenths"] = json!(1200);
    let mut qr_chars: Vec<char> = qr.chars().collect();
    let i = qr_chars.len() - 3;
    qr_chars[i] = if qr_chars[i] == 'A' { 'B' } else { 'A' };
    let changed_qr: String = qr_chars.into_iter().collect();
    let clean = status_list(&k, &[1, 2]);
    let revoked = status_list(&k, &[7]);
    let forged_list = status_list(&other, &[7]);

    let kept = vc.clone();
    let none = |_: &str| None;
    let known = |s: &str| (s == "HC-APPCHECK0001").then(|| kept.clone());
    type Case<'a> = (
        &'a str,
        Vec<u8>,
        Option<&'a Value>,
        bool,
        CheckStatus,
        Option<&'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "credential JSON",
            vc.to_string().into_bytes(),
            Some(&clean),
            false,
            CheckStatus::Valid,
            None,
        ),
        (
            "PDF",
            pdf_with(&vc),
            Some(&clean),
            false,
            CheckStatus::Valid,
            None,
        ),
        (
            "QR text",
            qr.clone().into_bytes(),
            None,
            false,
            CheckStatus::Valid,
            None,
        ),
        (
            "name changed",
            changed_name.to_string().into_bytes(),
            None,
            false,
            CheckStatus::Tampered,
            Some("credential.bad_signature"),
        ),
        (
            "hours changed in the PDF",
            pdf_with(&changed_hours),
            None,
            false,
            CheckStatus::Tampered,
            Some("credential.bad_signature"),
        ),
        (
            "QR character changed",
            changed_qr.into_bytes(),
            None,
            false,
            CheckStatus::Tampered,
            Some("credential.bad_signature"),
        ),
        (
            "another issuer",
            credential_of(&other).to_string().into_bytes(),
            None,
            false,
            CheckStatus::Tampered,
            Some("credential.wrong_key"),
        ),
        (
            "revoked credential",
            vc.to_string().into_bytes(),
            Some(&revoked),
            false,
            CheckStatus::Revoked,
            Some("credential.revoked"),
        ),
        (
            "revoked PDF",
            pdf_with(&vc),
            Some(&revoked),
            false,
            CheckStatus::Revoked,
            Some("credential.revoked"),
        ),
        (
            "revoked QR, credential kept",
            qr.clone().into_bytes(),
            Some(&revoked),
            true,
            CheckStatus::Revoked,
            Some("credential.revoked"),
        ),
        (
            "revoked QR, credential not kept",
            qr.clone().into_bytes(),
            Some(&revoked),
            false,
            CheckStatus::Valid,
            None,
        ),
        (
            "a forged status list is ignored",
            vc.to_string().into_bytes(),
            Some(&forged_list),
            false,
            CheckStatus::Valid,
            None,
        ),
        (
            "a PDF without a credential",
            b"%PDF-1.7\n%%EOF".to_vec(),
            None,
            false,
            CheckStatus::Unreadable,
            Some("certificate.no_credential"),
        ),
        (
            "plain text",
            b"hello".to_vec(),
            None,
            false,
            CheckStatus::Unreadable,
            Some("credential.malformed"),
        ),
        // JSON without a proof could be a credential with its signature stripped.
        (
            "JSON without a proof",
            b"{\"a\":1}".to_vec(),
            None,
            false,
            CheckStatus::Tampered,
            Some("credential.no_proof"),
        ),
    ];
    for (what, bytes, list, keep, status, code) in cases {
        let check = if keep {
            check_certificate(&bytes, &public(&k), list, known)
        } else {
            check_certificate(&bytes, &public(&k), list, none)
        };
        assert_eq!(check.status, status, "{what}: {check:?}");
        assert_eq!(check.code.as_deref(), code, "{what}: {check:?}");
        if status == CheckStatus::Valid || status == CheckStatus::Revoked {
            let c = check.certificate.as_ref().expect("the facts are shown");
            assert_eq!(
                (c.serial.as_str(), c.name.as_str()),
                ("HC-APPCHECK0001", "王小明"),
                "{what}"
            );
            assert_eq!(c.occupation_code, "6-31-01-03", "{what}");
        } else {
            assert!(
                check.certificate.is_none(),
                "{what}: nothing shown of a bad file"
            );
            assert!(check.reason.is_some(), "{what}: a reason is given");
        }
        let listed = list.is_some_and(|l| credential::verify_proof(l, &public(&k)).is_ok());
        let has_entry =
            !what.starts_with("revoked QR, credential not") && !what.starts_with("QR text");
        if status != CheckStatus::Unreadable && status != CheckStatus::Tampered {
            assert_eq!(check.revocation_checked, listed && has_entry, "{what}");
        }
    }
}

#[test]
fn the_data_folder_checks_under_the_kept_key_and_saves_only_to_a_chosen_path() {
    let dir = tempfile::tempdir().unwrap();
    let folder = CertificateFolder::new(dir.path());
    let k = key(3);
    let vc = credential_of(&k);
    // No issuer key kept yet: the check says so instead of guessing.
    let err = folder.check_bytes(vc.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.code(), "certificate.no_issuer_key");
    // A certificate never downloaded cannot be saved or checked.
    let err = folder
        .save_pdf("HC-APPCHECK0001", &dir.path().join("out.pdf"))
        .unwrap_err();
    assert_eq!(err.code(), "certificate.not_saved");
    assert_eq!(
        folder.check_saved("../etc/passwd").unwrap_err().code(),
        "certificate.invalid_serial"
    );
    assert!(!dir.path().join("out.pdf").exists());
    // The kept key (as the download keeps it) makes text and files checkable offline.
    let certs = dir.path().join("certificates");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(
        certs.join("issuer.json"),
        json!({"publicKeyMultibase": credential::multikey(&public(&k))}).to_string(),
    )
    .unwrap();
    let file = dir.path().join("证书.json");
    std::fs::write(&file, vc.to_string()).unwrap();
    let by_path = folder.check_input(file.to_str().unwrap()).unwrap();
    assert_eq!(by_path.status, CheckStatus::Valid);
    assert!(!by_path.revocation_checked, "no status list kept yet");
    let qr = credential::encode_qr(&facts().compact(), &k);
    assert_eq!(
        folder.check_input(&format!("  {qr}\n")).unwrap().status,
        CheckStatus::Valid
    );
}
