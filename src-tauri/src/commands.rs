//! The commands the UI calls: each a few lines over hearth-core. Transport types are camelCase.

use hearth_core::content::{ContentSource, CourseSummary, ExamView, HttpSource, Removed};
use hearth_core::sync::schedule::Trigger;
use hearth_core::sync::{SyncError, SyncStatus, http};
use hearth_core::{Assignment, Learner, LedgerStatus, ReceiptSummary, RecordedReceipt};
use hearth_protocol::wire::CatalogEntry;
use hearth_protocol::{CourseId, DeviceId, LearnerId};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::downloads::{DownloadView, Downloads};
use crate::error::parse;
use crate::sync::SyncEngine;
use crate::{CommandError, HearthState};

/// The most receipts one `recent_receipts` call returns.
pub const MAX_RECENT: u32 = 500;

/// This installation, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: DeviceId,
    /// The Ed25519 public key, hex.
    pub public_key: String,
    pub created_ms: i64,
    /// Where the store lives, for support.
    pub data_dir: String,
}

#[tauri::command]
pub fn device_info(hearth: State<'_, HearthState>) -> Result<DeviceView, CommandError> {
    hearth.with(|h| {
        let device = h.device();
        Ok(DeviceView {
            id: device.id,
            public_key: device.public_key.to_hex(),
            created_ms: device.created_ms,
            data_dir: h.data_dir().display().to_string(),
        })
    })
}

#[tauri::command]
pub fn list_learners(hearth: State<'_, HearthState>) -> Result<Vec<Learner>, CommandError> {
    hearth.with(|h| h.learners())
}

#[tauri::command]
pub fn add_learner(
    hearth: State<'_, HearthState>,
    display_name: String,
) -> Result<Learner, CommandError> {
    hearth.with(|h| h.add_learner(&display_name))
}

/// Signs a learner in on this PC and records it as a receipt: a local profile before
/// enrollment, only the enrolled learner after (`session.not_owner`); a kiosk signs people in
/// with their PIN (`session.use_pin`). Core's session decides; see `hearth_core::session`.
#[tauri::command]
pub fn sign_in(
    hearth: State<'_, HearthState>,
    learner_id: String,
) -> Result<RecordedReceipt, CommandError> {
    let learner: LearnerId = parse(&learner_id, "learner id")?;
    hearth.with(|h| h.sign_in(learner))
}

#[tauri::command]
pub fn recent_receipts(
    hearth: State<'_, HearthState>,
    limit: Option<u32>,
) -> Result<Vec<ReceiptSummary>, CommandError> {
    let limit = limit.unwrap_or(50).min(MAX_RECENT);
    hearth.with(|h| h.recent_receipts(limit))
}

#[tauri::command]
pub fn ledger_status(hearth: State<'_, HearthState>) -> Result<LedgerStatus, CommandError> {
    hearth.with(|h| h.ledger_status())
}

// ---- enrollment and sync -------------------------------------------------------------------

/// The device's link to the service, for the first-run screen, the sync bar and settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    pub enrolled: bool,
    pub service_url: Option<String>,
    pub org_name: Option<String>,
    /// The learner this personal device belongs to, if any.
    pub owner: Option<LearnerId>,
    /// The background loop's status (offline/online, syncing, last sync, last error).
    pub status: SyncStatus,
    /// Receipts not yet acknowledged, read from the store now.
    pub pending: u64,
}

#[tauri::command]
pub fn sync_status(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
) -> Result<SyncView, CommandError> {
    sync_view(&hearth, engine.status().unwrap_or_default())
}

/// The sync bar's state with the loop's `status`.
pub fn sync_view(hearth: &HearthState, status: SyncStatus) -> Result<SyncView, CommandError> {
    let (enrollment, ledger) = hearth.with(|h| Ok((h.enrollment()?, h.ledger_status()?)))?;
    Ok(SyncView {
        enrolled: enrollment.is_some(),
        service_url: enrollment.as_ref().map(|e| e.service_url.clone()),
        org_name: enrollment.as_ref().map(|e| e.org_name.clone()),
        owner: enrollment.and_then(|e| e.owner),
        status,
        pending: ledger.pending,
    })
}

