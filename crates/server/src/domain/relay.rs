//! Receipts carried by someone other than the device that signed them: a USB stick imported by
//! an administrator (`hearth-server import-receipts`), or a trainer's kiosk relaying the
//! receipts of the room's other devices (`POST /v1/sync/bundle`).
//!
//! Each section of a bundle is verified under its own device's enrolled key and then ingested
//! exactly like that device's own upload, so a carrier can neither alter nor invent receipts,
//! and a later direct sync of the same receipts counts them as duplicates.

use hearth_protocol::DeviceId;
use hearth_protocol::bundle::{MAX_BUNDLE_RECEIPTS, decode_bundle_with};
use uuid::Uuid;

use super::ingest::{IngestOutcome, RejectBudget};
use super::{Service, ServiceError, ServiceResult};

/// What happened to one device's section.
#[derive(Debug)]
pub struct SectionOutcome {
    pub device: DeviceId,
    /// The ingest outcome, or the code of why the whole section was refused.
    pub result: Result<IngestOutcome, &'static str>,
}

impl Service {
    /// Ingests a receipt bundle. `carrier_org` is the organisation of whoever carries it
    /// (`None`: the service's own administrator on the command line); a carrier may only carry
    /// devices of its own organisation.
    pub fn ingest_bundle(
        &self,
        carrier_org: Option<Uuid>,
        bytes: &[u8],
    ) -> ServiceResult<Vec<SectionOutcome>> {
        // A relayed bundle arrives through the API and is bounded like any request; a USB stick
        // imported by the service's own administrator may carry a whole term of a classroom.
        let max_receipts = match carrier_org {
            Some(_) => MAX_BUNDLE_RECEIPTS,
            None => MAX_BUNDLE_RECEIPTS * 50,
        };
        let sections = decode_bundle_with(bytes, max_receipts)
            .map_err(|e| ServiceError::Invalid(e.code(), e.to_string()))?;
        let mut out = Vec::with_capacity(sections.len());
        // One budget for the whole bundle: what one request may store of rejected receipts.
        let mut budget = RejectBudget::default();
        for s in sections {
            let result = match self.store.device(s.device)? {
                None => Err("device.unknown"),
                Some(d) if carrier_org.is_some_and(|org| org != d.org) => Err("auth.wrong_org"),
                Some(d) => Ok(self.ingest_within(&d, s.envelopes, &mut budget)?),
            };
            out.push(SectionOutcome {
                device: s.device,
                result,
            });
        }
        Ok(out)
    }
}
