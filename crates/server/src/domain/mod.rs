//! The service's rules, independent of HTTP and of the storage backend: people and roles,
//! credentials, enrollment, time anchors, receipt ingest, derived progress, publishing.

pub mod assignments;
pub mod audit;
pub mod authoring;
pub mod cards;
pub mod certificate;
pub mod certificate_pdf;
pub mod claim;
pub mod claim_review;
pub mod credit;
pub mod flag_review;
pub mod flags;
pub mod ingest;
pub mod kiosk_classes;
pub mod package_export;
pub mod people;
pub mod photos;
pub mod progress;
pub mod publish;
pub mod relay;
pub mod roster_import;
pub mod supervision;
pub mod training_record;

use std::sync::Arc;

use base64::Engine;
use hearth_protocol::wire::ClassRef;
use hearth_protocol::{ClassId, DeviceId, LearnerId, PublicKey, TimeAnchor};
use ring::digest;
use uuid::Uuid;

use crate::env::{Clock, Random, random_bytes};
use crate::keys::Keys;
use crate::store::{
    Class, Conflict, Device, EnrollmentCode, Learner, Org, Role, Store, StoreError, Subject,
    TokenRecord, User,
};

pub use ingest::{IngestOutcome, ReceiptOutcome};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// Why a request is refused. Each has a stable code; only [`ServiceError::Internal`] hides its
/// text from clients.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{1}")]
    Unauthorized(&'static str, &'static str),
    #[error("{1}")]
    Forbidden(&'static str, &'static str),
    #[error("{1}")]
    NotFound(&'static str, &'static str),
    #[error("{1}")]
    Conflict(&'static str, &'static str),
    #[error("{1}")]
    Gone(&'static str, &'static str),
    #[error("{1}")]
    Invalid(&'static str, String),
    /// Refused for a while (console lock-out after failed sign-ins).
    #[error("{1}")]
    Locked(&'static str, &'static str),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Unauthorized(c, _)
            | ServiceError::Forbidden(c, _)
            | ServiceError::NotFound(c, _)
            | ServiceError::Conflict(c, _)
            | ServiceError::Gone(c, _)
            | ServiceError::Invalid(c, _)
            | ServiceError::Locked(c, _) => c,
            ServiceError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Lifetimes of credentials and codes.
#[derive(Clone, Debug)]
pub struct Config {
    pub device_credential_days: i64,
    pub user_token_days: i64,
    pub enrollment_code_hours: i64,
    /// The credit rules' numbers (an organisation may set its own daily cap).
    pub policy: credit::Policy,
    /// The service's public base URL (no trailing slash), named in certificates' status entries.
    pub public_url: String,
    /// Console sessions and lock-out (`domain::people`).
    pub console: people::ConsolePolicy,
    /// The built console pages (`console/dist`), served at `/console/` when set.
    pub console_pages: Option<std::path::PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            device_credential_days: 365,
            user_token_days: 90,
            enrollment_code_hours: 72,
            policy: credit::Policy::default(),
            public_url: "http://127.0.0.1:8470".into(),
            console: people::ConsolePolicy::default(),
            console_pages: None,
        }
    }
}

/// Who is calling.
#[derive(Clone, Debug)]
pub enum Principal {
    Device(Device),
    User(User),
}

impl Principal {
    pub fn org(&self) -> Uuid {
        match self {
            Principal::Device(d) => d.org,
            Principal::User(u) => u.org,
        }
    }
}

/// The service: shared by every request handler.
#[derive(Clone)]
pub struct Service {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub random: Arc<dyn Random>,
    pub keys: Arc<Keys>,
    pub config: Config,
    /// Where published package files live (content-addressed by SHA-256).
    pub blob_dir: std::path::PathBuf,
    /// The published catalog as the credit rules read it, until something is published.
    pub(crate) catalog_cache: Arc<std::sync::Mutex<Option<Arc<credit::book::Catalog>>>>,
    /// A read replica for reports (`--read-database`), if any: see [`Service::for_reports`].
    pub read_store: Option<Arc<dyn Store>>,
    /// Each device's classroom tag with the organisation's roster stamp it was computed at
    /// (see [`Service::classroom_tag`]).
    pub(crate) tag_cache: Arc<TagCache>,
}

