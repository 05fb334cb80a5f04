//! Building the workspace's binaries from inside a test process.

use std::process::Command;

/// Whether the workspace's binaries are already built and fresh (`HEARTH_E2E_PREBUILT`, set by
/// scripts/workspace-test.sh and make after the workspace's test build), so the tests must not
/// build them again.
pub fn prebuilt() -> bool {
    std::env::var_os("HEARTH_E2E_PREBUILT").is_some_and(|v| !v.is_empty())
}

/// `cargo build` as the tests run it to get the binaries they start (a no-op when they are up to
/// date).
///
/// Cargo gives a test process its own package's variables (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_NAME`, …). Some build scripts, ring's among them, declare `rerun-if-env-changed` on
/// those names, so a nested cargo that inherits them reruns those scripts: ring, rustls, reqwest
/// and everything above them, our crates included, are rebuilt, and the next top-level `cargo`
/// (make's, without those variables) rebuilds them back. That cost 20–40 s per test binary in
/// `make test`. Removing the variables makes the nested build see make's environment, so both
/// agree on what is fresh.
pub fn cargo_build() -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build");
    for (name, _) in std::env::vars_os() {
        if let Some(name) = name.to_str()
            && is_package_variable(name)
        {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The variables cargo sets for the package being built or tested
/// (<https://doc.rust-lang.org/cargo/reference/environment-variables.html>), as opposed to the
/// ones that configure cargo itself (`CARGO_HOME`, `CARGO_TARGET_DIR`, …), which stay.
fn is_package_variable(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_MANIFEST_")
        || name.starts_with("CARGO_BIN_")
        || name.starts_with("CARGO_CFG_")
        || matches!(
            name,
            "CARGO_CRATE_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
                | "CARGO_RUSTC_CURRENT_DIR"
                | "OUT_DIR"
        )
}

#[cfg(test)]
mod tests {
    use super::is_package_variable;

    #[test]
    fn only_the_package_variables_are_removed() {
        for name in [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_PKG_NAME",
            "CARGO_PKG_VERSION_MAJOR",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_EXE_hearth",
            "CARGO_TARGET_TMPDIR",
        ] {
            assert!(is_package_variable(name), "{name} is set per package");
        }
        for name in [
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO",
            "PATH",
            "RUSTUP_TOOLCHAIN",
        ] {
            assert!(!is_package_variable(name), "{name} configures cargo itself");
        }
    }
}
