//! The sync transport over HTTP (reqwest, rustls on ring). Wire messages from
//! `hearth_protocol::wire` are converted into the engine's domain types here and nowhere else.

use std::time::Duration;

use hearth_protocol::wire::{
    self, AnchorJson, BATCH_CONTENT_TYPE, EnrollRequest, EnrollResponse, LearnerRecord,
    ReceiptStatus, SyncState, UploadResponse,
};
use hearth_protocol::{
    ClassId, CourseId, DeviceId, ErrorBody, ExamId, LearnerId, LessonId, PublicKey, TimeAnchor,
};
use serde::de::DeserializeOwned;

use super::Roster;
use super::{ReceiptOutcome, SyncTransport, TransportError, UploadOutcome};
use crate::{Assignment, Enrollment, RosterClasses, RosterPerson};

/// The most assignments one pull keeps (a class gets a handful a week).
pub const MAX_ASSIGNMENTS: usize = 10_000;

fn assignments_from_wire(
    list: Vec<wire::AssignmentJson>,
) -> Result<Vec<Assignment>, TransportError> {
    if list.len() > MAX_ASSIGNMENTS {
        return Err(TransportError::Malformed(format!(
            "{} assignments (at most {MAX_ASSIGNMENTS})",
            list.len()
        )));
    }
    let bad = |what: &str| TransportError::Malformed(format!("assignment with a bad {what}"));
    list.into_iter()
        .map(|a| {
            CourseId::new(&a.course).map_err(|_| bad("course"))?;
            if let Some(l) = &a.lesson {
                LessonId::new(l).map_err(|_| bad("lesson"))?;
            }
            if let Some(e) = &a.exam {
                ExamId::new(e).map_err(|_| bad("exam"))?;
            }
            let id = uuid::Uuid::parse_str(&a.id).map_err(|_| bad("id"))?;
            let class = uuid::Uuid::parse_str(&a.class_id).map_err(|_| bad("class"))?;
            Ok(Assignment {
                id: id.to_string(),
                class_id: class.to_string(),
                course: a.course,
                lesson: a.lesson,
                exam: a.exam,
                due_ms: a.due_ms,
                created_ms: a.created_ms,
            })
        })
        .collect()
}

/// The largest PDF the device accepts from the service (a certificate is about 40 KB, a long
/// training record a few hundred).
pub const MAX_PDF: usize = 32 * 1024 * 1024;

/// zstd level for uploads: receipts compress well at low levels, and cheap laptops pay for more.
const ZSTD_LEVEL: i32 = 3;

fn client() -> Result<reqwest::Client, TransportError> {
    // Installing the ring provider fails only if one is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .read_timeout(Duration::from_secs(60))
        // The service closes a connection idle for 10 s (docs/api.md, "Limits"): drop ours
        // sooner, so a request never goes out on a connection the service is closing.
        .pool_idle_timeout(Duration::from_secs(5))
        .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| TransportError::Unreachable(e.to_string()))
}

