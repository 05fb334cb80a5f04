//! The service's secrets: the time-anchor signing key, the publisher key that signs course
//! packages, the issuer key that signs certificates (published at
//! `/.well-known/hearth-issuer.json`), the X25519 key photo checkpoints are sealed to, and the
//! secret that keys the national-ID hash. Each is a 32-byte seed in a file of
//! the data folder, created on first start and readable by the owner only.

use std::fs;
use std::io::Write;
use std::path::Path;

use hearth_protocol::PublicKey;
use ring::hmac;
use ring::signature::{Ed25519KeyPair, KeyPair};

use crate::env::{Random, random_bytes};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file {path}: {reason}")]
    File { path: String, reason: String },
}

#[derive(Debug)]
pub struct Keys {
    pub anchor: Ed25519KeyPair,
    pub publisher: Ed25519KeyPair,
    /// Signs certificates, their status list and claim packs; separate from the anchor key so a
    /// verifier trusting certificates trusts nothing else, and either can be replaced alone.
    pub issuer: Ed25519KeyPair,
    id_secret: hmac::Key,
    /// The X25519 secret that opens photo checkpoints (issue #17): PCs seal photos to its public
    /// half; only the service opens them, on an audit. Never used for anything else.
    photo: PhotoSecret,
}

/// The photo secret, never printed.
struct PhotoSecret([u8; 32]);

impl std::fmt::Debug for PhotoSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PhotoSecret(..)")
    }
}

pub fn public_of(k: &Ed25519KeyPair) -> PublicKey {
    PublicKey::from_slice(k.public_key().as_ref()).expect("Ed25519 public keys are 32 bytes")
}

impl Keys {
    /// Keys from fixed seeds (tests, benchmarks).
    /// The issuer key's seed is derived from the anchor seed.
    pub fn from_seeds(anchor: [u8; 32], publisher: [u8; 32], id_secret: [u8; 32]) -> Self {
        let mut label = b"hearth/issuer-seed-for-tests\0".to_vec();
        label.extend_from_slice(&anchor);
        let issuer: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, &label)
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        Self::from_all_seeds(anchor, publisher, issuer, id_secret)
    }

    pub fn from_all_seeds(
        anchor: [u8; 32],
        publisher: [u8; 32],
        issuer: [u8; 32],
        id_secret: [u8; 32],
    ) -> Self {
        let mut label = b"hearth/photo-seed-for-tests\0".to_vec();
        label.extend_from_slice(&anchor);
        let photo: [u8; 32] = ring::digest::digest(&ring::digest::SHA256, &label)
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes");
        Self {
            photo: PhotoSecret(photo),
            anchor: Ed25519KeyPair::from_seed_unchecked(&anchor).expect("32-byte seed"),
            publisher: Ed25519KeyPair::from_seed_unchecked(&publisher).expect("32-byte seed"),
            issuer: Ed25519KeyPair::from_seed_unchecked(&issuer).expect("32-byte seed"),
            id_secret: hmac::Key::new(hmac::HMAC_SHA256, &id_secret),
        }
    }

    /// Loads the keys from `dir`, creating any that are missing.
    pub fn load_or_create(dir: &Path, random: &dyn Random) -> Result<Self, KeyError> {
        let anchor = seed_file(&dir.join("anchor.key"), random)?;
        let publisher = seed_file(&dir.join("publisher.key"), random)?;
        let issuer = seed_file(&dir.join("issuer.key"), random)?;
        let secret = seed_file(&dir.join("id-secret.key"), random)?;
        let photo = seed_file(&dir.join("photo.key"), random)?;
        Ok(Self {
            photo: PhotoSecret(photo),
            ..Self::from_all_seeds(anchor, publisher, issuer, secret)
        })
    }

    /// The X25519 public key PCs seal photos to.
    pub fn photo_public(&self) -> [u8; 32] {
        hearth_protocol::photo::photo_public_key(&self.photo.0)
    }

    /// Opens a sealed photo (an audit upload).
    pub fn open_photo(&self, sealed: &[u8]) -> Result<Vec<u8>, hearth_protocol::photo::PhotoError> {
        hearth_protocol::photo::open(&self.photo.0, sealed)
    }

    pub fn anchor_public(&self) -> PublicKey {
        public_of(&self.anchor)
    }

    pub fn publisher_public(&self) -> PublicKey {
        public_of(&self.publisher)
    }

    pub fn issuer_public(&self) -> PublicKey {
        public_of(&self.issuer)
    }

    /// The keyed hash of a normalised national ID number.
    pub fn national_id_mac(&self, normalised: &str) -> [u8; 32] {
        let tag = hmac::sign(&self.id_secret, normalised.as_bytes());
        tag.as_ref().try_into().expect("HMAC-SHA-256 is 32 bytes")
    }
}

fn seed_file(path: &Path, random: &dyn Random) -> Result<[u8; 32], KeyError> {
    let err = |reason: String| KeyError::File {
        path: path.display().to_string(),
        reason,
    };
    match fs::read_to_string(path) {
        Ok(text) => {
            let mut seed = [0u8; 32];
            hex::decode_to_slice(text.trim(), &mut seed)
                .map_err(|_| err("not 32 bytes of hex".into()))?;
            Ok(seed)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let seed: [u8; 32] = random_bytes(random);
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            // On Windows the file inherits the data folder's ACL, which is the service account's
            // profile or a folder the installer restricts; see docs/api.md "Deployment".
            let mut f = opts.open(path).map_err(|e| err(e.to_string()))?;
            f.write_all(hex::encode(seed).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(|e| err(e.to_string()))?;
            Ok(seed)
        }
        Err(e) => Err(err(e.to_string())),
    }
}
