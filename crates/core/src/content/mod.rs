//! Course content on the device: the catalog, resumable verified downloads, the course cache
//! and its reads.
//!
//! ```text
//! DATA_DIR/media/<sha256 hex>            a verified package file, shared by every course using it
//! DATA_DIR/media/partial/<sha256 hex>.part  a download in progress (resumed with Range)
//! ```
//!
//! A download goes: signed manifest → verified against the publisher keys pinned at enrollment
//! → plan (which files are missing, what is already partly here) → storage budget check, before
//! any byte is fetched → each missing file streamed into its `.part` file, hashed as it is
//! written (after hashing the prefix already on disk), checked for size and SHA-256, fsynced and
//! renamed into place → one fsync of the media folder (the renames) → one store transaction
//! that installs the course. Until that commit the course does not exist for the learner.
//!
//! Durability before visibility: a file gets its hash's name only after its bytes are verified
//! and fsynced, so a complete-looking file is never a torn one; the folder holding the renames
//! is fsynced once, after the last file and before the course can be installed, so no
//! installed course names a file that a power cut could take back. A crash before that loses at
//! most some renames, and the next download resumes or re-checks those files.
//!
//! Speed (`tests/benches/content.rs`): up to `LANES` files are fetched at once; for each
//! transfer the network side only receives, and a writer thread appends and hashes the chunks
//! it is handed (no copy: a [`Chunk`] is the HTTP client's own buffer) while a second thread
//! starts the writeback of every `SYNC_EVERY` bytes, so the disk works during the transfer
//! instead of after it and the fsync at the file's end has little left to do.
//!
//! The network part ([`Downloader::fetch`]) does not borrow [`Hearth`], so a front end can run it
//! while the store stays usable, then call [`Hearth::install_fetched`].
//! [`Hearth::download_course`] does both.

mod http;
mod memory;
mod package;
mod source;

use std::collections::{HashMap, HashSet};
use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use hearth_protocol::manifest::{self, FileEntry, VerifiedManifest};
use hearth_protocol::wire::Catalog;
use hearth_protocol::{ContentHash, CourseId, LessonId, PublicKey};
use ring::digest;
use serde::Serialize;

pub use crate::store::{
    CourseSummary, ExamItemView, ExamView, FileRow, LessonSummary, LessonText, QuizItemView,
};
pub use http::{HttpBody, HttpSource};
pub use memory::{MEMORY_CHUNK, MemoryBody, MemorySource, MemoryStats};
pub use package::{DISK_RESERVE, ExportedPackage, PackageImporter, StagedCourse};
pub use source::{CatalogAnswer, Chunk, ContentSource, FileBody, FileStart};

use crate::error::{CoreError, Result};
use crate::identity::sync_dir;
use crate::{Hearth, create_private_dir};

/// The media cache budget unless set otherwise (bytes).
pub const DEFAULT_BUDGET: u64 = 4 * 1024 * 1024 * 1024;

const META_CATALOG: &str = "catalog";
const META_CATALOG_ETAG: &str = "catalog_etag";
const META_BUDGET: &str = "budget_bytes";
const READ_BUF: usize = 256 * 1024;

/// How a download went so far, for a progress bar.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// Bytes on disk and verified or in progress, of `bytes_total`.
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u32,
    pub files_total: u32,
    /// Bytes per second fetched in this run.
    pub bytes_per_sec: u64,
    /// Estimated time left, once a rate is known.
    pub eta_ms: Option<u64>,
}

/// Tunables of a download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DownloadOptions {
    /// Retries per file after a broken transfer that fetched nothing (each resumes where the
    /// last one ended; a transfer that fetched bytes before it broke does not count).
    pub retries: u32,
    /// Pause before the first retry; doubled for each further one.
    pub retry_pause: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self {
            retries: 3,
            retry_pause: Duration::from_millis(250),
        }
    }
}

/// What a download needs to do: files missing or partly here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Distinct files of the course (by hash).
    pub files: Vec<FileEntry>,
    /// Files that must be fetched (all or the rest of them).
    pub missing: Vec<FileEntry>,
    /// Bytes already on disk and verified (complete files).
    pub present_bytes: u64,
    /// Bytes of partial downloads that will be resumed.
    pub partial_bytes: u64,
    /// Bytes still to fetch.
    pub needed_bytes: u64,
}

/// A course whose manifest verified and whose every file is in the cache, verified; ready to
/// be installed.
#[derive(Clone, Debug)]
pub struct FetchedCourse {
    pub manifest: VerifiedManifest,
    /// Lesson texts by package path.
    bodies: HashMap<String, String>,
}

