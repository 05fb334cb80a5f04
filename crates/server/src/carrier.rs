//! Who carried relayed receipts (issue #19): every section of a relayed bundle that was ingested
//! is recorded with the credential that carried it (a kiosk device or a user) or the command
//! line, one row per device and request, so an administrator can tell later whose kiosk or
//! whose USB stick brought a device's receipts in.

use std::collections::HashMap;

use hearth_protocol::DeviceId;

use crate::domain::relay::SectionOutcome;
use crate::domain::{Principal, ReceiptOutcome, Service, ServiceResult};
use crate::store::{RelayRecord, Subject};

impl Service {
    /// Records the carrier of the ingested sections of one bundle (`carrier`: `None` for the
    /// command line). Refused sections stored nothing and are not recorded.
    pub fn record_carrier(
        &self,
        carrier: Option<&Principal>,
        sections: &[SectionOutcome],
    ) -> ServiceResult<()> {
        let now = self.now();
        let carrier = carrier.map(|p| match p {
            Principal::Device(d) => Subject::Device(d.id),
            Principal::User(u) => Subject::User(u.id),
        });
        let mut rows: HashMap<DeviceId, RelayRecord> = HashMap::new();
        for s in sections {
            let Ok(out) = &s.result else { continue };
            let accepted = out
                .results
                .iter()
                .filter(|r| matches!(r, ReceiptOutcome::Accepted))
                .count() as u64;
            if let Some(r) = rows.get_mut(&s.device) {
                r.receipts += out.results.len() as u64;
                r.accepted += accepted;
                continue;
            }
            let Some(d) = self.store.device(s.device)? else {
                continue;
            };
            rows.insert(
                s.device,
                RelayRecord {
                    org: d.org,
                    device: d.id,
                    carrier,
                    received_ms: now,
                    receipts: out.results.len() as u64,
                    accepted,
                },
            );
        }
        if !rows.is_empty() {
            let rows: Vec<RelayRecord> = rows.into_values().collect();
            self.store.record_relays(&rows)?;
        }
        Ok(())
    }
}