fn url(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// A failed request, told apart as the round needs it: no connection at all (offline), the
/// client's own timeout (a slow link), or a connection that broke off (a reset, a cut).
fn unreachable(e: reqwest::Error) -> TransportError {
    let (timeout, connect) = (e.is_timeout(), e.is_connect());
    let source = std::error::Error::source(&e).map(ToString::to_string);
    let text = e.without_url().to_string();
    let text = match source {
        Some(s) if !text.contains(&s) => format!("{text}: {s}"),
        _ => text,
    };
    if timeout {
        TransportError::TimedOut(text)
    } else if connect {
        TransportError::Unreachable(text)
    } else {
        TransportError::Interrupted(text)
    }
}

async fn answer<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, TransportError> {
    let status = resp.status();
    let bytes = resp.bytes().await.map_err(unreachable)?;
    if status == reqwest::StatusCode::REQUEST_TIMEOUT {
        // The service stopped waiting for the request (its body came too slowly); the answer
        // may have no body at all.
        return Err(TransportError::TimedOut(
            "the service answered 408: the request took longer than it waits".into(),
        ));
    }
    if !status.is_success() {
        let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| {
            ErrorBody::new(
                "http.error",
                format!("the service answered {}", status.as_u16()),
            )
        });
        return Err(TransportError::Service {
            status: status.as_u16(),
            body,
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| TransportError::Malformed(e.to_string()))
}

fn anchor(a: &AnchorJson) -> Result<TimeAnchor, TransportError> {
    a.to_anchor()
        .ok_or_else(|| TransportError::Malformed("time anchor signature".into()))
}

/// What enrollment gives the device, converted from the wire. Keep it all with
/// [`crate::Hearth::apply_enroll_answer`].
#[derive(Clone, Debug)]
pub struct EnrollAnswer {
    pub enrollment: Enrollment,
    pub roster: Vec<RosterPerson>,
    /// The classes of the roster's people.
    pub classes: Vec<RosterClasses>,
    pub anchor: TimeAnchor,
}

/// The most classes one roster person may name (a trainer runs a few).
pub const MAX_CLASSES_PER_PERSON: usize = 1_000;

/// Converts the roster from the wire, checked like any untrusted input.
fn roster_from_wire(list: Vec<wire::RosterEntry>) -> Result<Roster, TransportError> {
    let mut people = Vec::with_capacity(list.len());
    let mut classes = Vec::new();
    for p in list {
        if !matches!(p.role.as_str(), "learner" | "trainer") {
            return Err(TransportError::Malformed(format!(
                "unknown role {:?} in the roster",
                p.role
            )));
        }
        if p.classes.len() > MAX_CLASSES_PER_PERSON {
            return Err(TransportError::Malformed(format!(
                "{} classes for one person (at most {MAX_CLASSES_PER_PERSON})",
                p.classes.len()
            )));
        }
        if !p.classes.is_empty() {
            classes.push(RosterClasses {
                person: p.learner_id,
                classes: p.classes,
            });
        }
        people.push(RosterPerson {
            id: p.learner_id,
            name: p.name,
            role: p.role,
            pin_hash: p.pin_hash,
            card: p.card,
        });
    }
    Ok(Roster {
        people,
        classes: Some(classes),
    })
}

/// `POST /v1/enroll`: trades a one-time code and the device key for a credential.
pub async fn enroll(
    service_url: &str,
    code: &str,
    public_key: PublicKey,
    label: Option<String>,
    now_ms: i64,
) -> Result<EnrollAnswer, TransportError> {
    let request = EnrollRequest {
        code: code.to_owned(),
        public_key,
        device_id: DeviceId::for_key(&public_key),
        label,
    };
    let resp = client()?
        .post(url(service_url, "/v1/enroll"))
        .json(&request)
        .send()
        .await
        .map_err(unreachable)?;
    let e: EnrollResponse = answer(resp).await?;
    if e.device_id != request.device_id {
        return Err(TransportError::Malformed(
            "the service enrolled another device id".into(),
        ));
    }
    let roster = roster_from_wire(e.roster)?;
    Ok(EnrollAnswer {
        anchor: anchor(&e.anchor)?,
        roster: roster.people,
        classes: roster.classes.unwrap_or_default(),
        enrollment: Enrollment {
            service_url: service_url.trim_end_matches('/').to_owned(),
            credential: e.credential,
            credential_expires_ms: e.credential_expires_ms,
            org_id: e.org.id,
            org_name: e.org.name,
            owner: e.learner_id,
            anchor_key: e.anchor_key,
            publisher_keys: e.publisher_keys,
            enrolled_ms: now_ms,
        },
    })
}

/// The enrolled device's connection to its service.
#[derive(Clone, Debug)]
pub struct HttpTransport {
    client: reqwest::Client,
    base: String,
    credential: String,
    /// The catalog is fetched as the content downloads do (conditional, same checks).
    content: crate::content::HttpSource,
    /// The classroom tag of the last sync state fetched (shared by clones).
    classroom_tag: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// The acknowledged head of the last sync state fetched (shared by clones).
    acked_head: std::sync::Arc<std::sync::Mutex<Option<hearth_protocol::ChainHead>>>,
}

impl HttpTransport {
    pub fn new(enrollment: &Enrollment) -> Result<Self, TransportError> {
        Ok(Self {
            client: client()?,
            base: enrollment.service_url.clone(),
            credential: enrollment.credential.clone(),
            classroom_tag: Default::default(),
            acked_head: Default::default(),
            content: crate::content::HttpSource::new(enrollment)
                .map_err(|e| TransportError::Unreachable(e.to_string()))?,
        })
    }

    /// `POST /v1/sync/bundle`: hands the service a receipt bundle carried from other devices
    /// (this device acting as a relay). The answer says, per device, what was stored.
    pub async fn relay(&self, bundle: &[u8]) -> Result<wire::BundleResponse, TransportError> {
        let body = zstd::bulk::compress(bundle, ZSTD_LEVEL)
            .map_err(|e| TransportError::Malformed(e.to_string()))?;
        let resp = self
            .client
            .post(url(&self.base, "/v1/sync/bundle"))
            .bearer_auth(&self.credential)
            .header(reqwest::header::CONTENT_TYPE, wire::BUNDLE_CONTENT_TYPE)
            .header(reqwest::header::CONTENT_ENCODING, "zstd")
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        answer(resp).await
    }

    /// `GET /v1/learners/{id}/record`: a learner's derived record (credit, results,
    /// certificates); a device may read the learners of its organisation (a personal device
    /// only its own).
    pub async fn record(&self, learner: LearnerId) -> Result<LearnerRecord, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, &format!("/v1/learners/{learner}/record")))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        answer(resp).await
    }

    /// `GET /v1/classes/{id}/progress`: a class's learners with their records and the trainer's
    /// attestations, across every device (as far as each has synced). A kiosk may read the
    /// classes of its organisation; a personal device may not.
    pub async fn class_progress(
        &self,
        class: ClassId,
    ) -> Result<wire::ClassProgress, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, &format!("/v1/classes/{class}/progress")))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        answer(resp).await
    }

    /// `GET path` with the device's credential.
    async fn get(&self, path: &str) -> Result<reqwest::Response, TransportError> {
        self.client
            .get(url(&self.base, path))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, TransportError> {
        answer(self.get(path).await?).await
    }

    /// A binary answer (a PDF) of at most `limit` bytes.
    async fn get_bytes(&self, path: &str, limit: usize) -> Result<Vec<u8>, TransportError> {
        let resp = self.get(path).await?;
        let status = resp.status();
        if !status.is_success() {
            // `answer` reads a refusal's `{code, message}`.
            return Err(match answer::<serde_json::Value>(resp).await {
                Err(e) => e,
                Ok(_) => TransportError::Malformed(format!("the service answered {status}")),
            });
        }
        let too_large =
            || TransportError::Malformed(format!("an answer of more than {limit} bytes"));
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_large());
        }
        let bytes = resp.bytes().await.map_err(unreachable)?;
        if bytes.len() > limit {
            return Err(too_large());
        }
        Ok(bytes.to_vec())
    }

    /// `GET /.well-known/hearth-issuer.json`: the key that verifies certificates.
    pub async fn issuer_document(&self) -> Result<serde_json::Value, TransportError> {
        self.get_json("/.well-known/hearth-issuer.json").await
    }

    /// `GET /v1/certificates/{serial}`: the signed credential (a personal device may read its
    /// own learner's, a kiosk its organisation's).
    pub async fn certificate(&self, serial: &str) -> Result<serde_json::Value, TransportError> {
        self.get_json(&format!("/v1/certificates/{serial}")).await
    }

    /// `GET /v1/certificates/{serial}/pdf`: the printable certificate.
    pub async fn certificate_pdf(&self, serial: &str) -> Result<Vec<u8>, TransportError> {
        self.get_bytes(&format!("/v1/certificates/{serial}/pdf"), MAX_PDF)
            .await
    }

    /// `GET /v1/certificates/status/revocation`: the signed revocation list.
    pub async fn status_list(&self) -> Result<serde_json::Value, TransportError> {
        self.get_json("/v1/certificates/status/revocation").await
    }

    /// `GET /v1/learners/{id}/training-record`: the signed training record (JSON).
    pub async fn training_record(
        &self,
        learner: LearnerId,
    ) -> Result<serde_json::Value, TransportError> {
        self.get_json(&format!("/v1/learners/{learner}/training-record"))
            .await
    }

    /// `GET /v1/learners/{id}/training-record/pdf`: the training record as a PDF.
    pub async fn training_record_pdf(&self, learner: LearnerId) -> Result<Vec<u8>, TransportError> {
        self.get_bytes(
            &format!("/v1/learners/{learner}/training-record/pdf"),
            MAX_PDF,
        )
        .await
    }

    /// `GET /v1/sync/state`: the service's view of this device.
    pub async fn state(&self) -> Result<SyncState, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, "/v1/sync/state"))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        answer(resp).await
    }
}

