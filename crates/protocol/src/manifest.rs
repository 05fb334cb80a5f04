//! The signed course-package manifest.
//!
//! A package is this manifest plus its files. The manifest names every file with its SHA-256 and
//! size, and is signed by the publisher's Ed25519 key. Like receipts, it is verified before it is
//! parsed, and the signed bytes are kept and passed on unchanged.
//!
//! ```text
//! signed   = version:u8 (=1) || publisher key:[u8; 32] || signature:[u8; 64] || body
//! signature = Ed25519(publisher key, "HEARTH/manifest/1\0" || body)
//! body     = UTF-8 JSON of `Manifest`
//! ```
//!
//! Practice quizzes carry their answer keys (the client gives feedback at once); exams do not:
//! exam answer keys stay on the service, which grades exam receipts.

use std::collections::HashSet;

use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::ids::{ContentHash, CourseId, ExamId, ItemId, LessonId, PublicKey, QuizId, check_slug};

pub const MANIFEST_VERSION: u8 = 1;
pub const MANIFEST_DOMAIN: &[u8] = b"HEARTH/manifest/1\0";
/// Bytes before the body: version, publisher key, signature.
pub const MANIFEST_HEADER_LEN: usize = 1 + 32 + 64;
/// Largest signed manifest accepted.
pub const MAX_MANIFEST_LEN: usize = 1024 * 1024;
/// Largest single file of a package.
pub const MAX_FILE_SIZE: u64 = 2 * 1024 * 1024 * 1024;
pub const MAX_FILES: usize = 2_000;
/// Most older versions one manifest may mark as still valid.
pub const MAX_STILL_VALID: usize = 100;
pub const MAX_LESSONS: usize = 500;
pub const MAX_ITEMS: usize = 1_000;
pub const MAX_OPTIONS: usize = 16;
pub const MAX_PATH_DEPTH: usize = 4;

/// Why a manifest is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest is shorter than its header")]
    Truncated,
    #[error("manifest format version {0} is not supported")]
    UnsupportedVersion(u8),
    #[error("the manifest is larger than allowed")]
    TooLarge,
    #[error("the manifest is signed by a publisher that is not trusted")]
    UnknownPublisher,
    #[error("the manifest signature does not verify")]
    BadSignature,
    #[error("the manifest cannot be decoded")]
    Malformed,
    #[error("the manifest is invalid: {0}")]
    Invalid(String),
}

impl ManifestError {
    pub fn code(&self) -> &'static str {
        match self {
            ManifestError::Truncated => "manifest.truncated",
            ManifestError::UnsupportedVersion(_) => "manifest.unsupported_version",
            ManifestError::TooLarge => "manifest.too_large",
            ManifestError::UnknownPublisher => "manifest.unknown_publisher",
            ManifestError::BadSignature => "manifest.bad_signature",
            ManifestError::Malformed => "manifest.malformed",
            ManifestError::Invalid(_) => "manifest.invalid",
        }
    }
}

/// One file of the package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    /// Relative path: 1 to 4 `/`-separated slugs (see [`check_path`]).
    pub path: String,
    pub sha256: ContentHash,
    pub size: u64,
    /// `text/markdown`, `text/html`, `video/mp4`, `audio/mpeg`, `image/png`, ...
    pub media_type: String,
    /// Play length of audio and video, which bounds the study time credited for watching it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lesson {
    pub id: LessonId,
    pub title: String,
    /// Path of the lesson text (Markdown or HTML), one of the package files.
    pub body: String,
    /// Paths of the lesson's media files.
    #[serde(default)]
    pub media: Vec<String>,
    /// Most study time credited for this lesson (milliseconds).
    pub credit_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuizItem {
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    /// The indices of the right options (practice quizzes only).
    pub correct: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quiz {
    pub id: QuizId,
    pub lesson: LessonId,
    pub items: Vec<QuizItem>,
}

/// An attention check question, asked at a random moment while its lesson is studied. Published
/// without its answer: the key stays on the service, which grades the `check_answered` receipt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckQuestion {
    pub id: ItemId,
    pub lesson: LessonId,
    pub prompt: String,
    pub options: Vec<String>,
}