/// The catalog after a refresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatalogRefresh {
    pub catalog: Catalog,
    /// False when the service answered 304 and the stored copy was used.
    pub changed: bool,
}

/// What removing a course freed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Removed {
    pub files: u32,
    pub bytes: u64,
}

/// The content-addressed media folder.
#[derive(Clone, Debug)]
pub struct MediaCache {
    dir: PathBuf,
}

impl MediaCache {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: data_dir.join("media"),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, sha: &ContentHash) -> PathBuf {
        self.dir.join(sha.to_hex())
    }

    pub fn partial_path(&self, sha: &ContentHash) -> PathBuf {
        self.dir
            .join("partial")
            .join(format!("{}.part", sha.to_hex()))
    }

    fn ensure_dirs(&self) -> Result<()> {
        create_private_dir(&self.dir.join("partial"))
    }

    /// Bytes the cache holds (complete and partial files).
    pub fn usage(&self) -> Result<u64> {
        let mut total = 0;
        for dir in [self.dir.clone(), self.dir.join("partial")] {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(CoreError::io(format!("reading {}", dir.display()))(e)),
            };
            for entry in entries.flatten() {
                if let Ok(m) = entry.metadata()
                    && m.is_file()
                {
                    total += m.len();
                }
            }
        }
        Ok(total)
    }

    /// Whether the complete file is here with the right size and hash. A file whose bytes do
    /// not hash to its name is removed (it can only be a damaged copy) and reported as not
    /// here. A file whose bytes do verify is never removed because a manifest disagrees with
    /// it: a manifest `size` other than the file's length is refused with
    /// `content.size_conflict` (the manifest is wrong, not the file).
    pub fn verify(&self, sha: &ContentHash, size: Option<u64>) -> Result<bool> {
        let path = self.path(sha);
        let Some((len, got)) = hash_file(&path)? else {
            return Ok(false);
        };
        if got != *sha {
            tracing::warn!(sha = %sha.to_hex(), "cached file does not match its hash; removing it");
            remove_if_exists(&path)?;
            return Ok(false);
        }
        match size {
            Some(s) if s != len => Err(CoreError::SizeConflict {
                sha: sha.to_hex(),
                cached: len,
                manifest: s,
            }),
            _ => Ok(true),
        }
    }

    /// What fetching these files needs, given what is on disk.
    pub fn plan(&self, files: &[FileEntry]) -> Result<Plan> {
        let mut seen = HashSet::new();
        let files: Vec<FileEntry> = files
            .iter()
            .filter(|f| seen.insert(f.sha256))
            .cloned()
            .collect();
        let mut plan = Plan {
            files: files.clone(),
            missing: Vec::new(),
            present_bytes: 0,
            partial_bytes: 0,
            needed_bytes: 0,
        };
        for f in files {
            if self.verify(&f.sha256, Some(f.size))? {
                plan.present_bytes += f.size;
                continue;
            }
            let part = self.partial_path(&f.sha256);
            let have = match fs::metadata(&part) {
                Ok(m) if m.len() <= f.size => m.len(),
                Ok(_) => {
                    remove_if_exists(&part)?;
                    0
                }
                Err(_) => 0,
            };
            plan.partial_bytes += have;
            plan.needed_bytes += f.size - have;
            plan.missing.push(f);
        }
        Ok(plan)
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(CoreError::io(format!("removing {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

/// Hashes a file (`None` if it does not exist): its length and SHA-256.
fn hash_file(path: &Path) -> Result<Option<(u64, ContentHash)>> {
    let mut file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(CoreError::io(format!("opening {}", path.display()))(e)),
    };
    let mut ctx = digest::Context::new(&digest::SHA256);
    let len = hash_into(&mut file, &mut ctx, path)?;
    Ok(Some((len, finish(ctx))))
}

fn hash_into(file: &mut fs::File, ctx: &mut digest::Context, path: &Path) -> Result<u64> {
    let mut buf = vec![0u8; READ_BUF];
    let mut len = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(CoreError::io(format!("reading {}", path.display())))?;
        if n == 0 {
            return Ok(len);
        }
        ctx.update(&buf[..n]);
        len += n as u64;
    }
}

fn finish(ctx: digest::Context) -> ContentHash {
    ContentHash(
        ctx.finish()
            .as_ref()
            .try_into()
            .expect("SHA-256 is 32 bytes"),
    )
}

/// Progress bookkeeping and the callback.
struct Tracker<'a> {
    p: Progress,
    started: Instant,
    fetched: u64,
    report: &'a mut (dyn FnMut(&Progress) + Send),
}

impl Tracker<'_> {
    fn add(&mut self, bytes: u64) {
        self.p.bytes_done += bytes;
        self.fetched += bytes;
        let secs = self.started.elapsed().as_secs_f64();
        if secs > 0.05 {
            self.p.bytes_per_sec = (self.fetched as f64 / secs) as u64;
        }
        self.p.eta_ms = (self.p.bytes_per_sec > 0).then(|| {
            (self.p.bytes_total.saturating_sub(self.p.bytes_done) as f64 * 1000.0
                / self.p.bytes_per_sec as f64) as u64
        });
        (self.report)(&self.p);
    }

    fn rewind(&mut self, bytes: u64) {
        self.p.bytes_done = self.p.bytes_done.saturating_sub(bytes);
    }

    fn file_done(&mut self) {
        self.p.files_done += 1;
        (self.report)(&self.p);
    }
}

