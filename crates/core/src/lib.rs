//! hearth-core: everything the Hearth client does without a window.
//!
//! [`Hearth`] is the one entry point the desktop shell and the CLI call. It owns the local store
//! (private module [`store`]), the device identity ([`identity`]) and the receipt ledger. Time and
//! randomness come from an injected [`Env`], so tests control both.
//!
//! Data folder layout:
//!
//! ```text
//! DATA_DIR/hearth.db    the SQLite store (WAL: hearth.db-wal, hearth.db-shm beside it)
//! DATA_DIR/device.key   the device's Ed25519 key, owner-only
//! DATA_DIR/certificates/, records/   certificates and training records kept offline
//!                        (see [`certificates`])
//! ```

mod assignments;
pub mod certificates;
pub mod content;
pub mod env;
mod error;
pub mod identity;
pub mod kiosk;
pub mod photos;
pub mod removable;
pub mod session;
mod store;
pub mod study;
pub mod sync;

use std::path::{Path, PathBuf};

use hearth_protocol::chain::verify_chain_to;
use hearth_protocol::{
    AnchorRef, ChainHead, DeviceId, Envelope, Event, LearnerId, MonoStamp, PublicKey, ReceiptBody,
    ReceiptId, TimeAnchor,
};
use serde::Serialize;

pub use env::{Clock, Entropy, Env, ManualClock, SeededEntropy, SystemClock};
pub use error::{CoreError, PhotoError, Result};
pub use identity::DeviceKey;
pub use store::{
    Assignment, Changes, Enrollment, Learner, LedgerStatus, OutboxItem, ReceiptSummary,
    RosterClasses, RosterPerson,
};

use store::Store;

/// The longest learner display name accepted (characters).
pub const MAX_DISPLAY_NAME: usize = 64;

/// This installation, for display.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub public_key: PublicKey,
    pub created_ms: i64,
}

/// A receipt just made durable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedReceipt {
    pub seq: u64,
    pub id: ReceiptId,
    pub learner: LearnerId,
    pub kind: &'static str,
    pub wall_ms: i64,
}

/// An open Hearth data folder. Send, not Sync: wrap it in a mutex to share it.
#[derive(Debug)]
pub struct Hearth {
    store: Store,
    key: DeviceKey,
    pub(crate) env: Env,
    data_dir: PathBuf,
    /// This app run's number; receipts' monotonic stamps name it.
    run: u32,
    /// The open lesson of this app run, if any.
    study: study::Study,
    /// Who is at the keyboard (and the kiosk's state on a shared PC).
    session: session::Session,
    /// How often random photo checkpoints are due, and when the next one is (monotonic ms).
    photo_policy: photos::PhotoPolicy,
    next_photo_mono: Option<u64>,
}

