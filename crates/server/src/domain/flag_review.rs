//! The console's flags (issue #15): every flag of the flags report as one list, each named by a
//! stable key, and an administrator's resolution of one (a note, who, when).
//!
//! A resolution is a record of review: it changes no credit. Credit is derived from the receipts
//! alone (`domain::credit`); lifting a device's fork flag so that it earns again stays the
//! explicit `hearth-server resolve-flag`. A resolved flag stays in the list, marked resolved.
//!
//! Keys: `fork:<device>`, `rejected:<device>:<code>`, `overlap:<learner>:<device>:<device>`,
//! `withheld:<learner>:<code>`, `attestation:<receipt>`, `anomaly:<code>:<device or learners>`.

use std::collections::HashMap;

use hearth_protocol::LearnerId;
use serde::Serialize;
use uuid::Uuid;

use super::{Service, ServiceError, ServiceResult};
use crate::store::ResolvedFlag;

/// The longest resolution note, in characters.
pub const NOTE_MAX: usize = 1000;

/// One flag as the console lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleFlag {
    pub key: String,
    /// `fork`, `rejected`, `overlap`, `withheld`, `attestation` or `anomaly`.
    pub kind: &'static str,
    /// The rule's code (`chain.fork`, `receipt.bad_signature`, `anomaly.kiosk_uniform_sessions`…).
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    pub learner_ids: Vec<LearnerId>,
    /// The learners' names, as far as they are of this organisation.
    pub names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ResolutionJson>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolutionJson {
    pub note: String,
    pub by: Uuid,
    pub by_name: String,
    pub resolved_ms: i64,
}

fn flag(kind: &'static str, key: String, code: String, detail: String) -> ConsoleFlag {
    ConsoleFlag {
        key,
        kind,
        code,
        detail,
        device_id: None,
        learner_ids: Vec::new(),
        names: Vec::new(),
        resolution: None,
    }
}

impl Service {
    /// Every flag of `org` (the first page of the flags report), each with its resolution.
    pub fn console_flags(&self, org: Uuid) -> ServiceResult<Vec<ConsoleFlag>> {
        self.org_flags(org, false)
    }

