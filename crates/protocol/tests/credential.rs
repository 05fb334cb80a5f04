//! Certificates: the W3C `eddsa-jcs-2022` test vector, and the tamper case tables of the
//! credential, the QR form, the status list and the claim pack.

use hearth_protocol::credential::{
    self, CertificateFacts, ChainEvidence, CredentialError, ExamOutcome, ProofOptions, StatusEntry,
    add_proof, canonicalize, decode_qr, encode_qr, encode_status_list, hash_data, multikey,
    public_of_multikey, revoked_in, seed_of_multibase_private, status_bit, status_list_credential,
    verify_certificate, verify_claim_pack, verify_proof,
};
use ring::digest::{SHA256, digest};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{Value, json};

const DIR: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/test-vectors/eddsa-jcs-2022"
);

fn vector(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}/{name}")).unwrap()
}

fn vector_key() -> Ed25519KeyPair {
    let pair: Value = serde_json::from_str(&vector("keyPair.json")).unwrap();
    let seed = seed_of_multibase_private(pair["privateKeyMultibase"].as_str().unwrap()).unwrap();
    let key = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    assert_eq!(
        multikey(&key.public_key().as_ref().try_into().unwrap()),
        pair["publicKeyMultibase"].as_str().unwrap(),
        "the seed of the vector's private key gives the vector's public key"
    );
    key
}

fn public(key: &Ed25519KeyPair) -> [u8; 32] {
    key.public_key().as_ref().try_into().unwrap()
}

#[test]
fn w3c_vector_canonical_document_and_hash() {
    let signed: Value = serde_json::from_str(&vector("signedJCS.json")).unwrap();
    let mut doc = signed.clone();
    doc.as_object_mut().unwrap().remove("proof");
    let canon = canonicalize(&doc).unwrap();
    assert_eq!(
        String::from_utf8(canon.clone()).unwrap(),
        vector("canonDocJCS.txt")
    );
    assert_eq!(
        hex::encode(digest(&SHA256, &canon)),
        vector("docHashJCS.txt")
    );
}

#[test]
fn w3c_vector_proof_canonical_form_hash_and_signature() {
    // The vector's proof options with the did:key method: proofCanonJCS → proofHashJCS →
    // combinedHashJCS (the signature over it is checked by signing and verifying; the full
    // signed vector below pins a proofValue byte for byte).
    let signed: Value = serde_json::from_str(&vector("signedJCS.json")).unwrap();
    let mut doc = signed.clone();
    doc.as_object_mut().unwrap().remove("proof");
    let mk = "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2";
    let config = json!({
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2023-02-24T23:36:38Z",
        "verificationMethod": format!("did:key:{mk}#{mk}"),
        "proofPurpose": "assertionMethod",
        "@context": doc["@context"],
    });
    let canon = canonicalize(&config).unwrap();
    assert_eq!(
        String::from_utf8(canon.clone()).unwrap(),
        vector("proofCanonJCS.txt")
    );
    assert_eq!(
        hex::encode(digest(&SHA256, &canon)),
        vector("proofHashJCS.txt")
    );
    let combined = hash_data(&doc, &config).unwrap();
    assert_eq!(hex::encode(combined), vector("combinedHashJCS.txt"));

    let key = vector_key();
    let options = ProofOptions {
        verification_method: format!("did:key:{mk}#{mk}"),
        created: "2023-02-24T23:36:38Z".into(),
    };
    let ours = add_proof(doc, &key, &options).unwrap();
    verify_proof(&ours, &public(&key)).unwrap();
}

#[test]
fn w3c_vector_signed_credential_is_reproduced_and_verifies() {
    let signed: Value = serde_json::from_str(&vector("signedJCS.json")).unwrap();
    let key = vector_key();
    verify_proof(&signed, &public(&key)).unwrap();

    let mut doc = signed.clone();
    doc.as_object_mut().unwrap().remove("proof");
    let options = ProofOptions {
        verification_method: signed["proof"]["verificationMethod"]
            .as_str()
            .unwrap()
            .into(),
        created: signed["proof"]["created"].as_str().unwrap().into(),
    };
    let ours = add_proof(doc, &key, &options).unwrap();
    assert_eq!(ours["proof"], signed["proof"]);
}

fn issuer() -> Ed25519KeyPair {
    Ed25519KeyPair::from_seed_unchecked(&[7u8; 32]).unwrap()
}

