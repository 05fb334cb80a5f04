//! The shell's commands on tauri's mock runtime: no window, no WebKit, a real hearth-core store
//! in a temporary folder. Calls go through the same IPC path as the UI's `invoke`, including
//! argument names, serialization and the error contract.

use std::path::Path;

use hearth_core::Env;
use hearth_desktop::{Downloads, HearthState, LeaveAllowed, SyncEngine};
use serde_json::{Value, json};
use tauri::test::{
    INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets,
};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};

const T0: i64 = 1_764_300_000_000;

/// The small course the core tests share (written once, in hearth-core's tests).
#[path = "../../crates/core/tests/common/mod.rs"]
mod course_fixture;

struct Shell {
    app: App<MockRuntime>,
    window: WebviewWindow<MockRuntime>,
}

/// An app like `hearth_desktop::run` builds, on the mock runtime, with a deterministic clock.
fn shell_with_context(dir: &Path, context: tauri::Context<MockRuntime>, label: &str) -> Shell {
    let (env, _clock) = Env::deterministic(T0, 7);
    shell_over(HearthState::open(dir, env), context, label)
}

/// The app around an already open store; kiosk mode is on when the store is a shared device's.
fn shell_over(state: HearthState, context: tauri::Context<MockRuntime>, label: &str) -> Shell {
    let app = mock_builder()
        .invoke_handler(hearth_desktop::invoke_handler())
        .manage(state)
        .manage(SyncEngine::default())
        .manage(Downloads::default())
        .manage(LeaveAllowed::default())
        .build(context)
        .expect("mock app builds");
    let window = WebviewWindowBuilder::new(&app, label, Default::default())
        .build()
        .expect("mock window builds");
    Shell { app, window }
}

fn shell(dir: &Path) -> Shell {
    shell_with_context(dir, mock_context(noop_assets()), "main")
}

/// One command through the IPC path, as the UI's `invoke` sends it (from any thread).
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: cmd.into(),
            callback: tauri::ipc::CallbackFn(0),
            error: tauri::ipc::CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: tauri::ipc::InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|body| body.deserialize::<Value>().expect("a JSON answer"))
}

impl Shell {
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        invoke(&self.window, cmd, args)
    }

    fn ok(&self, cmd: &str, args: Value) -> Value {
        self.call(cmd, args)
            .unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn err(&self, cmd: &str, args: Value) -> Value {
        match self.call(cmd, args) {
            Ok(v) => panic!("{cmd} should fail, answered {v}"),
            Err(e) => e,
        }
    }
}

#[test]
fn device_info_shows_the_store_device() {
    let dir = tempfile::tempdir().unwrap();
    let first = shell(dir.path()).ok("device_info", json!({}));
    let id = first["id"].as_str().unwrap();
    assert_eq!(id.len(), 36, "a UUID: {first}");
    assert_eq!(first["publicKey"].as_str().unwrap().len(), 64);
    assert_eq!(first["createdMs"], T0);
    assert_eq!(first["dataDir"], dir.path().display().to_string());

    // The same folder opened again is the same device (the key and store persist).
    let again = shell(dir.path()).ok("device_info", json!({}));
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["publicKey"], first["publicKey"]);
}

#[test]
fn add_learner_then_sign_in_records_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    assert_eq!(s.ok("list_learners", json!({})), json!([]));
    assert_eq!(
        s.ok("ledger_status", json!({})),
        json!({"headSeq": 0, "ackedSeq": 0, "pending": 0})
    );

    let learner = s.ok("add_learner", json!({"displayName": "  王小明 "}));
    assert_eq!(learner["displayName"], "王小明");
    let learner_id = learner["id"].as_str().unwrap().to_owned();
    assert_eq!(s.ok("list_learners", json!({})), json!([learner.clone()]));

    let receipt = s.ok("sign_in", json!({"learnerId": learner_id}));
    assert_eq!(receipt["seq"], 1);
    assert_eq!(receipt["kind"], "learner_signed_in");
    assert_eq!(receipt["learner"], learner_id.as_str());
    assert_eq!(receipt["wallMs"], T0);

    let second = s.ok("sign_in", json!({"learnerId": learner_id}));
    assert_eq!(second["seq"], 2);

    let recent = s.ok("recent_receipts", json!({"limit": 10}));
    let rows = recent.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["seq"], 2, "newest first: {recent}");
    assert_eq!(rows[1]["id"], receipt["id"]);
    assert_eq!(rows[1]["acknowledged"], false);
    assert_eq!(rows[1]["kind"], "learner_signed_in");
    assert_eq!(
        s.ok("ledger_status", json!({})),
        json!({"headSeq": 2, "ackedSeq": 0, "pending": 2})
    );
    // A limit is honoured, and a missing one has a default.
    assert_eq!(
        s.ok("recent_receipts", json!({"limit": 1}))
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.ok("recent_receipts", json!({})).as_array().unwrap().len(),
        2
    );
}

