//! The classes a kiosk serves (issue #16). A kiosk's roster names only the learners of its
//! classes and the trainers who run them (`Service::roster`), so a copied kiosk database gives
//! an offline attacker the PIN verifiers of those people and nobody else's.
//!
//! A kiosk enrollment code may name the classes (`hearth-server issue-code --class …`,
//! `POST /v1/admin/enrollment-codes`); redeeming it links them to the new device. An
//! administrator changes them later (`hearth-server set-kiosk-classes`,
//! `PUT /v1/admin/devices/{id}/classes`); the change moves the organisation's roster stamp, so the
//! kiosk's classroom tag changes and its next sync round pulls the new roster, and the kiosk
//! drops the verifiers it no longer receives. A kiosk that serves no class gets an empty
//! roster: it is allowed (a kiosk may be set up before its class exists), and the CLI and the
//! HTTP answer warn about it (`kiosk.no_classes`).

use hearth_protocol::DeviceId;
use uuid::Uuid;

use crate::domain::{Principal, Service, ServiceError, ServiceResult};
use crate::store::{Device, StoreError};

/// The most classes one kiosk serves.
pub const MAX_KIOSK_CLASSES: usize = 64;

/// The warning given with a kiosk code or a kiosk that serves no class.
pub const NO_CLASSES: &str = "kiosk.no_classes";

/// A kiosk and the classes it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KioskClasses {
    pub device: DeviceId,
    pub classes: Vec<Uuid>,
}

/// A code issued by [`Service::issue_kiosk_code`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCode {
    pub code: String,
    pub expires_ms: i64,
    pub classes: Vec<Uuid>,
}

impl Service {
    /// Checks `classes` for a kiosk of `org`: at most [`MAX_KIOSK_CLASSES`], each a class of
    /// `org` (`class.not_found`, `auth.wrong_org`); sorted, without repeats.
    fn kiosk_class_list(&self, org: Uuid, classes: &[Uuid]) -> ServiceResult<Vec<Uuid>> {
        let mut list = classes.to_vec();
        list.sort_unstable();
        list.dedup();
        if list.len() > MAX_KIOSK_CLASSES {
            return Err(ServiceError::Invalid(
                "kiosk.too_many_classes",
                format!("a kiosk serves at most {MAX_KIOSK_CLASSES} classes"),
            ));
        }
        for id in &list {
            let c = self
                .store
                .class(*id)?
                .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
            if c.org != org {
                return Err(ServiceError::Forbidden(
                    "auth.wrong_org",
                    "the class belongs to another organisation",
                ));
            }
        }
        Ok(list)
    }

    /// Issues a one-time code for a kiosk of `org` that serves `classes` (none: an empty roster
    /// until an administrator links some; the caller warns with [`NO_CLASSES`]).
    pub fn issue_kiosk_code(
        &self,
        org: Uuid,
        classes: &[Uuid],
        hours: Option<i64>,
    ) -> ServiceResult<IssuedCode> {
        self.require_org(org)?;
        let classes = self.kiosk_class_list(org, classes)?;
        let (code, expires_ms) = self.issue_code(org, None, classes.clone(), hours)?;
        Ok(IssuedCode {
            code,
            expires_ms,
            classes,
        })
    }

    /// The kiosk `device`, for `by` (`None`: the service's administrator on the command line; an
    /// administrator only of the device's organisation, and another organisation's device is
    /// answered as not found). A personal device is refused (`kiosk.personal_device`).
    fn kiosk_for(&self, by: Option<&Principal>, device: DeviceId) -> ServiceResult<Device> {
        let not_found = || ServiceError::NotFound("device.not_found", "no such device");
        let d = self.store.device(device)?.ok_or_else(not_found)?;
        if let Some(who) = by {
            if d.org != who.org() {
                return Err(not_found());
            }
            self.require_admin(who)?;
        }
        if d.learner.is_some() {
            return Err(ServiceError::Conflict(
                "kiosk.personal_device",
                "this device belongs to one learner; only a kiosk serves classes",
            ));
        }
        Ok(d)
    }

    /// The classes a kiosk serves.
    pub fn kiosk_classes(
        &self,
        by: Option<&Principal>,
        device: DeviceId,
    ) -> ServiceResult<KioskClasses> {
        let d = self.kiosk_for(by, device)?;
        Ok(KioskClasses {
            device: d.id,
            classes: self.store.kiosk_classes(d.id)?,
        })
    }

    /// Makes `classes` the classes the kiosk serves (all of them: the list replaces the one
    /// before). Its next sync round pulls the roster of these classes only.
    pub fn set_kiosk_classes(
        &self,
        by: Option<&Principal>,
        device: DeviceId,
        classes: &[Uuid],
    ) -> ServiceResult<KioskClasses> {
        let d = self.kiosk_for(by, device)?;
        let list = self.kiosk_class_list(d.org, classes)?;
        self.store
            .set_kiosk_classes(d.id, &list)
            .map_err(|e| match e {
                StoreError::NotFound => {
                    ServiceError::NotFound("device.not_found", "no such device")
                }
                e => e.into(),
            })?;
        tracing::info!(target: "hearth::kiosk", device = %d.id, org = %d.org, classes = list.len(), "kiosk classes set");
        Ok(KioskClasses {
            device: d.id,
            classes: list,
        })
    }
}
