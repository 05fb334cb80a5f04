//! The sync engine: one round uploads the outbox in chain order and marks what the service
//! acknowledged, then pulls the learners' records (credit, grades, certificates) that may have
//! changed ([`pull`] decides which); [`schedule`] decides when rounds run.
//!
//! The network is injected through [`SyncTransport`]; the HTTP implementation converts the wire
//! messages of `hearth_protocol::wire` into the domain types here at once. A round holds the
//! [`Hearth`] lock only between network calls, never across one, and reads the outbox one batch
//! at a time, so memory does not grow with the outbox.

pub mod http;
pub mod pull;
pub mod schedule;

use std::future::Future;
use std::sync::Mutex;

use hearth_protocol::wire::LearnerRecord;
use hearth_protocol::{ChainHead, ErrorBody, LearnerId, PublicKey, TimeAnchor};
use serde::Serialize;

use crate::{CoreError, Hearth};

/// What the service said about one uploaded receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReceiptOutcome {
    Accepted,
    Duplicate,
    /// Held until the receipts before it arrive.
    Pending,
    Rejected {
        code: String,
    },
}

/// The service's answer to one upload batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOutcome {
    /// One outcome per envelope sent, in order.
    pub results: Vec<ReceiptOutcome>,
    /// The device's chain as the service holds it: contiguous and verified up to here.
    pub acked: ChainHead,
}

/// Why a call to the service failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer: no route, connection refused or reset, timeout, a cut-off answer.
    #[error("the service cannot be reached: {0}")]
    Unreachable(String),
    /// The service answered with an error.
    #[error("the service answered {status}: {}", body.message)]
    Service { status: u16, body: ErrorBody },
    /// The answer made no sense (wrong format, wrong lengths).
    #[error("the service's answer is malformed: {0}")]
    Malformed(String),
}

/// The calls a sync round makes. Implemented over HTTP by the client's transport and in memory
/// by tests.
pub trait SyncTransport: Send + Sync {
    /// A fresh service-signed time anchor for this device.
    fn time_anchor(&self) -> impl Future<Output = Result<TimeAnchor, TransportError>> + Send;
    /// Uploads envelopes (exact bytes, chain order). Safe to repeat: the service counts each
    /// receipt once.
    fn upload(
        &self,
        envelopes: Vec<Vec<u8>>,
    ) -> impl Future<Output = Result<UploadOutcome, TransportError>> + Send;
    /// The digest of this device's roster and assignments that came with the last anchor
    /// (`None`: unknown, and the round falls back to refreshing them every
    /// [`pull::ROSTER_EVERY_MS`]).
    fn classroom_tag(&self) -> Option<String> {
        None
    }
    /// What trainers assigned to this device's classes. `Ok(None)`: this transport does not
    /// fetch assignments (the default).
    fn assignments(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<crate::Assignment>>, TransportError>> + Send {
        std::future::ready(Ok(None))
    }
    /// The course catalog, asked with the ETag of the stored copy (`etag`). `Ok(None)`: this
    /// transport does not fetch the catalog (the default).
    fn catalog(
        &self,
        etag: Option<String>,
    ) -> impl Future<Output = Result<Option<crate::content::CatalogAnswer>, TransportError>> + Send
    {
        let _ = etag;
        std::future::ready(Ok(None))
    }
    /// The organisation's roster as the service gives it to this device. `Ok(None)`: this
    /// transport does not fetch rosters (the default), and the round skips the step.
    fn roster(
        &self,
    ) -> impl Future<Output = Result<Option<Vec<crate::RosterPerson>>, TransportError>> + Send {
        std::future::ready(Ok(None))
    }
    /// The roster with the classes of its people; what a round keeps. The default is
    /// [`SyncTransport::roster`] without classes (`classes: None`: the kept classes stay as
    /// they are), so a transport that knows nothing of classes needs nothing more.
    fn roster_with_classes(
        &self,
    ) -> impl Future<Output = Result<Option<Roster>, TransportError>> + Send {
        async move {
            Ok(self.roster().await?.map(|people| Roster {
                people,
                classes: None,
            }))
        }
    }
    /// A learner's record as the service derives it. `Ok(None)`: this transport does not pull
    /// records (the default), and the round skips the pull step.
    fn learner_record(
        &self,
        learner: LearnerId,
    ) -> impl Future<Output = Result<Option<LearnerRecord>, TransportError>> + Send {
        let _ = learner;
        std::future::ready(Ok(None))
    }
}

/// The roster as a round fetches it: the people and, when the transport knows them, the
/// classes they belong to or run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    pub people: Vec<crate::RosterPerson>,
    /// `None`: unknown (the kept classes are left alone); `Some`: the complete list.
    pub classes: Option<Vec<crate::RosterClasses>>,
}