/// What the sync engine calls on every status change: the new sync bar state goes to the UI as
/// [`crate::sync::SYNC_EVENT`].
pub fn emit_sync<R: Runtime>(app: &AppHandle<R>) -> impl Fn(SyncStatus) + Send + 'static {
    let app = app.clone();
    move |status| {
        // Called from the engine's task, after setup has put the store in the app's state.
        let Some(hearth) = app.try_state::<HearthState>() else {
            return;
        };
        match sync_view(&hearth, status) {
            Ok(view) => {
                if let Err(error) = app.emit(crate::sync::SYNC_EVENT, view) {
                    tracing::warn!(%error, "the sync state could not be sent to the window");
                }
            }
            Err(error) => tracing::warn!(%error, "the sync state could not be read"),
        }
    }
}

/// Enrolls this device with a one-time code; core keeps what the service gave and signs the
/// device's learner in (or, on a shared machine, turns kiosk mode on); starts the background
/// sync.
#[tauri::command]
pub async fn enroll<R: Runtime>(
    app: AppHandle<R>,
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    service_url: String,
    code: String,
) -> Result<SyncView, CommandError> {
    let url = service_url.trim().to_owned();
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(CommandError::new(
            "enroll.bad_url",
            "the address must start with http:// or https://",
        ));
    }
    let key = hearth.with(|h| Ok(h.device().public_key))?;
    let now = hearth_core::Clock::wall_ms(&hearth_core::SystemClock::new());
    let answer = http::enroll(&url, code.trim(), key, Some("Hearth desktop".into()), now)
        .await
        .map_err(|e| CommandError::from_sync(SyncError::Transport(e)))?;
    // Core keeps the enrollment and sets who is at the keyboard from it (the learner of a
    // personal PC, signed in; nobody on a kiosk until a PIN).
    let kiosk = hearth.with(|h| {
        h.apply_enroll_answer(&answer)?;
        Ok(h.is_kiosk())
    })?;
    engine.start(hearth.shared()?, &answer.enrollment, emit_sync(&app))?;
    // A shared machine (no owner) becomes a kiosk at once: sign-in list, full screen, locked.
    if kiosk {
        crate::kiosk_commands::lock_window(&app);
    }
    sync_status(hearth, engine)
}

/// "Sync now".
#[tauri::command]
pub fn sync_now(engine: State<'_, SyncEngine>) {
    engine.trigger(Trigger::Demand);
}

/// The person at the keyboard, as core's session says, if anyone.
#[tauri::command]
pub fn current_learner(hearth: State<'_, HearthState>) -> Result<Option<LearnerId>, CommandError> {
    hearth.with(|h| Ok(h.at_keyboard()))
}

// ---- library -------------------------------------------------------------------------------

/// Installed and available courses, downloads in progress and the storage they take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LibraryView {
    pub installed: Vec<CourseSummary>,
    /// The catalog as last fetched (empty before the first fetch).
    pub catalog: Vec<CatalogEntry>,
    pub downloads: Vec<DownloadView>,
    pub used_bytes: u64,
    pub budget_bytes: u64,
}

#[tauri::command]
pub fn library(
    hearth: State<'_, HearthState>,
    downloads: State<'_, Downloads>,
) -> Result<LibraryView, CommandError> {
    hearth.with(|h| {
        Ok(LibraryView {
            installed: h.installed_courses()?,
            catalog: h.cached_catalog()?.map(|c| c.courses).unwrap_or_default(),
            downloads: downloads.list(),
            used_bytes: h.content_usage()?,
            budget_bytes: h.content_budget()?,
        })
    })
}

/// Fetches the catalog from the service (conditional request); offline keeps the stored copy.
/// The store is held only to read the stored ETag and to keep the answer, never across the
/// request: a stalled service must not freeze the study commands (issue #16).
#[tauri::command]
pub async fn refresh_catalog(hearth: State<'_, HearthState>) -> Result<(), CommandError> {
    let (enrollment, etag) = hearth.with(|h| {
        let enrollment = h
            .enrollment()?
            .ok_or(hearth_core::CoreError::ContentNotEnrolled)?;
        Ok((enrollment, h.catalog_etag()?))
    })?;
    let source = HttpSource::new(&enrollment)?;
    let answer = source
        .catalog(etag.as_deref())
        .await
        .map_err(CommandError::from)?;
    hearth.with(|h| h.keep_catalog(answer)).map(|_| ())
}

