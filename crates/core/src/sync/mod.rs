//! The sync engine: one round uploads the outbox in chain order and marks what the service
//! acknowledged, then pulls the learners' records (credit, grades, certificates) that may have
//! changed ([`pull`] decides which); [`schedule`] decides when rounds run.
//!
//! The network is injected through [`SyncTransport`]; the HTTP implementation converts the wire
//! messages of `hearth_protocol::wire` into the domain types here at once. A round holds the
//! [`Hearth`] lock only between network calls, never across one, and reads the outbox one batch
//! at a time, so memory does not grow with the outbox.

pub mod batch;
pub mod http;
pub mod pull;
pub mod schedule;

use std::future::Future;
use std::sync::Mutex;

use hearth_protocol::wire::{LearnerRecord, PhotoStateJson};
use hearth_protocol::{ChainHead, ErrorBody, LearnerId, PublicKey, ReceiptId, TimeAnchor};
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
    /// No connection could be made: no route, connection refused, no name.
    #[error("the service cannot be reached: {0}")]
    Unreachable(String),
    /// A connection was made but broke before the answer was complete (a reset, a cut-off
    /// request or answer). What the service stored before the cut stays stored.
    #[error("the connection to the service broke off: {0}")]
    Interrupted(String),
    /// The request did not complete in time: the service answered 408 (it stopped waiting for
    /// the request's body), or the client stopped waiting for the answer. The link is slow.
    #[error("the request to the service took too long: {0}")]
    TimedOut(String),
    /// The service answered with an error.
    #[error("the service answered {status}: {}", body.message)]
    Service { status: u16, body: ErrorBody },
    /// The answer made no sense (wrong format, wrong lengths).
    #[error("the service's answer is malformed: {0}")]
    Malformed(String),
}

