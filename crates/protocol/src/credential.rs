//! Certificates and signed documents anyone can verify offline.
//!
//! - Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite (W3C VC Data Integrity EdDSA
//!   Cryptosuites v1.0): RFC 8785 JSON canonicalisation, SHA-256 of the proof options and of the
//!   document, Ed25519 over the two hashes, `proofValue` in multibase base58btc. Certificates
//!   (W3C Verifiable Credentials 2.0 in the Open Badges 3.0 model), the status list credential and
//!   the subsidy claim pack all carry such a proof, so one verifier checks them all.
//! - [`CertificateFacts`]: what a 培训合格证书 states, built into a credential by
//!   [`CertificateFacts::to_credential`] and read back by [`CertificateFacts::from_credential`].
//! - The compact QR form ([`encode_qr`], [`decode_qr`]): the certificate's printed facts in
//!   postcard, signed with Ed25519 under a domain-separation prefix, in base45 (RFC 9285) so a QR
//!   code holds it in alphanumeric mode.
//! - Bitstring Status List (W3C): [`encode_status_list`] and [`status_bit`].
//!
//! Pure: no I/O. The key that verifies is always given by the caller (the service's published
//! issuer key); nothing here fetches anything.

use std::io::{Read, Write};

use base64::Engine;
use ring::digest::{SHA256, digest};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The cryptosuite every proof here uses.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// Prefix of the compact QR form.
pub const QR_PREFIX: &str = "HC1:";
/// Domain separation of the QR signature: never valid as any other Hearth signature.
const QR_DOMAIN: &[u8] = b"hearth/certificate-qr/v1\0";
/// Format version inside the QR payload.
const QR_VERSION: u8 = 1;
/// The smallest status list the W3C recommendation allows (16 KiB of bits), for herd privacy.
pub const STATUS_LIST_MIN_BITS: usize = 131_072;
/// Upper bound on a decompressed status list, so a hostile list cannot exhaust memory.
const STATUS_LIST_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Multicodec prefix of an Ed25519 public key (`ed25519-pub`, varint 0xed).
const MULTICODEC_ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Multicodec prefix of an Ed25519 private key seed (`ed25519-priv`, varint 0x1300).
const MULTICODEC_ED25519_PRIV: [u8; 2] = [0x80, 0x26];

pub const VC_CONTEXT_V2: &str = "https://www.w3.org/ns/credentials/v2";
pub const OB_CONTEXT_V3: &str = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";

/// Why a credential, QR text, status list or claim pack is refused. Each has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("not a JSON object of the expected shape: {0}")]
    Malformed(String),
    #[error("the document has no proof")]
    NoProof,
    #[error("the proof is not a DataIntegrityProof with the eddsa-jcs-2022 cryptosuite")]
    Cryptosuite,
    #[error("the proof's purpose is {0:?}, not assertionMethod")]
    Purpose(String),
    #[error("the proof's @context differs from the document's")]
    Context,
    #[error("the proof names key {named}, not the issuer key given ({given})")]
    WrongKey { named: String, given: String },
    #[error("the signature does not match the document and the issuer key: something was changed")]
    Signature,
    #[error("the text is not a Hearth certificate QR code (it starts with {QR_PREFIX})")]
    QrPrefix,
    #[error("the QR text is not valid base45 or is too short")]
    QrEncoding,
    #[error("QR format version {0} is not supported")]
    QrVersion(u8),
    #[error("the status list is malformed: {0}")]
    StatusList(String),
    #[error("status index {index} is outside the list of {len} entries")]
    StatusIndex { index: usize, len: usize },
    #[error("the key is not an Ed25519 multikey")]
    Key,
}

