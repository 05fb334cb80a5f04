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

//!
//! Each appended receipt is also folded into the derived facts of its person and device
//! (`domain::credit`), in the same transaction, and a course completed by the batch gets its
//! certificate there too: credit is derived once, at ingest, never by replaying receipts.
//!
//! What one device can make the service keep is bounded: at most [`MAX_KEPT_REJECTIONS`]
//! rejected envelopes byte for byte (every rejection is still counted per code), at most
//! [`MAX_PENDING`] receipts waiting for a gap to fill, none further than [`MAX_AHEAD`] positions
//! past the acknowledged head.

use std::collections::{BTreeSet, HashMap, HashSet};

use hearth_protocol::chain::{self, ChainLink};
use hearth_protocol::receipt::{HEADER_LEN, class_assignment_id};
use hearth_protocol::{
    ChainHead, Envelope, Event, LearnerId, Placement, ReceiptBody, ReceiptId, RejectReason,
    TimeAnchor,
};
use uuid::Uuid;

use super::credit::book::LoadedBook;
use super::credit::record::course_progress;
use super::credit::{self, Arrival, DeviceFacts, LearnerFacts, Policy};
use super::{Service, ServiceResult};
use crate::store::{
    Assignment, ChainState, ChainTxn, Device, DeviceFlag, FactsTxn, RejectionRecord, StoreResult,
    StoredReceipt,
};

/// The code of a receipt refused because another receipt holds its chain position.
pub const FORK_CODE: &str = "chain.fork";
/// A receipt further past the acknowledged head than [`MAX_AHEAD`] positions.
pub const TOO_FAR_AHEAD_CODE: &str = "chain.too_far_ahead";
/// A receipt after a gap when the device already has [`MAX_PENDING`] receipts waiting.
pub const PENDING_FULL_CODE: &str = "chain.pending_full";

