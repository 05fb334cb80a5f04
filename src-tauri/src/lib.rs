//! hearth-desktop: the Tauri shell around hearth-core.
//!
//! Thin by design: [`commands`] holds one function of a few lines per UI action, [`state`] the
//! managed state, [`error`] the one error contract `{code, message}` the UI sees. Everything
//! else happens in hearth-core.

pub mod camera;
pub mod certificate_commands;
pub mod commands;
pub mod dialogs;
pub mod downloads;
pub mod error;
pub mod kiosk_commands;
pub mod media;
pub mod media_server;
pub mod photo_commands;
pub mod state;
pub mod study_commands;
pub mod sync;

use std::path::PathBuf;

use tauri::{Manager, Runtime};

pub use downloads::Downloads;
pub use error::CommandError;
pub use kiosk_commands::LeaveAllowed;
pub use state::HearthState;
pub use sync::SyncEngine;

/// Environment variable that overrides the data folder (tests and demos use a temporary one).
pub const DATA_DIR_ENV: &str = "HEARTH_DATA_DIR";

/// Environment variable that sets how many milliseconds without input open the lesson player's
/// "are you still here?" check (default 5 minutes; an institution may be told to check more
/// often, and the GUI test uses a few seconds to see the check in the real window).
pub const PRESENCE_AFTER_ENV: &str = "HEARTH_PRESENCE_AFTER_MS";
/// Attention checks every `MIN-MAX` (or `MS`) milliseconds of active study instead of 10–20
/// minutes (tests; an institution that wants them more often).
pub const CHECK_EVERY_ENV: &str = "HEARTH_CHECK_EVERY_MS";
/// Photo checkpoints at random moments every `MIN-MAX` (or `MS`) milliseconds instead of 15–45
/// minutes (the GUI test; docs/privacy.md).
pub const PHOTO_EVERY_ENV: &str = "HEARTH_PHOTO_EVERY_MS";

/// Environment variable naming the folders whose sub-folders are mounted removable drives
/// (a path list like `PATH`), instead of the platform's (`/media/$USER`, `/run/media/$USER` on
/// Linux). The GUI tests point it at a folder made to look like a mounted USB stick.
pub const REMOVABLE_ROOTS_ENV: &str = "HEARTH_REMOVABLE_ROOTS";

/// The handler of every command the UI may call. A command is declared once: its function, and
/// its name in this list. Everything else follows from here: build.rs reads the list for
/// tauri-build's permissions, and tools/bindings writes the UI's typed bindings
/// (`ui/src/generated/bindings.ts`) and the `allow-*` entries of
/// `src-tauri/capabilities/main.json` from it (`make test` fails while they are stale).
pub fn invoke_handler<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        commands::device_info,
        commands::list_learners,
        commands::add_learner,
        commands::sign_in,
        commands::recent_receipts,
        commands::ledger_status,
        commands::sync_status,
        commands::enroll,
        commands::sync_now,
        commands::current_learner,
        commands::library,
        commands::refresh_catalog,
        commands::start_download,
        commands::pause_download,
        commands::remove_course,
        commands::import_course,
        commands::set_storage_budget,
        commands::exams,
        commands::assignments,
        study_commands::open_lesson,
        study_commands::study_activity,
        study_commands::confirm_presence,
        study_commands::answer_check,
        study_commands::leave_lesson,
        study_commands::complete_lesson,
        study_commands::check_seek,
        study_commands::media_watched,
        study_commands::answer_practice,
        study_commands::start_exam,
        study_commands::submit_exam,
        study_commands::exam_attempts,
        study_commands::exam_tick,
        study_commands::my_progress,
        commands::media_base,
        kiosk_commands::kiosk_status,
        kiosk_commands::kiosk_roster,
        kiosk_commands::kiosk_sign_in,
        kiosk_commands::kiosk_sign_in_card,
        kiosk_commands::kiosk_sign_out,
        kiosk_commands::kiosk_input,
        kiosk_commands::kiosk_open_class,
        kiosk_commands::kiosk_attest,
        kiosk_commands::kiosk_end_class,
        kiosk_commands::kiosk_assign,
        kiosk_commands::kiosk_start_exam,
        kiosk_commands::class_progress_here,
        kiosk_commands::class_progress_service,
        kiosk_commands::export_receipts,
        commands::removable_drives,
        kiosk_commands::kiosk_leave,
        certificate_commands::my_certificates,
        certificate_commands::download_certificate,
        certificate_commands::check_certificate,
        certificate_commands::save_certificate,
        certificate_commands::print_certificate,
        certificate_commands::verify_certificate_file,
        certificate_commands::save_training_record,
        dialogs::choose_file,
        photo_commands::photo_status,
        photo_commands::record_photo_consent,
        photo_commands::photo_due,
        photo_commands::prepare_photo,
        photo_commands::take_photo,
    ]
}

