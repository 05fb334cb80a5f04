//! The `hearth` binary as a script would use it: outputs, JSON, exit codes and error codes.

use std::process::Command;

fn hearth(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn learners_and_status_round_trip_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth(dir.path(), &["--json", "learners", "add", "王芳"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let added: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(added["displayName"], "王芳");

    let out = hearth(dir.path(), &["--json", "learners", "list"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["id"], added["id"]);

    let out = hearth(dir.path(), &["--json", "status"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["ledger"]["headSeq"], 0);
    assert_eq!(status["device"]["id"].as_str().unwrap().len(), 36);

    let out = hearth(dir.path(), &["verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("ok: 0 receipts verify"));
}

#[test]
fn errors_exit_1_with_a_stable_code_and_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hearth.db"), "not a database").unwrap();
    std::fs::write(dir.path().join("device.key"), "not a key").unwrap();
    let out = hearth(dir.path(), &["status"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error[key."),
        "the first problem found is named by its code: {stderr}"
    );

    let fresh = tempfile::tempdir().unwrap();
    let out = hearth(fresh.path(), &["learners", "add", "  "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[input.invalid]"));

    let out = hearth(fresh.path(), &["no-such-command"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn sync_needs_enrollment_and_an_unreachable_service_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth(dir.path(), &["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[sync.not_enrolled]"));

    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    let out = hearth(
        dir.path(),
        &[
            "enroll",
            "--service",
            "http://127.0.0.1:1",
            "--code",
            "ABCD-EFGH",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error[sync.offline]"));
}

#[test]
fn download_needs_enrollment_and_a_course_id() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth(dir.path(), &["download", "electrician-safety"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error[sync.not_enrolled]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = hearth(dir.path(), &["download", "Not A Course"]);
    assert_eq!(out.status.code(), Some(2), "a bad course id is wrong usage");
}

#[test]
fn a_relative_data_folder_works() {
    let dir = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        // Twice: creating the store, then opening the existing one (which checks it first).
        let out = Command::new(env!("CARGO_BIN_EXE_hearth"))
            .current_dir(dir.path())
            .args(["--data", "relative/data", "status"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
