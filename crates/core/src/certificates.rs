//! The learner's certificates and training record on this PC (issue #14): fetched from the
//! service for the learner at the keyboard, verified under the service's published issuer key,
//! kept in the data folder so they can be shown, saved and checked offline later, and saved to
//! a path the user chooses. Also checks any certificate file (PDF, QR text or credential JSON).
//!
//! Data folder layout (every file written durably: temporary file, fsync, rename):
//!
//! ```text
//! DATA_DIR/certificates/issuer.json        the issuer key, fetched once from the service
//! DATA_DIR/certificates/status-list.json   the signed revocation list as last fetched
//! DATA_DIR/certificates/SERIAL.json        a certificate's signed credential
//! DATA_DIR/certificates/SERIAL.pdf         its printable PDF (the credential embedded)
//! DATA_DIR/records/LEARNER.json, .pdf      a learner's signed training record
//! ```
//!
//! Nothing here holds the store across a network wait: the transfers take the data folder's
//! path and the enrollment, not [`Hearth`].

use std::path::{Path, PathBuf};

use hearth_protocol::LearnerId;
use hearth_protocol::credential::{
    self, CertificateFacts, CompactCertificate, CredentialError, StatusEntry,
};
use serde::Serialize;
use serde_json::Value;

pub use crate::error::CertificateError;
use crate::sync::SyncError;
use crate::sync::http::HttpTransport;
use crate::{CoreError, Hearth, Result};

/// The largest certificate file read for checking (a certificate PDF is about 40 KB).
pub const MAX_CERTIFICATE_FILE: u64 = 16 * 1024 * 1024;

/// One certificate of the learner at the keyboard, as the pulled record lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateItem {
    pub serial: String,
    pub course: String,
    pub issued_ms: i64,
    /// The credential and PDF are kept on this PC (shown and saved offline).
    pub saved: bool,
}

/// What a certificate states, flattened from the credential or the QR form for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSummary {
    pub serial: String,
    pub name: String,
    pub national_id_masked: String,
    pub project: String,
    pub occupation_code: String,
    /// Empty in the QR form (it carries the code only).
    pub occupation_name: String,
    pub occupation_level: u8,
    /// Credited hours × 10.
    pub hours_tenths: u32,
    pub exam_score: Option<u32>,
    pub exam_max_score: Option<u32>,
    pub exam_passed: Option<bool>,
    pub start_date: String,
    pub end_date: String,
    pub issued_date: String,
    pub institution: String,
}

impl From<&CertificateFacts> for CertificateSummary {
    fn from(f: &CertificateFacts) -> Self {
        Self {
            serial: f.serial.clone(),
            name: f.name.clone(),
            national_id_masked: f.national_id_masked.clone(),
            project: f.project.clone(),
            occupation_code: f.occupation_code.clone(),
            occupation_name: f.occupation_name.clone(),
            occupation_level: f.occupation_level,
            hours_tenths: f.hours_tenths,
            exam_score: f.exam.as_ref().map(|e| e.score),
            exam_max_score: f.exam.as_ref().map(|e| e.max_score),
            exam_passed: f.exam.as_ref().map(|e| e.passed),
            start_date: f.start_date.clone(),
            end_date: f.end_date.clone(),
            issued_date: f.issued_date.clone(),
            institution: f.institution.clone(),
        }
    }
}

impl From<&CompactCertificate> for CertificateSummary {
    fn from(q: &CompactCertificate) -> Self {
        Self {
            serial: q.serial.clone(),
            name: q.name.clone(),
            national_id_masked: q.national_id_masked.clone(),
            project: q.project.clone(),
            occupation_code: q.occupation_code.clone(),
            occupation_name: String::new(),
            occupation_level: q.occupation_level,
            hours_tenths: q.hours_tenths,
            exam_score: q.exam.map(|e| e.0),
            exam_max_score: q.exam.map(|e| e.1),
            exam_passed: q.exam.map(|e| e.2),
            start_date: credential::date_label(q.start_date),
            end_date: credential::date_label(q.end_date),
            issued_date: credential::date_label(q.issued_date),
            institution: q.institution.clone(),
        }
    }
}

