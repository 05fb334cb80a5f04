//! The device identity: an Ed25519 key pair made on first run and kept in the data folder,
//! readable by the owner only.
//!
//! Key file (72 bytes): `"HRTHKEY1"` || 32-byte seed || 32-byte public key. The public key is
//! stored so that a damaged seed is detected (the key derived from the seed must match it)
//! rather than silently producing a different identity.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hearth_protocol::{DeviceId, PublicKey};
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::env::Env;
use crate::error::{CoreError, Result};

const MAGIC: &[u8; 8] = b"HRTHKEY1";
const FILE_LEN: usize = 8 + 32 + 32;

/// The device's signing key.
pub struct DeviceKey {
    pair: Ed25519KeyPair,
    public: PublicKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl DeviceKey {
    pub fn pair(&self) -> &Ed25519KeyPair {
        &self.pair
    }

    pub fn public(&self) -> PublicKey {
        self.public
    }

    pub fn device_id(&self) -> DeviceId {
        DeviceId::for_key(&self.public)
    }

    fn from_seed(seed: &[u8; 32]) -> Self {
        // `from_seed_unchecked` only fails for a seed of the wrong length, which the type rules out.
        let pair = Ed25519KeyPair::from_seed_unchecked(seed)
            .expect("a 32-byte seed is a valid Ed25519 seed");
        let public = PublicKey::from_slice(pair.public_key().as_ref())
            .expect("Ed25519 public keys are 32 bytes");
        Self { pair, public }
    }

    /// Reads the key file, refusing one that others can read, that is damaged, or whose seed
    /// does not give the stored public key.
    pub fn load(path: &Path) -> Result<Self> {
        check_owner_only(path)?;
        let bytes = fs::read(path).map_err(CoreError::io(format!("reading {}", path.display())))?;
        let corrupt = |detail| CoreError::KeyCorrupt {
            path: path.to_owned(),
            detail,
        };
        if bytes.len() != FILE_LEN {
            return Err(corrupt("wrong length"));
        }
        if &bytes[..8] != MAGIC {
            return Err(corrupt("not a Hearth key file"));
        }
        let seed: [u8; 32] = bytes[8..40].try_into().expect("checked length");
        let key = Self::from_seed(&seed);
        if key.public.as_bytes()[..] != bytes[40..] {
            return Err(corrupt("the key does not match its public half"));
        }
        Ok(key)
    }

    /// Makes a new key from the injected randomness and writes it atomically (temporary file,
    /// fsync, rename, fsync of the folder), owner-only from the moment it exists.
    pub fn create(path: &Path, env: &Env) -> Result<Self> {
        let seed: [u8; 32] = env.random()?;
        let key = Self::from_seed(&seed);
        let mut bytes = Vec::with_capacity(FILE_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&seed);
        bytes.extend_from_slice(key.public.as_bytes());
        let tmp = path.with_extension("key.new");
        let ctx = || format!("writing {}", tmp.display());
        let _ = fs::remove_file(&tmp);
        let mut file = owner_only_options()
            .open(&tmp)
            .map_err(CoreError::io(ctx()))?;
        file.write_all(&bytes).map_err(CoreError::io(ctx()))?;
        file.sync_all().map_err(CoreError::io(ctx()))?;
        drop(file);
        fs::rename(&tmp, path).map_err(CoreError::io(format!("installing {}", path.display())))?;
        sync_dir(path.parent().unwrap_or(Path::new(".")))?;
        Ok(key)
    }
}

#[cfg(unix)]
fn owner_only_options() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true).mode(0o600);
    o
}

#[cfg(not(unix))]
fn owner_only_options() -> fs::OpenOptions {
    // On Windows the file inherits the ACL of the per-user application data folder (owner,
    // SYSTEM and administrators only), which is the platform's owner-only.
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    o
}

#[cfg(unix)]
fn check_owner_only(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = fs::metadata(path).map_err(CoreError::io(format!("reading {}", path.display())))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(CoreError::KeyPermissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_only(_path: &Path) -> Result<()> {
    // Windows ACLs are not checked yet (see README, "Windows").
    Ok(())
}

/// Makes a rename in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(CoreError::io(format!("syncing {}", dir.display())))?;
    }
    #[cfg(not(unix))]
    {
        // Windows cannot open a folder as a file; NTFS journals renames itself.
        let _ = dir;
    }
    Ok(())
}

/// Where the key lives in a data folder.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("device.key")
}
