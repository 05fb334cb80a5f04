//! Receipt bundles: receipts carried on a USB stick or relayed by a kiosk, from one or more
//! devices, as one file.
//!
//! ```text
//! bundle  = "HRX1" || sections:varint || section*
//! section = device:[u8; 16] || batch_len:varint || batch
//! batch   = an upload batch (see `wire::encode_batch`): the device's envelopes in chain order
//! ```
//!
//! The device id in a section header only says which enrolled key to verify the section with;
//! it is not trusted: every envelope still names its device inside the signed body, and
//! verification fails unless that matches the key. A carrier can therefore drop or reorder whole
//! receipts (which the chain rules detect) but cannot alter or invent any.

use crate::ids::DeviceId;
use crate::wire::batch::{put_varint, take_varint};
use crate::wire::{self, BatchError};

pub const BUNDLE_MAGIC: &[u8; 4] = b"HRX1";
/// Most device sections in one bundle (a classroom has at most a few dozen kiosks).
pub const MAX_SECTIONS: usize = 1_000;
/// Largest bundle accepted, compressed or not.
pub const MAX_BUNDLE_BYTES: usize = 256 * 1024 * 1024;
/// Most receipts in one bundle, over all its sections, as [`decode_bundle`] accepts them.
///
/// Each decoded receipt costs its bytes plus about 56 bytes of bookkeeping (a `Vec` header and
/// the allocator's smallest block), so a bundle of tiny entries could otherwise make the decoder
/// allocate some 20 times its own size: 1,000 sections of 5,000 one-byte entries is 15 MB of
/// input and over 250 MB decoded. The count is checked from each section's header before that
/// section is decoded. A classroom of 40 kiosks relaying a week of study stays well below it;
/// an import from a USB stick by the service's administrator may allow more
/// ([`decode_bundle_with`]).
pub const MAX_BUNDLE_RECEIPTS: usize = 100_000;

/// One device's receipts in a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub device: DeviceId,
    pub envelopes: Vec<Vec<u8>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a Hearth receipt bundle")]
    BadMagic,
    #[error("the bundle is cut off")]
    Truncated,
    #[error("the bundle is larger than allowed")]
    TooLarge,
    #[error("the bundle has too many device sections")]
    TooManySections,
    #[error("the bundle holds more receipts than allowed")]
    TooManyReceipts,
    #[error("a section's receipts cannot be read: {0}")]
    Batch(BatchError),
}

impl BundleError {
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::BadMagic => "bundle.bad_magic",
            BundleError::Truncated => "bundle.truncated",
            BundleError::TooLarge => "bundle.too_large",
            BundleError::TooManySections => "bundle.too_many_sections",
            BundleError::TooManyReceipts => "bundle.too_many_receipts",
            BundleError::Batch(e) => e.code(),
        }
    }
}

/// Encodes sections into one bundle.
pub fn encode_bundle(sections: &[Section]) -> Vec<u8> {
    let mut out = BUNDLE_MAGIC.to_vec();
    put_varint(&mut out, sections.len() as u64);
    for s in sections {
        out.extend_from_slice(s.device.0.as_bytes());
        let batch = wire::encode_batch(&s.envelopes);
        put_varint(&mut out, batch.len() as u64);
        out.extend_from_slice(&batch);
    }
    out
}

/// Decodes a bundle's framing; every envelope is still to be verified. At most
/// [`MAX_BUNDLE_RECEIPTS`] receipts over all sections.
pub fn decode_bundle(buf: &[u8]) -> Result<Vec<Section>, BundleError> {
    decode_bundle_with(buf, MAX_BUNDLE_RECEIPTS)
}