/// An exam item as published: no answer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExamItem {
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    /// More than one option may be chosen.
    pub multiple: bool,
    pub points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Exam {
    pub id: ExamId,
    pub title: String,
    pub duration_min: u32,
    /// Percentage of the points needed to pass.
    pub pass_percent: u8,
    pub items: Vec<ExamItem>,
    /// Attempts a learner may make (the service's default, 3, when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
}

/// What a package holds. The publisher's key is in the signed header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub course: CourseId,
    pub version: u32,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// BCP 47 language tag, `zh-CN` first.
    pub language: String,
    pub published_ms: i64,
    /// The course's declared study time (学时) that completion needs credited; the sum of the
    /// lessons' `creditMs` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credit_ms: Option<u64>,
    /// The occupation the course trains for: a code of the 2022 national occupation
    /// classification (职业分类大典), e.g. `6-31-01-03`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation: Option<String>,
    /// The skill level (职业技能等级) it prepares for: 1 (高级技师) to 5 (初级工).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupation_level: Option<u8>,
    pub lessons: Vec<Lesson>,
    #[serde(default)]
    pub quizzes: Vec<Quiz>,
    #[serde(default)]
    pub exams: Vec<Exam>,
    pub files: Vec<FileEntry>,
    /// Older versions of this course that the publisher says are still valid beside this one:
    /// a device that has this version may still install one of them (a class that began on it
    /// finishes on it). Any other older version is refused as a downgrade. Absent: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub still_valid: Vec<u32>,
    /// Attention check questions (without answers). Absent: the course has none, and the app
    /// asks only "are you still here?".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckQuestion>,
}

/// Checks a package path: 1 to [`MAX_PATH_DEPTH`] segments separated by `/`, each a slug (so no
/// `..`, no absolute path, no backslash, no drive letter, no upper case that could collide on a
/// case-insensitive file system).
pub fn check_path(path: &str) -> Result<(), ManifestError> {
    let parts: Vec<&str> = path.split('/').collect();
    if parts.len() > MAX_PATH_DEPTH || parts.iter().any(|p| check_slug(p).is_err()) {
        return Err(ManifestError::Invalid(format!("bad file path {path:?}")));
    }
    Ok(())
}