/// Classroom tags by device, each valid while its organisation's roster stamp has not moved.
#[derive(Debug, Default)]
pub(crate) struct TagCache {
    pub(crate) tags: std::sync::Mutex<std::collections::HashMap<DeviceId, (i64, String)>>,
    /// How many tags were computed (not served from the cache): what the tests watch.
    pub(crate) computed: std::sync::atomic::AtomicU64,
}

impl Service {
    /// The service as reports see it: reading from the read replica when there is one. Only for
    /// what an administrator or trainer asks (records, class progress, the flags report), which
    /// may lag the primary by the replication delay; a device's own reads and every write stay on
    /// the primary, so a device always reads what it just uploaded.
    pub fn for_reports(&self) -> Service {
        match &self.read_store {
            Some(replica) => Service {
                store: replica.clone(),
                read_store: None,
                ..self.clone()
            },
            None => self.clone(),
        }
    }
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, b)
        .as_ref()
        .try_into()
        .expect("32 bytes")
}

/// Normalises a Chinese resident ID number (18 characters, the last a digit or X; or the older 15
/// digits): spaces removed, upper case.
pub fn normalise_national_id(raw: &str) -> Option<String> {
    let s: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let ok = match s.len() {
        18 => {
            s[..17].bytes().all(|b| b.is_ascii_digit())
                && matches!(s.as_bytes()[17], b'0'..=b'9' | b'X')
        }
        15 => s.bytes().all(|b| b.is_ascii_digit()),
        _ => false,
    };
    ok.then_some(s)
}

/// Shows only the last four characters.
pub fn mask_national_id(tail: &str, len: usize) -> String {
    format!("{}{}", "*".repeat(len.saturating_sub(tail.len())), tail)
}

/// A kiosk PIN: 4 to 12 digits.
fn check_pin(pin: &str) -> ServiceResult<()> {
    if pin.len() < 4 || pin.len() > 12 || !pin.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ServiceError::Invalid(
            "learner.invalid_pin",
            "a PIN has 4 to 12 digits".into(),
        ));
    }
    Ok(())
}

const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase()
}

/// What enrollment hands back to the HTTP layer.
#[derive(Debug)]
pub struct Enrolled {
    pub device: Device,
    pub credential: String,
    pub credential_expires_ms: i64,
    pub org: Org,
    pub roster: Vec<RosterPerson>,
    pub anchor: TimeAnchor,
}

#[derive(Debug, Clone)]
pub struct RosterPerson {
    pub id: LearnerId,
    pub name: String,
    pub role: &'static str,
    pub pin_hash: Option<String>,
    /// A kiosk learner's current sign-in card's verifier (`domain::cards`).
    pub card: Option<hearth_protocol::wire::CardVerifier>,
    /// A learner's class (none or one), or the classes a trainer runs; a kiosk lets a trainer
    /// open only these.
    pub classes: Vec<ClassRef>,
}

impl Service {
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    fn new_uuid(&self) -> Uuid {
        uuid::Builder::from_random_bytes(random_bytes(&*self.random)).into_uuid()
    }

    fn new_token(&self, prefix: &str) -> (String, [u8; 32]) {
        let raw: [u8; 32] = random_bytes(&*self.random);
        let token = format!(
            "{prefix}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
        );
        let hash = sha256(token.as_bytes());
        (token, hash)
    }

    // ----- people (the CLI calls these) -----

