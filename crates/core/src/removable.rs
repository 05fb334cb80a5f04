//! Course packages (`.hcp`) and receipt files (`.hrb`) on inserted removable drives, so a trainer
//! picks one from a list instead of typing a path.
//!
//! A *root* is a folder whose sub-folders are mounted drives: on Linux `/media/$USER` and
//! `/run/media/$USER` (where udisks mounts USB sticks), on macOS `/Volumes`. On Windows each
//! drive letter but `C:` that exists is a drive (telling a USB stick from a second disk needs a
//! system call this crate does not make). Roots are injectable, so tests point at a folder made
//! to look like a mounted stick. Each drive is read to [`MAX_DEPTH`] folders deep and at most
//! [`MAX_ENTRIES`] entries, so a large disk cannot stall the list.

use std::path::{Path, PathBuf};

use serde::Serialize;

/// File name ending of a course package.
pub const PACKAGE_EXT: &str = "hcp";
/// File name ending of a receipt file.
pub const RECEIPTS_EXT: &str = "hrb";
/// How deep below a drive's top folder files are looked for (0: the top folder only).
pub const MAX_DEPTH: usize = 1;
/// The most directory entries read per drive.
pub const MAX_ENTRIES: usize = 2_000;

/// A mounted drive and what was found on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Drive {
    /// The drive's folder (where receipts are exported to).
    pub path: String,
    /// Its name as the system shows it (the folder's name: the stick's label).
    pub name: String,
    pub packages: Vec<FoundFile>,
    pub receipts: Vec<FoundFile>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundFile {
    pub path: String,
    pub name: String,
    pub bytes: u64,
}

/// The platform's roots (see the module documentation).
pub fn default_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if cfg!(target_os = "linux") {
        if let Some(user) = std::env::var_os("USER").filter(|u| !u.is_empty()) {
            roots.push(Path::new("/media").join(&user));
            roots.push(Path::new("/run/media").join(&user));
        }
    } else if cfg!(target_os = "macos") {
        roots.push(PathBuf::from("/Volumes"));
    }
    roots
}

/// The drives a platform has mounted under `roots` (Windows: its drive letters), with their
/// packages and receipt files, sorted by name. Unreadable roots and drives are skipped.
pub fn scan(roots: &[PathBuf]) -> Vec<Drive> {
    let mut drives: Vec<PathBuf> = Vec::new();
    for root in roots {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        drives.extend(
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .take(MAX_ENTRIES),
        );
    }
    if cfg!(windows) && roots.is_empty() {
        drives.extend(
            (b'D'..=b'Z')
                .map(|l| PathBuf::from(format!("{}:\\", l as char)))
                .filter(|p| p.is_dir()),
        );
    }
    let mut out: Vec<Drive> = drives.iter().map(|d| drive(d)).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name).then(a.path.cmp(&b.path)));
    out
}

fn drive(dir: &Path) -> Drive {
    let mut found = Drive {
        path: dir.display().to_string(),
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string()),
        packages: Vec::new(),
        receipts: Vec::new(),
    };
    let mut budget = MAX_ENTRIES;
    walk(dir, 0, &mut budget, &mut found);
    for list in [&mut found.packages, &mut found.receipts] {
        list.sort_by(|a, b| a.path.cmp(&b.path));
    }
    found
}

fn walk(dir: &Path, depth: usize, budget: &mut usize, found: &mut Drive) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        // Links are not followed: a stick cannot send the list elsewhere or round in a loop.
        if kind.is_dir() {
            if depth < MAX_DEPTH {
                walk(&path, depth + 1, budget, found);
            }
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        let list = match ext.as_deref() {
            Some(PACKAGE_EXT) => &mut found.packages,
            Some(RECEIPTS_EXT) => &mut found.receipts,
            _ => continue,
        };
        list.push(FoundFile {
            path: path.display().to_string(),
            name: entry.file_name().to_string_lossy().into_owned(),
            bytes: entry.metadata().map(|m| m.len()).unwrap_or(0),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_packages_and_receipts_on_mounted_drives_only() {
        let root = tempfile::tempdir().unwrap();
        let stick = root.path().join("KINGSTON");
        std::fs::create_dir_all(stick.join("courses/deeper")).unwrap();
        std::fs::write(stick.join("electrician-safety.hcp"), b"12345").unwrap();
        std::fs::write(stick.join("courses/elderly-care.HCP"), b"1").unwrap();
        // Two levels down: not looked at.
        std::fs::write(stick.join("courses/deeper/hidden.hcp"), b"1").unwrap();
        std::fs::write(stick.join("hearth-receipts.hrb"), b"12").unwrap();
        std::fs::write(stick.join("notes.txt"), b"x").unwrap();
        // A file beside the drives is not a drive.
        std::fs::write(root.path().join("loose.hcp"), b"1").unwrap();
        let second = root.path().join("EMPTY");
        std::fs::create_dir(&second).unwrap();

        let drives = scan(&[root.path().to_owned(), root.path().join("missing")]);
        let names: Vec<&str> = drives.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["EMPTY", "KINGSTON"]);
        let k = &drives[1];
        let packages: Vec<(&str, u64)> = k
            .packages
            .iter()
            .map(|f| (f.name.as_str(), f.bytes))
            .collect();
        assert_eq!(
            packages,
            [("elderly-care.HCP", 1), ("electrician-safety.hcp", 5)]
        );
        assert_eq!(k.receipts.len(), 1);
        assert_eq!(k.receipts[0].name, "hearth-receipts.hrb");
        assert!(drives[0].packages.is_empty() && drives[0].receipts.is_empty());
    }
}