/// What one round did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoundReport {
    pub batches: u32,
    pub sent: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub pending: u64,
    pub rejected: u64,
    /// Acknowledged position after the round.
    pub acked_seq: u64,
    /// Receipts still waiting after the round.
    pub left: u64,
    /// Learners' records pulled and kept.
    pub records_pulled: u32,
    /// Records that could not be pulled (tried again next round; receipts are not affected).
    pub records_failed: u32,
    /// The roster was fetched and kept in this round (see [`pull::classroom_due`]).
    pub roster_refreshed: bool,
    /// Assignments fetched and kept in this round (with the roster, when it is due).
    pub assignments_pulled: u32,
    /// The catalog changed since the copy kept (a conditional request: nothing new costs a 304).
    pub catalog_changed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl SyncError {
    pub fn code(&self) -> String {
        match self {
            SyncError::Transport(TransportError::Unreachable(_)) => "sync.offline".into(),
            SyncError::Transport(TransportError::Service { body, .. }) => body.code.clone(),
            SyncError::Transport(TransportError::Malformed(_)) => "sync.bad_answer".into(),
            SyncError::Core(e) => e.code().into(),
        }
    }
}

fn locked(hearth: &Mutex<Hearth>) -> std::sync::MutexGuard<'_, Hearth> {
    // A panic while holding the lock cannot leave the store half-written (every write is one
    // SQLite transaction), so a poisoned lock is safe to keep using.
    hearth
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs one sync round: fetch and keep a time anchor, then upload the outbox in batches of
/// `batch_size` in chain order, marking each acknowledgement as it comes.
pub async fn sync_round(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    service_key: &PublicKey,
    batch_size: u32,
) -> Result<RoundReport, SyncError> {
    let anchor = transport.time_anchor().await?;
    locked(hearth).store_anchor(anchor, service_key)?;

    let mut report = RoundReport::default();
    let mut cursor = 0;
    loop {
        let batch = locked(hearth).outbox(cursor, batch_size.max(1))?;
        let Some(last) = batch.last() else { break };
        cursor = last.seq;
        let sent = batch.len();
        let outcome = transport
            .upload(batch.into_iter().map(|item| item.envelope).collect())
            .await?;
        if outcome.results.len() != sent {
            return Err(TransportError::Malformed(format!(
                "{} results for {sent} receipts",
                outcome.results.len()
            ))
            .into());
        }
        report.batches += 1;
        report.sent += sent as u64;
        for r in &outcome.results {
            match r {
                ReceiptOutcome::Accepted => report.accepted += 1,
                ReceiptOutcome::Duplicate => report.duplicates += 1,
                ReceiptOutcome::Pending => report.pending += 1,
                ReceiptOutcome::Rejected { code } => {
                    report.rejected += 1;
                    tracing::warn!(code, "the service rejected a receipt");
                }
            }
        }
        if outcome.acked.seq > 0 {
            locked(hearth).mark_acknowledged(outcome.acked)?;
        }
    }
    let status = locked(hearth).ledger_status()?;
    report.acked_seq = status.acked_seq;
    report.left = status.pending;
    refresh_roster(hearth, transport, &mut report).await?;
    refresh_catalog(hearth, transport, &mut report).await?;
    pull_records(hearth, transport, &mut report).await?;
    Ok(report)
}

/// The classroom step: the roster (new learners, changed PINs) and the assignments, fetched when
/// [`pull::classroom_due`] says they changed, so they reach a kiosk without re-enrolling and a
/// round with nothing new costs nothing. A failure is logged and tried again next round.
async fn refresh_roster(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    let tag = transport.classroom_tag();
    if !locked(hearth).roster_refresh_due(tag.as_deref())? {
        return Ok(());
    }
    let roster = match transport.roster_with_classes().await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "could not refresh the roster");
            return Ok(());
        }
    };
    let assignments = match transport.assignments().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "could not fetch the assignments");
            return Ok(());
        }
    };
    if let Some(a) = &assignments {
        locked(hearth).apply_assignments(a)?;
        report.assignments_pulled = a.len() as u32;
    }
    if let Some(roster) = roster {
        locked(hearth).keep_roster(&roster.people, roster.classes.as_deref(), tag.as_deref())?;
        report.roster_refreshed = true;
    }
    Ok(())
}

