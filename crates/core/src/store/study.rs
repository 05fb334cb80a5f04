//! SQL for study state (schema 5): media positions, practice answers, exam attempts, and the
//! learners' records pulled from the service.

use hearth_protocol::{ContentHash, CourseId, ExamId, ItemId, LearnerId, LessonId, QuizId};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::device::uuid_from;
use super::{Store, Tx};
use crate::error::{CoreError, Result};

fn bad(what: &str) -> CoreError {
    CoreError::LedgerBroken(format!("study row: bad {what}"))
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Where an exam attempt stands on this device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttemptState {
    Open,
    Submitted,
    Expired,
}

impl AttemptState {
    fn as_str(self) -> &'static str {
        match self {
            AttemptState::Open => "open",
            AttemptState::Submitted => "submitted",
            AttemptState::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "open" => AttemptState::Open,
            "submitted" => AttemptState::Submitted,
            "expired" => AttemptState::Expired,
            _ => return Err(bad("attempt state")),
        })
    }
}

/// One exam attempt as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttemptRow {
    pub learner: LearnerId,
    pub course: CourseId,
    pub exam: ExamId,
    pub attempt: u32,
    pub version: u32,
    pub started_seq: u64,
    pub started_wall_ms: i64,
    pub started_run: u32,
    pub started_mono_ms: u64,
    pub duration_ms: u64,
    pub state: AttemptState,
    pub submitted_wall_ms: Option<i64>,
    pub answered: u32,
}

const ATTEMPT_COLS: &str = "learner, course, exam, attempt, version, started_seq, started_wall_ms,
    started_run, started_mono_ms, duration_ms, state, submitted_wall_ms, answered";

type RawAttempt = (
    Vec<u8>,
    String,
    String,
    u32,
    u32,
    i64,
    i64,
    u32,
    i64,
    i64,
    String,
    Option<i64>,
    u32,
);

fn raw_attempt(r: &Row<'_>) -> rusqlite::Result<RawAttempt> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

fn attempt(raw: RawAttempt) -> Result<AttemptRow> {
    let (l, course, exam, attempt, version, seq, wall, run, mono, dur, state, sub_wall, answered) =
        raw;
    Ok(AttemptRow {
        learner: LearnerId(uuid_from(&l).ok_or_else(|| bad("learner"))?),
        course: course.parse().map_err(|_| bad("course"))?,
        exam: exam.parse().map_err(|_| bad("exam"))?,
        attempt,
        version,
        started_seq: uint(seq),
        started_wall_ms: wall,
        started_run: run,
        started_mono_ms: uint(mono),
        duration_ms: uint(dur),
        state: AttemptState::parse(&state)?,
        submitted_wall_ms: sub_wall,
        answered,
    })
}

/// How far one learner has got in one media file, as stored; the first-viewing rules that move
/// it are in `study::media`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaProgress {
    /// The furthest position watched on first viewing (ms).
    pub furthest_ms: u64,
    /// The media's length from the manifest, if it has one.
    pub duration_ms: Option<u64>,
    /// Watched to the end once: seeking is free.
    pub finished: bool,
}

fn media_row(r: &Row<'_>) -> rusqlite::Result<MediaProgress> {
    Ok(MediaProgress {
        furthest_ms: uint(r.get(0)?),
        duration_ms: r.get::<_, Option<i64>>(1)?.map(uint),
        finished: r.get(2)?,
    })
}

/// A learner's record as last pulled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredRecord {
    pub json: String,
    pub reflects_seq: u64,
    pub pulled_ms: i64,
}

/// A learner whose record a sync round may pull.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PullRow {
    pub learner: LearnerId,
    /// This learner's last receipt on this device (0: none).
    pub last_seq: u64,
    /// `(reflects_seq, pulled_ms)` of the stored record.
    pub pulled: Option<(u64, i64)>,
}

/// A learner's furthest point in a media file, on the store or inside a write transaction.
fn media_progress_on(
    conn: &Connection,
    learner: LearnerId,
    media: &ContentHash,
) -> Result<MediaProgress> {
    Ok(conn
        .prepare_cached(
            "SELECT furthest_ms, duration_ms, finished FROM media_progress
             WHERE learner = ?1 AND media = ?2",
        )?
        .query_row(params![learner.0.as_bytes(), media.0], media_row)
        .optional()?
        .unwrap_or_default())
}

