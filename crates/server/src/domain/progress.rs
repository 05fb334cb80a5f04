//! Derived progress as people read it: a learner's record, a class's progress, the flags report,
//! all read from the facts written at ingest (`domain::credit`), never by replaying receipts.
//! Also the administrator's resolution of a device flag, and rebuilding the facts.
//!
//! The rules themselves are in `domain::credit` and docs/credit.md.

use std::collections::HashMap;

use hearth_protocol::wire::{
    AttestationJson, CertificateJson, ClassProgress, DayCredit, FlagResolution as FlagJson,
    FlaggedDevice, FlagsReport, LearnerRecord, OverlapFlag, RejectedReceipt, RejectionCount,
    StudyOverlap, WithheldCredit, WithheldFlag,
};
use hearth_protocol::{DeviceId, LearnerId};
use uuid::Uuid;

use super::credit::facts::FACTS_VERSION;
use super::credit::record::course_progress;
use super::credit::{DeviceFacts, LearnerFacts, Policy, Withhold};
use super::{Service, ServiceError, ServiceResult, mask_national_id};
use crate::env::random_bytes;
use crate::store::{Certificate, Class, FlagResolution, Learner, StoredReceipt};

/// Rejected receipts shown per page of the flags report.
pub const FLAGS_PAGE: u32 = 200;
/// Learners with withheld credit or overlaps shown per page of the flags report.
pub const PEOPLE_PAGE: u32 = 200;

