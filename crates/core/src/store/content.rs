//! SQL for the course cache: installed course versions, their files, lessons (with their text),
//! practice quiz items (with answer keys) and exams (without).

use std::collections::HashMap;

use hearth_protocol::manifest::VerifiedManifest;
use hearth_protocol::{ContentHash, CourseId, ExamId, ItemId, LessonId, QuizId};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Store, Tx};
use crate::error::{CoreError, Result};

/// An installed course version, for the course list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CourseSummary {
    pub course: CourseId,
    pub version: u32,
    pub title: String,
    pub description: String,
    pub language: String,
    /// Bytes of all the course's files.
    pub total_size: u64,
    pub installed_ms: i64,
    pub lessons: Vec<LessonSummary>,
    /// The occupation (2022 classification code, name, level 1-5) the course trains for, as
    /// the catalog last fetched names it (`None` when the catalog does not list the course).
    pub occupation: Option<String>,
    pub occupation_name: Option<String>,
    pub occupation_level: Option<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonSummary {
    pub id: LessonId,
    pub title: String,
    pub credit_ms: u64,
}

/// One file of an installed course.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRow {
    pub path: String,
    pub sha256: ContentHash,
    pub size: u64,
    pub media_type: String,
    pub duration_ms: Option<u64>,
}

/// A lesson with its text, read from the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonText {
    pub id: LessonId,
    pub title: String,
    /// `text/markdown` or `text/html`.
    pub body_type: String,
    pub body: String,
    pub credit_ms: u64,
    /// The lesson's media files; open them through `Hearth::media_path`.
    pub media: Vec<FileRow>,
}

/// A practice quiz item, answer key included.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuizItemView {
    pub quiz: QuizId,
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    pub correct: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamView {
    pub id: ExamId,
    pub title: String,
    pub duration_min: u32,
    pub pass_percent: u8,
    pub items: Vec<ExamItemView>,
}

/// An exam item: no answer key is ever stored on the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExamItemView {
    pub id: ItemId,
    pub prompt: String,
    pub options: Vec<String>,
    pub multiple: bool,
    pub points: u32,
}

/// SQLite integers are signed; sizes and durations never come near 2^63.
fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn sql_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn bad_row(what: &str) -> CoreError {
    CoreError::LedgerBroken(format!("course cache row: bad {what}"))
}

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| CoreError::InvalidInput(e.to_string()))
}

fn unjson<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|_| bad_row(what))
}

fn hash(bytes: &[u8]) -> Result<ContentHash> {
    Ok(ContentHash(bytes.try_into().map_err(|_| bad_row("hash"))?))
}

fn slug<T: std::str::FromStr>(s: String, what: &str) -> Result<T> {
    s.parse().map_err(|_| bad_row(what))
}

