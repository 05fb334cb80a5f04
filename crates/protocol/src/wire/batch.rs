//! The binary receipt batch of `POST /v1/sync/upload`: envelopes framed one after another, each
//! envelope's `prev` left out when it is the previous entry's id (the decoder puts it back).
//! Normally compressed with zstd by the HTTP layer; the byte layout is in `docs/api.md`.

use ring::digest;

use crate::ids::ReceiptId;
use crate::receipt::{HEADER_LEN, ID_DOMAIN};

/// Media type of a receipt upload batch.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.hearth.receipts";
/// Media type of a receipt bundle (`bundle::encode_bundle`) relayed by a kiosk.
pub const BUNDLE_CONTENT_TYPE: &str = "application/vnd.hearth.bundle";
/// The first four bytes of every batch.
pub const BATCH_MAGIC: &[u8; 4] = b"HRB1";
/// Most receipts in one batch.
pub const MAX_BATCH_RECEIPTS: usize = 5_000;
/// Largest single entry accepted by the decoder. Larger than any valid envelope on purpose, so an
/// oversize envelope reaches verification and gets its own per-receipt reason
/// (`receipt.too_large`) instead of failing the whole batch.
pub const MAX_BATCH_ENTRY: usize = 64 * 1024;

/// Entry tag: the envelope follows as it is.
const TAG_RAW: u8 = 0;
/// Entry tag: the envelope follows with its `prev` field (32 bytes) left out, because it is the
/// id of the previous entry's receipt; the decoder puts it back.
const TAG_PREV_ELIDED: u8 = 1;

/// Why a batch cannot be decoded at all (each receipt in a decodable batch gets its own result).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("the batch does not start with the batch magic")]
    BadMagic,
    #[error("the batch ends in the middle of an entry")]
    Truncated,
    #[error("the batch holds more receipts than allowed")]
    TooManyReceipts,
    #[error("a batch entry is larger than allowed")]
    EntryTooLarge,
    #[error("a batch entry has an unknown tag")]
    BadTag,
    #[error("an elided predecessor cannot be restored")]
    BadElision,
}

impl BatchError {
    pub fn code(&self) -> &'static str {
        match self {
            BatchError::BadMagic => "batch.bad_magic",
            BatchError::Truncated => "batch.truncated",
            BatchError::TooManyReceipts => "batch.too_many_receipts",
            BatchError::EntryTooLarge => "batch.entry_too_large",
            BatchError::BadTag => "batch.bad_tag",
            BatchError::BadElision => "batch.bad_elision",
        }
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn take_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v: u64 = 0;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Offset of the `prev` field inside an envelope, found from the framing alone (the body starts
/// with the device UUID as a length byte 16 and 16 bytes, then `seq` as a varint). `None` when
/// the bytes do not look like that; such an envelope is then sent raw.
fn prev_offset(envelope: &[u8]) -> Option<usize> {
    let body = envelope.get(HEADER_LEN..)?;
    if *body.first()? != 16 {
        return None;
    }
    let mut pos = 17;
    take_varint(body, &mut pos)?;
    let off = HEADER_LEN + pos;
    (envelope.len() >= off + 32).then_some(off)
}

fn id_of_envelope(envelope: &[u8]) -> Option<ReceiptId> {
    let body = envelope.get(HEADER_LEN..)?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(ID_DOMAIN);
    ctx.update(body);
    ReceiptId::from_slice(ctx.finish().as_ref())
}

/// Encodes envelopes (in chain order) as one upload batch:
///
/// ```text
/// batch = "HRB1" || count:varint || entry*
/// entry = tag:u8 || len:varint || bytes
/// ```
///
/// Tag 0 carries the envelope as it is. Tag 1 carries it without the 32 bytes of its `prev`
/// field, because that field equals the id of the previous entry's receipt (the decoder recomputes
/// it and splices it back, so the signed bytes arrive unchanged). This keeps the incompressible
/// part of a receipt to its signature.
pub fn encode_batch<B: AsRef<[u8]>>(envelopes: &[B]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        8 + envelopes
            .iter()
            .map(|e| e.as_ref().len() + 3)
            .sum::<usize>(),
    );
    out.extend_from_slice(BATCH_MAGIC);
    put_varint(&mut out, envelopes.len() as u64);
    let mut prev_id: Option<ReceiptId> = None;
    for env in envelopes {
        let env = env.as_ref();
        let elide = match (prev_id, prev_offset(env)) {
            (Some(p), Some(off)) if env[off..off + 32] == p.0 => Some(off),
            _ => None,
        };
        match elide {
            Some(off) => {
                out.push(TAG_PREV_ELIDED);
                put_varint(&mut out, (env.len() - 32) as u64);
                out.extend_from_slice(&env[..off]);
                out.extend_from_slice(&env[off + 32..]);
            }
            None => {
                out.push(TAG_RAW);
                put_varint(&mut out, env.len() as u64);
                out.extend_from_slice(env);
            }
        }
        prev_id = id_of_envelope(env);
    }
    out
}

/// Decodes an upload batch into the envelopes it carries, restoring elided predecessors. Only
/// the framing is checked here; every envelope is still to be verified.
pub fn decode_batch(buf: &[u8]) -> Result<Vec<Vec<u8>>, BatchError> {
    let rest = buf.strip_prefix(BATCH_MAGIC).ok_or(BatchError::BadMagic)?;
    let mut pos = 0;
    let count = take_varint(rest, &mut pos).ok_or(BatchError::Truncated)?;
    if count > MAX_BATCH_RECEIPTS as u64 {
        return Err(BatchError::TooManyReceipts);
    }
    let mut out: Vec<Vec<u8>> = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let tag = *rest.get(pos).ok_or(BatchError::Truncated)?;
        pos += 1;
        let len = take_varint(rest, &mut pos).ok_or(BatchError::Truncated)?;
        if len > MAX_BATCH_ENTRY as u64 {
            return Err(BatchError::EntryTooLarge);
        }
        let len = len as usize;
        let bytes = rest.get(pos..pos + len).ok_or(BatchError::Truncated)?;
        pos += len;
        match tag {
            TAG_RAW => out.push(bytes.to_vec()),
            TAG_PREV_ELIDED => {
                let prev = out
                    .last()
                    .and_then(|e| id_of_envelope(e))
                    .ok_or(BatchError::BadElision)?;
                // The prefix of the elided form is the same as the full form's up to `prev`.
                let off = prev_offset_prefix(bytes).ok_or(BatchError::BadElision)?;
                let mut env = Vec::with_capacity(len + 32);
                env.extend_from_slice(&bytes[..off]);
                env.extend_from_slice(&prev.0);
                env.extend_from_slice(&bytes[off..]);
                out.push(env);
            }
            _ => return Err(BatchError::BadTag),
        }
    }
    if pos != rest.len() {
        return Err(BatchError::Truncated);
    }
    Ok(out)
}