/// The catalog step: a conditional request (the stored copy's ETag), so new and republished
/// courses show in the library after any round, and a round with nothing new gets a bodiless
/// 304. A failure is logged and tried again next round.
async fn refresh_catalog(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    let etag = locked(hearth).catalog_etag()?;
    match transport.catalog(etag).await {
        Ok(None) => {}
        Ok(Some(answer)) => match locked(hearth).keep_catalog(answer) {
            Ok(r) => report.catalog_changed = r.changed,
            Err(e) => tracing::warn!(error = %e, "could not keep the catalog"),
        },
        Err(e) => tracing::warn!(error = %e, "could not refresh the catalog"),
    }
    Ok(())
}

/// The pull step: fetches the records [`pull::plan_pulls`] picks and keeps them. It runs after
/// every acknowledgement is marked and changes nothing about receipts; a failed request is
/// counted and tried again next round (an unreachable service ends the step).
async fn pull_records(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    let (plan, acked) = {
        let h = locked(hearth);
        (h.records_to_pull()?, h.ledger_status()?.acked_seq)
    };
    for learner in plan {
        match transport.learner_record(learner).await {
            Ok(None) => break,
            Ok(Some(record)) if record.learner_id != learner => {
                tracing::warn!(%learner, "the service sent another learner's record");
                report.records_failed += 1;
            }
            Ok(Some(record)) => {
                locked(hearth).keep_learner_record(&record, acked)?;
                report.records_pulled += 1;
            }
            Err(e) => {
                tracing::warn!(%learner, error = %e, "could not pull a learner's record");
                report.records_failed += 1;
                if matches!(e, TransportError::Unreachable(_)) {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `content_meta` key of the wall time the roster was last refreshed.
const META_ROSTER_REFRESHED: &str = "roster_refreshed_ms";
/// `content_meta` key of the classroom tag the kept roster and assignments answer.
const META_CLASSROOM_TAG: &str = "classroom_tag";

impl Hearth {
    /// Whether the next round fetches the roster and assignments (see [`pull::classroom_due`]),
    /// given the classroom tag the service just sent.
    pub fn roster_refresh_due(&self, tag: Option<&str>) -> Result<bool, CoreError> {
        if self.store.enrollment()?.is_none() {
            return Ok(false);
        }
        let last = self
            .store
            .content_meta(META_ROSTER_REFRESHED)?
            .and_then(|v| v.try_into().ok().map(i64::from_be_bytes));
        let kept = self.store.content_meta(META_CLASSROOM_TAG)?;
        Ok(pull::classroom_due(
            tag.map(str::as_bytes),
            kept.as_deref(),
            last,
            self.env.clock.wall_ms(),
        ))
    }

    /// Keeps a roster fetched by a sync round (adds and updates people, as
    /// [`Hearth::update_roster`], and replaces the classes when they are given), notes when, and
    /// the classroom tag it answers.
    pub fn keep_roster(
        &mut self,
        roster: &[crate::RosterPerson],
        classes: Option<&[crate::RosterClasses]>,
        tag: Option<&str>,
    ) -> Result<(), CoreError> {
        let now = self.env.clock.wall_ms();
        self.store.write(|tx| {
            tx.upsert_roster(roster, now)?;
            if let Some(classes) = classes {
                tx.replace_roster_classes(classes)?;
            }
            tx.set_content_meta(META_ROSTER_REFRESHED, &now.to_be_bytes())?;
            tx.set_content_meta(META_CLASSROOM_TAG, tag.unwrap_or("").as_bytes())
        })?;
        Ok(())
    }

    /// Keeps the classes of the roster's people (a learner's class, a trainer's classes),
    /// replacing those kept before. The people must be on this device already.
    pub fn apply_roster_classes(
        &mut self,
        classes: &[crate::RosterClasses],
    ) -> Result<crate::Changes, CoreError> {
        Ok(self.store.write(|tx| tx.replace_roster_classes(classes))?.1)
    }

    /// Keeps everything enrollment gave the device: [`Hearth::apply_enrollment`] with the
    /// roster's classes, in one transaction, so a kiosk knows its trainers' classes offline
    /// right after enrolling.
    pub fn apply_enroll_answer(&mut self, answer: &http::EnrollAnswer) -> Result<(), CoreError> {
        self.keep_enrollment(
            &answer.enrollment,
            &answer.roster,
            Some(&answer.classes),
            answer.anchor,
        )
    }

    /// The learners whose records the next sync round pulls (see [`pull`]).
    pub fn records_to_pull(&self) -> Result<Vec<LearnerId>, CoreError> {
        let owner = self.store.enrollment()?.and_then(|e| e.owner);
        let acked = self.store.status()?.acked_seq;
        let candidates: Vec<pull::PullCandidate> = self
            .store
            .pull_rows(owner)?
            .into_iter()
            .map(|r| pull::PullCandidate {
                learner: r.learner,
                last_seq: r.last_seq,
                pulled: r.pulled,
            })
            .collect();
        Ok(pull::plan_pulls(
            &candidates,
            acked,
            self.env.clock.wall_ms(),
        ))
    }
}

/// What the UI shows about sync, always up to date.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// Whether the last attempt reached the service (`None` before the first attempt).
    pub online: Option<bool>,
    /// A round is running now.
    pub syncing: bool,
    /// Wall time of the last complete round.
    pub last_success_ms: Option<i64>,
    /// Receipts waiting to be acknowledged.
    pub pending: u64,
    /// The last error, as `{code, message}`, cleared by a successful round.
    pub last_error: Option<ErrorBody>,
}

/// Settings of the background loop.
#[derive(Clone, Copy, Debug)]
pub struct LoopConfig {
    pub schedule: schedule::ScheduleConfig,
    pub batch_size: u32,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            schedule: schedule::ScheduleConfig::default(),
            batch_size: 500,
        }
    }
}

/// Runs sync rounds in the background until `triggers` closes: on every trigger, periodically,
/// and after failures with backoff. Publishes [`SyncStatus`] on `status`. Waiting uses tokio's
/// clock, so tests can pause and advance it.
pub async fn run_loop(
    hearth: std::sync::Arc<Mutex<Hearth>>,
    transport: impl SyncTransport,
    service_key: PublicKey,
    config: LoopConfig,
    mut triggers: tokio::sync::mpsc::Receiver<schedule::Trigger>,
    status: tokio::sync::watch::Sender<SyncStatus>,
) {
    use schedule::{RoundOutcome, Schedule};
    let started = tokio::time::Instant::now();
    let now_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut plan = Schedule::new(config.schedule);
    loop {
        let wait = plan.wait(now_ms());
        tokio::select! {
            t = triggers.recv() => match t {
                Some(t) => { plan.trigger(t, now_ms()); continue; }
                None => break,
            },
            () = sleep_or_forever(wait) => {}
        }
        status.send_modify(|s| s.syncing = true);
        let result = sync_round(&hearth, &transport, &service_key, config.batch_size).await;
        let (wall, pending, random) = {
            let h = locked(&hearth);
            let pending = h.ledger_status().map(|s| s.pending).unwrap_or_default();
            (
                h.env.clock.wall_ms(),
                pending,
                h.env.random::<8>().map(u64::from_le_bytes).unwrap_or(0),
            )
        };
        // A uniform number in [0, 1) from 53 random bits.
        let random = (random >> 11) as f64 / (1u64 << 53) as f64;
        let outcome = match &result {
            Ok(r) if r.left == 0 => RoundOutcome::Complete,
            Ok(_) => RoundOutcome::Partial,
            Err(_) => RoundOutcome::Failed,
        };
        plan.finished(outcome, now_ms(), random);
        status.send_modify(|s| {
            s.syncing = false;
            s.pending = pending;
            match &result {
                Ok(_) => {
                    s.online = Some(true);
                    if outcome == RoundOutcome::Complete {
                        s.last_success_ms = Some(wall);
                        s.last_error = None;
                    }
                }
                Err(e) => {
                    s.online = Some(!matches!(
                        e,
                        SyncError::Transport(TransportError::Unreachable(_))
                    ));
                    s.last_error = Some(ErrorBody::new(e.code(), e.to_string()));
                }
            }
        });
    }
}

async fn sleep_or_forever(wait: Option<std::time::Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