impl CredentialError {
    pub fn code(&self) -> &'static str {
        match self {
            CredentialError::Malformed(_) => "credential.malformed",
            CredentialError::NoProof => "credential.no_proof",
            CredentialError::Cryptosuite => "credential.cryptosuite",
            CredentialError::Purpose(_) => "credential.purpose",
            CredentialError::Context => "credential.context",
            CredentialError::WrongKey { .. } => "credential.wrong_key",
            CredentialError::Signature => "credential.bad_signature",
            CredentialError::QrPrefix => "credential.qr_prefix",
            CredentialError::QrEncoding => "credential.qr_encoding",
            CredentialError::QrVersion(_) => "credential.qr_version",
            CredentialError::StatusList(_) => "credential.status_list",
            CredentialError::StatusIndex { .. } => "credential.status_index",
            CredentialError::Key => "credential.key",
        }
    }
}

type Result<T> = std::result::Result<T, CredentialError>;

fn malformed(what: impl Into<String>) -> CredentialError {
    CredentialError::Malformed(what.into())
}

// ---------------------------------------------------------------------------------------------
// Keys and multibase

/// `z` + base58btc of the multicodec Ed25519 public key (`z6Mk…`).
pub fn multikey(public: &[u8; 32]) -> String {
    let mut bytes = MULTICODEC_ED25519_PUB.to_vec();
    bytes.extend_from_slice(public);
    format!("z{}", bs58::encode(bytes).into_string())
}

/// The Ed25519 public key of a `z6Mk…` multikey.
pub fn public_of_multikey(text: &str) -> Result<[u8; 32]> {
    let raw = multibase_decode(text).ok_or(CredentialError::Key)?;
    match raw.strip_prefix(&MULTICODEC_ED25519_PUB[..]) {
        Some(key) => key.try_into().map_err(|_| CredentialError::Key),
        None => Err(CredentialError::Key),
    }
}

/// The 32-byte seed of a multibase Ed25519 private key (`z3u2…`, as in the W3C test vectors).
pub fn seed_of_multibase_private(text: &str) -> Result<[u8; 32]> {
    let raw = multibase_decode(text).ok_or(CredentialError::Key)?;
    match raw.strip_prefix(&MULTICODEC_ED25519_PRIV[..]) {
        Some(seed) => seed.try_into().map_err(|_| CredentialError::Key),
        None => Err(CredentialError::Key),
    }
}

fn multibase_decode(text: &str) -> Option<Vec<u8>> {
    bs58::decode(text.strip_prefix('z')?).into_vec().ok()
}

/// Accepts an issuer key as a `z6Mk…` multikey or as 64 hex characters.
pub fn parse_issuer_key(text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    if text.starts_with('z') {
        return public_of_multikey(text);
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(text, &mut key).map_err(|_| CredentialError::Key)?;
    Ok(key)
}

/// Four bytes naming an issuer key inside the QR form, so a wrong key is reported as such.
pub fn key_id(public: &[u8; 32]) -> [u8; 4] {
    let d = digest(&SHA256, public);
    [d.as_ref()[0], d.as_ref()[1], d.as_ref()[2], d.as_ref()[3]]
}

// ---------------------------------------------------------------------------------------------
// eddsa-jcs-2022

/// RFC 8785 canonical bytes of a JSON value.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| malformed(e.to_string()))
}

/// The options of a new proof (everything but `proofValue`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofOptions {
    /// The issuer's key, usually `{issuer}#{multikey}`.
    pub verification_method: String,
    /// RFC 3339 / XML Schema dateTime (`2026-03-01T08:00:00Z`).
    pub created: String,
}

/// SHA-256(JCS(proof options)) ‖ SHA-256(JCS(document)): the 64 bytes that are signed.
pub fn hash_data(document: &Value, proof_config: &Value) -> Result<[u8; 64]> {
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(digest(&SHA256, &canonicalize(proof_config)?).as_ref());
    out[32..].copy_from_slice(digest(&SHA256, &canonicalize(document)?).as_ref());
    Ok(out)
}