/// Like [`prev_offset`], for an envelope whose `prev` was cut out (no 32 bytes required after).
fn prev_offset_prefix(elided: &[u8]) -> Option<usize> {
    let body = elided.get(HEADER_LEN..)?;
    if *body.first()? != 16 {
        return None;
    }
    let mut pos = 17;
    take_varint(body, &mut pos)?;
    let off = HEADER_LEN + pos;
    (elided.len() >= off).then_some(off)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_envelope(seq: u8, prev: [u8; 32]) -> Vec<u8> {
        let mut e = vec![1u8];
        e.extend_from_slice(&[seq; 64]);
        e.push(16);
        e.extend_from_slice(&[7; 16]);
        e.push(seq);
        e.extend_from_slice(&prev);
        e.extend_from_slice(b"rest of the body");
        e
    }

    #[test]
    fn batch_round_trip_with_elision() {
        let a = fake_envelope(1, [0; 32]);
        let b = fake_envelope(2, id_of_envelope(&a).unwrap().0);
        let c = fake_envelope(3, [9; 32]); // does not follow b: sent raw
        let d = vec![1, 2, 3]; // not an envelope at all: sent raw
        let all = vec![a, b, c, d, vec![]];
        let enc = encode_batch(&all);
        assert_eq!(decode_batch(&enc).unwrap(), all);
        let raw: usize = all.iter().map(|e| e.len()).sum();
        assert!(enc.len() < raw, "the elided prev saves bytes");
    }

    #[test]
    fn batch_framing_errors() {
        let a = fake_envelope(1, [0; 32]);
        let enc = encode_batch(&[a.clone(), a]);
        for cut in 0..enc.len() {
            assert!(decode_batch(&enc[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad = enc.clone();
        bad[0] = b'X';
        assert_eq!(decode_batch(&bad), Err(BatchError::BadMagic));
        let mut extra = enc.clone();
        extra.push(0);
        assert_eq!(decode_batch(&extra), Err(BatchError::Truncated));
        let mut many = BATCH_MAGIC.to_vec();
        put_varint(&mut many, MAX_BATCH_RECEIPTS as u64 + 1);
        assert_eq!(decode_batch(&many), Err(BatchError::TooManyReceipts));
        // An elided entry with nothing before it.
        let mut lone = BATCH_MAGIC.to_vec();
        lone.extend_from_slice(&[1, TAG_PREV_ELIDED, 3, 0, 0, 0]);
        assert!(decode_batch(&lone).is_err());
    }
}
