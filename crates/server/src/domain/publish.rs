//! Publishing: a course source folder (docs/course-source-format.md) becomes a package signed
//! with the publisher key; the catalog and the content-addressed files it serves.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use hearth_protocol::manifest::{
    self, CheckQuestion, Exam, ExamItem, FileEntry, Lesson, Manifest, Quiz, QuizItem, check_path,
};
use hearth_protocol::wire::{Catalog, CatalogEntry};
use hearth_protocol::{ContentHash, CourseId, ExamId, ItemId, LessonId, QuizId};
use ring::digest;
use serde::Deserialize;

use super::credit::ExamKey;
use super::{Service, ServiceError, ServiceResult};
use crate::store::{ExamKeyItem, PackageRecord, StoreError};

/// `course.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    id: String,
    version: u32,
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default = "zh")]
    language: String,
    /// The course's declared study hours (学时): completion needs them credited. The lessons'
    /// credit added up when absent.
    #[serde(default)]
    credit_hours: Option<f64>,
    /// Older versions the publisher says stay valid beside this one (signed into the manifest
    /// as `stillValid`); devices refuse any other older version as a downgrade.
    #[serde(default)]
    still_valid: Vec<u32>,
    /// The occupation code of the 2022 classification (`6-31-01-03`) and the skill level (1-5).
    #[serde(default)]
    occupation: Option<String>,
    #[serde(default)]
    occupation_level: Option<u8>,
    lessons: Vec<SourceLesson>,
    #[serde(default)]
    quizzes: Vec<SourceQuiz>,
    #[serde(default)]
    exams: Vec<SourceExam>,
    /// Attention check questions, each from one lesson; the answer (`correct`) is kept on the
    /// service like an exam key and never published.
    #[serde(default)]
    checks: Vec<SourceCheck>,
    /// Play length in seconds of each audio or video file, by path.
    #[serde(default)]
    durations: BTreeMap<String, u64>,
}