impl Tx<'_> {
    /// Raises `run`'s mark to `mono_ms` (a mark never goes down).
    pub fn mark_run(&mut self, run: u32, mono_ms: u64) -> Result<()> {
        self.tx
            .prepare_cached(
                "INSERT INTO run_marks (run, mono_ms) VALUES (?1, ?2)
                 ON CONFLICT (run) DO UPDATE SET mono_ms = max(mono_ms, excluded.mono_ms)",
            )?
            .execute(params![run, int(mono_ms)])?;
        Ok(())
    }

    pub fn media_progress(&self, learner: LearnerId, media: &ContentHash) -> Result<MediaProgress> {
        media_progress_on(&self.tx, learner, media)
    }

    pub fn set_media_progress(
        &mut self,
        learner: LearnerId,
        media: &ContentHash,
        p: &MediaProgress,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO media_progress
             (learner, media, furthest_ms, duration_ms, finished, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                learner.0.as_bytes(),
                media.0,
                int(p.furthest_ms),
                p.duration_ms.map(int),
                p.finished,
                now_ms
            ],
        )?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn upsert_quiz_answer(
        &mut self,
        learner: LearnerId,
        course: &CourseId,
        quiz: &str,
        item: &str,
        correct: bool,
        seq: u64,
        wall_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO quiz_answers (learner, course, quiz, item, correct, seq, wall_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                learner.0.as_bytes(),
                course.as_str(),
                quiz,
                item,
                correct,
                int(seq),
                wall_ms
            ],
        )?;
        Ok(())
    }

    pub fn insert_attempt(&mut self, a: &AttemptRow) -> Result<()> {
        self.tx.execute(
            &format!(
                "INSERT INTO exam_attempts ({ATTEMPT_COLS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ),
            params![
                a.learner.0.as_bytes(),
                a.course.as_str(),
                a.exam.as_str(),
                a.attempt,
                a.version,
                int(a.started_seq),
                a.started_wall_ms,
                a.started_run,
                int(a.started_mono_ms),
                int(a.duration_ms),
                a.state.as_str(),
                a.submitted_wall_ms,
                a.answered
            ],
        )?;
        Ok(())
    }

    /// Closes an attempt: submitted (with its receipt) or expired.
    pub fn close_attempt(
        &mut self,
        a: &AttemptRow,
        state: AttemptState,
        submitted: Option<(u64, i64)>,
        answered: u32,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE exam_attempts SET state = ?5, submitted_seq = ?6, submitted_wall_ms = ?7,
                 answered = ?8
             WHERE learner = ?1 AND course = ?2 AND exam = ?3 AND attempt = ?4",
            params![
                a.learner.0.as_bytes(),
                a.course.as_str(),
                a.exam.as_str(),
                a.attempt,
                state.as_str(),
                submitted.map(|s| int(s.0)),
                submitted.map(|s| s.1),
                answered
            ],
        )?;
        Ok(())
    }

    pub fn save_learner_record(
        &mut self,
        learner: LearnerId,
        json: &str,
        reflects_seq: u64,
        now_ms: i64,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO learner_records (learner, record, reflects_seq, pulled_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![learner.0.as_bytes(), json, int(reflects_seq), now_ms],
        )?;
        Ok(())
    }
}

impl Store {
    /// The marks of the runs after `after` and before `before`: how long each is known to
    /// have lasted (runs with no mark lasted no provable time).
    pub fn run_marks_between(&self, after: u32, before: u32) -> Result<Vec<(u32, u64)>> {
        let rows = self
            .conn
            .prepare_cached(
                "SELECT run, mono_ms FROM run_marks WHERE run > ?1 AND run < ?2 ORDER BY run",
            )?
            .query_map(params![after, before], |r| {
                Ok((r.get::<_, u32>(0)?, uint(r.get::<_, i64>(1)?)))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The mark of one run, if it has one.
    pub fn run_mark(&self, run: u32) -> Result<Option<u64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT mono_ms FROM run_marks WHERE run = ?1")?
            .query_row([run], |r| r.get::<_, i64>(0))
            .optional()?
            .map(uint))
    }

    pub fn learner_exists(&self, id: LearnerId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("SELECT 1 FROM learners WHERE id = ?1")?
            .exists([id.0.as_bytes()])?)
    }

