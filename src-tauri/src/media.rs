//! Cached media (video, audio, images) to the web view through the `hearth-media` URI scheme:
//! `hearth-media://localhost/<sha256 hex>` (on Windows `http://hearth-media.localhost/<sha256>`).
//! Every request goes through hearth-core's `media_path`, which serves only files an installed
//! course uses and checks their bytes against their hash first. Range requests are answered
//! with 206, so players seek offline.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use hearth_protocol::ContentHash;
use tauri::http::{Request, Response, StatusCode, header};
use tauri::{Manager, Runtime, UriSchemeContext, UriSchemeResponder};

use crate::HearthState;

/// The scheme name; the CSP allows it for images and media.
pub const SCHEME: &str = "hearth-media";
/// The most bytes one answer carries; an open-ended range gets this much and the player asks
/// for the rest.
pub const MAX_CHUNK: u64 = 4 * 1024 * 1024;

/// What a `Range` header asks for, against a file of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAsk {
    /// No usable range: the whole file (200).
    Whole,
    /// Bytes `start..=end` (206).
    Part { start: u64, end: u64 },
    /// Outside the file (416).
    Unsatisfiable,
}

/// Parses a `Range` header (`bytes=a-b`, `bytes=a-`, `bytes=-n`). Several ranges, other units or
/// malformed values are ignored (the whole file is sent), as RFC 9110 allows.
pub fn parse_range(header: Option<&str>, len: u64) -> RangeAsk {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAsk::Whole;
    };
    if spec.contains(',') {
        return RangeAsk::Whole;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return RangeAsk::Whole;
    };
    let (a, b) = (a.trim(), b.trim());
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    match (a.is_empty(), num(a), num(b)) {
        // bytes=-n: the last n bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                RangeAsk::Unsatisfiable
            } else {
                RangeAsk::Part {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if b.is_empty() || end.is_some() => {
            if start >= len {
                return RangeAsk::Unsatisfiable;
            }
            match end {
                Some(end) if end < start => RangeAsk::Whole,
                Some(end) => RangeAsk::Part {
                    start,
                    end: end.min(len - 1),
                },
                None => RangeAsk::Part {
                    start,
                    end: len - 1,
                },
            }
        }
        _ => RangeAsk::Whole,
    }
}

/// The content type from the file's first bytes (the cache is content-addressed, without names).
pub fn sniff(head: &[u8]) -> &'static str {
    let at = |i: usize, s: &[u8]| head.get(i..i + s.len()) == Some(s);
    if at(0, b"\x89PNG") {
        "image/png"
    } else if at(0, b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if at(0, b"GIF8") {
        "image/gif"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(4, b"ftypM4A") {
        "audio/mp4"
    } else if at(4, b"ftyp") {
        "video/mp4"
    } else if at(0, b"\x1A\x45\xDF\xA3") {
        "video/webm"
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"ID3") || (head.len() > 1 && head[0] == 0xFF && head[1] & 0xE0 == 0xE0) {
        "audio/mpeg"
    } else {
        "application/octet-stream"
    }
}

fn plain(status: StatusCode) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(status.canonical_reason().unwrap_or("").as_bytes().to_vec())
        .expect("a static response")
}

/// Answers one request for cached media.
pub fn serve(state: &HearthState, request: &Request<Vec<u8>>) -> Response<Vec<u8>> {
    let name = request.uri().path().trim_start_matches('/');
    let Ok(sha) = name.parse::<ContentHash>() else {
        return plain(StatusCode::NOT_FOUND);
    };
    let path = match state.with(|h| h.media_path(&sha)) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(code = e.code(), sha = name, "media not served");
            return plain(StatusCode::NOT_FOUND);
        }
    };
    let range = request
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok());
    match read_answer(&path, range) {
        Ok(r) => {
            tracing::info!(
                sha = name,
                range,
                status = r.status().as_u16(),
                "media served"
            );
            r
        }
        Err(e) => {
            tracing::warn!(error = %e, sha = name, "reading media failed");
            plain(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

fn read_answer(path: &Path, range: Option<&str>) -> std::io::Result<Response<Vec<u8>>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 16];
    let n = file.read(&mut head)?;
    let kind = sniff(&head[..n]);
    let base = Response::builder()
        .header(header::CONTENT_TYPE, kind)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CACHE_CONTROL, "no-store");
    let (status, start, end) = match parse_range(range, len) {
        RangeAsk::Unsatisfiable => {
            return Ok(base
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{len}"))
                .body(Vec::new())
                .expect("valid headers"));
        }
        RangeAsk::Whole if len <= MAX_CHUNK => (StatusCode::OK, 0, len.saturating_sub(1)),
        RangeAsk::Whole => (StatusCode::PARTIAL_CONTENT, 0, MAX_CHUNK - 1),
        RangeAsk::Part { start, end } => (
            StatusCode::PARTIAL_CONTENT,
            start,
            end.min(start + MAX_CHUNK - 1),
        ),
    };
    let count = if len == 0 { 0 } else { end - start + 1 };
    let mut body = vec![0u8; usize::try_from(count).unwrap_or(0)];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut body)?;
    let mut builder = base
        .status(status)
        .header(header::CONTENT_LENGTH, count.to_string());
    if status == StatusCode::PARTIAL_CONTENT {
        builder = builder.header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"));
    }
    Ok(builder.body(body).expect("valid headers"))
}

