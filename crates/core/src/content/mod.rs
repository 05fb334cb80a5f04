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
//! renamed into place → one store transaction that installs the course. Until that commit the
//! course does not exist for the learner.
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
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
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
pub use source::{CatalogAnswer, ContentSource, FileBody, FileStart};

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
    /// Retries per file after a broken transfer (each resumes where the last one ended).
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

    /// Whether the complete file is here with the right size and hash. A file that fails the
    /// check is removed (it can only be a damaged copy) and reported as not here.
    pub fn verify(&self, sha: &ContentHash, size: Option<u64>) -> Result<bool> {
        let path = self.path(sha);
        let Some((len, got)) = hash_file(&path)? else {
            return Ok(false);
        };
        if got == *sha && size.is_none_or(|s| s == len) {
            return Ok(true);
        }
        tracing::warn!(sha = %sha.to_hex(), "cached file does not match its hash; removing it");
        remove_if_exists(&path)?;
        Ok(false)
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
        let mut tracker = Tracker {
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
        };
        (tracker.report)(&tracker.p);
        for f in &plan.missing {
            let mut attempt = 0;
            loop {
                match self.fetch_file(source, f, &mut tracker).await {
                    Ok(()) => break,
                    Err(CoreError::ContentNetwork(e)) if attempt < self.options.retries => {
                        let pause = self.options.retry_pause * 2u32.saturating_pow(attempt);
                        tracing::info!(file = %f.path, error = %e, attempt, "transfer broke off; resuming");
                        attempt += 1;
                        tokio::time::sleep(pause).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            tracker.file_done();
        }
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

    /// Fetches one file into its `.part` file, resuming from what is there, and moves it into
    /// place once its size and hash are right.
    async fn fetch_file<S: ContentSource>(
        &self,
        source: &S,
        f: &FileEntry,
        tracker: &mut Tracker<'_>,
    ) -> Result<()> {
        let part = self.media.partial_path(&f.sha256);
        let ctx_err = |what: &str| CoreError::io(format!("{what} {}", part.display()));
        let mut file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .append(true)
            .open(&part)
            .map_err(ctx_err("opening"))?;
        // What is on disk was verified by nobody: hash it again, then continue the hash.
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut have = hash_into(&mut file, &mut ctx, &part)?;
        if have > f.size {
            drop(file);
            remove_if_exists(&part)?;
            return Box::pin(self.fetch_file(source, f, tracker)).await;
        }
        if have < f.size {
            let start = source.file(&f.sha256, have).await?;
            if start.offset != have {
                if start.offset != 0 {
                    return Err(CoreError::FileMismatch {
                        path: f.path.clone(),
                        detail: format!("asked from byte {have}, sent from {}", start.offset),
                    });
                }
                // The source ignored the range: start over.
                tracing::info!(file = %f.path, "the source ignored the range; fetching the whole file");
                file.set_len(0).map_err(ctx_err("truncating"))?;
                ctx = digest::Context::new(&digest::SHA256);
                tracker.rewind(have);
                have = 0;
            }
            let mut body = start.body;
            let mut out = std::io::BufWriter::with_capacity(READ_BUF, &mut file);
            let ended = loop {
                let chunk = match body.chunk().await {
                    Ok(Some(c)) => c,
                    Ok(None) => break Ok(()),
                    Err(e) => break Err(e),
                };
                if have + chunk.len() as u64 > f.size {
                    drop(out);
                    remove_if_exists(&part)?;
                    tracker.rewind(have);
                    return Err(CoreError::FileMismatch {
                        path: f.path.clone(),
                        detail: "longer than the manifest says".into(),
                    });
                }
                out.write_all(&chunk).map_err(ctx_err("writing"))?;
                ctx.update(&chunk);
                have += chunk.len() as u64;
                tracker.add(chunk.len() as u64);
            };
            // Keep what arrived, even when the transfer broke off: the next attempt resumes.
            out.flush().map_err(ctx_err("writing"))?;
            drop(out);
            ended?;
            if have < f.size {
                file.sync_data().map_err(ctx_err("syncing"))?;
                return Err(CoreError::ContentNetwork(format!(
                    "the transfer of {} ended at byte {have} of {}",
                    f.path, f.size
                )));
            }
        }
        if finish(ctx) != f.sha256 {
            drop(file);
            remove_if_exists(&part)?;
            tracker.rewind(have);
            return Err(CoreError::FileMismatch {
                path: f.path.clone(),
                detail: "its SHA-256 differs; the partial download was discarded".into(),
            });
        }
        file.sync_all().map_err(ctx_err("syncing"))?;
        drop(file);
        let dest = self.media.path(&f.sha256);
        fs::rename(&part, &dest).map_err(ctx_err("installing"))?;
        sync_dir(self.media.dir())?;
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
        Ok(Downloader {
            media: self.media(),
            trusted: enrollment.publisher_keys,
            budget: self.content_budget()?,
            options,
        })
    }

    /// Installs a fetched course in one transaction (nothing if that version is installed).
    /// Every file is checked to be present first.
    pub fn install_fetched(&mut self, fetched: &FetchedCourse) -> Result<CourseSummary> {
        let m = &fetched.manifest.manifest;
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
            if tx.course_installed(&m.course, m.version)? {
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

    /// Installed course versions with their lessons.
    pub fn installed_courses(&self) -> Result<Vec<CourseSummary>> {
        self.store.installed_courses()
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

fn not_installed(course: &CourseId, version: u32) -> CoreError {
    CoreError::CourseNotInstalled {
        course: course.to_string(),
        version,
    }
}