/// The tracker shared by the lanes of a download (never locked across an await).
type SharedTracker<'a> = Mutex<Tracker<'a>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Files fetched at once. With one file at a time the network, the hashing and the disk take
/// turns; a few transfers keep all of them busy. Measured over loopback on 2 cores (200 MB in
/// four files, best of 7 in one run, each with the early writeback below; a plain sequential
/// GET took 0.23 s): 1 lane 0.38 s, 2 lanes 0.29 s, 3 lanes 0.23 s, 4 lanes 0.26 s. Kept small:
/// a slow link gains nothing from more connections, and each holds a writer thread and its
/// queue.
const LANES: usize = 3;

/// Chunks a file's writer may hold before the network waits for the disk (a chunk is what the
/// HTTP client read at once, typically 8–64 KiB).
const WRITE_QUEUE: usize = 64;

/// A writer asks the OS to write a file's bytes to disk every this many bytes, on a thread of its
/// own, so the disk works while the network does and the fsync at the file's end finds little
/// left to write. Measured as above, 3 lanes: without it 0.32 s, with it 0.23 s (4 MiB: 0.24 s).
const SYNC_EVERY: u64 = 16 * 1024 * 1024;

/// `.part` files this process is writing. A dropped download (an app pauses one by cancelling
/// its task) leaves its writer threads finishing the chunks they were handed; a new download of
/// the same file waits for them instead of appending beside them.
static PARTS_BUSY: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// This process's exclusive use of one `.part` file; released when dropped.
struct PartClaim(PathBuf);

