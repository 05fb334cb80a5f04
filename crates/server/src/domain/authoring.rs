//! The course authoring layout (assets/README.md: `course.toml` with `slug`, one `.md` + `.toml`
//! per lesson, a quiz file per lesson, `exam/final.toml` with its key in `exam/final.key.toml`,
//! `media/`, and `media-src/` for the media pipeline) turned into the publisher's source layout
//! (docs/course-source-format.md) in a staging folder.
//!
//! Only what a learner needs is staged: lesson texts and `media/`. The exam key goes into the
//! staged `course.toml`, from which the publisher keeps it on the service; `media-src/`, the
//! per-lesson, quiz and attention check (`checks/<lesson>.toml`) TOML files and the key file are
//! never shipped; the checks' answers, like the exam key, stay on the service.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ServiceError, ServiceResult};

fn invalid(msg: impl Into<String>) -> ServiceError {
    ServiceError::Invalid("publish.invalid", msg.into())
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> ServiceResult<T> {
    let text = fs::read_to_string(path).map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    toml::from_str(&text).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Course {
    slug: String,
    title: String,
    #[serde(default)]
    summary: String,
    version: u32,
    #[serde(default = "zh")]
    language: String,
    credit_hours: Option<f64>,
    /// Older versions that stay valid beside this one (see docs/package-format.md).
    #[serde(default)]
    still_valid: Vec<u32>,
    occupation: Option<String>,
    occupation_level: Option<u8>,
    lessons: Vec<String>,
    exam: Option<String>,
}

fn zh() -> String {
    "zh-CN".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LessonMeta {
    title: String,
    kind: String,
    media: Option<String>,
    duration_seconds: Option<u64>,
    min_study_seconds: u64,
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
}

#[derive(Deserialize)]
struct QuizItem {
    id: String,
    prompt: String,
    options: Vec<String>,
    answer: Vec<u8>,
}

/// An attention check question of a lesson (`checks/<lesson>.toml`), with its answer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckSrc {
    id: String,
    prompt: String,
    options: Vec<String>,
    answer: u8,
}

#[derive(Deserialize)]
struct ExamMeta {
    title: String,
    time_limit_minutes: u32,
    pass_percent: u8,
    #[serde(default)]
    max_attempts: Option<u32>,
    items: Vec<ExamItemSrc>,
}

#[derive(Deserialize)]
struct ExamItemSrc {
    id: String,
    prompt: String,
    options: Vec<String>,
}

#[derive(Deserialize)]
struct ExamKey {
    answers: BTreeMap<String, Vec<u8>>,
}

/// The publisher's `course.toml`.
#[derive(Serialize)]
struct Staged {
    id: String,
    version: u32,
    title: String,
    description: String,
    language: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    credit_hours: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    still_valid: Vec<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    occupation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    occupation_level: Option<u8>,
    durations: BTreeMap<String, u64>,
    lessons: Vec<StagedLesson>,
    quizzes: Vec<StagedQuiz>,
    exams: Vec<StagedExam>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checks: Vec<StagedCheck>,
}

#[derive(Serialize)]
struct StagedCheck {
    id: String,
    lesson: String,
    prompt: String,
    options: Vec<String>,
    correct: u8,
}

#[derive(Serialize)]
struct StagedLesson {
    id: String,
    title: String,
    body: String,
    media: Vec<String>,
    credit_minutes: u64,
}

#[derive(Serialize)]
struct StagedQuiz {
    id: String,
    lesson: String,
    items: Vec<StagedQuizItem>,
}

#[derive(Serialize)]
struct StagedQuizItem {
    id: String,
    prompt: String,
    options: Vec<String>,
    correct: Vec<u8>,
}

#[derive(Serialize)]
struct StagedExam {
    id: String,
    title: String,
    duration_minutes: u32,
    pass_percent: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_attempts: Option<u32>,
    items: Vec<StagedExamItem>,
}

#[derive(Serialize)]
struct StagedExamItem {
    id: String,
    prompt: String,
    options: Vec<String>,
    correct: Vec<u8>,
}

/// Whether `dir` is in the authoring layout (its `course.toml` names a `slug`).
pub fn is_authoring_folder(dir: &Path) -> bool {
    fs::read_to_string(dir.join("course.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key("slug"))
}

/// Writes the publisher's layout of the authoring folder `src` into the empty folder `staging`.
pub fn stage(src: &Path, staging: &Path) -> ServiceResult<()> {
    let course: Course = read_toml(&src.join("course.toml"))?;
    let copy = |from: &Path, to: &str| -> ServiceResult<()> {
        let dest = staging.join(to);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| invalid(format!("{}: {e}", parent.display())))?;
        }
        fs::copy(from, &dest)
            .map(|_| ())
            .map_err(|e| invalid(format!("{}: {e}", from.display())))
    };

    let mut durations = BTreeMap::new();
    let mut lessons = Vec::new();
    let mut quizzes = Vec::new();
    let mut checks = Vec::new();
    for slug in &course.lessons {
        // Attention checks of the lesson; their answers go to the service only.
        let check_file = src.join("checks").join(format!("{slug}.toml"));
        if check_file.exists() {
            let c: Items<CheckSrc> = read_toml(&check_file)?;
            checks.extend(c.items.into_iter().map(|c| StagedCheck {
                id: c.id,
                lesson: slug.clone(),
                prompt: c.prompt,
                options: c.options,
                correct: c.answer,
            }));
        }
        let meta: LessonMeta = read_toml(&src.join("lessons").join(format!("{slug}.toml")))?;
        let body = format!("lessons/{slug}.md");
        copy(&src.join(&body), &body)?;
        let mut media = Vec::new();
        if let Some(file) = &meta.media {
            let path = format!("media/{file}");
            let seconds = meta.duration_seconds.ok_or_else(|| {
                invalid(format!(
                    "lesson {slug}: a {} lesson needs duration_seconds",
                    meta.kind
                ))
            })?;
            durations.insert(path.clone(), seconds);
            media.push(path);
        }
        // The pictures the text shows are the lesson's media too, so a player finds them in the
        // lesson (and a device serves them from its cache) without knowing the package layout.
        let text =
            fs::read_to_string(src.join(&body)).map_err(|e| invalid(format!("{body}: {e}")))?;
        for name in pictures_in(&text) {
            if !src.join("media").join(&name).is_file() {
                return Err(invalid(format!(
                    "lesson {slug} shows the picture {name}, which is not in media/"
                )));
            }
            let path = format!("media/{name}");
            if !media.contains(&path) {
                media.push(path);
            }
        }
        lessons.push(StagedLesson {
            id: slug.clone(),
            title: meta.title,
            body,
            media,
            credit_minutes: meta.min_study_seconds.div_ceil(60),
        });
        let quiz_file = src.join("quizzes").join(format!("{slug}.toml"));
        if quiz_file.exists() {
            let quiz: Items<QuizItem> = read_toml(&quiz_file)?;
            quizzes.push(StagedQuiz {
                id: format!("{slug}-quiz"),
                lesson: slug.clone(),
                items: quiz
                    .items
                    .into_iter()
                    .map(|i| StagedQuizItem {
                        id: i.id,
                        prompt: i.prompt,
                        options: i.options,
                        correct: i.answer,
                    })
                    .collect(),
            });
        }
    }
    // Every picture and media file the lessons may show; never media-src/.
    let media_dir = src.join("media");
    if media_dir.is_dir() {
        for entry in fs::read_dir(&media_dir)
            .map_err(|e| invalid(format!("{}: {e}", media_dir.display())))?
        {
            let entry = entry.map_err(|e| invalid(e.to_string()))?;
            if entry
                .file_type()
                .map_err(|e| invalid(e.to_string()))?
                .is_file()
            {
                copy(
                    &entry.path(),
                    &format!("media/{}", entry.file_name().to_string_lossy()),
                )?;
            }
        }
    }
    let mut exams = Vec::new();
    if let Some(exam) = &course.exam {
        let meta: ExamMeta = read_toml(&src.join("exam").join(format!("{exam}.toml")))?;
        let key: ExamKey = read_toml(&src.join("exam").join(format!("{exam}.key.toml")))?;
        let items = meta
            .items
            .into_iter()
            .map(|i| {
                let correct = key
                    .answers
                    .get(&i.id)
                    .cloned()
                    .ok_or_else(|| invalid(format!("exam item {} has no key", i.id)))?;
                Ok(StagedExamItem {
                    id: i.id,
                    prompt: i.prompt,
                    options: i.options,
                    correct,
                })
            })
            .collect::<ServiceResult<Vec<_>>>()?;
        exams.push(StagedExam {
            id: exam.clone(),
            title: meta.title,
            duration_minutes: meta.time_limit_minutes,
            pass_percent: meta.pass_percent,
            max_attempts: meta.max_attempts,
            items,
        });
    }
    let staged = Staged {
        id: course.slug,
        version: course.version,
        title: course.title,
        description: course.summary,
        language: course.language,
        credit_hours: course.credit_hours,
        still_valid: course.still_valid,
        occupation: course.occupation,
        occupation_level: course.occupation_level,
        durations,
        lessons,
        quizzes,
        exams,
        checks,
    };
    let text = toml::to_string(&staged).map_err(|e| invalid(e.to_string()))?;
    fs::write(staging.join("course.toml"), text).map_err(|e| invalid(e.to_string()))
}

/// The file names of the pictures a Markdown lesson shows from `media/`: `![alt](../media/x.png)`
/// (or `media/x.png`), in order of appearance.
fn pictures_in(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in markdown.match_indices("](") {
        let rest = &markdown[i + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].trim();
        let name = target
            .strip_prefix("../media/")
            .or_else(|| target.strip_prefix("media/"));
        if let Some(n) = name
            && !n.is_empty()
            && !n.contains('/')
            && !out.iter().any(|o| o == n)
        {
            out.push(n.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod picture_tests {
    use super::pictures_in;

    #[test]
    fn pictures_are_found_once_in_order() {
        let md = "# 标题\n\n![标志](../media/sign.png)\n文字 [链接](https://x) ![b](media/b.png) ![标志](../media/sign.png) ![x](../other/x.png)";
        assert_eq!(pictures_in(md), vec!["sign.png", "b.png"]);
    }
}
