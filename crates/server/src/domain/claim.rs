//! The subsidy claim pack (补贴申领材料, issue #14): for a class or one learner, one JSON file
//! signed by the issuer key (`eddsa-jcs-2022`, like certificates) holding the roster with masked
//! ID numbers, each learner's derived record (credited hours per course and per day, exam
//! results, withheld credit and flags), the receipt-chain heads the hours were derived from,
//! the signed certificates, and the class's attendance attestations. `hearth-server
//! verify-claim FILE` checks it offline with the published issuer key.

use hearth_protocol::LearnerId;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::store::Learner;

impl Service {
    pub(crate) fn claim_learner(&self, learner: &Learner) -> ServiceResult<Value> {
        let record = self.learner_record(learner)?;
        let certificates: Vec<Value> = self
            .certificates_of(learner.id)?
            .into_iter()
            .map(|c| {
                json!({
                    "revoked": c.revoked.as_ref().map(|(ms, reason)| json!({"ms": ms, "reason": reason})),
                    "credential": c.credential,
                })
            })
            .collect();
        let credited_ms = record.credited_ms;
        Ok(json!({
            "learnerId": learner.id,
            "name": learner.name,
            "nationalIdMasked": record.national_id_masked,
            "nationalIdHash": format!("hmac-sha256:{}", hex::encode(learner.national_id_mac)),
            "creditedHours": format!("{:.1}", credited_ms as f64 / 3_600_000.0),
            "chainHeads": self.chain_evidence(learner.id)?,
            "record": record,
            "certificates": certificates,
        }))
    }

    fn claim_pack_of(
        &self,
        org: Uuid,
        class: Option<Value>,
        learners: &[Learner],
        attestations: Value,
    ) -> ServiceResult<Value> {
        let now = self.now();
        let institution = self.store.org(org)?.map(|o| o.name).unwrap_or_default();
        let id: [u8; 16] = crate::env::random_bytes(&*self.random);
        let pack = json!({
            "@context": [hearth_protocol::credential::VC_CONTEXT_V2],
            "id": format!("urn:uuid:{}", Uuid::from_bytes(id)),
            "type": ["HearthClaimPack"],
            "issuer": self.issuer_id(),
            "generated": super::certificate::china_date(now),
            "generatedMs": now,
            "institution": institution,
            "class": class,
            "learners": learners.iter().map(|l| self.claim_learner(l)).collect::<ServiceResult<Vec<_>>>()?,
            "attestations": attestations,
        });
        self.sign_document(pack, now)
    }

    /// The signed claim pack of a class (the caller checked the right to read it).
    pub fn class_claim_pack(&self, class: Uuid) -> ServiceResult<Value> {
        let c = self
            .store
            .class(class)?
            .ok_or(ServiceError::NotFound("class.not_found", "no such class"))?;
        let progress = self.class_progress(&c)?;
        let learners = self.store.learners_of_class(class)?;
        self.claim_pack_of(
            c.org,
            Some(json!({"id": c.id, "name": c.name})),
            &learners,
            serde_json::to_value(&progress.attestations)
                .map_err(|e| ServiceError::Internal(e.to_string()))?,
        )
    }

    /// The signed claim pack of one learner.
    pub fn learner_claim_pack(&self, learner: LearnerId) -> ServiceResult<Value> {
        let l = self.store.learner(learner)?.ok_or(ServiceError::NotFound(
            "learner.not_found",
            "no such learner",
        ))?;
        self.claim_pack_of(l.org, None, std::slice::from_ref(&l), json!([]))
    }
}
