//! The system's file dialogs (GTK on Linux, the common dialog on Windows) through
//! `tauri-plugin-dialog`, opened by the shell, not by the window: the window names what the file
//! is for ([`FilePurpose`]) and gets back the path the person chose, so it needs no dialog or file
//! system permission of its own, and the filters are decided here, once.
//!
//! The chosen path then goes to the command that acts on it (`import_course`,
//! `export_receipts`, saving a certificate), which checks the file as the untrusted input it is.

use serde::Deserialize;
use tauri::{AppHandle, Runtime};
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder};

use crate::error::CommandError;
use hearth_core::removable::{PACKAGE_EXT, RECEIPTS_EXT};

/// What the person is choosing a file for: decides the dialog's kind (open or save) and filter.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum FilePurpose {
    /// A course package to import (`.hcp`).
    ImportCourse,
    /// Where to write this kiosk's receipts (`.hrb`).
    ExportReceipts,
    /// Where to save a certificate's PDF.
    SavePdf,
    /// Where to save a JSON export (a certificate's credential, the training record).
    SaveJson,
    /// A certificate file to check: its PDF, its credential JSON, or its QR text.
    CheckCertificate,
}

impl FilePurpose {
    /// Whether the dialog chooses an existing file (else a new file's name and folder).
    pub fn opens(self) -> bool {
        matches!(
            self,
            FilePurpose::ImportCourse | FilePurpose::CheckCertificate
        )
    }

    /// The filter's extensions, without the dot.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FilePurpose::ImportCourse => &[PACKAGE_EXT],
            FilePurpose::ExportReceipts => &[RECEIPTS_EXT],
            FilePurpose::SavePdf => &["pdf"],
            FilePurpose::SaveJson => &["json"],
            FilePurpose::CheckCertificate => &["pdf", "json", "txt"],
        }
    }
}

/// The longest title or file name the window may hand to the dialog.
const MAX_TEXT: usize = 200;

fn bounded(text: &str) -> Result<&str, CommandError> {
    if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(CommandError::new(
            "input.invalid",
            "the dialog's title or file name is too long or has control characters",
        ));
    }
    Ok(text)
}

/// Opens the system's file dialog for `purpose` and returns the chosen path, or `None` when the
/// person cancels. `title` is the dialog's title in the UI's language; `file_name` the name a
/// save dialog suggests. The dialog blocks a worker thread, never the app's event loop or the
/// store.
#[tauri::command]
pub async fn choose_file<R: Runtime>(
    app: AppHandle<R>,
    purpose: FilePurpose,
    title: String,
    file_name: Option<String>,
) -> Result<Option<String>, CommandError> {
    let title = bounded(&title)?.to_owned();
    let file_name = file_name
        .as_deref()
        .map(bounded)
        .transpose()?
        .map(str::to_owned);
    let mut dialog: FileDialogBuilder<R> = app
        .dialog()
        .file()
        .set_title(title)
        .add_filter(purpose.extensions()[0], purpose.extensions());
    if let Some(name) = file_name {
        dialog = dialog.set_file_name(name);
    }
    let chosen = tauri::async_runtime::spawn_blocking(move || {
        if purpose.opens() {
            dialog.blocking_pick_file()
        } else {
            dialog.blocking_save_file()
        }
    })
    .await
    .map_err(|e| CommandError::new("ui.task", e.to_string()))?;
    chosen
        .map(|p| {
            p.into_path()
                .map(|p| p.display().to_string())
                .map_err(|e| CommandError::new("ui.dialog", e.to_string()))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_course_package_or_a_certificate_to_check_is_opened_the_rest_saved() {
        let cases = [
            (FilePurpose::ImportCourse, true, "hcp"),
            (FilePurpose::ExportReceipts, false, "hrb"),
            (FilePurpose::SavePdf, false, "pdf"),
            (FilePurpose::SaveJson, false, "json"),
            (FilePurpose::CheckCertificate, true, "pdf"),
        ];
        for (purpose, opens, ext) in cases {
            assert_eq!(purpose.opens(), opens, "{purpose:?}");
            assert_eq!(purpose.extensions()[0], ext, "{purpose:?}");
        }
    }

    #[test]
    fn a_title_with_control_characters_or_too_long_is_refused() {
        assert!(bounded("导入课程包").is_ok());
        assert_eq!(bounded("a\u{1b}[2J").unwrap_err().code(), "input.invalid");
        assert_eq!(
            bounded(&"长".repeat(100)).unwrap_err().code(),
            "input.invalid"
        );
    }
}