impl TransportError {
    /// How a round treats this failure (see [`schedule::retry_delay`]).
    pub fn failure(&self) -> schedule::Failure {
        use schedule::Failure;
        match self {
            TransportError::Unreachable(_) => Failure::Offline,
            TransportError::Interrupted(_) => Failure::Interrupted,
            TransportError::TimedOut(_) => Failure::TimedOut,
            TransportError::Service { status, .. } if *status == 429 || *status >= 500 => {
                Failure::Busy
            }
            TransportError::Service { status: 408, .. } => Failure::TimedOut,
            TransportError::Service { .. } | TransportError::Malformed(_) => Failure::Refused,
        }
    }
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
    /// The device's chain as the service acknowledged it, as of the last time anchor fetched
    /// (`None`: unknown). A round marks it before uploading, so what the service stored from a
    /// batch whose answer was lost is not sent again.
    fn acked_head(&self) -> Option<ChainHead> {
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
    /// The organisation's photo policy and the audit requests open for this device's people
    /// (`GET /v1/photos`). `Ok(None)`: this transport knows nothing of photos (the default),
    /// and the round skips the photo step.
    fn photo_state(
        &self,
    ) -> impl Future<Output = Result<Option<PhotoStateJson>, TransportError>> + Send {
        std::future::ready(Ok(None))
    }
    /// Uploads one sealed photo for an audit request, naming its `photo_taken` receipt.
    fn upload_photo(
        &self,
        request: String,
        receipt: ReceiptId,
        sealed: Vec<u8>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        let _ = (request, receipt, sealed);
        std::future::ready(Ok(()))
    }
    /// Tells the service every photo this device holds for the request was sent.
    fn photos_done(
        &self,
        request: String,
    ) -> impl Future<Output = Result<(), TransportError>> + Send {
        let _ = request;
        std::future::ready(Ok(()))
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
    /// Photos uploaded for audit requests in this round (each checked by the service against
    /// its receipt), and photos the service refused.
    pub photos_uploaded: u32,
    pub photos_refused: u32,
    /// The catalog changed since the copy kept (a conditional request: nothing new costs a 304).
    pub catalog_changed: bool,
    /// Calls tried again within the round after a transient failure.
    pub retries: u32,
    /// Receipts found acknowledged in the service's sync state without an upload answer (from a
    /// batch whose answer was cut off), dropped from the outbox instead of sent again.
    pub resumed: u64,
    /// The batch size the round ended with (receipts).
    pub batch_size: u32,
    /// The link's measured upload rate, bytes of receipts per second, once measured.
    pub rate_bytes_per_sec: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl SyncError {
    /// The stable code. A service's refusal keeps its own code when it is one of
    /// [`SERVICE_CODES`]; any other (a newer service, or a hostile one) is `sync.service_error`,
    /// so the app always has a text for what it shows.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::Transport(TransportError::Unreachable(_)) => "sync.offline",
            SyncError::Transport(TransportError::Interrupted(_)) => "sync.interrupted",
            SyncError::Transport(TransportError::TimedOut(_)) => "sync.timeout",
            SyncError::Transport(TransportError::Service { body, .. }) => {
                known_service_code(&body.code).unwrap_or("sync.service_error")
            }
            SyncError::Transport(TransportError::Malformed(_)) => "sync.bad_answer",
            SyncError::Core(e) => e.code(),
        }
    }
}

/// The service's codes a device's requests can be answered with, as the service's sources make
/// them (`crates/core/tests/error_codes.rs` keeps this list equal to them, and the UI has a text
/// for each).
pub const SERVICE_CODES: &[&str] = &[
    "auth.expired_credential",
    "auth.forbidden",
    "auth.invalid_credential",
    "auth.missing_credential",
    "auth.too_many_failures",
    "auth.wrong_org",
    "certificate.already_revoked",
    "certificate.font_missing",
    "certificate.invalid_reason",
    "certificate.invalid_serial",
    "certificate.not_found",
    "certificate.pdf",
    "certificate.qr",
    "class.invalid_id",
    "class.not_found",
    "course.invalid_version",
    "course.not_found",
    "course.unknown_occupation",
    "device.flagged",
    "device.not_found",
    "device.unknown",
    "enroll.code_expired",
    "enroll.code_used",
    "enroll.device_exists",
    "enroll.device_id_mismatch",
    "enroll.invalid_code",
    "enroll.invalid_label",
    "file.invalid_hash",
    "file.not_found",
    "internal",
    "learner.exists",
    "learner.invalid_id",
    "learner.invalid_national_id",
    "learner.invalid_pin",
    "learner.not_found",
    "method_not_allowed",
    "not_found",
    "package.refused",
    "photo.hash_mismatch",
    "photo.invalid_reason",
    "photo.not_in_chain",
    "photo.request_not_found",
    "range.not_satisfiable",
    "request.bad_encoding",
    "request.body_unreadable",
    "request.bytes_limited",
    "request.invalid_path",
    "request.invalid_query",
    "request.malformed_json",
    "request.rate_limited",
    "request.timeout",
    "request.too_large",
    "request.too_many_at_once",
    "request.too_many_connections",
    "request.unsupported_encoding",
    "request.unsupported_media_type",
    "service.busy",
    "service.stopping",
];

/// `code` as one of [`SERVICE_CODES`], if it is one.
fn known_service_code(code: &str) -> Option<&'static str> {
    SERVICE_CODES.iter().find(|c| **c == code).copied()
}

fn locked(hearth: &Mutex<Hearth>) -> std::sync::MutexGuard<'_, Hearth> {
    // A panic while holding the lock cannot leave the store half-written (every write is one
    // SQLite transaction), so a poisoned lock is safe to keep using.
    hearth
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// How a round sizes its batches and retries its calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RoundOptions {
    /// The batch-size controller; kept across rounds by the loop, so what it learned about the
    /// link carries over.
    pub batch: batch::BatchSizer,
    pub retry: schedule::RetryConfig,
}

impl Default for RoundOptions {
    /// Adaptive batches, retries within the round.
    fn default() -> Self {
        Self {
            batch: batch::BatchSizer::new(batch::BatchConfig::default()),
            retry: schedule::RetryConfig::default(),
        }
    }
}

