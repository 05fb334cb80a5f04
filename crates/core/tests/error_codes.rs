//! Every error code the Rust side can send the desktop app, read from the `code()` functions of
//! the error types (core's, the sync engine's, and the protocol's that core wraps: receipts,
//! manifests, packages) and from the shell's own `CommandError::new` calls. The list is kept in
//! `ui/src/messages/errorCodes.ts`, where the UI's tests check that each code has a zh-CN and an
//! English text; this test fails when the list is out of date.
//!
//! The service's own codes that can reach the app (enrollment, sign-in of the device, requests,
//! sync, downloads, a learner's record, a class's progress: the areas in [`DEVICE_AREAS`]) are
//! read from the service's `ServiceError::…(` and `ApiError::new(` calls and kept in the same file
//! as `SERVICE_ERROR_CODES`, with the same check. Rewrite both with
//! `HEARTH_WRITE_CODES=1 cargo test -p hearth-core --test error_codes`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The string literals that look like codes (`io`, `content.disk_full`) in `text`.
fn literals(text: &str, out: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find('"') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('"') else { break };
        let lit = &after[..end];
        let is_code = !lit.is_empty()
            && lit.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            });
        if is_code {
            out.insert(lit.to_owned());
        }
        rest = &after[end + 1..];
    }
}

/// The codes returned by the `fn code` functions of a source file.
fn code_fns(path: &Path, out: &mut BTreeSet<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut found = false;
    for (i, _) in text.match_indices("fn code(") {
        let body = &text[i..];
        let end = body.find("\n    }\n").expect("fn code ends");
        literals(&body[..end], out);
        found = true;
    }
    assert!(found, "no fn code in {}", path.display());
}

/// The codes of `CommandError::new(...)` and `ErrorBody::new(...)` calls in the shell.
fn shell_codes(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for call in ["CommandError::new(", "ErrorBody::new("] {
            for (i, _) in text.match_indices(call) {
                let args = &text[i + call.len()..];
                if let Some(lit) = args.trim_start().strip_prefix('"') {
                    let end = lit.find('"').unwrap();
                    literals(&format!("\"{}\"", &lit[..end]), out);
                }
            }
        }
    }
}

/// The areas of the service's codes a device's requests can be answered with: enrollment, the
/// device's credential, any request's limits, sync (device), downloads (course, file,
/// range), relayed bundles (package), photo audit uploads (photo), a learner's record and a class's progress, and the
/// learner's own certificates. Codes with no
/// area (`not_found`, `internal`) reach anyone.
const DEVICE_AREAS: &[&str] = &[
    "auth",
    "certificate",
    "class",
    "course",
    "device",
    "enroll",
    "file",
    "learner",
    "package",
    "photo",
    "range",
    "request",
    "service",
];

/// The code-like literals of the service's sources under `dir` in [`DEVICE_AREAS`] (its errors
/// are made in many ways: `ServiceError::…("code", …)`, `ApiError::new(status, "code", …)`, the
/// limits' helpers, a raw JSON answer), plus the area-less codes of its router. File names that
/// look like codes (`course.toml`) are left out. The storage layer is skipped: it reports through
/// the domain.
fn service_codes(dir: &Path, out: &mut BTreeSet<String>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n != "store") {
                service_codes(&path, out);
            }
            continue;
        }
        if path.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        // The web console's routes (http/console*.rs) answer people in a browser, never a device;
        // their audit action names (`learner.add`) would read as codes too.
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("console"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut found = BTreeSet::new();
        literals(&text, &mut found);
        out.extend(found.into_iter().filter(|c| match c.split_once('.') {
            Some((area, reason)) => {
                DEVICE_AREAS.contains(&area)
                    && !["toml", "db", "png", "json", "key"].contains(&reason)
            }
            None => false,
        }));
    }
    for generic in ["internal", "not_found", "method_not_allowed"] {
        out.insert(generic.to_owned());
    }
}

fn codes() -> BTreeSet<String> {
    let root = root();
    let mut codes = BTreeSet::new();
    for file in [
        // CoreError and the study, kiosk and photo refusals it wraps.
        "crates/core/src/error.rs",
        "crates/core/src/sync/mod.rs",
        // The sealed box's own refusals (photo checkpoints, issue #17).
        "crates/protocol/src/photo.rs",
        // The credential checks the app's certificate page reports.
        "crates/protocol/src/credential.rs",
        "crates/protocol/src/error.rs",
        "crates/protocol/src/manifest.rs",
        "crates/protocol/src/package.rs",
    ] {
        code_fns(&root.join(file), &mut codes);
    }
    shell_codes(&root.join("src-tauri/src"), &mut codes);
    codes
}

fn render(codes: &BTreeSet<String>, service: &BTreeSet<String>) -> String {
    let mut out = String::from(
        "// Every error code the Rust side can send the app (core, sync, the manifest, package and\n\
         // receipt checks, the shell). Written by\n\
         // `HEARTH_WRITE_CODES=1 cargo test -p hearth-core --test error_codes`; do not edit.\n\
         export const ERROR_CODES = [\n",
    );
    for c in codes {
        out += &format!("  \"{c}\",\n");
    }
    out += "] as const;\n\n";
    out += "// The service's codes that can answer a device's requests (see crates/core/tests/error_codes.rs).\n";
    out += "export const SERVICE_ERROR_CODES = [\n";
    for c in service {
        out += &format!("  \"{c}\",\n");
    }
    out += "] as const;\n";
    out
}

#[test]
fn the_ui_knows_every_error_code() {
    let codes = codes();
    // The scan found the error types (a renamed file would make it find nothing).
    for expected in [
        "io",
        "content.size_conflict",
        "package.unsafe_path",
        "manifest.bad_signature",
        "receipt.bad_signature",
        "kiosk.wrong_pin",
        "exam.time_up",
        "sync.offline",
        "session.none",
    ] {
        assert!(codes.contains(expected), "{expected} not found: {codes:?}");
    }
    let mut service = BTreeSet::new();
    service_codes(&root().join("crates/server/src"), &mut service);
    for expected in [
        "enroll.invalid_code",
        "auth.invalid_credential",
        "request.too_large",
        "course.not_found",
        "request.rate_limited",
        "auth.too_many_failures",
    ] {
        assert!(
            service.contains(expected),
            "{expected} not found: {service:?}"
        );
    }
    // The device maps a service's code to itself only when it knows it: the same list.
    let known: BTreeSet<String> = hearth_core::sync::SERVICE_CODES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    assert!(
        known == service,
        "hearth_core::sync::SERVICE_CODES differs from the service's codes: missing {:?}, extra {:?}",
        service.difference(&known).collect::<Vec<_>>(),
        known.difference(&service).collect::<Vec<_>>()
    );
    let file = root().join("ui/src/messages/errorCodes.ts");
    let want = render(&codes, &service);
    if std::env::var_os("HEARTH_WRITE_CODES").is_some() {
        std::fs::write(&file, &want).unwrap();
    }
    let have = std::fs::read_to_string(&file).unwrap_or_default();
    assert!(
        have == want,
        "{} is out of date; rewrite it with HEARTH_WRITE_CODES=1 cargo test -p hearth-core --test error_codes, then give each new code its texts in ui/src/messages",
        file.display()
    );
}
