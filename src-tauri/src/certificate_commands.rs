//! The certificate page's commands (my progress → certificate): list, download, check, save,
//! print, and check any certificate file; and saving the training record. Each a few lines over
//! `hearth_core::certificates`. The store is held only to read what a transfer needs, never
//! across the network (issue #16): downloads take the folder and the connection and let go.

use std::path::PathBuf;

use hearth_core::certificates::{self, CertificateCheck, CertificateItem};
use tauri::State;

use crate::{CommandError, HearthState};

/// A path the user typed or the file dialog filled in; empty is refused.
fn chosen_path(path: &str) -> Result<PathBuf, CommandError> {
    let path = path.trim();
    if path.is_empty() {
        return Err(CommandError::new(
            "input.invalid",
            "choose a file to save to",
        ));
    }
    Ok(PathBuf::from(path))
}

/// The certificates of the learner at the keyboard, from the record last pulled (offline too).
#[tauri::command]
pub fn my_certificates(
    hearth: State<'_, HearthState>,
) -> Result<Vec<CertificateItem>, CommandError> {
    hearth.with(|h| h.certificates())
}

/// Fetches the certificate's credential and PDF from the service, verifies and keeps them.
#[tauri::command]
pub async fn download_certificate(
    hearth: State<'_, HearthState>,
    serial: String,
) -> Result<CertificateCheck, CommandError> {
    let (folder, transport) = hearth.with(|h| h.certificate_to_fetch(&serial))?;
    certificates::download(&folder, &transport, &serial)
        .await
        .map_err(CommandError::from_sync)
}

/// Checks the kept copy of a certificate offline (valid, tampered or revoked, with why).
#[tauri::command]
pub fn check_certificate(
    hearth: State<'_, HearthState>,
    serial: String,
) -> Result<CertificateCheck, CommandError> {
    let folder = hearth.with(|h| Ok(h.certificate_folder()))?;
    Ok(folder.check_saved(&serial)?)
}

/// Saves the kept PDF of a certificate to the path the user chose.
#[tauri::command]
pub fn save_certificate(
    hearth: State<'_, HearthState>,
    serial: String,
    path: String,
) -> Result<(), CommandError> {
    let to = chosen_path(&path)?;
    let folder = hearth.with(|h| Ok(h.certificate_folder()))?;
    Ok(folder.save_pdf(&serial, &to)?)
}

/// Opens the kept PDF in the system's PDF viewer, where it prints (`xdg-open` on Linux,
/// `start` on Windows, `open` on macOS). Without a viewer the answer is `print.no_viewer`, and
/// the learner saves the PDF and prints it from elsewhere.
#[tauri::command]
pub fn print_certificate(
    hearth: State<'_, HearthState>,
    serial: String,
) -> Result<(), CommandError> {
    let folder = hearth.with(|h| Ok(h.certificate_folder()))?;
    folder.check_saved(&serial)?;
    let pdf = folder.pdf_path(&serial);
    #[cfg(target_os = "windows")]
    let mut cmd = {
        let mut c = std::process::Command::new("cmd");
        c.args(["/C", "start", ""]);
        c
    };
    #[cfg(target_os = "macos")]
    let mut cmd = std::process::Command::new("open");
    #[cfg(not(any(target_os = "windows", target_os = "macos")))]
    let mut cmd = std::process::Command::new("xdg-open");
    let mut child = cmd.arg(&pdf).spawn().map_err(|e| {
        CommandError::new(
            "print.no_viewer",
            format!("no PDF viewer could be opened ({e}); save the PDF and print it from there"),
        )
    })?;
    // Reap the opener when it exits (xdg-open returns at once; a viewer may stay open).
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Checks a certificate the user has: a file path (PDF or JSON) or the text itself (the QR
/// code's `HC1:…` or the credential JSON), offline, under the issuer key kept on this PC.
#[tauri::command]
pub fn verify_certificate_file(
    hearth: State<'_, HearthState>,
    input: String,
) -> Result<CertificateCheck, CommandError> {
    let folder = hearth.with(|h| Ok(h.certificate_folder()))?;
    Ok(folder.check_input(&input)?)
}

/// Fetches the signed training record of the learner at the keyboard (JSON and PDF), verifies
/// it, keeps it, and saves the forms the user chose a path for.
#[tauri::command]
pub async fn save_training_record(
    hearth: State<'_, HearthState>,
    pdf_path: Option<String>,
    json_path: Option<String>,
) -> Result<(), CommandError> {
    let pdf = pdf_path.as_deref().map(chosen_path).transpose()?;
    let json = json_path.as_deref().map(chosen_path).transpose()?;
    if pdf.is_none() && json.is_none() {
        return Err(CommandError::new(
            "input.invalid",
            "choose a file to save to",
        ));
    }
    let (learner, folder, transport) = hearth.with(|h| h.record_to_fetch())?;
    certificates::download_record(&folder, &transport, learner)
        .await
        .map_err(CommandError::from_sync)?;
    Ok(folder.save_record(learner, json.as_deref(), pdf.as_deref())?)
}
