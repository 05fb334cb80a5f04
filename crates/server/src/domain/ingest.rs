//! Receipt ingest: verify every envelope (outside any lock: it is the only real cost), then place
//! each in the device's chain and store it, in one durable transaction per batch.
//!
//! A receipt that acts on more than its learner's record is applied in the transaction that
//! appends it to the chain, so it is applied exactly once (a receipt is appended once; sent again
//! it is a duplicate) and never lost after its acknowledgement:
//!
//! - `class_assigned` (a trainer assigns work from a kiosk, maybe offline) creates the class's
//!   assignment when the receipt comes from a kiosk of the class's organisation and its learner
//!   is the class's trainer. The assignment's id is derived from the receipt id
//!   (`hearth_protocol::receipt::class_assignment_id`), which the kiosk also uses for its local
//!   copy. Any other `class_assigned` receipt stays in the chain (it is a valid, signed record of
//!   what happened on the device) but creates nothing, and is logged as a warning
//!   (`class_assigned receipt creates no assignment`) with the device, receipt, class and
//!   claimed trainer. Due dates in the past are kept: "sit this exam now" is one. The course is
//!   not checked against the published catalog: the kiosk may hold it from a USB stick.

use std::collections::HashSet;

use hearth_protocol::chain::{self, ChainLink};
use hearth_protocol::receipt::{HEADER_LEN, class_assignment_id};
use hearth_protocol::{
    ChainHead, Envelope, Event, Placement, ReceiptBody, ReceiptId, RejectReason, TimeAnchor,
};

use super::{Service, ServiceResult};
use crate::store::{
    Assignment, ChainTxn, Device, DeviceFlag, RejectionRecord, StoreResult, StoredReceipt,
};