fn zh() -> String {
    "zh-CN".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceLesson {
    id: String,
    title: String,
    body: String,
    #[serde(default)]
    media: Vec<String>,
    credit_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceQuiz {
    id: String,
    lesson: String,
    items: Vec<SourceQuizItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceQuizItem {
    id: String,
    prompt: String,
    options: Vec<String>,
    correct: Vec<u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceExam {
    id: String,
    title: String,
    duration_minutes: u32,
    pass_percent: u8,
    /// Attempts allowed (3 when absent).
    #[serde(default)]
    max_attempts: Option<u32>,
    items: Vec<SourceExamItem>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceExamItem {
    id: String,
    prompt: String,
    #[serde(default)]
    options: Vec<String>,
    /// Right option indices (choice items).
    #[serde(default)]
    correct: Option<Vec<u8>>,
    /// Accepted answers (text items).
    #[serde(default)]
    answers: Option<Vec<String>>,
    #[serde(default = "one")]
    points: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceCheck {
    id: String,
    lesson: String,
    prompt: String,
    options: Vec<String>,
    /// The right option's index.
    correct: u8,
}

fn one() -> u32 {
    1
}

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid("publish.invalid_source", msg.into())
}

fn media_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "md" => "text/markdown",
        "html" | "htm" => "text/html",
        "txt" => "text/plain",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/opus",
        "m4a" => "audio/mp4",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> ServiceResult<()> {
    let entries = fs::read_dir(dir).map_err(|e| invalid(format!("{}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| invalid(e.to_string()))?;
        let path = entry.path();
        let ft = entry.file_type().map_err(|e| invalid(e.to_string()))?;
        if ft.is_symlink() {
            return Err(invalid(format!(
                "{} is a link; copy the file instead",
                path.display()
            )));
        }
        if ft.is_dir() {
            walk(root, &path, out)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .map_err(|e| invalid(e.to_string()))?
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if rel != "course.toml" {
                out.push((rel, path));
            }
        }
    }
    Ok(())
}

fn conv<T>(r: Result<T, hearth_protocol::RejectReason>, what: &str) -> ServiceResult<T> {
    r.map_err(|_| invalid(format!("{what:?} is not a slug (a-z 0-9 . _ -)")))
}

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, b))
}

/// What `publish` made.
#[derive(Debug)]
pub struct Published {
    pub course: String,
    pub version: u32,
    pub manifest_sha256: String,
    pub files: usize,
    pub total_size: u64,
}

impl Service {
    pub fn blob_path(&self, sha: &ContentHash) -> PathBuf {
        let hex = sha.to_hex();
        self.blob_dir.join(&hex[..2]).join(hex)
    }

    /// Writes `bytes` under their hash, atomically (temp file, fsync, rename).
    fn put_blob(&self, bytes: &[u8]) -> ServiceResult<ContentHash> {
        let sha = ContentHash::of(bytes);
        let path = self.blob_path(&sha);
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob paths have a parent");
        let io = |e: std::io::Error| ServiceError::Internal(format!("writing blob: {e}"));
        fs::create_dir_all(dir).map_err(io)?;
        let tmp = dir.join(format!(".{}.tmp", sha.to_hex()));
        let mut f = fs::File::create(&tmp).map_err(io)?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(io)?;
        fs::rename(&tmp, &path).map_err(io)?;
        Ok(sha)
    }

    /// Publishes the course in `dir` (see docs/course-source-format.md).
    pub fn publish(&self, dir: &Path) -> ServiceResult<Published> {
        if super::authoring::is_authoring_folder(dir) {
            // The authoring layout (assets/courses/*) is staged into the publisher's layout first.
            let staging =
                tempfile::tempdir().map_err(|e| invalid(format!("staging folder: {e}")))?;
            super::authoring::stage(dir, staging.path())?;
            return self.publish_source(staging.path());
        }
        self.publish_source(dir)
    }

    fn publish_source(&self, dir: &Path) -> ServiceResult<Published> {
        let text = fs::read_to_string(dir.join("course.toml"))
            .map_err(|e| invalid(format!("course.toml: {e}")))?;
        let src: Source =
            toml::from_str(&text).map_err(|e| invalid(format!("course.toml: {e}")))?;
        let slug = |s: &str, what: &str| {
            hearth_protocol::ids::check_slug(s)
                .map_err(|_| invalid(format!("{what} {s:?} is not a slug (a-z 0-9 . _ -)")))
        };
        slug(&src.id, "course id")?;

        let mut found = Vec::new();
        walk(dir, dir, &mut found)?;
        found.sort();
        let mut files = Vec::new();
        let mut blobs = Vec::new();
        let mut total = 0u64;
        for (rel, path) in &found {
            check_path(rel).map_err(|_| {
                invalid(format!(
                    "file name {rel:?}: use 1-4 folder levels of a-z 0-9 . _ - only"
                ))
            })?;
            let bytes = fs::read(path).map_err(|e| invalid(format!("{rel}: {e}")))?;
            total += bytes.len() as u64;
            files.push(FileEntry {
                path: rel.clone(),
                sha256: ContentHash::of(&bytes),
                size: bytes.len() as u64,
                media_type: media_type(rel).into(),
                duration_ms: src.durations.get(rel).map(|s| s * 1000),
            });
            blobs.push(bytes);
        }
        for p in src.durations.keys() {
            if !files.iter().any(|f| &f.path == p) {
                return Err(invalid(format!("durations names a missing file {p}")));
            }
        }
        let mut lessons = Vec::new();
        for l in &src.lessons {
            let media_len: u64 = l
                .media
                .iter()
                .filter_map(|m| src.durations.get(m))
                .sum::<u64>()
                * 1000;
            lessons.push(Lesson {
                id: conv(LessonId::new(&l.id), &l.id)?,
                title: l.title.clone(),
                body: l.body.clone(),
                media: l.media.clone(),
                credit_ms: (l.credit_minutes * 60_000).max(media_len),
            });
        }
        let mut quizzes = Vec::new();
        for q in &src.quizzes {
            let mut items = Vec::new();
            for it in &q.items {
                items.push(QuizItem {
                    id: conv(ItemId::new(&it.id), &it.id)?,
                    prompt: it.prompt.clone(),
                    options: it.options.clone(),
                    correct: it.correct.clone(),
                });
            }
            quizzes.push(Quiz {
                id: conv(QuizId::new(&q.id), &q.id)?,
                lesson: conv(LessonId::new(&q.lesson), &q.lesson)?,
                items,
            });
        }
        let mut exams = Vec::new();
        let mut keys = Vec::new();
        for e in &src.exams {
            let mut items = Vec::new();
            for it in &e.items {
                let key = ExamKey {
                    choices: it.correct.clone(),
                    text: it.answers.clone(),
                };
                if key.choices.is_none() == key.text.is_none() {
                    return Err(invalid(format!(
                        "exam {} item {}: give exactly one of correct or answers",
                        e.id, it.id
                    )));
                }
                if key
                    .choices
                    .as_ref()
                    .is_some_and(|c| c.iter().any(|&i| usize::from(i) >= it.options.len()))
                {
                    return Err(invalid(format!(
                        "exam {} item {}: a correct index is out of range",
                        e.id, it.id
                    )));
                }
                keys.push(ExamKeyItem {
                    exam: e.id.clone(),
                    item: it.id.clone(),
                    correct: serde_json::to_string(&key).expect("serialisable"),
                    points: it.points,
                });
                items.push(ExamItem {
                    id: conv(ItemId::new(&it.id), &it.id)?,
                    prompt: it.prompt.clone(),
                    options: it.options.clone(),
                    multiple: key.choices.as_ref().is_some_and(|c| c.len() > 1),
                    points: it.points,
                });
            }
            exams.push(Exam {
                id: conv(ExamId::new(&e.id), &e.id)?,
                title: e.title.clone(),
                duration_min: e.duration_minutes,
                pass_percent: e.pass_percent,
                items,
                max_attempts: match e.max_attempts {
                    Some(n @ 1..=100) => Some(n),
                    Some(n) => {
                        return Err(invalid(format!(
                            "exam {}: max_attempts {n} is not between 1 and 100",
                            e.id
                        )));
                    }
                    None => None,
                },
            });
        }
        let mut checks = Vec::new();
        for c in &src.checks {
            if !src.lessons.iter().any(|l| l.id == c.lesson) {
                return Err(invalid(format!(
                    "check {}: lesson {} is not a lesson of the course",
                    c.id, c.lesson
                )));
            }
            if c.options.len() < 2 || usize::from(c.correct) >= c.options.len() {
                return Err(invalid(format!(
                    "check {}: needs at least two options and a correct index among them",
                    c.id
                )));
            }
            keys.push(ExamKeyItem {
                exam: super::credit::exam_key::CHECK_KEYS.into(),
                item: c.id.clone(),
                correct: serde_json::to_string(&ExamKey {
                    choices: Some(vec![c.correct]),
                    text: None,
                })
                .expect("serialisable"),
                points: 0,
            });
            checks.push(CheckQuestion {
                id: conv(ItemId::new(&c.id), &c.id)?,
                lesson: conv(LessonId::new(&c.lesson), &c.lesson)?,
                prompt: c.prompt.clone(),
                options: c.options.clone(),
            });
        }
        let lesson_total: u64 = lessons.iter().map(|l: &Lesson| l.credit_ms).sum();
        let credit_ms = match src.credit_hours {
            None => None,
            Some(h) if h.is_finite() && h > 0.0 && h * 3_600_000.0 <= lesson_total as f64 => {
                Some((h * 3_600_000.0).round() as u64)
            }
            Some(h) => {
                return Err(invalid(format!(
                    "credit_hours {h} must be more than 0 and at most the lessons' credit added up ({:.2} h)",
                    lesson_total as f64 / 3_600_000.0
                )));
            }
        };
        if let Some(code) = &src.occupation
            && crate::occupations::name_of(code).is_none()
        {
            return Err(ServiceError::Invalid(
                "course.unknown_occupation",
                format!("occupation {code} is not an occupation of the 2022 classification"),
            ));
        }
        let m = Manifest {
            still_valid: src.still_valid.clone(),
            occupation: src.occupation.clone(),
            occupation_level: src.occupation_level,
            course: conv(CourseId::new(&src.id), &src.id)?,
            version: src.version,
            title: src.title.clone(),
            description: src.description.clone(),
            language: src.language.clone(),
            published_ms: self.now(),
            credit_ms,
            lessons,
            quizzes,
            exams,
            files,
            checks,
        };
        let signed = m
            .sign(&self.keys.publisher)
            .map_err(|e| invalid(e.to_string()))?;
        // Files first, then the catalog row: a package is listed only once all of it is on disk.
        for b in &blobs {
            self.put_blob(b)?;
        }
        let msha = self.put_blob(&signed)?;
        self.store
            .put_package(
                &PackageRecord {
                    course: src.id.clone(),
                    version: src.version,
                    title: src.title.clone(),
                    manifest: signed.clone(),
                    manifest_sha: msha.to_hex(),
                    total_size: total,
                    published_ms: m.published_ms,
                },
                &keys,
            )
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "publish.version_exists",
                    "this course version is already published; raise the version",
                ),
                e => e.into(),
            })?;
        Ok(Published {
            course: src.id,
            version: src.version,
            manifest_sha256: msha.to_hex(),
            files: blobs.len(),
            total_size: total,
        })
    }

    /// The catalog (latest version of every course) and its ETag.
    pub fn catalog(&self) -> ServiceResult<(Catalog, String)> {
        let mut latest: BTreeMap<String, PackageRecord> = BTreeMap::new();
        for p in self.store.packages()? {
            latest.insert(p.course.clone(), p);
        }
        let mut courses = Vec::new();
        let book = self.published_courses()?;
        for p in latest.into_values() {
            let occupation = book
                .latest(&p.course)
                .and_then(|v| v.manifest.occupation.clone());
            let occupation_level = book
                .latest(&p.course)
                .and_then(|v| v.manifest.occupation_level);
            courses.push(CatalogEntry {
                occupation_name: occupation
                    .as_deref()
                    .and_then(crate::occupations::name_of)
                    .map(str::to_owned),
                occupation,
                occupation_level,
                course: CourseId::new(&p.course)
                    .map_err(|_| ServiceError::Internal("stored course id".into()))?,
                version: p.version,
                title: p.title,
                manifest_sha256: p.manifest_sha,
                manifest_size: p.manifest.len() as u64,
                total_size: p.total_size,
                published_ms: p.published_ms,
            });
        }
        let catalog = Catalog { courses };
        let json = serde_json::to_vec(&catalog).expect("serialisable");
        let etag = format!("\"{}\"", &sha256_hex(&json)[..32]);
        Ok((catalog, etag))
    }

    pub fn manifest_sha(&self, course: &str, version: u32) -> ServiceResult<ContentHash> {
        let p = self
            .store
            .package(course, version)?
            .ok_or(ServiceError::NotFound(
                "course.not_found",
                "no such course version",
            ))?;
        p.manifest_sha
            .parse()
            .map_err(|_| ServiceError::Internal("stored manifest hash".into()))
    }

    /// The verified manifest of the latest version of `course`.
    pub fn latest_manifest(
        &self,
        course: &str,
    ) -> ServiceResult<Option<manifest::VerifiedManifest>> {
        let Some(p) = self.store.latest_package(course)? else {
            return Ok(None);
        };
        manifest::verify(&p.manifest, &[self.keys.publisher_public()])
            .map(Some)
            .map_err(|e| ServiceError::Internal(e.to_string()))
    }
}