#[tauri::command]
pub fn start_download<R: Runtime>(
    app: AppHandle<R>,
    downloads: State<'_, Downloads>,
    course: String,
    version: u32,
) -> Result<(), CommandError> {
    downloads.start(&app, parse(&course, "course id")?, version)
}

#[tauri::command]
pub fn pause_download<R: Runtime>(
    app: AppHandle<R>,
    downloads: State<'_, Downloads>,
    course: String,
) -> Result<(), CommandError> {
    downloads.pause(&app, &parse(&course, "course id")?);
    Ok(())
}

#[tauri::command]
pub fn remove_course(
    hearth: State<'_, HearthState>,
    downloads: State<'_, Downloads>,
    course: String,
    version: u32,
) -> Result<Removed, CommandError> {
    let course: CourseId = parse(&course, "course id")?;
    let removed = hearth.with(|h| h.remove_course(&course, version))?;
    downloads.forget(&course);
    Ok(removed)
}

/// Imports a course package file (USB stick, shared folder) by its path. Reading, checking and
/// copying the package (slow from a USB stick) runs without the store; only making the importer
/// and the final install hold it.
#[tauri::command]
pub async fn import_course(
    hearth: State<'_, HearthState>,
    path: String,
) -> Result<CourseSummary, CommandError> {
    let importer = hearth.with(|h| h.package_importer())?;
    let path = std::path::PathBuf::from(path.trim());
    let staged = tauri::async_runtime::spawn_blocking(move || importer.stage(&path, &mut |_| {}))
        .await
        .map_err(|e| CommandError::new("ui.task", e.to_string()))?
        .map_err(CommandError::from)?;
    hearth.with(|h| h.install_staged(staged))
}

#[tauri::command]
pub fn set_storage_budget(hearth: State<'_, HearthState>, bytes: u64) -> Result<(), CommandError> {
    hearth.with(|h| h.set_content_budget(bytes))
}

// ---- course content ------------------------------------------------------------------------

/// What trainers assigned to this device's classes, soonest due first (kept for offline use).
#[tauri::command]
pub fn assignments(hearth: State<'_, HearthState>) -> Result<Vec<Assignment>, CommandError> {
    hearth.with(|h| h.assignments())
}

#[tauri::command]
pub fn exams(
    hearth: State<'_, HearthState>,
    course: String,
    version: u32,
) -> Result<Vec<ExamView>, CommandError> {
    let course = parse(&course, "course id")?;
    hearth.with(|h| h.exams(&course, version))
}

/// Where [`removable_drives`] looks for mounted drives (see `hearth_core::removable`).
#[derive(Clone, Debug, Default)]
pub struct RemovableRoots(pub Vec<std::path::PathBuf>);

impl RemovableRoots {
    /// `HEARTH_REMOVABLE_ROOTS` if set, else the platform's roots.
    pub fn from_env() -> Self {
        match std::env::var_os(crate::REMOVABLE_ROOTS_ENV) {
            Some(v) if !v.is_empty() => Self(std::env::split_paths(&v).collect()),
            _ => Self(hearth_core::removable::default_roots()),
        }
    }
}

/// The inserted removable drives (USB sticks) with the course packages and receipt files on
/// them, for the import and export lists. Reading a slow stick holds no lock.
#[tauri::command]
pub async fn removable_drives<R: Runtime>(
    app: AppHandle<R>,
) -> Result<Vec<hearth_core::removable::Drive>, CommandError> {
    let roots = app
        .try_state::<RemovableRoots>()
        .map(|r| r.0.clone())
        .unwrap_or_else(hearth_core::removable::default_roots);
    tauri::async_runtime::spawn_blocking(move || hearth_core::removable::scan(&roots))
        .await
        .map_err(|e| CommandError::new("ui.task", e.to_string()))
}

/// Where the UI loads cached audio and video from: the loopback media server on Linux (see
/// `media_server`), or empty for the `hearth-media` scheme elsewhere.
#[tauri::command]
pub fn media_base(base: State<'_, crate::media_server::MediaBase>) -> String {
    base.0.clone()
}
