//! Request bodies: size limits on the wire and after decompression, `Content-Encoding` (gzip,
//! zstd), content types, and the JSON and receipt-batch extractors.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use hearth_protocol::wire::{BATCH_CONTENT_TYPE, BUNDLE_CONTENT_TYPE, decode_batch};
use serde::de::DeserializeOwned;

use super::{ApiError, AppState, blocking};
use crate::domain::Principal;
use crate::store::Device;

/// Body size limits. A compressed body is limited both as sent and as decompressed, and the
/// decompressor stops at the second limit, so a small bomb cannot make the service allocate more.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// JSON bodies, as sent and decompressed.
    pub json: usize,
    /// Receipt batches as sent (usually compressed).
    pub batch_wire: usize,
    /// Receipt batches after decompression.
    pub batch_decoded: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            json: 64 * 1024,
            batch_wire: 4 * 1024 * 1024,
            batch_decoded: 8 * 1024 * 1024,
        }
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request.too_large",
        format!("the request body is larger than {limit} bytes"),
    )
}

fn content_type_is(headers: &HeaderMap, want: &str) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(want))
}

/// Reads the body (at most `wire` bytes) and undoes its `Content-Encoding` (at most `decoded`
/// bytes out).
async fn read_body(req: Request, wire: usize, decoded: usize) -> Result<Vec<u8>, ApiError> {
    let encoding = req
        .headers()
        .get(header::CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase());
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > wire as u64
    {
        return Err(too_large(wire));
    }
    let raw: Bytes = axum::body::to_bytes(req.into_body(), wire)
        .await
        .map_err(|e| {
            // The only error besides the limit is a connection that broke mid-body.
            if e.into_inner().is::<http_body_util::LengthLimitError>() {
                too_large(wire)
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "request.body_unreadable",
                    "the request body could not be read",
                )
            }
        })?;
    decode(encoding.as_deref(), raw, decoded)
}

fn decode(encoding: Option<&str>, raw: Bytes, max: usize) -> Result<Vec<u8>, ApiError> {
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.bad_encoding",
            "the compressed request body is truncated or corrupt",
        )
    };
    let mut out = Vec::new();
    let read = match encoding {
        None | Some("identity") => {
            if raw.len() > max {
                return Err(too_large(max));
            }
            return Ok(raw.to_vec());
        }
        Some("gzip") => flate2::read::GzDecoder::new(&raw[..])
            .take(max as u64 + 1)
            .read_to_end(&mut out),
        Some("zstd") => match zstd::stream::read::Decoder::new(&raw[..]) {
            Ok(d) => d.take(max as u64 + 1).read_to_end(&mut out),
            Err(_) => return Err(bad()),
        },
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_encoding",
                "Content-Encoding must be gzip, zstd or identity",
            ));
        }
    };
    if out.len() > max {
        return Err(too_large(max));
    }
    read.map_err(|_| bad())?;
    Ok(out)
}

/// A JSON body (`Content-Type: application/json`, optionally gzip or zstd encoded).
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), "application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                "the body must be application/json",
            ));
        }
        let bytes = read_body(req, state.limits.json, state.limits.json).await?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "request.malformed_json",
                format!(
                    "the body is not a valid request: {}",
                    // serde_json's message names the field and position, never internal state.
                    e
                ),
            )
        })
    }
}

/// A receipt upload batch (`Content-Type: application/vnd.hearth.receipts`, usually
/// `Content-Encoding: zstd`).
#[derive(Debug)]
pub struct BatchBody(pub Vec<Vec<u8>>);

impl FromRequest<AppState> for BatchBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), BATCH_CONTENT_TYPE) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                format!("the body must be {BATCH_CONTENT_TYPE}"),
            ));
        }
        let bytes = read_body(req, state.limits.batch_wire, state.limits.batch_decoded).await?;
        decode_batch(&bytes)
            .map(BatchBody)
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))
    }
}

/// A receipt bundle relayed by a kiosk (`Content-Type: application/vnd.hearth.bundle`, usually
/// `Content-Encoding: zstd`), checked for framing by the domain.
#[derive(Debug)]
pub struct BundleBody(pub Vec<u8>);

impl FromRequest<AppState> for BundleBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if !content_type_is(req.headers(), BUNDLE_CONTENT_TYPE) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request.unsupported_media_type",
                format!("the body must be {BUNDLE_CONTENT_TYPE}"),
            ));
        }
        Ok(BundleBody(
            read_body(req, state.limits.batch_wire, state.limits.batch_decoded).await?,
        ))
    }
}

fn bearer(parts: &Parts) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "auth.missing_credential",
            "send a credential as Authorization: Bearer <token>",
        )
    };
    let v = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .ok_or_else(missing)?;
    Ok(token.trim().to_string())
}

/// Any authenticated caller.
#[derive(Debug)]
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        blocking(state, move |svc| svc.authenticate(&token))
            .await
            .map(Auth)
    }
}

/// A caller authenticated as an enrolled device.
#[derive(Debug)]
pub struct DeviceAuth(pub Device);

impl FromRequestParts<AppState> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match Auth::from_request_parts(parts, state).await?.0 {
            Principal::Device(d) => Ok(DeviceAuth(d)),
            Principal::User(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "auth.forbidden",
                "this call needs a device credential",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn decoding_limits_and_truncation() {
        let data = vec![b'a'; 100_000];
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 3).unwrap();
        for (enc, c) in [("gzip", &gz), ("zstd", &zs)] {
            assert_eq!(
                decode(Some(enc), Bytes::from(c.clone()), 200_000).unwrap(),
                data
            );
            let e = decode(Some(enc), Bytes::from(c.clone()), 50_000).unwrap_err();
            assert_eq!(e.code, "request.too_large", "{enc} bomb");
            let e = decode(Some(enc), Bytes::from(c[..c.len() - 4].to_vec()), 200_000).unwrap_err();
            assert_eq!(e.code, "request.bad_encoding", "{enc} truncated");
            let e = decode(Some(enc), Bytes::from(c[..c.len() / 2].to_vec()), 200_000).unwrap_err();
            assert_eq!(e.code, "request.bad_encoding", "{enc} cut in half");
        }
        assert_eq!(
            decode(Some("br"), Bytes::new(), 10).unwrap_err().code,
            "request.unsupported_encoding"
        );
    }
}