#[test]
fn receipts_are_durable_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let learner_id = {
        let s = shell(dir.path());
        let learner = s.ok("add_learner", json!({"displayName": "李娜"}));
        let id = learner["id"].as_str().unwrap().to_owned();
        s.ok("sign_in", json!({"learnerId": id}));
        id
    };
    let s = shell(dir.path());
    let rows = s.ok("recent_receipts", json!({"limit": 5}));
    assert_eq!(rows[0]["learner"], learner_id.as_str());
    assert_eq!(s.ok("ledger_status", json!({}))["headSeq"], 1);
}

#[test]
fn errors_follow_the_code_and_message_contract() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());

    let empty = s.err("add_learner", json!({"displayName": "   "}));
    assert_eq!(empty["code"], "input.invalid");
    assert!(
        empty["message"].as_str().unwrap().contains("1 to 64"),
        "{empty}"
    );
    assert_eq!(
        empty.as_object().unwrap().len(),
        2,
        "exactly {{code, message}}: {empty}"
    );

    let unknown = s.err(
        "sign_in",
        json!({"learnerId": "6f1c2d3e-0000-4000-8000-000000000001"}),
    );
    assert_eq!(unknown["code"], "learner.unknown");

    let garbage = s.err("sign_in", json!({"learnerId": "not-a-uuid"}));
    assert_eq!(garbage["code"], "input.invalid");

    // Nothing was recorded by the failed calls.
    assert_eq!(s.ok("ledger_status", json!({}))["headSeq"], 0);
}

#[test]
fn a_store_that_cannot_open_answers_every_command_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    drop(shell(dir.path())); // first run: makes the key and the store
    let db = dir.path().join("hearth.db");
    std::fs::write(
        &db,
        b"this is not an SQLite database, just some text that is long enough",
    )
    .unwrap();
    let before = std::fs::read(&db).unwrap();

    let s = shell(dir.path());
    for cmd in [
        "device_info",
        "list_learners",
        "ledger_status",
        "recent_receipts",
    ] {
        let e = s.err(cmd, json!({}));
        assert_eq!(e["code"], "store.not_a_database", "{cmd}: {e}");
        assert!(e["message"].as_str().unwrap().contains("hearth.db"), "{e}");
    }
    assert_eq!(
        s.err("add_learner", json!({"displayName": "王小明"}))["code"],
        "store.not_a_database"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        before,
        "the file was left untouched"
    );
}

/// With the app's real context, the capabilities in src-tauri/capabilities/ are in force: the
/// main window may call the commands, and a window the capability does not name may not.
#[test]
fn capabilities_grant_the_commands_to_the_main_window_only() {
    let dir = tempfile::tempdir().unwrap();
    let main = shell_with_context(dir.path(), hearth_desktop::context(), "main");
    assert!(main.ok("device_info", json!({}))["id"].is_string());

    let other_dir = tempfile::tempdir().unwrap();
    let other = shell_with_context(other_dir.path(), hearth_desktop::context(), "other");
    let refused = other.err("device_info", json!({}));
    let refused = refused.as_str().unwrap_or_default();
    assert!(
        refused.contains(r#"device_info not allowed on window "other""#),
        "a window outside the capability is refused by the ACL: {refused}"
    );
    assert!(refused.contains("main-window"), "{refused}");
}

#[test]
fn a_new_device_is_not_enrolled_and_has_an_empty_library() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    let sync = s.ok("sync_status", json!({}));
    assert_eq!(sync["enrolled"], false, "{sync}");
    assert_eq!(sync["serviceUrl"], Value::Null);
    assert_eq!(sync["pending"], 0);
    assert_eq!(sync["status"]["online"], Value::Null);
    assert_eq!(s.ok("current_learner", json!({})), Value::Null);
    // "Sync now" before enrollment is harmless.
    s.ok("sync_now", json!({}));

    let lib = s.ok("library", json!({}));
    assert_eq!(lib["installed"], json!([]));
    assert_eq!(lib["catalog"], json!([]));
    assert_eq!(lib["downloads"], json!([]));
    assert_eq!(lib["usedBytes"], 0);
    assert_eq!(lib["budgetBytes"], 4u64 * 1024 * 1024 * 1024);
    s.ok("set_storage_budget", json!({"bytes": 1_000_000}));
    assert_eq!(s.ok("library", json!({}))["budgetBytes"], 1_000_000);
}