    /// A practice item of an installed course version: its lesson, how many options it has,
    /// and its answer key.
    pub fn practice_item(
        &self,
        course: &CourseId,
        version: u32,
        quiz: &QuizId,
        item: &ItemId,
    ) -> Result<Option<(LessonId, usize, Vec<u8>)>> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT lesson, options, correct FROM quiz_items
                 WHERE course = ?1 AND version = ?2 AND quiz = ?3 AND item = ?4",
            )?
            .query_row(
                params![course.as_str(), version, quiz.as_str(), item.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                },
            )
            .optional()?;
        let Some((lesson, options, correct)) = row else {
            return Ok(None);
        };
        let options: Vec<String> = serde_json::from_str(&options).map_err(|_| bad("options"))?;
        let correct: Vec<u8> = serde_json::from_str(&correct).map_err(|_| bad("answer key"))?;
        Ok(Some((
            lesson.parse().map_err(|_| bad("lesson"))?,
            options.len(),
            correct,
        )))
    }

    pub fn last_attempt(
        &self,
        learner: LearnerId,
        course: &CourseId,
        exam: &ExamId,
    ) -> Result<Option<AttemptRow>> {
        let raw = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ATTEMPT_COLS} FROM exam_attempts
                 WHERE learner = ?1 AND course = ?2 AND exam = ?3 ORDER BY attempt DESC LIMIT 1"
            ))?
            .query_row(
                params![learner.0.as_bytes(), course.as_str(), exam.as_str()],
                raw_attempt,
            )
            .optional()?;
        raw.map(attempt).transpose()
    }

    pub fn media_progress(&self, learner: LearnerId, media: &ContentHash) -> Result<MediaProgress> {
        media_progress_on(&self.conn, learner, media)
    }

    /// Practice results per (course, quiz): items answered, items whose latest answer is right.
    pub fn quiz_summary(&self, learner: LearnerId) -> Result<Vec<(String, String, u32, u32)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT course, quiz, COUNT(*), SUM(correct) FROM quiz_answers WHERE learner = ?1
             GROUP BY course, quiz ORDER BY course, quiz",
        )?;
        let rows = stmt
            .query_map([learner.0.as_bytes()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(rows)
    }

    /// Every exam attempt of a learner, oldest first.
    pub fn attempts(&self, learner: LearnerId) -> Result<Vec<AttemptRow>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {ATTEMPT_COLS} FROM exam_attempts WHERE learner = ?1
             ORDER BY started_seq"
        ))?;
        let raws = stmt
            .query_map([learner.0.as_bytes()], raw_attempt)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(attempt).collect()
    }

    pub fn learner_record(&self, learner: LearnerId) -> Result<Option<StoredRecord>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT record, reflects_seq, pulled_ms FROM learner_records WHERE learner = ?1",
            )?
            .query_row([learner.0.as_bytes()], |r| {
                Ok(StoredRecord {
                    json: r.get(0)?,
                    reflects_seq: uint(r.get(1)?),
                    pulled_ms: r.get(2)?,
                })
            })
            .optional()?)
    }

    /// Calls `f(seq, wall_ms, envelope)` for each receipt of `kind` by `learner`, in chain
    /// order.
    pub fn for_each_receipt_of(
        &self,
        learner: LearnerId,
        kind: &str,
        mut f: impl FnMut(u64, i64, &[u8]) -> Result<()>,
    ) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, wall_ms, envelope FROM receipts WHERE learner = ?1 AND kind = ?2
             ORDER BY seq",
        )?;
        let mut rows = stmt.query(params![learner.0.as_bytes(), kind])?;
        while let Some(r) = rows.next()? {
            let bytes: &[u8] = r.get_ref(2)?.as_blob().map_err(|_| bad("envelope"))?;
            f(uint(r.get(0)?), r.get(1)?, bytes)?;
        }
        Ok(())
    }

    /// Learners known to the service (from the roster) who have receipts on this device, plus
    /// the owner of a personal device, with where their stored record stands.
    pub fn pull_rows(&self, owner: Option<LearnerId>) -> Result<Vec<PullRow>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT l.id,
                    (SELECT MAX(seq) FROM receipts r WHERE r.learner = l.id),
                    lr.reflects_seq, lr.pulled_ms
             FROM learners l LEFT JOIN learner_records lr ON lr.learner = l.id
             WHERE l.source = 'roster' AND l.role = 'learner'",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::new();
        for (id, last, reflects, pulled) in rows {
            let learner = LearnerId(uuid_from(&id).ok_or_else(|| bad("learner"))?);
            if last.is_none() && Some(learner) != owner {
                continue;
            }
            out.push(PullRow {
                learner,
                last_seq: last.map_or(0, uint),
                pulled: reflects.zip(pulled).map(|(r, p)| (uint(r), p)),
            });
        }
        Ok(out)
    }
}