/// The scheme's handler: the file is hashed and read off the main thread.
pub fn handle<R: Runtime>(
    ctx: UriSchemeContext<'_, R>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let app = ctx.app_handle().clone();
    tauri::async_runtime::spawn_blocking(move || {
        let state = app.state::<HearthState>();
        responder.respond(serve(&state, &request));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeAsk::*;
        let cases: &[(Option<&str>, u64, RangeAsk)] = &[
            (None, 100, Whole),
            (Some("bytes=0-"), 100, Part { start: 0, end: 99 }),
            (Some("bytes=0-0"), 100, Part { start: 0, end: 0 }),
            (Some("bytes=10-19"), 100, Part { start: 10, end: 19 }),
            (Some("bytes=90-200"), 100, Part { start: 90, end: 99 }),
            (Some("bytes=-10"), 100, Part { start: 90, end: 99 }),
            (Some("bytes=-500"), 100, Part { start: 0, end: 99 }),
            (Some(" bytes=5-6 "), 100, Part { start: 5, end: 6 }),
            (Some("bytes=100-"), 100, Unsatisfiable),
            (Some("bytes=150-160"), 100, Unsatisfiable),
            (Some("bytes=-0"), 100, Unsatisfiable),
            (Some("bytes=0-"), 0, Unsatisfiable),
            (Some("bytes=20-10"), 100, Whole),
            (Some("bytes=0-1,5-6"), 100, Whole),
            (Some("items=0-1"), 100, Whole),
            (Some("bytes=a-b"), 100, Whole),
            (Some("bytes=-"), 100, Whole),
            (Some("bytes=+1-2"), 100, Whole),
            (Some("bytes=1"), 100, Whole),
            (Some("bytes=18446744073709551616-"), 100, Whole),
        ];
        for (i, (h, len, want)) in cases.iter().enumerate() {
            assert_eq!(parse_range(*h, *len), *want, "case {i}: {h:?} of {len}");
        }
    }

    #[test]
    fn answers_carry_the_right_bytes_and_headers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        std::fs::write(&path, &bytes).unwrap();

        let whole = read_answer(&path, None).unwrap();
        assert_eq!(whole.status(), StatusCode::OK);
        assert_eq!(whole.body(), &bytes);
        assert_eq!(whole.headers()[header::ACCEPT_RANGES], "bytes");

        let part = read_answer(&path, Some("bytes=100-199")).unwrap();
        assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(part.body(), &bytes[100..200]);
        assert_eq!(part.headers()[header::CONTENT_RANGE], "bytes 100-199/1000");
        assert_eq!(part.headers()[header::CONTENT_LENGTH], "100");

        let tail = read_answer(&path, Some("bytes=-1")).unwrap();
        assert_eq!(tail.body(), &bytes[999..]);

        let bad = read_answer(&path, Some("bytes=1000-")).unwrap();
        assert_eq!(bad.status(), StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(bad.headers()[header::CONTENT_RANGE], "bytes */1000");
    }

    #[test]
    fn content_types_by_magic() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), "image/png");
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), "video/mp4");
        assert_eq!(sniff(b"ID3\x04\0"), "audio/mpeg");
        assert_eq!(sniff(b"\xFF\xFB\x90"), "audio/mpeg");
        assert_eq!(sniff(b"hello"), "application/octet-stream");
    }
}
