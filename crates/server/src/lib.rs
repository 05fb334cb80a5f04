//! The Hearth central service.
//!
//! Layers, top to bottom: [`http`] (axum handlers; transport types converted at once) →
//! [`domain`] (verification, chain placement, credit derivation, grading, publishing) →
//! [`store`] (the [`store::Store`] trait, with no SQLite-specific logic above it, and its SQLite
//! implementation). Time and randomness come from [`env`] so tests control them.

pub mod domain;
pub mod env;
pub mod http;
pub mod keys;
pub mod revoke;
pub mod store;

use std::path::Path;
use std::sync::Arc;

pub use domain::{Config, Service, ServiceError};
pub use http::{Limits, Running, router, serve, spawn};

use env::{Clock, Random};
use keys::Keys;
use store::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
}

impl Service {
    /// Opens (creating if needed) the service's data folder: `hearth.db`, the key files, and
    /// `blobs/` for published package files.
    pub fn open(
        data: &Path,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, OpenError> {
        std::fs::create_dir_all(data.join("blobs"))
            .map_err(|e| OpenError::Folder(data.display().to_string(), e))?;
        let keys = Keys::load_or_create(data, &*random)?;
        let store = SqliteStore::open(&data.join("hearth.db"))?;
        Ok(Self::with_parts(
            Arc::new(store),
            clock,
            random,
            keys,
            data.join("blobs"),
        ))
    }

    pub fn with_parts(
        store: Arc<dyn store::Store>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
        keys: Keys,
        blob_dir: std::path::PathBuf,
    ) -> Self {
        Self {
            store,
            clock,
            random,
            keys: Arc::new(keys),
            config: Config::default(),
            blob_dir,
        }
    }
}
