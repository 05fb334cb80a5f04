//! Review of subsidy claims (补贴申领审核, issue #15 item 5).
//!
//! An institution's administrator submits a class's claim: the service makes the signed class
//! claim pack (`domain::claim`) at that moment and keeps its bytes frozen with their SHA-256,
//! the class, who submitted it and when, and the totals it showed (learners, credited hours,
//! certificates, unresolved flags of its learners). The supervisor of the institution's region,
//! or of a region above it (`domain::supervision`), reads it, downloads the frozen pack (it
//! verifies offline with `hearth-server verify-claim`) and approves it, or rejects it with a
//! reason. A decision is final. A rejected class may submit again (a new claim); a class with a
//! claim pending (`claim.pending`) or approved (`claim.approved`) may not.
//!
//! Who sees a claim: the administrators of its institution and the supervisors whose region
//! covers it; anyone else gets `claim.not_found`, as if it did not exist. Trainers see no
//! claims (`auth.forbidden`). Submitting, approving and rejecting (with the reason) are written
//! to the audit log of the person's organisation.

use std::collections::{BTreeSet, HashMap};

use hearth_protocol::LearnerId;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::audit::Actor;
use super::flag_review::ConsoleFlag;
use super::{Service, ServiceError, ServiceResult, sha256};
use crate::store::{Claim, ClaimDecision, Role, StoreError, User};

/// The longest rejection reason, in characters.
pub const REASON_MAX: usize = 1000;

/// A claim as the console shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimJson {
    pub id: Uuid,
    pub org_id: Uuid,
    pub institution: String,
    pub class_id: Uuid,
    pub class_name: String,
    pub submitted_by: Uuid,
    pub submitted_by_name: String,
    pub submitted_ms: i64,
    /// Hex SHA-256 of the frozen pack's bytes (the file downloaded).
    pub pack_sha256: String,
    pub learners: u64,
    pub credited_ms: u64,
    pub certificates: u64,
    /// Unresolved flags of the class's learners when it was submitted.
    pub open_flags: u64,
    /// `pending`, `approved` or `rejected`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_ms: Option<i64>,
}

/// One learner of a claim: from the frozen pack, with their flags open now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimLearner {
    pub learner_id: LearnerId,
    pub name: String,
    pub national_id_masked: String,
    pub credited_ms: u64,
    /// Certificates in the pack that were not revoked.
    pub certificates: u64,
    pub open_flags: Vec<ClaimFlag>,
}

/// An unresolved flag of a claim's learner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimFlag {
    pub key: String,
    pub kind: &'static str,
    pub code: String,
    pub detail: String,
}

/// A claim with its learners.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimDetail {
    #[serde(flatten)]
    pub claim: ClaimJson,
    pub learner_rows: Vec<ClaimLearner>,
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("claim.not_found", "no such claim")
}

fn forbidden() -> ServiceError {
    ServiceError::Forbidden(
        "auth.forbidden",
        "claims are for an institution's administrators and its supervisors",
    )
}

