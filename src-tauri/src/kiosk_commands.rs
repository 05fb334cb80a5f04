//! Kiosk mode on a shared classroom machine: the sign-in list with PINs, idle sign-out, and the
//! trainer's tools (open a class, attest who is present, assign, start an exam, watch progress,
//! export receipts to a USB stick). All rules live in hearth-core (`kiosk`, and `session`, which
//! says who is signed in and so for whom every study command records); these commands only call
//! them.

use std::time::Duration;

use hearth_core::kiosk::{ClassSession, Kiosk, KioskError, KioskPerson, KioskRole, SignedIn};
use hearth_core::study::LearnerProgress;
use hearth_core::sync::http::HttpTransport;
use hearth_core::sync::schedule::Trigger;
use hearth_core::{CoreError, Hearth, RecordedReceipt};
use hearth_protocol::wire::ClassProgress;
use hearth_protocol::{ClassId, LearnerId, SignOutReason};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager, Runtime, State};

use crate::error::parse;
use crate::{CommandError, HearthState, SyncEngine};

/// How often the shell checks for idle sign-out (the policy's limit is minutes).
pub const TICK: Duration = Duration::from_secs(2);

/// The event that carries the kiosk's state (a [`KioskView`]) to the UI when it changes behind
/// the window's back (an idle sign-out).
pub const KIOSK_EVENT: &str = "kiosk-status";

