//! Photo checkpoints on the PC (issue #17 item 2; what is kept, where and for how long:
//! docs/privacy.md).
//!
//! Off unless the organisation's policy turns them on (`GET /v1/photos`, kept by a sync round),
//! and then only for a learner who gave separate consent (PIPL Art. 28–29): the app shows
//! [`hearth_protocol::photo::CONSENT_TEXT`] once, and records the answer as a signed
//! `consent_recorded` receipt naming the text's SHA-256. A learner who declines is not asked again
//! (Settings can change it, also a receipt) and gets the attention checks only.
//!
//! With consent, the front end hands [`Hearth::take_photo`] a webcam JPEG at sign-in and when
//! [`Hearth::photo_due`] says so (a random moment between [`PhotoPolicy::every_min_ms`] and
//! [`PhotoPolicy::every_max_ms`] of the app's monotonic time, from the injected clock and
//! randomness). The JPEG is sealed at once to the service's photo key
//! ([`hearth_protocol::photo::seal`]: only the service can open it, this PC cannot), written to
//! `photos/<learner>/<wall ms>-<receipt id>.sealed` in the data folder, and only its SHA-256 goes
//! into the signed `photo_taken` receipt. The file is renamed into place inside the receipt's
//! transaction, so a receipt never commits without its photo. [`Hearth::purge_old_photos`]
//! deletes photos older than [`RETENTION_MS`]; a sync round uploads a learner's photos only when
//! the service names an audit request for them.

use std::path::PathBuf;

use hearth_protocol::photo::{self, MAX_PHOTO_BYTES};
pub use hearth_protocol::photo::{CONSENT_TEXT, RETENTION_MS};
use hearth_protocol::{ConsentPurpose, ContentHash, Event, LearnerId, PhotoMoment, ReceiptId};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Hearth, PhotoError, RecordedReceipt, Result};

/// `content_meta` key of the organisation's photo policy as the service last sent it.
const META_POLICY: &str = "photo_policy";
/// `content_meta` key prefix of a learner's latest consent answer.
const META_CONSENT: &str = "photo_consent:";

/// How often photos are taken at random moments (of the app's monotonic time while someone is
/// signed in). `HEARTH_PHOTO_EVERY_MS` (`"MIN-MAX"` or `"MS"`) sets it for tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhotoPolicy {
    pub every_min_ms: u64,
    pub every_max_ms: u64,
}

impl Default for PhotoPolicy {
    fn default() -> Self {
        Self {
            every_min_ms: 15 * 60_000,
            every_max_ms: 45 * 60_000,
        }
    }
}

impl PhotoPolicy {
    /// Reads `"MIN-MAX"` or `"MS"` (milliseconds, at least one second).
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b): (u64, u64) = match s.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let v = s.trim().parse().ok()?;
                (v, v)
            }
        };
        Some(Self {
            every_min_ms: a.min(b).max(1_000),
            every_max_ms: a.max(b).max(1_000),
        })
    }

    fn draw(&self, random: u64) -> u64 {
        self.every_min_ms + random % (self.every_max_ms - self.every_min_ms + 1)
    }
}

/// The organisation's policy as kept on the PC.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeptPolicy {
    enabled: bool,
    key: [u8; 32],
}

/// A learner's answer to the consent screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Consent {
    /// Never answered (or the text changed since): the consent screen is shown.
    Unasked,
    Granted,
    Declined,
}

/// What the front end needs about photos for the person at the keyboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoStatus {
    /// The organisation turned photo checkpoints on.
    pub enabled: bool,
    pub consent: Consent,
    /// Show the consent screen now (on, and never answered).
    pub ask: bool,
    /// Take photos (on, and consented).
    pub active: bool,
    /// The text to show, exactly as its hash is recorded.
    pub consent_text: String,
}

/// A photo kept on this PC, sealed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedPhoto {
    pub learner: LearnerId,
    pub receipt: ReceiptId,
    pub taken_wall_ms: i64,
    pub path: PathBuf,
}

impl Hearth {
    fn photo_dir(&self) -> PathBuf {
        self.data_dir().join("photos")
    }

