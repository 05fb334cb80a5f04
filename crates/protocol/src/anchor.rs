//! Service-signed time anchors.
//!
//! At every sync the service signs its current time for the device. The device keeps the latest
//! anchor, and every receipt it writes carries that anchor plus the device's monotonic reading at
//! the moment it received it. The service can then bound the real time at which a receipt was
//! made: it cannot be earlier than the anchor, and within one app run it is the anchor's time plus
//! the monotonic time elapsed since. The device's monotonic reading ([`MonoStamp`]) lives here
//! with the anchors it is reckoned against; receipts carry both.

use ring::signature::{ED25519, Ed25519KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::RejectReason;
use crate::ids::{DeviceId, PublicKey};

/// Prefix of every anchor signature.
pub const ANCHOR_DOMAIN: &[u8] = b"HEARTH/time-anchor/1\0";

/// A reading of the device's monotonic clock: milliseconds since the start of app run `run`.
/// Runs are numbered by the device; within one run the elapsed time cannot be set back by the
/// user, across runs nothing is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonoStamp {
    pub run: u32,
    pub elapsed_ms: u64,
}

/// An Ed25519 signature (64 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "serde_bytes")] pub [u8; 64]);

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

/// The service's signed statement "it is `issued_ms` now", made for one device. FROZEN: the
/// signed message is the domain prefix followed by postcard of `(issued_ms, device)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeAnchor {
    /// Service time, Unix milliseconds.
    pub issued_ms: i64,
    pub device: DeviceId,
    pub signature: Signature,
}

fn anchor_message(issued_ms: i64, device: DeviceId) -> Vec<u8> {
    let mut msg = ANCHOR_DOMAIN.to_vec();
    let encoded =
        postcard::to_allocvec(&(issued_ms, device)).expect("encoding a fixed tuple cannot fail");
    msg.extend_from_slice(&encoded);
    msg
}

impl TimeAnchor {
    /// Signs `issued_ms` for `device` with the service's key.
    pub fn issue(service_key: &Ed25519KeyPair, device: DeviceId, issued_ms: i64) -> Self {
        let sig = service_key.sign(&anchor_message(issued_ms, device));
        let signature = Signature(
            sig.as_ref()
                .try_into()
                .expect("Ed25519 signature is 64 bytes"),
        );
        Self {
            issued_ms,
            device,
            signature,
        }
    }

    /// Checks the anchor was signed by `service_key` for `device`.
    pub fn verify(&self, service_key: &PublicKey, device: DeviceId) -> Result<(), RejectReason> {
        if self.device != device {
            return Err(RejectReason::BadAnchor);
        }
        UnparsedPublicKey::new(&ED25519, service_key.as_bytes())
            .verify(
                &anchor_message(self.issued_ms, self.device),
                &self.signature.0,
            )
            .map_err(|_| RejectReason::BadAnchor)
    }
}

/// The anchor a receipt carries, and the device's monotonic reading when the anchor arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRef {
    pub anchor: TimeAnchor,
    pub received: MonoStamp,
}

impl AnchorRef {
    /// The earliest real (service) time at which a receipt stamped `at` can have been made: the
    /// anchor's time, plus the monotonic time elapsed since it arrived when `at` is in the same app
    /// run. (The anchor reached the device after it was issued, so this is a lower bound.)
    pub fn earliest_real_time(&self, at: MonoStamp) -> i64 {
        if at.run == self.received.run && at.elapsed_ms >= self.received.elapsed_ms {
            let since = i64::try_from(at.elapsed_ms - self.received.elapsed_ms).unwrap_or(i64::MAX);
            self.anchor.issued_ms.saturating_add(since)
        } else {
            self.anchor.issued_ms
        }
    }
}
