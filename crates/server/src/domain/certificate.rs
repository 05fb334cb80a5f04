//! Certificates as signed W3C Verifiable Credentials (issue #14).
//!
//! A certificate row is issued at ingest when the credit facts say a course is complete
//! (`ingest.rs`). Its credential is built from the learner's derived record the first time it
//! is asked for, signed with the issuer key (`eddsa-jcs-2022`), and kept: the same serial always
//! answers the same bytes. Revocation sets the certificate's bit in the Bitstring Status List
//! that the service signs on request.

use hearth_protocol::credential::{
    self, CertificateFacts, ChainEvidence, ExamOutcome, ProofOptions, StatusEntry,
};
use hearth_protocol::{DeviceId, LearnerId};
use serde_json::{Value, json};

use super::{Service, ServiceError, ServiceResult, mask_national_id};
use crate::store::{Certificate, CertificateCredential};

/// Path of the revocation status list credential.
pub const STATUS_LIST_PATH: &str = "/v1/certificates/status/revocation";
/// Path of the issuer key document.
pub const ISSUER_PATH: &str = "/.well-known/hearth-issuer.json";

/// A certificate's credential and whether it is revoked.
#[derive(Clone, Debug)]
pub struct IssuedCertificate {
    pub certificate: Certificate,
    pub credential: Value,
    pub facts: CertificateFacts,
    /// (revoked at, reason).
    pub revoked: Option<(i64, String)>,
}

/// `YYYY-MM-DD` of a Unix ms time in China Standard Time (UTC+8, no daylight saving).
pub fn china_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms + 8 * 3600 * 1000)
        .map_or_else(String::new, |d| d.format("%Y-%m-%d").to_string())
}