/// Adds an `eddsa-jcs-2022` proof to `document` (which must have none).
pub fn add_proof(document: Value, key: &Ed25519KeyPair, options: &ProofOptions) -> Result<Value> {
    let Value::Object(mut doc) = document else {
        return Err(malformed("the document is not a JSON object"));
    };
    if doc.contains_key("proof") {
        return Err(malformed("the document already has a proof"));
    }
    let mut config = Map::new();
    config.insert("type".into(), json!("DataIntegrityProof"));
    config.insert("cryptosuite".into(), json!(CRYPTOSUITE));
    config.insert("created".into(), json!(options.created));
    config.insert(
        "verificationMethod".into(),
        json!(options.verification_method),
    );
    config.insert("proofPurpose".into(), json!("assertionMethod"));
    if let Some(ctx) = doc.get("@context") {
        config.insert("@context".into(), ctx.clone());
    }
    let config = Value::Object(config);
    let unsecured = Value::Object(doc.clone());
    let signature = key.sign(&hash_data(&unsecured, &config)?);
    let mut proof = config;
    proof["proofValue"] = json!(format!(
        "z{}",
        bs58::encode(signature.as_ref()).into_string()
    ));
    doc.insert("proof".into(), proof);
    Ok(Value::Object(doc))
}

/// Verifies the single `eddsa-jcs-2022` proof of `document` under `issuer_key`.
pub fn verify_proof(document: &Value, issuer_key: &[u8; 32]) -> Result<()> {
    let Value::Object(doc) = document else {
        return Err(malformed("the document is not a JSON object"));
    };
    let mut unsecured = doc.clone();
    let Some(proof) = unsecured.remove("proof") else {
        return Err(CredentialError::NoProof);
    };
    let Value::Object(mut config) = proof else {
        return Err(malformed("the proof is not a single JSON object"));
    };
    if config.get("type") != Some(&json!("DataIntegrityProof"))
        || config.get("cryptosuite") != Some(&json!(CRYPTOSUITE))
    {
        return Err(CredentialError::Cryptosuite);
    }
    match config.get("proofPurpose").and_then(Value::as_str) {
        Some("assertionMethod") => {}
        other => return Err(CredentialError::Purpose(other.unwrap_or("").into())),
    }
    if let Some(ctx) = config.get("@context")
        && unsecured.get("@context") != Some(ctx)
    {
        return Err(CredentialError::Context);
    }
    let method = config
        .get("verificationMethod")
        .and_then(Value::as_str)
        .ok_or_else(|| malformed("the proof has no verificationMethod"))?;
    let given = multikey(issuer_key);
    // A method that names a multikey (`…#z6Mk…`, `did:key:z6Mk…`) must name the key given.
    let named = method.rsplit(['#', ':']).next().unwrap_or("");
    if named.starts_with("z6Mk") && named != given {
        return Err(CredentialError::WrongKey {
            named: named.into(),
            given,
        });
    }
    let value = config
        .remove("proofValue")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| malformed("the proof has no proofValue"))?;
    let signature = multibase_decode(&value)
        .filter(|s| s.len() == 64)
        .ok_or_else(|| malformed("proofValue is not 64 bytes in multibase base58btc"))?;
    let hash = hash_data(&Value::Object(unsecured), &Value::Object(config))?;
    UnparsedPublicKey::new(&ED25519, issuer_key)
        .verify(&hash, &signature)
        .map_err(|_| CredentialError::Signature)
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// An exam result as printed on a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExamOutcome {
    pub score: u32,
    pub max_score: u32,
    pub passed: bool,
}

/// One device's receipt-chain head the credited hours were derived from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainEvidence {
    /// Device id (hex).
    pub device: String,
    pub seq: u64,
    /// Receipt id (hex) of the head.
    pub receipt: String,
}

/// Where the certificate's revocation bit is published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    /// URL of the status list credential.
    pub list: String,
    pub index: u64,
}