#[test]
fn content_and_study_commands_refuse_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    let code = |cmd: &str, args: Value| s.err(cmd, args)["code"].as_str().unwrap().to_owned();
    // Downloads and imports need an enrolled device (pinned publisher keys).
    assert_eq!(
        code(
            "start_download",
            json!({"course": "electrician-safety", "version": 1})
        ),
        "content.not_enrolled"
    );
    assert_eq!(
        code("import_course", json!({"path": "/nonexistent.hcp"})),
        "content.not_enrolled"
    );
    assert_eq!(
        code("start_download", json!({"course": "../etc", "version": 1})),
        "input.invalid"
    );
    // Study needs a signed-in learner.
    let args = json!({"course": "electrician-safety", "version": 1, "lesson": "shock-dangers"});
    assert_eq!(code("open_lesson", args), "session.none");
    assert_eq!(
        code("my_progress", json!({"utcOffsetMin": 480})),
        "session.none"
    );
    // No lesson open.
    assert_eq!(
        code("study_activity", json!({"focused": true, "input": true})),
        "study.no_open_lesson"
    );
    assert_eq!(s.ok("leave_lesson", json!({})), Value::Null);
    // A signed-in learner, a course that is not installed.
    let learner = s.ok("add_learner", json!({"displayName": "李娜"}));
    s.ok("sign_in", json!({"learnerId": learner["id"]}));
    assert_eq!(
        s.ok("current_learner", json!({})),
        learner["id"],
        "the window remembers who signed in"
    );
    let args = json!({"course": "electrician-safety", "version": 1, "lesson": "shock-dangers"});
    assert_eq!(code("open_lesson", args), "content.not_installed");
    let progress = s.ok("my_progress", json!({"utcOffsetMin": 480}));
    assert_eq!(progress["creditedMs"], Value::Null, "{progress}");
    assert_eq!(progress["waitingMs"], 0);
}

#[test]
fn enrollment_checks_the_address_and_reports_an_unreachable_service() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    let e = s.err("enroll", json!({"serviceUrl": "ftp://x", "code": "ABC"}));
    assert_eq!(e["code"], "enroll.bad_url");
    // A port nobody listens on: offline, and nothing is kept.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let e = s.err(
        "enroll",
        json!({"serviceUrl": format!("http://127.0.0.1:{port}"), "code": "ABC"}),
    );
    assert_eq!(e["code"], "sync.offline", "{e}");
    assert_eq!(s.ok("sync_status", json!({}))["enrolled"], false);
}

/// A store enrolled as a shared classroom machine, with a roster of two learners and a trainer.
fn kiosk_store(dir: &Path) -> (HearthState, [String; 3]) {
    enrolled_store(dir, "http://127.0.0.1:9", false)
}

/// A store enrolled with the service at `url` as a shared machine (no owner) or as the personal
/// PC of the first learner, with a roster of two learners and a trainer.
fn enrolled_store(dir: &Path, url: &str, personal: bool) -> (HearthState, [String; 3]) {
    let (state, people, _clock) = enrolled_store_clocked(dir, url, personal);
    (state, people)
}

/// [`enrolled_store`] with the store's clock, for tests that move time on.
fn enrolled_store_clocked(
    dir: &Path,
    url: &str,
    personal: bool,
) -> (
    HearthState,
    [String; 3],
    std::sync::Arc<hearth_core::ManualClock>,
) {
    use hearth_core::{Enrollment, Hearth, RosterPerson};
    use hearth_protocol::pin::pin_verifier;
    use hearth_protocol::{LearnerId, PublicKey, TimeAnchor};
    use ring::signature::{Ed25519KeyPair, KeyPair};

    let (env, clock) = Env::deterministic(T0, 7);
    let mut h = Hearth::open(dir, env).unwrap();
    let id = |n: u8| -> LearnerId {
        format!("00000000-0000-0000-0000-0000000000{n:02}")
            .parse()
            .unwrap()
    };
    let (ana, bo, trainer) = (id(1), id(2), id(3));
    let person = |id: LearnerId, name: &str, role: &str, pin: &str| RosterPerson {
        id,
        name: name.into(),
        role: role.into(),
        pin_hash: Some(pin_verifier(id, pin, &[5; hearth_protocol::pin::SALT_LEN])),
        card: None,
    };
    let service = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    let e = Enrollment {
        service_url: url.into(),
        credential: "c".into(),
        credential_expires_ms: T0 + 1_000_000_000,
        org_id: "00000000-0000-0000-0000-000000000009".into(),
        org_name: "培训中心".into(),
        owner: personal.then_some(ana),
        anchor_key: PublicKey::from_slice(service.public_key().as_ref()).unwrap(),
        publisher_keys: vec![],
        enrolled_ms: T0,
    };
    let anchor = TimeAnchor::issue(&service, h.device().id, T0);
    let roster = [
        person(ana, "安娜", "learner", "1111"),
        person(bo, "博文", "learner", "2222"),
        person(trainer, "王老师", "trainer", "2468"),
    ];
    h.apply_enrollment(&e, &roster, anchor).unwrap();
    (
        HearthState::from_hearth(h),
        [ana, bo, trainer].map(|l| l.to_string()),
        clock,
    )
}

