//! One-file course packages, for carrying a course on a USB stick or a shared folder.
//!
//! ```text
//! package  = header || manifest || entry*
//! header   = "HCP1" || format version:u8 (=1) || flags:u8 (=0) || manifest_len:u32 LE
//! manifest = the signed manifest bytes (see `manifest`), manifest_len of them
//! entry    = sha256:[u8; 32] || size:u64 LE || size bytes
//! ```
//!
//! The entries are the manifest's distinct files (by SHA-256), in the order the manifest first
//! names them, and nothing follows the last one. The signed manifest is the only index: the
//! entry headers are framing that a reader checks against it (an entry must be the one the
//! manifest says comes next, with the size the manifest gives), so an unsigned part can never
//! make a reader accept anything the publisher did not sign. Nothing is compressed: course media
//! (video, audio, pictures) is compressed already, and bytes stored verbatim mean that what a
//! reader writes is bounded by the signed sizes, so there is no decompression bomb to defuse.
//!
//! This module does no I/O of its own: [`PackageReader`] reads any [`Read`] and hands each
//! entry's bytes to the caller as they arrive (a 200 MB package never sits in memory), hashing
//! them on the way and refusing the entry at its end if the hash differs; the writer functions
//! write to any [`Write`]. Opening, temporary files and installing are the caller's.
//! The format is described for people in `docs/package-format.md`.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use ring::digest;

use crate::ids::{ContentHash, PublicKey};
use crate::manifest::{
    self, FileEntry, MAX_FILE_SIZE, MAX_FILES, MAX_MANIFEST_LEN, Manifest, ManifestError,
    VerifiedManifest, check_path,
};

pub const PACKAGE_MAGIC: &[u8; 4] = b"HCP1";
pub const PACKAGE_VERSION: u8 = 1;
/// Bytes of the header: magic, version, flags, manifest length.
pub const PACKAGE_HEADER_LEN: usize = 4 + 1 + 1 + 4;
/// Bytes of an entry's header: SHA-256 and size.
pub const ENTRY_HEADER_LEN: usize = 32 + 8;
/// Largest manifest a package may carry (the manifest's own limit).
pub const MAX_PACKAGE_MANIFEST: usize = MAX_MANIFEST_LEN;
/// Most entries (distinct files) in one package (the manifest's own limit).
pub const MAX_PACKAGE_FILES: usize = MAX_FILES;
/// Largest single file in a package (the manifest's own limit).
pub const MAX_PACKAGE_FILE: u64 = MAX_FILE_SIZE;
/// Most bytes of all files of one package together.
pub const MAX_PACKAGE_CONTENT: u64 = 8 * 1024 * 1024 * 1024;
/// Largest lesson text: it is read into memory and stored in the database.
pub const MAX_LESSON_TEXT: u64 = 8 * 1024 * 1024;
/// Bytes handed to the caller at a time.
pub const CHUNK: usize = 256 * 1024;

/// Why a package file is refused. Each has a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    #[error("not a Hearth course package")]
    BadMagic,
    #[error("course package format version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the package uses features this version does not know (flags {0:#04x})")]
    UnsupportedFlags(u8),
    #[error("the package is cut off ({0})")]
    Truncated(String),
    #[error("the package's manifest is {0} bytes, more than allowed")]
    ManifestTooLarge(u64),
    #[error("the package's manifest was refused: {0}")]
    Manifest(ManifestError),
    #[error("the package names an unsafe file path {0:?}")]
    UnsafePath(String),
    #[error("the package holds {0} twice")]
    DuplicateEntry(String),
    #[error("the package has {0} files, more than allowed")]
    TooManyFiles(usize),
    #[error("the package's file {path} is {size} bytes, more than allowed")]
    FileTooLarge { path: String, size: u64 },
    #[error("the package's files add up to {0} bytes, more than allowed")]
    TooLarge(u64),
    #[error("entry {index} of the package is not the file its manifest names next ({path})")]
    UnexpectedEntry { index: usize, path: String },
    #[error("the package's file {path} is {found} bytes, but its manifest says {declared}")]
    SizeMismatch {
        path: String,
        declared: u64,
        found: u64,
    },
    #[error("the package's file {path} does not match the SHA-256 its manifest gives")]
    HashMismatch { path: String },
    #[error("the package has bytes after its last file")]
    TrailingData,
    #[error("the package file cannot be read ({0})")]
    Read(io::ErrorKind),
}

