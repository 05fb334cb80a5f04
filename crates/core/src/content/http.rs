//! The content source over HTTP: `GET /v1/catalog` (conditional), `GET
//! /v1/courses/{course}/{version}/manifest` and `GET /v1/files/{sha256}` with `Range`, all with
//! the device credential.

use std::time::Duration;

use hearth_protocol::manifest::MAX_MANIFEST_LEN;
use hearth_protocol::wire::Catalog;
use hearth_protocol::{ContentHash, CourseId, ErrorBody};
use reqwest::{StatusCode, header};

use super::source::{CatalogAnswer, Chunk, ContentSource, FileBody, FileStart};
use crate::Enrollment;
use crate::error::{CoreError, Result};

/// The enrolled device's connection to the service's content routes.
#[derive(Clone, Debug)]
pub struct HttpSource {
    client: reqwest::Client,
    base: String,
    credential: String,
}

fn network(e: reqwest::Error) -> CoreError {
    CoreError::ContentNetwork(e.without_url().to_string())
}

/// Turns a refusal into [`CoreError::ContentService`] with the service's own code.
async fn refusal(resp: reqwest::Response) -> CoreError {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    let body = serde_json::from_slice::<ErrorBody>(&body)
        .unwrap_or_else(|_| ErrorBody::new("http.error", format!("the service answered {status}")));
    CoreError::ContentService {
        status,
        code: body.code,
        message: body.message,
    }
}

impl HttpSource {
    pub fn new(enrollment: &Enrollment) -> Result<Self> {
        // Installing the ring provider fails only if one is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            // Dropped before the service's 10 s idle close (see sync/http.rs).
            .pool_idle_timeout(Duration::from_secs(5))
            .user_agent(concat!("hearth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(network)?;
        Ok(Self {
            client,
            base: enrollment.service_url.trim_end_matches('/').to_owned(),
            credential: enrollment.credential.clone(),
        })
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.credential)
    }
}

/// A file body streamed from the response.
#[derive(Debug)]
pub struct HttpBody {
    resp: reqwest::Response,
}

impl FileBody for HttpBody {
    async fn chunk(&mut self) -> Result<Option<Chunk>> {
        // The client's own buffer, not a copy of it: 200 MB of copies is measurable.
        Ok(self.resp.chunk().await.map_err(network)?.map(Chunk::new))
    }
}

/// The first byte position of a `Content-Range: bytes FIRST-LAST/TOTAL` header.
fn content_range_start(resp: &reqwest::Response) -> Option<u64> {
    let v = resp.headers().get(header::CONTENT_RANGE)?.to_str().ok()?;
    let (first, _) = v.strip_prefix("bytes ")?.split_once('-')?;
    first.trim().parse().ok()
}

impl ContentSource for HttpSource {
    type Body = HttpBody;

    async fn catalog(&self, etag: Option<&str>) -> Result<CatalogAnswer> {
        let mut req = self.get("/v1/catalog");
        if let Some(etag) = etag {
            req = req.header(header::IF_NONE_MATCH, etag);
        }
        let resp = req.send().await.map_err(network)?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(CatalogAnswer::NotModified);
        }
        if !resp.status().is_success() {
            return Err(refusal(resp).await);
        }
        let etag = resp
            .headers()
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = resp.bytes().await.map_err(network)?;
        let catalog: Catalog =
            serde_json::from_slice(&bytes).map_err(|e| CoreError::ContentService {
                status: 200,
                code: "catalog.malformed".into(),
                message: e.to_string(),
            })?;
        Ok(CatalogAnswer::Fresh { catalog, etag })
    }

    async fn manifest(&self, course: &CourseId, version: u32) -> Result<Vec<u8>> {
        let mut resp = self
            .get(&format!("/v1/courses/{course}/{version}/manifest"))
            .send()
            .await
            .map_err(network)?;
        if !resp.status().is_success() {
            return Err(refusal(resp).await);
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            out.extend_from_slice(&chunk);
            if out.len() > MAX_MANIFEST_LEN {
                return Err(hearth_protocol::manifest::ManifestError::TooLarge.into());
            }
        }
        Ok(out)
    }

    async fn file(&self, sha: &ContentHash, offset: u64) -> Result<FileStart<HttpBody>> {
        let mut req = self.get(&format!("/v1/files/{}", sha.to_hex()));
        if offset > 0 {
            req = req.header(header::RANGE, format!("bytes={offset}-"));
        }
        let resp = req.send().await.map_err(network)?;
        let start = match resp.status() {
            StatusCode::OK => 0,
            StatusCode::PARTIAL_CONTENT => {
                content_range_start(&resp).ok_or_else(|| CoreError::ContentService {
                    status: 206,
                    code: "range.malformed".into(),
                    message: "a partial answer without a usable Content-Range".into(),
                })?
            }
            _ => return Err(refusal(resp).await),
        };
        Ok(FileStart {
            offset: start,
            body: HttpBody { resp },
        })
    }
}