/// What a 培训合格证书 states. Dates are `YYYY-MM-DD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateFacts {
    pub serial: String,
    pub name: String,
    /// e.g. `**************002X`.
    pub national_id_masked: String,
    /// Keyed hash of the normalised ID number (`hmac-sha256:` + hex).
    pub national_id_hash: String,
    pub course: String,
    /// Training project (course title).
    pub project: String,
    pub occupation_code: String,
    pub occupation_name: String,
    /// 职业技能等级 1 (高级技师) … 5 (初级工); 0 when the course declares none.
    pub occupation_level: u8,
    /// Credited hours × 10.
    pub hours_tenths: u32,
    pub exam: Option<ExamOutcome>,
    pub start_date: String,
    pub end_date: String,
    pub issued_date: String,
    pub institution: String,
    pub evidence: Vec<ChainEvidence>,
    pub status: Option<StatusEntry>,
}

/// The name of a skill level (职业技能等级); empty for 0.
pub fn level_label(level: u8) -> &'static str {
    match level {
        1 => "一级/高级技师",
        2 => "二级/技师",
        3 => "三级/高级工",
        4 => "四级/中级工",
        5 => "五级/初级工",
        _ => "",
    }
}

impl CertificateFacts {
    /// The unsigned Open Badges 3.0 `OpenBadgeCredential` (a W3C VC 2.0) of these facts.
    pub fn to_credential(&self, issuer_id: &str) -> Value {
        let mut achievement = json!({
            "id": format!("{issuer_id}/achievements/{}", self.course),
            "type": ["Achievement"],
            "achievementType": "Certificate",
            "name": format!("{} 培训合格证明", self.project),
            "description": format!("完成职业技能培训项目“{}”并考核合格。", self.project),
            "criteria": {"narrative": "按规定学时完成培训，学时由签名学习凭证链核定，结业考试合格。"},
            "fieldOfStudy": self.occupation_name,
            "humanCode": self.occupation_code,
            "tag": [format!("occupation:{}", self.occupation_code), format!("level:{}", self.occupation_level)],
        });
        if self.occupation_level != 0 {
            achievement["level"] = json!(level_label(self.occupation_level));
        }
        let mut result = vec![json!({
            "type": ["Result"],
            "resultDescription": format!("{issuer_id}/achievements/{}#hours", self.course),
            "value": format!("{}.{}", self.hours_tenths / 10, self.hours_tenths % 10),
        })];
        if let Some(e) = &self.exam {
            result.push(json!({
                "type": ["Result"],
                "resultDescription": format!("{issuer_id}/achievements/{}#exam", self.course),
                "value": format!("{}/{}", e.score, e.max_score),
                "status": if e.passed { "Completed" } else { "Failed" },
            }));
        }
        let mut vc = json!({
            "@context": [VC_CONTEXT_V2, OB_CONTEXT_V3],
            "id": format!("urn:hearth:certificate:{}", self.serial),
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "name": format!("{} 培训合格证明", self.project),
            "issuer": {"id": issuer_id, "type": ["Profile"], "name": self.institution},
            "validFrom": format!("{}T00:00:00Z", self.issued_date),
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "name": self.name,
                "identifier": [{
                    "type": "IdentityObject",
                    "identityType": "identifier",
                    "hashed": true,
                    "identityHash": self.national_id_hash,
                }],
                "achievement": achievement,
                "result": result,
                "activityStartDate": format!("{}T00:00:00Z", self.start_date),
                "activityEndDate": format!("{}T00:00:00Z", self.end_date),
                "creditsEarned": f64::from(self.hours_tenths) / 10.0,
            },
            "hearth": {
                "serial": self.serial,
                "nationalIdMasked": self.national_id_masked,
                "course": self.course,
                "project": self.project,
                "occupationCode": self.occupation_code,
                "occupationName": self.occupation_name,
                "occupationLevel": self.occupation_level,
                "hoursTenths": self.hours_tenths,
                "exam": self.exam,
                "startDate": self.start_date,
                "endDate": self.end_date,
                "issuedDate": self.issued_date,
                "institution": self.institution,
                "evidence": self.evidence,
            },
            "evidence": self.evidence.iter().map(|e| json!({
                "id": format!("urn:hearth:receipt:{}", e.receipt),
                "type": ["Evidence"],
                "name": "receipt chain head",
                "description": format!("device {} sequence {}", e.device, e.seq),
            })).collect::<Vec<_>>(),
        });
        if let Some(s) = &self.status {
            vc["credentialStatus"] = json!({
                "id": format!("{}#{}", s.list, s.index),
                "type": "BitstringStatusListEntry",
                "statusPurpose": "revocation",
                "statusListIndex": s.index.to_string(),
                "statusListCredential": s.list,
            });
        }
        vc
    }

    /// Reads the facts back from a credential made by [`Self::to_credential`]. Call
    /// [`verify_certificate`] first: this only reads.
    pub fn from_credential(vc: &Value) -> Result<Self> {
        let types = vc.get("type").and_then(Value::as_array);
        if !types.is_some_and(|t| t.contains(&json!("OpenBadgeCredential"))) {
            return Err(malformed("the credential is not an OpenBadgeCredential"));
        }
        let h = vc
            .get("hearth")
            .ok_or_else(|| malformed("the credential has no Hearth certificate facts"))?;
        let s = |k: &str| -> Result<String> {
            h.get(k)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| malformed(format!("hearth.{k} is missing")))
        };
        let n = |k: &str| -> Result<u64> {
            h.get(k)
                .and_then(Value::as_u64)
                .ok_or_else(|| malformed(format!("hearth.{k} is missing")))
        };
        let subject = vc.get("credentialSubject");
        let name = subject
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            .ok_or_else(|| malformed("credentialSubject.name is missing"))?;
        let hash = subject
            .and_then(|s| s.pointer("/identifier/0/identityHash"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = match vc.get("credentialStatus") {
            None => None,
            Some(st) => Some(StatusEntry {
                list: st
                    .get("statusListCredential")
                    .and_then(Value::as_str)
                    .ok_or_else(|| malformed("credentialStatus.statusListCredential"))?
                    .into(),
                index: st
                    .get("statusListIndex")
                    .and_then(Value::as_str)
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(|| malformed("credentialStatus.statusListIndex"))?,
            }),
        };
        let json_of = |k: &str| h.get(k).cloned().unwrap_or(Value::Null);
        Ok(Self {
            serial: s("serial")?,
            name: name.into(),
            national_id_masked: s("nationalIdMasked")?,
            national_id_hash: hash.into(),
            course: s("course")?,
            project: s("project")?,
            occupation_code: s("occupationCode")?,
            occupation_name: s("occupationName")?,
            occupation_level: u8::try_from(n("occupationLevel")?)
                .map_err(|_| malformed("hearth.occupationLevel"))?,
            hours_tenths: u32::try_from(n("hoursTenths")?)
                .map_err(|_| malformed("hearth.hoursTenths"))?,
            exam: serde_json::from_value(json_of("exam")).map_err(|_| malformed("hearth.exam"))?,
            start_date: s("startDate")?,
            end_date: s("endDate")?,
            issued_date: s("issuedDate")?,
            institution: s("institution")?,
            evidence: serde_json::from_value(json_of("evidence"))
                .map_err(|_| malformed("hearth.evidence"))?,
            status,
        })
    }

    /// The printed subset carried by the QR code.
    pub fn compact(&self) -> CompactCertificate {
        CompactCertificate {
            version: QR_VERSION,
            serial: self.serial.clone(),
            name: self.name.clone(),
            national_id_masked: self.national_id_masked.clone(),
            project: self.project.clone(),
            occupation_code: self.occupation_code.clone(),
            occupation_level: self.occupation_level,
            hours_tenths: self.hours_tenths,
            exam: self.exam.as_ref().map(|e| (e.score, e.max_score, e.passed)),
            start_date: date_number(&self.start_date),
            end_date: date_number(&self.end_date),
            issued_date: date_number(&self.issued_date),
            institution: self.institution.clone(),
        }
    }
}

