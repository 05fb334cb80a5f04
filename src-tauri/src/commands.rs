//! The commands the UI calls: each a few lines over hearth-core. Transport types are camelCase.

use hearth_core::{Learner, LedgerStatus, ReceiptSummary, RecordedReceipt};
use hearth_protocol::{DeviceId, Event, LearnerId, SignInMethod};
use serde::Serialize;
use tauri::State;

use crate::{CommandError, HearthState, Session};

/// The most receipts one `recent_receipts` call returns.
pub const MAX_RECENT: u32 = 500;

/// This installation, as the UI shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    pub id: DeviceId,
    /// The Ed25519 public key, hex.
    pub public_key: String,
    pub created_ms: i64,
    /// Where the store lives, for support.
    pub data_dir: String,
}

#[tauri::command]
pub fn device_info(hearth: State<'_, HearthState>) -> Result<DeviceView, CommandError> {
    hearth.with(|h| {
        let device = h.device();
        Ok(DeviceView {
            id: device.id,
            public_key: device.public_key.to_hex(),
            created_ms: device.created_ms,
            data_dir: h.data_dir().display().to_string(),
        })
    })
}

#[tauri::command]
pub fn list_learners(hearth: State<'_, HearthState>) -> Result<Vec<Learner>, CommandError> {
    hearth.with(|h| h.learners())
}

#[tauri::command]
pub fn add_learner(
    hearth: State<'_, HearthState>,
    display_name: String,
) -> Result<Learner, CommandError> {
    hearth.with(|h| h.add_learner(&display_name))
}

/// Signs a learner in on this device (the sole learner of a personal PC; PINs come with the
/// kiosk roster) and records it as a receipt.
#[tauri::command]
pub fn sign_in(
    hearth: State<'_, HearthState>,
    session: State<'_, Session>,
    learner_id: String,
) -> Result<RecordedReceipt, CommandError> {
    let learner: LearnerId = learner_id
        .parse()
        .map_err(|_| CommandError::new("input.invalid", "not a learner id"))?;
    let event = Event::LearnerSignedIn {
        method: SignInMethod::SoleLearner,
    };
    let receipt = hearth.with(|h| h.record(learner, event))?;
    session.set(Some(learner));
    Ok(receipt)
}

#[tauri::command]
pub fn recent_receipts(
    hearth: State<'_, HearthState>,
    limit: Option<u32>,
) -> Result<Vec<ReceiptSummary>, CommandError> {
    let limit = limit.unwrap_or(50).min(MAX_RECENT);
    hearth.with(|h| h.recent_receipts(limit))
}

#[tauri::command]
pub fn ledger_status(hearth: State<'_, HearthState>) -> Result<LedgerStatus, CommandError> {
    hearth.with(|h| h.ledger_status())
}