/// Signs the idle person out every [`TICK`] (see [`idle_tick`]).
pub fn spawn_idle_watch<R: Runtime>(app: &AppHandle<R>) {
    let app = app.clone();
    std::thread::Builder::new()
        .name("kiosk-idle".into())
        .spawn(move || {
            loop {
                std::thread::sleep(TICK);
                if let Err(error) = idle_tick(&app) {
                    tracing::warn!(%error, "kiosk idle check failed");
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|error| tracing::error!(%error, "cannot start the kiosk idle watch"));
}

/// One idle check: on a kiosk whose person has been idle too long, signs them out (core's
/// session then names nobody) and pushes the new state to the UI as [`KIOSK_EVENT`]; returns
/// whether it signed someone out. On a personal PC (or before enrollment) there is nothing to
/// check: core answers `Ok(None)` without touching the store.
pub fn idle_tick<R: Runtime>(app: &AppHandle<R>) -> Result<bool, CommandError> {
    let hearth = app.state::<HearthState>();
    if hearth.with(|h| h.kiosk_tick())?.is_none() {
        return Ok(false);
    }
    app.state::<SyncEngine>().trigger(Trigger::NewReceipt);
    tracing::info!("kiosk: signed out after idle");
    let view = kiosk_view(&hearth)?;
    if let Err(error) = app.emit(KIOSK_EVENT, view) {
        tracing::debug!(%error, "the kiosk event was not sent");
    }
    Ok(true)
}

/// The kiosk as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KioskView {
    /// This is a shared machine in kiosk mode.
    pub active: bool,
    pub signed_in: Option<SignedIn>,
    pub class: Option<ClassSession>,
    pub idle_sign_out_ms: u64,
}

#[tauri::command]
pub fn kiosk_status(hearth: State<'_, HearthState>) -> Result<KioskView, CommandError> {
    kiosk_view(&hearth)
}

fn kiosk_view(hearth: &HearthState) -> Result<KioskView, CommandError> {
    hearth.with(|h| {
        Ok(match h.kiosk() {
            None => KioskView {
                active: false,
                signed_in: None,
                class: None,
                idle_sign_out_ms: 0,
            },
            Some(k) => KioskView {
                active: true,
                signed_in: k.signed_in().cloned(),
                class: k.class().cloned(),
                idle_sign_out_ms: k.policy().idle_sign_out_ms,
            },
        })
    })
}

/// The kiosk of this PC, or `kiosk.not_a_kiosk`.
fn kiosk_of(h: &Hearth) -> Result<&Kiosk, CoreError> {
    h.kiosk().ok_or(CoreError::Kiosk(KioskError::NotAKiosk))
}

#[tauri::command]
pub fn kiosk_roster(hearth: State<'_, HearthState>) -> Result<Vec<KioskPerson>, CommandError> {
    hearth.with(|h| h.kiosk_roster())
}

/// Signs a person in with their PIN (checked in core, offline); from then on core records
/// everything for them.
#[tauri::command]
pub fn kiosk_sign_in(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    person: String,
    pin: String,
) -> Result<SignedIn, CommandError> {
    let person: LearnerId = parse(&person, "person id")?;
    let signed = hearth.with(|h| h.kiosk_sign_in(person, &pin))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(signed)
}

/// Signs a learner in with their sign-in card: the text its QR code holds, as a USB scanner
/// types it (checked in core, offline; the receipt carries the card's proof).
#[tauri::command]
pub fn kiosk_sign_in_card(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    card: String,
) -> Result<SignedIn, CommandError> {
    let signed = hearth.with(|h| h.kiosk_sign_in_card(&card))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(signed)
}

#[tauri::command]
pub fn kiosk_sign_out(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
) -> Result<(), CommandError> {
    hearth.with(|h| h.kiosk_sign_out(SignOutReason::Requested))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(())
}

/// The person at the kiosk touched it (the UI sends this at most every few seconds).
#[tauri::command]
pub fn kiosk_input(hearth: State<'_, HearthState>) -> Result<(), CommandError> {
    hearth.with(|h| {
        kiosk_of(h)?;
        h.kiosk_input();
        Ok(())
    })
}

#[tauri::command]
pub fn kiosk_open_class(
    hearth: State<'_, HearthState>,
    class: String,
) -> Result<ClassSession, CommandError> {
    let class: ClassId = parse(&class, "class id")?;
    hearth.with(|h| h.kiosk_open_class(class))
}

#[tauri::command]
pub fn kiosk_attest(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    present: Vec<String>,
) -> Result<RecordedReceipt, CommandError> {
    let present = present
        .iter()
        .map(|p| parse(p, "learner id"))
        .collect::<Result<Vec<LearnerId>, _>>()?;
    let receipt = hearth.with(|h| h.kiosk_attest(present))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(receipt)
}

#[tauri::command]
pub fn kiosk_end_class(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
) -> Result<(), CommandError> {
    hearth.with(|h| h.kiosk_end_class())?;
    engine.trigger(Trigger::NewReceipt);
    Ok(())
}

/// The trainer assigns a lesson or an exam to the open class (a signed receipt; shown at once).
#[tauri::command]
pub fn kiosk_assign(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    lesson: Option<String>,
    exam: Option<String>,
    due_ms: Option<i64>,
) -> Result<RecordedReceipt, CommandError> {
    let course = parse(&course, "course id")?;
    let lesson = lesson.map(|l| parse(&l, "lesson id")).transpose()?;
    let exam = exam.map(|e| parse(&e, "exam id")).transpose()?;
    let receipt = hearth.with(|h| h.kiosk_assign(course, lesson, exam, due_ms))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(receipt)
}

/// The trainer starts a timed exam for the class: learners who sign in are sent to it.
#[tauri::command]
pub fn kiosk_start_exam(
    hearth: State<'_, HearthState>,
    engine: State<'_, SyncEngine>,
    course: String,
    version: u32,
    exam: String,
) -> Result<RecordedReceipt, CommandError> {
    let (course, exam) = (parse(&course, "course id")?, parse(&exam, "exam id")?);
    let receipt = hearth.with(|h| h.kiosk_start_exam(course, version, exam))?;
    engine.trigger(Trigger::NewReceipt);
    Ok(receipt)
}

/// One learner's progress as this kiosk knows it (its own receipts and the records pulled).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberProgress {
    pub person: LearnerId,
    pub name: String,
    pub progress: LearnerProgress,
}

/// The open class's learners and their progress on this kiosk; works offline. Needs a trainer.
#[tauri::command]
pub fn class_progress_here(
    hearth: State<'_, HearthState>,
    utc_offset_min: i32,
) -> Result<Vec<MemberProgress>, CommandError> {
    hearth.with(|h| {
        let class = trainer_class(kiosk_of(h)?)?;
        let mut rows = Vec::new();
        for p in h.kiosk_roster()? {
            if p.role == hearth_core::kiosk::KioskRole::Learner
                && p.classes.iter().any(|c| c.id == class)
            {
                let progress = h.learner_progress(p.id, utc_offset_min)?;
                rows.push(MemberProgress {
                    person: p.id,
                    name: p.name,
                    progress,
                });
            }
        }
        Ok(rows)
    })
}

/// The open class across every device, from the service (after each device's sync). Needs a
/// trainer signed in here; `sync.offline` without a connection.
#[tauri::command]
pub async fn class_progress_service(
    hearth: State<'_, HearthState>,
) -> Result<ClassProgress, CommandError> {
    let (class, enrollment) = hearth.with(|h| {
        let class = trainer_class(kiosk_of(h)?)?;
        let enrollment = h.enrollment()?.ok_or(CoreError::ContentNotEnrolled)?;
        Ok((class, enrollment))
    })?;
    let transport = HttpTransport::new(&enrollment)
        .map_err(|e| CommandError::new("sync.offline", e.to_string()))?;
    transport
        .class_progress(class)
        .await
        .map_err(|e| CommandError::from_sync(hearth_core::sync::SyncError::Transport(e)))
}

/// The trainer copies every receipt of this kiosk to a file (a USB stick) for another device
/// or the service to import. Returns how many receipts were written.
#[tauri::command]
pub async fn export_receipts<R: Runtime>(
    app: AppHandle<R>,
    path: String,
) -> Result<u64, CommandError> {
    let hearth = app.state::<HearthState>();
    // Exporting needs a trainer signed in, not an open class.
    hearth.with(|h| require_trainer(kiosk_of(h)?).map(|_| ()))?;
    // The bundle is read under the store; the slow write to the stick runs without it.
    let bundle = hearth.with(|h| h.receipt_bundle())?;
    let path = std::path::PathBuf::from(path.trim());
    tauri::async_runtime::spawn_blocking(move || bundle.write(&path).map(|()| bundle.receipts))
        .await
        .map_err(|e| CommandError::new("ui.task", e.to_string()))?
        .map_err(CommandError::from)
}

/// Leaves kiosk mode: only a trainer signed in here may; the app closes (a restart without kiosk
/// mode needs the device to be re-enrolled as a personal one, which is the service's decision).
#[tauri::command]
pub fn kiosk_leave<R: Runtime>(
    app: AppHandle<R>,
    hearth: State<'_, HearthState>,
) -> Result<(), CommandError> {
    hearth.with(|h| {
        require_trainer(kiosk_of(h)?)?;
        h.kiosk_sign_out(SignOutReason::Requested).map(|_| ())
    })?;
    app.state::<LeaveAllowed>().allow();
    app.exit(0);
    Ok(())
}

/// A kiosk's window fills the screen and stays there (see [`guard_close`]): no title bar, above
/// other windows, the whole monitor, full screen. The size is set as well as the full-screen
/// state because full screen is a request to the window manager, and a kiosk may run without one
/// (a bare X server started for the app, as in the GUI tests).
pub fn lock_window<R: Runtime>(app: &AppHandle<R>) {
    let Some(window) = app.get_webview_window("main") else {
        return;
    };
    let monitor = window.current_monitor().ok().flatten();
    let steps = [
        window.set_decorations(false),
        window.set_always_on_top(true),
        match &monitor {
            Some(m) => window
                .set_position(*m.position())
                .and_then(|()| window.set_size(*m.size())),
            None => Ok(()),
        },
        window.set_fullscreen(true),
    ];
    for error in steps.into_iter().filter_map(Result::err) {
        tracing::warn!(%error, "kiosk: the window could not be locked to the screen");
    }
}

/// The app's event handler (`App::run`): on a kiosk, closing the window (Alt+F4, the window
/// manager) is refused until a trainer leaves kiosk mode with [`kiosk_leave`], so a learner
/// cannot walk away from the lock. Handled at the app's run loop rather than as a window
/// listener so the same code runs, and is tested, on tauri's mock runtime.
pub fn guard_close<R: Runtime>(app: &AppHandle<R>, event: &tauri::RunEvent) {
    if let tauri::RunEvent::WindowEvent {
        event: tauri::WindowEvent::CloseRequested { api, .. },
        ..
    } = event
    {
        let locked = app
            .try_state::<HearthState>()
            .is_some_and(|h| h.with(|h| Ok(h.is_kiosk())).unwrap_or(false))
            && !app.try_state::<LeaveAllowed>().is_some_and(|l| l.allowed());
        if locked {
            tracing::info!("kiosk: close refused; a trainer leaves kiosk mode with their PIN");
            api.prevent_close();
        }
    }
}

/// Set once a trainer leaves kiosk mode; until then the kiosk window refuses to close.
#[derive(Debug, Default)]
pub struct LeaveAllowed(std::sync::atomic::AtomicBool);

impl LeaveAllowed {
    pub fn allow(&self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn allowed(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn require_trainer(k: &Kiosk) -> Result<LearnerId, CoreError> {
    match k.signed_in() {
        Some(s) if s.role == KioskRole::Trainer => Ok(s.person),
        Some(_) => Err(KioskError::NotTrainer.into()),
        None => Err(KioskError::NotSignedIn.into()),
    }
}

/// The open class, with its trainer signed in.
fn trainer_class(k: &Kiosk) -> Result<ClassId, CoreError> {
    require_trainer(k)?;
    k.class()
        .map(|c| c.class)
        .ok_or(CoreError::Kiosk(KioskError::NoClass))
}