/// The app's context: `tauri.conf.json` at the repository root, the capabilities, and the UI
/// from `ui/dist`, embedded at compile time. Generic so tests can run it on the mock runtime.
pub fn context<R: Runtime>() -> tauri::Context<R> {
    tauri::generate_context!()
}

/// The data folder: `HEARTH_DATA_DIR` if set, else the platform's app data folder
/// (`~/.local/share/cn.hearth.desktop` on Linux, `%APPDATA%\cn.hearth.desktop` on Windows).
pub fn data_dir<R: Runtime>(app: &tauri::AppHandle<R>) -> tauri::Result<PathBuf> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Ok(PathBuf::from(dir)),
        _ => app.path().app_data_dir(),
    }
}

/// Starts the desktop app and returns when its last window closes.
pub fn run() {
    lighten_webkit();
    init_tracing();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .invoke_handler(invoke_handler())
        .register_asynchronous_uri_scheme_protocol(media::SCHEME, media::handle)
        // The webcam only while the shell has asked for a photo; every other permission denied.
        .manage(camera::CameraGate::default())
        .on_permission_request(camera::decide_permission)
        .setup(|app| {
            let dir = data_dir(app.handle())?;
            tracing::info!(data_dir = %dir.display(), "opening the Hearth store");
            // A store that cannot be opened still gets a window: every command then answers
            // with the open error, and the UI explains it instead of the app vanishing.
            let state = HearthState::open(&dir, hearth_core::Env::system());
            if let Some(ms) = std::env::var(PRESENCE_AFTER_ENV)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
            {
                let _ = state.with(|h| {
                    h.set_presence_check_after(ms);
                    Ok(())
                });
            }
            if let Some(p) = std::env::var(CHECK_EVERY_ENV)
                .ok()
                .and_then(|v| hearth_core::study::CheckPolicy::parse(&v))
            {
                let _ = state.with(|h| {
                    h.set_check_policy(p);
                    Ok(())
                });
            }
            if let Some(p) = std::env::var(PHOTO_EVERY_ENV)
                .ok()
                .and_then(|v| hearth_core::photos::PhotoPolicy::parse(&v))
            {
                let _ = state.with(|h| {
                    h.set_photo_policy(p);
                    Ok(())
                });
            }
            let engine = SyncEngine::default();
            start_if_enrolled(&state, &engine, app.handle());
            // Who is at the keyboard is core's (the enrolled learner, or a kiosk's sign-in).
            let shared_machine = state.with(|h| Ok(h.is_kiosk())).unwrap_or(false);
            app.manage(state);
            app.manage(engine);
            app.manage(LeaveAllowed::default());
            app.manage(Downloads::default());
            app.manage(commands::RemovableRoots::from_env());
            kiosk_commands::spawn_idle_watch(app.handle());
            camera::enable_in_window(app.handle());
            if shared_machine {
                kiosk_commands::lock_window(app.handle());
            }
            // WebKitGTK cannot play media from a custom scheme: serve it on loopback too.
            #[cfg(target_os = "linux")]
            app.manage(media_server::start(app.handle())?);
            #[cfg(not(target_os = "linux"))]
            app.manage(media_server::MediaBase::default());
            Ok(())
        })
        .build(context());
    match result {
        Ok(app) => app.run(|handle, event| kiosk_commands::guard_close(handle, &event)),
        Err(error) => {
            tracing::error!(%error, "the desktop app failed");
            eprintln!("hearth-desktop: {error}");
            std::process::exit(1);
        }
    }
}

/// An enrolled device syncs from the start.
fn start_if_enrolled<R: Runtime>(
    state: &HearthState,
    engine: &SyncEngine,
    app: &tauri::AppHandle<R>,
) {
    let Ok(Some(enrollment)) = state.with(|h| h.enrollment()) else {
        return;
    };
    let emit = commands::emit_sync(app);
    if let Err(error) = state
        .shared()
        .and_then(|h| engine.start(h, &enrollment, emit))
    {
        tracing::warn!(%error, "the sync engine did not start");
    }
}

/// WebKitGTK's accelerated compositing mode costs the web process about 85 MB more here (measured
/// PSS, 196 MB vs 112 MB, `cargo bench -p hearth-e2e --bench app`) and buys nothing on the
/// machines Hearth runs on: cheap laptops and kiosks without working GPU drivers render it in
/// software anyway. Lessons (text, images, one video at a time) do not need it. A user can still
/// choose by setting the variable themselves.
#[allow(unsafe_code)] // one `set_var` before any thread exists; proof at the call
fn lighten_webkit() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // SAFETY: `set_var` is unsound only while another thread may read or write the
        // environment. This runs first thing in `run()`, called from `main` before Tauri, GTK,
        // tokio or tracing start any thread, so this process has exactly one thread here.
        unsafe { std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1") };
    }
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