impl PartClaim {
    async fn take(path: PathBuf) -> Self {
        loop {
            if Self::try_take(&path) {
                return Self(path);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn try_take(path: &Path) -> bool {
        let mut busy = lock(&PARTS_BUSY);
        if busy.iter().any(|p| p == path) {
            return false;
        }
        busy.push(path.to_owned());
        true
    }
}

impl Drop for PartClaim {
    fn drop(&mut self) {
        lock(&PARTS_BUSY).retain(|p| *p != self.0);
    }
}

/// A `.part` file being written: the handle, the hash of its bytes so far and their count.
struct Part {
    file: fs::File,
    ctx: digest::Context,
    len: u64,
    path: PathBuf,
    _claim: PartClaim,
}

impl Part {
    fn err(&self, what: &str) -> impl FnOnce(std::io::Error) -> CoreError {
        CoreError::io(format!("{what} {}", self.path.display()))
    }
}

/// Starts the writeback of a file's bytes early, on a thread of its own. Only a head start: the
/// fsync at the file's end is what makes it durable, and it does not return before every byte
/// is on disk whether or not this thread got to them.
struct Syncer {
    tx: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Syncer {
    fn start(file: &fs::File) -> Self {
        let idle = Self {
            tx: None,
            thread: None,
        };
        // Without a second handle or a thread the final fsync simply does all the work.
        let Ok(handle) = file.try_clone() else {
            return idle;
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("hearth-writeback".into())
            .spawn(move || {
                for () in rx {
                    handle.sync_data()?;
                }
                Ok(())
            });
        match thread {
            Ok(t) => Self {
                tx: Some(tx),
                thread: Some(t),
            },
            Err(_) => idle,
        }
    }

    /// Asks for a writeback: queued behind a running one, dropped when one is already queued
    /// (that one will cover these bytes too).
    fn kick(&self) {
        if let Some(tx) = &self.tx {
            let _ = tx.try_send(());
        }
    }

    /// Waits for the thread. Its error must not be dropped: the handle shares the file's open
    /// description, and on Linux a write-back error is reported once per open description, so
    /// the final fsync might not see it again.
    fn finish(mut self) -> std::io::Result<()> {
        self.tx = None;
        match self.thread.take().map(std::thread::JoinHandle::join) {
            None => Ok(()),
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("the write-back thread panicked")),
        }
    }
}

impl Drop for Syncer {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The writer thread of one transfer: appends the chunks to the `.part` file and hashes them,
/// until the channel closes (the body ended or broke off, or the download was dropped). Writing
/// and hashing here lets the network side read the next chunk meanwhile.
fn write_part(mut part: Part, mut rx: tokio::sync::mpsc::Receiver<Chunk>) -> Result<Part> {
    let syncer = Syncer::start(&part.file);
    let mut unsynced = 0u64;
    while let Some(chunk) = rx.blocking_recv() {
        part.file.write_all(&chunk).map_err(part.err("writing"))?;
        part.ctx.update(&chunk);
        part.len += chunk.len() as u64;
        unsynced += chunk.len() as u64;
        if unsynced >= SYNC_EVERY {
            syncer.kick();
            unsynced = 0;
        }
    }
    syncer.finish().map_err(part.err("syncing"))?;
    Ok(part)
}

/// Polls every future until all are done (the lanes of one download, on one task).
async fn join_all<F: Future<Output = ()>>(futures: Vec<F>) {
    let mut futures: Vec<Option<Pin<Box<F>>>> =
        futures.into_iter().map(|f| Some(Box::pin(f))).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for slot in &mut futures {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    pending = true;
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// What the lanes of a download share: the files to fetch, the next one to start, the first
/// error, the progress.
struct Work<'w, 'a> {
    files: &'w [FileEntry],
    next: AtomicUsize,
    failed: Mutex<Option<CoreError>>,
    tracker: &'w SharedTracker<'a>,
}

/// Downloads course versions into the media cache. Holds no borrow of [`Hearth`].
#[derive(Clone, Debug)]
pub struct Downloader {
    pub media: MediaCache,
    pub trusted: Vec<PublicKey>,
    /// Most bytes the media cache may hold.
    pub budget: u64,
    pub options: DownloadOptions,
}

impl Downloader {
    /// Fetches and verifies a course version's manifest and every file it names, resuming what
    /// is partly here. Fails with `content.budget_exceeded` before fetching any file when the
    /// missing bytes would take the cache over its budget.
    pub async fn fetch<S: ContentSource>(
        &self,
        source: &S,
        course: &CourseId,
        version: u32,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<FetchedCourse> {
        let bytes = source.manifest(course, version).await?;
        let verified = manifest::verify(&bytes, &self.trusted)?;
        if verified.manifest.course != *course || verified.manifest.version != version {
            return Err(CoreError::ManifestMismatch);
        }
        self.media.ensure_dirs()?;
        let plan = self.media.plan(&verified.manifest.files)?;
        let available = self.budget.saturating_sub(self.media.usage()?);
        if plan.needed_bytes > available {
            return Err(CoreError::BudgetExceeded {
                needed: plan.needed_bytes,
                available,
            });
        }
        package::check_disk_space(self.media.dir(), plan.needed_bytes)?;
        let tracker = Mutex::new(Tracker {
            p: Progress {
                bytes_done: plan.present_bytes + plan.partial_bytes,
                bytes_total: plan.files.iter().map(|f| f.size).sum(),
                files_done: u32::try_from(plan.files.len() - plan.missing.len()).unwrap_or(0),
                files_total: u32::try_from(plan.files.len()).unwrap_or(u32::MAX),
                ..Progress::default()
            },
            started: Instant::now(),
            fetched: 0,
            report: progress,
        });
        {
            let t = &mut *lock(&tracker);
            (t.report)(&t.p);
        }
        let work = Work {
            files: &plan.missing,
            next: AtomicUsize::new(0),
            failed: Mutex::new(None),
            tracker: &tracker,
        };
        let lanes = LANES.min(plan.missing.len());
        join_all((0..lanes).map(|_| self.lane(source, &work)).collect()).await;
        if let Some(e) = lock(&work.failed).take() {
            return Err(e);
        }
        // Each file was fsynced before its rename; this makes the renames durable, once for
        // all of them, before the caller may install the course (which is when it becomes
        // visible). It runs even when nothing was fetched: a file renamed into place by an
        // earlier download that then failed may be what this course uses.
        sync_dir(self.media.dir())?;
        let mut bodies = HashMap::new();
        for l in &verified.manifest.lessons {
            let f = verified
                .manifest
                .file(&l.body)
                .ok_or(CoreError::ManifestMismatch)?;
            let path = self.media.path(&f.sha256);
            let raw =
                fs::read(&path).map_err(CoreError::io(format!("reading {}", path.display())))?;
            if ContentHash::of(&raw) != f.sha256 {
                remove_if_exists(&path)?;
                return Err(CoreError::CorruptMedia {
                    sha: f.sha256.to_hex(),
                });
            }
            let text = String::from_utf8(raw).map_err(|_| CoreError::FileMismatch {
                path: l.body.clone(),
                detail: "a lesson text is not UTF-8".into(),
            })?;
            bodies.insert(l.body.clone(), text);
        }
        Ok(FetchedCourse {
            manifest: verified,
            bodies,
        })
    }

    /// One lane of a download: takes the next file until none is left or a file failed. A
    /// failure stops the other lanes from starting new files but lets them finish the one they
    /// are on, so that a retry does not fetch it again.
    async fn lane<S: ContentSource>(&self, source: &S, work: &Work<'_, '_>) {
        loop {
            if lock(&work.failed).is_some() {
                return;
            }
            let Some(f) = work.files.get(work.next.fetch_add(1, Ordering::Relaxed)) else {
                return;
            };
            let mut attempt = 0;
            loop {
                let part_len =
                    || fs::metadata(self.media.partial_path(&f.sha256)).map_or(0, |m| m.len());
                let before = part_len();
                match self.fetch_file(source, f, work.tracker).await {
                    Ok(()) => break,
                    Err(CoreError::ContentNetwork(e)) if attempt < self.options.retries => {
                        // A transfer that brought bytes before it broke is progress: on a slow
                        // link that drops every minute a large file needs many resumes, and
                        // only breaks in a row with nothing fetched count against the retries.
                        if part_len() > before {
                            attempt = 0;
                        }
                        let pause = self.options.retry_pause * 2u32.saturating_pow(attempt);
                        tracing::info!(file = %f.path, error = %e, attempt, "transfer broke off; resuming");
                        attempt += 1;
                        tokio::time::sleep(pause).await;
                    }
                    Err(e) => {
                        lock(&work.failed).get_or_insert(e);
                        return;
                    }
                }
            }
            lock(work.tracker).file_done();
        }
    }

    /// Fetches one file into its `.part` file, resuming from what is there, and moves it into
    /// place once its size and hash are right and it is on disk.
    async fn fetch_file<S: ContentSource>(
        &self,
        source: &S,
        f: &FileEntry,
        tracker: &SharedTracker<'_>,
    ) -> Result<()> {
        let path = self.media.partial_path(&f.sha256);
        let claim = PartClaim::take(path.clone()).await;
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&path)
            .map_err(CoreError::io(format!("opening {}", path.display())))?;
        let mut part = Part {
            file,
            ctx: digest::Context::new(&digest::SHA256),
            len: 0,
            path,
            _claim: claim,
        };
        // What is on disk was verified by nobody: hash it again, then continue the hash.
        part.len = hash_into(&mut part.file, &mut part.ctx, &part.path)?;
        if part.len > f.size {
            part.restart(tracker, 0)?;
        }
        if part.len < f.size {
            let start = source.file(&f.sha256, part.len).await?;
            if start.offset != part.len {
                if start.offset != 0 {
                    return Err(CoreError::FileMismatch {
                        path: f.path.clone(),
                        detail: format!("asked from byte {}, sent from {}", part.len, start.offset),
                    });
                }
                // The source ignored the range: start over.
                tracing::info!(file = %f.path, "the source ignored the range; fetching the whole file");
                let had = part.len;
                part.restart(tracker, had)?;
            }
            part = self.transfer(part, start.body, f, tracker).await?;
        }
        if finish(part.ctx.clone()) != f.sha256 {
            let Part {
                file, path, len, ..
            } = part;
            drop(file);
            remove_if_exists(&path)?;
            lock(tracker).rewind(len);
            return Err(CoreError::FileMismatch {
                path: f.path.clone(),
                detail: "its SHA-256 differs; the partial download was discarded".into(),
            });
        }
        // Durable before it is in place: a file under its hash's name is a complete, verified
        // copy. (The rename itself is made durable by `fetch`, once for all files.)
        part.file.sync_all().map_err(part.err("syncing"))?;
        let Part {
            file, path, _claim, ..
        } = part;
        // Closed before the rename: Windows renames an open file only if every handle allows it.
        drop(file);
        let dest = self.media.path(&f.sha256);
        fs::rename(&path, &dest)
            .map_err(CoreError::io(format!("installing {}", path.display())))?;
        Ok(())
    }

    /// Streams a body into the `.part` file through its writer thread; returns the part when
    /// the body ended with the whole file, an error otherwise (what arrived stays on disk for
    /// the next attempt).
    async fn transfer<B: FileBody>(
        &self,
        part: Part,
        mut body: B,
        f: &FileEntry,
        tracker: &SharedTracker<'_>,
    ) -> Result<Part> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Chunk>(WRITE_QUEUE);
        let mut sent = part.len;
        let writer = tokio::task::spawn_blocking(move || write_part(part, rx));
        let mut too_long = false;
        let ended = loop {
            let chunk = match body.chunk().await {
                Ok(Some(c)) => c,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            let n = chunk.len() as u64;
            if sent + n > f.size {
                too_long = true;
                break Ok(());
            }
            if tx.send(chunk).await.is_err() {
                // The writer stopped on an error; its result says which.
                break Ok(());
            }
            sent += n;
            lock(tracker).add(n);
        };
        // Closing the channel lets the writer write what it holds and end; waiting for it keeps
        // the `.part` file complete up to where the transfer stopped.
        drop(tx);
        let part = writer.await.map_err(|e| CoreError::Io {
            context: "the download's writer thread".into(),
            source: std::io::Error::other(e.to_string()),
        })??;
        if too_long {
            let len = part.len;
            let Part { file, path, .. } = part;
            drop(file);
            remove_if_exists(&path)?;
            lock(tracker).rewind(len);
            return Err(CoreError::FileMismatch {
                path: f.path.clone(),
                detail: "longer than the manifest says".into(),
            });
        }
        ended?;
        if part.len < f.size {
            part.file.sync_data().map_err(part.err("syncing"))?;
            return Err(CoreError::ContentNetwork(format!(
                "the transfer of {} ended at byte {} of {}",
                f.path, part.len, f.size
            )));
        }
        Ok(part)
    }
}

impl Part {
    /// Empties the file to fetch it from the start; `counted` bytes of it were in the progress.
    fn restart(&mut self, tracker: &SharedTracker<'_>, counted: u64) -> Result<()> {
        self.file.set_len(0).map_err(self.err("truncating"))?;
        self.ctx = digest::Context::new(&digest::SHA256);
        self.len = 0;
        lock(tracker).rewind(counted);
        Ok(())
    }
}

impl Hearth {
    fn media(&self) -> MediaCache {
        MediaCache::new(&self.data_dir)
    }

    /// The media cache budget in bytes.
    pub fn content_budget(&self) -> Result<u64> {
        Ok(self
            .store
            .content_meta(META_BUDGET)?
            .and_then(|v| v.try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(DEFAULT_BUDGET))
    }

    pub fn set_content_budget(&mut self, bytes: u64) -> Result<()> {
        self.store
            .write(|tx| tx.set_content_meta(META_BUDGET, &bytes.to_be_bytes()))?;
        Ok(())
    }

    /// Bytes the media cache holds now.
    pub fn content_usage(&self) -> Result<u64> {
        self.media().usage()
    }

    /// The catalog as last fetched, if ever.
    pub fn cached_catalog(&self) -> Result<Option<Catalog>> {
        Ok(self
            .store
            .content_meta(META_CATALOG)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Fetches the catalog with the stored ETag; a 304 keeps the stored copy.
    pub async fn refresh_catalog<S: ContentSource>(
        &mut self,
        source: &S,
    ) -> Result<CatalogRefresh> {
        let etag = self.catalog_etag()?;
        let answer = source.catalog(etag.as_deref()).await?;
        self.keep_catalog(answer)
    }

    /// The ETag to send when asking for the catalog: the stored one, if a catalog is stored.
    pub fn catalog_etag(&self) -> Result<Option<String>> {
        if self.cached_catalog()?.is_none() {
            return Ok(None);
        }
        Ok(self
            .store
            .content_meta(META_CATALOG_ETAG)?
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|e| !e.is_empty()))
    }

    /// Keeps the service's answer to a catalog request made with [`Hearth::catalog_etag`].
    pub fn keep_catalog(&mut self, answer: CatalogAnswer) -> Result<CatalogRefresh> {
        let cached = self.cached_catalog()?;
        match answer {
            CatalogAnswer::NotModified => match cached {
                Some(catalog) => Ok(CatalogRefresh {
                    catalog,
                    changed: false,
                }),
                None => Err(CoreError::ContentService {
                    status: 304,
                    code: "catalog.not_modified".into(),
                    message: "not modified, but no catalog is stored".into(),
                }),
            },
            CatalogAnswer::Fresh { catalog, etag } => {
                let json = serde_json::to_vec(&catalog)
                    .map_err(|e| CoreError::InvalidInput(e.to_string()))?;
                self.store.write(|tx| {
                    tx.set_content_meta(META_CATALOG, &json)?;
                    tx.set_content_meta(META_CATALOG_ETAG, etag.unwrap_or_default().as_bytes())
                })?;
                Ok(CatalogRefresh {
                    catalog,
                    changed: true,
                })
            }
        }
    }

    /// A downloader for this device: its media folder, the publisher keys pinned at enrollment
    /// and the budget.
    pub fn downloader(&self, options: DownloadOptions) -> Result<Downloader> {
        let enrollment = self
            .store
            .enrollment()?
            .ok_or(CoreError::ContentNotEnrolled)?;
        self.sweep_dead_imports()?;
        Ok(Downloader {
            media: self.media(),
            trusted: enrollment.publisher_keys,
            budget: self.content_budget()?,
            options,
        })
    }

    /// Installs a fetched course in one transaction (nothing if that version is installed with
    /// the same signed manifest). Every file is checked to be present first. Refused:
    /// `content.version_conflict` when that version is installed with another signed manifest
    /// (a version number names one content), `content.downgrade` when a newer version of the
    /// course is installed (an older signed version is not reinstated beside it; manifests
    /// carry no mark saying an older version is still valid).
    pub fn install_fetched(&mut self, fetched: &FetchedCourse) -> Result<CourseSummary> {
        let m = &fetched.manifest.manifest;
        check_version(
            &fetched.manifest,
            &self.store.installed_versions(&m.course)?,
        )?;
        let media = self.media();
        for f in &m.files {
            let ok = fs::metadata(media.path(&f.sha256)).is_ok_and(|md| md.len() == f.size);
            if !ok {
                return Err(CoreError::MediaMissing {
                    sha: f.sha256.to_hex(),
                });
            }
        }
        let now = self.env.clock.wall_ms();
        self.store.write(|tx| {
            let installed = tx.installed_versions(&m.course)?;
            if check_version(&fetched.manifest, &installed)? {
                return Ok(());
            }
            tx.install_course(&fetched.manifest, &fetched.bodies, now)
        })?;
        tracing::info!(course = %m.course, version = m.version, "course installed");
        self.installed_course(&m.course, m.version)
    }

    /// Downloads (or repairs) a course version and installs it.
    pub async fn download_course<S: ContentSource>(
        &mut self,
        source: &S,
        course: &CourseId,
        version: u32,
        options: DownloadOptions,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<CourseSummary> {
        let fetched = self
            .downloader(options)?
            .fetch(source, course, version, progress)
            .await?;
        self.install_fetched(&fetched)
    }

    /// Installed course versions with their lessons, and the occupation each trains for as
    /// the catalog last fetched names it (so the library shows and filters by occupation
    /// offline too).
    pub fn installed_courses(&self) -> Result<Vec<CourseSummary>> {
        let mut courses = self.store.installed_courses()?;
        let catalog = self.cached_catalog()?;
        for c in &mut courses {
            let entry = catalog.as_ref().and_then(|cat| {
                cat.courses
                    .iter()
                    .filter(|e| e.course == c.course)
                    .min_by_key(|e| e.version.abs_diff(c.version))
            });
            if let Some(e) = entry {
                c.occupation.clone_from(&e.occupation);
                c.occupation_name.clone_from(&e.occupation_name);
                c.occupation_level = e.occupation_level;
            }
        }
        Ok(courses)
    }

    pub fn installed_course(&self, course: &CourseId, version: u32) -> Result<CourseSummary> {
        self.store
            .installed_courses()?
            .into_iter()
            .find(|c| c.course == *course && c.version == version)
            .ok_or_else(|| not_installed(course, version))
    }

    fn require_installed(&self, course: &CourseId, version: u32) -> Result<()> {
        if self.store.course_installed(course, version)? {
            Ok(())
        } else {
            Err(not_installed(course, version))
        }
    }

    /// A lesson's text and its media list.
    pub fn lesson(&self, course: &CourseId, version: u32, lesson: &LessonId) -> Result<LessonText> {
        self.require_installed(course, version)?;
        self.store
            .lesson_text(course, version, lesson)?
            .ok_or_else(|| CoreError::LessonNotFound {
                lesson: lesson.to_string(),
            })
    }

    /// A lesson's practice quiz items, with answer keys.
    pub fn quiz_items(
        &self,
        course: &CourseId,
        version: u32,
        lesson: &LessonId,
    ) -> Result<Vec<QuizItemView>> {
        self.require_installed(course, version)?;
        self.store.quiz_items(course, version, lesson)
    }

    /// A course version's exams (items without answer keys).
    pub fn exams(&self, course: &CourseId, version: u32) -> Result<Vec<ExamView>> {
        self.require_installed(course, version)?;
        self.store.exams(course, version)
    }

    /// The path of a cached media file, after checking its bytes against its hash. A damaged
    /// file is removed (a new download of the course fetches it again) and reported as
    /// `content.corrupt_media`.
    pub fn media_path(&self, sha: &ContentHash) -> Result<PathBuf> {
        let missing = || CoreError::MediaMissing { sha: sha.to_hex() };
        if !self.store.media_referenced(sha)? {
            return Err(missing());
        }
        let media = self.media();
        let path = media.path(sha);
        match hash_file(&path)? {
            None => Err(missing()),
            Some((_, got)) if got == *sha => Ok(path),
            Some(_) => {
                tracing::warn!(sha = %sha.to_hex(), "cached media damaged; removed");
                remove_if_exists(&path)?;
                Err(CoreError::CorruptMedia { sha: sha.to_hex() })
            }
        }
    }

    /// Removes a course version: its rows, then every media file no other installed course
    /// version uses.
    pub fn remove_course(&mut self, course: &CourseId, version: u32) -> Result<Removed> {
        let (orphans, _) = self.store.write(|tx| tx.remove_course(course, version))?;
        let orphans = orphans.ok_or_else(|| not_installed(course, version))?;
        let media = self.media();
        let mut removed = Removed::default();
        for sha in orphans {
            let path = media.path(&sha);
            if let Ok(m) = fs::metadata(&path) {
                remove_if_exists(&path)?;
                removed.files += 1;
                removed.bytes += m.len();
            }
        }
        Ok(removed)
    }
}

/// Whether `verified` may be installed beside the `installed` versions of its course (version,
/// signed manifest): `Ok(true)` when that very manifest is installed already, `Ok(false)` when
/// it is new, a refusal when the version is installed with other content or is older than an
/// installed one.
fn check_version(verified: &VerifiedManifest, installed: &[(u32, Vec<u8>)]) -> Result<bool> {
    let m = &verified.manifest;
    if let Some((_, bytes)) = installed.iter().find(|(v, _)| *v == m.version) {
        if *bytes == verified.bytes {
            return Ok(true);
        }
        return Err(CoreError::VersionConflict {
            course: m.course.to_string(),
            version: m.version,
        });
    }
    if let Some((newest, newest_bytes)) = installed.iter().max_by_key(|(v, _)| *v)
        && *newest > m.version
    {
        // The newest installed manifest (verified when installed) may say this older version is
        // still valid beside it; then it is installed too.
        let body = newest_bytes.get(hearth_protocol::manifest::MANIFEST_HEADER_LEN..);
        let still_valid = body
            .and_then(|b| serde_json::from_slice::<hearth_protocol::manifest::Manifest>(b).ok())
            .is_some_and(|n| n.still_valid.contains(&m.version));
        if still_valid {
            return Ok(false);
        }
        let newest = *newest;
        return Err(CoreError::Downgrade {
            course: m.course.to_string(),
            version: m.version,
            installed: newest,
        });
    }
    Ok(false)
}

fn not_installed(course: &CourseId, version: u32) -> CoreError {
    CoreError::CourseNotInstalled {
        course: course.to_string(),
        version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The app runs a download on a spawned task, which needs its future to be `Send`.
    #[test]
    fn a_download_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let d = Downloader {
            media: MediaCache::new(Path::new("unused")),
            trusted: Vec::new(),
            budget: 0,
            options: DownloadOptions::default(),
        };
        let source = MemorySource::new();
        let course = CourseId::new("c").expect("a valid id");
        let mut report = |_: &Progress| {};
        let fut = d.fetch(&source, &course, 1, &mut report);
        is_send(&fut);
    }
}
