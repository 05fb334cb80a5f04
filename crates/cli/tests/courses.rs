//! The course commands of the `hearth` binary without a service: listing, refusals, exit codes.
//! The full round trip (service export, import, client export, import on another device) is in
//! hearth-e2e's `content_package` test.

use std::process::Command;

fn hearth(data: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_hearth"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn courses_lists_an_empty_device_as_json_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = hearth(dir.path(), &["--json", "courses"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["installed"], serde_json::json!([]));
    assert!(v["catalog"].is_null());
    assert_eq!(v["cacheBytes"], 0);
    assert!(v["budgetBytes"].as_u64().unwrap() > 0);

    let out = hearth(dir.path(), &["courses"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("installed:\n  (none)"), "{text}");
    assert!(text.contains("catalog: not fetched yet"), "{text}");
}

#[test]
fn import_and_export_refusals_have_stable_codes_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("course.hcp");
    std::fs::write(&pkg, b"HCP1 but nothing else").unwrap();

    // Not enrolled: no publisher is trusted, so nothing can be imported.
    let out = hearth(
        &dir.path().join("d"),
        &["import-course", pkg.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[content.not_enrolled]"),
        "{}",
        stderr(&out)
    );

    let out = hearth(
        &dir.path().join("d"),
        &["export-course", "electrician-safety", "--to", "x.hcp"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error[content.not_installed]"),
        "{}",
        stderr(&out)
    );
    let out = hearth(
        &dir.path().join("d"),
        &[
            "export-course",
            "electrician-safety",
            "--version",
            "3",
            "--to",
            "x.hcp",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error[content.not_installed]"));
    assert!(!dir.path().join("d").join("x.hcp").exists());

    // Usage errors: a course id that is not a slug, a missing --to, a missing file argument.
    for args in [
        &["export-course", "../etc", "--to", "x.hcp"][..],
        &["export-course", "electrician-safety"][..],
        &["import-course"][..],
    ] {
        let out = hearth(&dir.path().join("d"), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }

    for cmd in ["courses", "import-course", "export-course"] {
        let out = hearth(dir.path(), &[cmd, "--help"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("--data"));
    }
}