/// Verifies a certificate credential under the issuer key and reads its facts.
pub fn verify_certificate(vc: &Value, issuer_key: &[u8; 32]) -> Result<CertificateFacts> {
    verify_proof(vc, issuer_key)?;
    CertificateFacts::from_credential(vc)
}

fn date_number(date: &str) -> u32 {
    date.replace('-', "").parse().unwrap_or(0)
}

/// `YYYY-MM-DD` of a `YYYYMMDD` number.
pub fn date_label(n: u32) -> String {
    format!("{:04}-{:02}-{:02}", n / 10000, n / 100 % 100, n % 100)
}

// ---------------------------------------------------------------------------------------------
// The compact QR form

/// The printed facts of a certificate, as the QR code carries them (postcard).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactCertificate {
    pub version: u8,
    pub serial: String,
    pub name: String,
    pub national_id_masked: String,
    pub project: String,
    pub occupation_code: String,
    pub occupation_level: u8,
    pub hours_tenths: u32,
    /// (score, max score, passed).
    pub exam: Option<(u32, u32, bool)>,
    /// `YYYYMMDD`.
    pub start_date: u32,
    pub end_date: u32,
    pub issued_date: u32,
    pub institution: String,
}

/// `HC1:` + base45(key id ‖ Ed25519 signature ‖ postcard payload).
pub fn encode_qr(c: &CompactCertificate, key: &Ed25519KeyPair) -> String {
    let payload = postcard::to_allocvec(c).expect("postcard encodes plain structs");
    let mut msg = QR_DOMAIN.to_vec();
    msg.extend_from_slice(&payload);
    let signature = key.sign(&msg);
    let public: [u8; 32] = key
        .public_key()
        .as_ref()
        .try_into()
        .expect("Ed25519 public keys are 32 bytes");
    let mut raw = key_id(&public).to_vec();
    raw.extend_from_slice(signature.as_ref());
    raw.extend_from_slice(&payload);
    format!("{QR_PREFIX}{}", base45::encode(&raw))
}