#[test]
fn a_kiosk_signs_people_in_by_pin_and_the_window_follows() {
    let dir = tempfile::tempdir().unwrap();
    let (state, [ana, bo, trainer]) = kiosk_store(dir.path());
    let s = shell_over(state, mock_context(noop_assets()), "main");
    let status = s.ok("kiosk_status", json!({}));
    assert_eq!(
        status["active"], true,
        "a shared device is a kiosk: {status}"
    );
    assert_eq!(status["signedIn"], Value::Null);

    // The sign-in list names everyone, with no PIN verifier leaving the core.
    let roster = s.ok("kiosk_roster", json!({}));
    let names: Vec<&str> = roster
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3, "{roster}");
    assert!(
        !roster.to_string().contains("pinHash") && !roster.to_string().contains("pin_hash"),
        "{roster}"
    );
    assert!(
        roster
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["hasPin"] == true),
        "{roster}"
    );

    // Bo's PIN does not open Ana, and nobody is signed in after it.
    let e = s.err("kiosk_sign_in", json!({"person": ana, "pin": "2222"}));
    assert_eq!(e["code"], "kiosk.wrong_pin", "{e}");
    assert_eq!(s.ok("current_learner", json!({})), Value::Null);

    // Ana signs in: the window's session is hers, so study commands record for her.
    let who = s.ok("kiosk_sign_in", json!({"person": ana, "pin": "1111"}));
    assert_eq!(who["role"], "learner");
    assert_eq!(s.ok("current_learner", json!({})), json!(ana));
    assert_eq!(
        s.ok("kiosk_status", json!({}))["signedIn"]["person"],
        json!(ana)
    );
    // A learner cannot use trainer tools.
    let e = s.err("kiosk_attest", json!({"present": [bo]}));
    assert_eq!(e["code"], "kiosk.not_trainer", "{e}");
    let e = s.err("kiosk_leave", json!({}));
    assert_eq!(e["code"], "kiosk.not_trainer", "{e}");

    // Bo signs in next: Ana is signed out first, the session is Bo's.
    s.ok("kiosk_sign_in", json!({"person": bo, "pin": "2222"}));
    assert_eq!(s.ok("current_learner", json!({})), json!(bo));

    // Signing out leaves nobody, and study is refused until someone signs in.
    s.ok("kiosk_sign_out", json!({}));
    assert_eq!(s.ok("current_learner", json!({})), Value::Null);
    let args = json!({"course": "electrician-safety", "version": 1, "lesson": "shock-dangers"});
    assert_eq!(s.err("open_lesson", args)["code"], "session.none");

    // The trainer's tools need an open class; the class must be theirs.
    s.ok("kiosk_sign_in", json!({"person": trainer, "pin": "2468"}));
    let e = s.err("kiosk_attest", json!({"present": [ana]}));
    assert_eq!(e["code"], "kiosk.no_class", "{e}");
    let e = s.err("class_progress_here", json!({"utcOffsetMin": 480}));
    assert_eq!(e["code"], "kiosk.no_class", "{e}");

    // Receipts go to a file the trainer names (a USB stick).
    let file = dir.path().join("usb-receipts.hrb");
    let n = s.ok(
        "export_receipts",
        json!({"path": file.display().to_string()}),
    );
    assert!(
        n.as_u64().unwrap() >= 5,
        "sign-ins and sign-outs are receipts: {n}"
    );
    assert!(file.metadata().unwrap().len() > 0);
}

#[test]
fn kiosk_commands_refuse_on_a_personal_device() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    let status = s.ok("kiosk_status", json!({}));
    assert_eq!(status["active"], false, "{status}");
    for (cmd, args) in [
        ("kiosk_roster", json!({})),
        (
            "kiosk_sign_in",
            json!({"person": "00000000-0000-0000-0000-000000000001", "pin": "1"}),
        ),
        ("kiosk_sign_out", json!({})),
        ("kiosk_end_class", json!({})),
        ("export_receipts", json!({"path": "/tmp/x"})),
    ] {
        let e = s.err(cmd, args);
        assert_eq!(e["code"], "kiosk.not_a_kiosk", "{cmd}: {e}");
    }
}

/// Closes the main window once the app runs, and reports whether it was still open on the next
/// turn of the event loop (then destroys it so the loop ends).
fn window_survives_close(state: HearthState) -> bool {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use tauri::{Manager, RunEvent};

    let app = mock_builder()
        .invoke_handler(hearth_desktop::invoke_handler())
        .manage(state)
        .manage(LeaveAllowed::default())
        .build(mock_context(noop_assets()))
        .expect("mock app builds");
    WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .expect("mock window builds");
    let survived = Arc::new(AtomicBool::new(false));
    let turns = Arc::new(AtomicU8::new(0));
    let (seen, count) = (survived.clone(), turns.clone());
    app.run_return(move |handle, event| {
        // What `hearth_desktop::run` does with every event of the loop.
        hearth_desktop::kiosk_commands::guard_close(handle, &event);
        match event {
            RunEvent::Ready => handle.get_webview_window("main").unwrap().close().unwrap(),
            RunEvent::MainEventsCleared if count.fetch_add(1, Ordering::SeqCst) == 0 => {
                if let Some(w) = handle.get_webview_window("main") {
                    seen.store(true, Ordering::SeqCst);
                    w.destroy().unwrap();
                }
            }
            _ => {}
        }
    });
    survived.load(Ordering::SeqCst)
}

