//! Photo checkpoints (issue #17 item 2, docs/privacy.md): an organisation's policy, audit
//! requests for a learner's photos, and the check of an upload against the learner's chain.
//!
//! The service never asks for a photo by itself. An administrator (own organisation) or a
//! supervisor (own regions) asks, with a reason written to the audit log; a device of the learner
//! learns of the request at its next sync (`GET /v1/photos`) and uploads the sealed photos it
//! holds, each naming its `photo_taken` receipt. Each is opened with the service's photo key and
//! its SHA-256 compared with that receipt's, which must be in the learner's acknowledged
//! (verified) chain: a photo whose receipt is not there is `photo.not_in_chain`, one whose bytes
//! hash to something else `photo.hash_mismatch`. Only matching photos are kept, for
//! [`AUDIT_RETENTION_MS`]. No face templates or recognition anywhere.

use base64::Engine as _;
use hearth_protocol::wire::{PhotoRequestJson, PhotoStateJson, PhotoUploadAnswer};
use hearth_protocol::{ContentHash, Event, LearnerId, ReceiptId};
use serde_json::json;
use uuid::Uuid;

use super::audit::Actor;
use super::ingest::body_of;
use super::{Service, ServiceError, ServiceResult};
use crate::store::{AuditPhoto, Device, PhotoRequest, Role, User};

/// How long the service keeps an audited photo (from its upload).
pub const AUDIT_RETENTION_MS: i64 = 180 * 24 * 3600 * 1000;
/// The longest reason an auditor may give.
pub const MAX_REASON: usize = 500;

/// One kept photo as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    pub receipt_id: ReceiptId,
    pub sha256: String,
    /// The receipt's device clock and the service's arrival time of the receipt.
    pub taken_wall_ms: i64,
    pub received_ms: i64,
    /// `data:image/jpeg;base64,…`
    pub data_url: String,
}

/// A request as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    pub id: Uuid,
    pub learner_id: LearnerId,
    pub reason: String,
    pub requested_ms: i64,
    pub requested_by: Uuid,
    pub fulfilled_ms: Option<i64>,
    pub photos: Vec<PhotoView>,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("learner.not_found", "no such learner")
}

impl Service {
    /// Turns an organisation's photo checkpoints on or off (`hearth-server photos`); written to
    /// its audit log.
    pub fn set_org_photos(&self, org: Uuid, enabled: bool, actor: Actor) -> ServiceResult<()> {
        self.store.set_org_photos(org, enabled, self.now())?;
        self.audit(org, actor, "photos.policy", json!({ "enabled": enabled }))?;
        Ok(())
    }

    /// Deletes the audited photos stored longer ago than [`AUDIT_RETENTION_MS`].
    fn purge_expired_audit_photos(&self) -> ServiceResult<()> {
        let cutoff = self.now().saturating_sub(AUDIT_RETENTION_MS);
        let deleted = self.store.delete_audit_photos_before(cutoff)?;
        if deleted > 0 {
            tracing::info!(deleted, "audited photos past their retention deleted");
        }
        Ok(())
    }

    /// What `GET /v1/photos` tells a device: the policy, the key, the open requests for people
    /// this device records for (a personal PC: its learner; a kiosk: its organisation's).
    pub fn photo_state(&self, device: &Device) -> ServiceResult<PhotoStateJson> {
        // Every device asks this each sync round, so audited photos past their retention go
        // within a round of expiring even when nobody looks at them.
        self.purge_expired_audit_photos()?;
        let requests = self
            .store
            .open_photo_requests(device.org)?
            .into_iter()
            .filter(|r| device.learner.is_none_or(|l| l == r.learner))
            .map(|r| PhotoRequestJson {
                id: r.id.to_string(),
                learner_id: r.learner,
            })
            .collect();
        Ok(PhotoStateJson {
            enabled: self.store.org_photos(device.org)?,
            public_key: hex::encode(self.keys.photo_public()),
            requests,
        })
    }

    /// The learner `user` may audit: an administrator's own organisation's, a supervisor's own
    /// regions'. Anyone else's reads as absent (404); a trainer may not audit (403).
    fn auditable(&self, user: &User, learner: LearnerId) -> ServiceResult<crate::store::Learner> {
        let l = self.store.learner(learner)?.ok_or_else(not_found)?;
        match user.role {
            Role::Admin if l.org == user.org => Ok(l),
            Role::Admin => Err(not_found()),
            Role::Supervisor => {
                let scope = self.supervisor_scope(user)?;
                if scope.has_org(l.org) {
                    Ok(l)
                } else {
                    Err(not_found())
                }
            }
            Role::Trainer => Err(ServiceError::Forbidden(
                "auth.forbidden",
                "only an administrator or a supervisor may ask for photos",
            )),
        }
    }

