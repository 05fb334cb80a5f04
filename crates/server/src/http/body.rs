//! Request bodies: size limits on the wire and after decompression, `Content-Encoding` (gzip,
//! zstd), content types, and the JSON and receipt-batch extractors.

use std::io::Read;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use hearth_protocol::wire::{BATCH_CONTENT_TYPE, BUNDLE_CONTENT_TYPE, decode_batch};
use serde::de::DeserializeOwned;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::limits::Limits;
use super::{ApiError, AppState, blocking};
use crate::domain::Principal;
use crate::store::Device;

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

/// Reads the body (at most `wire` bytes, within `Limits::body_timeout`) and undoes its
/// `Content-Encoding` (at most `decoded` bytes out).
pub(super) async fn read_body(
    req: Request,
    limits: &Limits,
    buffered: &Arc<Semaphore>,
    wire: usize,
    decoded: usize,
) -> Result<Vec<u8>, ApiError> {
    let (encoding, raw, _held) = read_wire(req, limits, buffered, wire).await?;
    decode(encoding.as_deref(), raw, decoded)
}

/// Reads the body as sent: at most `wire` bytes, within `Limits::body_timeout`, holding room in
/// the service-wide budget of buffered bytes (`Limits::max_buffered_bytes`) for as long as the
/// returned permit lives.
async fn read_wire(
    req: Request,
    limits: &Limits,
    buffered: &Arc<Semaphore>,
    wire: usize,
) -> Result<(Option<String>, Bytes, OwnedSemaphorePermit), ApiError> {
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
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(wire as u64, |n| n.min(wire as u64));
    let kib = u32::try_from(declared.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let held = buffered.clone().try_acquire_many_owned(kib).map_err(|_| {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.busy",
            "the service is receiving as much as it can hold; try again shortly",
        );
        e.retry_after = Some(1);
        e
    })?;
    let timeout = limits.body_timeout;
    let raw: Bytes = tokio::time::timeout(timeout, axum::body::to_bytes(req.into_body(), wire))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request.timeout",
                format!(
                    "the request body did not arrive within {} s",
                    timeout.as_secs()
                ),
            )
        })?
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
    Ok((encoding, raw, held))
}

/// Waits for a turn to decompress and decode a large body (`Limits::max_decoding_at_once`); the
/// turn is held until the request's work is done.
async fn decoding_turn(state: &AppState) -> Result<OwnedSemaphorePermit, ApiError> {
    state.decoding.clone().acquire_owned().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service.stopping",
            "the service is stopping",
        )
    })
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
        let bytes = read_body(
            req,
            &state.limits,
            &state.buffered,
            state.limits.json,
            state.limits.json,
        )
        .await?;
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
/// `Content-Encoding: zstd`), with the decoding turn it holds until the upload is done.
#[derive(Debug)]
pub struct BatchBody(pub Vec<Vec<u8>>, pub Held);

/// What a large body holds until its request is done: its room in the buffered-bytes budget and
/// its turn to decode.
#[derive(Debug)]
pub struct Held {
    _bytes: OwnedSemaphorePermit,
    _turn: OwnedSemaphorePermit,
}

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
        let (encoding, raw, bytes_held) =
            read_wire(req, &state.limits, &state.buffered, state.limits.batch_wire).await?;
        let turn = Held {
            _bytes: bytes_held,
            _turn: decoding_turn(state).await?,
        };
        let bytes = decode(encoding.as_deref(), raw, state.limits.batch_decoded)?;
        decode_batch(&bytes)
            .map(|b| BatchBody(b, turn))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.code(), e.to_string()))
    }
}

/// A receipt bundle relayed by a kiosk (`Content-Type: application/vnd.hearth.bundle`, usually
/// `Content-Encoding: zstd`), checked for framing by the domain.
#[derive(Debug)]
pub struct BundleBody(pub Vec<u8>, pub Held);

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
        let (encoding, raw, bytes_held) =
            read_wire(req, &state.limits, &state.buffered, state.limits.batch_wire).await?;
        let turn = Held {
            _bytes: bytes_held,
            _turn: decoding_turn(state).await?,
        };
        let bytes = decode(encoding.as_deref(), raw, state.limits.batch_decoded)?;
        Ok(BundleBody(bytes, turn))
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
        let addr = super::guard::peer(&parts.extensions);
        state.guard.may_guess(addr)?;
        let r = blocking(state, move |svc| svc.authenticate(&token)).await;
        if let Err(e) = &r
            && e.status == StatusCode::UNAUTHORIZED
        {
            state.guard.failed_guess(addr, "credential", e.code);
        }
        r.map(Auth)
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