impl PackageError {
    pub fn code(&self) -> &'static str {
        match self {
            PackageError::BadMagic => "package.bad_magic",
            PackageError::UnsupportedVersion(_) => "package.unsupported_version",
            PackageError::UnsupportedFlags(_) => "package.unsupported_flags",
            PackageError::Truncated(_) => "package.truncated",
            PackageError::ManifestTooLarge(_) => "package.manifest_too_large",
            PackageError::Manifest(m) => m.code(),
            PackageError::UnsafePath(_) => "package.unsafe_path",
            PackageError::DuplicateEntry(_) => "package.duplicate_entry",
            PackageError::TooManyFiles(_) => "package.too_many_files",
            PackageError::FileTooLarge { .. } => "package.file_too_large",
            PackageError::TooLarge(_) => "package.too_large",
            PackageError::UnexpectedEntry { .. } => "package.unexpected_entry",
            PackageError::SizeMismatch { .. } => "package.size_mismatch",
            PackageError::HashMismatch { .. } => "package.hash_mismatch",
            PackageError::TrailingData => "package.trailing_data",
            PackageError::Read(_) => "package.read_failed",
        }
    }
}

impl From<ManifestError> for PackageError {
    fn from(e: ManifestError) -> Self {
        PackageError::Manifest(e)
    }
}

/// The header for a package carrying a manifest of `manifest_len` bytes.
pub fn encode_header(manifest_len: usize) -> Result<[u8; PACKAGE_HEADER_LEN], PackageError> {
    if manifest_len > MAX_PACKAGE_MANIFEST {
        return Err(PackageError::ManifestTooLarge(manifest_len as u64));
    }
    let len = u32::try_from(manifest_len)
        .map_err(|_| PackageError::ManifestTooLarge(manifest_len as u64))?;
    let mut h = [0u8; PACKAGE_HEADER_LEN];
    h[..4].copy_from_slice(PACKAGE_MAGIC);
    h[4] = PACKAGE_VERSION;
    h[5] = 0;
    h[6..].copy_from_slice(&len.to_le_bytes());
    Ok(h)
}

/// Checks a header; gives the manifest length.
pub fn decode_header(h: &[u8; PACKAGE_HEADER_LEN]) -> Result<usize, PackageError> {
    if &h[..4] != PACKAGE_MAGIC {
        return Err(PackageError::BadMagic);
    }
    if h[4] != PACKAGE_VERSION {
        return Err(PackageError::UnsupportedVersion(h[4]));
    }
    if h[5] != 0 {
        return Err(PackageError::UnsupportedFlags(h[5]));
    }
    let len = u32::from_le_bytes([h[6], h[7], h[8], h[9]]);
    let len = usize::try_from(len).map_err(|_| PackageError::ManifestTooLarge(len.into()))?;
    if len > MAX_PACKAGE_MANIFEST {
        return Err(PackageError::ManifestTooLarge(len as u64));
    }
    Ok(len)
}

/// The entries of a package for this manifest: its distinct files by SHA-256, in the order the
/// manifest first names them, after checking the package limits.
pub fn entries(m: &Manifest) -> Result<Vec<FileEntry>, PackageError> {
    if m.files.len() > MAX_PACKAGE_FILES {
        return Err(PackageError::TooManyFiles(m.files.len()));
    }
    let mut paths = HashSet::new();
    let mut seen: Vec<(ContentHash, u64)> = Vec::new();
    let mut out = Vec::new();
    let mut total = 0u64;
    for f in &m.files {
        check_path(&f.path).map_err(|_| PackageError::UnsafePath(f.path.clone()))?;
        if !paths.insert(f.path.as_str()) {
            return Err(PackageError::DuplicateEntry(f.path.clone()));
        }
        if f.size > MAX_PACKAGE_FILE {
            return Err(PackageError::FileTooLarge {
                path: f.path.clone(),
                size: f.size,
            });
        }
        match seen.iter().find(|(sha, _)| *sha == f.sha256) {
            // The same bytes under two paths: one entry, and both must agree on its size.
            Some((_, size)) if *size != f.size => {
                return Err(PackageError::SizeMismatch {
                    path: f.path.clone(),
                    declared: f.size,
                    found: *size,
                });
            }
            Some(_) => {}
            None => {
                seen.push((f.sha256, f.size));
                total = total.saturating_add(f.size);
                out.push(f.clone());
            }
        }
    }
    if total > MAX_PACKAGE_CONTENT {
        return Err(PackageError::TooLarge(total));
    }
    for l in &m.lessons {
        if let Some(f) = m.file(&l.body)
            && f.size > MAX_LESSON_TEXT
        {
            return Err(PackageError::FileTooLarge {
                path: f.path.clone(),
                size: f.size,
            });
        }
    }
    Ok(out)
}