/// The verdict on a certificate file or text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Signed by the issuer, unchanged, and not revoked in the list this PC holds.
    Valid,
    /// A certificate whose signature or content does not check: something was changed, or
    /// another issuer signed it.
    Tampered,
    /// Genuine, but revoked by its issuer.
    Revoked,
    /// Not a certificate at all (not a Hearth PDF, QR text or credential).
    Unreadable,
}

/// What checking a certificate found, with the reason's stable code and text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateCheck {
    pub status: CheckStatus,
    /// `None` when valid; otherwise why (`credential.bad_signature`, `credential.revoked`, …).
    pub code: Option<String>,
    pub reason: Option<String>,
    /// `credential` (JSON or a PDF's embedded credential) or `qr`.
    pub form: Option<&'static str>,
    pub certificate: Option<CertificateSummary>,
    /// Whether a status list was at hand to look for revocation.
    pub revocation_checked: bool,
}

impl CertificateCheck {
    fn refused(status: CheckStatus, code: &str, reason: String) -> Self {
        Self {
            status,
            code: Some(code.to_owned()),
            reason: Some(reason),
            form: None,
            certificate: None,
            revocation_checked: false,
        }
    }

    fn from_credential_error(e: &CredentialError) -> Self {
        let status = match e {
            CredentialError::Malformed(_) | CredentialError::QrPrefix => CheckStatus::Unreadable,
            _ => CheckStatus::Tampered,
        };
        Self::refused(status, e.code(), e.to_string())
    }
}

/// The signed credential embedded in a certificate PDF (as `certificate.json`, uncompressed).
pub fn credential_in_pdf(pdf: &[u8]) -> std::result::Result<Value, CertificateError> {
    let needle = b"{\"@context\"";
    let at = pdf
        .windows(needle.len())
        .position(|w| w == needle)
        .ok_or(CertificateError::NoCredential)?;
    serde_json::Deserializer::from_slice(&pdf[at..])
        .into_iter::<Value>()
        .next()
        .and_then(std::result::Result::ok)
        .ok_or(CertificateError::NoCredential)
}

/// Checks a certificate given as bytes (a PDF, QR text `HC1:…` or credential JSON) under the
/// issuer key, and against the signed status list when one is given. Pure: no I/O.
/// `credential_of` finds a kept credential by serial, so a QR text (which carries no status
/// entry) is checked for revocation when its certificate is known.
pub fn check_certificate(
    bytes: &[u8],
    issuer_key: &[u8; 32],
    status_list: Option<&Value>,
    credential_of: impl Fn(&str) -> Option<Value>,
) -> CertificateCheck {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(16)]).to_string();
    let (form, summary, entry) = if text.trim_start().starts_with(credential::QR_PREFIX) {
        let Ok(text) = std::str::from_utf8(bytes) else {
            let e = CredentialError::QrEncoding;
            return CertificateCheck::from_credential_error(&e);
        };
        match credential::decode_qr(text, issuer_key) {
            Ok(q) => {
                let entry = credential_of(&q.serial)
                    .and_then(|vc| credential::verify_certificate(&vc, issuer_key).ok())
                    .filter(|f| f.serial == q.serial)
                    .and_then(|f| f.status);
                ("qr", CertificateSummary::from(&q), entry)
            }
            Err(e) => return CertificateCheck::from_credential_error(&e),
        }
    } else {
        let vc = if bytes.starts_with(b"%PDF-") {
            match credential_in_pdf(bytes) {
                Ok(vc) => vc,
                Err(e) => {
                    return CertificateCheck::refused(
                        CheckStatus::Unreadable,
                        e.code(),
                        e.to_string(),
                    );
                }
            }
        } else {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(vc) => vc,
                Err(e) => {
                    return CertificateCheck::refused(
                        CheckStatus::Unreadable,
                        "credential.malformed",
                        format!(
                            "neither a certificate PDF, QR text ({}…) nor credential JSON: {e}",
                            credential::QR_PREFIX
                        ),
                    );
                }
            }
        };
        match credential::verify_certificate(&vc, issuer_key) {
            Ok(f) => ("credential", CertificateSummary::from(&f), f.status),
            Err(e) => return CertificateCheck::from_credential_error(&e),
        }
    };
    let mut check = CertificateCheck {
        status: CheckStatus::Valid,
        code: None,
        reason: None,
        form: Some(form),
        certificate: Some(summary),
        revocation_checked: false,
    };
    if let (Some(list), Some(entry)) = (status_list, entry.as_ref()) {
        match revoked(list, issuer_key, entry) {
            Ok(false) => check.revocation_checked = true,
            Ok(true) => {
                check.revocation_checked = true;
                check.status = CheckStatus::Revoked;
                let serial = check.certificate.as_ref().map(|c| c.serial.clone());
                let e = CertificateError::Revoked(serial.unwrap_or_default());
                check.code = Some(e.code().to_owned());
                check.reason = Some(e.to_string());
            }
            // A list that does not verify says nothing about this certificate.
            Err(e) => {
                tracing::warn!(error = %e, "the kept status list does not verify; revocation not checked");
            }
        }
    }
    check
}