    pub fn create_org(&self, name: &str) -> ServiceResult<Org> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ServiceError::Invalid(
                "org.invalid_name",
                "an organisation needs a name of 1 to 200 bytes".into(),
            ));
        }
        let org = Org {
            id: self.new_uuid(),
            name: name.into(),
            created_ms: self.now(),
        };
        self.store.create_org(&org).map_err(|e| match e {
            StoreError::Conflict(_) => {
                ServiceError::Conflict("org.exists", "an organisation with this name exists")
            }
            e => e.into(),
        })?;
        Ok(org)
    }

    pub(crate) fn require_org(&self, org: Uuid) -> ServiceResult<Org> {
        self.store.org(org)?.ok_or(ServiceError::NotFound(
            "org.not_found",
            "no such organisation",
        ))
    }

    /// Adds an administrator or trainer and returns a first token for them.
    pub fn add_user(&self, org: Uuid, role: Role, name: &str) -> ServiceResult<(User, String)> {
        self.require_org(org)?;
        let user = User {
            id: self.new_uuid(),
            org,
            role,
            name: name.trim().into(),
            created_ms: self.now(),
            pin_hash: None,
        };
        self.store.create_user(&user)?;
        let token = self.issue_user_token(user.id, self.config.user_token_days)?;
        Ok((user, token))
    }

    /// Adds a trainer, with a kiosk PIN when given (checked before anything is stored).
    pub fn add_trainer(
        &self,
        org: Uuid,
        name: &str,
        pin: Option<&str>,
    ) -> ServiceResult<(User, String)> {
        if let Some(p) = pin {
            check_pin(p)?;
        }
        let (mut user, token) = self.add_user(org, Role::Trainer, name)?;
        if let Some(p) = pin {
            user.pin_hash = Some(self.set_pin(user.id, p)?);
        }
        Ok((user, token))
    }

    /// The kiosk PIN verifier handed out in rosters (the format is shared with the kiosk), salted
    /// from the service's injected randomness.
    fn pin_verifier(&self, person: LearnerId, pin: &str) -> String {
        let salt = random_bytes(&*self.random);
        hearth_protocol::pin::pin_verifier(person, pin, &salt)
    }

    /// Sets (or changes) the kiosk sign-in PIN of a learner or a trainer, and returns its new
    /// verifier. Kiosks get it with their next roster.
    pub fn set_pin(&self, person: Uuid, pin: &str) -> ServiceResult<String> {
        check_pin(pin)?;
        let verifier = self.pin_verifier(LearnerId(person), pin);
        if !self.store.set_pin(person, &verifier)? {
            return Err(ServiceError::NotFound(
                "person.not_found",
                "no learner or trainer with this id",
            ));
        }
        Ok(verifier)
    }

    pub fn issue_user_token(&self, user: Uuid, days: i64) -> ServiceResult<String> {
        let u = self
            .store
            .user(user)?
            .ok_or(ServiceError::NotFound("user.not_found", "no such user"))?;
        let (token, hash) = self.new_token("hu1_");
        let now = self.now();
        self.store.put_token(&TokenRecord {
            hash,
            subject: Subject::User(u.id),
            org: u.org,
            created_ms: now,
            expires_ms: now + days * DAY_MS,
        })?;
        Ok(token)
    }

    pub fn add_class(&self, trainer: Uuid, name: &str) -> ServiceResult<Class> {
        let t = self
            .store
            .user(trainer)?
            .filter(|u| u.role == Role::Trainer)
            .ok_or(ServiceError::NotFound(
                "trainer.not_found",
                "no such trainer",
            ))?;
        let class = Class {
            id: self.new_uuid(),
            org: t.org,
            trainer: t.id,
            name: name.trim().into(),
            created_ms: self.now(),
        };
        self.store.create_class(&class)?;
        Ok(class)
    }

    pub fn add_learner(
        &self,
        org: Uuid,
        name: &str,
        national_id: &str,
        class: Option<Uuid>,
        pin: Option<&str>,
    ) -> ServiceResult<Learner> {
        self.require_org(org)?;
        let id = normalise_national_id(national_id).ok_or(ServiceError::Invalid(
            "learner.invalid_national_id",
            "a national ID number has 18 characters (digits, the last may be X) or 15 digits"
                .into(),
        ))?;
        if let Some(c) = class {
            let c = self
                .store
                .class(c)?
                .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
            if c.org != org {
                return Err(ServiceError::Forbidden(
                    "auth.wrong_org",
                    "the class belongs to another organisation",
                ));
            }
        }
        if let Some(p) = pin {
            check_pin(p)?;
        }
        let lid = LearnerId(self.new_uuid());
        let learner = Learner {
            id: lid,
            org,
            name: name.trim().into(),
            national_id_mac: self.keys.national_id_mac(&id),
            national_id_tail: id[id.len() - 4..].into(),
            class,
            pin_hash: pin.map(|p| self.pin_verifier(lid, p)),
            created_ms: self.now(),
        };
        self.store.create_learner(&learner).map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::Conflict(
                "learner.exists",
                "a learner with this national ID number is already registered",
            ),
            e => e.into(),
        })?;
        Ok(learner)
    }

    /// Issues a one-time enrollment code (for a personal device when `learner` is set, else for a
    /// kiosk that serves no class yet: see [`Service::issue_kiosk_code`]). The code is shown
    /// once; only its hash is stored.
    pub fn issue_enrollment_code(
        &self,
        org: Uuid,
        learner: Option<LearnerId>,
        hours: Option<i64>,
    ) -> ServiceResult<String> {
        Ok(self.issue_code(org, learner, Vec::new(), hours)?.0)
    }

    /// A code for a personal device (`learner`) or a kiosk serving `classes` (checked by the
    /// caller); with its expiry.
    pub(crate) fn issue_code(
        &self,
        org: Uuid,
        learner: Option<LearnerId>,
        classes: Vec<Uuid>,
        hours: Option<i64>,
    ) -> ServiceResult<(String, i64)> {
        self.require_org(org)?;
        if let Some(l) = learner {
            let l = self.store.learner(l)?.ok_or(ServiceError::NotFound(
                "learner.not_found",
                "no such learner",
            ))?;
            if l.org != org {
                return Err(ServiceError::Forbidden(
                    "auth.wrong_org",
                    "the learner belongs to another organisation",
                ));
            }
        }
        let raw: [u8; 12] = random_bytes(&*self.random);
        let chars: String = raw
            .iter()
            .map(|b| CODE_ALPHABET[usize::from(b % 32)] as char)
            .collect();
        let code = format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..]);
        let now = self.now();
        let expires_ms = now + hours.unwrap_or(self.config.enrollment_code_hours) * 3600 * 1000;
        self.store.put_enrollment_code(&EnrollmentCode {
            hash: sha256(normalise_code(&code).as_bytes()),
            org,
            learner,
            classes,
            created_ms: now,
            expires_ms,
            used_ms: None,
        })?;
        Ok((code, expires_ms))
    }

    // ----- authentication -----

    /// Resolves a bearer token to who is calling.
    pub fn authenticate(&self, token: &str) -> ServiceResult<Principal> {
        let unknown =
            ServiceError::Unauthorized("auth.invalid_credential", "the credential is not valid");
        if token.len() > 200 {
            return Err(unknown);
        }
        let rec = self
            .store
            .token(&sha256(token.as_bytes()))?
            .ok_or(unknown)?;
        if rec.expires_ms <= self.now() {
            return Err(ServiceError::Unauthorized(
                "auth.expired_credential",
                "the credential has expired",
            ));
        }
        let gone =
            || ServiceError::Unauthorized("auth.invalid_credential", "the credential is not valid");
        match rec.subject {
            Subject::Device(d) => Ok(Principal::Device(self.store.device(d)?.ok_or_else(gone)?)),
            Subject::User(u) => Ok(Principal::User(self.store.user(u)?.ok_or_else(gone)?)),
        }
    }

    // ----- enrollment -----

    pub fn enroll(
        &self,
        code: &str,
        key: PublicKey,
        claimed: DeviceId,
        label: Option<String>,
    ) -> ServiceResult<Enrolled> {
        let device_id = DeviceId::for_key(&key);
        if device_id != claimed {
            return Err(ServiceError::Invalid(
                "enroll.device_id_mismatch",
                "the device id is not the one derived from the public key".into(),
            ));
        }
        if label.as_ref().is_some_and(|l| l.len() > 200) {
            return Err(ServiceError::Invalid(
                "enroll.invalid_label",
                "the label is longer than 200 bytes".into(),
            ));
        }
        let now = self.now();
        let (credential, hash) = self.new_token("hd1_");
        let expires = now + self.config.device_credential_days * DAY_MS;
        // The code's rules (used once, before it expires) are checked here, inside the store's
        // transaction that holds the code locked against every other redemption.
        let mut refused = None;
        let redeemed = self
            .store
            .redeem_enrollment(
                &sha256(normalise_code(code).as_bytes()),
                now,
                &mut |c: &EnrollmentCode| {
                    if c.used_ms.is_some() {
                        refused = Some(ServiceError::Conflict(
                            "enroll.code_used",
                            "the enrollment code has already been used",
                        ));
                        return None;
                    }
                    if c.expires_ms <= now {
                        refused = Some(ServiceError::Gone(
                            "enroll.code_expired",
                            "the enrollment code has expired",
                        ));
                        return None;
                    }
                    Some((
                        Device {
                            id: device_id,
                            org: c.org,
                            public_key: key,
                            learner: c.learner,
                            label: label.clone(),
                            enrolled_ms: now,
                        },
                        TokenRecord {
                            hash,
                            subject: Subject::Device(device_id),
                            org: c.org,
                            created_ms: now,
                            expires_ms: expires,
                        },
                    ))
                },
            )
            .map_err(|e| match e {
                StoreError::NotFound => ServiceError::Forbidden(
                    "enroll.invalid_code",
                    "the enrollment code is not valid",
                ),
                StoreError::Conflict(Conflict::DeviceExists) => ServiceError::Conflict(
                    "enroll.device_exists",
                    "this device is already enrolled",
                ),
                e => e.into(),
            })?;
        let Some((_code, device)) = redeemed else {
            return Err(refused.unwrap_or(ServiceError::Internal(
                "the enrollment was refused without a reason".into(),
            )));
        };
        let org = self.require_org(device.org)?;
        let roster = self.roster(&device)?;
        Ok(Enrolled {
            anchor: self.anchor_for(device.id),
            device,
            credential,
            credential_expires_ms: expires,
            org,
            roster,
        })
    }

    /// The people a device may sign in: its learner (personal device), or on a kiosk the
    /// learners of the classes it serves and the trainers who run them (issue #16: no other PIN
    /// verifier leaves the service; a kiosk that serves no class gets nobody).
    ///
    /// Each person carries their classes: a learner's own class, the classes a trainer runs (on
    /// a kiosk, those of them it serves).
    pub fn roster(&self, device: &Device) -> ServiceResult<Vec<RosterPerson>> {
        let mut classes = self.store.classes_of_org(device.org)?;
        if device.learner.is_none() {
            let served = self.store.kiosk_classes(device.id)?;
            classes.retain(|c| served.contains(&c.id));
        }
        let class_ref = |c: &Class| ClassRef {
            id: ClassId(c.id),
            name: c.name.clone(),
        };
        let person = |l: Learner| RosterPerson {
            id: l.id,
            name: l.name,
            role: "learner",
            pin_hash: l.pin_hash,
            card: None,
            classes: classes
                .iter()
                .filter(|c| l.class == Some(c.id))
                .map(class_ref)
                .collect(),
        };
        if let Some(l) = device.learner {
            return Ok(self.store.learner(l)?.into_iter().map(person).collect());
        }
        let mut learners = Vec::new();
        for c in &classes {
            learners.extend(self.store.learners_of_class(c.id)?);
        }
        learners.sort_by(|a, b| (a.name.as_bytes(), a.id.0).cmp(&(b.name.as_bytes(), b.id.0)));
        let mut out: Vec<RosterPerson> = learners.into_iter().map(person).collect();
        // Only a kiosk signs in by card; a personal PC never sees a card verifier.
        for p in &mut out {
            p.card = self.card_verifier(p.id)?;
        }
        out.extend(
            self.store
                .users_of_org(device.org)?
                .into_iter()
                .filter(|u| u.role == Role::Trainer && classes.iter().any(|c| c.trainer == u.id))
                .map(|u| RosterPerson {
                    id: LearnerId(u.id),
                    classes: classes
                        .iter()
                        .filter(|c| c.trainer == u.id)
                        .map(class_ref)
                        .collect(),
                    name: u.name,
                    role: "trainer",
                    pin_hash: u.pin_hash,
                    card: None,
                }),
        );
        Ok(out)
    }

    /// A fresh time anchor for `device`.
    pub fn anchor_for(&self, device: DeviceId) -> TimeAnchor {
        TimeAnchor::issue(&self.keys.anchor, device, self.now())
    }

    // ----- access rules for reads -----

    /// May `who` read `learner`'s record? Admins of the learner's organisation, the trainer of
    /// the learner's class, and devices of the same organisation (a personal device only its own
    /// learner's).
    pub fn learner_for(&self, who: &Principal, learner: LearnerId) -> ServiceResult<Learner> {
        let l = self.store.learner(learner)?.ok_or(ServiceError::NotFound(
            "learner.not_found",
            "no such learner",
        ))?;
        if l.org != who.org() {
            return Err(ServiceError::Forbidden(
                "auth.wrong_org",
                "the learner belongs to another organisation",
            ));
        }
        let allowed = match who {
            Principal::User(u) if u.role == Role::Admin => true,
            Principal::User(u) => match l.class {
                Some(c) => self.store.class(c)?.is_some_and(|c| c.trainer == u.id),
                None => false,
            },
            Principal::Device(d) => d.learner.is_none_or(|own| own == l.id),
        };
        if !allowed {
            return Err(ServiceError::Forbidden(
                "auth.forbidden",
                "this credential may not read this learner",
            ));
        }
        Ok(l)
    }

    pub fn require_admin(&self, who: &Principal) -> ServiceResult<()> {
        match who {
            Principal::User(u) if u.role == Role::Admin => Ok(()),
            _ => Err(ServiceError::Forbidden(
                "auth.forbidden",
                "this view needs the administrator role",
            )),
        }
    }

    /// May `who` read `class`'s progress? Whoever may manage it ([`Service::class_for`]), and a
    /// shared (kiosk) device of the class's organisation: a trainer watches the class across
    /// kiosks from any of them. That reveals nothing new, since such a device may read every
    /// learner record of its organisation already ([`Service::learner_for`]). A personal device
    /// may not (it reads only its own learner).
    pub fn class_view_for(&self, who: &Principal, class: Uuid) -> ServiceResult<Class> {
        match who {
            Principal::Device(d) if d.learner.is_none() => {
                let c = self
                    .store
                    .class(class)?
                    .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
                if c.org != d.org {
                    return Err(ServiceError::Forbidden(
                        "auth.wrong_org",
                        "the class belongs to another organisation",
                    ));
                }
                Ok(c)
            }
            _ => self.class_for(who, class),
        }
    }

    /// May `who` manage `class` (assign work, read its assignments)? Its trainer and the
    /// organisation's administrators.
    pub fn class_for(&self, who: &Principal, class: Uuid) -> ServiceResult<Class> {
        let c = self
            .store
            .class(class)?
            .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
        if c.org != who.org() {
            return Err(ServiceError::Forbidden(
                "auth.wrong_org",
                "the class belongs to another organisation",
            ));
        }
        match who {
            Principal::User(u) if u.role == Role::Admin || u.id == c.trainer => Ok(c),
            _ => Err(ServiceError::Forbidden(
                "auth.forbidden",
                "this view needs the class's trainer",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids() {
        assert_eq!(
            normalise_national_id(" 11010519491231002x ").as_deref(),
            Some("11010519491231002X")
        );
        assert!(normalise_national_id("110105194912310021").is_some());
        assert!(normalise_national_id("123").is_none());
        assert!(normalise_national_id("11010519491231002Y").is_none());
        assert_eq!(mask_national_id("002X", 18), "**************002X");
    }
}