#[test]
fn a_kiosk_window_refuses_to_close_and_a_personal_one_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = kiosk_store(dir.path());
    assert!(
        window_survives_close(state),
        "on a kiosk only a trainer leaving kiosk mode closes the window"
    );
    let dir = tempfile::tempdir().unwrap();
    let (env, _clock) = Env::deterministic(T0, 7);
    assert!(
        !window_survives_close(HearthState::open(dir.path(), env)),
        "a personal PC's window closes as usual"
    );
}

/// A service that takes a request and answers nothing until told to (or until `fallback`),
/// then drops the connection. Returns its address, a receiver that says when a request arrived,
/// the sender that releases it and a flag set when it released.
struct StalledService {
    url: String,
    arrived: std::sync::mpsc::Receiver<()>,
    release: std::sync::mpsc::Sender<()>,
    released: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn stalled_service(fallback: std::time::Duration) -> StalledService {
    use std::io::Read;
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (arrived_tx, arrived) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let released = std::sync::Arc::new(AtomicBool::new(false));
    let flag = released.clone();
    std::thread::spawn(move || {
        let Ok((mut conn, _)) = listener.accept() else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf);
        let _ = arrived_tx.send(());
        let _ = release_rx.recv_timeout(fallback);
        flag.store(true, Ordering::SeqCst);
        drop(conn);
    });
    StalledService {
        url,
        arrived,
        release,
        released,
    }
}

/// Issue #16, "no freezes": while the catalog request hangs on a stalled service, the study
/// commands answer and record at once. Before the fix `refresh_catalog` held the store across the
/// request, so `sign_in` waited for the service to let go (here the 20 s fallback) and the
/// `released` flag below was already set when it answered.
#[test]
fn a_stalled_catalog_request_does_not_hold_the_store() {
    use std::sync::atomic::Ordering;
    let dir = tempfile::tempdir().unwrap();
    let service = stalled_service(std::time::Duration::from_secs(20));
    let (state, [ana, _, _]) = enrolled_store(dir.path(), &service.url, true);
    let s = shell_over(state, mock_context(noop_assets()), "main");
    std::thread::scope(|scope| {
        let window = s.window.clone();
        let refresh = scope.spawn(move || invoke(&window, "refresh_catalog", json!({})));
        service
            .arrived
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the catalog request reaches the stalled service");
        let receipt = s.ok("sign_in", json!({"learnerId": ana}));
        let status = s.ok("ledger_status", json!({}));
        assert!(
            !service.released.load(Ordering::SeqCst),
            "study commands answered only after the stalled service let go"
        );
        assert_eq!(receipt["kind"], "learner_signed_in");
        assert_eq!(status["headSeq"], receipt["seq"], "{status}");
        service.release.send(()).unwrap();
        let e = refresh.join().unwrap().expect_err("the cut request fails");
        assert!(
            e["code"].as_str().unwrap().starts_with("content."),
            "a stable content code: {e}"
        );
    });
    // The stored catalog is untouched: still none.
    assert_eq!(s.ok("library", json!({}))["catalog"], json!([]));
}

/// The same for exporting receipts to a slow stick and importing a package: neither holds the
/// store while it reads or writes the file. An import of a file that is a FIFO nobody writes to
/// blocks in `read` like a stalled USB stick; study goes on meanwhile.
#[cfg(unix)]
#[test]
fn an_import_stalled_on_its_file_does_not_hold_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let (state, [ana, _, _]) = enrolled_store(dir.path(), "http://127.0.0.1:9", true);
    let s = shell_over(state, mock_context(noop_assets()), "main");
    let fifo = dir.path().join("stick.hcp");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    std::thread::scope(|scope| {
        let (window, path) = (s.window.clone(), fifo.display().to_string());
        let import = scope.spawn(move || invoke(&window, "import_course", json!({"path": path})));
        // Opening a FIFO for writing waits for its reader: this returns once the import has
        // opened the package file, and the import then waits in read() for bytes.
        let (tx, rx) = std::sync::mpsc::channel();
        let opener = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(std::fs::OpenOptions::new().write(true).open(opener));
        });
        let writer = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the import opens the package file")
            .unwrap();
        // Without the fix the store stays held until the file ends: a watchdog ends it after
        // 20 s so the test fails instead of hanging, and says that it did.
        let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let flag = released.clone();
        scope.spawn(move || {
            if finished
                .recv_timeout(std::time::Duration::from_secs(20))
                .is_err()
            {
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            drop(writer);
        });
        // The import now waits in read(); the store is free.
        let receipt = s.ok("sign_in", json!({"learnerId": ana}));
        assert!(
            !released.load(std::sync::atomic::Ordering::SeqCst),
            "sign_in answered only after the package file ended"
        );
        assert_eq!(receipt["kind"], "learner_signed_in");
        done.send(()).unwrap();
        let e = import
            .join()
            .unwrap()
            .expect_err("an empty package is refused");
        assert!(e["code"].as_str().unwrap().starts_with("package."), "{e}");
    });
}