/// The length of the package file for a manifest of `manifest_len` bytes and these entries.
pub fn package_len(manifest_len: usize, entries: &[FileEntry]) -> u64 {
    entries
        .iter()
        .fold((PACKAGE_HEADER_LEN + manifest_len) as u64, |acc, e| {
            acc.saturating_add(ENTRY_HEADER_LEN as u64)
                .saturating_add(e.size)
        })
}

/// Verifies signed manifest bytes for a package. A manifest whose signature verifies but that
/// breaks a rule is looked at again, so the refusal names the rule (an unsafe path, a duplicate,
/// too many or too large files) rather than only "invalid".
pub fn verify_manifest(
    bytes: &[u8],
    trusted: &[PublicKey],
) -> Result<(VerifiedManifest, Vec<FileEntry>), PackageError> {
    match manifest::verify(bytes, trusted) {
        Ok(v) => {
            let e = entries(&v.manifest)?;
            Ok((v, e))
        }
        Err(ManifestError::Invalid(msg)) => {
            // The signature verified and the body parsed; only a rule failed.
            let body = bytes
                .get(manifest::MANIFEST_HEADER_LEN..)
                .unwrap_or_default();
            match serde_json::from_slice::<Manifest>(body) {
                Ok(m) => match entries(&m) {
                    Err(e) => Err(e),
                    Ok(_) => Err(ManifestError::Invalid(msg).into()),
                },
                Err(_) => Err(ManifestError::Invalid(msg).into()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// Fills `buf` from `r`; `Truncated` if the input ends first.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), PackageError> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(PackageError::Truncated(format!(
                    "{what}: {got} of {} bytes",
                    buf.len()
                )));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(PackageError::Read(e.kind())),
        }
    }
    Ok(())
}

/// Reads a package as a stream: the header and manifest at [`PackageReader::open`], then one
/// entry per [`PackageReader::next_entry`], then [`PackageReader::finish`].
#[derive(Debug)]
pub struct PackageReader<R> {
    inner: R,
    manifest: VerifiedManifest,
    entries: Vec<FileEntry>,
    next: usize,
    buf: Vec<u8>,
}

impl<R: Read> PackageReader<R> {
    /// Reads and checks the header, then reads the manifest and verifies it against the trusted
    /// publisher keys and the package limits. No file byte is read yet.
    pub fn open(mut inner: R, trusted: &[PublicKey]) -> Result<Self, PackageError> {
        let mut h = [0u8; PACKAGE_HEADER_LEN];
        // An input shorter than the magic cannot be a package at all.
        read_full(&mut inner, &mut h[..4], "header")?;
        if &h[..4] != PACKAGE_MAGIC {
            return Err(PackageError::BadMagic);
        }
        read_full(&mut inner, &mut h[4..], "header")?;
        let len = decode_header(&h)?;
        let mut bytes = vec![0u8; len];
        read_full(&mut inner, &mut bytes, "manifest")?;
        let (manifest, entries) = verify_manifest(&bytes, trusted)?;
        Ok(Self {
            inner,
            manifest,
            entries,
            next: 0,
            buf: vec![0u8; CHUNK],
        })
    }

    pub fn manifest(&self) -> &VerifiedManifest {
        &self.manifest
    }

    /// The entries still to come and those read, in package order.
    pub fn entries(&self) -> &[FileEntry] {
        &self.entries
    }

