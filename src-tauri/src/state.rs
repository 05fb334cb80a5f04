//! Managed state. [`hearth_core::Hearth`] is Send but not Sync (it holds an SQLite connection),
//! so it sits behind a mutex, shared (`Arc`) with the background sync loop and downloads.
//! The rule that keeps the app from freezing: the mutex is held only for store work, never
//! across a network request or a read of a slow file (take what is needed, let go, wait, take
//! it again to keep the result): see `refresh_catalog`, `import_course`, `export_receipts`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hearth_core::{Env, Hearth};

use crate::CommandError;

/// The open data folder, or why it could not be opened.
#[derive(Debug)]
pub struct HearthState(Result<Arc<Mutex<Hearth>>, CommandError>);

impl HearthState {
    /// Opens (or on first run creates) the store in `dir`. A failure is kept and returned by
    /// every command, so the window can explain it.
    pub fn open(dir: &Path, env: Env) -> Self {
        let opened = Hearth::open(dir, env).map_err(|error| {
            tracing::error!(code = error.code(), %error, dir = %dir.display(), "cannot open the store");
            CommandError::from(error)
        });
        Self(opened.map(|h| Arc::new(Mutex::new(h))))
    }

    pub fn from_hearth(hearth: Hearth) -> Self {
        Self(Ok(Arc::new(Mutex::new(hearth))))
    }

    /// The shared store, for work that outlives one command (sync loop, downloads).
    pub fn shared(&self) -> Result<Arc<Mutex<Hearth>>, CommandError> {
        self.0.clone()
    }

    /// Runs `f` on the open store, or answers with the error that kept it from opening.
    pub fn with<T>(
        &self,
        f: impl FnOnce(&mut Hearth) -> Result<T, hearth_core::CoreError>,
    ) -> Result<T, CommandError> {
        let shared = self.0.as_ref().map_err(Clone::clone)?;
        // A panic inside `f` cannot leave a half-written receipt (each write is one SQLite
        // transaction), so a poisoned lock is safe to reuse.
        let mut guard: MutexGuard<'_, Hearth> =
            shared.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard).map_err(CommandError::from)
    }
}
