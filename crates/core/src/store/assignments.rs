//! Assignments pulled from the service (schema 4).

use rusqlite::params;
use serde::Serialize;

use super::{Store, Tx};
use crate::error::Result;

/// Work a trainer assigned to a class: a lesson, a whole course (neither lesson nor exam) or an
/// exam, maybe with a due date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assignment {
    pub id: String,
    pub class_id: String,
    pub course: String,
    pub lesson: Option<String>,
    pub exam: Option<String>,
    pub due_ms: Option<i64>,
    pub created_ms: i64,
}

impl Tx<'_> {
    /// Replaces the stored assignments with the service's current list. Assignments a trainer
    /// made on this kiosk whose receipt the service has not acknowledged yet are kept: the
    /// service cannot know them, and dropping them would hide a trainer's work until the next
    /// upload. Once acknowledged, the service's list is the truth (its copy has the same id).
    pub fn replace_assignments(&mut self, list: &[Assignment]) -> Result<()> {
        self.tx.execute(
            "DELETE FROM assignments
             WHERE local_seq IS NULL OR local_seq <= (SELECT acked_seq FROM device)",
            [],
        )?;
        let mut stmt = self.tx.prepare_cached(
            "INSERT OR REPLACE INTO assignments
                 (id, class_id, course, lesson, exam, due_ms, created_ms, local_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL)",
        )?;
        for a in list {
            stmt.execute(params![
                a.id,
                a.class_id,
                a.course,
                a.lesson,
                a.exam,
                a.due_ms,
                a.created_ms
            ])?;
        }
        self.changes.assignments = true;
        Ok(())
    }

    /// Keeps an assignment made on this kiosk by the receipt at `seq` (see
    /// [`Tx::replace_assignments`]).
    pub fn insert_local_assignment(&mut self, a: &Assignment, seq: u64) -> Result<()> {
        self.tx.execute(
            "INSERT OR REPLACE INTO assignments
                 (id, class_id, course, lesson, exam, due_ms, created_ms, local_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                a.id,
                a.class_id,
                a.course,
                a.lesson,
                a.exam,
                a.due_ms,
                a.created_ms,
                seq as i64
            ],
        )?;
        self.changes.assignments = true;
        Ok(())
    }
}

impl Store {
    /// Every stored assignment, soonest due first (those without a date last), then oldest.
    pub fn assignments(&self) -> Result<Vec<Assignment>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, class_id, course, lesson, exam, due_ms, created_ms FROM assignments
             ORDER BY due_ms IS NULL, due_ms, created_ms, id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Assignment {
                id: r.get(0)?,
                class_id: r.get(1)?,
                course: r.get(2)?,
                lesson: r.get(3)?,
                exam: r.get(4)?,
                due_ms: r.get(5)?,
                created_ms: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