fn revoked(
    list: &Value,
    key: &[u8; 32],
    entry: &StatusEntry,
) -> std::result::Result<bool, CredentialError> {
    credential::revoked_in(list, key, entry)
}

fn check_serial(serial: &str) -> std::result::Result<(), CertificateError> {
    if serial.is_empty()
        || serial.len() > 64
        || !serial
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(CertificateError::InvalidSerial);
    }
    Ok(())
}

/// The certificate files of a data folder. Cheap to make; holds no store.
#[derive(Clone, Debug)]
pub struct CertificateFolder {
    dir: PathBuf,
    records: PathBuf,
}

impl CertificateFolder {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("certificates"),
            records: data_dir.join("records"),
        }
    }

    fn ensure(dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(CoreError::io(format!("creating {}", dir.display())))
    }

    fn read(path: &Path) -> Result<Option<Vec<u8>>> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CoreError::io(format!("reading {}", path.display()))(e)),
        }
    }

    fn read_json(path: &Path) -> Result<Option<Value>> {
        Ok(Self::read(path)?.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    pub fn pdf_path(&self, serial: &str) -> PathBuf {
        self.dir.join(format!("{serial}.pdf"))
    }

    fn json_path(&self, serial: &str) -> PathBuf {
        self.dir.join(format!("{serial}.json"))
    }

    /// The issuer key kept from the service, if it was fetched.
    pub fn issuer_key(&self) -> Result<Option<[u8; 32]>> {
        Ok(Self::read_json(&self.dir.join("issuer.json"))?
            .and_then(|d| {
                d.get("publicKeyMultibase")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .and_then(|k| credential::public_of_multikey(&k).ok()))
    }

    fn keep_issuer(&self, doc: &Value) -> Result<[u8; 32]> {
        let key = doc
            .get("publicKeyMultibase")
            .and_then(Value::as_str)
            .ok_or(CertificateError::BadFromService(CredentialError::Key))
            .and_then(|k| {
                credential::public_of_multikey(k).map_err(CertificateError::BadFromService)
            })?;
        Self::ensure(&self.dir)?;
        let kept = serde_json::json!({ "publicKeyMultibase": credential::multikey(&key) });
        crate::write_durably(&self.dir.join("issuer.json"), kept.to_string().as_bytes())?;
        Ok(key)
    }

    /// The signed status list as last fetched.
    pub fn status_list(&self) -> Result<Option<Value>> {
        Self::read_json(&self.dir.join("status-list.json"))
    }

    /// Whether the credential and PDF of `serial` are kept here.
    pub fn is_saved(&self, serial: &str) -> bool {
        self.pdf_path(serial).is_file() && self.json_path(serial).is_file()
    }

    /// The kept credential of `serial`.
    pub fn credential(&self, serial: &str) -> Result<Option<Value>> {
        if check_serial(serial).is_err() {
            return Ok(None);
        }
        Self::read_json(&self.json_path(serial))
    }

    /// Checks the kept copy of `serial` (its PDF, which embeds the credential) offline.
    pub fn check_saved(&self, serial: &str) -> Result<CertificateCheck> {
        check_serial(serial)?;
        let pdf = Self::read(&self.pdf_path(serial))?
            .ok_or_else(|| CertificateError::NotSaved(serial.to_owned()))?;
        self.check_bytes(&pdf)
    }

    /// Checks any certificate bytes under the kept issuer key and status list, offline.
    pub fn check_bytes(&self, bytes: &[u8]) -> Result<CertificateCheck> {
        let key = self.issuer_key()?.ok_or(CertificateError::NoIssuerKey)?;
        let list = self.status_list()?;
        Ok(check_certificate(bytes, &key, list.as_ref(), |s| {
            self.credential(s).ok().flatten()
        }))
    }

    /// Checks a certificate file (a PDF or a JSON or text file), or, when `input` names no
    /// file, the text itself (QR text or JSON).
    pub fn check_input(&self, input: &str) -> Result<CertificateCheck> {
        let path = Path::new(input.trim());
        let bytes = if !input.trim().is_empty() && path.is_file() {
            let len = std::fs::metadata(path)
                .map_err(CoreError::io(format!("reading {}", path.display())))?
                .len();
            if len > MAX_CERTIFICATE_FILE {
                return Err(CertificateError::TooLarge(len).into());
            }
            std::fs::read(path).map_err(CoreError::io(format!("reading {}", path.display())))?
        } else {
            input.trim().as_bytes().to_vec()
        };
        self.check_bytes(&bytes)
    }

    /// Copies the kept PDF of `serial` to `to` (durably: a removed USB stick leaves no half
    /// file under the name).
    pub fn save_pdf(&self, serial: &str, to: &Path) -> Result<()> {
        self.save(serial, &self.pdf_path(serial), to)
    }

    /// Copies the kept credential JSON of `serial` to `to`.
    pub fn save_json(&self, serial: &str, to: &Path) -> Result<()> {
        self.save(serial, &self.json_path(serial), to)
    }

    fn save(&self, serial: &str, from: &Path, to: &Path) -> Result<()> {
        check_serial(serial)?;
        let bytes =
            Self::read(from)?.ok_or_else(|| CertificateError::NotSaved(serial.to_owned()))?;
        save_to(to, &bytes)
    }

    fn record_path(&self, learner: LearnerId, ext: &str) -> PathBuf {
        self.records.join(format!("{learner}.{ext}"))
    }

    /// Copies the kept training record of `learner` (JSON and/or PDF) to the chosen paths.
    pub fn save_record(
        &self,
        learner: LearnerId,
        json: Option<&Path>,
        pdf: Option<&Path>,
    ) -> Result<()> {
        for (to, ext) in [(json, "json"), (pdf, "pdf")] {
            if let Some(to) = to {
                let bytes = Self::read(&self.record_path(learner, ext))?
                    .ok_or_else(|| CertificateError::NotSaved(format!("training-record {ext}")))?;
                save_to(to, &bytes)?;
            }
        }
        Ok(())
    }

    /// Whether the training record of `learner` is kept here.
    pub fn record_saved(&self, learner: LearnerId) -> bool {
        self.record_path(learner, "json").is_file() && self.record_path(learner, "pdf").is_file()
    }
}

/// Writes `bytes` to a path the user chose, refusing an empty path.
fn save_to(to: &Path, bytes: &[u8]) -> Result<()> {
    if to.as_os_str().is_empty() {
        return Err(CoreError::InvalidInput(
            "choose a file to save to".to_owned(),
        ));
    }
    crate::write_durably(to, bytes)
}

fn service_refused(e: CertificateError) -> SyncError {
    SyncError::Core(e.into())
}

/// The issuer key: the one kept, or fetched from the service once and kept (it is the
/// enrolled service's, reached over the enrolled connection).
pub async fn issuer_key(
    folder: &CertificateFolder,
    transport: &HttpTransport,
) -> std::result::Result<[u8; 32], SyncError> {
    if let Some(k) = folder.issuer_key()? {
        return Ok(k);
    }
    let doc = transport.issuer_document().await?;
    Ok(folder.keep_issuer(&doc)?)
}

/// Fetches the credential and the PDF of `serial` (a certificate of the learner at the
/// keyboard: see [`Hearth::certificate_to_fetch`]), and the status list; verifies the
/// credential and the PDF's embedded copy under the issuer key; keeps all three. Returns the
/// check of the kept PDF. Nothing is kept unless everything verified.
pub async fn download(
    folder: &CertificateFolder,
    transport: &HttpTransport,
    serial: &str,
) -> std::result::Result<CertificateCheck, SyncError> {
    check_serial(serial).map_err(service_refused)?;
    let key = issuer_key(folder, transport).await?;
    let vc = transport.certificate(serial).await?;
    let facts = credential::verify_certificate(&vc, &key)
        .map_err(|e| service_refused(CertificateError::BadFromService(e)))?;
    if facts.serial != serial {
        return Err(service_refused(CertificateError::BadFromService(
            CredentialError::Malformed(format!("asked for {serial}, got {}", facts.serial)),
        )));
    }
    let pdf = transport.certificate_pdf(serial).await?;
    let embedded = credential_in_pdf(&pdf).map_err(service_refused)?;
    if embedded != vc {
        return Err(service_refused(CertificateError::BadFromService(
            CredentialError::Malformed("the PDF embeds another credential".into()),
        )));
    }
    // The status list is a nicety: without it the certificate is kept, revocation unchecked.
    match transport.status_list().await {
        Ok(list) if credential::verify_proof(&list, &key).is_ok() => {
            CertificateFolder::ensure(&folder.dir)?;
            crate::write_durably(
                &folder.dir.join("status-list.json"),
                list.to_string().as_bytes(),
            )?;
        }
        Ok(_) => tracing::warn!("the service's status list does not verify; not kept"),
        Err(e) => tracing::warn!(error = %e, "could not fetch the status list"),
    }
    CertificateFolder::ensure(&folder.dir)?;
    crate::write_durably(&folder.json_path(serial), vc.to_string().as_bytes())?;
    crate::write_durably(&folder.pdf_path(serial), &pdf)?;
    Ok(folder.check_saved(serial)?)
}

/// Fetches the signed training record of `learner` (JSON and PDF), verifies the JSON under the
/// issuer key, and keeps both.
pub async fn download_record(
    folder: &CertificateFolder,
    transport: &HttpTransport,
    learner: LearnerId,
) -> std::result::Result<(), SyncError> {
    let key = issuer_key(folder, transport).await?;
    let record = transport.training_record(learner).await?;
    credential::verify_training_record(&record, &key)
        .map_err(|e| service_refused(CertificateError::BadFromService(e)))?;
    let pdf = transport.training_record_pdf(learner).await?;
    if !pdf.starts_with(b"%PDF-") {
        return Err(service_refused(CertificateError::BadFromService(
            CredentialError::Malformed("the training record PDF is not a PDF".into()),
        )));
    }
    CertificateFolder::ensure(&folder.records)?;
    crate::write_durably(
        &folder.record_path(learner, "json"),
        record.to_string().as_bytes(),
    )?;
    crate::write_durably(&folder.record_path(learner, "pdf"), &pdf)?;
    Ok(())
}

impl Hearth {
    /// The certificate files of this data folder.
    pub fn certificate_folder(&self) -> CertificateFolder {
        CertificateFolder::new(self.data_dir())
    }

    /// The certificates of the learner at the keyboard, from the record last pulled (so the
    /// list shows offline), each with whether its files are kept on this PC.
    pub fn certificates(&self) -> Result<Vec<CertificateItem>> {
        let learner = self.require_at_keyboard()?;
        let folder = self.certificate_folder();
        Ok(self
            .learner_record(learner)?
            .map(|r| r.certificates)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.learner_id == learner)
            .map(|c| CertificateItem {
                saved: folder.is_saved(&c.serial),
                serial: c.serial,
                course: c.course,
                issued_ms: c.issued_ms,
            })
            .collect())
    }

    /// Checks that `serial` is a certificate of the learner at the keyboard (a shared kiosk
    /// may read every learner of its organisation; this PC fetches only the one studying) and
    /// returns what a download needs: the folder and the enrolled connection.
    pub fn certificate_to_fetch(&self, serial: &str) -> Result<(CertificateFolder, HttpTransport)> {
        check_serial(serial)?;
        if !self.certificates()?.iter().any(|c| c.serial == serial) {
            return Err(CertificateError::NotInRecord(serial.to_owned()).into());
        }
        self.certificate_transport()
    }

    /// The learner at the keyboard and what downloading their training record needs.
    pub fn record_to_fetch(&self) -> Result<(LearnerId, CertificateFolder, HttpTransport)> {
        let learner = self.require_at_keyboard()?;
        let (folder, transport) = self.certificate_transport()?;
        Ok((learner, folder, transport))
    }

    fn certificate_transport(&self) -> Result<(CertificateFolder, HttpTransport)> {
        let enrollment = self.enrollment()?.ok_or(CoreError::ContentNotEnrolled)?;
        let transport = HttpTransport::new(&enrollment)
            .map_err(|e| CoreError::ContentNetwork(e.to_string()))?;
        Ok((self.certificate_folder(), transport))
    }
}
