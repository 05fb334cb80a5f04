//! The audit log (issue #15): every action of a person (a sign-in, a failed one, an import, a
//! class made, codes issued…) is appended to its organisation's log, never changed.
//!
//! Each entry carries the SHA-256 of the entry before it, and its own hash covers that and every
//! field of its own:
//!
//! ```text
//! hash = SHA-256("hearth-audit-v1\0" ‖ prev_hash ‖ seq (u64 BE) ‖ at_ms (i64 BE)
//!                ‖ for org, actor, action, detail: length (u32 BE) ‖ bytes)
//! ```
//!
//! The first entry's `prev_hash` is 32 zero bytes. [`Service::verify_audit`] recomputes the
//! chain: an entry edited in the database (its hash no longer matches), removed (a gap in `seq`
//! or a broken link) or inserted is found. The tables also refuse UPDATE and DELETE by trigger.
//! Removing the newest entries leaves a shorter chain that still verifies: anyone who needs to
//! prove the log's length keeps the head hash [`AuditReport::head`] somewhere else.

use serde::Serialize;
use uuid::Uuid;

use super::{Service, ServiceResult, sha256};
use crate::store::AuditEntry;

const DOMAIN: &[u8] = b"hearth-audit-v1\0";

/// Who did something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An administrator or trainer (by the console or a token).
    User(Uuid),
    /// Somebody with the login name typed, who is no known person (failed sign-ins).
    Unknown,
    /// The service's operator on the command line.
    Cli,
    /// An enrolled device (answering a photo audit request).
    Device(hearth_protocol::DeviceId),
}

impl Actor {
    pub fn text(&self) -> String {
        match self {
            Actor::User(u) => format!("user:{u}"),
            Actor::Unknown => "unknown".into(),
            Actor::Cli => "cli".into(),
            Actor::Device(d) => format!("device:{d}"),
        }
    }
}

/// The hash of an entry from its fields (its own `hash` is not read).
pub fn entry_hash(e: &AuditEntry) -> [u8; 32] {
    let mut b = Vec::with_capacity(128 + e.detail.len());
    b.extend_from_slice(DOMAIN);
    b.extend_from_slice(&e.prev_hash);
    b.extend_from_slice(&e.seq.to_be_bytes());
    b.extend_from_slice(&e.at_ms.to_be_bytes());
    for field in [
        e.org.to_string().as_bytes(),
        e.actor.as_bytes(),
        e.action.as_bytes(),
        e.detail.as_bytes(),
    ] {
        b.extend_from_slice(&(field.len() as u32).to_be_bytes());
        b.extend_from_slice(field);
    }
    sha256(&b)
}

/// What [`Service::verify_audit`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    /// Entries read.
    pub entries: u64,
    /// Whether the whole chain holds.
    pub intact: bool,
    /// The first entry (by seq) where it does not.
    pub broken_at: Option<u64>,
    /// Why: `audit.hash_mismatch`, `audit.link_broken`, `audit.gap`.
    pub reason: Option<&'static str>,
    /// Hex SHA-256 of the last entry (keep it elsewhere to prove the length later).
    pub head: Option<String>,
}

impl Service {
    /// Appends an entry to `org`'s audit log. `detail` is JSON.
    pub fn audit(
        &self,
        org: Uuid,
        actor: Actor,
        action: &str,
        detail: serde_json::Value,
    ) -> ServiceResult<AuditEntry> {
        let at_ms = self.now();
        let (actor, action, detail) = (actor.text(), action.to_owned(), detail.to_string());
        Ok(self.store.append_audit(org, &mut |last| {
            let mut e = AuditEntry {
                org,
                seq: last.map_or(1, |l| l.seq + 1),
                at_ms,
                actor: actor.clone(),
                action: action.clone(),
                detail: detail.clone(),
                prev_hash: last.map_or([0; 32], |l| l.hash),
                hash: [0; 32],
            };
            e.hash = entry_hash(&e);
            e
        })?)
    }

    /// A page of `org`'s audit log after `after_seq`.
    pub fn audit_page(
        &self,
        org: Uuid,
        after_seq: u64,
        limit: u32,
    ) -> ServiceResult<Vec<AuditEntry>> {
        Ok(self
            .store
            .audit_entries(org, after_seq, limit.clamp(1, 500))?)
    }

    /// Reads `org`'s whole audit log and checks every link and hash.
    pub fn verify_audit(&self, org: Uuid) -> ServiceResult<AuditReport> {
        let mut report = AuditReport {
            entries: 0,
            intact: true,
            broken_at: None,
            reason: None,
            head: None,
        };
        let (mut prev, mut after, mut expected) = ([0u8; 32], 0u64, 1u64);
        loop {
            let page = self.store.audit_entries(org, after, 1000)?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for e in &page {
                report.entries += 1;
                let problem = if e.seq != expected {
                    Some("audit.gap")
                } else if e.prev_hash != prev {
                    Some("audit.link_broken")
                } else if entry_hash(e) != e.hash {
                    Some("audit.hash_mismatch")
                } else {
                    None
                };
                if let Some(reason) = problem
                    && report.intact
                {
                    report.intact = false;
                    report.broken_at = Some(expected);
                    report.reason = Some(reason);
                }
                // Go on from the entry as stored, so that only the first break is reported.
                expected = e.seq + 1;
                prev = e.hash;
                report.head = Some(hex::encode(e.hash));
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64) -> AuditEntry {
        AuditEntry {
            org: Uuid::nil(),
            seq,
            at_ms: 5,
            actor: "cli".into(),
            action: "x".into(),
            detail: "{}".into(),
            prev_hash: [0; 32],
            hash: [0; 32],
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = entry(1);
        let h = entry_hash(&base);
        type Change = Box<dyn Fn(&mut AuditEntry)>;
        let changes: Vec<Change> = vec![
            Box::new(|e| e.seq = 2),
            Box::new(|e| e.at_ms = 6),
            Box::new(|e| e.actor = "user:x".into()),
            Box::new(|e| e.action = "y".into()),
            Box::new(|e| e.detail = "{\"a\":1}".into()),
            Box::new(|e| e.prev_hash = [1; 32]),
            Box::new(|e| e.org = Uuid::from_u128(1)),
            // Moving a byte from one field to the next changes it too (length prefixes).
            Box::new(|e| {
                e.actor = "clix".into();
                e.action = String::new();
            }),
        ];
        for change in changes {
            let mut e = base.clone();
            change(&mut e);
            assert_ne!(entry_hash(&e), h, "{e:?}");
        }
    }
}
