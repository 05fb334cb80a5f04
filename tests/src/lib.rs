//! hearth-e2e: cross-process tests of Hearth. The tests live in `tests/`; helper binaries that
//! the tests start as separate processes live in `src/bin/`.

pub mod camera;
pub mod chromium;
#[cfg(target_os = "linux")]
pub mod gui;
#[cfg(target_os = "linux")]
pub mod native_dialog;
pub mod pg;
pub mod proxy;
pub mod service;
pub mod shaper;
#[cfg(target_os = "linux")]
pub mod steps;
pub mod webdriver;
pub mod workspace_build;