/// `D-DD-DD-DD`: the shape of an occupation code of the 2022 classification.
pub fn is_occupation_code(code: &str) -> bool {
    let parts: Vec<&str> = code.split('-').collect();
    parts.len() == 4
        && parts[0].len() == 1
        && parts[1..].iter().all(|p| p.len() == 2)
        && parts.iter().all(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

impl Manifest {
    /// Checks everything the types do not: bounded counts, safe unique paths, references that
    /// resolve, item options within limits.
    pub fn check(&self) -> Result<(), ManifestError> {
        let inv = |m: String| Err(ManifestError::Invalid(m));
        if let Some(code) = &self.occupation
            && !is_occupation_code(code)
        {
            return inv(format!("occupation {code:?} is not a code like 6-31-01-03"));
        }
        if self.occupation_level.is_some_and(|l| !(1..=5).contains(&l)) {
            return inv("occupation_level is 1 to 5".into());
        }
        if self.occupation_level.is_some() && self.occupation.is_none() {
            return inv("occupation_level without an occupation".into());
        }
        if self.files.len() > MAX_FILES
            || self.lessons.len() > MAX_LESSONS
            || self.lessons.is_empty()
        {
            return inv("file or lesson count out of range".into());
        }
        let mut paths = HashSet::new();
        for f in &self.files {
            check_path(&f.path)?;
            if !paths.insert(f.path.as_str()) {
                return inv(format!("duplicate file {}", f.path));
            }
            if f.size > MAX_FILE_SIZE {
                return inv(format!("file {} too large", f.path));
            }
        }
        let mut older = HashSet::new();
        for &v in &self.still_valid {
            if v == 0 || v >= self.version || !older.insert(v) {
                return inv(format!(
                    "stillValid {v}: each must be an older version, listed once"
                ));
            }
        }
        if self.still_valid.len() > MAX_STILL_VALID {
            return inv("stillValid lists too many versions".into());
        }
        let mut lessons = HashSet::new();
        for l in &self.lessons {
            if !lessons.insert(&l.id) {
                return inv(format!("duplicate lesson {}", l.id));
            }
            for p in std::iter::once(&l.body).chain(&l.media) {
                if !paths.contains(p.as_str()) {
                    return inv(format!("lesson {} names missing file {p}", l.id));
                }
            }
        }
        let mut quizzes = HashSet::new();
        let mut items = 0usize;
        for q in &self.quizzes {
            if !quizzes.insert(&q.id) || !lessons.contains(&q.lesson) {
                return inv(format!("quiz {} duplicate or for an unknown lesson", q.id));
            }
            let mut ids = HashSet::new();
            for it in &q.items {
                items += 1;
                if !ids.insert(&it.id)
                    || it.options.len() > MAX_OPTIONS
                    || it
                        .correct
                        .iter()
                        .any(|&c| usize::from(c) >= it.options.len())
                {
                    return inv(format!("quiz {} item {} invalid", q.id, it.id));
                }
            }
        }
        let mut checks = HashSet::new();
        for c in &self.checks {
            items += 1;
            if !checks.insert(&c.id)
                || !lessons.contains(&c.lesson)
                || c.options.len() < 2
                || c.options.len() > MAX_OPTIONS
            {
                return inv(format!("check {} invalid", c.id));
            }
        }
        let mut exams = HashSet::new();
        for e in &self.exams {
            if !exams.insert(&e.id) || e.pass_percent > 100 {
                return inv(format!("exam {} duplicate or invalid", e.id));
            }
            let mut ids = HashSet::new();
            for it in &e.items {
                items += 1;
                if !ids.insert(&it.id) || it.options.len() > MAX_OPTIONS {
                    return inv(format!("exam {} item {} invalid", e.id, it.id));
                }
            }
        }
        if items > MAX_ITEMS {
            return inv("too many items".into());
        }
        Ok(())
    }

    /// The file entry at `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Checks and signs the manifest with the publisher's key, giving the signed bytes.
    pub fn sign(&self, key: &Ed25519KeyPair) -> Result<Vec<u8>, ManifestError> {
        self.check()?;
        let body = serde_json::to_vec(self).map_err(|_| ManifestError::Malformed)?;
        let mut msg = MANIFEST_DOMAIN.to_vec();
        msg.extend_from_slice(&body);
        let sig = key.sign(&msg);
        let mut out = Vec::with_capacity(MANIFEST_HEADER_LEN + body.len());
        out.push(MANIFEST_VERSION);
        out.extend_from_slice(key.public_key().as_ref());
        out.extend_from_slice(sig.as_ref());
        out.extend_from_slice(&body);
        if out.len() > MAX_MANIFEST_LEN {
            return Err(ManifestError::TooLarge);
        }
        Ok(out)
    }
}

/// A manifest whose signature was checked against a trusted publisher key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedManifest {
    pub publisher: PublicKey,
    pub manifest: Manifest,
    /// The signed bytes exactly as received.
    pub bytes: Vec<u8>,
}

/// Verifies signed manifest bytes against the pinned publisher keys, then parses and checks them.
pub fn verify(bytes: &[u8], trusted: &[PublicKey]) -> Result<VerifiedManifest, ManifestError> {
    if bytes.len() <= MANIFEST_HEADER_LEN {
        return Err(ManifestError::Truncated);
    }
    if bytes[0] != MANIFEST_VERSION {
        return Err(ManifestError::UnsupportedVersion(bytes[0]));
    }
    if bytes.len() > MAX_MANIFEST_LEN {
        return Err(ManifestError::TooLarge);
    }
    let publisher = PublicKey::from_slice(&bytes[1..33]).ok_or(ManifestError::Truncated)?;
    if !trusted.contains(&publisher) {
        return Err(ManifestError::UnknownPublisher);
    }
    let sig = &bytes[33..MANIFEST_HEADER_LEN];
    let body = &bytes[MANIFEST_HEADER_LEN..];
    let mut msg = MANIFEST_DOMAIN.to_vec();
    msg.extend_from_slice(body);
    UnparsedPublicKey::new(&ED25519, publisher.as_bytes())
        .verify(&msg, sig)
        .map_err(|_| ManifestError::BadSignature)?;
    let manifest: Manifest = serde_json::from_slice(body).map_err(|_| ManifestError::Malformed)?;
    manifest.check()?;
    Ok(VerifiedManifest {
        publisher,
        manifest,
        bytes: bytes.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seed: u8) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).unwrap()
    }

    fn pk(k: &Ed25519KeyPair) -> PublicKey {
        PublicKey::from_slice(k.public_key().as_ref()).unwrap()
    }

    fn sample() -> Manifest {
        Manifest {
            still_valid: Vec::new(),
            checks: Vec::new(),
            course: CourseId::new("electrician-safety").unwrap(),
            version: 1,
            title: "用电安全".into(),
            description: String::new(),
            language: "zh-CN".into(),
            published_ms: 1,
            credit_ms: None,
            occupation: None,
            occupation_level: None,
            lessons: vec![Lesson {
                id: LessonId::new("l1").unwrap(),
                title: "第一课".into(),
                body: "lessons/l1.md".into(),
                media: vec![],
                credit_ms: 600_000,
            }],
            quizzes: vec![],
            exams: vec![],
            files: vec![FileEntry {
                path: "lessons/l1.md".into(),
                sha256: ContentHash::of(b"# hi"),
                size: 4,
                media_type: "text/markdown".into(),
                duration_ms: None,
            }],
        }
    }

    #[test]
    fn occupation_is_a_code_and_a_level() {
        let mut m = sample();
        m.check().unwrap();
        m.occupation = Some("6-31-01-03".into());
        m.occupation_level = Some(5);
        m.check().unwrap();
        for bad in ["6-31-01", "63-1-01-03", "6-31-01-0x", ""] {
            m.occupation = Some(bad.into());
            assert!(m.check().is_err(), "{bad}");
        }
        m.occupation = Some("6-31-01-03".into());
        m.occupation_level = Some(6);
        assert!(m.check().is_err());
        m.occupation = None;
        m.occupation_level = Some(3);
        assert!(m.check().is_err(), "a level without an occupation");
        // A manifest without them serialises as before (older clients read it).
        let plain = serde_json::to_string(&sample()).unwrap();
        assert!(!plain.contains("occupation"));
    }

    #[test]
    fn sign_verify_and_every_refusal() {
        let k = key(5);
        let signed = sample().sign(&k).unwrap();
        let v = verify(&signed, &[pk(&k)]).unwrap();
        assert_eq!(v.manifest, sample());
        assert_eq!(
            verify(&signed, &[pk(&key(6))]),
            Err(ManifestError::UnknownPublisher)
        );
        for i in [0usize, 1, 40, 100, signed.len() - 1] {
            let mut bad = signed.clone();
            bad[i] ^= 1;
            assert!(verify(&bad, &[pk(&k)]).is_err(), "flipped byte {i}");
        }
        assert_eq!(
            verify(&signed[..50], &[pk(&k)]),
            Err(ManifestError::Truncated)
        );
        let mut m = sample();
        m.files[0].path = "../etc/passwd".into();
        assert!(matches!(m.sign(&k), Err(ManifestError::Invalid(_))));
        let mut m = sample();
        m.lessons[0].body = "missing.md".into();
        assert!(matches!(m.sign(&k), Err(ManifestError::Invalid(_))));
    }

    #[test]
    fn paths() {
        for bad in [
            "",
            "/abs",
            "a//b",
            "..",
            "a/../b",
            "A.md",
            "a\\b",
            "c:x",
            "a/b/c/d/e",
        ] {
            assert!(check_path(bad).is_err(), "{bad:?}");
        }
        for good in ["l1.md", "media/intro.mp4", "a/b/c/d"] {
            assert!(check_path(good).is_ok(), "{good:?}");
        }
    }
}