/// Collects the payloads of one event the shell emits.
fn collect(app: &App<MockRuntime>, event: &str) -> std::sync::mpsc::Receiver<Value> {
    use tauri::Listener;
    let (tx, rx) = std::sync::mpsc::channel();
    app.listen_any(event, move |e| {
        let _ = tx.send(serde_json::from_str::<Value>(e.payload()).unwrap());
    });
    rx
}

/// Issue #16, events not polling: on a personal PC the idle check has nothing to do and says so
/// without an error (it failed with `kiosk.not_a_kiosk`, logged every 2 s); on a kiosk an idle
/// sign-out clears the window's session and is pushed to the UI as a `kiosk-status` event.
#[test]
fn the_idle_check_is_quiet_on_a_personal_pc_and_pushes_a_kiosk_sign_out() {
    use hearth_desktop::kiosk_commands::{KIOSK_EVENT, idle_tick};
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    assert!(!idle_tick(s.app.handle()).unwrap());

    let dir = tempfile::tempdir().unwrap();
    let (state, [ana, _, _], clock) =
        enrolled_store_clocked(dir.path(), "http://127.0.0.1:9", false);
    let s = shell_over(state, mock_context(noop_assets()), "main");
    let pushed = collect(&s.app, KIOSK_EVENT);
    s.ok("kiosk_sign_in", json!({"person": ana, "pin": "1111"}));
    assert!(!idle_tick(s.app.handle()).unwrap(), "not idle yet");
    assert!(
        pushed.try_recv().is_err(),
        "nothing changed, nothing pushed"
    );
    clock.advance(11 * 60_000);
    assert!(idle_tick(s.app.handle()).unwrap());
    assert_eq!(s.ok("current_learner", json!({})), Value::Null);
    let view = pushed
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("the sign-out is pushed");
    assert_eq!(view["active"], true, "{view}");
    assert_eq!(view["signedIn"], Value::Null, "{view}");
}

/// The sync engine pushes every change of its state as a `sync-status` event carrying the sync
/// bar's view: here a service that is not there makes the first round end offline.
#[test]
fn the_sync_state_is_pushed_as_an_event() {
    use hearth_desktop::sync::SYNC_EVENT;
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (state, [ana, _, _]) =
        enrolled_store(dir.path(), &format!("http://127.0.0.1:{port}"), true);
    let shared = state.shared().unwrap();
    let s = shell_over(state, mock_context(noop_assets()), "main");
    s.ok("sign_in", json!({"learnerId": ana}));
    let pushed = collect(&s.app, SYNC_EVENT);
    let enrollment = shared.lock().unwrap().enrollment().unwrap().unwrap();
    s.app
        .state::<SyncEngine>()
        .start(
            shared,
            &enrollment,
            hearth_desktop::commands::emit_sync(s.app.handle()),
        )
        .unwrap();
    let offline = (0..20)
        .filter_map(|_| pushed.recv_timeout(std::time::Duration::from_secs(30)).ok())
        .find(|v| v["status"]["online"] == false)
        .expect("the round's end is pushed");
    assert_eq!(offline["enrolled"], true, "{offline}");
    assert_eq!(offline["pending"], 1, "the sign-in waits: {offline}");
    assert_eq!(
        offline["status"]["lastError"]["code"], "sync.offline",
        "{offline}"
    );
}

/// Issue #16, USB sticks: the drives under the roots (here a folder made to look like
/// `/media/$USER` with a stick in it) are listed with their course packages and receipt files;
/// a trainer exports receipts to a listed drive and the file shows in the list.
#[test]
fn removable_drives_list_packages_and_take_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let (state, [_, _, trainer]) = kiosk_store(dir.path());
    let s = shell_over(state, mock_context(noop_assets()), "main");
    let media = tempfile::tempdir().unwrap();
    let stick = media.path().join("KINGSTON");
    std::fs::create_dir(&stick).unwrap();
    std::fs::write(stick.join("electrician-safety.hcp"), b"HCP1 not really").unwrap();
    s.app.manage(hearth_desktop::commands::RemovableRoots(vec![
        media.path().to_owned(),
    ]));

    let drives = s.ok("removable_drives", json!({}));
    assert_eq!(drives.as_array().unwrap().len(), 1, "{drives}");
    assert_eq!(drives[0]["name"], "KINGSTON");
    assert_eq!(
        drives[0]["packages"][0]["path"],
        stick.join("electrician-safety.hcp").display().to_string()
    );
    assert_eq!(drives[0]["receipts"], json!([]));

    s.ok("kiosk_sign_in", json!({"person": trainer, "pin": "2468"}));
    let target = format!(
        "{}/hearth-receipts.hrb",
        drives[0]["path"].as_str().unwrap()
    );
    s.ok("export_receipts", json!({"path": target}));
    let drives = s.ok("removable_drives", json!({}));
    assert_eq!(
        drives[0]["receipts"][0]["name"], "hearth-receipts.hrb",
        "{drives}"
    );
    assert!(drives[0]["receipts"][0]["bytes"].as_u64().unwrap() > 0);
}