/// Rejected envelopes kept byte for byte per device (the rest are only counted).
pub const MAX_KEPT_REJECTIONS: u64 = 100;
/// Receipts kept waiting for a gap per device.
pub const MAX_PENDING: u64 = 10_000;
/// How far past the acknowledged head a waiting receipt may be.
pub const MAX_AHEAD: u64 = 100_000;

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
    Good(StoredReceipt, Box<ReceiptBody>),
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
    /// Where a device's chain stands on the service: its acknowledged head, its flag and how
    /// many receipts wait behind a gap.
    pub fn chain_state(&self, device: hearth_protocol::DeviceId) -> ServiceResult<ChainState> {
        Ok(self.store.chain_state(device)?)
    }

    /// Verifies and stores a batch of envelopes from `device`, in the order given (chain order
    /// expected; anything else is sorted out by the chain rules). Idempotent: sending the same
    /// batch again changes nothing and answers `Duplicate` (or `Pending`) for each receipt.
    /// Returns after the batch is durable.
    pub fn ingest(&self, device: &Device, envelopes: Vec<Vec<u8>>) -> ServiceResult<IngestOutcome> {
        self.ingest_within(device, envelopes, &mut RejectBudget::default())
    }

    /// [`Service::ingest`], keeping rejected envelopes for audit only within `budget` (shared by
    /// the sections of one bundle) and the device's own cap; rejections past either are
    /// answered and counted, not stored.
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
                        let body = Box::new(b.clone());
                        Checked::Good(
                            StoredReceipt {
                                device: device.id,
                                seq,
                                id,
                                prev,
                                learner,
                                kind: kind.into(),
                                received_ms: now,
                                envelope: v.into_envelope_bytes(),
                            },
                            body,
                        )
                    }
                }
            })
            .collect();

        let book = self.book_for(checked.iter().filter_map(|c| match c {
            Checked::Good(_, b) => Some(&**b),
            Checked::Bad { .. } => None,
        }))?;
        let policy = self.policy_of(device.org)?;
        let mut results = Vec::new();
        let mut head = ChainHead::EMPTY;
        let mut flagged = false;
        let start_budget = *budget;
        let mut left = start_budget;
        self.store.chain_txn(device.id, &mut |tx| {
            results.clear();
            left = start_budget;
            let mut keep = Keep {
                device_kept: None,
                request: &mut left,
            };
            let state = tx.state()?;
            head = state.head;
            let start_head = head;
            flagged = state.flag.as_ref().is_some_and(|f| f.is_active());
            let mut pending_count = state.pending;
            // Whether any receipt may wait in `pending`: only then is promotion looked for.
            let mut any_pending = state.pending > 0;
            let mut promoted: HashSet<ReceiptId> = HashSet::new();
            let mut pending_at: Vec<(usize, ReceiptId)> = Vec::new();
            let mut appended: Vec<StoredReceipt> = Vec::new();
            for (i, c) in checked.iter().enumerate() {
                let (r, body) = match c {
                    Checked::Bad { code, envelope } => {
                        refuse(tx, &mut keep, device, code, None, envelope, now)?;
                        results.push(ReceiptOutcome::Rejected { code, seq: None });
                        continue;
                    }
                    Checked::Good(r, body) => (r, body),
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
                        apply(tx, r, body, device)?;
                        appended.push(r.clone());
                        head = head.advanced(&link);
                        if any_pending {
                            promote(
                                tx,
                                &mut head,
                                &mut promoted,
                                &mut flagged,
                                &mut appended,
                                &mut keep,
                                device,
                                now,
                            )?;
                        }
                        ReceiptOutcome::Accepted
                    }
                    Placement::Duplicate => ReceiptOutcome::Duplicate,
                    Placement::Gap { .. } if r.seq - head.seq > MAX_AHEAD => {
                        let code = TOO_FAR_AHEAD_CODE;
                        refuse(tx, &mut keep, device, code, Some(r.seq), &r.envelope, now)?;
                        ReceiptOutcome::Rejected {
                            code,
                            seq: Some(r.seq),
                        }
                    }
                    Placement::Gap { .. } => {
                        if tx.has_pending(r.seq, r.id)? {
                            pending_at.push((i, r.id));
                            ReceiptOutcome::Pending
                        } else if pending_count >= MAX_PENDING {
                            let code = PENDING_FULL_CODE;
                            refuse(tx, &mut keep, device, code, Some(r.seq), &r.envelope, now)?;
                            ReceiptOutcome::Rejected {
                                code,
                                seq: Some(r.seq),
                            }
                        } else {
                            tx.add_pending(r)?;
                            pending_count += 1;
                            any_pending = true;
                            pending_at.push((i, r.id));
                            ReceiptOutcome::Pending
                        }
                    }
                    Placement::Fork { seq } => {
                        fork(tx, r, device, now, &mut flagged, &mut keep)?;
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
            if !appended.is_empty() {
                // The flag as it stands after the batch, as a rebuild would see it.
                let flag = tx.state()?.flag.filter(|f| f.is_active());
                self.fold_facts(tx, device, flag.as_ref(), &appended, &book, &policy)?;
            }
            Ok(())
        })?;
        if left.unkept > start_budget.unkept {
            tracing::warn!(
                device = %device.id,
                unkept = left.unkept - start_budget.unkept,
                "rejected receipts past what one request or device may store were answered but not stored"
            );
        }
        *budget = left;
        Ok(IngestOutcome {
            results,
            head,
            flagged,
        })
    }

    /// The credit rules' numbers for an organisation (its own daily cap, if it set one).
    pub fn policy_of(&self, org: Uuid) -> ServiceResult<Policy> {
        let mut p = self.config.policy.clone();
        if let Some(cap) = self.store.org_daily_cap(org)? {
            p.daily_cap_ms = cap;
        }
        Ok(p)
    }

    /// The catalog and the classes the receipts name, loaded before a transaction.
    pub(crate) fn book_for<'a>(
        &self,
        bodies: impl Iterator<Item = &'a ReceiptBody>,
    ) -> ServiceResult<LoadedBook> {
        let mut classes = HashMap::new();
        let mut cards = HashMap::new();
        for b in bodies {
            if let Event::LearnerSignedIn {
                method: hearth_protocol::SignInMethod::CardProved { .. },
            } = &b.event
                && !cards.contains_key(&b.learner)
            {
                cards.insert(b.learner, self.store.cards_of(b.learner)?);
            }
            if let Event::AttendanceCheck(hearth_protocol::AttendanceCheck::TrainerAttested {
                class,
                ..
            }) = &b.event
                && !classes.contains_key(&class.0)
                && let Some(c) = self.store.class(class.0)?
            {
                classes.insert(c.id, (c.org, c.trainer));
            }
        }
        Ok(LoadedBook {
            catalog: self.published_courses()?,
            classes,
            cards,
        })
    }

    /// Folds receipts just appended to `device`'s chain (in chain order) into the facts of
    /// their people and of the device, and issues the certificates of courses they complete.
    pub(crate) fn fold_facts(
        &self,
        tx: &mut dyn FactsTxn,
        device: &Device,
        flag: Option<&DeviceFlag>,
        receipts: &[StoredReceipt],
        book: &LoadedBook,
        policy: &Policy,
    ) -> StoreResult<()> {
        let mut dev = tx
            .device_facts(device.id)?
            .and_then(|b| DeviceFacts::decode(&b))
            .unwrap_or_default();
        let mut people: HashMap<LearnerId, Person> = HashMap::new();
        for r in receipts {
            let Some(body) = body_of(r) else {
                tracing::error!(device = %device.id, seq = r.seq, "a stored receipt does not decode");
                continue;
            };
            if device.learner.is_some_and(|l| l != body.learner) {
                // A personal device records only its own learner; the flags report shows it.
                dev.evidence.other_learner(body.learner);
                continue;
            }
            let person = match people.entry(body.learner) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => {
                    let learner = tx.learner(body.learner)?;
                    let facts = tx
                        .learner_facts(body.learner)?
                        .and_then(|b| LearnerFacts::decode(&b))
                        .unwrap_or_default();
                    v.insert(Person {
                        org: learner.as_ref().map_or(device.org, |l| l.org),
                        is_learner: learner.is_some(),
                        facts,
                        touched: BTreeSet::new(),
                    })
                }
            };
            if person.org != device.org {
                // Only devices of the learner's own organisation count.
                continue;
            }
            let arrival = Arrival {
                body: &body,
                id: r.id,
                device: device.id,
                org: device.org,
                kiosk: device.learner.is_none(),
                received_ms: r.received_ms,
                device_flagged: flag.is_some_and(|f| f.flagged_ms <= r.received_ms),
            };
            credit::apply(&mut person.facts, &mut dev, &arrival, book, policy);
            if let Some(c) = credit::facts::course_of(&body.event) {
                person.touched.insert(c.to_owned());
            }
        }
        tx.put_device_facts(device.id, &dev.encode())?;
        for (id, p) in people {
            if p.is_learner {
                for course in &p.touched {
                    let latest = book.catalog.latest(course).map(|v| &v.manifest);
                    if course_progress(course, &p.facts, latest, policy).completed {
                        tx.issue_certificate(&self.new_certificate(id, course))?;
                    }
                }
            }
            let flagged = !p.facts.withheld.is_empty()
                || !p.facts.overlaps.is_empty()
                || !crate::domain::flags::learner_flags(id, &p.facts, &book.catalog).is_empty();
            tx.put_learner_facts(id, p.org, &p.facts.encode(), flagged)?;
        }
        Ok(())
    }
}

