//! The committed TypeScript bindings (`ui/src/generated/bindings.ts`) and the window's
//! capability entries (`src-tauri/capabilities/main.json`) are what the commands declare now.
//! `HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings` rewrites both.

use std::path::{Path, PathBuf};

use hearth_bindings::{Layout, capability_with, generate};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

const REGENERATE: &str = "HEARTH_WRITE_BINDINGS=1 cargo test -p hearth-bindings";

#[test]
fn the_committed_bindings_and_capabilities_match_the_commands() {
    let root = root();
    let bindings = generate(&Layout::of_repository(&root)).unwrap();
    let ts_path = root.join("ui/src/generated/bindings.ts");
    let cap_path = root.join("src-tauri/capabilities/main.json");
    let cap_now = std::fs::read_to_string(&cap_path).unwrap();
    let cap_want = capability_with(&cap_now, &bindings.commands).unwrap();
    if std::env::var_os("HEARTH_WRITE_BINDINGS").is_some() {
        std::fs::create_dir_all(ts_path.parent().unwrap()).unwrap();
        std::fs::write(&ts_path, &bindings.typescript).unwrap();
        std::fs::write(&cap_path, &cap_want).unwrap();
        return;
    }
    let ts_now = std::fs::read_to_string(&ts_path).unwrap_or_default();
    assert!(
        ts_now == bindings.typescript,
        "{} is stale: a command or a type it carries changed; run `{REGENERATE}`",
        ts_path.display()
    );
    assert!(
        cap_now == cap_want,
        "{} does not grant exactly the commands of generate_handler!; run `{REGENERATE}`",
        cap_path.display()
    );
}

/// The shell's build script reads the command list from the same place, so tauri-build makes a
/// permission for exactly the commands the handler serves.
#[test]
fn every_command_of_the_handler_is_bound() {
    let root = root();
    let bindings = generate(&Layout::of_repository(&root)).unwrap();
    assert!(
        bindings.commands.len() >= 40,
        "{} commands",
        bindings.commands.len()
    );
    for c in &bindings.commands {
        let js = hearth_bindings_camel(&c.name);
        assert!(
            bindings.typescript.contains(&format!("  {js}: (")),
            "{} has no binding",
            c.name
        );
    }
}

fn hearth_bindings_camel(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for ch in name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}