/// A store with the shared small course installed, enrolled for `owner` (a personal PC) or as a
/// kiosk (`None`); the roster has Ana (PIN 1111) and Bo (PIN 2222).
fn store_with_course(dir: &Path, owner_is_ana: bool) -> (HearthState, [String; 2]) {
    use hearth_core::{Hearth, RosterPerson};
    use hearth_protocol::LearnerId;
    use hearth_protocol::pin::{SALT_LEN, pin_verifier};

    let (env, _clock) = Env::deterministic(T0, 7);
    let mut h = Hearth::open(dir, env).unwrap();
    let ana: LearnerId = "00000000-0000-0000-0000-000000000001".parse().unwrap();
    let bo: LearnerId = "00000000-0000-0000-0000-000000000002".parse().unwrap();
    let person = |id: LearnerId, name: &str, pin: &str| RosterPerson {
        id,
        name: name.into(),
        role: "learner".into(),
        pin_hash: Some(pin_verifier(id, pin, &[6; SALT_LEN])),
        card: None,
    };
    let roster = [person(ana, "安娜", "1111"), person(bo, "博文", "2222")];
    course_fixture::enroll(&mut h, owner_is_ana.then_some(ana), &roster, T0);
    tauri::async_runtime::block_on(course_fixture::install_small_course(&mut h, None));
    (
        HearthState::from_hearth(h),
        [ana.to_string(), bo.to_string()],
    )
}

/// Every study command that records something, as the UI calls them.
fn study_everything(s: &Shell) {
    let course = course_fixture::course().to_string();
    let video = hearth_protocol::ContentHash::of(course_fixture::VIDEO).to_hex();
    s.ok(
        "open_lesson",
        json!({"course": course, "version": 1, "lesson": "l1"}),
    );
    s.ok("study_activity", json!({"focused": true, "input": true}));
    s.ok(
        "media_watched",
        json!({"media": video, "fromMs": 0, "toMs": 1}),
    );
    s.ok(
        "answer_practice",
        json!({"course": course, "version": 1, "quiz": "q1", "item": "i1", "choices": [0]}),
    );
    s.ok("complete_lesson", json!({}));
    s.ok("leave_lesson", json!({}));
    let exam = s.ok(
        "start_exam",
        json!({"course": course, "version": 1, "exam": "final"}),
    );
    let attempt = exam["attempt"].as_u64().expect("an attempt number");
    s.ok(
        "submit_exam",
        json!({"course": course, "exam": "final", "attempt": attempt,
               "answers": [{"item": "e1", "choices": [0]}]}),
    );
}