impl RoundOptions {
    /// Batches of exactly `batch_size` and no retry within the round: one attempt at each call.
    pub fn fixed(batch_size: u32) -> Self {
        Self {
            batch: batch::BatchSizer::new(batch::BatchConfig::fixed(batch_size)),
            retry: schedule::RetryConfig::NONE,
        }
    }
}

/// Runs one sync round: fetch and keep a time anchor, then upload the outbox in batches of
/// `batch_size` in chain order, marking each acknowledgement as it comes. One attempt at each
/// call; [`sync_round_with`] sizes batches to the link and retries.
pub async fn sync_round(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    service_key: &PublicKey,
    batch_size: u32,
) -> Result<RoundReport, SyncError> {
    sync_round_with(
        hearth,
        transport,
        service_key,
        &mut RoundOptions::fixed(batch_size),
    )
    .await
}

/// Failures in a row within a round and whether any call reached the service.
#[derive(Debug, Default)]
struct Retries {
    failures: u32,
    contacted: bool,
}

impl Retries {
    fn succeeded(&mut self) {
        self.failures = 0;
        self.contacted = true;
    }

    /// After a failed call: waits and returns `Ok` when the call should be tried again, returns
    /// the error otherwise.
    async fn again(
        &mut self,
        hearth: &Mutex<Hearth>,
        config: &schedule::RetryConfig,
        report: &mut RoundReport,
        error: TransportError,
    ) -> Result<(), SyncError> {
        self.failures = self.failures.saturating_add(1);
        let delay = schedule::retry_delay(
            config,
            error.failure(),
            self.failures,
            self.contacted,
            uniform(hearth),
        );
        let Some(delay) = delay else {
            // Nothing of this round reached the service: to the learner it is offline, however
            // the connections failed (the sync bar says so, and the schedule backs off).
            if !self.contacted && matches!(error, TransportError::Interrupted(_)) {
                return Err(TransportError::Unreachable(error.to_string()).into());
            }
            return Err(error.into());
        };
        tracing::info!(error = %error, ?delay, failures = self.failures, "retrying within the round");
        report.retries += 1;
        tokio::time::sleep(delay).await;
        Ok(())
    }
}

/// A uniform number in [0, 1) from the injected randomness (53 random bits).
fn uniform(hearth: &Mutex<Hearth>) -> f64 {
    let random = locked(hearth)
        .env
        .random::<8>()
        .map(u64::from_le_bytes)
        .unwrap_or(0);
    (random >> 11) as f64 / (1u64 << 53) as f64
}

fn mono_ms(hearth: &Mutex<Hearth>) -> u64 {
    locked(hearth).env.clock.mono_ms()
}

/// Fetches and keeps a time anchor, then marks what the service's sync state says it holds
/// (see [`SyncTransport::acked_head`]); returns how many receipts that acknowledged.
async fn anchor_and_head(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    service_key: &PublicKey,
) -> Result<u64, SyncError> {
    let anchor = transport.time_anchor().await?;
    let mut h = locked(hearth);
    h.store_anchor(anchor, service_key)?;
    let Some(head) = transport.acked_head() else {
        return Ok(0);
    };
    let before = h.ledger_status()?.acked_seq;
    if head.seq <= before {
        return Ok(0);
    }
    h.mark_acknowledged(head)?;
    Ok(head.seq - before)
}