fn utc_stamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(String::new, |d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

impl Service {
    /// The issuer's identifier: the `did:key` of the issuer key, so a credential names the key
    /// that verifies it and needs no network to resolve.
    pub fn issuer_id(&self) -> String {
        format!("did:key:{}", self.issuer_multikey())
    }

    pub fn issuer_multikey(&self) -> String {
        credential::multikey(self.keys.issuer_public().as_bytes())
    }

    fn proof_options(&self, created_ms: i64) -> ProofOptions {
        let mk = self.issuer_multikey();
        ProofOptions {
            verification_method: format!("did:key:{mk}#{mk}"),
            created: utc_stamp(created_ms),
        }
    }

    /// Signs `document` with the issuer key.
    pub fn sign_document(&self, document: Value, created_ms: i64) -> ServiceResult<Value> {
        credential::add_proof(document, &self.keys.issuer, &self.proof_options(created_ms))
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }

    pub fn status_list_url(&self) -> String {
        format!("{}{STATUS_LIST_PATH}", self.config.public_url)
    }

    /// The issuer key document published at [`ISSUER_PATH`].
    pub fn issuer_document(&self) -> Value {
        json!({
            "id": self.issuer_id(),
            "publicKeyMultibase": self.issuer_multikey(),
            "publicKeyHex": self.keys.issuer_public().to_hex(),
            "cryptosuite": credential::CRYPTOSUITE,
            "statusListCredential": self.status_list_url(),
        })
    }

    /// The facts a certificate states, from the learner's derived record now.
    fn certificate_facts(
        &self,
        cert: &Certificate,
        status_index: u64,
    ) -> ServiceResult<CertificateFacts> {
        let learner = self
            .store
            .learner(cert.learner)?
            .ok_or(ServiceError::Internal(
                "a certificate names a learner that does not exist".into(),
            ))?;
        let record = self.learner_record(&learner)?;
        let course = record.courses.iter().find(|c| c.course == cert.course);
        let catalog = self.published_courses()?;
        let manifest = catalog.latest(&cert.course).map(|v| &v.manifest);
        let exam = course.and_then(|c| {
            c.exams
                .iter()
                .filter(|e| e.status == "exam.graded")
                .max_by_key(|e| (e.passed, e.score))
                .map(|e| ExamOutcome {
                    score: e.score,
                    max_score: e.max_score,
                    passed: e.passed,
                })
        });
        let credited_ms = course.map_or(0, |c| c.credited_ms);
        let org = self.store.org(learner.org)?;
        let evidence = self.chain_evidence(learner.id)?;
        let issued = china_date(cert.issued_ms);
        let occupation_code = manifest
            .and_then(|m| m.occupation.clone())
            .unwrap_or_default();
        let occupation_name = crate::occupations::name_of(&occupation_code)
            .unwrap_or_default()
            .to_owned();
        let occupation_level = manifest.and_then(|m| m.occupation_level).unwrap_or(0);
        Ok(CertificateFacts {
            serial: cert.serial.clone(),
            name: learner.name.clone(),
            national_id_masked: mask_national_id(&learner.national_id_tail, 18),
            national_id_hash: format!("hmac-sha256:{}", hex::encode(learner.national_id_mac)),
            course: cert.course.clone(),
            project: manifest.map_or_else(|| cert.course.clone(), |m| m.title.clone()),
            occupation_code,
            occupation_name,
            occupation_level,
            hours_tenths: u32::try_from(credited_ms / 360_000).unwrap_or(u32::MAX),
            exam,
            start_date: record
                .days
                .first()
                .map_or_else(|| issued.clone(), |d| d.day.clone()),
            end_date: issued.clone(),
            issued_date: issued,
            institution: org.map_or_else(String::new, |o| o.name),
            evidence,
            status: Some(StatusEntry {
                list: self.status_list_url(),
                index: status_index,
            }),
        })
    }

    /// The heads of the receipt chains of every device `learner` studied on: the evidence the
    /// credited hours were derived from.
    pub fn chain_evidence(&self, learner: LearnerId) -> ServiceResult<Vec<ChainEvidence>> {
        let facts = self.facts_of(learner)?;
        let mut devices: Vec<DeviceId> = facts.study.pieces().iter().map(|p| p.owner).collect();
        devices.sort();
        devices.dedup();
        let mut evidence = Vec::new();
        for d in devices {
            let head = self.store.chain_state(d)?.head;
            evidence.push(ChainEvidence {
                device: d.to_string(),
                seq: head.seq,
                receipt: head.id.to_string(),
            });
        }
        Ok(evidence)
    }

    /// The certificate with its signed credential, issuing the credential on first call.
    pub fn issued_certificate(&self, serial: &str) -> ServiceResult<IssuedCertificate> {
        let cert = self
            .store
            .certificate(serial)?
            .ok_or(ServiceError::NotFound(
                "certificate.not_found",
                "no certificate has this serial number",
            ))?;
        let row = match self.store.certificate_credential(serial)? {
            Some(
                row @ CertificateCredential {
                    credential: Some(_),
                    ..
                },
            ) => row,
            _ => {
                let index = self.store.certificate_status_index(serial)?;
                let facts = self.certificate_facts(&cert, index)?;
                let vc =
                    self.sign_document(facts.to_credential(&self.issuer_id()), cert.issued_ms)?;
                self.store
                    .save_certificate_credential(serial, &vc.to_string())?;
                self.store
                    .certificate_credential(serial)?
                    .ok_or(ServiceError::Internal("the credential was not kept".into()))?
            }
        };
        let text = row.credential.unwrap_or_default();
        let credential: Value = serde_json::from_str(&text)
            .map_err(|e| ServiceError::Internal(format!("stored credential: {e}")))?;
        let facts = CertificateFacts::from_credential(&credential)
            .map_err(|e| ServiceError::Internal(format!("stored credential: {e}")))?;
        Ok(IssuedCertificate {
            certificate: cert,
            credential,
            facts,
            revoked: row.revoked,
        })
    }

    /// The certificate if `learner` may be read by the caller (checked by the caller).
    pub fn certificates_of(&self, learner: LearnerId) -> ServiceResult<Vec<IssuedCertificate>> {
        self.store
            .certificates_of_learner(learner)?
            .iter()
            .map(|c| self.issued_certificate(&c.serial))
            .collect()
    }

    /// The QR text of a certificate.
    pub fn certificate_qr(&self, issued: &IssuedCertificate) -> String {
        credential::encode_qr(&issued.facts.compact(), &self.keys.issuer)
    }

    /// Revokes a certificate with a reason. `certificate.already_revoked` when it is.
    pub fn revoke_certificate(&self, serial: &str, reason: &str) -> ServiceResult<()> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ServiceError::Invalid(
                "certificate.invalid_reason",
                "a revocation needs a reason of 1 to 500 characters".into(),
            ));
        }
        // The credential (and its status index) exists before it can be revoked.
        self.issued_certificate(serial)?;
        if !self.store.revoke_certificate(serial, reason, self.now())? {
            return Err(ServiceError::Conflict(
                "certificate.already_revoked",
                "the certificate is revoked already",
            ));
        }
        tracing::info!(serial, reason, "certificate revoked");
        Ok(())
    }

    /// The signed revocation `BitstringStatusListCredential`.
    pub fn status_list(&self) -> ServiceResult<Value> {
        let revoked = self.store.revoked_status_indices()?;
        let encoded = credential::encode_status_list(&revoked, 0);
        let now = self.now();
        let list = credential::status_list_credential(
            &self.status_list_url(),
            &self.issuer_id(),
            &encoded,
            &utc_stamp(now),
        );
        self.sign_document(list, now)
    }
}