/// The ledger, oldest first, as `(learner, kind)`.
fn receipts(s: &Shell) -> Vec<(String, String)> {
    let mut all: Vec<Value> = s
        .ok("recent_receipts", json!({"limit": 500}))
        .as_array()
        .unwrap()
        .clone();
    all.reverse();
    all.iter()
        .map(|r| {
            (
                r["learner"].as_str().unwrap().to_owned(),
                r["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Issue #18: who is at the keyboard is core's session, and no study command can record for
/// anyone else, on a personal PC and on a kiosk.
#[test]
fn study_commands_record_only_for_the_person_the_core_session_names() {
    // A personal PC enrolled for Ana: she is at the keyboard from the start.
    let dir = tempfile::tempdir().unwrap();
    let (state, [ana, bo]) = store_with_course(dir.path(), true);
    let s = shell_over(state, mock_context(noop_assets()), "main");
    assert_eq!(s.ok("current_learner", json!({})), json!(ana));
    // Bo cannot be signed in on Ana's PC, by the sole-learner sign-in or by PIN.
    assert_eq!(
        s.err("sign_in", json!({"learnerId": bo}))["code"],
        "session.not_owner"
    );
    assert_eq!(
        s.err("kiosk_sign_in", json!({"person": bo, "pin": "2222"}))["code"],
        "kiosk.not_a_kiosk"
    );
    study_everything(&s);
    let personal = receipts(&s);
    assert!(personal.len() >= 6, "{personal:?}");
    assert!(
        personal.iter().all(|(learner, _)| *learner == ana),
        "every receipt on Ana's PC is hers: {personal:?}"
    );

    // A kiosk: nobody is at the keyboard until a PIN, and then only that person.
    let dir = tempfile::tempdir().unwrap();
    let (state, [ana, bo]) = store_with_course(dir.path(), false);
    let s = shell_over(state, mock_context(noop_assets()), "main");
    assert_eq!(s.ok("current_learner", json!({})), Value::Null);
    let course = course_fixture::course().to_string();
    for (cmd, args) in [
        (
            "open_lesson",
            json!({"course": course, "version": 1, "lesson": "l1"}),
        ),
        (
            "answer_practice",
            json!({"course": course, "version": 1, "quiz": "q1", "item": "i1", "choices": [0]}),
        ),
        (
            "start_exam",
            json!({"course": course, "version": 1, "exam": "final"}),
        ),
        ("my_progress", json!({"utcOffsetMin": 480})),
    ] {
        assert_eq!(s.err(cmd, args)["code"], "session.none", "{cmd}");
    }
    // The sole-learner sign-in is not a way around the PIN.
    assert_eq!(
        s.err("sign_in", json!({"learnerId": ana}))["code"],
        "session.use_pin"
    );
    s.ok("kiosk_sign_in", json!({"person": ana, "pin": "1111"}));
    study_everything(&s);
    // Bo signs in: Ana is signed out first; what follows is Bo's.
    s.ok("kiosk_sign_in", json!({"person": bo, "pin": "2222"}));
    assert_eq!(s.ok("current_learner", json!({})), json!(bo));
    s.ok(
        "open_lesson",
        json!({"course": course, "version": 1, "lesson": "l1"}),
    );
    s.ok("study_activity", json!({"focused": true, "input": true}));
    s.ok("kiosk_sign_out", json!({}));
    assert_eq!(
        s.err(
            "open_lesson",
            json!({"course": course, "version": 1, "lesson": "l1"})
        )["code"],
        "session.none"
    );
    // Read back: each receipt belongs to whoever signed in last before it, and nobody's after a
    // sign-out until the next sign-in.
    let kiosk = receipts(&s);
    let mut at_keyboard: Option<String> = None;
    let mut per_person = std::collections::BTreeMap::<String, u32>::new();
    for (learner, kind) in &kiosk {
        match kind.as_str() {
            "learner_signed_in" => at_keyboard = Some(learner.clone()),
            "learner_signed_out" => {
                assert_eq!(at_keyboard.as_ref(), Some(learner), "{kiosk:?}");
                at_keyboard = None;
            }
            _ => {
                assert_eq!(
                    at_keyboard.as_ref(),
                    Some(learner),
                    "a {kind} receipt for someone not signed in: {kiosk:?}"
                );
                *per_person.entry(learner.clone()).or_default() += 1;
            }
        }
    }
    assert!(per_person[&ana] >= 6, "{per_person:?}");
    assert!(per_person[&bo] >= 1, "{per_person:?}");
}

#[test]
fn certificate_commands_refuse_clearly_and_never_write_a_file_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let s = shell(dir.path());
    let code = |cmd: &str, args: Value| s.err(cmd, args)["code"].as_str().unwrap().to_owned();
    // Nobody at the keyboard: no certificates to list or fetch.
    assert_eq!(code("my_certificates", json!({})), "session.none");
    assert_eq!(
        code("download_certificate", json!({"serial": "HC-ABC"})),
        "session.none"
    );
    let learner = s.ok("add_learner", json!({"displayName": "李娜"}));
    s.ok("sign_in", json!({"learnerId": learner["id"]}));
    assert_eq!(s.ok("my_certificates", json!({})), json!([]));
    // A serial not in the learner's pulled record is not fetched.
    assert_eq!(
        code("download_certificate", json!({"serial": "HC-ABC"})),
        "certificate.not_in_record"
    );
    assert_eq!(
        code("download_certificate", json!({"serial": "../../x"})),
        "certificate.invalid_serial"
    );
    // Nothing kept yet: nothing to check, save or print; no issuer key to check a file with.
    let out = dir.path().join("out.pdf");
    assert_eq!(
        code(
            "save_certificate",
            json!({"serial": "HC-ABC", "path": out.to_str().unwrap()})
        ),
        "certificate.not_saved"
    );
    assert_eq!(
        code(
            "save_certificate",
            json!({"serial": "HC-ABC", "path": "  "})
        ),
        "input.invalid"
    );
    assert_eq!(
        code("print_certificate", json!({"serial": "HC-ABC"})),
        "certificate.not_saved"
    );
    assert_eq!(
        code("check_certificate", json!({"serial": "HC-ABC"})),
        "certificate.not_saved"
    );
    assert_eq!(
        code("verify_certificate_file", json!({"input": "HC1:XYZ"})),
        "certificate.no_issuer_key"
    );
    assert!(!out.exists());
    // The training record needs a path, then an enrolled device.
    assert_eq!(code("save_training_record", json!({})), "input.invalid");
    assert_eq!(
        code(
            "save_training_record",
            json!({"pdfPath": out.to_str().unwrap()})
        ),
        "content.not_enrolled"
    );
    assert!(!out.exists());
}
