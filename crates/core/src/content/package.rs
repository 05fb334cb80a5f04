//! One-file course packages (`hearth_protocol::package`, docs/package-format.md): import from a
//! USB stick or a shared folder, and export of an installed course for another device.
//!
//! A package file is untrusted input. Import goes:
//!
//! 1. the device must be enrolled: the manifest is verified against the publisher keys pinned at
//!    enrollment, exactly as for a download (`content.not_enrolled` before that — a device that
//!    never met a service trusts no publisher, and a key typed in by whoever holds the USB stick
//!    would be no check at all);
//! 2. header, manifest signature and package limits, before any file byte is read;
//! 3. the file's length against the length the signed manifest implies (a cut-off copy is
//!    refused before anything is written), the storage budget and the free disk space;
//! 4. each file streamed into a temporary file in `media/partial/`, hashed as it is written and
//!    checked against its manifest entry; files already in the cache are read past, not written;
//! 5. only when every file verified and nothing follows the last one: the temporary files are
//!    renamed into the cache and the course is installed in one transaction
//!    ([`Hearth::install_fetched`], the same step a download ends with).
//!
//! Steps 1–4 are [`PackageImporter::stage`], which does not borrow [`Hearth`] (an app runs it on
//! a worker thread, with progress, while the store stays usable); step 5 is
//! [`Hearth::install_staged`]. [`Hearth::import_course`] does both.
//!
//! On any failure every temporary file is removed and no course appears; file names in the
//! package never become paths on disk (the cache is content-addressed), so nothing is written
//! outside `DATA_DIR/media`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use hearth_protocol::manifest::VerifiedManifest;
use hearth_protocol::package::{
    self, CHUNK, PackageError, PackageReader, PackageWriteError, package_len,
};
use hearth_protocol::{ContentHash, CourseId, PublicKey};
use serde::Serialize;

use super::{
    CourseSummary, FetchedCourse, MediaCache, Progress, SYNC_EVERY, Syncer, Tracker,
    remove_if_exists,
};
use crate::Hearth;
use crate::error::{CoreError, Result};
use crate::identity::sync_dir;

/// Free disk space kept back beyond what a course needs: the database, its WAL, the file
/// system's own needs.
pub const DISK_RESERVE: u64 = 64 * 1024 * 1024;

/// A package written by [`Hearth::export_course`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedPackage {
    pub course: CourseId,
    pub version: u32,
    /// Distinct files in the package.
    pub files: u32,
    /// Bytes of the package file.
    pub bytes: u64,
    pub path: PathBuf,
}

/// Refuses with `content.disk_full` when the file system holding `dir` has less than `needed`
/// bytes (plus [`DISK_RESERVE`]) available.
pub(super) fn check_disk_space(dir: &Path, needed: u64) -> Result<()> {
    if needed == 0 {
        return Ok(());
    }
    let available = fs4::available_space(dir).map_err(CoreError::io(format!(
        "reading free space of {}",
        dir.display()
    )))?;
    disk_fits(needed, available)
}

fn disk_fits(needed: u64, available: u64) -> Result<()> {
    // An absurd `needed` (near u64::MAX) must not wrap or saturate into fitting.
    if needed
        .checked_add(DISK_RESERVE)
        .is_none_or(|n| n > available)
    {
        return Err(CoreError::DiskFull { needed, available });
    }
    Ok(())
}

/// Temporary files of one import; whatever is still listed when it is dropped is removed.
#[derive(Debug)]
struct Temps {
    paths: Vec<PathBuf>,
}

impl Drop for Temps {
    fn drop(&mut self) {
        for p in &self.paths {
            if let Err(e) = fs::remove_file(p)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %p.display(), error = %e, "could not remove a temporary file");
            }
        }
    }
}

