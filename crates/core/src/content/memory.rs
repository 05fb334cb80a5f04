//! An in-memory content source for tests: packages held in memory, with counters and injectable
//! faults (a transfer that breaks off after a number of bytes, a source that ignores ranges).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use hearth_protocol::wire::Catalog;
use hearth_protocol::{ContentHash, CourseId};

use super::source::{CatalogAnswer, Chunk, ContentSource, FileBody, FileStart};
use crate::error::{CoreError, Result};

/// Bytes per chunk a [`MemorySource`] body yields.
pub const MEMORY_CHUNK: usize = 16 * 1024;

#[derive(Debug, Default)]
struct State {
    catalog: Option<(Catalog, String)>,
    manifests: HashMap<(String, u32), Vec<u8>>,
    files: HashMap<ContentHash, Arc<Vec<u8>>>,
    /// For the next file transfers, in order: break off after this many body bytes.
    cuts: VecDeque<u64>,
    ignore_ranges: bool,
    stats: MemoryStats,
}

/// What a [`MemorySource`] served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryStats {
    pub catalog_requests: u64,
    pub manifest_requests: u64,
    pub file_requests: u64,
    /// File body bytes handed out.
    pub file_bytes: u64,
}

/// A content source in memory. Cloning shares the state.
#[derive(Clone, Debug, Default)]
pub struct MemorySource {
    state: Arc<Mutex<State>>,
}

impl MemorySource {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_catalog(&self, catalog: Catalog, etag: &str) {
        self.lock().catalog = Some((catalog, etag.to_owned()));
    }

    pub fn add_manifest(&self, course: &CourseId, version: u32, signed: Vec<u8>) {
        self.lock()
            .manifests
            .insert((course.as_str().to_owned(), version), signed);
    }

    /// Adds a file under its SHA-256 (or under `sha` to serve wrong bytes on purpose).
    pub fn add_file_as(&self, sha: ContentHash, bytes: Vec<u8>) {
        self.lock().files.insert(sha, Arc::new(bytes));
    }

    pub fn add_file(&self, bytes: Vec<u8>) -> ContentHash {
        let sha = ContentHash::of(&bytes);
        self.add_file_as(sha, bytes);
        sha
    }

    /// The next file transfers break off after these many body bytes each.
    pub fn push_cuts(&self, cuts: impl IntoIterator<Item = u64>) {
        self.lock().cuts.extend(cuts);
    }

    /// Answer every file request from byte 0, as a server without Range support does.
    pub fn set_ignore_ranges(&self, ignore: bool) {
        self.lock().ignore_ranges = ignore;
    }

    pub fn stats(&self) -> MemoryStats {
        self.lock().stats
    }
}

/// A body over shared bytes.
#[derive(Debug)]
pub struct MemoryBody {
    source: MemorySource,
    bytes: Arc<Vec<u8>>,
    pos: usize,
    cut_at: Option<usize>,
}

impl FileBody for MemoryBody {
    async fn chunk(&mut self) -> Result<Option<Chunk>> {
        let end = self.bytes.len().min(self.pos + MEMORY_CHUNK);
        let end = self.cut_at.map_or(end, |c| end.min(c));
        if self.cut_at == Some(self.pos) {
            return Err(CoreError::ContentNetwork(
                "connection dropped (test)".into(),
            ));
        }
        if self.pos >= self.bytes.len() {
            return Ok(None);
        }
        let chunk = self.bytes[self.pos..end].to_vec();
        self.pos = end;
        self.source.lock().stats.file_bytes += chunk.len() as u64;
        Ok(Some(Chunk::new(chunk)))
    }
}

impl ContentSource for MemorySource {
    type Body = MemoryBody;

    async fn catalog(&self, etag: Option<&str>) -> Result<CatalogAnswer> {
        let mut s = self.lock();
        s.stats.catalog_requests += 1;
        let (catalog, current) = s.catalog.clone().ok_or_else(|| not_found("catalog"))?;
        if etag == Some(current.as_str()) {
            return Ok(CatalogAnswer::NotModified);
        }
        Ok(CatalogAnswer::Fresh {
            catalog,
            etag: Some(current),
        })
    }

    async fn manifest(&self, course: &CourseId, version: u32) -> Result<Vec<u8>> {
        let mut s = self.lock();
        s.stats.manifest_requests += 1;
        s.manifests
            .get(&(course.as_str().to_owned(), version))
            .cloned()
            .ok_or_else(|| not_found("course"))
    }

    async fn file(&self, sha: &ContentHash, offset: u64) -> Result<FileStart<MemoryBody>> {
        let mut s = self.lock();
        s.stats.file_requests += 1;
        let bytes = s.files.get(sha).cloned().ok_or_else(|| not_found("file"))?;
        let offset = if s.ignore_ranges { 0 } else { offset };
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o <= bytes.len())
            .ok_or_else(|| CoreError::ContentService {
                status: 416,
                code: "range.not_satisfiable".into(),
                message: "range beyond the file".into(),
            })?;
        let cut_at = s
            .cuts
            .pop_front()
            .map(|c| start.saturating_add(usize::try_from(c).unwrap_or(usize::MAX)));
        drop(s);
        Ok(FileStart {
            offset,
            body: MemoryBody {
                source: self.clone(),
                bytes,
                pos: start,
                cut_at: cut_at.filter(|&c| c < usize::MAX),
            },
        })
    }
}

fn not_found(what: &str) -> CoreError {
    CoreError::ContentService {
        status: 404,
        code: format!("{what}.not_found"),
        message: format!("no such {what}"),
    }
}
