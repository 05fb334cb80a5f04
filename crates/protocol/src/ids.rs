//! Identifiers shared by client and service.
//!
//! People and devices are UUIDs; course content (courses, lessons, quizzes, exams, items) is named
//! by short slugs chosen by the publisher, checked here so that every id that crosses a trust
//! boundary is bounded and printable.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use ring::digest;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::RejectReason;

/// An Ed25519 public key (32 bytes). Hex in JSON, raw bytes in the binary encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl FromStr for PublicKey {
    type Err = hex::FromHexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)?;
        Ok(Self(out))
    }
}

/// A 32-byte digest (SHA-256) shown as hex to people and JSON, raw in binary encodings.
macro_rules! digest_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub const ZERO: Self = Self([0u8; 32]);

            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), &self.to_hex()[..16])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = hex::FromHexError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut out = [0u8; 32];
                hex::decode_to_slice(s, &mut out)?;
                Ok(Self(out))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&self.to_hex())
                } else {
                    // A fixed-size array: 32 bytes with no length prefix in postcard.
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    s.parse().map_err(serde::de::Error::custom)
                } else {
                    Ok(Self(<[u8; 32]>::deserialize(d)?))
                }
            }
        }
    };
}

digest_type!(
    /// The identity of one receipt: SHA-256 over a domain prefix and its signed body bytes.
    /// Each receipt names its predecessor's id, which makes a device's receipts a hash chain.
    ReceiptId
);
digest_type!(
    /// SHA-256 of a media file's bytes; cached media is stored under this name.
    ContentHash
);

impl ContentHash {
    pub fn of(bytes: &[u8]) -> Self {
        let d = digest::digest(&digest::SHA256, bytes);
        Self(d.as_ref().try_into().expect("SHA-256 is 32 bytes"))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_hex())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Self(<[u8; 32]>::deserialize(d)?))
        }
    }
}

macro_rules! uuid_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Builds an id from 16 random bytes (randomness is injected by the caller).
            pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
                Self(uuid::Builder::from_random_bytes(bytes).into_uuid())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

uuid_type!(
    /// A device (one installation). Derived from its public key, so a device id cannot be claimed
    /// for another key: see [`DeviceId::for_key`].
    DeviceId
);
uuid_type!(
    /// A learner (a real-name person managed by the service), or a trainer acting on a kiosk.
    LearnerId
);
uuid_type!(
    /// A class session opened by a trainer on a kiosk.
    ClassId
);

const DEVICE_ID_DOMAIN: &[u8] = b"HEARTH/device-id/1\0";

impl DeviceId {
    /// The device id that belongs to a public key: the first 16 bytes of
    /// SHA-256(domain || key), stamped as a version-8 (custom) UUID.
    pub fn for_key(key: &PublicKey) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(DEVICE_ID_DOMAIN);
        ctx.update(key.as_bytes());
        let d = ctx.finish();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&d.as_ref()[..16]);
        Self(uuid::Builder::from_custom_bytes(bytes).into_uuid())
    }
}

thread_local! {
    /// Set when a slug is refused while being deserialized. Postcard drops the message of a
    /// custom decoding error, so this is how receipt verification tells a slug that breaks the
    /// rule (`receipt.invalid_event`) from bytes that are no receipt body (`receipt.malformed`).
    static SLUG_REFUSED: Cell<bool> = const { Cell::new(false) };
}

/// Whether a slug was refused by deserialization on this thread since the last call; clears it.
pub(crate) fn take_slug_refused() -> bool {
    SLUG_REFUSED.with(|c| c.replace(false))
}

/// Longest slug accepted anywhere (bytes).
pub const MAX_SLUG_LEN: usize = 64;

/// Checks a publisher-chosen name: 1..=64 bytes of `a-z 0-9 . _ -`, not starting with `.` or `-`.
/// Slugs also become file and URL path parts, so nothing else is allowed.
pub fn check_slug(s: &str) -> Result<(), RejectReason> {
    let ok = !s.is_empty()
        && s.len() <= MAX_SLUG_LEN
        && !s.starts_with(['.', '-'])
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(RejectReason::InvalidEvent("slug"))
    }
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Result<Self, RejectReason> {
                let s = s.into();
                check_slug(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(|_| {
                    SLUG_REFUSED.with(|c| c.set(true));
                    serde::de::Error::custom(concat!("invalid ", stringify!($name)))
                })
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = RejectReason;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }
    };
}

slug_type!(
    /// A course, e.g. `electrician-safety`.
    CourseId
);
slug_type!(
    /// A lesson within a course.
    LessonId
);
slug_type!(
    /// A practice quiz.
    QuizId
);
slug_type!(
    /// A timed exam.
    ExamId
);
slug_type!(
    /// One quiz or exam item.
    ItemId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_id_is_bound_to_the_key() {
        let a = DeviceId::for_key(&PublicKey([1; 32]));
        let b = DeviceId::for_key(&PublicKey([2; 32]));
        assert_ne!(a, b, "different keys must give different device ids");
        assert_eq!(
            a,
            DeviceId::for_key(&PublicKey([1; 32])),
            "derivation is deterministic"
        );
        assert_eq!(a.0.get_version_num(), 8, "stamped as a custom (v8) UUID");
    }

    #[test]
    fn slugs_refuse_path_tricks_and_oversize() {
        for bad in [
            "",
            "..",
            "../etc",
            "a/b",
            "A",
            "-x",
            ".hidden",
            "a b",
            "é",
            &"x".repeat(65),
        ] {
            assert!(CourseId::new(bad).is_err(), "{bad:?} must be refused");
        }
        for good in ["electrician-safety", "l1", "unit_2.quiz", &"x".repeat(64)] {
            assert!(CourseId::new(good).is_ok(), "{good:?} must be accepted");
        }
    }

    #[test]
    fn slug_deserialization_validates() {
        assert!(serde_json::from_str::<LessonId>("\"../x\"").is_err());
        assert_eq!(
            serde_json::from_str::<LessonId>("\"l-1\"")
                .unwrap()
                .as_str(),
            "l-1"
        );
    }
}