/// [`decode_bundle`] with another bound on the receipts of all sections together. Every count
/// and length is checked against the bounds and the bytes present before anything is allocated
/// for it.
pub fn decode_bundle_with(buf: &[u8], max_receipts: usize) -> Result<Vec<Section>, BundleError> {
    if buf.len() > MAX_BUNDLE_BYTES {
        return Err(BundleError::TooLarge);
    }
    let rest = buf
        .strip_prefix(BUNDLE_MAGIC)
        .ok_or(BundleError::BadMagic)?;
    let mut pos = 0;
    let count = take_varint(rest, &mut pos).ok_or(BundleError::Truncated)?;
    if count > MAX_SECTIONS as u64 {
        return Err(BundleError::TooManySections);
    }
    // A section takes at least 18 bytes (id and an empty length), so a count the bytes cannot
    // hold is not allocated for.
    let mut sections = Vec::with_capacity((count as usize).min(rest.len() / 18));
    let mut receipts: u64 = 0;
    for _ in 0..count {
        let id: [u8; 16] = rest
            .get(pos..pos + 16)
            .ok_or(BundleError::Truncated)?
            .try_into()
            .expect("16 bytes");
        pos += 16;
        let len = take_varint(rest, &mut pos).ok_or(BundleError::Truncated)?;
        let len = usize::try_from(len).map_err(|_| BundleError::TooLarge)?;
        let end = pos.checked_add(len).ok_or(BundleError::TooLarge)?;
        let batch = rest.get(pos..end).ok_or(BundleError::Truncated)?;
        pos = end;
        // The section's receipt count, read from its batch header before the batch is decoded.
        let mut at = wire::BATCH_MAGIC.len();
        if let Some(n) = batch
            .starts_with(wire::BATCH_MAGIC)
            .then(|| take_varint(batch, &mut at))
            .flatten()
        {
            receipts = receipts.saturating_add(n);
            if receipts > max_receipts as u64 {
                return Err(BundleError::TooManyReceipts);
            }
        }
        let envelopes = wire::decode_batch(batch).map_err(BundleError::Batch)?;
        sections.push(Section {
            device: DeviceId(uuid::Uuid::from_bytes(id)),
            envelopes,
        });
    }
    if pos != rest.len() {
        return Err(BundleError::Truncated);
    }
    Ok(sections)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_every_cut_is_refused() {
        let sections = vec![
            Section {
                device: DeviceId::from_random_bytes([1; 16]),
                envelopes: vec![vec![1, 2, 3], vec![4; 70]],
            },
            Section {
                device: DeviceId::from_random_bytes([2; 16]),
                envelopes: vec![],
            },
        ];
        let bytes = encode_bundle(&sections);
        assert_eq!(decode_bundle(&bytes).unwrap(), sections);
        for cut in 0..bytes.len() {
            assert!(
                decode_bundle(&bytes[..cut]).is_err(),
                "cut at {cut} must be refused"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode_bundle(&extra), Err(BundleError::Truncated));
        assert_eq!(decode_bundle(b"HRB1\x00"), Err(BundleError::BadMagic));
        let mut many = BUNDLE_MAGIC.to_vec();
        put_varint(&mut many, MAX_SECTIONS as u64 + 1);
        assert_eq!(decode_bundle(&many), Err(BundleError::TooManySections));
        // A length that points past the end, and one that overflows.
        let mut huge = BUNDLE_MAGIC.to_vec();
        put_varint(&mut huge, 1);
        huge.extend_from_slice(&[0; 16]);
        put_varint(&mut huge, u64::MAX);
        assert!(decode_bundle(&huge).is_err());
    }

    #[test]
    fn receipts_over_all_sections_are_bounded_before_decoding() {
        // Many sections of many one-byte entries: the shape that once cost 20 times its size.
        let section = |i: u8| Section {
            device: DeviceId::from_random_bytes([i; 16]),
            envelopes: vec![vec![7]; wire::MAX_BATCH_RECEIPTS],
        };
        let n = MAX_BUNDLE_RECEIPTS / wire::MAX_BATCH_RECEIPTS;
        let fits: Vec<Section> = (0..n as u8).map(section).collect();
        let bytes = encode_bundle(&fits);
        assert_eq!(decode_bundle(&bytes).unwrap().len(), n);
        let mut over = fits.clone();
        over.push(section(255));
        assert_eq!(
            decode_bundle(&encode_bundle(&over)),
            Err(BundleError::TooManyReceipts)
        );
        assert_eq!(
            decode_bundle_with(&bytes, 10).unwrap_err().code(),
            "bundle.too_many_receipts"
        );
        // A section count the bytes cannot hold is refused without allocating for it.
        let mut lying = BUNDLE_MAGIC.to_vec();
        put_varint(&mut lying, MAX_SECTIONS as u64);
        assert_eq!(decode_bundle(&lying), Err(BundleError::Truncated));
    }
}