    /// Keeps the policy a sync round fetched (`enabled`, the service's photo key in hex).
    pub fn keep_photo_policy(&mut self, enabled: bool, key_hex: &str) -> Result<()> {
        let key = photo::parse_key(key_hex).map_err(|_| CoreError::Photo(PhotoError::BadKey))?;
        let bytes = serde_json::to_vec(&KeptPolicy { enabled, key })
            .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
        self.store
            .write(|tx| tx.set_content_meta(META_POLICY, &bytes))?;
        Ok(())
    }

    fn kept_policy(&self) -> Result<Option<KeptPolicy>> {
        Ok(self
            .store
            .content_meta(META_POLICY)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// A learner's consent as last recorded on this PC. An answer given to another consent
    /// text counts as none: the learner is asked about the new text.
    pub fn photo_consent(&self, learner: LearnerId) -> Result<Consent> {
        let kept = self
            .store
            .content_meta(&format!("{META_CONSENT}{}", learner.0))?;
        Ok(match kept.as_deref() {
            Some([granted, hash @ ..]) if hash == photo::consent_text_sha256().0 => {
                if *granted == 1 {
                    Consent::Granted
                } else {
                    Consent::Declined
                }
            }
            _ => Consent::Unasked,
        })
    }

    /// The photo status of the person at the keyboard (`session.none` when nobody is).
    pub fn photo_status(&self) -> Result<PhotoStatus> {
        let learner = self.require_at_keyboard()?;
        let enabled = self.kept_policy()?.is_some_and(|p| p.enabled);
        let consent = self.photo_consent(learner)?;
        Ok(PhotoStatus {
            enabled,
            consent,
            ask: enabled && consent == Consent::Unasked,
            active: enabled && consent == Consent::Granted,
            consent_text: CONSENT_TEXT.to_owned(),
        })
    }

    /// Records the answer of the person at the keyboard to the consent text (given, declined,
    /// or withdrawn/given again from Settings) as a signed `consent_recorded` receipt. Declining
    /// or withdrawing deletes the learner's photos kept on this PC (their hashes stay in the
    /// signed receipts).
    pub fn record_photo_consent(&mut self, granted: bool) -> Result<RecordedReceipt> {
        let learner = self.require_at_keyboard()?;
        let hash = photo::consent_text_sha256();
        let key = format!("{META_CONSENT}{}", learner.0);
        let mut value = vec![u8::from(granted)];
        value.extend_from_slice(&hash.0);
        self.next_photo_mono = None;
        let r = self.record_with(
            learner,
            Event::ConsentRecorded {
                purpose: ConsentPurpose::PhotoCheckpoint,
                granted,
                text_sha256: hash,
            },
            |tx, _| tx.set_content_meta(&key, &value),
        )?;
        if !granted {
            // Withdrawn (or declined): the photos kept on this PC go now, not at the retention.
            let dir = self.photo_dir().join(learner.0.to_string());
            match std::fs::remove_dir_all(&dir) {
                Ok(()) => tracing::info!(%learner, "photos deleted on withdrawal of consent"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(CoreError::Io {
                        context: format!("deleting {}", dir.display()),
                        source: e,
                    });
                }
            }
        }
        Ok(r)
    }

    /// Sets how often random photos are due.
    pub fn set_photo_policy(&mut self, policy: PhotoPolicy) {
        self.photo_policy = policy;
        self.next_photo_mono = None;
    }

    /// Whether a random photo is due now for the person at the keyboard (photos on and
    /// consented). The first call after sign-in or a photo draws the next moment.
    pub fn photo_due(&mut self) -> Result<bool> {
        if self.at_keyboard().is_none() || !self.photo_status()?.active {
            return Ok(false);
        }
        let now = self.env.clock.mono_ms();
        match self.next_photo_mono {
            Some(due) => Ok(now >= due),
            None => {
                let r = u64::from_le_bytes(self.env.random()?);
                self.next_photo_mono = Some(now + self.photo_policy.draw(r));
                Ok(false)
            }
        }
    }

    /// Seals a webcam JPEG of the person at the keyboard to the service's photo key, keeps it in
    /// the data folder and records `photo_taken` with the JPEG's SHA-256. Refused unless photos
    /// are on and the learner consented (`photo.off`, `photo.no_consent`).
    pub fn take_photo(&mut self, jpeg: &[u8], moment: PhotoMoment) -> Result<RecordedReceipt> {
        let learner = self.require_at_keyboard()?;
        let policy = self
            .kept_policy()?
            .filter(|p| p.enabled)
            .ok_or(CoreError::Photo(PhotoError::Off))?;
        if self.photo_consent(learner)? != Consent::Granted {
            return Err(CoreError::Photo(PhotoError::NoConsent));
        }
        if jpeg.len() > MAX_PHOTO_BYTES {
            return Err(CoreError::Photo(PhotoError::TooLarge));
        }
        if !(jpeg.starts_with(&[0xff, 0xd8, 0xff]) && jpeg.ends_with(&[0xff, 0xd9])) {
            return Err(CoreError::Photo(PhotoError::NotJpeg));
        }
        let sealed = photo::seal(&policy.key, self.env.random()?, jpeg);
        let dir = self.photo_dir().join(learner.0.to_string());
        crate::create_private_dir(&dir)?;
        let tmp = dir.join(format!(".tmp-{}", hex_of(&self.env.random::<8>()?)));
        write_synced(&tmp, &sealed)?;
        let wall = self.env.clock.wall_ms();
        let result = self.record_with(
            learner,
            Event::PhotoTaken {
                sha256: ContentHash::of(jpeg),
                moment,
            },
            |_, r| {
                let to = dir.join(format!("{}-{}.sealed", wall, r.id));
                std::fs::rename(&tmp, &to)
                    .map_err(CoreError::io(format!("keeping the photo {}", to.display())))
            },
        );
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        let r = result?;
        self.next_photo_mono = None;
        Ok(r)
    }

    /// The sealed photos kept for `learner`, oldest first.
    pub fn sealed_photos(&self, learner: LearnerId) -> Result<Vec<SealedPhoto>> {
        let dir = self.photo_dir().join(learner.0.to_string());
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => {
                return Err(CoreError::Io {
                    context: format!("reading {}", dir.display()),
                    source: e,
                });
            }
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some((wall, id)) = name.strip_suffix(".sealed").and_then(|s| s.split_once('-'))
            else {
                continue;
            };
            if let (Ok(wall), Ok(id)) = (wall.parse::<i64>(), id.parse::<ReceiptId>()) {
                out.push(SealedPhoto {
                    learner,
                    receipt: id,
                    taken_wall_ms: wall,
                    path: e.path(),
                });
            }
        }
        out.sort_by_key(|p| p.taken_wall_ms);
        Ok(out)
    }

    /// Deletes every kept photo taken more than [`RETENTION_MS`] ago (by this PC's clock), and
    /// temporary files left by a crash; how many photos went.
    pub fn purge_old_photos(&self) -> Result<u32> {
        let cutoff = self.env.clock.wall_ms().saturating_sub(RETENTION_MS);
        let Ok(learners) = std::fs::read_dir(self.photo_dir()) else {
            return Ok(0);
        };
        let mut deleted = 0;
        for dir in learners.flatten() {
            let Ok(files) = std::fs::read_dir(dir.path()) else {
                continue;
            };
            for f in files.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                let old = name
                    .split_once('-')
                    .and_then(|(w, _)| w.parse::<i64>().ok())
                    .is_some_and(|w| w < cutoff);
                if name.starts_with(".tmp-") || old {
                    std::fs::remove_file(f.path())
                        .map_err(CoreError::io(format!("deleting {}", f.path().display())))?;
                    if old {
                        deleted += 1;
                    }
                }
            }
        }
        if deleted > 0 {
            tracing::info!(deleted, "photos past their retention deleted");
        }
        Ok(deleted)
    }
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn write_synced(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let ctx = || format!("writing {}", path.display());
    let mut f = std::fs::File::create(path).map_err(CoreError::io(ctx()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(CoreError::io(ctx()))
}
