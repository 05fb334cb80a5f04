//! The webcam in the GUI tests: the app started with [`FAKE_CAMERA_ENV`]`=1` gets WebKitGTK's
//! synthetic camera, and these helpers run the UI's own `capturePhoto()` (ui/src/lib/camera.ts)
//! in the real window through WebDriver's execute-async.
//!
//! Start the driver with [`FAKE_CAMERA`] in its environment
//! (`Driver::start_with_env(dir, log, &[FAKE_CAMERA])`). WebKit grants the synthetic camera
//! (and any camera under WebDriver) without asking the shell, so a test captures whether or not
//! the shell's photo flow armed its camera gate; the gate's decisions are unit-tested in
//! src-tauri/src/camera.rs.

use anyhow::{Context, Result, anyhow};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::webdriver::Session;

/// The app's switch for the synthetic camera (src-tauri/src/camera.rs).
pub const FAKE_CAMERA_ENV: &str = "HEARTH_FAKE_CAMERA";
/// The environment entry that switches it on.
pub const FAKE_CAMERA: (&str, &str) = (FAKE_CAMERA_ENV, "1");

/// What a capture in the window gave: the JPEG, or the UI's error code, and whether every track
/// of the stream it opened had ended when it answered.
#[derive(Debug)]
pub struct Capture {
    pub result: std::result::Result<Vec<u8>, String>,
    /// `None` when no stream was opened (refused before), else whether all its tracks ended.
    pub tracks_ended: Option<bool>,
}

/// Runs `capturePhoto()` in the window, watching the stream it opens (to tell whether it stopped
/// the camera's tracks before answering).
pub async fn capture_photo(session: &Session) -> Result<Capture> {
    let v = session
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const media = navigator.mediaDevices;
             const original = media.getUserMedia;
             let opened = null;
             media.getUserMedia = async function (constraints) {
               const stream = await original.call(media, constraints);
               opened = stream;
               return stream;
             };
             const ended = () => opened === null ? null
               : opened.getTracks().every((t) => t.readyState === 'ended');
             const restore = () => { media.getUserMedia = original; };
             window.__hearthCamera.capturePhoto().then(
               (bytes) => {
                 restore();
                 let s = '';
                 for (let i = 0; i < bytes.length; i += 0x8000) {
                   s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
                 }
                 done({ jpeg: btoa(s), ended: ended() });
               },
               (e) => { restore(); done({ code: (e && e.code) || String(e), message: String(e && e.message), ended: ended() }); });",
            json!([]),
        )
        .await
        .context("running capturePhoto() in the window")?;
    let tracks_ended = v.get("ended").and_then(Value::as_bool);
    let result = match (
        v.get("jpeg").and_then(Value::as_str),
        v.get("code").and_then(Value::as_str),
    ) {
        (Some(b64), _) => Ok(base64::engine::general_purpose::STANDARD
            .decode(b64)
            .context("capturePhoto's bytes")?),
        (None, Some(code)) => {
            let message = v.get("message").and_then(Value::as_str).unwrap_or("");
            eprintln!("capturePhoto failed: {code}: {message}");
            Err(code.to_owned())
        }
        _ => {
            return Err(anyhow!(
                "capturePhoto answered neither bytes nor a code: {v}"
            ));
        }
    };
    Ok(Capture {
        result,
        tracks_ended,
    })
}

/// The width and height in a baseline or progressive JPEG's frame header (SOF0–SOF15, except
/// DHT, JPG and DAC), or `None` when `jpeg` is not a whole JPEG (SOI … EOI).
pub fn jpeg_size(jpeg: &[u8]) -> Option<(u32, u32)> {
    if jpeg.len() < 4 || jpeg[..2] != [0xff, 0xd8] || jpeg[jpeg.len() - 2..] != [0xff, 0xd9] {
        return None;
    }
    let mut i = 2;
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xff {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xff {
            i += 1; // fill byte
            continue;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]));
        let is_sof = (0xc0..=0xcf).contains(&marker) && ![0xc4, 0xc8, 0xcc].contains(&marker);
        if is_sof {
            let h = jpeg.get(i + 5..i + 7)?;
            let w = jpeg.get(i + 7..i + 9)?;
            return Some((
                u32::from(u16::from_be_bytes([w[0], w[1]])),
                u32::from(u16::from_be_bytes([h[0], h[1]])),
            ));
        }
        if marker == 0xda || len < 2 {
            return None; // scan data before any frame header
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::jpeg_size;

    /// A minimal JPEG's markers: SOI, APP0 (JFIF), SOF0 for 640×480, EOI (no image data; the
    /// parser reads headers only).
    fn headers(sof: u8, width: u16, height: u16) -> Vec<u8> {
        let mut j = vec![0xff, 0xd8];
        j.extend([0xff, 0xe0, 0x00, 0x10]);
        j.extend(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        j.extend([0xff, sof, 0x00, 0x11, 0x08]);
        j.extend(height.to_be_bytes());
        j.extend(width.to_be_bytes());
        j.extend([0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        j.extend([0xff, 0xd9]);
        j
    }

    #[test]
    fn reads_the_frame_size() {
        assert_eq!(jpeg_size(&headers(0xc0, 640, 480)), Some((640, 480)));
        assert_eq!(jpeg_size(&headers(0xc2, 320, 240)), Some((320, 240)));
    }

    #[test]
    fn refuses_what_is_not_a_whole_jpeg() {
        let whole = headers(0xc0, 640, 480);
        assert_eq!(jpeg_size(&whole[..whole.len() - 2]), None);
        assert_eq!(jpeg_size(b"\x89PNG\r\n\x1a\n0000"), None);
        // A DHT segment is not a frame header.
        assert_eq!(jpeg_size(&headers(0xc4, 640, 480)), None);
    }
}