    /// Reads the next entry, handing its bytes to `sink` as they arrive, and checks its SHA-256
    /// at its end: on a mismatch the error comes after the sink has seen every byte, so the sink
    /// must not treat what it got as good until this returns `Ok`. `None` after the last entry.
    pub fn next_entry<E: From<PackageError>>(
        &mut self,
        mut sink: impl FnMut(&FileEntry, &[u8]) -> Result<(), E>,
    ) -> Result<Option<FileEntry>, E> {
        let Some(entry) = self.entries.get(self.next).cloned() else {
            return Ok(None);
        };
        let index = self.next;
        self.next += 1;
        let mut h = [0u8; ENTRY_HEADER_LEN];
        read_full(&mut self.inner, &mut h, &format!("entry {index} header"))?;
        let (sha, size) = h.split_at(32);
        if sha != entry.sha256.0 {
            let dup = self.entries[..index].iter().any(|e| e.sha256.0 == sha);
            return Err(if dup {
                PackageError::DuplicateEntry(format!("entry {index}"))
            } else {
                PackageError::UnexpectedEntry {
                    index,
                    path: entry.path.clone(),
                }
            }
            .into());
        }
        let size = u64::from_le_bytes(size.try_into().expect("8 bytes"));
        if size != entry.size {
            return Err(PackageError::SizeMismatch {
                path: entry.path.clone(),
                declared: entry.size,
                found: size,
            }
            .into());
        }
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut left = entry.size;
        while left > 0 {
            let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
            let n = match self.inner.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(PackageError::Truncated(format!(
                        "{}: {} of {} bytes",
                        entry.path,
                        entry.size - left,
                        entry.size
                    ))
                    .into());
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(PackageError::Read(e.kind()).into()),
            };
            ctx.update(&self.buf[..n]);
            sink(&entry, &self.buf[..n])?;
            left -= n as u64;
        }
        if ctx.finish().as_ref() != entry.sha256.0 {
            return Err(PackageError::HashMismatch {
                path: entry.path.clone(),
            }
            .into());
        }
        Ok(Some(entry))
    }

    /// Checks that every entry was read and nothing follows the last one.
    pub fn finish(mut self) -> Result<VerifiedManifest, PackageError> {
        if self.next < self.entries.len() {
            return Err(PackageError::Truncated("entries left unread".into()));
        }
        let mut one = [0u8; 1];
        loop {
            match self.inner.read(&mut one) {
                Ok(0) => return Ok(self.manifest),
                Ok(_) => return Err(PackageError::TrailingData),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(PackageError::Read(e.kind())),
            }
        }
    }
}