    /// An auditor asks for a learner's photos, with a reason; written to the learner's
    /// organisation's audit log.
    pub fn request_photos(
        &self,
        user: &User,
        learner: LearnerId,
        reason: &str,
    ) -> ServiceResult<PhotoRequest> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(ServiceError::Invalid(
                "photo.invalid_reason",
                format!("give a reason of 1 to {MAX_REASON} characters"),
            ));
        }
        let l = self.auditable(user, learner)?;
        let r = PhotoRequest {
            id: self.new_uuid(),
            org: l.org,
            learner,
            by: user.id,
            reason: reason.to_owned(),
            requested_ms: self.now(),
            fulfilled_ms: None,
        };
        self.store.put_photo_request(&r)?;
        self.audit(
            l.org,
            Actor::User(user.id),
            "photos.request",
            json!({ "request": r.id, "learner": learner, "reason": r.reason }),
        )?;
        Ok(r)
    }

    /// The requests for a learner's photos and the photos kept for them, for an auditor.
    pub fn photo_requests_view(
        &self,
        user: &User,
        learner: LearnerId,
    ) -> ServiceResult<Vec<RequestView>> {
        self.auditable(user, learner)?;
        self.purge_expired_audit_photos()?;
        self.store
            .photo_requests_of_learner(learner)?
            .into_iter()
            .map(|r| {
                let photos = self
                    .store
                    .audit_photos(r.id)?
                    .into_iter()
                    .map(|p| PhotoView {
                        receipt_id: p.receipt,
                        sha256: hex::encode(p.sha256),
                        taken_wall_ms: p.taken_wall_ms,
                        received_ms: p.received_ms,
                        data_url: format!(
                            "data:image/jpeg;base64,{}",
                            base64::engine::general_purpose::STANDARD.encode(&p.jpeg)
                        ),
                    })
                    .collect();
                Ok(RequestView {
                    id: r.id,
                    learner_id: r.learner,
                    reason: r.reason,
                    requested_ms: r.requested_ms,
                    requested_by: r.by,
                    fulfilled_ms: r.fulfilled_ms,
                    photos,
                })
            })
            .collect()
    }

    /// The request a device may answer: of its organisation, and of its learner on a personal
    /// PC; anything else reads as absent.
    fn request_for(&self, device: &Device, request: Uuid) -> ServiceResult<PhotoRequest> {
        let missing = || ServiceError::NotFound("photo.request_not_found", "no such photo request");
        let r = self.store.photo_request(request)?.ok_or_else(missing)?;
        if r.org != device.org || device.learner.is_some_and(|l| l != r.learner) {
            return Err(missing());
        }
        Ok(r)
    }

    /// The `photo_taken` receipt `id` of `learner` in the acknowledged (verified) chain: its
    /// hash, its device wall time and its arrival.
    fn photo_receipt(
        &self,
        learner: LearnerId,
        id: ReceiptId,
    ) -> ServiceResult<Option<(ContentHash, i64, i64)>> {
        let mut cursor = None;
        loop {
            let page = self.store.receipts_of_learner(learner, cursor, 1000)?;
            let Some(last) = page.last() else {
                return Ok(None);
            };
            cursor = Some((last.device, last.seq));
            for s in page
                .iter()
                .filter(|s| s.id == id && s.kind == "photo_taken")
            {
                if let Some(b) = body_of(s)
                    && let Event::PhotoTaken { sha256, .. } = b.event
                    && b.learner == learner
                {
                    return Ok(Some((sha256, b.wall_ms, s.received_ms)));
                }
            }
        }
    }

    /// A device uploads one sealed photo for a request (`POST /v1/photos/{request}/{receipt}`),
    /// naming the `photo_taken` receipt it belongs to. Refused with `photo.not_in_chain` when
    /// that receipt is not in the learner's verified chain, `photo.bad_size` or
    /// `photo.undecryptable` when it does not open with the service's key, and
    /// `photo.hash_mismatch` when the opened JPEG's SHA-256 is not the receipt's. A photo that
    /// checks out is kept; repeating the upload changes nothing.
    pub fn receive_photo(
        &self,
        device: &Device,
        request: Uuid,
        receipt: ReceiptId,
        sealed: &[u8],
    ) -> ServiceResult<PhotoUploadAnswer> {
        let r = self.request_for(device, request)?;
        let Some((sha, taken_wall_ms, received_ms)) = self.photo_receipt(r.learner, receipt)?
        else {
            return Err(ServiceError::Invalid(
                "photo.not_in_chain",
                "no photo_taken receipt with this id in the learner's verified chain".into(),
            ));
        };
        let jpeg = self
            .keys
            .open_photo(sealed)
            .map_err(|e| ServiceError::Invalid(e.code(), e.to_string()))?;
        if ContentHash::of(&jpeg) != sha {
            tracing::warn!(request = %r.id, device = %device.id, "an uploaded photo does not match its receipt");
            return Err(ServiceError::Invalid(
                "photo.hash_mismatch",
                "the photo's SHA-256 is not the one its receipt names".into(),
            ));
        }
        let new = self.store.put_audit_photo(&AuditPhoto {
            request: r.id,
            receipt,
            learner: r.learner,
            sha256: sha.0,
            taken_wall_ms,
            received_ms,
            jpeg,
            stored_ms: self.now(),
        })?;
        Ok(PhotoUploadAnswer {
            receipt_id: receipt,
            sha256: hex::encode(sha.0),
            new,
        })
    }

    /// A device has uploaded every photo it holds for the request
    /// (`POST /v1/photos/{request}/done`): the request is answered, in the audit log.
    pub fn photos_done(&self, device: &Device, request: Uuid) -> ServiceResult<()> {
        let r = self.request_for(device, request)?;
        let stored = self.store.audit_photos(r.id)?.len();
        // A kiosk holding none of the learner's photos does not close the request: another PC
        // of the organisation may hold them. The learner's own PC does, photos or not.
        if stored > 0 || device.learner == Some(r.learner) {
            self.store.fulfil_photo_request(r.id, self.now())?;
        }
        self.audit(
            r.org,
            Actor::Device(device.id),
            "photos.received",
            json!({ "request": r.id, "device": device.id, "stored": stored }),
        )?;
        Ok(())
    }
}
