//! Build script of hearth-desktop. The package's manifest is the repository root (it is also the
//! workspace), so tauri-build finds `tauri.conf.json` there; capabilities live in
//! `src-tauri/capabilities/`.

/// The commands the UI may call. tauri-build generates an `allow-<command>` permission for each,
/// and only those granted in src-tauri/capabilities/ are reachable from the web view.
const COMMANDS: &[&str] = &[
    "device_info",
    "list_learners",
    "add_learner",
    "sign_in",
    "recent_receipts",
    "ledger_status",
    "sync_status",
    "enroll",
    "sync_now",
    "current_learner",
    "library",
    "refresh_catalog",
    "start_download",
    "pause_download",
    "remove_course",
    "import_course",
    "set_storage_budget",
    "exams",
    "assignments",
    "open_lesson",
    "study_activity",
    "confirm_presence",
    "leave_lesson",
    "complete_lesson",
    "check_seek",
    "media_watched",
    "answer_practice",
    "start_exam",
    "submit_exam",
    "exam_attempts",
    "exam_tick",
    "my_progress",
    "media_base",
    "kiosk_status",
    "kiosk_roster",
    "kiosk_sign_in",
    "kiosk_sign_out",
    "kiosk_input",
    "kiosk_open_class",
    "kiosk_attest",
    "kiosk_end_class",
    "kiosk_assign",
    "kiosk_start_exam",
    "class_progress_here",
    "class_progress_service",
    "export_receipts",
    "removable_drives",
    "kiosk_leave",
];

fn main() {
    // generate_context! embeds ui/dist when this crate compiles; rebuild it when the UI changes.
    println!("cargo:rerun-if-changed=ui/dist");
    println!("cargo:rerun-if-changed=src-tauri/capabilities");
    if !std::path::Path::new("ui/dist/index.html").exists() {
        panic!(
            "ui/dist/index.html is missing: build the UI first (`make ui`, or `npm --prefix ui ci && npm --prefix ui run build`)"
        );
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .capabilities_path_pattern("./src-tauri/capabilities/**/*")
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri-build failed");
}