/// Verifies QR text under the issuer key and returns the facts it states.
pub fn decode_qr(text: &str, issuer_key: &[u8; 32]) -> Result<CompactCertificate> {
    let body = text
        .trim()
        .strip_prefix(QR_PREFIX)
        .ok_or(CredentialError::QrPrefix)?;
    let raw = base45::decode(body).map_err(|_| CredentialError::QrEncoding)?;
    if raw.len() < 4 + 64 + 1 {
        return Err(CredentialError::QrEncoding);
    }
    let (kid, rest) = raw.split_at(4);
    let (signature, payload) = rest.split_at(64);
    if kid != key_id(issuer_key) {
        return Err(CredentialError::WrongKey {
            named: format!("key id {}", hex::encode(kid)),
            given: format!("key id {}", hex::encode(key_id(issuer_key))),
        });
    }
    let mut msg = QR_DOMAIN.to_vec();
    msg.extend_from_slice(payload);
    UnparsedPublicKey::new(&ED25519, issuer_key)
        .verify(&msg, signature)
        .map_err(|_| CredentialError::Signature)?;
    if payload[0] != QR_VERSION {
        return Err(CredentialError::QrVersion(payload[0]));
    }
    let (c, rest): (CompactCertificate, _) =
        postcard::take_from_bytes(payload).map_err(|_| malformed("the QR payload"))?;
    if !rest.is_empty() {
        return Err(malformed("bytes after the QR payload"));
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------------
// Bitstring Status List

/// The `encodedList` of a status list with the given bits set: multibase base64url (no padding)
/// of the GZIP-compressed bitstring, bit 0 being the most significant bit of the first byte.
pub fn encode_status_list(set: &[u64], bits: usize) -> String {
    let bits = bits.max(STATUS_LIST_MIN_BITS).div_ceil(8) * 8;
    let mut bytes = vec![0u8; bits / 8];
    for &i in set {
        if let Ok(i) = usize::try_from(i)
            && i < bits
        {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).expect("writing to a Vec cannot fail");
    let compressed = gz.finish().expect("writing to a Vec cannot fail");
    format!(
        "u{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(compressed)
    )
}

/// Bit `index` of an `encodedList`.
pub fn status_bit(encoded: &str, index: u64) -> Result<bool> {
    let body = encoded
        .strip_prefix('u')
        .ok_or_else(|| CredentialError::StatusList("not multibase base64url".into()))?;
    let compressed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| CredentialError::StatusList("not base64url".into()))?;
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .take(STATUS_LIST_MAX_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|_| CredentialError::StatusList("not GZIP".into()))?;
    let len = bytes.len() * 8;
    let i = usize::try_from(index).unwrap_or(usize::MAX);
    if i >= len {
        return Err(CredentialError::StatusIndex { index: i, len });
    }
    Ok(bytes[i / 8] & (0x80 >> (i % 8)) != 0)
}

/// The unsigned `BitstringStatusListCredential` for revocation.
pub fn status_list_credential(
    list_url: &str,
    issuer_id: &str,
    encoded: &str,
    valid_from: &str,
) -> Value {
    json!({
        "@context": [VC_CONTEXT_V2],
        "id": list_url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_id,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": format!("{list_url}#list"),
            "type": "BitstringStatusList",
            "statusPurpose": "revocation",
            "encodedList": encoded,
        },
    })
}

/// Whether the certificate is revoked according to a verified status list credential.
pub fn revoked_in(status_list: &Value, issuer_key: &[u8; 32], entry: &StatusEntry) -> Result<bool> {
    verify_proof(status_list, issuer_key)?;
    if status_list.get("id").and_then(Value::as_str) != Some(entry.list.as_str()) {
        return Err(CredentialError::StatusList(
            "the list is not the one the certificate names".into(),
        ));
    }
    let encoded = status_list
        .pointer("/credentialSubject/encodedList")
        .and_then(Value::as_str)
        .ok_or_else(|| CredentialError::StatusList("no encodedList".into()))?;
    status_bit(encoded, entry.index)
}

// ---------------------------------------------------------------------------------------------
// Claim packs

/// Verifies a subsidy claim pack: its own proof, then every certificate inside it. Returns the
/// number of learners.
pub fn verify_claim_pack(pack: &Value, issuer_key: &[u8; 32]) -> Result<usize> {
    verify_proof(pack, issuer_key)?;
    let types = pack.get("type").and_then(Value::as_array);
    if !types.is_some_and(|t| t.contains(&json!("HearthClaimPack"))) {
        return Err(malformed("not a HearthClaimPack"));
    }
    let learners = pack
        .get("learners")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the claim pack has no learners"))?;
    for l in learners {
        for entry in l
            .get("certificates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            // `{credential, revoked}` as the service writes it, or the bare credential.
            verify_certificate(entry.get("credential").unwrap_or(entry), issuer_key)?;
        }
    }
    Ok(learners.len())
}

/// Verifies a learner's signed training record: its proof and every certificate inside it.
pub fn verify_training_record(record: &Value, issuer_key: &[u8; 32]) -> Result<()> {
    verify_proof(record, issuer_key)?;
    let types = record.get("type").and_then(Value::as_array);
    if !types.is_some_and(|t| t.contains(&json!("HearthTrainingRecord"))) {
        return Err(malformed("not a HearthTrainingRecord"));
    }
    for entry in record
        .pointer("/learner/certificates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        verify_certificate(entry.get("credential").unwrap_or(entry), issuer_key)?;
    }
    Ok(())
}