/// `YYYY-MM-DD` of a policy day number.
fn day_label(day: i64) -> String {
    let date = chrono::DateTime::from_timestamp(day * super::credit::DAY_MS / 1000, 0)
        .map(|d| d.date_naive());
    date.map_or_else(|| day.to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// One page of the flags report's people.
pub(super) struct PeoplePage {
    pub anomalies: Vec<hearth_protocol::wire::AnomalyFlag>,
    pub overlaps: Vec<OverlapFlag>,
    pub withheld: Vec<WithheldFlag>,
    /// The last learner of a full page: read the next page after them.
    pub next_after: Option<LearnerId>,
}

fn withheld_json(f: &LearnerFacts) -> Vec<WithheldCredit> {
    f.withheld
        .iter()
        .map(|(code, w)| WithheldCredit {
            code: code.clone(),
            message: Withhold::from_code(code)
                .map_or("", |w| w.message())
                .to_owned(),
            receipts: w.receipts,
            ms: w.ms,
        })
        .collect()
}

fn overlaps_json(f: &LearnerFacts, policy: &Policy) -> Vec<StudyOverlap> {
    f.overlaps
        .iter()
        .filter(|(_, (ms, _))| *ms >= policy.overlap_report_ms)
        .map(
            |(&(device_id, other_device_id), &(overlap_ms, first_ms))| StudyOverlap {
                device_id,
                other_device_id,
                overlap_ms,
                first_ms,
            },
        )
        .collect()
}

impl Service {
    /// The facts of a person (empty when they have no receipts yet).
    pub fn facts_of(&self, person: LearnerId) -> ServiceResult<LearnerFacts> {
        Ok(self
            .store
            .learner_facts(person)?
            .and_then(|b| LearnerFacts::decode(&b))
            .unwrap_or_default())
    }

    /// `learner`'s record, from the facts derived at ingest.
    pub fn learner_record(&self, learner: &Learner) -> ServiceResult<LearnerRecord> {
        let facts = self.facts_of(learner.id)?;
        let policy = self.policy_of(learner.org)?;
        let catalog = self.published_courses()?;
        let mut courses = Vec::new();
        let mut total = 0;
        for course in &facts.courses {
            let latest = catalog.latest(course).map(|v| &v.manifest);
            let c = course_progress(course, &facts, latest, &policy);
            total += c.credited_ms;
            courses.push(c);
        }
        let certificates = self
            .store
            .certificates_of_learner(learner.id)?
            .into_iter()
            .map(|c| CertificateJson {
                serial: c.serial,
                course: c.course,
                learner_id: c.learner,
                issued_ms: c.issued_ms,
            })
            .collect();
        Ok(LearnerRecord {
            learner_id: learner.id,
            name: learner.name.clone(),
            national_id_masked: mask_national_id(&learner.national_id_tail, 18),
            credited_ms: total,
            courses,
            certificates,
            flagged_receipts: facts.impossible,
            overlaps: overlaps_json(&facts, &policy),
            days: facts
                .days
                .iter()
                .map(|(&d, &ms)| DayCredit {
                    day: day_label(d),
                    credited_ms: ms,
                })
                .collect(),
            anomalies: super::flags::learner_flags(learner.id, &facts, &catalog),
            withheld: withheld_json(&facts),
        })
    }

    pub(crate) fn new_certificate(&self, learner: LearnerId, course: &str) -> Certificate {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let raw: [u8; 12] = random_bytes(&*self.random);
        let tail: String = raw
            .iter()
            .map(|b| ALPHABET[usize::from(b % 32)] as char)
            .collect();
        Certificate {
            serial: format!("HC-{tail}"),
            learner,
            course: course.into(),
            issued_ms: self.now(),
        }
    }

    pub fn class_progress(&self, class: &Class) -> ServiceResult<ClassProgress> {
        let learners = self
            .store
            .learners_of_class(class.id)?
            .iter()
            .map(|l| self.learner_record(l))
            .collect::<ServiceResult<Vec<_>>>()?;
        Ok(ClassProgress {
            class_id: class.id.to_string(),
            name: class.name.clone(),
            learners,
            attestations: self.attestations(class)?,
        })
    }

    /// The class's trainer attestations that count (see `domain::credit`), each with the
    /// learners it names who were studying on another device at that moment.
    fn attestations(&self, class: &Class) -> ServiceResult<Vec<AttestationJson>> {
        let trainer = self.facts_of(LearnerId(class.trainer))?;
        let mut learners: HashMap<LearnerId, LearnerFacts> = HashMap::new();
        let mut out = Vec::new();
        for a in trainer.attestations.iter().filter(|a| a.class == class.id) {
            let mut elsewhere = Vec::new();
            for &l in &a.present {
                let f = match learners.entry(l) {
                    std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => v.insert(self.facts_of(l)?),
                };
                // A minute either side: the attestation's place in time is as exact as the
                // anchors allow.
                if f.studied_elsewhere(a.device, a.placed_ms - 60_000, a.placed_ms + 60_000) {
                    elsewhere.push(l);
                }
            }
            out.push(AttestationJson {
                receipt_id: a.receipt.to_hex(),
                device_id: a.device,
                trainer_id: LearnerId(class.trainer),
                wall_ms: a.wall_ms,
                received_ms: a.received_ms,
                present: a.present.clone(),
                studying_elsewhere: elsewhere,
            });
        }
        out.sort_by_key(|a| (a.received_ms, a.wall_ms));
        Ok(out)
    }

    /// The administrator's flags report: flagged devices, rejections (counted per device and
    /// code, one page of kept envelopes before `before`), one page of people (after `after`)
    /// with withheld credit or overlapping study, and attestations naming someone studying
    /// elsewhere.
    pub fn flags_report(
        &self,
        org: Uuid,
        before: Option<i64>,
        after: Option<LearnerId>,
    ) -> ServiceResult<FlagsReport> {
        let policy = self.policy_of(org)?;
        let devices = self
            .store
            .flagged_devices(org)?
            .into_iter()
            .map(|(d, f)| FlaggedDevice {
                device_id: d.id,
                label: d.label,
                code: f.code,
                detail: f.detail,
                flagged_ms: f.flagged_ms,
                resolved: f.resolved.map(|r| FlagJson {
                    by: r.by,
                    reason: r.reason,
                    resolved_ms: r.resolved_ms,
                }),
            })
            .collect();
        let page = self.store.rejections(org, before, FLAGS_PAGE)?;
        let next_before = (page.len() == FLAGS_PAGE as usize)
            .then(|| page.last().map(|(c, _)| *c))
            .flatten();
        let rejections = page
            .into_iter()
            .map(|(_, r)| RejectedReceipt {
                device_id: r.device,
                code: r.code,
                seq: r.seq,
                received_ms: r.received_ms,
                envelope: hex::encode(&r.envelope),
            })
            .collect();
        let rejection_counts = self
            .store
            .rejection_counts(org)?
            .into_iter()
            .map(|(device_id, code, count, kept)| RejectionCount {
                device_id,
                code,
                count,
                kept,
            })
            .collect();
        let catalog = self.published_courses()?;
        let mut anomalies = Vec::new();
        if after.is_none() {
            // Device flags once, on the first page of people.
            for (device, bytes) in self.store.device_facts_of_org(org)? {
                if let Some(f) = DeviceFacts::decode(&bytes) {
                    anomalies.extend(super::flags::device_flags(&device, &f.evidence));
                }
            }
        }
        let page = self.flags_people_page(org, after, &catalog, &policy)?;
        anomalies.extend(page.anomalies);
        let (overlaps, withheld, next_after) = (page.overlaps, page.withheld, page.next_after);
        let mut attestations = Vec::new();
        for class in self.store.classes_of_org(org)? {
            attestations.extend(
                self.attestations(&class)?
                    .into_iter()
                    .filter(|a| !a.studying_elsewhere.is_empty()),
            );
        }
        Ok(FlagsReport {
            devices,
            rejections,
            overlaps,
            rejection_counts,
            withheld,
            attestations,
            anomalies,
            next_before,
            next_after,
        })
    }

    /// One page of the people of `org` with withheld credit, overlapping study or learner
    /// anomaly flags, after the learner `after` (the people part of the flags report).
    pub(super) fn flags_people_page(
        &self,
        org: Uuid,
        after: Option<LearnerId>,
        catalog: &super::credit::book::Catalog,
        policy: &Policy,
    ) -> ServiceResult<PeoplePage> {
        let mut anomalies = Vec::new();
        let mut overlaps = Vec::new();
        let mut withheld = Vec::new();
        let people = self.store.flagged_people(org, after, PEOPLE_PAGE)?;
        let next_after = (people.len() == PEOPLE_PAGE as usize)
            .then(|| people.last().map(|(id, _)| *id))
            .flatten();
        for (id, bytes) in people {
            let Some(f) = LearnerFacts::decode(&bytes) else {
                continue;
            };
            let Some(l) = self.store.learner(id)? else {
                continue;
            };
            anomalies.extend(super::flags::learner_flags(id, &f, catalog));
            let o = overlaps_json(&f, policy);
            if !o.is_empty() {
                overlaps.push(OverlapFlag {
                    learner_id: id,
                    name: l.name.clone(),
                    overlaps: o,
                });
            }
            if !f.withheld.is_empty() {
                withheld.push(WithheldFlag {
                    learner_id: id,
                    name: l.name,
                    withheld: withheld_json(&f),
                });
            }
        }
        Ok(PeoplePage {
            anomalies,
            overlaps,
            withheld,
            next_after,
        })
    }

    /// An administrator resolves a device's flag (`hearth-server resolve-flag`): the device
    /// earns credit again, and what it recorded while flagged is credited, since the facts of its
    /// organisation are derived again under the resolved flag.
    pub fn resolve_flag(&self, device: DeviceId, by: &str, reason: &str) -> ServiceResult<()> {
        let reason = reason.trim();
        if reason.is_empty() || by.trim().is_empty() {
            return Err(ServiceError::Invalid(
                "flag.reason_required",
                "say who resolves the flag and why".into(),
            ));
        }
        let d = self
            .store
            .device(device)?
            .ok_or(ServiceError::NotFound("device.not_found", "no such device"))?;
        let res = FlagResolution {
            by: by.trim().to_owned(),
            reason: reason.to_owned(),
            resolved_ms: self.now(),
        };
        if !self.store.resolve_flag(device, &res)? {
            return Err(ServiceError::Conflict(
                "flag.not_flagged",
                "the device has no unresolved flag",
            ));
        }
        tracing::warn!(device = %device, by = %res.by, reason = %res.reason, "device flag resolved");
        self.rebuild_facts(Some(d.org))
    }

    /// Derives the facts again from every stored receipt (of one organisation, or all), device
    /// by device in chain order, in one transaction.
    pub fn rebuild_facts(&self, org: Option<Uuid>) -> ServiceResult<()> {
        let catalog = self.published_courses()?;
        let mut classes = HashMap::new();
        let mut cards = HashMap::new();
        let mut policies: HashMap<Uuid, Policy> = HashMap::new();
        let orgs: Vec<Uuid> = match org {
            Some(o) => vec![o],
            None => self.store.orgs()?.into_iter().map(|o| o.id).collect(),
        };
        for o in &orgs {
            for c in self.store.classes_of_org(*o)? {
                classes.insert(c.id, (c.org, c.trainer));
            }
            // One query a learner: a rebuild is rare (a new facts version, a flag resolved).
            for l in self.store.learners_of_org(*o)? {
                let of = self.store.cards_of(l.id)?;
                if !of.is_empty() {
                    cards.insert(l.id, of);
                }
            }
            policies.insert(*o, self.policy_of(*o)?);
        }
        let book = super::credit::book::LoadedBook {
            catalog,
            classes,
            cards,
        };
        self.store.rebuild_facts(&mut |tx| {
            tx.clear_facts(org)?;
            for (device, flag) in tx.devices(org)? {
                let flag = flag.filter(|f| f.is_active());
                let policy = policies.get(&device.org).cloned().unwrap_or_default();
                let mut from = 1;
                loop {
                    let page: Vec<StoredReceipt> = tx.chain_page(device.id, from, 1000)?;
                    let Some(last) = page.last() else { break };
                    from = last.seq + 1;
                    self.fold_facts(tx, &device, flag.as_ref(), &page, &book, &policy)?;
                }
            }
            if org.is_none() {
                tx.set_facts_version(FACTS_VERSION)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Sets an organisation's daily cap on credited study and derives its credit again.
    pub fn set_daily_cap(&self, org: Uuid, hours: f64) -> ServiceResult<()> {
        if !(hours.is_finite() && hours > 0.0 && hours <= 24.0) {
            return Err(ServiceError::Invalid(
                "policy.invalid_cap",
                "the daily cap is more than 0 and at most 24 hours".into(),
            ));
        }
        self.require_org(org)?;
        self.store
            .set_org_daily_cap(org, (hours * 3_600_000.0).round() as u64)?;
        self.rebuild_facts(Some(org))
    }

    /// Rebuilds the facts when they were derived by other rules (or never, after a migration).
    pub fn ensure_facts(&self) -> ServiceResult<()> {
        if self.store.facts_version()? != FACTS_VERSION {
            tracing::info!("deriving credit facts from the stored receipts");
            self.rebuild_facts(None)?;
        }
        Ok(())
    }
}