/// Marks one running import in `media/partial/`: `<stem>.lock`, locked by the importing
/// process for as long as the import runs (its temporary files are `<stem>-<i>.tmp`). Before
/// moving files into the cache it lists their hashes in the lock file, so that if the process
/// dies before the course is installed, a later import knows which cache files nothing owns.
/// The OS releases the lock when the process dies, however it dies (SIGKILL included): an
/// unlocked lock file marks a dead import. Removed when dropped.
#[derive(Debug)]
struct ImportLock {
    file: Option<fs::File>,
    path: PathBuf,
}

impl ImportLock {
    fn take(path: PathBuf) -> Result<Self> {
        let ctx = |what: &str| CoreError::io(format!("{what} {}", path.display()));
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(ctx("creating"))?;
        // Waits while a cleanup that found the new file unlocked holds it; that cleanup then
        // removes it, which is checked below.
        file.lock().map_err(ctx("locking"))?;
        if !path.exists() {
            return Err(ctx("locking")(std::io::Error::other(
                "a cleanup took the new lock file; try the import again",
            )));
        }
        Ok(Self {
            file: Some(file),
            path,
        })
    }

    /// Records, durably, the cache files this import is about to add.
    fn record(&mut self, shas: &[ContentHash]) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        let text: String = shas.iter().map(|s| format!("{}\n", s.to_hex())).collect();
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_data())
            .map_err(CoreError::io(format!("writing {}", self.path.display())))
    }
}

impl Drop for ImportLock {
    fn drop(&mut self) {
        // Closed (and so unlocked) before the removal: Windows removes no open file.
        drop(self.file.take());
        if let Err(e) = fs::remove_file(&self.path)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), error = %e, "could not remove an import's lock file");
        }
    }
}

/// What [`sweep_dead_imports`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Swept {
    pub files: u32,
    pub bytes: u64,
}

/// Removes what imports that no longer run left behind (a process killed mid-import, or between
/// moving its files into the cache and installing the course): their temporary files, and the
/// cache files they were adding that no installed course uses (`referenced` says which are
/// used). An import that runs holds its lock file locked, so nothing of it is touched.
pub(super) fn sweep_dead_imports(
    media: &MediaCache,
    referenced: impl Fn(&ContentHash) -> Result<bool>,
) -> Result<Swept> {
    let partial = media.dir().join("partial");
    let entries = match fs::read_dir(&partial) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Swept::default()),
        Err(e) => return Err(CoreError::io(format!("reading {}", partial.display()))(e)),
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("import-"))
        .collect();
    let mut swept = Swept::default();
    let remove = |path: &Path, swept: &mut Swept| {
        let len = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if fs::remove_file(path).is_ok() {
            swept.files += 1;
            swept.bytes += len;
        }
    };
    let mut alive = Vec::new();
    for name in &names {
        let Some(stem) = name.strip_suffix(".lock") else {
            continue;
        };
        let path = partial.join(name);
        let Ok(mut file) = fs::OpenOptions::new().read(true).write(true).open(&path) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                alive.push(stem.to_owned());
                continue;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(CoreError::io(format!("locking {}", path.display()))(e));
            }
        }
        // Dead: the cache files it was adding that no installed course uses.
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut file, &mut text);
        for sha in text.lines().filter_map(|l| l.parse::<ContentHash>().ok()) {
            if !referenced(&sha)? {
                tracing::info!(sha = %sha.to_hex(), "removing a file a dead import left in the cache");
                remove(&media.path(&sha), &mut swept);
            }
        }
        // Removed while locked, so an import that just created it sees it gone.
        let _ = fs::remove_file(&path);
        drop(file);
    }
    for name in &names {
        let Some(rest) = name.strip_suffix(".tmp") else {
            continue;
        };
        let owner = rest.rsplit_once('-').map_or(rest, |(stem, _)| stem);
        if !alive.iter().any(|a| a == owner) {
            remove(&partial.join(name), &mut swept);
        }
    }
    if swept.files > 0 {
        tracing::info!(
            files = swept.files,
            bytes = swept.bytes,
            "removed what dead imports left behind"
        );
    }
    Ok(swept)
}

const WRITER_STOPPED: &str = "the import's writer stopped";