/// The code of a receipt refused because another receipt holds its chain position.
pub const FORK_CODE: &str = "chain.fork";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Accepted,
    Duplicate,
    Pending,
    Rejected {
        code: &'static str,
        seq: Option<u64>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestOutcome {
    pub results: Vec<ReceiptOutcome>,
    pub head: ChainHead,
    pub flagged: bool,
}

enum Checked {
    Good(StoredReceipt),
    Bad {
        code: &'static str,
        envelope: Vec<u8>,
    },
}

/// Anchors already checked in this batch (a batch nearly always carries one or two), so each
/// distinct anchor costs one signature check, not one per receipt.
#[derive(Default)]
struct AnchorCache(Vec<(TimeAnchor, bool)>);

impl AnchorCache {
    fn check(&mut self, svc: &Service, a: &TimeAnchor, device: &Device) -> bool {
        if let Some((_, ok)) = self.0.iter().find(|(k, _)| k == a) {
            return *ok;
        }
        let ok = a.verify(&svc.keys.anchor_public(), device.id).is_ok();
        self.0.push((*a, ok));
        ok
    }
}

impl Service {
    /// Verifies and stores a batch of envelopes from `device`, in the order given (chain order
    /// expected; anything else is sorted out by the chain rules). Idempotent: sending the same
    /// batch again changes nothing and answers `Duplicate` (or `Pending`) for each receipt.
    /// Returns after the batch is durable.
    pub fn ingest(&self, device: &Device, envelopes: Vec<Vec<u8>>) -> ServiceResult<IngestOutcome> {
        self.ingest_within(device, envelopes, &mut RejectBudget::default())
    }

    /// [`Service::ingest`], keeping rejected envelopes for audit only within `budget` (shared by
    /// the sections of one bundle); rejections past it are answered and counted, not stored.
    pub fn ingest_within(
        &self,
        device: &Device,
        envelopes: Vec<Vec<u8>>,
        budget: &mut RejectBudget,
    ) -> ServiceResult<IngestOutcome> {
        let now = self.now();
        let mut anchors = AnchorCache::default();
        let checked: Vec<Checked> = envelopes
            .into_iter()
            .map(|bytes| {
                let keep = bytes.clone();
                match Envelope::from_bytes(bytes).verify(&device.public_key) {
                    Err(r) => Checked::Bad {
                        code: r.code(),
                        envelope: keep,
                    },
                    Ok(v) => {
                        if let Some(a) = &v.body().anchor
                            && !anchors.check(self, &a.anchor, device)
                        {
                            return Checked::Bad {
                                code: RejectReason::BadAnchor.code(),
                                envelope: v.into_envelope_bytes(),
                            };
                        }
                        let b = v.body();
                        let (seq, prev, learner, kind) = (b.seq, b.prev, b.learner, b.event.kind());
                        let id = v.id();
                        Checked::Good(StoredReceipt {
                            device: device.id,
                            seq,
                            id,
                            prev,
                            learner,
                            kind: kind.into(),
                            received_ms: now,
                            envelope: v.into_envelope_bytes(),
                        })
                    }
                }
            })
            .collect();

        let mut results = Vec::new();
        let mut head = ChainHead::EMPTY;
        let mut flagged = false;
        let start_budget = *budget;
        let mut left = start_budget;
        self.store.chain_txn(device.id, &mut |tx| {
            results.clear();
            left = start_budget;
            let state = tx.state()?;
            head = state.head;
            let start_head = head;
            flagged = state.flag.is_some();
            // Whether any receipt may wait in `pending`: only then is promotion looked for.
            let mut any_pending = state.pending > 0;
            let mut promoted: HashSet<ReceiptId> = HashSet::new();
            let mut pending_at: Vec<(usize, ReceiptId)> = Vec::new();
            for (i, c) in checked.iter().enumerate() {
                let r = match c {
                    Checked::Bad { code, envelope } => {
                        if left.take(envelope.len()) {
                            tx.reject(&RejectionRecord {
                                device: device.id,
                                org: device.org,
                                code: (*code).into(),
                                seq: None,
                                received_ms: now,
                                envelope: envelope.clone(),
                            })?;
                        }
                        results.push(ReceiptOutcome::Rejected { code, seq: None });
                        continue;
                    }
                    Checked::Good(r) => r,
                };
                let link = ChainLink {
                    seq: r.seq,
                    id: r.id,
                    prev: r.prev,
                };
                let held = if r.seq <= head.seq {
                    tx.held_at(r.seq)?
                } else {
                    None
                };
                let outcome = match chain::place(head, &link, |_| held) {
                    Placement::Extends => {
                        tx.append(r)?;
                        apply(tx, r, device)?;
                        head = head.advanced(&link);
                        if any_pending {
                            promote(tx, &mut head, &mut promoted, &mut flagged, device, now)?;
                        }
                        ReceiptOutcome::Accepted
                    }
                    Placement::Duplicate => ReceiptOutcome::Duplicate,
                    Placement::Gap { .. } => {
                        if !tx.has_pending(r.seq, r.id)? {
                            tx.add_pending(r)?;
                        }
                        any_pending = true;
                        pending_at.push((i, r.id));
                        ReceiptOutcome::Pending
                    }
                    Placement::Fork { seq } => {
                        let keep = left.take(r.envelope.len());
                        fork(tx, r, device, now, &mut flagged, keep)?;
                        ReceiptOutcome::Rejected {
                            code: FORK_CODE,
                            seq: Some(seq),
                        }
                    }
                };
                results.push(outcome);
            }
            if head != start_head {
                tx.set_head(head)?;
            }
            for (i, id) in pending_at {
                if promoted.contains(&id) {
                    results[i] = ReceiptOutcome::Accepted;
                }
            }
            Ok(())
        })?;
        if left.unkept > start_budget.unkept {
            tracing::warn!(
                device = %device.id,
                unkept = left.unkept - start_budget.unkept,
                "rejected receipts past the per-request budget were answered but not stored"
            );
        }
        *budget = left;
        Ok(IngestOutcome {
            results,
            head,
            flagged,
        })
    }
}

fn fork(
    tx: &mut dyn ChainTxn,
    r: &StoredReceipt,
    device: &Device,
    now: i64,
    flagged: &mut bool,
    keep: bool,
) -> StoreResult<()> {
    if keep {
        tx.reject(&RejectionRecord {
            device: device.id,
            org: device.org,
            code: FORK_CODE.into(),
            seq: Some(r.seq),
            received_ms: now,
            envelope: r.envelope.clone(),
        })?;
    }
    tx.flag(&DeviceFlag {
        code: FORK_CODE.into(),
        detail: format!(
            "two different receipts at position {} (a copied key or a restored database)",
            r.seq
        ),
        flagged_ms: now,
    })?;
    *flagged = true;
    Ok(())
}

/// Moves pending receipts that now continue the chain into it.
fn promote(
    tx: &mut dyn ChainTxn,
    head: &mut ChainHead,
    promoted: &mut HashSet<ReceiptId>,
    flagged: &mut bool,
    device: &Device,
    now: i64,
) -> StoreResult<()> {
    loop {
        let candidates = tx.take_pending(head.seq + 1)?;
        if candidates.is_empty() {
            return Ok(());
        }
        let mut advanced = false;
        for c in candidates {
            if !advanced && c.prev == head.id {
                tx.append(&c)?;
                apply(tx, &c, device)?;
                *head = ChainHead {
                    seq: c.seq,
                    id: c.id,
                };
                promoted.insert(c.id);
                advanced = true;
            } else {
                fork(tx, &c, device, now, flagged, true)?;
            }
        }
        if !advanced {
            return Ok(());
        }
    }
}

/// What an appended receipt does besides joining the chain (see the module documentation).
fn apply(tx: &mut dyn ChainTxn, r: &StoredReceipt, device: &Device) -> StoreResult<()> {
    if r.kind != "class_assigned" {
        return Ok(());
    }
    // The envelope was verified on arrival; its body is read again here, as the reports do.
    let Some(body) = r
        .envelope
        .get(HEADER_LEN..)
        .and_then(|b| postcard::from_bytes::<ReceiptBody>(b).ok())
    else {
        tracing::error!(device = %device.id, seq = r.seq, "a stored receipt does not decode");
        return Ok(());
    };
    let Event::ClassAssigned {
        class,
        course,
        lesson,
        exam,
        due_wall_ms,
    } = body.event
    else {
        return Ok(());
    };
    let refuse = |why: &str| {
        tracing::warn!(
            device = %device.id,
            receipt = %r.id.to_hex(),
            class = %class,
            trainer = %r.learner,
            why,
            "class_assigned receipt creates no assignment"
        );
    };
    // Trainers sign in on kiosks only; a personal device has one learner and no trainer.
    if device.learner.is_some() {
        refuse("recorded on a personal device");
        return Ok(());
    }
    let c = match tx.class(class.0)? {
        Some(c) if c.org != device.org => {
            refuse("the class belongs to another organisation");
            return Ok(());
        }
        Some(c) if c.trainer != r.learner.0 => {
            refuse("the receipt's learner is not the class's trainer");
            return Ok(());
        }
        Some(c) => c,
        None => {
            refuse("no such class");
            return Ok(());
        }
    };
    let a = Assignment {
        id: class_assignment_id(r.id),
        org: c.org,
        class: c.id,
        course: course.as_str().to_owned(),
        lesson: lesson.map(|l| l.as_str().to_owned()),
        exam: exam.map(|e| e.as_str().to_owned()),
        due_ms: due_wall_ms,
        created_by: c.trainer,
        // When the trainer assigned it (the kiosk's clock), as the kiosk's local copy says.
        created_ms: body.wall_ms,
    };
    if tx.put_assignment(&a)? {
        tracing::info!(assignment = %a.id, class = %c.id, "assignment made on a kiosk");
    }
    Ok(())
}

/// What one request may store of the envelopes it gets rejected (issue #19): a request of a few
/// hundred compressed bytes could otherwise store megabytes of refused garbage. Rejections past
/// it are still answered (`R` with their code) and counted in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RejectBudget {
    pub envelopes: usize,
    pub bytes: usize,
    /// Rejections answered but not stored so far.
    pub unkept: usize,
}

impl Default for RejectBudget {
    fn default() -> Self {
        Self {
            envelopes: MAX_REJECTED_KEPT_PER_REQUEST,
            bytes: MAX_REJECTED_BYTES_KEPT_PER_REQUEST,
            unkept: 0,
        }
    }
}

/// Rejected envelopes stored per request, at most.
pub const MAX_REJECTED_KEPT_PER_REQUEST: usize = 100;
/// Bytes of rejected envelopes stored per request, at most.
pub const MAX_REJECTED_BYTES_KEPT_PER_REQUEST: usize = 256 * 1024;

impl RejectBudget {
    /// Spends room for one envelope of `len` bytes; false (and counted) when there is none.
    pub fn take(&mut self, len: usize) -> bool {
        if self.envelopes == 0 || len > self.bytes {
            self.unkept += 1;
            return false;
        }
        self.envelopes -= 1;
        self.bytes -= len;
        true
    }
}
