//! Where course content comes from: the service over HTTP ([`super::http::HttpSource`]), or an
//! in-memory source in tests ([`super::memory::MemorySource`]).

use std::fmt;
use std::future::Future;
use std::ops::Deref;

use hearth_protocol::wire::Catalog;
use hearth_protocol::{ContentHash, CourseId};

use crate::error::Result;

/// The answer to a conditional catalog request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogAnswer {
    /// The catalog is unchanged since the ETag sent (HTTP 304, no body).
    NotModified,
    Fresh {
        catalog: Catalog,
        etag: Option<String>,
    },
}

/// The start of a file transfer.
#[derive(Debug)]
pub struct FileStart<B> {
    /// Where the body starts in the file: the offset asked for, or 0 when the source ignored the
    /// range and sends the whole file.
    pub offset: u64,
    pub body: B,
}

/// A piece of a file body. It owns the source's own buffer (an HTTP body's bytes as the client
/// received them), so handing it to the thread that writes and hashes it copies nothing.
pub struct Chunk(Box<dyn AsRef<[u8]> + Send + Sync>);

impl Chunk {
    pub fn new(bytes: impl AsRef<[u8]> + Send + Sync + 'static) -> Self {
        Self(Box::new(bytes))
    }
}

impl Deref for Chunk {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        (*self.0).as_ref()
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chunk({} bytes)", self.len())
    }
}

/// A file body arriving in chunks.
pub trait FileBody: Send {
    /// The next chunk, `None` at the end. An error means the transfer broke off; what arrived
    /// before it is good to keep and resume from.
    fn chunk(&mut self) -> impl Future<Output = Result<Option<Chunk>>> + Send;
}

/// The calls a download makes. Errors are [`crate::CoreError::ContentNetwork`] (worth retrying)
/// or [`crate::CoreError::ContentService`] (the service refused).
pub trait ContentSource: Send + Sync {
    type Body: FileBody;

    /// The catalog; with `etag`, a conditional request.
    fn catalog(&self, etag: Option<&str>) -> impl Future<Output = Result<CatalogAnswer>> + Send;

    /// The signed manifest bytes of one course version, unverified.
    fn manifest(
        &self,
        course: &CourseId,
        version: u32,
    ) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// A package file from byte `offset` on.
    fn file(
        &self,
        sha: &ContentHash,
        offset: u64,
    ) -> impl Future<Output = Result<FileStart<Self::Body>>> + Send;
}