impl SyncTransport for HttpTransport {
    async fn time_anchor(&self) -> Result<TimeAnchor, TransportError> {
        let state = self.state().await?;
        *self
            .acked_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(state.head.into());
        *self
            .classroom_tag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state.classroom_tag;
        anchor(&state.anchor)
    }

    async fn catalog(
        &self,
        etag: Option<String>,
    ) -> Result<Option<crate::content::CatalogAnswer>, TransportError> {
        use crate::content::ContentSource;
        match self.content.catalog(etag.as_deref()).await {
            Ok(answer) => Ok(Some(answer)),
            // The sync state was fetched a moment ago: the link broke off, it was there.
            Err(crate::CoreError::ContentNetwork(m)) => Err(TransportError::Interrupted(m)),
            Err(crate::CoreError::ContentService { status: 408, .. }) => Err(
                TransportError::TimedOut("the service answered 408 to the catalog".into()),
            ),
            Err(crate::CoreError::ContentService {
                status,
                code,
                message,
            }) => Err(TransportError::Service {
                status,
                body: ErrorBody::new(code, message),
            }),
            Err(e) => Err(TransportError::Malformed(e.to_string())),
        }
    }

    fn acked_head(&self) -> Option<hearth_protocol::ChainHead> {
        *self
            .acked_head
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn classroom_tag(&self) -> Option<String> {
        self.classroom_tag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// `GET /v1/assignments`: what the trainers of this device's classes assigned. The answer is
    /// checked like any untrusted input: ids must be slugs, at most [`MAX_ASSIGNMENTS`] of them.
    async fn assignments(&self) -> Result<Option<Vec<Assignment>>, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, "/v1/assignments"))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        let list: Vec<wire::AssignmentJson> = answer(resp).await?;
        assignments_from_wire(list).map(Some)
    }

    async fn learner_record(
        &self,
        learner: LearnerId,
    ) -> Result<Option<LearnerRecord>, TransportError> {
        self.record(learner).await.map(Some)
    }

    async fn photo_state(&self) -> Result<Option<wire::PhotoStateJson>, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, "/v1/photos"))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        match answer(resp).await {
            Ok(s) => Ok(Some(s)),
            // A service without photo checkpoints.
            Err(TransportError::Service { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn upload_photo(
        &self,
        request: String,
        receipt: hearth_protocol::ReceiptId,
        sealed: Vec<u8>,
    ) -> Result<(), TransportError> {
        let resp = self
            .client
            .post(url(&self.base, &format!("/v1/photos/{request}/{receipt}")))
            .bearer_auth(&self.credential)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(sealed)
            .send()
            .await
            .map_err(unreachable)?;
        let _: wire::PhotoUploadAnswer = answer(resp).await?;
        Ok(())
    }

    async fn photos_done(&self, request: String) -> Result<(), TransportError> {
        let resp = self
            .client
            .post(url(&self.base, &format!("/v1/photos/{request}/done")))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        answer::<serde_json::Value>(resp).await.map(|_| ())
    }

    async fn roster(&self) -> Result<Option<Vec<RosterPerson>>, TransportError> {
        Ok(self.roster_with_classes().await?.map(|r| r.people))
    }

    /// `GET /v1/roster`: the people and their classes (an older service sends no classes,
    /// which reads as none).
    async fn roster_with_classes(&self) -> Result<Option<Roster>, TransportError> {
        let resp = self
            .client
            .get(url(&self.base, "/v1/roster"))
            .bearer_auth(&self.credential)
            .send()
            .await
            .map_err(unreachable)?;
        let list: Vec<wire::RosterEntry> = answer(resp).await?;
        roster_from_wire(list).map(Some)
    }

    async fn upload(&self, envelopes: Vec<Vec<u8>>) -> Result<UploadOutcome, TransportError> {
        let batch = wire::encode_batch(&envelopes);
        let body = zstd::bulk::compress(&batch, ZSTD_LEVEL)
            .map_err(|e| TransportError::Malformed(e.to_string()))?;
        let resp = self
            .client
            .post(url(&self.base, "/v1/sync/receipts"))
            .bearer_auth(&self.credential)
            .header(reqwest::header::CONTENT_TYPE, BATCH_CONTENT_TYPE)
            .header(reqwest::header::CONTENT_ENCODING, "zstd")
            .body(body)
            .send()
            .await
            .map_err(unreachable)?;
        let answer: UploadResponse = answer(resp).await?;
        let mut rejections = answer.rejections.iter();
        let results = answer
            .statuses()
            .into_iter()
            .map(|s| match s {
                Some(ReceiptStatus::Accepted) => Ok(ReceiptOutcome::Accepted),
                Some(ReceiptStatus::Duplicate) => Ok(ReceiptOutcome::Duplicate),
                Some(ReceiptStatus::Pending) => Ok(ReceiptOutcome::Pending),
                Some(ReceiptStatus::Rejected) => Ok(ReceiptOutcome::Rejected {
                    code: rejections
                        .next()
                        .map_or_else(|| "receipt.rejected".to_owned(), |r| r.code.clone()),
                }),
                None => Err(TransportError::Malformed("unknown receipt status".into())),
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UploadOutcome {
            results,
            acked: answer.head.into(),
        })
    }
}