struct Person {
    org: Uuid,
    is_learner: bool,
    facts: LearnerFacts,
    touched: BTreeSet<String>,
}

/// The body of a stored (verified on arrival) receipt.
pub(crate) fn body_of(r: &StoredReceipt) -> Option<ReceiptBody> {
    postcard::from_bytes::<ReceiptBody>(r.envelope.get(HEADER_LEN..)?).ok()
}

/// Where a refused envelope may still be kept: the device's cap (read once per batch) and the
/// request's budget.
struct Keep<'a> {
    device_kept: Option<u64>,
    request: &'a mut RejectBudget,
}

/// Counts a refused envelope, keeping its bytes while the device is under its cap and the request
/// within its budget.
fn refuse(
    tx: &mut dyn ChainTxn,
    keep: &mut Keep<'_>,
    device: &Device,
    code: &str,
    seq: Option<u64>,
    envelope: &[u8],
    now: i64,
) -> StoreResult<()> {
    let n = match keep.device_kept {
        Some(n) => n,
        None => *keep.device_kept.insert(tx.rejections_kept()?),
    };
    let kept = if n < MAX_KEPT_REJECTIONS {
        keep.request.take(envelope.len())
    } else {
        keep.request.unkept += 1;
        false
    };
    if kept {
        keep.device_kept = Some(n + 1);
    }
    tx.reject(
        &RejectionRecord {
            device: device.id,
            org: device.org,
            code: code.into(),
            seq,
            received_ms: now,
            envelope: if kept { envelope.to_vec() } else { Vec::new() },
        },
        kept,
    )
}

fn fork(
    tx: &mut dyn ChainTxn,
    r: &StoredReceipt,
    device: &Device,
    now: i64,
    flagged: &mut bool,
    keep: &mut Keep<'_>,
) -> StoreResult<()> {
    refuse(tx, keep, device, FORK_CODE, Some(r.seq), &r.envelope, now)?;
    tx.flag(&DeviceFlag {
        code: FORK_CODE.into(),
        detail: format!(
            "two different receipts at position {} (a copied key or a restored database)",
            r.seq
        ),
        flagged_ms: now,
        resolved: None,
    })?;
    *flagged = true;
    Ok(())
}

/// Moves pending receipts that now continue the chain into it.
#[allow(clippy::too_many_arguments)]
fn promote(
    tx: &mut dyn ChainTxn,
    head: &mut ChainHead,
    promoted: &mut HashSet<ReceiptId>,
    flagged: &mut bool,
    appended: &mut Vec<StoredReceipt>,
    keep: &mut Keep<'_>,
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
                if let Some(body) = body_of(&c) {
                    apply(tx, &c, &body, device)?;
                }
                *head = ChainHead {
                    seq: c.seq,
                    id: c.id,
                };
                promoted.insert(c.id);
                appended.push(c);
                advanced = true;
            } else {
                fork(tx, &c, device, now, flagged, keep)?;
            }
        }
        if !advanced {
            return Ok(());
        }
    }
}

/// What an appended receipt does besides joining the chain (see the module documentation).
fn apply(
    tx: &mut dyn ChainTxn,
    r: &StoredReceipt,
    body: &ReceiptBody,
    device: &Device,
) -> StoreResult<()> {
    let Event::ClassAssigned {
        class,
        course,
        lesson,
        exam,
        due_wall_ms,
    } = &body.event
    else {
        return Ok(());
    };
    let (class, due_wall_ms) = (*class, *due_wall_ms);
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
        lesson: lesson.as_ref().map(|l| l.as_str().to_owned()),
        exam: exam.as_ref().map(|e| e.as_str().to_owned()),
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
/// it are still answered (`R` with their code) and counted.
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
