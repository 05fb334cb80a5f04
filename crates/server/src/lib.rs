//! The Hearth central service.
//!
//! Layers, top to bottom: [`http`] (axum handlers; transport types converted at once) →
//! [`domain`] (verification, chain placement, credit derivation, grading, publishing) →
//! [`store`] (the [`store::Store`] trait, with no SQLite-specific logic above it, and its SQLite
//! implementation). Time and randomness come from [`env`] so tests control them.

pub mod carrier;
pub mod domain;
pub mod env;
pub mod http;
pub mod keys;
pub mod occupations;
pub mod revoke;
pub mod store;

use std::path::Path;
use std::sync::Arc;

pub use domain::{Config, Service, ServiceError};
pub use http::{Limits, Running, router, serve, spawn};

use env::{Clock, Random};
use keys::Keys;
use store::{PostgresStore, SqliteStore};

/// Connections of one service process to PostgreSQL, at most (the HTTP layer runs store calls
/// on tokio's blocking threads; more connections than that would only wait).
pub const PG_CONNECTIONS: u32 = 16;

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data folder {0}: {1}")]
    Folder(String, std::io::Error),
    #[error(transparent)]
    Keys(#[from] keys::KeyError),
    #[error("database: {0}")]
    Store(#[from] store::StoreError),
    #[error("deriving credit facts: {0}")]
    Facts(#[from] ServiceError),
}

/// Makes the database file readable by the service's account only (it holds every credential's
/// hash and every learner's record): created with mode 0600 on Unix, an existing one (and its
/// `-wal` and `-shm`, which SQLite creates with the database's mode) narrowed to it. On Windows
/// the file inherits the data folder's ACL (see docs/api.md, "Storage and deployment").
fn owner_only(db: &Path) -> std::io::Result<()> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        o.mode(0o600);
        drop(o.open(db)?);
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            match std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    drop(o.open(db)?);
    Ok(())
}

impl Service {
    /// Opens (creating if needed) the service's data folder: `hearth.db`, the key files, and
    /// `blobs/` for published package files.
    pub fn open(
        data: &Path,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, OpenError> {
        Self::open_with(data, None, clock, random)
    }

    /// Opens the service with its database in PostgreSQL at `database` (`postgres://…`), or in
    /// the data folder's `hearth.db` when `None`. The data folder keeps the key files and the
    /// published files either way: every process serving one PostgreSQL database opens the same
    /// (shared) data folder, so they sign anchors and packages with the same keys.
    pub fn open_with(
        data: &Path,
        database: Option<&str>,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, OpenError> {
        std::fs::create_dir_all(data.join("blobs"))
            .map_err(|e| OpenError::Folder(data.display().to_string(), e))?;
        let keys = Keys::load_or_create(data, &*random)?;
        let store: Arc<dyn store::Store> = match database {
            Some(url) => Arc::new(PostgresStore::open(url, PG_CONNECTIONS)?),
            None => {
                let db = data.join("hearth.db");
                owner_only(&db).map_err(|e| OpenError::Folder(db.display().to_string(), e))?;
                Arc::new(SqliteStore::open(&db)?)
            }
        };
        let svc = Self::with_parts(store, clock, random, keys, data.join("blobs"));
        // After a migration (or a change of the credit rules) the facts are derived again from
        // the receipts, before anything is served.
        svc.ensure_facts()?;
        Ok(svc)
    }

    /// [`Service::open_with`], with reports read from the streaming replica at `replica`
    /// ([`Service::for_reports`]).
    pub fn open_with_replica(
        data: &Path,
        database: &str,
        replica: &str,
        clock: Arc<dyn Clock>,
        random: Arc<dyn Random>,
    ) -> Result<Self, OpenError> {
        let mut svc = Self::open_with(data, Some(database), clock, random)?;
        svc.read_store = Some(Arc::new(PostgresStore::open_replica(
            replica,
            PG_CONNECTIONS,
        )?));
        Ok(svc)
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
            catalog_cache: Arc::default(),
            tag_cache: Arc::default(),
            read_store: None,
        }
    }
}