fn writer_stopped() -> CoreError {
    CoreError::io(WRITER_STOPPED)(std::io::Error::other("stopped"))
}

/// Work for the import's writer thread.
enum Job {
    /// Write what follows into this (new, empty) temporary file.
    Open(fs::File, PathBuf),
    Data(Vec<u8>),
    /// The file is complete: make it durable.
    Close,
}

/// Writes and fsyncs the files of an import as [`Job`]s arrive; hands emptied buffers back for
/// reuse. Returns the first error (dropping `inbox`, which stops the reader).
///
/// As a download does, each file's writeback is started every [`SYNC_EVERY`] bytes on a thread
/// of its own, so the disk works while the next bytes are read and the fsync at the file's end
/// has little left to write.
fn write_jobs(inbox: mpsc::Receiver<Job>, spare: mpsc::SyncSender<Vec<u8>>) -> Result<()> {
    let mut current: Option<(fs::File, PathBuf, Syncer, u64)> = None;
    for job in inbox {
        match job {
            Job::Open(f, path) => {
                let syncer = Syncer::start(&f);
                current = Some((f, path, syncer, 0));
            }
            Job::Data(buf) => {
                let (f, path, syncer, unsynced) = current.as_mut().ok_or_else(writer_stopped)?;
                f.write_all(&buf)
                    .map_err(CoreError::io(format!("writing {}", path.display())))?;
                *unsynced += buf.len() as u64;
                if *unsynced >= SYNC_EVERY {
                    syncer.kick();
                    *unsynced = 0;
                }
                let _ = spare.try_send(buf);
            }
            Job::Close => {
                let (f, path, syncer, _) = current.take().ok_or_else(writer_stopped)?;
                let syncing = CoreError::io(format!("syncing {}", path.display()));
                match syncer.finish() {
                    Ok(()) => f.sync_all().map_err(syncing)?,
                    Err(e) => return Err(syncing(e)),
                }
            }
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads and verifies a package file into temporary files of the media cache without borrowing
/// [`Hearth`], so a front end can run it (a slow USB stick takes a while) on a worker thread
/// while the store stays usable, then call [`Hearth::install_staged`].
/// [`Hearth::import_course`] does both.
#[derive(Clone, Debug)]
pub struct PackageImporter {
    media: MediaCache,
    trusted: Vec<PublicKey>,
    budget: u64,
    nonce: String,
}

/// A package whose every file verified, waiting in temporary files to be installed by
/// [`Hearth::install_staged`]. Dropping it removes the temporary files.
#[derive(Debug)]
pub struct StagedCourse {
    temps: Temps,
    /// Dropped after `temps`: the temporary files go before the mark that owns them.
    lock: ImportLock,
    /// Each file written: its hash and its temporary file.
    written: Vec<(ContentHash, PathBuf)>,
    verified: VerifiedManifest,
    bodies: HashMap<String, String>,
}

impl StagedCourse {
    pub fn manifest(&self) -> &VerifiedManifest {
        &self.verified
    }
}

/// Numbers the stagings of one process, so two never share a temporary file name.
static STAGINGS: AtomicU64 = AtomicU64::new(0);

impl PackageImporter {
    /// Every check of the module documentation up to the install: the course's files end up
    /// verified and fsynced in temporary files. `progress` is called as bytes are read.
    pub fn stage(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(&Progress) + Send),
    ) -> Result<StagedCourse> {
        let ctx = |what: &str| CoreError::io(format!("{what} {}", path.display()));
        let file = fs::File::open(path).map_err(ctx("opening"))?;
        let meta = file.metadata().map_err(ctx("reading"))?;
        let mut reader = PackageReader::open(BufReader::with_capacity(CHUNK, file), &self.trusted)?;
        let expected = package_len(reader.manifest().bytes.len(), reader.entries());
        if meta.is_file() && meta.len() < expected {
            // The signed manifest says how long the file must be: refuse a cut-off copy (a
            // stick pulled out too early) before writing anything. A longer file is read on,
            // so the refusal can say what is wrong with it.
            return Err(PackageError::Truncated(format!(
                "the file is {} bytes, its manifest needs {expected}",
                meta.len()
            ))
            .into());
        }

        let media = &self.media;
        media.ensure_dirs()?;
        let entries = reader.entries().to_vec();
        let mut wanted = Vec::with_capacity(entries.len());
        let mut needed = 0u64;
        for e in &entries {
            let want = !media.verify(&e.sha256, Some(e.size))?;
            if want {
                needed += e.size;
            }
            wanted.push(want);
        }
        let available = self.budget.saturating_sub(media.usage()?);
        if needed > available {
            return Err(CoreError::BudgetExceeded { needed, available });
        }
        check_disk_space(media.dir(), needed)?;

        let total: u64 = entries.iter().map(|e| e.size).sum();
        let mut tracker = Tracker {
            p: Progress {
                bytes_done: total - needed,
                bytes_total: total,
                files_done: u32::try_from(wanted.iter().filter(|w| !**w).count()).unwrap_or(0),
                files_total: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                ..Progress::default()
            },
            started: Instant::now(),
            fetched: 0,
            report: progress,
        };
        (tracker.report)(&tracker.p);

        let stem = format!(
            "import-{}-{}",
            self.nonce,
            STAGINGS.fetch_add(1, Ordering::Relaxed)
        );
        let lock = ImportLock::take(media.dir().join("partial").join(format!("{stem}.lock")))?;
        let mut temps = Temps { paths: Vec::new() };
        let mut written: Vec<(ContentHash, PathBuf)> = Vec::new();
        // Reading and hashing run here; writing and fsyncing on a second thread, so the disk
        // works while the next bytes are read and hashed.
        std::thread::scope(|scope| -> Result<()> {
            let (jobs, inbox) = mpsc::sync_channel::<Job>(8);
            let (spare_tx, spare) = mpsc::sync_channel::<Vec<u8>>(16);
            let writer = scope.spawn(move || write_jobs(inbox, spare_tx));
            let read = (|| -> Result<()> {
                for (i, want) in wanted.iter().enumerate() {
                    if *want {
                        let tmp = media.dir().join("partial").join(format!("{stem}-{i}.tmp"));
                        let f = fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&tmp)
                            .map_err(CoreError::io(format!("creating {}", tmp.display())))?;
                        temps.paths.push(tmp.clone());
                        jobs.send(Job::Open(f, tmp.clone()))
                            .map_err(|_| writer_stopped())?;
                        written.push((entries[i].sha256, tmp));
                    }
                    let got = reader.next_entry(|_, chunk| -> Result<()> {
                        if !*want {
                            return Ok(());
                        }
                        let mut buf = spare.try_recv().unwrap_or_default();
                        buf.clear();
                        buf.extend_from_slice(chunk);
                        jobs.send(Job::Data(buf)).map_err(|_| writer_stopped())?;
                        tracker.add(chunk.len() as u64);
                        Ok(())
                    })?;
                    if got.is_none() {
                        return Err(PackageError::Truncated(
                            "fewer entries than the manifest".into(),
                        )
                        .into());
                    }
                    if *want {
                        jobs.send(Job::Close).map_err(|_| writer_stopped())?;
                        tracker.file_done();
                    }
                }
                Ok(())
            })();
            drop(jobs);
            let wrote = writer.join().unwrap_or_else(|_| Err(writer_stopped()));
            match (read, wrote) {
                // The reader stopped because the writer did: the writer's error says why.
                (Err(CoreError::Io { context, .. }), Err(w)) if context == WRITER_STOPPED => Err(w),
                (Err(e), _) | (Ok(()), Err(e)) => Err(e),
                (Ok(()), Ok(())) => Ok(()),
            }
        })?;
        let verified = reader.finish()?;

        let source_of = |sha| {
            written
                .iter()
                .find(|(h, _)| *h == sha)
                .map_or_else(|| media.path(&sha), |(_, tmp)| tmp.clone())
        };
        let bodies = lesson_bodies(&verified, source_of)?;
        Ok(StagedCourse {
            temps,
            lock,
            written,
            verified,
            bodies,
        })
    }
}

impl Hearth {
    /// An importer for this device: its media folder, the publisher keys pinned at enrollment
    /// (`content.not_enrolled` before enrollment) and the budget.
    pub fn package_importer(&self) -> Result<PackageImporter> {
        let trusted = self
            .store
            .enrollment()?
            .ok_or(CoreError::ContentNotEnrolled)?
            .publisher_keys;
        self.sweep_dead_imports()?;
        Ok(PackageImporter {
            media: self.media(),
            trusted,
            budget: self.content_budget()?,
            nonce: hex(&self.env.random::<8>()?),
        })
    }

    /// Imports a course package file (see the module documentation for every check). Returns
    /// the installed course; importing a version that is installed already verifies the file
    /// and changes nothing.
    pub fn import_course(&mut self, path: &Path) -> Result<CourseSummary> {
        let staged = self.package_importer()?.stage(path, &mut |_| {})?;
        self.install_staged(staged)
    }

    /// Moves a staged package's files into the cache and installs the course in one
    /// transaction. Files this import added are taken back if either step fails and nothing
    /// installed uses them.
    pub fn install_staged(&mut self, mut staged: StagedCourse) -> Result<CourseSummary> {
        let media = self.media();
        let mut placed = Vec::new();
        let adding: Vec<ContentHash> = staged
            .written
            .iter()
            .filter(|(sha, _)| !media.path(sha).exists())
            .map(|(sha, _)| *sha)
            .collect();
        let moved = staged.lock.record(&adding).and_then(|()| {
            for (sha, tmp) in &staged.written {
                let dest = media.path(sha);
                let existed = dest.exists();
                fs::rename(tmp, &dest)
                    .map_err(CoreError::io(format!("installing {}", dest.display())))?;
                if !existed {
                    placed.push(*sha);
                }
            }
            sync_dir(media.dir())
        });
        let installed = moved.and_then(|()| {
            self.install_fetched(&FetchedCourse {
                manifest: staged.verified.clone(),
                bodies: std::mem::take(&mut staged.bodies),
            })
        });
        match installed {
            Ok(summary) => {
                staged.temps.paths.clear();
                tracing::info!(course = %summary.course, version = summary.version, "course package imported");
                Ok(summary)
            }
            Err(e) => {
                for sha in placed {
                    if !self.store.media_referenced(&sha).unwrap_or(true) {
                        let _ = remove_if_exists(&media.path(&sha));
                    }
                }
                Err(e)
            }
        }
    }
}

impl Hearth {
    /// Removes what imports killed before they finished left in the media folder (see
    /// [`ImportLock`]); run when the store is opened and before each import and download, so
    /// their leftovers never count against the storage budget.
    pub(crate) fn sweep_dead_imports(&self) -> Result<()> {
        sweep_dead_imports(&self.media(), |sha| self.store.media_referenced(sha))?;
        Ok(())
    }
}

impl Hearth {
    /// Writes an installed course version as a package file at `path` (for a USB stick or
    /// another device), through a temporary file beside it that is fsynced and renamed, so a
    /// removed stick or a crash leaves no half package under the final name. Every file is
    /// checked against its hash as it is copied: a damaged cache file is removed and the export
    /// refused with `content.corrupt_media` (download or import the course again).
    pub fn export_course(
        &self,
        course: &CourseId,
        version: u32,
        path: &Path,
    ) -> Result<ExportedPackage> {
        let bytes = self
            .store
            .course_manifest(course, version)?
            .ok_or_else(|| super::not_installed(course, version))?;
        // The stored manifest verified when it was installed; check it was not altered since,
        // under the key that signed it.
        let publisher =
            bytes
                .get(1..33)
                .and_then(PublicKey::from_slice)
                .ok_or(CoreError::Manifest(
                    hearth_protocol::manifest::ManifestError::Truncated,
                ))?;
        let verified = hearth_protocol::manifest::verify(&bytes, &[publisher])?;
        let media = self.media();

        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let temps = Temps {
            paths: vec![tmp.clone()],
        };
        let written = write_package(&media, &verified, &tmp)?;
        fs::rename(&tmp, path).map_err(CoreError::io(format!("writing {}", path.display())))?;
        drop(temps);
        sync_dir(
            path.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        )?;
        Ok(ExportedPackage {
            course: course.clone(),
            version,
            files: written.0,
            bytes: written.1,
            path: path.to_owned(),
        })
    }
}

/// Writes the package of `verified` from the media cache to `tmp`; gives (files, bytes).
fn write_package(
    media: &MediaCache,
    verified: &VerifiedManifest,
    tmp: &Path,
) -> Result<(u32, u64)> {
    let ctx = |what: &str| CoreError::io(format!("{what} {}", tmp.display()));
    let file = fs::File::create(tmp).map_err(ctx("creating"))?;
    let mut out = BufWriter::with_capacity(CHUNK, file);
    let entries = package::write_start(&mut out, verified).map_err(|e| write_error(e, tmp))?;
    for e in &entries {
        let src_path = media.path(&e.sha256);
        let src = match fs::File::open(&src_path) {
            Ok(f) => f,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(CoreError::MediaMissing {
                    sha: e.sha256.to_hex(),
                });
            }
            Err(err) => {
                return Err(CoreError::io(format!("opening {}", src_path.display()))(
                    err,
                ));
            }
        };
        match package::write_entry(&mut out, e, &mut BufReader::with_capacity(CHUNK, src)) {
            Ok(()) => {}
            Err(PackageWriteError::SourceMismatch { .. }) => {
                tracing::warn!(sha = %e.sha256.to_hex(), "cached media damaged; removed");
                remove_if_exists(&src_path)?;
                return Err(CoreError::CorruptMedia {
                    sha: e.sha256.to_hex(),
                });
            }
            Err(err) => return Err(write_error(err, tmp)),
        }
    }
    let file = out
        .into_inner()
        .map_err(|e| ctx("writing")(e.into_error()))?;
    file.sync_all().map_err(ctx("syncing"))?;
    let files = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    Ok((files, package_len(verified.bytes.len(), &entries)))
}

