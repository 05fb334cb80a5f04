//! The background sync engine of hearth-core (`sync::run_loop`), started once the device is
//! enrolled, and its status for the always-visible sync bar: every change is pushed to the UI as
//! the [`SYNC_EVENT`] event (no polling).

use std::sync::{Arc, Mutex, PoisonError};

use hearth_core::sync::http::HttpTransport;
use hearth_core::sync::schedule::Trigger;
use hearth_core::sync::{LoopConfig, SyncStatus, run_loop};
use hearth_core::{Enrollment, Hearth};
use tokio::sync::{mpsc, watch};

use crate::CommandError;

/// The event that carries the sync bar's state (a `SyncView`) to the UI on every change.
pub const SYNC_EVENT: &str = "sync-status";

#[derive(Debug)]
struct Running {
    triggers: mpsc::Sender<Trigger>,
    status: watch::Receiver<SyncStatus>,
    notify: Notify,
}

/// What is called with the sync state on every change (the shell emits [`SYNC_EVENT`]).
#[derive(Clone)]
struct Notify(Arc<dyn Fn(SyncStatus) + Send + Sync>);

impl std::fmt::Debug for Notify {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notify")
    }
}

/// The running sync loop, if the device is enrolled.
#[derive(Debug, Default)]
pub struct SyncEngine(Mutex<Option<Running>>);

impl SyncEngine {
    /// Starts the loop for this enrollment (once; later calls only trigger a round).
    /// `on_change` is called with each new status (the shell emits [`SYNC_EVENT`] from it).
    pub fn start(
        &self,
        hearth: Arc<Mutex<Hearth>>,
        enrollment: &Enrollment,
        on_change: impl Fn(SyncStatus) + Send + Sync + 'static,
    ) -> Result<(), CommandError> {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            let transport = HttpTransport::new(enrollment)
                .map_err(|e| CommandError::new("sync.offline", e.to_string()))?;
            let (triggers, rx) = mpsc::channel(32);
            let (status_tx, status) = watch::channel(SyncStatus::default());
            let key = enrollment.anchor_key;
            let notify = Notify(Arc::new(on_change));
            let mut changes = status.clone();
            let forward = notify.clone();
            tauri::async_runtime::spawn(async move {
                while changes.changed().await.is_ok() {
                    let now = changes.borrow_and_update().clone();
                    (forward.0)(now);
                }
            });
            tauri::async_runtime::spawn(run_loop(
                hearth,
                transport,
                key,
                LoopConfig::default(),
                rx,
                status_tx,
            ));
            *slot = Some(Running {
                triggers,
                status,
                notify,
            });
        }
        drop(slot);
        self.trigger(Trigger::Start);
        Ok(())
    }

    /// Asks for a round (a full channel means one is asked for already). Every trigger follows
    /// a new receipt or a press of "sync now", so the sync bar (its count of waiting records) is
    /// pushed at once, whether or not a round starts now (offline, the next may be minutes away).
    pub fn trigger(&self, trigger: Trigger) {
        let running = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|r| {
                let _ = r.triggers.try_send(trigger);
                (r.notify.clone(), r.status.borrow().clone())
            });
        if let Some((notify, status)) = running {
            (notify.0)(status);
        }
    }

    /// The loop's latest status (`None` before enrollment).
    pub fn status(&self) -> Option<SyncStatus> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|r| r.status.borrow().clone())
    }
}
