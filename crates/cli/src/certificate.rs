//! `hearth verify-certificate FILE|TEXT`: checks a certificate offline, given the issuer key the
//! service publishes (`/.well-known/hearth-issuer.json`, `publicKeyMultibase`). Accepts the
//! credential JSON, the QR code's text (`HC1:…`), or the certificate PDF (the credential is
//! embedded in it as `certificate.json`). With `--status-list FILE` (the signed list from
//! `/v1/certificates/status/revocation`, saved earlier) it also reports revocation.

use std::path::Path;

use hearth_core::certificates::{self, CertificateCheck, CheckStatus};
use hearth_protocol::credential::{self, CertificateFacts, CompactCertificate, CredentialError};
use serde_json::{Value, json};

/// A refusal with its stable code.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Refused {
    pub code: String,
    pub message: String,
}

impl From<CredentialError> for Refused {
    fn from(e: CredentialError) -> Self {
        Refused {
            code: e.code().into(),
            message: e.to_string(),
        }
    }
}

fn refused(code: &str, message: impl Into<String>) -> Refused {
    Refused {
        code: code.into(),
        message: message.into(),
    }
}

/// What was checked and what it says.
#[derive(Debug)]
pub enum Checked {
    Credential(Box<CertificateFacts>),
    Qr(Box<CompactCertificate>),
}

/// The signed credential embedded in a certificate PDF.
pub fn credential_in_pdf(pdf: &[u8]) -> Result<Value, Refused> {
    certificates::credential_in_pdf(pdf).map_err(|e| refused(e.code(), e.to_string()))
}

/// One word for a check's verdict, with its reason.
pub fn status_word(c: &CertificateCheck) -> String {
    match (c.status, &c.code, &c.reason) {
        (CheckStatus::Valid, _, _) if c.revocation_checked => "valid, not revoked".into(),
        (CheckStatus::Valid, _, _) => "valid (revocation not checked)".into(),
        (s, code, reason) => format!(
            "{} [{}] {}",
            format!("{s:?}").to_lowercase(),
            code.as_deref().unwrap_or(""),
            reason.as_deref().unwrap_or("")
        ),
    }
}

/// Checks `input` (a file or the text itself) under `key`.
pub fn check(input: &str, key: &str, status_list: Option<&Path>) -> Result<Checked, Refused> {
    let key = credential::parse_issuer_key(key)?;
    let path = Path::new(input);
    let bytes = if path.is_file() {
        std::fs::read(path)
            .map_err(|e| refused("certificate.read", format!("reading {input}: {e}")))?
    } else {
        input.as_bytes().to_vec()
    };
    let trimmed = String::from_utf8_lossy(&bytes[..bytes.len().min(8)]).to_string();
    if trimmed.trim_start().starts_with(credential::QR_PREFIX) {
        let text = String::from_utf8(bytes)
            .map_err(|_| refused("credential.qr_encoding", "the QR text is not UTF-8"))?;
        return Ok(Checked::Qr(Box::new(credential::decode_qr(&text, &key)?)));
    }
    let vc = if bytes.starts_with(b"%PDF-") {
        credential_in_pdf(&bytes)?
    } else {
        serde_json::from_slice(&bytes).map_err(|e| {
            refused(
                "credential.malformed",
                format!(
                    "neither a file, QR text ({}…) nor credential JSON: {e}",
                    credential::QR_PREFIX
                ),
            )
        })?
    };
    let facts = credential::verify_certificate(&vc, &key)?;
    if let Some(list) = status_list {
        let entry = facts.status.as_ref().ok_or_else(|| {
            refused(
                "credential.status_list",
                "the certificate names no status list",
            )
        })?;
        let text = std::fs::read(list).map_err(|e| {
            refused(
                "certificate.read",
                format!("reading {}: {e}", list.display()),
            )
        })?;
        let list: Value = serde_json::from_slice(&text)
            .map_err(|e| refused("credential.status_list", format!("not JSON: {e}")))?;
        if credential::revoked_in(&list, &key, entry)? {
            return Err(refused(
                "credential.revoked",
                format!("certificate {} is revoked by its issuer", facts.serial),
            ));
        }
    }
    Ok(Checked::Credential(Box::new(facts)))
}

/// The report as JSON.
pub fn report_json(c: &Checked) -> Value {
    match c {
        Checked::Credential(f) => json!({"valid": true, "form": "credential", "certificate": f}),
        Checked::Qr(q) => json!({"valid": true, "form": "qr", "certificate": q}),
    }
}

/// The report for people.
pub fn report_text(c: &Checked) -> String {
    let (serial, name, id, project, hours, issued, institution) = match c {
        Checked::Credential(f) => (
            f.serial.clone(),
            f.name.clone(),
            f.national_id_masked.clone(),
            f.project.clone(),
            f.hours_tenths,
            f.issued_date.clone(),
            f.institution.clone(),
        ),
        Checked::Qr(q) => (
            q.serial.clone(),
            q.name.clone(),
            q.national_id_masked.clone(),
            q.project.clone(),
            q.hours_tenths,
            credential::date_label(q.issued_date),
            q.institution.clone(),
        ),
    };
    format!(
        "valid: 培训合格证明 {serial}\n姓名      {name}\n身份证号  {id}\n培训项目  {project}\n培训学时  {}.{}\n培训机构  {institution}\n发证日期  {issued}",
        hours / 10,
        hours % 10
    )
}
