//! Error codes shared by every boundary.

use serde::{Deserialize, Serialize};

/// The one error body of every boundary: HTTP answers and Tauri command errors alike. `code` is
/// stable (scripts and the UI branch on it); `message` is for people and never carries internal
/// error text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// Why a single receipt envelope is refused, independent of any chain state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("the receipt is shorter than its header")]
    Truncated,
    #[error("receipt format version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the receipt is larger than any valid receipt")]
    TooLarge,
    #[error("the signature does not match the receipt and the device key")]
    BadSignature,
    #[error("the receipt body cannot be decoded or is not in its canonical form")]
    Malformed,
    #[error("the receipt names a different device than the key that signed it")]
    WrongDevice,
    #[error("sequence numbers start at 1")]
    BadSequence,
    #[error("only the first receipt has no predecessor, and it must have none")]
    BadGenesis,
    #[error("invalid event: {0}")]
    InvalidEvent(&'static str),
    #[error("the time anchor was not signed by the service for this device")]
    BadAnchor,
}

impl RejectReason {
    /// Stable code for boundaries and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            RejectReason::Truncated => "receipt.truncated",
            RejectReason::UnsupportedVersion(_) => "receipt.unsupported_version",
            RejectReason::TooLarge => "receipt.too_large",
            RejectReason::BadSignature => "receipt.bad_signature",
            RejectReason::Malformed => "receipt.malformed",
            RejectReason::WrongDevice => "receipt.wrong_device",
            RejectReason::BadSequence => "receipt.bad_sequence",
            RejectReason::BadGenesis => "receipt.bad_genesis",
            RejectReason::InvalidEvent(_) => "receipt.invalid_event",
            RejectReason::BadAnchor => "receipt.bad_anchor",
        }
    }

    /// Every reason, for documentation and exhaustive tests.
    pub const ALL_CODES: [&'static str; 10] = [
        "receipt.truncated",
        "receipt.unsupported_version",
        "receipt.too_large",
        "receipt.bad_signature",
        "receipt.malformed",
        "receipt.wrong_device",
        "receipt.bad_sequence",
        "receipt.bad_genesis",
        "receipt.invalid_event",
        "receipt.bad_anchor",
    ];
}
