//! Photo checkpoints in the window (issue #17 item 2, docs/privacy.md): the consent screen's
//! status and answer, whether a random photo is due, and handing core a webcam JPEG. Each a few
//! lines over `hearth_core::photos`; the camera itself is the UI's (`getUserMedia`), and the
//! JPEG comes as base64 because the IPC carries JSON.

use hearth_core::RecordedReceipt;
use hearth_core::photos::PhotoStatus;
use hearth_protocol::PhotoMoment;
use tauri::State;

use crate::{CommandError, HearthState};

/// Photo checkpoints for the person at the keyboard: on or off, their consent, whether to show
/// the consent screen now, and its text.
#[tauri::command]
pub fn photo_status(hearth: State<'_, HearthState>) -> Result<PhotoStatus, CommandError> {
    hearth.with(|h| h.photo_status())
}

/// Records the answer to the consent screen, or a change in Settings (a signed receipt).
#[tauri::command]
pub fn record_photo_consent(
    hearth: State<'_, HearthState>,
    granted: bool,
) -> Result<RecordedReceipt, CommandError> {
    hearth.with(|h| h.record_photo_consent(granted))
}

/// Whether a photo at a random moment is due now (photos on and consented).
#[tauri::command]
pub fn photo_due(hearth: State<'_, HearthState>) -> Result<bool, CommandError> {
    hearth.with(|h| h.photo_due())
}

/// Arms the camera for one capture when core says a photo is wanted now: at sign-in, when photos
/// are on and the learner consented; at a random moment, when one is due. Answers whether it
/// did; the window may open the camera only after a `true` (src-tauri/src/camera.rs).
#[tauri::command]
pub fn prepare_photo(
    hearth: State<'_, HearthState>,
    gate: State<'_, crate::camera::CameraGate>,
    moment: PhotoMoment,
) -> Result<bool, CommandError> {
    let wanted = hearth.with(|h| match moment {
        PhotoMoment::SignIn => Ok(h.photo_status()?.active),
        PhotoMoment::Random => h.photo_due(),
    })?;
    if wanted {
        gate.arm();
    }
    Ok(wanted)
}

/// Seals the webcam JPEG (base64) to the service's key, keeps it, and records its hash.
#[tauri::command]
pub fn take_photo(
    hearth: State<'_, HearthState>,
    jpeg_base64: String,
    moment: PhotoMoment,
) -> Result<RecordedReceipt, CommandError> {
    let jpeg = decode_base64(&jpeg_base64)
        .ok_or_else(|| CommandError::new("photo.not_jpeg", "the photo is not base64 data"))?;
    hearth.with(|h| h.take_photo(&jpeg, moment))
}

/// Standard base64 (with or without padding, or a `data:` URL), without another dependency.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s
        .rsplit_once(',')
        .map_or(s, |(_, b)| b)
        .trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn base64_and_data_urls_decode() {
        assert_eq!(decode_base64("/9j/2Q==").unwrap(), [0xff, 0xd8, 0xff, 0xd9]);
        assert_eq!(
            decode_base64("data:image/jpeg;base64,/9j/2Q").unwrap(),
            [0xff, 0xd8, 0xff, 0xd9]
        );
        assert!(decode_base64("not*base64").is_none());
    }
}