/// The open flags of `org` about any of `learners`.
fn open_flags_of(flags: &[ConsoleFlag], learners: &BTreeSet<LearnerId>) -> Vec<ConsoleFlag> {
    flags
        .iter()
        .filter(|f| f.resolution.is_none() && f.learner_ids.iter().any(|l| learners.contains(l)))
        .cloned()
        .collect()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn unrevoked(certificates: &Value) -> u64 {
    certificates.as_array().map_or(0, |a| {
        a.iter().filter(|c| c["revoked"].is_null()).count() as u64
    })
}

impl Service {
    /// The organisations whose claims `user` sees: an administrator's own, a supervisor's
    /// region's; `auth.forbidden` for anyone else.
    fn claim_orgs(&self, user: &User) -> ServiceResult<Vec<Uuid>> {
        match user.role {
            Role::Admin => Ok(vec![user.org]),
            Role::Supervisor => Ok(self
                .supervisor_scope(user)?
                .orgs
                .into_iter()
                .map(|o| o.id)
                .collect()),
            _ => Err(forbidden()),
        }
    }

    fn claim_json(&self, c: Claim, names: &mut HashMap<Uuid, String>) -> ServiceResult<ClaimJson> {
        let mut name_of = |svc: &Service, id: Uuid, org: bool| -> ServiceResult<String> {
            if let Some(n) = names.get(&id) {
                return Ok(n.clone());
            }
            let n = if org {
                svc.store.org(id)?.map(|o| o.name)
            } else {
                svc.store.user(id)?.map(|u| u.name)
            }
            .unwrap_or_default();
            names.insert(id, n.clone());
            Ok(n)
        };
        let institution = name_of(self, c.org, true)?;
        let submitted_by_name = name_of(self, c.submitted_by, false)?;
        let decided_by_name = match &c.decision {
            Some(d) => Some(name_of(self, d.by, false)?),
            None => None,
        };
        let state = match &c.decision {
            None => "pending",
            Some(d) if d.approved => "approved",
            Some(_) => "rejected",
        };
        Ok(ClaimJson {
            id: c.id,
            org_id: c.org,
            institution,
            class_id: c.class,
            class_name: c.class_name,
            submitted_by: c.submitted_by,
            submitted_by_name,
            submitted_ms: c.submitted_ms,
            pack_sha256: hex::encode(c.pack_sha256),
            learners: c.learners,
            credited_ms: c.credited_ms,
            certificates: c.certificates,
            open_flags: c.open_flags,
            state,
            reason: c.decision.as_ref().and_then(|d| d.reason.clone()),
            decided_by: c.decision.as_ref().map(|d| d.by),
            decided_by_name,
            decided_ms: c.decision.as_ref().map(|d| d.decided_ms),
        })
    }

    /// An administrator submits the claim of a class of their organisation: the signed pack is
    /// made now and frozen. `class.not_found` for another organisation's class,
    /// `claim.pending`/`claim.approved` when the class has such a claim.
    pub fn submit_claim(&self, admin: &User, class: Uuid) -> ServiceResult<ClaimJson> {
        if admin.role != Role::Admin {
            return Err(ServiceError::Forbidden(
                "auth.forbidden",
                "only an administrator may submit a claim",
            ));
        }
        let c = self
            .store
            .class(class)?
            .filter(|c| c.org == admin.org)
            .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
        let open = |claims: &[Claim]| -> ServiceResult<()> {
            for other in claims.iter().filter(|o| o.class == c.id) {
                match &other.decision {
                    None => {
                        return Err(ServiceError::Conflict(
                            "claim.pending",
                            "the class has a claim pending review",
                        ));
                    }
                    Some(d) if d.approved => {
                        return Err(ServiceError::Conflict(
                            "claim.approved",
                            "the class's claim is approved already",
                        ));
                    }
                    Some(_) => {}
                }
            }
            Ok(())
        };
        open(&self.store.claims_of_orgs(&[c.org])?)?;
        let pack = self.class_claim_pack(c.id)?;
        let bytes = pack.to_string().into_bytes();
        let learners = pack["learners"].as_array().cloned().unwrap_or_default();
        let ids: BTreeSet<LearnerId> = learners
            .iter()
            .filter_map(|l| serde_json::from_value(l["learnerId"].clone()).ok())
            .collect();
        let flags = self.console_flags(c.org)?;
        let claim = Claim {
            id: self.new_uuid(),
            org: c.org,
            class: c.id,
            class_name: c.name.clone(),
            submitted_by: admin.id,
            submitted_ms: self.now(),
            pack_sha256: sha256(&bytes),
            learners: learners.len() as u64,
            credited_ms: learners
                .iter()
                .map(|l| u64_of(&l["record"]["creditedMs"]))
                .sum(),
            certificates: learners.iter().map(|l| unrevoked(&l["certificates"])).sum(),
            open_flags: open_flags_of(&flags, &ids).len() as u64,
            decision: None,
        };
        self.store.put_claim(&claim, &bytes).map_err(|e| match e {
            // Another submission of the same class won the race.
            StoreError::Conflict(_) => {
                ServiceError::Conflict("claim.pending", "the class has a claim pending review")
            }
            e => e.into(),
        })?;
        self.audit(
            c.org,
            Actor::User(admin.id),
            "claim.submit",
            json!({
                "claim": claim.id, "class": c.id, "className": c.name,
                "packSha256": hex::encode(claim.pack_sha256), "learners": claim.learners,
                "creditedMs": claim.credited_ms, "certificates": claim.certificates,
                "openFlags": claim.open_flags,
            }),
        )?;
        tracing::info!(claim = %claim.id, class = %c.id, "claim submitted");
        self.claim_json(claim, &mut HashMap::new())
    }

    /// The claims `user` may see: pending first (oldest first, the order to review them in),
    /// then decided ones, newest first.
    pub fn claims_for(&self, user: &User) -> ServiceResult<Vec<ClaimJson>> {
        let orgs = self.claim_orgs(user)?;
        let mut claims = self.store.claims_of_orgs(&orgs)?;
        claims.sort_by(|a, b| {
            a.decision
                .is_some()
                .cmp(&b.decision.is_some())
                .then_with(|| {
                    if a.decision.is_none() {
                        a.submitted_ms.cmp(&b.submitted_ms)
                    } else {
                        b.submitted_ms.cmp(&a.submitted_ms)
                    }
                })
                .then(a.id.cmp(&b.id))
        });
        let mut names = HashMap::new();
        claims
            .into_iter()
            .map(|c| self.claim_json(c, &mut names))
            .collect()
    }

    /// A claim `user` may see; `claim.not_found` otherwise.
    pub fn claim_for(&self, user: &User, id: Uuid) -> ServiceResult<Claim> {
        let orgs = self.claim_orgs(user)?;
        self.store
            .claim(id)?
            .filter(|c| orgs.contains(&c.org))
            .ok_or_else(not_found)
    }

    /// A claim with its learners (from the frozen pack) and their flags open now.
    pub fn claim_detail(&self, user: &User, id: Uuid) -> ServiceResult<ClaimDetail> {
        let claim = self.claim_for(user, id)?;
        let bytes = self.store.claim_pack(id)?.ok_or_else(not_found)?;
        let pack: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ServiceError::Internal(format!("a frozen claim pack: {e}")))?;
        let flags = self.console_flags(claim.org)?;
        let mut rows = Vec::new();
        for l in pack["learners"].as_array().into_iter().flatten() {
            let Ok(learner_id) = serde_json::from_value::<LearnerId>(l["learnerId"].clone()) else {
                continue;
            };
            let open = open_flags_of(&flags, &BTreeSet::from([learner_id]));
            rows.push(ClaimLearner {
                learner_id,
                name: l["name"].as_str().unwrap_or_default().to_owned(),
                national_id_masked: l["nationalIdMasked"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                credited_ms: u64_of(&l["record"]["creditedMs"]),
                certificates: unrevoked(&l["certificates"]),
                open_flags: open
                    .into_iter()
                    .map(|f| ClaimFlag {
                        key: f.key,
                        kind: f.kind,
                        code: f.code,
                        detail: f.detail,
                    })
                    .collect(),
            });
        }
        Ok(ClaimDetail {
            claim: self.claim_json(claim, &mut HashMap::new())?,
            learner_rows: rows,
        })
    }

    /// The frozen pack's bytes, exactly as submitted.
    pub fn claim_pack_bytes(&self, user: &User, id: Uuid) -> ServiceResult<Vec<u8>> {
        self.claim_for(user, id)?;
        self.store.claim_pack(id)?.ok_or_else(not_found)
    }

    /// A supervisor approves (`reason` unused) or rejects (`reason` required) a claim of their
    /// region. `claim.already_decided` when it has a decision.
    pub fn decide_claim(
        &self,
        supervisor: &User,
        id: Uuid,
        approve: bool,
        reason: Option<&str>,
    ) -> ServiceResult<ClaimJson> {
        if supervisor.role != Role::Supervisor {
            return Err(ServiceError::Forbidden(
                "auth.forbidden",
                "only a supervisor of the institution's region may decide a claim",
            ));
        }
        let claim = self.claim_for(supervisor, id)?;
        let reason = if approve {
            None
        } else {
            let r = reason.map(str::trim).unwrap_or_default();
            if r.is_empty() || r.chars().count() > REASON_MAX {
                return Err(ServiceError::Invalid(
                    "claim.invalid_reason",
                    format!("a rejection needs a reason of 1 to {REASON_MAX} characters"),
                ));
            }
            Some(r.to_owned())
        };
        let decision = ClaimDecision {
            approved: approve,
            reason,
            by: supervisor.id,
            decided_ms: self.now(),
        };
        if !self.store.decide_claim(id, &decision)? {
            return Err(ServiceError::Conflict(
                "claim.already_decided",
                "the claim has a decision already",
            ));
        }
        self.audit(
            supervisor.org,
            Actor::User(supervisor.id),
            if approve {
                "claim.approve"
            } else {
                "claim.reject"
            },
            json!({
                "claim": id, "org": claim.org, "class": claim.class,
                "packSha256": hex::encode(claim.pack_sha256), "reason": decision.reason,
            }),
        )?;
        tracing::info!(claim = %id, approve, "claim decided");
        self.claim_json(
            Claim {
                decision: Some(decision),
                ..claim
            },
            &mut HashMap::new(),
        )
    }
}