fn write_error(e: PackageWriteError, path: &Path) -> CoreError {
    match e {
        PackageWriteError::Package(p) => p.into(),
        PackageWriteError::Io(io) => CoreError::io(format!("writing {}", path.display()))(io),
        PackageWriteError::SourceMismatch { path } => CoreError::FileMismatch {
            path,
            detail: "the cached copy differs from the manifest".into(),
        },
    }
}

/// The lesson texts by package path, read from where each verified file is now.
fn lesson_bodies(
    verified: &VerifiedManifest,
    source_of: impl Fn(ContentHash) -> PathBuf,
) -> Result<HashMap<String, String>> {
    let m = &verified.manifest;
    let mut bodies = HashMap::new();
    for l in &m.lessons {
        let f = m.file(&l.body).ok_or(CoreError::ManifestMismatch)?;
        let p = source_of(f.sha256);
        let raw = fs::read(&p).map_err(CoreError::io(format!("reading {}", p.display())))?;
        let text = String::from_utf8(raw).map_err(|_| CoreError::FileMismatch {
            path: l.body.clone(),
            detail: "a lesson text is not UTF-8".into(),
        })?;
        bodies.insert(l.body.clone(), text);
    }
    Ok(bodies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_space_keeps_a_reserve() {
        assert!(disk_fits(100, DISK_RESERVE + 100).is_ok());
        let err = disk_fits(100, DISK_RESERVE + 99).unwrap_err();
        assert_eq!(err.code(), "content.disk_full");
        assert!(disk_fits(u64::MAX, u64::MAX).is_err());
    }
}