fn facts() -> CertificateFacts {
    CertificateFacts {
        serial: "HC-ABCDEFGH2345".into(),
        name: "王小明".into(),
        national_id_masked: "**************002X".into(),
        national_id_hash: format!("hmac-sha256:{}", "ab".repeat(32)),
        course: "elec-safety".into(),
        project: "低压电工作业安全培训".into(),
        occupation_code: "6-31-01-03".into(),
        occupation_name: "电工".into(),
        occupation_level: 5,
        hours_tenths: 325,
        exam: Some(ExamOutcome {
            score: 86,
            max_score: 100,
            passed: true,
        }),
        start_date: "2026-03-01".into(),
        end_date: "2026-04-12".into(),
        issued_date: "2026-04-12".into(),
        institution: "县职业技能培训学校".into(),
        evidence: vec![ChainEvidence {
            device: "11".repeat(16),
            seq: 412,
            receipt: "22".repeat(32),
        }],
        status: Some(StatusEntry {
            list: "https://hearth.example/status/1".into(),
            index: 5,
        }),
    }
}

fn signed_certificate(key: &Ed25519KeyPair) -> Value {
    let issuer_id = "https://hearth.example/issuer";
    let vc = facts().to_credential(issuer_id);
    let options = ProofOptions {
        verification_method: format!("{issuer_id}#{}", multikey(&public(key))),
        created: "2026-04-12T08:00:00Z".into(),
    };
    add_proof(vc, key, &options).unwrap()
}

#[test]
fn certificate_round_trips_through_its_credential() {
    let key = issuer();
    let vc = signed_certificate(&key);
    assert_eq!(verify_certificate(&vc, &public(&key)).unwrap(), facts());
}

/// Every leaf of a JSON value, as a JSON pointer.
fn leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, v)| {
            leaves(
                v,
                format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                out,
            )
        }),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{at}/{i}"), out)),
        _ => out.push(at),
    }
}

fn changed(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(format!("{s}x")),
        Value::Number(n) => json!(n.as_f64().unwrap() + 1.0),
        Value::Bool(b) => Value::Bool(!b),
        Value::Null => json!(0),
        _ => unreachable!(),
    }
}

#[test]
fn changing_any_field_of_a_certificate_fails_with_a_reason() {
    let key = issuer();
    let vc = signed_certificate(&key);
    let mut paths = Vec::new();
    leaves(&vc, String::new(), &mut paths);
    assert!(
        paths.len() > 40,
        "the table covers every field: {}",
        paths.len()
    );
    for path in &paths {
        let mut bad = vc.clone();
        let leaf = bad.pointer_mut(path).unwrap();
        *leaf = changed(leaf);
        let err = verify_certificate(&bad, &public(&key)).expect_err(path);
        let expected = match path.as_str() {
            "/proof/type" | "/proof/cryptosuite" => "credential.cryptosuite",
            "/proof/proofPurpose" => "credential.purpose",
            "/proof/verificationMethod" => "credential.wrong_key",
            "/proof/proofValue" => "credential.malformed",
            p if p.starts_with("/proof/@context") || p.starts_with("/@context") => {
                "credential.context"
            }
            _ => "credential.bad_signature",
        };
        assert_eq!(err.code(), expected, "{path}: {err}");
    }
    // Structural changes: a field added, a field removed, the proof removed, another key.
    let mut added = vc.clone();
    added["credentialSubject"]["extra"] = json!("x");
    assert_eq!(
        verify_certificate(&added, &public(&key)).unwrap_err(),
        CredentialError::Signature
    );
    let mut removed = vc.clone();
    removed["hearth"].as_object_mut().unwrap().remove("exam");
    assert_eq!(
        verify_certificate(&removed, &public(&key)).unwrap_err(),
        CredentialError::Signature
    );
    let mut bare = vc.clone();
    bare.as_object_mut().unwrap().remove("proof");
    assert_eq!(
        verify_certificate(&bare, &public(&key)).unwrap_err(),
        CredentialError::NoProof
    );
    let other = Ed25519KeyPair::from_seed_unchecked(&[8u8; 32]).unwrap();
    assert_eq!(
        verify_certificate(&vc, &public(&other)).unwrap_err().code(),
        "credential.wrong_key"
    );
}