/// Why writing a package failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageWriteError {
    #[error("the package is refused: {0}")]
    Package(#[from] PackageError),
    /// The source of a file gave other bytes than the manifest names (a damaged copy).
    #[error("the source of {path} does not match its manifest entry")]
    SourceMismatch { path: String },
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Writes the header and the signed manifest; gives the entries to write next, in order.
pub fn write_start<W: Write>(
    out: &mut W,
    manifest: &VerifiedManifest,
) -> Result<Vec<FileEntry>, PackageWriteError> {
    let entries = entries(&manifest.manifest)?;
    out.write_all(&encode_header(manifest.bytes.len())?)?;
    out.write_all(&manifest.bytes)?;
    Ok(entries)
}

/// Writes one entry, copying its bytes from `src` and checking them against the entry (size
/// and SHA-256) as they pass, so a damaged source is never passed on silently: on a mismatch
/// the output is incomplete and must be thrown away.
pub fn write_entry<W: Write, R: Read>(
    out: &mut W,
    entry: &FileEntry,
    src: &mut R,
) -> Result<(), PackageWriteError> {
    out.write_all(&entry.sha256.0)?;
    out.write_all(&entry.size.to_le_bytes())?;
    let mismatch = || PackageWriteError::SourceMismatch {
        path: entry.path.clone(),
    };
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; CHUNK];
    let mut left = entry.size;
    while left > 0 {
        let want = usize::try_from(left).map_or(CHUNK, |l| l.min(CHUNK));
        let n = match src.read(&mut buf[..want]) {
            Ok(0) => return Err(mismatch()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        ctx.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    if ctx.finish().as_ref() != entry.sha256.0 || src.read(&mut buf[..1])? != 0 {
        return Err(mismatch());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{CourseId, LessonId};
    use crate::manifest::Lesson;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    fn key(seed: u8) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
    }

    fn sample(files: &[(&str, &[u8])]) -> Manifest {
        Manifest {
            still_valid: Vec::new(),
            checks: Vec::new(),
            course: CourseId::new("c").unwrap(),
            version: 1,
            title: "课".into(),
            description: String::new(),
            language: "zh-CN".into(),
            published_ms: 1,
            credit_ms: None,
            occupation: None,
            occupation_level: None,
            lessons: vec![Lesson {
                id: LessonId::new("l1").unwrap(),
                title: "一".into(),
                body: files[0].0.into(),
                media: vec![],
                credit_ms: 1,
            }],
            quizzes: vec![],
            exams: vec![],
            files: files
                .iter()
                .map(|(p, b)| FileEntry {
                    path: (*p).into(),
                    sha256: ContentHash::of(b),
                    size: b.len() as u64,
                    media_type: "text/markdown".into(),
                    duration_ms: None,
                })
                .collect(),
        }
    }

    fn package(files: &[(&str, &[u8])]) -> (Vec<u8>, PublicKey) {
        let k = key(3);
        let signed = sample(files).sign(&k).unwrap();
        let pk = PublicKey::from_slice(k.public_key().as_ref()).unwrap();
        let v = manifest::verify(&signed, &[pk]).unwrap();
        let mut out = Vec::new();
        for e in write_start(&mut out, &v).unwrap() {
            let bytes = files.iter().find(|(p, _)| *p == e.path).unwrap().1;
            write_entry(&mut out, &e, &mut &bytes[..]).unwrap();
        }
        (out, pk)
    }

    fn read_all(bytes: &[u8], pk: PublicKey) -> Result<Vec<Vec<u8>>, PackageError> {
        let mut r = PackageReader::open(bytes, &[pk])?;
        let mut files = Vec::new();
        loop {
            let mut got = Vec::new();
            let e = r.next_entry(|_, b| {
                got.extend_from_slice(b);
                Ok::<_, PackageError>(())
            })?;
            if e.is_none() {
                break;
            }
            files.push(got);
        }
        r.finish()?;
        Ok(files)
    }

    #[test]
    fn round_trip_shares_equal_files_and_every_cut_is_refused() {
        let (bytes, pk) = package(&[("a.md", b"# a"), ("b.md", b"bbbb"), ("c.md", b"# a")]);
        assert_eq!(
            read_all(&bytes, pk).unwrap(),
            vec![b"# a".to_vec(), b"bbbb".to_vec()]
        );
        let mlen = decode_header(bytes[..PACKAGE_HEADER_LEN].try_into().unwrap()).unwrap();
        let es = entries(&sample(&[
            ("a.md", b"# a"),
            ("b.md", b"bbbb"),
            ("c.md", b"# a"),
        ]))
        .unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(bytes.len() as u64, package_len(mlen, &es));
        for cut in 0..bytes.len() {
            let err = read_all(&bytes[..cut], pk).unwrap_err();
            assert!(
                matches!(err, PackageError::Truncated(_)),
                "cut at {cut}: {err:?}"
            );
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(read_all(&extra, pk), Err(PackageError::TrailingData));
    }

    #[test]
    fn header_refusals() {
        let (bytes, pk) = package(&[("a.md", b"# a")]);
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(read_all(&bad, pk), Err(PackageError::BadMagic));
        let mut bad = bytes.clone();
        bad[4] = 2;
        assert_eq!(read_all(&bad, pk), Err(PackageError::UnsupportedVersion(2)));
        let mut bad = bytes.clone();
        bad[5] = 1;
        assert_eq!(read_all(&bad, pk), Err(PackageError::UnsupportedFlags(1)));
        let mut bad = bytes.clone();
        bad[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            read_all(&bad, pk),
            Err(PackageError::ManifestTooLarge(u32::MAX.into()))
        );
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(
            read_all(&bad, pk),
            Err(PackageError::HashMismatch {
                path: "a.md".into()
            })
        );
    }
}