impl Hearth {
    /// Opens the data folder, creating the store and the device key on first run.
    ///
    /// An existing store is checked before anything is written to it, and is never recreated:
    /// a damaged or foreign file is an error that names it. A key that others can read, or that
    /// does not belong to the store, is an error too.
    pub fn open(data_dir: &Path, env: Env) -> Result<Self> {
        create_private_dir(data_dir)?;
        let db_path = data_dir.join("hearth.db");
        let key_path = identity::key_path(data_dir);
        let db_exists = db_path
            .try_exists()
            .map_err(CoreError::io(format!("reading {}", db_path.display())))?;
        let key_exists = key_path
            .try_exists()
            .map_err(CoreError::io(format!("reading {}", key_path.display())))?;

        let (mut store, key) = if db_exists {
            if !key_exists {
                return Err(CoreError::KeyMissing { path: key_path });
            }
            let key = DeviceKey::load(&key_path)?;
            let store = Store::open_existing(&db_path)?;
            (store, key)
        } else {
            // A key without a store: the first run died between making the key and the store
            // (no receipt can exist without the store), or the store was deleted. Reusing the
            // key is right in the first case; in the second the service sees the new chain as a
            // fork of the old one and flags the device, which is what a lost ledger must cause.
            let key = if key_exists {
                tracing::warn!(path = %key_path.display(), "device key found without a store; starting a new ledger with it");
                DeviceKey::load(&key_path)?
            } else {
                DeviceKey::create(&key_path, &env)?
            };
            let (id, public, now) = (key.device_id(), key.public(), env.clock.wall_ms());
            let store = Store::create(&db_path, |tx| tx.insert_device(id, public, now))?;
            tracing::info!(device = %id, "created a new Hearth store");
            (store, key)
        };

        let device = store
            .device()?
            .ok_or_else(|| CoreError::LedgerBroken("the store has no device row".into()))?;
        if device.public_key != key.public() || device.device_id != key.device_id() {
            return Err(CoreError::KeyMismatch);
        }
        let (run, _) = store.write(|tx| tx.begin_run())?;
        let mut hearth = Self {
            store,
            key,
            env,
            data_dir: data_dir.to_owned(),
            run,
            study: study::Study::default(),
            session: session::Session::default(),
            photo_policy: photos::PhotoPolicy::default(),
            next_photo_mono: None,
        };
        // What course imports killed before they finished left behind must not count against
        // the storage budget (it is swept again before each import and download).
        if let Err(e) = hearth.sweep_dead_imports() {
            tracing::warn!(error = %e, "could not clean up after interrupted imports");
        }
        hearth.resume_session(kiosk::KioskPolicy::default())?;
        Ok(hearth)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn device(&self) -> DeviceInfo {
        let created_ms = self
            .store
            .device()
            .ok()
            .flatten()
            .map_or(0, |d| d.created_ms);
        DeviceInfo {
            id: self.key.device_id(),
            public_key: self.key.public(),
            created_ms,
        }
    }

    pub fn learners(&self) -> Result<Vec<Learner>> {
        self.store.learners()
    }

    /// Adds a local learner profile.
    pub fn add_learner(&mut self, display_name: &str) -> Result<Learner> {
        let name = display_name.trim();
        if name.is_empty()
            || name.chars().count() > MAX_DISPLAY_NAME
            || name.chars().any(char::is_control)
        {
            return Err(CoreError::InvalidInput(format!(
                "a learner's name must be 1 to {MAX_DISPLAY_NAME} printable characters"
            )));
        }
        let learner = Learner {
            id: LearnerId::from_random_bytes(self.env.random()?),
            display_name: name.to_owned(),
            created_ms: self.env.clock.wall_ms(),
        };
        self.store.write(|tx| tx.insert_learner(&learner))?;
        Ok(learner)
    }

    fn mono(&self) -> MonoStamp {
        MonoStamp {
            run: self.run,
            elapsed_ms: self.env.clock.mono_ms(),
        }
    }

    /// Records one study event as a signed receipt for the person at the keyboard
    /// ([`Hearth::at_keyboard`]; `session.none` when nobody is): builds the body on the chain
    /// head, signs it, and commits it in one transaction. When this returns `Ok`, the receipt is
    /// on disk and survives a crash or a power cut.
    pub fn record(&mut self, event: Event) -> Result<RecordedReceipt> {
        let learner = self.require_at_keyboard()?;
        self.record_for(learner, event)
    }

    /// Records for `learner`, whom the caller took from the session (the study and kiosk rules
    /// inside core); front ends go through [`Hearth::record`].
    pub(crate) fn record_for(
        &mut self,
        learner: LearnerId,
        event: Event,
    ) -> Result<RecordedReceipt> {
        self.record_with(learner, event, |_, _| Ok(()))
    }

    /// [`Hearth::record`], also running `also` in the receipt's transaction (state kept beside
    /// the ledger is then never out of step with it).
    pub(crate) fn record_with(
        &mut self,
        learner: LearnerId,
        event: Event,
        also: impl FnOnce(&mut store::Tx<'_>, &RecordedReceipt) -> Result<()>,
    ) -> Result<RecordedReceipt> {
        self.record_at(learner, |_, _| event, also)
    }

    /// [`Hearth::record_with`] of an event made for the receipt's own chain position (this
    /// device, the sequence number and the previous receipt's id: a kiosk card sign-in's proof
    /// binds them).
    pub(crate) fn record_at(
        &mut self,
        learner: LearnerId,
        event: impl FnOnce(u64, hearth_protocol::ReceiptId) -> Event,
        also: impl FnOnce(&mut store::Tx<'_>, &RecordedReceipt) -> Result<()>,
    ) -> Result<RecordedReceipt> {
        let mono = self.mono();
        let wall_ms = self.env.clock.wall_ms();
        let (device, key) = (self.key.device_id(), &self.key);
        let (recorded, _) = self.store.write(|tx| {
            // Every receipt also proves how long this run has lasted (exam time, see study).
            tx.mark_run(mono.run, mono.elapsed_ms)?;
            if !tx.learner_exists(learner)? {
                return Err(CoreError::UnknownLearner(learner));
            }
            let head = tx.head()?;
            let anchor = tx.device()?.anchor;
            let body = ReceiptBody {
                device,
                seq: head.seq + 1,
                prev: head.id,
                learner,
                wall_ms,
                mono,
                anchor,
                event: event(head.seq + 1, head.id),
            };
            let signed = body.sign(key.pair())?;
            tx.insert_receipt(&signed)?;
            let recorded = RecordedReceipt {
                seq: body.seq,
                id: signed.id(),
                learner,
                kind: body.event.kind(),
                wall_ms,
            };
            also(tx, &recorded)?;
            Ok(recorded)
        })?;
        Ok(recorded)
    }

    pub fn recent_receipts(&self, limit: u32) -> Result<Vec<ReceiptSummary>> {
        self.store.recent_receipts(limit)
    }

    pub fn ledger_status(&self) -> Result<LedgerStatus> {
        self.store.status()
    }

    /// Unacknowledged receipts after `after_seq`, in chain order.
    pub fn outbox(&self, after_seq: u64, limit: u32) -> Result<Vec<OutboxItem>> {
        self.store.outbox(after_seq, limit)
    }

    /// Records that the service acknowledged the chain up to `head`. The id must be the one this
    /// device wrote at that position; acknowledgements never move backwards.
    pub fn mark_acknowledged(&mut self, head: ChainHead) -> Result<Changes> {
        let (_, changes) = self.store.write(|tx| {
            let current = tx.device()?.acked_seq;
            if head.seq <= current {
                return Ok(());
            }
            let own = tx.head()?;
            if head.seq > own.seq {
                return Err(CoreError::AckBeyondHead {
                    seq: head.seq,
                    head: own.seq,
                });
            }
            if tx.receipt_id_at(head.seq)? != Some(head.id) {
                return Err(CoreError::AckMismatch { seq: head.seq });
            }
            tx.set_acked_seq(head.seq)
        })?;
        Ok(changes)
    }

    /// Keeps a time anchor from the service (checked against the service's key) as the one
    /// future receipts carry, stamped with the monotonic time it arrived.
    pub fn store_anchor(&mut self, anchor: TimeAnchor, service_key: &PublicKey) -> Result<()> {
        anchor.verify(service_key, self.key.device_id())?;
        let anchor = AnchorRef {
            anchor,
            received: self.mono(),
        };
        self.store.write(|tx| tx.set_anchor(&anchor))?;
        Ok(())
    }

    /// Writes every receipt not yet acknowledged to `path` as a receipt bundle (for a USB stick
    /// or a kiosk relay), atomically and flushed to the device before it returns. Returns how
    /// many receipts it holds. The receipts stay in the outbox: only the service's
    /// acknowledgement removes them.
    pub fn export_receipts(&self, path: &Path) -> Result<u64> {
        let bundle = self.receipt_bundle()?;
        bundle.write(path)?;
        Ok(bundle.receipts)
    }

    /// Every receipt not yet acknowledged as a receipt bundle in memory, to be written with
    /// [`ReceiptBundle::write`] without holding the store (the desktop shell writes a slow USB
    /// stick while study goes on).
    pub fn receipt_bundle(&self) -> Result<ReceiptBundle> {
        let mut envelopes = Vec::new();
        let mut cursor = 0;
        loop {
            let batch = self.store.outbox(cursor, 1_000)?;
            let Some(last) = batch.last() else { break };
            cursor = last.seq;
            envelopes.extend(batch.into_iter().map(|o| o.envelope));
        }
        let count = envelopes.len() as u64;
        // One section holds at most what one upload batch may (the service ingests a section as
        // one batch), so a week of a busy kiosk becomes several sections of this device.
        let device = self.key.device_id();
        let sections: Vec<hearth_protocol::bundle::Section> = envelopes
            .chunks(hearth_protocol::wire::MAX_BATCH_RECEIPTS)
            .map(|chunk| hearth_protocol::bundle::Section {
                device,
                envelopes: chunk.to_vec(),
            })
            .collect();
        Ok(ReceiptBundle {
            bytes: hearth_protocol::bundle::encode_bundle(&sections),
            receipts: count,
        })
    }

    /// The enrollment with a service, if the device is enrolled.
    pub fn enrollment(&self) -> Result<Option<Enrollment>> {
        self.store.enrollment()
    }

    /// Keeps what enrollment gave the device: the service, its credential and keys, the
    /// organisation's roster, and a first time anchor (checked against the anchor key).
    pub fn apply_enrollment(
        &mut self,
        enrollment: &Enrollment,
        roster: &[RosterPerson],
        anchor: TimeAnchor,
    ) -> Result<()> {
        self.keep_enrollment(enrollment, roster, None, anchor)
    }

    /// The one write of an enrollment, with the roster's classes when the answer carried them
    /// (`Hearth::apply_enroll_answer`), all in one transaction.
    pub(crate) fn keep_enrollment(
        &mut self,
        enrollment: &Enrollment,
        roster: &[RosterPerson],
        classes: Option<&[RosterClasses]>,
        anchor: TimeAnchor,
    ) -> Result<()> {
        anchor.verify(&enrollment.anchor_key, self.key.device_id())?;
        let anchor = AnchorRef {
            anchor,
            received: self.mono(),
        };
        let now = self.env.clock.wall_ms();
        self.store.write(|tx| {
            tx.save_enrollment(enrollment)?;
            tx.upsert_roster(roster, now)?;
            tx.retire_roster_people(roster)?;
            if let Some(classes) = classes {
                tx.replace_roster_classes(classes)?;
            }
            tx.set_anchor(&anchor)
        })?;
        // Whoever used the PC before enrolling leaves their lesson; from now on the enrollment
        // says who is at the keyboard (its learner, or nobody until a PIN on a kiosk).
        self.leave_lesson()?;
        self.session = session::Session::default();
        self.resume_session(kiosk::KioskPolicy::default())
    }

    /// Verifies the whole ledger: every envelope under the device key, and the chain from the
    /// first receipt to the head with no gap, fork or broken link. Streams: memory stays flat.
    pub fn verify_ledger(&self) -> Result<ChainHead> {
        let key = self.key.public();
        let mut head = ChainHead::EMPTY;
        self.store.for_each_envelope(1, |seq, bytes| {
            let r = Envelope::from_bytes(bytes.to_vec())
                .verify(&key)
                .map_err(|e| CoreError::LedgerBroken(format!("receipt {seq}: {e}")))?;
            if r.body().seq != seq {
                return Err(CoreError::LedgerBroken(format!(
                    "receipt stored at {seq} says {}",
                    r.body().seq
                )));
            }
            head = hearth_protocol::chain::verify_chain(head, &[r.link()])
                .map_err(|e| CoreError::LedgerBroken(e.to_string()))?;
            Ok(())
        })?;
        let stored = self.store.head()?;
        verify_chain_to(head, &[], stored).map_err(|e| CoreError::LedgerBroken(e.to_string()))?;
        Ok(head)
    }
}

/// Creates the data folder readable by the owner only (on Unix; on Windows the per-user
/// application data folder is already private to its owner).
pub(crate) fn create_private_dir(dir: &Path) -> Result<()> {
    let ctx = || format!("creating {}", dir.display());
    if dir.is_dir() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(CoreError::io(ctx()))
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(CoreError::io(ctx()))
    }
}

/// Writes `bytes` to `path` through a temporary file, fsynced and renamed, so a removed USB
/// stick or a crash leaves either the old file or the whole new one.
/// A receipt bundle made by [`Hearth::receipt_bundle`], not yet written.
#[derive(Clone, Debug)]
pub struct ReceiptBundle {
    pub bytes: Vec<u8>,
    /// How many receipts it holds.
    pub receipts: u64,
}

impl ReceiptBundle {
    /// Writes the bundle to `path` atomically and flushed to the device before it returns.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_durably(path, &self.bytes)
    }
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let ctx = || format!("writing {}", path.display());
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(CoreError::io(ctx()))?;
    file.write_all(bytes).map_err(CoreError::io(ctx()))?;
    file.sync_all().map_err(CoreError::io(ctx()))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(CoreError::io(ctx()))?;
    identity::sync_dir(
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    )
}
