//! Export of a published course version as one package file (`hearth_protocol::package`,
//! docs/package-format.md), for training rooms without internet: a trainer carries it on a USB
//! stick and imports it with `hearth import-course`.

use std::fs;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use hearth_protocol::manifest;
use hearth_protocol::package::{self, CHUNK, PackageWriteError};

use super::{Service, ServiceError, ServiceResult};

/// What [`Service::export_package`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedPackage {
    pub course: String,
    pub version: u32,
    /// Distinct files in the package.
    pub files: usize,
    /// Bytes of the package file.
    pub bytes: u64,
}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> ServiceError {
    let ctx = format!("{what} {}", path.display());
    move |e| ServiceError::Internal(format!("{ctx}: {e}"))
}

/// Removes the temporary file unless the export got to the rename.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = fs::remove_file(p);
        }
    }
}

impl Service {
    /// Writes a published course version (the latest without `version`) to `out` as a package
    /// file: through `OUT.partial`, fsynced, then renamed, so an interrupted export never leaves
    /// a half package under the final name. Every stored file is checked against the signed
    /// manifest as it is copied.
    pub fn export_package(
        &self,
        course: &str,
        version: Option<u32>,
        out: &Path,
    ) -> ServiceResult<ExportedPackage> {
        let record = match version {
            Some(v) => self.store.package(course, v)?,
            None => self.store.latest_package(course)?,
        }
        .ok_or(ServiceError::NotFound(
            "course.not_found",
            "no such course version is published",
        ))?;
        let verified = manifest::verify(&record.manifest, &[self.keys.publisher_public()])
            .map_err(|e| ServiceError::Internal(format!("stored manifest: {e}")))?;

        let mut tmp = out.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let mut guard = TempFile(Some(tmp.clone()));
        let file = fs::File::create(&tmp).map_err(io_err("creating", &tmp))?;
        let mut w = BufWriter::with_capacity(CHUNK, file);
        let write_err = |e: PackageWriteError| match e {
            PackageWriteError::Package(p) => {
                ServiceError::Invalid("package.refused", format!("{}: {p}", p.code()))
            }
            PackageWriteError::SourceMismatch { path } => ServiceError::Internal(format!(
                "the stored file of {path} does not match its manifest entry"
            )),
            PackageWriteError::Io(e) => {
                ServiceError::Internal(format!("writing {}: {e}", tmp.display()))
            }
        };
        let entries = package::write_start(&mut w, &verified).map_err(write_err)?;
        for e in &entries {
            let blob = self.blob_path(&e.sha256);
            let src = fs::File::open(&blob).map_err(io_err("opening", &blob))?;
            package::write_entry(&mut w, e, &mut BufReader::with_capacity(CHUNK, src))
                .map_err(write_err)?;
        }
        let file = w
            .into_inner()
            .map_err(|e| io_err("writing", &tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err("syncing", &tmp))?;
        drop(file);
        fs::rename(&tmp, out).map_err(io_err("writing", out))?;
        guard.0 = None;
        #[cfg(unix)]
        {
            let dir = out
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("syncing", dir))?;
        }
        Ok(ExportedPackage {
            course: record.course,
            version: record.version,
            files: entries.len(),
            bytes: package::package_len(verified.bytes.len(), &entries),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use hearth_protocol::package::PackageReader;

    use crate::Service;
    use crate::env::{SystemClock, SystemRandom};

    #[test]
    fn a_published_course_exports_to_a_package_that_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let svc = Service::open(
            &dir.path().join("svc"),
            Arc::new(SystemClock),
            Arc::new(SystemRandom::default()),
        )
        .unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("lessons")).unwrap();
        std::fs::write(src.join("lessons/l1.md"), "# 第一课\n").unwrap();
        std::fs::write(
            src.join("course.toml"),
            "id = \"c1\"\nversion = 1\ntitle = \"课\"\n[[lessons]]\nid = \"l1\"\ntitle = \"一\"\nbody = \"lessons/l1.md\"\ncredit_minutes = 1\n",
        )
        .unwrap();
        svc.publish(&src).unwrap();
        let out = dir.path().join("c1.hcp");
        let e = svc.export_package("c1", None, &out).unwrap();
        assert_eq!((e.version, e.files), (1, 1));
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(bytes.len() as u64, e.bytes);
        let mut r = PackageReader::open(&bytes[..], &[svc.keys.publisher_public()]).unwrap();
        let mut text = Vec::new();
        r.next_entry(|_, b| {
            text.extend_from_slice(b);
            Ok::<_, hearth_protocol::package::PackageError>(())
        })
        .unwrap();
        assert_eq!(text, "# 第一课\n".as_bytes());
        r.finish().unwrap();
        assert!(!dir.path().join("c1.hcp.partial").exists());

        let err = svc.export_package("c1", Some(2), &out).unwrap_err();
        assert_eq!(err.code(), "course.not_found");
    }
}