impl Tx<'_> {
    pub fn set_content_meta(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO content_meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )?;
        Ok(())
    }

    /// A `content_meta` value, read inside the transaction.
    pub fn content_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .tx
            .query_row(
                "SELECT value FROM content_meta WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The installed versions of a course with their signed manifest bytes (inside the
    /// transaction).
    pub fn installed_versions(&self, course: &CourseId) -> Result<Vec<(u32, Vec<u8>)>> {
        let mut stmt = self
            .tx
            .prepare_cached("SELECT version, manifest FROM courses WHERE course = ?1")?;
        let rows = stmt
            .query_map(params![course.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Writes a verified course version: the course row, its files, lessons with their texts
    /// (`bodies` by package path), quiz items with keys and exam items without.
    pub fn install_course(
        &mut self,
        v: &VerifiedManifest,
        bodies: &HashMap<String, String>,
        now_ms: i64,
    ) -> Result<()> {
        let m = &v.manifest;
        let course = m.course.as_str();
        let total: u64 = m.files.iter().map(|f| f.size).sum();
        self.tx.execute(
            "INSERT INTO courses (course, version, title, description, language, publisher,
             manifest, total_size, installed_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                course,
                m.version,
                m.title,
                m.description,
                m.language,
                v.publisher.as_bytes(),
                v.bytes,
                int(total),
                now_ms
            ],
        )?;
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO course_files (course, version, path, sha256, size, media_type,
                 duration_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for f in &m.files {
                stmt.execute(params![
                    course,
                    m.version,
                    f.path,
                    f.sha256.0,
                    int(f.size),
                    f.media_type,
                    f.duration_ms.map(int)
                ])?;
            }
        }
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO lessons (course, version, lesson, ord, title, body_path, body_type,
                 body, media, credit_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            for (ord, l) in m.lessons.iter().enumerate() {
                let body = bodies.get(&l.body).ok_or_else(|| {
                    CoreError::InvalidInput(format!("no text for lesson {}", l.id))
                })?;
                let body_type = m.file(&l.body).map_or("text/plain", |f| &f.media_type);
                stmt.execute(params![
                    course,
                    m.version,
                    l.id.as_str(),
                    int(ord as u64),
                    l.title,
                    l.body,
                    body_type,
                    body,
                    json(&l.media)?,
                    int(l.credit_ms)
                ])?;
            }
        }
        {
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO quiz_items (course, version, quiz, lesson, item, ord, prompt, options,
                 correct) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for q in &m.quizzes {
                for (ord, it) in q.items.iter().enumerate() {
                    stmt.execute(params![
                        course,
                        m.version,
                        q.id.as_str(),
                        q.lesson.as_str(),
                        it.id.as_str(),
                        int(ord as u64),
                        it.prompt,
                        json(&it.options)?,
                        json(&it.correct)?
                    ])?;
                }
            }
        }
        for (ord, e) in m.exams.iter().enumerate() {
            self.tx.execute(
                "INSERT INTO exams (course, version, exam, ord, title, duration_min, pass_percent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    course,
                    m.version,
                    e.id.as_str(),
                    int(ord as u64),
                    e.title,
                    e.duration_min,
                    e.pass_percent
                ],
            )?;
            let mut stmt = self.tx.prepare_cached(
                "INSERT INTO exam_items (course, version, exam, item, ord, prompt, options,
                 multiple, points) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (ord, it) in e.items.iter().enumerate() {
                stmt.execute(params![
                    course,
                    m.version,
                    e.id.as_str(),
                    it.id.as_str(),
                    int(ord as u64),
                    it.prompt,
                    json(&it.options)?,
                    it.multiple,
                    it.points
                ])?;
            }
        }
        Ok(())
    }

    /// Deletes a course version's rows. Returns the files it used that no other installed
    /// course version still references (the caller deletes them after the commit), or `None` if
    /// the version was not installed.
    pub fn remove_course(
        &mut self,
        course: &CourseId,
        version: u32,
    ) -> Result<Option<Vec<ContentHash>>> {
        let shas: Vec<Vec<u8>> = {
            let mut stmt = self.tx.prepare_cached(
                "SELECT DISTINCT sha256 FROM course_files WHERE course = ?1 AND version = ?2",
            )?;
            stmt.query_map(params![course.as_str(), version], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        };
        let n = self.tx.execute(
            "DELETE FROM courses WHERE course = ?1 AND version = ?2",
            params![course.as_str(), version],
        )?;
        if n == 0 {
            return Ok(None);
        }
        let mut orphans = Vec::new();
        let mut still = self
            .tx
            .prepare_cached("SELECT 1 FROM course_files WHERE sha256 = ?1 LIMIT 1")?;
        for sha in shas {
            if !still.exists(params![sha])? {
                orphans.push(hash(&sha)?);
            }
        }
        Ok(Some(orphans))
    }
}

impl Store {
    pub fn content_meta(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM content_meta WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()?)
    }

    pub fn course_installed(&self, course: &CourseId, version: u32) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM courses WHERE course = ?1 AND version = ?2")?
            .exists(params![course.as_str(), version])?)
    }

    /// The installed versions of a course with their signed manifest bytes.
    pub fn installed_versions(&self, course: &CourseId) -> Result<Vec<(u32, Vec<u8>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT version, manifest FROM courses WHERE course = ?1")?;
        let rows = stmt
            .query_map(params![course.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// The signed manifest bytes of an installed course version, as they were verified.
    pub fn course_manifest(&self, course: &CourseId, version: u32) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT manifest FROM courses WHERE course = ?1 AND version = ?2",
                params![course.as_str(), version],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Whether any installed course version uses the file.
    pub fn media_referenced(&self, sha: &ContentHash) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM course_files WHERE sha256 = ?1 LIMIT 1")?
            .exists(params![sha.0])?)
    }

    pub fn installed_courses(&self) -> Result<Vec<CourseSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT course, version, title, description, language, total_size, installed_ms
             FROM courses ORDER BY course, version",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                    sql_u64(r.get::<_, i64>(5)?),
                    r.get::<_, i64>(6)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (course, version, title, description, language, total_size, installed_ms) in rows {
            let course: CourseId = slug(course, "course id")?;
            let lessons = self.lessons(&course, version)?;
            out.push(CourseSummary {
                course,
                version,
                title,
                description,
                language,
                total_size,
                installed_ms,
                lessons,
                occupation: None,
                occupation_name: None,
                occupation_level: None,
            });
        }
        Ok(out)
    }

    fn lessons(&self, course: &CourseId, version: u32) -> Result<Vec<LessonSummary>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT lesson, title, credit_ms FROM lessons WHERE course = ?1 AND version = ?2
             ORDER BY ord",
        )?;
        let rows = stmt
            .query_map(params![course.as_str(), version], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    sql_u64(r.get::<_, i64>(2)?),
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(id, title, credit_ms)| {
                Ok(LessonSummary {
                    id: slug(id, "lesson id")?,
                    title,
                    credit_ms,
                })
            })
            .collect()
    }

    fn file_row(&self, course: &CourseId, version: u32, path: &str) -> Result<FileRow> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT sha256, size, media_type, duration_ms FROM course_files
                 WHERE course = ?1 AND version = ?2 AND path = ?3",
            )?
            .query_row(params![course.as_str(), version, path], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    sql_u64(r.get::<_, i64>(1)?),
                    r.get::<_, String>(2)?,
                    r.get::<_, Option<i64>>(3)?.map(sql_u64),
                ))
            })
            .optional()?
            .ok_or_else(|| bad_row("lesson media reference"))?;
        Ok(FileRow {
            path: path.to_owned(),
            sha256: hash(&row.0)?,
            size: row.1,
            media_type: row.2,
            duration_ms: row.3,
        })
    }

    pub fn lesson_text(
        &self,
        course: &CourseId,
        version: u32,
        lesson: &LessonId,
    ) -> Result<Option<LessonText>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT title, body_type, body, media, credit_ms FROM lessons
                 WHERE course = ?1 AND version = ?2 AND lesson = ?3",
            )?
            .query_row(params![course.as_str(), version, lesson.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    sql_u64(r.get::<_, i64>(4)?),
                ))
            })
            .optional()?;
        let Some((title, body_type, body, media, credit_ms)) = row else {
            return Ok(None);
        };
        let paths: Vec<String> = unjson(&media, "lesson media")?;
        let media = paths
            .iter()
            .map(|p| self.file_row(course, version, p))
            .collect::<Result<_>>()?;
        Ok(Some(LessonText {
            id: lesson.clone(),
            title,
            body_type,
            body,
            credit_ms,
            media,
        }))
    }

    /// The practice quiz items of a lesson, in order.
    pub fn quiz_items(
        &self,
        course: &CourseId,
        version: u32,
        lesson: &LessonId,
    ) -> Result<Vec<QuizItemView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT quiz, item, prompt, options, correct FROM quiz_items
             WHERE course = ?1 AND version = ?2 AND lesson = ?3 ORDER BY quiz, ord",
        )?;
        let rows = stmt
            .query_map(params![course.as_str(), version, lesson.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter()
            .map(|(quiz, item, prompt, options, correct)| {
                Ok(QuizItemView {
                    quiz: slug(quiz, "quiz id")?,
                    id: slug(item, "item id")?,
                    prompt,
                    options: unjson(&options, "options")?,
                    correct: unjson(&correct, "answer key")?,
                })
            })
            .collect()
    }

    /// The course version's exams with their items (no answer keys).
    pub fn exams(&self, course: &CourseId, version: u32) -> Result<Vec<ExamView>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT exam, title, duration_min, pass_percent FROM exams
             WHERE course = ?1 AND version = ?2 ORDER BY ord",
        )?;
        let exams = stmt
            .query_map(params![course.as_str(), version], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, u8>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut items = self.conn.prepare_cached(
            "SELECT item, prompt, options, multiple, points FROM exam_items
             WHERE course = ?1 AND version = ?2 AND exam = ?3 ORDER BY ord",
        )?;
        let mut out = Vec::with_capacity(exams.len());
        for (exam, title, duration_min, pass_percent) in exams {
            let rows = items
                .query_map(params![course.as_str(), version, exam], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, u32>(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let items = rows
                .into_iter()
                .map(|(id, prompt, options, multiple, points)| {
                    Ok(ExamItemView {
                        id: slug(id, "item id")?,
                        prompt,
                        options: unjson(&options, "options")?,
                        multiple,
                        points,
                    })
                })
                .collect::<Result<_>>()?;
            out.push(ExamView {
                id: slug(exam, "exam id")?,
                title,
                duration_min,
                pass_percent,
                items,
            });
        }
        Ok(out)
    }
}