    /// Every flag of `org` with its resolution, of every page of people when `all_pages` (the
    /// supervisor's statistics count them all), of the first otherwise.
    pub(super) fn org_flags(&self, org: Uuid, all_pages: bool) -> ServiceResult<Vec<ConsoleFlag>> {
        let mut report = self.flags_report(org, None, None)?;
        if all_pages && report.next_after.is_some() {
            let catalog = self.published_courses()?;
            let policy = self.policy_of(org)?;
            let mut after = report.next_after;
            while let Some(a) = after {
                let page = self.flags_people_page(org, Some(a), &catalog, &policy)?;
                report.anomalies.extend(page.anomalies);
                report.overlaps.extend(page.overlaps);
                report.withheld.extend(page.withheld);
                after = page.next_after;
            }
        }
        let mut out = Vec::new();
        for d in report.devices {
            let mut f = flag(
                "fork",
                format!("fork:{}", d.device_id),
                d.code,
                match d.label {
                    Some(l) => format!("{l}: {}", d.detail),
                    None => d.detail,
                },
            );
            f.device_id = Some(d.device_id.to_string());
            out.push(f);
        }
        for r in report.rejection_counts {
            let mut f = flag(
                "rejected",
                format!("rejected:{}:{}", r.device_id, r.code),
                r.code,
                format!("{} refused, {} kept", r.count, r.kept),
            );
            f.device_id = Some(r.device_id.to_string());
            out.push(f);
        }
        for o in report.overlaps {
            for s in o.overlaps {
                let mut f = flag(
                    "overlap",
                    format!(
                        "overlap:{}:{}:{}",
                        o.learner_id, s.device_id, s.other_device_id
                    ),
                    "study.overlap".into(),
                    format!(
                        "{} s on two devices ({} and {})",
                        s.overlap_ms / 1000,
                        s.device_id,
                        s.other_device_id
                    ),
                );
                f.device_id = Some(s.device_id.to_string());
                f.learner_ids = vec![o.learner_id];
                out.push(f);
            }
        }
        for w in report.withheld {
            for c in w.withheld {
                let mut f = flag(
                    "withheld",
                    format!("withheld:{}:{}", w.learner_id, c.code),
                    c.code,
                    format!("{} ({} receipts, {} s)", c.message, c.receipts, c.ms / 1000),
                );
                f.learner_ids = vec![w.learner_id];
                out.push(f);
            }
        }
        for a in report.attestations {
            let mut f = flag(
                "attestation",
                format!("attestation:{}", a.receipt_id),
                "attestation.studying_elsewhere".into(),
                "named present while studying on another device".into(),
            );
            f.device_id = Some(a.device_id.to_string());
            f.learner_ids = a.studying_elsewhere;
            out.push(f);
        }
        for a in report.anomalies {
            let subject = match a.device_id {
                Some(d) => d.to_string(),
                None => a
                    .learner_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
            };
            let mut f = flag(
                "anomaly",
                format!("anomaly:{}:{subject}", a.code),
                a.code,
                format!("{} {}", a.message, a.detail),
            );
            f.device_id = a.device_id.map(|d| d.to_string());
            f.learner_ids = a.learner_ids;
            out.push(f);
        }
        // Two anomaly flags of one code and subject are one flag to resolve.
        let mut seen = std::collections::HashSet::new();
        out.retain(|f| seen.insert(f.key.clone()));
        let resolutions: HashMap<String, ResolvedFlag> = self
            .store
            .flag_resolutions(org)?
            .into_iter()
            .map(|r| (r.key.clone(), r))
            .collect();
        let mut names: HashMap<Uuid, String> = HashMap::new();
        for f in &mut out {
            // A personal device's flag is about its learner.
            if f.learner_ids.is_empty()
                && let Some(d) = &f.device_id
                && let Ok(id) = Uuid::parse_str(d)
                && let Some(dev) = self.store.device(hearth_protocol::DeviceId(id))?
                && let Some(l) = dev.learner
            {
                f.learner_ids.push(l);
            }
            // (The supervisor's count needs no names.)
            for l in f.learner_ids.iter().filter(|_| !all_pages) {
                if let Some(l) = self.store.learner(*l)?
                    && l.org == org
                {
                    f.names.push(l.name);
                }
            }
            if let Some(r) = resolutions.get(&f.key) {
                let by_name = match names.get(&r.by) {
                    Some(n) => n.clone(),
                    None => {
                        let n = self.store.user(r.by)?.map(|u| u.name).unwrap_or_default();
                        names.insert(r.by, n.clone());
                        n
                    }
                };
                f.resolution = Some(ResolutionJson {
                    note: r.note.clone(),
                    by: r.by,
                    by_name,
                    resolved_ms: r.resolved_ms,
                });
            }
        }
        Ok(out)
    }

    /// An administrator of `org` resolves one of its flags with a note. `flag.not_found` when
    /// `org` has no such flag (another organisation's reads as absent), `flag.already_resolved`
    /// when it has a resolution. Changes no credit.
    pub fn resolve_console_flag(
        &self,
        org: Uuid,
        by: Uuid,
        key: &str,
        note: &str,
    ) -> ServiceResult<ConsoleFlag> {
        let note = note.trim();
        if note.is_empty() || note.chars().count() > NOTE_MAX {
            return Err(ServiceError::Invalid(
                "flag.invalid_note",
                format!("a resolution needs a note of 1 to {NOTE_MAX} characters"),
            ));
        }
        let found = self
            .console_flags(org)?
            .into_iter()
            .find(|f| f.key == key)
            .ok_or(ServiceError::NotFound(
                "flag.not_found",
                "this organisation has no such flag",
            ))?;
        let r = ResolvedFlag {
            org,
            key: found.key.clone(),
            note: note.to_owned(),
            by,
            resolved_ms: self.now(),
        };
        if !self.store.put_flag_resolution(&r)? {
            return Err(ServiceError::Conflict(
                "flag.already_resolved",
                "the flag is resolved already",
            ));
        }
        tracing::info!(%org, key, "flag resolved in the console");
        let by_name = self.store.user(by)?.map(|u| u.name).unwrap_or_default();
        Ok(ConsoleFlag {
            resolution: Some(ResolutionJson {
                note: r.note,
                by,
                by_name,
                resolved_ms: r.resolved_ms,
            }),
            ..found
        })
    }
}