/// Runs one sync round with `options`: fetch and keep a time anchor and drop from the outbox
/// what the service already holds, then upload the rest in chain order in batches the
/// controller sizes, marking each acknowledgement as it comes, then the classroom, catalog and
/// record steps. A transient failure (a reset, a 408, a 5xx) is tried again within the round
/// after a backoff ([`schedule::retry_delay`]); an upload is tried again only after the sync
/// state was fetched again, so what the service stored before a cut is not sent twice.
pub async fn sync_round_with(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    service_key: &PublicKey,
    options: &mut RoundOptions,
) -> Result<RoundReport, SyncError> {
    let mut report = RoundReport::default();
    let mut retries = Retries::default();
    let retry = options.retry;
    loop {
        match anchor_and_head(hearth, transport, service_key).await {
            Ok(n) => {
                report.resumed += n;
                retries.succeeded();
                break;
            }
            Err(SyncError::Transport(e)) => {
                retries.again(hearth, &retry, &mut report, e).await?;
            }
            Err(e) => return Err(e),
        }
    }

    let mut cursor = 0;
    loop {
        let sizer = &mut options.batch;
        let batch = locked(hearth).outbox(cursor, sizer.size())?;
        let Some(last) = batch.last() else { break };
        let last_seq = last.seq;
        let sent = batch.len();
        let bytes: u64 = batch.iter().map(|i| i.envelope.len() as u64).sum();
        let started = mono_ms(hearth);
        sizer.started(started);
        let result = transport
            .upload(batch.into_iter().map(|item| item.envelope).collect())
            .await;
        let now = mono_ms(hearth);
        let elapsed = now.saturating_sub(started);
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                match e.failure() {
                    schedule::Failure::TimedOut => {
                        sizer.timed_out(sent as u32, bytes, elapsed, now);
                    }
                    schedule::Failure::Interrupted | schedule::Failure::Offline => sizer.cut(now),
                    schedule::Failure::Busy | schedule::Failure::Refused => {}
                }
                retries.again(hearth, &retry, &mut report, e).await?;
                // Resume from what the service holds: the batch may have been stored before
                // its answer was lost.
                loop {
                    match anchor_and_head(hearth, transport, service_key).await {
                        Ok(n) => {
                            report.resumed += n;
                            break;
                        }
                        Err(SyncError::Transport(e)) => {
                            retries.again(hearth, &retry, &mut report, e).await?;
                        }
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
        };
        retries.succeeded();
        if outcome.results.len() != sent {
            return Err(TransportError::Malformed(format!(
                "{} results for {sent} receipts",
                outcome.results.len()
            ))
            .into());
        }
        sizer.succeeded(sent as u32, bytes, elapsed, now);
        cursor = last_seq;
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
    report.batch_size = options.batch.size();
    report.rate_bytes_per_sec = options.batch.rate_bytes_per_sec();
    let status = locked(hearth).ledger_status()?;
    report.acked_seq = status.acked_seq;
    report.left = status.pending;
    refresh_roster(hearth, transport, &mut report).await?;
    loop {
        match refresh_catalog(hearth, transport, &mut report).await {
            Ok(()) => break,
            Err(SyncError::Transport(e)) => retries.again(hearth, &retry, &mut report, e).await?,
            Err(e) => return Err(e),
        }
    }
    pull_records(hearth, transport, &mut report).await?;
    photo_step(hearth, transport, &mut report).await?;
    Ok(report)
}

/// The photo step (issue #17, docs/privacy.md): keeps the organisation's photo policy and key,
/// deletes photos past their retention, and answers each open audit request with the sealed
/// photos of that learner this PC holds (receipts first: the service checks each photo against
/// a `photo_taken` receipt it already has). A failure is logged and tried again next round;
/// a photo the service refuses is logged and not sent again in this round.
async fn photo_step(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    if let Err(e) = locked(hearth).purge_old_photos() {
        tracing::warn!(error = %e, "could not delete old photos");
    }
    let state = match transport.photo_state().await {
        Ok(Some(s)) => s,
        Ok(None) => return Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "could not fetch the photo policy");
            return Ok(());
        }
    };
    if let Err(e) = locked(hearth).keep_photo_policy(state.enabled, &state.public_key) {
        tracing::warn!(error = %e, "the service's photo policy was not kept");
    }
    for req in state.requests {
        let photos = locked(hearth).sealed_photos(req.learner_id)?;
        for p in photos {
            let sealed = match std::fs::read(&p.path) {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(path = %p.path.display(), error = %e, "a kept photo could not be read");
                    continue;
                }
            };
            match transport
                .upload_photo(req.id.clone(), p.receipt, sealed)
                .await
            {
                Ok(()) => report.photos_uploaded += 1,
                Err(TransportError::Service { body, .. }) => {
                    tracing::warn!(code = %body.code, receipt = %p.receipt, "the service refused a photo");
                    report.photos_refused += 1;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "photo upload failed; tried again next round");
                    return Ok(());
                }
            }
        }
        if let Err(e) = transport.photos_done(req.id.clone()).await {
            tracing::warn!(error = %e, "could not close the photo request; tried again next round");
            return Ok(());
        }
    }
    Ok(())
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
/// 304. A failed request is returned, to be tried again like the other calls of the round (a
/// catalog cut off mid-answer is not kept; the next attempt asks again).
async fn refresh_catalog(
    hearth: &Mutex<Hearth>,
    transport: &impl SyncTransport,
    report: &mut RoundReport,
) -> Result<(), SyncError> {
    let etag = locked(hearth).catalog_etag()?;
    match transport.catalog(etag).await? {
        None => {}
        Some(answer) => match locked(hearth).keep_catalog(answer) {
            Ok(r) => report.catalog_changed = r.changed,
            Err(e) => tracing::warn!(error = %e, "could not keep the catalog"),
        },
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

    /// Keeps a roster fetched by a sync round (adds and updates people, and replaces the classes
    /// when they are given), notes when, and the classroom tag it answers.
    pub fn keep_roster(
        &mut self,
        roster: &[crate::RosterPerson],
        classes: Option<&[crate::RosterClasses]>,
        tag: Option<&str>,
    ) -> Result<(), CoreError> {
        let now = self.env.clock.wall_ms();
        self.store.write(|tx| {
            tx.upsert_roster(roster, now)?;
            let retired = tx.retire_roster_people(roster)?;
            if retired > 0 {
                tracing::info!(
                    retired,
                    "people no longer on the roster: their PIN verifiers dropped"
                );
            }
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
    /// right after enrolling. The session follows the enrollment: on a personal PC its learner
    /// is signed in (`learner_signed_in { method: sole_learner }` is recorded), a kiosk waits for
    /// a PIN. The desktop app and the CLI both enroll through this.
    pub fn apply_enroll_answer(&mut self, answer: &http::EnrollAnswer) -> Result<(), CoreError> {
        self.keep_enrollment(
            &answer.enrollment,
            &answer.roster,
            Some(&answer.classes),
            answer.anchor,
        )?;
        if let Some(owner) = answer.enrollment.owner {
            self.sign_in(owner)?;
        }
        Ok(())
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
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopConfig {
    pub schedule: schedule::ScheduleConfig,
    /// Batch sizes; the controller's state carries over from round to round.
    pub batch: batch::BatchConfig,
    /// Retries within a round.
    pub retry: schedule::RetryConfig,
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
    let mut options = RoundOptions {
        batch: batch::BatchSizer::new(config.batch),
        retry: config.retry,
    };
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
        let result = sync_round_with(&hearth, &transport, &service_key, &mut options).await;
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
                    // A cut or a 408 reached the service: the link is slow or flaky, not
                    // offline, and the code says which.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(code: &str) -> SyncError {
        SyncError::Transport(TransportError::Service {
            status: 400,
            body: ErrorBody::new(code, "refused"),
        })
    }

    #[test]
    fn a_service_code_is_kept_only_when_the_app_knows_it() {
        assert_eq!(refused("enroll.code_used").code(), "enroll.code_used");
        assert_eq!(
            refused("auth.expired_credential").code(),
            "auth.expired_credential"
        );
        // A newer or hostile service's code: the app shows its own text for a refusal.
        assert_eq!(refused("made.up").code(), "sync.service_error");
        assert_eq!(refused("").code(), "sync.service_error");
    }
}