#[test]
fn qr_form_verifies_and_any_changed_character_fails() {
    let key = issuer();
    let c = facts().compact();
    let text = encode_qr(&c, &key);
    assert!(text.starts_with("HC1:"));
    assert!(
        text.chars()
            .all(|ch| "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(ch)),
        "QR alphanumeric mode"
    );
    assert_eq!(decode_qr(&text, &public(&key)).unwrap(), c);
    // Every character after the prefix, changed to another of the alphabet.
    for i in 4..text.len() {
        let mut bytes = text.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bytes).unwrap();
        let err = decode_qr(&bad, &public(&key)).expect_err(&format!("char {i}"));
        assert!(
            matches!(
                err.code(),
                "credential.bad_signature" | "credential.qr_encoding" | "credential.wrong_key"
            ),
            "char {i}: {err}"
        );
    }
    assert_eq!(
        decode_qr("HX1:ABC", &public(&key)).unwrap_err().code(),
        "credential.qr_prefix"
    );
    let other = Ed25519KeyPair::from_seed_unchecked(&[8u8; 32]).unwrap();
    assert_eq!(
        decode_qr(&text, &public(&other)).unwrap_err().code(),
        "credential.wrong_key"
    );
    // A QR signed by another key cannot pass as the issuer's by copying its key id.
    let forged = encode_qr(&c, &other);
    let mut raw = base45::decode(&forged[4..]).unwrap();
    raw[..4].copy_from_slice(&credential::key_id(&public(&key)));
    let forged = format!("HC1:{}", base45::encode(&raw));
    assert_eq!(
        decode_qr(&forged, &public(&key)).unwrap_err().code(),
        "credential.bad_signature"
    );
}

#[test]
fn status_list_bits_and_revocation() {
    let encoded = encode_status_list(&[0, 5, 131_071], 10);
    assert!(status_bit(&encoded, 0).unwrap());
    assert!(!status_bit(&encoded, 1).unwrap());
    assert!(status_bit(&encoded, 5).unwrap());
    assert!(status_bit(&encoded, 131_071).unwrap());
    assert_eq!(
        status_bit(&encoded, 131_072).unwrap_err().code(),
        "credential.status_index"
    );
    assert_eq!(
        status_bit("zabc", 0).unwrap_err().code(),
        "credential.status_list"
    );

    let key = issuer();
    let url = "https://hearth.example/status/1";
    let list = |set: &[u64]| {
        let vc = status_list_credential(
            url,
            "https://hearth.example/issuer",
            &encode_status_list(set, 0),
            "2026-04-12T08:00:00Z",
        );
        let options = ProofOptions {
            verification_method: format!(
                "https://hearth.example/issuer#{}",
                multikey(&public(&key))
            ),
            created: "2026-04-12T08:00:00Z".into(),
        };
        add_proof(vc, &key, &options).unwrap()
    };
    let entry = facts().status.unwrap();
    assert!(!revoked_in(&list(&[]), &public(&key), &entry).unwrap());
    assert!(revoked_in(&list(&[5]), &public(&key), &entry).unwrap());
    // A list whose bit was cleared after signing is refused.
    let mut tampered = list(&[5]);
    tampered["credentialSubject"]["encodedList"] = json!(encode_status_list(&[], 0));
    assert_eq!(
        revoked_in(&tampered, &public(&key), &entry)
            .unwrap_err()
            .code(),
        "credential.bad_signature"
    );
}

#[test]
fn claim_pack_tamper_table() {
    let key = issuer();
    let cert = signed_certificate(&key);
    let pack = json!({
        "@context": [credential::VC_CONTEXT_V2],
        "type": ["HearthClaimPack"],
        "class": "电工一班",
        "learners": [{"name": "王小明", "creditedHours": "32.5", "certificates": [cert]}],
    });
    let options = ProofOptions {
        verification_method: format!("https://hearth.example/issuer#{}", multikey(&public(&key))),
        created: "2026-04-12T08:00:00Z".into(),
    };
    let signed = add_proof(pack, &key, &options).unwrap();
    assert_eq!(verify_claim_pack(&signed, &public(&key)).unwrap(), 1);
    let mut paths = Vec::new();
    leaves(&signed, String::new(), &mut paths);
    for path in paths.iter().filter(|p| !p.starts_with("/proof")) {
        let mut bad = signed.clone();
        let leaf = bad.pointer_mut(path).unwrap();
        *leaf = changed(leaf);
        let err = verify_claim_pack(&bad, &public(&key)).expect_err(path);
        let expected = if path.starts_with("/@context") {
            "credential.context"
        } else {
            "credential.bad_signature"
        };
        assert_eq!(err.code(), expected, "{path}");
    }
    assert_eq!(
        public_of_multikey(&multikey(&public(&key))).unwrap(),
        public(&key)
    );
}
