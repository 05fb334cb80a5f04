//! The learner's electronic training record (电子培训档案, issue #14): every course with its
//! credited hours, hours per day, exam results, certificates, the attendance attestations that
//! name the learner, and the receipt-chain heads, as one JSON document signed by the issuer key
//! (`eddsa-jcs-2022`, checked like a claim pack) and as a PDF.

use hearth_protocol::LearnerId;
use serde_json::{Value, json};

use super::{Service, ServiceError, ServiceResult};

impl Service {
    /// The signed training record of `learner` (the caller checked the right to read it).
    pub fn training_record(&self, learner: LearnerId) -> ServiceResult<Value> {
        let l = self.store.learner(learner)?.ok_or(ServiceError::NotFound(
            "learner.not_found",
            "no such learner",
        ))?;
        let attestations: Vec<Value> = match l.class {
            Some(c) => match self.store.class(c)? {
                Some(class) => self
                    .class_progress(&class)?
                    .attestations
                    .into_iter()
                    .filter(|a| a.present.contains(&l.id))
                    .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
                    .collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        let now = self.now();
        let doc = json!({
            "@context": [hearth_protocol::credential::VC_CONTEXT_V2],
            "type": ["HearthTrainingRecord"],
            "issuer": self.issuer_id(),
            "generated": super::certificate::china_date(now),
            "generatedMs": now,
            "institution": self.store.org(l.org)?.map(|o| o.name).unwrap_or_default(),
            "learner": self.claim_learner(&l)?,
            "attestations": attestations,
        });
        self.sign_document(doc, now)
    }
}
