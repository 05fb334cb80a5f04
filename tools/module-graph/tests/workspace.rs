//! The workspace's own crates: no module imports another that imports it back, and the
//! README's layout section names every module of every crate.
//!
//! Run by `cargo test --workspace` (so by `make test`). The crates come from `cargo metadata`,
//! so a new crate or module is checked without editing this file.

use std::path::{Path, PathBuf};
use std::process::Command;

use hearth_module_graph::{CrateGraph, display};

struct Target {
    package: String,
    root: PathBuf,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Every library and binary target of the workspace's packages.
fn targets() -> Vec<Target> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut found = Vec::new();
    for package in meta["packages"].as_array().unwrap() {
        for target in package["targets"].as_array().unwrap() {
            let kinds: Vec<&str> = target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|k| k.as_str())
                .collect();
            if kinds
                .iter()
                .any(|k| matches!(*k, "lib" | "bin" | "rlib" | "cdylib" | "staticlib"))
            {
                found.push(Target {
                    package: package["name"].as_str().unwrap().to_owned(),
                    root: PathBuf::from(target["src_path"].as_str().unwrap()),
                });
            }
        }
    }
    assert!(
        found.len() >= 6,
        "cargo metadata listed only {} targets",
        found.len()
    );
    found
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let mut report = String::new();
    for t in targets() {
        let graph = CrateGraph::load(&t.root).unwrap();
        for cycle in graph.cycles() {
            report.push_str(&format!("{} ({}): {cycle}", t.package, t.root.display()));
        }
    }
    assert!(
        report.is_empty(),
        "import cycles (move the shared item to the module both sides can depend on):\n{report}"
    );
}

/// The README's `## Layout` section, with one `### <package>` part per crate.
fn layout_parts() -> Vec<(String, String)> {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Layout")
        .expect("README has a `## Layout` section");
    let section = &readme[start + 1..];
    let end = section[3..]
        .find("\n## ")
        .map(|i| i + 3)
        .unwrap_or(section.len());
    let section = &section[..end];
    section
        .split("\n### ")
        .skip(1)
        .map(|part| {
            let (title, body) = part.split_once('\n').unwrap_or((part, ""));
            (title.to_owned(), body.to_owned())
        })
        .collect()
}

#[test]
fn the_readme_layout_names_every_module_of_every_crate() {
    let parts = layout_parts();
    let mut missing = Vec::new();
    for t in targets() {
        let graph = CrateGraph::load(&t.root).unwrap();
        let modules = graph.file_modules();
        if modules.len() <= 1 {
            continue; // a single-file target: nothing below the root to name
        }
        let Some((_, body)) = parts.iter().find(|(title, _)| title.contains(&t.package)) else {
            missing.push(format!("no `### {}` part in the README layout", t.package));
            continue;
        };
        for (module, file) in modules.iter().filter(|(m, _)| !m.is_empty()) {
            if !body.contains(&format!("`{}`", display(module))) {
                missing.push(format!(
                    "{}: `{}` ({})",
                    t.package,
                    display(module),
                    file.display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "the README's layout leaves out:\n{}",
        missing.join("\n")
    );
}

/// Prints every target's modules (`cargo test -p hearth-module-graph --test workspace
/// list_modules -- --ignored --nocapture`), for writing the README's layout.
#[test]
#[ignore]
fn list_modules() {
    for t in targets() {
        let graph = CrateGraph::load(&t.root).unwrap();
        println!("### {} ({})", t.package, t.root.display());
        for (m, file) in graph.file_modules() {
            println!("  `{}`  {}", display(&m), file.display());
        }
    }
}
